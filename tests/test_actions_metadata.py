"""Actions are defined once: every consumer derives from the classes in the union, not from its own list.

A new action type must bring its own summary and words (a class without them cannot be defined), and
describe, annotate and the env's random sampler must handle it from its metadata alone. The dummy
``Pinch`` below is never in the union; it stands in for "the next action someone adds".
"""

from __future__ import annotations

from typing import ClassVar, Literal

import pytest
from PIL import Image
from test_actions_models import EXAMPLES

from vlagent.actions import ACTION_CLASSES, ACTION_TYPES, FAMILY_DEFAULTS, LOOP_ACTIONS, TERMINAL_TYPES
from vlagent.actions.coords import Point
from vlagent.actions.models import ActionBase, Arrow, Marker, Sampler, SampleSpace
from vlagent.agent.annotate import MARKER_RGB, annotate
from vlagent.agent.describe import describe
from vlagent.envs import base
from vlagent.envs.base import ActionSpace
from vlagent.prompts.action_space import LINE_TABLES, OWN_SYNTAXES, covered_types


class Pinch(ActionBase):
    """A two-finger pinch at a point: the shape of an action added later, with only its own metadata."""

    summary: ClassVar[str] = "pinch to zoom at a point"
    type: Literal["pinch"] = "pinch"
    point: Point
    scale: float = 2.0

    def describe(self) -> str:
        return f"pinch x{self.scale:g} at ({self.point.x:g}, {self.point.y:g})"

    def marks(self) -> tuple[Marker | Arrow, ...]:
        return (Marker(self.point, double=True),)

    @classmethod
    def sampler(cls, space: SampleSpace) -> Sampler:
        return lambda: cls(point=space.point(), scale=0.5)


def test_the_type_list_is_the_union() -> None:
    assert ACTION_TYPES == tuple(cls.model_fields["type"].default for cls in ACTION_CLASSES)
    assert TERMINAL_TYPES <= LOOP_ACTIONS <= set(ACTION_TYPES)


@pytest.mark.parametrize("cls", ACTION_CLASSES, ids=lambda c: c.__name__)
def test_every_action_class_carries_its_own_metadata(cls: type[ActionBase]) -> None:
    assert "summary" in cls.__dict__ and cls.summary.strip() and "\n" not in cls.summary
    assert "describe" in cls.__dict__
    assert cls.by_loop or cls.families, f"{cls.__name__} is offered nowhere by default and not run by the loop"


@pytest.mark.parametrize("action", EXAMPLES, ids=lambda a: a.type)
def test_every_action_is_described_and_marked_from_its_class(action: ActionBase) -> None:
    text = describe(action)
    assert text and "\n" not in text
    assert all(isinstance(m, Marker | Arrow) for m in action.marks())


def test_an_action_class_without_its_words_cannot_be_defined() -> None:
    with pytest.raises(TypeError, match="must define summary, describe itself"):
        class Teleport(ActionBase):  # noqa: F841 - defining it is the test
            type: Literal["teleport"] = "teleport"


def test_a_new_action_is_described_and_annotated_from_its_metadata() -> None:
    pinch = Pinch(point=Point(x=50, y=40, space="screen"))
    assert describe(pinch) == "pinch x2 at (50, 40)"
    out = annotate(Image.new("RGB", (200, 100), "white"), [pinch])
    assert out.getpixel((50, 40)) == MARKER_RGB


def test_the_env_sampler_draws_a_new_action_from_its_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(base.ACTION_CLASS_BY_TYPE, "pinch", Pinch)
    space = ActionSpace(frozenset({"pinch"}), size=(30, 20), seed=0)
    drawn = space.sample()
    assert isinstance(drawn, Pinch) and drawn.scale == 0.5 and 0 <= drawn.point.x < 30


def test_types_without_a_sampler_are_never_drawn() -> None:
    # check_env steps random samples on real screens: a random hotkey, app launch or give-up is not harmless.
    unsampled = frozenset({"hotkey", "navigate", "open_app", "fail", "call_user", "choose"})  # choose: no options
    assert {ActionSpace(unsampled | {"click"}, size=(30, 20), seed=s).sample().type for s in range(10)} == {"click"}
    assert ActionSpace(unsampled, size=(30, 20), seed=0).sample().type == "wait"


def test_family_defaults_come_from_the_classes() -> None:
    for family, types in FAMILY_DEFAULTS.items():
        assert types == {cls.model_fields["type"].default for cls in ACTION_CLASSES if family in cls.families}


@pytest.mark.parametrize("syntax", OWN_SYNTAXES)
def test_vlagents_own_syntaxes_offer_every_action_type(syntax: str) -> None:
    # The checkpoint syntaxes keep the words (and gaps) of their published prompts; vlagent's own two offer
    # every type the union has: a hand-written line, or one derived from the class (prompts/action_space.py).
    assert set(ACTION_TYPES) <= covered_types(LINE_TABLES[syntax])
