"""The real model path in the loop: the tiny random-weight Qwen2-VL through the transformers backend.

Its replies are random tokens, so they do not parse: the loop must record each parse error, feed it back,
and stop cleanly (retries or max_steps), never crash, with the trajectory closed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vlagent.agent.batch import EpisodeJob, run_batched
from vlagent.agent.loop import Agent, TrajectoryStore
from vlagent.agent.trajectory import load_episode
from vlagent.envs.registry import make_env
from vlagent.model.chat import GenerationOptions

pytest_plugins = ("model_fixtures",)  # tiny_backend: the tiny Qwen2-VL loaded once through TransformersBackend
pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]
BUDGET = {"min_pixels": 56 * 56, "max_pixels": 128 * 28 * 28}  # a few hundred visual tokens: fast on CPU


class _Recording:
    """The tiny backend, unchanged, with every chat it was asked kept for the assertions."""

    def __init__(self, backend) -> None:
        self.backend, self.chats = backend, []
        self.name = backend.name
        self.model_ref = backend.model_ref

    def generate(self, chats, options=None):
        self.chats.extend(chats)
        return self.backend.generate(chats, options)


@pytest.mark.parametrize(("max_retries", "outcome", "n_steps"), [(5, "max_steps", 3), (1, "errors", 2)])
def test_tiny_qwen2vl_runs_the_loop_and_stops_cleanly(tiny_backend, tmp_path: Path, max_retries, outcome,
                                                      n_steps) -> None:
    backend = _Recording(tiny_backend)
    env = make_env("synthetic:login", size=(640, 480))
    agent = Agent(backend, "qwen2-vl", env, max_steps=3, max_retries=max_retries,
                  gen_options=GenerationOptions(max_new_tokens=8), recorder=TrajectoryStore(tmp_path), **BUDGET)
    result = agent.run("", seed=0, episode_id="tiny")
    meta, steps = load_episode(tmp_path / "tiny")
    # Random weights write random tokens: no reply parses, so nothing is executed and each error is fed back.
    assert [s.error.type if s.error else None for s in steps] == ["ActionParseError"] * n_steps, [s.raw for s in steps]
    assert meta.ended is not None and meta.outcome == outcome  # the step limit, or too many errors in a row
    assert len(steps) == len(result.steps) == len(backend.chats) == n_steps
    assert meta.parse_errors == n_steps and not any(a.executed for s in steps for a in s.actions)
    for s, later_chat in zip(steps, backend.chats[1:], strict=False):
        assert s.raw  # the model's own (random) text is recorded
        told = " ".join(m.text for m in later_chat.messages)
        assert "Your previous reply could not be executed" in told and s.error.message[:40] in told
    for s in steps:
        assert s.tokens["visual"] > 0 and s.tokens["new"] > 0
        assert s.timings.model > 0
    assert meta.model == str(tiny_backend.model_ref)


def test_tiny_qwen2vl_batched_episodes(tiny_backend) -> None:
    jobs = [
        EpisodeJob(f"tiny-{i}", "", i, lambda: Agent(tiny_backend, "ui-tars", make_env("synthetic:dialog", size=(480, 360)),
                                                     max_steps=2, gen_options=GenerationOptions(max_new_tokens=6), **BUDGET))
        for i in range(3)
    ]
    results = run_batched(jobs, workers=3)
    assert len(results) == 3 and all(r.meta.ended for r in results)
    assert all(len(r.steps) <= 2 for r in results)
