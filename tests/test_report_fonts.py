"""Captions drawn on screenshots read as typed: accents, symbols (and CJK where a CJK font is installed)."""

from __future__ import annotations

from PIL import Image, ImageFont

from vlagent.actions.models import TypeText
from vlagent.agent.annotate import annotate
from vlagent.agent.fonts import FontChain, caption_fonts

MISSING = "\U00013000"  # an Egyptian hieroglyph (printable, so repr keeps it): no font here has it


def _caption(text: str) -> Image.Image:
    screen = Image.new("RGB", (640, 400), "white")
    out = annotate(screen, [TypeText(text=text)])
    return out.crop((0, 400, out.width, out.height))


def test_accented_letters_and_a_check_mark_are_not_boxes_in_a_caption() -> None:
    # Regression: Pillow's built-in font drew 'héllo wörld ✓' with boxes for é, ö and ✓.
    for ch in ("é", "ö", "✓"):
        assert _caption(f"x{ch}x").tobytes() != _caption(f"x{MISSING}x").tobytes(), ch
    assert _caption("é").tobytes() != _caption("e").tobytes()


def test_each_character_is_drawn_by_the_first_font_that_has_it() -> None:
    builtin = ImageFont.load_default(size=20)  # no é, no ✓
    chain = FontChain([builtin, caption_fonts(20).fonts[0]])
    assert chain.runs("hé ✓") == [(0, "h"), (1, "é"), (0, " "), (1, "✓")]
    assert chain.runs(MISSING) == [(0, MISSING)]  # nobody has it: the first font's box


def test_long_captions_wrap_to_the_screen_instead_of_running_off_it() -> None:
    narrow = Image.new("RGB", (300, 600), "white")
    one = annotate(narrow, [TypeText(text="short")])
    many = annotate(narrow, [TypeText(text="a rather long sentence that cannot fit on one line of a narrow screen")])
    assert many.height > one.height and many.width == 300
