"""The synthetic apps as a scripted policy and a user meet them: gymnasium's checker, the oracle solving
every app at every size, wrong moves failing, typed errors, determinism and ground-truth boxes that sit on
the drawn widgets. Everything here is real (Pillow drawing, gymnasium); nothing is faked."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from env_timing_checks import check_timings, timed
from gymnasium.utils.env_checker import check_env

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
    Navigate,
    OpenApp,
    Scroll,
    TypeText,
)
from vlagent.envs.errors import AppNotFound, ResetNeeded
from vlagent.envs.registry import gym_id_for_app
from vlagent.envs.synthetic import APPS, SyntheticApp, UnknownTaskError

pytestmark = pytest.mark.timeout(60)

SIZES = ("desktop", "4k", "phone")
EXPECTED_SIZES = {"desktop": (1920, 1080), "4k": (3840, 2160), "phone": (1080, 2400)}
MAX_STEPS = 30


def pt(x: float, y: float) -> Point:
    return Point(x=x, y=y, space="screen")


def run_oracle(env: SyntheticApp, info: dict) -> tuple[dict, float, int]:
    """Follow info["oracle"] until the episode ends; returns the last info, total reward and steps."""
    total, steps = 0.0, 0
    terminated = False
    while not terminated:
        if steps >= MAX_STEPS:
            raise AssertionError(f"oracle did not finish in {MAX_STEPS} steps: {info['task']!r}")
        action = info["oracle"]
        assert action is not None, "a running episode must have an oracle action"
        assert action.type in env.supported_actions_now()
        _, reward, terminated, truncated, info = env.step(action)
        assert truncated is False
        total += reward
        steps += 1
    return info, total, steps


def first_clicked_widget(env: SyntheticApp, seed: int) -> str:
    """The name of the first widget the oracle clicks in episode ``seed`` (after any scrolling)."""
    _, info = env.reset(seed=seed)
    for _ in range(MAX_STEPS):
        if isinstance(info["oracle"], Click):
            return next(w.name for w in info["widgets"] if w.box == info["oracle"].box)
        _, _, terminated, _, info = env.step(info["oracle"])
        assert not terminated
    raise AssertionError("the oracle never clicks")


# ---- gymnasium's own checker ---------------------------------------------------------------------------
@pytest.mark.parametrize("app", sorted(APPS))
def test_check_env_passes_without_warnings(app: str) -> None:
    # Made through gymnasium so the checker also re-makes it for every declared render mode.
    env = gym.make(gym_id_for_app(app)).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)
    assert [str(w.message) for w in caught] == []  # gymnasium reports soft failures as warnings


@pytest.mark.parametrize("app", sorted(APPS))
def test_check_env_passes_on_a_phone(app: str) -> None:
    # Built directly, the env has no gymnasium spec for the checker to re-make per render mode (that part
    # would only warn); the test above covers render modes through the registered id.
    check_env(APPS[app](size="phone"), skip_render_check=True)


# ---- timings: drawing the returned frame is the capture ------------------------------------------------------
@pytest.mark.parametrize("app", sorted(APPS))
def test_reset_and_step_report_capture_and_act_times(app: str) -> None:
    env = APPS[app](size="desktop")
    (_, info), wall = timed(lambda: env.reset(seed=0))
    check_timings(info, wall)  # act: the episode's setup
    (*_, info), wall = timed(lambda: env.step(info["oracle"]))
    check_timings(info, wall)


# ---- the oracle solves every app at every size -----------------------------------------------------------
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("app", sorted(APPS))
def test_following_the_oracle_succeeds(app: str, size: str) -> None:
    env = APPS[app](size=size)
    for seed in range(4):
        obs, info = env.reset(seed=seed)
        assert obs.size == EXPECTED_SIZES[size]
        assert info["success"] is False and info["task"] == obs.task != ""
        info, total, steps = run_oracle(env, info)
        assert info["success"] is True, (seed, info["task"], info["outcome"])
        assert info["outcome"] == "success" and info["oracle"] is None
        assert total == 1.0
        with pytest.raises(ResetNeeded):
            env.step(Finished())


@pytest.mark.parametrize("size", [(1024, 768), (640, 480), (720, 1280), (1440, 3120)])
def test_odd_screen_sizes_still_lay_out_and_solve(size: tuple[int, int]) -> None:
    for cls in APPS.values():
        env = cls(size=size)
        for seed in range(2):
            obs, info = env.reset(seed=seed)
            assert obs.size == size
            assert run_oracle(env, info)[0]["success"], (cls.name, seed)


def test_oracle_clicks_carry_the_box_they_aim_at() -> None:
    env = APPS["login"](size="desktop")
    _, info = env.reset(seed=0)
    click = info["oracle"]
    assert isinstance(click, Click) and click.box is not None
    target = next(w for w in info["widgets"] if w.box == click.box)
    assert target.contains(click.point.x, click.point.y)


def test_settings_oracle_scrolls_to_rows_below_the_fold() -> None:
    env = APPS["settings"](size="phone")
    env.reset(seed=0)
    last = env.order[-1]
    from vlagent.envs.synthetic.settings import LABELS

    _, info = env.reset(seed=0, options={"task": f"Turn on {LABELS[last]}"})
    assert env.widget(f"toggle:{last}") is None  # not on screen yet
    assert isinstance(info["oracle"], Scroll) and info["oracle"].direction == "down"
    info, total, _ = run_oracle(env, info)
    assert info["success"] and total == 1.0


# ---- tasks given in words ------------------------------------------------------------------------------
GIVEN_TASKS = {
    "login": "Log in with username zed and password hunter2",
    "settings": "Disable Location and turn on Dark mode",
    "dialog": "Replace the existing notes.txt and tick \"Don't ask again\"",
    "home": "Open the Weather app",
    "picker": "Choose Uruguay as your country",
}


@pytest.mark.parametrize("app", sorted(APPS))
def test_a_task_given_in_words_is_the_goal(app: str) -> None:
    env = APPS[app](size="desktop")
    obs, info = env.reset(seed=11, options={"task": GIVEN_TASKS[app]})
    assert obs.task == info["task"] == GIVEN_TASKS[app]
    info, _, _ = run_oracle(env, info)
    assert info["success"]


def test_given_tasks_reach_the_state() -> None:
    login = APPS["login"]()
    _, info = login.reset(seed=0, options={"task": GIVEN_TASKS["login"]})
    run_oracle(login, info)
    assert (login.fields["username"].text, login.fields["password"].text) == ("zed", "hunter2")
    settings = APPS["settings"]()
    _, info = settings.reset(seed=0, options={"task": GIVEN_TASKS["settings"]})
    run_oracle(settings, info)
    assert settings.state["location"] is False and settings.state["dark_mode"] is True
    dialog = APPS["dialog"]()
    _, info = dialog.reset(seed=0, options={"task": GIVEN_TASKS["dialog"]})
    run_oracle(dialog, info)
    assert dialog.closed_with == "confirm" and dialog.checked and dialog.file == "notes.txt"


@pytest.mark.parametrize("app", sorted(APPS))
def test_an_unknown_task_is_refused_with_examples(app: str) -> None:
    env = APPS[app]()
    with pytest.raises(UnknownTaskError, match="tasks look like"):
        env.reset(options={"task": "bake a cake"})


# ---- wrong moves ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", ("desktop", "phone"))
@pytest.mark.parametrize("app", sorted(APPS))
def test_clicking_any_other_widget_first_does_not_succeed(app: str, size: str) -> None:
    env = APPS[app](size=size)
    tried = 0
    for seed in range(2):
        right = first_clicked_widget(env, seed)
        _, info = env.reset(seed=seed)
        others = [w for w in info["widgets"] if w.name != right]
        tried += len(others)  # (the home screen may start inside an app whose one widget is Back)
        for widget in others:
            env.reset(seed=seed)
            _, reward, _, _, after = env.step(widget.click())
            assert after["success"] is False and reward == 0.0, (seed, widget.name, info["task"])
    assert tried > 0


def test_a_click_on_nothing_changes_nothing() -> None:
    env = APPS["settings"](size="desktop")
    obs, info = env.reset(seed=2)
    obs2, reward, terminated, _, info2 = env.step(Click(point=pt(5, 1075)))
    assert obs2 == obs and reward == 0.0 and not terminated
    assert info2["oracle"] == info["oracle"]


def test_finished_before_done_ends_without_success() -> None:
    env = APPS["picker"]()
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(Finished())
    assert terminated and reward == 0.0 and info["success"] is False and info["outcome"] == "finished"


def test_wrong_dialog_button_is_a_terminal_failure() -> None:
    env = APPS["dialog"]()
    _, info = env.reset(seed=0)
    wrong = "cancel" if env.goal.choice == "confirm" else "confirm"
    _, reward, terminated, _, info = env.step(env.widget(f"button:{wrong}").click())
    assert terminated and reward == 0.0 and not info["success"]
    assert info["outcome"].startswith("failed: pressed")


def test_wrong_login_shows_an_error_and_can_be_fixed() -> None:
    env = APPS["login"]()
    _, info = env.reset(seed=0)
    env.step(env.widget("field:username").click())
    env.step(TypeText(text=env.goal.user))
    env.step(env.widget("field:password").click())
    obs_before, *_ = env.step(TypeText(text="wrong"))
    obs, reward, terminated, _, info = env.step(Key(name="enter"))
    assert not terminated and reward == 0.0 and env.message.startswith("Incorrect")
    assert obs != obs_before  # the error is drawn
    assert info["oracle"].box == env.widget("clear:password").box  # "wrong" is no prefix of the password
    info, total, _ = run_oracle(env, info)
    assert info["success"] and total == 1.0


def test_flipping_a_wrong_switch_must_be_undone() -> None:
    env = APPS["settings"](size="desktop")
    task = {"task": "Turn on Bluetooth"}
    seed = next(s for s in range(20) if env.reset(seed=s, options=task) and env.widget("toggle:bluetooth"))
    _, info = env.reset(seed=seed, options=task)
    right = env.widget("toggle:bluetooth")
    wrong = next(w for w in info["widgets"] if w.name != right.name)
    env.step(wrong.click())
    _, reward, terminated, _, info = env.step(right.click())
    assert not info["success"] and not terminated and reward == 0.0
    assert info["oracle"].box == wrong.box  # the oracle puts the wrong switch back
    _, reward, terminated, _, info = env.step(info["oracle"])
    assert info["success"] and terminated and reward == 1.0


# ---- input details -------------------------------------------------------------------------------------
def test_login_by_keyboard_tab_and_submit() -> None:
    env = APPS["login"]()
    env.reset(seed=1)
    env.step(env.widget("field:username").click())
    env.step(TypeText(text="nobody"))
    env.step(Hotkey(keys=["ctrl", "a"]))
    env.step(TypeText(text=env.goal.user))  # select-all then typing replaces
    env.step(Key(name="tab"))
    env.step(TypeText(text=env.goal.password + "x"))
    env.step(Key(name="backspace"))
    _, reward, terminated, _, info = env.step(Key(name="enter"))
    assert terminated and reward == 1.0 and info["success"]


def test_typing_a_trailing_newline_submits() -> None:
    env = APPS["login"]()
    env.reset(seed=1)
    env.step(env.widget("field:username").click())
    env.step(TypeText(text=env.goal.user))
    env.step(Key(name="tab"))
    _, reward, terminated, _, info = env.step(TypeText(text=env.goal.password, submit=True))
    assert terminated and info["success"] and reward == 1.0


def test_typing_without_focus_goes_nowhere() -> None:
    env = APPS["login"]()
    obs, _ = env.reset(seed=1)
    obs2, *_ = env.step(TypeText(text="hello"))
    assert env.fields["username"].text == "" and obs2 == obs


def test_scroll_and_swipe_move_the_list_only_over_it() -> None:
    env = APPS["settings"](size="phone")
    _, info = env.reset(seed=0)
    first = [w.name for w in info["widgets"]]
    _, _, _, _, info = env.step(Scroll(point=pt(540, 20), direction="down", amount=5))  # over the status bar
    assert [w.name for w in info["widgets"]] == first
    _, _, _, _, info = env.step(Scroll(point=pt(540, 1500), direction="down", amount=5))
    scrolled = [w.name for w in info["widgets"]]
    assert scrolled != first and env.list.offset > 0
    _, _, _, _, info = env.step(Drag(start=pt(540, 800), end=pt(540, 2000)))  # finger down: back to the top
    assert env.list.offset == 0 and [w.name for w in info["widgets"]] == first


def test_picker_search_filters_and_enter_picks_the_only_match() -> None:
    env = APPS["picker"]()
    env.reset(seed=0, options={"task": "Select Portugal from the list and confirm"})
    env.step(env.widget("field:search").click())
    _, _, _, _, info = env.step(TypeText(text="portu"))
    assert [w.label for w in info["widgets"] if w.role == "list_item"] == ["Portugal"]
    env.step(Key(name="enter"))
    assert env.selected == "Portugal"
    _, reward, terminated, _, info = env.step(Key(name="enter"))
    assert terminated and reward == 1.0 and info["success"]


def test_home_screen_navigation_and_open_app() -> None:
    phone = APPS["home"](size="phone")
    phone.reset(seed=0, options={"task": "Open the Maps app"})
    phone.step(Navigate(to="home"))  # the episode may start inside an app
    phone.step(phone.widget("icon:camera").click())
    assert phone.current == "Camera"
    _, _, _, _, info = phone.step(Navigate(to="home"))
    assert phone.current is None and any(w.role == "icon" for w in info["widgets"])
    with pytest.raises(AppNotFound, match="Tetris"):
        phone.step(OpenApp(name="Tetris"))
    _, reward, terminated, _, info = phone.step(OpenApp(name="maps"))
    assert terminated and reward == 1.0 and info["success"]

    desktop = APPS["home"](size="desktop")
    task = {"task": "Open the Maps app"}
    seed = next(s for s in range(20) if desktop.reset(seed=s, options=task) and desktop.current is None)
    desktop.reset(seed=seed, options=task)
    _, _, _, _, info = desktop.step(desktop.widget("icon:camera").click())
    assert info["oracle"].box == desktop.widget("button:back").box  # no system back on a desktop


def test_dialog_keys_and_phone_back() -> None:
    env = APPS["dialog"](size="phone")
    env.reset(seed=0)
    _, _, terminated, _, _ = env.step(Navigate(to="back"))
    assert terminated and env.closed_with == "cancel"
    env = APPS["dialog"]()
    env.reset(seed=0)
    env.step(Key(name="esc"))
    assert env.closed_with == "cancel"
    env.reset(seed=0)
    env.step(Key(name="enter"))
    assert env.closed_with == "confirm"


# ---- typed errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("app", sorted(APPS))
def test_unsupported_actions_and_off_screen_points_raise_typed_errors(app: str) -> None:
    desktop = APPS[app](size="desktop")
    desktop.reset(seed=0)
    for action in (Choose(option="hit"), LongPress(point=pt(10, 10)), Navigate(to="back")):
        with pytest.raises(UnsupportedActionError):
            desktop.step(action)
    for point in (pt(1920, 10), pt(10, 1080), pt(-1, 10)):
        with pytest.raises(CoordinateError):
            desktop.step(Click(point=point))
    with pytest.raises(CoordinateError, match="screen pixels"):
        desktop.step(Click(point=Point(x=500, y=500, space="rel1000")))
    phone = APPS[app](size="phone")
    _, info = phone.reset(seed=0)
    with pytest.raises(UnsupportedActionError):
        phone.step(Hotkey(keys=["ctrl", "a"]))
    with pytest.raises(CoordinateError):
        phone.step(Click(point=pt(1080, 100)))
    if app != "home":
        with pytest.raises(UnsupportedActionError):
            phone.step(OpenApp(name="Maps"))
    _, _, _, _, after = phone.step(info["oracle"])  # after refused actions the episode goes on
    assert after["outcome"] in (None, "success")


def test_step_before_reset_needs_a_reset() -> None:
    with pytest.raises(ResetNeeded):
        APPS["login"]().step(Finished())


# ---- geometry, determinism -----------------------------------------------------------------------------
def test_screen_sizes_scale_and_family() -> None:
    obs4k, _ = APPS["login"](size="4k").reset(seed=0)
    assert obs4k.size == (3840, 2160) and obs4k.scale == 2.0 and obs4k.family == "desktop"
    phone = APPS["login"](size="phone")
    obs, _ = phone.reset(seed=0)
    assert obs.size == (1080, 2400) and obs.scale == 1.0 and obs.family == "mobile"
    assert "navigate" in phone.supported_actions_now() and "hotkey" not in phone.supported_actions_now()
    custom, _ = APPS["picker"](size=(1280, 800)).reset(seed=0)
    assert custom.size == (1280, 800)
    with pytest.raises(ValueError):
        APPS["picker"](size="huge")


def test_4k_is_the_desktop_layout_at_twice_the_pixels() -> None:
    _, small = APPS["login"](size="desktop").reset(seed=3)
    _, big = APPS["login"](size="4k").reset(seed=3)
    for a, b in zip(small["widgets"], big["widgets"], strict=True):
        assert a.name == b.name
        assert abs(b.box.x1 - 2 * a.box.x1) <= 2 and abs(b.box.y2 - 2 * a.box.y2) <= 2


@pytest.mark.parametrize("app", sorted(APPS))
def test_same_seed_same_episode_other_seed_other_episode(app: str) -> None:
    a, b = APPS[app](), APPS[app]()
    obs_a, info_a = a.reset(seed=7)
    obs_b, info_b = b.reset(seed=7)
    assert obs_a == obs_b and info_a["task"] == info_b["task"] and info_a["widgets"] == info_b["widgets"]
    step_a = a.step(info_a["oracle"])
    step_b = b.step(info_b["oracle"])
    assert step_a[0] == step_b[0] and step_a[4]["oracle"] == step_b[4]["oracle"]
    tasks = {a.reset(seed=s)[1]["task"] for s in range(12)}
    assert len(tasks) > 3


def test_reset_without_seed_continues_the_random_stream() -> None:
    env = APPS["home"]()
    env.reset(seed=0)
    tasks = [env.reset()[1]["task"] for _ in range(8)]
    assert len(set(tasks)) > 2


# ---- ground-truth boxes lie on what was drawn ----------------------------------------------------------
FILLED = {"button", "toggle", "icon"}


def _ring_colour(pixels: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The most common colour just outside a box: what the widget is drawn on."""
    h, w, _ = pixels.shape
    x1, y1, x2, y2 = box
    parts = [pixels[y, max(x1, 0):min(x2, w)] for y in (y1 - 3, y2 + 2) if 0 <= y < h]
    parts += [pixels[max(y1, 0):min(y2, h), x] for x in (x1 - 3, x2 + 2) if 0 <= x < w]
    ring = np.concatenate(parts)
    colours, counts = np.unique(ring, axis=0, return_counts=True)
    return colours[counts.argmax()]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("app", sorted(APPS))
