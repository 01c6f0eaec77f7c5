"""The gym adapter on real gymnasium envs: names reach the right action ints, the frame is the screenshot."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from env_timing_checks import check_timings, timed
from gymnasium.utils.env_checker import check_env

from vlagent.actions.coords import Point
from vlagent.actions.errors import ActionError, UnsupportedActionError
from vlagent.actions.models import Choose, Click, Move
from vlagent.envs.errors import ResetNeeded
from vlagent.envs.gym_adapter import GymEnv, GymEnvError, availability, make
from vlagent.envs.gym_names import UnknownOptionError

pytestmark = [
    pytest.mark.timeout(60),
    # check_env warns that it cannot remake an env it did not get from gymnasium.make; that is expected
    pytest.mark.filterwarnings("ignore:.*Not able to test alternative render modes"),
]


def frozen_lake() -> GymEnv:
    return GymEnv("FrozenLake-v1", {"is_slippery": False})


def test_frozen_lake_moves_reach_the_goal_and_report_success() -> None:
    env = frozen_lake()
    obs, _ = env.reset(seed=0)
    assert env.inner.unwrapped.s == 0
    assert "goal" in obs.task and obs.family == "game"
    obs, *_ = env.step(Move(direction="right"))
    assert env.inner.unwrapped.s == 1  # row 0, column 1
    assert obs.text == "You are at row 0, column 1 of the 4x4 grid (row 0 is the top)."
    obs, *_ = env.step(Choose(option="RIGHT"))
    assert env.inner.unwrapped.s == 2
    obs, *_ = env.step(Choose(option="down"))
    assert env.inner.unwrapped.s == 6
    env.step(Move(direction="down"))
    env.step(Move(direction="down"))
    obs, reward, terminated, truncated, info = env.step(Move(direction="right"))
    assert env.inner.unwrapped.s == 15
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["success"] is True and info["action_index"] == 2 and info["prob"] == 1.0
    with pytest.raises(ResetNeeded):
        env.step(Move(direction="left"))


def test_frozen_lake_hole_is_not_success() -> None:
    env = frozen_lake()
    env.reset(seed=0)
    env.step(Move(direction="down"))
    _, reward, terminated, _, info = env.step(Move(direction="right"))  # (1, 1) is a hole
    assert terminated and reward == 0.0 and info["success"] is False


def test_frame_is_the_screenshot() -> None:
    env = frozen_lake()
    obs, _ = env.reset(seed=0)
    frame = env.inner.render()
    assert obs.size == (frame.shape[1], frame.shape[0])
    np.testing.assert_array_equal(np.asarray(obs.screenshot), frame)
    np.testing.assert_array_equal(env.render(), frame)
    before = np.asarray(obs.screenshot).copy()
    obs, *_ = env.step(Move(direction="right"))
    assert not np.array_equal(np.asarray(obs.screenshot), before)  # the elf moved on screen


def test_unknown_option_is_refused_with_the_valid_names_and_nothing_happens() -> None:
    env = frozen_lake()
    env.reset(seed=0)
    with pytest.raises(UnknownOptionError) as err:
        env.step(Choose(option="jump"))
    assert isinstance(err.value, ActionError)
    assert "left, down, right, up" in str(err.value)
    assert env.inner.unwrapped.s == 0
    with pytest.raises(UnsupportedActionError):
        env.step(Click(point=Point(x=1, y=1, space="screen")))
    with pytest.raises(UnsupportedActionError, match="not a point"):
        env.step(Move(point=Point(x=1, y=1, space="screen")))


def test_step_before_reset_is_refused() -> None:
    with pytest.raises(ResetNeeded):
        frozen_lake().step(Choose(option="left"))


def test_blackjack_hit_and_stick_by_name() -> None:
    env = GymEnv("Blackjack-v1")
    obs, _ = env.reset(seed=3)
    player, dealer, _ = env._last_obs.extra["gym_obs"]
    assert obs.options == ("stick", "hit")
    assert obs.text.startswith(f"Your hand totals {player} (")
    assert ("an ace" if dealer == 1 else str(dealer)) in obs.text
    obs, reward, terminated, _, info = env.step(Choose(option="HIT"))
    assert info["action_index"] == 1
    assert len(env.inner.unwrapped.player) == 3  # hit drew a third card
    if not terminated:
        _, reward, terminated, _, info = env.step(Choose(option="Stand"))  # alias of stick
        assert info["action_index"] == 0
    assert terminated
    assert info["success"] is (reward > 0)


def test_taxi_directions_match_the_map() -> None:
    env = GymEnv("Taxi-v4")
    env.reset(seed=5)
    taxi = env.inner.unwrapped
    row, col, _, _ = taxi.decode(taxi.s)
    if row == 4:
        env.step(Move(direction="up"))
        row -= 1
    env.step(Move(direction="down"))  # Taxi's walls are vertical: down always moves when row < 4
    assert tuple(taxi.decode(taxi.s))[:2] == (row + 1, col)
    _, _, _, _, info = env.step(Choose(option="north"))
    assert info["action_index"] == 1 and tuple(taxi.decode(taxi.s))[:2] == (row, col)
    _, reward, _, _, info = env.step(Choose(option="drop off"))
    assert info["action_index"] == 5 and reward == -10  # illegal drop-off


def test_cliff_walking_right_goes_right() -> None:
    env = GymEnv("CliffWalking-v1")
    env.reset(seed=0)
    env.step(Move(direction="up"))
    assert env.inner.unwrapped.s == 24  # row 2, column 0
    env.step(Move(direction="right"))
    assert env.inner.unwrapped.s == 25


def test_minigrid_mission_and_turns() -> None:
    env = GymEnv("MiniGrid-Empty-5x5-v0")
    obs, _ = env.reset(seed=0)
    grid = env.inner.unwrapped
    assert obs.task == obs.text == grid.mission == "get to the green goal square"
    assert "forward" in obs.options and "toggle" in obs.options
    with pytest.raises(UnsupportedActionError):  # MiniGrid turns; screen directions would be a guess
        env.step(Move(direction="up"))
    assert tuple(grid.agent_pos) == (1, 1) and grid.agent_dir == 0  # facing right
    env.step(Choose(option="Move_Forward"))
    assert tuple(grid.agent_pos) == (2, 1)
    env.step(Choose(option="forward"))
    env.step(Choose(option="RIGHT"))
    assert grid.agent_dir == 1  # facing down
    env.step(Choose(option="forward"))
    _, reward, terminated, _, info = env.step(Choose(option="forward"))
    assert terminated and reward > 0 and info["success"] is True


def test_ale_names_from_action_meanings_drive_the_same_frames_as_ints() -> None:
    env = GymEnv("ALE/Breakout-v5", {"repeat_action_probability": 0.0})
    assert env.options_names == ("NOOP", "FIRE", "RIGHT", "LEFT")
    raw = gym.make("ALE/Breakout-v5", render_mode="rgb_array", repeat_action_probability=0.0)
    obs, _ = env.reset(seed=7)
    raw.reset(seed=7)
    for name, index in [("fire", 1), ("Right", 2), ("RIGHT", 2), ("left", 3), ("noop", 0), ("FIRE", 1)]:
        obs, *_ , info = env.step(Choose(option=name))
        raw.step(index)
        assert info["action_index"] == index
        np.testing.assert_array_equal(np.asarray(obs.screenshot), raw.render())
    assert obs.text == "Lives: 5."
    # and the names matter: a twin that only waits sees a different screen (the paddle never moved)
    idle = GymEnv("ALE/Breakout-v5", {"repeat_action_probability": 0.0})
    idle.reset(seed=7)
    for _ in range(6):
        idle_obs, *_ = idle.step(Choose(option="NOOP"))
    assert not np.array_equal(np.asarray(idle_obs.screenshot), np.asarray(obs.screenshot))


def test_env_without_a_mission_gets_a_default_task_that_a_given_task_overrides() -> None:
    env = GymEnv("CartPole-v1")
    obs, _ = env.reset(seed=0)
    assert obs.task == "Play CartPole-v1: choose one of the actions to maximise the reward."
    obs, _ = env.reset(seed=0, options={"task": "Keep the pole up."})  # what `vlagent run --task` sends
    assert obs.task == "Keep the pole up."
    obs, _ = GymEnv("CartPole-v1", task="Balance it.").reset(seed=0)
    assert obs.task == "Balance it."
    obs, _ = frozen_lake().reset(seed=0)  # a game with its own task keeps it
    assert "goal" in obs.task and not obs.task.startswith("Play ")


def test_user_names_and_generic_names() -> None:
    named = GymEnv("CartPole-v1", action_names=["push left", "push right"])
    named.reset(seed=0)
    named.step(Choose(option="PUSH_RIGHT"))
    assert named.inner.unwrapped.state[1] > 0  # cart velocity to the right
    generic = GymEnv("CartPole-v1")
    obs, _ = generic.reset(seed=0)
    assert obs.options == ("action_0", "action_1")
    generic.step(Choose(option="action_0"))
    assert generic.inner.unwrapped.state[1] < 0
    with pytest.raises(GymEnvError, match="3 action names for 2 actions"):
        GymEnv("CartPole-v1", action_names=["a", "b", "c"])
    with pytest.raises(GymEnvError, match="the same when case is ignored"):
        GymEnv("CartPole-v1", action_names=["Left", "LEFT"])
    steer = GymEnv("CartPole-v1", action_names=["push left", "push right"],
                   directions={"left": "push left", "right": "push right"})
    steer.reset(seed=0)
    steer.step(Move(direction="left"))
    assert steer.inner.unwrapped.state[1] < 0
    with pytest.raises(UnsupportedActionError, match="moves only"):
        steer.step(Move(direction="up"))


class PointTarget(gym.Env):
    """A real gymnasium env written here (gymnasium ships none whose action is a target point).

    The action is a point in [0, 10] x [0, 5]; the frame (101 x 51) draws the last target.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, render_mode: str | None = "rgb_array") -> None:
        self.render_mode = render_mode
        self.action_space = gym.spaces.Box(np.array([0.0, 0.0], dtype=np.float32),
                                           np.array([10.0, 5.0], dtype=np.float32))
        self.observation_space = gym.spaces.Box(0.0, 10.0, shape=(2,), dtype=np.float32)
        self.last = np.zeros(2, dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.last = np.zeros(2, dtype=np.float32)
        return self.last.copy(), {}

    def step(self, action):
        self.last = np.asarray(action, dtype=np.float32)
        hit = bool(np.allclose(self.last, [10.0, 0.0]))
        return self.last.copy(), float(hit), hit, False, {}

    def render(self):
        frame = np.zeros((51, 101, 3), dtype=np.uint8)
        frame[int(round(self.last[1] * 10)), int(round(self.last[0] * 10))] = 255
        return frame


def test_point_box_maps_screen_pixels_to_the_action_range() -> None:
    env = GymEnv(PointTarget())
    obs, _ = env.reset(seed=0)
    assert obs.options == () and env.supported_actions_now() == {"move"}
    env.step(Move(point=Point(x=50, y=25, space="screen")))
    np.testing.assert_allclose(env.inner.last, [5.0, 2.5])
    obs, reward, terminated, _, _ = env.step(Move(point=Point(x=100, y=0, space="screen")))
    assert terminated and reward == 1.0
    flipped = GymEnv(PointTarget(), y_up=True)
    flipped.reset(seed=0)
    flipped.step(Move(point=Point(x=0, y=50, space="screen")))
    np.testing.assert_allclose(flipped.inner.last, [0.0, 0.0])
    with pytest.raises(UnsupportedActionError, match="not a direction"):
        flipped.step(Move(direction="up"))


def test_envs_that_cannot_be_wrapped_say_why() -> None:
    with pytest.raises(GymEnvError, match="rgb_array"):
        GymEnv(PointTarget(render_mode=None))
    with pytest.raises(GymEnvError, match="cannot make"):
        GymEnv("NoSuchEnv-v0")
    with pytest.raises(GymEnvError, match="neither Discrete"):
        GymEnv("Pendulum-v1")  # a 1-D torque, not a point


def test_make_routes_keywords() -> None:
    env = make("FrozenLake-v1", is_slippery=False, task="Cross it.")
    obs, _ = env.reset(seed=0)
    assert obs.task == "Cross it."
    env.step(Move(direction="right"))
    assert env.inner.unwrapped.s == 1  # not slippery: the keyword reached gymnasium.make
    env2 = make("FrozenLake-v1", env_kwargs={"map_name": "8x8", "is_slippery": False})
    obs2, _ = env2.reset(seed=0, options={"task": "per episode"})
    assert obs2.task == "per episode" and env2.inner.unwrapped.nrow == 8
    ok, detail = availability()
    assert ok and "gymnasium" in detail


@pytest.mark.parametrize(
    "env_id, kwargs",
    [
        ("FrozenLake-v1", {}),
        ("Blackjack-v1", {}),
        ("Taxi-v4", {}),
        ("CliffWalking-v1", {}),
        ("MiniGrid-Empty-5x5-v0", {}),
        ("ALE/Pong-v5", {}),
    ],
)
def test_check_env_passes(env_id: str, kwargs: dict) -> None:
    env = GymEnv(env_id, kwargs)
    check_env(env, skip_render_check=False)
    env.close()


def test_check_env_passes_on_a_point_env() -> None:
    check_env(GymEnv(PointTarget()), skip_render_check=False)


@pytest.mark.parametrize(
    "env_id, kwargs",
    [("FrozenLake-v1", {"is_slippery": False}), ("Blackjack-v1", {}), ("MiniGrid-Empty-5x5-v0", {}),
     ("ALE/Breakout-v5", {"repeat_action_probability": 0.0})],
)
def test_reset_and_step_report_render_as_capture_and_the_inner_step_as_act(env_id: str, kwargs: dict) -> None:
    env = GymEnv(env_id, kwargs)
    (obs, info), wall = timed(lambda: env.reset(seed=0))
    check_timings(info, wall)
    (*_, info), wall = timed(lambda: env.step(Choose(option=obs.options[-1])))
    check_timings(info, wall)
    assert "action_index" in info  # the adapter's own keys are still there
    env.close()


def test_minigrid_task_follows_each_episodes_mission() -> None:
    env = GymEnv("MiniGrid-Fetch-5x5-N2-v0")
    missions = set()
    for seed in range(6):
        obs, _ = env.reset(seed=seed)
        assert obs.task == obs.text == env.inner.unwrapped.mission
        missions.add(obs.task)
    assert len(missions) > 1
