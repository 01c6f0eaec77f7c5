r"""Qwen2-VL replies: grounded boxes and points, alone or inside simple action calls.

Qwen2-VL grounds with special tokens, coordinates in [0, 1000) of the image it saw (space ``rel1000``)::

    <|object_ref_start|>the OK button<|object_ref_end|><|box_start|>(512,301),(640,355)<|box_end|>

Decoded with ``skip_special_tokens=True`` the tags vanish and ``the OK button(512,301),(640,355)`` is
left; both are read. A point is ``(x,y)``; a box ``(x1,y1),(x2,y2)`` is clicked at its centre and kept
on the action as ``box``.

Qwen2-VL was not trained as an agent, so vlagent's qwen2-vl prompt asks for one call per line in a
plain function style, the coordinates written the way Qwen2-VL grounds. The verbs (this module is their
reference; ``prompts/`` lists them to the model):

===========================================================  ===============================================
``click(<|box_start|>(x,y)<|box_end|>)`` (or a box)           :class:`Click`; ``double_click``,
                                                              ``right_click``, ``triple_click`` likewise
``long_press(<box>)``, ``hover(<box>)``                        :class:`LongPress`, :class:`Move` to a point
``drag(<box>, <box>)``                                         :class:`Drag`
``type('text')``                                               :class:`TypeText`; a trailing ``\n`` = submit
``key('enter')``, ``hotkey('ctrl c')``                         :class:`Key`, :class:`Hotkey`
``scroll('down')``, ``scroll(<box>, 'down')``                  :class:`Scroll`
``back()``, ``home()``, ``recents()``                          :class:`Navigate`
``open_app('Settings')``                                       :class:`OpenApp`
``wait()``, ``wait(2)``                                        :class:`Wait` (1 s by default)
``finished()``, ``finished('answer')``, ``fail('why')``,       the loop's actions
``call_user('question')``
``choose('LEFT')``, ``move('left')``                           games: :class:`Choose`, :class:`Move`
===========================================================  ===============================================

A reply with no call but grounded boxes or points (Qwen2-VL's native answer to "where is X?") is a click
on each, in order. Strings may be quoted or bare; coordinates may be floats. A reply with neither a call
nor a coordinate is an error: no click is ever invented.

A reply cut off inside a box (no ``<|box_end|>``, the reply ends), after a stripped pair's ``,`` or
inside a call's argument is an error, never a click at what is left. A reply that has special tokens is
read only through them: bare ``(x,y)`` in its prose (``Step (1, 2):``) are not points, even when the
reply was cut before its box.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import ClassVar, Literal

from vlagent.actions.coords import Box, Point, Space
from vlagent.actions.errors import UnsupportedActionError
from vlagent.actions.models import (
    DIRECTIONS,
    Action,
    CallUser,
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
from vlagent.actions.parsers._calls import Call, check_whole, find_calls, navigate_call, quote_str
from vlagent.actions.parsers._common import (
    NUMBER,
    BadReply,
    at_most,
    box_if_centred,
    build,
    check_balanced,
    check_drag,
    check_space,
    cut_off,
    fmt_num,
    key_list,
    numbers_in,
    point_or_box,
    submit_split,
    to_number,
)
from vlagent.actions.parsers.base import ReplyParser

BOX_START, BOX_END = "<|box_start|>", "<|box_end|>"
REF_START, REF_END = "<|object_ref_start|>", "<|object_ref_end|>"
_TAGS = (BOX_START, BOX_END, REF_START, REF_END)
#: A tagged box: its body runs to ``<|box_end|>``, a newline (the tag forgotten) or the end of the reply (cut).
_BOX_RE = re.compile(re.escape(BOX_START) + r"(.*?)(?:" + re.escape(BOX_END) + r"|(?=\n)|\Z)", re.DOTALL)
_PAIR = rf"\(\s*+({NUMBER})\s*+,\s*+({NUMBER})\s*+\)"
#: A stripped grounding: ``(x,y)`` or ``(x1,y1),(x2,y2)`` (the tags gone with skip_special_tokens).
_BARE_RE = re.compile(rf"{_PAIR}(?:\s*+,\s*+{_PAIR})?+")
#: What may follow the last ``(`` of a reply cut inside a stripped pair: numbers, commas, blanks.
_PARTIAL_PAIR_RE = re.compile(r"[\d\s.,eE+-]*+")

_CLICKS = {"click": ("left", 1), "left_click": ("left", 1), "tap": ("left", 1), "double_click": ("left", 2),
           "right_click": ("right", 1), "triple_click": ("left", 3)}


class Qwen2VLParser(ReplyParser):
    """Reads Qwen2-VL's grounded boxes/points and vlagent's qwen2-vl action calls (space ``rel1000``).

    Example:
        >>> p = Qwen2VLParser()
        >>> a = p.parse("<|object_ref_start|>the OK button<|object_ref_end|><|box_start|>(512,301),(640,355)<|box_end|>").actions[0]
        >>> a.point, a.box.x2
        (Point(x=576.0, y=328.0, space='rel1000'), 640.0)
        >>> p.parse("the OK button(512,301),(640,355)").actions[0].point
        Point(x=576.0, y=328.0, space='rel1000')
    """

    expected: ClassVar[str] = (
        "one action per line, e.g. click(<|box_start|>(x,y)<|box_end|>) with x, y in 0-999, type('text'), "
        "scroll('down'), key('enter'), finished(); or <|object_ref_start|>target<|object_ref_end|>"
        "<|box_start|>(x1,y1),(x2,y2)<|box_end|>"
    )

    def __init__(self, space: Space = "rel1000") -> None:
        self.space: Space = space

    # -- reading -------------------------------------------------------------------------------------

    def _read(self, text: str, think: str | None) -> tuple[list[Action], str | None]:
        """Action calls, else a grounding answer (tagged boxes, or bare ``(x,y)`` pairs), and the prose around them."""
        tagged = any(tag in text for tag in _TAGS)
        boxes = _box_spans(text)
        calls = list(at_most(find_calls(text, _HANDLERS, protected=boxes, bare=_tidy_bare), "calls"))
        if calls:
            actions: list[Action] = []
            for call in calls:
                actions.extend(self._action(call, text))
            head = re.sub(r"^\s*(Thought|Reasoning)\s*:\s*", "", text[: calls[0].start], flags=re.IGNORECASE)
            thought = _strip_tags(_BOX_RE.sub("", head)).strip() or think
            return actions, thought
        # No call: a grounding answer. Tagged boxes when the reply has tags, else bare (x,y) pairs.
        actions = []
        if tagged:
            for start, (end, whole) in at_most(boxes.items(), "boxes"):
                if not whole:
                    raise cut_off("inside a box")
                body = text[start + len(BOX_START): end].removesuffix(BOX_END)
                point, box = self._coords([body], "grounded box")
                actions.append(Click(point=point, box=box))
            rest = _strip_tags(_BOX_RE.sub("", text))
        else:
            if _ends_in_partial_pair(text):
                raise cut_off("inside a point")
            for m in at_most(_BARE_RE.finditer(text), "points"):
                nums = [g for g in m.groups() if g is not None]
                point, box = point_or_box(nums, self.space, "grounded point")
                actions.append(Click(point=point, box=box))
            rest = _BARE_RE.sub("", text)
        if not actions:
            raise BadReply("no action call and no grounded box or point found")
        return actions, rest.strip() or think

    def _coords(self, parts: Sequence[str], what: str) -> tuple[Point, Box | None]:
        nums: list[float] = []
        for part in parts:
            check_balanced(part, what)
            nums.extend(numbers_in(part))
        if not nums:
            raise BadReply(f"{what} has no readable coordinates")
        return point_or_box(nums, self.space, what)

    def _groups(self, call: Call) -> list[list[str]]:
        """The call's coordinate arguments: one group per tagged box, else per ``(x,y)`` argument.

        Boxes are found in each argument's own text, so nothing in one argument can stand for another's.
        """
        groups: list[list[str]] = []
        for arg in call.args + list(call.kwargs.values()):
            bodies = [m.group(1) for m in _BOX_RE.finditer(arg)]
            if bodies:
                groups.extend([body] for body in bodies)
            elif _is_coordinate(arg):
                groups.append([arg])
        return groups

    def _point_arg(self, call: Call, what: str) -> tuple[Point, Box | None]:
        groups = self._groups(call)
        if not groups:
            raise BadReply(f"{call.name}() needs {what}, e.g. {call.name}(<|box_start|>(x,y)<|box_end|>)")
        # click((512,301),(640,355)) with the tags stripped: the two pairs are one box.
        return self._coords([g for grp in groups for g in grp], f"{call.name} {what}")

    def _saturated(self, call: Call) -> bool:
        """Whether the call holds all the arguments its verb takes (then a missing ``)`` is harmless).

        A stripped pair may be the first corner of a box and a text whose quote ends the reply may be
        cut at an apostrophe, so neither completes a call on its own.
        """
        verb = call.name.lower()
        if verb in _NAVIGATION:
            return True
        if call.quote_at_end:
            return False
        tagged = bare = 0
        for arg in call.args + list(call.kwargs.values()):
            boxes = len(_BOX_RE.findall(arg))
            tagged += boxes
            bare += len(numbers_in(arg)) if not boxes and _is_coordinate(arg) else 0
        if verb in _CLICKS or verb in ("long_press", "hover"):
            return tagged >= 1 or bare >= 4
        if verb in ("drag", "swipe"):
            return tagged + bare // 2 >= 2
        if verb == "scroll":
            return _word(call, DIRECTIONS) is not None
        if verb == "move":
            return tagged >= 1 or bare >= 4 or _word(call, DIRECTIONS) is not None
        return call.arity >= 1

    def _text_arg(self, call: Call, inner: str) -> str:
        """A string argument: the first quoted/keyword one, else the bare text between the parens."""
        if call.kwargs:
            return next(iter(call.kwargs.values()))
        if len(call.args) == 1:
            return call.args[0]
        return inner.strip()

    def _action(self, call: Call, text: str) -> list[Action]:
        """The actions of one call, once it is known to be whole: its verb's handler in :data:`_HANDLERS`."""
        check_whole(call, saturated=not call.at_end or self._saturated(call))
        open_at = text.index("(", call.start)
        inner = text[open_at + 1: call.end - 1 if call.closed else call.end]
        handler = _HANDLERS.get(call.name.lower())
        if handler is None:
            raise BadReply(f"unknown action {call.name!r}")
        return handler(self, call, inner)

    # -- writing -------------------------------------------------------------------------------------

    def format(self, actions: Sequence[Action], thought: str | None = None) -> str:
        """One call per line, points and boxes in Qwen2-VL's tags; the thought on the line before.

        Example:
            >>> print(Qwen2VLParser().format([Click(point=Point(x=512, y=301, space="rel1000"))], "the OK button"))
            the OK button
            click(<|box_start|>(512,301)<|box_end|>)
        """
        if not actions:
            raise ValueError("format() needs at least one action")
        lines = [self._write(a) for a in actions]
        head = f"{thought.strip()}\n" if thought and thought.strip() else ""
        return head + "\n".join(lines)

    def _pt(self, p: Point, box: Box | None = None) -> str:
        check_space(self.space, p)
        if box is not None:
            return f"{BOX_START}({fmt_num(box.x1)},{fmt_num(box.y1)}),({fmt_num(box.x2)},{fmt_num(box.y2)}){BOX_END}"
        return f"{BOX_START}({fmt_num(p.x)},{fmt_num(p.y)}){BOX_END}"

    def _write(self, a: Action) -> str:
        if isinstance(a, Click):
            verb = {("left", 1): "click", ("left", 2): "double_click", ("right", 1): "right_click",
                    ("left", 3): "triple_click"}.get((a.button, a.count))
            if verb is None:
                raise UnsupportedActionError("click", ["click"], detail=f"no {a.button} click x{a.count} verb")
            return f"{verb}({self._pt(a.point, box_if_centred(a.point, a.box))})"
        if isinstance(a, LongPress):
            if a.duration != LongPress.model_fields["duration"].default:
                raise UnsupportedActionError("long_press", ["long_press"], detail="no duration argument")
            return f"long_press({self._pt(a.point)})"
        if isinstance(a, Move):
            return f"move({quote_str(a.direction)})" if a.point is None else f"hover({self._pt(a.point)})"
        if isinstance(a, Drag):
            check_drag(a)
            return f"drag({self._pt(a.start)}, {self._pt(a.end)})"
        if isinstance(a, TypeText):
            content = a.text + ("\n" if a.submit else "")
            return f"type({quote_str(content)})"
        if isinstance(a, Key):
            return f"key({quote_str(a.name)})"
        if isinstance(a, Hotkey):
            return f"hotkey({quote_str(' '.join(a.keys))})"
        if isinstance(a, Scroll):
            if a.amount != Scroll.model_fields["amount"].default:
                raise UnsupportedActionError("scroll", ["scroll"], detail="no amount argument")
            where = f"{self._pt(a.point)}, " if a.point is not None else ""
            return f"scroll({where}{quote_str(a.direction)})"
        if isinstance(a, Navigate):
            return f"{a.to}()"
        if isinstance(a, OpenApp):
            return f"open_app({quote_str(a.name)})"
        if isinstance(a, Wait):
            return "wait()" if a.seconds == Wait().seconds else f"wait({fmt_num(a.seconds)})"
        if isinstance(a, Finished):
            return "finished()" if a.answer is None else f"finished({quote_str(a.answer)})"
        if isinstance(a, Fail):
            return f"fail({quote_str(a.reason)})"
        if isinstance(a, CallUser):
            return f"call_user({quote_str(a.question)})"
        if isinstance(a, Choose):
            return f"choose({quote_str(a.option)})"
        raise UnsupportedActionError(getattr(a, "type", "?"), sorted(_HANDLERS))


