r"""Qwen2.5-VL function calls: ``<tool_call>{"name": "computer_use", "arguments": {...}}</tool_call>``.

The vocabularies are those of the ``ComputerUse`` and ``MobileUse`` tools in the Qwen2.5-VL cookbooks
(``cookbooks/utils/agent_function_call.py``, used by ``computer_use.ipynb`` and ``mobile_agent.ipynb``),
with the later additions of the Qwen3-VL cookbook (``triple_click``, ``hscroll``, ``answer``).
Coordinates are pixels of the ``smart_resize``-d image (space ``resized``).

computer_use:

=======================================================  ==================================================
``left_click|right_click|middle_click|double_click|``    :class:`Click` at ``coordinate``
``triple_click``
``mouse_move``                                           :class:`Move`
``left_click_drag``                                      :class:`Drag` to ``coordinate`` from
                                                         ``start_coordinate`` (Anthropic's spelling), or
                                                         from the pointer an earlier ``mouse_move`` of the
                                                         same reply left
``key`` (``keys: [...]``)                                :class:`Key` for one key, :class:`Hotkey` for more
``type`` (``text``)                                      :class:`TypeText`; a trailing ``\n`` sets submit
``scroll`` / ``hscroll`` (``pixels``)                    :class:`Scroll`: positive is up (right), negative
                                                         down (left); ``|pixels|`` wheel clicks, at most 100
``wait`` (``time``), ``terminate`` (``status``),          :class:`Wait`, :class:`Finished`/:class:`Fail`,
``answer`` (``text``)                                    :class:`Finished` with the answer
=======================================================  ==================================================

mobile_use: ``click``, ``long_press`` (``time``), ``swipe`` (``coordinate`` -> ``coordinate2``),
``type``, ``key`` (``text``: an adb key name), ``system_button`` (Back/Home -> :class:`Navigate`,
Menu/Enter -> :class:`Key`), ``open`` (``text``) -> :class:`OpenApp`, ``wait``, ``terminate``, ``answer``.

A click without ``coordinate`` (the original Qwen2.5-VL schema clicks where the pointer is) is accepted
only after a ``mouse_move`` in the same reply; otherwise it is an error, never a click at a guessed point.
Such a move is folded into the click or drag that starts from it: one gesture, which an env that cannot
hover (a phone, a synthetic app) can still perform.
game_use (vlagent's tool in the same style, see ``prompts/tools.py``): ``choose`` (``option``) ->
:class:`Choose`, ``move`` (``direction``) -> :class:`Move`, ``mouse_move``, ``terminate``.

All tool names are accepted with all vocabularies, since the verbs do not overlap in meaning.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from vlagent.actions.coords import Point, Space
from vlagent.actions.errors import UnsupportedActionError
from vlagent.actions.models import (
    Action,
    Choose,
    Click,
    Drag,
    Fail,
    Finished,
    Hotkey,
    Key,
    LongPress,
    Move,
    Navigate,
    OpenApp,
    Scroll,
    TypeText,
    Wait,
)
from vlagent.actions.parsers._common import (
    BadReply,
    at_most,
    build,
    check_drag,
    check_space,
    coords_from_text,
    cut_off,
    point_or_box,
    submit_split,
    to_number,
)
from vlagent.actions.parsers._json import Braced, json_objects, loads_lenient
from vlagent.actions.parsers._text import unfence
from vlagent.actions.parsers.base import ReplyParser

Tool = Literal["computer_use", "mobile_use", "game_use"]
TOOLS: tuple[str, ...] = ("computer_use", "mobile_use", "game_use")
_CLICKS = {
    "left_click": ("left", 1), "click": ("left", 1), "right_click": ("right", 1),
    "middle_click": ("middle", 1), "double_click": ("left", 2), "triple_click": ("left", 3),
}
_BUTTONS = {"back": Navigate(to="back"), "home": Navigate(to="home"), "menu": Key(name="menu"),
            "enter": Key(name="enter")}
_TAG_RE = re.compile(r"<tool_call>(.*?)(?:</tool_call>|(?=<tool_call>)|\Z)", re.DOTALL)
#: Most wheel clicks one scroll may ask for (the action model's bound).
MAX_SCROLL = 100


@dataclass
class _Cursor:
    """Where the last ``mouse_move`` left the pointer, and whether the current call started from it."""

    point: Point | None = None
    used: bool = False


def _arguments(call: dict[str, Any]) -> dict[str, Any]:
    """A call's arguments, wherever the model put them.

    ``arguments`` (an object, or a JSON string as OpenAI serialises it), ``parameters``, or the action's
    keys beside ``name``: models write all three.
    """
    name = call.get("name")
    args = call.get("arguments", call.get("parameters"))
    if isinstance(args, str):
        args = loads_lenient(args)
    if args is None and "action" in call:
        args = call
    if not isinstance(args, dict):
        raise BadReply('tool call needs "arguments": {"action": ...}')
    if name is not None and name not in TOOLS:
        raise BadReply(f"unknown tool {name!r}; expected one of {', '.join(TOOLS)}")
    return args


@dataclass
class _Args:
    """One call's arguments as the verb handlers need them: the verb, its ``coordinate`` and the cursor."""

    verb: str
    args: dict[str, Any]
    space: Space
    cursor: _Cursor
    coord: Point | None = None

    def coordinate(self, key: str) -> Point | None:
        """The point under ``key`` (``[x, y]``, a box, or the same written as a string), ``None`` if absent."""
        what = f"{self.verb} {key}"
        value = self.args.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            return coords_from_text(value, self.space, what)[0]
        if not isinstance(value, list | tuple):
            raise BadReply(f"{what} must be [x, y], got {value!r}")
        return point_or_box(value, self.space, what)[0]

    def text(self) -> str:
        """The non-empty ``text`` argument (``type`` and ``answer`` have nothing to do without one)."""
        text = self.args.get("text")
        if not isinstance(text, str) or not text:  # " " is an answer, as the other formats read it
            raise BadReply(f'{self.verb} needs "text"')
        return text


