"""A stop hotkey on the X server: a key combination that stops the agent wherever the keyboard focus is.

Ctrl+C reaches the agent only while its terminal has the focus, and on a desktop the agent clicks into other
windows. :class:`StopHotkey` instead watches every key press the X server handles, through the RECORD
extension (present in Xorg and Xvfb, so it works headless), and calls ``on_press`` when exactly the keys of
the combination are held down. The CLI arms it for ``--env desktop`` with ``--stop-hotkey``
(default ``ctrl+alt+shift+s``, ``vlagent.agent.safety.DEFAULT_STOP_HOTKEY``).

Two X connections: while a RECORD context is enabled its data connection does nothing else (the enable
request blocks, streaming replies), so a second, control connection creates the context, maps key codes
to key names, and at :meth:`StopHotkey.close` disables the context, which ends the stream and the thread.

Key codes are named from their unshifted keysym, read once when the listener starts (``Control_L`` and
``Control_R`` are both ``ctrl``; a key with no canonical name gets a name of its own, so it still breaks
an exact match). RECORD sees synthetic input too: the agent's own XTEST key presses, and ``xdotool``'s.
The agent can therefore only trigger it by pressing the whole combination and nothing else, and the
safety policy deny-lists every hotkey containing the combination, so the model cannot stop itself.

Example:
    >>> key_name("Control_R"), key_name("s"), key_name("F12"), key_name("ISO_Level3_Shift")
    ('ctrl', 's', 'f12', 'x11:ISO_Level3_Shift')
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable
from typing import Any

from vlagent.actions.models import normalize_key
from vlagent.envs.errors import DependencyNotInstalled, DeviceError

#: How long :meth:`StopHotkey.start` waits for the server to start streaming key events.
START_TIMEOUT = 5.0


class StopHotkeyError(DeviceError):
    """The stop hotkey cannot be armed: no X display, or the server lacks the RECORD extension.

    Example:
        >>> isinstance(StopHotkeyError("no RECORD"), DeviceError)
        True
    """


@functools.cache
def _keysym_names() -> dict[int, str]:
    """Keysym value to its X name (``0xffe3 -> "Control_L"``), from python-xlib's tables."""
    from Xlib import XK

    names: dict[int, str] = {}
    for attr in dir(XK):
        if attr.startswith("XK_"):
            names.setdefault(getattr(XK, attr), attr[3:])
    return names


def key_name(x_name: str) -> str:
    """The canonical (vlagent) key name of an X keysym name, or ``x11:NAME`` when there is none."""
    base = x_name[:-2] if x_name.endswith(("_L", "_R")) else x_name
    try:
        return normalize_key(base)
    except ValueError:
        return f"x11:{x_name}"


def _keycode_names(display: Any) -> dict[int, str]:
    """Every key code of the server's keyboard to the canonical name of its unshifted keysym."""
    from Xlib import XK

    table = _keysym_names()
    first = display.display.info.min_keycode
    count = display.display.info.max_keycode - first + 1
    out: dict[int, str] = {}
    for offset, syms in enumerate(display.get_keyboard_mapping(first, count)):
        keysym = syms[0] if syms else 0
        if keysym:
            name = XK.keysym_to_string(keysym) or table.get(keysym) or f"keysym-{keysym:#x}"
            out[first + offset] = key_name(name)
    return out


