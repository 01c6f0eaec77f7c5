"""Real X servers and a real Tk program for the desktop env tests.

- :func:`start_xvfb` starts Debian's ``Xvfb`` on a free display number (``-displayfd`` lets the server pick
  it, so parallel test runs never race for one), without TCP and without access control (``-ac``), and waits
  with a deadline until a client can connect. ``-noreset``: by default an X server resets itself (reloading
  its keymap, ~0.1 s) whenever its last client disconnects, and connections made during the reset fail,
  which between two tests (app and env closed, next ones connecting) happens often.
- python-xlib (used by pyautogui) refuses to connect when ``~/.Xauthority`` is missing, even to a server
  without access control, so the fixtures point ``XAUTHORITY`` at an empty file while they run.
- :class:`TkApp` runs ``desktop_tk_app.py`` on a server and reads back the JSON lines it logs (clicks with
  the widget hit, keys, the entry's text, scroll buttons), polling with a deadline.

Test modules import the fixtures by name: ``from xvfb_fixtures import xvfb_factory  # noqa: F401``.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

XVFB = shutil.which("Xvfb")
APP = Path(__file__).with_name("desktop_tk_app.py")

requires_xvfb = pytest.mark.skipif(
    XVFB is None, reason="Xvfb is not installed (Debian package xvfb; scripts/setup-system.sh installs it)"
)


def _has_tkinter() -> bool:
    try:
        import tkinter  # noqa: F401
    except ImportError:
        return False
    return True


requires_tk = pytest.mark.skipif(
    not _has_tkinter(), reason="this Python has no tkinter (Debian package python3-tk, or a Python built with Tk)"
)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a process this module started, killing it if it does not exit within 5 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@dataclass
class XvfbServer:
    """One running Xvfb: ``display`` is like ``":7"``."""

    display: str
    width: int
    height: int
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        stop_process(self.process)


def start_xvfb(
    width: int, height: int, log_dir: Path, *, timeout: float = 15.0, extra_args: Sequence[str] = ()
) -> XvfbServer:
    """Start ``Xvfb -screen 0 WxHx24`` on a display number it picks; return once it accepts clients.

    ``extra_args`` go on the command line (``["-extension", "RECORD"]`` starts a server without RECORD).
    """
    if XVFB is None:
        raise RuntimeError("Xvfb is not installed")
    read_fd, write_fd = os.pipe()
    log = log_dir / f"xvfb-{width}x{height}-{time.monotonic_ns()}.log"
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(
            [XVFB, "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp", "-ac", "-noreset",
             *extra_args],
            pass_fds=(write_fd,),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    os.close(write_fd)
    deadline = time.monotonic() + timeout
    number = b""
    try:
        while not number.endswith(b"\n"):  # Xvfb writes "N\n" once it is ready for clients
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"Xvfb did not start within {timeout}s: {log.read_text(errors='replace')}")
            ready, _, _ = select.select([read_fd], [], [], left)
            if ready:
                chunk = os.read(read_fd, 16)
                if not chunk:
                    continue
                number += chunk
    finally:
        os.close(read_fd)
    server = XvfbServer(f":{int(number)}", width, height, proc, log)
    _wait_for_clients(server, deadline)
    return server


def _wait_for_clients(server: XvfbServer, deadline: float) -> None:
    from Xlib.display import Display

    while True:
        try:
            Display(server.display).close()
            return
        except Exception as exc:  # connection refused while the server is still coming up
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"Xvfb {server.display} accepts no clients: {exc}") from exc
            time.sleep(0.05)


@dataclass
class XvfbFactory:
    """Starts one Xvfb per screen size on demand and stops them all at the end of the session."""

    log_dir: Path
    servers: dict[tuple[int, int], XvfbServer] = field(default_factory=dict)

    def __call__(self, width: int, height: int) -> XvfbServer:
        key = (width, height)
        if key not in self.servers:
            self.servers[key] = start_xvfb(width, height, self.log_dir)
            # pyautogui connects to $DISPLAY once, when first imported: make that one of ours, never the
            # developer's real desktop. Each DesktopEnv then opens its own connection to its display.
            os.environ["DISPLAY"] = self.servers[key].display
        return self.servers[key]


@pytest.fixture(scope="session")
def xvfb_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XvfbFactory]:
    if XVFB is None:
        pytest.skip("Xvfb is not installed (Debian package xvfb; scripts/setup-system.sh installs it)")
    log_dir = tmp_path_factory.mktemp("xvfb")
    xauth = log_dir / "empty.Xauthority"
    xauth.write_bytes(b"")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XAUTHORITY", str(xauth))
        mp.setenv("DISPLAY", os.environ.get("DISPLAY", ""))  # restored at the end of the session
        factory = XvfbFactory(log_dir)
        try:
            yield factory
        finally:
            for server in factory.servers.values():
                server.stop()


class TkApp:
    """desktop_tk_app.py running on an X server, and the events it logged."""

    def __init__(self, server: XvfbServer, log: Path, *, timeout: float = 15.0) -> None:
        self.server = server
        self.log = log
        self.stderr = log.with_suffix(".stderr")
        with open(self.stderr, "wb") as err:  # a file, not a pipe nobody drains
            self.process = subprocess.Popen(
                [sys.executable, str(APP), str(log)],
                env={**os.environ, "DISPLAY": server.display},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        ready = self.wait_for(lambda evs: any(e["ev"] == "ready" for e in evs), timeout=timeout)[0]
        self.widgets: dict[str, tuple[int, int, int, int]] = {k: tuple(v) for k, v in ready["widgets"].items()}
        if tuple(ready["screen"]) != (server.width, server.height):
            raise RuntimeError(f"Tk sees a {ready['screen']} screen on {server.display}")
        self._mark = len(self.events())

    def center(self, name: str) -> tuple[int, int]:
        x, y, w, h = self.widgets[name]
        return x + w // 2, y + h // 2

    def events(self) -> list[dict]:
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.endswith("}")]

    def new_events(self) -> list[dict]:
        """Events logged since the app became ready (or since :meth:`mark`)."""
        return self.events()[self._mark:]

    def mark(self) -> None:
        self._mark = len(self.events())

    def wait_for(self, done: Callable[[list[dict]], bool], *, timeout: float = 5.0) -> list[dict]:
        """Poll the log until ``done(events)`` holds; fail with what was logged when the deadline passes."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.events()
            if done(events):
                return events
            if self.process.poll() is not None:
                err = self.stderr.read_text(errors="replace")
                raise AssertionError(f"the Tk app exited ({self.process.returncode}): {err}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s; the Tk app logged: {events[-30:]}")
            time.sleep(0.02)

    def wait_new(self, done: Callable[[list[dict]], bool], *, timeout: float = 5.0) -> list[dict]:
        mark = self._mark
        return self.wait_for(lambda evs: done(evs[mark:]), timeout=timeout)[mark:]

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture
def tk_app(tmp_path: Path) -> Iterator[Callable[[XvfbServer], TkApp]]:
    """Start the Tk app on a server (``tk_app(server)``); stopped when the test ends."""
    apps: list[TkApp] = []

    def start(server: XvfbServer) -> TkApp:
        app = TkApp(server, tmp_path / f"tk-{len(apps)}.jsonl")
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.stop()


