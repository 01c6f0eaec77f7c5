"""Qwen2.5-VL's function-call tools (``computer_use``, ``mobile_use``) as the JSON its system prompt lists.

The descriptions and parameter schemas are those of the ``ComputerUse`` and ``MobileUse`` tools in
QwenLM/Qwen2.5-VL ``cookbooks/utils/agent_function_call.py``; qwen_agent's ``NousFnCallPrompt`` writes
each tool as ``{"type": "function", "function": {"name", "description", "parameters"}}`` on one line
(``json.dumps(..., ensure_ascii=False)``), which is what :func:`tool_json` returns. Actions the env does
not perform are left out of the ``action`` enum and its bullet list, and so are parameters no remaining
action uses. ``game_use`` is vlagent's own tool in the same style for envs with named actions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from vlagent.prompts.action_space import (
    MOVE_DIRECTION,
    MOVE_POINT,
    ROBOT_CHOOSE,
    ROBOT_CLICK,
    ROBOT_DRAG,
    ROBOT_HOVER,
    allowed_actions,
    check_types,
)
from vlagent.prompts.request import PromptRequest


@dataclass(frozen=True)
class _ToolAction:
    """One value of a tool's ``action`` enum: its bullet text and the vlagent types it performs."""

    name: str
    doc: str
    types: tuple[str, ...]


@dataclass(frozen=True)
class _ToolParam:
    """One parameter of a tool: its schema and the tool actions that use it."""

    name: str
    schema: dict
    used_by: tuple[str, ...]


_COMPUTER_DESCRIPTION = """Use a mouse and keyboard to interact with a computer, and take screenshots.
* This is an interface to a desktop GUI. You do not have access to a terminal or applications menu. You must click on desktop icons to start applications.
* Some applications may take time to start or process actions, so you may need to wait and take successive screenshots to see the results of your actions. E.g. if you click on Firefox and a window doesn't open, try wait and taking another screenshot.
* The screen's resolution is {width}x{height}.
* Whenever you intend to move the cursor to click on an element like an icon, you should consult a screenshot to determine the coordinates of the element before moving the cursor.
* If you tried clicking on a program or link but it failed to load, even after waiting, try adjusting your cursor position so that the tip of the cursor visually falls on the element that you want to click.
* Make sure to click any buttons, links, icons, etc with the cursor tip in the center of the element. Don't click boxes on their edges unless asked."""

_COMPUTER_ACTIONS = (
    _ToolAction("key", "Performs key down presses on the arguments passed in order, then performs key releases in "
               "reverse order.", ("key", "hotkey")),
    _ToolAction("type", "Type a string of text on the keyboard.", ("type",)),
    # left_click_drag drags from where the cursor is, so mouse_move comes with it.
    _ToolAction("mouse_move", "Move the cursor to a specified (x, y) pixel coordinate on the screen.",
               (MOVE_POINT, "drag")),
    _ToolAction("left_click", "Click the left mouse button.", ("click",)),
    _ToolAction("left_click_drag", "Click and drag the cursor to a specified (x, y) pixel coordinate on the screen.",
               ("drag",)),
    _ToolAction("right_click", "Click the right mouse button.", ("click",)),
    _ToolAction("middle_click", "Click the middle mouse button.", ("click",)),
    _ToolAction("double_click", "Double-click the left mouse button.", ("click",)),
    _ToolAction("scroll", "Performs a scroll of the mouse scroll wheel.", ("scroll",)),
    _ToolAction("wait", "Wait specified seconds for the change to happen.", ("wait",)),
    _ToolAction("terminate", "Terminate the current task and report its completion status.", ("finished", "fail")),
)
_XY = "(x, y): The x (pixels from the left edge) and y (pixels from the top edge) coordinates to move the mouse to."
_COMPUTER_PARAMS = (
    _ToolParam("keys", {"description": "Required only by `action=key`.", "type": "array"}, ("key",)),
    _ToolParam("text", {"description": "Required only by `action=type`.", "type": "string"}, ("type",)),
    _ToolParam("coordinate", {
        "description": f"{_XY} Required only by `action=mouse_move` and `action=left_click_drag`.",
        "type": "array",
    }, ("mouse_move", "left_click_drag", "left_click", "right_click", "middle_click", "double_click")),
    _ToolParam("pixels", {
        "description": "The amount of scrolling to perform. Positive values scroll up, negative values scroll down. "
        "Required only by `action=scroll`.",
        "type": "number",
    }, ("scroll",)),
    _ToolParam("time", {"description": "The seconds to wait. Required only by `action=wait`.", "type": "number"},
              ("wait",)),
    _ToolParam("status", {
        "description": "The status of the task. Required only by `action=terminate`.",
        "type": "string",
        "enum": ["success", "failure"],
    }, ("terminate",)),
)

