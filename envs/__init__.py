"""Gymnasium-API environments: desktop, Android, gym adapter, MiniWoB++ and built-in synthetic apps.

Importing this package registers vlagent's gymnasium ids (``vlagent/Synthetic-Login-v0``, ...); build envs
from the specs the CLI takes with :func:`vlagent.envs.registry.make_env`.
"""

from vlagent.envs.registry import register_envs

register_envs()
