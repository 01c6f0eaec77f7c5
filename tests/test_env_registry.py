"""Env specs as the CLI takes them, the environment table behind ``vlagent envs``, and gymnasium ids."""

from __future__ import annotations

import json
import warnings

import gymnasium as gym
import pytest
from typer.testing import CliRunner

from vlagent.actions.errors import EnvError
from vlagent.envs import registry
from vlagent.envs.base import Observation, VlagentEnv
from vlagent.envs.registry import (
    KINDS,
    EnvSpec,
    EnvSpecError,
    EnvUnavailable,
    Kind,
    gym_id_for_app,
    list_envs,
    make_env,
    register_envs,
)
from vlagent.envs.synthetic import APPS, LoginApp, UnknownAppError

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("spec", "kind", "arg"),
    [
        ("desktop", "desktop", None),
        ("desktop:2", "desktop", "2"),
        ("android", "android", None),
        ("android:emulator-5554", "android", "emulator-5554"),
        ("android:192.168.1.20:5555", "android", "192.168.1.20:5555"),  # only the first colon splits
        ("gym:FrozenLake-v1", "gym", "FrozenLake-v1"),
        ("gym:ALE/Pong-v5", "gym", "ALE/Pong-v5"),
        ("GYM:CartPole-v1", "gym", "CartPole-v1"),
        ("miniwob:click-test", "miniwob", "click-test"),
        ("synthetic:login", "synthetic", "login"),
        ("  synthetic:picker ", "synthetic", "picker"),
    ],
)
def test_specs_parse(spec: str, kind: str, arg: str | None) -> None:
    parsed = EnvSpec.parse(spec)
    assert (parsed.kind, parsed.arg) == (kind, arg)


@pytest.mark.parametrize("spec", ["", "   ", "browser", "teleport:now", "gym", "gym:", "miniwob", "synthetic", "android:"])
def test_bad_specs_raise_the_typed_error_listing_the_forms(spec: str) -> None:
    with pytest.raises(EnvSpecError, match=r"synthetic:APP") as err:
        EnvSpec.parse(spec)
    assert isinstance(err.value, EnvError) and isinstance(err.value, ValueError)


def test_make_env_builds_synthetic_apps_with_kwargs() -> None:
    env = make_env("synthetic:login", size="phone")
    assert isinstance(env, LoginApp) and isinstance(env, VlagentEnv)
    obs, info = env.reset(seed=0)
    assert obs.size == (1080, 2400) and info["oracle"] is not None
    assert isinstance(make_env("Synthetic:Settings"), APPS["settings"])
    with pytest.raises(UnknownAppError, match="apps: dialog, home, login, picker, settings"):
        make_env("synthetic:chess")


@pytest.mark.parametrize("kwargs", [{"env_kwargs": {"map_name": "8x8"}}, {"map_name": "8x8"}])
def test_make_env_passes_env_kwargs_to_gymnasium(kwargs: dict) -> None:
    env = make_env("gym:FrozenLake-v1", **kwargs)
    try:
        obs, _ = env.reset(seed=0)
        assert isinstance(obs, Observation)
        assert obs.size == (512, 512)  # FrozenLake draws 64 px per cell: the 8x8 map reached gymnasium.make
    finally:
        env.close()


def test_a_kind_whose_module_cannot_import_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in kind pointing at a module that does not exist: the situation of a machine where an env's
    # module (or a package it imports at the top) is missing.
    ghost = Kind("ghost", "vlagent.envs.no_such_module", "ghost", "a kind whose module is missing", False, "nothing")
    monkeypatch.setitem(KINDS, "ghost", ghost)
    rows = {r.name: r for r in list_envs()}
    assert rows["ghost"].available is False and "no_such_module" in rows["ghost"].why
    assert rows["synthetic:login"].available is True  # the others are still listed and usable
    with pytest.raises(EnvUnavailable, match="no_such_module") as err:
        make_env("ghost")
    assert isinstance(err.value.__cause__, ImportError)


def test_list_envs_covers_every_kind_and_app() -> None:
    rows = list_envs()
    names = [r.name for r in rows]
    for kind in ("desktop", "android", "gym", "miniwob"):
        assert kind in names
    for app in APPS:
        row = next(r for r in rows if r.name == f"synthetic:{app}")
        assert row.available is True and row.spec == f"synthetic:{app}" and row.description
    for row in rows:
        assert row.needs and row.why, row  # unavailable rows say why; available ones say what they found
        assert EnvSpec.parse(row.spec.replace("[:SERIAL]", "").replace("ENV_ID", "X").replace("TASK", "t"))
    gym_row = next(r for r in rows if r.name == "gym")
    assert gym_row.available is True  # gymnasium is a dependency


