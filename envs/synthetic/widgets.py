"""Widgets the synthetic apps draw, and the ground truth they report about them.

Each drawing helper paints one widget and returns a :class:`Widget` whose box is exactly the pixels it
painted, so the ground truth cannot drift from the picture. Apps hit-test clicks against the widgets of the
frame the agent last saw, as a real screen would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from vlagent.actions.coords import Box, Point
from vlagent.actions.models import Click, Scroll
from vlagent.envs.synthetic.screen import RGB, Painter, PixelBox, fit_tail

Role = Literal["button", "text_field", "toggle", "checkbox", "list_item", "icon", "link"]

# A light Material-like palette: every widget's fill differs from the page background.
PAGE = (241, 243, 244)
SURFACE = (255, 255, 255)
INK = (32, 33, 36)
MUTED = (95, 99, 104)
BORDER = (154, 160, 166)
PRIMARY = (26, 115, 232)
PRIMARY_SOFT = (232, 240, 254)
DANGER = (197, 34, 31)
ON_PRIMARY = (255, 255, 255)
DISABLED = (218, 220, 224)
SECONDARY_FILL = (227, 231, 236)


class Widget(BaseModel):
    """One interactive element on a synthetic screen, with its box in screen pixels.

    ``name`` is stable across frames (``field:username``, ``toggle:wifi``, ``icon:camera``); ``value`` is
    the widget's state where it has one (a field's text, a toggle's on/off).

    Example:
        >>> w = Widget.at("button:ok", "button", "OK", (10, 20, 110, 60))
        >>> w.contains(60, 40), w.contains(110, 40)
        (True, False)
        >>> w.click().point
        Point(x=60.0, y=40.0, space='screen')
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    role: Role
    label: str
    box: Box
    value: str | bool | None = None
    enabled: bool = True

    @classmethod
    def at(
        cls, name: str, role: Role, label: str, box: PixelBox, *, value: str | bool | None = None,
        enabled: bool = True,
    ) -> Widget:
        x1, y1, x2, y2 = box
        return cls(
            name=name, role=role, label=label, value=value, enabled=enabled,
            box=Box(x1=x1, y1=y1, x2=x2, y2=y2, space="screen"),
        )

    @property
    def pixel_box(self) -> PixelBox:
        b = self.box
        return int(b.x1), int(b.y1), int(b.x2), int(b.y2)

    def contains(self, x: float, y: float) -> bool:
        b = self.box
        return b.x1 <= x < b.x2 and b.y1 <= y < b.y2

    def click(self) -> Click:
        """A click at the widget's centre, carrying its box (what a grounding model would write)."""
        x1, y1, x2, y2 = self.pixel_box
        return Click(point=Point(x=(x1 + x2) // 2, y=(y1 + y2) // 2, space="screen"), box=self.box)


@dataclass
class FieldState:
    """The text of an input field; ``selected`` after select-all, so the next keystroke replaces it.

    Example:
        >>> f = FieldState("abc")
        >>> f.select_all(); f.type("x"); f.text
        'x'
    """

    text: str = ""
    selected: bool = False

    def type(self, text: str) -> None:
        self.text = text if self.selected else self.text + text
        self.selected = False

    def backspace(self) -> None:
        self.text = "" if self.selected else self.text[:-1]
        self.selected = False

    def select_all(self) -> None:
        self.selected = bool(self.text)

    def clear(self) -> None:
        self.text, self.selected = "", False


def button(
    p: Painter, box: PixelBox, label: str, *, name: str, kind: str = "primary", enabled: bool = True,
    text_size: float = 15,
) -> Widget:
    """A filled button (``primary``, ``danger``, ``secondary``)."""
    fills = {"primary": (PRIMARY, ON_PRIMARY), "danger": (DANGER, ON_PRIMARY), "secondary": (SECONDARY_FILL, INK)}
    fill, ink = fills[kind] if enabled else (DISABLED, MUTED)
    p.rect(box, fill=fill, radius=6)
    x1, y1, x2, y2 = box
    p.text(((x1 + x2) // 2, (y1 + y2) // 2), label, size=text_size, fill=ink, bold=True, anchor="mm",
           max_width=x2 - x1 - p.u(8))
    return Widget.at(name, "button", label, box, enabled=enabled)


def text_field(
    p: Painter, box: PixelBox, field: FieldState, *, name: str, label: str, placeholder: str,
    focused: bool, secret: bool = False, text_size: float = 16,
) -> list[Widget]:
    """An input box with its text (bullets when ``secret``), a caret when focused and a clear (x) button.

    Returns the field's widget and, when it holds text, the clear button's.
    """
    x1, y1, x2, y2 = box
    p.rect(box, fill=SURFACE, outline=PRIMARY if focused else BORDER, radius=4, width=2 if focused else 1)
    pad = p.u(12)
    clear_size = (y2 - y1) - p.u(12)
    text_right = x2 - pad - (clear_size + p.u(4) if field.text else 0)
    shown = "•" * len(field.text) if secret else field.text
    cy = (y1 + y2) // 2
    if shown:
        shown = fit_tail(shown, size_px=p.u(text_size), max_width=text_right - x1 - pad - p.u(4))
        if field.selected:
            w = p.text_width(shown, size=text_size)
            p.rect((x1 + pad - 1, cy - p.u(11), x1 + pad + w + 1, cy + p.u(11)), fill=PRIMARY_SOFT)
        p.text((x1 + pad, cy), shown, size=text_size, fill=INK)
    else:
        p.text((x1 + pad, cy), placeholder, size=text_size, fill=MUTED, max_width=text_right - x1 - pad)
    if focused:
        cx = x1 + pad + (p.text_width(shown, size=text_size) if shown else 0) + p.u(1)
        p.line([(cx, cy - p.u(10)), (cx, cy + p.u(10))], fill=INK, width=1.5)
    widgets = [Widget.at(name, "text_field", label, box, value=field.text)]
    if field.text:
        c = (x2 - pad // 2 - clear_size, cy - clear_size // 2, x2 - pad // 2, cy - clear_size // 2 + clear_size)
        p.ellipse(c, fill=DISABLED)
        m, k = p.u(5), ((c[0] + c[2]) // 2, (c[1] + c[3]) // 2)
        p.line([(k[0] - m, k[1] - m), (k[0] + m, k[1] + m)], fill=INK, width=1.5)
        p.line([(k[0] - m, k[1] + m), (k[0] + m, k[1] - m)], fill=INK, width=1.5)
        widgets.append(Widget.at(f"clear:{name.partition(':')[2] or name}", "button", f"Clear {label}", c))
    return widgets


def toggle(p: Painter, box: PixelBox, *, name: str, label: str, on: bool) -> Widget:
    """A switch: a pill-shaped track with a round knob, blue and right when on."""
    x1, y1, x2, y2 = box
    p.rect(box, fill=PRIMARY if on else BORDER, radius=(y2 - y1) / 2 / p.screen.density)
    inset = p.u(3)
    d = (y2 - y1) - 2 * inset
    kx = x2 - inset - d if on else x1 + inset
    p.ellipse((kx, y1 + inset, kx + d, y1 + inset + d), fill=SURFACE)
    return Widget.at(name, "toggle", label, box, value=on)


def checkbox(p: Painter, box: PixelBox, *, name: str, label: str, checked: bool, text_size: float = 15) -> Widget:
    """A square check box followed by its label; the whole box (square and label) takes the click."""
    x1, y1, x2, y2 = box
    s = p.u(20)
    cy = (y1 + y2) // 2
    sq = (x1, cy - s // 2, x1 + s, cy - s // 2 + s)
    p.rect(sq, fill=PRIMARY if checked else SURFACE, outline=PRIMARY if checked else BORDER, radius=3, width=2)
    if checked:
        p.line([(sq[0] + p.u(4), cy), (sq[0] + p.u(8), cy + p.u(5)), (sq[2] - p.u(4), cy - p.u(5))],
               fill=ON_PRIMARY, width=2.5)
    p.text((x1 + s + p.u(10), cy), label, size=text_size, fill=INK)
    return Widget.at(name, "checkbox", label, box, value=checked)


def status_bar(p: Painter, *, fill: RGB = PAGE, ink: RGB = INK) -> int:
    """A phone status bar (clock, battery); returns its height in pixels."""
    h = p.u(28)
    p.rect((0, 0, p.screen.width, h), fill=fill)
    p.text((p.u(16), h // 2), "12:30", size=13, fill=ink, bold=True)
    bx = p.screen.width - p.u(40)
    p.rect((bx, h // 2 - p.u(6), bx + p.u(22), h // 2 + p.u(6)), outline=ink, radius=2, width=1.5)
    p.rect((bx + p.u(3), h // 2 - p.u(3), bx + p.u(16), h // 2 + p.u(3)), fill=ink)
    return h


@dataclass
class ListView:
    """A vertically scrolled viewport over ``content_h`` pixels of rows.

    One ``scroll`` amount moves a tenth of the viewport, on desktops and phones alike (DESIGN: wheel
    clicks or screen-fraction tenths). A swipe (``drag``) moves the content with the finger.

    Example:
        >>> v = ListView(viewport=(0, 100, 400, 600), content_h=1500)
        >>> v.scroll("down", 5); v.offset
        250
        >>> v.reveal(1400, 1450).amount  # content rows 1400..1450 lie 700 px below the viewport's end
        14
    """

    viewport: PixelBox = (0, 0, 1, 1)
    content_h: int = 0
    offset: int = 0

    @property
    def height(self) -> int:
        return self.viewport[3] - self.viewport[1]

    @property
    def unit(self) -> int:
        return max(1, self.height // 10)

    def clamp(self) -> None:
        self.offset = min(max(self.offset, 0), max(0, self.content_h - self.height))

    def contains(self, x: float, y: float) -> bool:
        x1, y1, x2, y2 = self.viewport
        return x1 <= x < x2 and y1 <= y < y2

    def scroll(self, direction: str, amount: int) -> None:
        if direction in ("down", "up"):
            self.offset += (1 if direction == "down" else -1) * amount * self.unit
            self.clamp()

    def swipe(self, start_y: float, end_y: float) -> None:
        self.offset += int(start_y - end_y)
        self.clamp()

    def shows(self, top: int, bottom: int) -> bool:
        """Whether content rows ``top..bottom`` are wholly inside the viewport now."""
        return top >= self.offset and bottom <= self.offset + self.height

    def reveal(self, top: int, bottom: int) -> Scroll | None:
        """The scroll that brings content rows ``top..bottom`` wholly into view (``None`` if they are)."""
        if self.shows(top, bottom):
            return None
        if top < self.offset:
            direction, amount = "up", math.ceil((self.offset - top) / self.unit)
        else:
            direction, amount = "down", math.ceil((bottom - self.offset - self.height) / self.unit)
        x1, y1, x2, y2 = self.viewport
        centre = Point(x=(x1 + x2) // 2, y=(y1 + y2) // 2, space="screen")
        return Scroll(point=centre, direction=direction, amount=min(max(amount, 1), 100))

    def draw_scroll_bar(self, view: Painter) -> None:
        """A thin thumb at the viewport's right edge (``view`` paints in viewport coordinates)."""
        vw, vh = self.viewport[2] - self.viewport[0], self.height
        if self.content_h <= vh:
            return
        th = max(view.u(24), vh * vh // self.content_h)
        ty = (vh - th) * self.offset // max(1, self.content_h - vh)
        view.rect((vw - view.u(6), ty, vw - view.u(2), ty + th), fill=BORDER, radius=2)
