"""The behaviour every env kind shares, checked once over all of them.

``step`` outside an episode is a :class:`ResetNeeded` naming ``reset()``, and an unsupported ``render_mode``
is each env's own documented error. The kinds that need no device (synthetic apps, the robot, a gym game)
are built and played to the end of an episode; the device kinds (desktop, android, miniwob) refuse a bad
``render_mode`` before they touch a device, so that is checked without one, and their class's ``step``
guard is checked on an instance that was never set up (their own test modules play real episodes).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import pytest

from vlagent.actions.errors import EnvError
from vlagent.actions.models import Choose, Finished, Wait
from vlagent.agent import replay
from vlagent.envs.android import AndroidEnv
from vlagent.envs.base import VlagentEnv
from vlagent.envs.desktop import DesktopEnv
from vlagent.envs.errors import ResetNeeded
from vlagent.envs.gym_adapter import GymEnvError
from vlagent.envs.miniwob import MiniWoBEnv, MiniWoBError
from vlagent.envs.registry import BUILTIN_KINDS, kinds, live_kinds, make_env
from vlagent.envs.synthetic import APPS
from vlagent.envs.synthetic.screen import AppConfigError

HAS_MUJOCO = importlib.util.find_spec("mujoco") is not None
needs_mujoco = pytest.mark.skipif(not HAS_MUJOCO, reason="mujoco is not installed (pip install 'vlagent[robot]')")


def _robot() -> VlagentEnv:
    return make_env("robot:pick", size=(96, 72))


#: Kinds built here: spec -> (build the env, an action that ends the episode at once or in a few steps).
BUILT: dict[str, tuple[Callable[[], VlagentEnv], list[Any]]] = {
    **{f"synthetic:{app}": (lambda app=app: make_env(f"synthetic:{app}", size=(800, 600)), [Finished(answer="")])
       for app in sorted(APPS)},
    "robot:pick": (_robot, [Finished(answer="")]),
    # Non-slippery FrozenLake: right, then down, falls into the hole at row 1, column 1.
    "gym:FrozenLake-v1": (lambda: make_env("gym:FrozenLake-v1"), [Choose(option="right"), Choose(option="down")]),
}
BUILT_PARAMS = [pytest.param(spec, marks=needs_mujoco if spec.startswith("robot") else (), id=spec) for spec in BUILT]


def _first_action(spec: str) -> Any:
    return BUILT[spec][1][0]


@pytest.mark.parametrize("spec", BUILT_PARAMS)
def test_step_before_reset_names_reset(spec: str) -> None:
    env = BUILT[spec][0]()
    try:
        with pytest.raises(ResetNeeded, match=r"reset\(\)") as caught:
            env.step(_first_action(spec))
        assert isinstance(caught.value, EnvError)
    finally:
        env.close()


@pytest.mark.parametrize("spec", BUILT_PARAMS)
def test_step_after_the_episode_ended_is_refused_until_reset(spec: str) -> None:
    make, ending = BUILT[spec]
    env = make()
    try:
        env.reset(seed=0)
        terminated = truncated = False
        for action in ending:
            _, _, terminated, truncated, _ = env.step(action)
        assert terminated or truncated
        with pytest.raises(ResetNeeded, match=r"reset\(\)"):
            env.step(ending[0])
        env.reset(seed=0)  # a new episode takes steps again
        env.step(ending[0])
    finally:
        env.close()


@pytest.mark.parametrize("cls", [DesktopEnv, AndroidEnv, MiniWoBEnv], ids=lambda c: c.__name__)
def test_device_env_step_before_reset_names_reset(cls: type[VlagentEnv]) -> None:
    env = cls.__new__(cls)  # never set up: no display, phone or browser is needed to refuse the step
    with pytest.raises(ResetNeeded, match=r"reset\(\)"):
        env.step(Wait(seconds=0.01))


#: Each kind's documented error for a render mode it does not draw (kept per kind: users catch these).
RENDER_ERRORS: list[tuple[str, Callable[[str], Any], type[Exception]]] = [
    ("synthetic", lambda mode: make_env("synthetic:login", render_mode=mode), AppConfigError),
    ("robot", lambda mode: make_env("robot:pick", render_mode=mode), ValueError),
    ("gym", lambda mode: make_env("gym:FrozenLake-v1", render_mode=mode), GymEnvError),
    ("desktop", lambda mode: DesktopEnv(render_mode=mode), EnvError),
    ("android", lambda mode: AndroidEnv(render_mode=mode), EnvError),
    ("miniwob", lambda mode: MiniWoBEnv("click-test", render_mode=mode), MiniWoBError),
]


@pytest.mark.parametrize(("kind", "make", "error"), RENDER_ERRORS, ids=[row[0] for row in RENDER_ERRORS])
def test_an_unsupported_render_mode_is_the_kinds_own_error(kind: str, make: Callable[[str], Any],
                                                           error: type[Exception]) -> None:
    with pytest.raises(error, match="render_mode|rgb_array") as caught:
        make("human")
    assert type(caught.value) is error or issubclass(type(caught.value), error)
    assert "human" in str(caught.value)


def test_live_kinds_are_the_registry_kinds_marked_live() -> None:
    assert live_kinds() == {name for name, kind in kinds().items() if kind.live}
    assert {n for n, k in BUILTIN_KINDS.items() if k.live} == {"desktop", "android"}
    assert not hasattr(replay, "LIVE_KINDS")  # no hand-written copy to fall out of step with the registry
    assert replay.default_tolerance("android:emulator-5554") == replay.LIVE_SCREEN_TOLERANCE
    assert replay.default_tolerance("gym:FrozenLake-v1") == 0.0


def test_a_plugin_kind_marked_live_gets_the_live_tolerance(monkeypatch: pytest.MonkeyPatch) -> None:
    from vlagent.envs import registry

    kiosk = registry.Kind("kiosk", "no_such_module", "kiosk", "a live screen from a plugin", False, "nothing",
                          own_task=False, live=True)
    assert replay.default_tolerance("kiosk") == 0.0  # not registered yet
    monkeypatch.setitem(registry.KINDS, "kiosk", kiosk)
    assert "kiosk" in live_kinds()
    assert replay.default_tolerance("kiosk:1") == replay.LIVE_SCREEN_TOLERANCE
