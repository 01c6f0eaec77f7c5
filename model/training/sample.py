"""One training sample: the chat a profile builds for a step, and the reply the model should write.

The chat is exactly what the loop would send at inference (profile template, history, screenshots with
their pixel budget), so what the model learns is what it will be asked. Producers live in
:mod:`vlagent.agent.training_data` (trajectory folders, synthetic ground truth); this module knows no env.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from vlagent.model.chat import Chat, ImagePart, Message


@dataclass(frozen=True)
class TrainingSample:
    """A prompt chat and its target reply; ``source`` says where it came from (for reports and errors).

    Example:
        >>> s = TrainingSample(Chat.simple("Click OK."), "click(<|box_start|>(500,500)<|box_end|>)", "demo")
        >>> s.chat.messages[-1].role, s.source
        ('user', 'demo')
    """

    chat: Chat
    reply: str
    source: str = ""
    #: The labelled widgets of the last screenshot, ``(x1, y1, x2, y2, label)`` in 0-1000 thousandths of it,
    #: topmost last; where the synthetic apps' ground truth knows them (the label supervision of
    #: :mod:`vlagent.model.training.pointer_aux`), else empty.
    layout: tuple[tuple[float, float, float, float, str], ...] = ()


def widget_layout(widgets: Iterable[Any], width: int, height: int) -> tuple[tuple[float, float, float, float, str], ...]:
    """Labelled, enabled widgets (``.box`` in screen pixels, ``.label``) as a sample's ``layout`` in thousandths.

    Example:
        >>> from types import SimpleNamespace as W
        >>> box = W(x1=0, y1=0, x2=50, y2=20)
        >>> widget_layout([W(box=box, label="OK", enabled=True), W(box=box, label="", enabled=True)], 100, 40)
        ((0.0, 0.0, 500.0, 500.0, 'OK'),)
    """
    out = []
    for w in widgets:
        label = str(getattr(w, "label", "") or "").strip()
        if not label or not getattr(w, "enabled", True):
            continue
        b = w.box
        out.append((b.x1 / width * 1000, b.y1 / height * 1000, b.x2 / width * 1000, b.y2 / height * 1000, label))
    return tuple(out)


def at_model_size(sample: TrainingSample) -> TrainingSample:
    """The sample with each screenshot already resized to what the image processor makes of it.

    A 1080x2400 phone screenshot is 7.8 MB of pixels; at a nano model's budget the processor keeps about
    0.5 MB of it. Resizing ahead, with the processor's own size rule and filter, leaves nothing for the
    processor to resize (Pillow returns a copy at the same size), so the model's input is bit for bit the
    same while a training set of thousands of screens fits in memory. Parts without their own pixel budget
    are kept as they are (the checkpoint's default decides their size).

    Example:
        >>> from PIL import Image
        >>> s = TrainingSample(Chat([Message("user", [ImagePart(Image.new("RGB", (1080, 2400)), 3136, 160000)])]), "x")
        >>> at_model_size(s).chat.messages[0].content[0].image.size
        (252, 588)
    """
    from PIL import Image

    from vlagent.actions.coords import resized_size

    messages = []
    for message in sample.chat.messages:
        parts = []
        for part in message.content:
            if isinstance(part, ImagePart) and part.min_pixels and part.max_pixels:
                rgb = part.image if part.image.mode == "RGB" else part.image.convert("RGB")
                size = resized_size(*rgb.size, min_pixels=part.min_pixels, max_pixels=part.max_pixels)
                part = ImagePart(rgb.resize(size, resample=Image.Resampling.BICUBIC), part.min_pixels, part.max_pixels)
            parts.append(part)
        messages.append(Message(message.role, parts))
    return TrainingSample(Chat(messages, metadata=dict(sample.chat.metadata)), sample.reply, sample.source,
                          sample.layout)
