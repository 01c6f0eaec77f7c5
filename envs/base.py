"""The contract every vlagent environment keeps.

Envs follow gymnasium: ``reset(seed=None, options={"task": ...}) -> (obs, info)`` and
``step(action) -> (obs, reward, terminated, truncated, info)``. The observation is an :class:`Observation`
(screenshot + geometry + task + env text); the action is a typed vlagent action whose points are already
in ``screen`` space (pixels of the last observation image): the loop converts model coordinates once,
before ``step``. An env raises :class:`UnsupportedActionError` for a type it does not perform and
:class:`CoordinateError` for a point that is not on its screen; it never guesses.

``info`` keys every env may set:

- ``success`` (bool): the task's own success check, where the env has one.
- ``oracle`` (Action | None): the ground-truth next action in screen space, for envs that know it
  (synthetic apps, MiniWoB++). Scripted policies read it; prompts never show it to a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
from PIL import Image

from vlagent.actions.coords import QWEN2_VL_MAX_PIXELS, QWEN2_VL_MIN_PIXELS, Geometry, Point
from vlagent.actions.errors import CoordinateError, UnsupportedActionError
from vlagent.actions.models import (
    ActionAdapter,
    Choose,
    Click,
    Drag,
    Finished,
    Key,
    LongPress,
    Move,
    Scroll,
    TypeText,
    Wait,
)

Family = Literal["desktop", "mobile", "web", "game"]
FAMILIES: tuple[Family, ...] = ("desktop", "mobile", "web", "game")


@dataclass(eq=False)
class Observation:
    """One look at the screen.

    ``screenshot`` is an RGB image in physical pixels; ``scale`` is physical pixels per logical point
    (2.0 on a HiDPI desktop). ``options`` lists the env's named actions for ``choose`` (empty for GUIs).

    Example:
        >>> obs = Observation(Image.new("RGB", (160, 210)), task="click OK")
        >>> obs.size
        (160, 210)
    """

    screenshot: Image.Image
    task: str = ""
    text: str = ""
    scale: float = 1.0
    family: Family = "desktop"
    options: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        return self.screenshot.size

    def geometry(self, *, min_pixels: int = QWEN2_VL_MIN_PIXELS, max_pixels: int = QWEN2_VL_MAX_PIXELS) -> Geometry:
        """The geometry a model with these pixel budgets sees this screenshot in."""
        w, h = self.size
        return Geometry.for_image(w, h, min_pixels=min_pixels, max_pixels=max_pixels, scale=self.scale)

    def __eq__(self, other: object) -> bool:  # gymnasium's determinism check compares observations
        if not isinstance(other, Observation):
            return NotImplemented
        return (
            self.task == other.task
            and self.text == other.text
            and self.scale == other.scale
            and self.family == other.family
            and self.options == other.options
            and self.screenshot.size == other.screenshot.size
            and self.screenshot.tobytes() == other.screenshot.tobytes()
        )

    __hash__ = None  # type: ignore[assignment]


class ObservationSpace(gym.Space[Observation]):
    """The space of screenshots of a given size (``None`` when the size can change, e.g. on rotation)."""

    def __init__(self, size: tuple[int, int] | None, family: Family, seed: int | None = None) -> None:
        super().__init__(shape=None, dtype=None, seed=seed)
        self.size = size
        self.family = family

    def sample(self, mask: Any = None, probability: Any = None) -> Observation:
        w, h = self.size or (64, 64)
        pixels = self.np_random.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        return Observation(Image.fromarray(pixels), family=self.family)

    def contains(self, x: Any) -> bool:
        return (
            isinstance(x, Observation)
            and x.screenshot.mode == "RGB"
            and (self.size is None or x.size == tuple(self.size))
        )

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"ObservationSpace(size={self.size}, family={self.family!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObservationSpace) and (self.size, self.family) == (other.size, other.family)


class ActionSpace(gym.Space[Any]):
    """The vlagent actions an env performs, with points in ``screen`` space.

    ``contains`` checks the action type only; an env checks the points against the current screen.
    ``sample`` draws a random supported action with points on a ``size`` screen (for ``check_env``).
    """

    def __init__(
        self,
        supported: frozenset[str],
        size: tuple[int, int] | None = None,
        options: tuple[str, ...] = (),
        seed: int | None = None,
    ) -> None:
        super().__init__(shape=None, dtype=None, seed=seed)
        self.supported = frozenset(supported)
        self.size = size
        self.options = tuple(options)

    def contains(self, x: Any) -> bool:
        try:
            action = ActionAdapter.validate_python(x)
        except Exception:
            return False
        return action.type in self.supported

    def sample(self, mask: Any = None, probability: Any = None) -> Any:
        w, h = self.size or (64, 64)
        rng = self.np_random

        def pt() -> Point:
            return Point(x=int(rng.integers(0, w)), y=int(rng.integers(0, h)), space="screen")

        makers = {
            "click": lambda: Click(point=pt()),
            "long_press": lambda: LongPress(point=pt(), duration=0.1),
            "drag": lambda: Drag(start=pt(), end=pt(), duration=0.1),
            "scroll": lambda: Scroll(point=pt(), direction="down", amount=1),
            "type": lambda: TypeText(text="a"),
            "key": lambda: Key(name="tab"),
            "move": lambda: Move(point=pt()) if self.size else Move(direction="up"),
            "choose": lambda: Choose(option=self.options[int(rng.integers(0, len(self.options)))]),
            "wait": lambda: Wait(seconds=0.01),
            "finished": lambda: Finished(),
        }
        choices = sorted(t for t in self.supported if t in makers and (t != "choose" or self.options))
        if not choices:
            return Wait(seconds=0.01)
        return makers[choices[int(rng.integers(0, len(choices)))]]()

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"ActionSpace({sorted(self.supported)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActionSpace) and self.supported == other.supported


class VlagentEnv(gym.Env[Observation, Any]):
    """Base class: declares the family and the supported action types, and checks actions before use.

    Subclasses set ``family`` and ``supported_actions``, build ``observation_space``/``action_space`` and call
    :meth:`check_action` at the top of ``step``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 4}
    family: ClassVar[Family] = "desktop"
    supported_actions: ClassVar[frozenset[str]] = frozenset()

    def check_action(self, action: Any, screen_size: tuple[int, int] | None = None) -> Any:
        """Validate an action: a vlagent action of a supported type, points in ``screen`` space on the screen.

        Returns the validated action (dicts and JSON-like input are accepted and parsed).
        """
        action = ActionAdapter.validate_python(action)
        supported = self.supported_actions_now()
        if action.type not in supported:
            raise UnsupportedActionError(action.type, supported)
        for name, p in action.points().items():
            if p.space != "screen":
                raise CoordinateError(
                    f"{name} is in space {p.space!r}; envs take screen pixels (convert with convert_action)",
                    x=p.x,
                    y=p.y,
                )
            if screen_size is not None:
                w, h = screen_size
                if not (0 <= p.x < w and 0 <= p.y < h):
                    raise CoordinateError(f"{name} ({p.x:g}, {p.y:g}) is outside the {w}x{h} screen", x=p.x, y=p.y)
        return action

    def supported_actions_now(self) -> frozenset[str]:
        """The action types this instance performs (an instance may narrow its class's set)."""
        return self.supported_actions

    def render(self) -> np.ndarray | None:  # gymnasium's rgb_array convention
        obs = getattr(self, "_last_obs", None)
        return None if obs is None else np.asarray(obs.screenshot)
