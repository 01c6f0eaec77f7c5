"""Any gymnasium env as a vlagent env: its rendered frame is the screenshot, its actions have names.

A vision-language model sees the ``rgb_array`` frame and answers with a typed action:

- ``choose(option)`` picks a ``Discrete`` action by name. Names come from :mod:`vlagent.envs.gym_names`
  (FrozenLake, CliffWalking, Taxi, Blackjack tables; MiniGrid's ``Actions``; ALE's
  ``get_action_meanings()``), else from ``action_names=[...]``, else ``action_0`` .. ``action_{n-1}``.
  Matching ignores case, spaces, ``_`` and ``-``; an unknown name raises
  :class:`~vlagent.envs.gym_names.UnknownOptionError` listing the valid ones, never a random move.
- ``move(direction)`` where the env's moves are screen directions (FrozenLake, CliffWalking, Taxi, or the
  ``directions`` argument). MiniGrid turns its agent (``left`` is a turn, ``forward`` depends on where it
  faces) and ALE's joystick names depend on the game (Pong's ``RIGHT`` moves the paddle up), so neither
  takes ``move(direction)``: choose their named actions instead.
- ``move(point)`` for a ``Box`` action space of shape ``(2,)`` with finite bounds (an env whose action is a
  target point). The frame is taken to show exactly the action range: pixel column ``0`` maps to
  ``low[0]`` and column ``width - 1`` to ``high[0]``; row ``0`` maps to ``low[1]`` and row ``height - 1``
  to ``high[1]`` (``y_up=True`` flips rows for envs whose y axis points up). Envs whose frame shows
  something else pass ``point_to_action``.

The observation's ``text`` is the env's own words: MiniGrid's mission, the toy-text state described in
words (Blackjack's hand, the FrozenLake/CliffWalking position, Taxi's passenger and destination), ALE's
lives. reward/terminated/truncated pass through; ``info`` is the wrapped env's info plus ``action_index``,
``success`` where the game defines it (reward > 0 at termination for FrozenLake, MiniGrid, Blackjack;
termination for CliffWalking and Taxi) and ``timings`` (:class:`~vlagent.envs.base.EnvTimings`: the wrapped
env's ``reset``/``step`` is ``act``, its ``render()`` frame as an image is ``capture``).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from PIL import Image

from vlagent.actions.errors import EnvError, UnsupportedActionError
from vlagent.actions.models import DIRECTIONS, Choose, Move
from vlagent.envs.base import (
    ACT,
    CAPTURE,
    ActionSpace,
    EnvTimings,
    Handler,
    Observation,
    ObservationSpace,
    VlagentEnv,
    check_render_mode,
    task_option,
)
from vlagent.envs.errors import DependencyNotInstalled
from vlagent.envs.gym_names import ActionNames, GameInfo, game_info

NEEDS = (
    "gymnasium (a vlagent dependency); ALE games need ale-py and MiniGrid envs need minigrid: "
    "pip install 'vlagent[games]'"
)

_GAMES_HINT = "pip install 'vlagent[games]' (ale-py, minigrid, and pygame for the toy-text frames)"
#: Env-id prefixes whose envs register themselves when their package is imported.
_REGISTERING_PACKAGES: tuple[tuple[str, str], ...] = (("ALE/", "ale_py"), ("MiniGrid-", "minigrid"), ("BabyAI-", "minigrid"))

PointToAction = Callable[[float, float, tuple[int, int]], np.ndarray]


def default_task(env_id: str, kind: str = "choose") -> str:
    """The task of a gym env with no mission of its own (CartPole): play it for reward.

    ``kind`` is how actions are given: ``"choose"`` a named action, or ``"move"`` to a point.

    Example:
        >>> default_task("CartPole-v1")
        'Play CartPole-v1: choose one of the actions to maximise the reward.'
    """
    how = "choose one of the actions" if kind == "choose" else "move to the points"
    return f"Play {env_id}: {how} to maximise the reward."


class GymEnvError(EnvError):
    """The gymnasium env cannot be wrapped (unknown id, no ``rgb_array`` frames, an action space vlagent cannot name)."""


def _ensure_registered(env_id: str) -> None:
    for prefix, package in _REGISTERING_PACKAGES:
        if env_id.startswith(prefix):
            try:
                module = importlib.import_module(package)
            except ImportError as exc:
                raise DependencyNotInstalled(package, hint=_GAMES_HINT) from exc
            if hasattr(gym, "register_envs"):
                gym.register_envs(module)


def make_gym(env_id: str, env_kwargs: Mapping[str, Any] | None = None) -> gym.Env:
    """``gymnasium.make(env_id, render_mode="rgb_array", **env_kwargs)``, with gymnasium's errors made ours."""
    kwargs = dict(env_kwargs or {})
    check_render_mode(kwargs.pop("render_mode", "rgb_array"), GymEnvError, allowed=("rgb_array",))  # frames are read
    _ensure_registered(env_id)
    # Toy-text envs draw rgb_array frames with pygame, which still calls pygame.display.init(): on a headless
    # machine SDL's Wayland probe prints "error: XDG_RUNTIME_DIR is invalid or not set" (it reads as a vlagent
    # error). Frames are drawn off screen, so SDL's dummy video driver is enough; a user's choice is kept.
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    try:
        return gym.make(env_id, render_mode="rgb_array", **kwargs)
    except gym.error.DependencyNotInstalled as exc:
        raise DependencyNotInstalled(f"a package {env_id} needs ({exc})", hint=_GAMES_HINT) from exc
    except gym.error.Error as exc:
        raise GymEnvError(f"gymnasium cannot make {env_id!r}: {exc}") from exc
    except ImportError as exc:  # `module:EnvId` names a module that is not installed
        raise GymEnvError(f"gymnasium cannot make {env_id!r}: {exc}") from exc
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        # The env's constructor refused --env-kwargs: a keyword it does not take (TypeError), or a value it
        # does not know (FrozenLake's map_name '9x9' is a KeyError, a bad size a ValueError).
        why = f"{type(exc).__name__}: {exc}" if isinstance(exc, KeyError) else str(exc)
        raise GymEnvError(f"gymnasium cannot make {env_id!r} with {kwargs}: {why}") from exc


