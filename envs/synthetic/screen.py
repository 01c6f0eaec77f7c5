"""Screen sizes for the synthetic apps and the painter that draws them.

Apps lay themselves out in density-independent units (``dp``: one logical point on a desktop, Android's dp
on a phone) and the :class:`Painter` turns them into pixels, so the same app is drawn crisply at 1920x1080,
on a 3840x2160 HiDPI screen (scale 2) and on a 1080x2400 phone (density 2.625, Android's 420 dpi bucket).
Text uses DejaVu Sans (Debian ``fonts-dejavu-core``) when it is installed and Pillow's built-in scalable
font otherwise, so the apps run anywhere Pillow does; pixel-exact screenshots are only promised for one
machine's fonts, the ground truth never depends on them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

from vlagent.actions.errors import EnvError
from vlagent.actions.models import Family

RGB = tuple[int, int, int]
SizeArg = Literal["desktop", "4k", "phone"] | tuple[int, int] | str

_FONT_DIRS = (
    Path(__file__).with_name("fonts"),  # a font shipped with the package, if the project ever bundles one
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),  # Fedora/Arch
)
#: Android's density for a 1080-pixel-wide 420 dpi phone (Pixel 6/7 class): 1080 / 2.625 = 411 dp wide.
PHONE_DENSITY = 2.625


class AppConfigError(EnvError, ValueError):
    """A ``size``, ``scale`` or keyword no synthetic app takes (a ``ValueError`` too, as gymnasium envs raise).

    Example:
        >>> isinstance(AppConfigError("no"), ValueError)
        True
    """


@dataclass(frozen=True)
class ScreenSpec:
    """The pixel size of a synthetic screen, its HiDPI scale and its layout density.

    ``scale`` is what the observation records (physical pixels per logical point: 2 on the 4K preset,
    1 elsewhere, phones included, since phone input takes physical pixels); ``density`` is how many pixels
    one layout unit covers.

    Example:
        >>> ScreenSpec.resolve("4k")
        ScreenSpec(width=3840, height=2160, scale=2.0, density=2.0, family='desktop')
        >>> ScreenSpec.resolve("phone").dp_size
        (411, 914)
        >>> ScreenSpec.resolve((800, 600)).family
        'desktop'
    """

    width: int
    height: int
    scale: float
    density: float
    family: Family

    @classmethod
    def resolve(cls, size: SizeArg, *, scale: float | None = None) -> ScreenSpec:
        """Presets ``desktop`` (1920x1080), ``4k`` (3840x2160, scale 2), ``phone`` (1080x2400) or ``(w, h)``.

        A custom size in portrait is a phone (density from its width, as a 411 dp wide phone); in landscape
        a desktop whose layout density is ``scale`` (default 1).
        """
        if scale is not None and not (isinstance(scale, int | float) and 0 < scale <= 8):
            raise AppConfigError(f"scale must be a number in (0, 8], got {scale!r}")
        if isinstance(size, str):
            key = size.strip().lower()
            if key == "desktop":
                return cls(1920, 1080, scale or 1.0, scale or 1.0, "desktop")
            if key in ("4k", "uhd", "hidpi"):
                return cls(3840, 2160, scale or 2.0, scale or 2.0, "desktop")
            if key == "phone":
                return cls(1080, 2400, scale or 1.0, PHONE_DENSITY, "mobile")
            if "x" in key:
                w, _, h = key.partition("x")
                if w.isdigit() and h.isdigit():
                    return cls.resolve((int(w), int(h)), scale=scale)
            raise AppConfigError(f"unknown screen size {size!r}; use desktop, 4k, phone, WxH or a (width, height) pair")
        try:
            w, h = (int(v) for v in size)
        except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: an infinite side
            raise AppConfigError(f"screen size must be a preset name or (width, height), got {size!r}") from exc
        if not (200 <= w <= 8192 and 200 <= h <= 8192):
            raise AppConfigError(f"screen size {w}x{h} is outside 200..8192 pixels per side")
        if h > w:
            return cls(w, h, scale or 1.0, w / 411, "mobile")
        return cls(w, h, scale or 1.0, scale or 1.0, "desktop")

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)

    @property
    def dp_size(self) -> tuple[int, int]:
        """The screen in layout units (what an app lays itself out in)."""
        return (round(self.width / self.density), round(self.height / self.density))


@functools.cache
def font_file(bold: bool) -> Path | None:
    """The DejaVu Sans file drawing the text, or ``None`` when Pillow's built-in font stands in."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in _FONT_DIRS:
        if (folder / name).is_file():
            return folder / name
    return None


