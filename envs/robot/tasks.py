"""The robot tasks: a text naming objects by colour and kind, success from simulator state, an oracle.

The oracle's next action is the projected object and goal points as a screen-space action.

=============  ==========================================  =============================================
task           text                                        success
=============  ==========================================  =============================================
reach          move the gripper above the red cube         the TCP within 2 cm of it horizontally, above
pick           pick up the blue cube                       lifted more than 5 cm
pick-place     put the red cube on the green marker        resting on it within 3 cm, gripper open
stack          stack the yellow cube on the blue cube      resting on it within 2 cm, gripper open
sort           put every cube in the bin of its colour     each cube resting inside its bin, gripper open
beside         put the red cube to the left of the blue    resting 5-15 cm to that side (as the camera
               cube                                        sees it), within 4 cm front/back, gripper open
=============  ==========================================  =============================================

A task's text patterns are derived from its templates, so the phrasings it writes are the ones it reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from vlagent.actions.errors import EnvError
from vlagent.actions.models import Action, Choose, Click, Drag, Move
from vlagent.envs.base import task_key
from vlagent.envs.robot.arm import HOME, OPEN_GRIPPER
from vlagent.envs.robot.palette import COLOUR_NAMES
from vlagent.envs.robot.scene import CUBE_HALF, FLAT_HALF_Z, WORKSPACE_HIGH, WORKSPACE_LOW, Layout
from vlagent.envs.robot.state import HALF, Kind, ObjectState, WorldState, horizontal

SIDES: tuple[str, ...] = ("left", "right")
#: Centre-to-centre offset the beside oracle places a cube at, and the accepted band.
BESIDE_OFFSET = 0.085
BESIDE_BAND = (0.05, 0.15)
BESIDE_DEPTH = 0.04


@dataclass(frozen=True)
class Goal:
    """Which colours play which role in a task (``{"cube": "red", "marker": "green"}``) and a side.

    Example:
        >>> Goal({"cube": "red"}).colours["cube"]
        'red'
    """

    colours: dict[str, str] = field(default_factory=dict)
    side: str | None = None


def _pattern(template: str) -> re.Pattern[str]:
    """A regex reading ``template``'s phrasing back: ``{role}`` is a colour, ``{side}`` left or right."""
    colour = "|".join(COLOUR_NAMES)
    out = ""
    for part in re.split(r"(\{\w+\})", template):
        if part == "{side}":
            out += f"(?P<side>{'|'.join(SIDES)})"
        elif part.startswith("{"):
            out += f"(?P<{part[1:-1]}>{colour})"
        else:
            out += r"\s+".join(re.escape(w) for w in part.split(" "))
    return re.compile(out, re.IGNORECASE)


class RobotTask:
    """One task kind. Subclasses set the class attributes and :meth:`success` / :meth:`oracle`.

    Example:
        >>> task = TASKS["stack"]
        >>> goal = task.parse("Stack the yellow cube on the blue cube.")
        >>> goal.colours, task.text(goal)
        ({'top': 'yellow', 'bottom': 'blue'}, 'stack the yellow cube on the blue cube')
        >>> task.draw(np.random.default_rng(0), goal)[1]["cube0"]
        'yellow'
    """

    name: ClassVar[str]
    description: ClassVar[str]
    layout: ClassVar[Layout]
    #: (role, kind) pairs; the first objects of each kind play the roles, in order.
    roles: ClassVar[tuple[tuple[str, Kind], ...]] = ()
    template: ClassVar[str]
    uses_side: ClassVar[bool] = False

    # ---- text ----------------------------------------------------------------------------------------
    def text(self, goal: Goal) -> str:
        return self.template.format(**goal.colours, side=goal.side or "")

    def parse(self, text: str) -> Goal | None:
        """The goal a task text states, or ``None`` when it is not this task's phrasing."""
        norm = task_key(text)
        m = _pattern(self.template).fullmatch(norm)
        if not m:
            return None
        groups = {k: v.lower() for k, v in m.groupdict().items()}
        side = groups.pop("side", None)
        if len(set(groups.values())) != len(groups):
            return None  # two roles of one colour: a colour names one object
        return Goal(groups, side)

    @property
    def example(self) -> str:
        return self.text(Goal({role: COLOUR_NAMES[i] for i, (role, _) in enumerate(self.roles)}, SIDES[0]))

    # ---- episode set-up ------------------------------------------------------------------------------
    def draw(self, rng: np.random.Generator, goal: Goal | None) -> tuple[Goal, dict[str, str]]:
        """The goal (``goal`` when given) and every object's colour, by object name.

        Draws the same random numbers whether or not ``goal`` is given.
        """
        perm = [COLOUR_NAMES[int(i)] for i in rng.permutation(len(COLOUR_NAMES))]
        side = SIDES[int(rng.integers(len(SIDES)))]
        drawn = Goal({role: perm[i] for i, (role, _) in enumerate(self.roles)}, side if self.uses_side else None)
        goal = goal or drawn
        colours: dict[str, str] = {}
        counters = {"cube": 0, "marker": 0, "bin": 0}
        for role, kind in self.roles:
            colours[f"{kind}{counters[kind]}"] = goal.colours[role]
            counters[kind] += 1
        spare = iter(c for c in perm if c not in goal.colours.values())
        for kind, n in (("cube", self.layout.cubes), ("marker", self.layout.markers), ("bin", self.layout.bins)):
            for i in range(counters[kind], n):
                colours[f"{kind}{i}"] = next(spare)
        return goal, colours

    def start_ok(self, world: WorldState, goal: Goal) -> bool:
        """Whether a drawn start is a fair episode (not solved already, the goal spot free)."""
        return not self.success(world, goal)

    # ---- judging and the oracle ----------------------------------------------------------------------
    def success(self, world: WorldState, goal: Goal) -> bool:
        raise NotImplementedError

    def oracle(self, world: WorldState, goal: Goal) -> Action | None:
        raise NotImplementedError


