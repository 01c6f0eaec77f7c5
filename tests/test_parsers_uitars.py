"""UI-TARS v1 and 1.5 replies, most taken from public sources, broken ones included.

Sources: bytedance/UI-TARS (README_deploy.md expected output, codes/tests/action_parser_test.py),
bytedance/UI-TARS-desktop's action-parser tests (Action_Summary, inline "Action:", square brackets,
"\\n" submit, mobile), and agents built on UI-TARS (OSWorld-style scripted replies).
"""

from __future__ import annotations

import pytest
from parsers_fixtures import Err, check_case

from vlagent.actions.parsers import UITarsParser

V1 = UITarsParser(space="rel1000")
V15 = UITarsParser(space="resized")

THOUGHT_CHROME = (
    "The task is to open Chrome, but the current screen shows a GitHub repository page in a different browser. "
    "To proceed, I need to close this window and open Chrome. Click on the 'X' button in the top-right corner "
    "of the current window to close it."
)

# (id, reply, expected actions) for UI-TARS v1 (space rel1000).
V1_CASES = [
    ("readme-deploy-chinese",
     "Thought: 我看到Preferences窗口已经打开了，但这里显示的都是系统资源相关的设置。要设置图片的颜色模式，我得先看看左侧的选项列表。"
     "嗯，\"Color Management\"这个选项看起来很有希望，应该就是处理颜色管理的地方。让我点击它看看里面有什么选项。\n"
     "Action: click(start_box='(177,549)')",
     ["click 177,549"]),
    ("box-tokens", "Thought: test\nAction: click(start_box='<|box_start|>(112,224)<|box_end|>')", ["click 112,224"]),
    ("point-syntax-in-v1", "Thought: test\nAction: click(point='<point>200 300</point>')", ["click 200,300"]),
    ("action-summary",
     "Action_Summary: 左键单击窗口右上角的最小化按钮（图标为横线），将当前窗口最小化到任务栏。\nAction: click(start_box='(948,57)')",
     ["click 948,57"]),
    ("inline-action-marker", f"Thought: {THOUGHT_CHROME} Action: click(start_box='(962,108)')", ["click 962,108"]),
    ("square-brackets", "Action_Summary: 最小化窗口。\nAction: click(start_box='[948,57]')", ["click 948,57"]),
    ("type-submit",
     "Thought: 我已经点击了地址栏，现在需要输入网址doubao.com。地址栏已经被激活，可以直接输入网址。\n"
     "Action: type(content='doubao.com\\n')",
     ["type 'doubao.com' submit"]),
    ("mobile-search-bar", "Thought: Click on the search bar at the top of the screen\nAction: click(start_box='(395,74)')",
     ["click 395,74"]),
    ("call-inside-thought-is-not-an-action",
     "Thought: swipe(start_box='(693,685)', end_box='(724,300)')\n\nAction: scroll(direction='left')",
     ["scroll left"]),
    ("two-corner-box", "Thought: Click link\nAction: click(start_box='(50,100),(150,120)')",
     ["click 100,110 box=50,100,150,120"]),
    ("type-plain", "Thought: Type query\nAction: type(content='python')", ["type 'python'"]),
    ("scroll-no-point", "Thought: Scroll down\nAction: scroll(direction='down')", ["scroll down"]),
    ("degenerate-box-is-point", "Thought: 点输入框\nAction: click(start_box='[500, 875, 500, 875]')", ["click 500,875"]),
    ("finished-content", "Thought: 完成\nAction: finished(content='typed')", ["finished 'typed'"]),
    ("unquoted-list", "Thought: Click the menu first.\nAction: click(start_box=[100,50])", ["click 100,50"]),
    ("hotkey-copy", "Thought: Copy text.\nAction: hotkey(key='ctrl c')", ["hotkey ctrl+c"]),
    ("hotkey-select-all-korean", "Thought: 기존 수량 전체 선택\nAction: hotkey(key='ctrl a')", ["hotkey ctrl+a"]),
    ("hotkey-one-key-is-key", "Thought: submit\nAction: hotkey(key='enter')", ["key enter"]),
    ("press-key", "Thought: Press key.\nAction: press(key='enter')", ["key enter"]),
    ("drag-box-tokens-no-space",
     "Thought: Drag.\nAction: drag(start_box='<|box_start|>(100,200)<|box_end|>',end_box='<|box_start|>(300,400)<|box_end|>')",
     ["drag 100,200 -> 300,400"]),
    ("scroll-box-tokens",
     "Thought: Scroll.\nAction: scroll(start_box='<|box_start|>(500,600)<|box_end|>', direction='up')",
     ["scroll up at 500,600"]),
    ("v1-mobile-scroll-with-end-box-is-swipe",
     "Thought: 向上滑动\nAction: scroll(start_box='<|box_start|>(500,800)<|box_end|>', end_box='<|box_start|>(500,200)<|box_end|>')",
     ["drag 500,800 -> 500,200"]),
    ("long-press-time", "Action: long_press(start_box='<|box_start|>(480,520)<|box_end|>', time='2')",
     ["long_press 480,520 2s"]),
    ("unicode-text", "Thought: 点击保存按钮 ✓\nAction: type(content='日本語 ✓')", ["type '日本語 ✓'"]),
    ("escaped-quotes", "Action: type(content='It\\'s \"fine\"')", ["type 'It\\'s \"fine\"'"]),
    ("unescaped-apostrophe", "Action: type(content='don't stop')", ["type \"don't stop\""]),
    ("newline-only-is-enter", "Action: type(content='\\n')", ["key enter"]),
    ("reflection-format",
     "Reflection: The previous click missed the button.\nAction_Summary: Click the OK button.\n"
     "Action: click(start_box='(500,500)')",
     ["click 500,500"]),
    ("wait-5s", "Thought: The page is loading.\nAction: wait()", ["wait 5s"]),
    ("wait-im-end", "Action: wait()<|im_end|>", ["wait 5s"]),
    ("call-user", "Thought: I need the password.\nAction: call_user()", ["call_user 'the model asks for help'"]),
    ("finished-empty", "Thought: Done.\nAction: finished()", ["finished"]),
    ("right-single", "Action: right_single(start_box='(10,20)')", ["click 10,20 right"]),
    ("left-double", "Action: left_double(start_box='(10,20)')", ["click 10,20 x2"]),
    # Broken the way models break it.
    ("two-actions-missing-paren", "Action: wait()\n\nclick(start_box='(1,2)'", ["wait 5s", "click 1,2"]),
    ("two-action-lines", "Action: click(start_box='(1,2)')\nAction: type(content='hi')", ["click 1,2", "type 'hi'"]),
    # Cut off inside the quote: "(235,512)" may be the first corner of "(235,512),(300,540)".
    ("missing-closing-quote-and-paren", "Action: click(start_box='(235,512)", Err("cut off")),
    ("floats", "Thought: ok\nAction: click(start_box='(512.7,301.2)')", ["click 512.7,301.2"]),
    ("code-fence", "```\nThought: ok\nAction: click(start_box='(1,2)')\n```", ["click 1,2"]),
    ("no-action-marker", "I will click the search box. click(start_box='(300,40)')", ["click 300,40"]),
    ("bold-markdown-marker", "**Thought:** open it\n**Action:** click(start_box='(7,8)')", ["click 7,8"]),
    ("no-coordinates", "Thought: click it\nAction: click()", Err("needs a point")),
    ("unreadable-coordinates", "Action: click(start_box='(abc,def)')", Err("no readable numbers")),
    ("three-numbers", "Action: click(start_box='(1,2,3)')", Err("2 numbers")),
    ("overflowing-number", "Action: click(start_box='(" + "9" * 400 + ",1)')", Err("must be finite")),
    ("bad-direction", "Action: scroll(start_box='(1,2)', direction='sideways')", Err("direction")),
    ("unknown-verb", "Action: clïck(start_box='(1,2)')", Err("unknown action")),
    ("unknown-verb-2", "Thought: x\nAction: teleport(start_box='(1,2)')", Err("unknown action 'teleport'")),
    ("prose-only", "I cannot help with that.", Err("no action call")),
    ("empty", "", Err("no action call")),
    ("unknown-key", "Action: hotkey(key='ctrl banana')", Err("unknown key name")),
    ("empty-type", "Action: type(content='')", Err("needs content")),
    ("one-bad-action-fails-the-reply", "Action: click(start_box='(1,2)')\n\nclick()", Err("needs a point")),
]

