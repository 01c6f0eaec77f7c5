"""A stop hotkey on the X server: a key combination that stops the agent wherever the keyboard focus is.

Ctrl+C reaches the agent only while its terminal has the focus, and on a desktop the agent clicks into other
windows. :class:`StopHotkey` instead watches every key press the X server handles, through the RECORD
extension (present in Xorg and Xvfb, so it works headless), and calls ``on_press`` when exactly the keys of
the combination are held down. The CLI arms it for ``--env desktop`` with ``--stop-hotkey``
(default ``ctrl+alt+shift+s``, ``vlagent.agent.safety.DEFAULT_STOP_HOTKEY``).

The connections, the RECORD context and its thread are :class:`vlagent.envs.x11_record.XRecordListener`'s
(shared with the demonstration recorder); this module only tracks which keys are held.

Key codes are named from their unshifted keysym, read once when the listener starts (``Control_L`` and
``Control_R`` are both ``ctrl``; a key with no canonical name gets a name of its own, so it still breaks
an exact match). RECORD sees synthetic input too: the agent's own XTEST key presses, and ``xdotool``'s.
The agent can therefore only trigger it by pressing the whole combination and nothing else, and the
safety policy deny-lists every hotkey containing the combination, so the model cannot stop itself.

Example:
    >>> key_name("Control_R"), key_name("s"), key_name("F12"), key_name("ISO_Level3_Shift")
    ('ctrl', 's', 'f12', 'x11:ISO_Level3_Shift')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vlagent.envs.errors import DeviceError
from vlagent.envs.x11_record import XRecordListener, key_name, keycode_names

__all__ = ["StopHotkey", "StopHotkeyError", "key_name"]


class StopHotkeyError(DeviceError):
    """The stop hotkey cannot be armed: no X display, or the server lacks the RECORD extension.

    Example:
        >>> isinstance(StopHotkeyError("no RECORD"), DeviceError)
        True
    """


class StopHotkey(XRecordListener):
    """Calls ``on_press`` from a background thread whenever ``combo`` is pressed on X display ``display``.

    ``combo`` is a set of canonical key names (``{"ctrl", "alt", "shift", "s"}``). Use as a context manager,
    or :meth:`start` and :meth:`close`; :meth:`start` returns once the server streams key events, so a
    press right after it is seen.

    Example:
        >>> hotkey = StopHotkey(":0", frozenset({"ctrl", "alt", "shift", "s"}), on_press=lambda: None)
        >>> hotkey.combo_text
        'alt+ctrl+s+shift'
    """

    device_events = (2, 3)  # KeyPress, KeyRelease
    error = StopHotkeyError
    purpose = "the stop hotkey"
    no_record_hint = "pass --stop-hotkey off to run without it; Ctrl+C in the terminal still stops the agent"

    def __init__(self, display: str, combo: frozenset[str], on_press: Callable[[], None]) -> None:
        if not combo:
            raise ValueError("the stop hotkey needs at least one key")
        super().__init__(display)
        self.combo = frozenset(combo)
        self.on_press = on_press
        self.presses = 0
        self._held: set[int] = set()
        self._names: dict[int, str] = {}

    @property
    def combo_text(self) -> str:
        return "+".join(sorted(self.combo))

    def __enter__(self) -> StopHotkey:
        return self.start()

    def start(self) -> StopHotkey:
        super().start()
        return self

    def on_start(self, control: Any) -> None:
        self._names = keycode_names(control)
        unknown = sorted(self.combo - set(self._names.values()))
        if unknown:
            raise StopHotkeyError(f"the keyboard of {self.display!r} has no key for {', '.join(unknown)} "
                                  "(choose another --stop-hotkey)")

    def on_event(self, event: Any) -> None:
        from Xlib import X

        if event.type == X.KeyPress:
            self._key_down(event.detail)
        elif event.type == X.KeyRelease:
            self._held.discard(event.detail)

    def _key_down(self, keycode: int) -> None:
        was = self.matches()
        self._held.add(keycode)
        if self.matches() and not was:  # once per chord, not per auto-repeat
            self.presses += 1
            self.on_press()

    def matches(self) -> bool:
        """Whether exactly the combination's keys are held now."""
        return bool(self._held) and {self._names.get(k, f"keycode-{k}") for k in self._held} == self.combo