def _click(a: _Args) -> list[Action]:
    """A click at ``coordinate``, or where a ``mouse_move`` of the same reply left the pointer."""
    button, count = _CLICKS[a.verb]
    where = a.coord or a.cursor.point
    a.cursor.used = a.coord is None
    if where is None:
        raise BadReply(f"{a.verb} needs \"coordinate\": [x, y] (or a mouse_move before it)")
    return [build(Click, point=where, button=button, count=count)]


def _mouse_move(a: _Args) -> list[Action]:
    """A pointer move to ``coordinate`` (which a later click or drag of the reply may start from)."""
    if a.coord is None:
        raise BadReply('mouse_move needs "coordinate": [x, y]')
    return [build(Move, point=a.coord)]


def _left_click_drag(a: _Args) -> list[Action]:
    """A drag to ``coordinate`` from ``start_coordinate`` (Anthropic's spelling) or from the pointer."""
    explicit_start = a.coordinate("start_coordinate")
    start = explicit_start or a.cursor.point
    a.cursor.used = explicit_start is None
    if a.coord is None or start is None:
        raise BadReply('left_click_drag needs "coordinate" and a start ("start_coordinate" or a mouse_move)')
    return [build(Drag, start=start, end=a.coord)]


def _swipe(a: _Args) -> list[Action]:
    """mobile_use's swipe, ``coordinate`` to ``coordinate2``."""
    end = a.coordinate("coordinate2")
    if a.coord is None or end is None:
        raise BadReply('swipe needs "coordinate" and "coordinate2"')
    return [build(Drag, start=a.coord, end=end)]


def _long_press(a: _Args) -> list[Action]:
    """mobile_use's long press at ``coordinate``, for ``time`` seconds when given."""
    if a.coord is None:
        raise BadReply('long_press needs "coordinate": [x, y]')
    t = a.args.get("time")
    fields = {} if t is None else {"duration": to_number(t, "long_press time")}
    return [build(LongPress, point=a.coord, **fields)]


def _key(a: _Args) -> list[Action]:
    """``keys: [...]`` (computer_use) or ``text`` (mobile_use): one key is a Key, more a Hotkey."""
    keys = a.args.get("keys", a.args.get("text"))
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise BadReply('key needs "keys": ["ctrl", "c"] (computer_use) or "text": "name" (mobile_use)')
    return [build(Key, name=keys[0])] if len(keys) == 1 else [build(Hotkey, keys=keys)]


