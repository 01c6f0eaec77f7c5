"""The loop detector: the same action again and again while the screen does not change.

A model stuck on a screen tends to repeat itself; :class:`RepeatDetector` counts how many times in a row
the same actions ran with the screen unchanged, and the loop ends the episode (outcome ``loop``) when the
count reaches the agent's ``repeat_limit``. A changed screen, or a step whose actions did not run, resets
nothing by itself: only executed steps are observed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from vlagent.actions.models import Action


def action_key(actions: Sequence[Action]) -> str:
    """The identity of a step's actions for the detector: their JSON, keys sorted.

    Example:
        >>> from vlagent.actions.models import Wait
        >>> action_key([Wait()]) == action_key([Wait()])
        True
    """
    return json.dumps([a.model_dump(mode="json") for a in actions], sort_keys=True)


@dataclass
class RepeatDetector:
    """Counts the same actions executed in a row with the screen unchanged.

    Example:
        >>> d = RepeatDetector()
        >>> [d.observe("click", unchanged=True) for _ in range(3)], d.observe("click", unchanged=False)
        ([1, 2, 3], 0)
    """

    last: str | None = None
    count: int = 0

    def observe(self, key: str, *, unchanged: bool) -> int:
        """Record one executed step (its :func:`action_key`); returns the count so far."""
        self.count = (self.count + 1 if key == self.last else 1) if unchanged else 0
        self.last = key
        return self.count
