"""MiniWoB++ in real headless Chromium: clicks and typing placed from the DOM the env reports reach reward.

One browser per module fixture (plus one at device scale 2 for the HiDPI path); each test switches the
task in that browser. Skipped only when Chromium/ChromeDriver or the miniwob package are missing
(``scripts/setup-system.sh`` installs them; CI has them).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from env_timing_checks import check_timings, timed
from gymnasium.utils.env_checker import check_env
from gymnasium.utils.passive_env_checker import env_render_passive_checker

from vlagent.actions.coords import Point
from vlagent.actions.errors import CoordinateError, UnsupportedActionError
from vlagent.actions.models import (
    Click,
    Drag,
    Hotkey,
    Key,
    LongPress,
    Move,
    Navigate,
    OpenApp,
    Scroll,
    TypeText,
)
from vlagent.envs.errors import ResetNeeded
from vlagent.envs.miniwob import MiniWoBEnv, MiniWoBError, availability, make, tasks
from vlagent.envs.miniwob_oracle import ORACLE_TASKS

AVAILABLE, WHY = availability()
pytestmark = [
    pytest.mark.chromium,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not AVAILABLE, reason=f"MiniWoB++ needs Chromium: {WHY}"),
]


@pytest.fixture(scope="module")
def env() -> Iterator[MiniWoBEnv]:
    e = MiniWoBEnv("click-test", timeout=20)
    yield e
    e.close()


@pytest.fixture(scope="module")
def hidpi() -> Iterator[MiniWoBEnv]:
    e = MiniWoBEnv("click-test", scale=2, timeout=20)
    yield e
    e.close()


def on(env: MiniWoBEnv, task: str) -> MiniWoBEnv:
    if env.task_name != task:
        env.switch_task(task)
    return env


def dom(obs) -> list[dict]:
    return obs.extra["dom_elements"]


def centre(element: dict, scale: float) -> Point:
    """The element's centre in screen pixels, computed here from the DOM box (CSS pixels)."""
    return Point(x=int((element["left"] + element["width"] / 2) * scale),
                 y=int((element["top"] + element["height"] / 2) * scale), space="screen")


def value_of(obs, tag: str = "input_text") -> str:
    return next(e["value"] for e in dom(obs) if e["tag"] == tag)


@pytest.mark.parametrize("mw", ["env", "hidpi"])
def test_clicks_land_exactly_where_the_dom_says(mw: str, request: pytest.FixtureRequest) -> None:
    e = on(request.getfixturevalue(mw), "click-test")
    obs, info = e.reset(seed=0)
    s = e.scale
    assert obs.size == (round(160 * s), round(210 * s)) and obs.scale == s and obs.family == "web"
    assert obs.task == obs.text == "Click the button."
    button = next(el for el in dom(obs) if el["tag"] == "button")
    y = int((button["top"] + button["height"] / 2) * s)
    left_px = button["left"] * s
    # two screen pixels left of the button's edge: a miss, the episode goes on
    obs, reward, terminated, _, info = e.step(Click(point=Point(x=int(left_px) - 2, y=y, space="screen")))
    assert (reward, terminated, info["success"]) == (0.0, False, False)
    # one pixel inside the edge: a hit
    obs, reward, terminated, truncated, info = e.step(Click(point=Point(x=int(left_px) + 1, y=y, space="screen")))
    assert terminated and not truncated and reward > 0 and info["success"] is True
    assert info["raw_reward"] == 1 and info["oracle"] is None and "root_dom" not in info
    with pytest.raises(ResetNeeded):
        e.step(Click(point=Point(x=1, y=1, space="screen")))


def test_reset_and_step_time_the_screenshot_apart_from_the_commands(env: MiniWoBEnv) -> None:
    e = on(env, "click-test")
    (_, info), wall = timed(lambda: e.reset(seed=0))
    check_timings(info, wall)  # act: MiniWoB++ resetting the task page
    (*_, info), wall = timed(lambda: e.step(info["oracle"]))
    check_timings(info, wall)
    assert info["success"] is True


