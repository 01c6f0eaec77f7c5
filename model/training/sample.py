"""One training sample: the chat a profile builds for a step, and the reply the model should write.

The chat is exactly what the loop would send at inference (profile template, history, screenshots with
their pixel budget), so what the model learns is what it will be asked. Producers live in
:mod:`vlagent.agent.training_data` (trajectory folders, synthetic ground truth); this module knows no env.
"""

from __future__ import annotations

from dataclasses import dataclass

from vlagent.model.chat import Chat


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
