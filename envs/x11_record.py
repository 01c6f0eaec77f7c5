"""Listening to every input event an X server handles, through the RECORD extension (Xorg and Xvfb have it).

Shared by the stop hotkey (:mod:`vlagent.envs.stop_hotkey`) and the demonstration recorder
(:mod:`vlagent.envs.record_x11`), so the connection handling exists once:

- Two X connections: while a RECORD context is enabled its data connection does nothing else (the enable
  request blocks, streaming replies), so a second, *control* connection creates the context, answers
  lookups (the keyboard map), and at :meth:`XRecordListener.close` disables the context, which ends the
  stream and the thread.
- :meth:`XRecordListener.start` returns once the server streams (``StartOfData``), so an event right after
  it is seen; a server without RECORD, or one that never starts streaming, is the listener's ``error``
  class (a :class:`~vlagent.envs.errors.DeviceError`).
- Subclasses choose what is recorded (``device_events``: a range of core event types; ``fake_input``: the
  XTEST ``FakeInput`` requests of every client, with the id of the client that sent them, and the
  clients that disconnect) and get each event with :meth:`on_event`, each request with
  :meth:`on_fake_input`, each disconnection with :meth:`on_client_died`, on the listener's thread.
- :func:`mark_agent` marks a connection as the agent's; :func:`agent_clients` lists the marked clients.

Key codes are named from their unshifted keysym, read once at start (:func:`keycode_names`).

Example:
    >>> key_name("Control_R"), key_name("s"), key_name("F12"), key_name("ISO_Level3_Shift")
    ('ctrl', 's', 'f12', 'x11:ISO_Level3_Shift')
"""

from __future__ import annotations

import contextlib
import functools
import struct
import threading
from typing import Any, ClassVar

from vlagent.actions.models import normalize_key
from vlagent.envs.errors import DependencyNotInstalled, DeviceError

#: How long :meth:`XRecordListener.start` waits for the server to start streaming.
START_TIMEOUT = 5.0
#: XTEST's FakeInput request (minor opcode 2): its event type and detail are bytes 4 and 5.
FAKE_INPUT_MINOR = 2
_FAKE_INPUT_HEAD = struct.Struct("=BBHBB")
#: The core ChangeKeyboardMapping request's opcode.
CHANGE_KEYBOARD_MAPPING = 100


@functools.cache
def keysym_names() -> dict[int, str]:
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


def keysym_x_name(keysym: int) -> str:
    """The name of a keysym: its character for printable ASCII, else its X name, else ``keysym-0x...``.

    Example:
        >>> keysym_x_name(0x61), keysym_x_name(0x2C), keysym_x_name(0xFF0D), keysym_x_name(0x20)
        ('a', ',', 'Return', 'space')
    """
    if 0x21 <= keysym <= 0x7E:
        return chr(keysym)
    return keysym_names().get(keysym) or f"keysym-{keysym:#x}"


def keyboard_map(display: Any) -> dict[int, tuple[int, ...]]:
    """Every key code of the server's keyboard to its keysyms (index 0 plain, 1 shifted, 4/5 AltGr)."""
    first = display.display.info.min_keycode
    count = display.display.info.max_keycode - first + 1
    return {first + i: tuple(syms) for i, syms in enumerate(display.get_keyboard_mapping(first, count))}


def keycode_names(display: Any) -> dict[int, str]:
    """Every key code of the server's keyboard to the canonical name of its unshifted keysym."""
    return {code: key_name(keysym_x_name(syms[0])) for code, syms in keyboard_map(display).items() if syms and syms[0]}


#: The property on a window that a connection creates to say "my XTEST input is the agent's" (see mark_agent).
AGENT_MARK = "_VLAGENT_AGENT_INPUT"


