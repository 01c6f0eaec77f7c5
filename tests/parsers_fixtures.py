"""Shared pieces for the parser tests: the profiles' parsers, the screens, and action generators.

The generators produce, per parser, the actions its format can express (hypothesis strategies), and
:func:`expected_roundtrip` says what reading them back must give where a format folds two spellings into
one (a one-key hotkey is a key press; ShowUI writes "type and submit" as INPUT then ENTER).
"""

from __future__ import annotations

import functools
import math

from hypothesis import strategies as st

from vlagent.actions import (
    CallUser,
    Choose,
    Click,
    Drag,
    Fail,
    Finished,
    Hotkey,
    Key,
    LongPress,
    Move,
    Navigate,
    OpenApp,
    Point,
    Scroll,
    TypeText,
    Wait,
)
from vlagent.actions.coords import Box, Geometry, Space
from vlagent.actions.models import KNOWN_KEYS
from vlagent.actions.parsers import (
    JSONActionParser,
    Qwen2VLParser,
    ShowUIParser,
    ToolCallParser,
    UITarsParser,
)

PROFILE_NAMES = ("qwen2-vl", "qwen2.5-vl", "ui-tars", "ui-tars-1.5", "showui", "json")

#: Every parser configuration the profiles use, plus the writer variants (tool, platform) of the same classes.
PARSERS = {
    "qwen2vl": Qwen2VLParser(),
    "uitars-v1": UITarsParser(space="rel1000"),
    "uitars-1.5": UITarsParser(space="resized"),
    "tool_call": ToolCallParser(),
    "tool_call-mobile": ToolCallParser(tool="mobile_use"),
    "tool_call-game": ToolCallParser(tool="game_use"),
    "showui": ShowUIParser(),
    "showui-phone": ShowUIParser(platform="phone"),
    "json": JSONActionParser(),
}

#: The screens the issue names: desktop, 4K HiDPI, a portrait phone, a MiniWoB page.
SCREENS = {
    "1920x1080": dict(width=1920, height=1080, scale=1.0),
    "3840x2160@2": dict(width=3840, height=2160, scale=2.0),
    "1080x2400": dict(width=1080, height=2400, scale=1.0),
    "160x210": dict(width=160, height=210, scale=1.0),
}


@functools.cache
def geometry(screen: str, min_pixels: int = 3136, max_pixels: int = 12845056) -> Geometry:
    s = SCREENS[screen]
    return Geometry.for_image(s["width"], s["height"], min_pixels=min_pixels, max_pixels=max_pixels, scale=s["scale"])


def pt(x: float, y: float, space: Space) -> Point:
    return Point(x=x, y=y, space=space)


# ---------------------------------------------------------------------------------------------------
# Generators

_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")),
    min_size=1, max_size=30,
).filter(lambda s: not s.endswith("\n"))
# Thoughts: prose without the characters formats use as syntax, and never starting or ending in blanks.
_THOUGHT = st.text(alphabet=st.sampled_from("abcdefghij KLMNOP.,!?-"), min_size=1, max_size=40).map(str.strip).filter(
    lambda s: bool(s) and "Action" not in s and s[0].isalpha() and s[-1] not in ",-"
)
_KEYS = sorted(k for k in KNOWN_KEYS if k.isalnum() or k in {"enter", "esc", "tab", "ctrl", "shift", "alt"})


def coord(space: Space) -> st.SearchStrategy[float]:
    if space == "rel1":
        return st.floats(min_value=0, max_value=1, allow_nan=False, allow_infinity=False)
    if space == "rel1000":
        return st.integers(0, 999).map(float) | st.floats(0, 999.9, allow_nan=False).map(lambda v: round(v, 1))
    return st.integers(0, 3000).map(float)


def points(space: Space) -> st.SearchStrategy[Point]:
    return st.builds(Point, x=coord(space), y=coord(space), space=st.just(space))


def centred_boxes(space: Space) -> st.SearchStrategy[tuple[Point, Box]]:
    def make(x1: float, y1: float, w: float, h: float) -> tuple[Point, Box]:
        box = Box(x1=x1, y1=y1, x2=x1 + w, y2=y1 + h, space=space)
        return box.center, box

    if space == "rel1":
        return st.builds(make, st.sampled_from([0.1, 0.25, 0.5]), st.sampled_from([0.2, 0.5]),
                         st.sampled_from([0.1, 0.2]), st.sampled_from([0.1, 0.3]))
    return st.builds(make, st.integers(0, 500).map(float), st.integers(0, 500).map(float),
                     st.integers(2, 400).map(lambda v: float(v * 2)), st.integers(2, 400).map(lambda v: float(v * 2)))


