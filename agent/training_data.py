"""Training samples from what the agent records and from the synthetic apps' ground truth.

A sample is the chat the loop would build for one step (the target profile's template, the history,
the last screenshots) and the reply the model should write, in the target profile's own format
(its parser's ``format()``, the inverse of ``parse``). Two producers:

- :func:`episode_samples` reads a trajectory folder (any env, any profile). Each step that executed
  cleanly becomes a sample: its screen-pixel actions are rewritten into the target profile's space and
  syntax, earlier clean steps become the history, and the screenshots are the ones the loop would have
  kept (consecutive duplicates dropped, the last ``history_images``). Steps whose reply could not be
  executed are left out of the samples and of later histories: a demonstration teaches the clean path.
  Episodes that ended in failure are skipped unless asked for; episodes with no verdict (a human demo)
  are kept.
- :func:`synthetic_samples` drives the real loop on the synthetic apps with the scripted oracle and takes
  each step's chat and reply (``episode`` samples, history included), and adds single-turn grounding
  samples that name one widget ("Click the Save button" -> a click at its box).

Seeds from :data:`HELDOUT_SEED` up are kept for evaluation: the synthetic producers refuse them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from vlagent.actions.coords import Geometry
from vlagent.actions.errors import ActionError, VlagentError
from vlagent.actions.models import Action
from vlagent.agent.describe import describe
from vlagent.agent.perturb import wrong_reply
from vlagent.agent.policy import Planned
from vlagent.agent.scripted import OraclePolicy, to_model_space, write_reply
from vlagent.agent.trajectory import (
    EpisodeMeta,
    StepContext,
    StepRecord,
    find_episodes,
    load_episode,
    same_screen,
)
from vlagent.model.chat import Chat, Generation
from vlagent.model.training.errors import TrainingDataError
from vlagent.model.training.sample import TrainingSample, at_model_size, widget_layout
from vlagent.prompts import HistoryEntry, ModelProfile, PromptRequest, get_profile

#: Seeds at or above this are evaluation seeds; no training sample is ever drawn from them.
HELDOUT_SEED = 10_000
#: ``episode``/``grounding``: the synthetic apps; ``target``/``distractors``: the curriculum's button screens.
#: ``typing``: the typing steps of sign-ins whose credentials are made up, so typing means copying the task.
SampleKind = Literal["episode", "grounding", "target", "distractors", "typing"]
SAMPLE_KINDS: tuple[str, ...] = ("target", "distractors", "grounding", "episode", "typing")
#: Steps whose actions were skipped for one of these reasons never reached the env: not a demonstration.
_NOT_EXECUTED = ("dry-run", "nobody to ask", "not executable")


@dataclass
class DataReport:
    """Samples plus what was left out and why (shown by ``vlagent train``).

    Example:
        >>> r = DataReport(); r.skip("ep1", "failed episode"); r.skipped
        ['ep1: failed episode']
    """

    samples: list[TrainingSample] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def skip(self, where: str, why: str) -> None:
        self.skipped.append(f"{where}: {why}")

    def extend(self, other: DataReport) -> None:
        self.samples.extend(other.samples)
        self.skipped.extend(other.skipped)


def _profile(profile: ModelProfile | str) -> ModelProfile:
    return get_profile(profile) if isinstance(profile, str) else profile


def _plain_chat(chat: Chat) -> Chat:
    """The chat without its metadata: ground truth never rides into a training sample."""
    return Chat(list(chat.messages))


#: Env kinds cheap enough to rebuild to learn what the prompt showed (no device, no browser).
_REBUILDABLE = ("synthetic:", "gym:")


def _env_contexts(meta: EpisodeMeta, steps: Sequence[StepRecord]) -> dict[int, StepContext]:
    """Each step's env context: as the loop recorded it, else by replaying the actions in a rebuilt env.

    The loop records each step's supported actions, named options and env text (a FrozenLake position, a
    MiniWoB utterance) in ``steps.jsonl`` (:class:`~vlagent.agent.trajectory.StepContext`). Folders from
    before that, and human demonstrations, have none: synthetic apps and gym envs are cheap and
    deterministic, so they are rebuilt, reset with the episode's seed and stepped through the executed
    actions; other envs (desktop, Android, MiniWoB++) get the family's default action list, no options and
    no text (an empty mapping); so does the rest of an episode whose replay fails. An unseeded episode gets
    its env's supported actions only.
    """
    recorded = {step.index: step.context for step in steps if step.context is not None}
    if steps and len(recorded) == len(steps):
        return recorded
    if not meta.env.startswith(_REBUILDABLE):
        return {}
    from vlagent.envs.registry import make_env

    try:
        env = make_env(meta.env, **meta.env_kwargs)
    except (VlagentError, ImportError):
        return {}
    out: dict[int, StepContext] = {}
    try:
        if meta.seed is None:  # an unseeded episode cannot be replayed: only what does not change
            supported = sorted(env.supported_actions_now())
            return {step.index: StepContext(supported=supported) for step in steps}
        obs, _ = env.reset(seed=meta.seed)
        for step in steps:
            out[step.index] = StepContext(supported=sorted(env.supported_actions_now()), options=list(obs.options),
                                          text=obs.text)
            for record in step.actions:
                if record.executed and record.screen is not None:
                    obs, _, terminated, truncated, _ = env.step(record.screen)
                    if terminated or truncated:
                        return out
    except VlagentError:
        return out
    finally:
        env.close()
    return out


def _usable(step: StepRecord) -> str | None:
    """Why a step is no demonstration (``None`` when it is one)."""
    if step.error is not None:
        return f"step {step.index}: {step.error.type}"
    if not step.actions:
        return f"step {step.index}: no actions"
    for record in step.actions:
        if record.screen is None:
            return f"step {step.index}: an action without screen coordinates"
        if record.skipped in _NOT_EXECUTED:
            return f"step {step.index}: {record.skipped}"
    return None


def _reply(actions: Sequence[Action], thought: str | None, profile: ModelProfile, geometry: Geometry) -> tuple[str, str]:
    """The reply in the profile's format and its one-line summary for later histories."""
    parser = profile.make_parser()
    model_actions = [to_model_space(a, geometry, parser.space) for a in actions]
    return parser.format(model_actions, thought=thought), "; ".join(describe(a) for a in model_actions)


