"""The scripted oracle through every profile on MiniWoB++ click and typing tasks in headless Chromium.

The oracle reads the DOM MiniWoB++ reports; its reply is written in each profile's format and
coordinate space, parsed back and clicked/typed into the real page. One browser per task, shared by
all profiles (the eval's env pool), so the test stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_fixtures import PROFILES, ScriptedBackend

from vlagent.agent.evaluate import EnvPool, evaluate
from vlagent.agent.suites import EpisodeSpec
from vlagent.envs.miniwob import availability

AVAILABLE, WHY = availability()
pytestmark = [
    pytest.mark.chromium,
    pytest.mark.timeout(180),
    pytest.mark.skipif(not AVAILABLE, reason=f"MiniWoB++ needs Chromium: {WHY}"),
]
TASKS = ("click-button", "enter-text", "login-user")


@pytest.fixture(scope="module")
def pool() -> Iterator[EnvPool]:
    p = EnvPool()
    yield p
    p.close()


@pytest.mark.parametrize("profile", PROFILES)
def test_scripted_oracle_solves_miniwob_tasks(profile: str, pool: EnvPool, tmp_path: Path) -> None:
    specs = [EpisodeSpec("miniwob", f"miniwob:{task}", {}, "", seed) for task in TASKS for seed in (0, 1)]
    backend = ScriptedBackend()
    res = evaluate(specs, backend=backend, profile=profile, out=tmp_path, workers=len(TASKS), pool=pool,
                   progress=False, max_steps=15)
    failed = [(e.episode_id, e.outcome) for e in res.episodes if not e.success]
    assert not failed, failed
    assert res.suites[0].parse_error_rate == 0.0 and max(backend.batches) == len(TASKS)