def _click(p: Qwen2VLParser, call: Call, inner: str) -> list[Action]:
    """A click of :data:`_CLICKS`'s button and count, keeping the box it was given as."""
    button, count = _CLICKS[call.name.lower()]
    point, box = p._point_arg(call, "a point")
    return [build(Click, point=point, box=box, button=button, count=count)]


def _move(p: Qwen2VLParser, call: Call, inner: str) -> list[Action]:
    """``hover`` moves the pointer; ``move`` without a point is a step in a direction (the game extension)."""
    direction = _word(call, DIRECTIONS)
    if call.name.lower() == "move" and direction is not None and not p._groups(call):
        return [build(Move, direction=direction)]
    return [build(Move, point=p._point_arg(call, "a point")[0])]


def _drag(p: Qwen2VLParser, call: Call, inner: str) -> list[Action]:
    """A drag between two tagged points, or between the four numbers written bare."""
    groups = p._groups(call)
    if len(groups) == 2:
        return [build(Drag, start=p._coords(groups[0], "drag start")[0], end=p._coords(groups[1], "drag end")[0])]
    for part in (part for grp in groups for part in grp):
        check_balanced(part, "drag point")
    nums = [n for grp in groups for part in grp for n in numbers_in(part)]
    if len(nums) != 4:
        raise BadReply("drag() needs two points: drag(<|box_start|>(x1,y1)<|box_end|>, "
                       "<|box_start|>(x2,y2)<|box_end|>)")
    start = point_or_box(nums[:2], p.space, "drag start")[0]
    return [build(Drag, start=start, end=point_or_box(nums[2:], p.space, "drag end")[0])]