def point_to_box(x: float, y: float, size: tuple[int, int], low: np.ndarray, high: np.ndarray, *,
                 y_up: bool = False) -> np.ndarray:
    """Map a screen pixel onto a 2-D ``Box``: the frame's first/last pixel are the box's low/high edge.

    Example:
        >>> point_to_box(0, 99, (200, 100), np.array([-1.0, -1.0]), np.array([1.0, 1.0])).tolist()
        [-1.0, 1.0]
        >>> point_to_box(0, 99, (200, 100), np.array([-1.0, -1.0]), np.array([1.0, 1.0]), y_up=True).tolist()
        [-1.0, -1.0]
    """
    w, h = size
    fx = x / (w - 1) if w > 1 else 0.5
    fy = y / (h - 1) if h > 1 else 0.5
    if y_up:
        fy = 1.0 - fy
    frac = np.array([fx, fy], dtype=np.float64)
    return (low + frac * (high - low)).astype(np.float64)


def _is_point_box(space: gym.Space) -> bool:
    return (
        isinstance(space, gym.spaces.Box)
        and space.shape == (2,)
        and bool(np.all(np.isfinite(space.low)))
        and bool(np.all(np.isfinite(space.high)))
    )


def _adopt(env_id_or_env: str | gym.Env, env_kwargs: Mapping[str, Any] | None) -> tuple[gym.Env, str]:
    """The env to wrap and its id: made from a registered id, or one made already in ``rgb_array`` mode."""
    if isinstance(env_id_or_env, str):
        return make_gym(env_id_or_env, env_kwargs), env_id_or_env
    if env_kwargs:
        raise GymEnvError("env_kwargs apply only when vlagent makes the env from an id")
    if getattr(env_id_or_env, "render_mode", None) != "rgb_array":
        raise GymEnvError(
            f"the env renders with render_mode={getattr(env_id_or_env, 'render_mode', None)!r}; "
            "make it with render_mode='rgb_array'"
        )
    spec = getattr(env_id_or_env, "spec", None)
    return env_id_or_env, spec.id if spec is not None else type(env_id_or_env.unwrapped).__name__


