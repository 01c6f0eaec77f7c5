"""The agent loop on real synthetic apps: error feedback, stop conditions, safety, Ctrl+C, call_user.

Replies are scripted in real profile formats (UI-TARS unless said otherwise) and go through the real
parser, coordinate conversion, env and recorder.
"""

from __future__ import annotations

import os
import signal
import time

import gymnasium as gym
import pytest
from agent_fixtures import CountSteps, ScriptedBackend, chat_text, oracle_reply

from vlagent.actions.coords import Geometry, Point
from vlagent.actions.models import Click, TypeText
from vlagent.agent.errors import ActionRefused
from vlagent.agent.loop import Agent, TrajectoryStore
from vlagent.agent.safety import SafetyPolicy
from vlagent.agent.trajectory import load_episode
from vlagent.envs.registry import make_env
from vlagent.prompts import get_profile

pytestmark = pytest.mark.timeout(60)
SIZE = (800, 600)  # a small desktop: fast to draw, same code paths as 1920x1080


def login_env() -> CountSteps:
    return CountSteps(make_env("synthetic:login", size=SIZE))


def uitars(action: Click | TypeText, thought: str = "") -> str:
    """A UI-TARS reply for a screen-space action on the 800x600 screen."""
    from vlagent.agent.scripted import to_model_space

    g = Geometry.for_image(*SIZE, min_pixels=get_profile("ui-tars").min_pixels, max_pixels=get_profile("ui-tars").max_pixels)
    return get_profile("ui-tars").make_parser().format([to_model_space(action, g, "rel1000")], thought or None)


BLANK = uitars(Click(point=Point(x=20, y=20, space="screen")))  # the page background: nothing happens


def test_unparseable_reply_is_fed_back_and_never_executed() -> None:
    env = login_env()
    backend = ScriptedBackend(["I am not sure what to do here, maybe the button?"])
    result = Agent(backend, "ui-tars", env, max_steps=10).run("", seed=1)

    first = result.steps[0]
    assert first.error is not None and first.error.type == "ActionParseError"
    assert first.actions == [] and first.screen_changed is None
    # The retry's chat carries the error, and the env saw only the oracle's actions afterwards.
    assert "ActionParseError" in chat_text(backend.chats[1])
    assert "ActionParseError" not in chat_text(backend.chats[0])
    assert len(env.steps) == len(result.steps) - 1
    assert result.success and result.meta.parse_errors == 1 and result.meta.errors == 1


def test_point_off_screen_is_fed_back() -> None:
    env = login_env()
    off = "Action: click(start_box='<|box_start|>(1500,400)<|box_end|>')"  # x = 1.5 screen widths
    backend = ScriptedBackend([off])
    result = Agent(backend, "ui-tars", env, max_steps=10).run("", seed=1)
    assert result.steps[0].error.type == "CoordinateError"
    assert "CoordinateError" in chat_text(backend.chats[1])
    assert len(env.steps) == len(result.steps) - 1 and result.success


def test_unsupported_action_is_fed_back() -> None:
    env = login_env()  # a desktop app: no open_app
    backend = ScriptedBackend(["Action: open_app(app_name='Settings')"])
    result = Agent(backend, "ui-tars-1.5", env, max_steps=10).run("", seed=1)
    assert result.steps[0].error.type == "UnsupportedActionError"
    assert "open_app" in result.steps[0].error.message
    assert "UnsupportedActionError" in chat_text(backend.chats[1])
    assert len(env.steps) == len(result.steps) - 1 and result.success


def test_retries_are_bounded() -> None:
    env = login_env()
    backend = ScriptedBackend(after="no idea")
    result = Agent(backend, "ui-tars", env, max_retries=2, max_steps=30).run("", seed=1)
    assert result.outcome == "errors"
    assert len(result.steps) == 3 and env.steps == []


def test_loop_detector_stops_repeated_no_ops() -> None:
    env = login_env()
    result = Agent(ScriptedBackend(after=BLANK), "ui-tars", env, repeat_limit=3).run("", seed=1)
    assert result.outcome == "loop"
    assert len(result.steps) == 3 and len(env.steps) == 3
    assert all(s.screen_changed is False for s in result.steps)


def test_max_steps_stops_the_episode() -> None:
    other = uitars(Click(point=Point(x=30, y=30, space="screen")))
    replies = [BLANK, other] * 10  # alternating no-ops: never the same action twice in a row
    result = Agent(ScriptedBackend(replies), "ui-tars", login_env(), max_steps=4).run("", seed=1)
    assert result.outcome == "max_steps" and len(result.steps) == 4


