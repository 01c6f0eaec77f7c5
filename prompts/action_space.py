"""How each profile writes the action space: the env's actions, in the model's own syntax.

A request says which action types the env performs (``supported``) and, for games, its named discrete
actions (``options``). Each syntax has one table of lines in the order its official prompt lists them;
a line is shown when any action type it stands for is allowed, so a model is never offered an action
the env would reject. Lines for actions the official prompts do not have (``hover``, ``choose``,
``move(direction=...)``) use the same call style and are marked as vlagent's below. vlagent's own
syntaxes (json, qwen2vl) offer every action type: a type their table has no line for gets one derived
from its class (its ``sampler``'s example written by the syntax's parser, and its ``summary``), so a new
action needs no edit here; the checkpoint syntaxes keep their published gaps.

Where the lines come from:

- UI-TARS v1: ``UITARS_CALL_USR_ACTION_SPACE`` and ``UITARS_MOBILE_ACTION_SPACE`` of xlang-ai/OSWorld
  ``mm_agents/uitars_agent.py`` (the prompts bytedance/UI-TARS's README pointed to for v1).
- UI-TARS-1.5: ``COMPUTER_USE_DOUBAO`` / ``MOBILE_USE_DOUBAO`` of bytedance/UI-TARS ``codes/ui_tars/prompt.py``.
- Qwen2.5-VL: the ``ComputerUse`` / ``MobileUse`` tools of QwenLM/Qwen2.5-VL
  ``cookbooks/utils/agent_function_call.py`` (see :mod:`vlagent.prompts.tools`).
- ShowUI: ``action_map['web']`` / ``action_map['phone']`` of showlab/ShowUI's README (UI Navigation).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import get_args

from pydantic import ValidationError

from vlagent.actions.coords import Point, Space
from vlagent.actions.errors import ActionError, ProfileError
from vlagent.actions.models import (
    ACTION_CLASSES,
    ACTION_TYPES,
    FAMILY_DEFAULTS,
    LOOP_ACTIONS,
    ActionBase,
    Family,
    SampleSpace,
)
from vlagent.prompts.request import PromptRequest

#: Pseudo types separating the two meanings of ``move``.
MOVE_POINT = "move:point"
MOVE_DIRECTION = "move:direction"


def check_types(types: Iterable[str], where: str) -> None:
    """Refuse a wording table that names a type the action union does not have (a renamed or removed action).

    The tables hold each profile's own words; which types exist is the union's to say (actions/models.py).
    """
    unknown = sorted(set(types) - set(ACTION_TYPES) - {MOVE_POINT, MOVE_DIRECTION})
    if unknown:
        raise ProfileError(f"{where} names action types the union lacks: {', '.join(unknown)}")


def allowed_actions(request: PromptRequest) -> frozenset[str]:
    """The action types a prompt should offer for this request (plus the ``move:*`` pseudo types).

    ``move`` means a pointer or target point on GUIs and on games without named actions (gymnasium
    Box spaces), and a one-step direction on games that have named actions (grid worlds).
    ``choose`` is offered only when there are options to choose from.

    Example:
        >>> req = PromptRequest(family="game", task="t", images=[], options=("LEFT", "RIGHT"),
        ...                     supported=frozenset({"choose"}))
        >>> sorted(allowed_actions(req))
        ['call_user', 'choose', 'fail', 'finished']
    """
    base = set(request.supported or FAMILY_DEFAULTS[request.family]) | LOOP_ACTIONS
    if "move" in base:
        base.add(MOVE_DIRECTION if request.family == "game" and request.options else MOVE_POINT)
    if not request.options:
        base.discard("choose")
    return frozenset(base)


@dataclass(frozen=True)
class Line:
    """One line of an action-space listing, shown when any of ``types`` is allowed.

    Example:
        >>> Line(("key", "hotkey"), "hotkey(key='')").shown(frozenset({"key"}))
        True
    """

    types: tuple[str, ...]
    text: str
    #: It explains the actions of ``types`` (the coordinates note) and offers none itself.
    note: bool = False

    def shown(self, allowed: frozenset[str]) -> bool:
        return any(t in allowed for t in self.types)


def _kind(family: Family) -> str:
    return {"desktop": "gui", "web": "gui", "mobile": "mobile", "game": "game", "robot": "robot"}[family]


# --- the robot family: what pointing means for the arm (vlagent's wording, one text for every syntax) -----
#: Comments after each robot action, so every profile explains the arm the same way.
ROBOT_DRAG = "Pick up the object at the start point and put it down at the end point, then return home."
ROBOT_HOVER = "Move the gripper 10 cm above that point."
ROBOT_CLICK = ("Lower the gripper to that point and toggle it: an open gripper grasps the cube there, a closed "
               "one puts down what it holds.")
ROBOT_CHOOSE = "Operate the gripper or send the arm home, one of: $options"


# --- UI-TARS v1: start_box='<|box_start|>(x1,y1)<|box_end|>' in [0, 1000) ----------------------------
_B1 = "start_box='<|box_start|>(x1,y1)<|box_end|>'"
_B2 = "end_box='<|box_start|>(x3,y3)<|box_end|>'"
_TYPE_V1 = r"""type(content='') #If you want to submit your input, use "\n" at the end of `content`."""
_WAIT = "wait() #Sleep for 5s and take a screenshot to check for any changes."
_CALL_USER = (
    "call_user() # Submit the task and call the user when the task is unsolvable, or when you need the user's help."
)
_FINISHED_CONTENT = (
    r"""finished(content='xxx') # Use escape characters \', \", and \n in content part to ensure we can """
    "parse the content in normal python string format."
)
# vlagent's additions in the same call style (the UI-TARS parser reads them): choose, move(direction),
# hover.
_CHOOSE = "choose(option='') # One of: $options"
_MOVE_DIR = "move(direction='up or down or left or right') # Move one step in that direction."

