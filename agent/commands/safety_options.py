"""The safety options ``vlagent run`` and ``vlagent replay`` share, built into one policy the same way.

``--dry-run``, ``--confirm``, ``--sensitive``, ``--deny-hotkey`` and ``--stop-hotkey`` mean the same in
both commands, so a recorded trajectory replayed with ``--execute`` meets exactly the gates a model's reply
meets. The terminal's confirmation prompt shows the step, the action in words, the model's thought and
where the annotated screenshot is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import typer

from vlagent.agent.safety import DEFAULT_DENY_HOTKEYS, ConfirmRequest, SafetyPolicy, StopFlag, parse_combo

#: ``--stop-hotkey`` values that turn the stop hotkey off.
STOP_HOTKEY_OFF = frozenset({"off", "none", ""})
STOP_HOTKEY_HELP = (
    "Key combination that stops the agent after the running action, wherever the focus is (desktop only; "
    "default ctrl+alt+shift+s; 'off' to disable). It is deny-listed for the agent's own hotkeys."
)


class ConfirmChoice(StrEnum):
    """When ``--confirm`` asks before executing.

    Example:
        >>> ConfirmChoice("sensitive").value
        'sensitive'
    """

    never = "never"
    all = "all"
    sensitive = "sensitive"


def terminal_confirm(request: ConfirmRequest) -> bool:
    """Ask on the terminal; Ctrl+C or end of input at the prompt stops as Ctrl+C does (``interrupted``)."""
    try:
        return typer.confirm(f"{request.text()}\nexecute it?", default=False)
    except typer.Abort:
        raise KeyboardInterrupt from None


def stop_combo(text: str | None) -> frozenset[str] | None:
    """``--stop-hotkey`` as a key set, ``None`` when turned off; a bad combination is a usage error."""
    if text is None or text.strip().lower() in STOP_HOTKEY_OFF:
        return None
    try:
        return parse_combo(text)
    except ValueError as exc:
        raise typer.BadParameter(f"cannot use {text!r} as the stop hotkey: {exc}", param_hint="--stop-hotkey") from exc


def build_safety(
    *,
    dry_run: bool,
    confirm: ConfirmChoice,
    sensitive: list[str] | None,
    deny_hotkey: list[str] | None,
    stop_hotkey: str | None,
    interactive: bool,
) -> SafetyPolicy:
    """The policy of the command line's options (the stop combination joins the deny-list when armed)."""
    if confirm is not ConfirmChoice.never and not interactive:
        raise typer.BadParameter("--confirm needs a terminal to ask on (or --interactive)")
    armed = stop_combo(stop_hotkey)
    return SafetyPolicy.build(
        dry_run=dry_run,
        confirm=confirm.value,
        extra_sensitive=sensitive or (),
        deny_hotkeys=(*DEFAULT_DENY_HOTKEYS, *(deny_hotkey or ())),
        stop_hotkey="+".join(sorted(armed)) if armed else None,
        ask=terminal_confirm if confirm is not ConfirmChoice.never else None,
    )


def _x_display(env: Any) -> str | None:
    """The X display a desktop env acts on, or ``None`` for envs that draw their own screens."""
    from vlagent.envs.desktop import DesktopEnv

    inner = getattr(env, "unwrapped", env)
    return inner.display if isinstance(inner, DesktopEnv) else None


@contextlib.contextmanager
def armed_stop_hotkey(
    env: Any, stop_hotkey: str | None, flag: StopFlag, *, dry_run: bool = False
) -> Iterator[str | None]:
    """While inside, pressing the stop hotkey on ``env``'s X display sets ``flag``; yields the combination.

    Only desktop envs have a keyboard to listen to; for the others, in a dry run (nothing to stop) and with
    ``off`` this does nothing and yields ``None``. A display without the RECORD extension is a
    :class:`StopHotkeyError`: the agent does not start acting with a stop button that does not work.
    """
    combo = None if dry_run else stop_combo(stop_hotkey)
    display = _x_display(env) if combo else None
    if combo is None or display is None:
        yield None
        return
    from vlagent.envs.stop_hotkey import StopHotkey

    text = "+".join(sorted(combo))
    with StopHotkey(display, combo, on_press=lambda: flag.request(f"the stop hotkey {stop_hotkey}")):
        typer.echo(f"stop hotkey armed: press {stop_hotkey} to stop after the running action", err=True)
        yield text
