"""The report pages as a browser shows them: rendered from disk in headless Chromium, read back and looked at.

Layout is read by a probe: a copy of the page with a few lines of script that write the boxes of the
elements under test into the DOM, which ``--dump-dom`` then prints.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from agent_fixtures import ScriptedBackend, chromium_binary, count_colour, render_html

from vlagent.agent import plots
from vlagent.agent.annotate import MARKER_RGB
from vlagent.agent.evaluate import evaluate
from vlagent.agent.loop import Agent, TrajectoryStore
from vlagent.agent.report import write_report
from vlagent.agent.safety import StopFlag
from vlagent.agent.suites import build_suite
from vlagent.envs.registry import make_env

pytestmark = [pytest.mark.timeout(180), pytest.mark.chromium]

PROBE = """<script>
window.addEventListener("load", function () {
  var out = [];
  document.querySelectorAll(%s).forEach(function (el) {
    var r = el.getBoundingClientRect();
    out.push({top: Math.round(r.top), left: Math.round(r.left), width: Math.round(r.width),
              inner: el.clientWidth, natural: el.naturalWidth || 0, cls: el.className});
  });
  var pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def dump_dom(page: Path, fragment: str = "", width: int = 1400) -> str:
    binary = chromium_binary()
    assert binary is not None, "Debian chromium is not installed (scripts/setup-system.sh)"
    profile = page.parent / f"chromium-dom-{page.stem}"
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}",
           f"--window-size={width},1600", "--virtual-time-budget=5000", "--dump-dom", page.resolve().as_uri() + fragment]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=90).stdout


def probe(page: Path, selector: str, width: int = 1400) -> list[dict[str, int]]:
    copy = page.with_name("probe.html")
    copy.write_text(page.read_text().replace("</body>", PROBE % json.dumps(selector) + "</body>"))
    dom = dump_dom(copy, width=width)
    return json.loads(re.search(r'<pre id="probe">(.*?)</pre>', dom).group(1))


def _run(root: Path, size: str, app: str = "login", profile: str = "qwen2-vl", max_steps: int = 30) -> Path:
    env = make_env(f"synthetic:{app}", size=size)
    Agent(ScriptedBackend(), profile, env, recorder=TrajectoryStore(root), env_spec=f"synthetic:{app}",
          env_kwargs={"size": size}, max_steps=max_steps).run("", seed=0, episode_id=f"{app}-{size}")
    return write_report(root)


def test_a_4k_report_shows_each_click_cropped_at_one_image_pixel_per_css_pixel(tmp_path: Path) -> None:
    page = _run(tmp_path / "run", "4k", max_steps=2)
    boxes = probe(page, ".crop img, img.full")
    crops = [b for b in boxes if b["cls"] != "full"]
    full = [b for b in boxes if b["cls"] == "full"]
    assert crops and all(c["natural"] == 3840 and c["inner"] == 320 for c in crops)  # 1:1, not scaled
    assert full and all(f["inner"] <= 560 for f in full)  # the whole screen, scaled down, next to the crops
    # Pixels: inside the first crop the click marker is drawn large, as on the 4K screen itself.
    shot = render_html(page, tmp_path / "4k.png", width=1400, height=1200)
    c = crops[0]
    region = shot.crop((c["left"], c["top"], c["left"] + c["width"], c["top"] + 200))
    assert count_colour(region, MARKER_RGB, 60) > 1500
    f = full[0]
    thumb = shot.crop((f["left"], f["top"], f["left"] + f["width"], f["top"] + 320))
    assert count_colour(thumb, MARKER_RGB, 60) < count_colour(region, MARKER_RGB, 60) / 3


