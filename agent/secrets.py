"""Secrets the model never sees and the records never hold: ``--secret NAME=VALUE``.

The task and every prompt carry the placeholder ``<secret>NAME</secret>`` (browser-use's convention); the
model types the placeholder, and the loop substitutes the value only in the action handed to
``env.step``. Everything written or printed (``steps.jsonl``, ``meta.json``, captions, the report, the
terminal, error messages) goes through :meth:`Secrets.mask`, which turns any occurrence of a value back
into its placeholder, whoever produced it (a reply, an oracle that read the real value, an env's error).

What cannot be masked: pixels. A field that shows its text (not a password field) shows the value in
every screenshot taken after it was typed.

Values come from ``--secret NAME=VALUE`` (repeatable) and from ``VLAGENT_SECRET_NAME`` environment
variables (the way to keep a value out of the shell history and ``ps``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from vlagent.agent.errors import SecretError

#: Environment variables ``VLAGENT_SECRET_<NAME>=value`` add secrets without a command-line flag.
ENV_PREFIX = "VLAGENT_SECRET_"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_PLACEHOLDER = re.compile(r"<secret>\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*</secret>")
#: Values shorter than this would mask ordinary text ("a", "1"); they are refused.
MIN_LENGTH = 3

M = TypeVar("M", bound=BaseModel)


def placeholder(name: str) -> str:
    """What the model sees and types instead of the value.

    Example:
        >>> placeholder("pw")
        '<secret>pw</secret>'
    """
    return f"<secret>{name}</secret>"


class Secrets:
    """Named secret values: mask them out of text, substitute them into actions at execution.

    Example:
        >>> s = Secrets({"pw": "hunter22"})
        >>> s.mask("typed hunter22 twice: hunter22")
        'typed <secret>pw</secret> twice: <secret>pw</secret>'
        >>> s.reveal("<secret>pw</secret>!")
        'hunter22!'
        >>> bool(Secrets()), Secrets().mask("hunter22")
        (False, 'hunter22')
    """

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None
        self._names: dict[str, str] = {}
        for name, value in (values or {}).items():
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        """Add one secret; a name must be an identifier and a value at least :data:`MIN_LENGTH` characters."""
        if not _NAME.fullmatch(name):
            raise SecretError(f"secret name {name!r} is not a name (letters, digits, _ . -; not starting with a digit)")
        if len(value) < MIN_LENGTH:
            # Never echo the value itself, even a short one.
            raise SecretError(f"secret {name!r} is shorter than {MIN_LENGTH} characters: masking it would hide "
                              "ordinary text")
        self._values[name] = value
        self._pattern = None

    def __bool__(self) -> bool:
        return bool(self._values)

    @property
    def names(self) -> list[str]:
        return sorted(self._values)

    def mask(self, text: str) -> str:
        """``text`` with every secret value replaced by its placeholder.

        One pass over the text, longest values first, stepping over placeholders already there: masking
        twice changes nothing, and a value that happens to be part of ``<secret>`` cannot mangle one.

        Example:
            >>> s = Secrets({"a": "secret", "b": "secret-long"})
            >>> s.mask("secret-long secret <secret>a</secret>")
            '<secret>b</secret> <secret>a</secret> <secret>a</secret>'
        """
        if not self._values or not text:
            return text
        if self._pattern is None:
            values = sorted(set(self._values.values()), key=len, reverse=True)
            self._pattern = re.compile(f"({_PLACEHOLDER.pattern})|(" + "|".join(map(re.escape, values)) + ")")
            self._names = {v: k for k, v in sorted(self._values.items(), reverse=True)}
        return self._pattern.sub(lambda m: m.group(1) or placeholder(self._names[m.group(0)]), text)

    def reveal(self, text: str) -> str:
        """``text`` with each known placeholder replaced by its value (unknown names are left as written)."""
        if not self._values or "<secret>" not in text:
            return text
        return _PLACEHOLDER.sub(lambda m: self._values.get(m.group(1), m.group(0)), text)

    def mask_json(self, value: Any) -> Any:
        """A JSON-like value (dicts, lists, strings) with every string masked, keys included."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, Mapping):
            return {self.mask(str(k)): self.mask_json(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask_json(v) for v in value]
        return value

    def mask_model(self, model: M) -> M:
        """A pydantic record with every string in it masked (re-validated, so the type is kept)."""
        if not self._values:
            return model
        return type(model).model_validate(self.mask_json(model.model_dump(mode="json")))

    def reveal_action(self, action: M) -> M:
        """The action to execute: placeholders in its text fields replaced by the values."""
        if not self._values:
            return action
        updates = {
            name: self.reveal(value)
            for name, value in action.__dict__.items()
            if isinstance(value, str) and "<secret>" in value
        }
        return action.model_copy(update=updates) if updates else action


class SecretEnv:
    """An env seen through :class:`Secrets`: the task it is reset with and the actions it gets are revealed.

    For replays: a recorded episode holds only placeholders, so ``vlagent replay --execute --secret ...``
    wraps the env in this to type what the original run typed. (The loop reveals inline, since it hands
    its env back to an evaluation's pool as it got it.)

    Example:
        >>> from vlagent.actions.models import TypeText
        >>> class Echo:
        ...     def step(self, action): return action.text
        >>> SecretEnv(Echo(), Secrets({"pw": "hunter22"})).step(TypeText(text="<secret>pw</secret>"))
        'hunter22'
    """

    def __init__(self, env: Any, secrets: Secrets) -> None:
        self.env = env
        self.secrets = secrets

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        options = dict(options or {})
        if isinstance(options.get("task"), str):
            options["task"] = self.secrets.reveal(options["task"])
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> Any:
        return self.env.step(self.secrets.reveal_action(action))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)


def parse_secrets(pairs: Iterable[str] = (), environ: Mapping[str, str] | None = None) -> Secrets:
    """Secrets from ``NAME=VALUE`` pairs and ``VLAGENT_SECRET_NAME`` variables (a flag wins over a variable).

    Example:
        >>> parse_secrets(["pw=hunter22"], environ={"VLAGENT_SECRET_pin": "4711"}).names
        ['pin', 'pw']
    """
    out = Secrets()
    env = os.environ if environ is None else environ
    for key, value in env.items():
        if key.startswith(ENV_PREFIX) and len(key) > len(ENV_PREFIX):
            out.add(key[len(ENV_PREFIX):], value)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SecretError("--secret takes NAME=VALUE; one was given without '=' (not shown: it may be the value)")
        out.add(name.strip(), value)
    return out


#: The secrets of the command running now, so the CLI's last-resort error line can be masked too.
_ACTIVE = Secrets()


def activate(secrets: Secrets) -> None:
    """Make ``secrets`` the ones :func:`mask_active` hides (the CLI calls this once per command)."""
    global _ACTIVE
    _ACTIVE = secrets


def mask_active(text: str) -> str:
    """``text`` masked with the running command's secrets (for error lines printed on the way out)."""
    return _ACTIVE.mask(text)
