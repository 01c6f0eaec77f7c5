"""ShowUI replies: Python-literal dicts ``{'action': 'CLICK', 'value': None, 'position': [0.49, 0.42]}``.

ShowUI (showlab/ShowUI, README "UI Navigation" and ``data/template/shared_navigation.py``) writes one dict
per action, several separated by commas or newlines, with ``position`` in [0, 1] of the screenshot
(space ``rel1``). Its grounding mode answers a bare ``[x, y]``. The dicts are Python literals (``None``,
single quotes), read with :func:`ast.literal_eval` only, never ``eval``.

=================================  =========================================================================
web: ``CLICK``, ``SELECT``          :class:`Click` at ``position`` (SELECT opens a dropdown at a point)
phone: ``TAP``                      :class:`Click`
``HOVER``                           :class:`Move` to ``position``
``INPUT`` / ``TYPE``                :class:`TypeText` of ``value``, preceded by a :class:`Click` at
                                    ``position`` when one is given ("type into an element")
``ENTER`` / ``PRESS ENTER``         :class:`Key` ``enter``
``SCROLL`` (value = direction)      :class:`Scroll`; AITW's ``SCROLL UP|DOWN|LEFT|RIGHT`` too
``SWIPE`` / ``SELECT_TEXT``         :class:`Drag` from ``position[0]`` to ``position[1]``
``COPY``                            :class:`Hotkey` ``ctrl c`` (copies the selection SELECT_TEXT made)
``ANSWER``                          :class:`Finished` with ``value`` as the answer
``PRESS BACK`` / ``PRESS HOME``     :class:`Navigate` (AITW's vocabulary in ShowUI's AITW template)
``STATUS TASK COMPLETE``            :class:`Finished`; ``STATUS TASK IMPOSSIBLE``: :class:`Fail`
``CHOOSE`` (value = name)           vlagent's game extension (``prompts/action_space.py``): :class:`Choose`
``MOVE`` (value = direction)        vlagent's game extension: :class:`Move` one step (or to ``position``)
=================================  =========================================================================

ShowUI has no scroll amount, no right or double click and no key other than Enter; :meth:`format` raises
:class:`UnsupportedActionError` for those rather than writing something that means less.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from vlagent.actions.coords import Point, Space
from vlagent.actions.errors import UnsupportedActionError
from vlagent.actions.models import (
    DIRECTIONS,
    Action,
    Choose,
    Click,
    Drag,
    Fail,
    Finished,
    Hotkey,
    Key,
    Move,
    Navigate,
    Scroll,
    TypeText,
)
from vlagent.actions.parsers._common import (
    BadReply,
    at_most,
    build,
    check_drag,
    check_space,
    cut_off,
    point_or_box,
)
from vlagent.actions.parsers._json import Braced, json_objects, literal
from vlagent.actions.parsers.base import ReplyParser

Platform = Literal["web", "phone"]
# ``[x, y]`` or ``[[x1, y1], [x2, y2]]``; one blank run between items (``\s*,?\s*`` could split every run
# of spaces two ways, and backtracked exponentially on a list that never closes).
_LIST_RE = re.compile(r"\[\s*+(?:\[[^\[\]]*+\]\s*+(?:,\s*+)?+)++\]|\[[^\[\]]*+\]")
#: The keys of every ShowUI action dict: one that has them all is whole, even with its ``}`` cut off.
_KEYS = frozenset({"action", "value", "position"})


class ShowUIParser(ReplyParser):
    """Reads ShowUI's action dicts (web and phone vocabularies) and its bare ``[x, y]`` grounding answers.

    ``platform`` only chooses what :meth:`format` writes for a click (``CLICK`` on the web, ``TAP`` on
    phones); :meth:`parse` reads both vocabularies.

    Example:
        >>> r = ShowUIParser().parse("{'action': 'CLICK', 'value': None, 'position': [0.49, 0.42]}")
        >>> r.actions[0].point
        Point(x=0.49, y=0.42, space='rel1')
    """

    expected: ClassVar[str] = (
        "{'action': 'ACTION_TYPE', 'value': 'element', 'position': [x,y]} with x, y in 0-1 "
        "(CLICK, INPUT, SELECT, HOVER, ANSWER, ENTER, SCROLL, SELECT_TEXT, COPY; phone: TAP, SWIPE)"
    )

    def __init__(self, space: Space = "rel1", platform: Platform = "web") -> None:
        if platform not in ("web", "phone"):
            raise ValueError(f"platform must be 'web' or 'phone', got {platform!r}")
        self.space: Space = space
        self.platform: Platform = platform

    # -- reading -------------------------------------------------------------------------------------

    def _read(self, text: str, think: str | None) -> tuple[list[Action], str | None]:
        """Action dicts in order, else bare ``[x, y]`` grounding points; the prose before them is the thought."""
        actions: list[Action] = []
        head: str | None = None
        for span in at_most(json_objects(text, quotes="'\""), "action dicts"):
            head = text[: text.find(span.text)] if head is None else head
            actions.extend(self._actions(_literal(span.text) if span.closed else _cut_dict(span)))
        if head is None:
            for m in at_most(_LIST_RE.finditer(text), "points"):
                head = text[: m.start()] if head is None else head
                point = self._position(_literal(m.group(0)), "grounding point")
                if not isinstance(point, Point):
                    raise BadReply("a grounding answer is one point [x, y]")
                actions.append(Click(point=point))
        if head is None:
            raise BadReply("no action dict or [x, y] found")
        thought = head.strip().strip(",").strip() or think
        return actions, thought

    def _position(self, value: Any, what: str) -> Point | tuple[Point, Point] | None:
        if value is None:
            return None
        if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, list | tuple) for v in value):
            a = point_or_box(list(value[0]), self.space, what)[0]
            b = point_or_box(list(value[1]), self.space, what)[0]
            return a, b
        if isinstance(value, list | tuple):
            return point_or_box(list(value), self.space, what)[0]
        raise BadReply(f"{what} must be [x, y] or [[x1, y1], [x2, y2]], got {value!r}")

    def _actions(self, d: Any) -> list[Action]:
        """The actions of one dict: its fields read once, then its verb's handler in :data:`_VERBS`."""
        if not isinstance(d, dict):
            raise BadReply(f"expected an action dict, got {type(d).__name__}")
        name = d.get("action")
        if not isinstance(name, str) or not name.strip():
            raise BadReply("action dict needs 'action'")
        verb = re.sub(r"[\s_]+", "_", name.strip().upper())
        fields = _Fields(verb, d.get("value"), self._position(d.get("position"), f"{verb} position"))
        handler = _VERBS.get(verb) or (_scroll if verb.startswith("SCROLL") else None)
        if handler is None:
            raise BadReply(f"unknown action {name!r}")
        return handler(fields)

    # -- writing -------------------------------------------------------------------------------------

    def format(self, actions: Sequence[Action], thought: str | None = None) -> str:
        """Write ShowUI dicts, one per line; a click followed by typing becomes one ``INPUT`` at the click.

        ``thought`` is written on the line before the dicts (ShowUI itself writes none).

        Example:
            >>> print(ShowUIParser().format([Click(point=Point(x=0.5, y=0.25, space="rel1"))]))
            {'action': 'CLICK', 'value': None, 'position': [0.5, 0.25]}
        """
        if not actions:
            raise ValueError("format() needs at least one action")
        out: list[dict[str, Any]] = []
        i = 0
        while i < len(actions):
            a = actions[i]
            nxt = actions[i + 1] if i + 1 < len(actions) else None
            if (isinstance(a, Click) and isinstance(nxt, TypeText) and a.button == "left" and a.count == 1):
                out.extend(self._write(nxt, at=a.point))
                i += 2
                continue
            out.extend(self._write(a))
            i += 1
        lines = [repr(d) for d in out]
        head = f"{thought.strip()}\n" if thought and thought.strip() else ""
        return head + "\n".join(lines)

    def _xy(self, p: Point) -> list[float]:
        check_space(self.space, p)
        return [p.x, p.y]

    def _write(self, a: Action, at: Point | None = None) -> list[dict[str, Any]]:
        def d(action: str, value: Any = None, position: Any = None) -> dict[str, Any]:
            return {"action": action, "value": value, "position": position}

        if isinstance(a, Click):
            if a.button != "left" or a.count != 1:
                raise UnsupportedActionError("click", ["click"], detail="ShowUI has only a single left click")
            return [d("TAP" if self.platform == "phone" else "CLICK", None, self._xy(a.point))]
        if isinstance(a, TypeText):
            pos = self._xy(at) if at is not None else None
            typed = [d("INPUT", a.text, pos)]
            return typed + ([d("ENTER")] if a.submit else [])
        if isinstance(a, Move):
            if a.point is None:
                return [d("MOVE", a.direction)]
            return [d("HOVER", None, self._xy(a.point))]
        if isinstance(a, Choose):
            return [d("CHOOSE", a.option)]
        if isinstance(a, Key) and a.name == "enter":
            return [d("ENTER")]
        if isinstance(a, Scroll):
            if a.amount != Scroll.model_fields["amount"].default:
                raise UnsupportedActionError("scroll", ["scroll"], detail="ShowUI's SCROLL has no amount")
            return [d("SCROLL", a.direction, self._xy(a.point) if a.point is not None else None)]
        if isinstance(a, Drag):
            check_drag(a)
            verb = "SWIPE" if self.platform == "phone" else "SELECT_TEXT"
            return [d(verb, None, [self._xy(a.start), self._xy(a.end)])]
        if isinstance(a, Hotkey) and a.keys == ["ctrl", "c"]:
            return [d("COPY")]
        if isinstance(a, Finished):
            return [d("ANSWER", a.answer)] if a.answer is not None else [d("STATUS TASK COMPLETE")]
        if isinstance(a, Fail):
            return [d("STATUS TASK IMPOSSIBLE")]
        if isinstance(a, Navigate) and a.to in ("back", "home"):
            return [d(f"PRESS {a.to.upper()}")]
        raise UnsupportedActionError(
            a.type,
            ["choose", "click", "drag", "fail", "finished", "hotkey", "key", "move", "navigate", "scroll", "type"],
            detail="ShowUI cannot express it",
        )


