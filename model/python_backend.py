"""A backend named ``module:attr`` or a policy name: extensions and scripted policies in a few lines of Python.

The factory at ``attr`` is called with no arguments and returns either a chat backend, an object whose
``generate(chats, **options)`` gives one result per chat (a :class:`Generation` or a plain string, wrapped
here), so a model stand-in can be as small as::

    class Always:
        def generate(self, chats, **options):
            return ["click(start_box='(500,500)')" for _ in chats]

or a policy, an object with ``decide(steps)`` (see ``vlagent.agent.policy``): it reads each step's
observation and the env's info, which only the loop has, so this backend carries it to the loop
(:attr:`PythonBackend.policy`) and refuses to answer bare chats.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Sequence
from typing import Any

from vlagent.model.chat import Chat, Generation, GenerationOptions
from vlagent.model.errors import ModelLoadError, ModelRejected


class PythonBackend:
    """Wraps any object with ``generate(chats, **options)`` into a :class:`ModelBackend`.

    Example:
        >>> class Echo:
        ...     def generate(self, chats, **options):
        ...         return [c.messages[-1].text.upper() for c in chats]
        >>> PythonBackend(Echo()).generate([Chat.simple("ok")])[0].text
        'OK'
    """

    name = "python"

    def __init__(self, target: Any, *, spec: str | None = None) -> None:
        if not (callable(getattr(target, "generate", None)) or callable(getattr(target, "decide", None))):
            raise ModelLoadError(f"{spec or target!r} has no generate(chats, **options) method (a backend) nor decide(steps) (a policy)")
        self.target = target
        self.spec = spec

    @classmethod
    def from_spec(cls, spec: str) -> PythonBackend:
        """Import ``module:attr`` and call it with no arguments.

        An object that already has ``generate`` is used as it is; a class or function is called.

        Example:
            >>> PythonBackend.from_spec("no_such_module_xyz:make")
            Traceback (most recent call last):
            ...
            vlagent.model.errors.ModelLoadError: cannot import 'no_such_module_xyz' for backend 'no_such_module_xyz:make': No module named 'no_such_module_xyz'
        """
        if ":" not in spec:
            return cls._from_policy(spec)
        module_name, sep, attr = spec.partition(":")
        if not module_name or not attr:
            raise ModelRejected(f"python backend wants 'module:attr' or a policy name, got {spec!r}")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ModelLoadError(f"cannot import {module_name!r} for backend {spec!r}: {exc}") from exc
        target: Any = module
        for name in attr.split("."):
            try:
                target = getattr(target, name)
            except AttributeError as exc:
                raise ModelLoadError(f"{module_name!r} has no attribute {attr!r} (backend {spec!r})") from exc
        if isinstance(target, type) or (callable(target) and not _answers(target)):
            try:
                target = target()
            except TypeError as exc:
                raise ModelLoadError(f"cannot call {spec!r} with no arguments: {exc}") from exc
        return cls(target, spec=spec)

    @classmethod
    def _from_policy(cls, name: str) -> PythonBackend:
        """The backend for a registered policy name (see :mod:`vlagent.model.policies`)."""
        from vlagent.model.policies import policy_factory, policy_names

        factory = policy_factory(name)
        if factory is None:
            raise ModelRejected(f"python backend wants 'module:attr' or a policy name ({', '.join(policy_names())}), "
                                f"got {name!r}")
        if isinstance(factory, str):
            return cls(cls.from_spec(factory).target, spec=name)
        try:
            return cls(factory(), spec=name)
        except TypeError as exc:
            raise ModelLoadError(f"cannot call policy {name!r}'s factory with no arguments: {exc}") from exc

    @property
    def policy(self) -> Any | None:
        """The wrapped object when it is a policy (``decide(steps)``), for the loop to drive directly."""
        return self.target if not callable(getattr(self.target, "generate", None)) else None

    def generate(self, chats: Sequence[Chat], options: GenerationOptions | None = None) -> list[Generation]:
        if self.policy is not None:
            # A ModelError, not a bug: `vlagent generate --model vlagent.agent.scripted:oracle_policy` gets here.
            raise ModelRejected(
                "the scripted policy answers only inside an episode (`vlagent run`/`eval`): "
                f"{self.spec or self.target!r} decides from the env's observation and info, which the loop hands it"
            )
        opts = options or GenerationOptions()
        t0 = time.perf_counter()
        results = self.target.generate(list(chats), **dataclasses.asdict(opts))
        seconds = time.perf_counter() - t0
        results = list(results) if results is not None else []
        if len(results) != len(chats):
            raise ModelRejected(
                f"{self.spec or self.target!r} returned {len(results)} results for {len(chats)} chats"
            )
        out: list[Generation] = []
        for i, result in enumerate(results):
            if isinstance(result, Generation):
                out.append(result)
            elif isinstance(result, str):
                out.append(Generation(text=result, generate_seconds=seconds))
            else:
                raise ModelRejected(
                    f"{self.spec or self.target!r} returned a {type(result).__name__} for chat {i}; "
                    "expected a Generation or a str"
                )
        return out


def _answers(target: Any) -> bool:
    """Whether ``target`` is already a backend or a policy (else it is a factory to call)."""
    return callable(getattr(target, "generate", None)) or callable(getattr(target, "decide", None))
