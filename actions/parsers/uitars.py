r"""UI-TARS replies: ``Thought: ...`` then ``Action: click(start_box='(x,y)')``, v1 and 1.5 syntaxes.

UI-TARS v1 writes ``start_box='<|box_start|>(x1,y1)<|box_end|>'`` in [0, 1000) of the image; UI-TARS-1.5
writes ``point='<point>x y</point>'`` in pixels of the ``smart_resize``-d image. Both syntaxes are
accepted by one class, since checkpoints and deployments mix them (the official action parser rewrites
``point=`` to ``start_box=``); only the coordinate space differs, set by the profile.

Verbs read (from the official prompts in bytedance/UI-TARS ``codes/ui_tars/prompt.py`` and README, and
the browser/mobile variants seen in UI-TARS-desktop/Midscene):

=============================================  =========================================================
``click`` / ``left_single``                    :class:`Click`
``left_double`` / ``double_click``             :class:`Click` with ``count=2``
``right_single`` / ``right_click``             :class:`Click` with ``button="right"``
``triple_click``                               :class:`Click` with ``count=3``
``hover`` / ``mouse_move``                     :class:`Move` to a point
``drag`` / ``swipe``                           :class:`Drag` (``start_box``/``end_box`` or ``*_point``)
``select(start_box)``                          v1 web: open the dropdown at the box, a :class:`Click`
                                               (no typed action picks an option); with an ``end_box``
                                               it selects a span, a :class:`Drag`
``long_press(start_box, time=)``               :class:`LongPress` (``time`` in seconds when given)
``hotkey(key='ctrl c')``                       :class:`Hotkey`; a single key becomes :class:`Key`
``press(key=)`` / ``keydown`` / ``press_key``  :class:`Key`
``type(content='...')``                        :class:`TypeText`; a trailing ``\n`` sets ``submit``;
                                               v1 web's ``type(content, start_box)`` clicks the box
                                               first (:class:`Click`, then :class:`TypeText`)
``scroll(start_box, direction)``               :class:`Scroll`; v1-mobile ``scroll(start_box, end_box)``
                                               without a direction is a swipe, i.e. :class:`Drag`
``wait()``                                     :class:`Wait` of 5 s (the prompt: "Sleep for 5s")
``finished(content=)``                         :class:`Finished` (``answer`` = content)
``call_user()``                                :class:`CallUser`
``open_app(app_name=)``                        :class:`OpenApp`
``press_home()`` / ``press_back()``            :class:`Navigate` (also ``navigate_home/back``)
``choose(option=)`` / ``move(direction=)``     vlagent's game extension: :class:`Choose`, :class:`Move`
=============================================  =========================================================

Several actions in one reply (the official parser splits on ``)\n\n``) are all returned in order.

A reply cut off inside a call is refused (see :func:`~vlagent.actions.parsers._calls.check_whole`); a
call missing only its ``)`` is read when it already holds every argument its verb takes (``_SLOTS``).
A ``Thought:`` with no ``Action:`` after it is a reply cut before its action: the calls its thought may
mention are not actions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import ClassVar

from vlagent.actions.coords import SPACES, Box, Point, Space
from vlagent.actions.errors import UnsupportedActionError
from vlagent.actions.models import (
    DIRECTIONS,
    Action,
    CallUser,
    Choose,
    Click,
    Drag,
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
from vlagent.actions.parsers._calls import Call, check_whole, find_calls, navigate_call, quote_str
from vlagent.actions.parsers._common import (
    BadReply,
    at_most,
    box_if_centred,
    build,
    check_drag,
    check_space,
    coords_from_text,
    cut_off,
    fmt_num,
    key_list,
    submit_split,
    to_number,
)
from vlagent.actions.parsers.base import ReplyParser

#: How long UI-TARS's ``wait()`` sleeps, per its prompt ("Sleep for 5s and take a screenshot").
UITARS_WAIT_SECONDS = 5.0

_CLICKS = {
    "click": ("left", 1), "left_single": ("left", 1), "left_click": ("left", 1),
    "left_double": ("left", 2), "double_click": ("left", 2), "doubleclick": ("left", 2),
    "right_single": ("right", 1), "right_click": ("right", 1),
    "triple_click": ("left", 3), "left_triple": ("left", 3),
}
_START = ("start_box", "point", "start_point", "box")
_END = ("end_box", "end_point")
_COORDINATE_KEYS = frozenset(_START + _END)
_KEYS = ("key", "hotkey", "keys")
#: The arguments each verb takes, as groups of accepted spellings: a call the reply ends in without its
#: ``)`` is whole only when every group is present (positional arguments fill the groups in order).
_SLOTS: dict[str, tuple[tuple[str, ...], ...]] = {
    **{verb: (_START,) for verb in _CLICKS}, "hover": (_START,), "mouse_move": (_START,),
    "move": (("direction", *_START),), "drag": (_START, _END), "select": (_START, _END),
    "swipe": (_START, _END), "long_press": (_START, ("time", "duration")),
    **{verb: (_KEYS,) for verb in ("hotkey", "press", "keydown", "press_key", "key")},
    "type": (("content", "text"), _START), "scroll": (_START, ("direction",), ("steps", "amount")),
    "wait": (("duration", "seconds", "time", "t"),), "finished": (("content", "answer"),),
    "call_user": (("content", "question"),), "open_app": (("app_name", "name", "app"),),
    "press_home": (), "press_back": (), "navigate_home": (), "navigate_back": (),
    "choose": (("option", "action", "name"),),
}


class UITarsParser(ReplyParser):
    r"""Reads UI-TARS v1 and 1.5 replies; ``space`` is ``rel1000`` (v1) or ``resized`` (1.5).

    Example:
        >>> r = UITarsParser().parse("Thought: open it\nAction: click(start_box='<|box_start|>(235,512)<|box_end|>')")
        >>> r.thought, r.actions[0].point
        ('open it', Point(x=235.0, y=512.0, space='rel1000'))
        >>> UITarsParser(space="resized").parse("Action: click(point='<point>200 300</point>')").actions[0].point.space
        'resized'
    """

    expected: ClassVar[str] = (
        "'Thought: ...' then 'Action: ' and one call per action, e.g. click(start_box='(x1,y1)') or "
        "click(point='<point>x1 y1</point>'), type(content='...'), scroll(start_box='(x1,y1)', direction='down'), "
        "hotkey(key='ctrl c'), wait(), finished(content='...')"
    )

    def __init__(self, space: Space = "rel1000") -> None:
        if space not in SPACES:
            raise ValueError(f"unknown coordinate space {space!r}")
        self.space: Space = space

    # -- reading -------------------------------------------------------------------------------------

    def _read(self, text: str, think: str | None) -> tuple[list[Action], str | None]:
        """The calls of the ``Action:`` section (or of the whole reply when unlabelled) and the ``Thought:``."""
        thought, action_text, marked = _split_thought(text)
        if not marked and _LABELS.search(text):
            raise cut_off("before its Action: (a Thought: with no Action: after it)")
        if think and not thought:
            thought = think
        calls = list(at_most(find_calls(action_text, _HANDLERS, any_name=marked), "calls"))
        if not calls:
            raise BadReply("no action call found")
        actions: list[Action] = []
        for call in calls:
            actions.extend(self._action(call))
        if not marked and thought is None:
            prose = action_text[: calls[0].start].strip()
            thought = prose or None
        return actions, thought

    def _action(self, call: Call) -> list[Action]:
        """The actions of one call, once it is known to be whole: its verb's handler in :data:`_HANDLERS`."""
        check_whole(call, saturated=not call.at_end or _saturated(call))
        handler = _HANDLERS.get(call.name.lower())
        if handler is None:
            raise BadReply(f"unknown action {call.name!r}")
        return handler(call, self.space)

    # -- writing -------------------------------------------------------------------------------------

    def format(self, actions: Sequence[Action], thought: str | None = None) -> str:
        r"""Write actions the way this UI-TARS version does (v1 ``start_box``, 1.5 ``<point>``).

        Example:
            >>> UITarsParser().format([Click(point=Point(x=235, y=512, space="rel1000"))], "open it")
            "Thought: open it\nAction: click(start_box='<|box_start|>(235,512)<|box_end|>')"
        """
        calls = [self._write(a) for a in actions]
        if not calls:
            raise ValueError("format() needs at least one action")
        head = f"Thought: {thought.strip()}\n" if thought and thought.strip() else ""
        return head + "Action: " + "\n\n".join(calls)

    def _coord(self, key: str, point: Point, box=None) -> str:
        check_space(self.space, point)
        if self.space == "resized":
            if box is not None:
                body = " ".join(fmt_num(v) for v in (box.x1, box.y1, box.x2, box.y2))
                return f"{key.replace('point', 'box')}='<bbox>{body}</bbox>'"
            return f"{key}='<point>{fmt_num(point.x)} {fmt_num(point.y)}</point>'"
        key = key.replace("point", "box")
        if key == "box":
            key = "start_box"
        if box is not None:
            body = ",".join(fmt_num(v) for v in (box.x1, box.y1, box.x2, box.y2))
        else:
            body = f"{fmt_num(point.x)},{fmt_num(point.y)}"
        return f"{key}='<|box_start|>({body})<|box_end|>'"

    def _write(self, a: Action) -> str:
        """One call: the actions at a point need this parser's space, the others are written alike."""
        if isinstance(a, Click | Move | Drag | LongPress | Scroll):
            return self._write_pointer(a)
        return _pointless_call(a)

    def _write_pointer(self, a: Click | Move | Drag | LongPress | Scroll) -> str:
        """A call at a point, written with this space's argument names (``point=`` or ``start_box=``)."""
        start = "point" if self.space == "resized" else "start_box"
        if isinstance(a, Click):
            verb = {("left", 1): "click", ("left", 2): "left_double", ("right", 1): "right_single",
                    ("left", 3): "triple_click"}.get((a.button, a.count))
            if verb is None:
                raise UnsupportedActionError("click", ["click", "left_double", "right_single", "triple_click"],
                                             detail=f"UI-TARS has no {a.button} click x{a.count}")
            return f"{verb}({self._coord(start, a.point, box_if_centred(a.point, a.box))})"
        if isinstance(a, Move):
            if a.direction is not None:
                return f"move(direction='{a.direction}')"
            return f"hover({self._coord(start, a.point)})"
        if isinstance(a, Drag):
            s = "start_point" if self.space == "resized" else "start_box"
            e = "end_point" if self.space == "resized" else "end_box"
            check_drag(a)
            return f"drag({self._coord(s, a.start)}, {self._coord(e, a.end)})"
        if isinstance(a, LongPress):
            extra = "" if a.duration == 1.0 else f", time='{fmt_num(a.duration)}'"
            return f"long_press({self._coord(start, a.point)}{extra})"
        parts = [self._coord(start, a.point)] if a.point is not None else []  # a Scroll, the one left
        parts.append(f"direction='{a.direction}'")
        if a.amount != 5:
            parts.append(f"steps='{a.amount}'")
        return f"scroll({', '.join(parts)})"


