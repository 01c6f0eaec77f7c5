"""How an :class:`~vlagent.agent.loop.Agent` runs its episodes: limits, prompt budget, decoding.

One frozen value, validated once, so the settings an episode's outcome depends on have one definition
(their defaults included: the evaluation's resume key reads them from here). The agent's collaborators
(safety, recorder, clock, stop flag, secrets) are not settings and stay the agent's own arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from vlagent.model.chat import GenerationOptions

#: Agent keywords that are shorthands for a SafetyPolicy (used when no ``safety`` is given), with defaults.
SAFETY_SHORTHANDS: dict[str, Any] = {"dry_run": False, "confirm": None, "confirm_fn": None}


@dataclass(frozen=True)
class AgentConfig:
    """The settings of an agent's episodes.

    ``history_images``: screenshots in each prompt, the current one included (older ones first).
    ``max_steps``: model calls per episode, retries included. ``time_limit``: wall-clock seconds per episode
    (reset included), or ``None``; past it the episode ends after the step in flight with outcome
    ``time_limit``, which counts as a failure. ``max_retries``: unexecutable replies in a row that are fed
    back before the episode stops. ``repeat_limit``: the same action this many times in a row with the screen
    unchanged stops the episode. ``min_pixels``/``max_pixels``: the screenshot budget (``None``: the
    profile's). ``gen_options``: decoding options (their pixel budget defaults to the one above).
    ``video_frames``: 0 (no video) or N >= 2: each prompt holds the last N frames up to the current screen as
    a video (one frame per observation, unchanged ones included), before the current screenshot, which
    stays the image actions refer to; the video replaces the history screenshots. ``video_fps``: with
    ``video_frames``, sample the clip at this rate instead (the screen at N instants ``1/fps`` apart).

    Example:
        >>> AgentConfig(max_steps=5).max_steps, AgentConfig().history_images
        (5, 2)
        >>> AgentConfig(repeat_limit=1)
        Traceback (most recent call last):
        ...
        ValueError: repeat_limit must be >= 2, got 1
    """

    history_images: int = 2
    max_steps: int = 30
    time_limit: float | None = None
    max_retries: int = 2
    repeat_limit: int = 3
    min_pixels: int | None = None
    max_pixels: int | None = None
    gen_options: GenerationOptions | None = None
    video_frames: int = 0
    video_fps: float | None = None

    def __post_init__(self) -> None:
        for name, low in (("history_images", 1), ("max_steps", 1), ("max_retries", 0), ("repeat_limit", 2)):
            value = getattr(self, name)
            if value < low:
                raise ValueError(f"{name} must be >= {low}, got {value}")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"time_limit must be a positive number of seconds, got {self.time_limit}")
        if self.video_frames and self.video_frames < 2:
            raise ValueError(f"video_frames must be 0 (no video) or >= 2, got {self.video_frames}")
        if self.video_fps is not None and not self.video_fps > 0:
            raise ValueError(f"video_fps must be a positive number of frames a second, got {self.video_fps}")

    def updated(self, **settings: Any) -> AgentConfig:
        """A copy with ``settings`` (field names) replaced; an unknown name is a ``TypeError``."""
        unknown = set(settings) - set(SETTINGS)
        if unknown:
            raise TypeError(f"unknown agent setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **settings) if settings else self


#: Every setting's name, in order.
SETTINGS: tuple[str, ...] = tuple(f.name for f in fields(AgentConfig))


def setting_default(name: str) -> Any:
    """The default of a setting or of a safety shorthand (the one place each is defined).

    Example:
        >>> setting_default("max_steps"), setting_default("dry_run")
        (30, False)
    """
    if name in SAFETY_SHORTHANDS:
        return SAFETY_SHORTHANDS[name]
    return getattr(AgentConfig(), name)
