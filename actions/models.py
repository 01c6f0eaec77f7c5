"""The typed action set: one pydantic discriminated union on ``type``.

Parsers produce these in model space; the loop converts their points to ``screen`` space with
:func:`convert_action` and hands them to an env. Each action is its own small model with
``extra="forbid"`` so a typo in a field name is an error, not a silently ignored argument.
"""

from __future__ import annotations

import string
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from vlagent.actions.coords import Box, Geometry, Point, to_screen
from vlagent.actions.errors import CoordinateError

Direction = Literal["up", "down", "left", "right"]
DIRECTIONS: tuple[str, ...] = ("up", "down", "left", "right")
MouseButton = Literal["left", "right", "middle"]

# Canonical key names (pyautogui's names where they exist) and the spellings models use for them.
_NAMED_KEYS = {
    "enter", "esc", "tab", "backspace", "delete", "space", "up", "down", "left", "right", "home", "end",
    "pageup", "pagedown", "insert", "ctrl", "alt", "shift", "win", "command", "option", "capslock",
    "printscreen", "menu", "back", "recents", "volumeup", "volumedown", "power", "search", "camera",
    "numlock", "scrolllock", "pause",
} | {f"f{i}" for i in range(1, 25)}
KEY_ALIASES: dict[str, str] = {
    "return": "enter", "escape": "esc", "control": "ctrl", "ctl": "ctrl", "cmd": "command", "meta": "win",
    "super": "win", "windows": "win", "arrowup": "up", "arrowdown": "down", "arrowleft": "left",
    "arrowright": "right", "arrow_up": "up", "arrow_down": "down", "arrow_left": "left", "arrow_right": "right",
    "page_up": "pageup", "page_down": "pagedown", "pgup": "pageup", "pgdn": "pagedown", "del": "delete",
    "bksp": "backspace", "back_space": "backspace", "spacebar": "space", "ins": "insert", "opt": "option",
    "caps_lock": "capslock", "prtsc": "printscreen", "print": "printscreen", "keycode_back": "back",
    "keycode_home": "home", "keycode_enter": "enter", "app_switch": "recents", "recent": "recents",
    "volume_up": "volumeup", "volume_down": "volumedown", "ctrlleft": "ctrl", "ctrlright": "ctrl",
    "shiftleft": "shift", "shiftright": "shift", "altleft": "alt", "altright": "alt", "lctrl": "ctrl",
    "rctrl": "ctrl", "lshift": "shift", "rshift": "shift", "lalt": "alt", "ralt": "alt",
}
KNOWN_KEYS: frozenset[str] = frozenset(_NAMED_KEYS | set(string.ascii_lowercase) | set(string.digits)
                                       | set(string.punctuation))


def normalize_key(name: str) -> str:
    """Canonical name of a key, or ``ValueError`` for a name no env could press.

    Example:
        >>> normalize_key("Return"), normalize_key("Control"), normalize_key("A")
        ('enter', 'ctrl', 'a')
    """
    raw = name.strip()
    if len(raw) == 1 and raw in string.punctuation:
        return raw
    key = raw.lower().replace(" ", "")
    key = KEY_ALIASES.get(key, key)
    if key not in KNOWN_KEYS:
        raise ValueError(f"unknown key name {name!r}")
    return key


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def points(self) -> dict[str, Point]:
        """The action's points by field name (empty for actions without one)."""
        return {k: v for k, v in ((k, getattr(self, k)) for k in type(self).model_fields) if isinstance(v, Point)}


class Click(_Action):
    """Click at a point; ``count=2`` is a double click.

    Example:
        >>> Click(point=Point(x=10, y=20, space="screen")).button
        'left'
    """

    type: Literal["click"] = "click"
    point: Point = Field(description="where to click")
    button: MouseButton = "left"
    count: int = Field(default=1, ge=1, le=3, description="1 single, 2 double, 3 triple click")
    box: Box | None = Field(default=None, description="the box the model grounded, when it gave one")


class LongPress(_Action):
    """Press and hold (a long press on a phone, a held mouse button on a desktop).

    Example:
        >>> LongPress(point=Point(x=10, y=20, space="screen")).duration
        1.0
    """

    type: Literal["long_press"] = "long_press"
    point: Point
    duration: float = Field(default=1.0, gt=0, le=60, description="seconds held")


class Drag(_Action):
    """Drag (or swipe) from ``start`` to ``end``.

    Example:
        >>> d = Drag(start=Point(x=0, y=0, space="rel1000"), end=Point(x=500, y=0, space="rel1000"))
        >>> sorted(d.points())
        ['end', 'start']
    """

    type: Literal["drag"] = "drag"
    start: Point
    end: Point
    duration: float = Field(default=0.5, gt=0, le=60)


class Scroll(_Action):
    """Scroll the content in ``direction``; at ``point`` when given, else where the pointer is.

    Example:
        >>> Scroll(direction="down").amount
        5
    """

    type: Literal["scroll"] = "scroll"
    point: Point | None = None
    direction: Direction
    amount: int = Field(default=5, ge=1, le=100, description="wheel clicks (desktop) or screen-fraction tenths")


