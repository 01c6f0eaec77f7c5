"""Typed actions, coordinate spaces and their conversion, and the parsers for GUI-model output formats."""

from vlagent.actions.coords import (
    Box,
    Geometry,
    Point,
    Space,
    resized_size,
    smart_resize,
    to_logical,
    to_screen,
)
from vlagent.actions.errors import (
    ActionError,
    ActionParseError,
    AgentError,
    CoordinateError,
    EnvError,
    ImageSizeError,
    ModelError,
    PluginError,
    ProfileError,
    UnsupportedActionError,
    VlagentError,
)
from vlagent.actions.models import (
    ACTION_TYPES,
    Action,
    ActionAdapter,
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
    ParsedReply,
    Scroll,
    TypeText,
    Wait,
    convert_action,
    normalize_key,
)

__all__ = [
    "ACTION_TYPES", "Action", "ActionAdapter", "ActionError", "ActionParseError", "AgentError", "Box",
    "CallUser", "Choose", "Click", "CoordinateError", "Drag", "EnvError", "Fail", "Finished", "Geometry",
    "Hotkey", "ImageSizeError", "Key", "LongPress", "ModelError", "Move", "Navigate", "OpenApp", "ParsedReply", "PluginError", "Point",
    "ProfileError", "Scroll", "Space", "TypeText", "UnsupportedActionError", "VlagentError", "Wait",
    "convert_action", "normalize_key", "resized_size", "smart_resize", "to_logical", "to_screen",
]