# --- UI-TARS-1.5: point='<point>x1 y1</point>' in pixels of the resized image ----------------------
_P1 = "point='<point>x1 y1</point>'"
_DRAG15 = "drag(start_point='<point>x1 y1</point>', end_point='<point>x2 y2</point>')"
_HOTKEY15 = (
    "hotkey(key='ctrl c') # Split keys with a space and use lowercase. Also, do not use more than 3 keys in one "
    "hotkey action."
)
_TYPE15 = (
    r"""type(content='xxx') # Use escape characters \', \", and \n in content part to ensure we can parse the """
    r"""content in normal python string format. If you want to submit your input, use \n at the end of content."""
)
_SCROLL15 = (
    f"scroll({_P1}, direction='down or up or right or left') # Show more information on the `direction` side."
)
_TYPE15_MOBILE = r"""type(content='') #If you want to submit your input, use "\n" at the end of `content`."""



def _uitars(pt: str, drag: str, *, hotkey: str, type_gui: str, type_mobile: str, scroll_gui: str,
            finished_gui: str) -> dict[str, list[Line]]:
    """One UI-TARS version's lines per family; the versions differ in coordinates and in comments."""
    scroll = f"scroll({pt}, direction='down or up or right or left')"
    return {
        "gui": [
            Line(("click",), f"click({pt})"),
            Line(("click",), f"left_double({pt})"),
            Line(("click",), f"right_single({pt})"),
            Line(("drag",), drag),
            Line(("key", "hotkey"), hotkey),
            Line(("type",), type_gui),
            Line(("scroll",), scroll_gui),
            Line(("long_press",), f"long_press({pt})"),
            Line((MOVE_POINT,), f"hover({pt}) # Move the pointer there without clicking."),
            Line(("open_app",), "open_app(app_name='')"),
            Line(("wait",), _WAIT),
            Line(("finished",), finished_gui),
            Line(("call_user",), _CALL_USER),
        ],
        "mobile": [
            Line(("click",), f"click({pt})"),
            Line(("long_press",), f"long_press({pt})"),
            Line(("type",), type_mobile),
            Line(("scroll",), scroll),
            Line(("open_app",), "open_app(app_name='')"),
            Line(("drag",), drag),
            Line(("navigate",), "press_home()"),
            Line(("navigate",), "press_back()"),
            Line(("key", "hotkey"), hotkey),
            Line(("wait",), _WAIT),
            Line(("finished",), _FINISHED_CONTENT),
            Line(("call_user",), _CALL_USER),
        ],
        "robot": [
            Line(("drag",), f"{drag} # {ROBOT_DRAG}"),
            Line((MOVE_POINT,), f"hover({pt}) # {ROBOT_HOVER}"),
            Line(("click",), f"click({pt}) # {ROBOT_CLICK}"),
            Line(("choose",), f"choose(option='') # {ROBOT_CHOOSE}"),
            Line(("wait",), _WAIT),
            Line(("finished",), finished_gui),
            Line(("call_user",), _CALL_USER),
        ],
        "game": [
            Line(("choose",), _CHOOSE),
            Line((MOVE_DIRECTION,), _MOVE_DIR),
            Line((MOVE_POINT,), f"hover({pt}) # Move the target to that point."),
            Line(("click",), f"click({pt})"),
            Line(("key", "hotkey"), hotkey),
            Line(("wait",), _WAIT),
            Line(("finished",), finished_gui),
            Line(("call_user",), _CALL_USER),
        ],
    }


