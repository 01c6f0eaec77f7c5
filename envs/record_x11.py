"""What a person does on an X display, as low-level input events and the screen frames before them.

Two parts, both for ``vlagent record --env desktop``:

- :class:`X11InputRecorder` listens through the RECORD extension (the connection handling of
  :class:`vlagent.envs.x11_record.XRecordListener`, which the stop hotkey uses too) to button presses and
  releases (the wheel is buttons 4-7) and key presses and releases, with the server's timestamps mapped to
  this process's clock. Each becomes a :class:`PointerEvent` or :class:`KeyEvent` in pixels of the
  recorded monitor; a key event carries the character it types (the keysym at the Shift/AltGr level of
  the event's modifier state, Caps Lock applied to letters) and the modifiers held.
- :class:`MonitorGrabber` grabs the recorded monitor with mss, for the
  :class:`~vlagent.envs.record_frames.FramePoller` that keeps the screen as it was just before each
  action (see that module for what "just before" means and its limits).

Synthetic input: XTEST input (``xdotool``, pyautogui, the agent's own) reaches RECORD exactly as a
keyboard's does. The rule: input from a client marked as the agent's is never recorded, all other input
is. vlagent's desktop env marks its X connection (:func:`vlagent.envs.x11_record.mark_agent`: a window of
its own carrying a property, gone when the connection goes), so the agent is excluded whether it runs in
the recorder's process or another one. To tell the agent's events apart, the recorder also records the
XTEST ``FakeInput`` requests of every client with the id of the client that sent them; the device event
that a request from a marked client produces (same type and detail, next in the stream) is dropped. That
is an exact match, not a time window: a person's input during the agent's action is still recorded, and
so is ``xdotool``'s (an unmarked client, the "person" of the tests). Whether a client is marked is looked
up once per client, on a third connection of the listener's own, and forgotten when the client goes.

The X library: python-xlib's RECORD support as installed by ``python3-xlib`` 0.15, the distribution
pyautogui already depends on. pynput's Xorg backend would work as well, but it depends on ``python-xlib``
0.33, a second distribution that installs into the same ``Xlib/`` package: whichever is installed last
wins, and uninstalling either deletes files the other still lists. RECORD through python-xlib gives
everything needed (buttons, wheel, keys with modifiers, server timestamps, the clients' XTEST requests),
so vlagent adds no input library and keeps the one pyautogui brings.

Key codes are read with the keymap read at start, kept up to date from the ``ChangeKeyboardMapping``
requests of every client, recorded in the same stream: ``xdotool type`` gives a spare key code each
character the keyboard lacks just before pressing it, and the recorder reads that press with that map.

Limits: layout switches through XKB requests (``setxkbmap``) and text committed by an input method (XIM,
IBus) are not seen; a pointer outside the recorded monitor is not recorded.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from vlagent.envs.errors import DependencyNotInstalled, RecorderError
from vlagent.envs.record_clock import ClockAligner
from vlagent.envs.x11_record import XRecordListener, agent_clients, key_name, keyboard_map, keysym_x_name

#: X modifier state bits (X.h): Shift, Lock, Control, Mod1 (Alt), Mod4 (Super), Mod5 (AltGr on most maps).
_SHIFT, _LOCK, _CONTROL, _MOD1, _MOD4, _MOD5 = 1, 2, 4, 8, 64, 128
_MODIFIER_BITS = ((_CONTROL, "ctrl"), (_MOD1, "alt"), (_SHIFT, "shift"), (_MOD4, "win"))
_KEY_PRESS, _KEY_RELEASE, _BUTTON_PRESS, _BUTTON_RELEASE = 2, 3, 4, 5
#: How long an excluded client's XTEST request waits for the event it produces before it is forgotten.
EXCLUSION_SECONDS = 1.0


@dataclass(frozen=True)
class PointerEvent:
    """A mouse button pressed or released (4/5 wheel up/down, 6/7 left/right) at pixels of the monitor.

    Example:
        >>> PointerEvent(time=1.0, press=True, button=1, x=10, y=20).modifiers
        frozenset()
    """

    time: float
    press: bool
    button: int
    x: int
    y: int
    modifiers: frozenset[str] = frozenset()


@dataclass(frozen=True)
class KeyEvent:
    """A key pressed or released: its canonical name, the character it types (``None`` if none), modifiers.

    Example:
        >>> KeyEvent(time=1.0, press=True, key="a", char="A", modifiers=frozenset({"shift"})).char
        'A'
    """

    time: float
    press: bool
    key: str
    char: str | None = None
    modifiers: frozenset[str] = frozenset()


InputEvent = PointerEvent | KeyEvent


def char_for_keysym(keysym: int) -> str | None:
    """The character a keysym types (Latin-1 keysyms are their code point, Unicode ones 0x01000000 + cp).

    Example:
        >>> char_for_keysym(0x61), char_for_keysym(0x10065E5), char_for_keysym(0xFF0D), char_for_keysym(0x20)
        ('a', '日', None, ' ')
    """
    if 0x20 <= keysym <= 0x7E or 0xA0 <= keysym <= 0xFF:
        return chr(keysym)
    if 0x01000100 <= keysym <= 0x0110FFFF:
        return chr(keysym - 0x01000000)
    return None


def modifiers_of(state: int) -> frozenset[str]:
    """The canonical modifier names held in an X event's ``state``.

    Example:
        >>> sorted(modifiers_of(4 | 1))
        ['ctrl', 'shift']
    """
    return frozenset(name for bit, name in _MODIFIER_BITS if state & bit)


def _level_keysym(syms: tuple[int, ...], state: int) -> int:
    """The keysym a key produces under ``state``: Shift picks the second of a pair, AltGr the third pair."""
    base = 4 if state & _MOD5 and len(syms) > 4 and syms[4] else 0
    plain = syms[base] if len(syms) > base else 0
    shifted = syms[base + 1] if len(syms) > base + 1 and syms[base + 1] else 0
    shift = bool(state & _SHIFT)
    if state & _LOCK and char_for_keysym(plain) and char_for_keysym(plain).isalpha():  # type: ignore[union-attr]
        shift = not shift
    if shift and shifted:
        return shifted
    if shift and not shifted and char_for_keysym(plain):
        return ord(char_for_keysym(plain).upper())  # type: ignore[union-attr]  # a one-symbol letter key
    return plain


class X11InputRecorder(XRecordListener):
    """Calls ``on_input`` with each :class:`PointerEvent`/:class:`KeyEvent` of display ``display``.

    ``origin`` is the top-left of the recorded monitor in root coordinates and ``size`` its pixels; presses
    outside it are counted in :attr:`outside` and not reported (releases always are, so a drag that ends
    outside still ends).

    Example:
        >>> rec = X11InputRecorder(":0", on_input=print, origin=(0, 0), size=(1920, 1080))
        >>> rec.device_events, rec.fake_input
        ((2, 5), True)
    """

    device_events = (_KEY_PRESS, _BUTTON_RELEASE)
    fake_input = True
    keymap_changes = True
    error = RecorderError
    purpose = "recording a demonstration"

    def __init__(
        self,
        display: str,
        *,
        on_input: Callable[[InputEvent], None],
        origin: tuple[int, int] = (0, 0),
        size: tuple[int, int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(display)
        self.on_input = on_input
        self.origin = origin
        self.size = size
        self.clock = clock
        self.outside = 0
        self.excluded_events = 0
        self._aligner = ClockAligner(wrap=2**32 / 1000)
        self._keymap: dict[int, tuple[int, ...]] = {}
        self._agents: dict[int, bool] = {}  # client id base -> marked as the agent's
        self._lookup: Any = None  # the connection is_agent asks on, used only by the stream thread
        self._expected: collections.deque[tuple[int, int, float]] = collections.deque(maxlen=256)
        self._lock = threading.Lock()

    def is_agent(self, client: int) -> bool:
        """Whether ``client`` marked itself as the agent's (looked up once while it lives)."""
        if client not in self._agents:
            if self._lookup is None:
                from Xlib.display import Display

                self._lookup = Display(self.display)
            self._agents[client] = client in agent_clients(self._lookup)
        return self._agents[client]

    def on_client_died(self, client: int) -> None:
        self._agents.pop(client, None)

    def on_keymap_change(self, first: int, keysyms: list[tuple[int, ...]]) -> None:
        for offset, syms in enumerate(keysyms):  # in stream order, so each key event reads the map it met
            self._keymap[first + offset] = syms

    def close(self) -> None:
        super().close()  # the stream thread has ended: nothing uses the lookup connection any more
        lookup, self._lookup = self._lookup, None
        if lookup is not None:
            with contextlib.suppress(Exception):
                lookup.close()

    def on_start(self, control: Any) -> None:
        self._keymap = keyboard_map(control)
        self._calibrate(control)

    def _calibrate(self, control: Any) -> None:
        """Learn the server clock's offset from one round trip, before any input is mapped with it.

        The server stamps a ``PropertyNotify`` (ICCCM's way to read its time) when it handles the change;
        the event is read back after that, so ``read time - stamp`` bounds the offset from above, as every
        later event's arrival does, and is tight while the round trip is short. Without it the first
        event's own delivery delay (a loaded machine) would shift the times, and so the screenshot chosen.
        """
        from Xlib import X, Xatom

        window = control.screen().root.create_window(0, 0, 1, 1, 0, X.CopyFromParent,
                                                     event_mask=X.PropertyChangeMask)
        try:
            window.change_property(control.intern_atom("_VLAGENT_RECORD_TIME"), Xatom.STRING, 8, b"")
            control.flush()
            while True:
                event = control.next_event()
                if event.type == X.PropertyNotify:
                    self._aligner.local(event.time / 1000, arrived=self.clock())
                    return
        finally:
            window.destroy()
            control.flush()

    def on_fake_input(self, client: int, event_type: int, detail: int) -> None:
        if _KEY_PRESS <= event_type <= _BUTTON_RELEASE and self.is_agent(client):
            with self._lock:
                self._expected.append((event_type, detail, self.clock()))

    def _is_excluded(self, event_type: int, detail: int) -> bool:
        """Whether the event is one an excluded client's request announced (each announcement matches once).

        The event follows its request in the stream at once; an announcement older than
        :data:`EXCLUSION_SECONDS` matched nothing (the server dropped the event) and is forgotten, so it
        cannot swallow a person's identical event later.
        """
        now = self.clock()
        with self._lock:
            while self._expected and now - self._expected[0][2] > EXCLUSION_SECONDS:
                self._expected.popleft()
            for i, (kind, what, _) in enumerate(self._expected):
                if (kind, what) == (event_type, detail):
                    del self._expected[i]
                    return True
        return False

    def on_event(self, event: Any) -> None:
        arrived = self.clock()
        if self._is_excluded(event.type, event.detail):
            self.excluded_events += 1
            return
        at = self._aligner.local(event.time / 1000, arrived=arrived)
        state = int(event.state)
        mods = modifiers_of(state)
        if event.type in (_BUTTON_PRESS, _BUTTON_RELEASE):
            x, y = event.root_x - self.origin[0], event.root_y - self.origin[1]
            press = event.type == _BUTTON_PRESS
            inside = self.size is None or (0 <= x < self.size[0] and 0 <= y < self.size[1])
            if press and not inside:
                self.outside += 1
                return
            if self.size is not None:
                x, y = min(max(x, 0), self.size[0] - 1), min(max(y, 0), self.size[1] - 1)
            self.on_input(PointerEvent(time=at, press=press, button=event.detail, x=x, y=y, modifiers=mods))
            return
        syms = self._keymap.get(event.detail, ())
        plain = syms[0] if syms else 0
        name = key_name(keysym_x_name(plain)) if plain else f"keycode-{event.detail}"
        char = char_for_keysym(_level_keysym(syms, state)) if syms else None
        self.on_input(KeyEvent(time=at, press=event.type == _KEY_PRESS, key=name, char=char, modifiers=mods))


