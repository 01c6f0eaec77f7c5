"""The observe-reason-act loop, split into named phases that return their results.

One step::

    prepare   observation -> PromptRequest -> profile.build_chat -> Chat, and the PolicyStep (observation,
              info, history, that chat) a policy decides from (agent/policy.py)
    generate  policy.decide(steps) -> replies (one call for every live episode when batched); a model
              policy is backend.generate(chats), a scripted one plans typed actions the loop writes as text
    decide    parser.parse -> convert every point to screen pixels -> supported? -> deny-list
    act       confirm -> env.step per action, in reply order (nothing in a dry run)
    advance   record the step (with the prompt as sent, agent/prompt_record.py), update the history, decide
              whether the episode stops

Secrets (agent/secrets.py) are masked out of the reply before it is parsed and out of every record; the
placeholder is replaced by the value only in the action handed to ``env.step``.

A reply that cannot be executed (``ActionParseError``, ``CoordinateError``, ``UnsupportedActionError``,
``ActionRefused``) is never guessed at: the error goes into the next prompt's history and the model gets
``max_retries`` more tries in a row. The episode stops on ``finished``/``fail``, the env's termination or
truncation, ``max_steps`` model calls, the wall-clock ``time_limit`` (checked after every step: a model call
in flight is not cut short, the backend's own timeout does that), the loop detector (the same action
``repeat_limit`` times with the screen unchanged), too many errors in a row, an unanswerable ``call_user``,
or a stop request (Ctrl+C, the desktop's stop hotkey): the action running finishes, no later one starts.
:func:`vlagent.agent.batch.run_batched` drives many episodes through the same phases with one model call
per step for all of them.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from PIL import Image

from vlagent.actions.coords import Geometry
from vlagent.actions.errors import (
    ActionError,
    ActionParseError,
    EnvError,
    ModelError,
    UnsupportedActionError,
)
from vlagent.actions.models import LOOP_ACTIONS, TERMINAL_TYPES, Action, ParsedReply, convert_action
from vlagent.agent.annotate import annotate
from vlagent.agent.config import SAFETY_SHORTHANDS, AgentConfig
from vlagent.agent.describe import describe
from vlagent.agent.policy import Planned, Policy, PolicyStep, Reply, as_policy
from vlagent.agent.prompt_record import PromptRecord, record_chat, system_text
from vlagent.agent.repeats import RepeatDetector, action_key
from vlagent.agent.safety import ConfirmRequest, SafetyPolicy, StopFlag
from vlagent.agent.secrets import Secrets
from vlagent.agent.seeds import draw_seed
from vlagent.agent.trajectory import (
    PNG_COMPRESS_LEVEL,
    ActionRecord,
    EpisodeMeta,
    EpisodeRecorder,
    ErrorRecord,
    StepContext,
    StepRecord,
    StepTimings,
    StopReason,
    annotated_name,
    json_safe,
    now,
    same_screen,
)
from vlagent.agent.video_frames import FrameHistory
from vlagent.envs.base import CAPTURE, SETTLE, Observation, env_timings
from vlagent.model.chat import Chat, Generation, GenerationOptions, ModelBackend
from vlagent.model.errors import ModelRejected
from vlagent.prompts.request import HistoryEntry, PromptRequest

#: Outcomes that a rerun of an evaluation retries (the episode did not get a fair run).
RETRYABLE_OUTCOMES = frozenset({"interrupted", "model_error", "env_error"})
#: Answers ``call_user`` in interactive runs: ``question -> answer``.
AskFn = Callable[[str], str]


class TrajectoryStore:
    """Where episodes are written: one folder per episode under ``root``.

    ``background_images`` encodes PNGs in a writer process while the loop goes on (see trajectory.py);
    turn it off to have every step's images on disk before the next model call.

    Example:
        >>> import tempfile
        >>> store = TrajectoryStore(tempfile.mkdtemp())
        >>> store.path_for("ep-1").name
        'ep-1'
    """

    def __init__(self, root: str | Path, *, annotate: bool = True, background_images: bool = True) -> None:
        self.root = Path(root)
        self.annotate = annotate
        self.background_images = background_images

    def path_for(self, episode_id: str) -> Path:
        return self.root / episode_id

    def open(self, meta: EpisodeMeta) -> EpisodeRecorder:
        return EpisodeRecorder(self.path_for(meta.episode_id), meta, annotate_images=self.annotate,
                               background_images=self.background_images)


@dataclass
class Episode:
    """The mutable state of one running episode (owned by the loop; phases read it and return results).

    Example:
        >>> from vlagent.agent.scripted import OraclePolicy
        >>> from vlagent.envs.registry import make_env
        >>> ep = Agent(OraclePolicy(), "json", make_env("synthetic:dialog", size=(320, 240))).start("", seed=0)
        >>> ep.index, ep.stop, len(ep.screens)
        (0, None, 1)
    """

    id: str
    task: str
    seed: int | None
    obs: Observation
    info: dict[str, Any]
    recorder: EpisodeRecorder | None
    meta: EpisodeMeta
    screens: deque[Image.Image]
    screen_files: deque[str] = field(default_factory=deque)  # the step file each of ``screens`` was saved as
    frames: FrameHistory | None = None  # every frame seen, for --video-frames
    system_prompt: str | None = None  # the first step's, recorded once in meta.json
    history: list[HistoryEntry] = field(default_factory=list)
    records: list[StepRecord] = field(default_factory=list)
    capture_seconds: float = 0.0  # the capture of the frame the next prompt shows
    repeats: RepeatDetector = field(default_factory=RepeatDetector)
    success: bool | None = None
    answer: str | None = None
    stop: StopReason | None = None
    error: ErrorRecord | None = None
    started: float = 0.0

    # Counts derived from the records, so they cannot drift from what was recorded.

    @property
    def index(self) -> int:
        """The next step's index: the steps recorded so far."""
        return len(self.records)

    @property
    def errors(self) -> int:
        """Steps whose reply could not be executed."""
        return sum(r.error is not None for r in self.records)

    @property
    def parse_errors(self) -> int:
        """Steps whose reply no parser read."""
        return sum(r.error is not None and r.error.type == ActionParseError.__name__ for r in self.records)

    @property
    def consecutive_errors(self) -> int:
        """Unexecutable replies in a row, up to the last step."""
        n = 0
        for r in reversed(self.records):
            if r.error is None:
                break
            n += 1
        return n

    @property
    def total_reward(self) -> float:
        return sum((r.reward for r in self.records), 0.0)


