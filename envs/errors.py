"""Environment errors (see the tree in ``vlagent.actions.errors``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

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
    """The screen, phone or browser behind an env failed, vanished or refused a command.

    Example:
        >>> isinstance(DeviceError("device emulator-5554 is offline"), EnvError)
        True
    """


class RecorderError(DeviceError):
    """A demonstration cannot be recorded: no X display or RECORD extension, no touchscreen, a broken stream.

    Example:
        >>> isinstance(RecorderError("no RECORD"), DeviceError)
        True
    """


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
    """``step`` was called before ``reset`` or after the episode ended.

    Example:
        >>> isinstance(ResetNeeded("call reset() before step()"), EnvError)
        True
    """


class EnvKwargsError(EnvError, TypeError):
    """``--env-kwargs`` named a keyword the env's constructor does not take (a ``TypeError`` too, as Python's).

    Example:
        >>> def make(size="desktop", *, scale=None): ...
        >>> try:
        ...     check_env_kwargs(make, {"sise": "phone"}, "synthetic:login")
        ... except EnvKwargsError as exc:
        ...     print(exc)
        synthetic:login takes size, scale; not sise
    """


def check_env_kwargs(target: Callable[..., Any], kwargs: Mapping[str, Any], spec: str) -> None:
    """Refuse keywords ``target`` does not take, before calling it: a typed error instead of a ``TypeError``.

    Each env module's ``make`` calls it with its env class, so a typo in ``--env-kwargs`` names the keywords
    the env does take rather than ending in a traceback.
    """
    params = inspect.signature(target).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    accepted = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise EnvKwargsError(f"{spec} takes {', '.join(accepted) or 'no keywords'}; not {', '.join(unknown)}")
