"""Helpers every parser shares: reading numbers and points, a tolerant call reader, code fences, errors.

Models break their own formats in the same few ways whatever the format: a missing closing paren or
quote, floats where ints were asked for, prose or a markdown fence around the call, several calls in one
reply. The readers here absorb exactly those and nothing more: a value they cannot read is reported as
:class:`BadReply`, which each parser turns into an :class:`ActionParseError` carrying the whole reply.
"""

from __future__ import annotations

import ast
import json
import math
import re
import warnings
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from vlagent.actions.coords import Box, Point, Space
from vlagent.actions.errors import ActionParseError, CoordinateError, UnsupportedActionError
from vlagent.actions.models import Action, Drag, Navigate, ParsedReply

#: A decimal number as models write coordinates: ``512``, ``-3``, ``0.49``, ``.5``, ``1e-05``.
NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER_RE = re.compile(NUMBER)
_FENCE_RE = re.compile(r"```[ \t]*[\w+-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}

A = TypeVar("A", bound=BaseModel)


class BadReply(Exception):
    """Internal: why a reply (or one call in it) cannot become an action; parsers re-raise it typed."""


def fail(reason: str) -> BadReply:
    return BadReply(reason)


def navigate_call(call: Call, to: Literal["back", "home", "recents"]) -> Navigate:
    """A system-button press from a call that must be bare: ``back(qq123)`` is not a back press.

    Pressing back or home on a real phone throws away the user's screen, so a call carrying arguments the
    format does not define is refused rather than read as the button.
    """
    if call.args or call.kwargs:
        raise fail(f"{call.name}() takes no arguments")
    return Navigate(to=to)


def parse_error(raw: str, expected: str, reason: str) -> ActionParseError:
    return ActionParseError(raw, expected=expected, reason=reason)


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
        raise parse_error(raw, expected, str(exc)) from None
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {"msg": str(exc)}
        loc = ".".join(str(p) for p in first.get("loc", ()))
        reason = f"invalid action value{f' ({loc})' if loc else ''}: {first.get('msg', '')}"
        raise parse_error(raw, expected, reason) from None
    except (ValueError, TypeError, ArithmeticError, RecursionError, MemoryError, SyntaxError) as exc:
        raise parse_error(raw, expected, f"unreadable reply: {type(exc).__name__}: {exc}") from None


def build(cls: type[A], **fields: Any) -> A:
    """Construct an action, reporting a validation failure as a :class:`BadReply` naming the action."""
    try:
        return cls(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ()))
        type_name = cls.model_fields["type"].default if "type" in cls.model_fields else cls.__name__
        raise fail(f"invalid {type_name}{f' {loc}' if loc else ''}: {err.get('msg', '')}") from None


def finished_reply(raw: str, actions: list[Action], thought: str | None) -> ParsedReply:
    if not actions:
        raise fail("no action found")
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
_END_TOKENS_RE = re.compile(r"\A\s*<\|im_start\|>assistant\n|(?:<\|(?:im_end|endoftext)\|>\s*)+\Z")


def clean(text: str) -> str:
    r"""A reply with code fences unwrapped, end-of-turn tokens at its end dropped, newlines unified.

    Example:
        >>> clean("```\nAction: wait()\n```<|im_end|>")
        'Action: wait()\n'
    """
    return unfence(_END_TOKENS_RE.sub("", text.replace("\r\n", "\n")))


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
        raise fail(f"{what} must be a number, got {value!r}")
    try:
        if isinstance(value, int | float):
            num = float(value)
        elif isinstance(value, str) and re.fullmatch(rf"\s*{NUMBER}\s*", value):
            num = float(value)
        else:
            raise fail(f"{what} must be a number, got {value!r}")
    except OverflowError:  # an int too large for a float: no screen is that big
        raise fail(f"{what} is out of range: {str(value)[:20]}...") from None
    if not math.isfinite(num):
        raise fail(f"{what} must be finite, got {value!r}")
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
    raise fail(f"{what} needs 2 numbers (x, y) or 4 (x1, y1, x2, y2), got {len(vals)}")


def coords_from_text(text: str, space: Space, what: str = "coordinate") -> tuple[Point, Box | None]:
    nums = numbers_in(text)
    if not nums:
        raise fail(f"{what} has no readable numbers: {text!r}")
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

    Repairs: a trailing comma, missing closing braces/brackets (the reply was cut), Python literals
    (``None``/``True``/single quotes) via a JSON re-spelling. Never ``eval``.
    """
    body = body.strip()
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        pass
    fixed = re.sub(r",\s*([}\]])", r"\1", body)
    opens = []
    in_str = False
    esc = False
    for c in fixed:
        if in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "{[":
            opens.append("}" if c == "{" else "]")
        elif c in "}]" and opens:
            opens.pop()
    if in_str:
        fixed += '"'
    fixed += "".join(reversed(opens))
    try:
        return json.loads(fixed)
    except json.JSONDecodeError:
        pass
    try:
        return literal(body)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise fail(f"not valid JSON: {body[:80]!r}") from exc


def literal(text: str) -> Any:
    """:func:`ast.literal_eval` without the ``SyntaxWarning`` noise bad input makes; never ``eval``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.literal_eval(text)


