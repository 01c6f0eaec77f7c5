"""Profiles and chat building: every profile x env family, history, error feedback, budgets, the registry."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest
from PIL import Image

from vlagent.actions.coords import Geometry, Point, from_screen, resized_size
from vlagent.actions.errors import ProfileError
from vlagent.actions.models import Click, convert_action
from vlagent.model.chat import Chat, ImagePart, TextPart
from vlagent.prompts import PROFILES, HistoryEntry, ModelProfile, PromptRequest, get_profile
from vlagent.prompts.errors import PromptRequestError, TemplateError
from vlagent.prompts.profiles import BUILTIN_PROFILES
from vlagent.prompts.templates import available_templates, load_template, render

NAMES = ["qwen2-vl", "qwen2.5-vl", "ui-tars", "ui-tars-1.5", "showui", "json"]
FAMILIES = ["desktop", "web", "mobile", "game"]
TASK = "Open the settings and turn on Wi-Fi"
OPTIONS = ("LEFT", "DOWN", "RIGHT", "UP")


def screen(color: str, size: tuple[int, int] = (320, 240)) -> Image.Image:
    return Image.new("RGB", size, color)


def request(family: str = "desktop", *, k: int = 1, history: list[HistoryEntry] | None = None,
            **kw) -> PromptRequest:
    history = history if history is not None else []
    colors = ["red", "green", "blue", "yellow", "white"]
    images = [screen(colors[i]) for i in range(k)]
    if family == "game":
        kw.setdefault("options", OPTIONS)
    return PromptRequest(family=family, task=TASK, images=images, history=history, **kw)


def entries(n: int, *, error_last: str | None = None) -> list[HistoryEntry]:
    out = [
        HistoryEntry(reply=f"REPLY-{i}", thought=f"thought {i}", action_summary=f"ACTION-{i}")
        for i in range(1, n + 1)
    ]
    if error_last is not None and out:
        last = out[-1]
        out[-1] = HistoryEntry(reply=last.reply, thought=last.thought, action_summary=last.action_summary,
                               error=error_last)
    return out


def all_text(chat: Chat) -> str:
    return "\n".join(m.text for m in chat.messages)


def image_positions(chat: Chat) -> list[tuple[int, int]]:
    """(message index, part index) of every image, in chat order."""
    return [(i, j) for i, m in enumerate(chat.messages) for j, p in enumerate(m.content) if isinstance(p, ImagePart)]


# --- registry ---------------------------------------------------------------------------------------


def test_the_shipped_profiles_are_the_documented_ones():
    # README's profile table is what users type after --profile and which space they expect replies in.
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("\n## Profiles\n", 1)[1].split("\n## ", 1)[0]
    documented = dict(re.findall(r"^\| `([^`]+)` \|.*\| `(rel1000|resized|rel1|screen)` \|$", table, flags=re.M))
    assert documented == {name: p.space for name, p in BUILTIN_PROFILES.items()}
    assert sorted(documented) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [(1920, 1080), (1080, 2400)])
def test_a_click_in_the_profile_format_lands_where_it_was_aimed(name, size):
    # The profile's parser must read points in the profile's space and its budget must be the one the model
    # saw: a click written the way that model writes it has to come back to the aimed pixel.
    profile = get_profile(name)
    geometry = Geometry.for_image(*size, min_pixels=profile.min_pixels, max_pixels=profile.max_pixels)
    parser = profile.make_parser()
    for aim in [(3, 5), (size[0] // 3, size[1] - 7), (size[0] - 2, size[1] // 2)]:
        point = from_screen(Point(x=aim[0], y=aim[1], space="screen"), geometry, profile.space)
        (click,) = parser.parse(parser.format([Click(point=point)])).actions
        assert click.point.space == profile.space
        landed = convert_action(click, geometry).point
        # rel1000 resolves a thousandth of a side (about 2 px on a 2400 px phone); resized and rel1 do better.
        tol = 0 if profile.space != "rel1000" else max(size) / 1000
        assert abs(landed.x - aim[0]) <= tol and abs(landed.y - aim[1]) <= tol, (name, aim, landed)


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(ProfileError) as err:
        get_profile("qwen3-vl")
    for name in NAMES:
        assert name in str(err.value)


def test_make_parser_reports_a_missing_parser_as_profile_error():
    broken = ModelProfile(name="broken", space="rel1000", min_pixels=1, max_pixels=2,
                          parser_cls="vlagent.actions.parsers.nope.Nope", templates={}, syntax="json")
    with pytest.raises(ProfileError, match="cannot load parser"):
        broken.make_parser()


def test_profiles_are_immutable():
    profile = get_profile("ui-tars")
    with pytest.raises(TypeError):
        profile.parser_kwargs["space"] = "rel1"  # type: ignore[index]
    assert get_profile("ui-tars").make_parser().space == "rel1000"


# --- templates --------------------------------------------------------------------------------------


def test_every_named_template_ships_as_a_package_resource():
    named = {n for p in PROFILES.values() for pair in p.templates.values() for n in pair if n}
    shipped = set(available_templates())
    assert named <= shipped
    folder = resources.files("vlagent.prompts").joinpath("templates")
    for name in named:
        raw = folder.joinpath(name).read_text(encoding="utf-8")
        assert raw.startswith("#:"), f"{name} should say where its wording came from"
        text = load_template(name)
        assert not text.startswith("#:") and text in raw


def test_template_errors_are_typed():
    with pytest.raises(TemplateError):
        load_template("no_such_template.txt")
    with pytest.raises(TemplateError):
        load_template("../profiles.py")
    with pytest.raises(TemplateError, match="instruction"):
        render("qwen25vl_user.txt", {"history": ""})


# --- structure: every profile x family ----------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("name", NAMES)
def test_chat_structure(name, family):
    profile = get_profile(name)
    req = request(family)
    chat = profile.build_chat(req)
    roles = [m.role for m in chat.messages]
    system_template = profile.templates[family][0]
    assert roles[0] == ("system" if system_template else "user")
    assert "system" not in roles[1:]
    assert roles[-1] == "user"
    assert TASK in all_text(chat)
    # The current screen is the last thing the model sees, in the last turn.
    assert chat.images == req.images
    assert image_positions(chat)[-1][0] == len(chat.messages) - 1
    # Every placeholder was filled; maintainers' comments never reach the model.
    assert not re.search(r"\$[A-Za-z_{]", all_text(chat))
    assert "#:" not in all_text(chat)
    assert chat.metadata["profile"] == name
    if family == "game":
        for option in OPTIONS:
            assert option in all_text(chat)


@pytest.mark.parametrize("name", NAMES)
def test_images_carry_the_profile_budget_unless_overridden(name):
    profile = get_profile(name)
    chat = profile.build_chat(request(k=2, history=entries(1)))
    parts = [p for m in chat.messages for p in m.content if isinstance(p, ImagePart)]
    assert [(p.min_pixels, p.max_pixels) for p in parts] == [(profile.min_pixels, profile.max_pixels)] * 2
    chat = profile.build_chat(request(), min_pixels=256 * 28 * 28, max_pixels=512 * 28 * 28)
    part = next(p for m in chat.messages for p in m.content if isinstance(p, ImagePart))
    assert (part.min_pixels, part.max_pixels) == (256 * 28 * 28, 512 * 28 * 28)


def test_bad_budget_override_is_refused():
    with pytest.raises(PromptRequestError):
        get_profile("json").build_chat(request(), min_pixels=1000, max_pixels=10)


# --- history and k screenshots --------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("name", NAMES)
def test_k_screenshots_oldest_first_current_last(name, k):
    req = request("mobile", k=k, history=entries(4))
    chat = get_profile(name).build_chat(req)
    assert chat.images == req.images  # same objects, same order: oldest first, current last


@pytest.mark.parametrize("name", ["ui-tars", "ui-tars-1.5"])
def test_uitars_replays_replies_interleaved_with_their_screenshots(name):
    # 4 earlier steps, 3 screenshots: steps 3 and 4 still have theirs, steps 1 and 2 are text only.
    req = request("desktop", k=3, history=entries(4))
    chat = get_profile(name).build_chat(req)
    msgs = chat.messages
    assert [m.role for m in msgs] == [
        "system", "user",           # default system prompt, the instruction prompt
        "assistant", "assistant",   # steps 1-2: replies only
        "user", "assistant",        # step 3: its screenshot, then its reply
        "user", "assistant",        # step 4
        "user",                     # the current screen
    ]
    assert [m.text for m in msgs if m.role == "assistant"] == ["REPLY-1", "REPLY-2", "REPLY-3", "REPLY-4"]
    assert msgs[4].images == [req.images[0]] and msgs[6].images == [req.images[1]]
    assert msgs[8].images == [req.images[2]]
    assert TASK in msgs[1].text and not msgs[1].images


@pytest.mark.parametrize("name", ["qwen2-vl", "qwen2.5-vl", "showui", "json"])
def test_text_history_lists_every_step_in_order(name):
    req = request("web", k=2, history=entries(3))
    chat = get_profile(name).build_chat(req)
    assert [m.role for m in chat.messages if m.role != "system"] == ["user"]
    text = all_text(chat)
    positions = [text.index(f"Step {i}:") for i in (1, 2, 3)]
    assert positions == sorted(positions)
    for i in (1, 2, 3):
        assert f"REPLY-{i}" in text or f"ACTION-{i}" in text
    # The earlier screenshot is labelled with its step, the current one comes last.
    labels = [p.text for p in chat.messages[-1].content if isinstance(p, TextPart)]
    assert "Screenshot at step 3:" in labels and "Current screenshot (step 4):" in labels


def test_json_history_shows_thought_and_action():
    chat = get_profile("json").build_chat(request("game", history=entries(2)))
    assert "Step 1: thought 1 / ACTION-1" in all_text(chat)
    assert "Step 2: thought 2 / ACTION-2" in all_text(chat)


def test_qwen25_task_progress_lists_tool_calls_as_the_cookbook_does():
    call = '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [10, 20]}}\n</tool_call>'
    hist = [HistoryEntry(reply=call, action_summary="click")]
    text = all_text(get_profile("qwen2.5-vl").build_chat(request("mobile", history=hist)))
    assert ("Task progress (You have done the following operation on the current device): "
            'Step 1: {"name": "mobile_use", "arguments": {"action": "click", "coordinate": [10, 20]}}; ') in text
    assert "<tool_call>" not in text.split("The user query:")[1]


@pytest.mark.parametrize("name", NAMES)
def test_first_step_has_no_history_section(name):
    text = all_text(get_profile(name).build_chat(request("desktop")))
    assert "Step 1" not in text and "could not be executed" not in text


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("name", NAMES)
def test_error_is_fed_back_with_the_expected_format(name, family):
    profile = get_profile(name)
    error = "no action found; expected click(...); got 'I think I should click'"
    chat = profile.build_chat(request(family, k=2, history=entries(2, error_last=error)))
    feedback = f"Your previous reply could not be executed: {error}"
    holders = [i for i, m in enumerate(chat.messages) if feedback in m.text]
    assert len(holders) == 1
    msg = chat.messages[holders[0]]
    assert msg.role == "user"
    assert f"Reply again in the format: {profile.reply_format}" in msg.text
    if profile.history_style == "replay":
        # Right after the reply that failed, before the current screen.
        assert chat.messages[holders[0] - 1].text == "REPLY-2"
        assert chat.messages[-1].images and holders[0] < len(chat.messages) - 1
    else:
        assert holders[0] == len(chat.messages) - 1


@pytest.mark.parametrize("name", NAMES)
def test_an_older_error_stays_in_the_history(name):
    hist = entries(2)
    hist[0] = HistoryEntry(reply="REPLY-1", action_summary="ACTION-1", error="point off screen")
    text = all_text(get_profile(name).build_chat(request("desktop", history=hist)))
    assert "point off screen" in text


def test_env_text_is_added_when_it_says_something_new():
    profile = get_profile("json")
    text = all_text(profile.build_chat(request("game", env_text="get to the green goal square")))
    assert "get to the green goal square" in text
    same = all_text(profile.build_chat(request("web", env_text=TASK)))
    assert same.count(TASK) == 1


# --- action space filter --------------------------------------------------------------------------------

# (profile, text that shows click is offered, text that shows type is offered, text that shows scroll is)
VERBS = {
    "qwen2-vl": ("click(<|box_start|>", "type('text')", "scroll("),
    "qwen2.5-vl": ('"left_click"', '`type`', '`scroll`'),
    "ui-tars": ("click(start_box=", "type(content=", "scroll(start_box="),
    "ui-tars-1.5": ("click(point=", "type(content=", "scroll(point="),
    "showui": ("`CLICK`", "`INPUT`", "`SCROLL`"),
    "json": ('"action": "click"', '"action": "type"', '"action": "scroll"'),
}


@pytest.mark.parametrize("name", NAMES)
def test_only_supported_actions_are_offered(name):
    profile = get_profile(name)
    click, type_, scroll = VERBS[name]
    only_click = all_text(profile.build_chat(request("web", supported=frozenset({"click"}))))
    assert click in only_click and type_ not in only_click and scroll not in only_click
    both = all_text(profile.build_chat(request("web", supported=frozenset({"click", "type"}))))
    assert click in both and type_ in both and scroll not in both
    default = all_text(profile.build_chat(request("web")))
    assert click in default and type_ in default and scroll in default


@pytest.mark.parametrize("name", NAMES)
def test_game_offers_directions_only_when_move_is_supported(name):
    profile = get_profile(name)
    without = all_text(profile.build_chat(request("game", supported=frozenset({"choose"}))))
    with_move = all_text(profile.build_chat(request("game", supported=frozenset({"choose", "move"}))))
    assert "right" not in without.replace("RIGHT", "")
    assert "up" in with_move and "down" in with_move.replace("DOWN", "")


def test_mobile_prompts_offer_phone_actions():
    uitars = all_text(get_profile("ui-tars-1.5").build_chat(request("mobile")))
    assert "press_home()" in uitars and "open_app(app_name='')" in uitars and "long_press(point=" in uitars
    showui = all_text(get_profile("showui").build_chat(request("mobile")))
    assert "`TAP`" in showui and "`SWIPE`" in showui and "`CLICK`" not in showui
    assert "navigate the phone screen" in showui


# --- Qwen2.5-VL tool schema -------------------------------------------------------------------------------


def _tool(chat: Chat) -> dict:
    system = chat.messages[0].text
    body = system.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0]
    return json.loads(body)


@pytest.mark.parametrize(("family", "tool"), [("desktop", "computer_use"), ("web", "computer_use"),
                                              ("mobile", "mobile_use"), ("game", "game_use")])
def test_qwen25_tool_is_valid_json_with_the_resized_resolution(family, tool):
    profile = get_profile("qwen2.5-vl")
    img = screen("white", (1920, 1080))
    req = PromptRequest(family=family, task=TASK, images=[img], options=OPTIONS if family == "game" else ())
    spec = _tool(profile.build_chat(req))
    assert spec["type"] == "function" and spec["function"]["name"] == tool
    w, h = resized_size(1920, 1080, min_pixels=profile.min_pixels, max_pixels=profile.max_pixels)
    assert f"The screen's resolution is {w}x{h}." in spec["function"]["description"]
    # A smaller budget changes what the model sees, and so the resolution it is told.
    small = _tool(profile.build_chat(req, max_pixels=1280 * 28 * 28))
    assert "The screen's resolution is 1316x728." in small["function"]["description"]
    enum = spec["function"]["parameters"]["properties"]["action"]["enum"]
    assert "terminate" in enum


def test_qwen25_tool_drops_unsupported_actions_and_their_parameters():
    req = request("desktop", supported=frozenset({"click"}))
    props = _tool(get_profile("qwen2.5-vl").build_chat(req))["function"]["parameters"]["properties"]
    assert props["action"]["enum"] == ["left_click", "right_click", "middle_click", "double_click", "terminate"]
    assert set(props) == {"action", "coordinate", "status"}


# --- bad requests -----------------------------------------------------------------------------------------


def test_request_without_screenshot_is_refused():
    with pytest.raises(PromptRequestError, match="screenshot"):
        get_profile("ui-tars").build_chat(PromptRequest(family="desktop", task=TASK, images=[]))


def test_more_screenshots_than_steps_is_refused():
    with pytest.raises(PromptRequestError):
        get_profile("json").build_chat(request("desktop", k=3, history=entries(1)))


def test_unknown_family_is_a_profile_error():
    req = PromptRequest(family="car", task=TASK, images=[screen("red")])  # type: ignore[arg-type]
    with pytest.raises(ProfileError, match="car"):
        get_profile("showui").build_chat(req)
