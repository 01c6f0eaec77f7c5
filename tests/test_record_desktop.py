"""Recording a person on a real Xvfb with a real Tk window; ``xdotool`` plays the person.

xdotool's input goes through XTEST, which the X server handles as a keyboard's and a mouse's, so the
recorder sees what it would see of a person; the Tk app's own log says the window received the input.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from xvfb_fixtures import requires_tk, requires_xvfb, start_xvfb, tk_app, xvfb_factory  # noqa: F401

from vlagent.actions.models import TypeText
from vlagent.agent.record import desktop_recording, is_demonstration, recorded_actions
from vlagent.agent.safety import DEFAULT_STOP_HOTKEY, StopFlag, parse_combo
from vlagent.agent.trajectory import find_episodes, load_episode

XDOTOOL = shutil.which("xdotool")
VLAGENT = str(Path(sys.executable).with_name("vlagent"))  # the console script of this environment
requires_xdotool = pytest.mark.skipif(XDOTOOL is None, reason="xdotool is not installed (Debian package xdotool)")
pytestmark = [requires_xvfb, requires_xdotool, requires_tk, pytest.mark.xvfb, pytest.mark.timeout(90)]


def xdo(display: str, *args: str) -> None:
    subprocess.run([XDOTOOL, *args], env={**os.environ, "DISPLAY": display}, check=True, timeout=10)


@pytest.fixture(scope="module")
def server(xvfb_factory):  # noqa: F811
    return xvfb_factory(800, 600)


def lamp_color(image, app) -> tuple[int, int, int]:
    return image.getpixel(app.center("lamp"))


def start_recording(server, tmp_path: Path, **kwargs):
    stop = StopFlag()
    recording = desktop_recording(tmp_path / "demos", task="demo", display=server.display, **kwargs)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(meta=recording.run(stop)), daemon=True)
    thread.start()
    return recording, stop, thread, result


def test_xdotool_input_becomes_typed_actions_at_the_right_pixels(server, tk_app, tmp_path: Path) -> None:  # noqa: F811
    app = tk_app(server)
    ok, cancel, entry, pad = (app.center(n) for n in ("ok", "cancel", "entry", "pad"))
    recording, stop, thread, result = start_recording(server, tmp_path, stop_hotkey=parse_combo(DEFAULT_STOP_HOTKEY))
    d = server.display
    pause = 0.6  # a person's pause between actions: longer than the double-click interval and a frame poll
    xdo(d, "mousemove", str(ok[0]), str(ok[1]), "click", "1")
    time.sleep(pause)
    xdo(d, "mousemove", str(cancel[0]), str(cancel[1]), "click", "--repeat", "2", "--delay", "80", "1")
    time.sleep(pause)
    start, end = (pad[0] - 60, pad[1] - 30), (pad[0] + 70, pad[1] + 40)
    xdo(d, "mousemove", str(start[0]), str(start[1]), "mousedown", "1", "mousemove", str(pad[0]), str(pad[1]),
        "mousemove", str(end[0]), str(end[1]), "mouseup", "1")
    time.sleep(pause)
    xdo(d, "click", "--repeat", "3", "--delay", "40", "5")  # three wheel clicks down, where the drag ended
    time.sleep(pause)
    xdo(d, "mousemove", str(entry[0]), str(entry[1]), "click", "1")
    time.sleep(pause)
    xdo(d, "type", "--delay", "20", "Hi, Tk!")
    xdo(d, "key", "Return")
    time.sleep(0.2)
    xdo(d, "key", "ctrl+a")
    time.sleep(0.2)
    xdo(d, "key", "Escape")
    time.sleep(0.2)
    xdo(d, "key", DEFAULT_STOP_HOTKEY)  # ends the recording and is not recorded itself
    thread.join(timeout=20)
    assert not thread.is_alive() and stop.by == "the stop hotkey"

    # The window received it all.
    app.wait_new(lambda evs: any(e["ev"] == "entry" and e["text"] == "Hi, Tk!" for e in evs))
    logged = app.new_events()
    assert any(e["ev"] == "double" and e["w"] == "cancel" for e in logged)
    assert any(e["ev"] == "motion" and e["w"] == "pad" for e in logged)

    (folder,) = find_episodes(tmp_path / "demos")
    meta, steps = load_episode(folder)
    assert is_demonstration(meta) and meta.outcome == "finished" and meta.ended is not None
    assert meta.geometry["width"] == 800 and meta.task == "demo"
    actions = [recorded_actions(s)[0] for s in steps]
    kinds = [a.type for a in actions]
    assert kinds == ["click", "click", "drag", "scroll", "click", "type", "hotkey", "key", "finished"], actions
    click_ok, double, drag, scroll, click_entry, typed, hotkey, escape, _ = actions
    assert (click_ok.point.x, click_ok.point.y, click_ok.count, click_ok.button) == (*ok, 1, "left")
    assert (double.point.x, double.point.y, double.count) == (*cancel, 2)
    assert (drag.start.x, drag.start.y, drag.end.x, drag.end.y) == (*start, *end)
    assert (scroll.direction, scroll.amount, scroll.point.x, scroll.point.y) == ("down", 3, *end)
    assert (click_entry.point.x, click_entry.point.y) == entry
    assert typed == TypeText(text="Hi, Tk!", submit=True)
    assert hotkey.keys == ["ctrl", "a"] and escape.name == "esc"
    assert all(s.info["source"] == "human" for s in steps) and steps[-1].info["stopped_by"] == "the stop hotkey"

    # The screenshot of each step is from just before it: the lamp was grey before OK, gold after.
    from PIL import Image

    shots = [Image.open(folder / s.screenshot).convert("RGB") for s in steps]
    grey, gold = (128, 128, 128), (255, 215, 0)
    assert lamp_color(shots[0], app) == grey and lamp_color(shots[1], app) == gold
    assert all((folder / s.annotated).exists() for s in steps if s.annotated)
    assert shots[0].size == (800, 600) and (folder / "final.png").exists()


def test_text_typed_by_remapping_spare_key_codes_is_read_with_the_new_map(server, tmp_path: Path) -> None:
    # xdotool gives each character the keyboard lacks (ü, ß, CJK) a spare key code just before pressing it.
    recording, stop, thread, _ = start_recording(server, tmp_path)
    xdo(server.display, "type", "--delay", "30", "Grüße, 日本語!")
    time.sleep(0.3)
    stop.request("the test")
    thread.join(timeout=20)
    (folder,) = find_episodes(tmp_path / "demos")
    _, steps = load_episode(folder)
    assert [recorded_actions(s)[0] for s in steps[:-1]] == [TypeText(text="Grüße, 日本語!")]


def test_on_a_second_monitor_points_are_that_monitors_pixels(tmp_path: Path, xvfb_factory) -> None:  # noqa: F811
    from xvfb_fixtures import add_randr_monitors

    wide = start_xvfb(1280, 400, tmp_path)  # its own server: the monitors split its screen
    try:
        add_randr_monitors(wide, [("LEFT", 0, 0, 640, 400), ("RIGHT", 640, 0, 640, 400)])
        recording, stop, thread, _ = start_recording(wide, tmp_path, monitor=2)
        xdo(wide.display, "mousemove", "100", "100", "click", "1")  # on the left monitor: not recorded
        time.sleep(0.5)
        xdo(wide.display, "mousemove", "1000", "300", "click", "3")
        time.sleep(0.5)
        stop.request("the test")
        thread.join(timeout=20)
        assert recording.source.outside == 1
    finally:
        wide.stop()
    (folder,) = find_episodes(tmp_path / "demos")
    meta, steps = load_episode(folder)
    (click, _) = (recorded_actions(s)[0] for s in steps)
    assert meta.env == "desktop:2" and (meta.geometry["width"], meta.geometry["height"]) == (640, 400)
    assert (click.point.x, click.point.y, click.button) == (360, 300, "right")


AGENT = """
import sys
from vlagent.actions.coords import Point
from vlagent.actions.models import Click, TypeText
from vlagent.envs.desktop import DesktopEnv

