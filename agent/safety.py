"""What may run: dry-run, confirmations, the hotkey deny-list, and a stop request that ends after the action.

One policy for everything that executes recorded or generated actions: the loop consults it between
converting an action and executing it, and ``vlagent replay --execute`` consults the same policy before
every recorded action (a forged trajectory gets no further than a model reply would). A refusal raises
:class:`ActionRefused`, an ``ActionError``, so the model is told and nothing runs. pyautogui's FAILSAFE
(mouse to a corner aborts) stays on in the desktop env; nothing here turns it off.

The deny-list matches a hotkey that *contains* a denied combination, not only the exact one: a hotkey
presses all its keys down before releasing any, so ``ctrl+alt+delete+x`` has sent Ctrl+Alt+Del by the time
the ``x`` goes down. The stop hotkey (:data:`DEFAULT_STOP_HOTKEY`, see ``vlagent.envs.stop_hotkey``) joins
the deny-list while it is armed, so the model cannot stop itself by accident.

A stop request (Ctrl+C, the stop hotkey, :meth:`StopFlag.request`) is honoured before every action: the
action running when it arrives finishes, nothing after it starts, and the trajectory is closed as
``interrupted``.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from vlagent.actions.models import ACTION_TYPES, SENSITIVE_TYPES, Action, normalize_key
from vlagent.agent.describe import describe
from vlagent.agent.errors import ActionRefused, SafetyConfigError

ConfirmMode = Literal["never", "all", "sensitive"]
#: Key combinations never sent: lock, log out, close the window, kill switches.
DEFAULT_DENY_HOTKEYS: tuple[str, ...] = (
    "ctrl+alt+delete", "ctrl+alt+backspace", "alt+f4", "win+l", "ctrl+alt+l", "command+q",
    "command+option+esc", "ctrl+alt+f1", "ctrl+alt+f2",
)
#: The key combination that stops the agent on a desktop wherever the keyboard focus is (``--stop-hotkey``).
#: Three modifiers and a letter: no desktop or common application binds it, and a user finds it in a hurry.
DEFAULT_STOP_HOTKEY = "ctrl+alt+shift+s"


@dataclass(frozen=True)
class ConfirmRequest:
    """What a confirmation shows the user: the action in words, the model's thought, the annotated screenshot.

    ``screenshot`` is the screen the action was chosen on with the action drawn on it, written before the
    question is put (``None`` when nothing is recorded). ``step`` is the step's index.

    Example:
        >>> from vlagent.actions.models import TypeText
        >>> print(ConfirmRequest(TypeText(text="hi"), step=2, thought="Fill in the name.", screenshot=Path("s.png")).text())
        step 2: type 'hi'
          thought: Fill in the name.
          annotated screenshot: s.png
    """

    action: Action
    step: int | None = None
    thought: str | None = None
    screenshot: Path | None = None

    @property
    def description(self) -> str:
        return describe(self.action)

    def text(self) -> str:
        """The question's body, one fact a line (a thought over several lines is folded into one)."""
        head = f"step {self.step}: {self.description}" if self.step is not None else self.description
        lines = [head]
        if self.thought and self.thought.strip():
            lines.append("  thought: " + " ".join(self.thought.split()))
        if self.screenshot is not None:
            lines.append(f"  annotated screenshot: {self.screenshot}")
        return "\n".join(lines)


#: Answers a confirmation: ``request -> run it?``.
ConfirmFn = Callable[[ConfirmRequest], bool]


def parse_combo(text: str) -> frozenset[str]:
    """Normalise ``"Ctrl+Alt+Del"`` (or ``"ctrl alt delete"``) to the set of canonical key names.

    Example:
        >>> sorted(parse_combo("Ctrl+Alt+Del"))
        ['alt', 'ctrl', 'delete']
    """
    parts = [p for p in text.replace("+", " ").split() if p]
    if not parts:
        raise ValueError(f"empty key combination {text!r}")
    return frozenset(normalize_key(p) for p in parts)