# UI-TARS-1.5: <point>x y</point> in pixels of the resized image (space resized).
V15_CASES = [
    ("action-parser-test", "Thought: Click the button\nAction: click(point='<point>200 300</point>')", ["click 200,300"]),
    ("left-double", "Thought: open the file\nAction: left_double(point='<point>640 360</point>')", ["click 640,360 x2"]),
    ("long-press", "Thought: 长按图标\nAction: long_press(point='<point>540 1200</point>')", ["long_press 540,1200 1s"]),
    ("open-app", "Thought: Open settings.\nAction: open_app(app_name='Settings')", ["open_app 'Settings'"]),
    ("press-home", "Thought: go home\nAction: press_home()", ["navigate home"]),
    ("press-back", "Thought: go back\nAction: press_back()", ["navigate back"]),
    ("finished-answer", "Thought: found it\nAction: finished(content='The price is $5')", ["finished 'The price is $5'"]),
    ("drag-points", "Action: drag(start_point='<point>100 200</point>', end_point='<point>300 400</point>')",
     ["drag 100,200 -> 300,400"]),
    ("scroll-point", "Thought: see more\nAction: scroll(point='<point>700 500</point>', direction='down')",
     ["scroll down at 700,500"]),
    ("bbox", "Action: click(start_box='<bbox>100 100 200 200</bbox>')", ["click 150,150 box=100,100,200,200"]),
    ("v1-syntax-in-1.5", "Action: click(start_box='(1240,783)')", ["click 1240,783"]),
    ("multi", "Action: click(point='<point>10 20</point>')\n\ntype(content='hello\\n')",
     ["click 10,20", "type 'hello' submit"]),
    ("think-tags", "<think>The login button is at the bottom.</think>\nAction: click(point='<point>500 900</point>')",
     ["click 500,900"]),
    ("point-missing-number", "Action: click(point='<point>500</point>')", Err("2 numbers")),
]


