"""The real desktop: mss screenshots of one monitor, pyautogui input, a measured HiDPI scale.

Spec ``desktop`` (monitor 1) or ``desktop:N`` (monitor N, numbered as mss numbers them: 0 is all monitors
together, 1.. are the single monitors).

Coordinates: an action's points are pixels of the last screenshot (physical pixels of the chosen monitor).
pyautogui moves in logical points of the whole desktop, so each point becomes
``((monitor_origin + point) / scale)`` where ``scale`` (physical pixels per logical point) is *measured* at
every reset from the size of a capture and ``pyautogui.size()``, never assumed: 1.0 on X11 and on Windows
(pyautogui makes itself DPI-aware), 2.0 on a Retina Mac. The conversion of one point is
:func:`vlagent.actions.coords.to_logical`.

Safety: pyautogui's FAILSAFE stays on (moving the pointer into a screen corner aborts the run with
:class:`FailSafeTriggered`), so an action aimed exactly at a corner pixel is refused with a
``CoordinateError`` instead of arming the fail-safe against the next action.

Text: pyautogui types printable ASCII only, and on X11 it types '<' as '>'. On X11 text is therefore typed
with :class:`vlagent.envs.x11_text.XTestTyper` (XTEST through python-xlib, which pyautogui already needs):
any Unicode text, each missing character on a spare key code of its own (why not ``xdotool type``: see that
module). Elsewhere pyautogui types printable ASCII and other text raises a clear error. Control characters
other than newline and tab are refused.

After each action the env waits for the screen to settle (:class:`vlagent.envs.settle.SettlePolicy`):
it polls screenshots until two in a row are equal or the deadline passes; no fixed sleeps. ``info`` says
whether it ``settled``, after how many ``polls``, and ``timings`` (:class:`vlagent.envs.base.EnvTimings`):
``act`` (the input; on reset, re-measuring the monitors), ``settle`` (the polling) and ``capture`` (the
grab of the returned frame and its conversion to an image).

Recording: the env's X connection is marked as the agent's (:func:`vlagent.envs.x11_record.mark_agent`),
so a demonstration recorder on the same display never records the env's input as a person's.

Displays: pyautogui opens its X connection once, at import, on ``$DISPLAY``. Each env opens its own
connection to its display (``display=``, default ``$DISPLAY``), which is swapped into pyautogui (with the
fail-safe corners of that screen) under a lock for the duration of each action, so an env never acts
through a connection to another (or a dead) server. pyautogui's key table stays the one read from the first
display, so displays are assumed to share a keymap (true for Xvfb servers).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

from PIL import Image

from vlagent.actions.coords import Geometry, Point, to_logical
from vlagent.actions.errors import CoordinateError, EnvError, UnsupportedActionError
from vlagent.actions.models import (
    Click,
    Drag,
    Finished,
    Hotkey,
    Key,
    LongPress,
    Move,
    Scroll,
    TypeText,
    Wait,
)
from vlagent.envs.base import (
    ACT,
    CAPTURE,
    ActionSpace,
    EnvTimings,
    Handler,
    LiveScreenEnv,
    Observation,
    ObservationSpace,
    check_render_mode,
    task_option,
)
from vlagent.envs.desktop_input import INSTALL_HINT, DesktopInput, x_reason
from vlagent.envs.desktop_input import FailSafeTriggered as FailSafeTriggered  # part of this env's API
from vlagent.envs.errors import DependencyNotInstalled, DeviceError, check_env_kwargs
from vlagent.envs.settle import SettlePolicy

NEEDS = "an X11 display ($DISPLAY) and the packages mss and pyautogui (pip install 'vlagent[desktop]')"

#: vlagent's canonical key names (``normalize_key``) whose pyautogui name differs.
_PYAUTOGUI_KEYS = {"menu": "apps"}
#: Canonical keys that exist on phones only; a desktop has no key for them.
_PHONE_ONLY_KEYS = frozenset({"back", "recents", "power", "search", "camera"})
#: Printable ASCII plus newline and tab: the text pyautogui.write knows keys for (used off X11).
_PLAIN_TEXT = frozenset(chr(c) for c in range(32, 127)) | {"\n", "\t"}

@dataclass(frozen=True)
class Monitor:
    """One monitor as mss reports it; index 0 is the box around all monitors.

    ``left``/``top``/``width``/``height`` are in mss's desktop coordinates (pixels on X11 and Windows, points
    on macOS).

    Example:
        >>> Monitor(index=2, left=1920, top=0, width=1280, height=1024).size
        (1280, 1024)
    """

    index: int
    left: int
    top: int
    width: int
    height: int
    primary: bool = False
    name: str = ""

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @classmethod
    def from_mss(cls, index: int, raw: dict[str, Any]) -> Monitor:
        return cls(
            index=index,
            left=int(raw["left"]),
            top=int(raw["top"]),
            width=int(raw["width"]),
            height=int(raw["height"]),
            primary=bool(raw.get("is_primary", False)),
            name=str(raw.get("name") or raw.get("output") or ""),
        )

    def as_mss(self) -> dict[str, int]:
        return {"left": self.left, "top": self.top, "width": self.width, "height": self.height}


def measure_scale(
    physical: tuple[int, int], logical: tuple[int, int], *, tolerance: float = 0.01
) -> float:
    """Physical pixels per logical point, from a capture's size and the input API's size of the same area.

    The two axes must agree within ``tolerance`` (relative); if they do not, the capture and the logical
    size describe different areas and the error says so rather than guessing.

    Example:
        >>> measure_scale((3840, 2160), (1920, 1080)), measure_scale((1920, 1080), (1536, 864))
        (2.0, 1.25)
    """
    pw, ph = physical
    lw, lh = logical
    if min(pw, ph, lw, lh) <= 0:
        raise DeviceError(f"cannot measure the scale from sizes {physical} (captured) and {logical} (logical)")
    sx, sy = pw / lw, ph / lh
    if abs(sx - sy) > tolerance * max(sx, sy):
        raise DeviceError(
            f"the captured screen is {pw}x{ph} pixels but pyautogui's screen is {lw}x{lh} points: the ratios "
            f"differ per axis ({sx:.3f} vs {sy:.3f}), so they do not describe the same area"
        )
    return round((sx + sy) / 2, 4)


def _import_mss() -> Any:
    try:
        import mss
    except ImportError as exc:
        raise DependencyNotInstalled("mss", hint=INSTALL_HINT) from exc
    return mss


def _display_name(display: str | None) -> str:
    name = display or os.environ.get("DISPLAY", "")
    if sys.platform.startswith("linux") and not name:
        raise DeviceError(
            "no X display: DISPLAY is not set (on a headless machine start one, e.g. "
            "`Xvfb :99 -screen 0 1920x1080x24 -nolisten tcp & export DISPLAY=:99`)"
        )
    return name


@dataclass(frozen=True)
class _Frame:
    """One raw capture (BGRA bytes); cheap to compare, converted to an image only when returned."""

    size: tuple[int, int]
    bgra: bytes

    def image(self) -> Image.Image:
        return Image.frombytes("RGB", self.size, self.bgra, "raw", "BGRX")


class DesktopEnv(LiveScreenEnv):
    """The desktop as a gymnasium env: screenshots of one monitor, pyautogui input.

    Args:
        monitor: which monitor to observe and act on (mss numbering: 1 is the first monitor, 0 all of them).
        display: the X display (default ``$DISPLAY``).
        settle: how to wait for the screen to settle after an action.
        render_mode: ``None`` or ``"rgb_array"`` (the last screenshot).

    Example:
        >>> sorted(DesktopEnv.supported_actions)[:4]
        ['click', 'drag', 'finished', 'hotkey']
    """

    family: ClassVar = "desktop"
    supported_actions: ClassVar[frozenset[str]] = frozenset(
        {"click", "long_press", "drag", "scroll", "type", "key", "hotkey", "move", "wait", "finished"}
    )

    def __init__(
        self,
        monitor: int = 1,
        display: str | None = None,
        settle: SettlePolicy | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.render_mode = check_render_mode(render_mode, EnvError)
        self.display = _display_name(display)
        self._settle = settle or SettlePolicy()
        mss = _import_mss()
        try:
            self._mss = (getattr(mss, "MSS", None) or mss.mss)(**({"display": self.display} if self.display else {}))
        except Exception as exc:  # mss.exception.ScreenShotError and Xlib/XCB connection failures
            raise DeviceError(f"mss cannot capture display {self.display!r}: {exc}") from exc
        self._input: DesktopInput | None = None
        try:
            self._input = DesktopInput(self.display)
            self.monitors: tuple[Monitor, ...] = ()
            self._refresh_monitors()
            if not 0 <= monitor < len(self.monitors):
                raise EnvError(
                    f"monitor {monitor} does not exist; this display has monitors 0..{len(self.monitors) - 1}: "
                    + ", ".join(f"{m.index}={m.width}x{m.height}+{m.left}+{m.top}" for m in self.monitors)
                )
            self.monitor = monitor
            self.scale = 1.0
            self._geo_scale = 1.0
            size = self._measure()
        except BaseException:
            self.close()
            raise
        self.observation_space = ObservationSpace(size, "desktop")
        self.action_space = ActionSpace(self.supported_actions, size=size)
        self._task = ""
        self._last_obs: Observation | None = None
        self._done = False

    # -- geometry ---------------------------------------------------------------------------------------

    def _refresh_monitors(self) -> None:
        raw = self._mss.monitors
        self.monitors = tuple(Monitor.from_mss(i, m) for i, m in enumerate(raw))

    def _reference(self) -> Monitor:
        """The area ``pyautogui.size()`` describes: the X root on Linux, the primary monitor elsewhere."""
        if sys.platform.startswith("linux") or len(self.monitors) == 1:
            return self.monitors[0]
        primaries = [m for m in self.monitors[1:] if m.primary]
        return primaries[0] if primaries else self.monitors[1]

    def _measure(self) -> tuple[int, int]:
        """Re-read the monitors, measure the scale; returns the chosen monitor's capture size."""
        if self._mss is None or self._input is None:
            raise EnvError("this DesktopEnv is closed")
        self._refresh_monitors()
        if self.monitor >= len(self.monitors):
            raise DeviceError(f"monitor {self.monitor} disappeared; the display now has {len(self.monitors)}")
        ref = self._reference()
        ref_size = self._grab(ref).size
        with self._input.bound() as pg:
            logical = tuple(pg.size())
        self.scale = measure_scale(ref_size, logical)  # type: ignore[arg-type]
        # mss's geometry is in pixels on X11/Windows and in points on macOS: how many captured pixels per unit.
        self._geo_scale = ref_size[0] / ref.width
        chosen = self.monitors[self.monitor]
        w, h = ref_size if chosen is ref else self._grab(chosen).size
        self._geometry = Geometry(width=w, height=h, resized_width=w, resized_height=h, scale=self.scale)
        return w, h

    def _to_logical(self, point: Point) -> tuple[int, int]:
        """Screenshot pixels of the chosen monitor to pyautogui's logical desktop points."""
        mon = self.monitors[self.monitor]
        desktop = Point(x=mon.left * self._geo_scale + point.x, y=mon.top * self._geo_scale + point.y, space="screen")
        return to_logical(desktop, self._geometry)

    # -- observing --------------------------------------------------------------------------------------

    def _grab(self, monitor: Monitor | None = None) -> _Frame:
        mon = monitor or self.monitors[self.monitor]
        try:
            shot = self._mss.grab(mon.as_mss())
        except Exception as exc:  # mss.exception.ScreenShotError: the display went away or refused
            raise DeviceError(f"screenshot of monitor {mon.index} on {self.display!r} failed: {x_reason(exc)}") from exc
        return _Frame((shot.width, shot.height), bytes(shot.raw))

    def _observe(self, timings: EnvTimings) -> tuple[Observation, dict[str, Any]]:
        settled = self._settle.wait_timed(self._grab, timings)
        with timings.measure(CAPTURE):
            image = settled.frame.image()
        obs = Observation(image, task=self._task, scale=self.scale, family="desktop", extra={"monitor": self.monitor})
        self._last_obs = obs
        return obs, {"settled": settled.settled, "polls": settled.polls, "timings": timings}

    # -- gymnasium API ----------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Observe the desktop as it is (a real desktop cannot be put back); ``options["task"]`` is the task."""
        super().reset(seed=seed)
        self._task, _ = task_option(options)
        timings = EnvTimings()
        with timings.measure(ACT):
            size = self._measure()
        if size != self.observation_space.size:  # the monitor's resolution changed since the last episode
            self.observation_space = ObservationSpace(size, "desktop")
            self.action_space = ActionSpace(self.supported_actions, size=size)
        self._done = False
        obs, info = self._observe(timings)
        info["scale"] = self.scale
        return obs, info

    def close(self) -> None:
        if getattr(self, "_input", None) is not None:
            self._input.close()
            self._input = None
        grabber, self._mss = getattr(self, "_mss", None), None
        if grabber is not None:
            from mss.exception import ScreenShotError

            # A display that died leaves mss's connection broken, and closing it says so once more.
            with contextlib.suppress(ScreenShotError):
                grabber.close()

    # -- acting -----------------------------------------------------------------------------------------

    def _logical_points(self, pg: Any, *points: Point) -> list[tuple[int, int]]:
        """Logical points for pyautogui; a point on a fail-safe corner is refused rather than arming it."""
        corners = {tuple(c) for c in pg.FAILSAFE_POINTS}
        out = []
        for p in points:
            xy = self._to_logical(p)
            if xy in corners:
                raise CoordinateError(
                    f"point ({p.x:g}, {p.y:g}) is the screen corner {xy}, where pyautogui's fail-safe stops the "
                    "run; aim inside the screen",
                    x=p.x,
                    y=p.y,
                )
            out.append(xy)
        return out

    def _perform(self, action: Any) -> None:
        if self._input is None:
            raise EnvError("this DesktopEnv is closed")
        self._handle(action)

    def _bound(self) -> Any:
        """A context manager holding pyautogui bound to this env's display (and its lock)."""
        if self._input is None:
            raise EnvError("this DesktopEnv is closed")
        return self._input.bound()

    def _click(self, a: Click) -> None:
        with self._bound() as pg:
            ((x, y),) = self._logical_points(pg, a.point)
            pg.click(x, y, clicks=a.count, interval=0.0, button=a.button, _pause=False)

    def _long_press(self, a: LongPress) -> None:
        with self._bound() as pg:
            ((x, y),) = self._logical_points(pg, a.point)
            pg.mouseDown(x, y, button="left", _pause=False)
            try:
                self._settle.sleep(a.duration)  # the hold is the action itself, not a wait for the screen
            finally:
                pg.mouseUp(x, y, button="left", _pause=False)

    def _drag(self, a: Drag) -> None:
        with self._bound() as pg:
            (sx, sy), (ex, ey) = self._logical_points(pg, a.start, a.end)
            pg.moveTo(sx, sy, _pause=False)
            pg.dragTo(ex, ey, duration=a.duration, button="left", _pause=False)

    def _scroll(self, a: Scroll) -> None:
        with self._bound() as pg:
            x = y = None
            if a.point is not None:
                ((x, y),) = self._logical_points(pg, a.point)
            if a.direction in ("up", "down"):
                pg.scroll(a.amount if a.direction == "up" else -a.amount, x=x, y=y, _pause=False)
            else:
                pg.hscroll(a.amount if a.direction == "right" else -a.amount, x=x, y=y, _pause=False)

    def _check_text(self, text: str) -> None:
        bad = sorted({c for c in text if c not in _PLAIN_TEXT and (ord(c) < 32 or 127 <= ord(c) < 160)})
        if bad:
            codes = ", ".join(f"U+{ord(c):04X}" for c in bad)
            raise UnsupportedActionError("type", self.supported_actions, detail=f"control characters {codes}")
        if (self._input is None or not self._input.on_x11) and not set(text) <= _PLAIN_TEXT:
            raise UnsupportedActionError(
                "type", self.supported_actions, detail="non-ASCII text can be typed only on X11"
            )

    def _type(self, a: TypeText) -> None:
        self._check_text(a.text)  # refused before anything is typed
        with self._bound() as pg:
            if self._input is None or not self._input.on_x11:
                pg.write(a.text, interval=0.0, _pause=False)
            else:
                pg.failSafeCheck()  # the typer bypasses pyautogui, so keep its fail-safe in front of it
                self._input.typer().type(a.text, between_chunks=lambda: self._settle.wait(self._grab))
            if a.submit:
                pg.press("enter", _pause=False)

    def _key_name(self, name: str) -> str:
        if name in _PHONE_ONLY_KEYS:
            raise UnsupportedActionError("key", self.supported_actions, detail=f"{name!r} is a phone key")
        key = _PYAUTOGUI_KEYS.get(name, name)
        mapping = self._input.keyboard_mapping if self._input is not None else None
        if mapping is not None and mapping.get(key) is None:  # pyautogui would silently press nothing
            raise UnsupportedActionError("key", self.supported_actions, detail=f"no key {name!r} on this keyboard")
        return key

    def _key(self, a: Key) -> None:
        with self._bound() as pg:
            pg.press(self._key_name(a.name), _pause=False)

    def _hotkey(self, a: Hotkey) -> None:
        with self._bound() as pg:
            pg.hotkey(*(self._key_name(k) for k in a.keys), interval=0.0, _pause=False)

    def _move(self, a: Move) -> None:
        if a.point is None:
            raise UnsupportedActionError(
                "move", self.supported_actions, detail="the desktop moves the pointer to a point, not a direction"
            )
        with self._bound() as pg:
            ((x, y),) = self._logical_points(pg, a.point)
            pg.moveTo(x, y, _pause=False)

    def _wait(self, a: Wait) -> None:
        self._settle.sleep(a.seconds)  # sleeping needs no pyautogui and must not hold its lock

    def _finished(self, a: Finished) -> None:
        """Nothing to do on the screen: the episode ends."""

    action_handlers: ClassVar[Mapping[str, Handler]] = MappingProxyType({
        "click": _click,
        "long_press": _long_press,
        "drag": _drag,
        "scroll": _scroll,
        "type": _type,
        "key": _key,
        "hotkey": _hotkey,
        "move": _move,
        "wait": _wait,
        "finished": _finished,
    })