class MonitorGrabber:
    """Grabs one monitor of an X display with mss: the ``grab``/``decode`` pair a :class:`FramePoller` polls.

    Example:
        >>> MonitorGrabber(":0", monitor=1).monitor
        1
    """

    def __init__(self, display: str, *, monitor: int = 1) -> None:
        self.display = display
        self.monitor = monitor
        self.box: dict[str, int] = {}
        self._mss: Any = None
        self._lock = threading.Lock()  # one mss instance, grabbed from the poller thread and the recorder

    def open(self) -> MonitorGrabber:
        try:
            import mss
        except ImportError as exc:
            raise DependencyNotInstalled("mss", hint="pip install 'vlagent[desktop]'") from exc
        try:
            self._mss = (getattr(mss, "MSS", None) or mss.mss)(display=self.display)
            monitors = self._mss.monitors
        except Exception as exc:  # mss's ScreenShotError and connection failures
            raise RecorderError(f"mss cannot capture display {self.display!r}: {exc}") from exc
        if not 0 <= self.monitor < len(monitors):
            self.close()
            raise RecorderError(f"monitor {self.monitor} does not exist; display {self.display!r} has "
                                f"monitors 0..{len(monitors) - 1}")
        raw = monitors[self.monitor]
        self.box = {k: int(raw[k]) for k in ("left", "top", "width", "height")}
        return self

    @property
    def origin(self) -> tuple[int, int]:
        return self.box["left"], self.box["top"]

    @property
    def size(self) -> tuple[int, int]:
        return self.box["width"], self.box["height"]

    def grab(self) -> bytes:
        """Raw BGRA pixels of the monitor."""
        with self._lock:
            if self._mss is None:
                raise RecorderError("the screen grabber is closed")
            return bytes(self._mss.grab(self.box).raw)

    def decode(self, data: bytes) -> Image.Image:
        return Image.frombytes("RGB", self.size, data, "raw", "BGRX")

    def close(self) -> None:
        with self._lock:
            if self._mss is not None:
                with contextlib.suppress(Exception):
                    self._mss.close()
                self._mss = None