def episode_samples(
    folder: str | Path,
    profile: ModelProfile | str,
    *,
    history_images: int = 2,
    include_failed: bool = False,
) -> DataReport:
    """The samples of one trajectory folder, rewritten into ``profile``'s format (see the module docstring).

    Example:
        >>> callable(episode_samples)
        True
    """
    prof = _profile(profile)
    if history_images < 1:
        raise TrainingDataError(f"history_images must be >= 1, got {history_images}")
    folder = Path(folder)
    report = DataReport()
    meta, steps = load_episode(folder)
    where = str(folder)
    if meta.success is False and not include_failed:
        report.skip(where, f"the episode failed ({meta.outcome}); include_failed to keep it")
        return report
    if meta.family not in prof.templates:
        report.skip(where, f"profile {prof.name!r} has no prompt for the {meta.family!r} family")
        return report
    contexts = _env_contexts(meta, steps)
    scale = float(meta.geometry.get("scale", 1.0))
    history: list[HistoryEntry] = []
    screens: list[Image.Image] = []
    for step in steps:
        why = _usable(step)
        if why is not None:
            report.skip(where, why)
            continue
        path = folder / step.screenshot
        try:
            with Image.open(path) as im:
                screenshot = im.convert("RGB")
        except OSError as exc:
            report.skip(where, f"step {step.index}: screenshot {step.screenshot!r} unreadable ({exc})")
            continue
        if not screens or not same_screen(screens[-1], screenshot):
            screens.append(screenshot)
        w, h = screenshot.size
        geometry = Geometry.for_image(w, h, min_pixels=prof.min_pixels, max_pixels=prof.max_pixels, scale=scale)
        actions = [r.screen for r in step.actions if r.screen is not None]
        try:
            reply, summary = _reply(actions, step.thought, prof, geometry)
        except (ActionError, ValueError) as exc:
            report.skip(where, f"step {step.index}: {prof.name} cannot write it ({exc})")
            break  # later steps would remember a history with a hole in it
        context = contexts.get(step.index, StepContext())
        request = PromptRequest(
            family=meta.family,  # type: ignore[arg-type]
            task=meta.task,
            images=screens[-history_images:],
            env_text=context.text,
            options=tuple(context.options),
            supported=frozenset(context.supported),
            history=list(history),
        )
        chat = _plain_chat(prof.build_chat(request))
        report.samples.append(at_model_size(TrainingSample(chat, reply, f"{where} step {step.index}")))
        history.append(HistoryEntry(reply=reply, thought=step.thought, action_summary=summary))
    return report