def test_boxes_lie_on_drawn_widgets(app: str, size: str) -> None:
    env = APPS[app](size=size)
    for seed in range(2):
        obs, info = env.reset(seed=seed)
        frames = [(obs, info)]
        if info["oracle"] is not None:  # one step in, e.g. a focused field with a clear button
            obs, _, terminated, _, info = env.step(info["oracle"])
            if not terminated:
                frames.append((obs, info))
        for obs, info in frames:
            pixels = np.asarray(obs.screenshot).astype(int)
            assert info["widgets"], "every running frame shows widgets"
            for widget in info["widgets"]:
                x1, y1, x2, y2 = widget.pixel_box
                assert 0 <= x1 < x2 <= obs.size[0] and 0 <= y1 < y2 <= obs.size[1], widget
                crop = pixels[y1:y2, x1:x2].reshape(-1, 3)
                around = _ring_colour(pixels, (x1, y1, x2, y2))
                differs = (np.abs(crop - around).sum(axis=1) > 24).mean()
                need = 0.5 if widget.role in FILLED else 0.01
                assert differs >= need, (app, size, widget.name, round(float(differs), 3))
                assert (crop != crop[0]).any(), f"{widget.name} box is one flat colour"


def test_widget_names_are_unique_per_frame() -> None:
    for app, cls in APPS.items():
        for size in SIZES:
            _, info = cls(size=size).reset(seed=0)
            names = [w.name for w in info["widgets"]]
            assert len(names) == len(set(names)), (app, size)


def _clear_font_caches() -> None:
    from vlagent.envs.synthetic import screen

    for cached in (screen.font_file, screen.font, screen._text_mask, screen._trim):
        cached.cache_clear()


def test_without_dejavu_pillows_own_font_draws_the_apps(monkeypatch: pytest.MonkeyPatch) -> None:
    # A pip install on a machine without fonts-dejavu-core: Pillow's built-in scalable font stands in.
    from vlagent.envs.synthetic import availability, screen

    monkeypatch.setattr(screen, "_FONT_DIRS", ())
    _clear_font_caches()
    try:
        assert screen.font_file(False) is None and "built-in font" in availability()[1]
        for cls in APPS.values():
            env = cls(size="desktop")
            obs, info = env.reset(seed=0)
            rgb = np.asarray(obs.screenshot).astype(np.int32)
            colours = np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2])
            assert len(colours) > 10  # anti-aliased text was drawn
            assert run_oracle(env, info)[0]["success"]
    finally:
        monkeypatch.undo()
        _clear_font_caches()
