"""What may run: dry-run, confirmations, the hotkey deny-list, and Ctrl+C that stops after the step.

The policy is consulted by the loop between converting an action and executing it. A refusal raises
:class:`ActionRefused`, an ``ActionError``, so the model is told and nothing runs. pyautogui's FAILSAFE
(mouse to a corner aborts) stays on in the desktop env; nothing here turns it off.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from vlagent.actions.models import ACTION_TYPES, Action, normalize_key
from vlagent.agent.describe import describe
from vlagent.agent.errors import ActionRefused, SafetyConfigError

ConfirmMode = Literal["never", "all", "sensitive"]
#: Action types that change text or leave the app (asked about under ``confirm="sensitive"``).
SENSITIVE_TYPES: frozenset[str] = frozenset({"type", "hotkey", "open_app", "key"})
#: Key combinations never sent: lock, log out, close the window, kill switches.
DEFAULT_DENY_HOTKEYS: tuple[str, ...] = (
    "ctrl+alt+delete", "ctrl+alt+backspace", "alt+f4", "win+l", "ctrl+alt+l", "command+q",
    "command+option+esc", "ctrl+alt+f1", "ctrl+alt+f2",
)
#: Answers the confirmation callback: ``(action, description) -> run it?``.
ConfirmFn = Callable[[Action, str], bool]


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
        >>> policy = SafetyPolicy(confirm="sensitive", ask=lambda action, text: False)
        >>> policy.needs_confirmation(TypeText(text="hi"))
        True
        >>> policy.check(Hotkey(keys=["alt", "f4"]))
        Traceback (most recent call last):
        ...
        vlagent.agent.errors.ActionRefused: refused hotkey alt+f4: on the hotkey deny-list
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
        ask: ConfirmFn | None = None,
    ) -> SafetyPolicy:
        """A policy from user-facing strings (CLI flags): extra sensitive types and ``"alt+f4"`` combos."""
        deny = DEFAULT_DENY_HOTKEYS if deny_hotkeys is None else tuple(deny_hotkeys)
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
        """Raise :class:`ActionRefused` when the action is on the deny-list."""
        if action.type == "hotkey" and frozenset(action.keys) in self.deny_hotkeys:
            raise ActionRefused(describe(action), reason="on the hotkey deny-list")
        if action.type == "key" and frozenset([action.name]) in self.deny_hotkeys:
            raise ActionRefused(describe(action), reason="on the hotkey deny-list")

    def needs_confirmation(self, action: Action) -> bool:
        return self.confirm == "all" or (self.confirm == "sensitive" and action.type in self.sensitive)

    def approve(self, action: Action) -> None:
        """Ask when the policy says so; raise :class:`ActionRefused` when the user declines."""
        if not self.needs_confirmation(action):
            return
        if self.ask is None:  # guarded in __post_init__; kept for policies built with object.__setattr__
            raise ActionRefused(describe(action), reason="confirmation needed but nobody to ask")
        if not self.ask(action, describe(action)):
            raise ActionRefused(describe(action), reason="the user declined it")


class StopFlag:
    """Set by Ctrl+C (or by code) to stop the loop after the current step.

    Example:
        >>> flag = StopFlag()
        >>> flag.requested
        False
        >>> flag.request(); flag.requested
        True
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self) -> None:
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
            self.request()

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)
