"""What a profile's prompts say in its own terms: the action space or tool schema, the history, the app.

Each built-in syntax family has one :class:`Renderers` value, built once here; a profile carries its own
(``ModelProfile.renderers``) and :mod:`vlagent.prompts.builder` only calls it, never asking which syntax
it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType

from vlagent.prompts.action_space import JSON, QWEN2VL, SHOWUI, UITARS_15, UITARS_V1, render_lines
from vlagent.prompts.request import HistoryEntry, PromptRequest
from vlagent.prompts.tools import tool_json

#: ShowUI's name for each family's screen (``_APP`` in showlab/ShowUI's README; ``computer`` from its
#: ``data/template/shared_navigation.py`` app_map).
SHOWUI_APPS = {"web": "web", "desktop": "computer", "mobile": "phone", "game": "game", "robot": "robot camera"}
#: How the other profiles name each family's screen.
JSON_APPS = {
    "web": "a web browser",
    "desktop": "a desktop computer",
    "mobile": "a smartphone",
    "game": "a game",
    "robot": "a robot arm over a table through a fixed camera",
}
_TOOL_TAGS = re.compile(r"</?tool_call>")


def _summary_step(entry: HistoryEntry) -> str:
    """The action as vlagent summarised it, after the thought when there is one."""
    action = entry.action_summary or entry.reply.strip()
    return f"{entry.thought.strip()} / {action}" if entry.thought and entry.action_summary else action


def _reply_step(entry: HistoryEntry) -> str:
    """The model's own reply (ShowUI's history lists its earlier action dicts)."""
    return entry.reply.strip() or entry.action_summary


def _tool_call_step(entry: HistoryEntry) -> str:
    """The cookbook's task progress lists the tool calls themselves: {"name": "mobile_use", ...}."""
    return " ".join(_TOOL_TAGS.sub(" ", entry.reply).split()) or entry.action_summary


def _previous_actions(steps: Sequence[str]) -> str:
    return "\nPrevious actions:\n" + "\n".join(steps)


def _task_progress(steps: Sequence[str]) -> str:
    # QwenLM/Qwen2.5-VL cookbooks/mobile_agent.ipynb: "Task progress (You have done the following
    # operation on the current device): Step 1: {...}; Step 2: {...}; "
    return "\nTask progress (You have done the following operation on the current device): " + "".join(
        f"{s}; " for s in steps
    )


@dataclass(frozen=True)
class Renderers:
    """One syntax family's writers.

    ``action_space(request)`` writes the ``$action_space`` text; ``tools(request, width, height)`` the
    ``$tools`` schema in the resized image's pixels (a profile has one or the other). ``step`` writes one
    earlier step's action and ``steps`` the list of them, for the ``text`` history layout.

    Example:
        >>> req = PromptRequest(family="game", task="t", images=[], options=("hit", "stick"),
        ...                     supported=frozenset({"choose"}))
        >>> print(SHOWUI_RENDERERS.action_space(req))
        1. `CHOOSE`: Perform one of the game's actions, value is the action's name (one of: hit, stick) and the position is not applicable.
        2. `ANSWER`: Answer the question, value is the answer and the position is not applicable.
        >>> SHOWUI_RENDERERS.app_name("desktop"), JSON_RENDERERS.app_name("desktop")
        ('computer', 'a desktop computer')
    """

    action_space: Callable[[PromptRequest], str] | None = None
    tools: Callable[[PromptRequest, int, int], str] | None = None
    apps: Mapping[str, str] = field(default_factory=lambda: JSON_APPS, hash=False)
    step: Callable[[HistoryEntry], str] = _summary_step
    steps: Callable[[Sequence[str]], str] = _previous_actions

    def __post_init__(self) -> None:
        object.__setattr__(self, "apps", MappingProxyType(dict(self.apps)))

    def app_name(self, family: str) -> str:
        return self.apps[family]

    def history(self, history: Sequence[HistoryEntry]) -> str:
        """The earlier steps as text (empty without any)."""
        if not history:
            return ""
        steps = []
        for i, entry in enumerate(history, 1):
            step = f"Step {i}: {self.step(entry)}"
            if entry.error and i < len(history):  # the last step's error gets its own paragraph
                step += f" (could not be executed: {entry.error})"
            if entry.user_reply:
                step += f" (the user answered: {entry.user_reply})"
            steps.append(step)
        return self.steps(steps)


QWEN2VL_RENDERERS = Renderers(action_space=partial(render_lines, QWEN2VL))
UITARS_RENDERERS = Renderers(action_space=partial(render_lines, UITARS_V1))
UITARS_15_RENDERERS = Renderers(action_space=partial(render_lines, UITARS_15))
TOOL_CALL_RENDERERS = Renderers(tools=tool_json, step=_tool_call_step, steps=_task_progress)
SHOWUI_RENDERERS = Renderers(action_space=partial(render_lines, SHOWUI, numbered=True), apps=SHOWUI_APPS,
                             step=_reply_step)
JSON_RENDERERS = Renderers(action_space=partial(render_lines, JSON))

#: The built-in renderers by syntax name, for a profile that names a built-in syntax without its own.
RENDERERS: Mapping[str, Renderers] = MappingProxyType({
    "qwen2vl": QWEN2VL_RENDERERS,
    "uitars": UITARS_RENDERERS,
    "uitars-1.5": UITARS_15_RENDERERS,
    "tool_call": TOOL_CALL_RENDERERS,
    "showui": SHOWUI_RENDERERS,
    "json": JSON_RENDERERS,
})