def trajectory_samples(
    roots: Iterable[str | Path],
    profile: ModelProfile | str,
    *,
    history_images: int = 2,
    include_failed: bool = False,
) -> DataReport:
    """The samples of every episode folder under ``roots`` (an eval folder, a runs/ folder, one episode)."""
    report = DataReport()
    for root in roots:
        for folder in find_episodes(Path(root)):
            report.extend(episode_samples(folder, profile, history_images=history_images,
                                          include_failed=include_failed))
    return report


# ------------------------------------------------------------------------------------------ synthetic
class PointOracle(OraclePolicy):
    """The oracle with boxes left out of its clicks: every click reply names one point, two numbers.

    The apps' oracle writes a widget's box when its centre is the click point and the point alone
    otherwise; a small model learns one shape of reply, with half the digits, faster.

    Example:
        >>> PointOracle().name
        'scripted-oracle-points'
    """

    name = "scripted-oracle-points"

    def planned(self, action: Action, *, blind: bool = False) -> Planned:
        if getattr(action, "box", None) is not None:
            action = action.model_copy(update={"box": None})
        return super().planned(action, blind=blind)


def _check_seeds(seed: int, count: int) -> None:
    if seed < 0 or seed + count > HELDOUT_SEED:
        raise TrainingDataError(
            f"training seeds {seed}..{seed + count - 1} reach into the evaluation seeds (>= {HELDOUT_SEED}); "
            "draw fewer samples or start lower"
        )


def grounding_phrase(widget: Any) -> str:
    """The instruction that names one widget, as a user would ("Click the Save button").

    Example:
        >>> from vlagent.envs.synthetic import Widget
        >>> grounding_phrase(Widget.at("button:ok", "button", "OK", (0, 0, 10, 10)))
        'Click the OK button'
    """
    role = widget.role.replace("_", " ")
    label = " ".join(str(widget.label).split())
    return f"Click the {label} {role}" if label else f"Click the {role}"


def _grounding_samples(agent: Any, ep: Any, profile: ModelProfile, policy: OraclePolicy, source: str) -> list[TrainingSample]:
    """One single-turn sample per labelled, enabled widget on the episode's current screen.

    A phrase that two widgets share would have two right answers, so such widgets are left out.
    """
    from collections import Counter

    widgets = [w for w in ep.info.get("widgets", ()) if w.enabled and str(w.label).strip()]
    counts = Counter(grounding_phrase(w) for w in widgets)
    supported = frozenset(agent.env.supported_actions_now())
    geometry = ep.obs.geometry(min_pixels=agent.min_pixels, max_pixels=agent.max_pixels)
    parser = profile.make_parser()
    layout = widget_layout(widgets, *ep.obs.screenshot.size)
    out = []
    for widget in widgets:
        phrase = grounding_phrase(widget)
        if counts[phrase] > 1:
            continue
        request = PromptRequest(family=ep.obs.family, task=phrase, images=[ep.obs.screenshot], supported=supported)
        chat = profile.build_chat(request, min_pixels=agent.min_pixels, max_pixels=agent.max_pixels)
        reply = write_reply(parser, policy.planned(widget.click()), geometry, profile.name)
        out.append(TrainingSample(_plain_chat(chat), reply, f"{source} ground {widget.name}", layout))
    return out


def _extend_at_model_size(report: DataReport, samples: Iterable[TrainingSample]) -> None:
    """Add samples with their screenshots already at the processor's size (:func:`at_model_size`).

    A phone screenshot is 7.8 MB, so thousands of full-size ones would not fit in memory.
    """
    report.samples.extend(at_model_size(s) for s in samples)


