"""``vlagent replay --execute`` under the same safety policy as ``run``, and its typed errors.

The forged trajectories are written with the real recorder (as a tampered or hand-made folder would be) and
replayed on a real Xvfb with a real Tk window, which logs every key it receives.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from agent_fixtures import CountSteps, ScriptedBackend
from xvfb_fixtures import requires_tk, requires_xvfb, tk_app, xvfb_factory  # noqa: F401

from vlagent.actions.models import Hotkey, TypeText
from vlagent.agent import cli
from vlagent.agent.loop import Agent, TrajectoryStore
from vlagent.agent.replay import replay_episode
from vlagent.agent.safety import SafetyPolicy
from vlagent.agent.trajectory import ActionRecord, EpisodeMeta, EpisodeRecorder, StepRecord
from vlagent.envs.registry import make_env

pytestmark = pytest.mark.timeout(60)
KW = {"size": [640, 480]}


def vlagent(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["vlagent", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def record_login(root: Path) -> Path:
    env = make_env("synthetic:login", **KW)
    result = Agent(ScriptedBackend(), "qwen2-vl", env, recorder=TrajectoryStore(root, background_images=False),
                   env_spec="synthetic:login", env_kwargs=KW).run("", seed=5, episode_id="ep")
    assert result.path is not None and result.success and len(result.steps) == 5
    return result.path


def forge(root: Path, server, *actions, thought: str = "Close it.") -> Path:
    """A desktop trajectory whose one step 'executed' ``actions`` (no screenshots: nothing to compare)."""
    meta = EpisodeMeta(episode_id="forged", task="t", env="desktop",
                       geometry={"width": server.width, "height": server.height})
    rec = EpisodeRecorder(root / "forged", meta)
    records = [ActionRecord(model=a, screen=a, executed=True) for a in actions]
    rec.write_step(StepRecord(index=0, raw="forged", thought=thought, actions=records, screenshot=""))
    rec.close(outcome="finished")
    return rec.path


@pytest.fixture(scope="module")
def server(xvfb_factory):  # noqa: F811
    return xvfb_factory(800, 600)


@requires_xvfb
@requires_tk
def test_a_forged_alt_f4_is_refused_on_a_real_display(capsys, monkeypatch, tmp_path, server, tk_app) -> None:  # noqa: F811
    app = tk_app(server)
    folder = forge(tmp_path, server, Hotkey(keys=["alt", "f4"]), TypeText(text="after"))
    monkeypatch.setenv("DISPLAY", server.display)
    rc, out, err = vlagent(capsys, monkeypatch, "replay", str(folder), "--execute")
    assert rc == 1, out + err
    assert "DIVERGED step 0: hotkey alt+f4: recorded executed, replayed refused: on the hotkey deny-list" in out
    assert "stopped: first divergence at step 0" in out
    # Nothing reached the window: neither the denied keys nor the step after them.
    assert not [e for e in app.new_events() if e["ev"] in ("key", "entry")]


@requires_xvfb
@requires_tk
def test_confirm_shows_the_thought_the_action_and_the_annotated_screen(capsys, monkeypatch, tmp_path, server,
                                                                      tk_app) -> None:  # noqa: F811
    app = tk_app(server)
    folder = forge(tmp_path, server, TypeText(text="rm -rf ~", submit=True), thought="Empty the home folder.")
    monkeypatch.setenv("DISPLAY", server.display)
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))  # the user reads the prompt and says no
    rc, out, err = vlagent(capsys, monkeypatch, "replay", str(folder), "--execute", "--confirm", "sensitive",
                           "--interactive")
    assert rc == 1, out + err
    assert "step 0: type 'rm -rf ~' and submit" in out and "thought: Empty the home folder." in out
    (line,) = [x for x in out.splitlines() if "annotated screenshot: " in x]
    shot = Path(line.split("annotated screenshot: ", 1)[1])
    from PIL import Image

    with Image.open(shot) as im:  # the live screen with the caption strip below it
        assert im.format == "PNG" and im.width == server.width and im.height > server.height
    assert "replayed refused: the user declined it" in out
    assert not [e for e in app.new_events() if e["ev"] in ("key", "entry")]


def test_replay_stops_at_the_first_divergence_unless_keep_going(tmp_path: Path) -> None:
    folder = record_login(tmp_path)
    lines = (folder / "steps.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["actions"][0]["screen"]["point"] = {"x": 3.0, "y": 3.0, "space": "screen"}  # a corner: hits nothing
    lines[0] = json.dumps(first)
    (folder / "steps.jsonl").write_text("\n".join(lines) + "\n")

    env = CountSteps(make_env("synthetic:login", **KW))
    report = replay_episode(folder, execute=True, env=env)
    assert len(env.steps) == 1  # the screen after step 0 is not the recorded one: nothing more is aimed at it
    assert {d.step for d in report.divergences} == {0} and "first divergence at step 0" in report.stopped

    env = CountSteps(make_env("synthetic:login", **KW))
    report = replay_episode(folder, execute=True, env=env, keep_going=True)
    assert len(env.steps) == 5 and report.stopped is None and len({d.step for d in report.divergences}) > 1


def test_dry_run_executes_nothing_even_with_execute(capsys, monkeypatch, tmp_path: Path) -> None:
    folder = record_login(tmp_path)
    env = CountSteps(make_env("synthetic:login", **KW))
    report = replay_episode(folder, execute=True, env=env, safety=SafetyPolicy(dry_run=True))
    assert env.steps == [] and not report.executed and len(report.plan) == 5
    rc, out, _ = vlagent(capsys, monkeypatch, "replay", str(folder), "--execute", "--dry-run")
    assert rc == 0 and "dry run (nothing executed" in out


def test_an_empty_folder_says_there_is_nothing_to_replay(capsys, monkeypatch, tmp_path: Path) -> None:
    rc, out, err = vlagent(capsys, monkeypatch, "replay", str(tmp_path), "--execute")
    assert rc == 5 and out == ""
    assert err.splitlines() == [f"error: TrajectoryError: nothing to replay: no episodes (meta.json) under {tmp_path}"]


def test_a_screenshot_that_is_not_a_png_is_a_one_line_error_before_anything_runs(capsys, monkeypatch,
                                                                                  tmp_path: Path) -> None:
    folder = record_login(tmp_path)
    (folder / "step_003.png").write_bytes(b"this is not a PNG\n")
    rc, out, err = vlagent(capsys, monkeypatch, "replay", str(folder), "--execute")
    assert rc == 5 and "executed" not in out
    (line,) = err.splitlines()
    assert line.startswith("error: TrajectoryError: ") and "step_003.png is not a readable image" in line


def test_end_of_input_at_a_replay_confirmation_stops_like_ctrl_c(capsys, monkeypatch, tmp_path: Path) -> None:
    folder = record_login(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # the user hangs up at the first question
    rc, out, err = vlagent(capsys, monkeypatch, "replay", str(folder), "--execute", "--confirm", "all", "--interactive")
    assert rc == 130 and err.splitlines()[-1] == f"interrupted while replaying {folder}", err
    assert "step 0: click at (" in out and "execute it?" in out
