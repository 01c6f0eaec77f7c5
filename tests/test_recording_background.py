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

        def generate(self, chats, options=None):
            lines_seen.append(len((tmp_path / "ep" / "steps.jsonl").read_text().splitlines()))
            from vlagent.model.chat import Generation

            if len(lines_seen) == 4:
                gate.set()  # only now may the writer start: three steps ran without it
            return [Generation(text=self.policy.reply(c)) for c in chats]

    agent = Agent(Backend(), "qwen2-vl", make_env("synthetic:login", size=(640, 480)),
                  recorder=TrajectoryStore(tmp_path))
    result = agent.run("", seed=0, episode_id="ep")
    assert lines_seen[:4] == [0, 1, 2, 3]
    expected = {f"step_{s.index:03d}.png" for s in result.steps} | {f"step_{s.index:03d}_annotated.png" for s in result.steps}
    assert expected | {"final.png"} == set(written)
    assert all((tmp_path / "ep" / name).exists() for name in expected)
    assert not list((tmp_path / "ep").glob("*.part"))
