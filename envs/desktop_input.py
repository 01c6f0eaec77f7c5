"""pyautogui bound to one X display: the desktop env's input, with its X connection and its failures.

pyautogui opens its X connection once, at import, on ``$DISPLAY``; :class:`DesktopInput` opens its own
connection to its display and swaps it into pyautogui (with the fail-safe corners of that screen) under a
lock for each action, so an env never acts through a connection to another (or a dead) server. A lost
connection becomes :class:`~vlagent.envs.errors.DeviceError`, the fail-safe :class:`FailSafeTriggered`.
This module is apart from :mod:`vlagent.envs.desktop` because it is the part that talks to X.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import struct
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from vlagent.actions.errors import EnvError
from vlagent.envs.errors import DependencyNotInstalled, DeviceError
from vlagent.envs.x11_record import mark_agent
from vlagent.envs.x11_text import XTestTyper

INSTALL_HINT = "pip install 'vlagent[desktop]'"

# pyautogui is one module-global per process; swapping its X connection must not interleave.
_PYAUTOGUI_LOCK = threading.RLock()


class FailSafeTriggered(EnvError):
    """pyautogui's fail-safe fired: the pointer is in a screen corner, the user's signal to stop the agent.

    Example:
        >>> isinstance(FailSafeTriggered("pointer in a corner"), EnvError)
        True
    """


#: One Xauthority entry of a family no display uses: python-xlib finds no cookie in it (and, unlike with an
#: empty file, prints no warning on stdout), so it connects without one.
_NO_COOKIE_ENTRY = struct.pack(">5H", 0x7F7F, 0, 0, 0, 0)


def _xauthority_fallback() -> None:
    """Give python-xlib a cookie-less Xauthority file when there is none at all, as libX11 behaves.

    libX11 (mss, xterm, xdotool) connects without a cookie when ``~/.Xauthority`` is missing, but python-xlib
    (pyautogui) raises ``XauthError`` instead, so ``Xvfb -ac`` worked for capture and failed for input. A
    server that wants a cookie still refuses, with its own error.
    """
    if not sys.platform.startswith("linux") or os.environ.get("XAUTHORITY"):
        return
    home = os.environ.get("HOME")
    if home and os.path.exists(os.path.join(home, ".Xauthority")):
        return
    fd, path = tempfile.mkstemp(prefix="vlagent-noauth-")
    with os.fdopen(fd, "wb") as f:
        f.write(_NO_COOKIE_ENTRY)
    atexit.register(_remove_quietly, path)
    os.environ["XAUTHORITY"] = path


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)


def _import_pyautogui(display: str) -> Any:
    """Import pyautogui (it connects to ``$DISPLAY`` at import time, so the variable must be set first)."""
    if "pyautogui" not in sys.modules and display and not os.environ.get("DISPLAY"):
        os.environ["DISPLAY"] = display
    _xauthority_fallback()
    try:
        import pyautogui
    except ImportError as exc:
        raise DependencyNotInstalled("pyautogui", hint=INSTALL_HINT) from exc
    except Exception as exc:  # Xlib's connection and auth errors, raised at import
        raise DeviceError(f"pyautogui could not connect to X display {display!r}: {_x_hint(exc)}") from exc
    return pyautogui


def _x_hint(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if "Xauthority" in text:
        text += (
            " (python-xlib needs an Xauthority file: set XAUTHORITY to the server's cookie file, or to an "
            "empty file when the server runs without access control, e.g. Xvfb -ac)"
        )
    return text


def _connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says the X server went away, as python-xlib reports that in its several ways.

    A closed connection is ``ConnectionClosedError``; a failed send is an ``OSError`` that python-xlib
    itself then mishandles (``err[1]`` on the exception) into ``TypeError: 'BrokenPipeError' object is not
    subscriptable``, recognisable by the ``OSError`` it was raised while handling. Other errors are bugs.
    """
    try:
        from Xlib.error import ConnectionClosedError
    except ImportError:  # no python-xlib (not X11): only the OS can report a lost connection
        return isinstance(exc, OSError)
    if isinstance(exc, OSError | ConnectionClosedError):
        return True
    return isinstance(exc, TypeError) and isinstance(exc.__context__, OSError)


def x_reason(exc: BaseException) -> str:
    """``TYPE: message`` of an X failure; python-xlib's ``TypeError`` gives way to the ``OSError`` beneath it."""
    cause = exc.__context__ if isinstance(exc, TypeError) and exc.__context__ is not None else exc
    return f"{type(cause).__name__}: {cause}"


class DesktopInput:
    """pyautogui, bound to one X display for the duration of each use."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.pg = _import_pyautogui(display)
        self._x11 = sys.modules.get("pyautogui._pyautogui_x11")
        self._own: Any = None
        self._corners: list[tuple[int, int]] | None = None
        self._typer: XTestTyper | None = None
        if self._x11 is not None:
            try:
                from Xlib.display import Display

                self._own = Display(display)
                mark_agent(self._own)  # a demonstration recorder does not take this input for a person's
            except Exception as exc:  # Xlib's connection and auth errors
                raise DeviceError(f"cannot connect to X display {display!r}: {_x_hint(exc)}") from exc
            screen = self._own.screen()
            w, h = screen.width_in_pixels, screen.height_in_pixels
            self._corners = [(0, 0), (0, h - 1), (w - 1, 0), (w - 1, h - 1)]

    @contextmanager
    def bound(self) -> Iterator[Any]:
        """Yield pyautogui talking to this display; fail-safe exceptions become :class:`FailSafeTriggered`."""
        with _PYAUTOGUI_LOCK:
            saved = None
            if self._own is not None:
                saved = (self._x11._display, self.pg.FAILSAFE_POINTS)
                self._x11._display, self.pg.FAILSAFE_POINTS = self._own, self._corners
            try:
                yield self.pg
            except self.pg.FailSafeException as exc:
                raise FailSafeTriggered(
                    f"pyautogui's fail-safe fired (the pointer is in a screen corner): {exc}"
                ) from exc
            except Exception as exc:
                if not _connection_lost(exc):
                    raise
                raise DeviceError(f"the X display {self.display!r} went away during the action: {x_reason(exc)}") from exc
            finally:
                if saved is not None:
                    self._x11._display, self.pg.FAILSAFE_POINTS = saved

    @property
    def on_x11(self) -> bool:
        return self._own is not None

    def typer(self) -> XTestTyper:
        """The XTEST typer on this env's own X connection (X11 only), made on first use."""
        if self._own is None:
            raise EnvError("text is typed through XTEST only on X11")
        if self._typer is None:
            self._typer = XTestTyper(self._own)
        return self._typer

    @property
    def keyboard_mapping(self) -> dict[str, Any] | None:
        return getattr(self.pg.platformModule, "keyboardMapping", None)

    def close(self) -> None:
        own, self._own = self._own, None
        if own is None:
            return
        try:
            if self._typer is not None:
                self._typer.restore()
            own.close()
        except Exception as exc:
            if not _connection_lost(exc):
                raise
            # The server is gone: there is no key mapping to restore and nothing left to close.
