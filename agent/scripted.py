"""Scripted policies: the env's ground truth (or a named option) as typed actions, and the writer of replies.

Synthetic apps, MiniWoB++ and the robot tasks put the next correct action in ``info["oracle"]`` (screen
pixels; for the robot, the projections of the object to pick and of the goal, as a drag, click or hover).
:class:`OraclePolicy` reads it from the step's ``info`` (never from a chat) and answers with
:class:`~vlagent.agent.policy.Planned` actions; the loop writes them in the profile's format with
:func:`write_reply` (points in the profile's coordinate space by :func:`~vlagent.actions.coords.from_screen`,
text by the parser's ``format``) and then parses that text like a model's reply (parse, convert, execute),
so every profile is tested end to end without a model.

Use it as a Python backend: ``--backend python --model vlagent.agent.scripted:oracle_policy`` (or the
registered names ``oracle``, ``first-option``, ``random``). Envs with no oracle but named actions (gym
games) get a choice among their options, random but reproducible for a given task and step, or always the
first one (``first_option_policy``). ``random_policy`` is the baseline: it ignores the ground truth.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from typing import Any, Literal

from vlagent.actions.coords import Box, Geometry, Point, from_screen
from vlagent.actions.errors import ActionError
from vlagent.actions.models import Action, ActionAdapter, Choose, Click, Fail, Finished
from vlagent.agent.policy import Planned, PolicyStep

OptionChoice = Literal["random", "first"]


def to_model_space(action: Action, geometry: Geometry, space: str) -> Action:
    """The same action with its screen points (and box) written in ``space``, as a model would.

    Example:
        >>> from vlagent.actions.coords import Point
        >>> from vlagent.actions.models import Click
        >>> g = Geometry(width=1920, height=1080, resized_width=1316, resized_height=728)
        >>> to_model_space(Click(point=Point(x=960, y=540, space="screen")), g, "rel1000").point
        Point(x=500.0, y=500.0, space='rel1000')
    """
    updates: dict[str, object] = {name: from_screen(p, geometry, space) for name, p in action.points().items()}
    box = getattr(action, "box", None)
    if box is not None:
        if box.space != "screen":
            updates["box"] = None
        else:
            a, b = (from_screen(p, geometry, space) for p in box.corners())
            updates["box"] = Box(x1=a.x, y1=a.y, x2=b.x, y2=b.y, space=space)
    return action.model_copy(update=updates) if updates else action


#: Thoughts that "The next step is to <type>." would garble ("to finished").
_THOUGHTS = {
    "finished": "The task is done.",
    "fail": "The task cannot be done here.",
    "call_user": "I need to ask the user.",
    "blind": "This env gives the scripted policy no ground truth and no named actions, so it stops here.",
}


class OraclePolicy:
    """A policy that answers with the env's ground-truth action (a named option, else ``finished``, without one).

    Example:
        >>> from vlagent.actions.coords import Point
        >>> from vlagent.actions.models import Click
        >>> from vlagent.prompts import get_profile
        >>> g = Geometry(width=1920, height=1080, resized_width=1316, resized_height=728)
        >>> planned = OraclePolicy().planned(Click(point=Point(x=960, y=540, space="screen")))
        >>> print(write_reply(get_profile("ui-tars").make_parser(), planned, g, "ui-tars"))
        Thought: The next step is to click.
        Action: click(start_box='<|box_start|>(500,500)<|box_end|>')
    """

    name = "scripted-oracle"
    model = "vlagent.agent.scripted:oracle_policy"

    def __init__(self, *, options: OptionChoice = "random", thought: bool = True) -> None:
        if options not in ("random", "first"):
            raise ValueError(f"options must be 'random' or 'first', not {options!r}")
        self.options = options
        self.thought = thought

    def decide(self, steps: Sequence[PolicyStep]) -> list[Planned]:
        return [self.plan(step) for step in steps]

    def plan(self, step: PolicyStep) -> Planned:
        """The step's action with its thought."""
        action = self.next_action(step)
        return self.planned(action, blind=step.info.get("oracle") is None and isinstance(action, Finished))

    def next_action(self, step: PolicyStep) -> Action:
        """The action to take: the oracle's, else a named option, else ``finished``."""
        oracle = step.info.get("oracle")
        if oracle is not None:
            return ActionAdapter.validate_python(oracle)
        if step.options:
            return Choose(option=step.options[0]) if self.options == "first" else random_option(step)
        return Finished()

    def planned(self, action: Action, *, blind: bool = False) -> Planned:
        """``action`` with the thought a model would give it (none when ``thought`` is off).

        No numbers in the thought: a reply's prose must not offer a parser a second point to read.
        """
        if not self.thought:
            return Planned((action,))
        kind = "blind" if blind else action.type
        return Planned((action,), _THOUGHTS.get(kind, f"The next step is to {action.type.replace('_', ' ')}."))

    def reply(self, step: PolicyStep) -> str:
        """The reply text in the step's profile format (what the loop makes of :meth:`plan`)."""
        if step.profile is None:
            raise ValueError("the step names no profile to write the reply in")
        return write_reply(step.profile.make_parser(), self.plan(step), step.geometry, step.profile.name)


