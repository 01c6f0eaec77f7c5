"""Environment specs (what ``--env`` takes), the env table behind ``vlagent envs``, and gymnasium ids.

A spec is ``KIND`` or ``KIND:ARG``:

=================  ==========================================================
spec               env
=================  ==========================================================
``desktop``        this machine's screen (``desktop:2`` picks monitor 2)
``android``        an Android device over ADB (``android:SERIAL`` picks one)
``gym:ENV_ID``     any gymnasium env (``gym:FrozenLake-v1``)
``miniwob:TASK``   a MiniWoB++ task in headless Chromium (``miniwob:click-test``)
``synthetic:APP``  a built-in Pillow app (``synthetic:login``)
``robot:TASK``     a MuJoCo tabletop arm driven by pointing (``robot:pick-place``)
=================  ==========================================================

Each kind lives in its own module exposing ``make(arg, **kwargs)``, ``availability()`` and ``NEEDS``. They
are imported only when used, so a machine without (say) Chromium bindings still lists, and runs, the rest.
Keyword arguments of :func:`make_env` go to the module's ``make`` (for ``gym:`` they reach
``gymnasium.make``), on top of the spec's :data:`ENV_DEFAULTS`: ``vlagent run``, ``vlagent eval`` and
replays all build envs here, so one spec means one env everywhere. :func:`register_envs` also registers
``vlagent/...`` ids with gymnasium.

Plugins add kinds with :func:`register_env_kind` or a ``vlagent.envs`` entry point (see
:mod:`vlagent.actions.plugins`); :func:`kinds` loads them before any spec is read.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from types import MappingProxyType, ModuleType
from typing import Any

import gymnasium as gym

from vlagent.actions.errors import EnvError
from vlagent.actions.plugins import ENVS_GROUP, load_group, made
from vlagent.envs.base import VlagentEnv


class EnvSpecError(EnvError, ValueError):
    """A spec that names no env kind, or lacks the part after the colon its kind needs.

    Example:
        >>> str(EnvSpecError("teleport"))
        'unknown env spec kind in teleport; use desktop, android[:SERIAL], gym:ENV_ID, miniwob:TASK, synthetic:APP, robot:TASK...'
        >>> str(EnvSpecError("synthtic:login")).split("; use")[0]
        'unknown env spec kind in synthtic:login; did you mean synthetic:login?'
    """

    def __init__(self, spec: str, reason: str | None = None) -> None:
        from vlagent.actions.suggest import close_names

        self.spec = spec
        known = kinds()
        patterns = ", ".join(k.pattern for k in known.values())
        hint = ""
        if reason is None:
            head, colon, tail = spec.partition(":")
            close = close_names(head.strip(), known, n=1)
            hint = f"; did you mean {close[0]}{colon}{tail}?" if close else ""
        super().__init__(f"{reason or 'unknown env spec kind in ' + spec}{hint}; use {patterns}")


class EnvUnavailable(EnvError):
    """The module behind an env kind cannot be imported on this machine (the cause is chained)."""


@dataclass(frozen=True)
class Kind:
    """One env kind: its module, how its spec looks and whether the part after the colon is required."""

    name: str
    module: str
    pattern: str
    description: str
    arg_required: bool
    #: What it needs, shown when its module cannot even be imported (else the module's NEEDS is used).
    needs: str
    #: Whether the env brings its own task (a synthetic app, a game, a MiniWoB++ page); a screen does not.
    own_task: bool = True
    #: Whether its screen is the real world (a clock ticks, a caret blinks), so two looks at the same state
    #: differ a little: replays compare such screens with a tolerance (see :func:`live_kinds`).
    live: bool = False


#: The env kinds vlagent ships; :data:`KINDS` adds the ones plugins register.
BUILTIN_KINDS: Mapping[str, Kind] = MappingProxyType({
    k.name: k
    for k in (
        Kind("desktop", "vlagent.envs.desktop", "desktop", "this machine's screen via mss + pyautogui", False,
             "an X11 display and mss + pyautogui (pip install 'vlagent[desktop]')", own_task=False, live=True),
        Kind("android", "vlagent.envs.android", "android[:SERIAL]", "an Android device or emulator over ADB", False,
             "adb and adbutils (pip install 'vlagent[android]') and a device", own_task=False, live=True),
        Kind("gym", "vlagent.envs.gym_adapter", "gym:ENV_ID", "any gymnasium env rendered as rgb_array", True,
             "gymnasium (and the env's own package)"),
        Kind("miniwob", "vlagent.envs.miniwob", "miniwob:TASK", "a MiniWoB++ web task in headless Chromium", True,
             "miniwob + selenium (pip install 'vlagent[miniwob]'), chromium and chromium-driver"),
        Kind("synthetic", "vlagent.envs.synthetic", "synthetic:APP", "a built-in synthetic app drawn with Pillow",
             True, "nothing beyond vlagent"),
        Kind("robot", "vlagent.envs.robot", "robot:TASK", "a MuJoCo tabletop arm driven by where the model points",
             True, "mujoco (pip install 'vlagent[robot]') and EGL (scripts/setup-system.sh)"),
    )
})
#: Every env kind by name, plugins' included once :func:`kinds` (or a spec lookup) has loaded them.
KINDS: dict[str, Kind] = dict(BUILTIN_KINDS)


def register_env_kind(kind: Kind) -> Kind:
    """Make an env kind available to ``--env`` specs, as plugins do (see :mod:`vlagent.actions.plugins`).

    ``kind.module`` names a module with ``make(arg, **kwargs)`` returning a :class:`VlagentEnv`, and
    optionally ``availability() -> (bool, why)`` and ``NEEDS``. Registering the same kind again is harmless;
    another kind under a taken name is an :class:`EnvSpecError`.

    Example:
        >>> register_env_kind(KINDS["synthetic"]) is KINDS["synthetic"]
        True
    """
    if not isinstance(kind, Kind):
        raise EnvError(f"register_env_kind takes a Kind, got {type(kind).__name__}")
    name = kind.name.strip().lower()
    if not name or name != kind.name or ":" in name:
        raise EnvError(f"an env kind's name is lower-case without a colon, got {kind.name!r}")
    taken = KINDS.get(name)
    if taken is not None and taken != kind:
        raise EnvError(f"a different env kind is already registered as {name!r}")
    KINDS[name] = kind
    return kind


def kinds() -> Mapping[str, Kind]:
    """Every env kind by name, after loading plugins (``VLAGENT_PLUGINS``, ``vlagent.envs`` entry points)."""
    load_group(ENVS_GROUP, lambda _, obj: register_env_kind(made(obj, Kind, "an env kind")))
    return MappingProxyType(KINDS)


def live_kinds() -> frozenset[str]:
    """The names of the kinds marked :attr:`Kind.live`, plugins' included: a new live kind says so in its record.

    Example:
        >>> sorted(live_kinds())
        ['android', 'desktop']
    """
    return frozenset(name for name, kind in kinds().items() if kind.live)


@dataclass(frozen=True)
class EnvSpec:
    """A parsed spec: the kind and the part after the first colon (``None`` when absent).

    Example:
        >>> EnvSpec.parse("gym:ALE/Pong-v5")
        EnvSpec(kind='gym', arg='ALE/Pong-v5')
        >>> EnvSpec.parse("android")
        EnvSpec(kind='android', arg=None)
        >>> str(EnvSpec.parse("Synthetic:login"))
        'synthetic:login'
    """

    kind: str
    arg: str | None = None

    @classmethod
    def parse(cls, spec: str) -> EnvSpec:
        if not isinstance(spec, str) or not spec.strip():
            raise EnvSpecError(repr(spec), "an env spec must be a non-empty string")
        head, colon, tail = spec.strip().partition(":")
        kind = head.strip().lower()
        if kind not in kinds():
            raise EnvSpecError(spec)
        arg = tail.strip() or None
        if colon and arg is None:
            raise EnvSpecError(spec, f"{spec!r} has nothing after the colon")
        if arg is None and KINDS[kind].arg_required:
            raise EnvSpecError(spec, f"{kind} needs {KINDS[kind].pattern}")
        return cls(kind, arg)

    def __str__(self) -> str:
        return self.kind if self.arg is None else f"{self.kind}:{self.arg}"


@dataclass(frozen=True)
class EnvInfo:
    """A row of ``vlagent envs``: a spec, what it needs and whether it is usable here (and why, or why not).

    ``name`` is the kind (``android``) or, for a synthetic app, its exact spec; ``spec`` is what to type.

    Example:
        >>> EnvInfo("synthetic:login", "synthetic:APP", "a sign-in form", "nothing", True, "ok").available
        True
    """

    name: str
    spec: str
    description: str
    needs: str
    available: bool
    why: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _module(kind: str) -> ModuleType:
    k = kinds()[kind]
    try:
        return importlib.import_module(k.module)
    except ImportError as exc:
        raise EnvUnavailable(f"the {kind} env cannot be loaded ({k.module}: {exc}); it needs {k.needs}") from exc


#: Keywords a spec's env gets unless the caller passes its own (``--env-kwargs``, a suite file). FrozenLake is
#: not slippery: gymnasium's slippery lake moves the agent sideways two times in three, so success would
#: measure luck rather than whether the model read the frame and planned the path.
ENV_DEFAULTS: dict[str, dict[str, Any]] = {
    "gym:FrozenLake-v1": {"is_slippery": False},
}


def env_defaults(spec: str) -> dict[str, Any]:
    """The keywords :func:`make_env` adds for ``spec`` (a copy; empty for most specs).

    Example:
        >>> env_defaults("gym:FrozenLake-v1"), env_defaults("synthetic:login")
        ({'is_slippery': False}, {})
    """
    return dict(ENV_DEFAULTS.get(str(EnvSpec.parse(spec)), {}))


def with_env_defaults(spec: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` on top of the spec's defaults; a default given inside a gym ``env_kwargs`` dict counts as given.

    Example:
        >>> with_env_defaults("gym:FrozenLake-v1", {"env_kwargs": {"is_slippery": True}})
        {'env_kwargs': {'is_slippery': True}}
        >>> with_env_defaults("gym:FrozenLake-v1", {"map_name": "8x8"})
        {'is_slippery': False, 'map_name': '8x8'}
    """
    nested = kwargs.get("env_kwargs")
    given = set(kwargs) | (set(nested) if isinstance(nested, dict) else set())
    defaults = {k: v for k, v in env_defaults(spec).items() if k not in given}
    return {**defaults, **kwargs}


