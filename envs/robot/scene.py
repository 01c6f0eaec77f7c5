"""The tabletop scene as MJCF: a grey table, a 7-DoF arm with a parallel gripper, cubes and flat markers.

The arm is built from primitive geoms (capsules, cylinders, boxes), so the scene needs no asset package
and nothing is downloaded. World frame: the table top is ``z = 0``, ``+y`` points away from the camera,
the arm stands at the table's back edge and reaches towards the camera. Units are metres.

Rendering cost is dominated by shadows and anti-aliasing; both are off (``shadowsize="0"``,
``offsamples="0"``, lights with ``castshadow="false"``): with the defaults a 640x480 frame took
~930 ms on Mesa's CPU driver, without them ~75 ms. Gravity compensation is set in the MJCF
(``gravcomp="1"`` on the arm's bodies), before compiling: setting ``body_gravcomp`` afterwards is ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from vlagent.envs.robot.palette import ARM_DARK_RGB, ARM_RGB, FLOOR_RGB, TABLE_RGB

#: Half extents of the table top (x, y); the top surface is at z = 0.
TABLE_HALF: Final = (0.45, 0.35)
#: Where the arm's base stands (on the table's back edge).
BASE_POS: Final = (0.0, 0.36, 0.0)
#: Half the edge of a cube.
CUBE_HALF: Final = 0.02
#: Half the side and half the thickness of a flat marker (pick-place goals) and of a bin (sort).
MARKER_HALF: Final = 0.04
BIN_HALF: Final = 0.06
FLAT_HALF_Z: Final = 0.001
#: Where the arm may put its tool centre: (low, high) per axis. Pixels outside it are refused.
WORKSPACE_LOW: Final = np.array([-0.27, -0.22, 0.0])
WORKSPACE_HIGH: Final = np.array([0.27, 0.14, 0.35])
#: Arm joint names in kinematic order, and the two finger joints.
ARM_JOINTS: Final = tuple(f"j{i}" for i in range(1, 8))
FINGER_JOINTS: Final = ("finger_l", "finger_r")
#: Finger travel: 0 is closed (the pads touch), FINGER_OPEN each side is fully open.
FINGER_OPEN: Final = 0.045
CAMERA_NAME: Final = "scene"
TCP_SITE: Final = "tcp"


@dataclass(frozen=True)
class CameraPose:
    """A fixed camera: where it is, the point it looks at, its vertical field of view in degrees.

    Example:
        >>> CameraPose().fovy
        45.0
    """

    pos: tuple[float, float, float] = (0.0, -0.82, 0.86)
    lookat: tuple[float, float, float] = (0.0, 0.06, 0.1)
    fovy: float = 45.0

    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        """The camera's x (right) and y (up) axes in world coordinates (MuJoCo looks along its -z)."""
        forward = np.asarray(self.lookat, float) - np.asarray(self.pos, float)
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, (0.0, 0.0, 1.0))
        if np.linalg.norm(right) < 1e-9:
            raise ValueError("the camera looks straight down; give it a lookat point off its vertical")
        right /= np.linalg.norm(right)
        up = np.cross(right, forward)
        return right, up


@dataclass(frozen=True)
class Layout:
    """How many cubes, markers and bins a task's scene holds (colours and poses are set at reset)."""

    cubes: int
    markers: int = 0
    bins: int = 0

    def objects(self) -> list[tuple[str, str]]:
        """``(name, kind)`` of every object, as the MJCF names them (``cube0``, ``marker0``, ``bin0``, ...).

        Example:
            >>> Layout(cubes=2, bins=1).objects()
            [('cube0', 'cube'), ('cube1', 'cube'), ('bin0', 'bin')]
        """
        counts = (("cube", self.cubes), ("marker", self.markers), ("bin", self.bins))
        return [(f"{kind}{i}", kind) for kind, n in counts for i in range(n)]


def _rgba(rgb: tuple[float, float, float]) -> str:
    return f"{rgb[0]:.3f} {rgb[1]:.3f} {rgb[2]:.3f} 1"


