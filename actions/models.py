"""The typed action set: one pydantic discriminated union on ``type``.

Parsers produce these in model space; the loop converts their points to ``screen`` space with
:func:`convert_action` and hands them to an env. Each action is its own small model with
``extra="forbid"`` so a typo in a field name is an error, not a silently ignored argument.

The union is the one list of action types. Each class carries what the rest of vlagent needs
(``summary``, ``describe``, ``marks``, ``sampler``, ``families``, ``by_loop``, ``terminal``,
``sensitive``), and :data:`ACTION_TYPES`, :data:`LOOP_ACTIONS`, :data:`TERMINAL_TYPES`,
:data:`SENSITIVE_TYPES` and :data:`FAMILY_DEFAULTS` are derived from them. Profiles keep their own
wording tables (each model's published prompt), checked against the union when they load.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from vlagent.actions.coords import Box, Geometry, Point, to_screen
from vlagent.actions.errors import CoordinateError

#: The kinds of env a prompt is written for (one definition: envs, prompts and the loop import it from here).
Family = Literal["desktop", "mobile", "web", "game", "robot"]
FAMILIES: tuple[Family, ...] = ("desktop", "mobile", "web", "game", "robot")
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


def point_text(p: Point | None) -> str:
    """A point as ``(x, y)``, with its space unless it is ``screen`` (what an env was actually given).

    Example:
        >>> point_text(Point(x=5, y=7.5, space="rel1000"))
        '(5, 7.5) [rel1000]'
    """
    if p is None:
        return ""
    suffix = "" if p.space == "screen" else f" [{p.space}]"
    return f"({p.x:g}, {p.y:g}){suffix}"


@dataclass(frozen=True)
class Marker:
    """Annotation: a marker at ``at`` (``None``: the screen's centre); ``double`` rings it twice."""

    at: Point | None
    double: bool = False


@dataclass(frozen=True)
class Arrow:
    """Annotation: an arrow from ``start`` (``None``: the centre) to ``end``, or towards ``direction``.

    A directional arrow (a scroll) is a sixth of the screen long.
    """

    start: Point | None
    end: Point | None = None
    direction: Direction | None = None


#: What an annotation draws for an action; agent/annotate.py knows how to draw each kind.
Mark = Marker | Arrow


@dataclass(frozen=True)
class SampleSpace:
    """What a random action is drawn from (gymnasium's ``ActionSpace.sample``, for ``check_env``).

    ``integers(low, high)`` is the env's random source (an int in ``[low, high)``); ``size`` the screen
    (``None``: not known yet, points then land on a 64x64 one); ``options`` the env's named actions.

    Example:
        >>> SampleSpace(lambda lo, hi: lo, size=(10, 10)).point()
        Point(x=0.0, y=0.0, space='screen')
    """

    integers: Callable[[int, int], int]
    size: tuple[int, int] | None = None
    options: tuple[str, ...] = ()

    def point(self) -> Point:
        """A random point on the screen."""
        w, h = self.size or (64, 64)
        return Point(x=self.integers(0, w), y=self.integers(0, h), space="screen")

    def option(self) -> str:
        """A random one of the env's named actions."""
        return self.options[self.integers(0, len(self.options))]


#: Makes one random action; ``None`` where an action type is never drawn at random.
Sampler = Callable[[], "_Action"] | None
#: What each action class must define for itself (``__init_subclass__`` refuses a class without them).
REQUIRED_METADATA: tuple[str, ...] = ("summary", "describe")


class _Action(BaseModel):
    """Base of every action: the metadata the rest of vlagent derives from, defined per class.

    A subclass sets ``summary`` (one line, what the action does: for help texts and plugin profiles, the
    built-in ones keep their model's own words) and
    overrides :meth:`describe` (the action in words, for history, confirmations and captions); it may
    override :meth:`marks` (what an annotation draws) and :meth:`sampler` (a random instance for
    ``check_env``). ``families`` says where it is offered by default, ``by_loop`` marks actions the loop performs itself whatever the env supports,
    ``terminal`` those that end the episode.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    summary: ClassVar[str]
    #: The families whose envs usually perform it: what a prompt offers when a request names no env set.
    families: ClassVar[frozenset[Family]] = frozenset()
    by_loop: ClassVar[bool] = False
    terminal: ClassVar[bool] = False
    #: It changes text or leaves the app: asked about under ``--confirm sensitive`` (agent/safety.py).
    sensitive: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        missing = [name for name in REQUIRED_METADATA if name not in cls.__dict__]
        if missing:
            raise TypeError(f"action class {cls.__name__} must define {', '.join(missing)} itself")

    def points(self) -> dict[str, Point]:
        """The action's points by field name (empty for actions without one)."""
        return {k: v for k, v in ((k, getattr(self, k)) for k in type(self).model_fields) if isinstance(v, Point)}

    def describe(self) -> str:
        """A short human-readable line for the action, points in the space they are in."""
        raise NotImplementedError

    def marks(self) -> tuple[Mark, ...]:
        """What an annotated screenshot draws for this action (nothing, unless a class says otherwise)."""
        return ()

    @classmethod
    def sampler(cls, space: SampleSpace) -> Sampler:
        """A maker of random, harmless instances, or ``None``: the type is never drawn at random."""
        return None


class Click(_Action):
    """Click at a point; ``count=2`` is a double click.

    Example:
        >>> Click(point=Point(x=10, y=20, space="screen")).button
        'left'
    """

    summary: ClassVar[str] = "click (or double/triple click) at a point"
    families: ClassVar[frozenset[Family]] = frozenset({"desktop", "web", "mobile", "robot"})

    type: Literal["click"] = "click"
    point: Point = Field(description="where to click")
    button: MouseButton = "left"
    count: int = Field(default=1, ge=1, le=3, description="1 single, 2 double, 3 triple click")
    box: Box | None = Field(default=None, description="the box the model grounded, when it gave one")

    def describe(self) -> str:
        kind = {1: "click", 2: "double click", 3: "triple click"}[self.count]
        button = "" if self.button == "left" else f"{self.button} "
        return f"{button}{kind} at {point_text(self.point)}"

    def marks(self) -> tuple[Mark, ...]:
        return (Marker(self.point, double=self.count > 1),)

    @classmethod
    def sampler(cls, space: SampleSpace) -> Sampler:
        return lambda: cls(point=space.point())



class LongPress(_Action):
    """Press and hold (a long press on a phone, a held mouse button on a desktop).

    Example:
        >>> LongPress(point=Point(x=10, y=20, space="screen")).duration
        1.0
    """

    summary: ClassVar[str] = "press and hold at a point"
    families: ClassVar[frozenset[Family]] = frozenset({"mobile"})

    type: Literal["long_press"] = "long_press"
    point: Point
    duration: float = Field(default=1.0, gt=0, le=60, description="seconds held")

    def describe(self) -> str:
        return f"long press at {point_text(self.point)} for {self.duration:g}s"

    def marks(self) -> tuple[Mark, ...]:
        return (Marker(self.point, double=True),)

    @classmethod
    def sampler(cls, space: SampleSpace) -> Sampler:
        return lambda: cls(point=space.point(), duration=0.1)



class Drag(_Action):
    """Drag (or swipe) from ``start`` to ``end``.

    Example:
        >>> d = Drag(start=Point(x=0, y=0, space="rel1000"), end=Point(x=500, y=0, space="rel1000"))
        >>> sorted(d.points())
        ['end', 'start']
    """

    summary: ClassVar[str] = "drag or swipe from one point to another"
    families: ClassVar[frozenset[Family]] = frozenset({"desktop", "web", "mobile", "robot"})

    type: Literal["drag"] = "drag"
    start: Point
    end: Point
    duration: float = Field(default=0.5, gt=0, le=60)

    def describe(self) -> str:
        return f"drag from {point_text(self.start)} to {point_text(self.end)}"

    def marks(self) -> tuple[Mark, ...]:
        return (Marker(self.start), Arrow(self.start, end=self.end))

    @classmethod
    def sampler(cls, space: SampleSpace) -> Sampler:
        return lambda: cls(start=space.point(), end=space.point(), duration=0.1)



class Scroll(_Action):
    """Scroll the content in ``direction``; at ``point`` when given, else where the pointer is.

    Example:
        >>> Scroll(direction="down").amount
        5
    """

    summary: ClassVar[str] = "scroll the content in a direction"
    families: ClassVar[frozenset[Family]] = frozenset({"desktop", "web", "mobile"})

    type: Literal["scroll"] = "scroll"
    point: Point | None = None
    direction: Direction
    amount: int = Field(default=5, ge=1, le=100, description="wheel clicks (desktop) or screen-fraction tenths")

    def describe(self) -> str:
        where = f" at {point_text(self.point)}" if self.point is not None else ""
        return f"scroll {self.direction} by {self.amount}{where}"

    def marks(self) -> tuple[Mark, ...]:
        return (Marker(self.point), Arrow(self.point, direction=self.direction))

    @classmethod
    def sampler(cls, space: SampleSpace) -> Sampler:
        return lambda: cls(point=space.point(), direction="down", amount=1)



class TypeText(_Action):
    """Type text; ``submit`` presses Enter afterwards (UI-TARS writes a trailing newline for it).

    Example:
        >>> TypeText(text="hello", submit=True).submit
        True
    """

    summary: ClassVar[str] = "type text, optionally pressing Enter after it"
    families: ClassVar[frozenset[Family]] = frozenset({"desktop", "web", "mobile"})
    sensitive: ClassVar[bool] = True

    type: Literal["type"] = "type"
    text: str = Field(min_length=1)
    submit: bool = False

    def describe(self) -> str:
        return f"type {self.text!r}" + (" and submit" if self.submit else "")

    @classmethod
    def sampler(cls, space: SampleSpace) -> Sampler:
        return lambda: cls(text="a")



class Key(_Action):
    """Press one key (the name is normalised, see :func:`normalize_key`).

    Example:
        >>> Key(name="Enter").name
        'enter'
    """

    summary: ClassVar[str] = "press one key"
    families: ClassVar[frozenset[Family]] = frozenset({"desktop", "web"})
    sensitive: ClassVar[bool] = True

    type: Literal["key"] = "key"
    name: str

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        return normalize_key(v)

    def describe(self) -> str:
        return f"key {self.name}"

    @classmethod
    def sampler(cls, space: SampleSpace) -> Sampler:
        return lambda: cls(name="tab")



class Hotkey(_Action):
    """Press keys together, e.g. ``["ctrl", "c"]``.

    Example:
        >>> Hotkey(keys=["Ctrl", "c"]).keys
        ['ctrl', 'c']
    """

    summary: ClassVar[str] = "press keys together"
    families: ClassVar[frozenset[Family]] = frozenset({"desktop", "web"})
    sensitive: ClassVar[bool] = True

    type: Literal["hotkey"] = "hotkey"
    keys: list[str] = Field(min_length=1, max_length=5)

    @field_validator("keys")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        return [normalize_key(k) for k in v]

    def describe(self) -> str:
        return "hotkey " + "+".join(self.keys)



class Move(_Action):
    """Move the pointer or a robot target to ``point``, or move one step in ``direction`` (navigation).

    Example:
        >>> Move(direction="up").point is None
        True
    """

    summary: ClassVar[str] = "move the pointer or target to a point, or one step in a direction"
    families: ClassVar[frozenset[Family]] = frozenset({"desktop", "web", "game", "robot"})

    type: Literal["move"] = "move"
    point: Point | None = None
    direction: Direction | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.point is None) == (self.direction is None):
            raise ValueError("move takes exactly one of point or direction")
        return self

    def describe(self) -> str:
        return f"move to {point_text(self.point)}" if self.point is not None else f"move {self.direction}"

    def marks(self) -> tuple[Mark, ...]:
        return () if self.point is None else (Marker(self.point),)

    @classmethod
    def sampler(cls, space: SampleSpace) -> Sampler:
        return (lambda: cls(point=space.point())) if space.size else (lambda: cls(direction="up"))



