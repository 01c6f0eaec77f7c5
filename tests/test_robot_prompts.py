"""The robot family's prompts: every profile explains the arm in its own pointing convention, offers only
what the arm performs, and the action lines it shows parse back into the actions they describe."""

from __future__ import annotations

import pytest
from agent_fixtures import PROFILES, chat_text
from PIL import Image

from vlagent.actions.coords import Geometry, Point
from vlagent.actions.models import Choose, Click, Drag, Move
from vlagent.agent.scripted import to_model_space
from vlagent.envs.robot.arm import OPTIONS
from vlagent.envs.robot.env import RobotEnv
from vlagent.prompts import PromptRequest, get_profile
from vlagent.prompts.action_space import ROBOT_CLICK, ROBOT_DRAG, ROBOT_HOVER

SUPPORTED = RobotEnv.supported_actions
#: How each profile writes a point in its prompt (its own convention), and a GUI-only call it must not offer.
CONVENTION = {
    "qwen2-vl": "<|box_start|>(x,y)<|box_end|>",
    "qwen2.5-vl": '"coordinate"',
    "ui-tars": "start_box='<|box_start|>(x1,y1)<|box_end|>'",
    "ui-tars-1.5": "<point>x1 y1</point>",
    "showui": "[x,y]",
    "json": '"point": [x, y]',
}
GUI_ONLY = ("type(", "hotkey", "scroll", "press_home", "INPUT", '"action": "type"', '"key"', "left_double")


def request(task: str = "put the red cube on the green marker") -> PromptRequest:
    return PromptRequest(family="robot", task=task, images=[Image.new("RGB", (640, 480))], options=OPTIONS,
                         supported=SUPPORTED)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_has_a_robot_prompt_in_its_own_convention(profile: str) -> None:
    p = get_profile(profile)
    assert p.supports("robot")
    text = chat_text(p.build_chat(request()))
    assert "put the red cube on the green marker" in text
    for meaning in (ROBOT_DRAG, ROBOT_HOVER, ROBOT_CLICK):
        assert meaning in text, meaning
    assert all(option in text for option in OPTIONS)
    assert CONVENTION[profile] in text
    assert not [call for call in GUI_ONLY if call in text]
    assert "GUI agent" not in text and "desktop" not in text


@pytest.mark.parametrize("profile", PROFILES)
def test_replies_in_the_profile_format_parse_to_the_arm_actions(profile: str) -> None:
    parser = get_profile(profile).make_parser()
    g = Geometry.for_image(640, 480)
    a, b = Point(x=320, y=240, space="screen"), Point(x=100, y=400, space="screen")
    for action in (Drag(start=a, end=b), Move(point=a), Click(point=b), Choose(option="close_gripper")):
        reply = parser.format([to_model_space(action, g, parser.space)], thought="Pick the cube.")
        parsed = parser.parse(reply).actions
        assert [x.type for x in parsed] == [action.type], reply
        if action.type == "choose":
            assert parsed[0].option == "close_gripper"