def _type(a: _Args) -> list[Action]:
    """Typing ``text``; a trailing newline is Enter after it (and a lone one is Enter alone)."""
    body, submit = submit_split(a.text())
    return [build(TypeText, text=body, submit=submit)] if body else [Key(name="enter")]


def _scroll(a: _Args) -> list[Action]:
    """``scroll``/``hscroll`` by ``pixels``: the sign is the direction, ``|pixels|`` the wheel clicks."""
    pixels = to_number(a.args.get("pixels"), f"{a.verb} pixels")
    if pixels == 0:
        raise BadReply(f"{a.verb} needs non-zero \"pixels\"")
    if a.verb == "scroll":
        direction = "up" if pixels > 0 else "down"
    else:
        direction = "right" if pixels > 0 else "left"
    amount = min(max(round(abs(pixels)), 1), MAX_SCROLL)
    return [build(Scroll, point=a.coord, direction=direction, amount=amount)]


def _wait(a: _Args) -> list[Action]:
    """A wait of ``time`` seconds, or the default one."""
    t = a.args.get("time")
    return [build(Wait, seconds=to_number(t, "wait time"))] if t is not None else [Wait()]


def _terminate(a: _Args) -> list[Action]:
    """``status`` ``success`` finishes the episode, ``failure`` gives it up; nothing else is read as either."""
    status = str(a.args.get("status", "")).strip().lower()
    if status == "success":
        return [Finished()]
    if status == "failure":
        return [Fail()]
    raise BadReply(f"terminate needs \"status\": \"success\" or \"failure\", got {a.args.get('status')!r}")


def _system_button(a: _Args) -> list[Action]:
    """mobile_use's Back/Home (navigation) and Menu/Enter (keys)."""
    button = str(a.args.get("button", "")).strip().lower()
    if button not in _BUTTONS:
        raise BadReply(f"system_button needs \"button\": Back, Home, Menu or Enter, got {a.args.get('button')!r}")
    return [_BUTTONS[button].model_copy()]


_Handler = Callable[[_Args], list[Action]]
#: Every tool's verbs (they do not overlap in meaning, so every tool reads them all).
_VERBS: dict[str, _Handler] = {
    **dict.fromkeys(_CLICKS, _click),
    "mouse_move": _mouse_move,
    "left_click_drag": _left_click_drag,
    "swipe": _swipe,
    "long_press": _long_press,
    "key": _key,
    "type": _type,
    "scroll": _scroll,
    "hscroll": _scroll,
    "wait": _wait,
    "terminate": _terminate,
    "answer": lambda a: [Finished(answer=a.text())],
    "system_button": _system_button,
    "open": lambda a: [build(OpenApp, name=a.args.get("text") or "")],
    "choose": lambda a: [build(Choose, option=str(a.args.get("option") or ""))],
    "move": lambda a: [build(Move, direction=str(a.args.get("direction") or "").strip().lower())],
}


