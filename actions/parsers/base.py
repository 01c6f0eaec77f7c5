"""The parser interface: one small class per output format.

A parser turns one raw reply into a :class:`ParsedReply` (every action found, in order, plus the thought)
or raises :class:`ActionParseError` carrying the raw text. It never invents a coordinate: a click with no
readable point is an error, not a click at (0, 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol, runtime_checkable

from vlagent.actions.coords import Space
from vlagent.actions.models import Action, ParsedReply


@runtime_checkable
class ActionParser(Protocol):
    """Turns one model reply into typed actions in the parser's coordinate space.

    ``expected`` is a short human description of the format, used in error messages and fed back to the
    model when its reply does not parse. ``format`` is the inverse of ``parse``: it writes actions (points
    already in the parser's space) the way the model would, so scripted policies and round-trip tests speak
    every profile's format; it raises ``UnsupportedActionError`` for what the format cannot express.

    Example:
        >>> from vlagent.actions.models import Finished
        >>> from vlagent.actions.parsers import Qwen2VLParser
        >>> parser = Qwen2VLParser()
        >>> isinstance(parser, ActionParser), parser.space
        (True, 'rel1000')
        >>> parser.parse(parser.format([Finished()])).actions
        [Finished(type='finished', answer=None)]
    """

    space: Space
    expected: ClassVar[str]

    def parse(self, text: str) -> ParsedReply: ...

    def format(self, actions: Sequence[Action], thought: str | None = None) -> str: ...
