"""Qwen2.5-VL ``<tool_call>`` replies for computer_use / mobile_use (and vlagent's game_use), broken ones included.

Sources: QwenLM/Qwen2.5-VL cookbooks (computer_use.ipynb's answer, mobile_agent.ipynb), replies quoted in
agents built on them (``<thinking>`` before the call, GUI-Owl's ``Action: ...`` line), and damage seen in
the wild (a tag-less fenced call, an unclosed tag, a cut reply, ``"nan"`` coordinates).
"""

from __future__ import annotations

import pytest
from parsers_fixtures import Err, check_case

from vlagent.actions.parsers import ToolCallParser

P = ToolCallParser()


def tc(args: str, name: str = "computer_use") -> str:
    return f'<tool_call>\n{{"name": "{name}", "arguments": {args}}}\n</tool_call>'


CASES = [
    ("cookbook-computer-use", tc('{"action": "left_click", "coordinate": [1240, 783]}'), ["click 1240,783"]),
    ("mobile-click", tc('{"action": "click", "coordinate": [935, 406]}', "mobile_use"), ["click 935,406"]),
    ("thinking-before",
     '<thinking>\nI need to click the search button.\n</thinking>\n'
     '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [500, 300]}}\n</tool_call>',
     ["click 500,300"]),
    ("gui-owl-action-line",
     'Action: Click on the "Search" button with red background\n'
     '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [741, 673]}}\n</tool_call>',
     ["click 741,673"]),
    ("terminate-success",
     "<thinking>\nThe screen already matches the user's goal, so I will terminate with success.\n</thinking>\n"
     '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>',
     ["finished"]),
    ("terminate-failure", tc('{"action": "terminate", "status": "failure"}'), ["fail 'the model gave up'"]),
    ("swipe", tc('{"action": "swipe", "coordinate": [540, 1800], "coordinate2": [540, 600]}', "mobile_use"),
     ["drag 540,1800 -> 540,600"]),
    ("long-press", tc('{"action": "long_press", "coordinate": [300, 700], "time": 2}', "mobile_use"),
     ["long_press 300,700 2s"]),
    ("system-button-back", tc('{"action": "system_button", "button": "Back"}', "mobile_use"), ["navigate back"]),
    ("system-button-home", tc('{"action": "system_button", "button": "Home"}', "mobile_use"), ["navigate home"]),
    ("system-button-enter", tc('{"action": "system_button", "button": "Enter"}', "mobile_use"), ["key enter"]),
    ("system-button-menu", tc('{"action": "system_button", "button": "Menu"}', "mobile_use"), ["key menu"]),
    ("open-app", tc('{"action": "open", "text": "Chrome"}', "mobile_use"), ["open_app 'Chrome'"]),
    ("mobile-key", tc('{"action": "key", "text": "volume_up"}', "mobile_use"), ["key volumeup"]),
    ("type", tc('{"action": "type", "text": "weather in Paris"}'), ["type 'weather in Paris'"]),
    ("type-submit", tc('{"action": "type", "text": "weather in Paris\\n"}'), ["type 'weather in Paris' submit"]),
    ("key-combo", tc('{"action": "key", "keys": ["ctrl", "c"]}'), ["hotkey ctrl+c"]),
    ("key-single", tc('{"action": "key", "keys": ["Return"]}'), ["key enter"]),
    ("scroll-down", tc('{"action": "scroll", "pixels": -5}'), ["scroll down"]),
    ("scroll-up-at", tc('{"action": "scroll", "pixels": 3, "coordinate": [600, 400]}'), ["scroll up at 600,400 x3"]),
    ("scroll-huge-is-capped", tc('{"action": "scroll", "pixels": -500}'), ["scroll down x100"]),
    ("hscroll", tc('{"action": "hscroll", "pixels": -2}'), ["scroll left x2"]),
    ("mouse-move", tc('{"action": "mouse_move", "coordinate": [20, 30]}'), ["move 20,30"]),
    ("right-click", tc('{"action": "right_click", "coordinate": [20, 30]}'), ["click 20,30 right"]),
    ("double-click", tc('{"action": "double_click", "coordinate": [20, 30]}'), ["click 20,30 x2"]),
    ("triple-click", tc('{"action": "triple_click", "coordinate": [20, 30]}'), ["click 20,30 x3"]),
    ("middle-click", tc('{"action": "middle_click", "coordinate": [20, 30]}'), ["click 20,30 middle"]),
    ("drag-start-coordinate", tc('{"action": "left_click_drag", "start_coordinate": [1, 2], "coordinate": [3, 4]}'),
     ["drag 1,2 -> 3,4"]),
    ("wait", tc('{"action": "wait", "time": 2}'), ["wait 2s"]),
    ("answer", tc('{"action": "answer", "text": "42 apples"}'), ["finished '42 apples'"]),
    ("game-choose", tc('{"action": "choose", "option": "FIRE"}', "game_use"), ["choose FIRE"]),
    ("game-move", tc('{"action": "move", "direction": "left"}', "game_use"), ["move left"]),
    # Several calls, and calls that need the pointer an earlier call left.
    ("two-calls", tc('{"action": "left_click", "coordinate": [10, 20]}') + "\n" + tc('{"action": "type", "text": "hi"}'),
     ["click 10,20", "type 'hi'"]),
    ("old-schema-click-after-move",
     tc('{"action": "mouse_move", "coordinate": [10, 20]}') + "\n" + tc('{"action": "left_click"}'),
     ["click 10,20"]),
    ("old-schema-drag-after-move",
     tc('{"action": "mouse_move", "coordinate": [10, 20]}') + tc('{"action": "left_click_drag", "coordinate": [50, 60]}'),
     ["drag 10,20 -> 50,60"]),
    # Broken the way models break it.
    ("floats", tc('{"action": "left_click", "coordinate": [1240.6, 783.2]}'), ["click 1240.6,783.2"]),
    ("string-coordinate", tc('{"action": "left_click", "coordinate": "(1240, 783)"}'), ["click 1240,783"]),
    ("unclosed-tag", '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [5, 6]}}',
     ["click 5,6"]),
    # Cut off inside the text: "hello" may be the start of "hello world"; nothing is typed.
    ("cut-short", '<tool_call>\n{"name": "computer_use", "arguments": {"action": "type", "text": "hello',
     Err("cut off")),
    ("trailing-comma", '<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [5, 6],}}</tool_call>',
     ["click 5,6"]),
    ("fenced-no-tags", '```json\n{"name": "mobile_use", "arguments": {"action": "system_button", "button": "Back"}}\n```',
     ["navigate back"]),
    ("arguments-as-string", '<tool_call>{"name": "computer_use", "arguments": "{\\"action\\": \\"left_click\\", \\"coordinate\\": [1, 2]}"}</tool_call>',
     ["click 1,2"]),
    ("click-without-coordinate", tc('{"action": "left_click"}'), Err("needs \"coordinate\"")),
    ("drag-without-start", tc('{"action": "left_click_drag", "coordinate": [3, 4]}'), Err("needs \"coordinate\" and a start")),
    ("nan-coordinate", tc('{"action": "click", "coordinate": ["nan", 0]}', "mobile_use"), Err("must be a number")),
    ("three-numbers", tc('{"action": "left_click", "coordinate": [1, 2, 3]}'), Err("2 numbers")),
    ("unknown-action", tc('{"action": "fly", "coordinate": [1, 2]}'), Err("unknown action 'fly'")),
    ("unknown-tool", tc('{"action": "left_click", "coordinate": [1, 2]}', "browser_use"), Err("unknown tool")),
    ("bad-status", tc('{"action": "terminate", "status": "maybe"}'), Err("status")),
    ("no-json-in-tag", '<tool_call> JSON </tool_call>: {"action":"click","coordinate": [272, 293]}', Err("not valid JSON")),
    ("prose-only", "I would click the search button.", Err("no <tool_call>")),
    ("zero-scroll", tc('{"action": "scroll", "pixels": 0}'), Err("non-zero")),
    ("bad-button", tc('{"action": "system_button", "button": "Recents"}', "mobile_use"), Err("system_button")),
]


