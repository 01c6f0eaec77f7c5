"""A scripted policy: replies as a model would, from the env's ground truth, in any profile's format.

Synthetic apps, MiniWoB++ and the robot tasks put the next correct action in ``info["oracle"]`` (screen
pixels; for the robot, the projections of the object to pick and of the goal, as a drag, click or hover).
The loop copies it into ``chat.metadata`` with the geometry and the profile name; :class:`OraclePolicy` turns it
into the profile's coordinate space with :func:`~vlagent.actions.coords.from_screen` and writes it with the
profile parser's ``format``. The reply then goes through the real pipeline (parse, convert, execute), so
every profile is tested end to end without a model.

Use it as a Python backend: ``--backend python --model vlagent.agent.scripted:oracle_policy``. Envs with
no oracle but named actions (gym games) get a choice among their options, random but reproducible for a
given task and step (``random_policy``) or always the first one (``first_option_policy``).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from typing import Any, Literal

from vlagent.actions.coords import Box, Geometry, from_screen
from vlagent.actions.errors import ActionError
from vlagent.actions.models import Action, ActionAdapter, Choose, Fail, Finished
from vlagent.model.chat import Chat, Generation, GenerationOptions
from vlagent.model.errors import ModelRejected

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
    """A backend that writes the env's ground-truth action in the chat's profile format.

    Example:
        >>> from vlagent.actions.coords import Point
        >>> from vlagent.actions.models import Click
        >>> g = Geometry(width=1920, height=1080, resized_width=1316, resized_height=728)
        >>> chat = Chat.simple("task")
        >>> chat.metadata.update(profile="ui-tars", geometry=g, oracle=Click(point=Point(x=960, y=540, space="screen")))
        >>> print(OraclePolicy().generate([chat])[0].text)
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
        self._parsers: dict[str, Any] = {}

    def generate(
        self, chats: Sequence[Chat], options: GenerationOptions | None = None, **_: Any
    ) -> list[Generation]:
        return [Generation(text=self.reply(chat)) for chat in chats]

    def next_action(self, metadata: dict[str, Any]) -> Action:
        """The action to take: the oracle's, else a named option, else ``finished``."""
        oracle = metadata.get("oracle")
        if oracle is not None:
            return ActionAdapter.validate_python(oracle)
        names = tuple(metadata.get("options") or ())
        if names:
            if self.options == "first":
                return Choose(option=names[0])
            seed = zlib.crc32(f"{metadata.get('task', '')}|{metadata.get('step', 0)}|{names}".encode())
            return Choose(option=random.Random(seed).choice(names))
        return Finished()

    def reply(self, chat: Chat) -> str:
        """The reply text for one chat (see the class docstring)."""
        from vlagent.agent.describe import describe
        from vlagent.prompts import get_profile

        md = chat.metadata
        profile_name = md.get("profile")
        if not profile_name:
            # A ModelError, not a bug: `vlagent generate --model vlagent.agent.scripted:oracle_policy` gets here.
            raise ModelRejected(
                "the scripted policy answers only inside an episode (`vlagent run`/`eval`): it needs the env's "
                "ground truth and chat.metadata['profile'], which the loop sets"
            )
        parser = self._parsers.get(profile_name)
        if parser is None:
            parser = self._parsers[profile_name] = get_profile(profile_name).make_parser()
        geometry = md.get("geometry")
        if not isinstance(geometry, Geometry):
            geometry = Geometry.model_validate(geometry)
        action = self.next_action(md)
        # No numbers in the thought: a reply's prose must not offer a parser a second point to read.
        thought = None
        if self.thought:
            kind = "blind" if md.get("oracle") is None and isinstance(action, Finished) else action.type
            thought = _THOUGHTS.get(kind, f"The next step is to {action.type.replace('_', ' ')}.")
        try:
            return parser.format([to_model_space(action, geometry, parser.space)], thought=thought)
        except (ActionError, ValueError) as exc:
            plain = _plain(action)  # e.g. a scroll amount the format has no argument for
            if plain is not None:
                try:
                    return parser.format([to_model_space(plain, geometry, parser.space)], thought=thought)
                except (ActionError, ValueError):
                    pass
            # The profile cannot express it at all: give up in its format, as a model would.
            reason = f"cannot express {describe(action)} in profile {profile_name}: {exc}"
            try:
                return parser.format([Fail(reason=reason)], thought=thought)
            except (ActionError, ValueError):
                return reason  # not parseable: the loop records a parse error, as for a confused model


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


def random_policy() -> OraclePolicy:
    """The oracle where there is one; a reproducible random named option elsewhere (gym games)."""
    return OraclePolicy(options="random")


def first_option_policy() -> OraclePolicy:
    """The oracle where there is one; always the first named option elsewhere."""
    return OraclePolicy(options="first")
