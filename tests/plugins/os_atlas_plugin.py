"""An OS-Atlas profile for vlagent, as a plugin of one file: its parser, its prompt and its registration.

OS-Atlas-Pro (a Qwen2-VL fine-tune) answers with a ``thoughts:`` and an ``actions:`` section and writes
points as ``<point>[[x, y]]</point>`` in thousandths of the screenshot (0-1000). Load it with
``VLAGENT_PLUGINS=os_atlas_plugin`` (this file on ``PYTHONPATH``) or from your own package's entry point
``[project.entry-points."vlagent.profiles"] os-atlas = "os_atlas_plugin:PROFILE"``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from vlagent.actions import (
    Action,
    ActionParseError,
    Click,
    Finished,
    Key,
    LongPress,
    Navigate,
    OpenApp,
    ParsedReply,
    Point,
    Scroll,
    TypeText,
    UnsupportedActionError,
    Wait,
)
from vlagent.actions.coords import QWEN2_VL_MAX_PIXELS, QWEN2_VL_MIN_PIXELS
from vlagent.prompts.action_space import Line, render_lines
from vlagent.prompts.profiles import ModelProfile, register_profile

_NUMBER = r"(-?\d+(?:\.\d+)?)"
_POINT = re.compile(rf"<point>\[\[\s*{_NUMBER}\s*,\s*{_NUMBER}\s*\]\]</point>")
_VERBS = "CLICK|LONG_PRESS|TYPE|SCROLL|OPEN_APP|PRESS_BACK|PRESS_HOME|ENTER|WAIT|COMPLETE"
_STEP = re.compile(rf"^[ \t]*({_VERBS})\b[ \t]*(.*)$", re.MULTILINE)
_BRACKETED = re.compile(r"\[(.*)\]")


class OSAtlasParser:
    """Reads and writes OS-Atlas replies (vlagent's ActionParser interface: ``space``, ``parse``, ``format``)."""

    space = "rel1000"
    expected: ClassVar[str] = ("actions: CLICK <point>[[x, y]]</point> (x, y from 0 to 1000), TYPE [text], "
                               "SCROLL [UP], PRESS_BACK, PRESS_HOME, ENTER, WAIT or COMPLETE")

    def parse(self, text: str) -> ParsedReply:
        head, marker, body = text.partition("actions:")
        thought = head.replace("thoughts:", "", 1).strip() if marker else ""
        actions = [self._action(verb, rest.strip(), text) for verb, rest in _STEP.findall(body if marker else text)]
        if not actions:
            raise ActionParseError(text, expected=self.expected)
        return ParsedReply(raw=text, thought=thought or None, actions=actions)

    def _action(self, verb: str, rest: str, raw: str) -> Action:
        try:
            if verb in ("CLICK", "LONG_PRESS"):
                m = _POINT.search(rest)
                if m is None:
                    raise ActionParseError(raw, expected=self.expected, reason=f"{verb} without a point")
                point = Point(x=float(m[1]), y=float(m[2]), space="rel1000")
                return Click(point=point) if verb == "CLICK" else LongPress(point=point)
            simple = {"PRESS_BACK": Navigate(to="back"), "PRESS_HOME": Navigate(to="home"),
                      "ENTER": Key(name="enter"), "WAIT": Wait(), "COMPLETE": Finished()}
            if verb in simple:
                return simple[verb]
            m = _BRACKETED.fullmatch(rest)
            if m is None:
                raise ActionParseError(raw, expected=self.expected, reason=f"{verb} without a [value]")
            if verb == "TYPE":
                return TypeText(text=m[1])
            if verb == "SCROLL":
                return Scroll(direction=m[1].strip().lower())
            return OpenApp(name=m[1].strip())
        except ValueError as exc:  # pydantic: an empty text, an unknown direction
            raise ActionParseError(raw, expected=self.expected, reason=f"bad {verb}: {exc}") from exc

    def format(self, actions: Sequence[Action], thought: str | None = None) -> str:
        lines = [self._line(a) for a in actions]
        return (f"thoughts:\n{thought}\n" if thought else "") + "actions:\n" + "\n".join(lines)

    def _line(self, a: Action) -> str:
        def at(p: Point) -> str:
            return f"<point>[[{round(p.x)}, {round(p.y)}]]</point>"

        if isinstance(a, Click) and a.button == "left" and a.count == 1:
            return f"CLICK {at(a.point)}"
        if isinstance(a, LongPress):
            return f"LONG_PRESS {at(a.point)}"
        if isinstance(a, TypeText):
            return f"TYPE [{a.text}]" + ("\nENTER" if a.submit else "")
        if isinstance(a, Scroll) and a.point is None:
            return f"SCROLL [{a.direction.upper()}]"
        if isinstance(a, OpenApp):
            return f"OPEN_APP [{a.name}]"
        if isinstance(a, Navigate) and a.to != "recents":
            return "PRESS_BACK" if a.to == "back" else "PRESS_HOME"
        if isinstance(a, Key) and a.name == "enter":
            return "ENTER"
        if isinstance(a, Wait):
            return "WAIT"
        if isinstance(a, Finished):
            return "COMPLETE"
        raise UnsupportedActionError(a.type, ["click", "long_press", "type", "scroll", "open_app", "navigate",
                                              "key", "wait", "finished"], detail="OS-Atlas cannot write it")


# The action space, one line per action, shown only where the env performs it (vlagent's Line tables).
_GUI = [
    Line(("click",), "CLICK <point>[[x, y]]</point>: click the element at that point"),
    Line(("long_press",), "LONG_PRESS <point>[[x, y]]</point>: press and hold there"),
    Line(("type",), "TYPE [text]: type the text into the focused field"),
    Line(("scroll",), "SCROLL [UP, DOWN, LEFT or RIGHT]: scroll the screen that way"),
    Line(("open_app",), "OPEN_APP [name]: open an app"),
    Line(("navigate",), "PRESS_BACK: go back"),
    Line(("navigate",), "PRESS_HOME: go to the home screen"),
    Line(("key",), "ENTER: press Enter"),
    Line(("wait",), "WAIT: wait for the screen to change"),
    Line(("finished",), "COMPLETE: the task is done"),
]
_USER = """You control $app. Your task: $instruction
$history
Actions (x and y are thousandths of the screenshot's width and height, from 0 to 1000):
$action_space

Reply in this format:
thoughts:
<what you see and why you act>
actions:
<one action>"""

PROFILE = register_profile(ModelProfile(
    name="os-atlas",
    space="rel1000",
    min_pixels=QWEN2_VL_MIN_PIXELS,
    max_pixels=QWEN2_VL_MAX_PIXELS,
    parser_cls=f"{__name__}.OSAtlasParser",
    templates={family: (None, "os_atlas_user.txt") for family in ("desktop", "web", "mobile")},
    template_texts={"os_atlas_user.txt": _USER},
    syntax="os-atlas",
    action_space=lambda request: render_lines({"gui": _GUI, "mobile": _GUI}, request),
    reply_format="thoughts:\n...\nactions:\nCLICK <point>[[x, y]]</point>",
    source="OS-Copilot/OS-Atlas (OS-Atlas-Pro action format)",
))
