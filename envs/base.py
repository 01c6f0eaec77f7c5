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
- ``timings`` (:class:`EnvTimings`, a mapping of phase -> seconds, measured with :func:`time.perf_counter`):
  where this ``reset``/``step`` spent its time, so the loop can tell capturing from acting. Every vlagent
  env reports ``act`` (performing the action; on ``reset``, putting the env in its start state) and
  ``capture`` (obtaining the returned screenshot and decoding it into an image); envs that poll until the
  screen stops changing also report ``settle`` (the polling before the returned capture). The keys are
  :data:`ACT`, :data:`CAPTURE` and :data:`SETTLE`; :func:`env_timings` reads them from any env's ``info``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Final

import gymnasium as gym
import numpy as np
from PIL import Image
from pydantic import ValidationError

from vlagent.actions.coords import QWEN2_VL_MAX_PIXELS, QWEN2_VL_MIN_PIXELS, Geometry
from vlagent.actions.errors import CoordinateError, EnvError, UnsupportedActionError
from vlagent.actions.models import (
    ACTION_CLASS_BY_TYPE,
    ActionAdapter,
    Family,
    Finished,
    SampleSpace,
    Wait,
)
from vlagent.envs.errors import ResetNeeded

#: Performs one action type on an env: ``handler(env, action)``; what it returns is that env's business.
Handler = Callable[[Any, Any], Any]

#: ``info["timings"]`` phase: obtaining the returned screenshot (grab, screencap, render) as an image.
CAPTURE: Final = "capture"
#: ``info["timings"]`` phase: performing the action (on ``reset``: setting up the episode).
ACT: Final = "act"
#: ``info["timings"]`` phase: waiting for the screen to stop changing, before the returned capture.
SETTLE: Final = "settle"

#: The render modes a vlagent env is made with: ``rgb_array`` (``render()`` returns the last screenshot) or
#: ``None`` (no rendering asked for).
RENDER_MODES: Final[tuple[str | None, ...]] = ("rgb_array", None)


def check_render_mode(
    mode: Any, error: Callable[[str], Exception] = EnvError, allowed: tuple[str | None, ...] = RENDER_MODES
) -> str | None:
    """``mode`` when it is one of ``allowed``, else ``error`` (the env's own class, which its users catch).

    Every env refuses an unknown mode the same way, first thing in its constructor, before it opens a device.

    Example:
        >>> check_render_mode("rgb_array")
        'rgb_array'
        >>> try:
        ...     check_render_mode("human", ValueError)
        ... except ValueError as exc:
        ...     print(exc)
        render_mode must be 'rgb_array' or None, got 'human'
    """
    if mode not in allowed:
        names = " or ".join(repr(m) if m is not None else "None" for m in allowed)
        raise error(f"render_mode must be {names}, got {mode!r}")
    return mode