def mark_agent(display: Any) -> Any:
    """Mark the python-xlib connection ``display`` as the agent's: its XTEST input is not a person's.

    The mark is an unmapped 1x1 input-only window, created by that connection and carrying the
    :data:`AGENT_MARK` property. A window's id lies in the id range of the client that made it, so a
    recorder finds the agent's clients from the windows alone (:func:`agent_clients`), in this process or
    any other, and the mark disappears with the connection (the server destroys a client's windows when it
    goes), so a later client that gets the same id range is never mistaken for the agent.
    """
    from Xlib import X, Xatom

    window = display.screen().root.create_window(0, 0, 1, 1, 0, 0, window_class=X.InputOnly)
    window.change_property(display.intern_atom(AGENT_MARK), Xatom.STRING, 8, b"vlagent")
    display.flush()
    return window


def agent_clients(display: Any) -> set[int]:
    """The resource id bases of the clients that marked themselves with :func:`mark_agent`."""
    from Xlib import X

    atom = display.intern_atom(AGENT_MARK, only_if_exists=True)
    if not atom:
        return set()
    mask = display.display.info.resource_id_mask
    out: set[int] = set()
    for window in display.screen().root.query_tree().children:
        with contextlib.suppress(Exception):  # a window destroyed meanwhile
            if window.get_full_property(atom, X.AnyPropertyType) is not None:
                out.add(window.id & ~mask)
    return out