@pytest.mark.parametrize(("reply", "expected"), [c[1:] for c in V1_CASES], ids=[c[0] for c in V1_CASES])
def test_v1_replies(reply, expected) -> None:
    check_case(V1, reply, expected)


@pytest.mark.parametrize(("reply", "expected"), [c[1:] for c in V15_CASES], ids=[c[0] for c in V15_CASES])
def test_v15_replies(reply, expected) -> None:
    check_case(V15, reply, expected)


@pytest.mark.parametrize(
    ("reply", "thought"),
    [
        ("Thought: Click the button\nAction: click(point='<point>200 300</point>')", "Click the button"),
        (f"Thought: {THOUGHT_CHROME} Action: click(start_box='(962,108)')", THOUGHT_CHROME),
        ("Reflection: missed.\nAction_Summary: Click the OK button.\nAction: click(start_box='(5,5)')",
         "Click the OK button."),
        ("Thought: line one\nline two\nAction: wait()", "line one\nline two"),
        ("Action: wait()", None),
        ("<think>reasoning here</think>Action: wait()", "reasoning here"),
    ],
)
def test_thought_is_kept(reply, thought) -> None:
    assert V1.parse(reply).thought == thought


def test_space_is_the_profiles() -> None:
    reply = "Action: click(start_box='(500,500)')"
    assert V1.parse(reply).actions[0].point.space == "rel1000"
    assert V15.parse(reply).actions[0].point.space == "resized"


def test_error_tells_the_model_the_format() -> None:
    with pytest.raises(Exception) as info:
        V1.parse("I think I should click the button")
    assert "Thought:" in info.value.expected and "click(" in info.value.expected


def test_writer_uses_each_versions_syntax() -> None:
    from vlagent.actions import Click, Drag, Point

    a = Click(point=Point(x=235, y=512, space="rel1000"))
    assert V1.format([a]) == "Action: click(start_box='<|box_start|>(235,512)<|box_end|>')"
    b = Drag(start=Point(x=1, y=2, space="resized"), end=Point(x=3, y=4, space="resized"))
    assert V15.format([b], "drag it") == (
        "Thought: drag it\nAction: drag(start_point='<point>1 2</point>', end_point='<point>3 4</point>')"
    )


@pytest.mark.parametrize("reply", ["Action: press_back(xyz)", "Action: press_home(start_box='(1,2)')"])
def test_system_buttons_with_junk_arguments_are_refused_not_pressed(reply: str) -> None:
    from vlagent.actions.errors import ActionParseError
    from vlagent.actions.parsers import UITarsParser

    with pytest.raises(ActionParseError, match="takes no arguments"):
        UITarsParser(space="resized").parse(reply)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        # UI-TARS v1's web action space: type(content, start_box) clicks the box, then types.
        ("Thought: fill the name\nAction: type(content='Ada', start_box='<|box_start|>(300,420)<|box_end|>')",
         ["click 300,420", "type 'Ada'"]),
        ("Action: type(start_box='(10,20)', content='hello\\n')", ["click 10,20", "type 'hello' submit"]),
        ("Action: type(content='\\n', start_box='(10,20)')", ["click 10,20", "key enter"]),
        # select(start_box) opens a dropdown: a click on the box; with an end box it still selects a span.
        ("Thought: open the country list\nAction: select(start_box='<|box_start|>(512,640)<|box_end|>')",
         ["click 512,640"]),
        ("Action: select(start_box='(1,2)', end_box='(30,2)')", ["drag 1,2 -> 30,2"]),
    ],
)
def test_v1_web_type_into_a_box_and_select(reply: str, expected) -> None:
    check_case(V1, reply, expected)
