"""What a prompt offers, the profile's parser must read: each advertised action, filled in, parses.

A prompt that lists ``hover(start_box=...)`` while the parser knows no ``hover`` would make a model fail
for following its instructions. For every profile and family, each line of the action space (or each
value of the Qwen2.5-VL tool's ``action`` enum) is written out with concrete values, the way a model
answering the prompt would, and parsed with ``profile.make_parser()``; the action must be of a type the
line stands for.
"""

from __future__ import annotations

import json
import re
from typing import ClassVar, Literal

import pytest
from PIL import Image

from vlagent.actions.coords import Point
from vlagent.actions.models import (
    ACTION_CLASSES,
    ACTION_TYPES,
    LOOP_ACTIONS,
    ActionBase,
    Sampler,
    SampleSpace,
)
from vlagent.prompts import PromptRequest, get_profile
from vlagent.prompts.action_space import (
    JSON,
    LINE_TABLES,
    MOVE_DIRECTION,
    MOVE_POINT,
    OWN_SYNTAXES,
    QWEN2VL,
    Line,
    allowed_actions,
    covered_types,
    with_derived_lines,
)
from vlagent.prompts.tools import tool_name, tool_schema

FAMILIES = ["desktop", "web", "mobile", "game"]
OPTIONS = ("LEFT", "FIRE")
ALL = frozenset(ACTION_TYPES) - LOOP_ACTIONS  # every type an env can perform, from the union


def _request(family: str) -> PromptRequest:
    options = OPTIONS if family == "game" else ()
    return PromptRequest(family=family, task="t", images=[Image.new("RGB", (100, 100))], options=options,
                         supported=ALL)


def _types(line: Line) -> set[str]:
    return {"move" if t in (MOVE_POINT, MOVE_DIRECTION) else t for t in line.types}


def _lines(syntax: str, family: str) -> list[Line]:
    req = _request(family)
    allowed = allowed_actions(req)
    kind = {"desktop": "gui", "web": "gui", "mobile": "mobile", "game": "game"}[family]
    return [ln for ln in LINE_TABLES[syntax][kind] if ln.shown(allowed)]


_UITARS_FILL = [
    ("(x1,y1)", "(100,200)"), ("(x3,y3)", "(300,400)"), ("<point>x1 y1</point>", "<point>100 200</point>"),
    ("<point>x2 y2</point>", "<point>300 400</point>"), ("content=''", "content='hello'"),
    ("content='xxx'", "content='hello'"), ("key=''", "key='enter'"), ("app_name=''", "app_name='Settings'"),
    ("option=''", "option='LEFT'"), ("'down or up or right or left'", "'down'"),
    ("'up or down or left or right'", "'up'"),
]
_QWEN2VL_FILL = [
    ("(x,y)", "(100,200)"), ("(x1,y1)", "(100,200)"), ("(x2,y2)", "(300,400)"), ("'text'", "'hello'"),
    ("'app name'", "'Settings'"), ("'name'", "'LEFT'"), ("'reason'", "'stuck'"), ("'question'", "'which one?'"),
]
_JSON_FILL = [
    ("[x, y]", "[100, 200]"), ("[x1, y1]", "[100, 200]"), ("[x2, y2]", "[300, 400]"),
    ('"up, down, left or right"', '"up"'), ('"back, home or recents"', '"back"'), ('"<name>"', '"LEFT"'),
    ('"..."', '"hello"'),
]


def _fill(text: str, pairs: list[tuple[str, str]]) -> str:
    for old, new in pairs:
        text = text.replace(old, new)
    return text


def _call_text(syntax: str, line: Line) -> str | None:
    text = line.text
    if syntax in ("uitars", "uitars-1.5"):
        return "Thought: t\nAction: " + _fill(text.split(" #")[0], _UITARS_FILL)
    if syntax == "qwen2vl":
        if text.startswith("\n"):  # the coordinates note, not an action
            return None
        return _fill(text.split(" #")[0], _QWEN2VL_FILL)
    if syntax == "json":
        m = re.match(r"- (\{.*?\})(?: |$)", text)
        return None if m is None else _fill(m.group(1), _JSON_FILL)
    raise AssertionError(syntax)


