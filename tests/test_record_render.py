"""Recorded steps re-expressed in a profile's reply format: what the trainer learns from a demonstration.

The steps are written by the recorder's own writer and read back from disk; each rendered reply must
parse, with that profile's parser, into the recorded action at the recorded pixels.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PIL import Image

from vlagent.actions.coords import Geometry, Point
from vlagent.actions.models import (
    ActionListAdapter,
    Click,
    Drag,
    Hotkey,
    Key,
    Scroll,
    TypeText,
    convert_action,
)
from vlagent.agent.gestures import Gesture
from vlagent.agent.record import DemonstrationWriter, open_demonstration, recorded_actions, render_reply
from vlagent.agent.trajectory import load_episode
from vlagent.prompts import get_profile

SIZE = (1280, 800)


def P(x: float, y: float) -> Point:
    return Point(x=x, y=y, space="screen")


RECORDED = [
    Click(point=P(101, 77)),
    Click(point=P(640, 400), count=2),
    Click(point=P(1200, 750), button="right"),
    Drag(start=P(300, 200), end=P(900, 650), duration=0.73),
    Scroll(point=P(640, 400), direction="down", amount=3),
    TypeText(text="Hi, Tk!", submit=True),
    Hotkey(keys=["ctrl", "a"]),
    Key(name="esc"),
]


@pytest.fixture(scope="module")
def demonstration(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clock = time.monotonic
    writer: DemonstrationWriter = open_demonstration(tmp_path_factory.mktemp("demos"), task="t", env="desktop",
                                               family="desktop", size=SIZE, clock=clock)
    screen = Image.new("RGB", SIZE, (240, 240, 240))
    for action in RECORDED:
        now = clock()
        writer.write(Gesture(action, now, now), screen, shot_at=now)
    writer.close(screen, stopped_by="the test", at=clock())
    return writer.recorder.path


def test_the_reply_is_recorded_in_a_neutral_form(demonstration: Path) -> None:
    meta, steps = load_episode(demonstration)
    assert meta.profile == "" and meta.model == "human"
    for step, action in zip(steps, RECORDED, strict=False):
        assert ActionListAdapter.validate_python(json.loads(step.raw)["actions"]) == [action]


def meaning(action) -> dict:
    """What an action does apart from where and how long: a one-key hotkey presses that key."""
    data = action.model_dump(exclude={"point", "start", "end", "box", "duration", "amount"})
    if data["type"] == "hotkey" and len(data["keys"]) == 1:
        return {"type": "key", "name": data["keys"][0]}
    return data


@pytest.mark.parametrize("profile", ["ui-tars", "qwen2.5-vl"])  # rel1000 and resized-pixel spaces
def test_recorded_steps_render_in_a_profiles_format_and_parse_back(demonstration: Path, profile: str) -> None:
    meta, steps = load_episode(demonstration)
    size = (meta.geometry["width"], meta.geometry["height"])
    chosen = get_profile(profile)
    parser = chosen.make_parser()
    geometry = (Geometry.for_image(*size, min_pixels=chosen.min_pixels, max_pixels=chosen.max_pixels)
                if parser.space == "resized" else Geometry(width=size[0], height=size[1], resized_width=size[0],
                                                           resized_height=size[1]))
    for step in steps:
        (recorded,) = recorded_actions(step)
        reply = render_reply(step, profile, size)
        (parsed,) = parser.parse(reply).actions
        back = convert_action(parsed, geometry)
        for name, point in recorded.points().items():
            again = back.points()[name]
            # One unit of the profile's space is at most ~1.8 screen pixels here (1280 / 728 resized).
            assert abs(again.x - point.x) <= 2 and abs(again.y - point.y) <= 2, (reply, recorded)
        assert meaning(back) == meaning(recorded), (reply, recorded)
    assert "ui-tars" != profile or "left_double(start_box=" in render_reply(steps[1], profile, size)
