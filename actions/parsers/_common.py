"""Helpers every parser shares: reading numbers and points, a tolerant call reader, code fences, errors.

Models break their own formats in the same few ways whatever the format: a missing closing paren or
quote, floats where ints were asked for, prose or a markdown fence around the call, several calls in one
reply. The readers here absorb exactly those and nothing more: a value they cannot read is reported as
:class:`BadReply`, which each parser turns into an :class:`ActionParseError` carrying the whole reply.

A reply cut off by the token limit is not a broken format but a truncated one, and is never read as
what is left of it: a value that runs into the end of the reply without its closer (a quote, a bracket,
a box tag, a JSON brace) is :func:`cut_off`, so ``(500,4`` is refused rather than clicked at (500, 4).

Every reader is linear in the reply's length (no regex here may backtrack over a run of the input), so
a megabyte of noise costs milliseconds, not minutes.
"""

from __future__ import annotations

import ast
import json
import math
import re
import warnings
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from vlagent.actions.coords import Box, Point, Space
from vlagent.actions.errors import ActionParseError, CoordinateError, UnsupportedActionError
from vlagent.actions.models import Action, Drag, Navigate, ParsedReply

#: A decimal number as models write coordinates: ``512``, ``-3``, ``0.49``, ``.5``, ``1e-05``. The
#: quantifiers are possessive: a run of digits is read once, never split and retried (``"9" * 8000``
#: before a missing comma cost seconds with ``\d+\.?\d*``).
NUMBER = r"[-+]?+(?:\d++(?:\.\d*+)?+|\.\d++)(?:[eE][-+]?+\d++)?+"
_NUMBER_RE = re.compile(NUMBER)
_FENCE_RE = re.compile(r"```[ \t]*[\w+-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}

A = TypeVar("A", bound=BaseModel)
T = TypeVar("T")

#: The most actions (or calls, boxes, objects) one reply may hold: more than any model writes in a turn.
#: A reply repeating itself up to the token limit is refused once past it, before thousands are built.
MAX_ACTIONS = 100


class BadReply(Exception):
    """Internal: why a reply (or one call in it) cannot become an action; parsers re-raise it typed."""


def cut_off(where: str) -> BadReply:
    """The reply stops inside an action (the token limit, most often): nothing of it may be executed.

    What is left of a cut coordinate or text is a guess (``(500,4`` of ``(500,432)``), so the whole
    reply is refused, as for any other action that cannot be read; the loop asks the model again.
    """
    return BadReply(f"the reply was cut off {where}; a truncated reply is never executed")


def navigate_call(call: Call, to: Literal["back", "home", "recents"]) -> Navigate:
    """A system-button press from a call that must be bare: ``back(qq123)`` is not a back press.

    Pressing back or home on a real phone throws away the user's screen, so a call carrying arguments the
    format does not define is refused rather than read as the button.
    """
    if call.args or call.kwargs:
        raise BadReply(f"{call.name}() takes no arguments")
    return Navigate(to=to)


def run_parser(raw: object, expected: str, body: Callable[[str], ParsedReply]) -> ParsedReply:
    """Run a parser body, turning every way it can fail into one :class:`ActionParseError`.

    The parser bodies raise :class:`BadReply` for what they understood to be wrong; pydantic's
    ``ValidationError`` (an empty text, an unknown key name), ``ValueError`` and ``RecursionError``
    (pathological nesting fed to ``ast``/``json``) are bad replies too, never crashes of the loop.
    """
    if not isinstance(raw, str):
        raise ActionParseError(repr(raw), expected=expected, reason="reply is not text")
    try:
        return body(raw)
    except BadReply as exc:
        raise ActionParseError(raw, expected=expected, reason=str(exc)) from None
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {"msg": str(exc)}
        loc = ".".join(str(p) for p in first.get("loc", ()))
        reason = f"invalid action value{f' ({loc})' if loc else ''}: {first.get('msg', '')}"
        raise ActionParseError(raw, expected=expected, reason=reason) from None
    except (ValueError, TypeError, ArithmeticError, RecursionError, MemoryError, SyntaxError) as exc:
        raise ActionParseError(raw, expected=expected, reason=f"unreadable reply: {type(exc).__name__}: {exc}") from None


def build(cls: type[A], **fields: Any) -> A:
    """Construct an action, reporting a validation failure as a :class:`BadReply` naming the action."""
    try:
        return cls(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ()))
        type_name = cls.model_fields["type"].default if "type" in cls.model_fields else cls.__name__
        raise BadReply(f"invalid {type_name}{f' {loc}' if loc else ''}: {err.get('msg', '')}") from None


