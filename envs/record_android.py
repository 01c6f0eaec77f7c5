"""What a person does on an Android phone, from ``getevent``: touches in screen pixels and hardware keys.

For ``vlagent record --env android[:SERIAL]``. adbutils has no getevent helper, so :class:`GeteventRecorder`
reads ``adb shell getevent -lt`` as a stream (``device.shell("getevent -lt", stream=True)``) on its own
thread, one line per kernel input event::

    [   75939.359429] /dev/input/event4: EV_ABS       ABS_MT_TRACKING_ID   000019d6
    [   75939.359429] /dev/input/event4: EV_ABS       ABS_MT_POSITION_X    000001ee
    [   75939.359429] /dev/input/event4: EV_SYN       SYN_REPORT           00000000
    [   75939.420000] /dev/input/event4: EV_ABS       ABS_MT_TRACKING_ID   ffffffff
    [   75940.100000] /dev/input/event1: EV_KEY       KEY_BACK             DOWN

- The touchscreen is the device whose ``getevent -pl`` lists ``ABS_MT_POSITION_X/Y``; their ``min``/``max``
  scale raw values to the pixels of ``wm size`` (the override size when one is set):
  ``x_px = (raw - min) * width / (max - min + 1)``.
- A frame ends at ``SYN_REPORT``: the first frame with a tracking id is the finger going down, later ones
  move it, ``ABS_MT_TRACKING_ID ffffffff`` lifts it. Only the first finger (slot 0) is followed.
- ``EV_KEY`` lines other than ``BTN_*`` are hardware keys (``KEY_BACK DOWN``/``UP``).
- Timestamps are seconds since the phone booted; :class:`~vlagent.envs.record_clock.ClockAligner` maps them
  onto this process's clock so they can be compared with the times of the screenshots.

Only the kernel's input devices are read, so what ``input tap``/``swipe``/``keyevent`` inject (the agent's
actions, through Android's input framework) is not recorded; ``sendevent`` writes to the devices and would be.

Limits: the raw axes are in the panel's natural orientation, so a rotated screen is recorded wrongly
(the recorder refuses a phone whose screenshot is not in the natural orientation); typing on the
on-screen keyboard is recorded as taps, which is what the person did.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from vlagent.envs.errors import RecorderError
from vlagent.envs.record_clock import ClockAligner

_LINE = re.compile(r"^\[\s*(\d+\.\d+)\]\s+(\S+):\s+(\S+)\s+(\S+)\s+(\S+)\s*$")
_DEVICE = re.compile(r"^add device \d+:\s+(\S+)\s*$")
_AXIS = re.compile(r"(ABS_MT_POSITION_[XY])\s*:\s*value\s+-?\d+,\s*min\s+(-?\d+),\s*max\s+(-?\d+)")
_SIZE = re.compile(r"(Physical|Override) size:\s*(\d+)x(\d+)")
_LIFT = 0xFFFFFFFF


@dataclass(frozen=True)
class Axis:
    """A raw touch axis (``getevent -pl``'s ``min``/``max``) and the screen pixels it spans.

    Example:
        >>> Axis(0, 4095, 1080).to_pixels(2048)
        540.0
    """

    minimum: int
    maximum: int
    pixels: int

    def to_pixels(self, raw: int) -> float:
        span = self.maximum - self.minimum + 1
        return min(max((raw - self.minimum) * self.pixels / span, 0.0), self.pixels - 1.0)


@dataclass(frozen=True)
class Touchscreen:
    """The touchscreen's device node and its two axes.

    Example:
        >>> ts = Touchscreen("/dev/input/event2", Axis(0, 1079, 1080), Axis(0, 2399, 2400))
        >>> ts.to_pixels(540, 1200)
        (540.0, 1200.0)
    """

    device: str
    x: Axis
    y: Axis

    def to_pixels(self, raw_x: int, raw_y: int) -> tuple[float, float]:
        return self.x.to_pixels(raw_x), self.y.to_pixels(raw_y)


@dataclass(frozen=True)
class TouchSample:
    """The first finger going ``down``, ``move``-ing or going ``up``, at pixels of the screen.

    Example:
        >>> TouchSample(time=1.0, phase="down", x=10.0, y=20.0).phase
        'down'
    """

    time: float
    phase: Literal["down", "move", "up"]
    x: float
    y: float


@dataclass(frozen=True)
class PhoneKey:
    """A hardware key (its ``KEY_*`` name from the kernel) pressed or released.

    Example:
        >>> PhoneKey(time=1.0, key="KEY_BACK", down=True).key
        'KEY_BACK'
    """

    time: float
    key: str
    down: bool


PhoneEvent = TouchSample | PhoneKey


def parse_screen_size(wm_size: str) -> tuple[int, int]:
    r"""The screen's pixels from ``wm size`` output (the override size wins over the physical one).

    Example:
        >>> parse_screen_size("Physical size: 1080x2400\nOverride size: 720x1600\n")
        (720, 1600)
    """
    sizes = {kind: (int(w), int(h)) for kind, w, h in _SIZE.findall(wm_size)}
    size = sizes.get("Override") or sizes.get("Physical")
    if size is None:
        raise RecorderError(f"`wm size` printed no screen size: {wm_size.strip()[:200]!r}")
    return size


def parse_touchscreen(getevent_pl: str, size: tuple[int, int]) -> Touchscreen:
    """The touchscreen in ``getevent -pl`` output: the first device with both ``ABS_MT_POSITION`` axes.

    Example:
        >>> text = '''add device 1: /dev/input/event1
        ...   name:     "gpio-keys"
        ... add device 2: /dev/input/event2
        ...   events:
        ...     ABS (0003): ABS_MT_POSITION_X     : value 0, min 0, max 4095, fuzz 0, flat 0, resolution 0
        ...                 ABS_MT_POSITION_Y     : value 0, min 0, max 4095, fuzz 0, flat 0, resolution 0'''
        >>> parse_touchscreen(text, (1080, 2400)).device
        '/dev/input/event2'
    """
    device: str | None = None
    axes: dict[str, tuple[int, int]] = {}
    for line in getevent_pl.splitlines():
        match = _DEVICE.match(line.strip())
        if match:
            if device is not None and len(axes) == 2:
                break
            device, axes = match.group(1), {}
            continue
        for name, low, high in _AXIS.findall(line):
            axes[name] = (int(low), int(high))
    if device is None or len(axes) != 2:
        raise RecorderError("the phone has no touchscreen in `getevent -pl` (no device reports "
                            "ABS_MT_POSITION_X and ABS_MT_POSITION_Y)")
    (x_lo, x_hi), (y_lo, y_hi) = axes["ABS_MT_POSITION_X"], axes["ABS_MT_POSITION_Y"]
    return Touchscreen(device, Axis(x_lo, x_hi, size[0]), Axis(y_lo, y_hi, size[1]))


class GeteventParser:
    """Turns ``getevent -lt`` lines into :class:`TouchSample` and :class:`PhoneKey` events (pure, no device).

    ``local`` maps a line's timestamp (seconds since boot) to the caller's clock.

    Example:
        >>> ts = Touchscreen("/dev/input/event2", Axis(0, 1079, 1080), Axis(0, 2399, 2400))
        >>> p = GeteventParser(ts, local=lambda t: t)
        >>> lines = ["[  10.000000] /dev/input/event2: EV_ABS ABS_MT_TRACKING_ID 00000001",
        ...          "[  10.000000] /dev/input/event2: EV_ABS ABS_MT_POSITION_X 0000021c",
        ...          "[  10.000000] /dev/input/event2: EV_ABS ABS_MT_POSITION_Y 000004b0",
        ...          "[  10.000000] /dev/input/event2: EV_SYN SYN_REPORT 00000000",
        ...          "[  10.080000] /dev/input/event2: EV_ABS ABS_MT_TRACKING_ID ffffffff",
        ...          "[  10.080000] /dev/input/event2: EV_SYN SYN_REPORT 00000000"]
        >>> [(e.phase, e.x, e.y) for line in lines for e in p.feed(line)]
        [('down', 540.0, 1200.0), ('up', 540.0, 1200.0)]
    """

    def __init__(self, touchscreen: Touchscreen, *, local: Callable[[float], float]) -> None:
        self.touchscreen = touchscreen
        self.local = local
        self._slot = 0
        self._raw = [0, 0]
        self._touching = False
        self._frame_down = False
        self._frame_up = False
        self._frame_moved = False

    def feed(self, line: str) -> list[PhoneEvent]:
        match = _LINE.match(line.strip())
        if not match:
            return []  # the device list getevent prints first, blank lines
        stamp, device, kind, code, value = match.groups()
        if kind == "EV_KEY" and not code.startswith("BTN_") and value in ("DOWN", "UP"):
            return [PhoneKey(time=self.local(float(stamp)), key=code, down=value == "DOWN")]
        if device != self.touchscreen.device:
            return []
        if kind == "EV_ABS":
            number = int(value, 16)
            if code == "ABS_MT_SLOT":
                self._slot = number
            elif self._slot != 0:
                return []  # another finger
            elif code == "ABS_MT_TRACKING_ID":
                if number == _LIFT:
                    self._frame_up = True
                elif not self._touching:
                    self._frame_down = True
            elif code in ("ABS_MT_POSITION_X", "ABS_MT_POSITION_Y"):
                self._raw[code.endswith("Y")] = number
                self._frame_moved = True
            return []
        if kind == "EV_SYN" and code == "SYN_REPORT":
            return self._end_frame(self.local(float(stamp)))
        return []

    def _end_frame(self, at: float) -> list[PhoneEvent]:
        x, y = self.touchscreen.to_pixels(*self._raw)
        out: list[PhoneEvent] = []
        if self._frame_down:
            self._touching = True
            out.append(TouchSample(time=at, phase="down", x=x, y=y))
        elif self._touching and self._frame_moved:
            out.append(TouchSample(time=at, phase="move", x=x, y=y))
        if self._frame_up and self._touching:
            self._touching = False
            out.append(TouchSample(time=at, phase="up", x=x, y=y))
        self._frame_down = self._frame_up = self._frame_moved = False
        return out


class GeteventRecorder:
    """Streams a phone's ``getevent -lt`` on a background thread and calls ``on_input`` with its events.

    ``phone`` is a :class:`vlagent.envs.adb_phone.AdbPhone`. :meth:`start` reads the touchscreen's axes and
    the screen size, opens the stream and returns; :meth:`close` closes it, which ends the thread.

    Example:
        >>> GeteventRecorder(phone=None, on_input=print).lines
        0
    """

    def __init__(self, phone: Any, *, on_input: Callable[[PhoneEvent], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.phone = phone
        self.on_input = on_input
        self.clock = clock
        self.lines = 0
        self.touchscreen: Touchscreen | None = None
        self.size: tuple[int, int] | None = None
        self.stream_error: BaseException | None = None
        self._aligner = ClockAligner()
        self._conn: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> GeteventRecorder:
        self.size = parse_screen_size(self.phone.shell(["wm", "size"]))
        self.touchscreen = parse_touchscreen(self.phone.shell(["getevent", "-pl"]), self.size)
        try:
            device = self.phone.client.device(self.phone.serial)
            self._conn = device.shell("getevent -lt", stream=True)
        except Exception as exc:  # adbutils' AdbError, socket errors
            raise RecorderError(f"cannot stream `getevent -lt` from {self.phone.serial}: {exc}") from exc
        self._thread = threading.Thread(target=self._run, name="vlagent-getevent", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        assert self.touchscreen is not None
        sock: socket.socket = self._conn.conn
        sock.settimeout(0.2)  # so that close() is noticed
        buffer = b""
        arrived = self.clock()
        parser = GeteventParser(self.touchscreen, local=lambda stamp: self._aligner.local(stamp, arrived=arrived))
        while not self._stop.is_set():
            try:
                chunk = sock.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError as exc:
                if not self._stop.is_set():
                    self.stream_error = exc
                return
            if not chunk:
                if not self._stop.is_set():
                    self.stream_error = RecorderError(f"`getevent -lt` on {self.phone.serial} ended (phone unplugged?)")
                return
            arrived = self.clock()
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                self.lines += 1
                for event in parser.feed(line.decode("utf-8", "replace")):
                    self.on_input(event)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.conn.close()
            self._conn = None