def _type(p: Qwen2VLParser, call: Call, inner: str) -> list[Action]:
    """Typing the text; a trailing newline submits it (and a lone one is Enter alone)."""
    content = p._text_arg(call, inner)
    if not content:
        raise BadReply("type() needs the text to type")
    body, submit = submit_split(content)
    return [build(TypeText, text=body, submit=submit)] if body else [Key(name="enter")]


def _key(p: Qwen2VLParser, call: Call, inner: str) -> list[Action]:
    """One key name is a Key, several (``'ctrl c'``) a Hotkey, whichever verb was used."""
    keys = key_list(p._text_arg(call, inner))
    if not keys:
        raise BadReply(f"{call.name}() needs a key name")
    return [build(Hotkey, keys=keys)] if len(keys) > 1 else [build(Key, name=keys[0])]


def _scroll(p: Qwen2VLParser, call: Call, inner: str) -> list[Action]:
    """A scroll in a direction word, at the tagged point when one is given."""
    direction = _word(call, DIRECTIONS)
    if direction is None:
        raise BadReply("scroll() needs a direction: up, down, left or right")
    groups = p._groups(call)
    point = p._coords([g for grp in groups for g in grp], "scroll point")[0] if groups else None
    return [build(Scroll, point=point, direction=direction)]