def _point(call: Call, space: Space, names: Sequence[str], what: str, *,
           positional: int | None = 0) -> tuple[Point, Box | None]:
    """The point (and box) under one of ``names``, else the ``positional`` argument; an error if neither."""
    value = call.get(*names)
    if value is None and positional is not None and len(call.args) > positional:
        value = call.args[positional]
    if value is None:
        raise BadReply(f"{call.name}() needs {what} ({'/'.join(names)}=...)")
    return coords_from_text(value, space, f"{call.name} {what}")


def _given(call: Call, *names: str) -> str | None:
    """The first of ``names`` given, else the first positional argument (``None`` only when neither is)."""
    value = call.get(*names)
    return call.args[0] if value is None and call.args else value


def _nonempty(call: Call, *names: str) -> str:
    """The first non-empty of ``names``, else the first positional argument, else ``""``."""
    return call.get(*names) or (call.args[0] if call.args else "")


def _click(call: Call, space: Space) -> list[Action]:
    """A click of :data:`_CLICKS`'s button and count, keeping the box it was given as."""
    button, count = _CLICKS[call.name.lower()]
    point, box = _point(call, space, _START, "a point")
    return [build(Click, point=point, button=button, count=count, box=box)]


def _move(call: Call, space: Space) -> list[Action]:
    """A step in a ``direction`` (vlagent's game extension), else a pointer move to a point."""
    direction = _direction(call, required=False)
    if direction is not None:
        return [build(Move, direction=direction)]
    return [build(Move, point=_point(call, space, _START, "a point or a direction")[0])]


