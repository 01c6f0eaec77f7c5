"""Coordinate conversion at the screens the loop meets, for every space, with the off-image guard.

Screens: 1920x1080 desktop, 3840x2160 at HiDPI scale 2, a 1080x2400 portrait phone and a 160x210 MiniWoB
page. Each space maps its own numbers: ``rel1000`` thousandths, ``rel1`` fractions, ``resized`` pixels of
the ``smart_resize``-d image (the profile's budget decides it), ``screen`` the image's own pixels. Points up
to 1% of a side outside the image are clamped onto its edge; farther ones raise ``CoordinateError``.
"""

from __future__ import annotations

import pytest
from parsers_fixtures import SCREENS

from vlagent.actions import Click, CoordinateError, Geometry, Point, convert_action, to_logical, to_screen
from vlagent.actions.coords import Box
from vlagent.prompts import get_profile

ALL = sorted(SCREENS)


def geo(screen: str, profile: str = "qwen2.5-vl") -> Geometry:
    s = SCREENS[screen]
    p = get_profile(profile)
    return Geometry.for_image(s["width"], s["height"], min_pixels=p.min_pixels, max_pixels=p.max_pixels,
                              scale=s["scale"])


def px(x: float, y: float, space: str, g: Geometry) -> tuple[int, int]:
    p = to_screen(Point(x=x, y=y, space=space), g)
    assert p.space == "screen"
    return int(p.x), int(p.y)


@pytest.mark.parametrize(
    ("screen", "profile", "resized"),
    [
        ("1920x1080", "qwen2.5-vl", (1932, 1092)),
        ("3840x2160@2", "qwen2.5-vl", (3836, 2156)),
        ("1080x2400", "qwen2.5-vl", (1092, 2408)),
        ("160x210", "qwen2.5-vl", (168, 224)),
        ("160x210", "ui-tars-1.5", (252, 336)),  # UI-TARS's min_pixels upsizes a tiny page
        ("1920x1080", "showui", (1344, 756)),  # ShowUI's max_pixels shrinks a desktop
        ("1080x2400", "showui", (672, 1512)),
    ],
)
def test_resized_size_follows_the_profile_budget(screen, profile, resized) -> None:
    g = geo(screen, profile)
    assert (g.resized_width, g.resized_height) == resized


@pytest.mark.parametrize("screen", ALL)
def test_centre_and_corners_in_every_space(screen: str) -> None:
    g = geo(screen)
    w, h = g.width, g.height
    centre = (w // 2, h // 2)
    assert px(500, 500, "rel1000", g) == centre
    assert px(0.5, 0.5, "rel1", g) == centre
    assert px(w / 2, h / 2, "screen", g) == centre
    cx, cy = px(g.resized_width / 2, g.resized_height / 2, "resized", g)
    assert abs(cx - w / 2) <= 1 and abs(cy - h / 2) <= 1
    for space, top_left, bottom_right in [
        ("rel1000", (0, 0), (999, 999)), ("rel1", (0, 0), (0.999, 0.999)),
        ("resized", (0, 0), (g.resized_width - 1, g.resized_height - 1)), ("screen", (0, 0), (w - 1, h - 1)),
    ]:
        assert px(*top_left, space, g) == (0, 0)
        bx, by = px(*bottom_right, space, g)
        # The last unit of each space lands in the last thousandth of the image (one unit of rel1000 is
        # 3.84 px on a 4K screen), never past it.
        assert w - 2 - w / 1000 <= bx <= w - 1 and h - 2 - h / 1000 <= by <= h - 1, (space, bx, by)


@pytest.mark.parametrize(
    ("screen", "space", "x", "y", "expected"),
    [
        ("1920x1080", "rel1000", 235, 512, (451, 552)),
        ("1920x1080", "rel1", 0.49, 0.42, (940, 453)),
        ("1920x1080", "resized", 1240, 783, (1232, 774)),
        ("3840x2160@2", "rel1000", 235, 512, (902, 1105)),
        ("3840x2160@2", "resized", 1240, 783, (1241, 784)),
        ("1080x2400", "rel1000", 395, 74, (426, 177)),
        ("1080x2400", "resized", 546, 1204, (540, 1200)),
        ("160x210", "rel1000", 500, 500, (80, 105)),
        ("160x210", "rel1", 0.25, 0.75, (40, 157)),
        ("160x210", "resized", 84, 112, (80, 105)),
    ],
)
def test_known_points(screen, space, x, y, expected) -> None:
    assert px(x, y, space, geo(screen)) == expected


@pytest.mark.parametrize("screen", ALL)
@pytest.mark.parametrize("space", ["rel1000", "rel1", "resized", "screen"])
def test_one_percent_tolerance_then_error(screen: str, space: str) -> None:
    g = geo(screen)
    full_x = {"rel1000": 1000, "rel1": 1.0, "resized": g.resized_width, "screen": g.width}[space]
    full_y = {"rel1000": 1000, "rel1": 1.0, "resized": g.resized_height, "screen": g.height}[space]
    mid_y = full_y / 2

    def sx(pixel_x: float) -> float:  # a pixel column written in the space's own units
        return pixel_x * full_x / g.width

    # Half a percent past the last column: clamped onto it.
    assert px(sx(g.width - 1 + 0.005 * g.width), mid_y, space, g)[0] == g.width - 1
    # Half a percent before the first column: clamped onto it.
    assert px(sx(-0.005 * g.width), mid_y, space, g)[0] == 0
    # 3% outside on any side: an error naming the image, never a click on the edge.
    for x, y in [(full_x * 1.03, mid_y), (-full_x * 0.03, mid_y), (full_x / 2, full_y * 1.03), (full_x / 2, -full_y * 0.03)]:
        with pytest.raises(CoordinateError, match=f"{g.width}x{g.height}"):
            to_screen(Point(x=x, y=y, space=space), g)


@pytest.mark.parametrize("screen", ALL)
def test_rel1_read_as_rel1000_is_caught(screen: str) -> None:
    # A model that writes thousandths where fractions were asked (or the reverse) is caught, not clamped.
    g = geo(screen)
    with pytest.raises(CoordinateError):
        to_screen(Point(x=500, y=500, space="rel1"), g)


def test_hidpi_logical_points_are_halved() -> None:
    g = geo("3840x2160@2")
    screen = to_screen(Point(x=500, y=500, space="rel1000"), g)
    assert (screen.x, screen.y) == (1920, 1080)
    assert to_logical(screen, g) == (960, 540)


@pytest.mark.parametrize("screen", ALL)
def test_click_with_box_converts_point_and_box(screen: str) -> None:
    g = geo(screen)
    box = Box(x1=512, y1=301, x2=640, y2=355, space="rel1000")
    out = convert_action(Click(point=box.center, box=box), g)
    assert out.point.space == "screen" and out.box.space == "screen"
    assert out.box.x1 <= out.point.x <= out.box.x2 and out.box.y1 <= out.point.y <= out.box.y2


def test_negative_model_coordinates_are_an_error_not_a_corner_click() -> None:
    g = geo("1920x1080")
    with pytest.raises(CoordinateError):
        to_screen(Point(x=-50, y=20, space="rel1000"), g)
