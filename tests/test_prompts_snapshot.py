"""Every built-in profile's chat text, frozen: a refactor of the renderers must not change one character.

``tests/prompts_snapshot.json`` was written by this module (``python tests/test_prompts_snapshot.py``)
from the code before the renderers moved into the profiles.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from vlagent.model.chat import ImagePart, TextPart
from vlagent.prompts.profiles import BUILTIN_PROFILES
from vlagent.prompts.request import HistoryEntry, PromptRequest

FIXTURE = Path(__file__).with_name("prompts_snapshot.json")

_HISTORY = [
    HistoryEntry(reply="Thought: open it\nAction: click(start_box='(10,20)')", thought="open it",
                 action_summary="click(10, 20)"),
    HistoryEntry(reply='<tool_call>\n{"name": "x", "arguments": {}}\n</tool_call>', thought=None,
                 action_summary="call_user()", user_reply="the password is 1234"),
    HistoryEntry(reply="garbage", error="could not parse 'garbage'"),
]


def _requests(family: str) -> dict[str, PromptRequest]:
    shot = Image.new("RGB", (640, 480))
    options = ("left", "right", "forward") if family == "game" else ()
    supported = frozenset({"choose"}) if family == "game" else frozenset()
    return {
        "plain": PromptRequest(family=family, task="do the thing", images=[shot], env_text="extra text",
                               options=options, supported=supported),
        "history": PromptRequest(family=family, task="do the thing", images=[shot, shot], options=options,
                                 history=list(_HISTORY)),
    }


def _text(chat) -> list[list[str]]:
    def part(p) -> str:
        if isinstance(p, TextPart):
            return p.text
        if isinstance(p, ImagePart):
            return f"<image {p.image.size} {p.min_pixels} {p.max_pixels}>"
        return f"<{type(p).__name__}>"

    return [[m.role, *map(part, m.content)] for m in chat.messages]


def render_all() -> dict[str, list[list[str]]]:
    out = {}
    for name, profile in sorted(BUILTIN_PROFILES.items()):
        for family in profile.families:
            for label, request in _requests(family).items():
                out[f"{name}/{family}/{label}"] = _text(profile.build_chat(request))
    return out


_EXPECTED: dict[str, list[list[str]]] = json.loads(FIXTURE.read_text()) if FIXTURE.exists() else {}


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[list[str]]]:
    return render_all()


@pytest.mark.parametrize("key", sorted(_EXPECTED))
def test_chat_text_unchanged(key: str, rendered) -> None:
    assert rendered[key] == _EXPECTED[key]


def test_same_cases(rendered) -> None:
    assert sorted(rendered) == sorted(_EXPECTED)


if __name__ == "__main__":
    FIXTURE.write_text(json.dumps(render_all(), indent=1, ensure_ascii=False) + "\n")


def test_a_profile_renders_with_its_own_renderers_whatever_its_syntax() -> None:
    from dataclasses import replace

    from vlagent.prompts.renderers import SHOWUI_RENDERERS

    profile = replace(BUILTIN_PROFILES["json"], name="json-showui", renderers=SHOWUI_RENDERERS)
    request = _requests("desktop")["history"]
    system, user = _text(profile.build_chat(request))
    text = system[1] + user[1]
    assert "a desktop computer" not in text and "computer" in text and "1. `CLICK`" in text
    assert "Step 1: Thought: open it" in text  # ShowUI's history: the reply itself
