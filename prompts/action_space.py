"""How each profile writes the action space: the env's actions, in the model's own syntax.

A request says which action types the env performs (``supported``) and, for games, its named discrete
actions (``options``). Each syntax has one table of lines in the order its official prompt lists them;
a line is shown when any action type it stands for is allowed, so a model is never offered an action
the env would reject. Lines for actions the official prompts do not have (``hover``, ``choose``,
``move(direction=...)``) use the same call style and are marked as vlagent's below.

Where the lines come from:

- UI-TARS v1: ``UITARS_CALL_USR_ACTION_SPACE`` and ``UITARS_MOBILE_ACTION_SPACE`` of xlang-ai/OSWorld
  ``mm_agents/uitars_agent.py`` (the prompts bytedance/UI-TARS's README pointed to for v1).
- UI-TARS-1.5: ``COMPUTER_USE_DOUBAO`` / ``MOBILE_USE_DOUBAO`` of bytedance/UI-TARS ``codes/ui_tars/prompt.py``.
- Qwen2.5-VL: the ``ComputerUse`` / ``MobileUse`` tools of QwenLM/Qwen2.5-VL
  ``cookbooks/utils/agent_function_call.py`` (see :mod:`vlagent.prompts.tools`).
- ShowUI: ``action_map['web']`` / ``action_map['phone']`` of showlab/ShowUI's README (UI Navigation).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vlagent.actions.errors import ProfileError
from vlagent.actions.models import ACTION_TYPES, FAMILY_DEFAULTS, LOOP_ACTIONS, Family
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
_POINTED = ("click", "long_press", "drag", "scroll", MOVE_POINT)
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
         "[0, 0] being the top-left corner."),
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
         "point, <|box_start|>(x,y)<|box_end|>, inside the call."),
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
