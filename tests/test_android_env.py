"""AndroidEnv end to end: the real adbutils client, a real adb server, a loopback phone (tests/adb_device.py).

The phone is the only fake (no emulator can run here); it records the argv its real ``/bin/sh`` hands
each program, so the escaping checks are on exactly what a phone's shell would run.
"""

from __future__ import annotations

import base64
import shutil
import time

import numpy as np
import pytest
from adb_device import ADB_IME, APP_BY_PACKAGE, LATIN_IME, Phone, free_port
from env_timing_checks import check_timings, timed
from gymnasium.utils.env_checker import check_env

from vlagent.actions.coords import Point
from vlagent.actions.errors import CoordinateError, UnsupportedActionError
from vlagent.actions.models import (
    Click,
    Drag,
    Finished,
    Hotkey,
    Key,
    LongPress,
    Navigate,
    OpenApp,
    Scroll,
    TypeText,
)
from vlagent.envs import android
from vlagent.envs.android import AndroidEnv
from vlagent.envs.android_input import NonAsciiTextError
from vlagent.envs.errors import AppNotFound, DeviceError
from vlagent.envs.settle import SettlePolicy

# The adb server and phone fixtures (adb_server, attach_phone) live in tests/android_fixtures.py.
pytest_plugins = ["android_fixtures"]
needs_adb = pytest.mark.skipif(
    shutil.which("adb") is None, reason="Debian's adb is not installed (scripts/setup-system.sh installs it)"
)
pytestmark = [needs_adb, pytest.mark.adb, pytest.mark.timeout(60)]

FAST_SETTLE = SettlePolicy(interval=0.01, deadline=2.0)


def P(x: float, y: float) -> Point:
    return Point(x=x, y=y, space="screen")


def sent(phone: Phone, start: int = 0) -> list[list[str]]:
    """The program argvs the phone ran since ``start``, without the env's settle screenshots."""
    return [a for a in phone.argvs[start:] if a != ["screencap", "-p"]]


@pytest.fixture
def phone_env(adb_server, attach_phone):
    """A phone at the home screen and an env on it."""
    device = attach_phone(Phone())
    env = AndroidEnv(device.serial, adb_port=adb_server.port, timeout=3, settle=FAST_SETTLE)
    env.reset(options={"task": "test"})
    yield env, device.phone, device
    env.close()


