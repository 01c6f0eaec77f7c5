"""Mapping a device's event timestamps onto this process's monotonic clock, for recorded demonstrations.

The X server stamps input with milliseconds since it started (a 32-bit counter that wraps after ~49
days); ``getevent -lt`` stamps touches with seconds since the phone booted. Screenshots are stamped with
``time.monotonic()`` here. :class:`ClockAligner` estimates ``local = device + offset`` from each event's
arrival: an event cannot arrive before it happened, so ``arrival - stamp`` is the offset plus a delay
that is never negative, and the smallest value seen is the best estimate (a running minimum, as NTP
filters round trips). The estimate only improves, and errs by at most the smallest delivery delay seen.
"""

from __future__ import annotations


class ClockAligner:
    """Device timestamps (seconds) to local monotonic seconds, by the minimum of arrival minus stamp.

    ``wrap`` is the device counter's period in seconds (``2**32 / 1000`` for X server milliseconds), or
    ``None`` for a counter that never wraps.

    Example:
        >>> clock = ClockAligner()
        >>> clock.local(10.0, arrived=105.2), clock.local(11.0, arrived=106.0)  # the second came faster
        (105.2, 106.0)
        >>> clock.offset
        95.0
    """

    def __init__(self, *, wrap: float | None = None) -> None:
        self.wrap = wrap
        self.offset: float | None = None
        self._last_raw: float | None = None
        self._epochs = 0

    def unwrap(self, stamp: float) -> float:
        """The stamp with the counter's wraps added back (stamps are assumed to arrive in order)."""
        if self.wrap is None:
            return stamp
        if self._last_raw is not None and stamp < self._last_raw - self.wrap / 2:
            self._epochs += 1
        self._last_raw = stamp
        return stamp + self._epochs * self.wrap

    def local(self, stamp: float, *, arrived: float) -> float:
        """The local time of an event stamped ``stamp`` that arrived at local time ``arrived``."""
        stamp = self.unwrap(stamp)
        delay_bound = arrived - stamp
        if self.offset is None or delay_bound < self.offset:
            self.offset = delay_bound
        return stamp + self.offset