def _drag(call: Call, space: Space) -> list[Action]:
    """``drag``/``select``/``swipe`` from the start box to the end box (the second positional argument)."""
    start = _point(call, space, _START, "a start point")[0]
    end = _point(call, space, _END, "an end point", positional=1)[0]
    return [build(Drag, start=start, end=end)]


def _select(call: Call, space: Space) -> list[Action]:
    """``select`` with one point is a click on it (a dropdown, a checkbox); with two, a drag."""
    if call.get(*_END) is None and len(call.args) < 2:
        point, box = _point(call, space, _START, "a point")
        return [build(Click, point=point, box=box)]
    return _drag(call, space)


def _long_press(call: Call, space: Space) -> list[Action]:
    """A long press at a point, for ``time`` seconds when given."""
    point = _point(call, space, _START, "a point")[0]
    t = call.get("time", "duration")
    fields = {"duration": to_number(t, "long_press time")} if t not in (None, "") else {}
    return [build(LongPress, point=point, **fields)]


def _key(call: Call, space: Space) -> list[Action]:
    """One key; only ``hotkey`` may press several at once (``press('ctrl c')`` is refused, not guessed)."""
    spec = _nonempty(call, *_KEYS)
    keys = key_list(spec)
    if not keys:
        raise BadReply(f"{call.name}() needs key='...'")
    if call.name.lower() == "hotkey" and len(keys) > 1:
        return [build(Hotkey, keys=keys)]
    if len(keys) > 1:
        raise BadReply(f"{call.name}() presses one key, got {spec!r}")
    return [build(Key, name=keys[0])]