# UI-TARS v1 has no escaping notes and a bare finished() on desktops (UITARS_CALL_USR_ACTION_SPACE).
UITARS_V1 = _uitars(
    _B1, f"drag({_B1}, {_B2})", hotkey="hotkey(key='')", type_gui=_TYPE_V1, type_mobile=_TYPE_V1,
    scroll_gui=f"scroll({_B1}, direction='down or up or right or left')", finished_gui="finished()",
)
UITARS_15 = _uitars(
    _P1, _DRAG15, hotkey=_HOTKEY15, type_gui=_TYPE15, type_mobile=_TYPE15_MOBILE, scroll_gui=_SCROLL15,
    finished_gui=_FINISHED_CONTENT,
)

# --- ShowUI: {'action': 'CLICK', 'value': None, 'position': [x,y]} with x, y in [0, 1] -------------------
# action_map['web'] and action_map['phone'] of showlab/ShowUI's README, verbatim except the phone INPUT
# line, whose README text says "value is not applicable" although the value is the text to type (the
# web line's wording is used instead). PRESS BACK / PRESS HOME follow ShowUI's AITW vocabulary; CHOOSE
# and MOVE are vlagent's, for games.
_HOVER = "`HOVER`: Hover on an element, value is not applicable and the position [x,y] is required."
_ENTER = "`ENTER`: Enter operation, value and position are not applicable."
_INPUT = "`INPUT`: Type a string into an element, value is a string to type and the position [x,y] is required. "
SHOWUI: dict[str, list[Line]] = {
    "gui": [
        Line(("click",), "`CLICK`: Click on an element, value is not applicable and the position [x,y] is required. "),
        Line(("type",), _INPUT),
        Line(("click",), "`SELECT`: Select a value for an element, value is not applicable and the position [x,y] "
             "is required. "),
        Line((MOVE_POINT,), _HOVER),
        Line(("finished",), "`ANSWER`: Answer the question, value is the answer and the position is not applicable."),
        Line(("key",), _ENTER),
        Line(("scroll",), "`SCROLL`: Scroll the screen, value is the direction to scroll and the position is not "
             "applicable."),
        Line(("drag",), "`SELECT_TEXT`: Select some text content, value is not applicable and position "
             "[[x1,y1], [x2,y2]] is the start and end position of the select operation."),
        Line(("hotkey",), "`COPY`: Copy the text, value is the text to copy and the position is not applicable."),
    ],
    "mobile": [
        Line(("type",), _INPUT),
        Line(("drag", "scroll"), "`SWIPE`: Swipe the screen, value is not applicable and the position "
             "[[x1,y1], [x2,y2]] is the start and end position of the swipe operation."),
        Line(("click",), "`TAP`: Tap on an element, value is not applicable and the position [x,y] is required."),
        Line(("finished",), "`ANSWER`: Answer the question, value is the status (e.g., 'task complete') and the "
             "position is not applicable."),
        Line(("key",), _ENTER),
        Line(("navigate",), "`PRESS BACK`: Go back to the previous screen, value and position are not applicable."),
        Line(("navigate",), "`PRESS HOME`: Go to the home screen, value and position are not applicable."),
    ],
    "robot": [
        Line(("drag",), f"`SWIPE`: {ROBOT_DRAG} Value is not applicable and the position [[x1,y1], [x2,y2]] is the "
             "start and end point."),
        Line((MOVE_POINT,), f"`HOVER`: {ROBOT_HOVER} Value is not applicable and the position [x,y] is required."),
        Line(("click",), f"`CLICK`: {ROBOT_CLICK} Value is not applicable and the position [x,y] is required."),
        Line(("choose",), f"`CHOOSE`: {ROBOT_CHOOSE}. The value is the option and the position is not applicable."),
        Line(("finished",), "`ANSWER`: The task is done, value is the answer (e.g., 'task complete') and the "
             "position is not applicable."),
    ],
    "game": [
        Line(("choose",), "`CHOOSE`: Perform one of the game's actions, value is the action's name (one of: "
             "$options) and the position is not applicable."),
        Line((MOVE_DIRECTION,), "`MOVE`: Move one step, value is the direction (up, down, left or right) and the "
             "position is not applicable."),
        Line((MOVE_POINT,), "`HOVER`: Move to a point on the screen, value is not applicable and the position "
             "[x,y] is required."),
        Line(("click",), "`CLICK`: Click on an element, value is not applicable and the position [x,y] is required. "),
        Line(("key",), _ENTER),
        Line(("finished",), "`ANSWER`: Answer the question, value is the answer and the position is not applicable."),
    ],
}

