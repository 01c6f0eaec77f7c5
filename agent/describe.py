"""One-line descriptions of actions, for the model's history, confirmations, annotations and reports."""

from __future__ import annotations

from vlagent.actions.coords import Point
from vlagent.actions.errors import UnsupportedActionError
from vlagent.actions.models import ACTION_TYPES, Action


def _pt(p: Point | None) -> str:
    if p is None:
        return ""
    suffix = "" if p.space == "screen" else f" [{p.space}]"
    return f"({p.x:g}, {p.y:g}){suffix}"


def describe(action: Action) -> str:
    """A short human-readable line for an action, with its points in the space they are in.

    Example:
        >>> from vlagent.actions.models import Click, Hotkey
        >>> describe(Click(point=Point(x=500, y=250, space="rel1000"), count=2))
        'double click at (500, 250) [rel1000]'
        >>> describe(Hotkey(keys=["ctrl", "c"]))
        'hotkey ctrl+c'
    """
    t = action.type
    if t == "click":
        kind = {1: "click", 2: "double click", 3: "triple click"}[action.count]
        button = "" if action.button == "left" else f"{action.button} "
        return f"{button}{kind} at {_pt(action.point)}"
    if t == "long_press":
        return f"long press at {_pt(action.point)} for {action.duration:g}s"
    if t == "drag":
        return f"drag from {_pt(action.start)} to {_pt(action.end)}"
    if t == "scroll":
        where = f" at {_pt(action.point)}" if action.point is not None else ""
        return f"scroll {action.direction} by {action.amount}{where}"
    if t == "type":
        return f"type {action.text!r}" + (" and submit" if action.submit else "")
    if t == "key":
        return f"key {action.name}"
    if t == "hotkey":
        return "hotkey " + "+".join(action.keys)
    if t == "move":
        return f"move to {_pt(action.point)}" if action.point is not None else f"move {action.direction}"
    if t == "choose":
        return f"choose {action.option}"
    if t == "navigate":
        return f"navigate {action.to}"
    if t == "open_app":
        return f"open app {action.name!r}"
    if t == "wait":
        return f"wait {action.seconds:g}s"
    if t == "finished":
        return "finished" + (f": {action.answer}" if action.answer else "")
    if t == "fail":
        return f"fail: {action.reason}"
    if t == "call_user":
        return f"call user: {action.question}"
    raise UnsupportedActionError(str(t), ACTION_TYPES, detail="no description for it")
