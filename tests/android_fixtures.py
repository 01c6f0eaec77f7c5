"""Fixtures for the Android tests: a real adb server on a free port and loopback phones attached to it.

The adb server is Debian's ``adb`` (``scripts/setup-system.sh`` installs it), run in the foreground
(``adb -P PORT nodaemon server``) as a child of the test process, so teardown stops exactly that process
and nothing lingers; it gets its own ``HOME`` so its RSA key and state stay out of the user's
``~/.android``. Phones are :class:`adb_device.LoopbackDevice` instances, attached with ``adb connect``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from adb_device import LoopbackDevice, Phone, free_port

ADB = shutil.which("adb")


def poll(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


@dataclass
class AdbServer:
    port: int
    process: subprocess.Popen[bytes]

    def client(self, timeout: float = 5.0):
        import adbutils

        return adbutils.AdbClient("127.0.0.1", self.port, socket_timeout=timeout)

    def state(self, serial: str) -> str | None:
        return {d.serial: d.state for d in self.client().list()}.get(serial)

    def attach(self, device: LoopbackDevice, state: str = "device") -> LoopbackDevice:
        """``adb connect`` the device and wait until the server lists it in ``state``."""
        reply = self.client().connect(device.serial, timeout=5)
        # An unauthorised phone refuses the host's key: adb answers "failed to authenticate to ...".
        if "connected" not in reply and not (state == "unauthorized" and "authenticate" in reply):
            raise RuntimeError(f"adb connect {device.serial}: {reply}")
        poll(lambda: self.state(device.serial) == state, 10, f"{device.serial} to be {state}")
        return device

    def detach(self, device: LoopbackDevice) -> None:
        self.client().disconnect(device.serial)


@pytest.fixture(scope="module")
def adb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdbServer]:
    if ADB is None:
        pytest.skip("Debian's adb is not installed (scripts/setup-system.sh installs it)")
    home = tmp_path_factory.mktemp("adb-home")
    port = free_port()
    env = {**os.environ, "HOME": str(home), "ANDROID_ADB_SERVER_PORT": str(port)}
    log = open(home / "adb-server.log", "wb")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen([ADB, "-P", str(port), "nodaemon", "server"], env=env, stdout=log, stderr=subprocess.STDOUT)

    def listening() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"adb server exited with {proc.returncode}: {(home / 'adb-server.log').read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    try:
        poll(listening, 15, "the adb server to listen")
        yield AdbServer(port, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@pytest.fixture
def attach_phone(adb_server: AdbServer) -> Iterator[Callable[..., LoopbackDevice]]:
    """Make and attach loopback phones: ``attach_phone(Phone(...), authorized=True)``; all killed at teardown."""
    made: list[LoopbackDevice] = []

    def make(phone: Phone | None = None, *, authorized: bool = True) -> LoopbackDevice:
        device = LoopbackDevice(phone or Phone(), authorized=authorized)
        made.append(device)
        return adb_server.attach(device, "device" if authorized else "unauthorized")

    yield make
    for device in made:
        try:
            adb_server.detach(device)
        except Exception:  # the server may already have dropped it (killed-device tests)
            pass
        device.kill()
