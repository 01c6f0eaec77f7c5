"""Trajectory folders: files per step, flushed as the episode runs, readable after a crash."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from agent_fixtures import ScriptedBackend, count_colour, oracle_reply
from PIL import Image

from vlagent.agent.annotate import MARKER_RGB
from vlagent.agent.loop import Agent, TrajectoryStore
from vlagent.agent.trajectory import json_safe, load_episode, read_meta, read_steps
from vlagent.envs.registry import make_env

pytestmark = pytest.mark.timeout(60)


def test_episode_folder_has_steps_screenshots_annotations_and_meta(tmp_path: Path) -> None:
    env = make_env("synthetic:login", size="desktop")
    agent = Agent(ScriptedBackend(), "qwen2.5-vl", env, recorder=TrajectoryStore(tmp_path),
                  env_spec="synthetic:login", env_kwargs={"size": "desktop"})
    result = agent.run("", seed=4, episode_id="ep")
    folder = tmp_path / "ep"
    meta, steps = load_episode(folder)
    assert meta.outcome == "terminated" and meta.success is True and meta.steps == len(steps) == len(result.steps)
    assert meta.env == "synthetic:login" and meta.env_kwargs == {"size": "desktop"} and meta.seed == 4
    assert meta.profile == "qwen2.5-vl" and meta.model == "scripted-test"
    assert meta.geometry["width"] == 1920 and meta.geometry["resized_width"] > 0
    assert meta.backend_options["max_pixels"] == agent.max_pixels
    assert {"pydantic", "pillow", "vlagent"} <= set(meta.versions)
    assert meta.started < meta.ended
    assert (folder / "final.png").exists()

    click = steps[0]
    action = click.actions[0]
    assert action.model.point.space == "resized" and action.screen.point.space == "screen"
    assert click.raw.startswith("The next step") and click.info["oracle"]["type"] == "type"
    assert set(click.timings.model_dump()) == {"capture", "preprocess", "model", "parse", "execute", "settle", "record"}
    for s in steps:
        shot = Image.open(folder / s.screenshot)
        assert shot.size == (1920, 1080)
        assert (folder / s.annotated).exists()
    # The annotated copy has the marker at the click point; the raw screenshot does not.
    x, y = int(action.screen.point.x), int(action.screen.point.y)
    crop = (x - 40, y - 40, x + 40, y + 40)
    assert count_colour(Image.open(folder / click.annotated).crop(crop), MARKER_RGB, 10) > 50
    assert count_colour(Image.open(folder / click.screenshot).crop(crop), MARKER_RGB, 10) == 0


def test_steps_are_on_disk_while_the_episode_runs(tmp_path: Path) -> None:
    seen: list[int] = []

    def look_then_act(chat) -> str:
        seen.append(len(read_steps(tmp_path / "live")))
        assert read_meta(tmp_path / "live").ended is None
        return oracle_reply(chat)

    agent = Agent(ScriptedBackend(after=look_then_act), "ui-tars", make_env("synthetic:login", size=(640, 480)),
                  recorder=TrajectoryStore(tmp_path))
    result = agent.run("", seed=0, episode_id="live")
    assert seen == list(range(len(result.steps)))  # step k's chat saw k steps already flushed


def test_a_crash_mid_episode_keeps_every_finished_step(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import os
        from vlagent.agent.loop import Agent, TrajectoryStore
        from vlagent.agent.scripted import OraclePolicy
        from vlagent.envs.registry import make_env
        calls = []
        class DiesOnThirdCall:
            name = "dies"
            def decide(self, steps):
                calls.append(1)
                if len(calls) == 3:
                    os._exit(17)  # the process dies: no finally blocks, no atexit
                from vlagent.model.chat import Generation
                return [Generation(text=OraclePolicy().reply(s)) for s in steps]
        Agent(DiesOnThirdCall(), "qwen2-vl", make_env("synthetic:login", size=(640, 480)),
              recorder=TrajectoryStore({str(tmp_path)!r})).run("", seed=0, episode_id="crash")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == 17, proc.stderr.decode()
    meta, steps = load_episode(tmp_path / "crash")
    assert meta.ended is None and meta.outcome is None
    assert [s.index for s in steps] == [0, 1]
    # Images are encoded in the background after their step's line: the kill may have lost some, but every
    # PNG that exists is whole (written under a temporary name, then renamed), and the report says which
    # screenshots were never written.
    from PIL import Image

    from vlagent.agent.report import write_report

    folder = tmp_path / "crash"
    written = [folder / n for s in steps for n in (s.screenshot, s.annotated) if (folder / n).exists()]
    for png in written:
        with Image.open(png) as im:
            im.load()
    missing = sum(not (folder / (s.annotated or s.screenshot)).exists() for s in steps)
    html = write_report(folder).read_text(encoding="utf-8")
    assert html.count("screenshot not written") == missing

    # A line torn by a crash mid-write is left out; the complete ones still read.
    with (tmp_path / "crash" / "steps.jsonl").open("a") as f:
        f.write('{"index": 2, "raw": "cli')
    assert len(read_steps(tmp_path / "crash")) == 2


def test_a_bug_in_the_backend_still_closes_the_trajectory(tmp_path: Path) -> None:
    def boom(chat) -> str:
        raise RuntimeError("extension bug")

    agent = Agent(ScriptedBackend([oracle_reply, boom]), "ui-tars", make_env("synthetic:login", size=(640, 480)),
                  recorder=TrajectoryStore(tmp_path))
    with pytest.raises(RuntimeError, match="extension bug"):
        agent.run("", seed=0, episode_id="bug")
    meta = read_meta(tmp_path / "bug")
    assert meta.outcome == "crashed" and meta.error.type == "RuntimeError" and meta.steps == 1


def test_info_is_made_json_safe() -> None:
    import numpy as np

    from vlagent.actions.models import Wait

    safe = json_safe({"oracle": Wait(), "n": np.float32(0.5), "grid": np.zeros((20, 20)), "bad": float("inf")})
    json.dumps(safe)
    assert safe["oracle"] == {"type": "wait", "seconds": 1.0} and safe["bad"] is None
    assert safe["grid"].startswith("<array")
