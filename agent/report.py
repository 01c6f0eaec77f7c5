"""A static HTML report of a run: opens from disk (relative image paths, inline CSS, no server).

Per episode: the task, the outcome, the seed, the system prompt, and each step with its full screenshot
and 1:1 crops around each action (report_step.py), the prompt as sent, the model's thought and raw reply,
the parsed actions (model space and screen pixels), errors fed back, timings and tokens. Phone screens
(portrait) are laid out side by side. A folder of several episodes (an evaluation) starts with an index,
tables and plots (report_index.py) and keeps the episodes collapsed; only that page carries a few lines of
inline script, for the index's filters.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vlagent.agent.errors import TrajectoryError
from vlagent.agent.report_html import duration_seconds, esc, fmt_seconds, outcome_badge, rel
from vlagent.agent.report_index import FILTER_JS, env_label, overview_html, result_of
from vlagent.agent.report_step import step_html
from vlagent.agent.trajectory import EpisodeMeta, StepRecord, find_episodes, load_episode

REPORT_NAME = "index.html"

_CSS = """
body { font: 14px/1.4 system-ui, "DejaVu Sans", sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.5em; } h3 small { color: #666; font-weight: normal; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #eee; }
.episode { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .5em 1em; margin: 1em 0; }
.ok { color: #070; font-weight: bold; } .bad { color: #b00; font-weight: bold; } .na { color: #666; }
.unfair { color: #a60; font-weight: bold; }
.step { border-top: 1px solid #eee; padding: .5em 0; } .step h3 { margin: .2em 0 .4em; }
.step-body { display: flex; gap: 1em; }
.step img.full { max-width: 560px; width: 100%; border: 1px solid #ccc; }
.shot { flex: 0 0 560px; max-width: 560px; } .detail { flex: 1; min-width: 0; }
.steps.portrait { display: grid; grid-template-columns: repeat(auto-fill, minmax(400px, 1fr)); gap: 1em; }
.steps.portrait .step { border: 1px solid #eee; padding: .5em; } .steps.portrait .step-body { flex-direction: column; }
.steps.portrait .shot { flex: none; max-width: none; }
.steps.portrait img.full { width: 270px; max-width: 270px; }
.crops { display: flex; flex-wrap: wrap; gap: .5em; margin-top: .4em; }
.crop { margin: 0; } .crop img { display: block; border: 1px solid #999; max-width: none; }
.crop figcaption { font-size: 12px; color: #555; }
pre { white-space: pre-wrap; word-break: break-word; background: #f3f3f3; padding: .4em; margin: .2em 0; }
.error { background: #fee; border-left: 4px solid #b00; padding: .3em .6em; }
.timings td, .tokens td, .index td { font-variant-numeric: tabular-nums; }
.timings th, .timings td, .tokens th, .tokens td { padding: .15em .35em; font-size: 12px; }
.prompt { background: #f7f7ff; border: 1px solid #dde; padding: .2em .5em; margin: .3em 0; }
.prompt .msg { border-top: 1px dashed #ccd; padding: .2em 0; }
.filters { margin: .5em 0; } .filters label { margin-right: 1em; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; } .plot { background: #fff; border: 1px solid #ddd; }
[hidden] { display: none !important; }
"""


def _portrait(meta: EpisodeMeta) -> bool:
    """A phone screen: tall and too big to show 1:1 (a 160x210 MiniWoB++ page is neither)."""
    g = meta.geometry
    if not (g.get("height") and g.get("width")):
        return False
    return meta.family == "mobile" or (g["height"] > g["width"] and g["width"] > 400)


def _facts(meta: EpisodeMeta) -> str:
    g = meta.geometry
    screen = f"{g.get('width')}x{g.get('height')}" + (f" (scale {g['scale']:g})" if g.get("scale", 1) != 1 else "")
    secrets = ", ".join(meta.secrets)
    return (
        f"<table><tr><th>env</th><td>{esc(env_label(meta))}</td><th>profile</th><td>{esc(meta.profile)}</td></tr>"
        f"<tr><th>model</th><td>{esc(meta.model)}</td><th>backend</th><td>{esc(meta.backend)}</td></tr>"
        f"<tr><th>seed</th><td>{esc(meta.seed)}</td><th>screen</th><td>{esc(screen)}</td></tr>"
        f"<tr><th>steps</th><td>{meta.steps}</td><th>reward</th><td>{meta.total_reward:g}</td></tr>"
        f"<tr><th>started</th><td>{esc(meta.started)}</td><th>duration</th>"
        f"<td>{esc(fmt_seconds(duration_seconds(meta)))}</td></tr>"
        + (f"<tr><th>secrets masked</th><td colspan=3>{esc(secrets)}</td></tr>" if secrets else "")
        + "</table>"
    )


def _episode_html(meta: EpisodeMeta, steps: Sequence[StepRecord], folder: Path, base: Path, *, open_: bool) -> str:
    answer = f"<p><b>Answer:</b> {esc(meta.answer)}</p>" if meta.answer else ""
    error = f'<div class="error">{esc(meta.error.type)}: {esc(meta.error.message)}</div>' if meta.error else ""
    dry = " <b>(dry run: nothing executed)</b>" if meta.dry_run else ""
    system = (f'<details class="prompt"><summary>System prompt (sent with every step)</summary>'
              f"<pre>{esc(meta.system_prompt)}</pre></details>" if meta.system_prompt else "")
    portrait = _portrait(meta)
    size = (int(meta.geometry["width"]), int(meta.geometry["height"])) if meta.geometry.get("width") else None
    body = "".join(step_html(s, folder, base, size=size, portrait=portrait, system_prompt=meta.system_prompt)
                   for s in steps)
    final = folder / "final.png"
    final_html = (
        f'<p><b>Final screen:</b><br><a href="{rel(final, base)}"><img src="{rel(final, base)}" alt="final screen" '
        f'loading="lazy" style="max-width:{270 if portrait else 560}px;width:100%"></a></p>'
        if final.exists()
        else ""
    )
    layout = "steps portrait" if portrait else "steps"
    return (
        f'<details class="episode" id="{esc(meta.episode_id)}" data-outcome="{esc(meta.outcome)}" '
        f'data-result="{esc(result_of(meta))}" data-suite="{esc(meta.suite or "-")}"{" open" if open_ else ""}>'
        "<summary>"
        f"<b>{esc(meta.episode_id)}</b>: {esc(meta.task)}: {outcome_badge(meta)}{dry}</summary>"
        f'{_facts(meta)}{answer}{error}{system}<div class="{layout}">{body}</div>{final_html}</details>'
    )


def render_report(run_dir: Path, *, title: str | None = None, open_episodes: int | None = None) -> str:
    """The report's HTML for every episode folder under ``run_dir`` (image paths relative to it).

    ``open_episodes``: how many episodes start expanded (default: all of a single one, none under an index).
    """
    run_dir = Path(run_dir)
    folders = find_episodes(run_dir)
    if not folders:
        raise TrajectoryError(f"no episodes (meta.json) under {run_dir}")
    episodes = [(f, *load_episode(f)) for f in folders]
    several = len(episodes) > 1 or any(meta.suite for _, meta, _ in episodes)
    opened = open_episodes if open_episodes is not None else (0 if several else 1)
    parts = [f"<h1>{esc(title or f'vlagent run: {run_dir.name}')}</h1>"]
    if several:
        parts.append(overview_html(episodes))
    parts.append(f"<h2>Episodes ({len(episodes)})</h2>")
    parts.extend(
        _episode_html(meta, steps, folder, run_dir, open_=i < opened)
        for i, (folder, meta, steps) in enumerate(episodes)
    )
    script = f"<script>{FILTER_JS}</script>" if several else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title or run_dir.name)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(parts)
        + script
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
