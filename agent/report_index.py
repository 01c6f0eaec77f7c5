"""The top of a report of several episodes (an evaluation, a run folder): the index, the tables, the plots.

One row per episode (suite, env, seed, outcome, steps, duration, reward) linking to the episode below,
with filters by outcome, result and suite; success per suite and per env; plots of success rates, where
step time goes, reward per game episode and steps to success. Interrupted episodes (and model or env
failures) are marked as not a fair run: a rerun of the evaluation retries them.

The filters are a few lines of inline script (nothing fetched); they also read the page's fragment, so
``index.html#outcome=interrupted&suite=gym`` opens filtered. Without script every row shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from statistics import fmean

from vlagent.agent import plots
from vlagent.agent.metrics import SuiteSummary, summarize
from vlagent.agent.report_html import (
    UNFAIR_OUTCOMES,
    duration_seconds,
    esc,
    fmt_seconds,
    outcome_css,
)
from vlagent.agent.trajectory import EpisodeMeta, StepRecord

Loaded = tuple[Path, EpisodeMeta, Sequence[StepRecord]]
PHASES = tuple(plots.PHASE_RGB)

FILTER_JS = """
(function () {
  var keys = ["outcome", "result", "suite"];
  function value(k) { return document.getElementById("f-" + k).value; }
  function apply() {
    var shown = 0;
    document.querySelectorAll("[data-outcome]").forEach(function (el) {
      var hide = keys.some(function (k) { var v = value(k); return v && el.dataset[k] !== v; });
      el.hidden = hide;
      if (!hide && el.tagName === "TR") shown++;
    });
    document.getElementById("f-count").textContent = shown + " shown";
  }
  function fromHash() {
    var h = location.hash.slice(1);
    if (h.indexOf("=") >= 0) {
      var q = new URLSearchParams(h);
      keys.forEach(function (k) { if (q.has(k)) document.getElementById("f-" + k).value = q.get(k); });
    } else if (h) {
      var el = document.getElementById(decodeURIComponent(h));
      if (el && el.tagName === "DETAILS") el.open = true;
    }
    apply();
  }
  keys.forEach(function (k) { document.getElementById("f-" + k).addEventListener("change", apply); });
  window.addEventListener("hashchange", fromHash);
  fromHash();
})();
"""


def env_label(meta: EpisodeMeta) -> str:
    """The env spec with its size, the way evaluations vary it: ``synthetic:login (phone)``.

    Example:
        >>> env_label(EpisodeMeta(episode_id="e", task="t", env="synthetic:login", env_kwargs={"size": "4k"}))
        'synthetic:login (4k)'
    """
    size = meta.env_kwargs.get("size")
    return f"{meta.env} ({size})" if size else meta.env


def result_of(meta: EpisodeMeta) -> str:
    """``success``, ``no success``, ``unknown`` or ``not a fair run`` (interrupted, model or env failure)."""
    if meta.outcome in UNFAIR_OUTCOMES:
        return "not a fair run"
    return {True: "success", False: "no success", None: "unknown"}[meta.success]


def _select(key: str, label: str, values: Sequence[str]) -> str:
    options = '<option value="">all</option>' + "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in values)
    return f'<label>{esc(label)} <select id="f-{key}">{options}</select></label>'


def index_table(episodes: Sequence[Loaded]) -> str:
    """The episode index with its filters."""
    metas = [m for _, m, _ in episodes]
    outcomes = sorted({str(m.outcome) for m in metas})
    suites = sorted({m.suite or "-" for m in metas})
    results = sorted({result_of(m) for m in metas})
    filters = (
        f'<div class="filters">{_select("outcome", "outcome", outcomes)} {_select("result", "result", results)} '
        f'{_select("suite", "suite", suites)} <span id="f-count">{len(metas)} shown</span></div>'
    )
    rows = []
    for _, m, _ in episodes:
        seed = "" if m.seed is None else m.seed
        unfair = ' <i>(not a fair run: rerun to retry)</i>' if m.outcome in UNFAIR_OUTCOMES else ""
        rows.append(
            f'<tr data-outcome="{esc(m.outcome)}" data-result="{esc(result_of(m))}" data-suite="{esc(m.suite or "-")}">'
            f'<td><a href="#{esc(m.episode_id)}">{esc(m.episode_id)}</a></td><td>{esc(m.suite or "-")}</td>'
            f"<td>{esc(env_label(m))}</td><td>{esc(seed)}</td>"
            f'<td class="{outcome_css(m)}">{esc(m.outcome or "running")}{unfair}</td><td>{esc(result_of(m))}</td>'
            f"<td>{m.steps}</td><td>{esc(fmt_seconds(duration_seconds(m)))}</td><td>{m.total_reward:g}</td></tr>"
        )
    head = ("<tr><th>episode</th><th>suite</th><th>env</th><th>seed</th><th>outcome</th><th>result</th>"
            "<th>steps</th><th>duration</th><th>reward</th></tr>")
    return (f'<h2>Index ({len(metas)} episodes)</h2>{_counts(metas)}{filters}'
            f'<table class="index">{head}{"".join(rows)}</table>')


def _counts(metas: Sequence[EpisodeMeta]) -> str:
    wins = sum(bool(m.success) for m in metas)
    unfair = [m for m in metas if m.outcome in UNFAIR_OUTCOMES]
    text = f"{wins} of {len(metas)} succeeded"
    if unfair:
        kinds = ", ".join(f"{sum(m.outcome == k for m in unfair)} {k}" for k in sorted({str(m.outcome) for m in unfair}))
        text += f"; {len(unfair)} did not get a fair run ({kinds})"
    return f"<p>{esc(text)}.</p>"


def suite_table(rows: Sequence[SuiteSummary]) -> str:
    """Success and step figures per suite."""
    head = (
        "<tr><th>suite</th><th>episodes</th><th>success rate</th><th>mean steps</th>"
        "<th>mean step time (ms)</th><th>overhead per step (ms)</th><th>parse-error rate</th><th>outcomes</th></tr>"
    )
    body = "".join(
        f"<tr><td>{esc(r.suite)}</td><td>{r.episodes}</td><td>{r.success_rate:.1%} ({r.successes})</td>"
        f"<td>{r.mean_steps:.2f}</td><td>{r.mean_step_seconds * 1000:.1f}</td><td>{r.mean_overhead_seconds * 1000:.1f}</td>"
        f"<td>{r.parse_error_rate:.1%}</td>"
        f"<td>{esc(', '.join(f'{k}: {v}' for k, v in sorted(r.outcomes.items())))}</td></tr>"
        for r in rows
    )
    return f"<h2>Summary</h2><table>{head}{body}</table>"


def _by_env(episodes: Sequence[Loaded]) -> dict[str, list[EpisodeMeta]]:
    groups: dict[str, list[EpisodeMeta]] = {}
    for _, m, _ in episodes:
        groups.setdefault(env_label(m), []).append(m)
    return dict(sorted(groups.items()))


def env_table(episodes: Sequence[Loaded]) -> str:
    """Success per env (and size)."""
    rows = []
    for env, metas in _by_env(episodes).items():
        wins = sum(bool(m.success) for m in metas)
        unfair = sum(m.outcome in UNFAIR_OUTCOMES for m in metas)
        rows.append(f"<tr><td>{esc(env)}</td><td>{len(metas)}</td><td>{wins / len(metas):.1%} ({wins})</td>"
                    f"<td>{fmean(m.steps for m in metas):.2f}</td><td>{unfair}</td></tr>")
    head = "<tr><th>env</th><th>episodes</th><th>success rate</th><th>mean steps</th><th>not a fair run</th></tr>"
    return f"<h2>Per env</h2><table>{head}{''.join(rows)}</table>"


def _phase_ms(steps: Sequence[StepRecord]) -> dict[str, float]:
    if not steps:
        return {}
    return {p: fmean(getattr(s.timings, p) for s in steps) * 1000 for p in PHASES}


def _note(metas: Sequence[EpisodeMeta]) -> str:
    """``3/4`` successes, plus how many of the failures were not a fair run (they count as failures)."""
    unfair = sum(m.outcome in UNFAIR_OUTCOMES for m in metas)
    return f"{sum(bool(m.success) for m in metas)}/{len(metas)}" + (f" ({unfair} unfair)" if unfair else "")


def plots_html(episodes: Sequence[Loaded], suites: Sequence[SuiteSummary]) -> str:
    """The four plots (the reward plot only when there are game episodes)."""
    by_suite_metas: dict[str, list[EpisodeMeta]] = {}
    for _, m, _ in episodes:
        by_suite_metas.setdefault(m.suite or "-", []).append(m)
    out = [plots.rate_bars([(r.suite, r.success_rate, _note(by_suite_metas[r.suite])) for r in suites],
                           "success rate per suite")]
    envs = _by_env(episodes)
    out.append(plots.rate_bars([(env, sum(bool(m.success) for m in ms) / len(ms), _note(ms))
                                for env, ms in envs.items()], "success rate per env"))
    by_suite: dict[str, list[StepRecord]] = {}
    for _, m, steps in episodes:
        by_suite.setdefault(m.suite or "-", []).extend(steps)
    out.append(plots.stacked_bars([(s, _phase_ms(steps)) for s, steps in sorted(by_suite.items())],
                                  "where a step's time goes (mean per step)"))
    games = [(m.episode_id, m.total_reward) for _, m, _ in episodes if m.family == "game"]
    if games:
        out.append(plots.value_bars(games, "reward per game episode"))
    out.append(plots.histogram([m.steps for _, m, _ in episodes if m.success], "steps to success"))
    return '<h2>Plots</h2><div class="plots">' + "".join(out) + "</div>"


def overview_html(episodes: Sequence[Loaded]) -> str:
    """Everything above the episodes: index, tables, plots."""
    suites = summarize((m, s) for _, m, s in episodes)
    return index_table(episodes) + suite_table(suites) + env_table(episodes) + plots_html(episodes, suites)
