"""vlagent's generic JSON replies for envs with named actions (and typed actions beside them)."""

from __future__ import annotations

import pytest
from parsers_fixtures import Err, check_case

from vlagent.actions.parsers import JSONActionParser

P = JSONActionParser()

CASES = [
    ("frozenlake", '{"thought": "The goal is down and to the right; the hole is left.", "action": "DOWN"}', ["choose DOWN"]),
    ("blackjack", '{"thought": "I have 19, the dealer shows 6. Stand.", "action": "stick"}', ["choose stick"]),
    ("minigrid-fenced", '```json\n{"thought": "The key is ahead.", "action": "forward"}\n```', ["choose forward"]),
    ("prose-before", 'I should fire now.\n{"action": "FIRE"}', ["choose FIRE"]),
    ("grid-move", '{"thought": "left", "action": "move", "direction": "left"}', ["move left"]),
    ("click-point", '{"action": "click", "point": [500, 300]}', ["click 500,300"]),
    ("click-xy", '{"action": "click", "x": 500, "y": 300, "button": "right"}', ["click 500,300 right"]),
    ("nested", '{"thought": "t", "action": {"type": "type", "text": "hello", "submit": true}}', ["type 'hello' submit"]),
    ("several", '{"actions": ["LEFT", {"action": "click", "point": {"x": 1, "y": 2}}]}', ["choose LEFT", "click 1,2"]),
    ("finished", '{"thought": "done", "action": "finished"}', ["finished"]),
    ("finished-answer", '{"action": "finished", "answer": "42"}', ["finished '42'"]),
    ("option-named-like-the-loop", '{"action": "choose", "option": "finished"}', ["choose finished"]),
    ("two-objects", '{"action": "LEFT"}\n{"action": "RIGHT"}', ["choose LEFT", "choose RIGHT"]),
    # Cut off before the object closes: more keys may follow ("action": "click" with a "button").
    ("cut-short", '{"thought": "go", "action": "UP"', Err("cut off")),
    ("python-literal", "{'thought': 'go', 'action': 'UP'}", ["choose UP"]),
    ("huge-int-coordinate", '{"action": "click", "point": [' + "9" * 400 + ', 1]}', Err("out of range")),
    ("no-json", "I will move up.", Err("no JSON object")),
    ("no-action-key", '{"thought": "hmm"}', Err("'action' key")),
    ("empty-action", '{"action": ""}', Err("'action' must be")),
    ("unknown-type-with-fields", '{"action": "teleport", "x": 1, "y": 2}', Err("unknown action type")),
    ("unknown-field", '{"action": "click", "point": [1, 2], "force": 9}', Err("invalid click")),
    ("click-without-point", '{"action": "click", "button": "left"}', Err("invalid click")),
]


@pytest.mark.parametrize(("reply", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_replies(reply, expected) -> None:
    check_case(P, reply, expected)


def test_thought_from_key_or_prose() -> None:
    assert P.parse('{"thought": "the goal is left", "action": "LEFT"}').thought == "the goal is left"
    assert P.parse('Going up.\n{"action": "UP"}').thought == "Going up."