def at_most(items: Iterable[T], what: str = "actions") -> Iterator[T]:
    """``items`` as they come, failing past :data:`MAX_ACTIONS` of them (so a long reply stops early)."""
    for count, item in enumerate(items, 1):
        if count > MAX_ACTIONS:
            raise BadReply(f"more than {MAX_ACTIONS} {what} in one reply")
        yield item


def finished_reply(raw: str, actions: list[Action], thought: str | None) -> ParsedReply:
    if not actions:
        raise BadReply("no action found")
    if len(actions) > MAX_ACTIONS:
        raise BadReply(f"more than {MAX_ACTIONS} actions in one reply")
    thought = thought.strip() if thought else None
    return ParsedReply(raw=raw, thought=thought or None, actions=actions)


# ---------------------------------------------------------------------------------------------------
# Text clean-up


def unfence(text: str) -> str:
    r"""The text with markdown code fences removed (their content kept in place).

    Example:
        >>> unfence("Sure:\n```python\nclick(start_box='(1,2)')\n```")
        "Sure:\nclick(start_box='(1,2)')\n"
    """
    return _FENCE_RE.sub(lambda m: m.group(1), text)


# Turn markers a decode may keep around the reply (only at its ends: inside, they could be typed text).
_START_TOKEN_RE = re.compile(r"\s*<\|im_start\|>assistant\n")
# The end markers are matched on the reversed text, anchored at its start: a regex anchored at the end
# would be retried from every position of a long run of markers.
_END_TOKENS_REVERSED_RE = re.compile(r"(?:\s*(?:>\|dne_mi\|<|>\|txetfodne\|<))+")


def strip_turn_markers(text: str) -> str:
    r"""The reply without ``<|im_start|>assistant`` before it and end-of-turn tokens after it.

    Example:
        >>> strip_turn_markers("<|im_start|>assistant\nwait() <|im_end|>\n<|endoftext|>")
        'wait() '
    """
    head = _START_TOKEN_RE.match(text)
    if head:
        text = text[head.end():]
    tail = _END_TOKENS_REVERSED_RE.match(text[::-1])
    return text[: len(text) - tail.end()] if tail else text


def clean(text: str) -> str:
    r"""A reply with code fences unwrapped, end-of-turn tokens at its end dropped, newlines unified.

    Example:
        >>> clean("```\nAction: wait()\n```<|im_end|>")
        'Action: wait()\n'
    """
    return unfence(strip_turn_markers(text.replace("\r\n", "\n")))


def strip_think(text: str) -> tuple[str, str | None]:
    """Split ``<think>...</think>`` / ``<thinking>...</thinking>`` reasoning off a reply.

    Example:
        >>> strip_think("<think>open the menu</think>click(1,2)")
        ('click(1,2)', 'open the menu')
    """
    m = re.search(r"<(think|thinking)>(.*?)(?:</\1>|\Z)", text, re.DOTALL)
    if not m:
        return text, None
    return (text[: m.start()] + text[m.end():]), m.group(2).strip() or None


# ---------------------------------------------------------------------------------------------------
# Numbers and points


def to_number(value: object, what: str = "number") -> float:
    """A finite float from an int, float or numeric string; :class:`BadReply` otherwise."""
    if isinstance(value, bool):
        raise BadReply(f"{what} must be a number, got {value!r}")
    try:
        if isinstance(value, int | float):
            num = float(value)
        elif isinstance(value, str) and re.fullmatch(rf"\s*{NUMBER}\s*", value):
            num = float(value)
        else:
            raise BadReply(f"{what} must be a number, got {value!r}")
    except OverflowError:  # an int too large for a float: no screen is that big
        raise BadReply(f"{what} is out of range: {str(value)[:20]}...") from None
    if not math.isfinite(num):
        raise BadReply(f"{what} must be finite, got {value!r}")
    return num


def numbers_in(text: str) -> list[float]:
    """Every number written in ``text``, in order; :class:`BadReply` for an overflowing one.

    Example:
        >>> numbers_in("<|box_start|>(512,301),(640.5,355)<|box_end|>")
        [512.0, 301.0, 640.5, 355.0]
        >>> numbers_in("<point>200 300</point>")
        [200.0, 300.0]
    """
    return [to_number(m) for m in _NUMBER_RE.findall(text)]


