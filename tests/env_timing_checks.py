"""The check every env's tests make on ``info["timings"]``: phases present, positive, within the call's wall time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from vlagent.envs.base import ACT, CAPTURE, SETTLE


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    """``call()`` and the seconds it took (what a caller of ``reset``/``step`` sees)."""
    t0 = time.perf_counter()
    result = call()
    return result, time.perf_counter() - t0


def check_timings(info: dict[str, Any], wall: float, *, settle: bool = False, act: bool = True) -> dict[str, float]:
    """Assert the env timed its capture (and its action, and its settle wait when it has one) inside ``wall``.

    ``act=False`` for a reset that does nothing before capturing. Returns the timings as a plain dict.
    """
    timings = dict(info["timings"])
    expected = {ACT, CAPTURE} | ({SETTLE} if settle else set())
    assert set(timings) == expected, timings
    assert 0 < timings[CAPTURE] < wall, (timings, wall)
    assert (timings[ACT] > 0) if act else (timings[ACT] >= 0), timings
    if settle:
        assert timings[SETTLE] > 0, timings
    assert sum(timings.values()) <= wall, (timings, wall)  # disjoint phases of one call
    return timings
