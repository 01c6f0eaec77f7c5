"""Scripted policies for the safety tests, importable as Python backends (``--model safety_fixtures:NAME``).

They reply in a real profile's format and go through the real parser, converter, env and recorder; only
the "model" is a script. ``SlowOracle`` is the scripted oracle that takes its time (a slow model, for the
time limit); ``ClickWaitClick`` clicks the Tk app's OK, waits, then clicks Cancel, in one UI-TARS reply
(for the stop hotkey: the hotkey is pressed during the wait).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from vlagent.agent.policy import PolicyStep
from vlagent.agent.scripted import OraclePolicy
from vlagent.model.chat import Chat

#: Seconds SlowOracle spends on every batch of chats.
SLOW_SECONDS = 0.4
#: Seconds ClickWaitClick waits between its two clicks.
WAIT_SECONDS = 2.5
# desktop_tk_app.py places OK at relx 0.10-0.22, rely 0.10-0.18 and Cancel at relx 0.30-0.42: centres in rel1000.
CLICK_WAIT_CLICK = (
    "Thought: Press OK, give it a moment, then press Cancel.\n"
    "Action: click(start_box='(160,140)')\n\n"
    f"wait(duration='{WAIT_SECONDS}')\n\n"
    "click(start_box='(360,140)')"
)


class SlowOracle:
    """The scripted oracle, ``SLOW_SECONDS`` per call."""

    def __init__(self) -> None:
        self.oracle = OraclePolicy()

    def decide(self, steps: Sequence[PolicyStep]) -> list[str]:
        time.sleep(SLOW_SECONDS)
        return [self.oracle.reply(step) for step in steps]


class ClickWaitClick:
    """First reply: click OK, wait, click Cancel (UI-TARS); every later one: finished()."""

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, chats: Sequence[Chat], **options: Any) -> list[str]:
        self.calls += 1
        return [CLICK_WAIT_CLICK if self.calls == 1 else "Action: finished()" for _ in chats]
