"""Trajectory folders and synthetic ground truth as training samples (no model involved).

The reference for "the expected samples" is the loop itself: an episode recorded in one profile, rewritten
into another, must give the chats and replies the loop builds when the oracle runs live in that other
profile (same screenshots, same history, same reply text).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vlagent.actions.models import TypeText, convert_action
from vlagent.agent.loop import Agent, TrajectoryStore
from vlagent.agent.scripted import OraclePolicy
from vlagent.agent.training_data import (
    HELDOUT_SEED,
    episode_samples,
    synthetic_samples,
    trajectory_samples,
)
from vlagent.agent.trajectory import same_screen
from vlagent.envs.registry import make_env
from vlagent.model.chat import Generation, ImagePart, TextPart
from vlagent.model.training.errors import TrainingDataError
from vlagent.prompts import get_profile

LOGIN = ("login", (640, 480))


class _FirstReplyGarbled:
    """The oracle, except that its first reply is prose no parser reads (a model's typical slip)."""

    name = "garbled-once"

    def __init__(self) -> None:
        self.oracle = OraclePolicy()
        self.calls = 0

    def decide(self, steps):
        self.calls += 1
        if self.calls == 1:
            return [Generation(text="I am not sure what to do here.") for _ in steps]
        return self.oracle.decide(steps)


def _record(root: Path, profile: str, policy, *, app: str, size, seed: int) -> Path:
    env = make_env(f"synthetic:{app}", size=size)
    store = TrajectoryStore(root, annotate=False, background_images=False)
    agent = Agent(policy, profile, env, recorder=store, env_spec=f"synthetic:{app}", env_kwargs={"size": size})
    result = agent.run("", seed=seed, episode_id=f"{app}-{profile}-s{seed}")
    env.close()
    return result.path


class _Recording:
    """The random policy, keeping every chat it was sent (the reference for the rebuilt prompts)."""

    name = "recording"

    def __init__(self) -> None:
        from vlagent.agent.scripted import random_policy

        self.inner, self.chats = random_policy(), []

    def decide(self, steps):
        self.chats.extend(s.prompt for s in steps)
        return self.inner.decide(steps)


def _record_lake(root: Path, *, max_steps: int) -> tuple[_Recording, Path]:
    """A recorded FrozenLake episode (named options, env text) and the policy that saw its prompts."""
    policy = _Recording()
    env = make_env("gym:FrozenLake-v1", is_slippery=False)
    store = TrajectoryStore(root, annotate=False, background_images=False)
    Agent(policy, "json", env, recorder=store, env_spec="gym:FrozenLake-v1", env_kwargs={"is_slippery": False},
          max_steps=max_steps).run("", seed=1, episode_id="lake")
    env.close()
    return policy, root / "lake"


def _record_replies(folder: Path) -> list[str]:
    from vlagent.agent.trajectory import read_steps

    return [s.raw for s in read_steps(folder)]


def _same_chat(a, b) -> None:
    """``a`` (a training sample's chat) gives the model what ``b`` (the chat the loop sent) gave it.

    Samples keep their screenshots at the processor's size (bit-identical model input), so ``b``'s are
    compared after the same resize.
    """
    from vlagent.model.training.sample import TrainingSample, at_model_size

    b = at_model_size(TrainingSample(b, "-")).chat
    assert [m.role for m in a.messages] == [m.role for m in b.messages]
    for ma, mb in zip(a.messages, b.messages, strict=True):
        assert len(ma.content) == len(mb.content)
        for pa, pb in zip(ma.content, mb.content, strict=True):
            assert type(pa) is type(pb)
            if isinstance(pa, TextPart):
                assert pa.text == pb.text
            else:
                assert isinstance(pa, ImagePart)
                assert same_screen(pa.image, pb.image)
                assert (pa.min_pixels, pa.max_pixels) == (pb.min_pixels, pb.max_pixels)


@pytest.mark.parametrize(("source", "target"), [("ui-tars", "qwen2-vl"), ("ui-tars", "showui"),
                                                ("qwen2-vl", "ui-tars-1.5")])
def test_recorded_episode_becomes_the_samples_the_loop_builds_in_another_profile(tmp_path, source, target):
    app, size = LOGIN
    folder = _record(tmp_path, source, _FirstReplyGarbled(), app=app, size=size, seed=4)
    report = episode_samples(folder, target)
    live = synthetic_samples(target, 1, seed=4, apps=[app], sizes=[size], kinds=["episode"])

    # The garbled first reply is no demonstration: it is neither a sample nor in any later history.
    assert any("step 0: ActionParseError" in s for s in report.skipped)
    assert len(report.samples) == len(live.samples) == 5
    assert [s.reply for s in report.samples] == [s.reply for s in live.samples]
    for got, want in zip(report.samples, live.samples, strict=True):
        _same_chat(got.chat, want.chat)
        assert not got.chat.metadata  # no ground truth rides along
    # The replies are in the target's own syntax and parse back with its parser.
    parser = get_profile(target).make_parser()
    assert all(parser.parse(s.reply).actions for s in report.samples)
    assert report.samples[0].reply != _record_replies(folder)[1]  # rewritten, not copied


def test_a_gym_episode_gives_back_the_prompts_the_loop_sent(tmp_path):
    """A folder recorded before steps held their env context: the conversion asks the rebuilt env."""
    policy, folder = _record_lake(tmp_path, max_steps=4)
    lines = (folder / "steps.jsonl").read_text().splitlines()
    assert all('"context"' in line for line in lines)
    (folder / "steps.jsonl").write_text("".join(
        json.dumps({k: v for k, v in json.loads(line).items() if k != "context"}) + "\n" for line in lines))
    report = episode_samples(folder, "json", include_failed=True)
    assert len(report.samples) == len(policy.chats) >= 2
    for sample, sent in zip(report.samples, policy.chats, strict=True):
        _same_chat(sample.chat, sent)
    prompt = " ".join(m.text for m in report.samples[0].chat.messages).lower()
    assert "left" in prompt and "right" in prompt  # the named options reached the prompt


def test_an_env_nothing_can_rebuild_gives_back_the_prompts_from_the_recorded_contexts(tmp_path):
    """A desktop, phone or MiniWoB page cannot be replayed: each step's actions, options and text are recorded."""
    from vlagent.agent.trajectory import read_steps

    policy, folder = _record_lake(tmp_path, max_steps=3)
    steps = read_steps(folder)
    assert all(s.context is not None and s.context.options and s.context.text for s in steps)
    assert steps[0].context.supported == sorted(steps[0].context.supported) and "choose" in steps[0].context.supported
    meta = json.loads((folder / "meta.json").read_text())
    meta["env"] = "desktop"  # a live screen: no env to rebuild, so only the records can say what was shown
    (folder / "meta.json").write_text(json.dumps(meta))
    report = episode_samples(folder, "json", include_failed=True)
    assert len(report.samples) == len(policy.chats) >= 2
    for sample, sent in zip(report.samples, policy.chats, strict=True):
        _same_chat(sample.chat, sent)


def test_failed_episodes_are_left_out_unless_asked_for(tmp_path):
    class GivesUp:
        name = "gives-up"

        def generate(self, chats, options=None):
            return [Generation(text="finished()") for _ in chats]

    folder = _record(tmp_path, "qwen2-vl", GivesUp(), app="dialog", size=(320, 240), seed=0)
    assert trajectory_samples([tmp_path], "qwen2-vl").samples == []
    kept = episode_samples(folder, "qwen2-vl", include_failed=True)
    assert [s.reply for s in kept.samples] == ["finished()"]


def test_grounding_samples_point_inside_the_widget_they_name():
    report = synthetic_samples("qwen2-vl", 2, apps=["dialog"], sizes=[(320, 240)], kinds=["grounding"])
    env = make_env("synthetic:dialog", size=(320, 240))
    parser = get_profile("qwen2-vl").make_parser()
    checked = 0
    for seed in (0, 1):
        obs, info = env.reset(seed=seed)
        geometry = obs.geometry(min_pixels=get_profile("qwen2-vl").min_pixels)
        mine = [s for s in report.samples if f"seed {seed} " in s.source]
        assert mine
        for sample in mine:
            name = sample.source.rsplit(" ", 1)[-1]
            widget = next(w for w in info["widgets"] if w.name == name)
            assert widget.label in sample.chat.messages[-1].text
            click = convert_action(parser.parse(sample.reply).actions[0], geometry)
            assert widget.contains(click.point.x, click.point.y)
            checked += 1
    assert checked >= 4


def test_training_seeds_never_reach_the_evaluation_seeds():
    with pytest.raises(TrainingDataError, match="evaluation seeds"):
        synthetic_samples("qwen2-vl", 2, seed=HELDOUT_SEED - 1, apps=["dialog"], sizes=[(320, 240)])


def _history(sample) -> list[str]:
    """The prompt's "Step N: ..." lines, oldest first."""
    text = sample.chat.messages[-1].text
    return [line for line in text.splitlines() if line.startswith("Step ")]


def test_perturbed_episodes_train_the_recovery_never_the_mistake():
    parser = get_profile("qwen2-vl").make_parser()
    clean = synthetic_samples("qwen2-vl", 8, apps=["login"], sizes=[(640, 480)], kinds=["episode"])
    report = synthetic_samples("qwen2-vl", 8, apps=["login"], sizes=[(640, 480)], kinds=["episode"], perturb=0.5)
    assert not report.skipped
    assert len(report.samples) > len(clean.samples)  # the recovery steps are samples of their own
    after_typo = rejected = 0
    for sample in report.samples:
        task = sample.chat.messages[-1].text.split("Task: ", 1)[1].splitlines()[0]
        actions = parser.parse(sample.reply).actions  # a cut-off reply is never a target: every reply parses
        for action in actions:
            if isinstance(action, TypeText):  # nor a garbled text: what is typed is the task's, exactly
                assert f"'{action.text}'" in task
        steps = _history(sample)
        rejected += any("could not be executed" in s for s in steps)
        last = steps[-1] if steps else ""
        if " / type '" in last and f"'{last.rsplit(' / type ', 1)[1].strip(chr(39))}'" not in task:
            after_typo += 1  # the field holds a wrong text: the oracle clears it before typing again
            assert actions[0].type == "click", (last, sample.reply)
    assert rejected and after_typo


@pytest.mark.parametrize("chance", [-0.1, 1.0])
def test_perturb_is_a_chance_below_one(chance):
    with pytest.raises(TrainingDataError, match="perturb"):
        synthetic_samples("qwen2-vl", 1, apps=["dialog"], sizes=[(320, 240)], perturb=chance)


def test_wrong_replies_make_the_mistake_they_name():
    from vlagent.actions.coords import Geometry
    from vlagent.agent.perturb import MISTAKES, mistakes_for, wrong_reply
    from vlagent.agent.policy import Planned
    from vlagent.envs.synthetic import Widget

    geometry = Geometry.for_image(640, 480)
    parser = get_profile("qwen2-vl").make_parser()
    widgets = [Widget.at("button:ok", "button", "OK", (100, 100, 200, 140))]
    right = Planned((TypeText(text="farid92"),), thought="The next step is to type.")
    text = parser.format([right.actions[0]], thought=right.thought)
    assert mistakes_for(right.actions, widgets) == list(MISTAKES)
    seen = set()
    for seed in range(40):
        wrong, kind = wrong_reply(np.random.default_rng(seed), right, text, plan=lambda a: Planned((a,)),
                                  widgets=widgets, screen=(640, 480), parser=parser, geometry=geometry,
                                  profile="qwen2-vl")
        seen.add(kind)
        if kind == "cut":
            assert text.startswith(wrong) and len(wrong) < len(text)
        elif kind == "text":
            typed = parser.parse(wrong).actions[0].text
            assert typed != "farid92" and sorted(typed) == sorted("farid92")
        else:
            click = convert_action(parser.parse(wrong).actions[0], geometry)
            assert click.type == "click" and 0 <= click.point.x < 640 and 0 <= click.point.y < 480
            if kind == "widget":
                assert widgets[0].contains(click.point.x, click.point.y)
    assert seen == set(MISTAKES)


def test_typing_samples_type_made_up_credentials_the_task_holds():
    from vlagent.envs.synthetic.login import USERS, WORDS

    report = synthetic_samples("qwen2-vl", 6, sizes=[(640, 480)], kinds=["typing"])
    parser = get_profile("qwen2-vl").make_parser()
    typed = []
    for sample in report.samples:
        task = sample.chat.messages[-1].text.split("Task: ", 1)[1].splitlines()[0]
        (action,) = parser.parse(sample.reply).actions
        assert isinstance(action, TypeText) and f"'{action.text}'" in task
        typed.append(action.text)
    assert len(typed) == 12  # a username and a password per sign-in, nothing else
    assert len(set(typed)) == 12 and not set(typed) & set(USERS)  # no fixed list to memorise
    assert not any(t.rstrip("0123456789") in WORDS for t in typed)


@pytest.mark.parametrize("profile", ["ui-tars", "showui"])
def test_typing_samples_are_found_in_every_reply_format(profile):
    report = synthetic_samples(profile, 2, sizes=[(640, 480)], kinds=["typing"])
    parser = get_profile(profile).make_parser()
    assert [parser.parse(s.reply).actions[0].type for s in report.samples] == ["type"] * 4


def test_typing_has_its_own_count_so_a_mix_can_be_typing_heavy():
    report = synthetic_samples("qwen2-vl", 1, apps=["dialog"], sizes=[(640, 480)], kinds=["episode", "typing"],
                               typing_episodes=3)
    sources = [s.source for s in report.samples]
    assert sum("typing" in src for src in sources) == 6  # two typed texts per sign-in
    episode = {src.split(" step")[0] for src in sources if "typing" not in src}  # the one dialog episode
    assert len(episode) == 1 and next(iter(episode)).startswith("synthetic:dialog ")
    assert not any("typing" in s.source for s in synthetic_samples(
        "qwen2-vl", 1, apps=["dialog"], sizes=[(640, 480)], kinds=["episode", "typing"], typing_episodes=0).samples)
    with pytest.raises(TrainingDataError, match="evaluation seeds"):  # the typing seeds stay below 10000 too
        synthetic_samples("qwen2-vl", 1, sizes=[(640, 480)], kinds=["typing"], typing_episodes=10_001)


def _nano_tokenizer():
    from transformers import AutoTokenizer

    from vlagent.model.catalog import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model("vlagent-nano"))