class GymEnv(VlagentEnv):
    """A gymnasium env with named actions and its ``rgb_array`` frame as the screenshot.

    Example:
        >>> env = GymEnv("FrozenLake-v1", env_kwargs={"is_slippery": False})
        >>> obs, info = env.reset(seed=0)
        >>> obs.options, obs.size
        (('left', 'down', 'right', 'up'), (256, 256))
        >>> obs, reward, terminated, truncated, info = env.step(Choose(option="RIGHT"))
        >>> obs.text
        'You are at row 0, column 1 of the 4x4 grid (row 0 is the top).'
    """

    family = "game"
    supported_actions = frozenset({"choose", "move"})

    def __init__(
        self,
        env_id_or_env: str | gym.Env,
        env_kwargs: Mapping[str, Any] | None = None,
        action_names: Sequence[str] | None = None,
        *,
        task: str | None = None,
        directions: Mapping[str, str] | None = None,
        point_to_action: PointToAction | None = None,
        y_up: bool = False,
    ) -> None:
        """Wrap ``env_id_or_env``.

        Args:
            env_id_or_env: a registered id (made with ``render_mode="rgb_array"`` and ``env_kwargs``), or an
                env already made with that render mode.
            env_kwargs: keywords for ``gymnasium.make`` (only with an id).
            action_names: names for a ``Discrete`` space's actions, replacing the built-in table.
            task: the default task text (``reset(options={"task": ...})`` overrides it per episode). Without
                it, the game's own (MiniGrid's mission, the toy-text goals), else :func:`default_task`.
            directions: ``{"up": NAME, ...}``: which named actions move that way on screen.
            point_to_action: maps ``(x, y, (width, height))`` screen pixels to an action, for envs whose
                frame does not show exactly the ``Box`` range.
            y_up: for the default point mapping, the Box's y axis points up the screen.
        """
        self._env, self.env_id = _adopt(env_id_or_env, env_kwargs)
        self.render_mode = "rgb_array"
        self.inner_action_space = self._env.action_space
        known: GameInfo | None = game_info(self._env)
        self._info = known
        self._point_to_action = point_to_action
        self._y_up = y_up
        self._names = self._action_names(known, action_names, directions)
        self._supported = self._supported_types()
        self._task_arg = task
        self.options_names: tuple[str, ...] = self._names.names if self._names is not None else ()
        self.observation_space = ObservationSpace(None, "game")
        self.action_space = ActionSpace(self._supported, options=self.options_names)
        self._task = ""
        self._last_obs: Observation | None = None

    def _action_names(self, known: GameInfo | None, action_names: Sequence[str] | None,
                      directions: Mapping[str, str] | None) -> ActionNames | None:
        """The names of a ``Discrete`` space's actions, checked against it (``None`` for a Box space)."""
        space = self.inner_action_space
        if not isinstance(space, gym.spaces.Discrete):
            return None
        n = int(space.n)
        names = self._name_actions(n, known, action_names, directions)
        if len(names.names) != n:
            raise GymEnvError(f"{len(names.names)} action names for {n} actions: {names.names}")
        bad = set(names.directions) - set(DIRECTIONS)
        if bad:
            raise GymEnvError(f"directions must be among {DIRECTIONS}, got {sorted(bad)}")
        return names

    def _supported_types(self) -> frozenset[str]:
        """``choose`` (and ``move`` by direction) for named actions, ``move`` to a point for a point Box."""
        space = self.inner_action_space
        if self._names is not None:
            return frozenset({"choose"} | ({"move"} if self._names.directions else set()))
        if _is_point_box(space) or (isinstance(space, gym.spaces.Box) and self._point_to_action is not None):
            return frozenset({"move"})
        raise GymEnvError(
            f"{self.env_id}'s action space {space} is neither Discrete nor a 2-D point Box; "
            "pass point_to_action for other Box spaces"
        )

    @staticmethod
    def _name_actions(n: int, known: GameInfo | None, action_names: Sequence[str] | None,
                      directions: Mapping[str, str] | None) -> ActionNames:
        try:
            if action_names is not None:
                return ActionNames(tuple(action_names), directions=dict(directions or {}))
            if known is not None:
                if directions is None:
                    return known.names
                return ActionNames(known.names.names, aliases=known.names.aliases, directions=dict(directions))
            return ActionNames(ActionNames.generic(n).names, directions=dict(directions or {}))
        except ValueError as exc:  # duplicate names, a direction naming no action
            raise GymEnvError(f"bad action names: {exc}") from exc

    # -- gymnasium API -------------------------------------------------------------------------------

    def supported_actions_now(self) -> frozenset[str]:
        return self._supported

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Observation, dict]:
        super().reset(seed=seed)
        task, options = task_option(options)
        timings = EnvTimings()
        with timings.measure(ACT):
            raw, info = self._env.reset(seed=seed, options=options or None)
        if task:
            self._task = task
        elif self._task_arg is not None:
            self._task = self._task_arg
        else:
            self._task = self._info.task_for(self._env.unwrapped) if self._info is not None else ""
        if not self._task:  # CartPole and the like have no mission: a model still needs a goal to read
            self._task = default_task(self.env_id, "choose" if self._names is not None else "move")
        obs = self._observe(raw, timings)
        if "move" in self._supported and self._names is None:
            self.action_space.size = obs.size  # point actions are sampled on this screen
        self._done = False
        return obs, {**info, "timings": timings}

    def _step(self, action: Any) -> tuple[Observation, float, bool, bool, dict]:
        assert self._last_obs is not None  # step() has checked
        action = self.check_action(action, self._last_obs.size)
        index, inner_action = self._handle(action)
        timings = EnvTimings()
        with timings.measure(ACT):
            raw, reward, terminated, truncated, info = self._env.step(inner_action)
        info = dict(info)
        if index is not None:
            info["action_index"] = index
        if self._info is not None and self._info.success is not None:
            info["success"] = self._info.success(float(reward), bool(terminated), info)
        self._done = bool(terminated or truncated)  # the game's episode is over even if its frame then fails
        obs = self._observe(raw, timings)
        info["timings"] = timings
        return obs, float(reward), bool(terminated), bool(truncated), info

    def close(self) -> None:
        self._env.close()

    # -- helpers -------------------------------------------------------------------------------------

    @property
    def inner(self) -> gym.Env:
        """The wrapped gymnasium env (as ``gymnasium.make`` returned it)."""
        return self._env

    # Handlers: the wrapped env's action for ``action``, and its index among the named actions (or None).
    def _choose(self, action: Choose) -> tuple[int | None, Any]:
        if self._names is None:
            raise UnsupportedActionError("choose", self._supported, detail=f"{self.env_id} has no named actions")
        i = self._names.index(action.option)
        return i, int(self.inner_action_space.start) + i

    def _move(self, action: Move) -> tuple[int | None, Any]:
        if self._names is not None:
            if action.direction is None:
                raise UnsupportedActionError(
                    "move", self._supported, detail=f"{self.env_id} takes move(direction), not a point"
                )
            if action.direction not in self._names.directions:
                raise UnsupportedActionError(
                    "move", self._supported,
                    detail=f"{self.env_id} moves only {sorted(self._names.directions)}",
                )
            i = self._names.direction_index(action.direction)
            return i, int(self.inner_action_space.start) + i
        if action.point is None:
            raise UnsupportedActionError(
                "move", self._supported, detail=f"{self.env_id} takes move(point), not a direction"
            )
        size = self._last_obs.size if self._last_obs is not None else (1, 1)  # step() has observed
        if self._point_to_action is not None:
            value = np.asarray(self._point_to_action(action.point.x, action.point.y, size))
        else:
            space = self.inner_action_space
            value = point_to_box(action.point.x, action.point.y, size, space.low, space.high, y_up=self._y_up)
        return None, value.astype(self.inner_action_space.dtype)

    action_handlers: ClassVar[Mapping[str, Handler]] = MappingProxyType({"choose": _choose, "move": _move})

    def _frame(self) -> Image.Image:
        try:
            frame = self._env.render()
        except gym.error.DependencyNotInstalled as exc:  # toy-text envs draw with pygame
            raise DependencyNotInstalled(f"a package {self.env_id} renders with ({exc})", hint=_GAMES_HINT) from exc
        if frame is None:
            raise GymEnvError(f"{self.env_id}.render() returned None; it must support render_mode='rgb_array'")
        array = np.asarray(frame)
        if array.ndim != 3 or array.shape[2] not in (3, 4):
            raise GymEnvError(f"{self.env_id}.render() returned an array of shape {array.shape}, not HxWx3")
        return Image.fromarray(array.astype(np.uint8)).convert("RGB")

    def _observe(self, raw: Any, timings: EnvTimings) -> Observation:
        text = ""
        describe = self._info.describe if self._info is not None else None
        if describe is not None:
            text = describe(raw, self._env.unwrapped)
        elif isinstance(raw, str):
            text = raw
        elif isinstance(raw, Mapping):
            for key in ("mission", "utterance", "text"):
                if isinstance(raw.get(key), str):
                    text = raw[key]
                    break
        with timings.measure(CAPTURE):
            frame = self._frame()
        obs = Observation(
            frame, task=self._task, text=text, family="game", options=self.options_names,
            extra={"gym_obs": raw},
        )
        self._last_obs = obs
        return obs


def availability() -> tuple[bool, str]:
    """Whether ``gym:ENV_ID`` envs can run here, and which optional game packages are present."""
    extras = [f"{pkg} {'yes' if importlib.util.find_spec(pkg) else 'no'}" for pkg in ("ale_py", "minigrid")]
    return True, f"gymnasium {gym.__version__}; " + ", ".join(extras)


_OWN_KWARGS = frozenset({"action_names", "task", "directions", "point_to_action", "y_up"})


def make(arg: str | None, **kwargs: Any) -> GymEnv:
    """Build the env for the spec ``gym:ENV_ID``.

    Keywords named like :class:`GymEnv`'s own arguments go to it; ``env_kwargs`` (a dict) and every other
    keyword go to ``gymnasium.make``, so ``--env-kwargs '{"is_slippery": false}'`` works either way.
    """
    if not arg:
        raise GymEnvError("the gym env spec needs an env id, e.g. gym:FrozenLake-v1")
    env_kwargs = dict(kwargs.pop("env_kwargs", None) or {})
    own = {k: kwargs.pop(k) for k in list(kwargs) if k in _OWN_KWARGS}
    env_kwargs.update(kwargs)
    return GymEnv(arg, env_kwargs, **own)
