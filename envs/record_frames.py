"""The screen as it was just before each recorded action: frames polled in the background, kept briefly.

A recorder learns of an input event after it happened (RECORD on X, ``getevent`` on a phone), so it cannot
take the screenshot "before" the event when the event arrives. :class:`FramePoller` instead grabs the
screen at a modest rate on its own thread and keeps the last distinct frames with the times their grabs
started and finished; :meth:`FramePoller.before` gives the latest frame whose grab had *finished* before a
moment (an action's first event). That frame shows the screen at most one interval (plus one grab) before
the action, never after it; what changed in that last interval is missing from it, and the recorder
writes the frame's age next to each step.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image


@dataclass(frozen=True)
class Frame:
    """One distinct grab: its raw bytes (decoded only when used) and when its first grab started and finished.

    Example:
        >>> f = Frame(b"png...", started=1.0, finished=1.25)
        >>> f.finished - f.started
        0.25
    """

    data: bytes
    started: float
    finished: float


class FramePoller:
    """Calls ``grab`` every ``interval`` seconds on a background thread and keeps the last ``keep`` frames.

    A grab equal to the previous frame is not kept again, so a still screen costs one frame. ``decode``
    turns a frame's bytes into an image.

    Example:
        >>> shots = iter([b"a", b"a", b"b"])
        >>> poller = FramePoller(lambda: next(shots), decode=None, interval=60).start()
        >>> poller.poll_once(); poller.poll_once(); poller.close()
        >>> [f.data for f in poller.frames()]
        [b'a', b'b']
    """

    def __init__(
        self,
        grab: Callable[[], bytes],
        *,
        decode: Callable[[bytes], Image.Image] | None,
        interval: float = 0.1,
        keep: int = 16,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be > 0, got {interval}")
        self.grab = grab
        self.decode = decode
        self.interval = interval
        self.clock = clock
        self._frames: collections.deque[Frame] = collections.deque(maxlen=keep)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stream_error: BaseException | None = None

    def start(self) -> FramePoller:
        """Grab the first frame (so :meth:`before` always has one), then start polling."""
        self.poll_once()
        self._thread = threading.Thread(target=self._run, name="vlagent-record-frames", daemon=True)
        self._thread.start()
        return self

    def poll_once(self) -> None:
        """Grab one frame now and keep it unless it repeats the last one."""
        started = self.clock()
        data = self.grab()
        finished = self.clock()
        with self._lock:
            if self._frames and self._frames[-1].data == data:
                return
            self._frames.append(Frame(data, started, finished))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll_once()
            except Exception as exc:  # the screen went away: keep the error for the recorder, stop polling
                self.stream_error = exc
                return

    def frames(self) -> list[Frame]:
        with self._lock:
            return list(self._frames)

    def before(self, moment: float) -> Frame:
        """The latest frame whose grab finished before ``moment`` (the oldest kept when none did)."""
        with self._lock:
            done = [f for f in self._frames if f.finished <= moment]
            return done[-1] if done else self._frames[0]

    def latest(self) -> Frame:
        """Grab now and return the newest frame (the final screen of a recording)."""
        with contextlib.suppress(Exception):  # a failed last grab leaves the previous frame
            self.poll_once()
        with self._lock:
            return self._frames[-1]

    def image(self, frame: Frame) -> Image.Image:
        if self.decode is None:
            raise ValueError("this poller has no decode function")
        return self.decode(frame.data)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None
