"""Monitor selection and offsets on a real two-monitor X screen (one 2048x768 Xvfb split by RandR)."""

from __future__ import annotations

import pytest
from xvfb_fixtures import add_randr_monitors, requires_tk, requires_xvfb, tk_app, xvfb_factory  # noqa: F401

from vlagent.actions.coords import Point
from vlagent.actions.errors import EnvError
from vlagent.actions.models import Click
from vlagent.envs.desktop import DesktopEnv
from vlagent.envs.settle import SettlePolicy

pytestmark = [requires_xvfb, requires_tk, pytest.mark.xvfb, pytest.mark.timeout(120)]

PAD = (0x00, 0x80, 0xFF)
OK = (0x20, 0xA0, 0x40)


@pytest.fixture(scope="module")
def wide(xvfb_factory):  # noqa: F811
    server = xvfb_factory(2048, 768)
    add_randr_monitors(server, [("LEFT", 0, 0, 1024, 768), ("RIGHT", 1024, 0, 1024, 768)])
    return server


def env_on(server, monitor):
    return DesktopEnv(monitor=monitor, display=server.display, settle=SettlePolicy(interval=0.02, deadline=2.0))


def test_all_monitors_geometry_is_known(wide):
    env = env_on(wide, 1)
    try:
        boxes = [(m.index, m.left, m.top, m.width, m.height) for m in env.monitors]
        assert boxes[:3] == [(0, 0, 0, 2048, 768), (1, 0, 0, 1024, 768), (2, 1024, 0, 1024, 768)]
        assert env.monitors[1].primary and not env.monitors[2].primary
    finally:
        env.close()


def test_second_monitor_is_captured_and_clicked_at_its_offset(wide, tk_app):  # noqa: F811
    app = tk_app(wide)
    px, py = app.center("pad")  # root coordinates; the pad lies on the right monitor
    assert px >= 1024
    env = env_on(wide, 2)
    try:
        obs, _ = env.reset()
        assert obs.size == (1024, 768) and obs.scale == 1.0
        assert obs.screenshot.getpixel((px - 1024, py + 8)) == PAD
        env.step(Click(point=Point(x=px - 1024, y=py, space="screen")))
    finally:
        env.close()
    events = app.wait_new(lambda evs: any(e["ev"] == "release" for e in evs))
    assert [(e["w"], e["x"], e["y"]) for e in events if e["ev"] == "press"] == [("pad", px, py)]


def test_first_monitor_has_no_offset(wide, tk_app):  # noqa: F811
    app = tk_app(wide)
    ox, oy = app.center("ok")
    env = env_on(wide, 1)
    try:
        obs, _ = env.reset()
        assert obs.screenshot.getpixel((ox, oy + 8)) == OK
        env.step(Click(point=Point(x=ox, y=oy, space="screen")))
    finally:
        env.close()
    events = app.wait_new(lambda evs: any(e["ev"] == "release" for e in evs))
    assert [(e["w"], e["x"], e["y"]) for e in events if e["ev"] == "press"] == [("ok", ox, oy)]


def test_unknown_monitor_lists_the_ones_there(wide):
    with pytest.raises(EnvError, match=r"monitors 0\.\.3.*2=1024x768\+1024\+0"):
        env_on(wide, 7)
