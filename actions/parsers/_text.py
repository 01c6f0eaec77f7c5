r"""Text clean-up before any format is read: code fences, turn markers, ``<think>`` reasoning.

Models wrap their replies the same ways whatever the format; each reader here undoes one of them, in
linear time (no regex here may backtrack over a run of the input).
"""

from __future__ import annotations

import re

_FENCE_RE = re.compile(r"```[ \t]*[\w+-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)



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