@pytest.mark.parametrize("task", ["click-button", "click-link", "click-dialog", "click-dialog-2", "focus-text-2"])
def test_click_tasks_solved_from_the_dom(env: MiniWoBEnv, task: str) -> None:
    e = on(env, task)
    for seed in (0, 1):
        obs, _ = e.reset(seed=seed)
        target = obs.extra["fields"].get("target")
        if task == "click-button":
            el = next(x for x in dom(obs) if x["tag"] == "button" and x["text"] == target)
        elif task == "click-link":
            el = next(x for x in dom(obs) if x["tag"] == "span" and x["text"] == target)
        elif task == "click-dialog":
            el = next(x for x in dom(obs) if "ui-dialog-titlebar-close" in x["classes"])
        elif task == "click-dialog-2":
            el = next(x for x in dom(obs) if x["tag"] == "button" and x["text"] == target) if target != "x" else \
                next(x for x in dom(obs) if "ui-dialog-titlebar-close" in x["classes"])
        else:
            el = [x for x in dom(obs) if x["tag"] == "input_text"][int(target) - 1]
        _, reward, terminated, _, info = e.step(Click(point=centre(el, e.scale)))
        assert terminated and reward > 0 and info["success"], (task, seed, info)


def test_typing_reaches_the_field_exactly(env: MiniWoBEnv) -> None:
    e = on(env, "enter-text")
    obs, _ = e.reset(seed=0)
    field = next(x for x in dom(obs) if x["tag"] == "input_text")
    obs, *_ = e.step(Click(point=centre(field, e.scale)))
    text = "héllo; \"wörld\" $(x) ✓"
    obs, *_ = e.step(TypeText(text=text))
    assert value_of(obs) == text
    obs, *_ = e.step(Key(name="BackSpace"))
    assert value_of(obs) == text[:-1]
    e.step(Hotkey(keys=["ctrl", "a"]))
    obs, reward, terminated, _, _ = e.step(TypeText(text="new"))
    assert value_of(obs) == "new" and not terminated
    obs, *_ = e.step(TypeText(text="\nline"))  # a newline is the Enter key, never a character
    assert value_of(obs) == "newline"


def test_oracle_recovers_from_wrong_typing(env: MiniWoBEnv) -> None:
    e = on(env, "enter-text")
    obs, info = e.reset(seed=1)
    target = obs.extra["fields"]["target"]
    obs, *_, info = e.step(info["oracle"])  # focus the field
    obs, *_, info = e.step(TypeText(text=target[:1] + "#"))
    assert info["oracle"] == Key(name="backspace")
    for _ in range(len(target) + 4):
        obs, reward, terminated, _, info = e.step(info["oracle"])
        if terminated:
            break
    assert terminated and reward > 0 and info["success"]


def test_task_option_words_the_task_and_text_keeps_the_utterance(env: MiniWoBEnv) -> None:
    e = on(env, "click-test")
    obs, _ = e.reset(seed=0, options={"task": "Press the only button."})
    assert obs.task == "Press the only button." and obs.text == "Click the button."


def test_enter_text_with_submit_key(env: MiniWoBEnv) -> None:
    e = on(env, "enter-text")
    obs, _ = e.reset(seed=2)
    target = obs.extra["fields"]["target"]
    field = next(x for x in dom(obs) if x["tag"] == "input_text")
    e.step(Click(point=centre(field, e.scale)))
    e.step(TypeText(text=target))
    submit = next(x for x in dom(obs) if x["tag"] == "button")
    _, reward, terminated, _, info = e.step(Click(point=centre(submit, e.scale)))
    assert terminated and reward > 0 and info["success"]


@pytest.mark.parametrize("task", sorted(ORACLE_TASKS - {"click-test-transfer", "enter-text-dynamic"}))
def test_oracle_solves_its_tasks(env: MiniWoBEnv, task: str) -> None:
    e = on(env, task)
    obs, info = e.reset(seed=4)
    for _ in range(12):
        action = info["oracle"]
        assert action is not None, f"no oracle on {task} at {obs.task!r}"
        obs, reward, terminated, _, info = e.step(action)
        if terminated:
            break
    assert terminated and reward > 0 and info["success"], (task, obs.task, info)


def test_oracle_solves_form_tasks_at_device_scale_2(hidpi: MiniWoBEnv) -> None:
    e = on(hidpi, "login-user")
    obs, info = e.reset(seed=1)
    assert obs.size == (320, 420) and obs.scale == 2.0
    for _ in range(8):
        obs, reward, terminated, _, info = e.step(info["oracle"])
        if terminated:
            break
    assert terminated and reward > 0 and info["success"]


