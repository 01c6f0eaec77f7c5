"""The desktop env on real X servers (Xvfb at 1024x768 and 1920x1080) driving a real Tk program.

The Tk app (desktop_tk_app.py) logs which widget each click hit, every key and the entry's text; the tests
act through DesktopEnv.step and check what the app received.
"""

from __future__ import annotations

import time

import pytest
from env_timing_checks import check_timings, timed
from gymnasium.envs.registration import EnvSpec
from gymnasium.utils.env_checker import check_env
from xvfb_fixtures import requires_tk, requires_xvfb, tk_app, xvfb_factory  # noqa: F401

from vlagent.actions.coords import Point
from vlagent.actions.errors import CoordinateError, UnsupportedActionError
from vlagent.actions.models import (
    Choose,
    Click,
    Drag,
    Finished,
    Hotkey,
    Key,
    LongPress,
    Move,
    Navigate,
    OpenApp,
    Scroll,
    TypeText,
    Wait,
)
from vlagent.envs.desktop import DesktopEnv, availability, make
from vlagent.envs.errors import ResetNeeded
from vlagent.envs.settle import SettlePolicy

pytestmark = [requires_xvfb, requires_tk, pytest.mark.xvfb, pytest.mark.timeout(120)]

SIZES = [(1024, 768), (1920, 1080)]
COLORS = {"ok": (0x20, 0xA0, 0x40), "cancel": (0xC0, 0x30, 0x30), "pad": (0x00, 0x80, 0xFF),
          "lamp": (0x80, 0x80, 0x80), "lamp_on": (0xFF, 0xD7, 0x00)}


def px(x: float, y: float) -> Point:
    return Point(x=x, y=y, space="screen")


