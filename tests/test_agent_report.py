"""The HTML report, rendered in real headless Chromium from disk: the steps and their screenshots show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agent_fixtures import ScriptedBackend, chromium_binary, count_colour, render_html

from vlagent.agent.annotate import MARKER_RGB
from vlagent.agent.batch import EpisodeJob, run_batched
from vlagent.agent.loop import Agent, TrajectoryStore
from vlagent.agent.report import write_report
from vlagent.agent.trajectory import load_episode
from vlagent.envs.registry import make_env

pytestmark = pytest.mark.timeout(120)


def _episode(root: Path, profile: str = "ui-tars", episode_id: str = "ep", suite: str | None = None) -> None:
    env = make_env("synthetic:login", size=(640, 480))
    Agent(ScriptedBackend(), profile, env, recorder=TrajectoryStore(root), suite=suite).run("", seed=0, episode_id=episode_id)


def test_report_lists_each_step_with_relative_images(tmp_path: Path) -> None:
    _episode(tmp_path / "run")
    page = write_report(tmp_path / "run")
    html = page.read_text()
    assert page == tmp_path / "run" / "index.html"
    assert "Sign in as" in html and "Step 0" in html and "Step 4" in html
    assert "Thought:" in html and "click(start_box=" in html and "terminated" in html
    assert 'src="ep/step_000_annotated.png"' in html and "file://" not in html and str(tmp_path) not in html
    assert "<script" not in html


def test_clicking_a_step_thumbnail_opens_the_annotated_screenshot(tmp_path: Path) -> None:
    _episode(tmp_path / "run")
    html = write_report(tmp_path / "run").read_text()
    assert '<a href="ep/step_000_annotated.png"><img src="ep/step_000_annotated.png"' in html
    assert '<a class="raw" href="ep/step_000.png">raw screenshot</a>' in html
    assert (tmp_path / "run" / "ep" / "step_000_annotated.png").is_file() and (tmp_path / "run" / "ep" / "step_000.png").is_file()


def test_report_shows_each_steps_timings_in_milliseconds(tmp_path: Path) -> None:
    _episode(tmp_path / "run")
    _, steps = load_episode(tmp_path / "run" / "ep")
    html = write_report(tmp_path / "run").read_text()
    assert html.count("<caption>timings (ms)</caption>") == len(steps)
    assert "<th>capture</th><th>preprocess</th><th>model</th><th>parse</th><th>execute</th><th>settle</th>" in html
    for step in steps:
        assert step.timings.capture > 0 and f"<td>{step.timings.capture * 1000:.2f}</td>" in html


def test_steps_recorded_before_settle_existed_still_load_and_report(tmp_path: Path) -> None:
    _episode(tmp_path / "run")
    jsonl = tmp_path / "run" / "ep" / "steps.jsonl"
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    for line in lines:  # the schema of older trajectories: no settle phase
        del line["timings"]["settle"]
        line["info"].pop("timings", None)
    jsonl.write_text("".join(json.dumps(line) + "\n" for line in lines))
    _, steps = load_episode(tmp_path / "run" / "ep")
    assert len(steps) == len(lines) and all(s.timings.settle == 0.0 and s.timings.capture > 0 for s in steps)
    assert "Step 4" in write_report(tmp_path / "run").read_text()


def test_eval_report_has_a_summary_row_per_suite(tmp_path: Path) -> None:
    store = TrajectoryStore(tmp_path)
    jobs = [
        EpisodeJob(f"{suite}-{i}", "", i, lambda suite=suite: Agent(
            ScriptedBackend(), "json", make_env("synthetic:dialog", size=(640, 480)), recorder=store, suite=suite))
        for suite in ("alpha", "beta") for i in range(2)
    ]
    run_batched(jobs, workers=2)
    html = write_report(tmp_path).read_text()
    assert "<h2>Summary</h2>" in html
    assert "<td>alpha</td><td>2</td><td>100.0% (2)</td>" in html and "<td>beta</td><td>2</td>" in html
    assert "parse-error rate" in html
    # Regression: the summary gave times as 4-decimal seconds ("0.0497") while the steps and the CLI use ms.
    assert "<th>mean step time (ms)</th><th>overhead per step (ms)</th>" in html and "time (s)" not in html


@pytest.mark.chromium
@pytest.mark.skipif(chromium_binary() is None, reason="Debian chromium is not installed (scripts/setup-system.sh)")
def test_report_renders_in_headless_chromium_with_annotated_steps(tmp_path: Path) -> None:
    _episode(tmp_path / "run")
    page = write_report(tmp_path / "run")
    shot = render_html(page, tmp_path / "report.png", width=1200, height=2200)
    # A copy of the page whose images are missing: the same text, no screenshots.
    blank = tmp_path / "run" / "blank.html"
    blank.write_text(page.read_text().replace('src="ep/', 'src="missing/'))
    empty = render_html(blank, tmp_path / "blank.png", width=1200, height=2200)

    marker = count_colour(shot, MARKER_RGB, 60)
    assert marker > 30, "the annotated click markers do not show in the rendered report"
    assert count_colour(empty, MARKER_RGB, 60) == 0
    # The screenshots' light page background fills large areas only when the images load.
    page_grey = (242, 243, 245)
    assert count_colour(shot, page_grey, 6) > 2 * count_colour(empty, page_grey, 6) + 50_000
