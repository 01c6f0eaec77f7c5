"""Low-level input of a person (button and key events, touch samples) coalesced into vlagent's typed actions.

Pure and clock-free: the recorder feeds events in order and calls ``tick(now)`` while idle; both return the
:class:`Gesture` objects that are complete. At most one gesture is being built at a time, and
``pending_start`` says when it began, so the recorder can keep the screenshot from just before it.

Desktop (:class:`DesktopGestures`), in screen pixels:

- a press and release within ``drag_px`` is a click; more clicks of the same button on the same spot, each
  within ``multi_click`` seconds of the last, raise ``count`` (2 double, 3 triple); so a click is complete
  once ``multi_click`` seconds pass without another press, or anything else happens;
- a release farther than ``drag_px`` from its press is a ``drag`` (duration = the time held); a left button
  held ``long_press`` seconds or more without moving is a ``long_press``;
- wheel buttons 4/5/6/7 are ``scroll`` up/down/left/right; wheel clicks in one direction, each within
  ``scroll_gap`` seconds of the last, add up into ``amount``;
- characters typed one after another (Shift and AltGr levels, space included) become one ``type``;
  Backspace deletes the last one still being collected; Enter ends it with ``submit``;
- a key pressed with Ctrl, Alt or Super held is a ``hotkey`` (the modifiers first, then the key as unshifted);
  Shift with a key that types nothing (Shift+Tab) is a ``hotkey`` too; other keys are ``key``; a modifier
  pressed and released alone (Super) is a ``key``; Shift or Caps Lock alone are nothing;
- ``ignore``: key combinations never recorded (the stop hotkey that ends the recording); pressing one
  sets ``stop_pressed``.

Phone (:class:`TouchGestures`), in screen pixels: a touch that stays within ``tap_px`` is a ``click``
(``long_press`` when held ``long_press`` seconds or more), one that moves farther is a ``drag`` (a swipe);
BACK, HOME and APP_SWITCH are ``navigate``, other hardware keys with a vlagent name are ``key``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from vlagent.actions.coords import Point
from vlagent.actions.models import (
    Action,
    Click,
    Drag,
    Hotkey,
    Key,
    LongPress,
    Navigate,
    Scroll,
    TypeText,
    normalize_key,
)
from vlagent.envs.record_android import PhoneEvent, PhoneKey, TouchSample
from vlagent.envs.record_x11 import InputEvent, KeyEvent, PointerEvent

#: Held modifiers in the order a hotkey lists them.
_MODIFIER_ORDER = ("ctrl", "alt", "shift", "win")
#: Keys that only modify others: never typed, never a key of their own unless tapped alone.
MODIFIER_KEYS = frozenset({"ctrl", "alt", "shift", "win", "command", "option", "capslock", "numlock",
                           "x11:ISO_Level3_Shift", "x11:Mode_switch", "x11:ISO_Level5_Shift",
                           "x11:Hyper_L", "x11:Hyper_R"})
_ALONE_IS_NOTHING = frozenset({"shift", "capslock", "numlock"})
_WHEEL = {4: "up", 5: "down", 6: "left", 7: "right"}
_BUTTONS = {1: "left", 2: "middle", 3: "right"}
#: Kernel key names (linux/input-event-codes.h) to vlagent actions.
PHONE_KEYS: dict[str, Action] = {
    "KEY_BACK": Navigate(to="back"), "KEY_HOMEPAGE": Navigate(to="home"), "KEY_HOME": Navigate(to="home"),
    "KEY_APPSELECT": Navigate(to="recents"), "KEY_VOLUMEUP": Key(name="volumeup"),
    "KEY_VOLUMEDOWN": Key(name="volumedown"), "KEY_POWER": Key(name="power"), "KEY_ENTER": Key(name="enter"),
    "KEY_SEARCH": Key(name="search"), "KEY_CAMERA": Key(name="camera"), "KEY_MENU": Key(name="menu"),
}
_MAX_SECONDS = 60.0  # the longest duration an action may carry


@dataclass(frozen=True)
class Gesture:
    """One typed action (points in ``screen`` pixels) with when it started and ended and the modifiers held.

    Example:
        >>> Gesture(Key(name="esc"), start=1.0, end=1.1).action.name
        'esc'
    """

    action: Action
    start: float
    end: float
    modifiers: frozenset[str] = frozenset()


def _pt(x: float, y: float) -> Point:
    return Point(x=x, y=y, space="screen")


def _seconds(value: float) -> float:
    return min(max(value, 0.001), _MAX_SECONDS)


@dataclass
class _Click:
    button: int
    x: int
    y: int
    start: float
    last: float
    count: int
    modifiers: frozenset[str]


@dataclass
class _Scroll:
    direction: str
    x: int
    y: int
    start: float
    last: float
    amount: int = 1


@dataclass
class _Text:
    start: float
    last: float
    chars: list[str] = field(default_factory=list)


class DesktopGestures:
    """Clicks, drags, scrolls, typing, keys and hotkeys from X input events (see the module docstring).

    Example:
        >>> g = DesktopGestures()
        >>> events = [PointerEvent(0.0, True, 1, 10, 10), PointerEvent(0.1, False, 1, 10, 10),
        ...           KeyEvent(0.5, True, "h", "h"), KeyEvent(0.6, True, "i", "i"), KeyEvent(0.7, True, "enter")]
        >>> [x.action.type for e in events for x in g.feed(e)]
        ['click', 'type']
        >>> g.flush()
        []
    """

    def __init__(self, *, multi_click: float = 0.4, drag_px: float = 6.0, long_press: float = 1.0,
                 scroll_gap: float = 0.6, ignore: Iterable[frozenset[str]] = ()) -> None:
        self.multi_click = multi_click
        self.drag_px = drag_px
        self.long_press = long_press
        self.scroll_gap = scroll_gap
        self.ignore = frozenset(frozenset(c) for c in ignore)
        self.skipped: list[str] = []  # keys with no vlagent name, dropped
        self.stop_pressed = False  # one of the ``ignore`` combinations was pressed
        self._down: dict[int, PointerEvent] = {}
        self._click: _Click | None = None
        self._scroll: _Scroll | None = None
        self._text: _Text | None = None
        self._alone: KeyEvent | None = None

    @property
    def pending_start(self) -> float | None:
        """When the gesture being built began (its first event), or ``None``."""
        starts = [d.time for d in self._down.values()]
        starts += [p.start for p in (self._click, self._scroll, self._text) if p is not None]
        return min(starts) if starts else None

    def feed(self, event: InputEvent) -> list[Gesture]:
        if isinstance(event, PointerEvent):
            return self._pointer(event)
        return self._key(event)

    def tick(self, now: float) -> list[Gesture]:
        """Complete the click or scroll that nothing can extend any more."""
        out: list[Gesture] = []
        if self._click is not None and not self._down and now - self._click.last > self.multi_click:
            out += self._flush_click()
        if self._scroll is not None and now - self._scroll.last > self.scroll_gap:
            out += self._flush_scroll()
        return out

    def flush(self) -> list[Gesture]:
        """Everything still being built, complete as it is (the recording ends)."""
        self._down.clear()
        return self._flush_click() + self._flush_scroll() + self._flush_text()

    # -- pointer -------------------------------------------------------------------------------------------

    def _pointer(self, e: PointerEvent) -> list[Gesture]:
        self._alone = None
        if e.button in _WHEEL:
            return self._wheel(e) if e.press else []
        if e.button not in _BUTTONS:
            return []
        if e.press:
            out = self._flush_text() + self._flush_scroll()
            c = self._click
            if c is not None and not (c.button == e.button and math.dist((c.x, c.y), (e.x, e.y)) <= self.drag_px
                                      and e.time - c.last <= self.multi_click and c.count < 3):
                out += self._flush_click()
            self._down[e.button] = e
            return out
        down = self._down.pop(e.button, None)
        if down is None:
            return []
        held = e.time - down.time
        if math.dist((down.x, down.y), (e.x, e.y)) > self.drag_px:
            out = self._flush_click()
            return out + [Gesture(Drag(start=_pt(down.x, down.y), end=_pt(e.x, e.y), duration=_seconds(held)),
                                  down.time, e.time, down.modifiers)]
        if self._click is not None and self._click.button == e.button:
            self._click.count += 1
            self._click.last = e.time
            return []
        out = self._flush_click()
        if e.button == 1 and held >= self.long_press:
            return out + [Gesture(LongPress(point=_pt(down.x, down.y), duration=_seconds(held)),
                                  down.time, e.time, down.modifiers)]
        self._click = _Click(e.button, down.x, down.y, down.time, e.time, 1, down.modifiers)
        return out

    def _wheel(self, e: PointerEvent) -> list[Gesture]:
        direction = _WHEEL[e.button]
        out = self._flush_text() + self._flush_click()
        s = self._scroll
        if s is not None and s.direction == direction and e.time - s.last <= self.scroll_gap \
                and math.dist((s.x, s.y), (e.x, e.y)) <= self.drag_px * 4 and s.amount < 100:
            s.amount += 1
            s.last = e.time
            return out
        out += self._flush_scroll()
        self._scroll = _Scroll(direction, e.x, e.y, e.time, e.time)
        return out

    def _flush_click(self) -> list[Gesture]:
        c, self._click = self._click, None
        if c is None:
            return []
        action = Click(point=_pt(c.x, c.y), button=_BUTTONS[c.button], count=c.count)  # type: ignore[arg-type]
        return [Gesture(action, c.start, c.last, c.modifiers)]

    def _flush_scroll(self) -> list[Gesture]:
        s, self._scroll = self._scroll, None
        if s is None:
            return []
        return [Gesture(Scroll(point=_pt(s.x, s.y), direction=s.direction, amount=s.amount),  # type: ignore[arg-type]
                        s.start, s.last)]

    # -- keys ----------------------------------------------------------------------------------------------

    def _key(self, e: KeyEvent) -> list[Gesture]:
        if not e.press:
            alone, self._alone = self._alone, None
            if alone is not None and alone.key == e.key and e.key not in _ALONE_IS_NOTHING:
                return self._flush_all() + self._make(Key, e.key, alone.time, e.time)
            return []
        if e.key in MODIFIER_KEYS:
            self._alone = e
            return []
        self._alone = None
        held = [m for m in _MODIFIER_ORDER if m in e.modifiers]
        if set(held) & {"ctrl", "alt", "win"}:
            return self._hotkey([*held, e.key], e)
        if e.char is not None:
            out = self._flush_click() + self._flush_scroll()
            if self._text is None:
                self._text = _Text(e.time, e.time)
            self._text.chars.append(e.char)
            self._text.last = e.time
            return out
        if e.key == "backspace" and self._text is not None and self._text.chars:
            self._text.chars.pop()
            return []
        if e.key == "enter" and self._text is not None and self._text.chars:
            return self._flush_text(submit=True, end=e.time)
        if held:  # Shift with a key that types nothing: Shift+Tab, Shift+Delete
            return self._hotkey([*held, e.key], e)
        return self._flush_all() + self._make(Key, e.key, e.time, e.time)

    def _hotkey(self, keys: list[str], e: KeyEvent) -> list[Gesture]:
        out = self._flush_all()
        if frozenset(keys) in self.ignore:
            self.stop_pressed = True
            return out
        return out + self._make(Hotkey, keys, e.time, e.time)

    def _make(self, kind: type, what: str | list[str], start: float, end: float) -> list[Gesture]:
        try:
            action = Key(name=what) if kind is Key else Hotkey(keys=what)  # type: ignore[arg-type]
        except ValueError:  # a key vlagent has no name for (x11:..., keycode-N): not replayable, dropped
            self.skipped.append("+".join(what) if isinstance(what, list) else what)
            return []
        return [Gesture(action, start, end)]

    def _flush_text(self, *, submit: bool = False, end: float | None = None) -> list[Gesture]:
        t, self._text = self._text, None
        if t is None or not t.chars:
            return []
        return [Gesture(TypeText(text="".join(t.chars), submit=submit), t.start, end or t.last)]

    def _flush_all(self) -> list[Gesture]:
        return self._flush_click() + self._flush_scroll() + self._flush_text()


class TouchGestures:
    """Taps, long presses, swipes and hardware keys from a phone's touch samples and key events.

    Example:
        >>> g = TouchGestures(tap_px=20)
        >>> samples = [TouchSample(0.0, "down", 100, 200), TouchSample(0.05, "up", 102, 201),
        ...            TouchSample(1.0, "down", 500, 1800), TouchSample(1.2, "move", 500, 900),
        ...            TouchSample(1.3, "up", 500, 600), PhoneKey(2.0, "KEY_BACK", True)]
        >>> [x.action.type for s in samples for x in g.feed(s)]
        ['click', 'drag', 'navigate']
    """

    def __init__(self, *, tap_px: float = 24.0, long_press: float = 0.5) -> None:
        self.tap_px = tap_px
        self.long_press = long_press
        self.skipped: list[str] = []
        self._down: TouchSample | None = None
        self._far = False

    @property
    def pending_start(self) -> float | None:
        return self._down.time if self._down is not None else None

    def feed(self, event: PhoneEvent) -> list[Gesture]:
        if isinstance(event, PhoneKey):
            if not event.down:
                return []
            action = PHONE_KEYS.get(event.key)
            if action is None:
                try:
                    action = Key(name=normalize_key(event.key.removeprefix("KEY_")))
                except ValueError:
                    self.skipped.append(event.key)
                    return []
            return [Gesture(action, event.time, event.time)]
        if event.phase == "down":
            self._down, self._far = event, False
            return []
        down = self._down
        if down is None:
            return []
        self._far = self._far or math.dist((down.x, down.y), (event.x, event.y)) > self.tap_px
        if event.phase == "move":
            return []
        self._down = None
        held = event.time - down.time
        if self._far:
            action: Action = Drag(start=_pt(round(down.x), round(down.y)), end=_pt(round(event.x), round(event.y)),
                                  duration=_seconds(held))
        elif held >= self.long_press:
            action = LongPress(point=_pt(round(down.x), round(down.y)), duration=_seconds(held))
        else:
            action = Click(point=_pt(round(down.x), round(down.y)))
        return [Gesture(action, down.time, event.time)]

    def tick(self, now: float) -> list[Gesture]:
        return []

    def flush(self) -> list[Gesture]:
        self._down = None
        return []
