"""One phone behind an adb server (:class:`AdbPhone`): shell commands and screenshots with a deadline each.

adbutils' own habit of running ``adb start-server`` when nothing listens is switched off here
(:func:`client_class`), and every failure comes out as :class:`~vlagent.envs.errors.DeviceError`. The
Android env (:mod:`vlagent.envs.android`) and the demonstration recorder both drive a phone through it,
which is why it is a module of its own.
"""

from __future__ import annotations

import functools
import math
import os
import socket
import time
from collections.abc import Sequence
from typing import Any

from vlagent.actions.errors import EnvError
from vlagent.envs.android_input import batch_command_lines, command_line
from vlagent.envs.errors import DependencyNotInstalled, DeviceError

INSTALL_HINT = "pip install 'vlagent[android]'"
DEFAULT_PORT = 5037
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TRANSITIONAL_STATES = frozenset({"offline", "connecting", "authorizing"})


def server_port(port: int | None = None) -> int:
    """The adb server port: the one given, else ``$ANDROID_ADB_SERVER_PORT`` (as adb reads it), else 5037.

    Example:
        >>> server_port(5038)
        5038
    """
    if port is not None:
        return _port_number(port, "adb_port")
    return _port_number(os.environ.get("ANDROID_ADB_SERVER_PORT") or DEFAULT_PORT, "ANDROID_ADB_SERVER_PORT")