def clicks(space: Space, variants, with_box: bool) -> st.SearchStrategy[Click]:
    plain = st.builds(lambda p, v: Click(point=p, button=v[0], count=v[1]), points(space), st.sampled_from(variants))
    if not with_box:
        return plain
    boxed = st.builds(lambda pb, v: Click(point=pb[0], box=pb[1], button=v[0], count=v[1]),
                      centred_boxes(space), st.sampled_from(variants))
    return plain | boxed


def action_strategy(name: str) -> st.SearchStrategy:
    """The actions parser ``name`` can write, in its space."""
    p = PARSERS[name]
    sp = p.space
    directions = st.sampled_from(["up", "down", "left", "right"])
    keys = st.sampled_from(_KEYS)
    hotkeys = st.lists(keys, min_size=2, max_size=3).map(lambda ks: Hotkey(keys=ks))
    options = _TEXT.map(str.strip).filter(bool)
    drag = st.builds(lambda a, b: Drag(start=a, end=b), points(sp), points(sp))
    common = [
        drag,
        st.builds(lambda t, s: TypeText(text=t, submit=s), _TEXT, st.booleans()),
    ]
    if name == "json":
        return st.one_of(
            clicks(sp, [("left", 1), ("right", 2), ("middle", 1), ("left", 3)], with_box=True),
            st.builds(lambda p, d: LongPress(point=p, duration=d), points(sp), st.sampled_from([0.5, 1.0, 2.5])),
            st.builds(lambda a, b, d: Drag(start=a, end=b, duration=d), points(sp), points(sp),
                      st.sampled_from([0.5, 1.0])),
            st.builds(lambda p, d, n: Scroll(point=p, direction=d, amount=n), st.none() | points(sp), directions,
                      st.integers(1, 100)),
            st.builds(lambda t, s: TypeText(text=t, submit=s), st.text(min_size=1, max_size=30), st.booleans()),
            keys.map(lambda k: Key(name=k)), hotkeys, points(sp).map(lambda p: Move(point=p)),
            directions.map(lambda d: Move(direction=d)), options.map(lambda o: Choose(option=o)),
            st.sampled_from(["back", "home", "recents"]).map(lambda t: Navigate(to=t)),
            _TEXT.map(lambda n: OpenApp(name=n)), st.sampled_from([0.5, 1.0, 5.0]).map(lambda s: Wait(seconds=s)),
            st.builds(lambda a: Finished(answer=a), st.none() | _TEXT), _TEXT.map(lambda r: Fail(reason=r)),
            _TEXT.map(lambda q: CallUser(question=q)),
        )
    if name.startswith("uitars"):
        return st.one_of(
            *common,
            clicks(sp, [("left", 1), ("left", 2), ("right", 1), ("left", 3)], with_box=True),
            st.builds(lambda p, d: LongPress(point=p, duration=d), points(sp), st.sampled_from([1.0, 2.0])),
            st.builds(lambda p, d, n: Scroll(point=p, direction=d, amount=n), st.none() | points(sp), directions,
                      st.integers(1, 100)),
            keys.map(lambda k: Key(name=k)), hotkeys, points(sp).map(lambda p: Move(point=p)),
            directions.map(lambda d: Move(direction=d)), options.map(lambda o: Choose(option=o)),
            st.sampled_from(["back", "home"]).map(lambda t: Navigate(to=t)),
            _TEXT.map(lambda n: OpenApp(name=n)), st.sampled_from([2.0, 5.0]).map(lambda s: Wait(seconds=s)),
            st.just(Finished()), _TEXT.map(lambda a: Finished(answer=a)), st.just(CallUser()),
            _TEXT.map(lambda q: CallUser(question=q)),
        )
    if name.startswith("tool_call"):
        return st.one_of(
            *common,
            clicks(sp, [("left", 1), ("right", 1), ("middle", 1), ("left", 2), ("left", 3)], with_box=False),
            st.builds(lambda p, d: LongPress(point=p, duration=d), points(sp), st.sampled_from([1.0, 2.0])),
            st.builds(lambda p, d, n: Scroll(point=p, direction=d, amount=n), st.none() | points(sp), directions,
                      st.integers(1, 100)),
            keys.map(lambda k: Key(name=k)), hotkeys, points(sp).map(lambda p: Move(point=p)),
            directions.map(lambda d: Move(direction=d)), options.map(lambda o: Choose(option=o)),
            st.sampled_from(["back", "home"]).map(lambda t: Navigate(to=t)),
            _TEXT.map(lambda n: OpenApp(name=n)), st.sampled_from([1.0, 2.5]).map(lambda s: Wait(seconds=s)),
            st.just(Finished()), _TEXT.map(lambda a: Finished(answer=a)), st.just(Fail()),
        )
    if name.startswith("showui"):
        return st.one_of(
            *common,
            clicks(sp, [("left", 1)], with_box=False),
            st.builds(lambda p, d: Scroll(point=p, direction=d), st.none() | points(sp), directions),
            st.just(Key(name="enter")), st.just(Hotkey(keys=["ctrl", "c"])),
            points(sp).map(lambda p: Move(point=p)), directions.map(lambda d: Move(direction=d)),
            options.map(lambda o: Choose(option=o)),
            st.sampled_from(["back", "home"]).map(lambda t: Navigate(to=t)),
            st.just(Finished()), _TEXT.map(lambda a: Finished(answer=a)), st.just(Fail()),
        )
    if name == "qwen2vl":
        return st.one_of(
            *common,
            clicks(sp, [("left", 1), ("left", 2), ("right", 1), ("left", 3)], with_box=True),
            points(sp).map(lambda p: LongPress(point=p)),
            st.builds(lambda p, d: Scroll(point=p, direction=d), st.none() | points(sp), directions),
            keys.map(lambda k: Key(name=k)), hotkeys, points(sp).map(lambda p: Move(point=p)),
            directions.map(lambda d: Move(direction=d)), options.map(lambda o: Choose(option=o)),
            st.sampled_from(["back", "home", "recents"]).map(lambda t: Navigate(to=t)),
            _TEXT.map(lambda n: OpenApp(name=n)), st.sampled_from([1.0, 2.5]).map(lambda s: Wait(seconds=s)),
            st.just(Finished()), _TEXT.map(lambda a: Finished(answer=a)), _TEXT.map(lambda r: Fail(reason=r)),
            _TEXT.map(lambda q: CallUser(question=q)),
        )
    raise KeyError(name)


