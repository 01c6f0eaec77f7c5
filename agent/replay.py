"""Replay a recorded episode's screen-space actions on an env, for regression checks.

Without ``execute`` nothing is created or touched: the plan (each step's actions in screen pixels) is
listed and checked against the recorded screen size. With ``execute`` the env is made from the recorded
spec (or another one), reset with the recorded task and seed, and every action that ran in the original
episode runs again; after each step the screen, the reward and the termination are compared with the
recording, and every difference is reported as a :class:`Divergence`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image
from pydantic import BaseModel, ConfigDict

from vlagent.actions.errors import ActionError
from vlagent.actions.models import Action
from vlagent.agent.describe import describe
from vlagent.agent.trajectory import EpisodeMeta, StepRecord, load_episode, same_screen


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
    """What a replay did: the plan, whether it ran, and the divergences found.

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

    @property
    def diverged(self) -> bool:
        return bool(self.divergences)


def planned_actions(meta: EpisodeMeta, step: StepRecord) -> list[Action]:
    """The screen-space actions of a step to replay: those that ran (or, for a dry run, would have)."""
    out: list[Action] = []
    for a in step.actions:
        if a.screen is None or a.screen.type in ("call_user",):
            continue
        if a.executed or (meta.dry_run and a.skipped == "dry-run"):
            out.append(a.screen)
    return out


def _recorded_screen(folder: Path, name: str | None) -> Image.Image | None:
    if not name or not (folder / name).exists():
        return None
    with Image.open(folder / name) as im:
        return im.convert("RGB")


def _screen_divergence(step: int, what: str, recorded: Image.Image | None, actual: Image.Image) -> list[Divergence]:
    if recorded is None or same_screen(recorded, actual.convert("RGB")):
        return []
    return [Divergence(step=step, what=what, expected=f"{recorded.width}x{recorded.height} as recorded",
                       actual="different pixels" if recorded.size == actual.size else f"{actual.width}x{actual.height}")]


def replay_episode(
    folder: str | Path,
    *,
    execute: bool = False,
    env: Any = None,
    env_spec: str | None = None,
    env_kwargs: dict[str, Any] | None = None,
) -> ReplayReport:
    """Replay one episode folder (see the module docstring).

    ``env`` is an env object to use (the caller closes it); otherwise one is made from ``env_spec`` (default:
    the recorded spec) and ``env_kwargs`` (default: the recorded ones) and closed afterwards.

    Example:
        >>> import tempfile
        >>> from vlagent.agent.trajectory import EpisodeRecorder
        >>> root = Path(tempfile.mkdtemp())
        >>> _ = EpisodeRecorder(root, EpisodeMeta(episode_id="e", task="t", env="synthetic:login")).close(outcome="finished")
        >>> replay_episode(root).executed
        False
    """
    folder = Path(folder)
    meta, steps = load_episode(folder)
    plan = [(s.index, describe(a)) for s in steps for a in planned_actions(meta, s)]
    width, height = meta.geometry.get("width"), meta.geometry.get("height")
    divergences: list[Divergence] = []
    if width and height:
        for s in steps:
            for a in planned_actions(meta, s):
                for p in a.points().values():
                    if not (0 <= p.x < width and 0 <= p.y < height):
                        divergences.append(
                            Divergence(step=s.index, what="point off the recorded screen", expected=f"{width}x{height}",
                                       actual=f"({p.x:g}, {p.y:g})")
                        )
    spec = env_spec or meta.env
    if not execute:
        return ReplayReport(episode=meta.episode_id, env=spec, executed=False, plan=plan, divergences=divergences)
    owned = env is None
    if owned:
        from vlagent.envs.registry import make_env

        env = make_env(spec, **(meta.env_kwargs if env_kwargs is None else env_kwargs))
    try:
        divergences.extend(_execute(env, meta, steps, folder))
    finally:
        if owned:
            env.close()
    return ReplayReport(episode=meta.episode_id, env=spec, executed=True, plan=plan, divergences=divergences)


def _execute(env: Any, meta: EpisodeMeta, steps: list[StepRecord], folder: Path) -> list[Divergence]:
    out: list[Divergence] = []
    obs, _ = env.reset(seed=meta.seed, options={"task": meta.task})
    compare_screens = not meta.dry_run
    if steps and compare_screens:
        out.extend(_screen_divergence(0, "initial screen", _recorded_screen(folder, steps[0].screenshot), obs.screenshot))
    ended = False
    for i, step in enumerate(steps):
        actions = planned_actions(meta, step)
        if not actions:
            continue
        if ended:
            out.append(Divergence(step=step.index, what="episode", expected="still running", actual="ended"))
            break
        reward, terminated, truncated = 0.0, False, False
        for action in actions:
            try:
                obs, r, terminated, truncated, _ = env.step(action)
            except ActionError as exc:
                out.append(Divergence(step=step.index, what=f"{describe(action)}", expected="executed",
                                      actual=f"{type(exc).__name__}: {exc}"))
                return out
            reward += float(r)
            if terminated or truncated:
                break
        ended = terminated or truncated
        if not meta.dry_run:
            if abs(reward - step.reward) > 1e-9:
                out.append(Divergence(step=step.index, what="reward", expected=f"{step.reward:g}", actual=f"{reward:g}"))
            if (terminated, truncated) != (step.terminated, step.truncated):
                out.append(Divergence(step=step.index, what="terminated/truncated",
                                      expected=f"{step.terminated}/{step.truncated}", actual=f"{terminated}/{truncated}"))
        if compare_screens:
            name = steps[i + 1].screenshot if i + 1 < len(steps) else "final.png"
            out.extend(_screen_divergence(step.index, "screen after the step", _recorded_screen(folder, name),
                                          obs.screenshot))
    return out
