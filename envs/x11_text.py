"""Typing any Unicode text on X11 through the XTEST extension (python-xlib, which pyautogui already needs).

Why not pyautogui or xdotool: pyautogui.write has no key for non-ASCII characters and types '<' as '>' on
the common pc105 keymap (it presses Shift with the key X maps to "less", whose shifted symbol is '>').
``xdotool type`` remaps one scratch key code per missing character and restores it right after; a client
reads the keymap lazily, so when two missing characters come a few milliseconds apart it can look the first
key up under the second mapping (seen here: Tk received "日??語" for "日本語").

What this module does instead: each character is looked up in the live keymap (plain or Shift level); each
distinct character that is missing gets its *own* spare key code (one with no symbols) for the whole chunk,
so no key changes meaning while its events are in flight. Key codes are reused only between chunks, after
the caller's ``between_chunks`` hook (the env waits for the screen to settle, i.e. for the app to have
handled the keys). Remapped codes keep their last character until :meth:`XTestTyper.restore`, which puts back
the empty mapping.

Each key-code change is sent on its own, synced, and followed by a short pause (``remap_pause``). An Xlib
client (Tk here) can drop key-map changes that reach it while it is still reloading an earlier one, and X
offers no way to ask whether it has caught up. Measured on Xvfb + Tk, typing "héllo Ωmega 日本語 ✓ naïve 🙂"
(eight changes) into a fresh app each run: changes sent back to back lost every character after the first
few remapped ones in 4 of 150 runs ("héllo mega   nave "). With the CPU overloaded (three busy processes on
two cores): a sync after each change but no pause, 3 of 100; 10 ms after each, 0 of 100; the 20 ms default,
0 of 150. The pause is paid once per distinct missing character and typer: a code keeps its character.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from vlagent.actions.errors import EnvError

#: X keysyms of the two control characters typed as keys.
_CONTROL_KEYSYMS = {"\n": 0xFF0D, "\r": 0xFF0D, "\t": 0xFF09}  # Return, Return, Tab
_SHIFT_L = 0xFFE1


def keysym_for(char: str) -> int:
    """The X keysym of one character (Latin-1 keysyms equal their code point; others are 0x01000000 + cp).

    Example:
        >>> hex(keysym_for("a")), hex(keysym_for("é")), hex(keysym_for("日")), hex(keysym_for(chr(10)))
        ('0x61', '0xe9', '0x10065e5', '0xff0d')
    """
    if char in _CONTROL_KEYSYMS:
        return _CONTROL_KEYSYMS[char]
    cp = ord(char)
    if 0x20 <= cp <= 0x7E or 0xA0 <= cp <= 0xFF:
        return cp
    return 0x01000000 | cp


class XTestTyper:
    """Types text into whatever window has the keyboard focus on one X display.

    Args:
        display: a python-xlib ``Display`` (the env's own connection).
        sleep: injectable sleep for the pause after each key-code change.
        remap_pause: seconds to pause after each key-code change, so that Xlib clients handle one change at
            a time (see the module docstring).

    Example:
        >>> XTestTyper.chunks("a日本日語", lambda ch: ch != "a", spare=2)
        [['a', '日', '本', '日'], ['語']]
    """

    def __init__(self, display: Any, *, sleep: Callable[[float], None] = time.sleep, remap_pause: float = 0.02) -> None:
        self._d = display
        self._sleep = sleep
        self._remap_pause = remap_pause
        info = display.display.info
        self._lo, self._hi = info.min_keycode, info.max_keycode
        self._original: dict[int, tuple[int, ...]] = {}
        self._spare = self._spare_keycodes()
        if not self._spare:
            raise EnvError("the X keymap has no free key code to type characters it lacks")

    def _spare_keycodes(self) -> list[int]:
        mapping = self._d.get_keyboard_mapping(self._lo, self._hi - self._lo + 1)
        # Key code 8 (the lowest) is skipped: XKB reserves it on many servers.
        return [self._lo + i for i, syms in enumerate(mapping) if not any(syms) and self._lo + i > 8]

    def _read_keymap(self) -> dict[int, tuple[int, bool]]:
        """Map keysym -> (key code, needs Shift), from the server's current map, preferring the plain level."""
        mapping = self._d.get_keyboard_mapping(self._lo, self._hi - self._lo + 1)
        table: dict[int, tuple[int, bool]] = {}
        for level in (0, 1):
            for i, syms in enumerate(mapping):
                if len(syms) > level and syms[level] and syms[level] not in table:
                    table[syms[level]] = (self._lo + i, level == 1)
        return table

    @staticmethod
    def chunks(text: str, missing: Callable[[str], bool], *, spare: int) -> list[list[str]]:
        """Split ``text`` so no chunk needs more than ``spare`` distinct missing characters."""
        out: list[list[str]] = [[]]
        needed: set[str] = set()
        for ch in text:
            if missing(ch) and ch not in needed:
                if len(needed) == spare:
                    out.append([])
                    needed = set()
                needed.add(ch)
            out[-1].append(ch)
        return [c for c in out if c]

    def type(self, text: str, *, between_chunks: Callable[[], None]) -> None:
        """Press and release a key for every character of ``text``, in order."""
        from Xlib import X
        from Xlib.ext.xtest import fake_input

        table = self._read_keymap()
        shift = table.get(_SHIFT_L)
        spare = set(self._spare)

        def on_spare(ch: str) -> bool:  # not in the keyboard's own map: needs (or has) a spare key code
            hit = table.get(keysym_for(ch))
            return hit is None or hit[0] in spare

        for i, chunk in enumerate(self.chunks(text, on_spare, spare=len(self._spare))):
            if i:
                between_chunks()  # the app has handled the last chunk; its key codes may change meaning now
            for code, shifted in self._keys_for(chunk, table, on_spare):
                if shifted and shift is not None:
                    fake_input(self._d, X.KeyPress, shift[0])
                fake_input(self._d, X.KeyPress, code)
                fake_input(self._d, X.KeyRelease, code)
                if shifted and shift is not None:
                    fake_input(self._d, X.KeyRelease, shift[0])
            self._d.sync()

    def _keys_for(
        self, chunk: list[str], table: dict[int, tuple[int, bool]], on_spare: Callable[[str], bool]
    ) -> list[tuple[int, bool]]:
        """Key (code, shift) per character; maps the chunk's missing characters onto distinct spare codes."""
        wanted = {keysym_for(ch) for ch in chunk if on_spare(ch)}
        kept = {table[ks][0] for ks in wanted if ks in table}  # mapped by an earlier chunk or action
        free = [c for c in self._spare if c not in kept]
        for keysym in sorted(wanted - table.keys()):
            code = free.pop(0)
            self._remap(code, keysym)
            for stale in [ks for ks, (c, _) in table.items() if c == code]:
                del table[stale]
            table[keysym] = (code, False)
        return [table[keysym_for(ch)] for ch in chunk]

    def _remap(self, code: int, keysym: int) -> None:
        if code not in self._original:  # its mapping before this typer first used it, for restore()
            self._original[code] = tuple(self._d.get_keyboard_mapping(code, 1)[0])
        self._d.change_keyboard_mapping(code, [(keysym, keysym)])
        # X offers no way to ask whether another client has reloaded its keymap; one change at a time, each
        # reaching the server (sync) before a pause, is what kept Tk from losing changes (module docstring).
        self._d.sync()
        self._sleep(self._remap_pause)

    def restore(self) -> None:
        """Put back the empty mapping of every key code this typer used."""
        for code, syms in self._original.items():
            self._d.change_keyboard_mapping(code, [syms])
        if self._original:
            self._d.sync()
        self._original.clear()