@dataclass(frozen=True)
class SafetyPolicy:
    """Decides whether a converted action may run, and whether to ask first.

    ``confirm``: ``never``, ``all`` (ask before every executed action) or ``sensitive`` (ask before the
    types in ``sensitive``). ``ask`` answers the question; it is required when ``confirm`` is not
    ``never``. ``deny_hotkeys`` are key combinations refused outright (order does not matter).

    Example:
        >>> from vlagent.actions.models import Hotkey, TypeText
        >>> policy = SafetyPolicy(confirm="sensitive", ask=lambda request: False)
        >>> policy.needs_confirmation(TypeText(text="hi"))
        True
        >>> policy.check(Hotkey(keys=["shift", "alt", "f4"]))
        Traceback (most recent call last):
        ...
        vlagent.agent.errors.ActionRefused: refused hotkey shift+alt+f4: on the hotkey deny-list (alt+f4)
    """

    dry_run: bool = False
    confirm: ConfirmMode = "never"
    sensitive: frozenset[str] = SENSITIVE_TYPES
    deny_hotkeys: frozenset[frozenset[str]] = field(
        default_factory=lambda: frozenset(parse_combo(c) for c in DEFAULT_DENY_HOTKEYS)
    )
    ask: ConfirmFn | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.confirm not in ("never", "all", "sensitive"):
            raise ValueError(f"confirm must be never, all or sensitive, not {self.confirm!r}")
        if self.confirm != "never" and self.ask is None:
            raise ValueError(f"confirm={self.confirm!r} needs an `ask` callback to put the question")

    @classmethod
    def build(
        cls,
        *,
        dry_run: bool = False,
        confirm: ConfirmMode = "never",
        extra_sensitive: Iterable[str] = (),
        deny_hotkeys: Iterable[str] | None = None,
        stop_hotkey: str | None = None,
        ask: ConfirmFn | None = None,
    ) -> SafetyPolicy:
        """A policy from user-facing strings (CLI flags): extra sensitive types and ``"alt+f4"`` combos.

        ``stop_hotkey`` (the armed stop combination) is deny-listed too, so the agent cannot press it.
        """
        deny = DEFAULT_DENY_HOTKEYS if deny_hotkeys is None else tuple(deny_hotkeys)
        deny = deny + ((stop_hotkey,) if stop_hotkey else ())
        extra = frozenset(extra_sensitive)
        # A typo must not pass silently: `--sensitive clik` would otherwise confirm nothing it seems to.
        unknown = sorted(extra - set(ACTION_TYPES))
        if unknown:
            raise SafetyConfigError(
                f"{', '.join(map(repr, unknown))} is not an action type; sensitive types are among: "
                + ", ".join(ACTION_TYPES)
            )
        combos = []
        for combo in deny:
            try:
                combos.append(parse_combo(combo))
            except ValueError as exc:
                raise SafetyConfigError(f"cannot deny-list the key combination {combo!r}: {exc}") from exc
        return cls(
            dry_run=dry_run,
            confirm=confirm,
            sensitive=SENSITIVE_TYPES | extra,
            deny_hotkeys=frozenset(combos),
            ask=ask,
        )

    def check(self, action: Action) -> None:
        """Raise :class:`ActionRefused` when the keys the action holds down at once contain a denied combo."""
        if action.type == "hotkey":
            held = frozenset(action.keys)
        elif action.type == "key":
            held = frozenset([action.name])
        else:
            return
        for combo in sorted(self.deny_hotkeys, key=sorted):
            if combo <= held:
                shown = "" if combo == held else f" ({'+'.join(k for k in action_order(action, combo))})"
                raise ActionRefused(describe(action), reason=f"on the hotkey deny-list{shown}")

    def needs_confirmation(self, action: Action) -> bool:
        return self.confirm == "all" or (self.confirm == "sensitive" and action.type in self.sensitive)

    def approve(self, request: ConfirmRequest | Action) -> None:
        """Ask when the policy says so; raise :class:`ActionRefused` when the user declines."""
        if not isinstance(request, ConfirmRequest):
            request = ConfirmRequest(request)
        action = request.action
        if not self.needs_confirmation(action):
            return
        if self.ask is None:  # guarded in __post_init__; kept for policies built with object.__setattr__
            raise ActionRefused(describe(action), reason="confirmation needed but nobody to ask")
        if not self.ask(request):
            raise ActionRefused(describe(action), reason="the user declined it")

    def authorize(self, request: ConfirmRequest) -> None:
        """Both gates at once, deny-list then confirmation, for callers without a model to feed back to (replay)."""
        self.check(request.action)
        self.approve(request)


def action_order(action: Action, combo: frozenset[str]) -> list[str]:
    """The keys of ``combo`` in the order the action presses them (for messages)."""
    keys = list(action.keys) if action.type == "hotkey" else [action.name]
    return [k for k in keys if k in combo]


class StopFlag:
    """Set by Ctrl+C, the stop hotkey or code to stop the loop after the action that is running.

    ``by`` says who asked first (shown by the CLI). Thread-safe: the stop hotkey sets it from its own thread.

    Example:
        >>> flag = StopFlag()
        >>> flag.requested
        False
        >>> flag.request("the stop hotkey"); flag.requested, flag.by
        (True, 'the stop hotkey')
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self.by: str | None = None

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self, by: str = "a stop request") -> None:
        with self._lock:
            if self.by is None:
                self.by = by
        self._event.set()

    @contextmanager
    def on_sigint(self) -> Iterator[StopFlag]:
        """While inside, the first Ctrl+C sets the flag; a second one interrupts at once.

        The previous handler is restored on exit. Outside the main thread (where Python cannot install
        signal handlers) this does nothing, and Ctrl+C keeps its usual meaning.
        """
        if threading.current_thread() is not threading.main_thread():
            yield self
            return

        def handler(signum: int, frame: object) -> None:
            if self.requested:
                raise KeyboardInterrupt
            self.request("Ctrl+C")

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)
