"""A plugin env kind and a plugin policy, registered from outside vlagent (tests/test_plugins.py loads it).

``tally:N`` is a screen with one button that must be clicked N times; ``centre-clicker`` is a policy that
always clicks the middle of the screen, in the qwen2-vl profile's format.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from PIL import Image, ImageDraw

from vlagent.actions import Click, Point
from vlagent.envs.base import ActionSpace, EnvTimings, Observation, ObservationSpace, VlagentEnv
from vlagent.envs.registry import Kind, register_env_kind
from vlagent.model.policies import register_policy

NEEDS = "nothing beyond vlagent"
SIZE = (320, 240)
BUTTON = (110, 90, 210, 150)


class TallyEnv(VlagentEnv):
    """Click the button ``target`` times; the info's ``oracle`` is the next right click."""

    family = "desktop"
    supported_actions: ClassVar[frozenset[str]] = frozenset({"click", "finished"})

    def __init__(self, target: int = 3) -> None:
        self.target = target
        self.count = 0
        self.observation_space = ObservationSpace(SIZE, "desktop")
        self.action_space = ActionSpace(self.supported_actions, size=SIZE)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Observation, dict]:
        super().reset(seed=seed)
        self.count = 0
        return self._observe(), self._info()

    def step(self, action: Any) -> tuple[Observation, float, bool, bool, dict]:
        action = self.check_action(action, SIZE)
        ended = self._handle(action)
        success = self.count >= self.target
        return self._observe(), float(success), success or ended, False, self._info()

    def _click(self, action: Click) -> bool:
        x1, y1, x2, y2 = BUTTON
        if x1 <= action.point.x < x2 and y1 <= action.point.y < y2:
            self.count += 1
        return False

    def _finish(self, action: Any) -> bool:
        return True

    action_handlers = {"click": _click, "finished": _finish}

    def _observe(self) -> Observation:
        image = Image.new("RGB", SIZE, "white")
        draw = ImageDraw.Draw(image)
        draw.rectangle(BUTTON, fill=(30, 110, 230))
        draw.text((10, 10), f"{self.count} of {self.target}", fill="black")
        self._last_obs = Observation(image, task=f"Click the blue button {self.target} times", family="desktop")
        return self._last_obs

    def _info(self) -> dict[str, Any]:
        done = self.count >= self.target
        centre = Point(x=(BUTTON[0] + BUTTON[2]) // 2, y=(BUTTON[1] + BUTTON[3]) // 2, space="screen")
        return {"success": done, "count": self.count, "oracle": None if done else Click(point=centre),
                "timings": EnvTimings()}


def make(arg: str | None, **kwargs: Any) -> TallyEnv:
    """``tally:N``: an env asking for N clicks."""
    return TallyEnv(target=int(arg or 3), **kwargs)


def availability() -> tuple[bool, str]:
    return True, "always"


class CentreClicker:
    """A policy: click the middle of the screen, written as the qwen2-vl profile's parser reads it."""

    def generate(self, chats: Sequence[Any], **options: Any) -> list[str]:
        return ["click(<|box_start|>(500,500)<|box_end|>)" for _ in chats]


register_env_kind(Kind("tally", __name__, "tally:N", "a button to click N times (a plugin)", True, NEEDS))
register_policy("centre-clicker", CentreClicker)
