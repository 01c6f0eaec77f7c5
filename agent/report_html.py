"""Small HTML helpers the report modules share: escaping, relative links, outcome badges, durations."""

from __future__ import annotations

import datetime as dt
import html
import os
from pathlib import Path
from urllib.parse import quote

from vlagent.agent.trajectory import EpisodeMeta

#: Outcomes that count against the model (as opposed to "no success reported" or an unfair run).
BAD_OUTCOMES = frozenset({"fail", "errors", "loop", "crashed", "model_error", "env_error"})
#: Outcomes where the episode did not get a fair run; an evaluation rerun retries them.
UNFAIR_OUTCOMES = frozenset({"interrupted", "model_error", "env_error"})


def esc(value: object) -> str:
    """HTML-escaped text (``None`` as empty).

    Example:
        >>> esc("<b>&")
        '&lt;b&gt;&amp;'
    """
    return html.escape("" if value is None else str(value))


def rel(target: Path, base: Path) -> str:
    """``target`` as a URL relative to ``base``: the report opens from disk, wherever the folder is moved.

    Example:
        >>> rel(Path("/r/ep 1/step_000.png"), Path("/r"))
        'ep%201/step_000.png'
    """
    return quote(Path(os.path.relpath(target, base)).as_posix())


def outcome_css(meta: EpisodeMeta) -> str:
    """``ok``, ``bad``, ``unfair`` or ``na``: the colour an episode's outcome is shown in."""
    if meta.success is True:
        return "ok"
    if meta.outcome == "interrupted":
        return "unfair"
    if meta.success is False or meta.outcome in BAD_OUTCOMES:
        return "bad"
    return "na"


def outcome_badge(meta: EpisodeMeta) -> str:
    """The outcome and whether it succeeded, coloured."""
    success = {True: "success", False: "no success", None: "success unknown"}[meta.success]
    return f'<span class="{outcome_css(meta)}">{esc(meta.outcome or "running")} ({success})</span>'


def duration_seconds(meta: EpisodeMeta) -> float | None:
    """Wall time from ``started`` to ``ended`` (``None`` while running or for unreadable stamps)."""
    if not meta.ended:
        return None
    try:
        return (dt.datetime.fromisoformat(meta.ended) - dt.datetime.fromisoformat(meta.started)).total_seconds()
    except ValueError:
        return None


def fmt_seconds(seconds: float | None) -> str:
    """``1.25 s``, ``350 ms`` or an empty string.

    Example:
        >>> fmt_seconds(0.35), fmt_seconds(12.5), fmt_seconds(None)
        ('350 ms', '12.5 s', '')
    """
    if seconds is None:
        return ""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"
