"""The terminal: help that fits 80 columns, flags as flags, quiet and JSON output, "did you mean"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vlagent.agent.cli import _register_commands, app
from vlagent.agent.trajectory import load_episode

pytestmark = pytest.mark.timeout(120)


def _cli(*args: str, columns: int = 80):
    _register_commands()
    return CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns)})


@pytest.mark.parametrize("command", ["run", "eval"])
def test_help_fits_80_columns_with_flags_as_flags_and_examples_unbroken(command: str) -> None:
    res = _cli(command, "--help")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "<bool>" not in res.output and "--help" in res.output
    assert any(line.strip() == "--base-url http://localhost:8000/v1 --confirm sensitive" for line in lines) or \
        any(line.strip().startswith("--model Qwen/Qwen2-VL-7B-Instruct --base-url") for line in lines)
    flag = "--dry-run" if command == "run" else "--progress / --no-progress"
    assert any(line.strip().startswith(flag) and "<" not in line for line in lines)


def test_envs_shows_install_hints_whole_at_80_columns() -> None:
    res = _cli("envs")
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "pip install 'vlagent[desktop]'" in text and "pip install 'vlagent[miniwob]'" in text
    assert "…" not in res.output


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["--profile", "uitars"], "did you mean ui-tars"),
        (["--env", "synthtic:login"], "did you mean synthetic:login?"),
        (["--env", "synthetic:logn"], "did you mean login"),
    ],
)
def test_unknown_profile_or_env_suggests_the_close_names(args: list[str], hint: str, tmp_path: Path) -> None:
    res = _cli("run", "--out", str(tmp_path), "--quiet", *args)
    assert res.exit_code != 0
    assert hint in str(res.exception)


def test_quiet_drops_the_banner_and_json_prints_one_machine_readable_line(tmp_path: Path) -> None:
    loud = _cli("run", "--out", str(tmp_path / "a"))
    assert "SCRIPTED ORACLE" in loud.stderr
    quiet = _cli("run", "--out", str(tmp_path / "b"), "--quiet")
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert [line.split(":")[0] for line in quiet.stdout.splitlines()] == ["trajectory", "report", "outcome"]

    res = _cli("run", "--out", str(tmp_path / "c"), "--json", "--quiet", "--seed", "7")
    assert res.exit_code == 0, res.output
    (line,) = res.stdout.splitlines()
    summary = json.loads(line)
    assert summary["outcome"] == "terminated" and summary["success"] is True and summary["seed"] == 7
    meta, _ = load_episode(Path(summary["trajectory"]))
    assert meta.episode_id == summary["episode_id"] and Path(summary["report"]).is_file()


def test_eval_quiet_prints_only_the_results(tmp_path: Path) -> None:
    res = _cli("eval", "--suite", "synthetic", "--episodes", "1", "--out", str(tmp_path), "--quiet")
    assert res.exit_code == 0, res.output
    assert res.stderr == ""
    assert res.stdout.splitlines()[0].startswith("ran 1 episode(s)") and "report:" in res.stdout
