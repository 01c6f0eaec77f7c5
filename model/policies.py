"""Named policies: what ``--backend python --model NAME`` runs when NAME is not a ``module:attr`` path.

A policy factory is called with no arguments and returns a policy, an object with ``decide(steps)`` (the
scripted oracle; see ``vlagent.agent.policy``), or a chat backend with ``generate(chats, **options)``
(see :mod:`vlagent.model.python_backend`). vlagent names its scripted
policies here; plugins add theirs with :func:`register_policy` or a ``vlagent.policies`` entry point
(see :mod:`vlagent.actions.plugins`). Built-in factories are ``module:attr`` strings, so model/ does not
import agent/ to list them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vlagent.actions.plugins import POLICIES_GROUP, load_group
from vlagent.model.errors import ModelRejected

#: A factory (no arguments -> an object with ``decide`` or ``generate``), or the ``module:attr`` path of one.
PolicyFactory = Callable[[], Any] | str

#: Every policy by name, plugins' included once :func:`policy_names` or :func:`policy_factory` loaded them.
POLICIES: dict[str, PolicyFactory] = {
    "oracle": "vlagent.agent.scripted:oracle_policy",
    "random": "vlagent.agent.scripted:random_policy",
    "first-option": "vlagent.agent.scripted:first_option_policy",
}


def register_policy(name: str, factory: PolicyFactory) -> None:
    """Make ``factory`` available as ``--backend python --model NAME``.

    Registering the same factory again is harmless; another one under a taken name is a
    :class:`ModelRejected`.

    Example:
        >>> register_policy("oracle", "vlagent.agent.scripted:oracle_policy")
        >>> register_policy("oracle", print)
        Traceback (most recent call last):
        ...
        vlagent.model.errors.ModelRejected: a different policy is already registered as 'oracle'
    """
    if not name or ":" in name or not name.strip() == name:
        raise ModelRejected(f"a policy name has no colon or surrounding blanks, got {name!r}")
    if not (callable(factory) or isinstance(factory, str)):
        raise ModelRejected(f"policy {name!r}: a factory is a callable or a 'module:attr' string")
    taken = POLICIES.get(name)
    if taken is not None and taken != factory:
        raise ModelRejected(f"a different policy is already registered as {name!r}")
    POLICIES[name] = factory


def _load_plugins() -> None:
    load_group(POLICIES_GROUP, register_policy)


def policy_names() -> list[str]:
    """Every registered policy's name, plugins' included, sorted.

    Example:
        >>> {"oracle", "random"} <= set(policy_names())
        True
    """
    _load_plugins()
    return sorted(POLICIES)


def policy_factory(name: str) -> PolicyFactory | None:
    """The factory registered as ``name`` (``None`` when there is none)."""
    _load_plugins()
    return POLICIES.get(name)