def _carry(world: WorldState, cube: ObjectState, target: np.ndarray) -> Action:
    """Bring ``cube`` to the surface point ``target``: a drag, or a click when it is already held."""
    held = world.held()
    if held is cube:
        return Click(point=world.project(target))
    if held is not None:
        return Choose(option=OPEN_GRIPPER)  # something else is in the way: let it go first
    return Drag(start=world.project(cube.top), end=world.project(target))


class Reach(RobotTask):
    name = "reach"
    description = "move the gripper above a cube"
    layout = Layout(cubes=3)
    roles = (("cube", "cube"),)
    template = "move the gripper above the {cube} cube"

    def success(self, world: WorldState, goal: Goal) -> bool:
        cube = world.find("cube", goal.colours["cube"])
        return horizontal(world.tcp, cube.pos) < 0.02 and world.tcp[2] > cube.top[2]

    def oracle(self, world: WorldState, goal: Goal) -> Action | None:
        return Move(point=world.project(world.find("cube", goal.colours["cube"]).top))


class Pick(RobotTask):
    name = "pick"
    description = "pick up a cube"
    layout = Layout(cubes=3)
    roles = (("cube", "cube"),)
    template = "pick up the {cube} cube"

    def success(self, world: WorldState, goal: Goal) -> bool:
        return bool(world.find("cube", goal.colours["cube"]).pos[2] > CUBE_HALF + 0.05)

    def oracle(self, world: WorldState, goal: Goal) -> Action | None:
        cube = world.find("cube", goal.colours["cube"])
        if not world.gripper_open:
            return Choose(option=OPEN_GRIPPER)
        return Click(point=world.project(cube.top))


class PickPlace(RobotTask):
    name = "pick-place"
    description = "put a cube on a flat marker"
    layout = Layout(cubes=2, markers=2)
    roles = (("cube", "cube"), ("marker", "marker"))
    template = "put the {cube} cube on the {marker} marker"

    def success(self, world: WorldState, goal: Goal) -> bool:
        cube = world.find("cube", goal.colours["cube"])
        marker = world.find("marker", goal.colours["marker"])
        return (world.gripper_open and horizontal(cube.pos, marker.pos) < 0.03
                and world.resting_on(cube, 2 * FLAT_HALF_Z))

    def oracle(self, world: WorldState, goal: Goal) -> Action | None:
        cube = world.find("cube", goal.colours["cube"])
        return _carry(world, cube, world.find("marker", goal.colours["marker"]).top)


class Stack(RobotTask):
    name = "stack"
    description = "stack one cube on another"
    layout = Layout(cubes=3)
    roles = (("top", "cube"), ("bottom", "cube"))
    template = "stack the {top} cube on the {bottom} cube"

    def success(self, world: WorldState, goal: Goal) -> bool:
        top = world.find("cube", goal.colours["top"])
        bottom = world.find("cube", goal.colours["bottom"])
        return (world.gripper_open and horizontal(top.pos, bottom.pos) < 0.02
                and world.resting_on(top, bottom.pos[2] + CUBE_HALF) and world.resting_on(bottom, 0.0))

    def oracle(self, world: WorldState, goal: Goal) -> Action | None:
        top = world.find("cube", goal.colours["top"])
        return _carry(world, top, world.find("cube", goal.colours["bottom"]).top)


