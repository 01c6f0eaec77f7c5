"""Figures over episodes: success rate, steps, step time, parse-error rate, grouped by suite."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from statistics import fmean

from pydantic import BaseModel, ConfigDict

from vlagent.agent.trajectory import EpisodeMeta, StepRecord


class SuiteSummary(BaseModel):
    """One row of an evaluation's summary table.

    ``mean_step_seconds`` covers whole steps (model included); ``mean_overhead_seconds`` everything but the
    model. ``parse_error_rate`` is parse errors per model call.

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


def summarize(episodes: Iterable[tuple[EpisodeMeta, Sequence[StepRecord]]]) -> list[SuiteSummary]:
    """One :class:`SuiteSummary` per suite (episodes without a suite are grouped under ``"-"``)."""
    groups: dict[str, list[tuple[EpisodeMeta, Sequence[StepRecord]]]] = {}
    for meta, steps in episodes:
        groups.setdefault(meta.suite or "-", []).append((meta, steps))
    rows: list[SuiteSummary] = []
    for suite in sorted(groups):
        eps = groups[suite]
        metas = [m for m, _ in eps]
        all_steps = [s for _, steps in eps for s in steps]
        calls = sum(m.steps for m in metas)
        outcomes: dict[str, int] = {}
        for m in metas:
            outcomes[str(m.outcome)] = outcomes.get(str(m.outcome), 0) + 1
        successes = sum(bool(m.success) for m in metas)
        rows.append(
            SuiteSummary(
                suite=suite,
                episodes=len(metas),
                successes=successes,
                success_rate=successes / len(metas),
                mean_steps=fmean(m.steps for m in metas),
                mean_step_seconds=fmean(s.timings.total for s in all_steps) if all_steps else 0.0,
                mean_overhead_seconds=fmean(s.timings.overhead for s in all_steps) if all_steps else 0.0,
                parse_error_rate=(sum(m.parse_errors for m in metas) / calls) if calls else 0.0,
                outcomes=outcomes,
            )
        )
    return rows