class Choose(_Action):
    """Pick one of an env's named discrete actions (``hit``, ``LEFT``, ``FIRE``).

    Example:
        >>> Choose(option=" FIRE ").option
        'FIRE'
    """

    summary: ClassVar[str] = "perform one of the env's named actions"
    families: ClassVar[frozenset[Family]] = frozenset({"game", "robot"})

    type: Literal["choose"] = "choose"
    option: str = Field(min_length=1)

    @field_validator("option")
    @classmethod
    def _stripped(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("option must not be blank")
        return v

    def describe(self) -> str:
        return f"choose {self.option}"

    @classmethod
    def sampler(cls, space: SampleSpace) -> Sampler:
        return (lambda: cls(option=space.option())) if space.options else None



class Navigate(_Action):
    """System navigation on phones: back, home, recents.

    Example:
        >>> Navigate(to="back").type
        'navigate'
    """

    summary: ClassVar[str] = "system navigation: back, home or recents"
    families: ClassVar[frozenset[Family]] = frozenset({"mobile"})

    type: Literal["navigate"] = "navigate"
    to: Literal["back", "home", "recents"]

    def describe(self) -> str:
        return f"navigate {self.to}"



class OpenApp(_Action):
    """Launch an app by name or package.

    Example:
        >>> OpenApp(name="Settings").name
        'Settings'
    """

    summary: ClassVar[str] = "launch an app by name"
    families: ClassVar[frozenset[Family]] = frozenset({"mobile"})
    sensitive: ClassVar[bool] = True

    type: Literal["open_app"] = "open_app"
    name: str = Field(min_length=1)

    def describe(self) -> str:
        return f"open app {self.name!r}"



class Wait(_Action):
    """Wait for the screen to change.

    Example:
        >>> Wait().seconds
        1.0
    """

    summary: ClassVar[str] = "wait for the screen to change"
    families: ClassVar[frozenset[Family]] = frozenset({"desktop", "web", "mobile"})

    type: Literal["wait"] = "wait"
    seconds: float = Field(default=1.0, gt=0, le=60)

    def describe(self) -> str:
        return f"wait {self.seconds:g}s"

    @classmethod
    def sampler(cls, space: SampleSpace) -> Sampler:
        return lambda: cls(seconds=0.01)



class Finished(_Action):
    """The task is done; ``answer`` carries a reply for question-style tasks.

    Example:
        >>> Finished(answer="42").answer
        '42'
    """

    summary: ClassVar[str] = "the task is done (with an answer when it asks a question)"
    by_loop: ClassVar[bool] = True
    terminal: ClassVar[bool] = True

    type: Literal["finished"] = "finished"
    answer: str | None = None

    def describe(self) -> str:
        return "finished" + (f": {self.answer}" if self.answer else "")

    @classmethod
    def sampler(cls, space: SampleSpace) -> Sampler:
        return cls



class Fail(_Action):
    """The model gives up on the task.

    Example:
        >>> Fail().reason
        'the model gave up'
    """

    summary: ClassVar[str] = "give up on the task, saying why"
    by_loop: ClassVar[bool] = True
    terminal: ClassVar[bool] = True

    type: Literal["fail"] = "fail"
    reason: str = Field(default="the model gave up", min_length=1)

    def describe(self) -> str:
        return f"fail: {self.reason}"



class CallUser(_Action):
    """The model asks the human for help.

    Example:
        >>> CallUser(question="Which account?").question
        'Which account?'
    """

    summary: ClassVar[str] = "ask the user for help"
    by_loop: ClassVar[bool] = True

    type: Literal["call_user"] = "call_user"
    question: str = Field(default="the model asks for help", min_length=1)

    def describe(self) -> str:
        return f"call user: {self.question}"


Action = Annotated[
    Click | LongPress | Drag | Scroll | TypeText | Key | Hotkey | Move | Choose | Navigate | OpenApp | Wait
    | Finished | Fail | CallUser,
    Field(discriminator="type"),
]
#: The base class of every action: what a type check or a test's own action class uses.
ActionBase = _Action
#: The action classes, in the union's order: the one list every other table derives from.
ACTION_CLASSES: tuple[type[_Action], ...] = get_args(get_args(Action)[0])
#: Each action type's class, by its ``type`` tag.
ACTION_CLASS_BY_TYPE: dict[str, type[_Action]] = {
    cls.model_fields["type"].default: cls for cls in ACTION_CLASSES
}
ACTION_TYPES: tuple[str, ...] = tuple(ACTION_CLASS_BY_TYPE)
#: Actions that end an episode.
TERMINAL_TYPES: frozenset[str] = frozenset(t for t, cls in ACTION_CLASS_BY_TYPE.items() if cls.terminal)
#: Actions the loop performs itself (it ends or pauses the episode), whatever the env supports.
LOOP_ACTIONS: frozenset[str] = frozenset(t for t, cls in ACTION_CLASS_BY_TYPE.items() if cls.by_loop)
#: Actions that change text or leave the app (each class's ``sensitive``).
SENSITIVE_TYPES: frozenset[str] = frozenset(t for t, cls in ACTION_CLASS_BY_TYPE.items() if cls.sensitive)
#: What a family's env usually performs (each class's ``families``), for requests that do not say.
FAMILY_DEFAULTS: dict[Family, frozenset[str]] = {
    family: frozenset(t for t, cls in ACTION_CLASS_BY_TYPE.items() if family in cls.families) for family in FAMILIES
}
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
