"""What the loop hands a profile to build a chat from: plain values, no env or device objects."""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

from vlagent.actions.models import Family
from vlagent.model.chat import VideoPart

__all__ = ["Family", "HistoryEntry", "PromptRequest"]


@dataclass(frozen=True)
class HistoryEntry:
    """One earlier step as the model should remember it.

    ``reply`` is the model's raw reply (profiles that replay their own format show it verbatim);
    ``error`` is the message fed back when that reply could not be executed (a parse error, a point
    off screen, an unsupported action), so the model can correct itself. ``user_reply`` is what the human
    answered to a ``call_user`` in that step.

    Example:
        >>> HistoryEntry(reply="Action: wait()", thought=None).error is None
        True
    """

    reply: str
    thought: str | None = None
    action_summary: str = ""
    error: str | None = None
    user_reply: str | None = None


@dataclass(frozen=True)
class PromptRequest:
    """Everything a profile may put into one chat.

    ``images`` are the last k screenshots, oldest first; the last one is the current screen.
    ``options`` are the env's named discrete actions (``choose``); ``supported`` the action types the env
    performs, so a profile can leave the others out of its action-space text. ``video``, when set, holds
    the last frames up to the current screen (the loop's ``--video-frames``); the builder places it
    before the current screenshot and gives its frames the chat's pixel budget.

    Example:
        >>> PromptRequest(family="game", task="reach the goal", images=[Image.new("RGB", (8, 8))]).screen_size
        (8, 8)
    """

    family: Family
    task: str
    images: list[Image.Image]
    env_text: str = ""
    options: tuple[str, ...] = ()
    supported: frozenset[str] = frozenset()
    history: list[HistoryEntry] = field(default_factory=list)
    video: VideoPart | None = None

    @property
    def screen_size(self) -> tuple[int, int]:
        return self.images[-1].size
