"""An Android phone or emulator over ADB: ``screencap`` screenshots, ``input`` gestures, keys, text, apps.

Spec ``android`` (the only attached device, or ``$ANDROID_SERIAL``) or ``android:SERIAL`` (a serial from
``adb devices``; a ``HOST:PORT`` serial that is not attached yet is ``adb connect``-ed first).

The env talks to an adb server (``adb start-server``; host and port are arguments) through adbutils. Every
call carries a deadline, so a phone that is unplugged, crashed or waiting for the "Allow USB debugging?"
prompt ends in :class:`~vlagent.envs.errors.DeviceError` within ``timeout`` seconds instead of a hang.
adbutils' own habit of running ``adb start-server`` when nothing listens is switched off: the env never
starts programs behind the user's back.

Actions (points are pixels of the last screenshot, which follows the display rotation as ``input`` does):

- ``click`` -> ``input tap`` (``count`` taps in one command line, so a double tap is two quick taps);
  ``long_press`` -> ``input swipe x y x y MS``; ``drag`` -> ``input swipe`` from start to end.
- ``scroll`` -> a swipe the opposite way: scrolling ``down`` shows what is below, so the finger moves up
  (see :func:`vlagent.envs.android_input.scroll_swipe`); ``amount`` is tenths of the screen.
- ``key`` -> ``input keyevent KEYCODE_*``; ``navigate`` -> BACK, HOME, APP_SWITCH.
- ``type`` -> ``input text`` for ASCII, newlines as ENTER; other text through the ADB Keyboard IME
  (selected for the moment of typing, then the previous keyboard is restored) or a typed error.
- ``open_app`` -> ``monkey -p PACKAGE -c android.intent.category.LAUNCHER 1``; a name that is not a
  package is looked up in :data:`COMMON_APPS` and the ``apps`` argument.
- ``wait`` sleeps (the model asked for it); ``finished`` ends the episode.

Every argument is quoted for the device's ``sh -c`` (:mod:`vlagent.envs.android_input`). After each
action the env polls screenshots until two in a row are equal (:class:`~vlagent.envs.settle.SettlePolicy`).
``info["timings"]`` (:class:`~vlagent.envs.base.EnvTimings`) splits each reset/step into ``act`` (the
device commands; HOME on reset), ``settle`` (the polling) and ``capture`` (the screencap of the returned
frame and its PNG decoding).
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from gymnasium.envs.registration import EnvSpec
from PIL import Image

from vlagent.actions.errors import EnvError, UnsupportedActionError
from vlagent.actions.models import (
    Click,
    Drag,
    Finished,
    Key,
    LongPress,
    Navigate,
    OpenApp,
    Scroll,
    TypeText,
    Wait,
)
from vlagent.envs.adb_phone import INSTALL_HINT, AdbPhone, client_class, import_adbutils, server_port
from vlagent.envs.android_input import (
    ADB_KEYBOARD_IME,
    key_argv,
    scroll_swipe,
    swipe_argv,
    text_argvs,
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
from vlagent.envs.errors import (
    AppNotFound,
    DeviceError,
    check_env_kwargs,
)
from vlagent.envs.settle import SettlePolicy

NEEDS = (
    "an adb server (Android platform-tools or Debian's adb; `adb start-server`) with a phone or emulator "
    "attached and authorised (USB debugging, or `adb connect HOST:PORT`), and adbutils "
    "(pip install 'vlagent[android]'); the ADB Keyboard IME on the phone to type non-ASCII text"
)

#: App names models write, mapped to the package ``open_app`` launches (AOSP and Google apps).
COMMON_APPS: dict[str, str] = {
    "settings": "com.android.settings",
    "chrome": "com.android.chrome",
    "camera": "com.android.camera2",
    "contacts": "com.android.contacts",
    "phone": "com.google.android.dialer",
    "messages": "com.google.android.apps.messaging",
    "clock": "com.google.android.deskclock",
    "calendar": "com.google.android.calendar",
    "files": "com.google.android.documentsui",
    "gmail": "com.google.android.gm",
    "maps": "com.google.android.apps.maps",
    "photos": "com.google.android.apps.photos",
    "play store": "com.android.vending",
    "youtube": "com.google.android.youtube",
    "calculator": "com.google.android.calculator",
}
_PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")
_NAVIGATE_KEYS = {"back": "KEYCODE_BACK", "home": "KEYCODE_HOME", "recents": "KEYCODE_APP_SWITCH"}


def _check_output(what: str, output: str) -> None:
    """``input`` prints nothing on success; the legacy shell has no exit status, so errors are read from text."""
    lowered = output.lower()
    if any(marker in lowered for marker in ("error", "exception", "usage:", "not found", "inaccessible")):
        raise DeviceError(f"{what} failed on the phone: {output.strip()[:500]}")


class AndroidEnv(LiveScreenEnv):
    """An Android phone or emulator as a gymnasium env (screenshots + ``input`` over ADB).

    Args:
        serial: the device (``adb devices``); ``None`` takes ``$ANDROID_SERIAL`` or the only device attached.
        adb_host: the adb server's host.
        adb_port: the adb server's port (default ``$ANDROID_ADB_SERVER_PORT``, else 5037).
        timeout: seconds any one adb call may take before it is a :class:`DeviceError`.
        settle: how to wait for the screen to settle after an action.
        apps: extra app names for ``open_app`` (case-insensitive) -> package, on top of :data:`COMMON_APPS`.
        home_on_reset: press HOME at every reset, so episodes start on the home screen
            (``options={"home": False}`` skips it for one reset).
        render_mode: ``None`` or ``"rgb_array"`` (the last screenshot).

    Example:
        >>> sorted(AndroidEnv.supported_actions)[:5]
        ['click', 'drag', 'finished', 'key', 'long_press']
    """

    family: ClassVar = "mobile"
    supported_actions: ClassVar[frozenset[str]] = frozenset(
        {"click", "long_press", "drag", "scroll", "type", "key", "navigate", "open_app", "wait", "finished"}
    )

    def __init__(
        self,
        serial: str | None = None,
        adb_host: str = "127.0.0.1",
        adb_port: int | None = None,
        *,
        timeout: float = 10.0,
        settle: SettlePolicy | None = None,
        apps: Mapping[str, str] | None = None,
        home_on_reset: bool = True,
        render_mode: str | None = None,
    ) -> None:
        self.render_mode = check_render_mode(render_mode, EnvError)
        # A phone is not deterministic (clocks, notifications, animations): the spec says so, which also
        # tells gymnasium's env checker not to expect equal steps from equal seeds.
        self.spec = EnvSpec(
            "vlagent/Android-v0", entry_point="vlagent.envs.android:AndroidEnv", nondeterministic=True,
            kwargs={"serial": serial, "adb_host": adb_host, "adb_port": server_port(adb_port), "timeout": timeout},
        )
        self.phone = AdbPhone(serial, adb_host, adb_port, timeout=timeout)
        self.serial = self.phone.serial
        self._settle = settle or SettlePolicy()
        self.apps = {**COMMON_APPS, **{k.lower(): v for k, v in (apps or {}).items()}}
        self.home_on_reset = home_on_reset
        size = self._decode(self.phone.screencap()).size
        self.observation_space = ObservationSpace(None, "mobile")  # rotation changes the size
        self.action_space = ActionSpace(self.supported_actions, size=size)
        self._task = ""
        self._last_obs: Observation | None = None
        self._done = False
        self._imes: list[str] | None = None

    # -- observing ----------------------------------------------------------------------------------------

    @staticmethod
    def _decode(png: bytes) -> Image.Image:
        try:
            with Image.open(io.BytesIO(png)) as img:
                return img.convert("RGB")
        except OSError as exc:  # PIL.UnidentifiedImageError and truncated files
            raise DeviceError(f"the phone's screenshot is not a readable PNG: {exc}") from exc

    def _observe(self, timings: EnvTimings) -> tuple[Observation, dict[str, Any]]:
        settled = self._settle.wait_timed(self.phone.screencap, timings)
        with timings.measure(CAPTURE):
            image = self._decode(settled.frame)
        orientation = "landscape" if image.width > image.height else "portrait"
        obs = Observation(
            image, task=self._task, family="mobile", extra={"serial": self.serial, "orientation": orientation}
        )
        if image.size != self.action_space.size:
            self.action_space = ActionSpace(self.supported_actions, size=image.size)
        self._last_obs = obs
        return obs, {"settled": settled.settled, "polls": settled.polls, "timings": timings}

    # -- gymnasium API ------------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode: HOME (unless turned off), then observe; ``options["task"]`` is the task."""
        super().reset(seed=seed)
        self._task, options = task_option(options)
        self._imes = None  # keyboards may have been installed since the last episode
        timings = EnvTimings()
        if options.get("home", self.home_on_reset):
            with timings.measure(ACT):
                _check_output("KEYCODE_HOME", self.phone.shell(["input", "keyevent", "KEYCODE_HOME"]))
        self._done = False
        return self._observe(timings)

    def close(self) -> None:
        self._last_obs = None

    # -- acting -------------------------------------------------------------------------------------------

    def _tap(self, action: Click) -> None:
        if action.button != "left":
            raise UnsupportedActionError(
                "click", self.supported_actions, detail=f"a touch screen has no {action.button} button"
            )
        tap = ["input", "tap", str(round(action.point.x)), str(round(action.point.y))]
        _check_output("input tap", self.phone.shell(*[tap] * action.count))

    def _long_press(self, action: LongPress) -> None:
        p = action.point
        _check_output("long press", self.phone.shell(swipe_argv(p.x, p.y, p.x, p.y, action.duration)))

    def _swipe(self, action: Drag) -> None:
        s, e = action.start, action.end
        _check_output("input swipe", self.phone.shell(swipe_argv(s.x, s.y, e.x, e.y, action.duration)))

    def _scroll(self, action: Scroll) -> None:
        size = self._last_obs.size if self._last_obs is not None else self.action_space.size
        at = (action.point.x, action.point.y) if action.point is not None else None
        path = scroll_swipe(action.direction, action.amount, size, at)  # type: ignore[arg-type]
        _check_output("scroll swipe", self.phone.shell(swipe_argv(*path, 0.5)))

    def _key(self, action: Key) -> None:
        _check_output(f"key {action.name}", self.phone.shell(key_argv(action.name)))

    def _navigate(self, action: Navigate) -> None:
        _check_output(f"navigate {action.to}", self.phone.shell(["input", "keyevent", _NAVIGATE_KEYS[action.to]]))

    def _launch(self, action: OpenApp) -> None:
        self._open_app(action.name)

    def _wait(self, action: Wait) -> None:
        self._settle.sleep(action.seconds)  # the model asked to wait; the wait is the action itself

    def _finished(self, action: Finished) -> None:
        """Nothing to do on the phone: the episode ends."""

    def _installed_imes(self) -> list[str]:
        if self._imes is None:
            self._imes = self.phone.shell(["ime", "list", "-a", "-s"]).split()
        return self._imes

    def _type(self, action: TypeText) -> None:
        plain = all(" " <= ch <= "~" or ch in "\r\n\t" for ch in action.text)
        keyboard = not plain and ADB_KEYBOARD_IME in self._installed_imes()
        argvs = text_argvs(action.text, adb_keyboard=keyboard)  # raises NonAsciiTextError before typing anything
        if action.submit:
            argvs.append(["input", "keyevent", "KEYCODE_ENTER"])
        if not keyboard:
            _check_output("input text", self.phone.run_batched(argvs))
            return
        previous = self.phone.shell(["settings", "get", "secure", "default_input_method"]).strip()
        out = self.phone.shell(["ime", "enable", ADB_KEYBOARD_IME], ["ime", "set", ADB_KEYBOARD_IME])
        if "selected" not in out:
            raise DeviceError(f"could not select the ADB Keyboard ({ADB_KEYBOARD_IME}): {out.strip()[:300]}")
        try:
            out = self.phone.run_batched(argvs)
            broadcasts = sum(1 for a in argvs if a[0] == "am")
            if out.count("Broadcast completed") < broadcasts:
                raise DeviceError(f"the ADB Keyboard broadcast did not complete: {out.strip()[:300]}")
            _check_output("typing through the ADB Keyboard", out)
        finally:
            if previous and previous != ADB_KEYBOARD_IME and previous != "null":
                self.phone.shell(["ime", "set", previous])

    def _open_app(self, name: str) -> None:
        package = name.strip() if _PACKAGE.match(name.strip()) else self.apps.get(name.strip().lower())
        if package is None:
            raise AppNotFound(
                name,
                detail="give a package name (com.example.app) or one of: " + ", ".join(sorted(self.apps)),
            )
        out = self.phone.shell(["monkey", "-p", package, "-c", "android.intent.category.LAUNCHER", "1"])
        if "No activities found" in out or "monkey aborted" in out:
            raise AppNotFound(name, detail=f"no launchable app {package} is installed on {self.serial}")
        if "Events injected" not in out:
            raise DeviceError(f"monkey could not launch {package}: {out.strip()[:300]}")

    action_handlers: ClassVar[Mapping[str, Handler]] = MappingProxyType({
        "click": _tap,
        "long_press": _long_press,
        "drag": _swipe,
        "scroll": _scroll,
        "type": _type,
        "key": _key,
        "navigate": _navigate,
        "open_app": _launch,
        "wait": _wait,
        "finished": _finished,
    })