class RandomPolicy(OraclePolicy):
    """The baseline: a reproducible random named option, else a click at a random point, else ``finished``.

    It never reads the ground truth, so its success rate is what chance gets on a suite.

    Example:
        >>> RandomPolicy().name
        'scripted-random'
    """

    name = "scripted-random"
    model = "vlagent.agent.scripted:random_policy"

    def next_action(self, step: PolicyStep) -> Action:
        if step.options:
            return random_option(step)
        if "click" in step.supported:
            rng = _rng(step, ())
            w, h = step.observation.size
            return Click(point=Point(x=rng.randrange(w), y=rng.randrange(h), space="screen"))
        return Finished()


def _rng(step: PolicyStep, names: tuple[str, ...]) -> random.Random:
    """A generator seeded by the task, the step and the options: the same episode draws the same."""
    return random.Random(zlib.crc32(f"{step.task}|{step.step}|{names}".encode("utf-8", "surrogatepass")))


def random_option(step: PolicyStep) -> Choose:
    """One of the step's named options, reproducible for its task and step.

    Example:
        >>> from PIL import Image
        >>> from vlagent.envs.base import Observation
        >>> from vlagent.model.chat import Chat
        >>> obs = Observation(Image.new("RGB", (8, 8)), options=("left", "right", "forward"))
        >>> g = Geometry(width=8, height=8, resized_width=28, resized_height=28)
        >>> def step(task):
        ...     return PolicyStep(obs, {}, (), task, 0, g, frozenset(), Chat.simple(task), None)
        >>> random_option(step("a")) == random_option(step("a"))
        True
    """
    return Choose(option=_rng(step, step.options).choice(step.options))


def write_reply(parser: Any, planned: Planned, geometry: Geometry, profile: str = "this") -> str:
    """The planned actions as a reply in the parser's format, points in its coordinate space.

    What the profile cannot express is written plainer (an optional argument at its default), else as a
    ``fail`` saying so, else as prose no parser reads (the loop records a parse error, as for a confused
    model).
    """
    from vlagent.agent.describe import describe

    actions, thought = list(planned.actions), planned.thought
    try:
        return parser.format([to_model_space(a, geometry, parser.space) for a in actions], thought=thought)
    except (ActionError, ValueError) as exc:
        plain = [_plain(a) or a for a in actions]  # e.g. a scroll amount the format has no argument for
        if plain != actions:
            try:
                return parser.format([to_model_space(a, geometry, parser.space) for a in plain], thought=thought)
            except (ActionError, ValueError):
                pass
        reason = f"cannot express {'; '.join(describe(a) for a in actions)} in profile {profile}: {exc}"
        try:
            return parser.format([Fail(reason=reason)], thought=thought)
        except (ActionError, ValueError):
            return reason


def _plain(action: Action) -> Action | None:
    """The action with its optional non-point arguments at their defaults (``None`` if nothing changes).

    Example:
        >>> from vlagent.actions.models import Scroll
        >>> _plain(Scroll(direction="down", amount=2)).amount
        5
    """
    points = set(action.points())
    fields = type(action).model_fields
    updates = {
        name: f.get_default(call_default_factory=True)
        for name, f in fields.items()
        if name != "type" and name not in points and not f.is_required()
        and getattr(action, name) != f.get_default(call_default_factory=True)
    }
    return action.model_copy(update=updates) if updates else None


def oracle_policy() -> OraclePolicy:
    """Factory for ``--backend python --model vlagent.agent.scripted:oracle_policy``."""
    return OraclePolicy()


def random_policy() -> RandomPolicy:
    """The random baseline (registered as ``random``): never the ground truth."""
    return RandomPolicy()


def first_option_policy() -> OraclePolicy:
    """The oracle where there is one; always the first named option elsewhere."""
    return OraclePolicy(options="first")
