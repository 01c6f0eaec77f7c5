"""A tolerant reader for Python-style calls, ``name(arg='v', key="w", (1,2))``, as UI-TARS and Qwen2-VL write them.

It absorbs what models break (a missing ``)``, an unescaped apostrophe, a stray closer) and records how
each call ended, so that a call the reply was cut off in is refused (:func:`check_whole`), never read as
what is left of it. Every reader is linear in the reply's length.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from vlagent.actions.models import Navigate
from vlagent.actions.parsers._common import BadReply, cut_off

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}


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


def navigate_call(call: Call, to: Literal["back", "home", "recents"]) -> Navigate:
    """A system-button press from a call that must be bare: ``back(qq123)`` is not a back press.

    Pressing back or home on a real phone throws away the user's screen, so a call carrying arguments the
    format does not define is refused rather than read as the button.
    """
    if call.args or call.kwargs:
        raise BadReply(f"{call.name}() takes no arguments")
    return Navigate(to=to)