_MOBILE_DESCRIPTION = """Use a touchscreen to interact with a mobile device, and take screenshots.
* This is an interface to a mobile device with touchscreen. You can perform actions like clicking, typing, swiping, etc.
* Some applications may take time to start or process actions, so you may need to wait and take successive screenshots to see the results of your actions.
* The screen's resolution is {width}x{height}.
* Make sure to click any buttons, links, icons, etc with the cursor tip in the center of the element. Don't click boxes on their edges unless asked."""

_MOBILE_ACTIONS = (
    _ToolAction("key", "Perform a key event on the mobile device.\n    - This supports adb's `keyevent` syntax.\n"
               '    - Examples: "volume_up", "volume_down", "power", "camera", "clear".', ("key", "hotkey")),
    _ToolAction("click", "Click the point on the screen with coordinate (x, y).", ("click",)),
    _ToolAction("long_press", "Press the point on the screen with coordinate (x, y) for specified seconds.",
               ("long_press",)),
    _ToolAction("swipe", "Swipe from the starting point with coordinate (x, y) to the end point with coordinates2 "
               "(x2, y2).", ("drag", "scroll")),
    _ToolAction("type", "Input the specified text into the activated input box.", ("type",)),
    _ToolAction("answer", "Output the answer.", ("finished",)),
    _ToolAction("system_button", "Press the system button.", ("navigate",)),
    _ToolAction("open", "Open an app on the device.", ("open_app",)),
    _ToolAction("wait", "Wait specified seconds for the change to happen.", ("wait",)),
    _ToolAction("terminate", "Terminate the current task and report its completion status.", ("finished", "fail")),
)
_MOBILE_PARAMS = (
    _ToolParam("coordinate", {
        "description": f"{_XY} Required only by `action=click`, `action=long_press`, and `action=swipe`.",
        "type": "array",
    }, ("click", "long_press", "swipe")),
    _ToolParam("coordinate2", {"description": f"{_XY} Required only by `action=swipe`.", "type": "array"},
              ("swipe",)),
    _ToolParam("text", {
        "description": "Required only by `action=key`, `action=type`, `action=answer`, and `action=open`.",
        "type": "string",
    }, ("key", "type", "answer", "open")),
    _ToolParam("time", {
        "description": "The seconds to wait. Required only by `action=long_press` and `action=wait`.",
        "type": "number",
    }, ("long_press", "wait")),
    _ToolParam("button", {
        "description": "Back means returning to the previous interface, Home means returning to the desktop, Menu "
        "means opening the application background menu, and Enter means pressing the enter. Required only by "
        "`action=system_button`",
        "enum": ["Back", "Home", "Menu", "Enter"],
        "type": "string",
    }, ("system_button",)),
    _ToolParam("status", {
        "description": "The status of the task. Required only by `action=terminate`.",
        "type": "string",
        "enum": ["success", "failure"],
    }, ("terminate",)),
)

# vlagent's game tool, written in the cookbook tools' style (no upstream equivalent).
_GAME_DESCRIPTION = """Play the game shown in the screenshots, one action at a time.
* Each call performs one action in the game; you then see the next screenshot.
* The screen's resolution is {width}x{height}."""
_GAME_ACTIONS = (
    _ToolAction("choose", "Perform one of the game's named actions, given in `option`.", ("choose",)),
    _ToolAction("move", "Move one step in `direction`.", (MOVE_DIRECTION,)),
    _ToolAction("mouse_move", "Move the target to a specified (x, y) pixel coordinate on the screen.", (MOVE_POINT,)),
    _ToolAction("terminate", "Terminate the current task and report its completion status.", ("finished", "fail")),
)
_GAME_PARAMS = (
    _ToolParam("option", {"description": "Required only by `action=choose`.", "type": "string"}, ("choose",)),
    _ToolParam("direction", {
        "description": "Required only by `action=move`.",
        "type": "string",
        "enum": ["up", "down", "left", "right"],
    }, ("move",)),
    _ToolParam("coordinate", {"description": f"{_XY} Required only by `action=mouse_move`.", "type": "array"},
              ("mouse_move",)),
    _ToolParam("status", {
        "description": "The status of the task. Required only by `action=terminate`.",
        "type": "string",
        "enum": ["success", "failure"],
    }, ("terminate",)),
)

