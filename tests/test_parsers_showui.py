"""ShowUI replies: Python-literal action dicts (web, phone, AITW vocabularies) and bare grounding points.

Sources: showlab/ShowUI README / QUICK_START.md (the navigation answer for "Search the weather for the New
York city", the grounding answer ``[0.73, 0.21]``), ``data/template/shared_navigation.py`` (web/phone
action spaces) and ShowUI's AITW template (``SCROLL UP``, ``PRESS BACK``, ``STATUS TASK COMPLETE``).
"""

from __future__ import annotations

import pytest
from parsers_fixtures import Err, check_case

from vlagent.actions.parsers import ShowUIParser

P = ShowUIParser()

README_NAV = (
    "{'action': 'CLICK', 'value': None, 'position': [0.49, 0.42]},\n"
    "{'action': 'INPUT', 'value': 'weather for New York city', 'position': [0.49, 0.42]},\n"
    "{'action': 'ENTER', 'value': None, 'position': None}"
)

CASES = [
    ("readme-navigation", README_NAV,
     ["click 0.49,0.42", "click 0.49,0.42", "type 'weather for New York city'", "key enter"]),
    ("readme-grounding", "[0.73, 0.21]", ["click 0.73,0.21"]),
    ("click", "{'action': 'CLICK', 'value': None, 'position': [0.49, 0.42]}", ["click 0.49,0.42"]),
    ("tap", "{'action': 'TAP', 'value': None, 'position': [0.12, 0.88]}", ["click 0.12,0.88"]),
    ("select", "{'action': 'SELECT', 'value': None, 'position': [0.3, 0.6]}", ["click 0.3,0.6"]),
    ("hover", "{'action': 'HOVER', 'value': None, 'position': [0.5, 0.1]}", ["move 0.5,0.1"]),
    ("input-without-position", "{'action': 'INPUT', 'value': 'hello', 'position': None}", ["type 'hello'"]),
    ("aitw-type", "{'action': 'TYPE', 'value': 'best pizza near me', 'position': None}", ["type 'best pizza near me'"]),
    ("answer", "{'action': 'ANSWER', 'value': 'The flight leaves at 9:40', 'position': None}",
     ["finished 'The flight leaves at 9:40'"]),
    ("phone-answer-status", "{'action': 'ANSWER', 'value': 'task complete', 'position': None}", ["finished 'task complete'"]),
    ("scroll-value", "{'action': 'SCROLL', 'value': 'down', 'position': None}", ["scroll down"]),
    ("aitw-scroll-up", "{'action': 'SCROLL UP', 'value': None, 'position': None}", ["scroll up"]),
    ("swipe", "{'action': 'SWIPE', 'value': None, 'position': [[0.5, 0.8], [0.5, 0.2]]}", ["drag 0.5,0.8 -> 0.5,0.2"]),
    ("select-text-then-copy",
     "{'action': 'SELECT_TEXT', 'value': None, 'position': [[0.1, 0.3], [0.6, 0.3]]}\n"
     "{'action': 'COPY', 'value': 'Total: $42', 'position': None}",
     ["drag 0.1,0.3 -> 0.6,0.3", "hotkey ctrl+c"]),
    ("aitw-press-back", "{'action': 'PRESS BACK', 'value': None, 'position': None}", ["navigate back"]),
    ("aitw-press-home", "{'action': 'PRESS HOME', 'value': None, 'position': None}", ["navigate home"]),
    ("aitw-press-enter", "{'action': 'PRESS ENTER', 'value': None, 'position': None}", ["key enter"]),
    ("aitw-status-complete", "{'action': 'STATUS TASK COMPLETE', 'value': None, 'position': None}", ["finished"]),
    ("aitw-status-impossible", "{'action': 'STATUS TASK IMPOSSIBLE ', 'value': None, 'position': None}",
     ["fail 'the model gave up'"]),
    ("game-choose", "{'action': 'CHOOSE', 'value': 'hit', 'position': None}", ["choose hit"]),
    ("game-move", "{'action': 'MOVE', 'value': 'left', 'position': None}", ["move left"]),
    # Broken the way models break it.
    ("missing-closing-brace", "{'action': 'CLICK', 'value': None, 'position': [0.49, 0.42]", ["click 0.49,0.42"]),
    ("json-spelling", '```json\n{"action": "TAP", "value": null, "position": [0.1, 0.2]}\n```', ["click 0.1,0.2"]),
    ("lowercase-action", "{'action': 'click', 'value': None, 'position': [0.2, 0.2]}", ["click 0.2,0.2"]),
    ("brace-inside-value", "{'action': 'INPUT', 'value': 'a } b {', 'position': None}", ["type 'a } b {'"]),
    ("prose-around", "The search box is at the top.\n{'action': 'CLICK', 'value': None, 'position': [0.5, 0.05]}\nDone.",
     ["click 0.5,0.05"]),
    ("click-without-position", "{'action': 'CLICK', 'value': None, 'position': None}", Err("needs 'position'")),
    ("swipe-one-point", "{'action': 'SWIPE', 'value': None, 'position': [0.5, 0.5]}", Err("[[x1, y1], [x2, y2]]")),
    ("scroll-without-direction", "{'action': 'SCROLL', 'value': None, 'position': None}", Err("direction")),
    ("input-without-text", "{'action': 'INPUT', 'value': None, 'position': [0.1, 0.1]}", Err("text to type")),
    ("unknown-action", "{'action': 'DANCE', 'value': None, 'position': None}", Err("unknown action 'DANCE'")),
    ("not-a-literal", "{'action': CLICK, 'position': [0.1, 0.1]}", Err("not a Python literal")),
    ("code-is-not-run", "{'action': __import__('os').system('true'), 'position': [0.1, 0.1]}", Err("not a Python literal")),
    ("three-numbers", "{'action': 'CLICK', 'value': None, 'position': [0.1, 0.2, 0.3]}", Err("2 numbers")),
    ("prose-only", "I am not sure where the button is.", Err("no action dict")),
]


@pytest.mark.parametrize(("reply", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_replies(reply, expected) -> None:
    check_case(P, reply, expected)


def test_writer_merges_click_then_type_into_one_input() -> None:
    from vlagent.actions import Click, Point, TypeText

    at = Point(x=0.49, y=0.42, space="rel1")
    text = P.format([Click(point=at), TypeText(text="weather", submit=True)])
    assert text == (
        "{'action': 'INPUT', 'value': 'weather', 'position': [0.49, 0.42]}\n"
        "{'action': 'ENTER', 'value': None, 'position': None}"
    )
    assert ShowUIParser(platform="phone").format([Click(point=at)]).startswith("{'action': 'TAP'")