def task_option(options: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The task ``reset(options={"task": ...})`` names (``""`` for none) and the options left for the env.

    Every env reads the task the same way: absent, ``None`` or empty is no task (the env's own goal, or none on
    a live screen); a task that is not a string is an :class:`EnvError` rather than whatever its ``str()`` is.
    The rest goes on to the env (a wrapped gymnasium env's own ``reset``, Android's ``home``).

    Example:
        >>> task_option({"task": "Open the Weather app", "home": False})
        ('Open the Weather app', {'home': False})
        >>> task_option(None)
        ('', {})
    """
    rest = dict(options or {})
    task = rest.pop("task", None)
    if task is None:
        return "", rest
    if not isinstance(task, str):
        raise EnvError(f"options['task'] must be a string, got {type(task).__name__}")
    return task, rest


def task_words(text: str) -> str:
    """A task as an episode shows it: the user's words with runs of whitespace made single spaces.

    Example:
        >>> task_words("  Sign in as 'ann'   with password 'pw1'. ")
        "Sign in as 'ann' with password 'pw1'."
    """
    return " ".join(text.split())


def task_key(text: str) -> str:
    """A task text as parsers match it: :func:`task_words` without a final period.

    Example:
        >>> task_key("Stack the red cube on the blue cube. ")
        'Stack the red cube on the blue cube'
    """
    return task_words(text).rstrip(".").strip()


def parse_task(text: str, parse: Callable[[str], Any | None], unknown: Callable[[str], Exception]) -> Any | None:
    """The goal an env's parser reads in ``text`` (``None`` for no text); ``unknown(text)`` when it reads none.

    The parser is the env's own (an app's phrasings, a robot task's template); what is shared is that a task
    given and not understood is an error naming the env's phrasings, never a silently drawn goal.

    Example:
        >>> parse_task("", int, ValueError) is None, parse_task("7", int, ValueError)
        (True, 7)
    """
    if not text:
        return None
    goal = parse(text)
    if goal is None:
        raise unknown(text)
    return goal


class EnvTimings(Mapping[str, float]):
    """Seconds one ``reset``/``step`` spent per phase: the ``info["timings"]`` every vlagent env reports.

    ``act`` and ``capture`` are always there (0.0 until measured). Two ``EnvTimings`` are equal when they
    name the same phases, whatever the durations: durations describe this run, not the env's state, and
    gymnasium's determinism checks compare the infos of two equal transitions.

    Example:
        >>> timings = EnvTimings()
        >>> with timings.measure(ACT):
        ...     pass
        >>> timings.add(SETTLE, 0.25)
        >>> sorted(timings), timings[SETTLE], timings[CAPTURE]
        (['act', 'capture', 'settle'], 0.25, 0.0)
        >>> timings == EnvTimings(act=1.0, capture=2.0, settle=3.0)
        True
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter, **seconds: float) -> None:
        self.clock = clock
        self._seconds: dict[str, float] = {ACT: 0.0, CAPTURE: 0.0}
        for phase, value in seconds.items():
            self.add(phase, value)

    @contextmanager
    def measure(self, phase: str) -> Iterator[None]:
        """Add the time the ``with`` block takes (errors included) to ``phase``."""
        t0 = self.clock()
        try:
            yield
        finally:
            self.add(phase, self.clock() - t0)

    def add(self, phase: str, seconds: float) -> None:
        """Add ``seconds`` (measured elsewhere, e.g. by a settle wait) to ``phase``."""
        if seconds < 0:
            raise ValueError(f"{phase} took {seconds} s; durations cannot be negative")
        self._seconds[phase] = self._seconds.get(phase, 0.0) + float(seconds)

    def __getitem__(self, phase: str) -> float:
        return self._seconds[phase]

    def __iter__(self) -> Iterator[str]:
        return iter(self._seconds)

    def __len__(self) -> int:
        return len(self._seconds)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EnvTimings):
            return NotImplemented
        return self._seconds.keys() == other._seconds.keys()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "EnvTimings(" + ", ".join(f"{k}={v:.6f}" for k, v in self._seconds.items()) + ")"