def _arm_xml() -> str:
    """The arm: 7 revolute joints (yaw, pitch, roll, elbow pitch, roll, wrist pitch, roll) and a gripper."""
    light, dark = _rgba(ARM_RGB), _rgba(ARM_DARK_RGB)
    deg = math.pi / 180
    lim = {
        "j1": (-170, 170), "j2": (-100, 100), "j3": (-170, 170), "j4": (-10, 165),
        "j5": (-170, 170), "j6": (-125, 125), "j7": (-175, 175),
    }

    def rng(j: str) -> str:
        lo, hi = lim[j]
        return f'range="{lo * deg:.4f} {hi * deg:.4f}"'

    bx, by, bz = BASE_POS
    return f"""
    <body name="base" pos="{bx} {by} {bz}">
      <geom class="arm" type="cylinder" size="0.075 0.05" pos="0 0 0.05" rgba="{dark}"/>
      <body name="link1" pos="0 0 0.1" gravcomp="1">
        <joint name="j1" axis="0 0 1" {rng("j1")}/>
        <geom class="arm" type="cylinder" size="0.055 0.07" pos="0 0 0.07" rgba="{light}"/>
        <body name="link2" pos="0 0 0.15" gravcomp="1">
          <joint name="j2" axis="1 0 0" {rng("j2")}/>
          <geom class="arm" type="capsule" fromto="0 0 0 0 0 0.38" size="0.045" rgba="{light}"/>
          <body name="link3" pos="0 0 0.38" gravcomp="1">
            <joint name="j3" axis="0 0 1" {rng("j3")}/>
            <geom class="arm" type="cylinder" size="0.05 0.03" axisangle="0 1 0 90" rgba="{dark}"/>
            <body name="link4" pos="0 0 0" gravcomp="1">
              <joint name="j4" axis="1 0 0" {rng("j4")}/>
              <geom class="arm" type="capsule" fromto="0 0 0 0 0 0.34" size="0.038" rgba="{light}"/>
              <body name="link5" pos="0 0 0.34" gravcomp="1">
                <joint name="j5" axis="0 0 1" {rng("j5")}/>
                <inertial pos="0 0 0" mass="0.2" diaginertia="2e-4 2e-4 2e-4"/>
                <body name="link6" pos="0 0 0" gravcomp="1">
                  <joint name="j6" axis="1 0 0" {rng("j6")}/>
                  <geom class="arm" type="cylinder" size="0.04 0.025" axisangle="0 1 0 90" rgba="{dark}"/>
                  <geom class="arm" type="capsule" fromto="0 0 0 0 0 0.06" size="0.032" rgba="{light}"/>
                  <body name="link7" pos="0 0 0.08" gravcomp="1">
                    <joint name="j7" axis="0 0 1" {rng("j7")}/>
                    <geom class="arm" type="cylinder" size="0.035 0.01" pos="0 0 0.0" rgba="{dark}"/>
                    <geom class="arm" type="box" size="0.065 0.02 0.015" pos="0 0 0.025" rgba="{light}"/>
                    <site name="{TCP_SITE}" pos="0 0 0.1" size="0.004" rgba="1 1 1 0"/>
                    <body name="finger_l" pos="0 0 0.04" gravcomp="1">
                      <joint name="finger_l" type="slide" axis="-1 0 0" range="0 {FINGER_OPEN}"/>
                      <geom class="arm" type="box" size="0.006 0.012 0.035" pos="-0.006 0 0.035" rgba="{dark}"
                            friction="2 0.05 0.001" condim="4" mass="0.05"/>
                    </body>
                    <body name="finger_r" pos="0 0 0.04" gravcomp="1">
                      <joint name="finger_r" type="slide" axis="1 0 0" range="0 {FINGER_OPEN}"/>
                      <geom class="arm" type="box" size="0.006 0.012 0.035" pos="0.006 0 0.035" rgba="{dark}"
                            friction="2 0.05 0.001" condim="4" mass="0.05"/>
                    </body>
                  </body>
                </body>
              </body>
            </body>
          </body>
        </body>
      </body>
    </body>"""


