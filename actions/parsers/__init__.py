"""Output parsers, one small class per model format, each reading replies and writing them back.

Every parser follows :class:`~vlagent.actions.parsers.base.ActionParser`: ``parse(text)`` returns a
:class:`~vlagent.actions.models.ParsedReply` or raises :class:`~vlagent.actions.errors.ActionParseError`
with the raw text, and ``format(actions, thought)`` writes actions in the model's own syntax (used by
scripted policies), so that ``parse(format(actions))`` gives the actions back.

A reply cut off inside an action (the token limit: ``click(<|box_start|>(500,4``) raises the same error:
nothing of a truncated reply is executed. Every parser is linear in the reply's length
(``bench/bench_parsers.py``) and refuses a reply of more than ``MAX_ACTIONS`` actions.

Example:
    >>> sorted(PARSERS)
    ['json', 'qwen2vl', 'showui', 'tool_call', 'uitars']
"""

from vlagent.actions.parsers.base import ActionParser
from vlagent.actions.parsers.json_action import JSONActionParser
from vlagent.actions.parsers.qwen2vl import Qwen2VLParser
from vlagent.actions.parsers.showui import ShowUIParser
from vlagent.actions.parsers.tool_call import ToolCallParser
from vlagent.actions.parsers.uitars import UITarsParser

#: Parser classes by short name (the format, not the profile: ui-tars and ui-tars-1.5 share ``uitars``).
PARSERS: dict[str, type] = {
    "qwen2vl": Qwen2VLParser,
    "uitars": UITarsParser,
    "tool_call": ToolCallParser,
    "showui": ShowUIParser,
    "json": JSONActionParser,
}

__all__ = [
    "PARSERS", "ActionParser", "JSONActionParser", "Qwen2VLParser", "ShowUIParser", "ToolCallParser",
    "UITarsParser",
]
