"""Batched episodes end as they would alone, with their endings written while the others go on.

run_batched hands an ended episode's files (its last PNGs, final.png, meta.json) to a finishing thread;
these tests hold it to what a user relies on: the same steps and outcomes as a sequential run, every
folder complete when it returns, and a failure while finishing raised instead of lost.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agent_fixtures import ScriptedBackend

from vlagent.agent.batch import EpisodeJob, run_batched
from vlagent.agent.errors import TrajectoryError
from vlagent.agent.loop import Agent, EpisodeResult, TrajectoryStore
from vlagent.agent.trajectory import load_episode
from vlagent.envs.registry import make_env

pytestmark = pytest.mark.timeout(120)
APPS = ("login", "settings", "dialog")
SIZE = (480, 360)


def agent(app: str, store: TrajectoryStore | None) -> Agent:
    return Agent(ScriptedBackend(), "ui-tars", make_env(f"synthetic:{app}", size=SIZE), recorder=store, max_steps=8)


def episodes() -> list[tuple[str, str, int]]:
    return [(f"{app}-{seed}", app, seed) for app in APPS for seed in (1, 2)]


def summary(result: EpisodeResult) -> tuple[Any, ...]:
    """What an episode did: its outcome, success, reward, and each step's reply and what its actions did."""
    steps = [(s.raw, [(a.screen, a.executed, a.reward) for a in s.actions]) for s in result.steps]
    return result.meta.outcome, result.meta.success, result.meta.total_reward, steps


def test_batched_episodes_do_exactly_what_they_do_one_at_a_time(tmp_path: Path) -> None:
    alone = {eid: summary(agent(app, None).run("", seed=seed, episode_id=eid)) for eid, app, seed in episodes()}
    store = TrajectoryStore(tmp_path)
    jobs = [EpisodeJob(eid, "", seed, lambda app=app: agent(app, store)) for eid, app, seed in episodes()]
    batched = {r.meta.episode_id: summary(r) for r in run_batched(jobs, workers=4)}
    assert batched == alone
    assert len({len(steps) for *_, steps in alone.values()}) > 1  # episodes of different lengths overlapped


def test_every_folder_is_complete_when_the_run_returns(tmp_path: Path) -> None:
    store = TrajectoryStore(tmp_path)
    jobs = [EpisodeJob(eid, "", seed, lambda app=app: agent(app, store)) for eid, app, seed in episodes()]
    seen: list[str] = []
    results = run_batched(jobs, workers=3, on_done=lambda r: seen.append(r.meta.episode_id))
    assert seen == [r.meta.episode_id for r in results]  # on_done in the order of the returned results
    for r in results:
        meta, steps = load_episode(tmp_path / r.meta.episode_id)
        assert meta.done and meta.outcome == r.meta.outcome and len(steps) == meta.steps >= 1
        assert (tmp_path / r.meta.episode_id / "final.png").is_file()
        assert all((tmp_path / r.meta.episode_id / s.screenshot).is_file() for s in steps)


class _FailingStore(TrajectoryStore):
    """A store whose episodes cannot write their end (a full disk, say)."""

    def open(self, meta: Any) -> Any:
        recorder = super().open(meta)

        def close(**_: Any) -> Any:
            raise TrajectoryError("disk full")

        recorder.close = close
        return recorder


def test_a_failure_while_finishing_an_episode_is_raised_not_lost(tmp_path: Path) -> None:
    store = _FailingStore(tmp_path)
    jobs = [EpisodeJob(f"login-{i}", "", i, lambda: agent("login", store)) for i in range(3)]
    with pytest.raises(TrajectoryError, match="disk full"):
        run_batched(jobs, workers=2)
