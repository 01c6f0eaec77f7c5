"""Draw what an action did onto a copy of the screenshot it was chosen on.

A marker at a click, an arrow for drags, swipes and scrolls, the box when the model gave one, and a
caption (every action in words: typing and keys too) in a strip added below the screenshot, so it never
hides part of the screen. Captions use DejaVu Sans and a CJK fallback (agent/fonts.py), so what the model
typed reads as typed. Colours are fixed so a report (and its test) can find them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PIL import Image, ImageDraw

from vlagent.actions.coords import Point
from vlagent.actions.models import Action, Arrow, Mark, Marker
from vlagent.agent.describe import describe
from vlagent.agent.fonts import FontChain, caption_fonts

#: Click/press markers and drag arrows.
MARKER_RGB = (255, 0, 200)
#: The box a grounding model named.
BOX_RGB = (0, 200, 255)
#: The caption's background when the step failed.
ERROR_RGB = (200, 0, 0)


def _xy(p: Point) -> tuple[float, float]:
    return p.x, p.y


def _marker(draw: ImageDraw.ImageDraw, p: Point, r: int, width: int, *, double: bool = False) -> None:
    x, y = _xy(p)
    draw.ellipse([x - r, y - r, x + r, y + r], outline=MARKER_RGB, width=width)
    if double:
        draw.ellipse([x - 2 * r, y - 2 * r, x + 2 * r, y + 2 * r], outline=MARKER_RGB, width=width)
    draw.line([x - 2 * r, y, x + 2 * r, y], fill=MARKER_RGB, width=max(1, width // 2))
    draw.line([x, y - 2 * r, x, y + 2 * r], fill=MARKER_RGB, width=max(1, width // 2))
    dot = max(width, r // 3)
    draw.ellipse([x - dot, y - dot, x + dot, y + dot], fill=MARKER_RGB)


def _arrow(draw: ImageDraw.ImageDraw, a: tuple[float, float], b: tuple[float, float], width: int) -> None:
    draw.line([a, b], fill=MARKER_RGB, width=width)
    angle = math.atan2(b[1] - a[1], b[0] - a[0])
    head = 5 * width
    left = (b[0] - head * math.cos(angle - 0.45), b[1] - head * math.sin(angle - 0.45))
    right = (b[0] - head * math.cos(angle + 0.45), b[1] - head * math.sin(angle + 0.45))
    draw.polygon([b, left, right], fill=MARKER_RGB)


_STEP = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}


def _draw_mark(draw: ImageDraw.ImageDraw, mark: Mark, size: tuple[int, int], r: int, width: int) -> None:
    """Draw one of an action's marks (actions/models.py says which; this says how each kind looks)."""
    centre = Point(x=size[0] / 2, y=size[1] / 2, space="screen")
    if isinstance(mark, Marker):
        _marker(draw, mark.at or centre, r, width, double=mark.double)
    elif isinstance(mark, Arrow):
        start = mark.start or centre
        if mark.end is not None:
            end = _xy(mark.end)
        else:
            dx, dy = _STEP[mark.direction or "down"]
            length = min(size) / 6
            end = (start.x + dx * length, start.y + dy * length)
        _arrow(draw, _xy(start), end, width)


def _with_caption(image: Image.Image, lines: Sequence[str], *, error: bool) -> Image.Image:
    # Below the screenshot, not over it: an overlay would hide a click near the top-left corner (a phone's
    # back arrow, a menu button) and the task text MiniWoB++ prints there.
    # Sized by the longer side, so it stays legible when the report scales a 4K screen or a phone down;
    # lines wrap to the screen's width instead of running off it.
    size = max(12, max(image.width, image.height) // 45)
    fonts = caption_fonts(size)
    pad = size // 3
    text = [piece for line in lines for piece in _wrap(fonts, line, image.width - 2 * pad)]
    step = fonts.line_height()
    out = Image.new("RGB", (image.width, image.height + step * len(text) + 2 * pad), ERROR_RGB if error else (0, 0, 0))
    out.paste(image, (0, 0))
    draw = ImageDraw.Draw(out)
    for i, line in enumerate(text):
        fonts.draw(draw, (pad, image.height + pad + i * step), line, fill=(255, 255, 255))
    return out


def _wrap(fonts: FontChain, line: str, width: float, *, max_lines: int = 4) -> list[str]:
    """``line`` broken at spaces (or anywhere, for a long word) into pieces at most ``width`` wide."""
    out: list[str] = []
    current = ""
    for ch in line:
        if fonts.width(current + ch) <= width or not current:
            current += ch
            continue
        cut = current.rfind(" ")
        if cut > 0:
            out.append(current[:cut])
            current = current[cut + 1:] + ch
        else:
            out.append(current)
            current = ch
    out.append(current)
    if len(out) > max_lines:
        out = out[:max_lines]
        out[-1] = out[-1][:-3] + "..."
    return out


def annotate(image: Image.Image, actions: Sequence[Action], *, error: str | None = None) -> Image.Image:
    """A copy of ``image`` with ``actions`` (points in ``screen`` space) drawn on it, captioned in a strip below.

    Example:
        >>> from vlagent.actions.models import Click
        >>> img = Image.new("RGB", (200, 100), "white")
        >>> out = annotate(img, [Click(point=Point(x=50, y=50, space="screen"))])
        >>> out.getpixel((50, 50)) == MARKER_RGB, img.getpixel((50, 50)), out.width, out.height > 100
        (True, (255, 255, 255), 200, True)
    """
    out = image.convert("RGB") if image.mode != "RGB" else image.copy()
    draw = ImageDraw.Draw(out)
    side = min(out.size)
    r = max(5, side // 50)
    width = max(3, side // 250)
    captions: list[str] = []
    for action in actions:
        captions.append(describe(action))
        if any(p.space != "screen" for p in action.points().values()):
            continue  # not converted (the step failed before conversion): the caption says it
        box = getattr(action, "box", None)
        if box is not None and box.space == "screen":
            # A model may write the corners in either order; the click (the centre) is the same.
            (x1, x2), (y1, y2) = sorted((box.x1, box.x2)), sorted((box.y1, box.y2))
            draw.rectangle([x1, y1, x2, y2], outline=BOX_RGB, width=width)
        for mark in action.marks():
            _draw_mark(draw, mark, out.size, r, width)
    if error:
        captions.append(error)
    if captions:
        out = _with_caption(out, captions, error=error is not None)
    return out