def point_or_box(nums: Sequence[object], space: Space, what: str = "coordinate") -> tuple[Point, Box | None]:
    """Two numbers make a point; four make a box (its centre is the point); anything else is an error.

    A four-number "box" whose corners coincide (UI-TARS writes a point as ``[x, y, x, y]``) is a point.

    Example:
        >>> point_or_box([100, 200, 300, 400], "rel1000")[0]
        Point(x=200.0, y=300.0, space='rel1000')
    """
    vals = [to_number(v, what) for v in nums]
    if len(vals) == 2:
        return Point(x=vals[0], y=vals[1], space=space), None
    if len(vals) == 4:
        x1, y1, x2, y2 = vals
        if x1 == x2 and y1 == y2:
            return Point(x=x1, y=y1, space=space), None
        box = Box(x1=x1, y1=y1, x2=x2, y2=y2, space=space)
        return box.center, box
    raise BadReply(f"{what} needs 2 numbers (x, y) or 4 (x1, y1, x2, y2), got {len(vals)}")


_OPENERS = {"(": ")", "[": "]"}
_BRACKET_RE = re.compile(r"[()\[\]]")


def check_balanced(text: str, what: str = "coordinate") -> None:
    """A coordinate's brackets must close: ``(500,4`` is the start of a number, not the number 4.

    Example:
        >>> check_balanced("(512,301),(640,355)")
        >>> check_balanced("(500,4")
        Traceback (most recent call last):
        ...
        vlagent.actions.parsers._common.BadReply: coordinate (500,4 has an unclosed '(': it was cut off or is malformed
    """
    pending: list[str] = []
    for m in _BRACKET_RE.finditer(text):
        c = m.group(0)
        if c in _OPENERS:
            pending.append(_OPENERS[c])
        elif c in ")]":
            if not pending or pending.pop() != c:
                raise BadReply(f"{what} {text!r} has an unmatched {c!r}")
    if pending:
        opener = next(k for k, v in _OPENERS.items() if v == pending[-1])
        raise BadReply(f"{what} {text} has an unclosed {opener!r}: it was cut off or is malformed")


def coords_from_text(text: str, space: Space, what: str = "coordinate") -> tuple[Point, Box | None]:
    """A point or box from a coordinate as written (``(x,y)``, ``[x1, y1, x2, y2]``, ``<point>x y</point>``)."""
    nums = numbers_in(text)
    if not nums:
        raise BadReply(f"{what} has no readable numbers: {text!r}")
    check_balanced(text, what)
    return point_or_box(nums, space, what)


def fmt_num(v: float) -> str:
    """A coordinate written back exactly: ``512`` for integral values, the shortest repr otherwise.

    Example:
        >>> fmt_num(512.0), fmt_num(0.49)
        ('512', '0.49')
    """
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def check_space(space: Space, *points: Point | None) -> None:
    """Writers take points already in the parser's space; anything else is a caller bug worth naming."""
    for p in points:
        if p is not None and p.space != space:
            raise CoordinateError(f"this format writes points in space {space!r}, got a point in {p.space!r}")


def check_drag(action: Drag) -> None:
    """Formats without a drag duration refuse a drag that asks for one, rather than drop it."""
    if action.duration != Drag.model_fields["duration"].default:
        raise UnsupportedActionError("drag", ["drag"], detail="this format has no drag duration")


def box_if_centred(point: Point, box: Box | None) -> Box | None:
    """The box to write for a click: only one whose centre is the click point (else the point alone)."""
    if box is not None and box.space == point.space and box.center == point:
        return box
    return None


# ---------------------------------------------------------------------------------------------------
# JSON as models write it


def loads_lenient(body: str) -> Any:
    """JSON as models write it: strict first, then with the usual damage repaired.

    Repairs: a trailing comma, Python literals (``None``/``True``/single quotes). Missing closing braces
    are not repaired: an object that does not close was cut off (see :func:`json_objects`). Never ``eval``.
    """
    body = body.strip()
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        pass
    try:
        return json.loads(_TRAILING_COMMA_RE.sub(r"\1", body))
    except json.JSONDecodeError:
        pass
    try:
        return literal(body)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise BadReply(f"not valid JSON: {body[:80]!r}") from exc


