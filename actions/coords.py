"""Coordinate spaces and the one conversion from model space to observation pixels.

Every point an action carries names its space. The models disagree about what a number means:

- ``rel1000``: Qwen2-VL and UI-TARS v1 write integers in [0, 1000) of the image they saw.
- ``resized``: Qwen2.5-VL and UI-TARS 1.5 write absolute pixels of the image after ``smart_resize``.
- ``rel1``: ShowUI and Aguvis write floats in [0, 1].
- ``screen``: pixels of the observation image itself (what envs receive).

:func:`to_screen` is the only place a point changes space. It refuses points outside the image beyond a
small tolerance instead of clamping them to a corner, because a click at a wrong corner is worse than an
error the model can correct.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vlagent.actions.errors import CoordinateError, ImageSizeError

Space = Literal["rel1000", "resized", "rel1", "screen"]
SPACES: tuple[Space, ...] = ("rel1000", "resized", "rel1", "screen")

#: Pixels on the side of one Qwen2-VL visual token (patch 14 merged 2x2): smart_resize rounds sides to it.
QWEN2_VL_FACTOR = 28
#: Qwen2-VL's defaults (preprocessor_config.json of Qwen/Qwen2-VL-7B-Instruct).
QWEN2_VL_MIN_PIXELS = 56 * 56
QWEN2_VL_MAX_PIXELS = 16384 * QWEN2_VL_FACTOR * QWEN2_VL_FACTOR  # 12845056, the processor's shipped max_pixels
#: How far outside the image a point may fall and still be clamped onto its edge (fraction of a side).
DEFAULT_TOLERANCE = 0.01


class Point(BaseModel):
    """A point in a named coordinate space.

    Example:
        >>> Point(x=500, y=250, space="rel1000")
        Point(x=500.0, y=250.0, space='rel1000')
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    x: float = Field(description="horizontal coordinate in `space`")
    y: float = Field(description="vertical coordinate in `space`")
    space: Space = Field(description="the space the numbers are in")

    @field_validator("x", "y")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("coordinate must be a finite number")
        return v


class Box(BaseModel):
    """An axis-aligned box in a named space, as grounding models emit it; clicks use its centre.

    Example:
        >>> Box(x1=100, y1=200, x2=300, y2=400, space="rel1000").center
        Point(x=200.0, y=300.0, space='rel1000')
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    x1: float
    y1: float
    x2: float
    y2: float
    space: Space

    @property
    def center(self) -> Point:
        return Point(x=(self.x1 + self.x2) / 2, y=(self.y1 + self.y2) / 2, space=self.space)

    def corners(self) -> tuple[Point, Point]:
        return (
            Point(x=self.x1, y=self.y1, space=self.space),
            Point(x=self.x2, y=self.y2, space=self.space),
        )


#: Qwen2-VL's processor refuses images whose long side is more than this many times the short one.
MAX_ASPECT_RATIO = 200


def smart_resize(
    height: int,
    width: int,
    *,
    factor: int = QWEN2_VL_FACTOR,
    min_pixels: int = QWEN2_VL_MIN_PIXELS,
    max_pixels: int = QWEN2_VL_MAX_PIXELS,
) -> tuple[int, int]:
    """The (height, width) Qwen2-VL's image processor resizes an image to, computed without transformers.

    Sides are rounded to multiples of ``factor``; an area above ``max_pixels`` is scaled down (flooring the
    sides) and one below ``min_pixels`` scaled up (ceiling them), keeping the aspect ratio. The arithmetic is
    the processor's own, step for step, so the coordinates a ``resized`` model writes map back exactly; a
    test compares it with transformers' function over many sizes. Kept here so that ``actions/`` and
    ``prompts/`` never load torch (``vlagent parse`` started in seconds when they did).

    Raises :class:`ImageSizeError` where the processor fails: a side that is not positive, an aspect ratio
    above :data:`MAX_ASPECT_RATIO`, or an image to shrink under a ``max_pixels`` that is not positive.

    Example:
        >>> smart_resize(1080, 1920, min_pixels=3136, max_pixels=1280 * 28 * 28)
        (728, 1316)
        >>> smart_resize(20, 6000)
        Traceback (most recent call last):
        ...
        vlagent.actions.errors.ImageSizeError: absolute aspect ratio must be smaller than 200, got 300.0
    """
    if height <= 0 or width <= 0:
        raise ImageSizeError(f"an image needs positive sides, got {width}x{height}")
    ratio = max(height, width) / min(height, width)
    if ratio > MAX_ASPECT_RATIO:
        raise ImageSizeError(f"absolute aspect ratio must be smaller than {MAX_ASPECT_RATIO}, got {ratio}")
    rounded_h = round(height / factor) * factor
    rounded_w = round(width / factor) * factor
    area = rounded_h * rounded_w
    if area > max_pixels:
        if max_pixels <= 0:
            raise ImageSizeError(f"max_pixels must be positive to resize a {width}x{height} image, got {max_pixels}")
        shrink = math.sqrt(height * width / max_pixels)
        return (max(factor, math.floor(height / shrink / factor) * factor),
                max(factor, math.floor(width / shrink / factor) * factor))
    if area < min_pixels:
        grow = math.sqrt(min_pixels / (height * width))
        return math.ceil(height * grow / factor) * factor, math.ceil(width * grow / factor) * factor
    return rounded_h, rounded_w


def resized_size(
    width: int, height: int, *, min_pixels: int, max_pixels: int, factor: int = QWEN2_VL_FACTOR
) -> tuple[int, int]:
    """The (width, height) Qwen's processor resizes an image to (:func:`smart_resize`, in x-y order).

    Example:
        >>> resized_size(1920, 1080, min_pixels=3136, max_pixels=1280 * 28 * 28)
        (1316, 728)
    """
    h, w = smart_resize(height, width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)
    return w, h


class Geometry(BaseModel):
    """What a point needs to become observation pixels: the image, what the model saw, the HiDPI scale.

    ``width``/``height`` are pixels of the observation image (physical pixels on HiDPI desktops).
    ``resized_width``/``resized_height`` are the image after ``smart_resize`` (what the model saw).
    ``scale`` is physical pixels per logical point; envs that act in logical points divide by it.

    Example:
        >>> g = Geometry.for_image(1920, 1080, min_pixels=3136, max_pixels=1280 * 28 * 28)
        >>> (g.resized_width, g.resized_height)
        (1316, 728)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(gt=0)
    height: int = Field(gt=0)
    resized_width: int = Field(gt=0)
    resized_height: int = Field(gt=0)
    scale: float = Field(default=1.0, gt=0)

    @classmethod
    def for_image(
        cls,
        width: int,
        height: int,
        *,
        min_pixels: int = QWEN2_VL_MIN_PIXELS,
        max_pixels: int = QWEN2_VL_MAX_PIXELS,
        scale: float = 1.0,
    ) -> Geometry:
        rw, rh = resized_size(width, height, min_pixels=min_pixels, max_pixels=max_pixels)
        return cls(width=width, height=height, resized_width=rw, resized_height=rh, scale=scale)