def _wait(p: Qwen2VLParser, call: Call, inner: str) -> list[Action]:
    """A wait of the given seconds, or the default one."""
    arg = p._text_arg(call, inner)
    return [build(Wait, seconds=to_number(arg, "wait seconds"))] if arg else [Wait()]


def _with_text(cls: type[Fail | CallUser], field: str) -> Callable[[Qwen2VLParser, Call, str], list[Action]]:
    """A handler for ``fail('why')`` / ``call_user('question')``: the text is optional."""
    def handler(p: Qwen2VLParser, call: Call, inner: str) -> list[Action]:
        text = p._text_arg(call, inner)
        return [build(cls, **{field: text})] if text else [cls()]
    return handler


def _navigate(to: Literal["back", "home", "recents"]) -> Callable[[Qwen2VLParser, Call, str], list[Action]]:
    """A handler for a bare system-button verb."""
    return lambda p, call, inner: [navigate_call(call, to)]


_Handler = Callable[[Qwen2VLParser, Call, str], list[Action]]
#: Qwen2-VL's verbs, lower-case (``inner`` is the text between the call's parens, for the text verbs).
_HANDLERS: dict[str, _Handler] = {
    **dict.fromkeys(_CLICKS, _click),
    "long_press": lambda p, call, inner: [build(LongPress, point=p._point_arg(call, "a point")[0])],
    "hover": _move,
    "move": _move,
    "drag": _drag,
    "swipe": _drag,
    "type": _type,
    **dict.fromkeys(("key", "press", "hotkey"), _key),
    "scroll": _scroll,
    **dict.fromkeys(("back", "press_back"), _navigate("back")),
    **dict.fromkeys(("home", "press_home"), _navigate("home")),
    "recents": _navigate("recents"),
    "open_app": lambda p, call, inner: [build(OpenApp, name=p._text_arg(call, inner))],
    "wait": _wait,
    **dict.fromkeys(("finished", "done"), lambda p, call, inner: [
        build(Finished, answer=p._text_arg(call, inner) or None)]),
    "fail": _with_text(Fail, "reason"),
    "call_user": _with_text(CallUser, "question"),
    "choose": lambda p, call, inner: [build(Choose, option=p._text_arg(call, inner))],
}