@dataclass(frozen=True)
class _Fields:
    """One ShowUI dict as the verb handlers need it: the normalised verb, ``value`` and the read position."""

    verb: str
    value: Any
    pos: Point | tuple[Point, Point] | None

    def point(self) -> Point:
        """The one point the verb acts at; a missing or two-point position is an error, never a guess."""
        if not isinstance(self.pos, Point):
            raise BadReply(f"{self.verb} needs 'position': [x, y]")
        return self.pos

    def direction(self, what: str) -> str:
        """``value`` as one of :data:`DIRECTIONS` (``what`` names the verb and what it wants in the error)."""
        direction = str(self.value or "").strip().lower()
        if direction not in DIRECTIONS:
            raise BadReply(f"{what} needs a direction (up, down, left, right) as 'value', got {self.value!r}")
        return direction


def _type(f: _Fields) -> list[Action]:
    """``INPUT`` types ``value``, clicking ``position`` first when one is given ("type into an element")."""
    if not isinstance(f.value, str) or not f.value:
        raise BadReply(f"{f.verb} needs the text to type as 'value'")
    typed = build(TypeText, text=f.value)
    return [typed] if f.pos is None else [Click(point=f.point()), typed]


def _scroll(f: _Fields) -> list[Action]:
    """``SCROLL`` with the direction as ``value``, or AITW's ``SCROLL_UP`` with it in the verb."""
    direction = f.verb.removeprefix("SCROLL").strip("_").lower() or str(f.value or "").strip().lower()
    if direction not in DIRECTIONS:
        raise BadReply(f"SCROLL needs a direction (up, down, left, right) as 'value', got {f.value!r}")
    return [Scroll(point=f.pos if isinstance(f.pos, Point) else None, direction=direction)]


