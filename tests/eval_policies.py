"""Two "models" for the python backend (``eval_policies:alpha`` and ``eval_policies:beta``), and a Ctrl+C.

Each is the scripted oracle (it replies from the env's ground truth in the profile's format); they differ
only in the spec string that names them, which is what an evaluation's resume key must tell apart.
``CtrlC`` presses Ctrl+C (a real SIGINT to its own process) during one of its calls, as a user would.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence

from vlagent.agent.policy import PolicyStep
from vlagent.agent.scripted import OraclePolicy


def alpha() -> OraclePolicy:
    return OraclePolicy()


def beta() -> OraclePolicy:
    return OraclePolicy()


class CtrlC:
    """The oracle, with Ctrl+C pressed during its ``AT``-th call (one call answers a whole batch of chats)."""

    AT = 7

    def __init__(self) -> None:
        self._oracle = OraclePolicy()
        self.calls = 0

    def decide(self, steps: Sequence[PolicyStep]) -> list[str]:
        self.calls += 1
        if self.calls == self.AT:
            os.kill(os.getpid(), signal.SIGINT)
        return [self._oracle.reply(step) for step in steps]
