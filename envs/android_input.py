"""Android shell command lines for typed actions: argv lists, quoting, key codes, text chunks, swipes.

Pure functions with no device: :mod:`vlagent.envs.android` sends what they build. They exist so the one
dangerous step, turning model-written text into a device command, is small, tested and never a string
built by hand (AppAgent's ``input text {input_str}`` is what goes wrong otherwise).

How a command reaches the phone: ``adb shell`` (the ``shell:``/``exec:`` services) hands adbd ONE string,
which the device runs with ``sh -c``. So every argument is quoted for a POSIX shell
(:func:`shlex.quote`: single quotes, a quote inside written as ``'"'"'``), and the device shell sees
exactly the argv meant, whatever the text holds (spaces, quotes, ``;``, ``&&``, ``$()``, backticks).

Two more layers sit behind the shell:

- ``input text`` reads ``%s`` as a space (it cannot take a literal space on old Androids), and has no
  escape for a literal ``%s``: spaces are sent as ``%s`` and text holding ``%`` followed by ``s`` is cut
  into two ``input text`` calls between them. Newlines and tabs are key events (ENTER, TAB).
- ``input text`` types ASCII only (it maps characters to key events with the virtual keymap). Other text
  goes through the ADB Keyboard IME (``com.android.adbkeyboard/.AdbIME``, github.com/senzhk/ADBKeyBoard)
  as a base64 broadcast, or is refused with :class:`NonAsciiTextError`.
"""

from __future__ import annotations

import base64
import shlex
import string
from collections.abc import Iterable, Sequence

from vlagent.actions.errors import UnsupportedActionError

#: The ADB Keyboard IME and the broadcast it listens to (base64 of UTF-8 text in the ``msg`` extra).
ADB_KEYBOARD_IME = "com.android.adbkeyboard/.AdbIME"
ADB_KEYBOARD_ACTION = "ADB_INPUT_B64"
#: Command lines are kept under this many bytes: old adbd takes at most 4096 bytes per OPEN payload.
MAX_COMMAND_LINE = 4000
#: Characters of text per ``input text`` call (each call is a process start on the phone).
TEXT_CHUNK = 200

# Canonical key names (vlagent.actions.models.normalize_key) -> android.view.KeyEvent KEYCODE_* names.
# "home" is the phone's home button (KEYCODE_HOME), not the text-editing Home key (KEYCODE_MOVE_HOME).
_KEYCODES: dict[str, str] = {
    "enter": "ENTER", "esc": "ESCAPE", "tab": "TAB", "backspace": "DEL", "delete": "FORWARD_DEL",
    "space": "SPACE", "up": "DPAD_UP", "down": "DPAD_DOWN", "left": "DPAD_LEFT", "right": "DPAD_RIGHT",
    "home": "HOME", "end": "MOVE_END", "pageup": "PAGE_UP", "pagedown": "PAGE_DOWN", "insert": "INSERT",
    "ctrl": "CTRL_LEFT", "alt": "ALT_LEFT", "shift": "SHIFT_LEFT", "win": "META_LEFT", "command": "META_LEFT",
    "option": "ALT_LEFT", "capslock": "CAPS_LOCK", "printscreen": "SYSRQ", "menu": "MENU", "back": "BACK",
    "recents": "APP_SWITCH", "volumeup": "VOLUME_UP", "volumedown": "VOLUME_DOWN", "power": "POWER",
    "search": "SEARCH", "camera": "CAMERA", "numlock": "NUM_LOCK", "scrolllock": "SCROLL_LOCK",
    "pause": "BREAK",
    ",": "COMMA", ".": "PERIOD", "`": "GRAVE", "-": "MINUS", "=": "EQUALS", "[": "LEFT_BRACKET",
    "]": "RIGHT_BRACKET", "\\": "BACKSLASH", ";": "SEMICOLON", "'": "APOSTROPHE", "/": "SLASH", "@": "AT",
    "+": "PLUS", "*": "STAR", "#": "POUND",
} | {f"f{i}": f"F{i}" for i in range(1, 13)} | {c: c.upper() for c in string.ascii_lowercase + string.digits}