def test_register_envs_is_idempotent_and_ids_make_envs() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # re-registering would warn "Overriding environment"
        register_envs()
        registry._registered = False
        register_envs()
    for app in APPS:
        assert gym_id_for_app(app) in gym.registry
    for env_id in ("vlagent/Desktop-v0", "vlagent/Android-v0", "vlagent/MiniWoB-v0"):
        assert gym.registry[env_id].entry_point == "vlagent.envs.registry:make_for_gym"
    env = gym.make("vlagent/Synthetic-Home-v0", size="phone")
    assert env.spec.max_episode_steps == 50
    obs, info = env.reset(seed=1)
    assert obs.size == (1080, 2400) and "oracle" in info
    env.close()


def test_cli_envs_json_and_table() -> None:
    from vlagent.agent.cli import _register_commands, app

    _register_commands()
    runner = CliRunner()
    result = runner.invoke(app, ["envs", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    by_name = {r["name"]: r for r in rows}
    assert by_name["synthetic:login"]["available"] is True
    assert set(by_name["desktop"]) == {"name", "spec", "description", "needs", "available", "why"}
    table = runner.invoke(app, ["envs"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "synthetic:picker" in table.output and "android[:SERIAL]" in table.output
    assert "vlagent[desktop]" in table.output  # rich markup did not eat the extra's brackets
    assert "available on this machine" in table.output


def test_cli_envs_table_at_80_columns_shows_the_synthetic_needs_once() -> None:
    from vlagent.agent.cli import _register_commands, app

    _register_commands()
    table = CliRunner().invoke(app, ["envs"], env={"COLUMNS": "80"})
    assert table.exit_code == 0, table.output
    # The needs text once per kind (the synthetic one was once per app); other kinds may need nothing too.
    nothing = {r.name.partition(":")[0] for r in list_envs() if r.needs.startswith("nothing beyond")}
    assert "synthetic" in nothing and table.output.count("nothing beyond") == len(nothing)
    for name, cls in APPS.items():
        assert table.output.count(f"synthetic:{name}") == 2  # in the shared row and in the list of apps below
        assert " ".join(cls.description.split()[:3]) in table.output
    assert f"of {len(list_envs())} available on this machine" in table.output  # the count is still per spec


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": "tablet"}, "unknown screen size 'tablet'"),
        ({"bogus": 1}, "takes size, scale, render_mode; not bogus"),
        ({"size": "4k", "scale": 0}, r"scale must be a number in \(0, 8\]"),  # 0 used to fall back to 2
        ({"size": "desktop", "scale": -1}, "scale must be"),  # presets used to keep a negative scale
        ({"size": [10, 10]}, "outside 200..8192"),
    ],
)
def test_bad_synthetic_kwargs_are_typed_env_errors(kwargs: dict, message: str) -> None:
    # Regression: `vlagent run --env-kwargs '{"size": "tablet"}'` (or a misspelt keyword) ended in a Python
    # traceback (ValueError/TypeError) instead of one line naming the problem.
    with pytest.raises(EnvError, match=message):
        make_env("synthetic:login", **kwargs)


@pytest.mark.parametrize(
    ("spec", "takes"),
    [("desktop", "monitor, display"), ("android:emulator-5554", "serial, adb_host"), ("miniwob:click-test", "task, scale")],
)
def test_a_keyword_an_env_does_not_take_is_refused_before_touching_a_device(spec: str, takes: str) -> None:
    # Regression: `--env-kwargs '{"bogus": 1}'` ended in a TypeError traceback from the env's constructor.
    from vlagent.envs.errors import EnvKwargsError

    with pytest.raises(EnvKwargsError, match=rf"takes {takes}.*; not bogus"):
        make_env(spec, bogus=1)


def test_run_help_lists_every_env_kind_from_the_registry() -> None:
    # The --env help was a hand-written list (it had fallen behind: no robot:TASK); it is the registry's now,
    # so a new kind, built-in or a plugin's, is listed without editing the CLI.
    from vlagent.agent.cli import _register_commands, app
    from vlagent.envs.registry import kinds

    _register_commands()
    out = " ".join(CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "300"}).output.split())
    for kind in kinds().values():
        assert kind.pattern in out, kind.name
