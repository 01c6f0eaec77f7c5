"""The first stages of the nano model's curriculum: screens of buttons to point at, before whole apps.

A model trained from scratch learns to name absolute coordinates slowly, and the synthetic apps' screens
are busy. So the curriculum starts simpler (see the issue's measurements: 2-4% click accuracy after
2,000 steps straight on the apps):

- ``target``: one large button, anywhere on an empty page, "Click the Save button".
- ``distractors``: three to seven smaller buttons with different labels; the task names one.

Then the apps' own grounding and multi-step samples (:func:`vlagent.agent.training_data.synthetic_samples`).
Screens are drawn with the synthetic apps' painter and button widget, so they look like the apps, and each
sample's chat is built by the profile exactly as the loop builds a first step's prompt.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from vlagent.actions.coords import Geometry
from vlagent.agent.scripted import OraclePolicy, write_reply
from vlagent.envs.synthetic.app import DESKTOP_ACTIONS, MOBILE_ACTIONS
from vlagent.envs.synthetic.screen import Painter, ScreenSpec
from vlagent.envs.synthetic.widgets import PAGE, Widget, button
from vlagent.model.chat import Chat
from vlagent.model.training.sample import TrainingSample
from vlagent.prompts import ModelProfile, PromptRequest

CanvasKind = Literal["target", "distractors"]

#: Button labels: what the apps' buttons say, and other common ones.
LABELS = (
    "Save", "Cancel", "OK", "Delete", "Open", "Close", "Next", "Back", "Send", "Search", "Sign in", "Submit",
    "Apply", "Reset", "Share", "Edit", "Copy", "Paste", "Print", "Help", "Settings", "Done", "Start", "Stop",
    "Play", "Pause", "Upload", "Download", "Refresh", "Continue", "Skip", "Retry", "Accept", "Decline",
    "Replace", "Restart now", "Later", "Keep both", "Discard", "Select", "Confirm", "Add", "Remove", "Export",
)
_KINDS = ("primary", "secondary", "danger")


def draw_canvas(rng: np.random.Generator, size: Any, kind: CanvasKind) -> tuple[Any, list[Widget], ScreenSpec]:
    """One screen of buttons (``target``: one large; ``distractors``: 3-7 smaller, no label twice)."""
    screen = ScreenSpec.resolve(size)
    p = Painter(screen, PAGE)
    w, h = screen.size
    count = 1 if kind == "target" else int(rng.integers(3, 8))
    labels = [LABELS[i] for i in rng.permutation(len(LABELS))[:count]]
    widgets: list[Widget] = []
    placed: list[tuple[int, int, int, int]] = []
    for i, label in enumerate(labels):
        for _ in range(50):  # rejection-sample a spot that overlaps nothing placed so far
            if kind == "target":
                bw, bh = int(rng.integers(w // 4, w // 2)), int(rng.integers(h // 6, h // 3))
            else:
                bw, bh = int(rng.integers(w // 8, w // 4)), int(rng.integers(h // 14, h // 7))
            x1, y1 = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
            box = (x1, y1, x1 + bw, y1 + bh)
            if all(box[2] <= b[0] or b[2] <= box[0] or box[3] <= b[1] or b[3] <= box[1] for b in placed):
                break
        else:
            continue
        placed.append(box)
        size_px = max(8, min(bh // 2, 28, int((bw - 12) / (0.7 * len(label)))))  # the label fits, unclipped
        style = _KINDS[int(rng.integers(len(_KINDS)))]
        widgets.append(button(p, box, label, name=f"button:{i}", kind=style, text_size=size_px / screen.density))
    return p.image, widgets, screen


def canvas_samples(
    profile: ModelProfile,
    kind: CanvasKind,
    count: int,
    *,
    seed: int,
    size: Any,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    policy: OraclePolicy | None = None,
) -> list[TrainingSample]:
    """``count`` screens of ``kind``, one sample each: the prompt names a button, the reply clicks its box."""
    lo = profile.min_pixels if min_pixels is None else min_pixels
    hi = profile.max_pixels if max_pixels is None else max_pixels
    policy = policy or OraclePolicy()
    parser = profile.make_parser()
    out = []
    for k in range(count):
        rng = np.random.default_rng([seed, k, 0 if kind == "target" else 1])
        image, widgets, screen = draw_canvas(rng, size, kind)
        target = widgets[int(rng.integers(len(widgets)))]
        supported = MOBILE_ACTIONS if screen.family == "mobile" else DESKTOP_ACTIONS
        request = PromptRequest(family=screen.family, task=f"Click the {target.label} button", images=[image],
                                supported=supported)
        chat = profile.build_chat(request, min_pixels=lo, max_pixels=hi)
        geometry = Geometry.for_image(*image.size, min_pixels=lo, max_pixels=hi, scale=screen.scale)
        reply = write_reply(parser, policy.planned(target.click()), geometry, profile.name)
        out.append(TrainingSample(Chat(list(chat.messages)), reply, f"{kind} {size} seed {seed} #{k}"))
    return out


def tokenizer_corpus(samples: list[TrainingSample]) -> list[str]:
    """Every text the samples hold (prompt parts and replies) plus the button labels: a nano vocabulary's corpus.

    Example:
        >>> from vlagent.model.chat import Chat
        >>> tokenizer_corpus([TrainingSample(Chat.simple("Click OK"), "click()")])[:2]
        ['Click OK', 'click()']
    """
    texts: list[str] = []
    for s in samples:
        texts.extend(p.text for m in s.chat.messages for p in m.content if hasattr(p, "text"))
        texts.append(s.reply)
    return texts + [f"Click the {label} button" for label in LABELS]
