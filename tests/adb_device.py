"""A phone on loopback that speaks the device side of the ADB transport protocol, for the Android tests.

Why a fake: no Android device or emulator can run on the test machines (no KVM, no system image, no way
to download one), so this module plays the phone. Everything between the env and it is real: Debian's
``adb`` server connects to it with ``adb connect 127.0.0.1:PORT`` exactly as to a phone with wireless
debugging, and the env talks to that server with the real ``adbutils`` client.

What it implements, from AOSP's ``adb/protocol.txt`` and ``SERVICES.TXT`` (the parts a host exercises):

- messages: a 24-byte little-endian header ``command, arg0, arg1, data_length, data_check, magic``
  (``magic = command ^ 0xffffffff``, ``data_check`` = byte sum of the payload, checked only while the
  protocol version is below ``0x01000001``, which skips it) and the payload;
- the handshake: host ``CNXN(version, maxdata, "host::...")``, device ``CNXN`` with its banner
  ``device::ro.product.name=...;features=...``; or, for an unauthorised phone, ``AUTH(TOKEN)`` that
  refuses every signature and public key, so the host lists the phone as ``unauthorized``;
- streams: host ``OPEN(local, 0, "service\\0")``; device ``OKAY(local', local)`` or ``CLSE(0, local)``
  for a service it does not offer; data in ``WRTE``, each answered by ``OKAY`` before the next is sent;
  ``CLSE`` when the service ends;
- services ``shell:CMD`` and ``exec:CMD``: the legacy shell (no ``shell_v2`` in the banner, so the host
  never asks for it); adbd runs both as ``sh -c CMD`` with raw output.

The device shell is the real ``/bin/sh``: each command line is run by sh with an empty ``PATH`` in an
empty directory, with shell functions standing in for the phone's programs (``input``, ``am``, ``ime``,
``monkey``, ``wm``, ``getprop``, ``screencap``, ``settings``); each records the argv sh hands it. So the
tests see exactly the argv an Android shell would see, and an injection (``;``, ``$()``, backticks) shows
up as a different or extra command. The programs then act on :class:`Phone`, a synthetic phone drawn
with Pillow: a home screen with app icons at known positions, app screens, recents, rotation.

A person's input, for the recorder tests: ``getevent -pl`` describes two input devices (the keys on
``/dev/input/event0``, a touchscreen on ``/dev/input/event2`` whose raw axes span ``0..touch_max``, not
the pixels), and ``shell:getevent -lt`` is a stream that stays open, as on a phone, and carries the lines
of :meth:`Phone.person_touch` and :meth:`Phone.person_key` (the kernel's multi-touch protocol B:
tracking id, positions, ``SYN_REPORT``; ``ffffffff`` lifts the finger), stamped in seconds since the
phone's boot. Each gesture also acts on the phone (a tap opens the icon under it), so the screenshots a
recorder takes change as they would. No real phone was available to capture such a stream; the line
format is getevent's ``-l -t`` output as AOSP's getevent.c prints it.
"""

from __future__ import annotations

import base64
import io
import os
import queue
import socket
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageFont

A_SYNC, A_CNXN, A_AUTH = 0x434E5953, 0x4E584E43, 0x48545541
A_OPEN, A_OKAY, A_CLSE, A_WRTE = 0x4E45504F, 0x59414B4F, 0x45534C43, 0x45545257
A_VERSION_MIN = 0x01000000
A_VERSION_SKIP_CHECKSUM = 0x01000001
MAX_PAYLOAD = 256 * 1024
AUTH_TOKEN, AUTH_SIGNATURE, AUTH_RSAPUBLICKEY = 1, 2, 3
HEADER = struct.Struct("<6I")
NAMES = {A_SYNC: "SYNC", A_CNXN: "CNXN", A_AUTH: "AUTH", A_OPEN: "OPEN", A_OKAY: "OKAY", A_CLSE: "CLSE", A_WRTE: "WRTE"}

