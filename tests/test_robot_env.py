"""The MuJoCo tabletop as a user meets it: gymnasium's checker on every task, pixels deprojected to the
right 3D point, bad points refused with typed errors before the arm moves, and rendering reproducible.

Everything is real: MuJoCo physics, EGL rendering on Mesa's CPU driver, the depth buffer. Cameras are
small where the test does not depend on resolution.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from env_timing_checks import check_timings, timed
from gymnasium.utils.env_checker import check_env

from vlagent.actions.coords import Point
from vlagent.actions.errors import CoordinateError, UnsupportedActionError
from vlagent.actions.models import Choose, Click, Drag, Hotkey, Key, Move, Scroll, TypeText
from vlagent.envs.errors import EnvKwargsError, ResetNeeded
from vlagent.envs.registry import gym_id_for_robot_task, list_envs, make_env, register_envs
from vlagent.envs.robot import TASKS, UnknownRobotTaskError
from vlagent.envs.robot.arm import IK_TOLERANCE, MIN_TCP_Z
from vlagent.envs.robot.env import RobotActionError, RobotEnv
from vlagent.envs.robot.palette import COLOUR_NAMES
from vlagent.envs.robot.scene import TABLE_HALF

pytestmark = pytest.mark.timeout(120)

SMALL = (128, 96)


def pt(x: float, y: float) -> Point:
    return Point(x=x, y=y, space="screen")


@pytest.fixture(scope="module")
def pick_env():
    env = RobotEnv("pick", size=(640, 480))
    yield env
    env.close()


# ---- gymnasium ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", list(TASKS))
def test_check_env_passes_on_every_task(task: str) -> None:
    register_envs()
    env = gym.make(gym_id_for_robot_task(task), size=SMALL).unwrapped
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env, skip_render_check=False)
        assert not [str(w.message) for w in caught if "vlagent" in str(w.filename)], caught
    finally:
        env.close()


def test_spec_kwargs_and_listing() -> None:
    with pytest.raises(UnknownRobotTaskError, match="tasks: reach, pick"):
        make_env("robot:juggle")
    with pytest.raises(EnvKwargsError, match="takes"):
        make_env("robot:pick", sise=(64, 64))
    env = make_env("robot:reach", size="160x120")
    try:
        obs, info = env.reset(seed=1)
        assert obs.size == (160, 120) and obs.family == "robot"
        assert info["depth"].shape == (120, 160) and info["intrinsics"].shape == (3, 3)
        assert info["extrinsics"].shape == (4, 4)
    finally:
        env.close()
    row = next(r for r in list_envs() if r.name == "robot")
    assert row.available, row.why
    assert "mujoco" in row.why


# ---- tasks ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", list(TASKS))
def test_task_text_names_objects_in_the_scene_and_reads_back(task: str) -> None:
    env = RobotEnv(task, size=SMALL)
    try:
        _, info = env.reset(seed=2)
        labels = set(info["objects"])
        kind = env.task_kind
        assert kind.parse(info["task"]) is not None or task == "sort"
        for colour in env.goal.colours.values():
            assert any(label.startswith(colour + " ") for label in labels)
        # Each colour names one object of each kind; every colour is from the palette.
        assert all(label.split()[0] in COLOUR_NAMES for label in labels)
        assert len(labels) == len(info["objects"])
        assert info["success"] is False and info["oracle"] is not None
        if task != "sort":
            # A user's own wording (colours of their choice) sets up that goal.
            text = kind.example.upper() + "."
            _, info = env.reset(seed=2, options={"task": text})
            assert env.goal == kind.parse(kind.example) and info["task"] == text
            with pytest.raises(UnknownRobotTaskError, match="tasks look like"):
                env.reset(seed=2, options={"task": "juggle the cubes"})
    finally:
        env.close()


def test_seeds_vary_the_scene_and_repeat_it() -> None:
    env = RobotEnv("pick-place", size=SMALL)
    try:
        a = env.reset(seed=0)[1]["objects"]
        b = env.reset(seed=1)[1]["objects"]
        c = env.reset(seed=0)[1]["objects"]
        assert a == c and a != b
    finally:
        env.close()


def test_rendering_is_deterministic_for_a_seed() -> None:
    frames = []
    for _ in range(2):
        env = RobotEnv("stack", size=(160, 120))
        try:
            obs, info = env.reset(seed=4)
            obs2, *_ = env.step(info["oracle"])
            frames.append((obs.screenshot.tobytes(), obs2.screenshot.tobytes()))
        finally:
            env.close()
    assert frames[0] == frames[1]
    assert frames[0][0] != frames[0][1]  # the drag changed the scene


# ---- pixels to 3D ----------------------------------------------------------------------------------------
def test_deprojection_round_trip_within_2_mm(pick_env: RobotEnv) -> None:
    obs, info = pick_env.reset(seed=0)
    rng = np.random.default_rng(0)
    centres = [np.array(pos) for pos in info["objects"].values()]
    table = [np.array([x, y, 0.0]) for x, y in rng.uniform((-0.25, -0.2), (0.25, 0.12), size=(30, 2))]
    # Table points no object hides, and the top face centres of the cubes.
    targets = [p for p in table if min(np.linalg.norm(p[:2] - c[:2]) for c in centres) > 0.08][:8]
    targets += [c + (0.0, 0.0, 0.02) for c in centres if c[2] > 0.01]
    assert len(targets) >= 8
    errors = []
    for p in targets:
        screen = pick_env._project_point(p)
        # The pixel the model would name, back through the depth buffer and the camera model.
        u, v = pick_env.camera.project(p)
        assert abs(screen.x - u) <= 0.5 and abs(screen.y - v) <= 0.5
        back = pick_env.camera.point_at(u, v, pick_env.camera.depth_at(info["depth"], u, v))
        errors.append(np.linalg.norm(back - p))
        # And through the env's own check, from the rounded pixel a model names.
        assert np.linalg.norm(pick_env.deproject(screen) - p) < 0.004
    assert max(errors) < 0.002, errors


def test_points_off_the_workspace_are_coordinate_errors(pick_env: RobotEnv) -> None:
    obs, info = pick_env.reset(seed=0)
    cam = pick_env.camera
    assert obs.size == (640, 480)
    tx, ty = TABLE_HALF
    edge = pick_env._project_point(np.array([tx - 0.01, -ty + 0.01, 0.0]))  # the table's front corner
    air = pt(5, 2)  # the top-left corner of the image: empty space beyond the floor
    assert cam.depth_at(info["depth"], air.x, air.y) > 10
    behind = pick_env._project_point(np.array([0.2, ty - 0.03, 0.0]))  # the table behind the arm, beside it
    before = pick_env.data.qpos.copy()
    for point, message in ((edge, "off the arm's workspace"), (air, "looks at nothing"),
                           (behind, "off the arm's workspace")):
        for action in (Move(point=point), Click(point=point), Drag(start=point, end=point)):
            with pytest.raises(CoordinateError, match=message):
                pick_env.step(action)
    base = pick_env._project_point(np.array([0.0, 0.36, 0.08]))  # the arm's own base
    with pytest.raises(CoordinateError, match="the arm itself"):
        pick_env.step(Move(point=base))
    assert np.array_equal(pick_env.data.qpos, before)  # refused before anything moved


def test_pointing_at_the_hovering_gripper_is_refused(pick_env: RobotEnv) -> None:
    _, info = pick_env.reset(seed=1)
    spot = np.array([0.1, -0.12, 0.0])
    pick_env.step(Move(point=pick_env._project_point(spot)))
    palm = pick_env._project_point(pick_env.arm.tcp() + (0.0, 0.0, 0.075))  # the hand between the fingers
    with pytest.raises(CoordinateError, match="the arm itself"):
        pick_env.step(Click(point=palm))


def test_pick_on_nothing_graspable_and_unreachable_points(pick_env: RobotEnv) -> None:
    _, info = pick_env.reset(seed=0)
    table = pick_env._project_point(np.array([0.0, -0.05, 0.0]))
    if any(np.linalg.norm(np.array(p[:2]) - (0.0, -0.05)) < 0.05 for p in info["objects"].values()):
        table = pick_env._project_point(np.array([0.2, 0.1, 0.0]))
    with pytest.raises(CoordinateError, match="nothing graspable"):
        pick_env.step(Click(point=table))
    with pytest.raises(CoordinateError, match="nothing graspable"):
        pick_env.step(Drag(start=table, end=table))
    with pytest.raises(CoordinateError, match="cannot reach"):
        pick_env.arm.reachable(np.array([0.0, -0.9, 0.02]), 0.0)
    assert IK_TOLERANCE == 0.005


def test_gui_only_actions_are_unsupported(pick_env: RobotEnv) -> None:
    pick_env.reset(seed=0)
    for action in (Key(name="enter"), TypeText(text="hi"), Scroll(direction="down"), Hotkey(keys=["ctrl", "c"])):
        with pytest.raises(UnsupportedActionError):
            pick_env.step(action)


def test_gripper_options_and_a_drag_while_holding(pick_env: RobotEnv) -> None:
    _, info = pick_env.reset(seed=0)
    assert info["oracle"].type == "click"
    (obs, reward, terminated, _, info), wall = timed(lambda: pick_env.step(info["oracle"]))
    check_timings(info, wall)
    assert terminated and info["success"] and reward == 1.0 and info["holding"]
    with pytest.raises(ResetNeeded):
        pick_env.step(Choose(option="home"))
    _, info = pick_env.reset(seed=3)
    cube = info["oracle"].point
    pick_env.step(Choose(option="close_gripper"))
    assert not pick_env.arm.gripper_open()
    pick_env.step(Choose(option="Open Gripper"))
    assert pick_env.arm.gripper_open()
    pick_env.step(Move(point=cube))
    assert pick_env.arm.tcp()[2] > 0.1
    pick_env.step(Choose(option="home"))
    assert np.allclose(pick_env.arm.q(), pick_env.arm.home_q, atol=0.01)


def test_drag_refused_while_the_gripper_holds_a_cube() -> None:
    env = RobotEnv("pick-place", size=(320, 240))
    try:
        _, info = env.reset(seed=1)
        drag = info["oracle"]
        _, _, _, _, info = env.step(Click(point=drag.start))  # grasp, and keep holding
        assert info["holding"]
        with pytest.raises(RobotActionError, match="holds"):
            env.step(drag)
        _, _, terminated, _, info = env.step(info["oracle"])  # the oracle puts it down where it belongs
        assert terminated and info["success"]
    finally:
        env.close()


def test_a_configured_camera_pose_still_lands_points_on_their_objects() -> None:
    # As --env-kwargs gives it: lists from JSON.
    env = make_env("robot:pick-place", size=[320, 240], camera={"pos": [0.5, -0.65, 0.7], "lookat": [0, 0, 0.05],
                                                               "fovy": 50})
    try:
        _, info = env.reset(seed=6)
        assert np.allclose(info["extrinsics"][:3, 3], (0.5, -0.65, 0.7))
        _, _, terminated, _, info = env.step(info["oracle"])
        assert terminated and info["success"]
    finally:
        env.close()


def test_the_controller_never_drives_the_arm_into_the_table(pick_env: RobotEnv) -> None:
    pick_env.reset(seed=0)
    arm = pick_env.arm
    arm.reset_watch()
    arm.travel_to(np.array([0.05, -0.12, -0.05]), 0.0)  # a target below the table top is clamped
    assert arm.table_contacts == 0 and arm.lowest_tcp_z >= MIN_TCP_Z - 0.002
    assert arm.tcp()[2] == pytest.approx(MIN_TCP_Z, abs=0.003)
    # The watch is not vacuous: joint targets below the table (no controller in between) do touch it.
    below = arm.solve(np.array([0.05, -0.12, -0.03]), 0.0, seed=arm.q())
    arm.data.ctrl[arm.arm_act] = below.q
    arm.run(500)
    assert arm.table_contacts > 0 and arm.lowest_tcp_z < MIN_TCP_Z