CASES = [(p, s, f) for p, s in (("ui-tars", "uitars"), ("ui-tars-1.5", "uitars-1.5"), ("qwen2-vl", "qwen2vl"),
                                 ("json", "json")) for f in FAMILIES]


@pytest.mark.parametrize(("profile_name", "syntax", "family"), CASES)
def test_every_advertised_call_parses(profile_name, syntax, family):
    parser = get_profile(profile_name).make_parser()
    checked = 0
    for line in _lines(syntax, family):
        reply = _call_text(syntax, line)
        if reply is None:
            continue
        parsed = parser.parse(reply)
        assert parsed.actions[0].type in _types(line), (line.text, reply, parsed.actions)
        checked += 1
    assert checked >= 4


def _showui_reply(verb: str) -> str:
    pos, value = "[0.5, 0.5]", "None"
    if verb in ("SWIPE", "SELECT_TEXT"):
        pos = "[[0.1, 0.1], [0.5, 0.5]]"
    elif verb in ("INPUT", "ANSWER", "COPY"):
        value = "'hello'"
        pos = "[0.5, 0.5]" if verb == "INPUT" else "None"
    elif verb in ("ENTER", "PRESS BACK", "PRESS HOME"):
        pos = "None"
    elif verb == "SCROLL":
        value, pos = "'down'", "None"
    elif verb == "CHOOSE":
        value, pos = "'LEFT'", "None"
    elif verb == "MOVE":
        value, pos = "'up'", "None"
    return f"{{'action': '{verb}', 'value': {value}, 'position': {pos}}}"


@pytest.mark.parametrize("family", FAMILIES)
def test_every_advertised_showui_action_parses(family):
    parser = get_profile("showui").make_parser()
    lines = _lines("showui", family)
    assert len(lines) >= 3
    for line in lines:
        verb = re.match(r"`([A-Z_ ]+)`", line.text).group(1)
        parsed = parser.parse(_showui_reply(verb))
        assert parsed.actions[-1].type in _types(line) | {"hotkey"}, (verb, parsed.actions)


_ARGS = {
    "coordinate": [100, 200], "coordinate2": [300, 400], "keys": ["enter"], "text": "hello", "pixels": -5,
    "time": 1, "status": "success", "button": "Back", "option": "LEFT", "direction": "up",
}
_NEEDS = {
    "key": ("keys", "text"), "type": ("text",), "mouse_move": ("coordinate",), "left_click": ("coordinate",),
    "right_click": ("coordinate",), "middle_click": ("coordinate",), "double_click": ("coordinate",),
    "left_click_drag": ("coordinate",), "scroll": ("pixels",), "wait": ("time",), "terminate": ("status",),
    "click": ("coordinate",), "long_press": ("coordinate", "time"), "swipe": ("coordinate", "coordinate2"),
    "answer": ("text",), "system_button": ("button",), "open": ("text",), "choose": ("option",),
    "move": ("direction",),
}
_TOOL_TYPES = {
    "key": {"key", "hotkey"}, "type": {"type"}, "mouse_move": {"move"}, "left_click": {"click"},
    "right_click": {"click"}, "middle_click": {"click"}, "double_click": {"click"}, "left_click_drag": {"drag"},
    "scroll": {"scroll"}, "wait": {"wait"}, "terminate": {"finished"}, "click": {"click"},
    "long_press": {"long_press"}, "swipe": {"drag"}, "answer": {"finished"}, "system_button": {"navigate"},
    "open": {"open_app"}, "choose": {"choose"}, "move": {"move"},
}