BANNER = b"device::ro.product.name=vlagent;ro.product.model=Loopback;ro.product.device=loop;features=cmd"
LATIN_IME = "com.android.inputmethod.latin/.LatinIME"
ADB_IME = "com.android.adbkeyboard/.AdbIME"
# The handful of android.view.KeyEvent codes the phone reacts to (names as in KeyEvent.java).
KEYCODES = {
    "KEYCODE_HOME": 3, "KEYCODE_BACK": 4, "KEYCODE_ENTER": 66, "KEYCODE_DEL": 67, "KEYCODE_APP_SWITCH": 187,
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pack(command: int, arg0: int, arg1: int, data: bytes = b"") -> bytes:
    """One ADB message: header (checksum always filled in, valid for every protocol version) + payload."""
    return HEADER.pack(command, arg0, arg1, len(data), sum(data) & 0xFFFFFFFF, command ^ 0xFFFFFFFF) + data


@dataclass(frozen=True)
class App:
    package: str
    label: str
    color: tuple[int, int, int]


APPS: tuple[App, ...] = (
    App("com.android.settings", "Settings", (90, 100, 120)),
    App("org.vlagent.notes", "Notes", (230, 170, 30)),
    App("com.android.camera2", "Camera", (40, 40, 40)),
    App("com.android.chrome", "Chrome", (30, 140, 230)),
    App("com.google.android.apps.messaging", "Messages", (20, 110, 200)),
    App("com.android.contacts", "Contacts", (60, 160, 90)),
)
APP_BY_PACKAGE = {a.package: a for a in APPS}
SHELL_PROGRAMS = ("input", "am", "ime", "monkey", "wm", "getprop", "screencap", "settings", "getevent")
KEY_DEVICE, TOUCH_DEVICE = "/dev/input/event0", "/dev/input/event2"


def decode_input_text(arg: str) -> str:
    """What Android's ``input text`` types for ``arg``: ``%s`` is a space (Input.java's sendText loop)."""
    buff = list(arg)
    escape = False
    i = 0
    while i < len(buff):
        if escape:
            escape = False
            if buff[i] == "s":
                buff[i] = " "
                del buff[i - 1]
                i -= 1
        if buff[i] == "%":
            escape = True
        i += 1
    return "".join(buff)


class DeviceShell:
    """Runs a command line with the real ``/bin/sh`` and returns the argv of each phone program it ran."""

    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="vlagent-phone-sh-")
        funcs = "".join(f'{p}() {{ _vl_rec {p} "$@"; }}\n' for p in SHELL_PROGRAMS)
        self._prelude = "_vl_rec() { printf '%s\\0' \"$#\" \"$@\" >> \"$VLAGENT_REC\"; }\n" + funcs

    def run(self, cmdline: str) -> tuple[list[list[str]], bytes]:
        """(argvs of the phone programs, in order; what sh itself printed: builtins' output, errors)."""
        fd, rec = tempfile.mkstemp(dir=self._dir, prefix="rec-")
        os.close(fd)
        try:
            proc = subprocess.run(
                ["/bin/sh", "-c", self._prelude + cmdline],
                env={"PATH": os.path.join(self._dir, "nobin"), "HOME": self._dir, "VLAGENT_REC": rec},
                cwd=self._dir,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=10,
            )
            with open(rec, "rb") as f:
                fields = f.read().split(b"\0")
        finally:
            os.unlink(rec)
        argvs: list[list[str]] = []
        i = 0
        while i < len(fields) - 1:
            n = int(fields[i])
            argvs.append([x.decode("utf-8", "surrogateescape") for x in fields[i + 1 : i + 1 + n]])
            i += 1 + n
        return argvs, proc.stdout + proc.stderr

    def close(self) -> None:
        import shutil

        shutil.rmtree(self._dir, ignore_errors=True)