@functools.lru_cache(maxsize=256)
def font(size_px: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A TrueType font of ``size_px`` pixels: DejaVu Sans when installed, else Pillow's built-in font.

    Example:
        >>> font(16).getbbox("Sign in")[3] > 8
        True
    """
    path = font_file(bold)
    size_px = max(6, int(size_px))
    if path is not None:
        return ImageFont.truetype(str(path), size_px, layout_engine=ImageFont.Layout.BASIC)
    return ImageFont.load_default(size=size_px)


PixelBox = tuple[int, int, int, int]


class Painter:
    """Draws on a screenshot in layout units; every method takes and returns pixel boxes.

    Boxes are ``(x1, y1, x2, y2)`` with the end exclusive, the same numbers the apps report as ground truth.

    Example:
        >>> p = Painter(ScreenSpec.resolve("4k"), background=(255, 255, 255))
        >>> p.u(10), p.rect((0, 0, 20, 20), fill=(0, 0, 0))
        (20, (0, 0, 20, 20))
    """

    def __init__(self, screen: ScreenSpec, background: RGB) -> None:
        self.screen = screen
        self.image = Image.new("RGB", screen.size, background)
        self.draw = ImageDraw.Draw(self.image)
        self.origin = (0, 0)

    def view(self, origin: tuple[int, int]) -> Painter:
        """A painter on the same image whose (0, 0) is pixel ``origin`` (a scrolled list draws in it).

        Drawing in a view is not clipped: the caller paints its surroundings afterwards, which is much
        cheaper than a separate image pasted back at 4K.
        """
        view = object.__new__(Painter)
        view.screen, view.image, view.draw = self.screen, self.image, self.draw
        view.origin = (self.origin[0] + origin[0], self.origin[1] + origin[1])
        return view

    def _box(self, box: PixelBox) -> tuple[int, int, int, int]:
        ox, oy = self.origin
        return box[0] + ox, box[1] + oy, box[2] + ox - 1, box[3] + oy - 1

    def u(self, dp: float) -> int:
        """Layout units to whole pixels."""
        return int(round(dp * self.screen.density))

    def rect(
        self,
        box: PixelBox,
        *,
        fill: RGB | None = None,
        outline: RGB | None = None,
        radius: float = 0,
        width: float = 1,
    ) -> PixelBox:
        shape = self._box(box)
        r = self.u(radius)
        w = max(1, self.u(width)) if outline is not None else 0
        if r > 0:
            self.draw.rounded_rectangle(shape, radius=r, fill=fill, outline=outline, width=w)
        else:
            self.draw.rectangle(shape, fill=fill, outline=outline, width=w)
        return box

    def ellipse(self, box: PixelBox, *, fill: RGB, outline: RGB | None = None, width: float = 1) -> PixelBox:
        w = max(1, self.u(width)) if outline is not None else 0
        self.draw.ellipse(self._box(box), fill=fill, outline=outline, width=w)
        return box

    def line(self, points: list[tuple[int, int]], *, fill: RGB, width: float = 1) -> None:
        ox, oy = self.origin
        self.draw.line([(x + ox, y + oy) for x, y in points], fill=fill, width=max(1, self.u(width)), joint="curve")

    def text(
        self,
        xy: tuple[int, int],
        text: str,
        *,
        size: float,
        fill: RGB,
        bold: bool = False,
        anchor: str = "lm",
        max_width: int | None = None,
    ) -> None:
        """Draw ``text`` (``size`` in layout units) anchored at pixel ``xy``; trims it to ``max_width`` pixels.

        The anti-aliased glyph mask of each string is rendered once and reused (labels repeat frame after
        frame), which halves the time of a text-heavy 4K frame.
        """
        px = self.u(size)
        if max_width is not None:
            text = _trim(text, px, bold, max_width)
        mask, (dx, dy) = _text_mask(text, px, bold, anchor)
        if mask is not None:
            self.image.paste(fill, (xy[0] + self.origin[0] + dx, xy[1] + self.origin[1] + dy), mask)

    def text_width(self, text: str, *, size: float, bold: bool = False) -> int:
        return int(font(self.u(size), bold).getlength(text))

    def paste(self, image: Image.Image, xy: tuple[int, int]) -> None:
        self.image.paste(image, (xy[0] + self.origin[0], xy[1] + self.origin[1]))


@functools.lru_cache(maxsize=2048)
def _text_mask(text: str, size_px: int, bold: bool, anchor: str) -> tuple[Image.Image | None, tuple[int, int]]:
    """The glyph coverage of ``text`` as an ``L`` image and its offset from the anchor point."""
    f = font(size_px, bold)
    x1, y1, x2, y2 = (int(v) for v in f.getbbox(text, anchor=anchor))
    if x2 <= x1 or y2 <= y1:
        return None, (0, 0)
    mask = Image.new("L", (x2 - x1, y2 - y1), 0)
    ImageDraw.Draw(mask).text((-x1, -y1), text, font=f, fill=255, anchor=anchor)
    return mask, (x1, y1)


@functools.lru_cache(maxsize=1024)
def _trim(text: str, size_px: int, bold: bool, max_width: int) -> str:
    f = font(size_px, bold)
    if f.getlength(text) <= max_width:
        return text
    while text and f.getlength(text + "…") > max_width:
        text = text[:-1]
    return text + "…"


def fit_tail(text: str, *, size_px: int, max_width: int) -> str:
    """The end of ``text`` that fits in ``max_width`` pixels (what a text field shows while typing)."""
    f = font(size_px)
    while text and f.getlength(text) > max_width:
        text = text[1:]
    return text
