"""Qwen2-VL replies: grounding with and without special tokens, and vlagent's qwen2-vl action calls.

Grounding answers are Qwen2-VL's own (QwenLM/Qwen2-VL technical report and replies quoted in projects built
on it, decoded with ``skip_special_tokens=False`` and ``True``); the calls are the syntax of vlagent's
qwen2-vl prompt (see ``actions/parsers/qwen2vl.py``).
"""

from __future__ import annotations

import pytest
from parsers_fixtures import Err, check_case

from vlagent.actions.parsers import Qwen2VLParser

P = Qwen2VLParser()

CASES = [
    ("gui-grounding-im-end",
     "<|object_ref_start|>language switch<|object_ref_end|><|box_start|>(576,12),(592,42)<|box_end|><|im_end|>",
     ["click 584,27 box=576,12,592,42"]),
    ("design-doc-ok-button", "<|object_ref_start|>the OK button<|object_ref_end|><|box_start|>(512,301),(640,355)<|box_end|>",
     ["click 576,328 box=512,301,640,355"]),
    ("special-tokens-stripped", "the OK button(512,301),(640,355)", ["click 576,328 box=512,301,640,355"]),
    ("point-with-tokens", "<|box_start|>(235,512)<|box_end|>", ["click 235,512"]),
    ("point-stripped", "(235,512)", ["click 235,512"]),
    ("two-boxes-one-ref",
     "<|object_ref_start|>birch tree<|object_ref_end|><|box_start|>(530,351),(602,516)<|box_end|>"
     "<|box_start|>(176,106),(232,160)<|box_end|>",
     ["click 566,433.5 box=530,351,602,516", "click 204,133 box=176,106,232,160"]),
    ("prose-around",
     "There is one distortion in the image: <|object_ref_start|>Moderate low clarity<|object_ref_end|>"
     "<|box_start|>(3,5),(998,995)<|box_end|> affects the tree branches.",
     ["click 500.5,500 box=3,5,998,995"]),
    ("full-image-box", "<|object_ref_start|>people<|object_ref_end|><|box_start|>(495,246),(999,997)<|box_end|><|im_end|>",
     ["click 747,621.5 box=495,246,999,997"]),
    ("call-click", "click(<|box_start|>(512,301)<|box_end|>)", ["click 512,301"]),
    ("call-click-box-with-ref",
     "click(<|object_ref_start|>Search<|object_ref_end|><|box_start|>(100,20),(300,60)<|box_end|>)",
     ["click 200,40 box=100,20,300,60"]),
    ("call-stripped-box", "click((512,301),(640,355))", ["click 576,328 box=512,301,640,355"]),
    ("call-bare-numbers", "click(512, 301)", ["click 512,301"]),
    ("calls-one-per-line", "I will search.\nclick(<|box_start|>(500,40)<|box_end|>)\ntype('cheap flights\\n')",
     ["click 500,40", "type 'cheap flights' submit"]),
    ("double-and-right", "double_click(<|box_start|>(1,2)<|box_end|>)\nright_click(<|box_start|>(3,4)<|box_end|>)",
     ["click 1,2 x2", "click 3,4 right"]),
    ("drag-tokens", "drag(<|box_start|>(100,200)<|box_end|>, <|box_start|>(300,400)<|box_end|>)",
     ["drag 100,200 -> 300,400"]),
    ("drag-stripped", "drag((100,200),(300,400))", ["drag 100,200 -> 300,400"]),
    ("scroll", "scroll('down')", ["scroll down"]),
    ("scroll-at", "scroll(<|box_start|>(500,500)<|box_end|>, up)", ["scroll up at 500,500"]),
    ("hotkey-bare", "hotkey(ctrl+c)", ["hotkey ctrl+c"]),
    ("key", "key('Return')", ["key enter"]),
    ("navigation", "back()\nhome()\nrecents()", ["navigate back", "navigate home", "navigate recents"]),
    ("open-app", "open_app('Settings')", ["open_app 'Settings'"]),
    ("wait", "wait(2)", ["wait 2s"]),
    ("finished-answer", "finished('42')", ["finished '42'"]),
    ("fail", "fail('the page does not load')", ["fail 'the page does not load'"]),
    ("choose", "The goal is to the left.\nchoose(LEFT)", ["choose LEFT"]),
    ("move-direction", "move('up')", ["move up"]),
    ("floats", "click(<|box_start|>(512.5,301.25)<|box_end|>)", ["click 512.5,301.25"]),
    ("missing-paren", "click(<|box_start|>(512,301)<|box_end|>", ["click 512,301"]),
    # Cut off before <|box_end|>: "(512,301)" may be the first corner of "(512,301),(640,355)".
    ("missing-box-end", "click(<|box_start|>(512,301)", Err("cut off")),
    ("fenced", "```\nclick(<|box_start|>(7,8)<|box_end|>)\n```", ["click 7,8"]),
    ("click-without-point", "click(the blue button)", Err("needs a point")),
    ("prose-only", "I don't see a login button on this screen.", Err("no action call and no grounded box")),
    ("ref-without-box", "<|object_ref_start|>the OK button<|object_ref_end|>", Err("no action call and no grounded box")),
    ("three-numbers", "<|box_start|>(1,2,3)<|box_end|>", Err("2 numbers")),
    ("scroll-without-direction", "scroll(<|box_start|>(1,2)<|box_end|>)", Err("direction")),
]