class NonAsciiTextError(UnsupportedActionError):
    """Text the phone cannot type: non-ASCII (or control characters) without the ADB Keyboard IME.

    It is an action error on purpose: the loop shows it to the model, which may retry in ASCII.

    Example:
        >>> str(NonAsciiTextError("café"))[:60]
        "action 'type' is not supported here (text 'café' has non-ASC"
    """

    def __init__(self, text: str) -> None:
        self.text = text
        preview = text if len(text) <= 40 else text[:40] + "..."
        super().__init__(
            "type",
            ["type (ASCII text)"],
            detail=f"text {preview!r} has non-ASCII or control characters, which `input text` cannot type; install and "
            f"enable the ADB Keyboard IME ({ADB_KEYBOARD_IME}, https://github.com/senzhk/ADBKeyBoard) to type them",
        )


def command_line(*argvs: Sequence[str]) -> str:
    """One device shell command line running each argv in turn, every argument quoted for ``sh -c``.

    Example:
        >>> command_line(["input", "text", "a;b"], ["input", "keyevent", "KEYCODE_ENTER"])
        "input text 'a;b'; input keyevent KEYCODE_ENTER"
    """
    if not argvs or any(not argv for argv in argvs):
        raise ValueError("command_line needs at least one non-empty argv")
    return "; ".join(shlex.join(argv) for argv in argvs)


def batch_command_lines(argvs: Iterable[Sequence[str]], limit: int = MAX_COMMAND_LINE) -> list[str]:
    """Join argvs into as few command lines as fit ``limit`` bytes each (fewer round trips to the phone).

    Example:
        >>> batch_command_lines([["input", "tap", "1", "2"]] * 3, limit=40)
        ['input tap 1 2; input tap 1 2', 'input tap 1 2']
    """
    lines: list[str] = []
    current = ""
    for argv in argvs:
        one = command_line(argv)
        if len(one.encode()) > limit:
            raise ValueError(f"a single command is {len(one.encode())} bytes, over the {limit}-byte limit")
        joined = f"{current}; {one}" if current else one
        if len(joined.encode()) > limit:
            lines.append(current)
            joined = one
        current = joined
    if current:
        lines.append(current)
    return lines


def keycode(name: str) -> str:
    """The ``KEYCODE_*`` name for a canonical key name; ``UnsupportedActionError`` if Android has none.

    Example:
        >>> keycode("enter"), keycode("recents"), keycode("a"), keycode("7")
        ('KEYCODE_ENTER', 'KEYCODE_APP_SWITCH', 'KEYCODE_A', 'KEYCODE_7')
    """
    code = _KEYCODES.get(name)
    if code is None:
        raise UnsupportedActionError("key", sorted(_KEYCODES), detail=f"Android has no key code for {name!r}")
    return f"KEYCODE_{code}"


def key_argv(name: str) -> list[str]:
    """The argv pressing one key: a key event, or ``input text`` for a punctuation key with no key code.

    Example:
        >>> key_argv("back"), key_argv("!")
        (['input', 'keyevent', 'KEYCODE_BACK'], ['input', 'text', '!'])
    """
    if len(name) == 1 and name in string.punctuation and name not in _KEYCODES:
        return ["input", "text", name]
    return ["input", "keyevent", keycode(name)]


def _is_plain(ch: str) -> bool:
    return " " <= ch <= "~"


def _input_text_chunks(segment: str, size: int) -> list[str]:
    """Encode ASCII text for ``input text``: spaces as ``%s``; a literal ``%s`` split across two calls."""
    chunks: list[str] = []
    current: list[str] = []
    count = 0
    for i, ch in enumerate(segment):
        if current and (count >= size or (ch == "s" and segment[i - 1] == "%")):
            chunks.append("".join(current))
            current, count = [], 0
        current.append("%s" if ch == " " else ch)
        count += 1
    if current:
        chunks.append("".join(current))
    return chunks


