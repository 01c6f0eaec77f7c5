"""The stop hotkey, on a real Xvfb with a real Tk window: pressed with xdotool while an episode runs.

``xdotool key`` sends its keys through XTEST, as the agent's own input does and as a keyboard's reach the
server, so the RECORD listener sees exactly what it sees in use.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from xvfb_fixtures import requires_tk, requires_xvfb, start_xvfb, tk_app, xvfb_factory  # noqa: F401

from vlagent.actions.coords import Point
from vlagent.actions.models import Click, Hotkey, Wait
from vlagent.agent import cli
from vlagent.agent.commands.safety_options import ConfirmChoice, build_safety
from vlagent.agent.errors import ActionRefused
from vlagent.agent.safety import DEFAULT_STOP_HOTKEY, parse_combo
from vlagent.agent.trajectory import (
    ActionRecord,
    EpisodeMeta,
    EpisodeRecorder,
    StepRecord,
    find_episodes,
    load_episode,
)
from vlagent.envs.stop_hotkey import StopHotkey, StopHotkeyError

XDOTOOL = shutil.which("xdotool")
requires_xdotool = pytest.mark.skipif(XDOTOOL is None, reason="xdotool is not installed (Debian package xdotool)")
pytestmark = [requires_xvfb, requires_xdotool, pytest.mark.xvfb, pytest.mark.timeout(60)]


def press(display: str, combo: str) -> None:
    subprocess.run([XDOTOOL, "key", combo], env={**os.environ, "DISPLAY": display}, check=True, timeout=10)


def wait_until(done, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def vlagent(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["vlagent", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


@pytest.fixture(scope="module")
def server(xvfb_factory):  # noqa: F811
    return xvfb_factory(1024, 768)


def test_only_the_whole_combination_fires(server) -> None:
    fired: list[float] = []
    with StopHotkey(server.display, parse_combo(DEFAULT_STOP_HOTKEY), on_press=lambda: fired.append(1)) as hotkey:
        for partial in ("ctrl+alt+s", "shift+s", "s", "ctrl+alt+shift+x"):
            press(server.display, partial)
        press(server.display, "ctrl+alt+shift+s")
        assert wait_until(lambda: fired), "the stop hotkey was pressed but not seen"
        time.sleep(0.1)
        assert hotkey.presses == 1  # the partial chords before it did not fire
    press(server.display, "ctrl+alt+shift+s")  # closed: nothing listens any more
    time.sleep(0.1)
    assert len(fired) == 1


def test_a_stop_hotkey_that_names_no_key_is_a_usage_error(capsys, monkeypatch, tmp_path: Path) -> None:
    rc, _, err = vlagent(capsys, monkeypatch, "run", "--stop-hotkey", "ctrl+nokey", "--out", str(tmp_path))
    assert rc == 2 and "cannot use 'ctrl+nokey' as the stop hotkey" in err and not any(tmp_path.iterdir())


def test_the_agent_cannot_press_the_stop_hotkey() -> None:
    policy = build_safety(dry_run=False, confirm=ConfirmChoice.never, sensitive=None, deny_hotkey=None,
                          stop_hotkey="Ctrl+Alt+Shift+S", interactive=False)
    for keys in (["ctrl", "alt", "shift", "s"], ["shift", "s", "alt", "ctrl", "x"]):
        with pytest.raises(ActionRefused, match="deny-list"):
            policy.check(Hotkey(keys=keys))
    policy.check(Hotkey(keys=["ctrl", "s"]))  # an ordinary save is still allowed


@requires_tk
def test_the_hotkey_stops_a_desktop_run_after_the_running_action(capsys, monkeypatch, tmp_path: Path,
                                                                server, tk_app) -> None:  # noqa: F811
    app = tk_app(server)
    pressed_at: list[float] = []

    def user() -> None:  # the user, watching the screen: once OK was clicked, during the wait, hits the hotkey
        app.wait_new(lambda evs: any(e["ev"] == "release" and e["w"] == "ok" for e in evs), timeout=30)
        time.sleep(0.5)
        press(server.display, DEFAULT_STOP_HOTKEY)
        pressed_at.append(time.monotonic())

    watcher = threading.Thread(target=user, daemon=True)
    watcher.start()
    rc, out, err = vlagent(capsys, monkeypatch, "run", "--env", "desktop", "--task", "Press OK then Cancel",
                           "--backend", "python", "--model", "safety_fixtures:ClickWaitClick", "--profile", "ui-tars",
                           "--out", str(tmp_path / "runs"), "--no-report")
    watcher.join(timeout=10)
    assert rc == 0, err
    assert pressed_at, "the user never saw OK clicked"
    assert "stop hotkey armed" in err and "stopped by the stop hotkey" in out, out
    (folder,) = find_episodes(tmp_path / "runs")
    meta, steps = load_episode(folder)
    assert meta.outcome == "interrupted" and meta.ended is not None and (folder / "final.png").exists()
    assert len(steps) == 1  # no further model call
    click_ok, wait, click_cancel = steps[0].actions
    assert click_ok.executed and wait.executed  # the action running when the hotkey came finished
    assert not click_cancel.executed and click_cancel.skipped.startswith("stopped by the stop hotkey")
    assert not any(e["ev"] == "press" and e["w"] == "cancel" for e in app.new_events())


def test_a_display_without_record_refuses_to_arm(capsys, monkeypatch, tmp_path: Path) -> None:
    bare = start_xvfb(640, 480, tmp_path, extra_args=["-extension", "RECORD"])
    try:
        with pytest.raises(StopHotkeyError, match="RECORD"):
            StopHotkey(bare.display, parse_combo(DEFAULT_STOP_HOTKEY), on_press=lambda: None).start()
        monkeypatch.setenv("DISPLAY", bare.display)
        rc, _, err = vlagent(capsys, monkeypatch, "run", "--env", "desktop", "--task", "t",
                             "--out", str(tmp_path / "runs"), "--no-report")
        assert rc == 4 and err.strip().splitlines()[-1].startswith("error: StopHotkeyError:"), err
        assert "--stop-hotkey off" in err
    finally:
        bare.stop()


@requires_tk
def test_the_hotkey_stops_a_desktop_replay_too(capsys, monkeypatch, tmp_path: Path, server, tk_app) -> None:  # noqa: F811
    app = tk_app(server)
    ok, cancel = (Point(x=x, y=y, space="screen") for x, y in (app.center("ok"), app.center("cancel")))
    actions = [Click(point=ok), Wait(seconds=2.5), Click(point=cancel)]
    meta = EpisodeMeta(episode_id="recorded", task="t", env="desktop",
                       geometry={"width": server.width, "height": server.height})
    rec = EpisodeRecorder(tmp_path / "recorded", meta)
    rec.write_step(StepRecord(index=0, raw="", actions=[ActionRecord(model=a, screen=a, executed=True) for a in actions],
                              screenshot=""))
    rec.close(outcome="finished")

    def user() -> None:
        app.wait_new(lambda evs: any(e["ev"] == "release" and e["w"] == "ok" for e in evs), timeout=30)
        time.sleep(0.5)
        press(server.display, DEFAULT_STOP_HOTKEY)

    watcher = threading.Thread(target=user, daemon=True)
    watcher.start()
    monkeypatch.setenv("DISPLAY", server.display)
    rc, out, err = vlagent(capsys, monkeypatch, "replay", str(rec.path), "--execute")
    watcher.join(timeout=10)
    assert rc == 130 and "stopped by the stop hotkey" in err, out + err
    assert "stopped: stopped by the stop hotkey ctrl+alt+shift+s at step 0, before click at" in out
    assert not any(e["ev"] == "press" and e["w"] == "cancel" for e in app.new_events())
