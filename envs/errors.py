"""Environment errors (see the tree in ``vlagent.actions.errors``)."""

from __future__ import annotations

import inspect
import types
import typing
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
    """``--env-kwargs`` named a keyword the env does not take, or gave one a value of the wrong JSON type.

    A ``TypeError`` too, as Python's own would be.

    Example:
        >>> def make(size="desktop", *, scale: float | None = None): ...
        >>> try:
        ...     check_env_kwargs(make, {"sise": "phone"}, "synthetic:login")
        ... except EnvKwargsError as exc:
        ...     print(exc)
        synthetic:login takes size, scale; not sise
        >>> try:
        ...     check_env_kwargs(make, {"scale": "big"}, "synthetic:login")
        ... except EnvKwargsError as exc:
        ...     print(exc)
        synthetic:login: scale must be a number or null, got 'big'
    """


def check_env_kwargs(target: Callable[..., Any], kwargs: Mapping[str, Any], spec: str) -> None:
    """Refuse keywords ``target`` does not take, before calling it: a typed error instead of a ``TypeError``.

    Each env module's ``make`` calls it with its env class, so a typo in ``--env-kwargs`` names the keywords
    the env does take rather than ending in a traceback. A value is also checked against its parameter's
    annotation when that names classes (``float``, ``int | None``, ``Mapping[str, str]``, ``SettlePolicy``):
    JSON gives ``"soon"`` as easily as ``5``, and the env's own arithmetic on it would fail with a
    ``TypeError`` deep inside. Annotations with literals (screen sizes) are left to the env's own checks.
    """
    params = inspect.signature(target).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    accepted = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise EnvKwargsError(f"{spec} takes {', '.join(accepted) or 'no keywords'}; not {', '.join(unknown)}")
    hints = _init_hints(target)
    for name, value in kwargs.items():
        allowed = _hint_classes(hints.get(name))
        if allowed is not None and not _is_instance(value, allowed):
            names = " or ".join(_JSON_NAMES.get(t, f"a {t.__name__}") for t in allowed)
            raise EnvKwargsError(f"{spec}: {name} must be {names}, got {value!r}")


#: How messages name the types a JSON value can have, in JSON's words.
_JSON_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", type(None): "null"}


def _init_hints(target: Callable[..., Any]) -> dict[str, Any]:
    """The resolved annotations of ``target``'s parameters (its ``__init__``'s for a class); none if unresolvable."""
    function = target.__init__ if isinstance(target, type) else target
    try:
        return typing.get_type_hints(function)
    except (NameError, TypeError):  # a name imported only for type checkers: leave the check to the env
        return {}


def _hint_classes(hint: Any) -> tuple[type, ...] | None:
    """The classes a hint like ``float``, ``int | None`` or ``Mapping[str, str] | None`` allows.

    ``None`` (no check) for a hint with a member that is no class, such as ``Literal["desktop", "phone"]``.
    """
    union = isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
    members = [typing.get_origin(m) or m for m in (typing.get_args(hint) if union else (hint,))]
    if hint is None or not all(isinstance(m, type) for m in members):
        return None
    return tuple(members)


def _is_instance(value: Any, allowed: tuple[type, ...]) -> bool:
    """``isinstance`` as an annotation means it, for values from JSON.

    An int is a float, but True is neither an int nor a float; a JSON list stands for a tuple.
    """
    if isinstance(value, bool) and bool not in allowed:
        return False  # an int to Python, not to a user who wrote true where a number goes
    if isinstance(value, int) and float in allowed:
        return True
    if isinstance(value, list) and tuple in allowed:
        return True
    return isinstance(value, allowed)
