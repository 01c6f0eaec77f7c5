"""Waiting for a screen to stop changing: poll captures until they repeat, with a deadline.

After an env acts, the app needs a moment to redraw. A fixed sleep is either too long (slow episodes)
or too short (the model sees the screen before the click took effect), so envs poll instead: capture,
compare with the previous capture, and stop once ``stable_frames`` consecutive captures are equal or the
deadline passes. A screen that never settles (a video, a spinner) is not an error: the last capture is
returned with ``settled=False`` and the env reports it in ``info``.

The clock and the sleep are injectable so tests run without waiting on wall time.
:meth:`SettlePolicy.wait_timed` also splits the wall time of a wait into the returned capture
(``info["timings"]["capture"]``) and the polling before it (``info["timings"]["settle"]``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from vlagent.envs.base import CAPTURE, SETTLE, EnvTimings

T = TypeVar("T")


@dataclass(frozen=True)
class Settled(Generic[T]):
    """The outcome of one wait: the last capture and whether the screen was stable when it was taken.

    Example:
        >>> s = Settled(frame="A", settled=True, polls=2, seconds=0.05)
        >>> s.frame, s.settled
        ('A', True)
    """

    frame: T
    settled: bool
    polls: int
    seconds: float


@dataclass(frozen=True)
class SettlePolicy:
    """How to wait for a screen to settle: poll until captures repeat, or give up at a deadline.

    Captures are taken every ``interval`` seconds until ``stable_frames`` consecutive ones are equal or
    ``deadline`` seconds have passed. ``stable_frames=2`` means two consecutive equal captures (one repeat). ``deadline=0`` captures once and
    returns it as settled (no waiting at all, e.g. for a dry run). ``clock`` and ``sleep`` default to
    :func:`time.monotonic` and :func:`time.sleep`; tests pass fakes.

    Example:
        >>> frames = iter(["a", "b", "c", "c", "d"])
        >>> now = [0.0]
        >>> policy = SettlePolicy(interval=0.1, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
        >>> result = policy.wait(lambda: next(frames))
        >>> result.frame, result.settled, result.polls
        ('c', True, 4)
    """

    interval: float = 0.05
    stable_frames: int = 2
    deadline: float = 3.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.interval < 0:
            raise ValueError(f"interval must be >= 0, got {self.interval}")
        if self.stable_frames < 1:
            raise ValueError(f"stable_frames must be >= 1, got {self.stable_frames}")
        if self.deadline < 0:
            raise ValueError(f"deadline must be >= 0, got {self.deadline}")

    def wait(self, capture: Callable[[], T], *, same: Callable[[T, T], bool] | None = None) -> Settled[T]:
        """Capture until ``stable_frames`` consecutive captures are equal (by ``same``, default ``==``).

        Errors raised by ``capture`` propagate: a screen that cannot be read is the env's error, not
        an unsettled screen.
        """
        equal = same if same is not None else _equal
        start = self.clock()
        frame = capture()
        polls, run = 1, 1
        if self.deadline == 0:
            return Settled(frame, True, polls, 0.0)
        while run < self.stable_frames:
            elapsed = self.clock() - start
            if elapsed + self.interval > self.deadline:
                return Settled(frame, False, polls, elapsed)
            self.sleep(self.interval)
            nxt = capture()
            polls += 1
            run = run + 1 if equal(frame, nxt) else 1
            frame = nxt
        return Settled(frame, True, polls, self.clock() - start)

    def wait_timed(
        self, capture: Callable[[], T], timings: EnvTimings, *, same: Callable[[T, T], bool] | None = None
    ) -> Settled[T]:
        """:meth:`wait`, adding the returned capture's time to ``timings[CAPTURE]`` and the rest to ``SETTLE``.

        Both are measured with ``timings.clock`` (real time, even when this policy's clock is a fake).

        Example:
            >>> frames = iter(["a", "a"])
            >>> timings = EnvTimings()
            >>> SettlePolicy(interval=0).wait_timed(lambda: next(frames), timings).frame
            'a'
            >>> timings[CAPTURE] > 0 and timings[SETTLE] > 0
            True
        """
        last = [0.0]

        def timed() -> T:
            t0 = timings.clock()
            frame = capture()
            last[0] = timings.clock() - t0
            return frame

        t0 = timings.clock()
        settled = self.wait(timed, same=same)
        total = timings.clock() - t0
        timings.add(CAPTURE, last[0])
        timings.add(SETTLE, max(total - last[0], 0.0))
        return settled


def _equal(a: object, b: object) -> bool:
    return bool(a == b)