def text_argvs(text: str, *, adb_keyboard: bool = False, chunk: int = TEXT_CHUNK) -> list[list[str]]:
    r"""The argvs that type ``text`` exactly: ``input text`` chunks, ENTER/TAB key events, ADB Keyboard broadcasts.

    Lines of ASCII go through ``input text``; a line holding anything else goes through the ADB Keyboard
    broadcast when ``adb_keyboard`` (the caller makes sure that IME is selected), else
    :class:`NonAsciiTextError` is raised before anything is typed.

    Example:
        >>> text_argvs("hi there\nok")
        [['input', 'text', 'hi%sthere'], ['input', 'keyevent', 'KEYCODE_ENTER'], ['input', 'text', 'ok']]
        >>> text_argvs("50%s off")
        [['input', 'text', '50%'], ['input', 'text', 's%soff']]
        >>> text_argvs("é", adb_keyboard=True)
        [['am', 'broadcast', '-a', 'ADB_INPUT_B64', '--es', 'msg', 'w6k=']]
    """
    if not text:
        raise ValueError("text must not be empty")
    if chunk < 2:
        raise ValueError(f"chunk must be >= 2, got {chunk}")
    argvs: list[list[str]] = []
    segment: list[str] = []

    def flush() -> None:
        if not segment:
            return
        piece = "".join(segment)
        segment.clear()
        if all(_is_plain(ch) for ch in piece):
            argvs.extend(["input", "text", c] for c in _input_text_chunks(piece, chunk))
        elif adb_keyboard:
            # base64 keeps the shell, adbd and am's own argument parsing out of the text entirely.
            for start in range(0, len(piece), chunk):
                msg = base64.b64encode(piece[start : start + chunk].encode("utf-8")).decode("ascii")
                argvs.append(["am", "broadcast", "-a", ADB_KEYBOARD_ACTION, "--es", "msg", msg])
        else:
            raise NonAsciiTextError(text)

    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    for ch in normalized:
        if ch in "\n\t":
            flush()
            argvs.append(["input", "keyevent", "KEYCODE_ENTER" if ch == "\n" else "KEYCODE_TAB"])
        else:
            segment.append(ch)
    flush()
    return argvs


def swipe_argv(x1: float, y1: float, x2: float, y2: float, duration: float) -> list[str]:
    """``input swipe`` from one pixel to another over ``duration`` seconds (a long press when both are equal).

    Example:
        >>> swipe_argv(10.4, 20.6, 10.4, 20.6, 1.0)
        ['input', 'swipe', '10', '21', '10', '21', '1000']
    """
    if duration <= 0:
        raise ValueError(f"duration must be > 0, got {duration}")
    coords = [str(round(v)) for v in (x1, y1, x2, y2)]
    return ["input", "swipe", *coords, str(max(1, round(duration * 1000)))]


def scroll_swipe(
    direction: str, amount: int, size: tuple[int, int], at: tuple[float, float] | None = None
) -> tuple[float, float, float, float]:
    """The finger path (x1, y1, x2, y2) that scrolls the content ``direction`` by ``amount`` tenths of the screen.

    ``direction`` is where the view moves through the content, as with a mouse wheel: scrolling ``down``
    shows what is below, so the finger swipes UP (from below ``at`` to above it); ``right`` shows what is
    to the right, so the finger swipes left. The path is centred on ``at`` (default: screen centre) and
    clipped to the screen.

    Example:
        >>> scroll_swipe("down", 5, (1080, 2400))
        (540.0, 1800.0, 540.0, 600.0)
        >>> scroll_swipe("left", 2, (1000, 500), at=(500, 100))
        (400.0, 100.0, 600.0, 100.0)
    """
    w, h = size
    cx, cy = at if at is not None else (w / 2, h / 2)
    span = (h if direction in ("up", "down") else w) * min(amount, 10) / 10
    finger = {"down": (0, -1), "up": (0, 1), "right": (-1, 0), "left": (1, 0)}.get(direction)
    if finger is None:
        raise ValueError(f"unknown scroll direction {direction!r}")
    dx, dy = finger[0] * span / 2, finger[1] * span / 2

    def clip(v: float, hi: int) -> float:
        return float(min(max(v, 0.0), hi - 1))

    return clip(cx - dx, w), clip(cy - dy, h), clip(cx + dx, w), clip(cy + dy, h)