class ToolCallParser(ReplyParser):
    r"""Reads Qwen2.5-VL ``<tool_call>`` replies for the ``computer_use`` and ``mobile_use`` tools.

    ``tool`` only chooses which tool :meth:`format` writes (actions only the other tool can express are
    written with that one); :meth:`parse` reads both.

    Example:
        >>> reply = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [1240, 783]}}\n</tool_call>'
        >>> ToolCallParser().parse(reply).actions[0].point
        Point(x=1240.0, y=783.0, space='resized')
    """

    expected: ClassVar[str] = (
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [x, y]}}\n'
        "</tool_call> (or mobile_use), one block per action, x and y in pixels of the resized screenshot"
    )

    def __init__(self, space: Space = "resized", tool: Tool = "computer_use") -> None:
        if tool not in TOOLS:
            raise ValueError(f"tool must be one of {TOOLS}, got {tool!r}")
        self.space: Space = space
        self.tool: Tool = tool

    # -- reading -------------------------------------------------------------------------------------

    def _read(self, text: str, think: str | None) -> tuple[list[Action], str | None]:
        """The actions of every ``<tool_call>`` block (or bare call object); the prose before them is the thought."""
        blocks, thought = _blocks(text)
        if not blocks:
            raise BadReply("no <tool_call> found")
        actions: list[Action] = []
        cursor = _Cursor()
        for block in blocks:
            cursor.used = False
            for action in self._actions(block, cursor):
                if cursor.used and actions and isinstance(actions[-1], Move) and actions[-1].point == cursor.point:
                    # The cookbook's "mouse_move, then left_click_drag/left_click from the cursor" is one
                    # gesture: fold the move into it, so an env that cannot hover (a phone) still runs it.
                    actions.pop()
                if isinstance(action, Move) and action.point is not None:
                    cursor.point = action.point
                actions.append(action)
        if think and not thought:
            thought = think
        return actions, thought

    def _actions(self, call: dict[str, Any], cursor: _Cursor) -> list[Action]:
        """The actions of one tool call: its arguments read once, then its verb's handler in :data:`_VERBS`."""
        args = _arguments(call)
        action = args.get("action")
        if not isinstance(action, str) or not action:
            raise BadReply('tool call arguments need "action"')
        verb = action.strip().lower()
        handler = _VERBS.get(verb)
        a = _Args(verb, args, self.space, cursor)
        a.coord = a.coordinate("coordinate")  # read (and refused when bad) before the verb is, as always
        if handler is None:
            raise BadReply(f"unknown action {action!r}")
        return handler(a)

    # -- writing -------------------------------------------------------------------------------------

    def format(self, actions: Sequence[Action], thought: str | None = None) -> str:
        """Write one ``<tool_call>`` block per action, prose thought first (as the cookbook replies do).

        Example:
            >>> print(ToolCallParser().format([Click(point=Point(x=10, y=20, space="resized"))]))
            <tool_call>
            {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [10, 20]}}
            </tool_call>
        """
        if not actions:
            raise ValueError("format() needs at least one action")
        blocks = []
        for a in actions:
            name, args = self._write(a)
            body = json.dumps({"name": name, "arguments": args}, ensure_ascii=False)
            blocks.append(f"<tool_call>\n{body}\n</tool_call>")
        head = f"{thought.strip()}\n" if thought and thought.strip() else ""
        return head + "\n".join(blocks)

    def _xy(self, p: Point) -> list[int | float]:
        check_space(self.space, p)
        return [int(v) if float(v).is_integer() else v for v in (p.x, p.y)]

    def _write(self, a: Action) -> tuple[str, dict[str, Any]]:
        """The tool and arguments of one action: the pointer actions have writers of their own."""
        mobile = self.tool == "mobile_use"
        if isinstance(a, Click):
            return self._write_click(a)
        if isinstance(a, Move):
            if a.point is None:
                return "game_use", {"action": "move", "direction": a.direction}
            tool = "game_use" if self.tool == "game_use" else "computer_use"
            return tool, {"action": "mouse_move", "coordinate": self._xy(a.point)}
        if isinstance(a, Choose):
            return "game_use", {"action": "choose", "option": a.option}
        if isinstance(a, Drag):
            return self._write_drag(a)
        if isinstance(a, LongPress):
            return "mobile_use", {"action": "long_press", "coordinate": self._xy(a.point), "time": a.duration}
        if isinstance(a, Key):
            if mobile:
                return "mobile_use", {"action": "key", "text": a.name}
            return "computer_use", {"action": "key", "keys": [a.name]}
        if isinstance(a, Hotkey):  # a one-key hotkey reads back as Key: the tool cannot tell them apart
            return "computer_use", {"action": "key", "keys": list(a.keys)}
        if isinstance(a, Scroll):
            return self._write_scroll(a)
        return self._write_other(a)

    def _write_click(self, a: Click) -> tuple[str, dict[str, Any]]:
        """mobile_use's ``click`` for a plain tap on a phone, else the computer_use click of that button."""
        if self.tool == "mobile_use" and a.button == "left" and a.count == 1:
            return "mobile_use", {"action": "click", "coordinate": self._xy(a.point)}
        verb = {("left", 1): "left_click", ("right", 1): "right_click", ("middle", 1): "middle_click",
                ("left", 2): "double_click", ("left", 3): "triple_click"}.get((a.button, a.count))
        if verb is None:
            raise UnsupportedActionError("click", sorted(_CLICKS), detail=f"no {a.button} click x{a.count}")
        return "computer_use", {"action": verb, "coordinate": self._xy(a.point)}

    def _write_drag(self, a: Drag) -> tuple[str, dict[str, Any]]:
        """mobile_use's ``swipe`` on a phone, else ``left_click_drag``; neither has a duration."""
        check_drag(a)
        if self.tool == "mobile_use":
            return "mobile_use", {"action": "swipe", "coordinate": self._xy(a.start), "coordinate2": self._xy(a.end)}
        return "computer_use", {"action": "left_click_drag", "start_coordinate": self._xy(a.start),
                                "coordinate": self._xy(a.end)}

    def _write_scroll(self, a: Scroll) -> tuple[str, dict[str, Any]]:
        """``scroll``/``hscroll`` with the direction as the sign of ``pixels``."""
        sign = 1 if a.direction in ("up", "right") else -1
        args: dict[str, Any] = {"action": "scroll" if a.direction in ("up", "down") else "hscroll",
                                "pixels": sign * a.amount}
        if a.point is not None:
            args["coordinate"] = self._xy(a.point)
        return "computer_use", args

    def _write_other(self, a: Action) -> tuple[str, dict[str, Any]]:
        """The actions without a point: written with this parser's tool where every tool has the verb."""
        own = "computer_use" if self.tool == "game_use" else self.tool
        if isinstance(a, TypeText):
            return own, {"action": "type", "text": a.text + ("\n" if a.submit else "")}
        if isinstance(a, Wait):
            return own, {"action": "wait", "time": a.seconds}
        if isinstance(a, Finished):
            if a.answer is not None:
                return own, {"action": "answer", "text": a.answer}
            return self.tool, {"action": "terminate", "status": "success"}
        if isinstance(a, Fail):
            return self.tool, {"action": "terminate", "status": "failure"}
        if isinstance(a, Navigate):
            if a.to == "recents":
                raise UnsupportedActionError("navigate", ["back", "home"], detail="mobile_use has no recents button")
            return "mobile_use", {"action": "system_button", "button": a.to.capitalize()}
        if isinstance(a, OpenApp):
            return "mobile_use", {"action": "open", "text": a.name}
        raise UnsupportedActionError(a.type, sorted(_WRITABLE), detail="Qwen2.5-VL's tools cannot express it")


