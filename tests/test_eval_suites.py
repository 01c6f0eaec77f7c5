"""What ``vlagent eval --suite`` takes: suite names, any env specs, TOML suite files; and one set of env defaults.

The episodes run for real (synthetic apps, FrozenLake, an ALE game) with the scripted oracle.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from agent_fixtures import ScriptedBackend

from vlagent.agent import cli
from vlagent.agent.errors import SuiteError
from vlagent.agent.evaluate import EnvPool, evaluate
from vlagent.agent.suites import SUITES, build_suite, build_suites, load_suite_file
from vlagent.agent.trajectory import read_meta
from vlagent.envs.registry import make_env

pytestmark = pytest.mark.timeout(120)

SUITE_FILE = """
name = "mine"
max_steps = 2                      # the default for every entry

[[env]]
spec = "synthetic:login"
kwargs = { size = [640, 480] }
seeds = [0, 1]                     # two episodes; the oracle needs five steps, so both stop at two

[[env]]
spec = "gym:FrozenLake-v1"
task = "Reach the present without falling in"
max_steps = 12

[[env]]
spec = "gym:FrozenLake-v1"
kwargs = { is_slippery = true }
label = "slippery-lake"
seeds = [4]
"""


def vlagent(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    """``vlagent ARGS`` through the console-script entry point: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["vlagent", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_env_specs_and_suite_names_mix() -> None:
    specs = build_suites("gym:ALE/Pong-v5, miniwob:click-dialog,synthetic:login", 2)
    assert [(s.suite, s.env, s.seed) for s in specs] == [
        ("gym", "gym:ALE/Pong-v5", 0), ("gym", "gym:ALE/Pong-v5", 1),
        ("miniwob", "miniwob:click-dialog", 0), ("miniwob", "miniwob:click-dialog", 1),
        ("synthetic", "synthetic:login", 0), ("synthetic", "synthetic:login", 1),
    ]
    # The named suites still work, alone or next to specs.
    for name in SUITES:
        assert build_suites(name) == build_suite(name)
    assert [s.env for s in build_suites("gym,synthetic:home")][-1] == "synthetic:home"
    with pytest.raises(SuiteError, match=f"unknown suite 'gmy'; use {', '.join(SUITES)}, an env spec"):
        build_suites("gmy")
    with pytest.raises(SuiteError, match="desktop has no task of its own"):
        build_suites("desktop:1")
    with pytest.raises(SuiteError, match="'gym:' has nothing after the colon"):
        build_suites("gym:")


def test_the_gym_suite_has_an_ale_game_with_a_step_limit(tmp_path: Path) -> None:
    (ale,) = [s for s in build_suite("gym") if s.env.startswith("gym:ALE/")]
    assert ale.max_steps is not None and 30 <= ale.max_steps <= 500  # ALE alone would run for 27,000 steps
    # An explicit limit still wins over the suite's; the game plays through the real adapter.
    res = evaluate([ale], backend=ScriptedBackend(), profile="json", out=tmp_path, progress=False, max_steps=3,
                   report=False)
    (line,) = res.episodes
    assert (line.outcome, line.steps, line.parse_errors) == ("max_steps", 3, 0)


def test_a_suite_file_runs_its_specs_kwargs_tasks_seeds_and_step_limits(capsys, monkeypatch, tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(SUITE_FILE)
    specs = load_suite_file(path)
    assert [s.episode_id for s in specs] == [
        "mine-login-640x480-s0", "mine-login-640x480-s1", "mine-FrozenLake-v1-s0", "mine-slippery-lake-s4"]
    assert [s.max_steps for s in specs] == [2, 2, 12, 2]

    out = tmp_path / "ev"
    rc, stdout, err = vlagent(capsys, monkeypatch, "eval", "--suite", str(path), "--profile", "json", "--out",
                              str(out), "--no-progress")
    assert rc == 0, err
    assert "ran 4 episode(s)" in stdout
    metas = {f.name: read_meta(f) for f in (out / "episodes").iterdir()}
    assert [(metas[i].outcome, metas[i].steps) for i in ("mine-login-640x480-s0", "mine-login-640x480-s1")] == [("max_steps", 2)] * 2
    lake = metas["mine-FrozenLake-v1-s0"]
    assert lake.task == "Reach the present without falling in" and lake.steps <= 12  # the oracle plays at random
    slippery = metas["mine-slippery-lake-s4"]
    assert slippery.env_kwargs == {"is_slippery": True} and slippery.seed == 4
    results = json.loads((out / "results.json").read_text())
    assert [row["suite"] for row in results["suites"]] == ["mine"] and results["config"]["suite"] == str(path)
    # --episodes keeps a file's first N.
    assert [s.episode_id for s in load_suite_file(path, 3)][-1] == "mine-FrozenLake-v1-s0"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[env]]\nspec = "synthetic:login"\ncolour = "red"\n', "env.0.colour: Extra inputs are not permitted"),
        ('[[env]]\nspec = "gym"\n', "env.0: gym needs gym:ENV_ID"),
        ('[[env]]\nspec = "synthetic:login"\nseeds = []\n', "env.0.seeds: List should have at least 1 item"),
        ('[[env]]\nspec = "synthetic:login"\nmax_steps = 0\n', "env.0.max_steps: Input should be greater than"),
        ('[[env]]\nspec = "android"\n', "env.0: android has no task of its own"),
        ('name = "x"\n', "env: Field required"),
        ("[[env]\nspec =", "is not TOML"),
    ],
)
def test_a_bad_suite_file_is_a_one_line_error(capsys, monkeypatch, tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    rc, _, err = vlagent(capsys, monkeypatch, "eval", "--suite", str(path), "--out", str(tmp_path / "o"))
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 5 and lines[-1].startswith(f"error: SuiteError: suite file {str(path)!r}") and message in lines[-1], err
    assert not (tmp_path / "o" / "episodes").exists()


def test_a_missing_suite_file_or_too_many_episodes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="cannot read suite file"):
        build_suites(str(tmp_path / "nope.toml"))
    path = tmp_path / "mine.toml"
    path.write_text(SUITE_FILE)
    with pytest.raises(SuiteError, match="lists 4 episode"):
        load_suite_file(path, 5)