_TRAILING_COMMA_RE = re.compile(r",\s*+([}\]])")


def literal(text: str) -> Any:
    """:func:`ast.literal_eval` without the ``SyntaxWarning`` noise bad input makes; never ``eval``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.literal_eval(text)


@dataclass(frozen=True)
class Braced:
    """A top-level ``{...}`` span of a reply; one the reply ends inside has ``open_braces`` > 0.

    ``in_string`` says the reply ended inside a string of that span, which nothing can repair.
    """

    text: str
    open_braces: int = 0
    in_string: bool = False

    @property
    def closed(self) -> bool:
        return self.open_braces == 0 and not self.in_string


def json_objects(text: str, quotes: str = '"') -> Iterator[Braced]:
    """Top-level ``{...}`` spans of ``text``, in order, braces inside strings ignored (a last unclosed one runs on).

    ``quotes`` are the string delimiters: the double quote for JSON, both quotes for Python literals.
    Quotes outside every span are prose (``don't``), not strings. A generator, so that a parser that
    refuses the first span does not scan the rest of a long reply.

    Example:
        >>> [(b.text, b.closed) for b in json_objects('think {"a": "}"} then {"b": 1')]
        [('{"a": "}"}', True), ('{"b": 1', False)]
    """
    tokens = re.compile(r"\{++|\}++|[" + re.escape(quotes) + "]")
    i = 0
    while (start := text.find("{", i)) >= 0:
        end, depth, in_string = _object_end(text, start, tokens)
        if depth or in_string:
            yield Braced(text[start:], depth, in_string)
            return
        yield Braced(text[start:end])
        i = end


def _object_end(text: str, start: int, tokens: re.Pattern[str]) -> tuple[int, int, bool]:
    """(end, braces still open, whether the text ended inside a string) of the span opening at ``start``.

    Runs of braces are one token each, and a string is skipped by one regex match, so the cost is the
    number of tokens, not of characters, and never more than one pass.
    """
    depth = 0
    i = start
    while (m := tokens.search(text, i)) is not None:
        tok = m.group(0)
        i = m.end()
        if tok[0] == "{":
            depth += len(tok)
        elif tok[0] == "}":
            if len(tok) >= depth:
                return m.start() + depth, 0, False
            depth -= len(tok)
        else:
            closing = _STRING_BODY[tok].match(text, i)
            if closing is None:
                return len(text), depth, True
            i = closing.end()
    return len(text), depth, False


#: The rest of a string after its opening quote, up to and including the closing one.
_STRING_BODY = {q: re.compile(r"(?:[^" + q + r"\\]++|\\.)*+" + q, re.DOTALL) for q in "'\""}


# ---------------------------------------------------------------------------------------------------
# A tolerant reader for Python-style calls: ``name(arg='v', key="w", (1,2))``


@dataclass
class Call:
    """One call as written: its name, positional and keyword arguments (raw strings), and where it was.

    How it ended matters as much as what it holds, since a reply may be cut off anywhere:

    - ``closed``: its ``)`` was read;
    - ``cut``: the reply ends inside one of its arguments (a quote, a bracket or a box left open, a bare
      word or number that could go on) or right after a separator;
    - ``at_end``: the reply ends after a complete argument with the ``)`` missing. Whether that is a
      forgotten paren or a cut before more arguments depends on the verb (see :func:`check_whole`);
    - ``quote_at_end``: its last argument's closing single quote ends the reply (blanks aside), so it may
      be an apostrophe the cut landed on (``'don'`` of ``'don't'``): whole for a coordinate, not a text.
    """

    name: str
    args: list[str] = field(default_factory=list)
    kwargs: dict[str, str] = field(default_factory=dict)
    start: int = 0
    end: int = 0
    closed: bool = True
    cut: bool = False
    at_end: bool = False
    quote_at_end: bool = False
    last_key: str | None = None

    def get(self, *names: str) -> str | None:
        """The first keyword argument present among ``names`` (``None`` when none is)."""
        for n in names:
            if n in self.kwargs:
                return self.kwargs[n]
        return None

    @property
    def arity(self) -> int:
        return len(self.args) + len(self.kwargs)


def check_whole(call: Call, *, saturated: bool) -> None:
    """Refuse a call the reply was cut off in.

    ``saturated`` says the call already holds every argument its verb can take, so a missing ``)`` after
    it is only a forgotten paren: ``click(start_box='(1,2)'`` is whole, ``long_press(start_box='(1,2)'``
    may have lost its ``time='2'`` and is not.
    """
    if call.cut:
        raise cut_off(f"inside {call.name}()")
    if call.at_end and not saturated:
        raise cut_off(f"after {call.name}(...), before its closing paren")


@dataclass(frozen=True)
class _Value:
    text: str
    end: int
    state: Literal["whole", "cut", "quote_at_end"] = "whole"
    quoted: bool = False


#: Where a quoted string may stop: a backslash, or a quote that closes it. A double quote always does; a
#: single one only before a separator, a newline or the end (else it is an unescaped apostrophe, as in
#: ``type(content='don't')``, which UI-TARS writes often). Apostrophes are skipped inside the regex.
_QUOTED_STOP = {"'": re.compile(r"\\|'(?=[ \t]*+(?:[,)\]}\n]|\Z))"), '"': re.compile(r'\\|"')}
#: Where a bare value may stop: brackets, a separator, a newline, or a protected span (``<``).
_RAW_STOP = re.compile(r"[()\[\]{},\n<]")
_KEY_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)")
_BLANKS_TO_END = re.compile(r"[ \t]*+\Z")
_SPACE_RE = re.compile(r"[ \t\r\n]*+")
_SEPARATORS_RE = re.compile(r"[ \t\r\n,]*+")


def _read_quoted(text: str, i: int) -> _Value:
    """Read a quoted string starting at ``text[i]`` (the quote)."""
    quote = text[i]
    n = len(text)
    if text.startswith(quote * 3, i):
        end = text.find(quote * 3, i + 3)
        if end == -1:
            return _Value(text[i + 3:], n, "cut", quoted=True)
        return _Value(text[i + 3: end], end + 3, quoted=True)
    out: list[str] = []
    j = i + 1
    stop = _QUOTED_STOP[quote]
    while True:
        m = stop.search(text, j)
        if m is None:
            return _Value("".join(out) + text[j:], n, "cut", quoted=True)
        k = m.start()
        out.append(text[j:k])
        if text[k] == "\\":
            if k + 1 >= n:
                return _Value("".join(out) + "\\", n, "cut", quoted=True)
            nxt = text[k + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            j = k + 2
            continue
        # A single quote that ends the reply may be an apostrophe the cut landed on ('don' of 'don't').
        ends_reply = quote == "'" and _BLANKS_TO_END.match(text, k + 1) is not None
        return _Value("".join(out), k + 1, "quote_at_end" if ends_reply else "whole", quoted=True)


def _read_raw(text: str, i: int, protected: Mapping[int, tuple[int, bool]]) -> _Value:
    """Read a bare value up to the next top-level ``,`` or ``)``, ``protected`` spans read whole.

    A bare value the reply ends in is whole only when its last bracket closes it (``[100,50]``); a
    word or a number there could go on (``30`` of ``300``), so it is cut.
    """
    n = len(text)
    depth = 0
    j = i
    closed_last = False  # the value so far ends with a closing bracket or a protected span
    while True:
        m = _RAW_STOP.search(text, j)
        stop = m.start() if m else n
        if text[j:stop].strip():
            closed_last = False
        if m is None:
            break
        c = text[stop]
        j = stop + 1
        if c == "<":
            span = protected.get(stop)
            if span is not None:
                j, whole = span
                if not whole:
                    return _Value(text[i:].strip(), n, "cut")
            closed_last = span is not None
        elif c in "([{":
            depth += 1
            closed_last = False
        elif c in ")]}":
            if depth == 0:
                return _Value(text[i:stop].strip(), stop)
            depth -= 1
            closed_last = depth == 0
        elif c == "," and depth == 0:
            return _Value(text[i:stop].strip(), stop)
        elif c == "\n" and depth == 0 and text.startswith("\n", stop + 1):
            return _Value(text[i:stop].strip(), stop)
    value = text[i:].strip()
    return _Value(value, n, "whole" if depth == 0 and closed_last else "cut")


def _read_value(text: str, i: int, protected: Mapping[int, tuple[int, bool]]) -> _Value:
    """Read one argument value: quoted, or bare up to the next top-level ``,`` or ``)``."""
    i = _SPACE_RE.match(text, i).end()
    if i < len(text) and text[i] in "'\"":
        return _read_quoted(text, i)
    return _read_raw(text, i, protected)


def read_call(text: str, start: int, name_end: int, protected: Mapping[int, tuple[int, bool]] | None = None,
              bare: Callable[[str], str] | None = None) -> Call:
    """Read the call whose name is ``text[start:name_end]`` and whose ``(`` is at ``name_end``.

    Missing closing parens are tolerated (the call then runs to the end of ``text`` or to a blank line);
    how the call ended is recorded on it (see :class:`Call`). ``protected`` maps the start of spans that
    are one value whatever they contain (Qwen2-VL's tagged boxes, ``(x1,y1),(x2,y2)``) to their end and
    whether they are whole (a box the reply ends in is not, and cuts the call). ``bare`` tidies unquoted
    values (a quoted one is text, kept as written).
    """
    protected = protected or {}
    call = Call(name=text[start:name_end], start=start)
    i = name_end + 1
    n = len(text)
    while True:
        gap = _SEPARATORS_RE.match(text, i)
        separated = "," in gap.group(0)
        i = gap.end()
        if i >= n:
            call.closed = False
            call.at_end = not separated
            call.cut = separated
            break
        if text[i] == ")":
            i += 1
            break
        m = _KEY_RE.match(text, i)
        key = None
        if m:
            key = m.group(1)
            i = m.end()
        value = _read_value(text, i, protected)
        arg = value.text if value.quoted or bare is None else bare(value.text)
        if key is None:
            call.args.append(arg)
        else:
            call.kwargs[key] = arg
        call.last_key = key
        call.quote_at_end = value.state == "quote_at_end"
        i = value.end
        if value.state == "cut":
            call.closed = False
            call.cut = True
            break
        if i < n and text[i] in "]}":
            i += 1  # a stray closer inside the call: skip it
        if text.startswith("\n\n", i):
            call.closed = False
            break
    call.end = i
    return call


_CALL_NAME_RE = re.compile(r"(?<![A-Za-z0-9_.])([A-Za-z_][A-Za-z0-9_]*+)([ \t]*+)\(")


def find_calls(text: str, known: Collection[str], *, any_name: bool = False,
               protected: Mapping[int, tuple[int, bool]] | None = None,
               bare: Callable[[str], str] | None = None) -> Iterator[Call]:
    r"""Every call of a ``known`` verb in ``text``, in order (names compared case-insensitively).

    With ``any_name`` (text that is known to hold only calls, such as UI-TARS's ``Action:`` section) any
    ``name(`` is a call, so an unknown verb is reported instead of skipped; a space before the paren is
    then allowed only for known verbs, so prose such as ``done (hopefully)`` is not read as a call.

    Example:
        >>> [c.name for c in find_calls("click(start_box='(1,2)')\n\ntype(content='hi')", {"click", "type"})]
        ['click', 'type']
    """
    i = 0
    while True:
        m = _CALL_NAME_RE.search(text, i)
        if not m:
            return
        name = m.group(1)
        is_known = name.lower() in known
        if not is_known and (not any_name or m.group(2)):
            i = m.end()
            continue
        call = read_call(text, m.start(1), m.end() - 1, protected, bare)
        call.name = name
        yield call
        i = max(call.end, m.end())


def quote_str(text: str) -> str:
    r"""A single-quoted literal the call reader reads back to exactly ``text``.

    Example:
        >>> quote_str("it's\nok")
        "'it\\'s\\nok'"
    """
    out = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f"'{out}'"


def submit_split(text: str) -> tuple[str, bool]:
    """UI-TARS and Qwen's convention: content ending in a newline means "type it, then press Enter"."""
    if text.endswith("\n"):
        return text.rstrip("\n"), True
    return text, False


def key_list(spec: str) -> list[str]:
    """Key names from ``'ctrl c'``, ``'ctrl+c'``, ``'Ctrl-Shift-T'`` (a lone ``+`` or ``-`` stays a key).

    Example:
        >>> key_list("ctrl c"), key_list("ctrl+shift+t"), key_list("ctrl +"), key_list("-")
        (['ctrl', 'c'], ['ctrl', 'shift', 't'], ['ctrl', '+'], ['-'])
    """
    parts = spec.split()
    if len(parts) == 1 and len(parts[0]) > 1:
        for sep in ("+", "-"):
            pieces = parts[0].split(sep)
            if len(pieces) > 1 and all(pieces):
                return pieces
    return parts
