"""What a task reads of the simulator: where each object is, what the gripper holds, how to project.

Tasks judge success and write the oracle from this snapshot, so they never touch MuJoCo themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from vlagent.actions.coords import Point
from vlagent.envs.robot.scene import BIN_HALF, CUBE_HALF, FLAT_HALF_Z, MARKER_HALF

Kind = Literal["cube", "marker", "bin"]
KINDS: tuple[Kind, ...] = ("cube", "marker", "bin")
#: Half extent of each kind's footprint on the table, and its height above the table top.
HALF: dict[str, float] = {"cube": CUBE_HALF, "marker": MARKER_HALF, "bin": BIN_HALF}
TOP: dict[str, float] = {"cube": 2 * CUBE_HALF, "marker": 2 * FLAT_HALF_Z, "bin": 2 * FLAT_HALF_Z}
#: How far a resting cube's centre may sit from its expected height (metres) and how fast it may move.
REST_Z_TOLERANCE = 0.005
REST_SPEED = 0.05


@dataclass(frozen=True)
class ObjectState:
    """One object: its MuJoCo name, kind, colour, centre, yaw (radians) and linear speed.

    Example:
        >>> ObjectState("cube0", "cube", "red", np.zeros(3), 0.0, 0.0).label
        'red cube'
    """

    name: str
    kind: Kind
    colour: str
    pos: np.ndarray
    yaw: float
    speed: float

    @property
    def label(self) -> str:
        return f"{self.colour} {self.kind}"

    @property
    def top(self) -> np.ndarray:
        """The centre of its top face (what a model points at)."""
        return np.array([self.pos[0], self.pos[1], self.pos[2] + (CUBE_HALF if self.kind == "cube" else FLAT_HALF_Z)])

    def contains(self, p: np.ndarray, margin: float = 0.006) -> bool:
        """Whether ``p`` lies in (or within ``margin`` of) this object's box."""
        c, s = math.cos(-self.yaw), math.sin(-self.yaw)
        dx, dy = p[0] - self.pos[0], p[1] - self.pos[1]
        lx, ly = c * dx - s * dy, s * dx + c * dy
        half = HALF[self.kind]
        hz = CUBE_HALF if self.kind == "cube" else FLAT_HALF_Z
        return abs(lx) <= half + margin and abs(ly) <= half + margin and abs(p[2] - self.pos[2]) <= hz + margin


@dataclass(frozen=True)
class WorldState:
    """A snapshot of the scene for tasks: objects by name, the gripper, and a world-to-screen projection.

    Example:
        >>> cube = ObjectState("cube0", "cube", "red", np.array([0.0, 0.0, 0.02]), 0.0, 0.0)
        >>> world = WorldState({"cube0": cube}, np.array([0.0, 0.0, 0.3]), True, lambda p: None)
        >>> world.find("cube", "red").name, world.held(), world.resting_on(cube, 0.0)
        ('cube0', None, True)
    """

    objects: dict[str, ObjectState]
    tcp: np.ndarray
    gripper_open: bool
    project: Callable[[np.ndarray], Point]

    def find(self, kind: str, colour: str) -> ObjectState:
        """The object of ``kind`` with ``colour`` (a colour names one object of each kind)."""
        for obj in self.objects.values():
            if obj.kind == kind and obj.colour == colour:
                return obj
        raise KeyError(f"no {colour} {kind} in the scene")

    def of_kind(self, kind: str) -> list[ObjectState]:
        return [o for o in self.objects.values() if o.kind == kind]

    def held(self) -> ObjectState | None:
        """The cube between the closed fingers, lifted off what it stood on, if any."""
        if self.gripper_open:
            return None
        for cube in self.of_kind("cube"):
            if np.linalg.norm(cube.pos[:2] - self.tcp[:2]) < 0.02 and abs(cube.pos[2] - self.tcp[2]) < 0.02:
                return cube
        return None

    def resting_on(self, cube: ObjectState, surface_z: float) -> bool:
        """The cube stands still on a surface at height ``surface_z`` and the gripper has let go."""
        return (
            self.held() is not cube
            and abs(cube.pos[2] - (surface_z + CUBE_HALF)) <= REST_Z_TOLERANCE
            and cube.speed < REST_SPEED
        )


def horizontal(a: np.ndarray, b: np.ndarray) -> float:
    """Distance between two points in the table's plane."""
    return float(np.linalg.norm(np.asarray(a)[:2] - np.asarray(b)[:2]))