def thoughts() -> st.SearchStrategy[str | None]:
    return st.none() | _THOUGHT


def expected_roundtrip(name: str, actions: list) -> list:
    """What ``parse(format(actions))`` must return: the actions, with the format's documented foldings."""
    out: list = []
    for a in actions:
        if isinstance(a, Hotkey) and len(a.keys) == 1 and name != "json":
            out.append(Key(name=a.keys[0]))
        elif name.startswith("showui") and isinstance(a, TypeText) and a.submit:
            out += [a.model_copy(update={"submit": False}), Key(name="enter")]
        else:
            out.append(a)
    return out


def inside(point: Point, g: Geometry) -> bool:
    return point.space == "screen" and 0 <= point.x <= g.width - 1 and 0 <= point.y <= g.height - 1 and all(
        math.isfinite(v) for v in (point.x, point.y)
    )


# ---------------------------------------------------------------------------------------------------
# Compact expectations for the tables of real replies


class Err:
    """An expected ActionParseError whose message contains ``part``."""

    def __init__(self, part: str) -> None:
        self.part = part

    def __repr__(self) -> str:
        return f"Err({self.part!r})"


def _n(v: float) -> str:
    return f"{v:g}"


def _p(p: Point) -> str:
    return f"{_n(p.x)},{_n(p.y)}"


