"""The X display dies mid-episode: `vlagent run --env desktop` ends with one DeviceError line, exit 4.

A real Xvfb is killed by the policy between the screenshot it was shown and the click it answers with, so
the click goes to a server that is gone. python-xlib then fails in its own error path (``TypeError:
'BrokenPipeError' object is not subscriptable``), which used to escape the input path as a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from faults_fixtures import error_lines, only_meta, vlagent
from xvfb_fixtures import XvfbServer, requires_xvfb, start_xvfb, stop_process, xvfb_factory  # noqa: F401

from vlagent.actions.coords import Point
from vlagent.actions.models import Click
from vlagent.envs.desktop import DesktopEnv
from vlagent.envs.errors import DeviceError

pytestmark = [pytest.mark.timeout(60), pytest.mark.xvfb, requires_xvfb]


class KillDisplayThenClick:
    """A python-backend policy (``test_faults_display:KillDisplayThenClick``): kill ``victim``, then click."""

    victim: XvfbServer | None = None

    def generate(self, chats, **options):
        if self.victim is not None:
            stop_process(self.victim.process)
        return ["Action: click(start_box='(500,500)')" for _ in chats]


@pytest.fixture
def victim(xvfb_factory, tmp_path: Path) -> Iterator[XvfbServer]:  # noqa: F811 - the fixture by name
    """A display of its own to kill (pyautogui's import-time display is the factory's and stays up)."""
    xvfb_factory(320, 240)
    server = start_xvfb(640, 480, tmp_path)
    try:
        yield server
    finally:
        server.stop()


CLICK = Click(point=Point(x=10, y=10, space="screen"))


@pytest.mark.parametrize("call", ["step", "reset"])
def test_input_or_capture_on_a_display_that_died_is_a_device_error(victim: XvfbServer, call: str) -> None:
    env = DesktopEnv(display=victim.display)
    try:
        env.reset()
        stop_process(victim.process)
        with pytest.raises(DeviceError, match=f"{victim.display!r}.*[A-Za-z]+Error"):  # says what failed
            env.step(CLICK) if call == "step" else env.reset()
    finally:
        env.close()  # closing what is left of a dead connection must not raise either


def test_run_on_a_display_that_dies_mid_episode_exits_4_with_the_trajectory_closed(
    capsys, monkeypatch, tmp_path: Path, victim: XvfbServer
) -> None:
    monkeypatch.setenv("DISPLAY", victim.display)
    monkeypatch.setattr(KillDisplayThenClick, "victim", victim)
    rc, _, err = vlagent(capsys, monkeypatch, "run", "--env", "desktop", "--task", "click the middle",
                         "--backend", "python", "--model", "test_faults_display:KillDisplayThenClick",
                         "--profile", "ui-tars", "--out", str(tmp_path / "out"), "--no-report")
    (line,) = error_lines(err)
    assert rc == 4 and line.startswith("error: DeviceError:") and victim.display in line, err
    meta = only_meta(tmp_path / "out")
    assert meta.done and meta.outcome == "env_error" and meta.error.type == "DeviceError"