def _type(call: Call, space: Space) -> list[Action]:
    """Typing ``content`` (a trailing newline submits it), after a click when a point is given."""
    content = _given(call, "content", "text")
    if not content:
        raise BadReply("type() needs content='...'")
    text, submit = submit_split(content)
    typed = [build(TypeText, text=text, submit=submit)] if text else [build(Key, name="enter")]
    if call.get(*_START) is None:
        return typed
    point, box = _point(call, space, _START, "a point")
    return [build(Click, point=point, box=box), *typed]


def _scroll(call: Call, space: Space) -> list[Action]:
    """A scroll in ``direction``, at a point when given; one with an end box and no direction is a drag."""
    direction = _direction(call, required=False)
    where = call.get(*_START)
    if where is None:
        where = next((a for a in call.args if re.search(r"\d", a)), None)
    point = coords_from_text(where, space, "scroll point")[0] if where is not None else None
    if direction is None:
        if call.get(*_END) is not None and point is not None:
            return [build(Drag, start=point, end=_point(call, space, _END, "an end point")[0])]
        raise BadReply("scroll() needs direction='up|down|left|right'")
    fields = {}
    steps = call.get("steps", "amount")
    if steps not in (None, ""):
        fields["amount"] = int(to_number(steps, "scroll steps"))
    return [build(Scroll, point=point, direction=direction, **fields)]


def _wait(call: Call, space: Space) -> list[Action]:
    """A wait of the given seconds, or of UI-TARS's own :data:`UITARS_WAIT_SECONDS`."""
    t = call.get("duration", "seconds", "time", "t")
    if t in (None, "") and call.args and call.args[0]:
        t = call.args[0]
    seconds = UITARS_WAIT_SECONDS if t in (None, "") else to_number(t, "wait duration")
    return [build(Wait, seconds=seconds)]


def _call_user(call: Call, space: Space) -> list[Action]:
    """A hand-over to the user, with the question when one is written."""
    question = _nonempty(call, "content", "question")
    return [build(CallUser, question=question)] if question else [CallUser()]


_Handler = Callable[[Call, Space], list[Action]]
#: UI-TARS's verbs (v1, 1.5 and the mobile ones), lower-case; also the names :func:`find_calls` looks for.
_HANDLERS: dict[str, _Handler] = {
    **dict.fromkeys(_CLICKS, _click),
    **dict.fromkeys(("hover", "mouse_move"), lambda call, space: [
        build(Move, point=_point(call, space, _START, "a point")[0])]),
    "move": _move,
    "select": _select,
    "drag": _drag,
    "swipe": _drag,
    "long_press": _long_press,
    **dict.fromkeys(("hotkey", "press", "keydown", "press_key", "key"), _key),
    "type": _type,
    "scroll": _scroll,
    "wait": _wait,
    "finished": lambda call, space: [build(Finished, answer=_given(call, "content", "answer") or None)],
    "call_user": _call_user,
    "open_app": lambda call, space: [build(OpenApp, name=_nonempty(call, "app_name", "name", "app"))],
    **dict.fromkeys(("press_home", "navigate_home"), lambda call, space: [navigate_call(call, "home")]),
    **dict.fromkeys(("press_back", "navigate_back"), lambda call, space: [navigate_call(call, "back")]),
    "choose": lambda call, space: [build(Choose, option=_nonempty(call, "option", "action", "name"))],
}


