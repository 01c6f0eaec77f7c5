"""Plugins: profiles, env kinds and policies that a user's own module registers, without editing vlagent.

Two ways in, each read once per process:

- ``VLAGENT_PLUGINS=module,module``: modules imported before any registry answers. At import they call
  the registries' own functions: :func:`vlagent.prompts.profiles.register_profile`,
  :func:`vlagent.envs.registry.register_env_kind` and :func:`vlagent.model.policies.register_policy`.
- Entry points of an installed distribution, one group per registry: ``vlagent.profiles`` (a
  ``ModelProfile``, or a callable returning one), ``vlagent.envs`` (a ``Kind``, or a callable returning
  one) and ``vlagent.policies`` (a factory: called with no arguments, it returns an object with
  ``generate(chats, **options)``; the entry point's name is the policy's name).

Every registry calls :func:`load_plugins` before it looks a name up or lists its names, so plugin names
appear in ``--help``, in "unknown profile" errors and in lookups alike. This module lives in ``actions/``
(the bottom layer) because prompts/, envs/ and model/ all use it and none may import the others.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

from vlagent.actions.errors import PluginError

#: The environment variable naming modules to import at start (comma-separated).
ENV_VAR = "VLAGENT_PLUGINS"
#: The entry-point groups, one per registry.
PROFILES_GROUP = "vlagent.profiles"
ENVS_GROUP = "vlagent.envs"
POLICIES_GROUP = "vlagent.policies"

_imported: set[str] = set()
_registered_groups: set[str] = set()


def plugin_modules(environ: Mapping[str, str] | None = None) -> list[str]:
    """The module names ``VLAGENT_PLUGINS`` lists, in order, blanks dropped.

    Example:
        >>> plugin_modules({"VLAGENT_PLUGINS": "my_profiles, my_envs,,"})
        ['my_profiles', 'my_envs']
    """
    raw = (os.environ if environ is None else environ).get(ENV_VAR, "")
    return [name.strip() for name in raw.split(",") if name.strip()]


def load_plugins() -> None:
    """Import every ``VLAGENT_PLUGINS`` module not imported yet; a failure is a :class:`PluginError`.

    A module is marked before it is imported, so a plugin that looks a profile up while it registers its
    own (the registries call this function) does not import itself again.
    """
    for name in plugin_modules():
        if name in _imported:
            continue
        _imported.add(name)
        try:
            importlib.import_module(name)
        except Exception as exc:  # an ImportError, or whatever the plugin's own code raised at import
            _imported.discard(name)
            raise PluginError(f"cannot import plugin {name!r} (from ${ENV_VAR}): {type(exc).__name__}: {exc}") from exc


@functools.cache
def entry_point_objects(group: str) -> tuple[tuple[str, Any], ...]:
    """``(name, loaded object)`` for each installed entry point of ``group``, sorted by name, loaded once.

    Example:
        >>> entry_point_objects("vlagent.no-such-group")
        ()
    """
    out = []
    for ep in sorted(metadata.entry_points(group=group), key=lambda e: e.name):
        try:
            out.append((ep.name, ep.load()))
        except Exception as exc:  # the distribution is installed but its module or attribute is not loadable
            raise PluginError(f"cannot load entry point {ep.name!r} = {ep.value!r} of group {group!r}: "
                              f"{type(exc).__name__}: {exc}") from exc
    return tuple(out)


def load_group(group: str, register: Callable[[str, Any], object]) -> None:
    """Load the ``VLAGENT_PLUGINS`` modules, then hand each entry point of ``group`` to ``register`` once.

    The one start-up path of every registry (profiles, env kinds, policies): plugins imported first, so a
    plugin module and an entry point of the same package register in the same order every time. The group
    is marked only once all of it registered, so a failed load is tried (and fails loudly) again next time.

    Example:
        >>> load_group("vlagent.no-such-group", lambda name, obj: None)
    """
    load_plugins()
    if group not in _registered_groups:
        for name, obj in entry_point_objects(group):
            register(name, obj)
        _registered_groups.add(group)


def made(obj: Any, expected: type, what: str) -> Any:
    """An entry point's object as ``expected``: the object itself, or what calling it returns.

    Example:
        >>> made(lambda: 3, int, "a number")
        3
        >>> made("x", int, "a number")
        Traceback (most recent call last):
        ...
        vlagent.actions.errors.PluginError: expected a number (int), got str
    """
    value = obj if isinstance(obj, expected) or not callable(obj) else obj()
    if not isinstance(value, expected):
        raise PluginError(f"expected {what} ({expected.__name__}), got {type(value).__name__}")
    return value