# --- json: vlagent's {"thought": ..., "action": ...}, read by actions/parsers/json_action.py -----------
def _type_of(cls: type[ActionBase]) -> str:
    return cls.model_fields["type"].default


def _is_point(annotation: object) -> bool:
    return annotation is Point or any(_is_point(arg) for arg in get_args(annotation))


def _point_fields(cls: type[ActionBase]) -> list[str]:
    return [name for name, f in cls.model_fields.items() if _is_point(f.annotation)]


#: The types that take a point (every class with a Point field): the coordinates note is shown with any of them.
_POINTED = tuple(MOVE_POINT if _type_of(c) == "move" else _type_of(c) for c in ACTION_CLASSES if _point_fields(c))
_JSON_COMMON = [
    Line(("click",), '- {"action": "click", "point": [x, y]} (add "button": "right" or "count": 2 for a right or '
         "double click)"),
    Line(("long_press",), '- {"action": "long_press", "point": [x, y]}'),
    Line(("drag",), '- {"action": "drag", "start": [x1, y1], "end": [x2, y2]}'),
    Line(("scroll",), '- {"action": "scroll", "point": [x, y], "direction": "up, down, left or right"}'),
    Line((MOVE_POINT,), '- {"action": "move", "point": [x, y]}'),
    Line(("type",), '- {"action": "type", "text": "...", "submit": false} (submit true presses Enter after typing)'),
    Line(("key",), '- {"action": "key", "name": "enter"}'),
    Line(("hotkey",), '- {"action": "hotkey", "keys": ["ctrl", "c"]}'),
    Line(("navigate",), '- {"action": "navigate", "to": "back, home or recents"}'),
    Line(("open_app",), '- {"action": "open_app", "name": "..."}'),
    Line(("wait",), '- {"action": "wait", "seconds": 1}'),
    Line(("finished",), '- {"action": "finished"} when the task is done (add "answer": "..." if it asks a question)'),
    Line(("fail",), '- {"action": "fail", "reason": "..."} when the task cannot be done'),
    Line(("call_user",), '- {"action": "call_user", "question": "..."} when you need the user\'s help'),
    Line(_POINTED, "Points [x, y] are integers from 0 to 999: thousandths of the screenshot's width and height, "
         "[0, 0] being the top-left corner.", note=True),
]
JSON: dict[str, list[Line]] = {
    "gui": _JSON_COMMON,
    "mobile": _JSON_COMMON,
    "robot": [
        Line(("drag",), f'- {{"action": "drag", "start": [x1, y1], "end": [x2, y2]}}: {ROBOT_DRAG}'),
        Line((MOVE_POINT,), f'- {{"action": "move", "point": [x, y]}}: {ROBOT_HOVER}'),
        Line(("click",), f'- {{"action": "click", "point": [x, y]}}: {ROBOT_CLICK}'),
        Line(("choose",), f'- {{"action": "<name>"}}: {ROBOT_CHOOSE}'),
        *(line for line in _JSON_COMMON if line.types[0] in LOOP_ACTIONS or line.types is _POINTED),
    ],
    "game": [
        Line(("choose",), '- {"action": "<name>"} where <name> is one of the game\'s actions: $options'),
        Line((MOVE_DIRECTION,), '- {"action": "move", "direction": "up, down, left or right"} to move one step'),
        *_JSON_COMMON,
    ],
}

