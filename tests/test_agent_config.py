"""Agent settings in one AgentConfig (old keywords mapped into it) and episode counts derived from the records."""

from __future__ import annotations

import pytest
from agent_fixtures import ScriptedBackend

from vlagent.agent.config import AgentConfig, setting_default
from vlagent.agent.loop import Agent
from vlagent.agent.repeats import RepeatDetector
from vlagent.envs.registry import make_env


def _env():
    return make_env("synthetic:login", size=(640, 480))


def test_a_config_and_keywords_over_it_set_the_limits() -> None:
    stuck = ScriptedBackend(after="Action: wait()")
    assert Agent(stuck, "ui-tars", _env(), config=AgentConfig(max_steps=2, repeat_limit=9)).run("", seed=0).meta.steps == 2
    over = Agent(stuck, "ui-tars", _env(), AgentConfig(max_steps=2, repeat_limit=9), max_steps=3)
    assert over.config.max_steps == 3 and over.run("", seed=0).outcome == "max_steps"
    assert Agent(stuck, "ui-tars", _env(), dry_run=True).safety.dry_run


def test_bad_settings_are_refused_before_anything_runs() -> None:
    with pytest.raises(ValueError, match="max_steps must be >= 1"):
        Agent(ScriptedBackend(), "ui-tars", _env(), max_steps=0)
    with pytest.raises(TypeError, match="unknown agent setting.*max_step"):
        Agent(ScriptedBackend(), "ui-tars", _env(), max_step=3)
    assert setting_default("history_images") == 2 and setting_default("confirm") is None


def test_episode_counts_are_the_records_counts() -> None:
    replies = ["no idea", "Action: click(start_box='(5000,5000)')", "still no idea"]
    agent = Agent(ScriptedBackend(replies), "ui-tars", _env(), max_retries=3)
    ep = agent.start("", seed=0)
    seen = []
    while ep.stop is None:
        agent.advance(ep, prepared := agent.prepare(ep), *_one(agent, prepared))
        seen.append((ep.index, ep.errors, ep.parse_errors, ep.consecutive_errors))
    assert seen[:4] == [(1, 1, 1, 1), (2, 2, 1, 2), (3, 3, 2, 3), (4, 3, 2, 0)]
    meta = agent.finish(ep).meta
    assert (meta.steps, meta.errors, meta.parse_errors) == (len(ep.records), 3, 2)
    assert meta.total_reward == sum(r.reward for r in ep.records) and meta.success


def _one(agent, prepared):
    replies, wall = agent.generate([prepared])
    return replies[0], wall


def test_the_repeat_detector_counts_only_unchanged_repeats() -> None:
    d = RepeatDetector()
    assert [d.observe(k, unchanged=u) for k, u in [("a", True), ("a", True), ("b", True), ("b", False), ("b", True)]] \
        == [1, 2, 1, 0, 1]