def test_credential_pieces_are_the_vocabulary_tokens_a_credential_can_hold():
    from vlagent.agent.training_data import tokenizer_credential_pieces
    from vlagent.envs.synthetic.login import CREDENTIAL_CHARS, USERS

    pieces = tokenizer_credential_pieces(_nano_tokenizer())
    assert {"emma", "farid", "cobalt"} <= set(pieces)  # the app's own names are word pieces of this vocabulary
    assert all(len(p) > 1 and set(p) <= set(CREDENTIAL_CHARS) for p in pieces)
    assert not {" in", "Sign", " '"} & set(pieces)
    assert set(USERS) - set(pieces)  # not a copy of the app's list: only what the tokenizer made one token


def test_made_up_credentials_from_word_pieces_make_copying_see_multi_character_tokens():
    """Random characters almost never form a word piece, so the copy readout never learns ``emma`` or ``farid``."""
    from vlagent.agent.training_data import tokenizer_credential_pieces

    tok = _nano_tokenizer()
    pieces = tokenizer_credential_pieces(tok)
    parser = get_profile("qwen2-vl").make_parser()

    def typed_tokens(report):
        texts = []
        for sample in report.samples:
            (action,) = parser.parse(sample.reply).actions
            task = sample.chat.messages[-1].text.split("Task: ", 1)[1].splitlines()[0]
            assert isinstance(action, TypeText) and f"'{action.text}'" in task  # still copied from the task
            texts.append([tok.decode([i]) for i in tok(action.text)["input_ids"]])
        return texts

    plain = typed_tokens(synthetic_samples("qwen2-vl", 12, sizes=[(640, 480)], kinds=["typing"]))
    built = typed_tokens(synthetic_samples("qwen2-vl", 12, sizes=[(640, 480)], kinds=["typing"],
                                           credential_pieces=pieces))
    assert len(built) == len(plain) == 24

    def multi(texts):
        return sum(len(t) > 1 for text in texts for t in text) / sum(len(text) for text in texts)

    assert multi(plain) < 0.15 and multi(built) > 0.35
    assert sum(len(text[0]) > 1 for text in built) >= 6  # the first typed token is a word piece too, at times
