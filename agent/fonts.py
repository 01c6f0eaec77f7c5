"""Fonts for the text drawn onto screenshots (captions, labels): Unicode TrueType with a CJK fallback.

Pillow's built-in font draws ``héllo wörld ✓`` as boxes and any CJK text as boxes, and a caption is where
a user reads what the model typed. DejaVu Sans (Debian's ``fonts-dejavu-core``, which setup-system.sh
installs) covers Latin, Greek, Cyrillic and the common symbols; a CJK font (Noto Sans CJK, WenQuanYi,
Droid Sans Fallback) is used, character by character, for what DejaVu lacks when one is installed.
Pillow cannot ask a font for its character map, so coverage is found by drawing: a character whose
glyph is the font's "missing" box (the one drawn for a noncharacter) is not covered.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from PIL import ImageDraw, ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

#: Where Debian, Fedora and Arch put DejaVu Sans.
UNICODE_FONTS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
)
#: CJK fonts, the first installed one wins (Debian's fonts-noto-cjk, fonts-wqy-*, fonts-droid-fallback).
CJK_FONTS: tuple[Path, ...] = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
)
_MISSING = "\uffff"  # a noncharacter: no font maps it, so it draws as the font's missing-glyph box


def installed(paths: Sequence[Path]) -> Path | None:
    """The first of ``paths`` that exists."""
    return next((p for p in paths if p.is_file()), None)


class FontChain:
    """Fonts tried in order for each character; the first that has a glyph for it draws it.

    Example:
        >>> chain = caption_fonts(16)
        >>> chain.runs("ok")
        [(0, 'ok')]
    """

    def __init__(self, fonts: Sequence[Font]) -> None:
        if not fonts:
            raise ValueError("a FontChain needs at least one font")
        self.fonts = list(fonts)
        self._missing = [_glyph(f, _MISSING) for f in self.fonts]
        self._cache: dict[str, int] = {}

    @property
    def size(self) -> int:
        return int(getattr(self.fonts[0], "size", 10))

    def covers(self, index: int, ch: str) -> bool:
        """Whether font ``index`` has a glyph of its own for ``ch`` (whitespace always counts)."""
        if ch.isspace():
            return True
        return _glyph(self.fonts[index], ch) != self._missing[index]

    def font_for(self, ch: str) -> int:
        """The index of the font that draws ``ch`` (the first font when none has it)."""
        if ch not in self._cache:
            self._cache[ch] = next((i for i in range(len(self.fonts)) if self.covers(i, ch)), 0)
        return self._cache[ch]

    def runs(self, text: str) -> list[tuple[int, str]]:
        """``text`` cut into ``(font index, run)`` pieces."""
        out: list[tuple[int, str]] = []
        for ch in text:
            i = self.font_for(ch)
            if out and out[-1][0] == i:
                out[-1] = (i, out[-1][1] + ch)
            else:
                out.append((i, ch))
        return out

    def line_height(self) -> int:
        return max(int(f.getbbox("Hg")[3]) for f in self.fonts) + max(2, self.size // 5)

    def width(self, text: str) -> float:
        return sum(self.fonts[i].getlength(run) for i, run in self.runs(text))

    def draw(self, draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, fill: tuple[int, int, int]) -> None:
        """Draw one line of text at ``xy`` (its top-left corner), each run in its own font."""
        x, y = xy
        for i, run in self.runs(text):
            draw.text((x, y), run, font=self.fonts[i], fill=fill)
            x += self.fonts[i].getlength(run)


def _glyph(font: Font, ch: str) -> tuple[tuple[int, int, int, int] | None, bytes]:
    mask = font.getmask(ch)
    return mask.getbbox(), bytes(mask)


@functools.lru_cache(maxsize=16)
def caption_fonts(size: int) -> FontChain:
    """DejaVu Sans, then a CJK font when one is installed, at ``size`` pixels (Pillow's own font as a last resort).

    Example:
        >>> caption_fonts(14).size
        14
    """
    fonts: list[Font] = []
    for path in (installed(UNICODE_FONTS), installed(CJK_FONTS)):
        if path is not None:
            fonts.append(ImageFont.truetype(str(path), size))
    if not fonts:
        fonts.append(ImageFont.load_default(size=size))
    return FontChain(fonts)
