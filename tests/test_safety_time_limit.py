"""The wall-clock limit per episode (``--time-limit``), driven by a slow scripted policy through the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from safety_fixtures import SLOW_SECONDS

from vlagent.agent import cli
from vlagent.agent.trajectory import find_episodes, load_episode

pytestmark = pytest.mark.timeout(120)
SLOW = ["--backend", "python", "--model", "safety_fixtures:SlowOracle"]
LIMIT = 2.5 * SLOW_SECONDS  # the oracle signs in in 5 steps: 5 slow calls cannot fit
SHORT = 0.5 * SLOW_SECONDS  # less than one call: over after the first step (each suite app needs two)


def vlagent(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["vlagent", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_run_ends_the_episode_when_its_time_is_up(capsys, monkeypatch, tmp_path: Path) -> None:
    rc, out, err = vlagent(capsys, monkeypatch, "run", "--env", "synthetic:login", "--env-kwargs",
                           '{"size": [640, 480]}', *SLOW, "--time-limit", str(LIMIT), "--out", str(tmp_path),
                           "--no-report")
    assert rc == 0, err
    assert "outcome:    time_limit (no success)" in out, out
    (folder,) = find_episodes(tmp_path)
    meta, steps = load_episode(folder)
    assert meta.outcome == "time_limit" and meta.success is False and meta.ended is not None
    assert 1 <= len(steps) < 5 and (folder / "final.png").exists()
    # Without the limit the same policy signs in: the limit, not the policy, ended it.
    rc, out, _ = vlagent(capsys, monkeypatch, "run", "--env", "synthetic:login", "--env-kwargs",
                         '{"size": [640, 480]}', *SLOW, "--out", str(tmp_path / "free"), "--no-report")
    assert rc == 0 and "outcome:    terminated (success)" in out


def test_eval_counts_an_episode_out_of_time_as_a_failure_and_does_not_retry_it(capsys, monkeypatch,
                                                                               tmp_path: Path) -> None:
    args = ["eval", "--suite", "synthetic", "--episodes", "2", "--workers", "2", *SLOW, "--time-limit",
            str(SHORT), "--out", str(tmp_path), "--no-progress"]
    rc, out, err = vlagent(capsys, monkeypatch, *args)
    assert rc == 0, err
    results = json.loads((tmp_path / "results.json").read_text())
    assert [e["outcome"] for e in results["episodes"]] == ["time_limit", "time_limit"]
    assert [e["success"] for e in results["episodes"]] == [False, False]
    (suite,) = results["suites"]
    assert suite["successes"] == 0 and suite["outcomes"] == {"time_limit": 2}
    assert results["config"]["time_limit"] == SHORT
    assert all(e["steps"] == 1 for e in results["episodes"])
    # A rerun resumes: an episode out of time had its fair run (unlike an interrupted one) and is not redone.
    rc, out, err = vlagent(capsys, monkeypatch, *args)
    assert rc == 0 and "ran 0 episode(s), skipped 2 already finished" in out, out + err
