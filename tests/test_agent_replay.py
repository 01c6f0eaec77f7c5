"""Replay: recorded screen-space actions re-run on a fresh env; divergence is reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agent_fixtures import ScriptedBackend
from typer.testing import CliRunner

from vlagent.agent.cli import _register_commands, app
from vlagent.agent.loop import Agent, TrajectoryStore
from vlagent.agent.replay import replay_episode
from vlagent.envs.registry import make_env

pytestmark = pytest.mark.timeout(60)
KW = {"size": [640, 480]}


def _record(root: Path, **agent_kwargs) -> Path:
    env = make_env("synthetic:login", **KW)
    result = Agent(ScriptedBackend(), "qwen2-vl", env, recorder=TrajectoryStore(root), env_spec="synthetic:login",
                   env_kwargs=KW, **agent_kwargs).run("", seed=5, episode_id="ep")
    assert result.path is not None
    return result.path


def test_dry_replay_lists_the_plan_and_touches_nothing(tmp_path: Path) -> None:
    folder = _record(tmp_path)
    report = replay_episode(folder)
    assert not report.executed and report.plan and not report.diverged
    assert report.plan[0][1].startswith("click at (") and "[" not in report.plan[0][1]  # screen pixels


def test_executed_replay_matches_the_recording(tmp_path: Path) -> None:
    folder = _record(tmp_path)
    report = replay_episode(folder, execute=True)
    assert report.executed and report.divergences == []


def test_a_changed_action_is_reported_as_divergence(tmp_path: Path) -> None:
    folder = _record(tmp_path)
    lines = (folder / "steps.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["actions"][0]["screen"]["point"] = {"x": 3.0, "y": 3.0, "space": "screen"}  # a corner: hits nothing
    lines[0] = json.dumps(first)
    (folder / "steps.jsonl").write_text("\n".join(lines) + "\n")
    report = replay_episode(folder, execute=True)
    assert report.diverged
    assert report.divergences[0].step == 0 and "screen" in report.divergences[0].what


def test_replay_command_exits_1_on_divergence(tmp_path: Path) -> None:
    _register_commands()
    folder = _record(tmp_path)
    ok = CliRunner().invoke(app, ["replay", str(folder), "--execute"])
    assert ok.exit_code == 0, ok.output
    assert "no divergence" in ok.output
    dry = CliRunner().invoke(app, ["replay", str(folder)])
    assert dry.exit_code == 0 and "dry run" in dry.output
    # Replayed on a different screen size, the recorded pixels no longer do the same thing.
    other = CliRunner().invoke(app, ["replay", str(folder), "--execute", "--env-kwargs", '{"size": [800, 600]}'])
    assert other.exit_code == 1 and "DIVERGED" in other.output