def add_randr_monitors(server: XvfbServer, boxes: list[tuple[str, int, int, int, int]]) -> None:
    """Split the server's screen into RandR 1.5 monitors ``(name, x, y, width, height)``, like ``xrandr
    --setmonitor NAME WxH+X+Y none`` (x11-xserver-utils is not needed: one raw RRSetMonitor request each).

    mss lists them after the root, in order, so a test gets real multi-monitor geometry from one Xvfb.
    """
    from Xlib.display import Display
    from Xlib.ext import randr
    from Xlib.protocol import rq

    class SetMonitor(rq.Request):  # RandR 1.5, minor opcode 43; MONITORINFO without outputs
        _request = rq.Struct(
            rq.Card8("opcode"), rq.Opcode(43), rq.RequestLength(), rq.Window("window"),
            rq.Card32("name"), rq.Bool("primary"), rq.Bool("automatic"), rq.LengthOf("outputs", 2),
            rq.Int16("x"), rq.Int16("y"), rq.Card16("width"), rq.Card16("height"),
            rq.Card32("width_mm"), rq.Card32("height_mm"), rq.List("outputs", rq.Card32Obj),
        )

    d = Display(server.display)
    try:
        opcode = d.query_extension(randr.extname).major_opcode
        for i, (name, x, y, w, h) in enumerate(boxes):
            SetMonitor(
                display=d.display, opcode=opcode, window=d.screen().root, name=d.intern_atom(name),
                primary=i == 0, automatic=False, x=x, y=y, width=w, height=h,
                width_mm=w * 254 // 960, height_mm=h * 254 // 960, outputs=[],
            )
        d.sync()
    finally:
        d.close()