@pytest.mark.parametrize(("reply", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_replies(reply, expected) -> None:
    check_case(P, reply, expected)


def test_thought_is_the_prose_before_the_call() -> None:
    reply = "I need to open the browser first.\n" + tc('{"action": "left_click", "coordinate": [1, 2]}')
    assert P.parse(reply).thought == "I need to open the browser first."
    assert P.parse("<thinking>\nfind it\n</thinking>\n" + tc('{"action": "wait", "time": 1}')).thought == "find it"


def test_writer_matches_the_cookbook_layout() -> None:
    from vlagent.actions import Click, Drag, Point

    click = Click(point=Point(x=1240, y=783, space="resized"))
    assert P.format([click]) == tc('{"action": "left_click", "coordinate": [1240, 783]}')
    mobile = ToolCallParser(tool="mobile_use")
    assert '"name": "mobile_use", "arguments": {"action": "click"' in mobile.format([click])
    swipe = Drag(start=Point(x=1, y=2, space="resized"), end=Point(x=3, y=4, space="resized"))
    assert '"action": "swipe", "coordinate": [1, 2], "coordinate2": [3, 4]' in mobile.format([swipe])


def test_a_whitespace_answer_round_trips() -> None:
    # Regression (found by the hypothesis round trip, intermittently): format(Finished(answer=" ")) wrote
    # {"action": "answer", "text": " "}, which parse refused with 'answer needs "text"'.
    from vlagent.actions.models import Finished
    from vlagent.actions.parsers.tool_call import ToolCallParser

    parser = ToolCallParser()
    assert parser.parse(parser.format([Finished(answer=" ")])).actions == [Finished(answer=" ")]


def _call(args: dict) -> str:
    import json

    return "<tool_call>" + json.dumps({"name": "computer_use", "arguments": args}) + "</tool_call>"


def test_mouse_move_then_drag_or_click_from_the_cursor_is_one_gesture() -> None:
    # An env without hover (a phone) would otherwise refuse the whole reply because of the Move.
    from vlagent.actions.models import Click, Drag, Move
    from vlagent.actions.parsers import ToolCallParser

    parser = ToolCallParser()
    move = _call({"action": "mouse_move", "coordinate": [10, 20]})
    drag = parser.parse(move + _call({"action": "left_click_drag", "coordinate": [300, 400]})).actions
    assert len(drag) == 1 and isinstance(drag[0], Drag)
    assert (drag[0].start.x, drag[0].start.y, drag[0].end.x, drag[0].end.y) == (10, 20, 300, 400)
    click = parser.parse(move + _call({"action": "left_click"})).actions
    assert len(click) == 1 and isinstance(click[0], Click) and (click[0].point.x, click[0].point.y) == (10, 20)
    # A click with its own coordinate is a separate action: the hover stays, as the model wrote it.
    both = parser.parse(move + _call({"action": "left_click", "coordinate": [10, 20]})).actions
    assert [type(a) for a in both] == [Move, Click]