def availability() -> tuple[bool, str]:
    """Whether the desktop env can run here: an X display that answers, mss and pyautogui importable."""
    import importlib.util

    missing = [p for p in ("mss", "pyautogui") if importlib.util.find_spec(p) is None]
    if missing:
        return False, f"{' and '.join(missing)} not installed: {INSTALL_HINT}"
    if sys.platform.startswith("linux"):
        display = os.environ.get("DISPLAY", "")
        if not display:
            return False, "DISPLAY is not set (no X display to observe; start Xvfb or run inside a desktop session)"
        try:
            mss = _import_mss()
            with (getattr(mss, "MSS", None) or mss.mss)(display=display) as sct:
                size = (sct.monitors[0]["width"], sct.monitors[0]["height"])
                count = len(sct.monitors) - 1
        except Exception as exc:  # mss's connection error: the server is not reachable
            return False, f"X display {display!r} does not answer: {exc}"
        return True, f"X display {display} ({size[0]}x{size[1]}, {count} monitor(s))"
    return True, "mss and pyautogui installed"


def make(arg: str | None, **kwargs: Any) -> DesktopEnv:
    """Build the env for the spec ``desktop`` or ``desktop:MONITOR``; keywords go to :class:`DesktopEnv`."""
    if arg:
        if not arg.isdigit():
            raise EnvError(f"the desktop spec takes a monitor number (desktop:2), got desktop:{arg}")
        kwargs["monitor"] = int(arg)
    check_env_kwargs(DesktopEnv, kwargs, "desktop")
    return DesktopEnv(**kwargs)
