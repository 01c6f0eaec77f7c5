"""A static HTML report of a run: opens from disk (relative image paths, inline CSS, no script, no server).

Per episode: the task, the outcome, and each step with the model's thought, its raw reply, the parsed
actions (model space and screen pixels), the annotated screenshot and the timings. For several episodes
(an evaluation), a summary table per suite comes first.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from vlagent.agent.describe import describe
from vlagent.agent.errors import TrajectoryError
from vlagent.agent.metrics import SuiteSummary, summarize
from vlagent.agent.trajectory import EpisodeMeta, StepRecord, find_episodes, load_episode

REPORT_NAME = "index.html"

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.5em; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #eee; }
.episode { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .5em 1em; margin: 1em 0; }
.ok { color: #070; font-weight: bold; } .bad { color: #b00; font-weight: bold; } .na { color: #666; }
.step { display: flex; gap: 1em; border-top: 1px solid #eee; padding: .75em 0; }
.step img { max-width: 560px; width: 100%; border: 1px solid #ccc; }
.shot { flex: 0 0 560px; max-width: 560px; } .detail { flex: 1; min-width: 0; }
pre { white-space: pre-wrap; word-break: break-word; background: #f3f3f3; padding: .4em; margin: .2em 0; }
.error { background: #fee; border-left: 4px solid #b00; padding: .3em .6em; }
.timings td { font-variant-numeric: tabular-nums; }
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _rel(target: Path, base: Path) -> str:
    return quote(Path(os.path.relpath(target, base)).as_posix())


def _outcome(meta: EpisodeMeta) -> str:
    if meta.success is True:
        css = "ok"
    elif meta.success is False or meta.outcome in ("fail", "errors", "loop", "crashed", "model_error", "env_error"):
        css = "bad"
    else:
        css = "na"
    success = {True: "success", False: "no success", None: "success unknown"}[meta.success]
    return f'<span class="{css}">{_e(meta.outcome or "running")} ({success})</span>'


def _summary_table(rows: Sequence[SuiteSummary]) -> str:
    head = (
        "<tr><th>suite</th><th>episodes</th><th>success rate</th><th>mean steps</th>"
        "<th>mean step time (ms)</th><th>overhead per step (ms)</th><th>parse-error rate</th><th>outcomes</th></tr>"
    )
    body = "".join(
        f"<tr><td>{_e(r.suite)}</td><td>{r.episodes}</td><td>{r.success_rate:.1%} ({r.successes})</td>"
        f"<td>{r.mean_steps:.2f}</td><td>{r.mean_step_seconds * 1000:.1f}</td><td>{r.mean_overhead_seconds * 1000:.1f}</td>"
        f"<td>{r.parse_error_rate:.1%}</td>"
        f"<td>{_e(', '.join(f'{k}: {v}' for k, v in sorted(r.outcomes.items())))}</td></tr>"
        for r in rows
    )
    return f"<h2>Summary</h2><table>{head}{body}</table>"


def _step_html(step: StepRecord, folder: Path, base: Path) -> str:
    image = step.annotated or step.screenshot
    shot = ""
    if image and not (folder / image).exists():
        # Screenshots are encoded after their step's line is written; a run killed meanwhile never wrote it.
        shot = '<p class="missing">screenshot not written (still being encoded, or the run ended first)</p>'
    elif image:
        # The thumbnail opens the image it shows (the annotated one: where the action landed); the raw
        # screenshot, without the drawing over it, is a secondary link.
        src = _rel(folder / image, base)
        shot = f'<a href="{src}"><img src="{src}" alt="step {step.index} screenshot" loading="lazy"></a>'
        if step.annotated and step.screenshot:
            shot += f'<br><a class="raw" href="{_rel(folder / step.screenshot, base)}">raw screenshot</a>'
    actions = "".join(
        f"<tr><td>{_e(describe(a.model))}</td><td>{_e(describe(a.screen) if a.screen else '')}</td>"
        f"<td>{'executed' if a.executed else _e(a.skipped or 'not executed')}</td></tr>"
        for a in step.actions
    )
    actions_table = (
        f"<table><tr><th>as the model wrote it</th><th>screen pixels</th><th>status</th></tr>{actions}</table>"
        if actions
        else ""
    )
    t = step.timings
    phases = {"capture": t.capture, "preprocess": t.preprocess, "model": t.model, "parse": t.parse,
              "execute": t.execute, "settle": t.settle, "record": t.record, "total": t.total}
    timings = (  # milliseconds: the overhead phases take a few ms, which 4-decimal seconds hide
        '<table class="timings"><caption>timings (ms)</caption><tr>'
        + "".join(f"<th>{name}</th>" for name in phases)
        + "</tr><tr>"
        + "".join(f"<td>{seconds * 1000:.2f}</td>" for seconds in phases.values())
        + "</tr></table>"
    )
    error = f'<div class="error">{_e(step.error.type)}: {_e(step.error.message)}</div>' if step.error else ""
    thought = f"<p><b>Thought:</b> {_e(step.thought)}</p>" if step.thought else ""
    status = f"reward {step.reward:g}" + (", terminated" if step.terminated else "") + (
        ", truncated" if step.truncated else ""
    )
    return (
        f'<div class="step" id="step-{step.index}"><div class="shot">{shot}</div><div class="detail">'
        f"<h3>Step {step.index}</h3>{thought}<b>Raw reply:</b><pre>{_e(step.raw)}</pre>{error}"
        f"{actions_table}<p>{_e(status)}</p>{timings}</div></div>"
    )


def _episode_html(meta: EpisodeMeta, steps: Sequence[StepRecord], folder: Path, base: Path, *, open_: bool) -> str:
    facts = (
        f"<table><tr><th>env</th><td>{_e(meta.env)}</td><th>profile</th><td>{_e(meta.profile)}</td></tr>"
        f"<tr><th>model</th><td>{_e(meta.model)}</td><th>backend</th><td>{_e(meta.backend)}</td></tr>"
        f"<tr><th>steps</th><td>{meta.steps}</td><th>reward</th><td>{meta.total_reward:g}</td></tr>"
        f"<tr><th>started</th><td>{_e(meta.started)}</td><th>ended</th><td>{_e(meta.ended)}</td></tr></table>"
    )
    answer = f"<p><b>Answer:</b> {_e(meta.answer)}</p>" if meta.answer else ""
    error = f'<div class="error">{_e(meta.error.type)}: {_e(meta.error.message)}</div>' if meta.error else ""
    dry = " <b>(dry run: nothing executed)</b>" if meta.dry_run else ""
    body = "".join(_step_html(s, folder, base) for s in steps)
    final = folder / "final.png"
    final_html = (
        f'<p><b>Final screen:</b><br><img src="{_rel(final, base)}" alt="final screen" loading="lazy" '
        f'style="max-width:560px;width:100%"></p>'
        if final.exists()
        else ""
    )
    return (
        f'<details class="episode" id="{_e(meta.episode_id)}"{" open" if open_ else ""}><summary>'
        f"<b>{_e(meta.episode_id)}</b>: {_e(meta.task)}: {_outcome(meta)}{dry}</summary>"
        f"{facts}{answer}{error}{body}{final_html}</details>"
    )


def render_report(run_dir: Path, *, title: str | None = None, open_episodes: int = 20) -> str:
    """The report's HTML for every episode folder under ``run_dir`` (image paths relative to it)."""
    run_dir = Path(run_dir)
    folders = find_episodes(run_dir)
    if not folders:
        raise TrajectoryError(f"no episodes (meta.json) under {run_dir}")
    episodes = [(f, *load_episode(f)) for f in folders]
    parts = [f"<h1>{_e(title or f'vlagent run: {run_dir.name}')}</h1>"]
    if len(episodes) > 1 or any(meta.suite for _, meta, _ in episodes):
        parts.append(_summary_table(summarize((meta, steps) for _, meta, steps in episodes)))
    parts.append(f"<h2>Episodes ({len(episodes)})</h2>")
    parts.extend(
        _episode_html(meta, steps, folder, run_dir, open_=i < open_episodes)
        for i, (folder, meta, steps) in enumerate(episodes)
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title or run_dir.name)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>\n"
    )


def write_report(run_dir: str | Path, *, title: str | None = None) -> Path:
    """Write ``RUN_DIR/index.html`` and return its path.

    Example:
        >>> import tempfile
        >>> from vlagent.agent.trajectory import EpisodeRecorder
        >>> root = Path(tempfile.mkdtemp())
        >>> _ = EpisodeRecorder(root / "ep", EpisodeMeta(episode_id="ep", task="say hi", env="x")).close(outcome="finished")
        >>> "say hi" in write_report(root).read_text()
        True
    """
    run_dir = Path(run_dir)
    out = run_dir / REPORT_NAME
    out.write_text(render_report(run_dir, title=title), encoding="utf-8")
    return out
