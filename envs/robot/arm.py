"""The low-level controller: inverse kinematics and the motions behind move, click and drag.

IK is damped least squares on the tool centre point (TCP, between the finger pads) with the gripper held
top-down at a given yaw; the arm's 7th degree of freedom is pulled towards the home posture in the
Jacobian's null space, so solutions stay close to one familiar configuration. IK is seeded from the
current joint angles (the home pose at the start) and clipped to the joint limits; a target it cannot
reach within :data:`IK_TOLERANCE` is a :class:`~vlagent.actions.errors.CoordinateError` fed back to the
model, never a pose that is merely close.

Motions are straight lines in Cartesian space, cut into short segments, each solved by IK and sent to
joint position actuators at a capped joint speed, then the physics steps until the arm has settled.
Every waypoint keeps the TCP at least :data:`MIN_TCP_Z` above the table, so the arm never drives
through it, and travel between two points happens at :data:`TRAVEL_Z`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from vlagent.actions.errors import CoordinateError
from vlagent.envs.robot.scene import ARM_JOINTS, FINGER_JOINTS, FINGER_OPEN, TCP_SITE

#: The named actions ``choose`` takes: the gripper and the home pose (the controller's own moves).
OPEN_GRIPPER: Final = "open_gripper"
CLOSE_GRIPPER: Final = "close_gripper"
HOME: Final = "home"
OPTIONS: Final[tuple[str, ...]] = (OPEN_GRIPPER, CLOSE_GRIPPER, HOME)
#: Largest TCP position error an IK solution may keep (metres).
IK_TOLERANCE: Final = 0.005
#: Lowest TCP height (the pads' centre) a motion may command: the fingertips stay clear of the table.
MIN_TCP_Z: Final = 0.018
#: Height above the table at which the arm travels from one point to another.
TRAVEL_Z: Final = 0.16
#: Hover offset above a pointed-at surface (``move``).
HOVER: Final = 0.10
#: Joint speed cap (rad/s) and Cartesian speed (m/s) of the streamed waypoints.
MAX_JOINT_SPEED: Final = 2.5
CARTESIAN_SPEED: Final = 0.6
#: Waypoint spacing along a straight line (metres).
SEGMENT: Final = 0.02
#: The safety watch (lowest TCP, arm-table contacts) samples every this many physics steps (10 ms at the
#: scene's 2 ms timestep): reading contacts on every step would double the cost of a motion.
WATCH_EVERY: Final = 5
#: A seed posture: planar, pitches summing to pi, so the gripper points down in front of the base.
SEED_POSTURE: Final = np.array([0.0, 0.25, 0.0, 1.75, 0.0, 1.14, 0.0])
#: Where the TCP rests at home: high over the arm's own base, out of the camera's way.
HOME_TCP: Final = np.array([0.0, 0.12, 0.42])


def top_down(yaw: float) -> np.ndarray:
    """The rotation of a gripper pointing straight down with its closing axis at ``yaw`` (radians).

    Example:
        >>> top_down(0.0).round(3).tolist()
        [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]]
    """
    x = np.array([math.cos(yaw), math.sin(yaw), 0.0])
    z = np.array([0.0, 0.0, -1.0])
    y = np.cross(z, x)
    return np.column_stack([x, y, z])


@dataclass
class IKResult:
    """A joint solution and how far its TCP ended from the target (position metres, rotation radians).

    Example:
        >>> IKResult(np.zeros(7), 0.0004, 0.001).position_error < IK_TOLERANCE
        True
    """

    q: np.ndarray
    position_error: float
    rotation_error: float


class Arm:
    """IK and motion for the scene's arm, on a MuJoCo model and its live data.

    Example:
        >>> from vlagent.envs.robot.env import RobotEnv
        >>> env = RobotEnv("reach", size=(64, 48))
        >>> arm = env.arm
        >>> arm.reachable(np.array([0.0, -0.1, 0.05]), 0.0).position_error < IK_TOLERANCE
        True
        >>> arm.travel_to(np.array([0.1, -0.1, 0.12]), 0.0)
        >>> bool(np.linalg.norm(arm.tcp() - (0.1, -0.1, 0.12)) < IK_TOLERANCE)
        True
        >>> env.close()
    """

    def __init__(self, model: Any, data: Any) -> None:
        import mujoco

        self._mj = mujoco
        self.model = model
        self.data = data
        self._ik = mujoco.MjData(model)
        self.qadr = np.array([model.jnt_qposadr[model.joint(j).id] for j in ARM_JOINTS])
        self.dadr = np.array([model.jnt_dofadr[model.joint(j).id] for j in ARM_JOINTS])
        self.finger_qadr = np.array([model.jnt_qposadr[model.joint(j).id] for j in FINGER_JOINTS])
        self.arm_act = np.array([model.actuator(j).id for j in ARM_JOINTS])
        self.finger_act = np.array([model.actuator(j).id for j in FINGER_JOINTS])
        self.low = np.array([model.jnt_range[model.joint(j).id][0] for j in ARM_JOINTS])
        self.high = np.array([model.jnt_range[model.joint(j).id][1] for j in ARM_JOINTS])
        self.site = model.site(TCP_SITE).id
        self.steps = 0  # physics steps taken, for the benchmark
        # What the safety checks read: the lowest the TCP went and the physics steps in which any arm geom
        # touched the table (both since the last reset_watch()).
        base = model.body("base").id
        self._arm_geom = np.array([model.body_rootid[model.geom_bodyid[g]] == base for g in range(model.ngeom)])
        self._table = model.geom("table").id
        self.reset_watch()
        home = self.solve(HOME_TCP, 0.0, seed=SEED_POSTURE, posture=SEED_POSTURE)
        if home.position_error > IK_TOLERANCE:
            raise RuntimeError(f"the home pose is unreachable ({home.position_error:.4f} m): scene bug")
        self.home_q = home.q

    # ---- kinematics ------------------------------------------------------------------------------------
    def solve(self, target: np.ndarray, yaw: float, *, seed: np.ndarray, posture: np.ndarray | None = None,
              iterations: int = 150) -> IKResult:
        """Joint angles putting the TCP at ``target`` pointing down at ``yaw`` (damped least squares)."""
        mj, m, d = self._mj, self.model, self._ik
        posture = self.home_q if posture is None else posture
        rot_t = top_down(yaw)
        q = np.clip(np.asarray(seed, float).copy(), self.low, self.high)
        jacp = np.zeros((3, m.nv))
        jacr = np.zeros((3, m.nv))
        lam2 = 1e-4
        pos_err = rot_err = math.inf
        for _ in range(iterations):
            d.qpos[self.qadr] = q
            mj.mj_kinematics(m, d)
            mj.mj_comPos(m, d)
            pos = d.site_xpos[self.site]
            rot = d.site_xmat[self.site].reshape(3, 3)
            e_pos = target - pos
            e_rot = 0.5 * sum(np.cross(rot[:, i], rot_t[:, i]) for i in range(3))
            pos_err, rot_err = float(np.linalg.norm(e_pos)), float(np.linalg.norm(e_rot))
            if pos_err < 2e-4 and rot_err < 2e-3:
                break
            mj.mj_jacSite(m, d, jacp, jacr, self.site)
            jac = np.vstack([jacp[:, self.dadr], jacr[:, self.dadr]])
            err = np.concatenate([e_pos, 0.5 * e_rot])
            jj = jac @ jac.T + lam2 * np.eye(6)
            dq = jac.T @ np.linalg.solve(jj, err)
            null = np.eye(7) - np.linalg.pinv(jac) @ jac
            dq += null @ (0.1 * (posture - q))
            step = float(np.max(np.abs(dq)))
            if step > 0.3:
                dq *= 0.3 / step
            q = np.clip(q + dq, self.low, self.high)
        return IKResult(q, pos_err, rot_err)

    def tcp(self) -> np.ndarray:
        """Where the TCP is now (world coordinates)."""
        return self.data.site_xpos[self.site].copy()

    def q(self) -> np.ndarray:
        return self.data.qpos[self.qadr].copy()

    def reachable(self, target: np.ndarray, yaw: float) -> IKResult:
        """The IK solution for ``target`` from the current pose, or a CoordinateError when out of reach."""
        result = self.solve(target, yaw, seed=self.q())
        if result.position_error > IK_TOLERANCE:
            result = self.solve(target, yaw, seed=self.home_q)  # a fresh start can escape a bad branch
        if result.position_error > IK_TOLERANCE or result.rotation_error > 0.05:
            raise CoordinateError(
                f"the arm cannot reach ({target[0]:.3f}, {target[1]:.3f}, {target[2]:.3f}) m with the gripper "
                f"down (IK residual {result.position_error * 1000:.1f} mm)"
            )
        return result

    # ---- motion ----------------------------------------------------------------------------------------
    def run(self, n: int) -> None:
        """Step the physics ``n`` times (counted in :attr:`steps`), watching the TCP height and table contacts."""
        mj, m, d = self._mj, self.model, self.data
        for _ in range(n):
            mj.mj_step(m, d)
            self._watched += 1
            if self._watched % WATCH_EVERY:
                continue
            self.lowest_tcp_z = min(self.lowest_tcp_z, float(d.site_xpos[self.site][2]))
            if d.ncon:
                g = d.contact.geom
                touch = ((g[:, 0] == self._table) & self._arm_geom[g[:, 1]]) | (
                    (g[:, 1] == self._table) & self._arm_geom[g[:, 0]])
                self.table_contacts += int(touch.any())
        self.steps += n

    def reset_watch(self) -> None:
        """Start watching afresh (each env step reports what its own motion did)."""
        self.lowest_tcp_z = math.inf
        self.table_contacts = 0
        self._watched = 0  # steps since, so the sampling is the same for the same motion

    def _drive(self, q_target: np.ndarray, min_time: float) -> None:
        """Ramp the joint targets to ``q_target`` at the capped speed (at least ``min_time`` seconds)."""
        dt = self.model.opt.timestep
        q0 = self.data.ctrl[self.arm_act].copy()
        span = float(np.max(np.abs(q_target - q0)))
        n = max(1, math.ceil(max(span / MAX_JOINT_SPEED, min_time) / dt))
        for k in range(1, n + 1):
            self.data.ctrl[self.arm_act] = q0 + (q_target - q0) * (k / n)
            self.run(1)

    def settle(self, max_steps: int = 600, tol: float = 2e-3) -> None:
        """Step until the arm's joints are within ``tol`` of their targets and nearly still."""
        for _ in range(max_steps // 10):
            err = np.max(np.abs(self.data.qpos[self.qadr] - self.data.ctrl[self.arm_act]))
            speed = np.max(np.abs(self.data.qvel[self.dadr]))
            if err < tol and speed < 0.02:
                return
            self.run(10)

    def plan_line(self, start: np.ndarray, end: np.ndarray, yaw: float) -> list[np.ndarray]:
        """Joint waypoints along the straight line ``start -> end``; CoordinateError if any is unreachable."""
        dist = float(np.linalg.norm(end - start))
        n = max(1, math.ceil(dist / SEGMENT))
        q = self.q()
        out = []
        for k in range(1, n + 1):
            p = start + (end - start) * (k / n)
            p[2] = max(p[2], MIN_TCP_Z)
            result = self.solve(p, yaw, seed=q, iterations=60)
            if result.position_error > IK_TOLERANCE:
                result = self.solve(p, yaw, seed=self.home_q)
            if result.position_error > IK_TOLERANCE:
                raise CoordinateError(
                    f"the arm cannot follow a straight path to ({end[0]:.3f}, {end[1]:.3f}, {end[2]:.3f}) m "
                    f"(IK residual {result.position_error * 1000:.1f} mm)"
                )
            q = result.q
            out.append(q)
        return out

    def follow(self, waypoints: list[np.ndarray], dist: float) -> None:
        """Stream joint waypoints at the Cartesian speed, then let the arm settle."""
        per = dist / max(len(waypoints), 1) / CARTESIAN_SPEED
        for q in waypoints:
            self._drive(q, per)
        self.settle()

    def line_to(self, target: np.ndarray, yaw: float) -> None:
        """Move the TCP in a straight line to ``target``."""
        start = self.tcp()
        target = np.array(target, float)
        target[2] = max(target[2], MIN_TCP_Z)
        self.follow(self.plan_line(start, target, yaw), float(np.linalg.norm(target - start)))

    def travel_to(self, target: np.ndarray, yaw: float) -> None:
        """Up to the travel height, across, and down to ``target`` (checked for reachability first)."""
        target = np.array(target, float)
        target[2] = max(target[2], MIN_TCP_Z)
        self.reachable(target, yaw)
        here = self.tcp()
        lift = max(TRAVEL_Z, target[2])
        if here[2] < lift - 1e-3:
            self.line_to(np.array([here[0], here[1], lift]), yaw)
        above = np.array([target[0], target[1], max(lift, target[2])])
        self.line_to(above, yaw)
        if target[2] < above[2] - 1e-3:
            self.line_to(target, yaw)

    def home(self) -> None:
        """Lift to the travel height, then go back to the home pose."""
        here = self.tcp()
        if here[2] < TRAVEL_Z:
            self.line_to(np.array([here[0], here[1], TRAVEL_Z]), self.yaw())
        self._drive(self.home_q, 0.2)
        self.settle()

    def yaw(self) -> float:
        """The gripper's current closing-axis yaw."""
        rot = self.data.site_xmat[self.site].reshape(3, 3)
        return math.atan2(rot[1, 0], rot[0, 0])

    # ---- gripper ---------------------------------------------------------------------------------------
    def gripper_open(self) -> bool:
        return bool(self.data.ctrl[self.finger_act[0]] > FINGER_OPEN / 2)

    def set_gripper(self, open_: bool, *, max_steps: int = 400) -> None:
        """Open or close the fingers and wait until they stop moving (closed on an object, or fully)."""
        self.data.ctrl[self.finger_act] = FINGER_OPEN if open_ else 0.0
        self.run(40)
        last = self.data.qpos[self.finger_qadr].copy()
        for _ in range(max_steps // 20):
            self.run(20)
            now = self.data.qpos[self.finger_qadr].copy()
            if np.max(np.abs(now - last)) < 2e-5:
                return
            last = now

    def place_home(self) -> None:
        """Put the arm at home instantly (episode start): joints, targets and an open gripper."""
        self.data.qpos[self.qadr] = self.home_q
        self.data.qvel[:] = 0
        self.data.ctrl[self.arm_act] = self.home_q
        self.data.qpos[self.finger_qadr] = FINGER_OPEN
        self.data.ctrl[self.finger_act] = FINGER_OPEN
        self._mj.mj_forward(self.model, self.data)