class XRecordListener:
    """Streams the X server's input events (and optionally XTEST requests) to hooks on a background thread.

    Use as a context manager, or :meth:`start` and :meth:`close`. Subclasses set ``device_events`` and
    override :meth:`on_start`, :meth:`on_event` and :meth:`on_fake_input`.

    Example:
        >>> XRecordListener(":0").device_events == (2, 3)  # KeyPress..KeyRelease
        True
    """

    #: The first and last core event type recorded (``X.KeyPress`` = 2 .. ``X.ButtonRelease`` = 5).
    device_events: ClassVar[tuple[int, int]] = (2, 3)
    #: Whether XTEST ``FakeInput`` requests are recorded too (:meth:`on_fake_input`).
    fake_input: ClassVar[bool] = False
    #: Whether ``ChangeKeyboardMapping`` requests are recorded too (:meth:`on_keymap_change`).
    keymap_changes: ClassVar[bool] = False
    #: The error raised when the listener cannot start.
    error: ClassVar[type[DeviceError]] = DeviceError
    #: What the listener is for, in messages ("the stop hotkey").
    purpose: ClassVar[str] = "listening to input"
    #: Added to the message when the server has no RECORD extension.
    no_record_hint: ClassVar[str] = ""

    def __init__(self, display: str) -> None:
        self.display = display
        self.control: Any = None
        self._data: Any = None
        self._context: int | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._xtest: int | None = None
        self.stream_error: BaseException | None = None

    def __enter__(self) -> XRecordListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- hooks -------------------------------------------------------------------------------------------

    def on_start(self, control: Any) -> None:
        """Called with the control connection before recording starts (read tables, check the keyboard)."""

    def on_event(self, event: Any) -> None:
        """One recorded core input event (python-xlib's event object: ``type``, ``detail``, ``time``, ...)."""

    def on_fake_input(self, client: int, event_type: int, detail: int) -> None:
        """One XTEST ``FakeInput`` request from client ``client`` (its resource id base)."""

    def on_keymap_change(self, first: int, keysyms: list[tuple[int, ...]]) -> None:
        """A client remapped key codes ``first, first + 1, ...`` to ``keysyms`` (``xdotool type`` does, per character)."""

    def on_client_died(self, client: int) -> None:
        """Client ``client`` disconnected (reported when ``fake_input`` is on), so its id range may be reused."""

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> XRecordListener:
        """Connect twice, create the RECORD context and wait until the server streams."""
        try:
            from Xlib.display import Display
            from Xlib.ext import record
        except ImportError as exc:
            raise DependencyNotInstalled("python-xlib", hint="pip install 'vlagent[desktop]'") from exc
        try:
            self.control = Display(self.display)
            self._data = Display(self.display)
        except Exception as exc:  # Xlib's connection and auth errors
            self.close()
            raise self.error(f"cannot connect to X display {self.display!r} for {self.purpose}: {exc}") from exc
        if not self.control.has_extension(record.extname):
            self.close()
            raise self.error(f"X display {self.display!r} has no RECORD extension, so {self.purpose} cannot work"
                             + (f" ({self.no_record_hint})" if self.no_record_hint else ""))
        try:
            self.on_start(self.control)
        except BaseException:
            self.close()
            raise
        ext_requests = (0, 0, 0, 0)
        if self.fake_input:
            info = self.control.query_extension("XTEST")
            if info is not None:
                self._xtest = info.major_opcode
                ext_requests = (self._xtest, self._xtest, FAKE_INPUT_MINOR, FAKE_INPUT_MINOR)
        core_requests = (CHANGE_KEYBOARD_MAPPING, CHANGE_KEYBOARD_MAPPING) if self.keymap_changes else (0, 0)
        self._context = self.control.record_create_context(0, [record.AllClients], [{
            "core_requests": core_requests, "core_replies": (0, 0), "ext_requests": ext_requests,
            "ext_replies": (0, 0, 0, 0), "delivered_events": (0, 0),
            "device_events": self.device_events, "errors": (0, 0),
            "client_started": False, "client_died": self.fake_input,
        }])
        self.control.sync()  # the context must exist before the data connection enables it
        self._thread = threading.Thread(target=self._stream, name=f"vlagent-xrecord-{type(self).__name__}",
                                        daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            error = self.stream_error
            self.close()
            raise self.error(f"the X server {self.display!r} did not start recording input for {self.purpose}"
                             + (f": {error}" if error else f" within {START_TIMEOUT:g}s"))
        return self

    def _stream(self) -> None:
        try:
            self._data.record_enable_context(self._context, self._on_reply)
        except Exception as exc:  # the server went away: keep the error for start() or the caller
            self.stream_error = exc
            self._ready.set()

    def _on_reply(self, reply: Any) -> None:
        from Xlib.ext import record
        from Xlib.protocol import rq

        if reply.category == record.StartOfData:
            self._ready.set()
            return
        if reply.category == record.ClientDied:
            self.on_client_died(reply.id_base)
            return
        if reply.client_swapped:
            return
        data = reply.data
        if reply.category == record.FromServer:
            while len(data) >= 32:  # one 32-byte core event after another
                event, data = rq.EventField(None).parse_binary_value(data, self._data.display, None, None)
                self.on_event(event)
        elif reply.category == record.FromClient:
            while len(data) >= _FAKE_INPUT_HEAD.size:  # requests: length in 4-byte units at bytes 2-3
                major, minor, length, event_type, detail = _FAKE_INPUT_HEAD.unpack_from(data)
                request, data = data[:max(length, 1) * 4], data[max(length, 1) * 4:]
                if major == self._xtest and minor == FAKE_INPUT_MINOR:
                    self.on_fake_input(reply.id_base, event_type, detail)
                elif major == CHANGE_KEYBOARD_MAPPING and self.keymap_changes:
                    self._keymap_request(request)

    def _keymap_request(self, request: bytes) -> None:
        """Parse ``ChangeKeyboardMapping``: count, first key code, keysyms per code, then the keysyms."""
        count, first, per = request[1], request[4], request[5]
        if per == 0 or len(request) < 8 + count * per * 4:
            return
        syms = struct.unpack_from(f"={count * per}I", request, 8)
        self.on_keymap_change(first, [tuple(syms[i * per:(i + 1) * per]) for i in range(count)])

    def close(self) -> None:
        """Stop recording and close both connections (safe to call twice, or after a failed start)."""
        if self._context is not None and self.control is not None:
            # A server that is gone raises here; the connections are closed below all the same.
            with contextlib.suppress(Exception):
                self.control.record_disable_context(self._context)
                self.control.sync()
                if self._thread is not None:
                    self._thread.join(timeout=5.0)
                self.control.record_free_context(self._context)
                self.control.sync()
        self._context = None
        for name in ("_data", "control"):
            conn = getattr(self, name)
            setattr(self, name, None)
            if conn is not None:
                with contextlib.suppress(Exception):  # already broken
                    conn.close()