# --- qwen2-vl: vlagent's plain calls with Qwen2-VL's grounding tokens, read by actions/parsers/qwen2vl.py --
_BX = "<|box_start|>(x,y)<|box_end|>"
_QWEN2VL_TAIL = [
    Line(("scroll",), f"scroll({_BX}, 'down') # the direction is up, down, left or right"),
    Line(("type",), r"type('text') # end the text with \n to press Enter after typing"),
    Line(("key",), "key('enter')"),
    Line(("hotkey",), "hotkey('ctrl c')"),
    Line(("navigate",), "back()"),
    Line(("navigate",), "home()"),
    Line(("open_app",), "open_app('app name')"),
    Line(("wait",), "wait()"),
    Line(("finished",), "finished() # the task is done; finished('answer') when it asks a question"),
    Line(("fail",), "fail('reason') # the task cannot be done"),
    Line(("call_user",), "call_user('question') # you need the user's help"),
    Line(_POINTED, "\nCoordinates are integers from 0 to 999: thousandths of the screenshot's width and height. "
         "To act on an element, output its bounding box, <|box_start|>(x1,y1),(x2,y2)<|box_end|>, or its centre "
         "point, <|box_start|>(x,y)<|box_end|>, inside the call.", note=True),
]
QWEN2VL: dict[str, list[Line]] = {
    "robot": [
        Line(("drag",), f"drag(<|box_start|>(x1,y1)<|box_end|>, <|box_start|>(x2,y2)<|box_end|>) # {ROBOT_DRAG}"),
        Line((MOVE_POINT,), f"hover({_BX}) # {ROBOT_HOVER}"),
        Line(("click",), f"click({_BX}) # {ROBOT_CLICK}"),
        Line(("choose",), f"choose('name') # {ROBOT_CHOOSE}"),
        *_QWEN2VL_TAIL,
    ],
    "gui": [
        Line(("click",), f"click({_BX})"),
        Line(("click",), f"double_click({_BX})"),
        Line(("click",), f"right_click({_BX})"),
        Line(("long_press",), f"long_press({_BX})"),
        Line((MOVE_POINT,), f"hover({_BX})"),
        Line(("drag",), "drag(<|box_start|>(x1,y1)<|box_end|>, <|box_start|>(x2,y2)<|box_end|>)"),
        *_QWEN2VL_TAIL,
    ],
    "mobile": [
        Line(("click",), f"click({_BX})"),
        Line(("long_press",), f"long_press({_BX})"),
        Line(("drag",), "drag(<|box_start|>(x1,y1)<|box_end|>, <|box_start|>(x2,y2)<|box_end|>) # a swipe"),
        *_QWEN2VL_TAIL,
    ],
    "game": [
        Line(("choose",), "choose('name') # one of the game's actions: $options"),
        Line((MOVE_DIRECTION,), "move('up') # move one step: up, down, left or right"),
        Line((MOVE_POINT,), f"hover({_BX}) # move the target to that point"),
        Line(("click",), f"click({_BX})"),
        *_QWEN2VL_TAIL,
    ],
}