def env_timings(info: Mapping[str, Any]) -> dict[str, float]:
    """The phase timings an env reported in ``info["timings"]`` (empty for envs that report none).

    Example:
        >>> env_timings({"timings": EnvTimings(capture=0.5)})
        {'act': 0.0, 'capture': 0.5}
        >>> env_timings({})
        {}
    """
    timings = info.get("timings")
    if not isinstance(timings, Mapping):
        return {}
    return {str(k): float(v) for k, v in timings.items() if isinstance(v, int | float) and not isinstance(v, bool)}


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
    """The space of screenshots of a given size (``None`` when the size can change, e.g. on rotation).

    Example:
        >>> space = ObservationSpace((64, 48), "desktop")
        >>> space.contains(space.sample()), space.contains(Observation(Image.new("RGB", (10, 10))))
        (True, False)
    """

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

    Example:
        >>> space = ActionSpace(frozenset({"click", "type"}), size=(100, 80))
        >>> space.contains({"type": "type", "text": "hi"}), space.contains({"type": "wait"}), space.contains("click")
        (True, False, False)
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
        except ValidationError:  # not an action at all: gymnasium's contract is False, not an exception
            return False
        return action.type in self.supported

    def sample(self, mask: Any = None, probability: Any = None) -> Any:
        rng = self.np_random
        space = SampleSpace(lambda low, high: int(rng.integers(low, high)), size=self.size, options=self.options)
        makers = {t: maker for t in sorted(self.supported) if t in ACTION_CLASS_BY_TYPE
                  and (maker := ACTION_CLASS_BY_TYPE[t].sampler(space)) is not None}
        if not makers:
            return Wait(seconds=0.01)
        choices = list(makers)
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

    Subclasses set ``family`` and ``supported_actions``, build ``observation_space``/``action_space``, and
    implement ``reset`` (which sets ``_last_obs`` and clears ``_done``) and :meth:`_step`, calling
    :meth:`check_action` at its top. :meth:`step` is the template around it: the one place that refuses a
    step outside an episode and marks the episode's end.

    Example:
        >>> class Clicker(VlagentEnv):
        ...     supported_actions = frozenset({"click"})
        >>> Clicker().check_action({"type": "click", "point": {"x": 5, "y": 5, "space": "screen"}}, (10, 10)).type
        'click'
        >>> try:
        ...     Clicker().check_action({"type": "click", "point": {"x": 50, "y": 5, "space": "screen"}}, (10, 10))
        ... except CoordinateError as exc:
        ...     print(exc)
        point (50, 5) is outside the 10x10 screen
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 4}
    family: ClassVar[Family] = "desktop"
    supported_actions: ClassVar[frozenset[str]] = frozenset()
    #: The one table ``step`` executes through: action type -> ``handler(env, action)``. Its keys are exactly
    #: ``supported_actions`` (tests/test_env_dispatch.py checks every env kind), so an action type cannot be
    #: advertised without a handler, nor handled without being advertised.
    action_handlers: ClassVar[Mapping[str, Handler]] = MappingProxyType({})
    #: The last observation; ``None`` until a reset has observed (``render`` returns it).
    _last_obs: Observation | None = None
    #: Whether the current episode has ended (``step`` sets it when terminated or truncated; ``reset`` clears it).
    _done: bool = False

    def step(self, action: Any) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        """Step as gymnasium does, refused outside an episode: the env's own :meth:`_step` does the work.

        The guard lives here once so that no env acts on a screen it never set up, or plays on past its end,
        and each says so in the same words. A ``_step`` whose ``info`` depends on the end (an oracle that stops
        at it) may set ``_done`` itself first; this marks it in any case.
        """
        self.require_episode()
        obs, reward, terminated, truncated, info = self._step(action)
        if terminated or truncated:
            self._done = True
        return obs, reward, terminated, truncated, info

    def require_episode(self) -> None:
        """Raise :class:`ResetNeeded` unless an episode is running (a reset observed; the episode goes on)."""
        if self._last_obs is None:
            raise ResetNeeded("call reset() before step()")
        if self._done:
            raise ResetNeeded("the episode has ended; call reset() before step()")

    def _step(self, action: Any) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        """One step of a running episode (:meth:`step` has checked there is one)."""
        raise NotImplementedError

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

    def _handle(self, action: Any) -> Any:
        """Run ``action`` through :attr:`action_handlers`; a type without a handler is an unsupported action.

        :meth:`check_action` has refused unsupported types already; this guard keeps a gap in a table a
        typed error rather than a ``KeyError`` or an action silently skipped.
        """
        handler = self.action_handlers.get(action.type)
        if handler is None:
            raise UnsupportedActionError(action.type, self.supported_actions_now())
        return handler(self, action)

    def render(self) -> np.ndarray | None:  # gymnasium's rgb_array convention
        obs = self._last_obs
        return None if obs is None else np.asarray(obs.screenshot)


class LiveScreenEnv(VlagentEnv):
    """A real screen that has no reward of its own (a desktop, a phone): act, let it settle, look again.

    The step is the same for every such device, so it lives here once; subclasses supply ``action_handlers`` (send
    the input) and ``_observe`` (settle, capture, build the observation and info), and set ``_last_obs``.
    ``finished`` ends the episode; success on a live screen is for the caller to judge.
    """

    def _step(self, action: Any) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        assert self._last_obs is not None  # step() has checked
        action = self.check_action(action, self._last_obs.size)
        timings = EnvTimings()
        with timings.measure(ACT):
            self._perform(action)
        terminated = isinstance(action, Finished)
        obs, info = self._observe(timings)
        return obs, 0.0, terminated, False, info

    def _perform(self, action: Any) -> None:
        self._handle(action)

    def _observe(self, timings: EnvTimings) -> tuple[Observation, dict[str, Any]]:
        raise NotImplementedError