class Sort(RobotTask):
    name = "sort"
    description = "put every cube in the bin of its colour"
    layout = Layout(cubes=3, bins=3)
    template = "put every cube in the bin of its colour"

    def draw(self, rng: np.random.Generator, goal: Goal | None) -> tuple[Goal, dict[str, str]]:
        perm = [COLOUR_NAMES[int(i)] for i in rng.permutation(len(COLOUR_NAMES))]
        cubes = perm[: self.layout.cubes]
        bins = [cubes[int(i)] for i in rng.permutation(len(cubes))]
        colours = {f"cube{i}": c for i, c in enumerate(cubes)} | {f"bin{i}": c for i, c in enumerate(bins)}
        return Goal(), colours

    def _sorted(self, world: WorldState, cube: ObjectState) -> bool:
        bin_ = world.find("bin", cube.colour)
        inside = all(abs(cube.pos[i] - bin_.pos[i]) < HALF["bin"] - 0.01 for i in (0, 1))
        return inside and world.resting_on(cube, 2 * FLAT_HALF_Z)

    def success(self, world: WorldState, goal: Goal) -> bool:
        return world.gripper_open and all(self._sorted(world, c) for c in world.of_kind("cube"))

    def start_ok(self, world: WorldState, goal: Goal) -> bool:
        return not any(self._sorted(world, c) for c in world.of_kind("cube"))

    def oracle(self, world: WorldState, goal: Goal) -> Action | None:
        for cube in world.of_kind("cube"):
            if not self._sorted(world, cube):
                return _carry(world, cube, world.find("bin", cube.colour).top)
        return Choose(option=OPEN_GRIPPER) if not world.gripper_open else Choose(option=HOME)


class Beside(RobotTask):
    name = "beside"
    description = "put a cube to the left or right of another, as the camera sees it"
    layout = Layout(cubes=3)
    roles = (("cube", "cube"), ("ref", "cube"))
    template = "put the {cube} cube to the {side} of the {ref} cube"
    uses_side = True

    @staticmethod
    def _sign(goal: Goal) -> float:
        return -1.0 if goal.side == "left" else 1.0  # the camera's right is the world's +x

    def spot(self, world: WorldState, goal: Goal) -> np.ndarray:
        """Where the oracle puts the cube: beside the reference cube, on the table."""
        ref = world.find("cube", goal.colours["ref"])
        return np.array([ref.pos[0] + self._sign(goal) * BESIDE_OFFSET, ref.pos[1], 0.0])

    def success(self, world: WorldState, goal: Goal) -> bool:
        cube = world.find("cube", goal.colours["cube"])
        ref = world.find("cube", goal.colours["ref"])
        along = self._sign(goal) * (cube.pos[0] - ref.pos[0])
        return (world.gripper_open and BESIDE_BAND[0] <= along <= BESIDE_BAND[1]
                and abs(cube.pos[1] - ref.pos[1]) <= BESIDE_DEPTH and world.resting_on(cube, 0.0))

    def start_ok(self, world: WorldState, goal: Goal) -> bool:
        """Solved already, or no room on that side of the reference cube: draw the scene again."""
        spot = self.spot(world, goal)
        if not (WORKSPACE_LOW[0] + 0.03 <= spot[0] <= WORKSPACE_HIGH[0] - 0.03):
            return False
        mover = world.find("cube", goal.colours["cube"])
        ref = world.find("cube", goal.colours["ref"])
        # Each other object's footprint (a cube's rotated corners included) clear of the cube put down there.
        clear = all(horizontal(o.pos, spot) > (HALF[o.kind] + CUBE_HALF) * 1.5 + 0.01
                    for o in world.objects.values() if o is not mover and o is not ref)
        return clear and super().start_ok(world, goal)

    def oracle(self, world: WorldState, goal: Goal) -> Action | None:
        return _carry(world, world.find("cube", goal.colours["cube"]), self.spot(world, goal))


#: Every robot task by its spec name (``robot:NAME``).
TASKS: dict[str, RobotTask] = {t.name: t for t in (Reach(), Pick(), PickPlace(), Stack(), Sort(), Beside())}


class UnknownRobotTaskError(EnvError, ValueError):
    """``robot:NAME`` names no task, or a task text is not in the task's phrasing.

    Example:
        >>> str(UnknownRobotTaskError("juggle"))
        'no robot task juggle; tasks: reach, pick, pick-place, stack, sort, beside'
    """

    def __init__(self, name: str, text: str | None = None) -> None:
        self.name = name
        if text is None:
            message = f"no robot task {name}; tasks: {', '.join(TASKS)}"
        else:
            message = f"the {name} task has no goal {text!r}; tasks look like: {TASKS[name].example}"
        super().__init__(message)
