"""Every action type has its own one-line description; anything else is a typed error, not "call user"."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from vlagent.actions import ACTION_TYPES, ActionAdapter, UnsupportedActionError
from vlagent.agent.describe import describe

P = {"x": 1, "y": 2, "space": "screen"}
MINIMAL = {
    "click": {"point": P}, "long_press": {"point": P}, "drag": {"start": P, "end": P},
    "scroll": {"direction": "down"}, "type": {"text": "hi"}, "key": {"name": "enter"},
    "hotkey": {"keys": ["ctrl", "c"]}, "move": {"point": P}, "choose": {"option": "LEFT"},
    "navigate": {"to": "back"}, "open_app": {"name": "Maps"}, "wait": {}, "finished": {}, "fail": {},
    "call_user": {"question": "Which account?"},
}
FIRST_WORD = {"long_press": "long", "open_app": "open", "call_user": "call", "finished": "finished"}


@pytest.mark.parametrize("kind", ACTION_TYPES)
def test_each_type_is_described_as_itself(kind: str) -> None:
    action = ActionAdapter.validate_python({"type": kind, **MINIMAL[kind]})
    text = describe(action)
    assert text.split()[0].rstrip(":") == FIRST_WORD.get(kind, kind)


def test_an_unknown_type_is_an_unsupported_action() -> None:
    with pytest.raises(UnsupportedActionError, match="'teleport' is not supported"):
        describe(SimpleNamespace(type="teleport"))  # type: ignore[arg-type]