def availability(host: str = "127.0.0.1", port: int | None = None) -> tuple[bool, str]:
    """Whether an Android env can run here: adbutils importable, an adb server answering, a device ready.

    Never starts an adb server: it reports what is missing instead.
    """
    import importlib.util

    if importlib.util.find_spec("adbutils") is None:
        return False, f"adbutils not installed: {INSTALL_HINT}"
    port = server_port(port)
    try:
        devices = [(d.serial, d.state) for d in client_class()(host, port, 2.0).list()]
    except (import_adbutils().AdbError, OSError, EOFError) as exc:  # no server, refused: report, do not raise
        binary = shutil.which("adb")
        hint = (
            f"start it with `adb -P {port} start-server`"
            if binary
            else "adb not found: apt install adb, or install Android platform-tools"
        )
        return False, f"no adb server at {host}:{port} ({type(exc).__name__}); {hint}"
    ready = [s for s, state in devices if state == "device"]
    listed = AdbPhone.describe(devices)
    if not ready:
        return False, f"adb server {host}:{port} is up but no device is ready (devices: {listed})"
    return True, f"adb server {host}:{port}; devices: {listed}"


def make(arg: str | None, **kwargs: Any) -> AndroidEnv:
    """Build the env for the spec ``android`` or ``android:SERIAL``; keywords go to :class:`AndroidEnv`."""
    if arg:
        kwargs["serial"] = arg
    check_env_kwargs(AndroidEnv, kwargs, "android")
    return AndroidEnv(**kwargs)
