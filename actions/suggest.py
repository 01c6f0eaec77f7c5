""""Did you mean": the close names for a mistyped one, for every error that names what is known instead.

One helper so every "unknown X" message (profiles, env kinds, synthetic apps) suggests the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_names(word: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The known names closest to ``word`` (case-insensitive), best first.

    Example:
        >>> close_names("qwen2vl", ["qwen2-vl", "qwen2.5-vl", "json"])
        ['qwen2-vl', 'qwen2.5-vl']
    """
    names = list(known)
    lowered = {name.lower(): name for name in names}
    return [lowered[m] for m in difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=0.6)]


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """``"did you mean a, b? "`` for the close names, or an empty string.

    Example:
        >>> did_you_mean("logn", ["login", "home"]), did_you_mean("chess", ["login"])
        ('did you mean login? ', '')
    """
    close = close_names(word, known)
    return f"did you mean {', '.join(close)}? " if close else ""
