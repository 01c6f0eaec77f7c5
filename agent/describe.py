"""One-line descriptions of actions, for the model's history, confirmations, annotations and reports.

The wording lives on each action class (``describe``, actions/models.py), next to its fields, so a new
action type brings its own; this module is the one entry point and the typed error for anything else.
"""

from __future__ import annotations

from vlagent.actions.errors import UnsupportedActionError
from vlagent.actions.models import ACTION_TYPES, Action, ActionBase


def describe(action: Action) -> str:
    """A short human-readable line for an action, with its points in the space they are in.

    Example:
        >>> from vlagent.actions.models import Click, Hotkey, Point
        >>> describe(Click(point=Point(x=500, y=250, space="rel1000"), count=2))
        'double click at (500, 250) [rel1000]'
        >>> describe(Hotkey(keys=["ctrl", "c"]))
        'hotkey ctrl+c'
    """
    if not isinstance(action, ActionBase):  # not a vlagent action at all
        raise UnsupportedActionError(str(getattr(action, "type", action)), ACTION_TYPES, detail="no description for it")
    return action.describe()