@pytest.fixture(scope="module", params=SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def server(request, xvfb_factory):  # noqa: F811
    return xvfb_factory(*request.param)


@pytest.fixture
def app(server, tk_app):  # noqa: F811
    return tk_app(server)


@pytest.fixture
def env(server):
    e = DesktopEnv(display=server.display, settle=SettlePolicy(interval=0.02, deadline=2.0))
    yield e
    e.close()


def presses(events, **match):
    return [e for e in events if e["ev"] == "press" and all(e.get(k) == v for k, v in match.items())]


def test_reset_captures_the_screen_at_scale_one(env, app, server):
    obs, info = env.reset(options={"task": "click OK"})
    assert obs.size == (server.width, server.height)
    assert obs.scale == 1.0 and env.scale == 1.0  # measured: Xvfb capture == pyautogui.size()
    assert obs.task == "click OK" and obs.family == "desktop"
    assert info["settled"] is True
    for name in ("ok", "cancel", "pad"):
        assert obs.screenshot.getpixel((app.center(name)[0], app.center(name)[1] + 8)) == COLORS[name], name
    assert [m.size for m in env.monitors][:2] == [(server.width, server.height)] * 2


@pytest.mark.parametrize("target", ["ok", "cancel", "entry", "pad", "lamp"])
def test_click_lands_on_the_intended_widget(env, app, target):
    env.reset()
    x, y = app.center(target)
    env.step(Click(point=px(x, y)))
    events = app.wait_new(lambda evs: any(e["ev"] == "release" for e in evs))
    hits = presses(events)
    assert [(e["w"], e["num"], e["x"], e["y"]) for e in hits] == [(target, 1, x, y)]


def test_step_returns_the_screen_after_the_action(env, app):
    obs, _ = env.reset()
    lamp = app.center("lamp")
    assert obs.screenshot.getpixel(lamp) == COLORS["lamp"]
    obs, reward, terminated, truncated, info = env.step(Click(point=px(*app.center("ok"))))
    assert obs.screenshot.getpixel(lamp) == COLORS["lamp_on"]
    assert (reward, terminated, truncated, info["settled"]) == (0.0, False, False, True)


def test_reset_and_step_time_the_capture_apart_from_the_settle_polling(env, app):
    (_, info), wall = timed(env.reset)
    check_timings(info, wall, settle=True)  # act: re-measuring the monitors and the scale
    (*_, info), wall = timed(lambda: env.step(Click(point=px(*app.center("ok")))))
    timings = check_timings(info, wall, settle=True)
    # Two equal grabs at least, 20 ms apart: the wait before the returned grab is settle, not capture.
    assert info["polls"] >= 2 and timings["settle"] >= 0.02 and info["settled"] is True


def test_double_and_right_click(env, app):
    env.reset()
    env.step(Click(point=px(*app.center("ok")), count=2))
    env.step(Click(point=px(*app.center("cancel")), button="right"))
    events = app.wait_new(lambda evs: any(e["ev"] == "release" and e["w"] == "cancel" for e in evs))
    assert {"ev": "double", "w": "ok", "num": 1} in events
    assert [e["num"] for e in presses(events, w="cancel")] == [3]


def test_drag_presses_moves_and_releases_where_asked(env, app):
    env.reset()
    x, y, w, h = app.widgets["pad"]
    start, end = (x + w // 5, y + h // 5), (x + 4 * w // 5, y + 3 * h // 4)
    env.step(Drag(start=px(*start), end=px(*end), duration=0.2))
    events = app.wait_new(lambda evs: any(e["ev"] == "release" for e in evs))
    down = presses(events, w="pad")
    up = [e for e in events if e["ev"] == "release"]
    assert [(e["x"], e["y"]) for e in down] == [start]
    assert (up[-1]["x"], up[-1]["y"]) == end
    assert len([e for e in events if e["ev"] == "motion"]) >= 2  # a drag, not a jump


def test_long_press_holds_the_button(env, app):
    env.reset()
    x, y = app.center("pad")
    env.step(LongPress(point=px(x, y), duration=0.3))
    events = app.wait_new(lambda evs: any(e["ev"] == "release" for e in evs))
    down, up = presses(events, w="pad")[0], [e for e in events if e["ev"] == "release"][0]
    assert (down["x"], down["y"], up["x"], up["y"]) == (x, y, x, y)
    assert up["t"] - down["t"] >= 0.25


@pytest.mark.parametrize(
    ("direction", "button", "shift"), [("up", 4, False), ("down", 5, False), ("left", 4, True), ("right", 5, True)]
)
def test_scroll_at_a_point(env, app, direction, button, shift):
    env.reset()
    env.step(Scroll(point=px(*app.center("pad")), direction=direction, amount=3))
    events = app.wait_new(lambda evs: len(presses(evs)) >= 3)
    # Tk 8.6 reports the horizontal wheel (X buttons 6/7) as Shift-Button-4/5.
    assert [(e["w"], e["num"], bool(e["state"] & 1)) for e in presses(events)] == [("pad", button, shift)] * 3


def focus_entry(env, app):
    env.reset()
    env.step(Click(point=px(*app.center("entry"))))
    app.wait_new(lambda evs: any(e["ev"] == "release" and e["w"] == "entry" for e in evs))
    app.mark()


def entry_text(events):
    texts = [e["text"] for e in events if e["ev"] == "entry"]
    return texts[-1] if texts else None


ASCII = """He said "hi" & it's 100% {ok}; $(rm -rf /) `x` ~!@#^*_+|<>?,./\\[]=-"""


def test_type_ascii_with_quotes_and_shell_symbols(env, app):
    focus_entry(env, app)
    env.step(TypeText(text=ASCII, submit=True))
    events = app.wait_new(lambda evs: any(e["ev"] == "key" and e["keysym"] == "Return" for e in evs))
    assert entry_text(events) == ASCII


def test_type_non_ascii(env, app):
    text = "héllo Ωmega 日本語 ✓ naïve 🙂"
    focus_entry(env, app)
    env.step(TypeText(text=text))
    events = app.wait_new(lambda evs: entry_text(evs) == text)
    assert entry_text(events) == text


def test_type_more_distinct_characters_than_spare_key_codes(env, app, server):
    # Xvfb's keymap has about 18 free key codes; 40 distinct CJK characters need three chunks, the later
    # ones reusing codes only after the screen settled.
    text = "".join(chr(0x4E00 + 7 * i) for i in range(40)) + "!"
    focus_entry(env, app)
    env.step(TypeText(text=text))
    events = app.wait_new(lambda evs: entry_text(evs) == text, timeout=10)
    assert entry_text(events) == text


def test_close_restores_the_keymap(server, app):
    from Xlib.display import Display

    def free_codes():
        d = Display(server.display)
        try:
            lo, hi = d.display.info.min_keycode, d.display.info.max_keycode
            return [lo + i for i, syms in enumerate(d.get_keyboard_mapping(lo, hi - lo + 1)) if not any(syms)]
        finally:
            d.close()

    env = DesktopEnv(display=server.display, settle=SettlePolicy(interval=0.02, deadline=2.0))
    before = free_codes()
    focus_entry(env, app)
    env.step(TypeText(text="ÆØÅ"))
    assert len(free_codes()) == len(before) - 3  # three characters on spare codes while the env lives
    env.close()
    assert free_codes() == before


def test_keys_and_hotkeys_reach_the_app(env, app):
    focus_entry(env, app)
    env.step(Hotkey(keys=["ctrl", "shift", "s"]))
    env.step(Key(name="Escape"))
    env.step(Key(name="f5"))
    events = app.wait_new(lambda evs: any(e["ev"] == "key" and e["keysym"] == "F5" for e in evs))
    keys = [(e["keysym"], e["state"] & 0b101) for e in events if e["ev"] == "key"]
    assert ("S", 0b101) in keys  # S with Control (4) and Shift (1) held
    assert ("Escape", 0) in keys


@pytest.mark.parametrize(
    "action",
    [Navigate(to="back"), OpenApp(name="firefox"), Choose(option="hit"), Move(direction="up"), Key(name="back")],
    ids=["navigate", "open_app", "choose", "move-direction", "phone-key"],
)
def test_unsupported_actions_are_refused(env, app, action):
    env.reset()
    with pytest.raises(UnsupportedActionError):
        env.step(action)
    time.sleep(0.1)  # give a wrongly performed action time to show up in the log
    assert app.new_events() == []


def test_control_characters_are_refused(env, app):
    env.reset()
    with pytest.raises(UnsupportedActionError, match=r"U\+0007"):
        env.step(TypeText(text="bell\x07"))


@pytest.mark.parametrize("where", ["right-edge", "bottom-edge", "negative", "corner"])
def test_points_off_screen_or_on_the_failsafe_corner_are_refused(env, app, server, where):
    env.reset()
    point = {
        "right-edge": px(server.width, 10),
        "bottom-edge": px(10, server.height),
        "negative": px(-1, 10),
        "corner": px(0, 0),
    }[where]
    with pytest.raises(CoordinateError):
        env.step(Click(point=point))
    time.sleep(0.1)
    assert presses(app.new_events()) == []


def test_model_space_points_must_be_converted_first(env, app):
    env.reset()
    with pytest.raises(CoordinateError, match="rel1000"):
        env.step(Click(point=Point(x=500, y=500, space="rel1000")))


def test_move_wait_and_finished(env, app):
    env.reset()
    x, y = app.center("pad")
    env.step(Move(point=px(x, y)))
    env.step(Click(point=px(x, y)))  # pointer already there: the press reports the same place
    _, _, terminated, _, _ = env.step(Wait(seconds=0.05))
    assert not terminated
    _, _, terminated, _, _ = env.step(Finished(answer="done"))
    assert terminated
    with pytest.raises(ResetNeeded):
        env.step(Wait(seconds=0.05))
    assert [(e["x"], e["y"]) for e in presses(app.new_events())] == [(x, y)]


def test_step_before_reset_is_refused(env):
    with pytest.raises(ResetNeeded):
        env.step(Wait(seconds=0.05))


def test_availability_and_make(server, monkeypatch):
    monkeypatch.setenv("DISPLAY", server.display)
    ok, why = availability()
    assert ok and f"{server.width}x{server.height}" in why
    env = make("1", display=server.display)
    try:
        assert env.monitor == 1 and env.observation_space.size == (server.width, server.height)
    finally:
        env.close()


def test_check_env_passes(server, app):
    # The random actions check_env samples (clicks, drags, scrolls, typing "a", Tab) land on the Tk app in a
    # throwaway Xvfb: harmless. A real desktop is not deterministic, which gymnasium's spec flag says; with
    # it the step-determinism check is skipped, and everything else (spaces, seeding, reset determinism of
    # an idle screen, fresh objects per call, render, close) is checked.
    env = DesktopEnv(display=server.display, settle=SettlePolicy(interval=0.02, deadline=2.0))
    env.spec = EnvSpec(
        "vlagent/Desktop-v0", entry_point="vlagent.envs.desktop:DesktopEnv", nondeterministic=True,
        kwargs={"display": server.display, "settle": SettlePolicy(interval=0.02, deadline=2.0)},
    )
    try:
        check_env(env)
    finally:
        env.close()


def test_failsafe_stays_on(env, app, server):
    # The user's gesture to stop an agent: pointer into a corner. The next action refuses to run.
    from Xlib.display import Display

    from vlagent.envs.desktop import FailSafeTriggered

    env.reset()
    d = Display(server.display)
    try:
        d.screen().root.warp_pointer(0, 0)
        d.sync()
        with pytest.raises(FailSafeTriggered):
            env.step(Click(point=px(*app.center("ok"))))
        d.screen().root.warp_pointer(server.width // 2, server.height // 2)
        d.sync()
    finally:
        d.close()
    assert presses(app.new_events()) == []