def short(a) -> str:
    """One action as a short line, e.g. ``click 576,328 box=512,301,640,355``, for readable tables."""
    t = a.type
    if t == "click":
        s = f"click {_p(a.point)}"
        s += f" {a.button}" if a.button != "left" else ""
        s += f" x{a.count}" if a.count != 1 else ""
        if a.box is not None:
            s += " box=" + ",".join(_n(v) for v in (a.box.x1, a.box.y1, a.box.x2, a.box.y2))
        return s
    if t == "long_press":
        return f"long_press {_p(a.point)} {_n(a.duration)}s"
    if t == "drag":
        return f"drag {_p(a.start)} -> {_p(a.end)}"
    if t == "scroll":
        s = f"scroll {a.direction}"
        s += f" at {_p(a.point)}" if a.point is not None else ""
        return s + (f" x{a.amount}" if a.amount != 5 else "")
    if t == "type":
        return f"type {a.text!r}" + (" submit" if a.submit else "")
    if t == "key":
        return f"key {a.name}"
    if t == "hotkey":
        return "hotkey " + "+".join(a.keys)
    if t == "move":
        return f"move {_p(a.point)}" if a.point is not None else f"move {a.direction}"
    if t == "choose":
        return f"choose {a.option}"
    if t == "navigate":
        return f"navigate {a.to}"
    if t == "open_app":
        return f"open_app {a.name!r}"
    if t == "wait":
        return f"wait {_n(a.seconds)}s"
    if t == "finished":
        return "finished" + (f" {a.answer!r}" if a.answer is not None else "")
    if t == "fail":
        return f"fail {a.reason!r}"
    if t == "call_user":
        return f"call_user {a.question!r}"
    raise AssertionError(t)


def check_case(parser, reply: str, expected, space: str | None = None) -> None:
    """Parse ``reply`` and compare with ``expected`` (lines of :func:`short`, or an :class:`Err`)."""
    import pytest

    from vlagent.actions import ActionParseError

    if isinstance(expected, Err):
        with pytest.raises(ActionParseError) as info:
            parser.parse(reply)
        assert expected.part in str(info.value), str(info.value)
        assert info.value.raw == reply
        return
    parsed = parser.parse(reply)
    assert [short(a) for a in parsed.actions] == expected
    for a in parsed.actions:
        for p in a.points().values():
            assert p.space == (space or parser.space)


# ---------------------------------------------------------------------------------------------------
# Replies that made a parser quadratic (or worse), and real replies grown to a size, per profile.
# Shared by tests/test_parsers_linear.py (a bound in seconds) and bench/bench_parsers.py (time per KB).


def _repeat(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit))


#: Shapes any parser may meet (noise that once backtracked in a shared helper), as ``size -> text``.
_COMMON_SHAPES = {
    "newlines": lambda n: "\n" * n,
    "digits": lambda n: "9" * n,
    "open-parens": lambda n: "(" * n,
    "open-brackets": lambda n: "[" * n,
    "open-braces": lambda n: "{" * n,
    "quotes": lambda n: "'" * n,
    "end-tokens": lambda n: _repeat("<|im_end|> ", n) + "x",
    "fences": lambda n: _repeat("```\n", n),
    "think-tags": lambda n: _repeat("<think>", n),
}

