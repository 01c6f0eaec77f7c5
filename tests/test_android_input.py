"""The Android command builders, checked against the real /bin/sh and Android's ``input text`` decoding.

No device needed: :class:`adb_device.DeviceShell` runs a command line with ``/bin/sh`` exactly as a phone's
``sh -c`` would and reports each program's argv; :func:`adb_device.decode_input_text` is Input.java's
``%s`` handling.
"""

from __future__ import annotations

import base64

import pytest
from adb_device import DeviceShell, decode_input_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vlagent.actions.errors import UnsupportedActionError
from vlagent.actions.models import KNOWN_KEYS
from vlagent.envs.android_input import (
    NonAsciiTextError,
    batch_command_lines,
    command_line,
    key_argv,
    keycode,
    scroll_swipe,
    swipe_argv,
    text_argvs,
)


@pytest.fixture(scope="module")
def sh():
    shell = DeviceShell()
    yield shell
    shell.close()


def typed_by(argvs: list[list[str]]) -> str:
    """What the phone ends up with after these argvs: ``input text`` decoded, ENTER/TAB as characters."""
    out = []
    for argv in argvs:
        if argv[:2] == ["input", "text"]:
            out.append(decode_input_text(argv[2]))
        elif argv == ["input", "keyevent", "KEYCODE_ENTER"]:
            out.append("\n")
        elif argv == ["input", "keyevent", "KEYCODE_TAB"]:
            out.append("\t")
        elif argv[:2] == ["am", "broadcast"]:
            out.append(base64.b64decode(argv[-1]).decode("utf-8"))
        else:
            raise AssertionError(f"unexpected argv {argv}")
    return "".join(out)


ASCII_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126) | st.sampled_from("\n\t%s'\"$`\\;&|"),
                     min_size=1, max_size=60)
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0\r"), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=ASCII_TEXT)
def test_ascii_text_survives_the_shell_and_input_text(sh, text):
    argvs = text_argvs(text, chunk=7)  # small chunks: splitting must never break a %s or a character
    seen, output = sh.run("; ".join(command_line(a) for a in argvs))
    assert seen == argvs and output == b""
    assert typed_by(seen) == text


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=ANY_TEXT)
def test_any_text_survives_the_shell_through_the_adb_keyboard(sh, text):
    argvs = text_argvs(text, adb_keyboard=True, chunk=5)
    seen, output = sh.run("; ".join(command_line(a) for a in argvs))
    assert seen == argvs and output == b""
    assert typed_by(seen) == text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=st.lists(ANY_TEXT, min_size=1, max_size=5))
def test_any_argument_reaches_the_program_unchanged(sh, args):
    seen, output = sh.run(command_line(["am", *args]))
    assert seen == [["am", *args]] and output == b""


def test_batching_keeps_each_line_under_the_limit_and_the_order(sh):
    argvs = text_argvs("word " * 300 + "\nend", chunk=50)
    lines = batch_command_lines(argvs, limit=300)
    assert len(lines) > 1 and all(len(line.encode()) <= 300 for line in lines)
    seen = [a for line in lines for a in sh.run(line)[0]]
    assert seen == argvs


def test_input_text_decoding_edge_cases():
    assert text_argvs("a b") == [["input", "text", "a%sb"]]
    assert text_argvs("%s") == [["input", "text", "%"], ["input", "text", "s"]]
    assert typed_by(text_argvs("%%s%s %")) == "%%s%s %"
    assert text_argvs("x\r\ny\rz") == [
        ["input", "text", "x"], ["input", "keyevent", "KEYCODE_ENTER"], ["input", "text", "y"],
        ["input", "keyevent", "KEYCODE_ENTER"], ["input", "text", "z"]]


def test_non_ascii_needs_the_adb_keyboard():
    with pytest.raises(NonAsciiTextError, match="ADBKeyBoard") as err:
        text_argvs("ok then 日本")
    assert err.value.text == "ok then 日本" and isinstance(err.value, UnsupportedActionError)
    with pytest.raises(NonAsciiTextError):
        text_argvs("bell\a")  # control characters cannot be typed by `input text` either
    with pytest.raises(ValueError):
        text_argvs("")


def test_every_canonical_key_maps_or_is_refused():
    mapped = 0
    for name in sorted(KNOWN_KEYS):
        try:
            argv = key_argv(name)
        except UnsupportedActionError:
            continue
        mapped += 1
        assert argv[:2] in (["input", "keyevent"], ["input", "text"])
        if argv[1] == "keyevent":
            assert argv[2].startswith("KEYCODE_") and argv[2].replace("_", "").isalnum()
    assert mapped >= 90
    with pytest.raises(UnsupportedActionError, match="f13"):
        keycode("f13")


@pytest.mark.parametrize(
    "direction, finger",
    [("down", "up"), ("up", "down"), ("right", "left"), ("left", "right")],
)
def test_scroll_moves_the_finger_the_other_way(direction, finger):
    x1, y1, x2, y2 = scroll_swipe(direction, 5, (1080, 2400))
    moved = {"up": y2 < y1, "down": y2 > y1, "left": x2 < x1, "right": x2 > x1}
    assert moved[finger] and sum(moved.values()) == 1


def test_scroll_path_stays_on_screen():
    for direction in ("up", "down", "left", "right"):
        x1, y1, x2, y2 = scroll_swipe(direction, 100, (1080, 2400), at=(1070, 10))
        assert all(0 <= v < 1080 for v in (x1, x2)) and all(0 <= v < 2400 for v in (y1, y2))


def test_swipe_argv_rounds_and_rejects_zero_duration():
    assert swipe_argv(0.4, 1.5, 2, 3, 0.0004) == ["input", "swipe", "0", "2", "2", "3", "1"]
    with pytest.raises(ValueError):
        swipe_argv(0, 0, 1, 1, 0)
