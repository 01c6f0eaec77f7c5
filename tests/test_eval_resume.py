"""Evaluation results a user can trust: resume only under the same configuration, and honest Ctrl+C counts.

The two "models" are the python backend's ``eval_policies:alpha`` and ``eval_policies:beta`` (the scripted
oracle under two spec strings, see tests/eval_policies.py); the episodes are real synthetic apps and an ALE
game, run by the real ``vlagent eval``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from agent_fixtures import ScriptedBackend

from vlagent.agent import cli
from vlagent.agent.evaluate import evaluate
from vlagent.agent.suites import load_suite_file
from vlagent.agent.trajectory import read_meta

pytestmark = pytest.mark.timeout(120)
SMALL_LOGIN = """
name = "smoke"
[[env]]
spec = "synthetic:login"
kwargs = { size = [640, 480] }
seeds = [0, 1]
"""


def vlagent(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    """``vlagent ARGS`` through the console-script entry point: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["vlagent", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_a_rerun_with_another_configuration_is_refused(capsys, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "smoke.toml").write_text(SMALL_LOGIN)
    common = ["eval", "--suite", "smoke.toml", "--backend", "python", "--workers", "2", "--no-progress"]

    rc, out, err = vlagent(capsys, monkeypatch, *common, "--model", "eval_policies:alpha")
    assert rc == 0, err
    alpha = tmp_path / "runs" / "eval-smoke-alpha-qwen2-vl"  # the default folder names the model
    assert "ran 2 episode(s)" in out and (alpha / "results.json").exists()
    # Another model by default goes to its own folder, and runs.
    rc, out, err = vlagent(capsys, monkeypatch, *common, "--model", "eval_policies:beta")
    assert rc == 0 and "ran 2 episode(s)" in out and (tmp_path / "runs" / "eval-smoke-beta-qwen2-vl").is_dir(), err

    # Into alpha's folder, beta (or alpha with another profile or pixel budget) is refused, naming the difference.
    for extra, differs in (
        (["--model", "eval_policies:beta"], "model 'eval_policies:alpha' there, 'eval_policies:beta' now"),
        (["--model", "eval_policies:alpha", "--profile", "ui-tars"], "profile 'qwen2-vl' there, 'ui-tars' now"),
        (["--model", "eval_policies:alpha", "--max-pixels", "400000"], "max_pixels 12845056 there, 400000 now"),
        (["--model", "eval_policies:alpha", "--max-steps", "3"], "max_steps 30 there, 3 now"),
    ):
        rc, out, err = vlagent(capsys, monkeypatch, *common, *extra, "--out", str(alpha))
        lines = [line for line in err.splitlines() if line.strip()]
        assert rc == 5 and "ran " not in out, (out, err)
        assert lines[-1].startswith("error: ResumeMismatch:") and differs in lines[-1], err
    results = json.loads((alpha / "results.json").read_text())
    assert results["config"]["model"] == "eval_policies:alpha" and results["ran"] == 2

    # The same configuration resumes: nothing left to run.
    rc, out, err = vlagent(capsys, monkeypatch, *common, "--model", "eval_policies:alpha", "--out", str(alpha))
    assert rc == 0 and "ran 0 episode(s), skipped 2 already finished" in out, err


def test_ctrl_c_counts_only_what_ran_and_exits_130(capsys, monkeypatch, tmp_path: Path) -> None:
    # Ten five-step logins, three at a time; Ctrl+C comes during the 7th model call (step 2 of the second
    # three): those three stop after that step, the last four never start.
    suite = tmp_path / "smoke.toml"
    suite.write_text(SMALL_LOGIN.replace("seeds = [0, 1]", "seeds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"))
    out = tmp_path / "ev"
    rc, stdout, stderr = vlagent(capsys, monkeypatch, "eval", "--suite", str(suite), "--backend", "python",
                                 "--model", "eval_policies:CtrlC", "--workers", "3", "--out", str(out),
                                 "--no-progress")
    assert rc == 130, (stdout, stderr)
    assert "ran 6 episode(s) (3 interrupted, left out of the rates), 4 not started, skipped 0" in stdout, stdout
    assert "smoke      success 3/3 (100.0%)" in stdout and "(3 interrupted, left out)" in stdout
    metas = [read_meta(f) for f in sorted((out / "episodes").iterdir())]
    assert sorted(str(m.outcome) for m in metas) == ["interrupted"] * 3 + ["terminated"] * 3
    results = json.loads((out / "results.json").read_text())
    assert (results["ran"], results["interrupted"], results["not_started"], results["stopped"]) == (6, 3, 4, True)
    (row,) = results["suites"]
    assert (row["episodes"], row["successes"], row["success_rate"], row["interrupted"]) == (3, 3, 1.0, 3)
    assert row["outcomes"] == {"terminated": 3}

    # The rerun finishes the seven that did not run to their end, and only those.
    rc, stdout, stderr = vlagent(capsys, monkeypatch, "eval", "--suite", str(suite), "--backend", "python",
                                 "--model", "eval_policies:CtrlC", "--workers", "7", "--out", str(out),
                                 "--no-progress")
    assert rc == 0 and "ran 7 episode(s), skipped 3 already finished" in stdout, (stdout, stderr)
    assert "smoke      success 10/10 (100.0%)" in stdout


class _SecondCtrlC(ScriptedBackend):
    """The oracle, until the ``after``-th call, which a second Ctrl+C interrupts (KeyboardInterrupt at once)."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.stop_at = after

    def decide(self, steps):  # type: ignore[no-untyped-def]
        if len(self.batches) >= self.stop_at:
            raise KeyboardInterrupt
        return super().decide(steps)


def test_a_second_ctrl_c_still_writes_the_results(tmp_path: Path) -> None:
    suite = tmp_path / "smoke.toml"
    suite.write_text(SMALL_LOGIN.replace("seeds = [0, 1]", "seeds = [0, 1, 2, 3, 4, 5]"))
    specs = load_suite_file(suite)
    # Three at a time, five steps each: the 7th call is in the second batch of episodes.
    res = evaluate(specs, backend=_SecondCtrlC(after=7), profile="json", out=tmp_path / "ev", workers=3,
                   progress=False)
    assert res.stopped and (res.ran, res.interrupted, res.not_started) == (6, 3, 0)
    (row,) = res.suites
    assert (row.episodes, row.successes, row.success_rate, row.interrupted) == (3, 3, 1.0, 3)
    assert json.loads((tmp_path / "ev" / "results.json").read_text())["interrupted"] == 3