@dataclass(frozen=True)
class Prepared:
    """The output of :meth:`Agent.prepare`: the chat for one step and what it was built from.

    Example:
        >>> g = Geometry(width=320, height=240, resized_width=308, resized_height=224)
        >>> Prepared(Chat.simple("hi"), g, Image.new("RGB", (320, 240)), preprocess_seconds=0.0).geometry.width
        320
    """

    chat: Chat
    geometry: Geometry
    screenshot: Image.Image
    preprocess_seconds: float
    prompt: PromptRecord | None = None
    step: PolicyStep | None = None  # what the policy decides from; generate() needs it (prepare() sets it)
    context: StepContext | None = None  # what the env added to the prompt, recorded for training


@dataclass(frozen=True)
class Decision:
    """The output of :meth:`Agent.decide`: the parsed reply and its actions in screen pixels.

    Example:
        >>> from vlagent.actions.models import Wait
        >>> Decision(ParsedReply(raw="wait()", actions=[Wait()]), [Wait()]).screen_actions[0].type
        'wait'
    """

    parsed: ParsedReply
    screen_actions: list[Action]


@dataclass(frozen=True)
class Execution:
    """The output of :meth:`Agent.act`: what each action did and where the episode stands.

    Example:
        >>> from vlagent.actions.models import Wait
        >>> obs = Observation(Image.new("RGB", (8, 8)))
        >>> Execution([ActionRecord(model=Wait(), skipped="dry-run")], obs, {}, 0.0, False, False, 0.0, 0.0).executed
        False
    """

    records: list[ActionRecord]
    obs: Observation
    info: dict[str, Any]
    reward: float
    terminated: bool
    truncated: bool
    capture_seconds: float
    execute_seconds: float
    stop: StopReason | None = None
    error: ActionError | None = None
    answer: str | None = None
    user_answers: tuple[str, ...] = ()
    settle_seconds: float = 0.0

    @property
    def executed(self) -> bool:
        return any(r.executed for r in self.records)