@pytest.mark.parametrize(("reply", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_replies(reply, expected) -> None:
    check_case(P, reply, expected)


def test_thought_is_the_prose_or_the_ref() -> None:
    assert P.parse("the OK button(512,301),(640,355)").thought == "the OK button"
    assert P.parse("I will search.\nclick(<|box_start|>(500,40)<|box_end|>)").thought == "I will search."
    assert P.parse("<|box_start|>(1,2)<|box_end|>").thought is None


def test_tags_win_over_bare_pairs() -> None:
    # With the special tokens present, prose numbers in parentheses are not read as points.
    reply = "Step (1, 2): <|object_ref_start|>OK<|object_ref_end|><|box_start|>(10,20),(30,40)<|box_end|>"
    assert [a.point.x for a in P.parse(reply).actions] == [20.0]


@pytest.mark.parametrize("reply", ["back(qq123)", "home('x')", "recents(1, 2)", "press_back(xyz)"])
def test_system_buttons_with_junk_arguments_are_refused_not_pressed(reply: str) -> None:
    # Back/home on a real phone throws the user's screen away: a call the format does not define is an error.
    from vlagent.actions.errors import ActionParseError
    from vlagent.actions.parsers import Qwen2VLParser

    with pytest.raises(ActionParseError, match="takes no arguments"):
        Qwen2VLParser().parse(reply)


@pytest.mark.parametrize(
    "reply",
    ["click(\ue000\ue100)", "click(<|box_start|>(10,10)<|box_end|>) click(\ue000\ue0ff)",
     "click(<|box_start|>(10,10)<|box_end|>)\nclick(\ue000\ue100)", "\ue000\ue100"],
)
def test_private_use_characters_cannot_forge_a_box(reply: str) -> None:
    # They were the parser's own placeholders: the first raised IndexError, the second reused box 0.
    from vlagent.actions.errors import ActionParseError

    with pytest.raises(ActionParseError) as info:
        P.parse(reply)
    assert info.value.raw == reply


def test_private_use_characters_and_tags_in_a_quoted_text_are_typed_as_written() -> None:
    assert P.parse("type('\ue000\ue100 <|box_start|>')").actions[0].text == "\ue000\ue100 <|box_start|>"
    # Found by the cut property: the stray-tag clean-up used to empty this text ("type() needs the text").
    assert P.parse("type('<|box_end|> and <|object_ref_end|>')").actions[0].text == "<|box_end|> and <|object_ref_end|>"
    [click] = P.parse("click(<|box_start|>(10,20)<|box_end|>) \ue000\ue100").actions
    assert (click.point.x, click.point.y) == (10, 20)
