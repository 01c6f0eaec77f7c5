"""Robot control: ``robot:TASK``, a MuJoCo tabletop arm driven by where the model points.

The model names points in the camera image, as it does on screens; the env deprojects them with the
depth buffer and the camera's intrinsics/extrinsics and the controller turns them into arm motion (see
:mod:`vlagent.envs.robot.env`). Tasks (:mod:`vlagent.envs.robot.tasks`): reach, pick, pick-place, stack,
sort, beside. Keywords: ``size=(w, h)`` (default 640x480), ``camera={"pos": ..., "lookat": ...,
"fovy": ...}``, ``render_mode``. Needs ``pip install 'vlagent[robot]'`` (mujoco) and the EGL libraries;
``MUJOCO_GL`` defaults to ``egl``.
"""

from __future__ import annotations

import ctypes.util
import importlib.util
import os
from typing import Any

from vlagent.envs.errors import check_env_kwargs
from vlagent.envs.robot.mujoco_loader import EGL_HINT, PIP_HINT
from vlagent.envs.robot.tasks import TASKS, UnknownRobotTaskError

NEEDS = f"mujoco ({PIP_HINT}) and EGL for headless rendering ({EGL_HINT})"


def availability() -> tuple[bool, str]:
    """Whether mujoco imports and EGL is there (without opening a GL context)."""
    missing = []
    if importlib.util.find_spec("mujoco") is None:
        missing.append(f"mujoco ({PIP_HINT})")
    gl = os.environ.get("MUJOCO_GL", "egl")
    if gl == "egl" and ctypes.util.find_library("EGL") is None:
        missing.append(f"libEGL ({EGL_HINT})")
    if missing:
        return False, "missing: " + "; ".join(missing)
    from importlib.metadata import version

    return True, f"mujoco {version('mujoco')}, MUJOCO_GL={gl}; tasks: {', '.join(TASKS)}"


def make(arg: str | None, **kwargs: Any) -> Any:
    """Build ``robot:TASK``; keywords (``size``, ``camera``, ``render_mode``) go to :class:`RobotEnv`.

    Example:
        >>> env = make("reach", size=(160, 120))
        >>> env.size, env.task_kind.name
        ((160, 120), 'reach')
        >>> env.close()
    """
    from vlagent.envs.robot.env import RobotEnv

    key = (arg or "pick-place").strip().lower()
    if key not in TASKS:
        raise UnknownRobotTaskError(key)
    check_env_kwargs(RobotEnv, kwargs, f"robot:{key}")
    return RobotEnv(key, **kwargs)


__all__ = ["NEEDS", "TASKS", "UnknownRobotTaskError", "availability", "make"]