def mjcf(layout: Layout, camera: CameraPose, size: tuple[int, int]) -> str:
    """The scene's MJCF text for ``layout`` seen by ``camera`` at ``size`` (width, height) pixels.

    Objects are named ``cube0..``, ``marker0..``, ``bin0..``; they start grey and off to the side, and a
    task gives them colours and poses at reset.

    Example:
        >>> text = mjcf(Layout(cubes=2, markers=1), CameraPose(), (160, 120))
        >>> 'name="cube1"' in text and 'name="marker0"' in text
        True
    """
    w, h = size
    right, up = camera.axes()
    xyaxes = " ".join(f"{v:.6f}" for v in (*right, *up))
    tx, ty = TABLE_HALF
    objects = []
    for i, (name, kind) in enumerate(layout.objects()):
        if kind == "cube":
            objects.append(f"""
    <body name="{name}" pos="{-0.3 + 0.1 * i} -0.3 {CUBE_HALF}">
      <freejoint name="{name}"/>
      <geom name="{name}" type="box" size="{CUBE_HALF} {CUBE_HALF} {CUBE_HALF}" mass="0.05"
            friction="1.5 0.05 0.001" condim="4" rgba="0.5 0.5 0.5 1"/>
    </body>""")
        else:
            half = MARKER_HALF if kind == "marker" else BIN_HALF
            objects.append(f"""
    <body name="{name}" pos="{-0.3 + 0.1 * i} 0.3 {FLAT_HALF_Z}">
      <geom name="{name}" type="box" size="{half} {half} {FLAT_HALF_Z}" rgba="0.5 0.5 0.5 1"/>
    </body>""")
    actuators = "\n".join(
        f'    <position name="{j}" joint="{j}" kp="600" kv="60" forcerange="-150 150"/>' for j in ARM_JOINTS
    )
    fingers = "\n".join(
        f'    <position name="{j}" joint="{j}" kp="300" kv="8" ctrlrange="0 {FINGER_OPEN}" forcerange="-12 12"/>'
        for j in FINGER_JOINTS
    )
    return f"""<mujoco model="vlagent-tabletop">
  <compiler angle="radian"/>
  <option timestep="0.002" integrator="implicitfast" cone="elliptic" impratio="10"/>
  <visual>
    <global offwidth="{w}" offheight="{h}"/>
    <quality shadowsize="0" offsamples="0"/>
    <map znear="0.02" zfar="10"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.45 0.45 0.45" specular="0 0 0"/>
    <rgba haze="0 0 0 0"/>
  </visual>
  <asset>
    <texture type="skybox" builtin="flat" rgb1="0.22 0.23 0.26" rgb2="0.22 0.23 0.26" width="8" height="8"/>
  </asset>
  <default>
    <joint damping="2" armature="0.05"/>
    <!-- Everything but the arm collides with everything (contype 1, conaffinity 3); the arm's links
         (contype 2, conaffinity 0) touch the scene but not each other: its capsules overlap at the joints. -->
    <geom density="600" solref="0.004 1" contype="1" conaffinity="3"/>
    <default class="arm">
      <geom contype="2" conaffinity="0"/>
    </default>
  </default>
  <worldbody>
    <light pos="0 -0.4 1.6" dir="0 0.2 -1" directional="true" castshadow="false" diffuse="0.5 0.5 0.5"/>
    <camera name="{CAMERA_NAME}" pos="{camera.pos[0]} {camera.pos[1]} {camera.pos[2]}" xyaxes="{xyaxes}"
            fovy="{camera.fovy}"/>
    <geom name="floor" type="plane" pos="0 0 -0.75" size="1.5 1.5 0.1" rgba="{_rgba(FLOOR_RGB)}"/>
    <geom name="table" type="box" pos="0 0 -0.375" size="{tx} {ty} 0.375" rgba="{_rgba(TABLE_RGB)}"
          friction="1 0.05 0.001"/>
{_arm_xml()}
{"".join(objects)}
  </worldbody>
  <actuator>
{actuators}
{fingers}
  </actuator>
</mujoco>
"""