def make_env(spec: str, **kwargs: Any) -> VlagentEnv:
    """Build the env a spec names; ``kwargs`` (over :data:`ENV_DEFAULTS`) go to its module's ``make``.

    For ``gym:`` they reach ``gymnasium.make``.

    Example:
        >>> env = make_env("synthetic:dialog", size="phone")
        >>> env.screen.size, env.family
        ((1080, 2400), 'mobile')
    """
    parsed = EnvSpec.parse(spec)
    return _module(parsed.kind).make(parsed.arg, **with_env_defaults(spec, kwargs))


def list_envs() -> list[EnvInfo]:
    """Every env kind (each synthetic app on its own row), what it needs and whether it runs here.

    A kind whose module does not import is listed as unavailable with the import error; an availability
    check that raises a vlagent error is listed with that error.
    """
    rows: list[EnvInfo] = []
    for kind in kinds().values():
        try:
            module = _module(kind.name)
        except EnvUnavailable as exc:
            rows.append(EnvInfo(kind.name, kind.pattern, kind.description, kind.needs, False,
                                str(exc.__cause__ or exc)))
            continue
        needs = str(getattr(module, "NEEDS", kind.needs))
        check = getattr(module, "availability", None)
        try:
            ok, why = check() if callable(check) else (True, "no availability check")
        except EnvError as exc:
            ok, why = False, f"{type(exc).__name__}: {exc}"
        if kind.name == "synthetic":
            for app, cls in sorted(module.APPS.items()):
                spec = f"synthetic:{app}"
                rows.append(EnvInfo(spec, spec, cls.description, needs, bool(ok), why))
        else:
            rows.append(EnvInfo(kind.name, kind.pattern, kind.description, needs, bool(ok), why))
    return rows