# --- lines for action types a table has no words for (vlagent's own syntaxes only) -------------------------
#: vlagent's own syntaxes offer every action type: where their table has no line for one, it is derived
#: from the class (:func:`derived_line`). The checkpoint syntaxes keep the words and gaps of their papers.
OWN_SYNTAXES: tuple[str, ...] = ("json", "qwen2vl")
#: Coordinates given to an example's points, distinctive enough to be found again in the formatted call.
_SENTINELS = ((613, 631), (713, 731), (813, 831), (913, 931))


def covered_types(table: Mapping[str, list[Line]]) -> set[str]:
    """The action types a table has a line for (``move`` when it has either kind of move)."""
    covered = {t for lines in table.values() for line in lines if not line.note for t in line.types}
    return covered | ({"move"} if covered & {MOVE_POINT, MOVE_DIRECTION} else set())


def example_action(cls: type[ActionBase], space: Space = "rel1000") -> ActionBase | None:
    """An instance of ``cls`` from its own sampler, or ``None`` for a class without one.

    Its optional fields are left at their defaults and its points put at :data:`_SENTINELS` in ``space``.

    Example:
        >>> from vlagent.actions.models import LongPress
        >>> example_action(LongPress)
        LongPress(type='long_press', point=Point(x=613.0, y=631.0, space='rel1000'), duration=1.0)
    """
    make = cls.sampler(SampleSpace(lambda lo, hi: lo, size=(1000, 1000), options=("name",)))
    if make is None:
        return None
    sample = make()
    try:  # what the call needs, not the sampler's harmless values (a parser may write only the defaults)
        sample = cls(**{name: getattr(sample, name) for name, f in cls.model_fields.items() if f.is_required()})
    except ValidationError:
        pass
    names = list(sample.points())
    if len(names) > len(_SENTINELS):
        return None
    return sample.model_copy(update={
        name: Point(x=x, y=y, space=space) for name, (x, y) in zip(names, _SENTINELS, strict=False)
    })


def _placeholders(text: str, count: int) -> str | None:
    """``text`` with each sentinel point written ``x, y`` (``x1, y1``, ``x2, y2``... for several).

    ``None`` when a sentinel is not found exactly once (the call cannot be turned into a template).
    """
    names = [("x", "y")] if count == 1 else [(f"x{i}", f"y{i}") for i in range(1, count + 1)]
    for (x, y), (px, py) in zip(_SENTINELS, names, strict=False):
        text, found = re.subn(rf"(?<![\w.]){x}(\s*,\s*){y}(?![\w.])", rf"{px}\g<1>{py}", text)
        if found != 1:
            return None
    return text


def _field_call(syntax: str, cls: type[ActionBase]) -> str:
    """The call written from the class's required field names, for a class its parser cannot write."""
    tag, points = _type_of(cls), set(_point_fields(cls))
    fields = [n for n, f in cls.model_fields.items() if n != "type" and (f.is_required() or n in points)]
    if syntax == "qwen2vl":
        return f"{tag}(" + ", ".join(_BX if n in points else f"'{n}'" for n in fields) + ")"
    body = "".join(f', "{n}": ' + ("[x, y]" if n in points else '"..."') for n in fields)
    return f'{{"action": "{tag}"{body}}}'