_WRITABLE = {"click", "move", "drag", "long_press", "key", "hotkey", "type", "scroll", "wait", "finished",
             "fail", "navigate", "open_app", "choose"}


def _blocks(text: str) -> tuple[list[dict[str, Any]], str | None]:
    """The tool calls of a reply and the prose before the first one (the thought)."""
    calls: list[dict[str, Any]] = []
    tags = _TAG_RE.finditer(text)
    first = next(tags, None)
    bodies: Iterable[str]
    if first is not None:
        head = text[: first.start()]
        # Read lazily: a cut block, or one past the limit, stops the reading.
        bodies = (unfence(m.group(1)) for m in at_most(itertools.chain([first], tags), "tool calls"))
    else:
        # No tags: a fenced or bare JSON object that looks like a tool call ({"name", "arguments"}).
        plain = unfence(text)
        objs = [o for o in at_most(json_objects(plain), "JSON objects") if '"arguments"' in o.text or '"action"' in o.text
                or "'action'" in o.text]
        if not objs:
            return [], None
        head = plain[: plain.find(objs[0].text)]
        bodies = [o.text for o in objs]
    for body in bodies:
        for obj in list(json_objects(body)) or [Braced(body)]:
            if not obj.closed:
                raise cut_off("inside a tool call's JSON")
            value = loads_lenient(obj.text)
            if not isinstance(value, dict):
                raise BadReply(f"tool call must be a JSON object, got {type(value).__name__}")
            calls.append(value)
    thought = re.sub(r"^\s*(Thought|Action|Reasoning)\s*:\s*", "", unfence(head).strip(), flags=re.IGNORECASE)
    return calls, thought.strip() or None
