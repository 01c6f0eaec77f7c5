"""Every env executes actions through one handler table, and that table is exactly what the env advertises.

An action type an env lists in ``supported_actions`` but cannot perform used to be a bare ``KeyError`` on
the desktop and a silent no-op on Android; one it performs but does not list is never offered to the
model. Checking the tables against the declarations for every env kind needs no display, phone or
browser: the tables are class attributes.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import ClassVar

import pytest

import vlagent.envs
from vlagent.actions import UnsupportedActionError
from vlagent.actions.coords import Point
from vlagent.actions.models import Click, OpenApp, Wait
from vlagent.envs.base import VlagentEnv
from vlagent.envs.registry import BUILTIN_KINDS, make_env
from vlagent.envs.synthetic import APPS

# Every module of vlagent.envs is imported (each kind's module imports no optional package at import), so the
# env classes are found, not listed: a new kind's classes are checked without editing this file.
for _m in pkgutil.walk_packages(vlagent.envs.__path__, prefix="vlagent.envs."):
    importlib.import_module(_m.name)


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


#: Every env class vlagent ships; a base that declares nothing and handles nothing (LiveScreenEnv) is abstract.
ENV_CLASSES: list[type[VlagentEnv]] = sorted(
    {c for c in _subclasses(VlagentEnv)
     if c.__module__.startswith("vlagent.envs.") and (c.supported_actions or c.action_handlers)},
    key=lambda c: (c.__module__, c.__name__),
)


def test_every_builtin_kind_is_checked() -> None:
    modules = {c.__module__ for c in ENV_CLASSES}
    for kind in BUILTIN_KINDS.values():
        assert any(m == kind.module or m.startswith(kind.module + ".") for m in modules), kind.name
    assert {c.__name__ for c in ENV_CLASSES} >= {"DesktopEnv", "AndroidEnv", "GymEnv", "MiniWoBEnv", "RobotEnv"}
    assert set(APPS.values()) <= set(ENV_CLASSES)


@pytest.mark.parametrize("cls", ENV_CLASSES, ids=[f"{c.__module__.removeprefix('vlagent.envs.')}-{c.__name__}"
                                                  for c in ENV_CLASSES])
def test_handler_table_is_the_supported_set(cls: type[VlagentEnv]) -> None:
    assert cls.supported_actions, f"{cls.__name__} performs nothing"
    assert set(cls.action_handlers) == set(cls.supported_actions)
    assert all(callable(h) for h in cls.action_handlers.values())


@pytest.mark.parametrize("app", sorted(APPS))
@pytest.mark.parametrize("size", ["desktop", "4k", "phone"])
def test_each_synthetic_screen_performs_only_handled_types(app: str, size: str) -> None:
    env = make_env(f"synthetic:{app}", size=size)
    now = env.supported_actions_now()
    assert now <= set(env.action_handlers)
    assert env.action_space.supported == now


def test_gym_env_narrows_to_handled_types() -> None:
    env = make_env("gym:FrozenLake-v1")
    try:
        assert env.supported_actions_now() == {"choose", "move"} <= set(env.action_handlers)
    finally:
        env.close()


def test_open_app_is_handled_only_where_an_app_can_open_apps() -> None:
    home, login = make_env("synthetic:home", size="phone"), make_env("synthetic:login", size="phone")
    home.reset(seed=0)
    login.reset(seed=0)
    home.step(OpenApp(name="Camera"))
    assert home.current == "Camera"
    with pytest.raises(UnsupportedActionError, match="'open_app' is not supported"):
        login.step(OpenApp(name="Camera"))


class _HalfBuilt(VlagentEnv):
    """An env whose table lacks a type it advertises: the gap must be a typed error, never a KeyError."""

    supported_actions: ClassVar[frozenset[str]] = frozenset({"click", "wait"})
    action_handlers = {"click": lambda env, action: "clicked"}


def test_a_gap_in_a_table_is_an_unsupported_action_not_a_key_error() -> None:
    env = _HalfBuilt()
    click = env.check_action(Click(point=Point(x=1, y=1, space="screen")), (4, 4))
    assert env._handle(click) == "clicked"
    wait = env.check_action(Wait(seconds=0.1))  # advertised, so it passes the check
    with pytest.raises(UnsupportedActionError, match="'wait' is not supported here; supported: click, wait"):
        env._handle(wait)
