"""Recording a person on a phone: ``getevent -lt`` streamed from the loopback device through a real adb server.

No real phone was available: the loopback device (tests/adb_device.py) emits getevent's lines for each
gesture the test plays and acts on its synthetic screen, so the recorder's screencaps change as they would.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
from adb_device import Phone
from android_fixtures import poll

from vlagent.agent.record import android_recording, recorded_actions
from vlagent.agent.safety import StopFlag
from vlagent.agent.trajectory import find_episodes, load_episode
from vlagent.envs.errors import RecorderError

pytest_plugins = ["android_fixtures"]
needs_adb = pytest.mark.skipif(shutil.which("adb") is None, reason="Debian's adb is not installed")
pytestmark = [needs_adb, pytest.mark.adb, pytest.mark.timeout(60)]


def wait_for_stream(phone: Phone) -> None:
    poll(lambda: bool(phone.getevent_streams), 10, "the recorder's getevent -lt stream to reach the phone")


def start_recording(tmp_path: Path, attach_phone, adb_server, task: str):
    """A recording of a fresh 540x1200 phone on its own thread, its getevent stream open.

    Returns the phone, its loopback device, the stop flag and the thread.
    """
    phone = Phone(natural_size=(540, 1200), touch_max=(4095, 8191))  # raw axes differ from the pixels
    device = attach_phone(phone)
    recording = android_recording(tmp_path / "demos", task=task, serial=device.serial, adb_port=adb_server.port,
                                  interval=0.1)
    stop = StopFlag()
    thread = threading.Thread(target=recording.run, args=(stop,), daemon=True)
    thread.start()
    wait_for_stream(phone)
    return phone, device, stop, thread


def open_app(phone: Phone, package: str) -> tuple[int, int]:
    """Tap the app's icon, then wait until the recorder has captured the opened app; returns the icon's centre.

    A fixed sleep was not always enough on a loaded machine: the next gesture's "before" screenshot was
    still the home screen.
    """
    icon = phone.icon_center(package)
    phone.person_touch([icon])
    poll(lambda: ("app", package) in phone.served, 10, f"the recorder's screencap of {package}")
    return icon


def test_getevent_lines_become_taps_swipes_long_presses_and_keys(adb_server, attach_phone, tmp_path: Path) -> None:
    phone, device, stop, thread = start_recording(tmp_path, attach_phone, adb_server, "open Settings, scroll, go back")
    time.sleep(0.3)
    settings = open_app(phone, "com.android.settings")
    time.sleep(0.2)
    swipe = [(270, 1000), (270, 800), (270, 600), (270, 400)]
    phone.person_touch(swipe, hold=0.3)  # scrolls the list
    time.sleep(0.3)
    phone.person_touch([(150, 700)], hold=0.8)
    time.sleep(0.2)
    phone.person_key("KEY_BACK")
    time.sleep(0.3)
    stop.request("the test")
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert phone.screen == "home" and phone.launches == ["com.android.settings"]

    (folder,) = find_episodes(tmp_path / "demos")
    meta, steps = load_episode(folder)
    assert meta.family == "mobile" and meta.env == f"android:{device.serial}" and meta.outcome == "finished"
    actions = [recorded_actions(s)[0] for s in steps]
    assert [a.type for a in actions] == ["click", "drag", "long_press", "navigate", "finished"], actions
    tap, drag, hold, back, _ = actions
    assert abs(tap.point.x - settings[0]) <= 1 and abs(tap.point.y - settings[1]) <= 1
    assert [(p.x, p.y) for p in (drag.start, drag.end)] == [swipe[0], swipe[-1]]
    assert 0.25 <= drag.duration <= 0.6
    assert (hold.point.x, hold.point.y) == (150, 700) and 0.7 <= hold.duration <= 1.2
    assert back.to == "back"

    # The screencap before each step: the home screen before the tap, the Settings app before the swipe.
    from PIL import Image

    before_tap, before_swipe = (Image.open(folder / s.screenshot).convert("RGB") for s in steps[:2])
    header = (270, phone.header_height() // 2 + 20)
    assert before_tap.getpixel(header) == (28, 64, 96)  # the home screen's background
    assert before_swipe.getpixel(header) == (90, 100, 120)  # Settings' app bar
    assert before_tap.size == (540, 1200)


def test_a_rotated_phone_is_refused(adb_server, attach_phone, tmp_path: Path) -> None:
    device = attach_phone(Phone(natural_size=(540, 1200), rotation=1))
    with pytest.raises(RecorderError, match="natural orientation"):
        android_recording(tmp_path / "demos", serial=device.serial, adb_port=adb_server.port)


def test_a_phone_unplugged_mid_recording_closes_the_folder(adb_server, attach_phone, tmp_path: Path) -> None:
    phone = Phone(natural_size=(540, 1200))
    device = attach_phone(phone)
    recording = android_recording(tmp_path / "demos", serial=device.serial, adb_port=adb_server.port, interval=0.1)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            recording.run(StopFlag())
        except RecorderError as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    wait_for_stream(phone)
    phone.person_touch([(270, 600)])
    time.sleep(0.3)
    device.kill()
    thread.join(timeout=20)
    assert not thread.is_alive() and errors and "broke" in str(errors[0])
    (folder,) = find_episodes(tmp_path / "demos")
    meta, steps = load_episode(folder)
    assert meta.outcome == "env_error" and meta.ended is not None and meta.error is not None
    assert [recorded_actions(s)[0].type for s in steps] == ["click"]  # what was recorded before is kept


def test_vlagent_record_on_a_phone_until_ctrl_c(adb_server, attach_phone, tmp_path: Path, capsys, monkeypatch) -> None:
    import os
    import signal
    import sys

    from vlagent.agent import cli

    phone = Phone(natural_size=(540, 1200))
    device = attach_phone(phone)
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_server.port))
    monkeypatch.setattr(sys, "argv", ["vlagent", "record", "--env", f"android:{device.serial}", "--task", "open Notes",
                                      "--out", str(tmp_path / "demos")])

    def person() -> None:
        wait_for_stream(phone)
        phone.person_touch([phone.icon_center("org.vlagent.notes")])
        time.sleep(0.4)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl+C in the recorder's terminal

    threading.Thread(target=person, daemon=True).start()
    with pytest.raises(SystemExit) as info:
        cli.main()
    out, err = capsys.readouterr()
    assert info.value.code == 0, err
    meta, steps = load_episode(Path(out.strip().splitlines()[-1]))
    assert meta.task == "open Notes" and meta.outcome == "finished"
    assert [recorded_actions(s)[0].type for s in steps] == ["click", "finished"]
    assert steps[-1].info["stopped_by"] == "Ctrl+C" and phone.launches == ["org.vlagent.notes"]


def test_a_recording_is_training_data_in_the_profiles_own_format(adb_server, attach_phone, tmp_path: Path) -> None:
    """`vlagent train --data DEMOS` learns from a person's recording: each step, as the profile's model writes it."""
    from vlagent.agent.record import render_reply
    from vlagent.agent.training_data import trajectory_samples

    phone, _, stop, thread = start_recording(tmp_path, attach_phone, adb_server, "open Settings")
    time.sleep(0.3)
    open_app(phone, "com.android.settings")
    time.sleep(0.2)
    phone.person_key("KEY_BACK")
    time.sleep(0.3)
    stop.request("the test")
    thread.join(timeout=20)

    (folder,) = find_episodes(tmp_path / "demos")
    meta, steps = load_episode(folder)
    size = (meta.geometry["width"], meta.geometry["height"])
    for profile in ("ui-tars", "qwen2.5-vl"):
        report = trajectory_samples([tmp_path / "demos"], profile)
        replies = [s.reply for s in report.samples]
        assert len(replies) == len(steps) == 3, report
        for reply, step in zip(replies, steps, strict=True):
            assert render_reply(step, profile, size, thought=step.thought) == reply
        assert "open Settings" in str(report.samples[0].chat.messages)