def _port_number(value: object, name: str) -> int:
    """``value`` as a TCP port (an int, or digits as JSON or the environment give them), else a typed error."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise EnvError(f"{name} must be a port number in 1..65535, got {value!r}")  # reachable from --env-kwargs
    return value


def import_adbutils() -> Any:
    """adbutils, or :class:`DependencyNotInstalled` saying how to install it (imported only when used)."""
    try:
        import adbutils
    except ImportError as exc:
        raise DependencyNotInstalled("adbutils", hint=INSTALL_HINT) from exc
    return adbutils


@functools.cache
def client_class() -> type:
    """The adbutils client class whose connections never run ``adb start-server`` and always carry a timeout."""
    adbutils = import_adbutils()

    class _Connection(adbutils.AdbConnection):  # type: ignore[misc,name-defined]
        # adbutils falls back to spawning `adb start-server` (on the default port) when a connect fails;
        # here a missing server is the caller's error to report.
        def _safe_connect(self) -> socket.socket:
            return self._create_socket()

    class _Client(adbutils.AdbClient):  # type: ignore[misc,name-defined]
        def __init__(self, host: str, port: int, timeout: float) -> None:
            super().__init__(host, port, socket_timeout=timeout)
            self.timeout = timeout

        def make_connection(self, timeout: float | None = None) -> Any:
            conn = _Connection(self.host, self.port)
            conn.conn.settimeout(timeout or self.timeout)
            return conn

    return _Client


class AdbPhone:
    """One phone behind an adb server: shell commands and screenshots, each bounded by ``timeout``.

    Errors of every kind (no server, no such serial, unauthorised, offline, no answer in time) come out as
    :class:`DeviceError` with what to do about them.

    Example:
        >>> AdbPhone.describe([("emulator-5554", "device"), ("R58M", "unauthorized")])
        'emulator-5554 (device), R58M (unauthorized)'
    """

    def __init__(
        self, serial: str | None = None, host: str = "127.0.0.1", port: int | None = None, *, timeout: float = 10.0
    ) -> None:
        # Both reachable from --env-kwargs, where JSON may give a string.
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise EnvError(f"timeout must be a number of seconds, got {timeout!r}")
        if not 0 < timeout < math.inf:
            raise EnvError(f"timeout must be > 0, got {timeout}")
        adbutils = import_adbutils()
        self._errors = adbutils.AdbError
        self._timeout_error = adbutils.AdbTimeout
        self.host, self.port, self.timeout = host, server_port(port), timeout
        self.client = client_class()(host, self.port, timeout)
        self.serial = self._select(serial or os.environ.get("ANDROID_SERIAL") or None)

    # -- device selection ---------------------------------------------------------------------------------

    @staticmethod
    def describe(devices: Sequence[tuple[str, str]]) -> str:
        return ", ".join(f"{s} ({state})" for s, state in devices) or "none"

    def devices(self) -> list[tuple[str, str]]:
        """(serial, state) of every device the server knows, as ``adb devices`` lists them."""
        try:
            return [(d.serial, d.state) for d in self.client.list()]
        except self._errors as exc:
            raise DeviceError(
                f"no adb server answers at {self.host}:{self.port} ({exc}); start one with "
                f"`adb -P {self.port} start-server` and attach a phone"
            ) from exc
        except OSError as exc:
            raise DeviceError(f"adb server at {self.host}:{self.port} failed: {exc}") from exc

    def _select(self, serial: str | None) -> str:
        devices = self.devices()
        if serial is None:
            ready = [s for s, state in devices if state == "device"]
            if len(ready) == 1:
                return ready[0]
            if len(ready) > 1:
                raise DeviceError(
                    f"{len(ready)} devices are attached ({', '.join(ready)}); choose one with android:SERIAL "
                    "(or set ANDROID_SERIAL)"
                )
            if not devices:
                raise DeviceError(
                    f"no device is attached to the adb server at {self.host}:{self.port}: plug a phone in with "
                    "USB debugging on, start an emulator, or `adb connect HOST:PORT`"
                )
            return self._wait_ready(devices[0][0])
        if serial not in dict(devices):
            if ":" not in serial:
                raise DeviceError(
                    f"no device {serial!r} on the adb server at {self.host}:{self.port}; attached: "
                    f"{self.describe(devices)}"
                )
            self._connect(serial)
        return self._wait_ready(serial)

    def _connect(self, address: str) -> None:
        try:
            reply = self.client.connect(address, timeout=self.timeout)
        except (self._errors, OSError) as exc:
            raise DeviceError(f"adb connect {address} failed: {exc}") from exc
        if "authenticate" in reply:
            raise DeviceError(
                f"device {address} is unauthorized: accept the 'Allow debugging?' prompt on it, then try again"
            )
        if "connected" not in reply or "cannot" in reply or "failed" in reply:
            raise DeviceError(f"adb connect {address} failed: {reply.strip()}")

    def _wait_ready(self, serial: str) -> str:
        """Wait (briefly) while a device is still connecting; refuse it if it is unauthorised or gone."""
        deadline = time.monotonic() + min(self.timeout, 3.0)
        while True:
            state = dict(self.devices()).get(serial)
            if state == "device":
                return serial
            if state == "unauthorized":
                raise DeviceError(
                    f"device {serial} is unauthorized: unlock it and accept the 'Allow USB debugging?' prompt "
                    "for this computer's key, then try again"
                )
            if state not in _TRANSITIONAL_STATES or time.monotonic() >= deadline:
                what = "is not attached" if state is None else f"is {state}"
                raise DeviceError(f"device {serial} {what} (adb server {self.host}:{self.port})")
            time.sleep(0.05)  # polling the server's device list while the handshake finishes

    # -- services -----------------------------------------------------------------------------------------

    def _service(self, service: str, *, timeout: float | None = None) -> bytes:
        """Open ``service`` on the phone (``shell:...``, ``exec:...``) and read its output to the end."""
        limit = timeout or self.timeout
        deadline = time.monotonic() + limit
        conn = None
        try:
            conn = self.client.make_connection(timeout=limit)
            conn.send_command(f"host:transport:{self.serial}")
            conn.check_okay()
            conn.send_command(service)
            conn.check_okay()
            sock = conn.conn
            out = bytearray()
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError()
                sock.settimeout(left)
                chunk = sock.recv(1 << 16)
                if not chunk:
                    return bytes(out)
                out += chunk
        except (self._timeout_error, TimeoutError) as exc:  # socket.timeout is TimeoutError
            raise DeviceError(
                f"device {self.serial} did not answer {service[:80]!r} within {limit:g}s (hung, asleep or unplugged)"
            ) from exc
        except self._errors as exc:
            raise DeviceError(f"device {self.serial}: {exc} (while running {service[:80]!r})") from exc
        except (OSError, EOFError) as exc:
            raise DeviceError(f"connection to the adb server lost while running {service[:80]!r}: {exc}") from exc
        finally:
            if conn is not None:
                # The service has closed its side; the raw close skips adbutils' half-close-and-sleep.
                conn.conn.close()

    def shell(self, *argvs: Sequence[str], timeout: float | None = None) -> str:
        """Run argvs in one device command line (each argument quoted) and return the output as text."""
        return self._service("shell:" + command_line(*argvs), timeout=timeout).decode("utf-8", "replace")

    def run_batched(self, argvs: Sequence[Sequence[str]], *, timeout: float | None = None) -> str:
        """Run many argvs in as few command lines as fit the device's limit; the outputs joined."""
        return "".join(
            self._service("shell:" + line, timeout=timeout).decode("utf-8", "replace")
            for line in batch_command_lines(argvs)
        )

    def screencap(self) -> bytes:
        """PNG bytes of the screen, through ``exec-out`` (raw bytes; ``shell`` may mangle newlines)."""
        data = self._service("exec:screencap -p")
        if not data.startswith(PNG_SIGNATURE):
            preview = data[:200].decode("utf-8", "replace")
            raise DeviceError(f"device {self.serial}: screencap did not return a PNG: {preview!r}")
        return data
