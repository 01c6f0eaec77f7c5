"""Figures over episodes: success rate, steps, step time, parse-error rate, grouped by suite.

Episodes that Ctrl+C cut short (``interrupted``) say nothing about the model: they are counted apart and
left out of every rate and mean, and a rerun of the evaluation runs them again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from statistics import fmean

from pydantic import BaseModel, ConfigDict

from vlagent.agent.trajectory import EpisodeMeta, StepRecord

#: The outcome of an episode Ctrl+C stopped.
INTERRUPTED = "interrupted"


class SuiteSummary(BaseModel):
    """One row of an evaluation's summary table.

    ``episodes`` counts the episodes the figures cover, ``interrupted`` those left out of them.
    ``mean_step_seconds`` covers whole steps (model included); ``mean_overhead_seconds`` everything but the
    model. ``parse_error_rate`` is parse errors per model call. A suite with no covered episode has rates 0.

    Example:
        >>> meta = EpisodeMeta(episode_id="e", task="t", env="x", suite="s", outcome="finished", success=True, steps=2)
        >>> summarize([(meta, [])])[0].success_rate
        1.0
    """

    model_config = ConfigDict(extra="forbid")

    suite: str
    episodes: int
    successes: int
    success_rate: float
    mean_steps: float
    mean_step_seconds: float
    mean_overhead_seconds: float
    parse_error_rate: float
    outcomes: dict[str, int]
    interrupted: int = 0


def summarize(episodes: Iterable[tuple[EpisodeMeta, Sequence[StepRecord]]]) -> list[SuiteSummary]:
    """One :class:`SuiteSummary` per suite (episodes without a suite are grouped under ``"-"``)."""
    groups: dict[str, list[tuple[EpisodeMeta, Sequence[StepRecord]]]] = {}
    for meta, steps in episodes:
        groups.setdefault(meta.suite or "-", []).append((meta, steps))
    return [_row(suite, groups[suite]) for suite in sorted(groups)]


def _row(suite: str, eps: list[tuple[EpisodeMeta, Sequence[StepRecord]]]) -> SuiteSummary:
    counted = [(m, steps) for m, steps in eps if m.outcome != INTERRUPTED]
    metas = [m for m, _ in counted]
    all_steps = [s for _, steps in counted for s in steps]
    calls = sum(m.steps for m in metas)
    outcomes: dict[str, int] = {}
    for m in metas:
        outcomes[str(m.outcome)] = outcomes.get(str(m.outcome), 0) + 1
    successes = sum(bool(m.success) for m in metas)
    return SuiteSummary(
        suite=suite,
        episodes=len(metas),
        successes=successes,
        success_rate=successes / len(metas) if metas else 0.0,
        mean_steps=fmean(m.steps for m in metas) if metas else 0.0,
        mean_step_seconds=fmean(s.timings.total for s in all_steps) if all_steps else 0.0,
        mean_overhead_seconds=fmean(s.timings.overhead for s in all_steps) if all_steps else 0.0,
        parse_error_rate=(sum(m.parse_errors for m in metas) / calls) if calls else 0.0,
        outcomes=outcomes,
        interrupted=len(eps) - len(metas),
    )
