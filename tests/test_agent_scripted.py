"""The scripted oracle through every profile: prompt, reply text, parsing, coordinates, execution.

For each profile the oracle writes the env's ground-truth action in that profile's format and
coordinate space; the loop parses it back, converts it to screen pixels and acts on the real synthetic
app, at 1920x1080, at 4K with scale 2 and on a 1080x2400 phone. Success must be (near) perfect: a miss
means a coordinate or format bug somewhere on the path.
"""

from __future__ import annotations

import pytest
from agent_fixtures import PROFILES, ScriptedBackend

from vlagent.agent.batch import EpisodeJob, run_batched
from vlagent.agent.loop import Agent
from vlagent.envs.registry import make_env
from vlagent.envs.synthetic import APPS

SIZES = ("desktop", "4k", "phone")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("profile", PROFILES)
def test_scripted_oracle_solves_every_app_at_every_size(profile: str) -> None:
    backend = ScriptedBackend()
    jobs = [
        EpisodeJob(f"{app}-{size}", "", seed, lambda app=app, size=size: Agent(
            backend, profile, make_env(f"synthetic:{app}", size=size), max_steps=20))
        for app in sorted(APPS) for size in SIZES for seed in (7,)
    ]
    results = run_batched(jobs, workers=4)
    failed = [(r.meta.episode_id, r.outcome, [s.error.message for s in r.steps if s.error][:1]) for r in results]
    failed = [f for f, r in zip(failed, results, strict=True) if not r.success]
    assert len(results) == len(APPS) * len(SIZES)
    assert not failed, failed
    assert all(r.meta.parse_errors == 0 for r in results)
    assert max(backend.batches) > 1  # the episodes' model calls were batched


def test_gym_named_actions_go_through_the_json_profile() -> None:
    # The scripted policy picks FrozenLake's named actions (reproducibly); each name must reach the game as the
    # move it names: replaying the names as moves on the 4x4 grid must land where the game's agent is.
    env = make_env("gym:FrozenLake-v1", is_slippery=False)
    try:
        result = Agent(ScriptedBackend(), "json", env, max_steps=12).run("reach the goal", seed=0)
        chosen = [a.model.option for s in result.steps for a in s.actions if a.executed]
        assert result.meta.parse_errors == 0 and len(chosen) == len(result.steps) > 0
        assert [s.info["action_index"] for s in result.steps] == [env.options_names.index(o) for o in chosen]
        row = col = 0
        for name in chosen:
            dr, dc = {"left": (0, -1), "down": (1, 0), "right": (0, 1), "up": (-1, 0)}[name]
            row, col = min(max(row + dr, 0), 3), min(max(col + dc, 0), 3)
        assert env.inner.unwrapped.s == row * 4 + col
        lake = env.inner.unwrapped.desc
        ended = lake[row][col] in (b"H", b"G")
        # A hole or the goal ends the game; otherwise the steps ran out (or a bump into a wall repeated a frame).
        assert result.outcome == "terminated" if ended else result.outcome in ("max_steps", "loop")
        assert result.success == (lake[row][col] == b"G")
    finally:
        env.close()