def test_dry_run_executes_nothing_but_records_everything(tmp_path) -> None:
    env = login_env()
    agent = Agent(ScriptedBackend(), "qwen2-vl", env, dry_run=True, recorder=TrajectoryStore(tmp_path))
    result = agent.run("", seed=1)
    assert env.steps == []
    assert result.outcome == "loop"  # the oracle keeps asking for the same click on an unchanged screen
    meta, steps = load_episode(result.path)
    assert meta.dry_run and meta.success is False
    assert all(a.skipped == "dry-run" and a.screen is not None for s in steps for a in s.actions)
    assert steps[0].actions[0].screen.point.space == "screen"


def test_confirm_sensitive_asks_before_typing_and_a_no_is_fed_back() -> None:
    asked: list[str] = []

    def no_typing(request) -> bool:
        asked.append(request.description)
        return request.action.type != "type"

    env = login_env()
    backend = ScriptedBackend()
    result = Agent(backend, "ui-tars", env, confirm="sensitive", confirm_fn=no_typing, max_retries=1).run("", seed=1)
    assert asked and all(d.startswith("type ") for d in asked)  # clicks were not asked about
    assert [a.type for a in env.steps] == ["click"]  # the click ran; the declined typing did not
    refused = [s for s in result.steps if s.error]
    assert refused[0].error.type == "ActionRefused" and "declined" in refused[0].error.message
    assert "declined" in chat_text(backend.chats[2])
    assert result.outcome == "errors"


def test_confirm_all_asks_before_every_action() -> None:
    asked: list[str] = []
    env = login_env()
    result = Agent(ScriptedBackend(), "ui-tars", env, confirm="all",
                   confirm_fn=lambda r: asked.append(r.description) or True).run("", seed=1)
    assert result.success and len(asked) == len(env.steps) == len(result.steps)


def test_hotkey_deny_list_refuses_default_and_configured_combos() -> None:
    env = login_env()
    backend = ScriptedBackend(["Action: hotkey(key='alt f4')"])
    result = Agent(backend, "ui-tars", env).run("", seed=1)
    assert result.steps[0].error.type == "ActionRefused" and "deny-list" in result.steps[0].error.message
    assert all(a.type != "hotkey" for a in env.steps) and result.success

    env = login_env()
    policy = SafetyPolicy.build(deny_hotkeys=["ctrl+a"])
    result = Agent(ScriptedBackend(["Action: hotkey(key='ctrl a')"]), "ui-tars", env, safety=policy).run("", seed=1)
    assert result.steps[0].error.type == "ActionRefused" and env.steps[0].type == "click"
    with pytest.raises(ActionRefused):
        SafetyPolicy().check(get_profile("ui-tars").make_parser().parse("Action: hotkey(key='ctrl alt delete')").actions[0])


def test_ctrl_c_stops_before_the_next_action_and_closes_the_trajectory(tmp_path) -> None:
    def press_ctrl_c(chat) -> str:
        os.kill(os.getpid(), signal.SIGINT)  # delivered while the "model" is thinking
        return oracle_reply(chat)

    before = signal.getsignal(signal.SIGINT)
    env = login_env()
    agent = Agent(ScriptedBackend([oracle_reply, press_ctrl_c]), "ui-tars", env, recorder=TrajectoryStore(tmp_path))
    result = agent.run("", seed=1)
    assert result.outcome == "interrupted"
    # The reply that arrived after Ctrl+C is recorded but none of its actions runs.
    assert len(result.steps) == 2 and len(env.steps) == 1
    meta, steps = load_episode(result.path)
    assert meta.outcome == "interrupted" and meta.ended is not None and len(steps) == 2
    assert steps[1].actions and all(a.skipped == "stopped by Ctrl+C" for a in steps[1].actions)
    assert signal.getsignal(signal.SIGINT) is before


def test_call_user_ends_non_interactive_runs_and_asks_in_interactive_ones() -> None:
    result = Agent(ScriptedBackend(["Action: call_user()"]), "ui-tars", login_env()).run("", seed=1)
    assert result.outcome == "call_user" and len(result.steps) == 1

    # qwen2-vl lists earlier steps as text; ui-tars replays them as turns: both must show the answer.
    for profile, reply in (("qwen2-vl", "call_user()"), ("ui-tars", "Action: call_user()")):
        questions: list[str] = []
        backend = ScriptedBackend([reply])
        agent = Agent(backend, profile, login_env(), ask=lambda q, qs=questions: qs.append(q) or "use the guest account")
        result = agent.run("", seed=1)
        assert questions and result.success, profile
        assert "use the guest account" in chat_text(backend.chats[1]), profile


