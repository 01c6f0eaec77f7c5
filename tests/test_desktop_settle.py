"""SettlePolicy: poll until captures repeat, with a deadline, on an injected clock (no real waiting)."""

from __future__ import annotations

import pytest

from vlagent.envs.base import ACT, CAPTURE, SETTLE, EnvTimings
from vlagent.envs.settle import SettlePolicy


class FakeClock:
    """A clock that only moves when the policy sleeps, so the tests never wait on wall time."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def policy(clock: FakeClock, **kwargs) -> SettlePolicy:
    return SettlePolicy(clock=clock.clock, sleep=clock.sleep, **kwargs)


def frames(*values):
    it = iter(values)
    return lambda: next(it)


def test_returns_the_first_frame_that_repeats():
    clock = FakeClock()
    result = policy(clock, interval=0.1).wait(frames("loading", "half", "done", "done", "never read"))
    assert (result.frame, result.settled, result.polls) == ("done", True, 4)
    assert clock.sleeps == [0.1, 0.1, 0.1]
    assert result.seconds == pytest.approx(0.3)


def test_a_screen_that_never_settles_returns_the_last_frame_at_the_deadline():
    clock = FakeClock()
    counter = iter(range(1000))
    result = policy(clock, interval=0.1, deadline=1.0).wait(lambda: next(counter))
    assert not result.settled
    assert result.polls == 11  # first capture + 10 polls fit in one second
    assert result.frame == 10
    assert clock.now - 100.0 <= 1.0 + 1e-9


def test_stable_frames_counts_consecutive_equal_captures():
    clock = FakeClock()
    # 'b' repeats once, then changes: with stable_frames=3 only the run of three 'c' counts.
    result = policy(clock, interval=0.05, stable_frames=3).wait(frames("a", "b", "b", "c", "c", "c", "x"))
    assert (result.frame, result.settled, result.polls) == ("c", True, 6)


def test_zero_deadline_captures_once_without_sleeping():
    clock = FakeClock()
    result = policy(clock, deadline=0).wait(frames("only"))
    assert (result.frame, result.settled, result.polls) == ("only", True, 1)
    assert clock.sleeps == []


def test_custom_comparison_treats_near_identical_frames_as_equal():
    clock = FakeClock()
    same_size = lambda a, b: len(a) == len(b)  # noqa: E731
    result = policy(clock).wait(frames("abc", "xyz", "ignored"), same=same_size)
    assert (result.frame, result.settled) == ("xyz", True)


def test_capture_errors_propagate():
    clock = FakeClock()

    def broken():
        raise OSError("display gone")

    with pytest.raises(OSError, match="display gone"):
        policy(clock).wait(broken)


@pytest.mark.parametrize(
    "kwargs", [{"interval": -1}, {"stable_frames": 0}, {"deadline": -0.5}], ids=["interval", "stable", "deadline"]
)
def test_invalid_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        SettlePolicy(**kwargs)


def test_wait_timed_counts_only_the_returned_capture_as_capture():
    clock = FakeClock()  # the same fake time for the policy and the timings
    durations = iter([0.5, 0.25, 0.125])  # each capture takes less time than the one before

    def capture():
        clock.now += next(durations)
        return "same"

    timings = EnvTimings(clock=clock.clock)
    result = policy(clock, interval=0.1, stable_frames=3).wait_timed(capture, timings)
    assert (result.frame, result.polls) == ("same", 3)
    assert timings[CAPTURE] == pytest.approx(0.125)  # the last capture: the frame returned
    assert timings[SETTLE] == pytest.approx(0.5 + 0.1 + 0.25 + 0.1)  # the polls before it and the waits
    assert timings[ACT] == 0.0
