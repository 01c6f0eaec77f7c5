"""Bad input on the command line: one error line on stderr and its documented exit code, never a traceback.

One table, one row per bad input, most of which used to end in a traceback (README, "Exit codes": 2 usage,
3 model, 4 env, 5 agent/trajectory). Each row runs the real entry point in process; an exception that is
not mapped escapes ``cli.main`` and fails the row, as the traceback would have shown. A row that runs an
episode must not have started one: a bad input is refused before anything is written.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from faults_fixtures import error_lines, vlagent

from vlagent.agent.loop import Agent, TrajectoryStore
from vlagent.agent.scripted import OraclePolicy
from vlagent.envs.registry import make_env

pytestmark = pytest.mark.timeout(120)


def _not_utf8_steps(episode: Path) -> None:
    with (episode / "steps.jsonl").open("ab") as f:
        f.write(b'{"index": 9, "raw": "caf\xe9"}\n')  # Latin-1 bytes in the middle of the file
        f.write((episode / "steps.jsonl").read_bytes().splitlines(keepends=True)[0])


def _meta_is_a_folder(episode: Path) -> None:
    (episode / "meta.json").unlink()
    (episode / "meta.json").mkdir()


@dataclass(frozen=True)
class Row:
    """``vlagent ARGS`` (``{out}``: an empty folder, ``{episode}``: a recorded episode after ``damage``)."""

    args: tuple[str, ...]
    code: int
    message: str
    damage: Callable[[Path], None] | None = None


ROWS = {
    "gym-module-missing": Row(("run", "--env", "gym:nosuchmod:X-v0"), 4, "No module named 'nosuchmod'"),
    "gym-kwarg-value": Row(("run", "--env", "gym:FrozenLake-v1", "--env-kwargs", '{"map_name": "9x9"}'), 4,
                           "GymEnvError: gymnasium cannot make 'FrozenLake-v1' with {'is_slippery': False, 'map_name': '9x9'}"),
    "infinite-number": Row(("run", "--env-kwargs", '{"size": [1e999, 300]}'), 2,
                           "--env-kwargs: 1e999 is not a finite number"),
    "synthetic-render-mode": Row(("run", "--env-kwargs", '{"render_mode": "human"}'), 4,
                                 "AppConfigError: render_mode must be 'rgb_array' or None, got 'human'"),
    "android-timeout-text": Row(("run", "--env", "android", "--task", "t", "--env-kwargs", '{"timeout": "soon"}'),
                                4, "EnvKwargsError: android: timeout must be a number, got 'soon'"),
    "android-port-text": Row(("run", "--env", "android", "--task", "t", "--env-kwargs", '{"adb_port": "abc"}'),
                             4, "EnvKwargsError: android: adb_port must be an integer or null, got 'abc'"),
    "android-port-range": Row(("run", "--env", "android", "--task", "t", "--env-kwargs", '{"adb_port": 70000}'),
                              4, "EnvError: adb_port must be a port number in 1..65535, got 70000"),
    "android-host-number": Row(("run", "--env", "android", "--task", "t", "--env-kwargs", '{"adb_host": 5}'),
                               4, "EnvKwargsError: android: adb_host must be a string, got 5"),
    "android-apps-text": Row(("run", "--env", "android", "--task", "t", "--env-kwargs", '{"apps": "camera"}'),
                             4, "EnvKwargsError: android: apps must be a Mapping or null, got 'camera'"),
    "desktop-settle-object": Row(("run", "--env", "desktop", "--task", "t", "--env-kwargs", '{"settle": {}}'),
                                 4, "EnvKwargsError: desktop: settle must be a SettlePolicy or null, got {}"),
    "miniwob-scale-text": Row(("run", "--env", "miniwob:click-test", "--env-kwargs", '{"scale": "x"}'), 4,
                              "EnvKwargsError: miniwob:click-test: scale must be a number, got 'x'"),
    "desktop-monitor-text": Row(("run", "--env", "desktop", "--task", "t", "--env-kwargs", '{"monitor": "abc"}'),
                                4, "EnvKwargsError: desktop: monitor must be an integer, got 'abc'"),
    "timeout-zero": Row(("run", "--backend", "openai", "--model", "m", "--base-url", "http://127.0.0.1:9/v1",
                         "--timeout", "0"), 3, "ModelRejected: timeout must be a positive number of seconds, got 0"),
    "eval-retries-negative": Row(("eval", "--max-retries", "-1", "--out", "{out}"), 2,
                                 "Invalid value for '--max-retries'"),
    "reply-errors-negative": Row(("run", "--max-reply-errors", "-1"), 2, "Invalid value for '--max-reply-errors'"),
    "out-in-proc": Row(("run", "--out", "/proc/x"), 2, "Invalid value for --out: cannot use '/proc/x' as a folder"),
    "parse-aspect-ratio": Row(("parse", "--profile", "qwen2-vl", "--width", "20000", "--height", "10", "(1,1)"),
                              2, "Invalid value for --width/--height: a 20000x10 screenshot"),
    "report-steps-not-utf8": Row(("report", "{episode}"), 5, "steps.jsonl is not UTF-8", _not_utf8_steps),
    "replay-steps-not-utf8": Row(("replay", "{episode}"), 5, "steps.jsonl is not UTF-8", _not_utf8_steps),
    "report-meta-is-a-folder": Row(("report", "{episode}"), 5, "meta.json is a directory", _meta_is_a_folder),
    "replay-meta-is-a-folder": Row(("replay", "{episode}"), 5, "meta.json is a directory", _meta_is_a_folder),
}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One short scripted episode on disk, copied by each row that damages it."""
    root = tmp_path_factory.mktemp("recorded")
    env = make_env("synthetic:login", size=(640, 480))
    result = Agent(OraclePolicy(), "qwen2-vl", env, recorder=TrajectoryStore(root)).run("", seed=0)
    assert result.path is not None
    return result.path


@pytest.mark.parametrize("name", list(ROWS))
def test_bad_input_is_one_error_line_and_its_exit_code(
    capsys, monkeypatch, request: pytest.FixtureRequest, tmp_path: Path, name: str
) -> None:
    row = ROWS[name]
    out = tmp_path / "out"
    episode = tmp_path / "episode"
    if row.damage is not None:  # only these rows need the recorded episode
        shutil.copytree(request.getfixturevalue("recorded"), episode)
        row.damage(episode)
    args = [a.replace("{out}", str(out)).replace("{episode}", str(episode)) for a in row.args]
    if args[0] == "run" and "--out" not in args:
        args += ["--out", str(out), "--no-report"]
    rc, _, err = vlagent(capsys, monkeypatch, *args)
    lines = error_lines(err)
    assert len(lines) == 1 and row.message in lines[0], err
    assert rc == row.code, err
    assert not (out.exists() and any(out.iterdir()))  # refused before an episode started
