"""``vlagent run`` and ``vlagent report`` as a newcomer runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vlagent.agent.cli import _register_commands, app
from vlagent.agent.trajectory import load_episode

pytestmark = pytest.mark.timeout(120)
VLAGENT = Path(sys.executable).parent / "vlagent"


def test_default_run_is_the_scripted_demo_and_says_how_to_run_a_real_model(tmp_path: Path) -> None:
    proc = subprocess.run([str(VLAGENT), "run"], cwd=tmp_path, capture_output=True, text=True, timeout=110,
                          env={**os.environ, "COLUMNS": "120"})
    assert proc.returncode == 0, proc.stderr
    assert "SCRIPTED ORACLE" in proc.stderr and "not a model" in proc.stderr
    assert "hf download Qwen/Qwen2-VL-7B-Instruct" in proc.stderr
    assert "17 GB" in proc.stderr and "vllm serve" in proc.stderr and "--backend openai" in proc.stderr
    lines = dict(line.split(":", 1) for line in proc.stdout.splitlines() if ":" in line)
    folder = tmp_path / lines["trajectory"].strip()
    assert (tmp_path / lines["report"].strip()).exists()
    assert "terminated (success)" in lines["outcome"]
    meta, steps = load_episode(folder)
    assert meta.success and meta.env == "synthetic:login" and meta.profile == "qwen2-vl" and steps


def test_run_with_options_dry_run_and_report_command(tmp_path: Path) -> None:
    _register_commands()
    out = tmp_path / "runs"
    res = CliRunner().invoke(app, [
        "run", "--env", "synthetic:home", "--env-kwargs", '{"size": "phone"}', "--profile", "ui-tars-1.5",
        "--dry-run", "--max-steps", "5", "--out", str(out), "--seed", "3", "--no-interactive",
    ])
    assert res.exit_code == 0, res.output
    assert "outcome:    loop" in res.output
    folder = next(out.iterdir())
    meta, steps = load_episode(folder)
    assert meta.dry_run and meta.geometry["width"] == 1080 and meta.seed == 3
    assert all(not a.executed for s in steps for a in s.actions)

    rep = CliRunner().invoke(app, ["report", str(out)])
    assert rep.exit_code == 0 and Path(rep.output.strip()) == out / "index.html"
    assert "dry run: nothing executed" in (out / "index.html").read_text()


def test_run_help_explains_the_options() -> None:
    _register_commands()
    res = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    output = " ".join(res.output.split())
    for text in ("--env", "--task", "--backend", "--model", "--profile", "--min-pixels", "--max-pixels",
                 "--max-steps", "--out", "--dry-run", "--confirm", "--deny-hotkey", "scripted oracle"):
        assert text in output, text


def test_bad_env_spec_is_a_clear_error(tmp_path: Path) -> None:
    proc = subprocess.run([str(VLAGENT), "run", "--env", "synthetic:chess", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=110)
    assert proc.returncode != 0
    assert "chess" in proc.stderr and "Traceback" not in proc.stderr