def test_several_actions_in_one_reply_run_in_order() -> None:
    env = login_env()
    env.reset(seed=1)
    user_box = env.unwrapped.widget("field:username").box
    click = Click(point=Point(x=(user_box.x1 + user_box.x2) // 2, y=(user_box.y1 + user_box.y2) // 2, space="screen"))
    from vlagent.agent.scripted import to_model_space

    g = Geometry.for_image(*SIZE, min_pixels=get_profile("ui-tars").min_pixels, max_pixels=get_profile("ui-tars").max_pixels)
    both = get_profile("ui-tars").make_parser().format([to_model_space(click, g, "rel1000"), TypeText(text="zed")])
    env.steps.clear()
    result = Agent(ScriptedBackend([both]), "ui-tars", env, max_steps=1).run("", seed=1)
    assert [a.type for a in env.steps] == ["click", "type"]
    assert [a.executed for a in result.steps[0].actions] == [True, True]
    assert env.unwrapped.widget("field:username").value == "zed"


def test_finished_ends_the_episode_with_the_answer() -> None:
    result = Agent(ScriptedBackend(["Action: finished(content='all done')"]), "ui-tars", login_env()).run("", seed=1)
    assert result.outcome == "finished" and result.meta.answer == "all done" and result.success is False


class RecordCaptures(gym.Wrapper):
    """Keeps the capture time the env reports for every frame it returns (reset first), and each step's wall time."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.captures: list[float] = []
        self.step_walls: list[float] = []

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.captures.append(info["timings"]["capture"])
        return obs, info

    def step(self, action):
        t0 = time.perf_counter()
        out = self.env.step(action)
        self.step_walls.append(time.perf_counter() - t0)
        self.captures.append(out[-1]["timings"]["capture"])
        return out


def test_every_step_records_a_timing_breakdown() -> None:
    env = RecordCaptures(login_env())
    result = Agent(ScriptedBackend(), "qwen2.5-vl", env).run("", seed=2)
    assert result.success and len(result.steps) == len(env.step_walls) >= 4  # one action per step
    for k, step in enumerate(result.steps):
        t = step.timings
        assert t.model >= 0 and t.parse > 0 and t.preprocess > 0 and t.total >= t.execute > 0
        # The capture is the env's own figure for the frame this step's prompt showed (the reset's for step 0),
        # not 0.0 and not lumped into execute: env.step's wall time is split between execute and capture.
        assert t.capture == env.captures[k] > 0
        assert t.settle == 0.0  # a synthetic app draws once, it never waits for its screen
        # The loop times env.step around this wrapper's own timing, so its execute + capture covers the wall.
        assert 0 < t.execute < env.step_walls[k] <= t.execute + env.captures[k + 1]


def test_recorded_steps_have_a_capture_time_for_every_step(tmp_path) -> None:
    from vlagent.agent.batch import EpisodeJob, run_batched

    one = Agent(ScriptedBackend(), "ui-tars", login_env(), recorder=TrajectoryStore(tmp_path)).run("", seed=3, episode_id="one")
    assert len(one.steps) >= 4
    jobs = [EpisodeJob(f"batched-{i}", "", i, lambda: Agent(ScriptedBackend(), "json", make_env(
        "synthetic:settings", size=SIZE), recorder=TrajectoryStore(tmp_path))) for i in range(2)]
    run_batched(jobs, workers=2)
    for episode in ("one", "batched-0", "batched-1"):
        meta, steps = load_episode(tmp_path / episode)
        assert meta.success and len(steps) == meta.steps >= 1
        assert all(s.timings.capture > 0 for s in steps), [s.timings.capture for s in steps]


def test_ctrl_c_stops_a_batched_run_and_starts_no_new_episodes() -> None:
    from vlagent.agent.batch import EpisodeJob, run_batched

    calls = []

    def ctrl_c_on_second_batch(chat) -> str:
        calls.append(1)
        if len(calls) == 3:  # inside the second batch of two chats
            os.kill(os.getpid(), signal.SIGINT)
        return oracle_reply(chat)

    backend = ScriptedBackend(after=ctrl_c_on_second_batch)
    jobs = [EpisodeJob(f"ep{i}", "", i, lambda: Agent(backend, "ui-tars", login_env())) for i in range(5)]
    before = signal.getsignal(signal.SIGINT)
    results = run_batched(jobs, workers=2)
    assert [r.outcome for r in results] == ["interrupted", "interrupted"]
    assert all(len(r.steps) == 2 for r in results) and backend.batches == [2, 2]
    assert signal.getsignal(signal.SIGINT) is before


def test_an_episode_that_never_acts_still_reports_the_envs_success_flag() -> None:
    # Regression: with every reply unparseable nothing steps the env, and `vlagent run` said "success not
    # reported by the env" for a synthetic app, which reports success from its reset on.
    env = make_env("synthetic:dialog", size=(640, 480))
    result = Agent(ScriptedBackend(after="I am not sure."), "ui-tars", env, max_steps=2).run("", seed=0)
    assert result.meta.errors == 2 and result.meta.success is False
