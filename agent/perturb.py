"""Wrong steps injected into oracle episodes, so that a model learns to recover from its own mistakes.

A model trained on clean oracle episodes only ever sees histories the oracle wrote. Its first mistake at
run time (a cut-off reply the loop answers with a parse error, a click beside the widget, a wrong word
typed) puts it in a state no sample showed, and small models then fall apart: each garbled reply makes
the next prompt stranger. The synthetic sample generator (``perturb=`` of
:func:`~vlagent.agent.training_data.synthetic_samples`) therefore lets some steps go wrong on purpose:
the loop executes (or rejects) a wrong reply written here exactly as it would a model's, and the oracle's
next step, from whatever state that left, becomes a sample with the mistake in its history. The wrong
replies themselves are never samples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from vlagent.actions.coords import Geometry
from vlagent.actions.models import Action, Click, Point, TypeText
from vlagent.agent.policy import Planned
from vlagent.agent.scripted import write_reply

#: The ways a perturbed step goes wrong: the right reply cut off (a parse error or a partial action), a
#: click at a random point of the screen, a click on another widget, and (where the right step types)
#: the text typed with its characters shuffled.
MISTAKES: tuple[str, ...] = ("cut", "point", "widget", "text")


def _shuffled(rng: np.random.Generator, text: str) -> str:
    chars = list(text)
    for _ in range(4):
        rng.shuffle(chars)
        if (shuffled := "".join(chars)) != text:
            return shuffled
    return text + text[:1]  # a text of one repeated character has no other order


def mistakes_for(right: Sequence[Action], widgets: Sequence[Any]) -> list[str]:
    """The :data:`MISTAKES` that make sense when ``right`` is the right step on a screen with ``widgets``."""
    kinds = ["cut", "point"]
    if widgets:
        kinds.append("widget")
    if any(isinstance(a, TypeText) and a.text for a in right):
        kinds.append("text")
    return kinds


def wrong_reply(
    rng: np.random.Generator,
    right: Planned,
    right_text: str,
    *,
    plan: Callable[[Action], Planned],
    widgets: Sequence[Any],
    screen: tuple[int, int],
    parser: Any,
    geometry: Geometry,
    profile: str,
) -> tuple[str, str]:
    """A reply that gets the step wrong, and which of :data:`MISTAKES` it makes.

    ``right`` is what the oracle planned and ``right_text`` its reply as written; ``plan`` gives a wrong
    action the oracle's thought and reply shape (its ``planned``, so a points-only oracle's wrong clicks are
    points too); ``widgets`` are the screen's (each with ``click()``) and ``screen`` its size in pixels.

    Example:
        >>> from vlagent.prompts import get_profile
        >>> from vlagent.actions.coords import Geometry
        >>> g = Geometry.for_image(800, 600)
        >>> p = get_profile("qwen2-vl").make_parser()
        >>> right = Planned((Click(point=Point(x=400, y=300, space="screen")),))
        >>> text = write_reply(p, right, g, "qwen2-vl")
        >>> wrong, kind = wrong_reply(np.random.default_rng(0), right, text, plan=lambda a: Planned((a,)),
        ...                           widgets=[], screen=(800, 600), parser=p, geometry=g, profile="qwen2-vl")
        >>> kind in ("cut", "point") and wrong != text
        True
    """
    kind = str(rng.choice(mistakes_for(right.actions, widgets)))
    if kind == "cut":
        return right_text[: int(rng.integers(1, max(2, len(right_text))))], kind
    if kind == "point":
        w, h = screen
        planned = plan(Click(point=Point(x=int(rng.integers(w)), y=int(rng.integers(h)), space="screen")))
    elif kind == "widget":
        planned = plan(widgets[int(rng.integers(len(widgets)))].click())
    else:
        changed = tuple(a.model_copy(update={"text": _shuffled(rng, a.text)}) if isinstance(a, TypeText) else a
                        for a in right.actions)
        planned = Planned(changed, thought=right.thought)
    return write_reply(parser, planned, geometry, profile), kind