@pytest.mark.parametrize("family", FAMILIES)
def test_every_advertised_tool_action_parses(family):
    parser = get_profile("qwen2.5-vl").make_parser()
    schema = tool_schema(_request(family), 1000, 800)
    props = schema["parameters"]["properties"]
    for action in props["action"]["enum"]:
        args = {"action": action}
        for key in _NEEDS[action]:
            if key in props:
                args[key] = _ARGS[key]
        if action == "key" and "text" in args:  # mobile_use names the key in "text"
            args["text"] = "enter"
        block = json.dumps({"name": tool_name(family), "arguments": args})
        reply = f"<tool_call>\n{block}\n</tool_call>"
        if action == "left_click_drag":  # it drags from the cursor, which a mouse_move places first
            move = json.dumps({"name": tool_name(family), "arguments": {"action": "mouse_move",
                                                                         "coordinate": [10, 20]}})
            reply = f"<tool_call>\n{move}\n</tool_call>\n{reply}"
        parsed = parser.parse(reply)
        assert parsed.actions[-1].type in _TOOL_TYPES[action], (action, parsed.actions)


# --- derived lines: vlagent's own syntaxes offer a type their table has no words for ----------------------
_HAND = {"json": JSON, "qwen2vl": QWEN2VL}
_PROFILE = {"json": "json", "qwen2vl": "qwen2-vl"}
_SAMPLED = [c for c in ACTION_CLASSES if c.sampler(SampleSpace(lambda lo, hi: lo, size=(9, 9), options=("a",)))]


def _without(table: dict[str, list[Line]], tag: str) -> dict[str, list[Line]]:
    """A copy of ``table`` with no line for ``tag``, as if the action had been added after the table."""
    return {kind: [ln for ln in lines if ln.note or tag not in _types(ln)] for kind, lines in table.items()}


@pytest.mark.parametrize("syntax", OWN_SYNTAXES)
@pytest.mark.parametrize("cls", _SAMPLED, ids=lambda c: c.__name__)
def test_a_type_without_a_hand_line_gets_one_its_parser_reads(syntax: str, cls: type[ActionBase]) -> None:
    tag = cls.model_fields["type"].default
    table = with_derived_lines(syntax, _without(_HAND[syntax], tag))
    assert tag in covered_types(table)
    parser = get_profile(_PROFILE[syntax]).make_parser()
    for kind, lines in table.items():
        derived = [ln for ln in lines if not ln.note and tag in _types(ln)]
        assert len(derived) == 1 and cls.summary in derived[0].text, kind
        parsed = parser.parse(_call_text(syntax, derived[0]))
        assert parsed.actions[0].type == tag, (derived[0].text, parsed.actions)


@pytest.mark.parametrize("syntax", OWN_SYNTAXES)
def test_tables_with_every_hand_line_are_left_as_written(syntax: str) -> None:
    assert with_derived_lines(syntax, _HAND[syntax]) is _HAND[syntax] is LINE_TABLES[syntax]


class Rotate(ActionBase):
    """An action no parser knows yet (not in the union): its line comes from its field names."""

    summary: ClassVar[str] = "rotate the map around a point"
    type: Literal["rotate"] = "rotate"
    point: Point
    degrees: float

    def describe(self) -> str:
        return f"rotate {self.degrees:g} degrees"

    @classmethod
    def sampler(cls, space: SampleSpace) -> Sampler:
        return lambda: cls(point=space.point(), degrees=90)


def test_a_new_action_class_gets_a_line_without_touching_the_union() -> None:
    json_table = with_derived_lines("json", JSON, (*ACTION_CLASSES, Rotate))
    qwen_table = with_derived_lines("qwen2vl", QWEN2VL, (*ACTION_CLASSES, Rotate))
    line = '- {"action": "rotate", "point": [x, y], "degrees": "..."} (rotate the map around a point)'
    assert all([ln.text for ln in lines if ln.types == ("rotate",)] == [line] for lines in json_table.values())
    qwen = "rotate(<|box_start|>(x,y)<|box_end|>, 'degrees') # rotate the map around a point"
    assert all([ln.text for ln in lines if ln.types == ("rotate",)] == [qwen] for lines in qwen_table.values())
    # before the loop's own actions, so "finished" and the coordinates note stay last
    gui = [ln.types for ln in qwen_table["gui"]]
    assert gui.index(("rotate",)) == gui.index(("finished",)) - 1
    assert "rotate" not in covered_types(LINE_TABLES["json"]) | set(ACTION_TYPES)