def json_objects(text: str, quotes: str = '"') -> list[str]:
    """Top-level ``{...}`` spans of ``text``, braces inside strings ignored (a last unclosed span runs on).

    ``quotes`` are the string delimiters: the double quote for JSON, both quotes for Python literals.

    Example:
        >>> json_objects('think {"a": "}"} then {"b": 1')
        ['{"a": "}"}', '{"b": 1']
    """
    spans: list[str] = []
    depth = 0
    start = -1
    in_str: str | None = None
    esc = False
    for i, c in enumerate(text):
        if in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == in_str:
                in_str = None
            continue
        if c in quotes and depth > 0:
            in_str = c
        elif c == "{":
            if depth == 0:
                start = i
            depth += 1
        elif c == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                spans.append(text[start: i + 1])
    if depth > 0 and start >= 0:
        spans.append(text[start:])
    return spans


# ---------------------------------------------------------------------------------------------------
# A tolerant reader for Python-style calls: ``name(arg='v', key="w", (1,2))``


@dataclass
class Call:
    """One call as written: its name, positional and keyword arguments (raw strings), and where it was."""

    name: str
    args: list[str] = field(default_factory=list)
    kwargs: dict[str, str] = field(default_factory=dict)
    start: int = 0
    end: int = 0
    closed: bool = True

    def get(self, *names: str) -> str | None:
        """The first keyword argument present among ``names`` (``None`` when none is)."""
        for n in names:
            if n in self.kwargs:
                return self.kwargs[n]
        return None


def _read_quoted(text: str, i: int) -> tuple[str, int, bool]:
    """Read a quoted string starting at ``text[i]`` (the quote); returns (value, next index, closed)."""
    quote = text[i]
    if text.startswith(quote * 3, i):
        end = text.find(quote * 3, i + 3)
        if end == -1:
            return text[i + 3:], len(text), False
        return text[i + 3: end], end + 3, True
    out: list[str] = []
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\" and j + 1 < len(text):
            nxt = text[j + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            j += 2
            continue
        if c == quote:
            # A quote directly followed by a separator closes the string; one followed by a letter is an
            # apostrophe the model forgot to escape (type(content='don't')), which UI-TARS writes often.
            rest = text[j + 1:].lstrip(" \t")
            if not rest or rest[0] in ",)]}\n" or quote == '"':
                return "".join(out), j + 1, True
        out.append(c)
        j += 1
    return "".join(out), len(text), False


def _read_value(text: str, i: int) -> tuple[str, int, bool]:
    """Read one argument value: quoted, or raw up to the next top-level ``,`` or ``)``."""
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    if i < len(text) and text[i] in "'\"":
        return _read_quoted(text, i)
    depth = 0
    j = i
    pairs = {"(": ")", "[": "]", "{": "}"}
    closers = set(pairs.values())
    while j < len(text):
        c = text[j]
        if c in pairs:
            depth += 1
        elif c in closers:
            if depth == 0:
                break
            depth -= 1
        elif c == "," and depth == 0:
            break
        elif c == "\n" and depth == 0 and text[j:].startswith("\n\n"):
            break
        j += 1
    return text[i:j].strip(), j, True


def read_call(text: str, start: int, name_end: int) -> Call:
    """Read the call whose name is ``text[start:name_end]`` and whose ``(`` is at ``name_end``.

    Missing closing parens and quotes are tolerated: the call then runs to the end of ``text``.
    """
    call = Call(name=text[start:name_end], start=start)
    i = name_end + 1
    while True:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text):
            call.closed = False
            break
        if text[i] == ")":
            i += 1
            break
        m = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)").match(text, i)
        key = None
        if m:
            key = m.group(1)
            i = m.end()
        value, i, closed = _read_value(text, i)
        if key is None:
            call.args.append(value)
        else:
            call.kwargs[key] = value
        if not closed:
            call.closed = False
            break
        if i < len(text) and text[i] in ")]}" and text[i] != ")":
            i += 1  # a stray closer inside the call: skip it
        if i < len(text) and text.startswith("\n\n", i):
            call.closed = False
            break
    call.end = i
    return call


def find_calls(text: str, known: Collection[str], *, any_name: bool = False) -> Iterator[Call]:
    r"""Every call of a ``known`` verb in ``text``, in order (names compared case-insensitively).

    With ``any_name`` (text that is known to hold only calls, such as UI-TARS's ``Action:`` section) any
    ``name(`` is a call, so an unknown verb is reported instead of skipped; a space before the paren is
    then allowed only for known verbs, so prose such as ``done (hopefully)`` is not read as a call.

    Example:
        >>> [c.name for c in find_calls("click(start_box='(1,2)')\n\ntype(content='hi')", {"click", "type"})]
        ['click', 'type']
    """
    i = 0
    pat = re.compile(r"(?<![A-Za-z0-9_.])([A-Za-z_][A-Za-z0-9_]*)([ \t]*)\(")
    while True:
        m = pat.search(text, i)
        if not m:
            return
        name = m.group(1)
        is_known = name.lower() in known
        if not is_known and (not any_name or m.group(2)):
            i = m.end()
            continue
        call = read_call(text, m.start(1), m.end() - 1)
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