class TypeText(_Action):
    """Type text; ``submit`` presses Enter afterwards (UI-TARS writes a trailing newline for it).

    Example:
        >>> TypeText(text="hello", submit=True).submit
        True
    """

    type: Literal["type"] = "type"
    text: str = Field(min_length=1)
    submit: bool = False


class Key(_Action):
    """Press one key (the name is normalised, see :func:`normalize_key`).

    Example:
        >>> Key(name="Enter").name
        'enter'
    """

    type: Literal["key"] = "key"
    name: str

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        return normalize_key(v)


class Hotkey(_Action):
    """Press keys together, e.g. ``["ctrl", "c"]``.

    Example:
        >>> Hotkey(keys=["Ctrl", "c"]).keys
        ['ctrl', 'c']
    """

    type: Literal["hotkey"] = "hotkey"
    keys: list[str] = Field(min_length=1, max_length=5)

    @field_validator("keys")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        return [normalize_key(k) for k in v]


class Move(_Action):
    """Move the pointer or a robot target to ``point``, or move one step in ``direction`` (navigation).

    Example:
        >>> Move(direction="up").point is None
        True
    """

    type: Literal["move"] = "move"
    point: Point | None = None
    direction: Direction | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.point is None) == (self.direction is None):
            raise ValueError("move takes exactly one of point or direction")
        return self


class Choose(_Action):
    """Pick one of an env's named discrete actions (``hit``, ``LEFT``, ``FIRE``).

    Example:
        >>> Choose(option=" FIRE ").option
        'FIRE'
    """

    type: Literal["choose"] = "choose"
    option: str = Field(min_length=1)

    @field_validator("option")
    @classmethod
    def _stripped(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("option must not be blank")
        return v


class Navigate(_Action):
    """System navigation on phones: back, home, recents.

    Example:
        >>> Navigate(to="back").type
        'navigate'
    """

    type: Literal["navigate"] = "navigate"
    to: Literal["back", "home", "recents"]


class OpenApp(_Action):
    """Launch an app by name or package.

    Example:
        >>> OpenApp(name="Settings").name
        'Settings'
    """

    type: Literal["open_app"] = "open_app"
    name: str = Field(min_length=1)


class Wait(_Action):
    """Wait for the screen to change.

    Example:
        >>> Wait().seconds
        1.0
    """

    type: Literal["wait"] = "wait"
    seconds: float = Field(default=1.0, gt=0, le=60)


class Finished(_Action):
    """The task is done; ``answer`` carries a reply for question-style tasks.

    Example:
        >>> Finished(answer="42").answer
        '42'
    """

    type: Literal["finished"] = "finished"
    answer: str | None = None


class Fail(_Action):
    """The model gives up on the task.

    Example:
        >>> Fail().reason
        'the model gave up'
    """

    type: Literal["fail"] = "fail"
    reason: str = Field(default="the model gave up", min_length=1)


class CallUser(_Action):
    """The model asks the human for help.

    Example:
        >>> CallUser(question="Which account?").question
        'Which account?'
    """

    type: Literal["call_user"] = "call_user"
    question: str = Field(default="the model asks for help", min_length=1)


Action = Annotated[
    Click | LongPress | Drag | Scroll | TypeText | Key | Hotkey | Move | Choose | Navigate | OpenApp | Wait
    | Finished | Fail | CallUser,
    Field(discriminator="type"),
]
ACTION_TYPES: tuple[str, ...] = (
    "click", "long_press", "drag", "scroll", "type", "key", "hotkey", "move", "choose", "navigate",
    "open_app", "wait", "finished", "fail", "call_user",
)
#: Actions that end an episode.
TERMINAL_TYPES = frozenset({"finished", "fail"})
ActionAdapter: TypeAdapter[Action] = TypeAdapter(Action)
ActionListAdapter: TypeAdapter[list[Action]] = TypeAdapter(list[Action])


def convert_action(action: Action, geometry: Geometry, *, tolerance: float | None = None) -> Action:
    """The same action with every point (and box) in ``screen`` space; raises ``CoordinateError``.

    Example:
        >>> g = Geometry(width=200, height=100, resized_width=196, resized_height=112)
        >>> convert_action(Click(point=Point(x=500, y=500, space="rel1000")), g).point
        Point(x=100.0, y=50.0, space='screen')
    """
    kwargs = {} if tolerance is None else {"tolerance": tolerance}
    updates: dict[str, object] = {name: to_screen(p, geometry, **kwargs) for name, p in action.points().items()}
    box = getattr(action, "box", None)
    if box is not None:
        try:
            a, b = (to_screen(p, geometry, tolerance=1.0) for p in box.corners())
            updates["box"] = Box(x1=a.x, y1=a.y, x2=b.x, y2=b.y, space="screen")
        except CoordinateError:  # the box only decorates the record; its centre was checked above
            updates["box"] = None
    return action.model_copy(update=updates) if updates else action


class ParsedReply(BaseModel):
    """What a parser found in one reply: the actions in order and the model's reasoning.

    Example:
        >>> ParsedReply(raw="Action: wait()", actions=[Wait()]).actions[0].type
        'wait'
    """

    model_config = ConfigDict(extra="forbid")

    raw: str
    thought: str | None = None
    actions: list[Action] = Field(min_length=1)