#: Per profile: the shapes the issue measured and their relatives, as ``size -> text``.
PATHOLOGICAL = {
    "qwen2-vl": {
        "ref-then-digits": lambda n: "the OK button(" + "9" * n,
        "pair-then-digits": lambda n: "(1," + "9" * n,
        "many-apostrophes": lambda n: "type('" + _repeat("a'b", n) + "')",
        "unclosed-boxes": lambda n: _repeat("<|box_start|>(1,", n),
        "box-spaces": lambda n: "<|box_start|>(" + " " * n,
        "calls": lambda n: _repeat("click(", n),
        "bare-pairs": lambda n: _repeat("(1,2),", n),
        "repeated-actions": lambda n: _repeat("wait()\n", n),
        "repeated-boxes": lambda n: _repeat("<|box_start|>(1,2)<|box_end|>", n),
    },
    "qwen2.5-vl": {
        "unclosed-tags": lambda n: _repeat("<tool_call>{", n),
        "commas": lambda n: '<tool_call>{"a": [' + _repeat(", ", n),
        "nested-strings": lambda n: '<tool_call>{"text": "' + _repeat('\\"', n) + '"}</tool_call>',
        "repeated-actions": lambda n: _repeat('<tool_call>{"name": "computer_use", "arguments": {"action": "wait"}}'
                                              "</tool_call>\n", n),
    },
    "ui-tars": {
        "newlines-before-call": lambda n: "\n" * n + "Action: click(start_box='(1,2)')",
        "labels": lambda n: _repeat("Thought: \n", n),
        "many-apostrophes": lambda n: "Action: type(content='" + _repeat("a'b", n) + "')",
        "action-markers": lambda n: _repeat("Action ", n),
        "keywords": lambda n: "Action: click(" + _repeat("a=", n),
        "spaces-before-paren": lambda n: "Action: click" + " " * n,
        "repeated-actions": lambda n: "Action: " + _repeat("wait()\n\n", n),
    },
    "ui-tars-1.5": {
        "newlines-before-call": lambda n: "\n" * n + "Action: click(point='<point>1 2</point>')",
        "many-apostrophes": lambda n: "Action: type(content='" + _repeat("a'b", n) + "')",
        "points": lambda n: "Action: click(point='<point>" + _repeat("1 ", n),
        "repeated-actions": lambda n: "Action: " + _repeat("click(point='<point>1 2</point>')\n\n", n),
    },
    "showui": {
        "nested-lists": lambda n: "[" + _repeat("[1]  ", n),
        "list-spaces": lambda n: "[[1]" + " " * n,
        "dict-quotes": lambda n: "{'action': '" + _repeat("a'b", n),
        "repeated-actions": lambda n: _repeat("{'action': 'ENTER', 'value': None, 'position': None}\n", n),
        "repeated-points": lambda n: _repeat("[0.5, 0.5] ", n),
    },
    "json": {
        "nested": lambda n: _repeat('{"a": ', n),
        "trailing-commas": lambda n: '{"a": [1' + _repeat(", ", n),
        "strings": lambda n: _repeat('{"a": "b"} ', n),
        "repeated-actions": lambda n: _repeat('{"action": "LEFT"}\n', n),
        "long-action-list": lambda n: '{"actions": [' + _repeat('"LEFT", ', n) + '"LEFT"]}',
    },
}


def pathological(profile: str) -> dict[str, object]:
    """Every pathological shape for ``profile`` (its own and the common ones), as ``size -> text``."""
    return {**_COMMON_SHAPES, **PATHOLOGICAL[profile]}


#: A real reply per profile with room for a long text, ``{}`` standing for the text.
_REAL_TEMPLATES = {
    "qwen2-vl": "I will type the report.\nclick(<|box_start|>(100,200)<|box_end|>)\ntype('{}')",
    "qwen2.5-vl": '<tool_call>\n{{"name": "computer_use", "arguments": {{"action": "type", "text": "{}"}}}}\n</tool_call>',
    "ui-tars": "Thought: type the report\nAction: type(content='{}')",
    "ui-tars-1.5": "Thought: type the report\nAction: type(content='{}')",
    "showui": "{{'action': 'INPUT', 'value': '{}', 'position': [0.5, 0.5]}}",
    "json": '{{"thought": "type it", "action": "type", "text": "{}"}}',
}


#: Prose as models type it; in the call formats with its apostrophes unescaped, as UI-TARS writes them.
_PROSE = {"call": "It's the user's report, don't cut it. ", "literal": "It is the user report, do not cut it. "}


def real_reply(profile: str, size: int, *, where: str = "text") -> str:
    """A real reply of about ``size`` characters: a long typed text, or a long thought before the call."""
    if where == "text":
        prose = _PROSE["call" if profile in ("qwen2-vl", "ui-tars", "ui-tars-1.5") else "literal"]
        return _REAL_TEMPLATES[profile].format(_repeat(prose, size))
    thought = _repeat("The form is open and the next field is the name. ", size)
    return {
        "qwen2-vl": f"{thought}\nclick(<|box_start|>(100,200)<|box_end|>)",
        "qwen2.5-vl": f'{thought}\n<tool_call>\n{{"name": "computer_use", "arguments": {{"action": "left_click", '
                      f'"coordinate": [10, 20]}}}}\n</tool_call>',
        "ui-tars": f"Thought: {thought}\nAction: click(start_box='(100,200)')",
        "ui-tars-1.5": f"Thought: {thought}\nAction: click(point='<point>100 200</point>')",
        "showui": f"{thought}\n{{'action': 'CLICK', 'value': None, 'position': [0.5, 0.5]}}",
        "json": f'{{"thought": "{thought}", "action": "LEFT"}}',
    }[profile]