# vlagent's robot tool: the computer_use tool's own verbs and coordinate parameters (what Qwen2.5-VL was
# trained to write), described as what they make the arm do. Named computer_use so a reply keeps the
# cookbook's habits; the parser reads the verbs whatever the tool name.
_ROBOT_DESCRIPTION = """Control a robot arm over a table by pointing at things in the camera image.
* The image comes from a fixed camera; each call moves the arm, then you see the next image.
* The image's resolution is {width}x{height}; coordinates are pixels of it.
* Point at the centre of the top face of a cube to pick it, at the spot on the table (or on a marker, bin or cube) where it should go to place it."""
_ROBOT_ACTIONS = (
    _ToolAction("left_click_drag", ROBOT_DRAG + " The start is `start_coordinate`, the end `coordinate`.",
               ("drag",)),
    _ToolAction("mouse_move", ROBOT_HOVER, (MOVE_POINT,)),
    _ToolAction("left_click", ROBOT_CLICK, ("click",)),
    _ToolAction("choose", ROBOT_CHOOSE.replace("$options", "the values of `option`") + ".", ("choose",)),
    _ToolAction("terminate", "Terminate the current task and report its completion status.", ("finished", "fail")),
)
_ROBOT_PARAMS = (
    _ToolParam("start_coordinate", {
        "description": "(x, y): where the object to pick is. Required only by `action=left_click_drag`.",
        "type": "array",
    }, ("left_click_drag",)),
    _ToolParam("coordinate", {
        "description": f"{_XY} Required only by `action=left_click_drag`, `action=mouse_move` and "
        "`action=left_click`.",
        "type": "array",
    }, ("left_click_drag", "mouse_move", "left_click")),
    _ToolParam("option", {"description": "Required only by `action=choose`.", "type": "string"}, ("choose",)),
    _ToolParam("status", {
        "description": "The status of the task. Required only by `action=terminate`.",
        "type": "string",
        "enum": ["success", "failure"],
    }, ("terminate",)),
)

_TOOLS = {
    "desktop": ("computer_use", _COMPUTER_DESCRIPTION, _COMPUTER_ACTIONS, _COMPUTER_PARAMS),
    "web": ("computer_use", _COMPUTER_DESCRIPTION, _COMPUTER_ACTIONS, _COMPUTER_PARAMS),
    "mobile": ("mobile_use", _MOBILE_DESCRIPTION, _MOBILE_ACTIONS, _MOBILE_PARAMS),
    "game": ("game_use", _GAME_DESCRIPTION, _GAME_ACTIONS, _GAME_PARAMS),
    "robot": ("computer_use", _ROBOT_DESCRIPTION, _ROBOT_ACTIONS, _ROBOT_PARAMS),
}


def _check_tools() -> None:
    for family, (name, _, actions, _) in _TOOLS.items():
        check_types((t for a in actions for t in a.types), f"the {name} tool ({family})")


_check_tools()


def tool_name(family: str) -> str:
    """The tool a family's prompt offers: ``computer_use`` (desktops, web, robot), ``mobile_use`` or ``game_use``."""
    return _TOOLS[family][0]


def tool_schema(request: PromptRequest, width: int, height: int) -> dict:
    """The tool (``name``, ``description``, ``parameters``) for this request, in the resized image's pixels.

    Example:
        >>> req = PromptRequest(family="desktop", task="t", images=[], supported=frozenset({"click"}))
        >>> schema = tool_schema(req, 1316, 728)
        >>> schema["name"], schema["parameters"]["properties"]["action"]["enum"]
        ('computer_use', ['left_click', 'right_click', 'middle_click', 'double_click', 'terminate'])
    """
    name, description, actions, params = _TOOLS[request.family]
    allowed = allowed_actions(request)
    kept = [a for a in actions if any(t in allowed for t in a.types)]
    names = {a.name for a in kept}
    action_doc = "The action to perform. The available actions are:\n" + "\n".join(
        f"* `{a.name}`: {a.doc}" for a in kept
    )
    properties: dict[str, dict] = {
        "action": {"description": action_doc, "enum": [a.name for a in kept], "type": "string"},
    }
    for p in params:
        if names & set(p.used_by):
            properties[p.name] = dict(p.schema)
    if "option" in properties:
        properties["option"]["enum"] = list(request.options)
    return {
        "name": name,
        "description": description.format(width=width, height=height),
        "parameters": {"properties": properties, "required": ["action"], "type": "object"},
    }


def tool_json(request: PromptRequest, width: int, height: int) -> str:
    """The tool as one line in ``<tools>``, exactly as ``NousFnCallPrompt`` writes it."""
    return json.dumps({"type": "function", "function": tool_schema(request, width, height)}, ensure_ascii=False)