def _oracle_steps(
    agent: Any, ep: Any, policy: OraclePolicy, profile: ModelProfile, source: str, rng: np.random.Generator,
    perturb: float,
) -> list[TrainingSample] | None:
    """The oracle's steps of a started episode as samples, some steps perturbed; None if the oracle failed.

    A perturbed step (chance ``perturb``, only while the loop would take another reply after a rejected
    one) runs a :func:`~vlagent.agent.perturb.wrong_reply` through the loop and is no sample. An episode
    that such a step ended (a wrong button that closes the dialog) keeps the samples before it.
    """
    steps: list[TrainingSample] = []
    wrong_last = False
    while ep.stop is None:
        prepared = agent.prepare(ep)
        replies, _ = agent.generate([prepared])
        gen = agent.as_generation(replies[0], prepared.geometry)
        widgets = ep.info.get("widgets", ())
        wrong_last = bool(perturb) and rng.random() < perturb and ep.consecutive_errors < agent.config.max_retries
        if wrong_last:
            text, _ = wrong_reply(rng, replies[0], gen.text, plan=policy.planned, widgets=widgets,
                                  screen=ep.obs.screenshot.size, parser=agent.parser, geometry=prepared.geometry,
                                  profile=profile.name)
            agent.advance(ep, prepared, Generation(text=text), 0.0)
            continue
        layout = widget_layout(widgets, *ep.obs.screenshot.size)
        steps.append(TrainingSample(_plain_chat(prepared.chat), gen.text, f"{source} step {ep.index}", layout))
        agent.advance(ep, prepared, gen, 0.0)
    return steps if ep.success or wrong_last else None


def _typing_samples(
    report: DataReport, agent_for: Any, policy: OraclePolicy, profile: ModelProfile, episodes: int, *, seed: int,
    sizes: Sequence[Any], perturb: float, pieces: Sequence[str] = (),
) -> None:
    """The typing steps of ``episodes`` sign-ins with made-up credentials (cycling ``sizes``).

    The login app draws its users and passwords from a few words, which a small model memorises instead of
    copying them from the task; credentials no other sample holds leave copying as the only way to type them.
    ``pieces``: see :func:`~vlagent.envs.synthetic.login.random_credentials`.
    """
    from vlagent.envs.synthetic.login import TEMPLATES, random_credentials

    for k in range(episodes):
        size = sizes[k % len(sizes)]
        ep_seed = seed + k // len(sizes)
        rng = np.random.default_rng([seed, k, 1])
        user, password = random_credentials(rng, pieces)
        task = TEMPLATES[int(rng.integers(len(TEMPLATES)))].format(user=user, password=password)
        agent, size_name = agent_for("login", size)
        source = f"synthetic:login {size_name} seed {ep_seed} typing"
        steps = _oracle_steps(agent, agent.start(task, seed=ep_seed), policy, profile, source, rng, perturb)
        if steps is None:
            report.skip(source, "the oracle did not finish")
            continue
        _extend_at_model_size(report, [s for s in steps
                                       if any(a.type == "type" for a in agent.parser.parse(s.reply).actions)])


def tokenizer_credential_pieces(tokenizer: Any) -> tuple[str, ...]:
    """The word pieces of ``tokenizer``'s vocabulary that made-up credentials can hold (``credential_pieces``).

    Each token is decoded on its own, as it appears inside a typed text.
    """
    from vlagent.envs.synthetic.login import credential_pieces

    return credential_pieces(tokenizer.decode([i]) for i in range(len(tokenizer)))