@dataclass
class _Tally:
    """What :meth:`Agent.act` has gathered so far over one reply's actions (becomes its :class:`Execution`)."""

    obs: Observation
    info: dict[str, Any]
    records: list[ActionRecord] = field(default_factory=list)
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    capture: float | None = None
    execute: float = 0.0
    settle: float = 0.0
    stop: StopReason | None = None
    error: ActionError | None = None
    answer: str | None = None
    answers: list[str] = field(default_factory=list)
    confirm_shot: Path | None = None  # the annotated screenshot, written when the first question is put
    asked: bool = False

    def skip(self, pairs: Sequence[tuple[Action, Action]], why: str) -> None:
        """Record the actions that will not run, and why."""
        self.records.extend(ActionRecord(model=m, screen=s, skipped=why) for m, s in pairs)

    def add_step(self, seconds: float, timings: dict[str, float]) -> None:
        """Split one ``env.step``'s wall time into capture, settle and execute (see :meth:`Agent.act`)."""
        if self.capture is not None:  # the frame of the previous action was never shown to the model
            self.execute += self.capture
        self.capture = min(timings.get(CAPTURE, 0.0), seconds)
        waited = min(timings.get(SETTLE, 0.0), seconds - self.capture)
        self.settle += waited
        self.execute += seconds - self.capture - waited

    def execution(self) -> Execution:
        return Execution(
            records=self.records, obs=self.obs, info=dict(self.info), reward=self.reward,
            terminated=self.terminated, truncated=self.truncated, capture_seconds=self.capture or 0.0,
            execute_seconds=self.execute, settle_seconds=self.settle, stop=self.stop, error=self.error,
            answer=self.answer, user_answers=tuple(self.answers),
        )


@dataclass(frozen=True)
class EpisodeResult:
    """What :meth:`Agent.run` returns: the metadata written to ``meta.json``, the steps, the folder.

    Example:
        >>> meta = EpisodeMeta(episode_id="e", task="t", env="synthetic:login", outcome="finished", success=True)
        >>> EpisodeResult(meta=meta, steps=[], path=None).success
        True
    """

    meta: EpisodeMeta
    steps: list[StepRecord]
    path: Path | None

    @property
    def outcome(self) -> StopReason | None:
        return self.meta.outcome

    @property
    def success(self) -> bool:
        return bool(self.meta.success)


def _supported_actions(env: Any) -> frozenset[str]:
    for candidate in (env, getattr(env, "unwrapped", None)):
        fn = getattr(candidate, "supported_actions_now", None)
        if callable(fn):
            return frozenset(fn())
    raise TypeError(f"{type(env).__name__} is not a vlagent env (no supported_actions_now())")


def model_name(backend: Any) -> str:
    """What the backend runs: a hub id or folder, a served model name, or a ``module:attr`` spec."""
    for attr in ("model_ref", "spec", "model"):
        value = getattr(backend, attr, None)
        if isinstance(value, str) and value:
            return value
    return str(getattr(backend, "name", type(backend).__name__))