class StopHotkey:
    """Calls ``on_press`` from a background thread whenever ``combo`` is pressed on X display ``display``.

    ``combo`` is a set of canonical key names (``{"ctrl", "alt", "shift", "s"}``). Use as a context manager,
    or :meth:`start` and :meth:`close`; :meth:`start` returns once the server streams key events, so a
    press right after it is seen.

    Example:
        >>> hotkey = StopHotkey(":0", frozenset({"ctrl", "alt", "shift", "s"}), on_press=lambda: None)
        >>> hotkey.combo_text
        'alt+ctrl+s+shift'
    """

    def __init__(self, display: str, combo: frozenset[str], on_press: Callable[[], None]) -> None:
        if not combo:
            raise ValueError("the stop hotkey needs at least one key")
        self.display = display
        self.combo = frozenset(combo)
        self.on_press = on_press
        self.presses = 0
        self._control: Any = None
        self._data: Any = None
        self._context: int | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._held: set[int] = set()
        self._names: dict[int, str] = {}
        self.error: BaseException | None = None

    @property
    def combo_text(self) -> str:
        return "+".join(sorted(self.combo))

    def __enter__(self) -> StopHotkey:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> StopHotkey:
        """Connect twice, create the RECORD context and wait until key events stream in."""
        try:
            from Xlib import X
            from Xlib.display import Display
            from Xlib.ext import record
        except ImportError as exc:
            raise DependencyNotInstalled("python-xlib", hint="pip install 'vlagent[desktop]'") from exc
        try:
            self._control = Display(self.display)
            self._data = Display(self.display)
        except Exception as exc:  # Xlib's connection and auth errors
            self.close()
            raise StopHotkeyError(f"cannot connect to X display {self.display!r} for the stop hotkey: {exc}") from exc
        if not self._control.has_extension(record.extname):
            self.close()
            raise StopHotkeyError(
                f"X display {self.display!r} has no RECORD extension, so the stop hotkey cannot be armed "
                "(pass --stop-hotkey off to run without it; Ctrl+C in the terminal still stops the agent)"
            )
        self._names = _keycode_names(self._control)
        unknown = sorted(self.combo - set(self._names.values()))
        if unknown:
            self.close()
            raise StopHotkeyError(f"the keyboard of {self.display!r} has no key for {', '.join(unknown)} "
                                  "(choose another --stop-hotkey)")
        self._context = self._control.record_create_context(0, [record.AllClients], [{
            "core_requests": (0, 0), "core_replies": (0, 0), "ext_requests": (0, 0, 0, 0),
            "ext_replies": (0, 0, 0, 0), "delivered_events": (0, 0),
            "device_events": (X.KeyPress, X.KeyRelease), "errors": (0, 0),
            "client_started": False, "client_died": False,
        }])
        self._control.sync()  # the context must exist before the data connection enables it
        self._thread = threading.Thread(target=self._stream, name="vlagent-stop-hotkey", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            error = self.error
            self.close()
            raise StopHotkeyError(f"the X server {self.display!r} did not start recording key presses"
                                  + (f": {error}" if error else f" within {START_TIMEOUT:g}s"))
        return self

    def _stream(self) -> None:
        try:
            self._data.record_enable_context(self._context, self._on_reply)
        except Exception as exc:  # the server went away: keep the error for start() or the caller
            self.error = exc
            self._ready.set()

    def _on_reply(self, reply: Any) -> None:
        from Xlib import X
        from Xlib.ext import record
        from Xlib.protocol import rq

        if reply.category == record.StartOfData:
            self._ready.set()
            return
        if reply.category != record.FromServer or reply.client_swapped:
            return
        data = reply.data
        while len(data) >= 32:  # one 32-byte core event after another
            event, data = rq.EventField(None).parse_binary_value(data, self._data.display, None, None)
            if event.type == X.KeyPress:
                self._key_down(event.detail)
            elif event.type == X.KeyRelease:
                self._held.discard(event.detail)

    def _key_down(self, keycode: int) -> None:
        was = self.matches()
        self._held.add(keycode)
        if self.matches() and not was:  # once per chord, not per auto-repeat
            self.presses += 1
            self.on_press()

    def matches(self) -> bool:
        """Whether exactly the combination's keys are held now."""
        return bool(self._held) and {self._names.get(k, f"keycode-{k}") for k in self._held} == self.combo

    def close(self) -> None:
        """Stop recording and close both connections (safe to call twice, or after a failed start)."""
        if self._context is not None and self._control is not None:
            # A server that is gone raises here; the connections are closed below all the same.
            with contextlib.suppress(Exception):
                self._control.record_disable_context(self._context)
                self._control.sync()
                if self._thread is not None:
                    self._thread.join(timeout=5.0)
                self._control.record_free_context(self._context)
                self._control.sync()
        self._context = None
        for name in ("_data", "_control"):
            conn = getattr(self, name)
            setattr(self, name, None)
            if conn is not None:
                with contextlib.suppress(Exception):  # already broken
                    conn.close()