def _slippery(env: object) -> bool:
    """Whether FrozenLake's moves can slide sideways (three outcomes per move instead of one)."""
    return len(env.inner.unwrapped.P[0][1]) > 1  # type: ignore[attr-defined]


def test_run_and_eval_build_the_same_frozen_lake() -> None:
    # Regression: `vlagent run --env gym:FrozenLake-v1` got gymnasium's slippery lake, `eval` a firm one.
    (spec,) = [s for s in build_suite("gym") if s.env == "gym:FrozenLake-v1"]
    pool = EnvPool()
    try:
        from_eval = pool.acquire(spec.env, spec.env_kwargs)
        assert not _slippery(from_eval)
    finally:
        pool.release(spec.env, spec.env_kwargs, from_eval)
        pool.close()
    assert not _slippery(make_env("gym:FrozenLake-v1"))  # what `run` builds
    # The user's own keywords still win, in either form --env-kwargs takes.
    assert _slippery(make_env("gym:FrozenLake-v1", is_slippery=True))
    assert _slippery(make_env("gym:FrozenLake-v1", env_kwargs={"is_slippery": True}))


def test_the_readme_suite_file_example_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "smoke.toml"
    path.write_text(example)
    specs = load_suite_file(path)
    assert [s.episode_id for s in specs] == [
        "smoke-login-phone-s0", "smoke-login-phone-s1", *(f"smoke-FrozenLake-v1-s{i}" for i in range(4)),
        "smoke-dialog-slow-s0", "smoke-dialog-slow-s1"]
    assert [s.max_steps for s in specs] == [20, 20, 40, 40, 40, 40, 20, 20]
    assert specs[-1].env_kwargs == {"time_limit": 120} and specs[2].task.startswith("Reach the present")
