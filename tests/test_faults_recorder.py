"""Text that UTF-8 cannot encode reaches the recorder: it is written escaped and the episode goes on.

Python strings can hold lone surrogates: a JSON reply's ``"\\ud800"`` decodes to one, and so do bytes of
argv that are not UTF-8 (``--task $'\\xff'`` arrives as ``'\\udcff'``). pydantic refuses to serialise them,
which used to end the episode in ``PydanticSerializationError`` inside ``write_step``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_fixtures import ScriptedBackend

from vlagent.agent.loop import Agent, TrajectoryStore
from vlagent.agent.trajectory import find_episodes, load_episode
from vlagent.envs.registry import make_env

pytestmark = pytest.mark.timeout(60)


def test_a_reply_with_a_lone_surrogate_is_recorded_escaped_and_the_episode_goes_on(tmp_path: Path) -> None:
    backend = ScriptedBackend(["Thought: I see \ud800 here\nAction: wait()"])  # then the oracle's replies
    env = make_env("synthetic:login", size=(640, 480))
    result = Agent(backend, "ui-tars", env, recorder=TrajectoryStore(tmp_path)).run("", seed=0)
    assert result.outcome == "terminated" and result.success  # went on to finish the task
    meta, steps = load_episode(result.path)
    assert steps[0].raw == "Thought: I see \\ud800 here\nAction: wait()"
    assert steps[0].thought == "I see \\ud800 here" and len(steps) == len(result.steps) > 1
    assert meta.done and meta.outcome == "terminated"


def test_a_task_that_is_not_utf8_is_recorded_escaped(tmp_path: Path) -> None:
    env = make_env("gym:FrozenLake-v1")  # a game takes any task text
    result = Agent(ScriptedBackend(), "json", env, recorder=TrajectoryStore(tmp_path), max_steps=2).run(
        "reach the goal, caf\udce9", seed=0
    )
    (episode,) = find_episodes(tmp_path)
    meta, _ = load_episode(episode)
    assert meta.done and meta.task == "reach the goal, caf\\udce9" and result.meta.outcome == meta.outcome
