"""Properties every parser keeps, checked with hypothesis over generated and damaged replies.

- Round trip: ``parse(format(actions, thought))`` gives the actions (and the thought) back, for every
  action a format can express, so scripted policies can write replies in any profile's format.
- Robustness: arbitrary text and randomly damaged real replies only ever raise ``ActionParseError``.
- Safety: whatever parses, every point either lands inside the image after ``to_screen`` or raises
  ``CoordinateError``; nothing lands outside.
"""

from __future__ import annotations

import pytest
import test_parsers_json
import test_parsers_qwen2vl
import test_parsers_showui
import test_parsers_tool_call
import test_parsers_uitars
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parsers_fixtures import PARSERS, SCREENS, action_strategy, expected_roundtrip, geometry, inside, thoughts

from vlagent.actions import ActionParseError, CoordinateError, convert_action, to_screen
from vlagent.actions.models import ActionListAdapter
from vlagent.prompts import get_profile

PROFILES = {name: get_profile(name) for name in ("qwen2-vl", "qwen2.5-vl", "ui-tars", "ui-tars-1.5", "showui", "json")}
#: The real (and broken) replies of the case tables, as seeds for damage.
REAL_REPLIES = {
    "qwen2-vl": [c[1] for c in test_parsers_qwen2vl.CASES],
    "qwen2.5-vl": [c[1] for c in test_parsers_tool_call.CASES],
    "ui-tars": [c[1] for c in test_parsers_uitars.V1_CASES],
    "ui-tars-1.5": [c[1] for c in test_parsers_uitars.V15_CASES] + [c[1] for c in test_parsers_uitars.V1_CASES],
    "showui": [c[1] for c in test_parsers_showui.CASES],
    "json": [c[1] for c in test_parsers_json.CASES],
}
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_roundtrip(name: str) -> None:
    parser = PARSERS[name]

    @FAST
    @given(st.lists(action_strategy(name), min_size=1, max_size=4), thoughts())
    def check(actions, thought):
        text = parser.format(actions, thought)
        parsed = parser.parse(text)
        want = expected_roundtrip(name, actions)
        assert ActionListAdapter.dump_python(parsed.actions) == ActionListAdapter.dump_python(want), text
        if thought is not None:
            assert parsed.thought == thought, text

    check()


def _mutations(reply: str) -> st.SearchStrategy[str]:
    """Damage a model really does: cut it short, drop or double a character, insert noise, swap a digit."""
    n = len(reply)
    cut = st.integers(0, n).map(lambda i: reply[:i])
    drop = st.integers(0, max(n - 1, 0)).map(lambda i: reply[:i] + reply[i + 1:])
    double = st.integers(0, max(n - 1, 0)).map(lambda i: reply[:i] + reply[i: i + 1] * 2 + reply[i + 1:])
    insert = st.tuples(st.integers(0, n), st.text(min_size=1, max_size=4)).map(lambda t: reply[: t[0]] + t[1] + reply[t[0]:])
    noise = st.sampled_from(["-", "nan", "1e999", "9" * 400, "inf", "'", '"', ")", "(", "{", "]", "\n\n", "```"])
    splice = st.tuples(st.integers(0, n), noise).map(lambda t: reply[: t[0]] + t[1] + reply[t[0]:])
    return cut | drop | double | insert | splice


def _check_safe(parser, text: str, screen: str) -> None:
    try:
        parsed = parser.parse(text)
    except ActionParseError as exc:
        assert exc.raw == text
        return
    g = geometry(screen)
    for action in parsed.actions:
        for point in action.points().values():
            try:
                assert inside(to_screen(point, g), g)
            except CoordinateError:
                pass
        try:
            converted = convert_action(action, g)
        except CoordinateError:
            continue
        assert all(inside(p, g) for p in converted.points().values())


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_arbitrary_text_only_raises_the_parse_error(profile: str) -> None:
    parser = PROFILES[profile].make_parser()

    @settings(max_examples=200, deadline=None)
    @given(st.text(max_size=200) | st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
           st.sampled_from(sorted(SCREENS)))
    def check(text, screen):
        _check_safe(parser, text, screen)

    check()


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_damaged_real_replies_only_raise_the_parse_error(profile: str) -> None:
    parser = PROFILES[profile].make_parser()
    replies = REAL_REPLIES[profile]

    @settings(max_examples=250, deadline=None)
    @given(st.sampled_from(replies).flatmap(_mutations), st.sampled_from(sorted(SCREENS)))
    def check(text, screen):
        _check_safe(parser, text, screen)

    check()