def derived_line(syntax: str, cls: type[ActionBase]) -> Line:
    """A line for an action type the ``syntax`` table has no words for.

    The call is the syntax parser's own ``format`` of :func:`example_action` (points as placeholders), else
    one written from the field names; the class's ``summary`` follows it.

    Example:
        >>> from vlagent.actions.models import LongPress
        >>> derived_line("qwen2vl", LongPress).text
        'long_press(<|box_start|>(x,y)<|box_end|>) # press and hold at a point'
        >>> derived_line("json", LongPress).text
        '- {"action": "long_press", "point": [x, y], "duration": 1.0} (press and hold at a point)'
    """
    from vlagent.actions.parsers import PARSERS  # only when a line is missing: the parsers load on use

    parser = PARSERS[syntax]()
    example = example_action(cls, parser.space)
    text = None
    if example is not None:
        try:
            text = _placeholders(parser.format([example]), len(example.points()))
        except (ActionError, ValueError):  # the parser cannot write it (yet): the field names then
            text = None
    text = text or _field_call(syntax, cls)
    tag = _type_of(cls)
    return Line((MOVE_POINT,) if tag == "move" else (tag,),
                f"{text} # {cls.summary}" if syntax == "qwen2vl" else f"- {text} ({cls.summary})")


def with_derived_lines(syntax: str, table: dict[str, list[Line]],
                       classes: Iterable[type[ActionBase]] = ACTION_CLASSES) -> dict[str, list[Line]]:
    """``table`` with a :func:`derived_line` for each of ``classes`` it has no line for.

    The line goes in every kind, before the loop's own actions (finished, fail, call_user); a table that
    lacks none is returned itself.
    """
    covered = covered_types(table)
    new = [derived_line(syntax, cls) for cls in classes if _type_of(cls) not in covered]
    if not new:
        return table

    def insert(lines: list[Line]) -> list[Line]:
        at = next((i for i, ln in enumerate(lines) if set(ln.types) <= LOOP_ACTIONS), len(lines))
        return [*lines[:at], *new, *lines[at:]]

    return {kind: insert(lines) for kind, lines in table.items()}


JSON = with_derived_lines("json", JSON)
QWEN2VL = with_derived_lines("qwen2vl", QWEN2VL)

LINE_TABLES: dict[str, dict[str, list[Line]]] = {
    "qwen2vl": QWEN2VL,
    "uitars": UITARS_V1,
    "uitars-1.5": UITARS_15,
    "showui": SHOWUI,
    "json": JSON,
}


def _check_tables() -> None:
    for syntax, table in LINE_TABLES.items():
        for kind, lines in table.items():
            check_types((t for line in lines for t in line.types), f"the {syntax} action space ({kind})")


_check_tables()


def render_lines(table: dict[str, list[Line]], request: PromptRequest, *, numbered: bool = False) -> str:
    """The table's lines for this request's family, filtered by what is allowed, ``$options`` filled in.

    Example:
        >>> req = PromptRequest(family="desktop", task="t", images=[], supported=frozenset({"scroll"}))
        >>> print(render_lines(UITARS_V1, req))
        scroll(start_box='<|box_start|>(x1,y1)<|box_end|>', direction='down or up or right or left')
        finished()
        call_user() # Submit the task and call the user when the task is unsolvable, or when you need the user's help.
    """
    allowed = allowed_actions(request)
    options = ", ".join(request.options)
    lines = [ln.text.replace("$options", options) for ln in table[_kind(request.family)] if ln.shown(allowed)]
    if numbered:
        lines = [f"{i}. {text}" for i, text in enumerate(lines, 1)]
    return "\n".join(lines)
