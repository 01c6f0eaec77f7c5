"""The annotated screenshot: the action's marker and its caption, neither hiding the other nor the screen."""

from __future__ import annotations

from PIL import Image, ImageDraw

from vlagent.actions.coords import Point
from vlagent.actions.models import Click, TypeText
from vlagent.agent.annotate import MARKER_RGB, annotate


def _screen(width: int, height: int) -> Image.Image:
    """A screen with a distinctive top-left corner, where phones put their back arrow and MiniWoB its task."""
    image = Image.new("RGB", (width, height), (240, 240, 240))
    ImageDraw.Draw(image).rectangle([0, 0, width // 3, height // 10], fill=(255, 255, 0))
    return image


def test_a_click_in_the_top_left_corner_stays_visible_under_the_caption() -> None:
    # Regression: the caption was drawn over the screenshot's top-left corner, after the marker, so a click
    # on a phone's back arrow showed no marker, and on MiniWoB++ it hid the task text.
    screen = _screen(160, 210)
    out = annotate(screen, [Click(point=Point(x=8, y=8, space="screen"))])
    assert out.width == screen.width and out.height > screen.height  # the caption is a strip below
    assert out.getpixel((8, 8)) == MARKER_RGB
    top = out.crop((0, 0, screen.width, screen.height))
    far = [(x, y) for x in range(screen.width) for y in range(screen.height) if x > 40 or y > 40]
    assert all(top.getpixel(p) == screen.getpixel(p) for p in far)  # the rest of the screen is untouched


def test_the_caption_says_what_was_done_below_a_phone_screen() -> None:
    screen = _screen(1080, 2400)
    out = annotate(screen, [TypeText(text="hello")])
    assert out.crop((0, 0, 1080, 2400)).tobytes() == screen.tobytes()  # typing draws nothing on the screen
    strip = out.crop((0, 2400, 1080, out.height))
    assert strip.height >= 2400 // 40 and (255, 255, 255) in {c for _, c in strip.getcolors(1 << 16)}


def test_a_box_written_corner_last_first_is_drawn_not_a_crash() -> None:
    # Regression: a model's box (x2,y2),(x1,y1) is a valid click (its centre) but Pillow refuses a rectangle
    # with x1 < x0, and the recorder's error ended a whole `vlagent eval` at 4K.
    from vlagent.actions.coords import Box
    from vlagent.agent.annotate import BOX_RGB

    box = Box(x1=120, y1=150, x2=40, y2=60, space="screen")
    out = annotate(_screen(160, 210), [Click(point=box.center, box=box)])
    assert out.getpixel((40, 100)) == BOX_RGB and out.getpixel((119, 100)) == BOX_RGB
