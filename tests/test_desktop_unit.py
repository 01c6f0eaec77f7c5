"""Desktop env pieces that need no display: scale measurement, spec parsing, missing display/packages."""

from __future__ import annotations

import os
import sys

import pytest

from vlagent.actions.coords import Point
from vlagent.actions.errors import EnvError
from vlagent.envs import desktop, desktop_input
from vlagent.envs.desktop import Monitor, measure_scale
from vlagent.envs.errors import DependencyNotInstalled, DeviceError


@pytest.mark.parametrize(
    ("physical", "logical", "scale"),
    [
        ((1920, 1080), (1920, 1080), 1.0),  # X11, Windows (pyautogui is DPI-aware there)
        ((2880, 1800), (1440, 900), 2.0),  # Retina MacBook
        ((3840, 2160), (1920, 1080), 2.0),  # 4K at 200%
        ((1920, 1080), (1536, 864), 1.25),  # Windows 125% seen by a DPI-unaware input API
        ((2560, 1600), (1707, 1067), 1.4996),  # 150%: logical sizes are rounded, the axes agree within 1%
    ],
)
def test_scale_is_measured_from_capture_and_logical_sizes(physical, logical, scale):
    assert measure_scale(physical, logical) == pytest.approx(scale, abs=1e-3)


def test_sizes_of_different_areas_are_an_error_not_a_guess():
    # A 2-monitor capture (3840 wide) against one 1920x1080 monitor: the axes disagree (2.0 vs 1.0).
    with pytest.raises(DeviceError, match="do not describe the same area"):
        measure_scale((3840, 1080), (1920, 1080))


def test_empty_sizes_are_an_error():
    with pytest.raises(DeviceError):
        measure_scale((0, 1080), (1920, 1080))


def test_monitor_from_mss_keeps_geometry_and_primary_flag():
    m = Monitor.from_mss(2, {"left": 1920, "top": -200, "width": 1280, "height": 1024, "is_primary": True})
    assert (m.index, m.left, m.top, m.size, m.primary) == (2, 1920, -200, (1280, 1024), True)
    assert m.as_mss() == {"left": 1920, "top": -200, "width": 1280, "height": 1024}


def test_no_display_is_reported_and_refused(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    ok, why = desktop.availability()
    assert not ok and "DISPLAY is not set" in why
    with pytest.raises(DeviceError, match="DISPLAY is not set"):
        desktop.DesktopEnv()


def test_unreachable_display_is_reported(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":987")  # nothing listens there
    ok, why = desktop.availability()
    assert not ok and ":987" in why


def test_missing_package_names_the_install_command(monkeypatch):
    # A real uninstall is not possible inside the test run; None in sys.modules makes `import mss` fail the same way.
    monkeypatch.setitem(sys.modules, "mss", None)
    monkeypatch.setenv("DISPLAY", ":987")
    with pytest.raises(DependencyNotInstalled, match=r"vlagent\[desktop\]"):
        desktop.DesktopEnv()


def test_spec_argument_must_be_a_monitor_number():
    with pytest.raises(EnvError, match="monitor number"):
        desktop.make("left")


def test_envs_listing_tells_a_user_without_a_display_what_the_desktop_needs(monkeypatch):
    # What `vlagent envs` prints on a headless machine: unavailable, why, and what to install or start.
    from vlagent.envs.registry import list_envs

    monkeypatch.delenv("DISPLAY", raising=False)
    (row,) = [r for r in list_envs() if r.name == "desktop"]
    assert row.available is False and "DISPLAY is not set" in row.why
    assert "pip install 'vlagent[desktop]'" in row.needs and "DISPLAY" in row.needs


def _env_with(monitors, monitor, *, scale, geo_scale, size):
    # Xvfb has no HiDPI, so the pixel -> point arithmetic of _to_logical for a Retina Mac is checked on an env
    # object given the geometry mss reports there (no display is touched). Offsets on X11 are tested for real
    # in test_desktop_monitors.py.
    from vlagent.actions.coords import Geometry

    env = desktop.DesktopEnv.__new__(desktop.DesktopEnv)
    env.monitors = tuple(Monitor.from_mss(i, m) for i, m in enumerate(monitors))
    env.monitor, env.scale, env._geo_scale = monitor, scale, geo_scale
    env._geometry = Geometry(width=size[0], height=size[1], resized_width=size[0], resized_height=size[1], scale=scale)
    return env


def test_retina_monitor_pixels_become_points():
    # macOS: mss reports monitors in points, captures in pixels (2x); pyautogui moves in points.
    mons = [{"left": 0, "top": 0, "width": 3360, "height": 1050},
            {"left": 0, "top": 0, "width": 1440, "height": 900, "is_primary": True},
            {"left": 1440, "top": 0, "width": 1920, "height": 1050}]
    env = _env_with(mons, 1, scale=2.0, geo_scale=2.0, size=(2880, 1800))
    assert env._to_logical(Point(x=2000, y=1000, space="screen")) == (1000, 500)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Xauthority files are an X11 matter")
def test_missing_xauthority_gets_a_cookie_less_file_like_libx11(monkeypatch, tmp_path, capsys):
    # Regression: with no ~/.Xauthority (any fresh headless machine, `Xvfb -ac`) python-xlib, hence pyautogui,
    # refused to connect although libX11 clients (mss, xterm) did: `vlagent run --env desktop` failed.
    from Xlib import error as xerror
    from Xlib import xauth

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XAUTHORITY", raising=False)
    desktop_input._xauthority_fallback()
    path = os.environ["XAUTHORITY"]  # monkeypatch restores the variable after the test
    auth = xauth.Xauthority()
    assert auth.entries and path != os.devnull
    with pytest.raises(xerror.XNoAuthError):  # no cookie: python-xlib connects without one
        auth.get_best_auth(xauth.FamilyLocal, "host", 0)
    assert capsys.readouterr().out == ""  # an empty file made python-xlib print a warning on stdout
    desktop_input._remove_quietly(path)

    monkeypatch.setenv("XAUTHORITY", "/some/cookie")  # the user's own choice is kept
    desktop_input._xauthority_fallback()
    assert os.environ["XAUTHORITY"] == "/some/cookie"
    monkeypatch.delenv("XAUTHORITY")
    (tmp_path / ".Xauthority").write_bytes(b"")  # a real cookie file is python-xlib's to read
    desktop_input._xauthority_fallback()
    assert "XAUTHORITY" not in os.environ
