"""How a person's input events become typed actions: the coalescing rules that the Xvfb test does not play.

Events are written as the X and getevent readers deliver them (times in seconds, pixels of the screen).
"""

from __future__ import annotations

from vlagent.agent.gestures import DesktopGestures, TouchGestures
from vlagent.envs.record_android import PhoneKey, TouchSample
from vlagent.envs.record_x11 import KeyEvent, PointerEvent

CTRL, SHIFT = frozenset({"ctrl"}), frozenset({"shift"})


def run(gestures, events, end: float = 100.0):
    out = [g for e in events for g in gestures.feed(e)] + gestures.tick(end)
    return out + gestures.flush()


def clicks(t: float, button: int, x: int, y: int, n: int = 1, gap: float = 0.1, mods=frozenset()):
    out = []
    for i in range(n):
        out += [PointerEvent(t + i * gap, True, button, x, y, mods), PointerEvent(t + i * gap + 0.03, False, button, x, y, mods)]
    return out


def keys(t: float, text: str):
    return [KeyEvent(t + i * 0.05, True, ch.lower(), ch, SHIFT if ch.isupper() else frozenset())
            for i, ch in enumerate(text)]


def test_clicks_by_count_and_button_and_a_held_button_is_a_long_press() -> None:
    out = run(DesktopGestures(), [*clicks(0, 1, 10, 10, n=3), *clicks(2, 3, 50, 60),
                                  PointerEvent(4.0, True, 1, 70, 80), PointerEvent(5.5, False, 1, 71, 80),
                                  *clicks(7, 1, 5, 5, mods=CTRL)])
    triple, right, hold, ctrl_click = (g.action for g in out)
    assert (triple.type, triple.count) == ("click", 3)
    assert (right.button, right.count, right.point.x, right.point.y) == ("right", 1, 50, 60)
    assert hold.type == "long_press" and abs(hold.duration - 1.5) < 1e-6
    assert ctrl_click.type == "click" and out[3].modifiers == CTRL  # kept as the step's modifiers


def test_two_clicks_farther_apart_in_time_or_space_stay_two_clicks() -> None:
    out = run(DesktopGestures(multi_click=0.4), [*clicks(0, 1, 10, 10), *clicks(1.0, 1, 10, 10), *clicks(1.2, 1, 200, 10)])
    assert [g.action.count for g in out] == [1, 1, 1]


def test_typing_is_one_type_action_and_backspace_edits_it() -> None:
    events = keys(0, "Helo") + [KeyEvent(0.3, True, "backspace"), *keys(0.4, "lo world"), KeyEvent(1.0, True, "tab"),
                                *keys(1.2, "x")]
    first, tab, second = (g.action for g in run(DesktopGestures(), events))
    assert (first.text, first.submit) == ("Hello world", False) and tab.name == "tab" and second.text == "x"


def test_hotkeys_modifier_taps_and_the_stop_combination() -> None:
    stop = frozenset({"ctrl", "alt", "shift", "s"})
    g = DesktopGestures(ignore=[stop])
    events = [
        KeyEvent(0.0, True, "ctrl"), KeyEvent(0.1, True, "c", "c", CTRL), KeyEvent(0.2, False, "c"),
        KeyEvent(0.3, False, "ctrl", None, CTRL),
        KeyEvent(1.0, True, "shift"), KeyEvent(1.1, True, "tab", None, SHIFT),  # Shift+Tab types nothing
        KeyEvent(2.0, True, "shift"), KeyEvent(2.1, False, "shift", None, SHIFT),  # Shift alone: nothing
        KeyEvent(3.0, True, "win"), KeyEvent(3.1, False, "win"),  # Super alone opens a launcher
        KeyEvent(4.0, True, "s", "S", frozenset({"ctrl", "alt", "shift"})),
        KeyEvent(5.0, True, "x11:XF86AudioMute"),  # no vlagent name: not replayable, left out
    ]
    out = [x.action for x in run(g, events)]
    assert [(a.type, getattr(a, "keys", None) or a.name) for a in out] == [
        ("hotkey", ["ctrl", "c"]), ("hotkey", ["shift", "tab"]), ("key", "win")]
    assert g.stop_pressed and g.skipped == ["x11:XF86AudioMute"]


def test_wheel_clicks_add_up_until_the_direction_changes() -> None:
    wheel = [PointerEvent(t, True, b, 300, 200) for t, b in ((0, 5), (0.1, 5), (0.2, 5), (0.3, 4), (2.0, 7))]
    out = [g.action for g in run(DesktopGestures(), wheel)]
    assert [(a.direction, a.amount) for a in out] == [("down", 3), ("up", 1), ("right", 1)]


def test_a_click_waits_for_a_possible_second_click_but_not_longer() -> None:
    g = DesktopGestures(multi_click=0.4)
    assert [x for e in clicks(0, 1, 10, 10) for x in g.feed(e)] == [] and g.pending_start == 0
    assert g.tick(0.2) == [] and [x.action.type for x in g.tick(0.5)] == ["click"] and g.pending_start is None


def test_touches_become_taps_long_presses_swipes_and_keys() -> None:
    samples = [TouchSample(0.0, "down", 100, 200), TouchSample(0.05, "move", 104, 203), TouchSample(0.1, "up", 104, 203),
               TouchSample(1.0, "down", 300, 300), TouchSample(1.8, "up", 301, 300),
               TouchSample(2.0, "down", 500, 1800), TouchSample(2.1, "move", 500, 1000), TouchSample(2.3, "up", 500, 600),
               PhoneKey(3.0, "KEY_BACK", True), PhoneKey(3.1, "KEY_BACK", False), PhoneKey(4.0, "KEY_VOLUMEUP", True)]
    tap, hold, swipe, back, volume = (g.action for g in run(TouchGestures(), samples))
    assert (tap.type, tap.point.x, tap.point.y) == ("click", 100, 200)
    assert hold.type == "long_press" and abs(hold.duration - 0.8) < 1e-6
    assert (swipe.type, swipe.start.y, swipe.end.y) == ("drag", 1800, 600)
    assert back.to == "back" and volume.name == "volumeup"