_WRITABLE = {
    "click", "move", "drag", "long_press", "hotkey", "key", "type", "scroll", "wait", "finished",
    "call_user", "open_app", "navigate", "choose",
}


def _direction(call: Call, *, required: bool) -> str | None:
    value = call.get("direction")
    if value is None:
        for arg in call.args:
            if arg.strip().strip("'\"").lower() in DIRECTIONS:
                value = arg
    if value is None:
        if required:
            raise BadReply(f"{call.name}() needs direction='up|down|left|right'")
        return None
    d = value.strip().strip("'\"").lower()
    if d not in DIRECTIONS:
        raise BadReply(f"{call.name}() direction must be up, down, left or right, got {value!r}")
    return d


# Blanks before a label are spaces and tabs only: ``^\s*`` under MULTILINE re-read every newline after each
# line start (16 KB of newlines took seconds).
_LABELS = re.compile(r"^[ \t]*+(Thought|Reflection|Action_Summary)\s*+:\s*+", re.IGNORECASE | re.MULTILINE)
# "Action:" may follow the thought on the same line ("... close it. Action: click(...)", seen in
# UI-TARS-desktop's parser tests); "Action_Summary:" is not it.
_ACTION_RE = re.compile(r"(?<![A-Za-z_])(?:\*\*)?Action(?:\*\*)?\s*:\s*(?:\*\*)?")


def _split_thought(text: str) -> tuple[str | None, str, bool]:
    """(thought, action text, whether an ``Action:`` marker was found).

    The thought is the ``Thought:`` section, else ``Action_Summary:`` (UI-TARS's reflection format writes
    ``Reflection: ... Action_Summary: ...``), else the prose before the first call.
    """
    marker = _ACTION_RE.search(text)
    if marker is None:
        return None, text, False
    head = text[: marker.start()]
    # Only the first marker splits: later "Action:" lines hold more calls (and the reader skips the
    # label), and an "Action:" inside a typed string must stay text.
    action_text = text[marker.end():]
    return _thought_from_head(head), action_text, True


def _thought_from_head(head: str) -> str | None:
    sections: dict[str, str] = {}
    matches = list(_LABELS.finditer(head))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(head)
        sections[m.group(1).lower()] = head[m.end(): end].strip()
    thought = sections.get("thought") or sections.get("action_summary")
    if thought:
        return thought
    return head.strip() or None


def _saturated(call: Call) -> bool:
    """Whether ``call`` holds every argument its verb takes, so that only its ``)`` can be missing.

    A text argument whose quote ends the reply may be an apostrophe the cut landed on (``'don'`` of
    ``'don't stop'``); a coordinate cannot hold one, so there the quote does close it.
    """
    if call.quote_at_end and call.last_key not in _COORDINATE_KEYS:
        return False
    slots = _SLOTS.get(call.name.lower())
    if slots is None:
        return True  # an unknown verb: refused as such
    return all(any(k in call.kwargs for k in names) or len(call.args) > i for i, names in enumerate(slots))


def _pointless_call(a: Action) -> str:
    """A call of an action without a point: keys, text, waits and the episode's end."""
    if isinstance(a, Hotkey):
        if len(a.keys) == 1:
            return f"hotkey(key='{a.keys[0]}')"
        return f"hotkey(key='{' '.join(a.keys)}')"
    if isinstance(a, Key):
        return f"hotkey(key={quote_str(a.name)})"
    if isinstance(a, TypeText):
        content = a.text + ("\n" if a.submit else "")
        return f"type(content={quote_str(content)})"
    if isinstance(a, Wait):
        return "wait()" if a.seconds == UITARS_WAIT_SECONDS else f"wait(duration='{fmt_num(a.seconds)}')"
    if isinstance(a, Finished):
        return "finished()" if a.answer is None else f"finished(content={quote_str(a.answer)})"
    if isinstance(a, CallUser):
        return "call_user()" if a.question == CallUser().question else f"call_user(content={quote_str(a.question)})"
    if isinstance(a, OpenApp):
        return f"open_app(app_name={quote_str(a.name)})"
    if isinstance(a, Navigate):
        if a.to == "recents":
            raise UnsupportedActionError("navigate", ["back", "home"], detail="UI-TARS has no recents button")
        return f"press_{a.to}()"
    if isinstance(a, Choose):
        return f"choose(option={quote_str(a.option)})"
    raise UnsupportedActionError(a.type, sorted(_WRITABLE), detail="UI-TARS cannot express it")
