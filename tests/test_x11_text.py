"""The order of X requests the typer sends: key-code changes one at a time, each settled before the next.

A recording stand-in for the python-xlib display: what reaches the server, and when, is the behaviour under
test here (the real-X tests in test_desktop_env.py check what a Tk app receives, but they catch the race
only now and then: 4 of 150 runs).
"""

from __future__ import annotations

import pytest
from Xlib.ext import xtest

from vlagent.envs.x11_text import XTestTyper, keysym_for

LO, HI = 8, 20
KEYMAP = {10: (ord("a"), ord("A")), 11: (ord("b"), ord("B")), 19: (0xFFE1, 0)}  # a, b, Shift_L; the rest free


class RecordingDisplay:
    """Answers keymap queries from a table and logs every request in order (``calls``)."""

    def __init__(self, calls: list[tuple]) -> None:
        self.calls = calls
        self.map = {code: KEYMAP.get(code, (0, 0)) for code in range(LO, HI + 1)}

        class Info:
            min_keycode, max_keycode = LO, HI

        self.display = type("Conn", (), {"info": Info})()

    def get_keyboard_mapping(self, first: int, count: int) -> list[tuple[int, ...]]:
        return [self.map[c] for c in range(first, first + count)]

    def change_keyboard_mapping(self, first: int, syms: list[tuple[int, ...]]) -> None:
        self.calls.append(("remap", first))
        self.map[first] = tuple(syms[0])

    def sync(self) -> None:
        self.calls.append(("sync",))


@pytest.fixture
def typed(monkeypatch):
    calls: list[tuple] = []
    monkeypatch.setattr(xtest, "fake_input", lambda d, kind, code: calls.append(("key", kind, code)))
    display = RecordingDisplay(calls)
    typer = XTestTyper(display, sleep=lambda s: calls.append(("sleep", s)))

    def run(text: str) -> list[tuple]:
        calls.clear()
        typer.type(text, between_chunks=lambda: calls.append(("settled",)))
        return list(calls)

    run.display = display
    return run


def test_every_key_code_change_reaches_the_server_and_pauses_before_the_next_request(typed):
    calls = typed("ab日本語✓")
    remaps = [i for i, c in enumerate(calls) if c[0] == "remap"]
    assert len(remaps) == 4  # four characters the keymap lacks, four spare codes
    for i in remaps:
        # Sent back to back, Xlib clients (Tk) dropped the changes that came while they reloaded the first.
        assert calls[i + 1] == ("sync",) and calls[i + 2][0] == "sleep" and calls[i + 2][1] > 0
    assert remaps[-1] < min(i for i, c in enumerate(calls) if c[0] == "key")


def test_each_missing_character_is_pressed_on_the_code_that_now_means_it(typed):
    calls = typed("a日b日")
    pressed = [c[2] for c in calls if c[0] == "key" and c[1] == 2]  # X.KeyPress
    shown = [typed.display.map[code][0] for code in pressed]
    assert shown == [keysym_for(ch) for ch in "a日b日"]
    assert sum(c[0] == "remap" for c in calls) == 1  # one change for the character typed twice


def test_a_code_mapped_by_an_earlier_action_is_kept_without_a_change(typed):
    typed("✓")
    calls = typed("✓✓")
    assert not any(c[0] == "remap" for c in calls)