# ---- gymnasium ids ---------------------------------------------------------------------------------
#: ``vlagent/<Name>-v0`` ids for the device kinds; the keyword that carries the spec's argument.
_GYM_KINDS = {"Desktop": ("desktop", "monitor"), "Android": ("android", "serial"), "MiniWoB": ("miniwob", "task")}
_registered = False


def make_for_gym(kind: str, arg_name: str | None = None, **kwargs: Any) -> VlagentEnv:
    """Gymnasium entry point for ``vlagent/Desktop-v0`` and friends: ``gym.make(id, serial=...)``."""
    arg = kwargs.pop(arg_name, None) if arg_name else None
    return _module(kind).make(None if arg is None else str(arg), **kwargs)


def gym_id_for_app(app: str) -> str:
    """The gymnasium id of a synthetic app.

    Example:
        >>> gym_id_for_app("login")
        'vlagent/Synthetic-Login-v0'
    """
    return f"vlagent/Synthetic-{app.capitalize()}-v0"


def gym_id_for_robot_task(task: str) -> str:
    """The gymnasium id of a robot task.

    Example:
        >>> gym_id_for_robot_task("pick-place")
        'vlagent/Robot-PickPlace-v0'
    """
    return "vlagent/Robot-" + "".join(part.capitalize() for part in task.split("-")) + "-v0"


def register_envs() -> None:
    """Register vlagent's gymnasium ids (idempotent; ids someone registered already are left alone).

    ``vlagent/Synthetic-<App>-v0`` (``size=...`` passes through, 50-step limit), ``vlagent/Robot-<Task>-v0``
    (``size=``, ``camera=``; 20-step limit), ``vlagent/Desktop-v0``,
    ``vlagent/Android-v0`` (``serial=``) and ``vlagent/MiniWoB-v0`` (``task=``).
    """
    global _registered
    if _registered:
        return
    from vlagent.envs.synthetic import APPS

    for app, cls in APPS.items():
        env_id = gym_id_for_app(app)
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=f"{cls.__module__}:{cls.__name__}", max_episode_steps=50)
    from vlagent.envs.robot.tasks import TASKS as ROBOT_TASKS

    for task in ROBOT_TASKS:  # the module imports no mujoco: an id can be listed on a machine without it
        env_id = gym_id_for_robot_task(task)
        if env_id not in gym.registry:
            gym.register(env_id, entry_point="vlagent.envs.robot.env:RobotEnv", kwargs={"task": task},
                         max_episode_steps=20)
    for title, (kind, arg_name) in _GYM_KINDS.items():
        env_id = f"vlagent/{title}-v0"
        if env_id not in gym.registry:
            # Real screens, phones and browsers (MiniWoB scales rewards by elapsed time) are not
            # deterministic; saying so keeps gymnasium's checker from demanding identical steps.
            gym.register(env_id, entry_point="vlagent.envs.registry:make_for_gym",
                         kwargs={"kind": kind, "arg_name": arg_name}, nondeterministic=True)
    _registered = True
