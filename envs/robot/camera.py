"""Pixels to 3D and back: the fixed camera's intrinsics and extrinsics, and the depth buffer.

MuJoCo's camera looks along its own ``-z`` with ``+y`` up; images have ``+v`` down. The intrinsics follow
from the vertical field of view (square pixels): ``f = (h / 2) / tan(fovy / 2)``, principal point at the
image centre. A pixel ``(u, v)`` is the ray through its centre, ``(u + 0.5, v + 0.5)``; its 3D point is
where that ray meets the depth the renderer wrote (distance along the view axis, in metres). The depth is
the median over a small window, so a pixel on an edge does not read the background behind it.

:class:`CameraModel` carries ``intrinsics`` (3x3 ``K``) and ``extrinsics`` (4x4 camera-to-world), which
the env puts into ``info`` for debugging and for the scripted oracle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vlagent.envs.robot.scene import CameraPose

#: Half width of the depth median window (a 5x5 window).
DEPTH_WINDOW: int = 2


@dataclass(frozen=True)
class CameraModel:
    """A pinhole camera: image size, intrinsics and pose (camera-to-world rotation and position).

    Example:
        >>> pose = CameraPose()
        >>> cam = CameraModel.of(pose, (640, 480))
        >>> u, v = cam.project(np.array(pose.lookat))  # the point it looks at is the image centre
        >>> round(u, 1), round(v, 1)
        (319.5, 239.5)
    """

    width: int
    height: int
    focal: float
    rotation: np.ndarray  # columns: the camera's x (right), y (up), z (backwards) axes in world coordinates
    position: np.ndarray

    @classmethod
    def of(cls, pose: CameraPose, size: tuple[int, int]) -> CameraModel:
        w, h = size
        right, up = pose.axes()
        back = np.cross(right, up)
        focal = (h / 2) / math.tan(math.radians(pose.fovy) / 2)
        return cls(w, h, focal, np.column_stack([right, up, back]), np.asarray(pose.pos, float))

    @property
    def intrinsics(self) -> np.ndarray:
        """``K`` for pixel coordinates with ``v`` down (OpenCV's convention)."""
        return np.array([[self.focal, 0.0, self.width / 2], [0.0, self.focal, self.height / 2], [0.0, 0.0, 1.0]])

    @property
    def extrinsics(self) -> np.ndarray:
        """Camera-to-world transform (4x4) in MuJoCo's camera frame (looking along ``-z``, ``y`` up)."""
        out = np.eye(4)
        out[:3, :3] = self.rotation
        out[:3, 3] = self.position
        return out

    def project(self, point: np.ndarray) -> tuple[float, float]:
        """The pixel ``(u, v)`` (continuous, pixel centres at ``i``) where a world point appears."""
        local = self.rotation.T @ (np.asarray(point, float) - self.position)
        depth = -local[2]
        if depth <= 0:
            raise ValueError("the point is behind the camera")
        u = self.width / 2 + self.focal * local[0] / depth - 0.5
        v = self.height / 2 - self.focal * local[1] / depth - 0.5
        return float(u), float(v)

    def ray(self, u: float, v: float) -> np.ndarray:
        """The world direction through pixel ``(u, v)``, scaled so its component along the view axis is 1."""
        x = (u + 0.5 - self.width / 2) / self.focal
        y = -(v + 0.5 - self.height / 2) / self.focal
        return self.rotation @ np.array([x, y, -1.0])

    def point_at(self, u: float, v: float, depth: float) -> np.ndarray:
        """The world point at view-axis distance ``depth`` along the ray through pixel ``(u, v)``."""
        return self.position + depth * self.ray(u, v)

    def depth_at(self, depth: np.ndarray, u: float, v: float) -> float:
        """The median depth of the window around pixel ``(u, v)``."""
        i, j = int(round(v)), int(round(u))
        lo_i, lo_j = max(i - DEPTH_WINDOW, 0), max(j - DEPTH_WINDOW, 0)
        window = depth[lo_i:i + DEPTH_WINDOW + 1, lo_j:j + DEPTH_WINDOW + 1]
        return float(np.median(window))
