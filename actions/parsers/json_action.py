"""vlagent's generic JSON replies: ``{"thought": "...", "action": "LEFT"}`` for envs with named actions.

No checkpoint was trained on this format; any instruction-following model can write it. What is read:

- ``"action": "<name>"``: one of the env's named discrete actions -> :class:`Choose` (the env matches
  the name case-insensitively). The names ``finished``, ``fail`` and ``call_user`` (any case) are the
  loop's own and become those actions; an env option with one of these names is written
  ``{"action": "choose", "option": "..."}``.
- ``"action": "<type>"`` with the type's fields beside it, e.g.
  ``{"action": "click", "point": [500, 300]}``, ``{"action": "move", "direction": "left"}``,
  ``{"action": "type", "text": "hi", "submit": true}``: any vlagent action type with its field names.
  A point is ``[x, y]``, ``{"x": .., "y": ..}`` or top-level ``"x"``/``"y"``; ``"coordinate"`` is an alias
  of ``"point"``; a click may carry ``"box": [x1, y1, x2, y2]``. Points are in the parser's space
  (``rel1000`` for the ``json`` profile).
- ``"action": {"type": "click", ...}``: the same, nested.
- ``"actions": [...]``: several of the above, in order; several JSON objects in one reply likewise.

The thought is ``"thought"`` (or ``"reasoning"``), else the prose before the first object. Unknown fields
and unknown types are errors, not ignored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import ValidationError

from vlagent.actions.coords import Box, Point, Space
from vlagent.actions.errors import UnsupportedActionError
from vlagent.actions.models import (
    ACTION_CLASSES,
    ACTION_TYPES,
    Action,
    ActionAdapter,
    Choose,
)
from vlagent.actions.parsers._common import BadReply, at_most, check_space, cut_off, point_or_box, to_number
from vlagent.actions.parsers._json import json_objects, loads_lenient
from vlagent.actions.parsers.base import ReplyParser

#: Bare names that are the loop's own actions, not env options.
LOOP_NAMES = frozenset({"finished", "fail", "call_user"})
_POINT_FIELDS = ("point", "start", "end")
_THOUGHT_KEYS = ("thought", "reasoning", "Thought")


class JSONActionParser(ReplyParser):
    """Reads ``{"thought": ..., "action": ...}`` replies: named env actions, or typed vlagent actions.

    Example:
        >>> r = JSONActionParser().parse('{"thought": "the goal is left", "action": "LEFT"}')
        >>> r.thought, r.actions[0]
        ('the goal is left', Choose(type='choose', option='LEFT'))
        >>> JSONActionParser().parse('{"action": "click", "point": [500, 300]}').actions[0].point
        Point(x=500.0, y=300.0, space='rel1000')
    """

    expected: ClassVar[str] = (
        '{"thought": "...", "action": "<one of the listed actions>"} (or "action": "click", "point": [x, y] '
        "and the like for pointer actions), one JSON object"
    )

    def __init__(self, space: Space = "rel1000") -> None:
        self.space: Space = space

    # -- reading -------------------------------------------------------------------------------------

    def _read(self, text: str, think: str | None) -> tuple[list[Action], str | None]:
        """The actions of every JSON object; a ``thought`` key, else the prose before the first object, is the thought."""
        first: str | None = None
        thought: str | None = None
        actions: list[Action] = []
        for obj in at_most(json_objects(text), "JSON objects"):
            first = obj.text if first is None else first
            if not obj.closed:
                raise cut_off("inside a JSON object (its keys may go on)")
            value = loads_lenient(obj.text)
            if not isinstance(value, dict):
                raise BadReply(f"expected a JSON object, got {type(value).__name__}")
            for key in _THOUGHT_KEYS:
                if isinstance(value.get(key), str) and value[key].strip():
                    thought = thought or value[key]
            actions.extend(self._from_object(value))
        if first is None:
            raise BadReply("no JSON object found")
        if thought is None:
            thought = text[: text.find(first)].strip() or think
        return actions, thought

    def _from_object(self, obj: dict[str, Any]) -> list[Action]:
        body = {k: v for k, v in obj.items() if k not in _THOUGHT_KEYS}
        if "actions" in body:
            items = body.pop("actions")
            if body:
                raise BadReply(f"unexpected keys beside 'actions': {sorted(body)}")
            if not isinstance(items, list) or not items:
                raise BadReply("'actions' must be a non-empty list")
            out: list[Action] = []
            for item in at_most(items):
                out.extend(self._from_object(item if isinstance(item, dict) else {"action": item}))
            return out
        if "action" not in body:
            if "type" in body:  # a bare typed action object
                return [self._typed(body)]
            raise BadReply("the JSON object needs an 'action' key")
        action = body.pop("action")
        if isinstance(action, dict):
            if body:
                raise BadReply(f"unexpected keys beside a nested action: {sorted(body)}")
            return [self._typed(action)]
        if not isinstance(action, str) or not action.strip():
            raise BadReply(f"'action' must be a name or an object, got {action!r}")
        name = action.strip()
        if body or name.lower() in LOOP_NAMES:
            if name.lower() not in ACTION_TYPES:
                raise BadReply(f"unknown action type {name!r} with fields {sorted(body)}")
            return [self._typed({"type": name.lower(), **body})]
        return [Choose(option=name)]

    def _pt(self, value: Any, what: str) -> Point:
        if isinstance(value, dict) and set(value) <= {"x", "y", "space"} and {"x", "y"} <= set(value):
            value = [value["x"], value["y"]]
        if not isinstance(value, list | tuple):
            raise BadReply(f"{what} must be [x, y], got {value!r}")
        point, _ = point_or_box(list(value), self.space, what)
        return point

    def _typed(self, fields: dict[str, Any]) -> Action:
        fields = dict(fields)
        kind = str(fields.get("type", "")).strip().lower()
        if kind not in ACTION_TYPES:
            raise BadReply(f"unknown action type {fields.get('type')!r}")
        fields["type"] = kind
        if "coordinate" in fields and "point" not in fields:
            fields["point"] = fields.pop("coordinate")
        if "x" in fields and "y" in fields and "point" not in fields:
            fields["point"] = [fields.pop("x"), fields.pop("y")]
        for key in _POINT_FIELDS:
            if fields.get(key) is not None:
                fields[key] = self._pt(fields[key], f"{kind} {key}")
        if fields.get("box") is not None:
            box = fields["box"]
            if not isinstance(box, list | tuple) or len(box) != 4:
                raise BadReply(f"box must be [x1, y1, x2, y2], got {box!r}")
            x1, y1, x2, y2 = (to_number(v, "box") for v in box)
            fields["box"] = Box(x1=x1, y1=y1, x2=x2, y2=y2, space=self.space)
        try:
            return ActionAdapter.validate_python(fields)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err.get("loc", ())[1:])
            raise BadReply(f"invalid {kind}{f' {loc}' if loc else ''}: {err.get('msg', '')}") from None

    # -- writing -------------------------------------------------------------------------------------

    def format(self, actions: Sequence[Action], thought: str | None = None) -> str:
        """One JSON object: ``{"thought", "action"}`` for one action, ``{"thought", "actions"}`` for more.

        Example:
            >>> JSONActionParser().format([Choose(option="LEFT")], "go left")
            '{"thought": "go left", "action": "LEFT"}'
        """
        if not actions:
            raise ValueError("format() needs at least one action")
        items = [self._write(a) for a in actions]
        out: dict[str, Any] = {"thought": thought.strip()} if thought and thought.strip() else {}
        if len(items) == 1:
            item = items[0]
            out.update(item if isinstance(item, dict) else {"action": item})
        else:
            out["actions"] = items
        return json.dumps(out, ensure_ascii=False)

    def _write(self, a: Action) -> str | dict[str, Any]:
        if isinstance(a, Choose):
            if a.option.lower() in LOOP_NAMES:
                return {"action": "choose", "option": a.option}
            return a.option
        if not isinstance(a, ACTION_CLASSES):
            raise UnsupportedActionError(getattr(a, "type", "?"), ACTION_TYPES)
        data = a.model_dump(exclude_none=True)
        out: dict[str, Any] = {"action": data.pop("type")}
        for key, value in data.items():
            p = getattr(a, key)
            if isinstance(p, Point):
                check_space(self.space, p)
                value = [_num(p.x), _num(p.y)]
            elif isinstance(p, Box):
                check_space(self.space, p.center)
                value = [_num(v) for v in (p.x1, p.y1, p.x2, p.y2)]
            out[key] = value
        return out


def _num(v: float) -> int | float:
    return int(v) if float(v).is_integer() and abs(v) < 1e15 else v


