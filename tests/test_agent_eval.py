"""Evaluation: suites, batched episodes equal sequential ones, resumable results, the eval command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agent_fixtures import ScriptedBackend
from typer.testing import CliRunner

from vlagent.agent.cli import _register_commands, app
from vlagent.agent.evaluate import evaluate
from vlagent.agent.suites import EpisodeSpec, build_suite, build_suites
from vlagent.envs.synthetic import APPS

pytestmark = pytest.mark.timeout(120)
SMALL = {"size": [640, 480]}


def _specs(n: int = 6) -> list[EpisodeSpec]:
    return [EpisodeSpec("small", f"synthetic:{app}", SMALL, "", seed) for seed in range(n // len(APPS) + 1)
            for app in sorted(APPS)][:n]


def test_suites_cover_the_environments() -> None:
    synthetic = build_suite("synthetic")
    assert {s.env for s in synthetic} == {f"synthetic:{a}" for a in APPS}
    assert {s.env_kwargs["size"] for s in synthetic} == {"desktop", "4k", "phone"}
    assert {s.env for s in build_suite("gym")} >= {"gym:FrozenLake-v1", "gym:Blackjack-v1", "gym:MiniGrid-Empty-5x5-v0"}
    assert all(s.env.startswith("miniwob:") for s in build_suite("miniwob"))
    # Regression: a prefix of the synthetic suite covers every app (it used to be one app at three sizes).
    assert {s.env for s in build_suite("synthetic", len(APPS))} == {f"synthetic:{a}" for a in APPS}
    more = build_suite("gym", 11)
    assert len(more) == 11 and more[-1].seed == 2 and len({s.episode_id for s in more}) == 11
    assert len(build_suites("gym,miniwob", 2)) == 4


def test_batched_episodes_end_as_sequential_ones(tmp_path: Path) -> None:
    specs = _specs(6)
    seq_backend, bat_backend = ScriptedBackend(), ScriptedBackend()
    seq = evaluate(specs, backend=seq_backend, profile="ui-tars-1.5", out=tmp_path / "seq", workers=1, progress=False)
    bat = evaluate(specs, backend=bat_backend, profile="ui-tars-1.5", out=tmp_path / "bat", workers=4, progress=False)
    key = [(e.episode_id, e.outcome, e.success, e.steps, e.total_reward) for e in seq.episodes]
    assert key == [(e.episode_id, e.outcome, e.success, e.steps, e.total_reward) for e in bat.episodes]
    assert set(seq_backend.batches) == {1} and max(bat_backend.batches) == 4
    assert len(bat_backend.batches) < len(seq_backend.batches)
    assert all(e.success for e in seq.episodes)
    # Same replies, step by step.
    for e in seq.episodes:
        a = (tmp_path / "seq" / "episodes" / e.episode_id / "steps.jsonl").read_text().splitlines()
        b = (tmp_path / "bat" / "episodes" / e.episode_id / "steps.jsonl").read_text().splitlines()
        assert [json.loads(x)["raw"] for x in a] == [json.loads(x)["raw"] for x in b]


def test_a_rerun_skips_finished_episodes_and_redoes_broken_ones(tmp_path: Path) -> None:
    specs = _specs(5)
    first = evaluate(specs, backend=ScriptedBackend(), profile="json", out=tmp_path, workers=3, progress=False)
    assert first.ran == 5 and first.skipped == 0 and first.suites[0].success_rate == 1.0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["suites"][0]["episodes"] == 5 and (tmp_path / "index.html").exists()

    backend = ScriptedBackend()
    again = evaluate(specs, backend=backend, profile="json", out=tmp_path, workers=3, progress=False)
    assert again.ran == 0 and again.skipped == 5 and backend.chats == []
    assert len(again.episodes) == 5

    # One episode was cut off (no end in meta.json), another interrupted: both run again, alone.
    cut = tmp_path / "episodes" / specs[1].episode_id / "meta.json"
    meta = json.loads(cut.read_text())
    meta["ended"] = None
    cut.write_text(json.dumps(meta))
    stopped = tmp_path / "episodes" / specs[3].episode_id / "meta.json"
    meta = json.loads(stopped.read_text())
    meta["outcome"] = "interrupted"
    stopped.write_text(json.dumps(meta))
    third = evaluate(specs, backend=ScriptedBackend(), profile="json", out=tmp_path, workers=3, progress=False)
    assert third.ran == 2 and third.skipped == 3 and all(e.success for e in third.episodes)


def test_eval_command_runs_a_suite_and_resumes(tmp_path: Path) -> None:
    _register_commands()
    out = tmp_path / "ev"
    args = ["eval", "--suite", "synthetic", "--episodes", "3", "--workers", "3", "--profile", "showui",
            "--out", str(out), "--no-progress"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "SCRIPTED ORACLE" in first.output and "success 3/3" in first.output
    assert "ran 3 episode(s), skipped 0" in first.output
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0 and "ran 0 episode(s), skipped 3" in second.output


def test_gym_suite_runs_with_named_actions(tmp_path: Path) -> None:
    specs = [s for s in build_suite("gym") if "MiniGrid" not in s.env]
    res = evaluate(specs, backend=ScriptedBackend(), profile="json", out=tmp_path, workers=3, progress=False,
                   max_steps=8)
    assert len(res.episodes) == len(specs)
    assert all(e.outcome in ("terminated", "truncated", "max_steps", "loop") for e in res.episodes), res.episodes
    assert res.suites[0].parse_error_rate == 0.0
