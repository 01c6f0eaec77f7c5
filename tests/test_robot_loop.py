"""The robot env through the whole loop: prompt, a reply in a profile's own pointing convention, parsing,
coordinate conversion, deprojection, IK and physics, recording and the report.

The replies come from the scripted oracle (the projected object and goal points written in the profile's
format) or are written here by hand; the env, the parsers and MuJoCo are real.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from agent_fixtures import ScriptedBackend, chat_text
from typer.testing import CliRunner

from vlagent.actions.coords import from_screen
from vlagent.agent.annotate import MARKER_RGB
from vlagent.agent.batch import EpisodeJob, run_batched
from vlagent.agent.cli import _register_commands, app
from vlagent.agent.loop import Agent, TrajectoryStore
from vlagent.agent.suites import ROBOT_SIZES, build_suite
from vlagent.agent.trajectory import load_episode
from vlagent.envs.registry import make_env
from vlagent.envs.robot import TASKS
from vlagent.envs.robot.arm import MIN_TCP_Z
from vlagent.envs.robot.env import RobotEnv

pytestmark = pytest.mark.timeout(240)

#: One profile per coordinate convention a robot reply is likely to use: 0-1000 and resized pixels.
LOOP_PROFILES = ("qwen2-vl", "qwen2.5-vl")


@pytest.mark.parametrize("profile", LOOP_PROFILES)
def test_oracle_solves_every_task_at_both_suite_sizes(profile: str) -> None:
    backend = ScriptedBackend()
    jobs = [
        EpisodeJob(f"{task}-{size}", "", 11, lambda task=task, size=size: Agent(
            backend, profile, make_env(f"robot:{task}", size=size), max_steps=6))
        for task in TASKS for size in ROBOT_SIZES
    ]
    results = run_batched(jobs, workers=2)
    failed = [(r.meta.episode_id, r.outcome, [s.error.message for s in r.steps if s.error][:1])
              for r in results if not r.success]
    assert len(results) == len(TASKS) * len(ROBOT_SIZES)
    assert not failed, failed
    assert all(r.meta.parse_errors == 0 and r.meta.family == "robot" for r in results)
    # The arm never touched the table and its fingertips kept their clearance above it.
    infos = [s.info for r in results for s in r.steps]
    assert all(i["arm_table_contacts"] == 0 for i in infos)
    assert min(i["lowest_tcp_z"] for i in infos) >= MIN_TCP_Z - 0.002
    # The prompt explained the arm in the profile's own terms.
    text = chat_text(backend.chats[0])
    assert "Pick up the object at the start point" in text and "open_gripper" in text


def test_a_rel1000_point_through_qwen2_vl_lands_on_the_object_under_the_screen_pixel() -> None:
    env = RobotEnv("pick", size=(640, 480))
    try:
        obs, info = env.reset(seed=5)
        target = env.goal.colours["cube"] + " cube"
        screen = info["oracle"].point
        g = obs.geometry()
        p = from_screen(screen, g, "rel1000")
        x, y = round(p.x), round(p.y)
        # The model names a box around the cube's top face and the phrase, as Qwen2-VL grounds.
        reply = (f"click(<|object_ref_start|>the {target}<|object_ref_end|>"
                 f"<|box_start|>({x - 8},{y - 8}),({x + 8},{y + 8})<|box_end|>)")
        result = Agent(ScriptedBackend([reply]), "qwen2-vl", env, max_steps=1).run("", seed=5)
        step = result.steps[0]
        landed = step.actions[0].screen.point
        assert abs(landed.x - screen.x) <= 1 and abs(landed.y - screen.y) <= 1
        assert result.success and step.info["holding"] == target
    finally:
        env.close()


def test_a_point_in_the_air_is_fed_back_and_the_next_reply_succeeds() -> None:
    env = make_env("robot:pick-place", size=(320, 240))
    try:
        backend = ScriptedBackend(["drag(<|box_start|>(5,5)<|box_end|>, <|box_start|>(500,600)<|box_end|>)"])
        result = Agent(backend, "qwen2-vl", env, max_steps=4).run("", seed=2)
        assert result.success and len(result.steps) == 2
        assert result.steps[0].error.type == "CoordinateError"
        assert "could not be executed: CoordinateError" in chat_text(backend.chats[1])
        assert "looks at nothing" in chat_text(backend.chats[1])
    finally:
        env.close()


def test_run_command_succeeds_and_its_report_shows_the_drag(tmp_path: Path) -> None:
    _register_commands()
    out = tmp_path / "runs"
    res = CliRunner().invoke(app, ["run", "--env", "robot:pick-place", "--seed", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "terminated (success)" in res.output
    folder = next(p for p in out.iterdir() if p.is_dir())
    meta, steps = load_episode(folder)
    assert meta.success and meta.family == "robot" and steps[0].actions[0].screen.type == "drag"
    drag = steps[0].actions[0].screen
    annotated = folder / steps[0].annotated
    from PIL import Image

    image = np.asarray(Image.open(annotated).convert("RGB"))
    mx, my = round((drag.start.x + drag.end.x) / 2), round((drag.start.y + drag.end.y) / 2)
    patch = image[my - 3:my + 4, mx - 3:mx + 4].reshape(-1, 3)
    assert (patch == MARKER_RGB).all(axis=1).any()  # the arrow runs from the cube to the marker
    assert annotated.name in (folder / "index.html").read_text()


def test_robot_suite_lists_every_task_at_two_sizes() -> None:
    specs = build_suite("robot")
    assert {(s.env, s.env_kwargs["size"]) for s in specs} == {
        (f"robot:{t}", size) for t in TASKS for size in ROBOT_SIZES}
    assert len(ROBOT_SIZES) == 2 and len({s.episode_id for s in specs}) == len(specs)


def test_trajectory_keeps_depth_out_of_the_record(tmp_path: Path) -> None:
    env = make_env("robot:reach", size=(160, 120))
    try:
        result = Agent(ScriptedBackend(), "ui-tars", env, max_steps=3,
                       recorder=TrajectoryStore(tmp_path, background_images=False)).run("", seed=0)
        assert result.success
        info = result.steps[0].info
        assert isinstance(info["depth"], str) and info["depth"].startswith("<array")
        assert len(info["intrinsics"]) == 3
    finally:
        env.close()
