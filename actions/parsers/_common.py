"""Helpers every parser shares: errors, action building, numbers and points, the final checks.

The rest is split by job: :mod:`._text` (fences, turn markers, ``<think>``), :mod:`._json` (JSON and
Python literals as models write them) and :mod:`._calls` (the tolerant reader of Python-style calls).

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

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from vlagent.actions.coords import Box, Point, Space
from vlagent.actions.errors import ActionParseError, CoordinateError, UnsupportedActionError
from vlagent.actions.models import Action, Drag, ParsedReply

#: A decimal number as models write coordinates: ``512``, ``-3``, ``0.49``, ``.5``, ``1e-05``. The
#: quantifiers are possessive: a run of digits is read once, never split and retried (``"9" * 8000``
#: before a missing comma cost seconds with ``\d+\.?\d*``).
NUMBER = r"[-+]?+(?:\d++(?:\.\d*+)?+|\.\d++)(?:[eE][-+]?+\d++)?+"
_NUMBER_RE = re.compile(NUMBER)

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