def _word(call: Call, words: Sequence[str]) -> str | None:
    """The first argument that is one of ``words`` (quoted or bare, any case)."""
    for arg in call.args + list(call.kwargs.values()):
        w = arg.strip().strip("'\"").lower()
        if w in words:
            return w
    return None


_NAVIGATION = {"back", "home", "recents", "press_back", "press_home"}


def _is_coordinate(arg: str) -> bool:
    """A bare argument holding numbers and no words: ``(512,301)``, ``512``, ``[1, 2]``."""
    return re.search(r"\d", arg) is not None and re.search(r"[A-Za-z]{2,}", arg) is None


def _box_spans(text: str) -> dict[int, tuple[int, bool]]:
    """Where each tagged box is: its start mapped to its end and whether it is whole.

    A box is whole when ``<|box_end|>`` (or a newline, the tag forgotten) closes it, not the end of the
    reply. The call reader reads each box as one value; nothing is substituted into the text, so no
    character a model writes can pose as a box.
    """
    return {m.start(): (m.end(), m.group(0).endswith(BOX_END) or m.end() < len(text)) for m in _BOX_RE.finditer(text)}


def _strip_tags(text: str) -> str:
    """Prose without the grounding tags left in it (refs keep their words)."""
    for tag in _TAGS:
        text = text.replace(tag, "")
    return text


def _tidy_bare(value: str) -> str:
    """An unquoted argument without its ref tags and stray ``<|box_end|>``; its boxes kept whole."""
    value = value.replace(REF_START, "").replace(REF_END, "")
    parts: list[str] = []
    pos = 0
    for m in _BOX_RE.finditer(value):
        parts += [value[pos: m.start()].replace(BOX_END, ""), m.group(0)]
        pos = m.end()
    parts.append(value[pos:].replace(BOX_END, ""))
    return "".join(parts)


def _ends_in_partial_pair(text: str) -> bool:
    """Whether a tag-less reply stops inside ``(x,y)`` or after the ``,`` that announces a second corner."""
    tail = text.rstrip()
    if tail.endswith(",") and tail[:-1].rstrip().endswith(")"):
        return True
    opened = tail.rfind("(")
    return opened >= 0 and tail.rfind(")") < opened and _PARTIAL_PAIR_RE.fullmatch(tail, opened + 1) is not None