def test_scroll_moves_the_text_and_back(env: MiniWoBEnv) -> None:
    e = on(env, "scroll-text")
    obs, info = e.reset(seed=3)  # a text longer than its box
    assert info["oracle"] is None  # the oracle does not know this task
    area = next(x for x in dom(obs) if x["tag"] == "textarea")
    at = centre(area, e.scale)
    down, *_ = e.step(Scroll(point=at, direction="down", amount=3))
    assert not np.array_equal(np.asarray(down.screenshot), np.asarray(obs.screenshot))
    up, *_ = e.step(Scroll(point=at, direction="up", amount=3))
    np.testing.assert_array_equal(np.asarray(up.screenshot), np.asarray(obs.screenshot))


def test_unsupported_actions_are_refused(env: MiniWoBEnv) -> None:
    e = on(env, "click-test")
    obs, _ = e.reset(seed=0)
    p = Point(x=10, y=10, space="screen")
    for action in (LongPress(point=p), OpenApp(name="x"), Navigate(to="back"), Click(point=p, button="right"),
                   Click(point=p, count=3), Scroll(point=p, direction="left"), Key(name="power"),
                   Hotkey(keys=["ctrl", "a", "b"]), Move(direction="up")):
        with pytest.raises(UnsupportedActionError):
            e.step(action)
    with pytest.raises(CoordinateError):
        e.step(Click(point=Point(x=160, y=10, space="screen")))
    with pytest.raises(CoordinateError):
        e.step(Click(point=Point(x=0.5, y=0.5, space="rel1")))
    _, reward, terminated, _, _ = e.step(Move(point=p))  # hover is fine and changes nothing
    assert not terminated and reward == 0.0


def test_check_env_passes(env: MiniWoBEnv) -> None:
    e = on(env, "click-test")
    # the spec's own render/close checks would start two more browsers; render is checked directly
    check_env(e, skip_render_check=True, skip_close_check=True)
    e.reset(seed=0)
    env_render_passive_checker(e)
    assert e.spec is not None and e.spec.nondeterministic  # rewards are scaled by elapsed seconds


def test_bad_specs_say_why() -> None:
    assert "click-test" in tasks() and "login-user" in tasks()
    with pytest.raises(MiniWoBError, match="unknown MiniWoB"):
        make("no-such-task")
    with pytest.raises(MiniWoBError) as typo:
        make("click-buton")
    message = str(typo.value)
    assert "did you mean click-button" in message and "tasks()" in message  # the fix, and how to list all
    assert "login-user" not in message and "enter-password" not in message  # not the ~130 names on one line
    with pytest.raises(MiniWoBError, match="needs a task"):
        make(None)
    with pytest.raises(MiniWoBError, match="not supported"):
        make("flight.AA")


def test_oracle_clicks_the_visible_part_of_an_overlapped_button(env: MiniWoBEnv) -> None:
    e = on(env, "click-test-2")
    obs, info = e.reset(seed=6)  # button TWO is drawn over the centre of button ONE
    one = next(x for x in dom(obs) if x["text"] == "ONE")
    two = next(x for x in dom(obs) if x["text"] == "TWO")
    cx, cy = one["left"] + one["width"] / 2, one["top"] + one["height"] / 2
    assert two["top"] <= cy <= two["top"] + two["height"] and two["left"] <= cx <= two["left"] + two["width"]
    _, reward, terminated, _, info = e.step(info["oracle"])
    assert terminated and reward > 0 and info["success"]


def test_drag_moves_the_box_by_the_screen_offset(hidpi: MiniWoBEnv) -> None:
    e = on(hidpi, "drag-box")
    obs, _ = e.reset(seed=0)
    small = next(x for x in dom(obs) if x["id"] == "draggableSmall")
    large = next(x for x in dom(obs) if x["id"] == "draggableLarge")
    start, end = centre(small, e.scale), centre(large, e.scale)
    obs, reward, terminated, _, _ = e.step(Drag(start=start, end=end))
    moved = next(x for x in dom(obs) if x["id"] == "draggableSmall")
    assert not terminated
    assert abs((moved["left"] - small["left"]) * e.scale - (end.x - start.x)) <= 2
    assert abs((moved["top"] - small["top"]) * e.scale - (end.y - start.y)) <= 2
    submit = next(x for x in dom(obs) if x["tag"] == "button")
    _, reward, terminated, _, info = e.step(Click(point=centre(submit, e.scale)))
    assert terminated and reward > 0 and info["success"]