def _raw_pixels(point: Point, geometry: Geometry) -> tuple[float, float]:
    if point.space == "rel1000":
        return point.x / 1000 * geometry.width, point.y / 1000 * geometry.height
    if point.space == "rel1":
        return point.x * geometry.width, point.y * geometry.height
    if point.space == "resized":
        return (
            point.x * geometry.width / geometry.resized_width,
            point.y * geometry.height / geometry.resized_height,
        )
    return point.x, point.y


def to_screen(point: Point, geometry: Geometry, *, tolerance: float = DEFAULT_TOLERANCE) -> Point:
    """Map a point from its space to integer pixels of the observation image (space ``screen``).

    A point up to ``tolerance`` (fraction of the side) outside the image is clamped onto the edge; a
    point farther out raises :class:`CoordinateError`, so a hallucinated coordinate never becomes a click.

    Example:
        >>> g = Geometry(width=1920, height=1080, resized_width=1316, resized_height=728)
        >>> to_screen(Point(x=500, y=500, space="rel1000"), g)
        Point(x=960.0, y=540.0, space='screen')
        >>> to_screen(Point(x=658, y=364, space="resized"), g)
        Point(x=960.0, y=540.0, space='screen')
    """
    px, py = _raw_pixels(point, geometry)
    w, h = geometry.width, geometry.height
    tol_x, tol_y = tolerance * w, tolerance * h
    if not (-tol_x <= px <= w - 1 + tol_x and -tol_y <= py <= h - 1 + tol_y):
        raise CoordinateError(
            f"point ({point.x:g}, {point.y:g}) in space {point.space!r} maps to pixel ({px:.0f}, {py:.0f}), "
            f"outside the {w}x{h} image",
            x=point.x,
            y=point.y,
        )
    sx = min(max(int(math.floor(px)), 0), w - 1)
    sy = min(max(int(math.floor(py)), 0), h - 1)
    return Point(x=sx, y=sy, space="screen")


def to_logical(point: Point, geometry: Geometry) -> tuple[int, int]:
    """Screen pixels to the logical points an input API such as pyautogui expects on HiDPI screens."""
    if point.space != "screen":
        raise CoordinateError(f"to_logical takes a screen point, got space {point.space!r}")
    return int(round(point.x / geometry.scale)), int(round(point.y / geometry.scale))


def from_screen(point: Point, geometry: Geometry, space: Space) -> Point:
    """The inverse of :func:`to_screen`: a ``screen`` pixel written in ``space`` (what a model would write).

    Scripted policies use it to phrase a ground-truth pixel in a profile's coordinates. Integer spaces
    (``rel1000``, ``resized``, ``screen``) aim at the pixel's centre, so mapping back lands on the same pixel
    up to the space's resolution.

    Example:
        >>> g = Geometry(width=1920, height=1080, resized_width=1316, resized_height=728)
        >>> from_screen(Point(x=960, y=540, space="screen"), g, "rel1000")
        Point(x=500.0, y=500.0, space='rel1000')
        >>> to_screen(from_screen(Point(x=101, y=77, space="screen"), g, "rel1"), g)
        Point(x=101.0, y=77.0, space='screen')
    """
    if point.space != "screen":
        raise CoordinateError(f"from_screen takes a screen point, got space {point.space!r}")
    cx, cy = point.x + 0.5, point.y + 0.5
    w, h = geometry.width, geometry.height
    if space == "rel1000":
        x, y = min(round(cx * 1000 / w), 999), min(round(cy * 1000 / h), 999)
    elif space == "rel1":
        x, y = round(cx / w, 4), round(cy / h, 4)
    elif space == "resized":
        rw, rh = geometry.resized_width, geometry.resized_height
        x, y = min(round(cx * rw / w), rw - 1), min(round(cy * rh / h), rh - 1)
    else:
        x, y = point.x, point.y
    return Point(x=x, y=y, space=space)
