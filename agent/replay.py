"""Replay a recorded episode's screen-space actions on an env, for regression checks.

Without ``execute`` nothing is created or touched: the plan (each step's actions in screen pixels) is
listed and checked against the recorded screen size and the safety policy's deny-list. With ``execute``
the env is made from the recorded spec (or another one), reset with the recorded task and seed, and every
action that ran in the original episode runs again, each through the same :class:`SafetyPolicy` as
``vlagent run`` (deny-list, confirmation, dry run: a forged trajectory gets no further than a model reply
would) and honouring a stop request (Ctrl+C, the stop hotkey) before every action.

Divergence: after each step the replayed screen is compared with the recorded one, and the reward and the
termination with the recorded ones (the latter only when the recording executed its actions). Two screens
differ when the fraction of pixels that are not identical exceeds a tolerance: 0 (exact) for envs that draw
their own screens deterministically (synthetic apps, gym, MiniWoB++), :data:`LIVE_SCREEN_TOLERANCE` for a
real desktop or phone, where a clock or a blinking caret changes a few pixels between any two captures
(``tolerance`` overrides it). A refused or failed action, a point off the recorded screen and an episode
that ended early diverge too. The replay stops at the first step that diverges (before executing anything
more: the screen is no longer the one the recorded actions were aimed at) unless ``keep_going``.

Recorded screenshots are checked before anything runs: a file that is not an image is a
:class:`TrajectoryError`, not a traceback half-way through the episode.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict

from vlagent.actions.errors import ActionError
from vlagent.actions.models import Action
from vlagent.agent.annotate import annotate
from vlagent.agent.describe import describe
from vlagent.agent.errors import ActionRefused, TrajectoryError
from vlagent.agent.safety import ConfirmRequest, SafetyPolicy, StopFlag
from vlagent.agent.trajectory import (
    PNG_COMPRESS_LEVEL,
    EpisodeMeta,
    StepRecord,
    annotated_name,
    find_episodes,
    load_episode,
)
from vlagent.envs.registry import live_kinds

#: The share of pixels that may differ on a live screen before a replay counts as diverged (1%: a clock or a
#: caret passes, a window that opened or a page that changed does not).
LIVE_SCREEN_TOLERANCE = 0.01


class Divergence(BaseModel):
    """One way the replay differs from the recording.

    Example:
        >>> str(Divergence(step=3, what="reward", expected="1", actual="0"))
        'step 3: reward: recorded 1, replayed 0'
    """

    model_config = ConfigDict(extra="forbid")

    step: int
    what: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"step {self.step}: {self.what}: recorded {self.expected}, replayed {self.actual}"


class ReplayReport(BaseModel):
    """What a replay did: the plan, whether it ran, the divergences found and why it stopped early.

    ``stopped``: ``None`` when every step was replayed, else why not (the first divergence, a stop request).

    Example:
        >>> ReplayReport(episode="e", env="synthetic:login", executed=False, plan=[(0, "wait 1s")], divergences=[]).diverged
        False
    """

    model_config = ConfigDict(extra="forbid")

    episode: str
    env: str
    executed: bool
    plan: list[tuple[int, str]]
    divergences: list[Divergence]
    stopped: str | None = None
    tolerance: float = 0.0

    @property
    def diverged(self) -> bool:
        return bool(self.divergences)


def episodes_to_replay(root: str | Path) -> list[Path]:
    """The episode folders under ``root``; none at all is a :class:`TrajectoryError`, as for ``report``.

    Example:
        >>> episodes_to_replay(tempfile.mkdtemp())
        Traceback (most recent call last):
        ...
        vlagent.agent.errors.TrajectoryError: nothing to replay: no episodes (meta.json) under ...
    """
    folders = find_episodes(Path(root))
    if not folders:
        raise TrajectoryError(f"nothing to replay: no episodes (meta.json) under {root}")
    return folders


def make_replay_env(meta: EpisodeMeta, env_spec: str | None = None, env_kwargs: dict[str, Any] | None = None) -> Any:
    """The env to replay on: ``env_spec`` (default: the recorded spec) with ``env_kwargs`` (default: recorded)."""
    from vlagent.envs.registry import make_env

    return make_env(env_spec or meta.env, **(meta.env_kwargs if env_kwargs is None else env_kwargs))


def planned_actions(meta: EpisodeMeta, step: StepRecord) -> list[Action]:
    """The screen-space actions of a step to replay: those that ran (or, for a dry run, would have)."""
    out: list[Action] = []
    for a in step.actions:
        if a.screen is None or a.screen.type in ("call_user",):
            continue
        if a.executed or (meta.dry_run and a.skipped == "dry-run"):
            out.append(a.screen)
    return out


def default_tolerance(env_spec: str) -> float:
    """The screen tolerance for an env spec: :data:`LIVE_SCREEN_TOLERANCE` on live screens, else exact.

    A screen is live when the registry marks its kind so (:func:`vlagent.envs.registry.live_kinds`).

    Example:
        >>> default_tolerance("desktop:1"), default_tolerance("synthetic:login")
        (0.01, 0.0)
    """
    return LIVE_SCREEN_TOLERANCE if env_spec.split(":", 1)[0] in live_kinds() else 0.0


def screen_difference(recorded: Image.Image, actual: Image.Image) -> float:
    """The fraction of pixels whose colour differs (1.0 when the sizes differ).

    Example:
        >>> a = Image.new("RGB", (10, 10)); b = a.copy(); b.putpixel((0, 0), (9, 9, 9))
        >>> screen_difference(a, a.copy()), screen_difference(a, b), screen_difference(a, Image.new("RGB", (5, 5)))
        (0.0, 0.01, 1.0)
    """
    if recorded.size != actual.size:
        return 1.0
    a = np.asarray(recorded.convert("RGB"))
    b = np.asarray(actual.convert("RGB"))
    return float((a != b).any(axis=2).mean())


def _image_files(folder: Path, meta: EpisodeMeta, steps: list[StepRecord]) -> Iterator[Path]:
    """The recorded screenshots a replay compares with (those that exist: a crash can lose the last ones)."""
    for name in [s.screenshot for s in steps] + ["final.png"]:
        if name and (folder / name).exists():
            yield folder / name


def check_images(folder: Path, meta: EpisodeMeta, steps: list[StepRecord]) -> None:
    """Raise :class:`TrajectoryError` for a recorded screenshot that is not a readable image."""
    for path in _image_files(folder, meta, steps):
        try:
            with Image.open(path) as im:
                im.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise TrajectoryError(f"{path} is not a readable image ({type(exc).__name__}: {exc})") from exc


def _recorded_screen(folder: Path, name: str | None) -> Image.Image | None:
    if not name or not (folder / name).exists():
        return None
    try:
        with Image.open(folder / name) as im:
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:  # changed since check_images
        raise TrajectoryError(f"{folder / name} is not a readable image ({type(exc).__name__}: {exc})") from exc


def replay_episode(
    folder: str | Path,
    *,
    execute: bool = False,
    env: Any = None,
    env_spec: str | None = None,
    env_kwargs: dict[str, Any] | None = None,
    safety: SafetyPolicy | None = None,
    keep_going: bool = False,
    tolerance: float | None = None,
    stop: StopFlag | None = None,
) -> ReplayReport:
    """Replay one episode folder (see the module docstring).

    ``env`` is an env object to use (the caller closes it); otherwise one is made from ``env_spec`` (default:
    the recorded spec) and ``env_kwargs`` (default: the recorded ones) and closed afterwards. ``safety``
    defaults to :class:`SafetyPolicy`'s defaults (the deny-list, no questions); with ``safety.dry_run``
    nothing is executed even with ``execute``. ``tolerance`` is the share of pixels that may differ (default:
    :func:`default_tolerance` of the spec).

    Example:
        >>> from vlagent.agent.trajectory import EpisodeRecorder
        >>> root = Path(tempfile.mkdtemp())
        >>> _ = EpisodeRecorder(root, EpisodeMeta(episode_id="e", task="t", env="synthetic:login")).close(outcome="finished")
        >>> replay_episode(root).executed
        False
    """
    folder = Path(folder)
    meta, steps = load_episode(folder)
    safety = safety or SafetyPolicy()
    spec = env_spec or meta.env
    tol = default_tolerance(spec) if tolerance is None else tolerance
    if not 0.0 <= tol <= 1.0:
        raise ValueError(f"tolerance is a share of pixels in [0, 1], got {tol}")
    plan = [(s.index, describe(a)) for s in steps for a in planned_actions(meta, s)]
    static = _static_divergences(meta, steps, safety)
    run = execute and not safety.dry_run
    report = ReplayReport(episode=meta.episode_id, env=spec, executed=run, plan=plan, divergences=static,
                          tolerance=tol)
    if not run:
        return report
    check_images(folder, meta, steps)
    owned = env is None
    if owned:
        env = make_replay_env(meta, env_spec, env_kwargs)
    try:
        replay = _Replay(env, meta, steps, folder, safety=safety, keep_going=keep_going, tolerance=tol,
                         stop=stop or StopFlag(), divergences=list(static))
        replay.run()
    finally:
        if owned:
            env.close()
    return report.model_copy(update={"divergences": replay.divergences, "stopped": replay.stopped})


def _static_divergences(meta: EpisodeMeta, steps: list[StepRecord], safety: SafetyPolicy) -> list[Divergence]:
    """What is wrong with the plan before anything runs: points off the recorded screen, denied hotkeys."""
    out: list[Divergence] = []
    width, height = meta.geometry.get("width"), meta.geometry.get("height")
    for s in steps:
        for a in planned_actions(meta, s):
            try:
                safety.check(a)
            except ActionRefused as exc:
                out.append(Divergence(step=s.index, what=describe(a), expected="executed", actual=f"refused: {exc.reason}"))
            if not (width and height):
                continue
            for p in a.points().values():
                if not (0 <= p.x < width and 0 <= p.y < height):
                    out.append(Divergence(step=s.index, what="point off the recorded screen",
                                          expected=f"{width}x{height}", actual=f"({p.x:g}, {p.y:g})"))
    return out


@dataclass
class _Replay:
    """One executed replay: the env, the recording and what has been found so far."""

    env: Any
    meta: EpisodeMeta
    steps: list[StepRecord]
    folder: Path
    safety: SafetyPolicy
    keep_going: bool
    tolerance: float
    stop: StopFlag
    divergences: list[Divergence] = field(default_factory=list)
    stopped: str | None = None
    _confirm_dir: Path | None = None

    def run(self) -> None:
        obs, _ = self.env.reset(seed=self.meta.seed, options={"task": self.meta.task})
        compare = not self.meta.dry_run  # a dry-run recording never changed its screen: nothing to compare
        if self.steps and compare and self._diverged(self._screen(0, "initial screen", self.steps[0].screenshot, obs)):
            return
        ended = False
        for i, step in enumerate(self.steps):
            actions = planned_actions(self.meta, step)
            if not actions:
                continue
            if ended:
                self.divergences.append(Divergence(step=step.index, what="episode", expected="still running",
                                                   actual="ended"))
                self.stopped = f"the episode ended before step {step.index}"
                return
            if self._diverged([d for d in self.divergences if d.step == step.index]):  # static: nothing runs
                return
            outcome = self._step(step, actions, obs)
            if outcome is None:  # stopped by the user
                return
            obs, reward, terminated, truncated, found = outcome
            ended = terminated or truncated
            if compare and not found:
                if abs(reward - step.reward) > 1e-9:
                    found.append(Divergence(step=step.index, what="reward", expected=f"{step.reward:g}",
                                            actual=f"{reward:g}"))
                if (terminated, truncated) != (step.terminated, step.truncated):
                    found.append(Divergence(step=step.index, what="terminated/truncated",
                                            expected=f"{step.terminated}/{step.truncated}",
                                            actual=f"{terminated}/{truncated}"))
                name = self.steps[i + 1].screenshot if i + 1 < len(self.steps) else "final.png"
                found.extend(self._screen(step.index, "screen after the step", name, obs))
            if self._diverged(found):
                return

    def _diverged(self, found: list[Divergence]) -> bool:
        """Record new divergences; whether the replay stops here (it does at the first, unless keep_going)."""
        self.divergences.extend(d for d in found if d not in self.divergences)
        if found and not self.keep_going:
            self.stopped = f"first divergence at step {found[0].step} (--keep-going replays on)"
            return True
        return False

    def _step(self, step: StepRecord, actions: list[Action], obs: Any) -> tuple[Any, float, bool, bool, list[Divergence]] | None:
        """Run one recorded step's actions, each through the safety policy; ``None`` when a stop was asked."""
        reward, terminated, truncated = 0.0, False, False
        for action in actions:
            if self.stop.requested:
                self.stopped = f"stopped by {self.stop.by} at step {step.index}, before {describe(action)}"
                return None
            try:
                self.safety.authorize(ConfirmRequest(action, step=step.index, thought=step.thought,
                                                     screenshot=self._confirm_image(step, actions, obs)))
                obs, r, terminated, truncated, _ = self.env.step(action)
            except ActionRefused as exc:
                return obs, reward, terminated, truncated, [
                    Divergence(step=step.index, what=describe(action), expected="executed", actual=f"refused: {exc.reason}")
                ]
            except ActionError as exc:
                return obs, reward, terminated, truncated, [
                    Divergence(step=step.index, what=describe(action), expected="executed",
                               actual=f"{type(exc).__name__}: {exc}")
                ]
            reward += float(r)
            if terminated or truncated:
                break
        return obs, reward, terminated, truncated, []

    def _confirm_image(self, step: StepRecord, actions: list[Action], obs: Any) -> Path | None:
        """The live screen with the step's actions drawn on it, for a confirmation (only when one is asked).

        Drawn on the screen the replay sees now, not the recorded one: that is where the action will land.
        Written to a temporary folder, so the recording stays as it was.
        """
        if not any(self.safety.needs_confirmation(a) for a in actions):
            return None
        if self._confirm_dir is None:
            self._confirm_dir = Path(tempfile.mkdtemp(prefix=f"vlagent-replay-{self.meta.episode_id}-"))
        path = self._confirm_dir / annotated_name(step.index)
        if not path.exists():
            annotate(obs.screenshot, actions).save(path, compress_level=PNG_COMPRESS_LEVEL)
        return path

    def _screen(self, step: int, what: str, name: str | None, obs: Any) -> list[Divergence]:
        recorded = _recorded_screen(self.folder, name)
        if recorded is None:
            return []
        actual = obs.screenshot
        share = screen_difference(recorded, actual)
        if share <= self.tolerance:
            return []
        if recorded.size != actual.size:
            got = f"{actual.width}x{actual.height}"
        else:
            got = f"{share:.2%} of the pixels different (tolerance {self.tolerance:.2%})"
        return [Divergence(step=step, what=what, expected=f"{recorded.width}x{recorded.height} as recorded",
                           actual=got)]