def icon_center(image, package: str) -> tuple[float, float]:
    """Find an app icon in a screenshot by its colour: the test aims from what the env observed."""
    pixels = np.asarray(image)
    mask = np.all(pixels == np.array(APP_BY_PACKAGE[package].color, dtype=np.uint8), axis=-1)
    ys, xs = np.nonzero(mask)
    assert len(xs) > 1000, f"icon of {package} not on screen"
    return (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2


def header_color(image) -> tuple[int, ...]:
    w, h = image.size
    return image.getpixel((w // 2, int(h * 0.06)))


# -- coordinates end to end ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rotation, size", [(0, (1080, 2400)), (1, (2400, 1080))], ids=["portrait", "landscape"])
@pytest.mark.parametrize("package", ["org.vlagent.notes", "com.android.contacts"])
def test_tap_on_an_icon_opens_its_app(phone_env, rotation, size, package):
    env, phone, _ = phone_env
    phone.rotation = rotation
    obs, _ = env.reset()
    assert obs.size == size
    assert obs.extra["orientation"] == ("portrait" if rotation == 0 else "landscape")
    x, y = icon_center(obs.screenshot, package)
    obs, reward, terminated, truncated, info = env.step(Click(point=P(x, y)))
    assert phone.app == package and phone.screen == "app"
    assert phone.taps[-1] == (round(x), round(y))
    assert header_color(obs.screenshot) == APP_BY_PACKAGE[package].color
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert info["settled"] is True


def test_tap_beside_the_icons_changes_nothing(phone_env):
    env, phone, _ = phone_env
    obs, *_ = env.step(Click(point=P(5, 2300)))
    assert phone.screen == "home" and phone.taps == [(5, 2300)]
    assert obs.screenshot.tobytes() == env.reset()[0].screenshot.tobytes()


def test_double_tap_is_two_taps_in_one_command_line(phone_env):
    env, phone, _ = phone_env
    env.step(Click(point=P(100.4, 200.6), count=2))
    assert [c for c in phone.commands if c != "screencap -p"][-1] == "input tap 100 201; input tap 100 201"
    assert sent(phone)[-2:] == [["input", "tap", "100", "201"]] * 2


def test_long_press_drag_and_scroll_are_swipes(phone_env):
    env, phone, _ = phone_env
    env.step(LongPress(point=P(300, 400), duration=1.5))
    env.step(Drag(start=P(100, 2000), end=P(900, 500), duration=0.25))
    swipes = [a for a in phone.argvs if a[:2] == ["input", "swipe"]]
    assert swipes == [
        ["input", "swipe", "300", "400", "300", "400", "1500"],
        ["input", "swipe", "100", "2000", "900", "500", "250"],
    ]


def test_scroll_down_swipes_up_and_shows_later_rows(phone_env):
    env, phone, _ = phone_env
    env.step(OpenApp(name="com.android.settings"))
    before = env._last_obs
    obs, *_ = env.step(Scroll(direction="down", amount=3))
    x1, y1, x2, y2, _ms = phone.swipes[-1]
    assert x1 == x2 == 540 and y1 > y2  # the finger moves up
    assert phone.scroll == y1 - y2 == 720  # 3 tenths of 2400 px
    assert obs != before
    env.step(Scroll(direction="up", amount=3, point=P(540, 1500)))
    assert phone.scroll == 0 and phone.swipes[-1][1] < phone.swipes[-1][3]


# -- keys, navigation, apps ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, keycode",
    [("enter", "KEYCODE_ENTER"), ("Return", "KEYCODE_ENTER"), ("back", "KEYCODE_BACK"), ("home", "KEYCODE_HOME"),
     ("recents", "KEYCODE_APP_SWITCH"), ("tab", "KEYCODE_TAB"), ("backspace", "KEYCODE_DEL"),
     ("esc", "KEYCODE_ESCAPE"), ("up", "KEYCODE_DPAD_UP"), ("a", "KEYCODE_A"), ("7", "KEYCODE_7"),
     ("f5", "KEYCODE_F5"), ("volumeup", "KEYCODE_VOLUME_UP"), ("power", "KEYCODE_POWER")],
)
def test_key_events(phone_env, name, keycode):
    env, phone, _ = phone_env
    env.step(Key(name=name))
    assert sent(phone)[-1] == ["input", "keyevent", keycode]


def test_navigate_back_home_recents(phone_env):
    env, phone, _ = phone_env
    env.step(OpenApp(name="Settings"))
    env.step(OpenApp(name="org.vlagent.notes"))
    assert phone.app == "org.vlagent.notes"
    env.step(Navigate(to="back"))
    assert (phone.screen, phone.app) == ("app", "com.android.settings")
    env.step(Navigate(to="recents"))
    assert phone.screen == "recents"
    obs, *_ = env.step(Navigate(to="home"))
    assert phone.screen == "home"
    assert [a[2] for a in phone.argvs if a[:2] == ["input", "keyevent"]][-3:] == [
        "KEYCODE_BACK", "KEYCODE_APP_SWITCH", "KEYCODE_HOME"]
    assert obs.screenshot.tobytes() == env.reset()[0].screenshot.tobytes()


def test_open_app_by_package_and_by_name(phone_env):
    env, phone, _ = phone_env
    obs, *_ = env.step(OpenApp(name="com.android.chrome"))
    assert sent(phone)[-1] == ["monkey", "-p", "com.android.chrome", "-c", "android.intent.category.LAUNCHER", "1"]
    assert header_color(obs.screenshot) == APP_BY_PACKAGE["com.android.chrome"].color
    env.step(OpenApp(name="camera"))
    assert phone.app == "com.android.camera2"


def test_open_app_errors_are_typed(adb_server, attach_phone):
    device = attach_phone(Phone())
    env = AndroidEnv(device.serial, adb_port=adb_server.port, timeout=3, settle=FAST_SETTLE,
                     apps={"Sketch Pad": "org.example.sketch"})
    env.reset()
    with pytest.raises(AppNotFound, match="not installed|no launchable"):
        env.step(OpenApp(name="Sketch Pad"))  # mapped by the user's table, but absent on the phone
    with pytest.raises(AppNotFound, match="package name"):
        env.step(OpenApp(name="Nonexistent App"))
    assert device.phone.launches == []


def test_actions_a_phone_cannot_do_are_refused(phone_env):
    env, phone, _ = phone_env
    sent = len(phone.commands)
    with pytest.raises(UnsupportedActionError, match="right"):
        env.step(Click(point=P(10, 10), button="right"))
    with pytest.raises(UnsupportedActionError, match="hotkey"):
        env.step(Hotkey(keys=["ctrl", "c"]))
    with pytest.raises(CoordinateError):
        env.step(Click(point=P(1080, 100)))
    with pytest.raises(CoordinateError):
        env.step(Click(point=Point(x=500, y=500, space="rel1000")))
    assert len(phone.commands) == sent


# -- text ---------------------------------------------------------------------------------------------------

NASTY = [
    "hello world",
    "it's \"quoted\"",
    "a; reboot",
    "x && rm -rf /",
    "$(id) and `id` and ${HOME}",
    "back\\slash | pipe > out < in * ? ~ # !",
    "50%s off, 100% sure",
    "-n leading dash",
    "   spaces   ",
    "tab\there",
    "new\nline\r\nand more",
]


@pytest.mark.parametrize("text", NASTY)
def test_text_reaches_the_device_exactly(phone_env, text):
    env, phone, _ = phone_env
    env.step(OpenApp(name="org.vlagent.notes"))
    start = len(phone.argvs)
    env.step(TypeText(text=text))
    typed = sent(phone, start)
    # Only `input` ran, each with the argv meant: nothing in the text reached the shell as syntax.
    assert all(a[0] == "input" and a[1] in ("text", "keyevent") and len(a) == 3 for a in typed), typed
    want = android.text_argvs(text)
    assert typed == want
    assert phone.texts["org.vlagent.notes"] == text.replace("\r\n", "\n").replace("\t", "")  # TAB is a key event
    assert phone.keys.count("KEYCODE_TAB") == text.count("\t")


def test_injection_attempts_do_not_run(phone_env):
    env, phone, _ = phone_env
    env.step(OpenApp(name="org.vlagent.notes"))
    start = len(phone.argvs)
    env.step(TypeText(text="'; input keyevent KEYCODE_HOME; echo '"))
    assert sent(phone, start) == [["input", "text", "';%sinput%skeyevent%sKEYCODE_HOME;%secho%s'"]]
    assert phone.screen == "app"
    assert phone.texts["org.vlagent.notes"] == "'; input keyevent KEYCODE_HOME; echo '"


def test_type_submit_presses_enter(phone_env):
    env, phone, _ = phone_env
    env.step(OpenApp(name="org.vlagent.notes"))
    env.step(TypeText(text="query", submit=True))
    assert sent(phone)[-2:] == [["input", "text", "query"], ["input", "keyevent", "KEYCODE_ENTER"]]


def test_non_ascii_without_adb_keyboard_is_a_typed_error(phone_env):
    env, phone, _ = phone_env
    env.step(OpenApp(name="org.vlagent.notes"))
    start = len(phone.argvs)
    with pytest.raises(NonAsciiTextError, match="ADB Keyboard"):
        env.step(TypeText(text="café ☕"))
    assert ["ime", "list", "-a", "-s"] in phone.argvs[start:]
    assert not [a for a in phone.argvs[start:] if a[0] == "input"]  # nothing half-typed


def test_non_ascii_through_adb_keyboard(adb_server, attach_phone):
    device = attach_phone(Phone(adb_keyboard=True))
    phone = device.phone
    env = AndroidEnv(device.serial, adb_port=adb_server.port, timeout=3, settle=FAST_SETTLE)
    env.reset()
    env.step(OpenApp(name="org.vlagent.notes"))
    text = "Grüße, 東京 ☕ 'q' $(x)\nok"
    env.step(TypeText(text=text))
    assert phone.texts["org.vlagent.notes"] == text
    broadcasts = [a for a in phone.argvs if a[:2] == ["am", "broadcast"]]
    assert broadcasts[0][:6] == ["am", "broadcast", "-a", "ADB_INPUT_B64", "--es", "msg"]
    assert base64.b64decode(broadcasts[0][6]).decode() == "Grüße, 東京 ☕ 'q' $(x)"
    assert ["ime", "set", ADB_IME] in phone.argvs
    assert phone.ime == LATIN_IME  # the user's keyboard is back


# -- settling -------------------------------------------------------------------------------------------------


def test_settle_waits_for_the_app_to_finish_opening(adb_server, attach_phone):
    device = attach_phone(Phone(transition=0.4))
    env = AndroidEnv(device.serial, adb_port=adb_server.port, timeout=3, settle=SettlePolicy(interval=0.05, deadline=3))
    env.reset()
    t0 = time.monotonic()
    obs, _, _, _, info = env.step(OpenApp(name="org.vlagent.notes"))
    assert time.monotonic() - t0 >= 0.4 and info["settled"] and info["polls"] >= 3
    w, h = obs.size
    assert obs.screenshot.getpixel((w // 2, h // 2)) != APP_BY_PACKAGE["org.vlagent.notes"].color  # not the splash

    hasty = AndroidEnv(device.serial, adb_port=adb_server.port, timeout=3, settle=SettlePolicy(deadline=0))
    hasty.reset()
    obs, *_ = hasty.step(OpenApp(name="com.android.chrome"))
    assert obs.screenshot.getpixel((w // 2, h // 2)) == APP_BY_PACKAGE["com.android.chrome"].color  # the splash


def test_reset_and_step_time_act_settle_and_the_returned_screencap_apart(adb_server, attach_phone):
    device = attach_phone(Phone(transition=0.2))
    env = AndroidEnv(device.serial, adb_port=adb_server.port, timeout=3, settle=SettlePolicy(interval=0.05, deadline=3))
    (_, info), wall = timed(env.reset)
    check_timings(info, wall, settle=True)  # act: the HOME key event
    (*_, info), wall = timed(lambda: env.step(OpenApp(name="org.vlagent.notes")))
    timings = check_timings(info, wall, settle=True)
    # The splash lasts 0.2 s: three screencaps at least, 50 ms apart; only the last is the capture.
    assert info["polls"] >= 3 and timings["settle"] >= 0.1


# -- device selection and failures ------------------------------------------------------------------------------


def test_the_only_device_is_chosen_and_several_need_a_serial(adb_server, attach_phone, monkeypatch):
    monkeypatch.delenv("ANDROID_SERIAL", raising=False)
    first = attach_phone(Phone())
    assert AndroidEnv(adb_port=adb_server.port, timeout=3).serial == first.serial
    second = attach_phone(Phone())
    with pytest.raises(DeviceError, match="2 devices") as err:
        AndroidEnv(adb_port=adb_server.port, timeout=3)
    assert first.serial in str(err.value) and second.serial in str(err.value)
    monkeypatch.setenv("ANDROID_SERIAL", second.serial)
    assert android.make(None, adb_port=adb_server.port, timeout=3).serial == second.serial
    assert android.make(first.serial, adb_port=adb_server.port, timeout=3).serial == first.serial


def test_the_spec_and_gymnasium_id_build_the_env(adb_server, attach_phone, monkeypatch):
    import gymnasium as gym

    from vlagent.envs.registry import make_env

    device = attach_phone(Phone())
    env = make_env(f"android:{device.serial}", adb_port=adb_server.port, timeout=3, settle=FAST_SETTLE)
    assert isinstance(env, AndroidEnv) and env.serial == device.serial
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_server.port))  # adb's own variable is honoured
    wrapped = gym.make("vlagent/Android-v0", serial=device.serial, timeout=3)
    assert wrapped.unwrapped.serial == device.serial
    assert wrapped.reset(options={"task": "look"})[0].task == "look"
    assert android.availability()[0]


def test_unknown_serial_and_unreachable_address_are_typed_errors(adb_server, attach_phone):
    attach_phone(Phone())
    t0 = time.monotonic()
    with pytest.raises(DeviceError, match="no device 'R58M123' .* attached: 127.0.0.1:"):
        AndroidEnv("R58M123", adb_port=adb_server.port, timeout=3)
    with pytest.raises(DeviceError, match="adb connect 127.0.0.1:.* failed"):
        AndroidEnv(f"127.0.0.1:{free_port()}", adb_port=adb_server.port, timeout=3)
    assert time.monotonic() - t0 < 5


def test_a_host_port_serial_is_connected_on_demand(adb_server):
    from adb_device import LoopbackDevice

    device = LoopbackDevice(Phone())
    try:
        env = AndroidEnv(device.serial, adb_port=adb_server.port, timeout=3, settle=FAST_SETTLE)
        assert env.reset()[0].size == (1080, 2400)
    finally:
        adb_server.detach(device)
        device.kill()


def test_unauthorized_device_is_a_typed_error(adb_server, attach_phone):
    device = attach_phone(authorized=False)
    t0 = time.monotonic()
    with pytest.raises(DeviceError, match="unauthorized"):
        AndroidEnv(device.serial, adb_port=adb_server.port, timeout=3)
    assert time.monotonic() - t0 < 3


def test_no_adb_server_is_a_typed_error_and_nothing_is_started():
    port = free_port()
    t0 = time.monotonic()
    with pytest.raises(DeviceError, match=f"no adb server answers at 127.0.0.1:{port}"):
        AndroidEnv(adb_port=port, timeout=2)
    ok, why = android.availability(port=port)
    assert not ok and "no adb server" in why
    assert time.monotonic() - t0 < 5
    with pytest.raises(OSError):  # adbutils did not start a server behind our back
        __import__("socket").create_connection(("127.0.0.1", port), timeout=0.5).close()


def test_availability_lists_the_devices(adb_server, attach_phone):
    ok, why = android.availability(port=adb_server.port)
    assert not ok and "no device is ready" in why
    device = attach_phone(Phone())
    ok, why = android.availability(port=adb_server.port)
    assert ok and f"{device.serial} (device)" in why
    assert "adb" in android.NEEDS


def test_device_killed_mid_episode_is_a_typed_error_not_a_hang(adb_server, attach_phone):
    device = attach_phone(Phone())
    env = AndroidEnv(device.serial, adb_port=adb_server.port, timeout=2, settle=FAST_SETTLE)
    env.reset()
    env.step(Click(point=P(10, 300)))
    device.kill()
    t0 = time.monotonic()
    with pytest.raises(DeviceError, match="offline|not found"):
        env.step(Click(point=P(10, 300)))
    assert time.monotonic() - t0 < 3
    t0 = time.monotonic()
    with pytest.raises(DeviceError, match="offline|not attached"):
        AndroidEnv(device.serial, adb_port=adb_server.port, timeout=1)
    assert time.monotonic() - t0 < 2.5


def test_device_that_hangs_is_a_typed_error_within_the_timeout(adb_server, attach_phone):
    device = attach_phone(Phone())
    env = AndroidEnv(device.serial, adb_port=adb_server.port, timeout=1.0, settle=FAST_SETTLE)
    env.reset()
    device.freeze()
    t0 = time.monotonic()
    with pytest.raises(DeviceError, match="did not answer .* within 1s"):
        env.step(Key(name="enter"))
    assert 0.9 < time.monotonic() - t0 < 3


# -- gymnasium ------------------------------------------------------------------------------------------------


def test_check_env_passes(adb_server, attach_phone):
    device = attach_phone(Phone())
    env = AndroidEnv(device.serial, adb_port=adb_server.port, timeout=3, settle=FAST_SETTLE, render_mode="rgb_array")
    check_env(env, skip_render_check=False)
    assert env.render().shape == (2400, 1080, 3)


def test_finished_ends_the_episode(phone_env):
    from vlagent.envs.errors import ResetNeeded

    env, _, _ = phone_env
    _, _, terminated, _, _ = env.step(Finished(answer="done"))
    assert terminated
    with pytest.raises(ResetNeeded):
        env.step(Key(name="enter"))


def test_reset_and_step_times(phone_env, record_property):
    """Not a benchmark gate: records the times (shown with -rP) and catches gross regressions."""
    env, _, _ = phone_env
    t0 = time.perf_counter()
    for _ in range(5):
        env.reset()
    reset_s = (time.perf_counter() - t0) / 5
    t0 = time.perf_counter()
    for _ in range(5):
        env.step(Key(name="tab"))
    step_s = (time.perf_counter() - t0) / 5
    record_property("reset_seconds", reset_s)
    record_property("step_seconds", step_s)
    print(f"android reset {reset_s * 1000:.0f} ms, step {step_s * 1000:.0f} ms (loopback phone, 1080x2400 PNG)")
    assert reset_s < 2 and step_s < 2


def test_a_bad_timeout_from_env_kwargs_is_a_typed_error_not_a_traceback():
    """Regression: ``--env-kwargs '{"timeout": 0}'`` ended in a ValueError traceback instead of exit code 4."""
    import subprocess
    import sys
    from pathlib import Path

    vlagent = Path(sys.executable).parent / "vlagent"
    proc = subprocess.run(
        [str(vlagent), "run", "--env", "android", "--task", "x", "--env-kwargs", '{"timeout": 0}', "--dry-run"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 4, proc.stderr
    assert "error: EnvError: timeout must be > 0, got 0" in proc.stderr
    assert "Traceback" not in proc.stderr
