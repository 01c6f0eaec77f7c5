"""The typed action set: validation a user relies on, JSON round trips, conversion of every point."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import ClassVar, Literal

import pytest
from pydantic import ValidationError

from vlagent.actions import (
    ACTION_CLASSES,
    ACTION_TYPES,
    ActionAdapter,
    CallUser,
    Choose,
    Click,
    CoordinateError,
    Drag,
    Fail,
    Finished,
    Geometry,
    Hotkey,
    Key,
    LongPress,
    Move,
    Navigate,
    OpenApp,
    Point,
    Scroll,
    TypeText,
    Wait,
    convert_action,
)
from vlagent.actions.coords import Box
from vlagent.actions.models import ActionBase, SampleSpace


def rel(x: float, y: float) -> Point:
    return Point(x=x, y=y, space="rel1000")


#: Hand-written examples: the edge cases worth documenting (odd text, boxes, both kinds of move).
HAND_EXAMPLES = [
    Click(point=rel(500, 500), button="right", count=2, box=Box(x1=400, y1=400, x2=600, y2=600, space="rel1000")),
    LongPress(point=rel(10, 20), duration=1.5),
    Drag(start=rel(100, 100), end=rel(900, 900)),
    Scroll(point=rel(500, 500), direction="down", amount=3),
    Scroll(direction="up"),
    TypeText(text="héllo \"world\" ; $(rm -rf /)", submit=True),
    Key(name="Return"),
    Hotkey(keys=["Control", "Shift", "t"]),
    Move(point=rel(1, 2)),
    Move(direction="left"),
    Choose(option="FIRE"),
    Navigate(to="back"),
    OpenApp(name="com.android.settings"),
    Wait(seconds=2),
    Finished(answer="42"),
    Fail(reason="no such button"),
    CallUser(question="Which account?"),
]


def sampled_examples(classes: Iterable[type[ActionBase]], hand: list[ActionBase]) -> tuple[list, list]:
    """For each class ``hand`` has no example of, one drawn from its own ``sampler``; and the classes with
    neither (an action type no test would exercise)."""
    space = SampleSpace(random.Random(0).randrange, size=(1000, 1000), options=("FIRE",))
    have = {type(a) for a in hand}
    drawn, missing = [], []
    for cls in classes:
        if cls in have:
            continue
        make = cls.sampler(space)
        (drawn.append(make()) if make is not None else missing.append(cls))
    return drawn, missing


_DRAWN, _UNCOVERED = sampled_examples(ACTION_CLASSES, HAND_EXAMPLES)
#: Every action type of the union: the hand examples, then one sampled for each type they lack.
EXAMPLES = HAND_EXAMPLES + _DRAWN


def test_examples_cover_every_action_type() -> None:
    assert not _UNCOVERED, f"no hand example and no sampler: {[c.__name__ for c in _UNCOVERED]}"
    assert {a.type for a in EXAMPLES} == set(ACTION_TYPES)


class _Unsampled(ActionBase):
    """An action class with no sampler, as a new one might be added."""

    summary: ClassVar[str] = "a test action"
    type: Literal["unsampled"] = "unsampled"

    def describe(self) -> str:
        return "unsampled"


def test_a_class_without_a_sampler_or_hand_example_is_reported() -> None:
    drawn, missing = sampled_examples((*ACTION_CLASSES, _Unsampled), HAND_EXAMPLES)
    assert missing == [_Unsampled] and drawn == _DRAWN
    # a sampled class the hand list lacks gets an example of its own type
    drawn, missing = sampled_examples(ACTION_CLASSES, [a for a in HAND_EXAMPLES if a.type != "long_press"])
    assert not missing and sorted(a.type for a in drawn) == sorted(["long_press", *(a.type for a in _DRAWN)])


@pytest.mark.parametrize("action", EXAMPLES, ids=lambda a: a.type)
def test_json_round_trip(action) -> None:
    assert ActionAdapter.validate_json(ActionAdapter.dump_json(action)) == action


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "type", "text": ""},
        {"type": "key", "name": "hyperspace"},
        {"type": "hotkey", "keys": []},
        {"type": "long_press", "point": {"x": 1, "y": 1, "space": "screen"}, "duration": 0},
        {"type": "scroll", "direction": "sideways"},
        {"type": "move"},
        {"type": "move", "direction": "up", "point": {"x": 1, "y": 1, "space": "screen"}},
        {"type": "click", "point": {"x": 1, "y": 1, "space": "inches"}},
        {"type": "click", "point": {"x": float("nan"), "y": 1, "space": "screen"}},
        {"type": "click", "point": {"x": 1, "y": 1, "space": "screen"}, "count": 0},
        {"type": "click", "point": {"x": 1, "y": 1, "space": "screen"}, "colour": "red"},
        {"type": "navigate", "to": "sideways"},
        {"type": "choose", "option": "   "},
        {"type": "teleport"},
        {"type": "wait", "seconds": -1},
    ],
)
def test_invalid_actions_are_rejected(payload) -> None:
    with pytest.raises(ValidationError):
        ActionAdapter.validate_python(payload)


def test_key_names_are_normalised() -> None:
    assert Key(name="Escape").name == "esc"
    assert Hotkey(keys=["cmd", "SPACE"]).keys == ["command", "space"]


def test_convert_action_moves_every_point_to_screen() -> None:
    g = Geometry(width=1080, height=2400, resized_width=1092, resized_height=2436)
    drag = convert_action(Drag(start=rel(0, 0), end=rel(999, 999)), g)
    assert (drag.start.space, drag.start.x, drag.start.y) == ("screen", 0, 0)
    assert (drag.end.x, drag.end.y) == (1078, 2397)
    click = convert_action(EXAMPLES[0], g)
    assert click.box is not None and click.box.space == "screen"
    assert (click.point.x, click.point.y) == (540, 1200)


def test_convert_action_refuses_off_screen_points() -> None:
    g = Geometry(width=160, height=210, resized_width=168, resized_height=224)
    with pytest.raises(CoordinateError):
        convert_action(Click(point=rel(1200, 10)), g)


def test_actions_without_points_pass_unchanged() -> None:
    g = Geometry(width=10, height=10, resized_width=28, resized_height=28)
    action = TypeText(text="x")
    assert convert_action(action, g) is action
