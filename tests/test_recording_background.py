"""Recording stays off the loop's critical path: no step waits for an earlier step's PNGs.

The writer is held back with an event (not a sleep): the episode must run all its steps, each line
flushed to ``steps.jsonl``, while no image has been encoded; closing the episode then waits for them all.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from vlagent.agent import trajectory
from vlagent.agent.loop import Agent, TrajectoryStore
from vlagent.agent.scripted import OraclePolicy
from vlagent.envs.registry import make_env

pytestmark = pytest.mark.timeout(60)


def test_steps_go_on_while_the_writer_is_stuck_and_close_waits_for_every_image(tmp_path: Path, monkeypatch):
    gate = threading.Event()
    written: list[str] = []
    real_save = trajectory.save_png

    def held_back(image, path: Path) -> None:
        if not gate.wait(timeout=30):
            raise TimeoutError("the test never released the writer")
        real_save(image, path)
        written.append(path.name)

    monkeypatch.setattr(trajectory, "save_png", held_back)
    # The writer runs in this process here (a thread) so that the test can hold it back; the recorder's
    # logic, which this test is about, is the same with the writer process.
    pool = ThreadPoolExecutor(max_workers=1)
    monkeypatch.setattr(trajectory, "_image_writer", lambda: pool)
    lines_seen: list[int] = []

    class Backend:
        """The scripted oracle, checking at each call that the earlier steps are flushed, images or not."""

        name = "oracle"
        policy = OraclePolicy()

        def decide(self, steps):
            lines_seen.append(len((tmp_path / "ep" / "steps.jsonl").read_text().splitlines()))
            from vlagent.model.chat import Generation

            if len(lines_seen) == 4:
                gate.set()  # only now may the writer start: three steps ran without it
            return [Generation(text=self.policy.reply(s)) for s in steps]

    agent = Agent(Backend(), "qwen2-vl", make_env("synthetic:login", size=(640, 480)),
                  recorder=TrajectoryStore(tmp_path))
    result = agent.run("", seed=0, episode_id="ep")
    assert lines_seen[:4] == [0, 1, 2, 3]
    expected = {f"step_{s.index:03d}.png" for s in result.steps} | {f"step_{s.index:03d}_annotated.png" for s in result.steps}
    assert expected | {"final.png"} == set(written)
    assert all((tmp_path / "ep" / name).exists() for name in expected)
    assert not list((tmp_path / "ep").glob("*.part"))


def test_a_relative_run_folder_is_written_where_it_was_named_after_the_cwd_changes(tmp_path: Path, monkeypatch):
    # The writer process outlives a chdir (an eval started from another folder, a second run in the same
    # process): a relative folder handed to it would resolve against the writer's own cwd.
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    Agent(OraclePolicyBackend(), "qwen2-vl", make_env("synthetic:dialog", size=(320, 240)),
          recorder=TrajectoryStore(Path("runs"))).run("", seed=0, episode_id="one")
    monkeypatch.chdir(second)
    result = Agent(OraclePolicyBackend(), "qwen2-vl", make_env("synthetic:dialog", size=(320, 240)),
                   recorder=TrajectoryStore(Path("runs"))).run("", seed=0, episode_id="two")
    folder = second / "runs" / "two"
    assert result.steps and all((folder / s.screenshot).is_file() for s in result.steps)


class OraclePolicyBackend:
    """The scripted oracle as a policy (the writer process itself is the real one here)."""

    name = "oracle"
    policy = OraclePolicy()

    def decide(self, steps):
        from vlagent.model.chat import Generation

        return [Generation(text=self.policy.reply(s)) for s in steps]
