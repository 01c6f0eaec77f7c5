"""A backend for the video loop tests: the tiny Qwen2-VL reads every chat, the scripted oracle replies.

The tiny model's random replies never parse, so a game driven by it never steps and no second frame ever
exists. This backend runs the real :class:`TransformersBackend` on each chat (the video is preprocessed,
encoded and generated on, and what it was sent is kept in ``SEEN``), then hands the loop the scripted
oracle's reply so the episode moves on. Loaded with ``--backend python --model video_fixtures:tiny_then_oracle``
and ``VLAGENT_TINY_MODEL`` naming the tiny checkpoint's folder.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from vlagent.agent.policy import PolicyStep
from vlagent.agent.scripted import OraclePolicy
from vlagent.model.chat import Generation, GenerationOptions

#: Per call of the tiny model: the frame count of each video it got and the grids it reported.
SEEN: list[dict[str, Any]] = []


class TinyThenOracle:
    """Generate with the tiny model (for real), reply with the oracle (so the game advances)."""

    def __init__(self) -> None:
        from vlagent.model.transformers_backend import TransformersBackend

        self.model = TransformersBackend(os.environ["VLAGENT_TINY_MODEL"], device="cpu")
        self.oracle = OraclePolicy()

    def decide(self, steps: Sequence[PolicyStep]) -> list[Generation]:
        chats = [step.prompt for step in steps]
        gens = self.model.generate(chats, GenerationOptions(max_new_tokens=2))
        out = []
        for step, chat, gen in zip(steps, chats, gens, strict=True):
            SEEN.append({"frames": [len(v.frames) for v in chat.videos], "grids": gen.extra["video_grids"],
                         "visual_tokens": gen.visual_tokens})
            out.append(Generation(text=self.oracle.reply(step), visual_tokens=gen.visual_tokens,
                                  prompt_tokens=gen.prompt_tokens, new_tokens=gen.new_tokens))
        return out


def tiny_then_oracle() -> TinyThenOracle:
    """Factory for ``--backend python --model video_fixtures:tiny_then_oracle``."""
    return TinyThenOracle()