class Agent:
    """Runs episodes of one env with one backend and one model profile.

    Args:
        backend: any :class:`ModelBackend` (driven through :class:`~vlagent.agent.policy.ModelPolicy`) or a
            :class:`~vlagent.agent.policy.Policy` (the scripted oracle), bare or inside a python backend;
            batched runs share one between agents.
        profile: a :class:`~vlagent.prompts.profiles.ModelProfile` or its name.
        env: a vlagent env (gymnasium API, typed actions in screen pixels). The caller owns and closes it.
        config: the episodes' settings (:class:`~vlagent.agent.config.AgentConfig`: limits, pixel budget,
            decoding options).
        settings: any :class:`AgentConfig` field as a keyword (``max_steps=5``), applied over ``config``;
            and the safety shorthands ``dry_run`` (parse, convert and record, but execute nothing),
            ``confirm`` (``"all"`` or ``"sensitive"``: ask ``confirm_fn`` before executing) and ``confirm_fn``
            (``ConfirmRequest -> bool``), used when no ``safety`` is given.
        safety: a full :class:`SafetyPolicy` (overrides ``dry_run``/``confirm``/``confirm_fn``).
        ask: answers ``call_user`` in interactive runs; without it ``call_user`` ends the episode.
        recorder: a :class:`TrajectoryStore`; ``None`` keeps the episode in memory only.
        clock: the timer for step timings (injectable for tests).
        stop: the flag Ctrl+C (and the stop hotkey) sets; share one between agents to stop them together.
        env_spec, env_kwargs: how the env was made, written to ``meta.json`` for replays.
        secrets: values the model sees as ``<secret>NAME</secret>``, substituted only in what ``env.step``
            gets and masked out of everything recorded (see agent/secrets.py).

    Example:
        >>> from vlagent.agent.scripted import OraclePolicy
        >>> from vlagent.envs.registry import make_env
        >>> agent = Agent(OraclePolicy(), "ui-tars", make_env("synthetic:login", size=(640, 480)))
        >>> result = agent.run("", seed=0)
        >>> result.outcome, result.success, len(result.steps)
        ('terminated', True, 5)
    """

    def __init__(
        self,
        backend: ModelBackend | Policy,
        profile: Any,
        env: Any,
        config: AgentConfig | None = None,
        *,
        safety: SafetyPolicy | None = None,
        ask: AskFn | None = None,
        recorder: TrajectoryStore | None = None,
        clock: Callable[[], float] = time.perf_counter,
        stop: StopFlag | None = None,
        env_spec: str = "",
        env_kwargs: dict[str, Any] | None = None,
        suite: str | None = None,
        secrets: Secrets | None = None,
        **settings: Any,
    ) -> None:
        if isinstance(profile, str):
            from vlagent.prompts import get_profile

            profile = get_profile(profile)
        shorthands = {k: settings.pop(k, default) for k, default in SAFETY_SHORTHANDS.items()}
        self.config = config = (config or AgentConfig()).updated(**settings)
        self.backend = backend
        self.profile = profile
        self.parser = profile.make_parser()
        self.env = env
        self.safety = safety or SafetyPolicy(dry_run=shorthands["dry_run"], confirm=shorthands["confirm"] or "never",
                                             ask=shorthands["confirm_fn"])
        self.ask = ask
        self.min_pixels = config.min_pixels or profile.min_pixels
        self.max_pixels = config.max_pixels or profile.max_pixels
        base = config.gen_options or GenerationOptions()
        self.gen_options = replace(
            base,
            min_pixels=base.min_pixels or self.min_pixels,
            max_pixels=base.max_pixels or self.max_pixels,
        )
        self.policy = as_policy(backend, self.gen_options)
        self.recorder = recorder
        self.clock = clock
        self._own_stop = stop is None  # a flag of its own is fresh for every run(); a shared one is not
        self.stop = stop or StopFlag()
        self.env_spec = env_spec
        self.env_kwargs = dict(env_kwargs or {})
        self.suite = suite
        self.secrets = secrets or Secrets()

    # -- phases ----------------------------------------------------------------------------------------

    def start(self, task: str, *, seed: int | None = None, episode_id: str | None = None) -> Episode:
        """Reset the env with the task and open the episode's folder.

        Without a seed one is drawn and recorded, so ``vlagent replay --execute`` can reproduce the episode.
        The env gets the task with its secrets filled in (it checks them, as a real site would); the model
        and the records get it masked.
        """
        seed = draw_seed() if seed is None else seed
        t0 = self.clock()
        obs, info = self.env.reset(seed=seed, options={"task": self.secrets.reveal(task)})
        reset_seconds = self.clock() - t0
        reset_timings = env_timings(info)
        task = self.secrets.mask(obs.task or task)
        episode_id = episode_id or f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        geometry = obs.geometry(min_pixels=self.min_pixels, max_pixels=self.max_pixels)
        meta = EpisodeMeta(
            episode_id=episode_id,
            task=task,
            suite=self.suite,
            env=self.env_spec or type(getattr(self.env, "unwrapped", self.env)).__name__,
            env_kwargs=json_safe(self.env_kwargs),
            seed=seed,
            family=obs.family,
            model=model_name(self.backend),
            backend=str(getattr(self.backend, "name", type(self.backend).__name__)),
            backend_options=json_safe(asdict(self.gen_options)),
            profile=self.profile.name,
            geometry=geometry.model_dump(),
            dry_run=self.safety.dry_run,
            secrets=self.secrets.names,
        )
        meta = self.secrets.mask_model(meta)
        recorder = self.recorder.open(meta) if self.recorder is not None else None
        ep = Episode(
            id=episode_id,
            task=task,
            seed=seed,
            obs=obs,
            info=dict(info),
            recorder=recorder,
            meta=meta,
            screens=deque(maxlen=self.config.history_images),
            screen_files=deque(maxlen=self.config.history_images),
            # An env that does not time its capture: the whole reset is the nearest figure there is.
            capture_seconds=reset_timings.get(CAPTURE, reset_seconds),
            started=t0,
        )
        if "success" in info:  # an env that reports success does so from the start (an episode may never step)
            ep.success = bool(info["success"])
        self._remember_screen(ep, obs.screenshot)
        if self.config.video_frames:
            ep.frames = FrameHistory(self.config.video_frames, self.config.video_fps)
            ep.frames.add(self.clock() - ep.started, obs.screenshot, "step_000.png")
        return ep

    def prepare(self, ep: Episode) -> Prepared:
        """Build this step's chat: task, env text, the last screenshots, the history with its errors."""
        t0 = self.clock()
        obs = ep.obs
        geometry = obs.geometry(min_pixels=self.min_pixels, max_pixels=self.max_pixels)
        supported = _supported_actions(self.env)
        clip = ep.frames.clip(obs.screenshot, now=self.clock() - ep.started) if ep.frames is not None else None
        request = PromptRequest(
            family=obs.family,
            task=ep.task,
            # The clip shows the earlier frames: only the current screenshot goes as an image.
            images=list(ep.screens)[-1:] if ep.frames is not None else list(ep.screens),
            video=clip,
            env_text=self.secrets.mask(obs.text),
            options=tuple(obs.options),
            supported=supported,
            history=list(ep.history),
        )
        # The images must carry the same budget the geometry was computed with, or a `resized` point would
        # be mapped back through a different resize than the one the model saw.
        chat = self.profile.build_chat(request, min_pixels=self.min_pixels, max_pixels=self.max_pixels)
        step = PolicyStep(observation=obs, info=ep.info, history=tuple(ep.history), task=ep.task, step=ep.index,
                          geometry=geometry, supported=supported, prompt=chat, profile=self.profile)
        seconds = self.clock() - t0
        if ep.system_prompt is None:
            ep.system_prompt = system_text(chat)
        files = dict(zip(map(id, ep.screens), ep.screen_files, strict=True)) if ep.recorder is not None else {}
        if ep.frames is not None and ep.recorder is not None:
            files.update(ep.frames.files())
        prompt = record_chat(chat, files=files, options=self.gen_options, system_prompt=ep.system_prompt,
                             default_pixels=(self.min_pixels, self.max_pixels), mask=self.secrets.mask)
        return Prepared(
            chat=chat,
            geometry=geometry,
            screenshot=obs.screenshot,
            preprocess_seconds=seconds,
            prompt=prompt,
            step=step,
            context=StepContext(supported=sorted(supported), options=list(request.options), text=request.env_text),
        )

    def generate(self, prepared: Sequence[Prepared]) -> tuple[list[Reply], float]:
        """One policy call for all the steps; returns the replies and the call's wall time."""
        steps = [p.step for p in prepared if p.step is not None]
        if len(steps) != len(prepared):
            raise ValueError("every Prepared handed to generate() needs its PolicyStep (built by prepare())")
        t0 = self.clock()
        replies = list(self.policy.decide(steps))
        seconds = self.clock() - t0
        if len(replies) != len(prepared):
            raise ModelError(f"backend {getattr(self.backend, 'name', '?')} returned {len(replies)} replies "
                             f"for {len(prepared)} chats")
        return replies, seconds

    def as_generation(self, reply: Reply, geometry: Geometry) -> Generation:
        """A policy's reply as the text the parser reads: planned actions are written in the profile's format."""
        if isinstance(reply, Generation):
            return reply
        if isinstance(reply, str):
            return Generation(text=reply)
        if isinstance(reply, Planned):
            from vlagent.agent.scripted import write_reply

            return Generation(text=write_reply(self.parser, reply, geometry, self.profile.name))
        raise ModelRejected(f"{model_name(self.backend)!r} returned a {type(reply).__name__}; expected a "
                            "Generation, a str or Planned actions")

    def decide(self, reply: str, geometry: Geometry) -> Decision:
        """Parse the reply and make every action executable, or raise the ``ActionError`` to feed back."""
        parsed = self.parser.parse(reply)
        supported = _supported_actions(self.env) | LOOP_ACTIONS
        screen_actions: list[Action] = []
        for action in parsed.actions:
            converted = convert_action(action, geometry)
            if converted.type not in supported:
                raise UnsupportedActionError(converted.type, supported)
            self.safety.check(converted)
            screen_actions.append(converted)
        return Decision(parsed=parsed, screen_actions=screen_actions)

    def act(self, ep: Episode, decision: Decision) -> Execution:
        """Execute the actions in order (one ``env.step`` each) until one ends the episode or is refused.

        Timings come from each step's ``info["timings"]``: ``settle`` adds up; the capture of the last frame
        returned is the next step's ``capture`` (the frame its prompt shows); everything else in the
        ``env.step`` wall time, the capture of frames that a later action replaced included, is ``execute``.
        """
        tally = _Tally(obs=ep.obs, info=ep.info)
        env_supported = _supported_actions(self.env)
        pairs = list(zip(decision.parsed.actions, decision.screen_actions, strict=True))
        for i, (model_action, action) in enumerate(pairs):
            if self.stop.requested:  # Ctrl+C or the stop hotkey: nothing after the running action starts
                tally.stop = "interrupted"
                tally.skip(pairs[i:], f"stopped by {self.stop.by}")
                break
            if not self._act_one(ep, decision, ActionRecord(model=model_action, screen=action), action, tally,
                                 env_supported):
                tally.skip(pairs[i + 1:], "an earlier action failed")
                break
            if action.type in TERMINAL_TYPES:
                tally.stop = tally.stop or action.type
                tally.answer = getattr(action, "answer", None) or getattr(action, "reason", None)
            if tally.terminated or tally.truncated:
                tally.stop = tally.stop or ("terminated" if tally.terminated else "truncated")
            if tally.stop is not None:
                tally.skip(pairs[i + 1:], "episode ended")
                break
        return tally.execution()

    def _act_one(
        self, ep: Episode, decision: Decision, rec: ActionRecord, action: Action, tally: _Tally,
        env_supported: frozenset[str],
    ) -> bool:
        """Carry out one action (``rec`` its record so far) into ``tally``; ``False`` when it was refused."""
        if action.type == "call_user":
            if self.ask is None:
                tally.records.append(rec.model_copy(update={"skipped": "nobody to ask"}))
                tally.stop = "call_user"
            else:
                tally.answers.append(self.secrets.mask(self.ask(action.question)))
                tally.records.append(rec.model_copy(update={"executed": True, "answer": tally.answers[-1]}))
        elif self.safety.dry_run:
            tally.records.append(rec.model_copy(update={"skipped": "dry-run"}))
        elif action.type in LOOP_ACTIONS and action.type not in env_supported:
            tally.records.append(rec.model_copy(update={"skipped": "handled by the loop"}))
        else:
            return self._step_env(ep, decision, rec, action, tally)
        return True

    def _step_env(self, ep: Episode, decision: Decision, rec: ActionRecord, action: Action, tally: _Tally) -> bool:
        """Confirm (when asked to) and run one action in the env, adding its reward and timings to ``tally``."""
        try:
            if self.safety.needs_confirmation(action) and not tally.asked:
                tally.confirm_shot, tally.asked = self._confirm_image(ep, decision), True
            self.safety.approve(ConfirmRequest(action, step=ep.index, thought=decision.parsed.thought,
                                               screenshot=tally.confirm_shot))
            t0 = self.clock()
            obs, r, terminated, truncated, info = self.env.step(self.secrets.reveal_action(action))
        except ActionError as exc:  # refused, or the env's own check: nothing ran
            tally.error = exc
            tally.records.append(rec.model_copy(update={"skipped": f"{type(exc).__name__}: {exc}"}))
            return False
        tally.add_step(self.clock() - t0, env_timings(info))
        tally.obs, tally.info, tally.terminated, tally.truncated = obs, info, terminated, truncated
        tally.reward += float(r)
        tally.records.append(rec.model_copy(update={"executed": True, "reward": float(r)}))
        return True

    def advance(self, ep: Episode, prepared: Prepared, reply: Reply, model_wall: float) -> StepRecord:
        """Decide and act on one reply, record the step and update the episode; returns the record.

        The reply is masked before anything reads it: a model (or the oracle) that typed a secret's value
        gets it parsed as the placeholder, which is substituted again only for ``env.step``.
        """
        gen = self.as_generation(reply, prepared.geometry)
        raw = self.secrets.mask(gen.text)
        t0 = self.clock()
        decision: Decision | None = None
        execution: Execution | None = None
        error: ActionError | None = None
        try:
            decision = self.decide(raw, prepared.geometry)
        except ActionError as exc:
            error = exc
        parse_seconds = self.clock() - t0
        if decision is not None:
            execution = self.act(ep, decision)
            error = execution.error
        timings = StepTimings(
            capture=ep.capture_seconds,
            preprocess=prepared.preprocess_seconds + gen.preprocess_seconds,
            # A batched call also ran the other chats' preprocessing before the model: not this chat's model time.
            model=max(model_wall - float(gen.extra.get("batch_preprocess_seconds", gen.preprocess_seconds)), 0.0),
            parse=parse_seconds,
            execute=execution.execute_seconds if execution else 0.0,
            settle=execution.settle_seconds if execution else 0.0,
        )
        actions = execution.records if execution else self._unexecuted(raw)
        record = StepRecord(
            index=ep.index,
            raw=raw,
            thought=decision.parsed.thought if decision else None,
            actions=actions,
            reward=execution.reward if execution else 0.0,
            terminated=execution.terminated if execution else False,
            truncated=execution.truncated if execution else False,
            info=json_safe(execution.info if execution and execution.executed else {}),
            timings=timings,
            error=ErrorRecord.of(error) if error else None,
            screenshot="",
            screen_changed=(
                None if execution is None or not execution.executed
                else not same_screen(prepared.screenshot, execution.obs.screenshot)
            ),
            tokens={"prompt": gen.prompt_tokens, "visual": gen.visual_tokens, "new": gen.new_tokens},
            prompt=prepared.prompt,
            context=prepared.context,
        )
        record = self.secrets.mask_model(record)
        if ep.recorder is not None:
            t1 = self.clock()
            record = ep.recorder.save_images(record, prepared.screenshot)
            record.timings.record = self.clock() - t1
            ep.recorder.write_step(record)
        ep.records.append(record)
        self._update(ep, record, decision, execution, error)
        return record

    def finish(self, ep: Episode, *, outcome: StopReason | None = None, error: BaseException | None = None) -> EpisodeResult:
        """Close the episode's folder (``meta.json`` with the outcome) and return the result."""
        if outcome is not None:
            ep.stop = outcome
        if error is not None:
            ep.error = ErrorRecord.of(error, fed_back=False)
        updates = dict(
            outcome=ep.stop,
            success=False if ep.stop == "time_limit" else ep.success,  # out of time counts as a failure
            total_reward=ep.total_reward,
            steps=len(ep.records),
            errors=ep.errors,
            parse_errors=ep.parse_errors,
            error=ep.error,
            answer=ep.answer,
            system_prompt=ep.system_prompt,
        )
        updates = self.secrets.mask_json(updates)
        if ep.error is not None:
            updates["error"] = self.secrets.mask_model(ep.error)
        if ep.recorder is not None:
            meta = ep.recorder.close(final_screen=ep.obs.screenshot, **updates)
            path: Path | None = ep.recorder.path
        else:
            meta = ep.meta.model_copy(update={"ended": now(), **updates})
            path = None
        ep.meta = meta
        return EpisodeResult(meta=meta, steps=list(ep.records), path=path)

    # -- running -------------------------------------------------------------------------------------------

    def run(self, task: str, *, seed: int | None = None, episode_id: str | None = None) -> EpisodeResult:
        """Run one episode to its end. Ctrl+C stops it after the current step, with the folder closed.

        A backend or env failure closes the episode (outcome ``model_error``/``env_error``) and re-raises.
        """
        if self._own_stop and self.stop.requested:
            self.stop = StopFlag()
        with self.stop.on_sigint():
            ep = self.start(task, seed=seed, episode_id=episode_id)
            try:
                while ep.stop is None:
                    prepared = self.prepare(ep)
                    gens, wall = self.generate([prepared])
                    self.advance(ep, prepared, gens[0], wall)
            except ModelError as exc:
                self.finish(ep, outcome="model_error", error=exc)
                raise
            except EnvError as exc:
                self.finish(ep, outcome="env_error", error=exc)
                raise
            except KeyboardInterrupt as exc:  # a second Ctrl+C while the step ran
                self.finish(ep, outcome="interrupted", error=exc)
                raise
            except Exception as exc:  # a bug: keep what was recorded, then let it surface
                self.finish(ep, outcome="crashed", error=exc)
                raise
            return self.finish(ep)

    # -- helpers -------------------------------------------------------------------------------------------

    def _confirm_image(self, ep: Episode, decision: Decision) -> Path | None:
        """Write the step's annotated screenshot now, so the confirmation can say where to look.

        It goes where the recorder puts the step's annotated image (which later rewrites it with the same
        drawing), so the path stays valid in the trajectory; it is written even when the store does not
        annotate, since the question needs it. Unrecorded episodes have no folder: ``None``.
        """
        if ep.recorder is None:
            return None
        path = ep.recorder.path / annotated_name(ep.index)
        annotate(ep.obs.screenshot, decision.screen_actions).save(path, compress_level=PNG_COMPRESS_LEVEL)
        return path

    def _unexecuted(self, raw: str) -> list[ActionRecord]:
        """The actions of a reply that failed before execution, in model space, for the record."""
        try:
            parsed = self.parser.parse(raw)
        except ActionParseError:
            return []
        return [ActionRecord(model=a, skipped="not executable") for a in parsed.actions]

    def _remember_screen(self, ep: Episode, screenshot: Image.Image, changed: bool | None = None) -> None:
        """Keep the screenshot for later prompts unless it repeats the last one kept."""
        if changed is None:
            changed = not ep.screens or not same_screen(ep.screens[-1], screenshot)
        if changed:
            ep.screens.append(screenshot)
            ep.screen_files.append(f"step_{ep.index:03d}.png")  # the step whose prompt shows it first

    def _update(
        self,
        ep: Episode,
        record: StepRecord,
        decision: Decision | None,
        execution: Execution | None,
        error: ActionError | None,
    ) -> None:
        summary = "; ".join(describe(a) for a in decision.parsed.actions) if decision else ""
        user_reply: str | None = None
        if execution is not None:
            ep.obs, ep.info = execution.obs, execution.info
            ep.capture_seconds = execution.capture_seconds
            if "success" in execution.info:
                ep.success = bool(execution.info["success"])
            if execution.answer is not None:
                ep.answer = execution.answer
            user_reply = "\n".join(execution.user_answers) or None
            self._remember_screen(ep, execution.obs.screenshot, record.screen_changed)
            if ep.frames is not None:
                ep.frames.add(self.clock() - ep.started, execution.obs.screenshot, f"step_{ep.index:03d}.png")
            if error is None and (execution.executed or self.safety.dry_run):
                key = action_key(decision.screen_actions) if decision else ""
                ep.repeats.observe(key, unchanged=not record.screen_changed)
        if error is not None:
            # The profile's feedback text adds how to reply; the message says what went wrong.
            message = self.secrets.mask(f"{type(error).__name__}: {error}")
        else:
            message = None
        ep.history.append(
            HistoryEntry(
                reply=record.raw,
                thought=record.thought,
                action_summary=summary,
                error=message,
                user_reply=user_reply,
            )
        )
        ep.stop = self._stop_reason(ep, execution)

    def _stop_reason(self, ep: Episode, execution: Execution | None) -> StopReason | None:
        if execution is not None and execution.stop is not None:
            return execution.stop
        if ep.consecutive_errors > self.config.max_retries:
            return "errors"
        if ep.repeats.count >= self.config.repeat_limit:
            return "loop"
        if self.stop.requested:
            return "interrupted"
        limit = self.config.time_limit
        if limit is not None and self.clock() - ep.started >= limit:
            return "time_limit"
        if ep.index >= self.config.max_steps:
            return "max_steps"
        return None