@dataclass
class Phone:
    """The synthetic phone: what is on screen, what the programs did, and how the screen looks.

    For ``transition`` seconds after an app opens, an animated splash (its colour and a growing progress
    bar) fills the screen, so an env that does not wait for the screen to settle sees the splash. Coordinates are in the current orientation, as on a
    phone (``input tap`` and ``screencap`` both follow the display rotation).
    """

    natural_size: tuple[int, int] = (1080, 2400)
    rotation: int = 0
    adb_keyboard: bool = False
    transition: float = 0.0
    screen: str = "home"  # home | app | recents
    app: str | None = None
    back_stack: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    scroll: int = 0
    ime: str = LATIN_IME
    enabled_imes: list[str] = field(default_factory=lambda: [LATIN_IME])
    opened_at: float = 0.0
    commands: list[str] = field(default_factory=list)  # raw command lines, as received
    argvs: list[list[str]] = field(default_factory=list)  # every program argv, as sh split it
    taps: list[tuple[float, float]] = field(default_factory=list)
    swipes: list[tuple[float, float, float, float, int]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    launches: list[str] = field(default_factory=list)
    touch_max: tuple[int, int] = (4095, 4095)  # the touchscreen's raw ABS_MT_POSITION_X/Y maxima

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.shell = DeviceShell()
        self._png_cache: tuple[tuple, bytes] | None = None
        self.booted = time.monotonic() - 4321.0  # getevent stamps seconds since boot
        self.getevent_streams: list[queue.Queue[bytes]] = []
        self._tracking_id = 100
        self.served: set[tuple[str, str | None]] = set()  # (screen, app) of the settled screencaps served

    # ------------------------------------------------------------------ a person's input, as getevent shows it
    def getevent_pl(self) -> bytes:
        """``getevent -pl``: the key device and the touchscreen with its raw axis ranges."""
        mx, my = self.touch_max
        return (
            f"add device 1: {KEY_DEVICE}\n  name:     \"gpio-keys\"\n  events:\n"
            "    KEY (0001): KEY_VOLUMEDOWN        KEY_VOLUMEUP          KEY_POWER             KEY_BACK\n"
            "                KEY_HOMEPAGE          KEY_APPSELECT\n  input props:\n    <none>\n"
            f"add device 2: {TOUCH_DEVICE}\n  name:     \"vlagent_touchscreen\"\n  events:\n"
            "    KEY (0001): BTN_TOUCH\n"
            "    ABS (0003): ABS_MT_SLOT           : value 0, min 0, max 9, fuzz 0, flat 0, resolution 0\n"
            "                ABS_MT_TOUCH_MAJOR    : value 0, min 0, max 255, fuzz 0, flat 0, resolution 0\n"
            f"                ABS_MT_POSITION_X     : value 0, min 0, max {mx}, fuzz 0, flat 0, resolution 0\n"
            f"                ABS_MT_POSITION_Y     : value 0, min 0, max {my}, fuzz 0, flat 0, resolution 0\n"
            "                ABS_MT_TRACKING_ID    : value 0, min 0, max 65535, fuzz 0, flat 0, resolution 0\n"
            "  input props:\n    INPUT_PROP_DIRECT\n"
        ).encode()

    def _emit(self, device: str, lines: list[tuple[str, str, str]]) -> None:
        """Send ``(type, code, value)`` lines, stamped now, to every open ``getevent -lt`` stream."""
        stamp = time.monotonic() - self.booted
        text = "".join(f"[{stamp:14.6f}] {device}: {t:<12} {c:<20} {v}\n" for t, c, v in lines)
        for q in list(self.getevent_streams):
            q.put(text.encode())

    def _raw(self, x: float, y: float) -> tuple[str, str]:
        w, h = self.size
        return (f"{round(x * (self.touch_max[0] + 1) / w):08x}", f"{round(y * (self.touch_max[1] + 1) / h):08x}")

    def person_touch(self, path: list[tuple[float, float]], *, hold: float = 0.05, step: float = 0.02) -> None:
        """A finger down at ``path[0]``, moved through the rest, lifted after ``hold`` seconds; then acts."""
        self._tracking_id += 1
        rx, ry = self._raw(*path[0])
        started = time.monotonic()
        self._emit(TOUCH_DEVICE, [("EV_ABS", "ABS_MT_TRACKING_ID", f"{self._tracking_id:08x}"),
                                  ("EV_ABS", "ABS_MT_POSITION_X", rx), ("EV_ABS", "ABS_MT_POSITION_Y", ry),
                                  ("EV_KEY", "BTN_TOUCH", "DOWN"), ("EV_SYN", "SYN_REPORT", "00000000")])
        for x, y in path[1:]:
            time.sleep(step)  # the finger's speed, part of the gesture being played
            rx, ry = self._raw(x, y)
            self._emit(TOUCH_DEVICE, [("EV_ABS", "ABS_MT_POSITION_X", rx), ("EV_ABS", "ABS_MT_POSITION_Y", ry),
                                      ("EV_SYN", "SYN_REPORT", "00000000")])
        time.sleep(max(hold - (time.monotonic() - started), 0.0))
        self._emit(TOUCH_DEVICE, [("EV_ABS", "ABS_MT_TRACKING_ID", "ffffffff"), ("EV_KEY", "BTN_TOUCH", "UP"),
                                  ("EV_SYN", "SYN_REPORT", "00000000")])
        with self.lock:
            (x1, y1), (x2, y2) = path[0], path[-1]
            if len(path) == 1:
                if hold < 0.5:
                    self.tap(x1, y1)
            else:
                self.swipe(x1, y1, x2, y2, int(hold * 1000))

    def person_key(self, name: str) -> None:
        """A hardware key (``KEY_BACK``) pressed and released; BACK, HOME and APPSELECT act on the phone."""
        for value in ("DOWN", "UP"):
            self._emit(KEY_DEVICE, [("EV_KEY", name, value), ("EV_SYN", "SYN_REPORT", "00000000")])
        codes = {"KEY_BACK": "KEYCODE_BACK", "KEY_HOMEPAGE": "KEYCODE_HOME", "KEY_APPSELECT": "KEYCODE_APP_SWITCH"}
        if name in codes:
            with self.lock:
                self.key(codes[name])

    # ------------------------------------------------------------------ geometry
    @property
    def size(self) -> tuple[int, int]:
        w, h = self.natural_size
        return (h, w) if self.rotation % 2 else (w, h)

    def icon_boxes(self) -> dict[str, tuple[int, int, int, int]]:
        """Each home-screen icon's box (x0, y0, x1, y1) in the current orientation."""
        w, h = self.size
        cols = 4 if h >= w else 6
        icon = int(min(w, h) * 0.16)
        cell = w // cols
        top = int(h * (0.22 if h >= w else 0.2))
        row = int(icon * 1.6)
        boxes = {}
        for i, app in enumerate(APPS):
            r, c = divmod(i, cols)
            cx = c * cell + cell // 2
            y0 = top + r * row
            boxes[app.package] = (cx - icon // 2, y0, cx + icon // 2, y0 + icon)
        return boxes

    def icon_center(self, package: str) -> tuple[int, int]:
        x0, y0, x1, y1 = self.icon_boxes()[package]
        return (x0 + x1) // 2, (y0 + y1) // 2

    def header_height(self) -> int:
        return int(self.size[1] * 0.09)

    # ------------------------------------------------------------------ state changes
    def open(self, package: str) -> None:
        if self.screen == "app" and self.app and self.app != package:
            self.back_stack.append(self.app)
        self.screen, self.app, self.scroll = "app", package, 0
        self.opened_at = time.monotonic()
        self.launches.append(package)

    def go_home(self) -> None:
        self.screen, self.app = "home", None
        self.back_stack.clear()

    def go_back(self) -> None:
        if self.screen == "recents":
            self.screen = "app" if self.app else "home"
        elif self.screen == "app":
            if self.back_stack:
                self.app = self.back_stack.pop()
            else:
                self.screen, self.app = "home", None

    def type_text(self, text: str) -> None:
        if self.screen == "app" and self.app:
            self.texts[self.app] = self.texts.get(self.app, "") + text

    def tap(self, x: float, y: float) -> None:
        self.taps.append((x, y))
        if self.screen == "home":
            for package, (x0, y0, x1, y1) in self.icon_boxes().items():
                if x0 <= x < x1 and y0 <= y < y1:
                    self.open(package)
                    return
        elif self.screen == "app" and y < self.header_height() and x < self.header_height():
            self.go_back()  # the back arrow in the app bar
        elif self.screen == "recents":
            self.screen = "app" if self.app else "home"

    def swipe(self, x1: float, y1: float, x2: float, y2: float, ms: int) -> None:
        self.swipes.append((x1, y1, x2, y2, ms))
        if self.screen == "app" and self.app == "com.android.settings":
            self.scroll = max(0, self.scroll - int(y2 - y1))  # finger up: content moves up, later rows show

    def key(self, code: str) -> None:
        self.keys.append(code)
        if code == "KEYCODE_HOME":
            self.go_home()
        elif code == "KEYCODE_BACK":
            self.go_back()
        elif code == "KEYCODE_APP_SWITCH":
            self.screen = "recents"
        elif code == "KEYCODE_ENTER":
            self.type_text("\n")
        elif code == "KEYCODE_DEL" and self.app and self.texts.get(self.app):
            self.texts[self.app] = self.texts[self.app][:-1]

    def in_transition(self) -> bool:
        return self.screen == "app" and time.monotonic() - self.opened_at < self.transition

    def splash_progress(self) -> int:
        """Which of 20 frames of the opening animation is showing (an animated splash never looks settled)."""
        if not self.in_transition():
            return -1
        return int((time.monotonic() - self.opened_at) / self.transition * 20)

    # ------------------------------------------------------------------ drawing
    def render(self) -> Image.Image:
        """The current screen, drawn deterministically from the state."""
        w, h = self.size
        img = Image.new("RGB", (w, h), (235, 238, 242))
        d = ImageDraw.Draw(img)
        big = ImageFont.load_default(size=max(12, h // 40))
        small = ImageFont.load_default(size=max(10, min(w, h) // 30))
        d.rectangle((0, 0, w, int(h * 0.03)), fill=(20, 20, 20))
        d.text((20, 2), "12:00", fill=(255, 255, 255), font=small)
        if self.screen == "home":
            d.rectangle((0, int(h * 0.03), w, h), fill=(28, 64, 96))
            for package, (x0, y0, x1, y1) in self.icon_boxes().items():
                app = APP_BY_PACKAGE[package]
                d.rounded_rectangle((x0, y0, x1, y1), radius=(x1 - x0) // 5, fill=app.color)
                d.text(((x0 + x1) // 2, y1 + 10), app.label, fill=(255, 255, 255), font=small, anchor="mt")
        elif self.screen == "recents":
            d.rectangle((0, int(h * 0.03), w, h), fill=(50, 50, 50))
            for i, package in enumerate([*self.back_stack, *([self.app] if self.app else [])]):
                app = APP_BY_PACKAGE.get(package)
                x0 = int(w * 0.1) + i * int(w * 0.25)
                d.rectangle((x0, int(h * 0.25), x0 + int(w * 0.6), int(h * 0.75)), fill=app.color if app else (99, 99, 99))
        elif self.splash_progress() >= 0:
            app = APP_BY_PACKAGE.get(self.app or "")
            d.rectangle((0, int(h * 0.03), w, h), fill=app.color if app else (0, 0, 0))
            d.rectangle((0, h - 20, w * (self.splash_progress() + 1) // 20, h), fill=(255, 255, 255))
        else:
            app = APP_BY_PACKAGE.get(self.app or "")
            label = app.label if app else (self.app or "?")
            hh = self.header_height()
            d.rectangle((0, int(h * 0.03), w, hh), fill=app.color if app else (99, 99, 99))
            d.text((hh, (int(h * 0.03) + hh) // 2), label, fill=(255, 255, 255), font=big, anchor="lm")
            d.polygon([(hh * 0.3, hh * 0.65), (hh * 0.6, hh * 0.45), (hh * 0.6, hh * 0.85)], fill=(255, 255, 255))
            if self.app == "com.android.settings":
                rows = int(h * 0.07)
                first = self.scroll // rows
                for i in range(first, first + h // rows + 2):
                    y = hh + i * rows - self.scroll
                    if y + rows < hh or y > h:
                        continue
                    d.line((0, y + rows - 1, w, y + rows - 1), fill=(200, 200, 200), width=2)
                    d.text((40, y + rows // 2), f"Setting {i + 1}", fill=(20, 20, 20), font=big, anchor="lm")
            else:
                d.rectangle((40, hh + 40, w - 40, hh + 40 + int(h * 0.2)), outline=(60, 60, 60), width=3)
                d.multiline_text((60, hh + 60), self.texts.get(self.app or "", ""), fill=(0, 0, 0), font=big)
        return img

    def screencap_png(self) -> bytes:
        if not self.in_transition():
            self.served.add((self.screen, self.app))
        key = (self.size, self.screen, self.app, self.texts.get(self.app or ""), self.scroll,
               tuple(self.back_stack), self.splash_progress())
        if self._png_cache is None or self._png_cache[0] != key:
            buf = io.BytesIO()
            self.render().save(buf, format="PNG", compress_level=1)
            self._png_cache = (key, buf.getvalue())
        return self._png_cache[1]

    # ------------------------------------------------------------------ the shell
    def run_command_line(self, cmdline: str) -> bytes:
        """Run one ``shell:``/``exec:`` command line; the output the host reads back."""
        argvs, sh_output = self.shell.run(cmdline)
        with self.lock:
            self.commands.append(cmdline)
            self.argvs.extend(argvs)
            out = b"".join(self._program(argv) for argv in argvs)
        return out + sh_output

    def _program(self, argv: list[str]) -> bytes:
        prog, args = argv[0], argv[1:]
        try:
            if prog == "input":
                return self._input(args)
            if prog == "screencap":
                return self.screencap_png() if args == ["-p"] else b"usage: screencap [-hp] [-d display-id] [FILENAME]\n"
            if prog == "wm" and args == ["size"]:
                return b"Physical size: %dx%d\n" % self.natural_size
            if prog == "getprop":
                props = {"ro.product.model": "Loopback", "ro.build.version.sdk": "34", "ro.product.name": "vlagent"}
                if args:
                    return (props.get(args[0], "") + "\n").encode()
                return "".join(f"[{k}]: [{v}]\n" for k, v in props.items()).encode()
            if prog == "ime":
                return self._ime(args)
            if prog == "getevent" and args == ["-pl"]:
                return self.getevent_pl()
            if prog == "settings" and args == ["get", "secure", "default_input_method"]:
                return (self.ime + "\n").encode()
            if prog == "am" and args[:1] == ["broadcast"]:
                return self._broadcast(args[1:])
            if prog == "monkey":
                return self._monkey(args)
        except (ValueError, IndexError) as exc:
            return f"Error: {exc}\n".encode()
        return f"{prog}: unsupported arguments {args!r}\n".encode()

    def _input(self, args: list[str]) -> bytes:
        if args and args[0] in ("touchscreen", "keyboard"):  # an optional source comes first
            args = args[1:]
        cmd, rest = args[0], args[1:]
        if cmd == "tap" and len(rest) == 2:
            self.tap(float(rest[0]), float(rest[1]))
        elif cmd == "swipe" and len(rest) in (4, 5):
            x1, y1, x2, y2 = (float(v) for v in rest[:4])
            self.swipe(x1, y1, x2, y2, int(rest[4]) if len(rest) == 5 else 300)
        elif cmd == "keyevent" and rest:
            for k in rest:
                if k.isdigit():
                    k = next((n for n, c in KEYCODES.items() if c == int(k)), f"KEYCODE_{k}")
                if not k.startswith("KEYCODE_"):
                    k = "KEYCODE_" + k
                self.key(k)
        elif cmd == "text" and len(rest) == 1:
            self.type_text(decode_input_text(rest[0]))
        else:
            return b"Error: Unknown command or wrong arguments: input " + " ".join(args).encode() + b"\n"
        return b""

    def _installed_imes(self) -> list[str]:
        return [LATIN_IME, *([ADB_IME] if self.adb_keyboard else [])]

    def _ime(self, args: list[str]) -> bytes:
        if args[:1] == ["list"]:
            shown = self._installed_imes() if "-a" in args else self.enabled_imes
            return "".join(f"{i}\n" for i in shown).encode()
        if args[:1] in (["enable"], ["set"]) and len(args) == 2:
            if args[1] not in self._installed_imes():
                return f"Unknown input method {args[1]} cannot be enabled for user #0\n".encode()
            if args[1] not in self.enabled_imes:
                self.enabled_imes.append(args[1])
            if args[0] == "set":
                self.ime = args[1]
                return f"Input method {args[1]} selected for user #0\n".encode()
            return f"Input method {args[1]}: now enabled for user #0\n".encode()
        raise ValueError(f"ime {args}")

    def _broadcast(self, args: list[str]) -> bytes:
        action = args[args.index("-a") + 1] if "-a" in args else ""
        extras = {args[i + 1]: args[i + 2] for i, a in enumerate(args) if a == "--es" and i + 2 < len(args)}
        if action == "ADB_INPUT_B64" and self.adb_keyboard and self.ime == ADB_IME:
            self.type_text(base64.b64decode(extras.get("msg", "")).decode("utf-8"))
        return (f"Broadcasting: Intent {{ act={action} flg=0x400000 (has extras) }}\n"
                "Broadcast completed: result=0\n").encode()

    def _monkey(self, args: list[str]) -> bytes:
        echo = "".join(f"  bash arg: {a}\n" for a in args)
        package = args[args.index("-p") + 1] if "-p" in args else None
        if package not in APP_BY_PACKAGE:
            return (echo + "args: " + str(args) + "\n** No activities found to run, monkey aborted.\n").encode()
        self.open(package)
        return (echo + "Events injected: 1\n## Network stats: elapsed time=5ms (0ms mobile, 0ms wifi, 5ms not connected)\n").encode()


class _Stream:
    def __init__(self, local: int, remote: int) -> None:
        self.local, self.remote = local, remote
        self.acked = threading.Event()
        self.closed = False


class _Transport:
    """One host connection: the device side of the message protocol."""

    def __init__(self, sock: socket.socket, device: LoopbackDevice) -> None:
        self.sock, self.device = sock, device
        self.version = A_VERSION_MIN
        self.max_data = 4096
        self.online = False
        self.streams: dict[int, _Stream] = {}
        self.next_id = 1
        self.send_lock = threading.Lock()

    def send(self, command: int, arg0: int, arg1: int, data: bytes = b"") -> None:
        try:
            with self.send_lock:
                self.sock.sendall(pack(command, arg0, arg1, data))
        except OSError:
            pass

    def _recv_exact(self, n: int) -> bytes | None:
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except OSError:
                return None
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def run(self) -> None:
        while True:
            head = self._recv_exact(HEADER.size)
            if head is None:
                return
            command, arg0, arg1, length, check, magic = HEADER.unpack(head)
            data = self._recv_exact(length) if length else b""
            if data is None:
                return
            if magic != command ^ 0xFFFFFFFF or command not in NAMES:
                return self._drop("bad magic or unknown command")  # protocol.txt: close on an invalid header
            if self.version < A_VERSION_SKIP_CHECKSUM and check != sum(data) & 0xFFFFFFFF:
                return self._drop("bad checksum")
            if self.device.frozen:
                continue  # a hung phone: reads everything, answers nothing
            self.device.messages.append((NAMES[command], arg0, arg1, data[:64]))
            self._handle(command, arg0, arg1, data)

    def _drop(self, why: str) -> None:
        self.device.errors.append(why)
        try:
            self.sock.close()
        except OSError:
            pass

    def _handle(self, command: int, arg0: int, arg1: int, data: bytes) -> None:
        if command == A_CNXN:
            self.version = min(arg0, A_VERSION_SKIP_CHECKSUM)
            self.max_data = min(arg1, MAX_PAYLOAD)
            if self.device.authorized:
                self.online = True
                self.send(A_CNXN, self.version, MAX_PAYLOAD, self.device.banner)
            else:
                self.send(A_AUTH, AUTH_TOKEN, 0, os.urandom(20))
        elif command == A_AUTH:
            if arg0 == AUTH_SIGNATURE:  # never accept: ask again; the host then offers its public key
                self.send(A_AUTH, AUTH_TOKEN, 0, os.urandom(20))
            # AUTH_RSAPUBLICKEY: a phone would show the "Allow USB debugging?" dialog; nobody answers it.
        elif command == A_OPEN and self.online:
            service = data.rstrip(b"\0").decode("utf-8", "surrogateescape")
            if service == "shell:getevent -lt":  # a stream that stays open: served from the phone's queue
                stream = _Stream(self.next_id, arg0)
                self.next_id += 1
                self.streams[stream.local] = stream
                self.send(A_OKAY, stream.local, arg0)
                threading.Thread(target=self._serve_getevent, args=(stream,), daemon=True).start()
                return
            for prefix in ("shell:", "exec:"):
                if service.startswith(prefix) and len(service) > len(prefix):
                    stream = _Stream(self.next_id, arg0)
                    self.next_id += 1
                    self.streams[stream.local] = stream
                    self.send(A_OKAY, stream.local, arg0)
                    threading.Thread(
                        target=self._serve, args=(stream, service[len(prefix) :]), daemon=True
                    ).start()
                    return
            self.device.refused.append(service)
            self.send(A_CLSE, 0, arg0)
        elif command == A_OKAY:
            stream = self.streams.get(arg1)
            if stream is not None:
                stream.acked.set()
        elif command == A_WRTE:
            if arg1 in self.streams:
                self.send(A_OKAY, arg1, arg0)  # stdin is accepted and ignored
        elif command == A_CLSE:
            stream = self.streams.pop(arg1, None)
            if stream is not None:
                stream.closed = True
                stream.acked.set()

    def _serve(self, stream: _Stream, cmdline: str) -> None:
        output = self.device.phone.run_command_line(cmdline)
        for start in range(0, len(output), self.max_data):
            if stream.closed:
                return
            stream.acked.clear()
            self.send(A_WRTE, stream.local, stream.remote, output[start : start + self.max_data])
            if not stream.acked.wait(10):
                return
        if not stream.closed:
            self.streams.pop(stream.local, None)
            self.send(A_CLSE, stream.local, stream.remote)


    def _serve_getevent(self, stream: _Stream) -> None:
        """``getevent -lt``: the device list, then each line the person's gestures emit, until closed."""
        feed: queue.Queue[bytes] = queue.Queue()
        phone = self.device.phone
        phone.getevent_streams.append(feed)
        feed.put(b"add device 1: " + KEY_DEVICE.encode() + b'\n  name:     "gpio-keys"\n'
                 b"add device 2: " + TOUCH_DEVICE.encode() + b'\n  name:     "vlagent_touchscreen"\n')
        try:
            while not stream.closed and self.device._alive:
                try:
                    chunk = feed.get(timeout=0.1)
                except queue.Empty:
                    continue
                stream.acked.clear()
                self.send(A_WRTE, stream.local, stream.remote, chunk)
                if not stream.acked.wait(10):
                    return
        finally:
            phone.getevent_streams.remove(feed)


class LoopbackDevice:
    """A TCP server on 127.0.0.1 that the adb server reaches with ``adb connect``; serves one :class:`Phone`.

    ``freeze()`` makes it hang (reads, never answers); ``kill()`` closes everything, as a phone that is
    unplugged or crashes.
    """

    def __init__(self, phone: Phone | None = None, *, authorized: bool = True, banner: bytes = BANNER) -> None:
        self.phone = phone or Phone()
        self.authorized = authorized
        self.banner = banner
        self.frozen = False
        self.messages: list[tuple[str, int, int, bytes]] = []
        self.errors: list[str] = []
        self.refused: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._alive = True
        accept = threading.Thread(target=self._accept, daemon=True, name="adb-device-accept")
        accept.start()
        self._threads.append(accept)


    @property
    def serial(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while self._alive:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conns.append(sock)
            t = threading.Thread(target=_Transport(sock, self).run, daemon=True, name="adb-device-transport")
            t.start()
            self._threads.append(t)

    def freeze(self) -> None:
        self.frozen = True

    def kill(self) -> None:
        self._alive = False
        for s in [self._listener, *self._conns]:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        for t in self._threads:
            t.join(timeout=2)
        self.phone.shell.close()
