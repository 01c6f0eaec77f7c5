"""Environment errors (see the tree in ``vlagent.actions.errors``)."""

from __future__ import annotations

from vlagent.actions.errors import ActionError, EnvError


class DependencyNotInstalled(EnvError):
    """An optional Python package or system program an env needs is missing; the message says how to get it.

    Example:
        >>> str(DependencyNotInstalled("mss", hint="pip install 'vlagent[desktop]'"))
        "mss is not installed: pip install 'vlagent[desktop]'"
    """

    def __init__(self, what: str, *, hint: str) -> None:
        self.what = what
        self.hint = hint
        super().__init__(f"{what} is not installed: {hint}")


class DeviceError(EnvError):
    """The screen, phone or browser behind an env failed, vanished or refused a command."""


class AppNotFound(ActionError):
    """``open_app`` named an app the env cannot launch; an action error, so the loop shows it to the model.

    Example:
        >>> AppNotFound("Sketchbook", detail="not a package name").name
        'Sketchbook'
    """

    def __init__(self, name: str, *, detail: str) -> None:
        self.name = name
        super().__init__(f"cannot open app {name!r}: {detail}")


class ResetNeeded(EnvError):
    """``step`` was called before ``reset`` or after the episode ended."""