NOISE = ["-", "nan", "1e999", "9" * 400, "inf", "'", '"', ")", "(", "{", "}", "]", "[", ",", "\n\n", "```", "\\",
         "<|box_start|>", "<|box_end|>", "<point>", "Action: ", "<tool_call>", "0.5", "-1"]


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_seeded_damage_sweep(profile: str) -> None:
    """A fixed sweep of the same damage (noise spliced in, cuts, drops) over every real reply, every run."""
    import random

    rng = random.Random(f"vlagent-{profile}")
    parser = PROFILES[profile].make_parser()
    for _ in range(1500):
        reply = rng.choice(REAL_REPLIES[profile])
        i = rng.randrange(len(reply) + 1)
        j = rng.randrange(i, len(reply) + 1)
        text = rng.choice([reply[:i] + rng.choice(NOISE) + reply[i:], reply[:i], reply[:i] + reply[j:],
                           reply[:i] + rng.choice(NOISE) + reply[j:]])
        _check_safe(parser, text, rng.choice(sorted(SCREENS)))


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_non_text_is_a_parse_error(profile: str) -> None:
    with pytest.raises(ActionParseError):
        PROFILES[profile].make_parser().parse(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("profile", "cls", "space"),
    [("qwen2-vl", "Qwen2VLParser", "rel1000"), ("qwen2.5-vl", "ToolCallParser", "resized"),
     ("ui-tars", "UITarsParser", "rel1000"), ("ui-tars-1.5", "UITarsParser", "resized"),
     ("showui", "ShowUIParser", "rel1"), ("json", "JSONActionParser", "rel1000")],
)
def test_each_profile_gets_its_parser_in_its_space(profile: str, cls: str, space: str) -> None:
    from vlagent.actions.parsers import PARSERS as BY_NAME
    from vlagent.actions.parsers.base import ActionParser

    parser = PROFILES[profile].make_parser()
    assert isinstance(parser, ActionParser)
    assert type(parser).__name__ == cls and parser.space == space == PROFILES[profile].space
    assert type(parser) in BY_NAME.values()
    assert parser.expected and callable(parser.format)


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_a_pixel_written_in_a_profiles_format_comes_back_to_that_pixel(profile: str, screen: str) -> None:
    """The scripted-policy path: pixel -> profile space -> reply text -> parse -> screen, per profile and screen."""
    from vlagent.actions import Click, Point
    from vlagent.actions.coords import from_screen

    prof = PROFILES[profile]
    s = SCREENS[screen]
    from vlagent.actions import Geometry

    g = Geometry.for_image(s["width"], s["height"], min_pixels=prof.min_pixels, max_pixels=prof.max_pixels,
                           scale=s["scale"])
    parser = prof.make_parser()
    # One unit of the space, in screen pixels: how close a written coordinate can get.
    unit = {"rel1000": max(g.width, g.height) / 1000, "rel1": max(g.width, g.height) / 10_000,
            "resized": max(g.width / g.resized_width, g.height / g.resized_height), "screen": 1.0}[prof.space]
    for fx, fy in [(0, 0), (0.5, 0.5), (0.999, 0.001), (0.25, 0.9), (1, 1)]:
        target = Point(x=min(int(fx * g.width), g.width - 1), y=min(int(fy * g.height), g.height - 1), space="screen")
        text = parser.format([Click(point=from_screen(target, g, prof.space))], "click the target")
        [action] = parser.parse(text).actions
        got = convert_action(action, g).point
        assert abs(got.x - target.x) <= unit + 1 and abs(got.y - target.y) <= unit + 1, (text, got, target)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_cut_of_a_written_reply_is_a_prefix_of_its_actions_or_an_error(name: str) -> None:
    """The truncation rule over every verb a format writes (the case tables hold real replies only).

    A reply cut at any character gives the full reply's actions, or the ones before a clean cut between
    two complete actions (a shorter reply of whole calls cannot be told from a cut one), or raises;
    never an action the model did not write whole. See tests/test_parsers_truncation.py.
    """
    parser = PARSERS[name]
    dump = ActionListAdapter.dump_python

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(action_strategy(name), min_size=1, max_size=3), thoughts())
    def check(actions, thought):
        text = parser.format(actions, thought)
        full = dump(parser.parse(text).actions)
        for i in range(len(text)):
            try:
                got = dump(parser.parse(text[:i]).actions)
            except ActionParseError:
                continue
            assert got == full[: len(got)], (text[:i], text)

    check()
