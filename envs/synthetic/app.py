"""The base of every synthetic app: a gymnasium env that draws its state with Pillow and knows the answer.

A subclass sets up an episode from the seeded RNG (:meth:`SyntheticApp._setup`), draws its state and returns
the widgets it drew (:meth:`SyntheticApp._draw`), reacts to actions (``_on_click``, ``_on_type``, ...), and
says whether the task is done (:meth:`SyntheticApp._success`), lost for good (:meth:`SyntheticApp._failure`)
and what the next right action is (:meth:`SyntheticApp._oracle`). This class does the gymnasium plumbing:
seeding, action checks, rendering, the ``info`` dict and episode ends.

``info`` keys: ``success`` (bool), ``oracle`` (the next right action in screen space, ``None`` once the
episode is over), ``widgets`` (tuple of :class:`Widget` on the current frame), ``app``, ``task``,
``outcome`` (``None`` while running, else ``success``, ``failed: <why>``, ``finished`` or ``gave up``) and
``timings`` (drawing the returned frame is the ``capture``; setting up or changing the state is ``act``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from vlagent.actions.coords import Point
from vlagent.actions.errors import EnvError
from vlagent.actions.models import (
    Action,
    Click,
    Drag,
    Fail,
    Finished,
    Hotkey,
    Key,
    Navigate,
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
    Observation,
    ObservationSpace,
    VlagentEnv,
    check_render_mode,
    parse_task,
    task_key,
    task_option,
    task_words,
)
from vlagent.envs.synthetic.screen import AppConfigError, Painter, ScreenSpec, SizeArg
from vlagent.envs.synthetic.widgets import PAGE, FieldState, ListView, Widget

#: What every synthetic app performs on a desktop-sized screen.
DESKTOP_ACTIONS = frozenset({"click", "type", "key", "hotkey", "scroll", "wait", "finished", "fail"})
#: On a phone-sized screen: no hotkeys (no hardware keyboard), plus swipes and system navigation.
MOBILE_ACTIONS = frozenset({"click", "type", "key", "scroll", "drag", "navigate", "wait", "finished", "fail"})


class UnknownTaskError(EnvError, ValueError):
    """``options["task"]`` names a goal the app does not know; the message lists phrasings it does.

    Also a ``ValueError``: it is bad input to ``reset``, as gymnasium envs report bad options.

    Example:
        >>> str(UnknownTaskError("login", "fly to the moon", ["Sign in as 'ann' with password 'pw1'"]))
        "the login app has no task 'fly to the moon'; tasks look like: Sign in as 'ann' with password 'pw1'"
    """

    def __init__(self, app: str, task: str, examples: Sequence[str]) -> None:
        self.app = app
        self.task = task
        super().__init__(f"the {app} app has no task {task!r}; tasks look like: {'; '.join(examples)}")


def match_task(patterns: Sequence[re.Pattern[str]], text: str) -> re.Match[str] | None:
    """The first pattern that matches all of ``text`` (whitespace-normalised, a final period dropped)."""
    norm = task_key(text)
    for pattern in patterns:
        m = pattern.fullmatch(norm)
        if m:
            return m
    return None


class SyntheticApp(VlagentEnv):
    """Base class of the synthetic apps (see the module docstring for the subclass hooks).

    Example:
        >>> from vlagent.envs.synthetic.login import LoginApp
        >>> env = LoginApp(size=(800, 600))
        >>> obs, info = env.reset(seed=0)
        >>> obs.size, info["success"], info["oracle"].type
        ((800, 600), False, 'click')
    """

    name: ClassVar[str] = "app"
    description: ClassVar[str] = ""
    task_examples: ClassVar[tuple[str, ...]] = ()
    #: Types an app performs beyond the shared ones (it adds their handlers to ``action_handlers``).
    extra_actions: ClassVar[frozenset[str]] = frozenset()
    #: Every type some size of the app performs; an instance narrows it to its screen's family.
    supported_actions: ClassVar[frozenset[str]] = DESKTOP_ACTIONS | MOBILE_ACTIONS
    background: ClassVar[tuple[int, int, int]] = PAGE

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.supported_actions = DESKTOP_ACTIONS | MOBILE_ACTIONS | cls.extra_actions

    def __init__(self, size: SizeArg = "desktop", *, scale: float | None = None, render_mode: str | None = "rgb_array"):
        self.render_mode = check_render_mode(render_mode, AppConfigError)
        self.screen = ScreenSpec.resolve(size, scale=scale)
        self.family = self.screen.family
        self.observation_space = ObservationSpace(self.screen.size, self.family)
        self.action_space = ActionSpace(self.supported_actions_now(), self.screen.size)
        self.task = ""
        self._widgets: tuple[Widget, ...] = ()
        self._last_obs: Observation | None = None
        self._done = False
        self._outcome: str | None = None

    # ---- gymnasium API -------------------------------------------------------------------------------
    def supported_actions_now(self) -> frozenset[str]:
        base = MOBILE_ACTIONS if self.family == "mobile" else DESKTOP_ACTIONS
        return base | self.extra_actions

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Observation, dict]:
        super().reset(seed=seed)
        text, _ = task_option(options)
        goal = parse_task(text, self._parse_task, lambda t: UnknownTaskError(self.name, t, self.task_examples))
        timings = EnvTimings()
        with timings.measure(ACT):
            self._setup(self.np_random, goal)
        if text:
            self.task = task_words(text)  # the user's words, not the app's own phrasing
        self._done, self._outcome = False, None
        with timings.measure(CAPTURE):
            obs = self._observe()
        return obs, self._info(timings)

    def _step(self, action: Any) -> tuple[Observation, float, bool, bool, dict]:
        action = self.check_action(action, self.screen.size)
        timings = EnvTimings()
        with timings.measure(ACT):
            ended_by_agent = self._handle(action)
        with timings.measure(CAPTURE):
            obs = self._observe()
        success = self._success()
        failure = None if success else self._failure()
        if success:
            self._outcome = "success"
        elif failure is not None:
            self._outcome = f"failed: {failure}"
        elif ended_by_agent:
            self._outcome = ended_by_agent
        terminated = self._outcome is not None
        self._done = terminated  # before the info: its oracle stops at the end
        return obs, 1.0 if success else 0.0, terminated, False, self._info(timings)

    # ---- plumbing ------------------------------------------------------------------------------------
    # Each handler returns how the agent ended the episode ("finished", "gave up"), or None.
    def _finish(self, action: Finished) -> str:
        return "finished"

    def _give_up(self, action: Fail) -> str:
        return "gave up"

    def _click(self, action: Click) -> None:
        if action.button == "left":  # no context menus here: other buttons click nothing
            for i in range(action.count):
                if i:
                    self._observe()  # the second click of a double click hits the updated screen
                self._on_click(self._hit(action.point.x, action.point.y))

    def _type(self, action: TypeText) -> None:
        lines = action.text.split("\n")
        for i, line in enumerate(lines):
            if i:
                self._on_key("enter")
            if line:
                self._on_type(line)
        if action.submit:
            self._on_key("enter")

    def _key(self, action: Key) -> None:
        self._on_key(action.name)

    def _hotkey(self, action: Hotkey) -> None:
        self._on_hotkey(tuple(action.keys))

    def _scroll(self, action: Scroll) -> None:
        self._on_scroll(action.point, action.direction, action.amount)

    def _drag(self, action: Drag) -> None:
        self._on_swipe(action.start, action.end)

    def _navigate(self, action: Navigate) -> None:
        self._on_navigate(action.to)

    def _wait(self, action: Wait) -> None:
        """A drawn screen does not change by itself."""

    action_handlers: ClassVar[Mapping[str, Handler]] = MappingProxyType({
        "finished": _finish,
        "fail": _give_up,
        "click": _click,
        "type": _type,
        "key": _key,
        "hotkey": _hotkey,
        "scroll": _scroll,
        "drag": _drag,
        "navigate": _navigate,
        "wait": _wait,
    })

    def _hit(self, x: float, y: float) -> Widget | None:
        for widget in reversed(self._widgets):
            if widget.contains(x, y):
                return widget if widget.enabled else None
        return None

    def _observe(self) -> Observation:
        painter = Painter(self.screen, self.background)
        self._widgets = tuple(self._draw(painter))
        self._last_obs = Observation(
            painter.image, task=self.task, scale=self.screen.scale, family=self.family,
            extra={"app": self.name, "density": self.screen.density},
        )
        return self._last_obs

    def _info(self, timings: EnvTimings) -> dict[str, Any]:
        success = self._outcome == "success"
        return {
            "app": self.name,
            "task": self.task,
            "success": success,
            "outcome": self._outcome,
            "oracle": None if self._done else self._oracle(),
            "widgets": self._widgets,
            "timings": timings,
        }

    def widget(self, name: str) -> Widget | None:
        """The widget called ``name`` on the current frame, if it is there."""
        return next((w for w in self._widgets if w.name == name), None)

    @property
    def widgets(self) -> tuple[Widget, ...]:
        """The interactive widgets of the current frame (ground truth)."""
        return self._widgets

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            return None
        return super().render()

    # ---- shared input behaviour for text fields -------------------------------------------------------
    def _focused_field(self) -> FieldState | None:
        return None

    def _on_type(self, text: str) -> None:
        field = self._focused_field()
        if field is not None:
            field.type(text)

    def _on_key(self, name: str) -> None:
        field = self._focused_field()
        if field is not None and name == "backspace":
            field.backspace()
        elif field is not None and name == "delete" and field.selected:
            field.clear()

    def _on_hotkey(self, keys: tuple[str, ...]) -> None:
        field = self._focused_field()
        if field is not None and set(keys) in ({"ctrl", "a"}, {"command", "a"}):
            field.select_all()

    # ---- hooks a subclass overrides ------------------------------------------------------------------
    def _parse_task(self, text: str) -> Any | None:
        raise NotImplementedError

    def _setup(self, rng: np.random.Generator, goal: Any | None) -> None:
        """Start an episode: draw content and a goal from ``rng`` (``goal`` overrides the drawn one).

        Sets ``self.task``; draws the same random numbers whether or not ``goal`` is given.
        """
        raise NotImplementedError

    def _draw(self, p: Painter) -> list[Widget]:
        raise NotImplementedError

    def _on_click(self, widget: Widget | None) -> None:
        raise NotImplementedError

    def _scrollable(self) -> ListView | None:
        """The list that scroll and swipe move (``None``: nothing on this screen scrolls)."""
        return None

    def _on_scroll(self, point: Point | None, direction: str, amount: int) -> None:
        """Scroll the list when the pointer is over it (or no point is given)."""
        view = self._scrollable()
        if view is not None and (point is None or view.contains(point.x, point.y)):
            view.scroll(direction, amount)

    def _on_swipe(self, start: Point, end: Point) -> None:
        """A swipe that starts on the list drags its content with the finger."""
        view = self._scrollable()
        if view is not None and view.contains(start.x, start.y):
            view.swipe(start.y, end.y)

    def _on_navigate(self, to: str) -> None:
        """Back/home/recents do nothing in a single-screen app unless it says otherwise."""

    def _success(self) -> bool:
        raise NotImplementedError

    def _failure(self) -> str | None:
        return None

    def _oracle(self) -> Action | None:
        raise NotImplementedError