def test_a_phone_report_lays_steps_side_by_side_and_a_desktop_one_in_rows(tmp_path: Path) -> None:
    phone = _run(tmp_path / "phone", "phone", app="settings", profile="ui-tars")
    steps = probe(phone, ".step")
    assert len(steps) >= 2 and steps[0]["top"] == steps[1]["top"] and steps[1]["left"] > steps[0]["left"]
    assert all(s["width"] < 700 for s in steps)
    desktop = _run(tmp_path / "desk", "desktop")
    rows = probe(desktop, ".step")
    assert all(a["top"] < b["top"] for a, b in zip(rows, rows[1:], strict=False))
    # A folder holding several runs gets the evaluation's index too.
    both = write_report(tmp_path).read_text()
    assert "<h2>Index (2 episodes)</h2>" in both and 'href="#settings-phone"' in both and 'href="#login-desktop"' in both


def test_each_step_shows_the_prompt_collapsed_the_reply_actions_timings_and_tokens(tmp_path: Path) -> None:
    page = _run(tmp_path / "run", "desktop")
    dom = dump_dom(page)
    prompts = re.findall(r'<details class="prompt">(.*?)</details>', dom, re.S)
    assert len(prompts) == 1 + 5  # the system prompt, then one per step, all collapsed (no "open")
    step1 = prompts[2]
    assert "Sign in as" in step1 and "Previous actions:" in step1
    assert re.search(r"image <a href=\"login-desktop/step_000.png\">step_000.png</a>: 1920x1080, sent as \d+x\d+", step1)
    assert "max_new_tokens=256" in step1
    assert dom.count("<caption>timings (ms)</caption>") == 5 and dom.count("<caption>tokens</caption>") == 5
    assert "as the model wrote it" in dom and "[rel1000]" in dom and "screen pixels" in dom


def test_an_evaluation_page_starts_with_a_filterable_index_tables_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    specs = build_suite("synthetic", 2) + build_suite("gym", 2)
    evaluate(specs, backend=ScriptedBackend(), profile="json", out=out, workers=2, progress=False, max_steps=6)
    stop = StopFlag()
    stop.request()  # Ctrl+C arrived: the episode ends after its first step, as "interrupted"
    Agent(ScriptedBackend(), "json", make_env("synthetic:picker", size="desktop"), recorder=TrajectoryStore(out / "episodes"),
          stop=stop, suite="picker", env_spec="synthetic:picker").run("", seed=5, episode_id="picker-s5")
    page = write_report(out)

    dom = dump_dom(page)
    rows = re.findall(r'<tr data-outcome="([^"]*)" data-result="[^"]*" data-suite="([^"]*)"( hidden="")?>', dom)
    assert len(rows) == 5 and not any(hidden for *_, hidden in rows)
    assert {s for _, s, _ in rows} == {"synthetic", "gym", "picker"}
    assert "did not get a fair run (1 interrupted)" in dom and "not a fair run: rerun to retry" in dom
    for title in ("success rate per suite", "success rate per env", "where a step's time goes", "steps to success",
                  "reward per game episode"):
        assert f"<title>{title}" in dom.replace("&#x27;", "'").replace("&#39;", "'"), title
    assert "<h2>Per env</h2>" in dom and "synthetic:dialog (desktop)" in dom
    assert dom.count('<details class="episode"') == 5 and ' open=""' not in dom  # collapsed under the index

    filtered = dump_dom(page, "#outcome=interrupted")
    rows = re.findall(r'<tr data-outcome="([^"]*)" data-result="[^"]*" data-suite="[^"]*"( hidden="")?>', filtered)
    assert [(o, bool(h)) for o, h in rows if not h] == [("interrupted", False)]
    assert '<span id="f-count">1 shown</span>' in filtered
    by_suite = dump_dom(page, "#suite=gym")
    shown = re.findall(r'<tr data-outcome="[^"]*" data-result="[^"]*" data-suite="([^"]*)">', by_suite)
    assert shown == ["gym", "gym"]
    unfair = dump_dom(page, "#result=not%20a%20fair%20run")
    assert re.findall(r'<details class="episode" id="([^"]*)"[^>]*data-suite="[^"]*">', unfair) == ["picker-s5"]

    shot = render_html(page, tmp_path / "eval.png", width=1400, height=1800)
    assert count_colour(shot, plots.RATE_RGB, 8) > 2000  # the success bars are drawn
    assert count_colour(shot, plots.HIST_RGB, 8) > 500
