"""JSON (and Python literals) as models write them: repaired where the damage is usual, never ``eval``-ed.

A JSON object the reply ends inside was cut off, not damaged: :func:`json_objects` reports it as not
closed (see :class:`Braced`), and no repair here adds its missing braces. Every scan is linear in the
reply's length.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from vlagent.actions.parsers._common import BadReply


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