def synthetic_samples(
    profile: ModelProfile | str,
    episodes: int,
    *,
    seed: int = 0,
    apps: Sequence[str] | None = None,
    sizes: Sequence[Any] = ("desktop",),
    kinds: Sequence[SampleKind] = ("episode", "grounding"),
    history_images: int = 2,
    max_steps: int = 30,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    points_only: bool = False,
    perturb: float = 0.0,
    typing_episodes: int | None = None,
    credential_pieces: Sequence[str] = (),
) -> DataReport:
    """Samples from ``episodes`` oracle episodes of the synthetic apps (cycling apps x sizes, seeds from ``seed``).

    ``episode`` samples are every step of the oracle's episode as the loop prompts it (history included);
    ``grounding`` samples name each widget of the first screen; ``target`` and ``distractors`` add
    ``episodes`` button screens each (see :mod:`vlagent.agent.curriculum`), cycling ``sizes``; ``typing``
    adds the typing steps of ``typing_episodes`` (default ``episodes``) sign-ins with made-up credentials,
    cycling ``sizes``: its own count, so a mix can be typing-heavy without more of everything else; with
    ``credential_pieces`` (a tokenizer's word pieces, :func:`~vlagent.envs.synthetic.login.credential_pieces`)
    those credentials are built from them too. The pixel
    budget defaults to the profile's. ``points_only`` writes every click as a point (:class:`PointOracle`).
    ``perturb`` is the chance that an episode step goes wrong on purpose (:mod:`vlagent.agent.perturb`): the
    loop executes or rejects the wrong reply, which is no sample, and the oracle's next step recovers with
    the mistake in its history.

    Example:
        >>> r = synthetic_samples("qwen2-vl", 1, apps=["dialog"], sizes=[(320, 240)], kinds=["episode"])
        >>> r.samples[0].reply.splitlines()[-1].startswith("click(")
        True
    """
    from vlagent.agent.loop import Agent
    from vlagent.envs.registry import make_env
    from vlagent.envs.synthetic import APPS

    prof = _profile(profile)
    names = list(apps or sorted(APPS))
    combos = [(app, size) for size in sizes for app in names]
    if not combos:
        raise TrainingDataError("no synthetic apps or sizes to draw samples from")
    typing = episodes if typing_episodes is None else typing_episodes
    if typing < 0:
        raise TrainingDataError(f"typing_episodes must be >= 0, got {typing}")
    episode_rounds = -(-episodes // len(combos))
    typing_rounds = -(-typing // len(sizes)) if "typing" in kinds else 0  # typing cycles sizes alone
    _check_seeds(seed, max(episode_rounds, typing_rounds))
    if not 0.0 <= perturb < 1.0:
        raise TrainingDataError(f"perturb is a chance per step, from 0 up to (not including) 1; got {perturb}")
    unknown = [k for k in kinds if k not in SAMPLE_KINDS]
    if unknown or not kinds:
        raise TrainingDataError(f"sample kinds are {', '.join(SAMPLE_KINDS)}; got {list(kinds)}")
    policy = PointOracle() if points_only else OraclePolicy()
    report = DataReport()
    for kind in ("target", "distractors"):
        if kind in kinds:
            from vlagent.agent.curriculum import canvas_samples

            for i, size in enumerate(sizes):
                share = episodes // len(sizes) + (1 if i < episodes % len(sizes) else 0)
                _extend_at_model_size(report, canvas_samples(prof, kind, share, seed=seed + i, size=size,  # type: ignore[arg-type]
                                                     min_pixels=min_pixels, max_pixels=max_pixels, policy=policy))
    envs: dict[tuple[str, Any], Any] = {}

    def agent_for(app: str, size: Any) -> tuple[Agent, Any]:
        key = (app, size if isinstance(size, str) else tuple(size))
        env = envs.get(key) or envs.setdefault(key, make_env(f"synthetic:{app}", size=size))
        return Agent(policy, prof, env, history_images=history_images, max_steps=max_steps,
                     min_pixels=min_pixels, max_pixels=max_pixels), key[1]

    try:
        for k in range(episodes if {"episode", "grounding"} & set(kinds) else 0):
            app, size = combos[k % len(combos)]
            ep_seed = seed + k // len(combos)
            agent, size_name = agent_for(app, size)
            source = f"synthetic:{app} {size_name} seed {ep_seed}"
            ep = agent.start("", seed=ep_seed)
            if "grounding" in kinds:
                _extend_at_model_size(report, _grounding_samples(agent, ep, prof, policy, source))
            if "episode" not in kinds:
                continue
            steps = _oracle_steps(agent, ep, policy, prof, source, np.random.default_rng([seed, k]), perturb)
            if steps is None:
                report.skip(source, f"the oracle did not finish ({ep.stop})")
            else:
                _extend_at_model_size(report, steps)
        if "typing" in kinds:
            _typing_samples(report, agent_for, policy, prof, typing, seed=seed, sizes=sizes, perturb=perturb,
                            pieces=credential_pieces)
    finally:
        for env in envs.values():
            env.close()
    return report
