"""Importing MuJoCo for headless rendering: EGL unless the user chose otherwise, typed errors if missing.

``MUJOCO_GL`` must be set before ``mujoco`` is first imported; unset, MuJoCo tries GLFW, which fails
without a display. EGL runs on Mesa's CPU driver (Debian ``libegl1 libegl-mesa0 libgl1-mesa-dri
libopengl0``, installed by ``scripts/setup-system.sh``); OSMesa works too, 10-20% slower.
"""

from __future__ import annotations

import ctypes.util
import os
import sys
from types import ModuleType

from vlagent.actions.errors import EnvError
from vlagent.envs.errors import DependencyNotInstalled

PIP_HINT = "pip install 'vlagent[robot]'"
EGL_HINT = "apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0 (scripts/setup-system.sh)"


def load_mujoco() -> ModuleType:
    """``import mujoco`` with ``MUJOCO_GL=egl`` unless set; DependencyNotInstalled naming the fix.

    MuJoCo picks its GL backend when first imported: if someone imported it before with ``MUJOCO_GL``
    unset and there is no display, rendering would fail deep inside MuJoCo, so that is an EnvError here.
    """
    if "MUJOCO_GL" not in os.environ:
        if "mujoco" in sys.modules and not os.environ.get("DISPLAY"):
            raise EnvError(
                "mujoco was imported before MUJOCO_GL was set, so it renders through GLFW, which needs a "
                "display; set MUJOCO_GL=egl before importing mujoco (or import vlagent.envs.robot first)"
            )
        os.environ["MUJOCO_GL"] = "egl"
    if os.environ["MUJOCO_GL"] == "egl" and ctypes.util.find_library("EGL") is None:
        raise DependencyNotInstalled("libEGL (headless rendering)", hint=EGL_HINT)
    try:
        import mujoco
    except ImportError as exc:
        raise DependencyNotInstalled("mujoco", hint=PIP_HINT) from exc
    return mujoco