def _drag(f: _Fields) -> list[Action]:
    """``SWIPE`` / ``SELECT_TEXT``: from the first point of ``position`` to the second."""
    if not isinstance(f.pos, tuple):
        raise BadReply(f"{f.verb} needs 'position': [[x1, y1], [x2, y2]]")
    return [Drag(start=f.pos[0], end=f.pos[1])]


def _choose(f: _Fields) -> list[Action]:
    """CHOOSE (vlagent's game extension): the action named by ``value``."""
    if not isinstance(f.value, str) or not f.value.strip():
        raise BadReply("CHOOSE needs the action's name as 'value'")
    return [build(Choose, option=f.value)]


def _move(f: _Fields) -> list[Action]:
    """MOVE (vlagent's game extension): to ``position`` or one step in the direction ``value``."""
    if isinstance(f.pos, Point):
        return [Move(point=f.pos)]
    return [Move(direction=f.direction("MOVE"))]


def _answer(f: _Fields) -> list[Action]:
    """``ANSWER``: finished, with ``value`` as the answer (an empty one is no answer)."""
    answer = None if f.value is None else str(f.value)
    return [build(Finished, answer=answer or None)]


_Handler = Callable[[_Fields], list[Action]]
#: ShowUI's verbs (web, phone, AITW and vlagent's game extension) as :meth:`ShowUIParser._actions`
#: normalises them; ``SCROLL_<DIRECTION>`` is matched by prefix. A constant verb builds a fresh action
#: each time, so that two actions of one reply are never the same object.
_VERBS: dict[str, _Handler] = {
    "CLICK": lambda f: [Click(point=f.point())],
    "TAP": lambda f: [Click(point=f.point())],
    "SELECT": lambda f: [Click(point=f.point())],
    "HOVER": lambda f: [Move(point=f.point())],
    "INPUT": _type,
    "TYPE": _type,
    "ENTER": lambda f: [Key(name="enter")],
    "PRESS_ENTER": lambda f: [Key(name="enter")],
    "SWIPE": _drag,
    "SELECT_TEXT": _drag,
    "COPY": lambda f: [Hotkey(keys=["ctrl", "c"])],
    "CHOOSE": _choose,
    "MOVE": _move,
    "ANSWER": _answer,
    "PRESS_BACK": lambda f: [Navigate(to="back")],
    "PRESS_HOME": lambda f: [Navigate(to="home")],
    "STATUS_TASK_COMPLETE": lambda f: [Finished()],
    "STATUS_TASK_IMPOSSIBLE": lambda f: [Fail()],
}


def _literal(text: str) -> Any:
    """A Python literal (or JSON); never ``eval``."""
    body = text.strip().rstrip(",")
    try:
        return literal(body)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    try:  # the same dict written as JSON (null, true), as models sometimes do
        return json.loads(body)
    except (ValueError, RecursionError):
        pass
    raise BadReply(f"not a Python literal: {body[:80]!r}")


def _cut_dict(span: Braced) -> dict[str, Any]:
    """A dict the reply ends in: whole if only its braces are missing and it has all of ShowUI's keys.

    ShowUI writes exactly ``action``, ``value`` and ``position``, so nothing can follow the last of them;
    a dict that lacks one, or that stops inside a string or a list, was cut off (``[0.49, 0.4``).
    """
    if span.in_string:
        raise cut_off("inside an action dict's string")
    try:
        value = _literal(span.text.rstrip().rstrip(",") + "}" * span.open_braces)
    except BadReply:
        raise cut_off("inside an action dict") from None
    if not isinstance(value, dict) or not _KEYS <= set(value):
        raise cut_off("inside an action dict, before all of 'action', 'value' and 'position'")
    return value
