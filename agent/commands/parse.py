"""``vlagent parse``: what a reply means, action by action, and where each point lands on the screen.

Useful to check a model's output by hand, or a prompt change, without running an episode::

    vlagent parse --profile ui-tars --width 1920 --height 1080 "Action: click(start_box='(500,500)')"

prints a JSON array, one object per action in reply order: ``type``, the action's fields as the pydantic
model dumps them, and every point as ``{"space", "x", "y", "screen": [px, py]}`` with ``screen`` in
pixels of the W x H image (and, with ``--scale`` other than 1, ``"logical": [lx, ly]`` in the points a
desktop's input API takes). A reply that does not parse, or a point off the image, exits non-zero with
the typed error on stderr (``agent/cli.py`` maps the error to the exit code).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from vlagent.actions.coords import Geometry, to_logical, to_screen
from vlagent.actions.models import Action
from vlagent.agent.cli import app
from vlagent.agent.commands.agent_options import profile_help


def describe(action: Action, geometry: Geometry) -> dict[str, Any]:
    """One action as ``vlagent parse`` prints it; raises ``CoordinateError`` for a point off the image.

    Example:
        >>> from vlagent.actions import Click, Point
        >>> g = Geometry(width=1920, height=1080, resized_width=1316, resized_height=728)
        >>> describe(Click(point=Point(x=500, y=500, space="rel1000")), g)["point"]
        {'space': 'rel1000', 'x': 500.0, 'y': 500.0, 'screen': [960, 540]}
    """
    out: dict[str, Any] = action.model_dump(mode="json")
    for name, point in action.points().items():
        screen = to_screen(point, geometry)
        out[name] = {"space": point.space, "x": point.x, "y": point.y, "screen": [int(screen.x), int(screen.y)]}
        if geometry.scale != 1:  # where a desktop click lands in the logical points pyautogui takes
            out[name]["logical"] = list(to_logical(screen, geometry))
    return out


@app.command("parse")
def parse_command(
    text: Annotated[str, typer.Argument(help="The model's reply; '-' reads it from stdin.")],
    profile: Annotated[str, typer.Option("--profile", help=profile_help("Model profile: "))],
    width: Annotated[int, typer.Option("--width", min=1, help="Width of the screenshot in pixels.")],
    height: Annotated[int, typer.Option("--height", min=1, help="Height of the screenshot in pixels.")],
    scale: Annotated[float, typer.Option("--scale", help="Physical pixels per logical point (HiDPI, at most 8); "
                                         "other than 1, each point also gets its 'logical' position.")] = 1.0,
    min_pixels: Annotated[int | None, typer.Option("--min-pixels", min=1,
                                                   help="smart_resize min_pixels (default: the profile's).")] = None,
    max_pixels: Annotated[int | None, typer.Option("--max-pixels", min=1,
                                                   help="smart_resize max_pixels (default: the profile's).")] = None,
) -> None:
    """Parse one model reply with a profile's parser and print its actions with screen coordinates."""
    from vlagent.prompts import get_profile

    if not 0 < scale <= 8:
        raise typer.BadParameter(f"must be a HiDPI scale in (0, 8], got {scale:g}", param_hint="--scale")
    prof = get_profile(profile)
    lo = prof.min_pixels if min_pixels is None else min_pixels
    hi = prof.max_pixels if max_pixels is None else max_pixels
    if hi < lo:
        raise typer.BadParameter(f"max_pixels ({hi}) is below min_pixels ({lo})", param_hint="--max-pixels")
    try:
        geometry = Geometry.for_image(width, height, min_pixels=lo, max_pixels=hi, scale=scale)
    except ValueError as exc:  # ImageSizeError: smart_resize refuses aspect ratios above 200
        raise typer.BadParameter(f"a {width}x{height} screenshot cannot be resized for the model: {exc}",
                                 param_hint="--width/--height") from exc
    reply = sys.stdin.read() if text == "-" else text
    parsed = prof.make_parser().parse(reply)
    typer.echo(json.dumps([describe(a, geometry) for a in parsed.actions], ensure_ascii=False))
