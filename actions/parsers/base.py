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
from vlagent.actions.parsers._common import finished_reply, run_parser
from vlagent.actions.parsers._text import clean, strip_think


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


class ReplyParser:
    """The reading skeleton every format shares, so that a parser writes only what its format reads.

    :meth:`parse` refuses what is not text and turns every failure into one ``ActionParseError``; it
    unwraps fences and turn markers, splits ``<think>`` reasoning off, lets the format's :meth:`_read`
    find the actions and the thought, then refuses a reply with no action (or too many). A subclass sets
    ``expected`` and ``space`` and implements :meth:`_read` and ``format``.

    Example:
        >>> from vlagent.actions.models import Wait
        >>> class WaitOnly(ReplyParser):
        ...     expected = "wait"
        ...     space = "rel1000"
        ...     def _read(self, text, think):
        ...         return [Wait()] * text.count("wait"), think
        >>> WaitOnly().parse("<think>nothing yet</think>wait").thought
        'nothing yet'
    """

    expected: ClassVar[str]
    space: Space

    def parse(self, text: str) -> ParsedReply:
        """The reply's actions and thought; ``ActionParseError`` (with the reply attached) when it has none."""
        return run_parser(text, self.expected, self._parse)

    def _parse(self, raw: str) -> ParsedReply:
        text, think = strip_think(clean(raw))
        actions, thought = self._read(text, think)
        return finished_reply(raw, actions, thought)

    def _read(self, text: str, think: str | None) -> tuple[list[Action], str | None]:
        """The actions and the thought of a cleaned reply (``think``: its ``<think>`` part, if any)."""
        raise NotImplementedError
