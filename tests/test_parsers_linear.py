"""Every parser reads a long reply in time proportional to its length (issue 8, catastrophic backtracking).

A reply of 64 KB of newlines before a UI-TARS call took 105 s, ``"the OK button(" + "9"*8000`` 5 s, and
1 MB of unescaped apostrophes 31 s: a loop stalls on one reply. The shapes below are those, and their
relatives in every shared helper; each must parse (or be refused) in well under a second per 64 KB
once linear, so the bound here is generous. ``bench/bench_parsers.py`` prints the time per KB, for
real replies of 1 MB too.
"""

from __future__ import annotations

import time

import pytest
from parsers_fixtures import pathological
from test_parsers_properties import PROFILES

from vlagent.actions import ActionParseError

SIZE = 64 * 1024
#: Seconds one 64 KB reply may take: ~100x what a linear parser needs, ~1/30 of what a quadratic one took.
BOUND = 3.0


def _timed_parse(parser, text: str) -> float:
    start = time.perf_counter()
    try:
        parser.parse(text)
    except ActionParseError:
        pass
    return time.perf_counter() - start


@pytest.mark.timeout(120)
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_pathological_replies_complete_in_seconds(profile: str) -> None:
    parser = PROFILES[profile].make_parser()
    slow = {}
    for name, make in pathological(profile).items():
        took = _timed_parse(parser, make(SIZE))
        if took > BOUND:
            slow[name] = round(took, 1)
    assert not slow, f"{profile}: seconds per 64 KB reply {slow}"


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_a_reply_of_more_actions_than_a_turn_holds_is_refused(profile: str) -> None:
    # A model repeating itself to the token limit: refused early (and cheaply), not built into thousands.
    from vlagent.actions.models import Key
    from vlagent.actions.parsers._common import MAX_ACTIONS

    parser = PROFILES[profile].make_parser()
    action = Key(name="enter")
    assert len(parser.parse(parser.format([action] * MAX_ACTIONS)).actions) == MAX_ACTIONS
    with pytest.raises(ActionParseError, match=f"more than {MAX_ACTIONS}"):
        parser.parse(parser.format([action] * (MAX_ACTIONS + 1)))
