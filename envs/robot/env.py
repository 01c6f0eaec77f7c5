"""The ``robot:TASK`` env: a MuJoCo tabletop arm driven by where the model points in the camera image.

Actions are the GUI's typed actions, so every profile's parser works unchanged; their points are pixels
of the camera image, turned into 3D points with the depth buffer and the camera model
(:mod:`vlagent.envs.robot.camera`), then into motion by the controller (:mod:`vlagent.envs.robot.arm`):

- ``drag(start, end)``: pick the object under ``start``, place it on the surface under ``end``, go home.
- ``move(point)``: hover 10 cm above the point.
- ``click(point)``: descend there and toggle the gripper (an open gripper grasps the cube under the point,
  a closed one puts down what it holds), then rise back to the hover height.
- ``choose(open_gripper | close_gripper | home)`` and ``finished``.

A point that looks at nothing, lands off the workspace, finds nothing graspable for a pick, or that the
arm cannot reach is a :class:`~vlagent.actions.errors.CoordinateError` raised before the arm moves, so
the loop feeds it back to the model. Keys, typing and scrolling are
:class:`~vlagent.actions.errors.UnsupportedActionError`.

``info``: ``success``, ``oracle`` (the next right action in screen pixels), ``task``, ``objects``
(ground-truth centres by label), ``depth`` (metres, HxW float32), ``intrinsics`` (3x3), ``extrinsics``
(4x4 camera-to-world), after a step ``physics_steps``, ``lowest_tcp_z`` (metres, ``None`` if the arm did
not move) and ``arm_table_contacts`` (physics steps in which the arm touched the table: 0), and ``timings``
(the motion is ``act``, rendering is ``capture``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vlagent.actions.coords import Point
from vlagent.actions.errors import ActionError, CoordinateError, EnvError
from vlagent.actions.models import Choose, Click, Drag, Finished, Move
from vlagent.envs.base import (
    ACT,
    CAPTURE,
    ActionSpace,
    EnvTimings,
    Handler,
    Observation,
    ObservationSpace,
    VlagentEnv,
    check_render_mode,
    parse_task,
    task_option,
    task_words,
)
from vlagent.envs.errors import ResetNeeded
from vlagent.envs.gym_names import UnknownOptionError
from vlagent.envs.robot.arm import HOME, HOVER, OPEN_GRIPPER, OPTIONS, Arm
from vlagent.envs.robot.camera import CameraModel
from vlagent.envs.robot.mujoco_loader import load_mujoco
from vlagent.envs.robot.palette import COLOURS
from vlagent.envs.robot.scene import (
    CAMERA_NAME,
    CUBE_HALF,
    FLAT_HALF_Z,
    WORKSPACE_HIGH,
    WORKSPACE_LOW,
    CameraPose,
    mjcf,
)
from vlagent.envs.robot.state import HALF, ObjectState, WorldState
from vlagent.envs.robot.tasks import TASKS, Goal, RobotTask, UnknownRobotTaskError

#: Default camera image size (width, height).
DEFAULT_SIZE: tuple[int, int] = (640, 480)
#: Highest surface a pointed pixel may land on (two stacked cubes and a margin).
MAX_SURFACE_Z = 0.12
#: Region object centres are drawn from (inside the workspace, with room for the gripper's fingers).
PLACEMENT_LOW = WORKSPACE_LOW[:2] + 0.035
PLACEMENT_HIGH = WORKSPACE_HIGH[:2] - 0.035
#: Gap between two objects' footprints at the start of an episode.
GAP = 0.025


def parse_size(size: tuple[int, int] | list[int] | str) -> tuple[int, int]:
    """A camera size from ``(w, h)`` or ``"WxH"`` (how suites and ``--env-kwargs`` write it).

    Example:
        >>> parse_size("1280x720"), parse_size([320, 240])
        ((1280, 720), (320, 240))
    """
    try:
        parts = size.lower().split("x") if isinstance(size, str) else list(size)
        w, h = (int(v) for v in parts)
    except (TypeError, ValueError):
        raise EnvError(f"camera size must be (width, height) or 'WxH', got {size!r}") from None
    return w, h


class RobotActionError(ActionError):
    """The arm cannot do that now (e.g. drag while it holds a cube); fed back to the model like a bad point.

    Example:
        >>> isinstance(RobotActionError("the gripper holds the red cube"), ActionError)
        True
    """


class RobotEnv(VlagentEnv):
    """A tabletop with a 7-DoF arm, cubes and markers; the model points, the controller moves.

    Example:
        >>> env = RobotEnv("pick", size=(160, 120))
        >>> obs, info = env.reset(seed=0)
        >>> obs.size, obs.family, info["oracle"].type, info["success"]
        ((160, 120), 'robot', 'click', False)
        >>> env.close()
    """

    family = "robot"
    supported_actions: ClassVar[frozenset[str]] = frozenset({"move", "click", "drag", "choose", "finished"})

    def __init__(
        self,
        task: str = "pick-place",
        size: tuple[int, int] | list[int] | str = DEFAULT_SIZE,
        *,
        camera: CameraPose | Mapping[str, Any] | None = None,
        render_mode: str | None = "rgb_array",
    ) -> None:
        check_render_mode(render_mode, ValueError)
        if task not in TASKS:
            raise UnknownRobotTaskError(task)
        w, h = parse_size(size)
        if not (32 <= w <= 4096 and 32 <= h <= 4096):
            raise EnvError(f"camera size must be between 32 and 4096 pixels a side, got {w}x{h}")
        mujoco = load_mujoco()
        self._mj = mujoco
        self.render_mode = render_mode
        self.task_kind: RobotTask = TASKS[task]
        self.size = (w, h)
        self.camera_pose = camera if isinstance(camera, CameraPose) else CameraPose(**dict(camera or {}))
        self.camera = CameraModel.of(self.camera_pose, self.size)
        self.model = mujoco.MjModel.from_xml_string(mjcf(self.task_kind.layout, self.camera_pose, self.size))
        self.data = mujoco.MjData(self.model)
        self.arm = Arm(self.model, self.data)
        base = self.model.body("base").id
        self._arm_geoms = frozenset(
            g for g in range(self.model.ngeom) if self.model.body_rootid[self.model.geom_bodyid[g]] == base)
        # All GL work runs on one thread of the env's own: an EGL context is current in one thread only,
        # and an evaluation's env pool hands envs from one worker thread to another.
        self._gl = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vlagent-robot-gl")
        self._renderer: Any = None
        self._objects: list[tuple[str, str]] = self.task_kind.layout.objects()
        self._colours: dict[str, str] = {}
        self.goal = Goal()
        self.task = ""
        self.observation_space = ObservationSpace(self.size, "robot")
        self.action_space = RobotActionSpace(self)
        self._last_obs: Observation | None = None
        self._depth: np.ndarray | None = None
        self._done = False

    # ---- gymnasium API -------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Observation, dict]:
        super().reset(seed=seed)
        text, _ = task_option(options)
        goal = parse_task(text, self.task_kind.parse, lambda t: UnknownRobotTaskError(self.task_kind.name, t))
        timings = EnvTimings()
        with timings.measure(ACT):
            self.goal, self._colours = self.task_kind.draw(self.np_random, goal)
            self._place_objects()
        self.task = task_words(text) if text else self.task_kind.text(self.goal)
        self._done = False
        with timings.measure(CAPTURE):
            obs = self._observe()
        return obs, self._info(timings)

    def _step(self, action: Any) -> tuple[Observation, float, bool, bool, dict]:
        action = self.check_action(action, self.size)
        timings = EnvTimings()
        steps0 = self.arm.steps
        self.arm.reset_watch()
        with timings.measure(ACT):
            ended = self._handle(action)
        with timings.measure(CAPTURE):
            obs = self._observe()
        success = bool(self.task_kind.success(self._world(), self.goal))
        terminated = success or ended
        self._done = terminated  # before the info: its oracle stops at the end
        info = self._info(timings)
        info["physics_steps"] = self.arm.steps - steps0
        info["lowest_tcp_z"] = self.arm.lowest_tcp_z if self.arm.steps > steps0 else None
        info["arm_table_contacts"] = self.arm.table_contacts
        return obs, 1.0 if success else 0.0, terminated, False, info

    def render(self) -> np.ndarray | None:
        return None if self.render_mode is None else super().render()

    def close(self) -> None:
        if self._renderer is not None:
            self._gl.submit(self._renderer.close).result()  # an EGL context left open warns at exit
            self._renderer = None
        self._gl.shutdown(wait=True)

    # ---- episode set-up ------------------------------------------------------------------------------
    def _place_objects(self) -> None:
        """Colour the objects, put the arm home and draw object poses until the start is a fair one."""
        mj, m, d = self._mj, self.model, self.data
        for name, _ in self._objects:
            m.geom_rgba[m.geom(name).id][:3] = COLOURS[self._colours[name]]
        rng = self.np_random
        for _ in range(100):
            mj.mj_resetData(m, d)
            self.arm.place_home()
            placed: list[tuple[float, float, float]] = []  # x, y, half footprint
            ok = True
            # Flat things first (they are large), then the cubes.
            for name, kind in sorted(self._objects, key=lambda o: o[1] == "cube"):
                half = HALF[kind] * (math.sqrt(2) if kind == "cube" else 1.0)
                spot = self._free_spot(rng, half, placed)
                if spot is None:
                    ok = False
                    break
                placed.append((*spot, half))
                if kind == "cube":
                    yaw = float(rng.uniform(-0.6, 0.6))
                    adr = m.jnt_qposadr[m.joint(name).id]
                    d.qpos[adr:adr + 3] = (*spot, CUBE_HALF)
                    d.qpos[adr + 3:adr + 7] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
                else:
                    m.body_pos[m.body(name).id] = (*spot, FLAT_HALF_Z)
            if not ok:
                continue
            mj.mj_forward(m, d)
            self.arm.run(25)  # let contacts settle
            if self.task_kind.start_ok(self._world(), Goal(self.goal.colours, self.goal.side)):
                return
        raise EnvError(f"could not lay out a {self.task_kind.name} scene in 100 tries (a scene-size bug)")

    @staticmethod
    def _free_spot(rng: np.random.Generator, half: float, placed: list[tuple[float, float, float]]) -> (
            tuple[float, float] | None):
        lo, hi = PLACEMENT_LOW + half * 0.5, PLACEMENT_HIGH - half * 0.5
        for _ in range(60):
            x, y = (float(v) for v in rng.uniform(lo, hi))
            if all(abs(x - px) >= half + ph + GAP or abs(y - py) >= half + ph + GAP for px, py, ph in placed):
                return x, y
        return None

    # ---- state, observation, info ----------------------------------------------------------------------
    def _world(self) -> WorldState:
        m, d = self.model, self.data
        objects = {}
        for name, kind in self._objects:
            body = m.body(name).id
            pos = d.xpos[body].copy()
            rot = d.xmat[body].reshape(3, 3)
            yaw = math.atan2(rot[1, 0], rot[0, 0])
            speed = float(np.linalg.norm(d.cvel[body][3:])) if kind == "cube" else 0.0
            objects[name] = ObjectState(name, kind, self._colours[name], pos, yaw, speed)  # type: ignore[arg-type]
        return WorldState(objects, self.arm.tcp(), self.arm.gripper_open(), self._project_point)

    def _project_point(self, p: np.ndarray) -> Point:
        u, v = self.camera.project(p)
        w, h = self.size
        return Point(x=min(max(round(u), 0), w - 1), y=min(max(round(v), 0), h - 1), space="screen")

    def _render(self) -> tuple[np.ndarray, np.ndarray]:
        return self._gl.submit(self._render_on_gl_thread).result()

    def _render_on_gl_thread(self) -> tuple[np.ndarray, np.ndarray]:
        if self._renderer is None:
            w, h = self.size
            self._renderer = self._mj.Renderer(self.model, height=h, width=w)
        r = self._renderer
        r.update_scene(self.data, camera=CAMERA_NAME)
        rgb = r.render().copy()
        r.enable_depth_rendering()
        try:
            depth = r.render().copy()
        finally:
            r.disable_depth_rendering()
        return rgb, depth

    def _observe(self) -> Observation:
        rgb, self._depth = self._render()
        self._last_obs = Observation(
            Image.fromarray(rgb), task=self.task, family="robot", options=OPTIONS,
            extra={"task_kind": self.task_kind.name},
        )
        return self._last_obs

    def _info(self, timings: EnvTimings) -> dict[str, Any]:
        world = self._world()
        success = bool(self.task_kind.success(world, self.goal))
        held = world.held()
        return {
            "task": self.task,
            "robot_task": self.task_kind.name,
            "success": success,
            "oracle": self.task_kind.oracle(world, self.goal) if not (self._done or success) else None,
            "objects": {o.label: o.pos.round(4).tolist() for o in world.objects.values()},
            "holding": held.label if held is not None else None,
            "depth": self._depth,
            "intrinsics": self.camera.intrinsics,
            "extrinsics": self.camera.extrinsics,
            "timings": timings,
        }

    # ---- pixels to 3D ----------------------------------------------------------------------------------
    def deproject(self, point: Point) -> np.ndarray:
        """The 3D surface point under a screen pixel; CoordinateError when it is not on the workspace."""
        if self._depth is None:
            raise ResetNeeded("call reset() before pointing")
        u, v = float(point.x), float(point.y)
        far = self.model.vis.map.zfar * self.model.stat.extent
        depth = self.camera.depth_at(self._depth, u, v)
        if depth >= 0.98 * far:
            raise CoordinateError(f"pixel ({u:g}, {v:g}) looks at nothing (empty space above the scene)",
                                  x=u, y=v)
        if self._ray_hits_arm(u, v):
            raise CoordinateError(f"pixel ({u:g}, {v:g}) is on the arm itself: point at a cube, a marker or the "
                                  "table", x=u, y=v)
        p = self.camera.point_at(u, v, depth)
        on_table = np.all(p[:2] >= WORKSPACE_LOW[:2]) and np.all(p[:2] <= WORKSPACE_HIGH[:2])
        if not on_table or not (-0.005 <= p[2] <= MAX_SURFACE_Z):
            raise CoordinateError(
                f"pixel ({u:g}, {v:g}) lands at ({p[0]:.3f}, {p[1]:.3f}, {p[2]:.3f}) m, off the arm's workspace "
                "(the table area in front of the arm)", x=u, y=v)
        return p

    def _ray_hits_arm(self, u: float, v: float) -> bool:
        """Whether the first thing the pixel's ray meets is part of the arm (the depth alone cannot tell)."""
        ray = self.camera.ray(u, v)
        geom = np.full(1, -1, dtype=np.int32)
        self._mj.mj_ray(self.model, self.data, self.camera.position, ray / np.linalg.norm(ray), None, 1, -1, geom)
        return int(geom[0]) in self._arm_geoms

    def _graspable(self, p: np.ndarray, point: Point) -> ObjectState:
        for obj in self._world().of_kind("cube"):
            if obj.contains(p):
                return obj
        raise CoordinateError(f"nothing graspable at pixel ({point.x:g}, {point.y:g}): point at a cube",
                              x=point.x, y=point.y)

    # ---- actions ---------------------------------------------------------------------------------------
    # Handlers: each carries out one action and returns True when it ends the episode (``finished``).
    def _finish(self, action: Finished) -> bool:
        return True

    def _choose(self, action: Choose) -> bool:
        option = action.option.strip().lower().replace(" ", "_").replace("-", "_")
        if option not in OPTIONS:
            raise UnknownOptionError(action.option, OPTIONS)
        if option == HOME:
            self.arm.home()
        else:
            self.arm.set_gripper(option == OPEN_GRIPPER)
        return False

    def _hover(self, action: Move) -> bool:
        if action.point is None:
            raise CoordinateError("the arm moves to a point in the image, not in a direction")
        p = self.deproject(action.point)
        self.arm.travel_to(p + (0.0, 0.0, HOVER), self.arm.yaw())
        return False

    def _click(self, action: Click) -> bool:
        p = self.deproject(action.point)
        if self.arm.gripper_open():
            self._pick(self._graspable(p, action.point))
        else:
            self._put(p)
        return False

    def _drag(self, action: Drag) -> bool:
        held = self._world().held()
        if held is not None:
            raise RobotActionError(f"the gripper holds the {held.label}: put it down (click) before a drag")
        cube = self._graspable(self.deproject(action.start), action.start)
        p = self.deproject(action.end)
        self._check_reach(cube, p)
        self._pick(cube)
        self._put(p)
        self.arm.home()
        return False

    action_handlers: ClassVar[Mapping[str, Handler]] = MappingProxyType({
        "finished": _finish,
        "choose": _choose,
        "move": _hover,
        "click": _click,
        "drag": _drag,
    })

    def _grasp_yaw(self, cube: ObjectState) -> float:
        """The cube's yaw folded into (-45, 45] degrees, so the wrist turns as little as possible."""
        q = math.pi / 2
        return (cube.yaw + q / 2) % q - q / 2

    def _check_reach(self, cube: ObjectState, place: np.ndarray) -> None:
        """Refuse a drag before moving anything when either end is out of the arm's reach."""
        yaw = self._grasp_yaw(cube)
        self.arm.reachable(cube.pos, yaw)
        self.arm.reachable(place + (0.0, 0.0, 2 * CUBE_HALF + 0.005), yaw)

    def _pick(self, cube: ObjectState) -> None:
        arm = self.arm
        yaw = self._grasp_yaw(cube)
        grasp = cube.pos.copy()
        arm.reachable(grasp, yaw)
        if not arm.gripper_open():
            arm.set_gripper(True)
        arm.travel_to(grasp + (0.0, 0.0, HOVER), yaw)
        arm.line_to(grasp, yaw)
        arm.set_gripper(False)
        arm.line_to(grasp + (0.0, 0.0, HOVER), yaw)

    def _put(self, surface: np.ndarray) -> None:
        arm = self.arm
        held = self._world().held()
        yaw = arm.yaw()
        release = surface + (0.0, 0.0, (CUBE_HALF if held is not None else 0.0) + 0.004)
        arm.reachable(release, yaw)
        arm.travel_to(release + (0.0, 0.0, HOVER), yaw)
        arm.line_to(release, yaw)
        arm.set_gripper(True)
        arm.line_to(release + (0.0, 0.0, HOVER), yaw)


class RobotActionSpace(ActionSpace):
    """The robot's actions; ``sample`` draws ones the arm can perform.

    A gripper option or a hover over a random workspace point, so gymnasium's checker exercises the
    controller instead of its error path.

    Example:
        >>> env = RobotEnv("reach", size=(64, 48))
        >>> env.action_space.seed(0)
        0
        >>> {env.action_space.sample().type for _ in range(20)} == {"choose", "move"}
        True
        >>> env.close()
    """

    def __init__(self, env: RobotEnv, seed: int | None = None) -> None:
        super().__init__(env.supported_actions, env.size, OPTIONS, seed=seed)
        self._env = env

    def sample(self, mask: Any = None, probability: Any = None) -> Any:
        rng = self.np_random
        if rng.random() < 0.5:
            return Choose(option=OPTIONS[int(rng.integers(len(OPTIONS)))])
        x, y = rng.uniform(PLACEMENT_LOW, PLACEMENT_HIGH)
        return Move(point=self._env._project_point(np.array([x, y, 0.0])))