x, y = int(sys.argv[1]), int(sys.argv[2])
env = DesktopEnv()
env.reset(options={"task": "t"})
env.step(Click(point=Point(x=x, y=y, space="screen")))
env.step(TypeText(text="Agent, typing"))
env.close()
"""


def test_the_agents_own_input_is_not_recorded(server, tk_app, tmp_path: Path) -> None:  # noqa: F811
    app = tk_app(server)
    recording, stop, thread, _ = start_recording(server, tmp_path)
    entry, cancel = app.center("entry"), app.center("cancel")
    # The agent, in a process of its own, through XTEST: the desktop env marks its X connection.
    subprocess.run([sys.executable, "-c", AGENT, str(entry[0]), str(entry[1])], check=True, timeout=60,
                   env={**os.environ, "DISPLAY": server.display})
    xdo(server.display, "mousemove", str(cancel[0]), str(cancel[1]), "click", "1")  # the person
    app.wait_new(lambda evs: sum(e["ev"] == "release" for e in evs) == 2)  # both clicks reached the window
    app.wait_new(lambda evs: any(e["ev"] == "entry" and e["text"] == "Agent, typing" for e in evs))
    time.sleep(0.6)
    stop.request("the test")
    thread.join(timeout=20)
    (folder,) = find_episodes(tmp_path / "demos")
    _, steps = load_episode(folder)
    actions = [recorded_actions(s)[0] for s in steps]
    assert [a.type for a in actions] == ["click", "finished"], actions
    assert (actions[0].point.x, actions[0].point.y) == cancel
    # The agent's press and release, and at least a press and release per character it typed.
    assert recording.source.excluded_events >= 2 + 2 * len("Agent, typing")


def test_ctrl_c_closes_the_recording_and_report_renders_it(server, tk_app, tmp_path: Path) -> None:  # noqa: F811
    app = tk_app(server)
    out = tmp_path / "demos"
    env = {**os.environ, "DISPLAY": server.display}
    proc = subprocess.Popen([VLAGENT, "record", "--env", "desktop", "--task",
                             "press OK", "--out", str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not list(out.glob("*/steps.jsonl")):  # the folder exists once the recorder listens
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        ok = app.center("ok")
        xdo(server.display, "mousemove", str(ok[0]), str(ok[1]), "click", "1")
        app.wait_new(lambda evs: any(e["ev"] == "release" for e in evs))
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    folder = Path(stdout.decode().strip().splitlines()[-1])
    meta, steps = load_episode(folder)
    assert meta.outcome == "finished" and meta.ended is not None
    assert [recorded_actions(s)[0].type for s in steps] == ["click", "finished"]
    assert steps[-1].info["stopped_by"] == "Ctrl+C"
    assert f"step 0: click at ({ok[0]}, {ok[1]})" in stderr.decode()  # shown to the person as it was recorded

    report = subprocess.run([VLAGENT, "report", str(folder)], env=env,
                            capture_output=True, text=True, timeout=60)
    assert report.returncode == 0, report.stderr
    html = Path(report.stdout.strip().splitlines()[-1]).read_text(encoding="utf-8")
    assert "press OK" in html and "human" in html and steps[0].annotated in html and "click at" in html


def test_a_display_without_record_is_one_error_line_and_no_folder(capsys, monkeypatch, tmp_path: Path,
                                                                  xvfb_factory) -> None:  # noqa: F811
    from vlagent.agent import cli

    bare = start_xvfb(320, 240, tmp_path, extra_args=["-extension", "RECORD"])
    try:
        monkeypatch.setenv("DISPLAY", bare.display)
        monkeypatch.setattr(sys, "argv", ["vlagent", "record", "--env", "desktop", "--out", str(tmp_path / "demos")])
        with pytest.raises(SystemExit) as info:
            cli.main()
        err = capsys.readouterr().err
        assert info.value.code == 4 and err.strip().splitlines()[-1].startswith("error: RecorderError:"), err
        assert "RECORD" in err and not any((tmp_path / "demos").iterdir())
    finally:
        bare.stop()
