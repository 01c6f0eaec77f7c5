"""Evaluation: suites of episodes run in parallel, batched model calls, resumable results.

A suite is a deterministic list of :class:`EpisodeSpec` (env spec, env kwargs, task, seed) built from the
environments: ``synthetic`` (every synthetic app at desktop, 4K and phone sizes), ``gym`` (FrozenLake,
Blackjack, MiniGrid, Taxi), ``miniwob`` (click and typing tasks the MiniWoB++ oracle knows) and ``robot``
(every MuJoCo tabletop task at two camera sizes).
``--episodes N`` takes the first N of a suite's cycle (combination ``k % len`` with seed ``k // len``).

Layout of an evaluation folder::

    OUT/episodes/<episode_id>/   one trajectory folder per episode (see trajectory.py)
    OUT/results.json             per-suite summary and one line per episode
    OUT/index.html               the report

A rerun with the same ``OUT`` skips episodes whose ``meta.json`` says they ended (outcomes that did not
get a fair run, ``interrupted``/``model_error``/``env_error``, are run again).
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from vlagent.agent.batch import EpisodeJob, run_batched
from vlagent.agent.errors import SuiteError, TrajectoryError
from vlagent.agent.loop import RETRYABLE_OUTCOMES, Agent, EpisodeResult, TrajectoryStore
from vlagent.agent.metrics import SuiteSummary, summarize
from vlagent.agent.report import write_report
from vlagent.agent.safety import StopFlag
from vlagent.agent.trajectory import EpisodeMeta, load_episode, now, read_meta
from vlagent.model.chat import ModelBackend

SYNTHETIC_SIZES: tuple[str, ...] = ("desktop", "4k", "phone")
GYM_GAMES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("FrozenLake-v1", {"is_slippery": False}),
    ("Blackjack-v1", {}),
    ("MiniGrid-Empty-5x5-v0", {}),
    ("Taxi-v4", {}),
)
#: Camera sizes of the robot suite (``size`` keyword of ``robot:TASK``).
ROBOT_SIZES: tuple[str, ...] = ("640x480", "1280x720")
MINIWOB_TASKS: tuple[str, ...] = (
    "click-test", "click-test-2", "click-button", "click-link", "click-dialog", "focus-text", "enter-text",
    "enter-password", "login-user", "click-checkboxes",
)


@dataclass(frozen=True)
class EpisodeSpec:
    """One episode of a suite.

    Example:
        >>> EpisodeSpec("synthetic", "synthetic:login", {"size": "phone"}, "", 3).episode_id
        'synthetic-login-phone-s3'
    """

    suite: str
    env: str
    env_kwargs: dict[str, Any] = field(default_factory=dict, hash=False)
    task: str = ""
    seed: int = 0

    @property
    def episode_id(self) -> str:
        name = self.env.split(":", 1)[-1]
        size = self.env_kwargs.get("size")
        parts = [self.suite, name] + ([str(size)] if size else []) + [f"s{self.seed}"]
        return "-".join(parts).replace("/", "_").replace(":", "_").replace(" ", "_")


def _synthetic_apps() -> list[str]:
    from vlagent.envs.synthetic import APPS

    return sorted(APPS)


def _combos(suite: str) -> list[tuple[str, dict[str, Any]]]:
    if suite == "synthetic":
        # Size-major, so that `--episodes 5` covers every app (at desktop size), not one app at every size.
        return [(f"synthetic:{app}", {"size": size}) for size in SYNTHETIC_SIZES for app in _synthetic_apps()]
    if suite == "gym":
        out: list[tuple[str, dict[str, Any]]] = []
        for game, kwargs in GYM_GAMES:
            out.append((f"gym:{game}", dict(kwargs)))
        return out
    if suite == "miniwob":
        return [(f"miniwob:{task}", {}) for task in MINIWOB_TASKS]
    if suite == "robot":
        from vlagent.envs.robot.tasks import TASKS as ROBOT_TASKS  # imports no mujoco

        return [(f"robot:{task}", {"size": size}) for size in ROBOT_SIZES for task in ROBOT_TASKS]
    raise SuiteError(f"unknown suite {suite!r}; use one of {', '.join(SUITES)} (comma-separated for several)")


SUITES: tuple[str, ...] = ("synthetic", "gym", "miniwob", "robot")


def build_suite(name: str, episodes: int | None = None, *, seed: int = 0) -> list[EpisodeSpec]:
    """The first ``episodes`` specs of suite ``name`` (default: one per env combination).

    Example:
        >>> [s.episode_id for s in build_suite("gym", 5)][-1]
        'gym-FrozenLake-v1-s1'
    """
    if episodes is not None and episodes < 1:
        raise SuiteError(f"episodes must be >= 1, got {episodes}")
    combos = _combos(name)
    n = len(combos) if episodes is None else episodes
    return [
        EpisodeSpec(name, combos[k % len(combos)][0], combos[k % len(combos)][1], "", seed + k // len(combos))
        for k in range(n)
    ]


def build_suites(names: str, episodes: int | None = None, *, seed: int = 0) -> list[EpisodeSpec]:
    """Several comma-separated suites; ``episodes`` applies to each."""
    out: list[EpisodeSpec] = []
    for name in (n.strip() for n in names.split(",")):
        if name:
            out.extend(build_suite(name, episodes, seed=seed))
    if not out:
        raise SuiteError("no suite named")
    return out


class EnvPool:
    """Keeps envs alive between episodes (a Chromium per MiniWoB++ env is slow to start).

    Example:
        >>> pool = EnvPool(make=lambda spec, **kw: object())
        >>> env = pool.acquire("x", {}); pool.release("x", {}, env); pool.acquire("x", {}) is env
        True
    """

    def __init__(self, make: Callable[..., Any] | None = None) -> None:
        self._make = make
        self._free: dict[str, list[Any]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(spec: str, kwargs: dict[str, Any]) -> str:
        return spec + json.dumps(kwargs, sort_keys=True, default=str)

    def acquire(self, spec: str, kwargs: dict[str, Any]) -> Any:
        with self._lock:
            free = self._free.get(self._key(spec, kwargs))
            if free:
                return free.pop()
        if self._make is None:
            from vlagent.envs.registry import make_env

            self._make = make_env
        return self._make(spec, **kwargs)

    def release(self, spec: str, kwargs: dict[str, Any], env: Any) -> None:
        with self._lock:
            self._free.setdefault(self._key(spec, kwargs), []).append(env)

    def close(self) -> None:
        with self._lock:
            envs = [e for free in self._free.values() for e in free]
            self._free.clear()
        for env in envs:
            close = getattr(env, "close", None)
            if callable(close):
                close()


class EpisodeLine(BaseModel):
    """One episode in ``results.json``.

    Example:
        >>> EpisodeLine.of(EpisodeMeta(episode_id="e", task="t", env="synthetic:login", outcome="loop")).outcome
        'loop'
    """

    model_config = ConfigDict(extra="forbid")

    episode_id: str
    suite: str | None
    env: str
    env_kwargs: dict[str, Any]
    seed: int | None
    task: str
    outcome: str | None
    success: bool | None
    steps: int
    total_reward: float
    parse_errors: int

    @classmethod
    def of(cls, meta: EpisodeMeta) -> EpisodeLine:
        return cls(
            episode_id=meta.episode_id, suite=meta.suite, env=meta.env, env_kwargs=meta.env_kwargs, seed=meta.seed,
            task=meta.task, outcome=meta.outcome, success=meta.success, steps=meta.steps,
            total_reward=meta.total_reward, parse_errors=meta.parse_errors,
        )


class EvalResults(BaseModel):
    """``results.json``: the configuration, the per-suite summary and the episodes.

    Example:
        >>> EvalResults(created="now", config={}, suites=[], episodes=[], ran=0, skipped=0, seconds=0.0,
        ...             steps_per_second=0.0).ran
        0
    """

    model_config = ConfigDict(extra="forbid")

    created: str
    config: dict[str, Any]
    suites: list[SuiteSummary]
    episodes: list[EpisodeLine]
    ran: int
    skipped: int
    seconds: float
    steps_per_second: float


@dataclass
class _Progress:
    """Counters the progress bar shows (updated from the runner's callbacks)."""

    total: int
    done: int = 0
    successes: int = 0
    steps: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def rate(self) -> float:
        return self.steps / max(time.perf_counter() - self.started, 1e-9)


def _finished_meta(folder: Path) -> EpisodeMeta | None:
    try:
        meta = read_meta(folder)
    except TrajectoryError:
        return None
    if meta.done and meta.outcome not in RETRYABLE_OUTCOMES:
        return meta
    return None


def evaluate(
    specs: Sequence[EpisodeSpec],
    *,
    backend: ModelBackend,
    profile: str,
    out: str | Path,
    workers: int = 4,
    progress: bool = True,
    pool: EnvPool | None = None,
    stop: StopFlag | None = None,
    config: dict[str, Any] | None = None,
    report: bool = True,
    **agent_kwargs: Any,
) -> EvalResults:
    """Run the episodes not yet finished under ``out``, ``workers`` at a time, and write results and report.

    ``agent_kwargs`` go to every :class:`Agent` (``max_steps``, ``history_images``, ``gen_options``...).
    """
    out = Path(out)
    episodes_dir = out / "episodes"
    episodes_dir.mkdir(parents=True, exist_ok=True)
    store = TrajectoryStore(episodes_dir)
    own_pool = pool is None
    pool = pool or EnvPool()
    stop = stop or StopFlag()
    ids = [s.episode_id for s in specs]
    if len(set(ids)) != len(ids):
        raise SuiteError("episode ids repeat: two specs share suite, env, size and seed")

    todo: list[EpisodeSpec] = []
    skipped = 0
    for spec in specs:
        folder = store.path_for(spec.episode_id)
        if _finished_meta(folder) is not None:
            skipped += 1
            continue
        if folder.exists():
            shutil.rmtree(folder)  # a torn or retryable episode starts over
        todo.append(spec)

    def job(spec: EpisodeSpec) -> EpisodeJob:
        def make_agent() -> Agent:
            env = pool.acquire(spec.env, spec.env_kwargs)
            return Agent(backend, profile, env, recorder=store, stop=stop, env_spec=spec.env,
                         env_kwargs=spec.env_kwargs, suite=spec.suite, **agent_kwargs)

        return EpisodeJob(spec.episode_id, spec.task, spec.seed, make_agent,
                          release=lambda agent: pool.release(spec.env, spec.env_kwargs, agent.env))

    counters = _Progress(total=len(todo))
    t0 = time.perf_counter()
    try:
        with _progress_bar(counters, enabled=progress) as refresh:

            def on_done(result: EpisodeResult) -> None:
                counters.done += 1
                counters.successes += bool(result.success)
                refresh()

            def on_step(_: Any) -> None:
                counters.steps += 1
                refresh()

            # gym's toy-text games render with pygame, which is not thread-safe: their env work stays serial.
            threads = 1 if any(s.env.startswith("gym:") for s in todo) else None
            run_batched((job(s) for s in todo), workers=workers, threads=threads, stop=stop, on_done=on_done,
                        on_step=on_step)
    finally:
        if own_pool:
            pool.close()
    seconds = time.perf_counter() - t0
    return _write_results(out, specs, store, config=config or {}, ran=len(todo), skipped=skipped,
                          seconds=seconds, steps=counters.steps, report=report)


def _write_results(
    out: Path, specs: Sequence[EpisodeSpec], store: TrajectoryStore, *, config: dict[str, Any], ran: int,
    skipped: int, seconds: float, steps: int, report: bool,
) -> EvalResults:
    loaded = []
    for spec in specs:
        folder = store.path_for(spec.episode_id)
        if (folder / "meta.json").exists():
            loaded.append(load_episode(folder))
    results = EvalResults(
        created=now(),
        config=config,
        suites=summarize(loaded),
        episodes=[EpisodeLine.of(meta) for meta, _ in loaded],
        ran=ran,
        skipped=skipped,
        seconds=seconds,
        steps_per_second=steps / seconds if seconds > 0 else 0.0,
    )
    (out / "results.json").write_text(results.model_dump_json(indent=2), encoding="utf-8")
    if report and loaded:
        write_report(out, title=f"vlagent eval: {out.name}")
    return results


class _progress_bar:  # noqa: N801 - used as a context manager, reads like a function
    """A rich progress bar (episodes done, success so far, steps/s), or nothing when disabled."""

    def __init__(self, counters: _Progress, *, enabled: bool) -> None:
        self.counters = counters
        self.enabled = enabled and counters.total > 0
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Callable[[], None]:
        if not self.enabled:
            return lambda: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]eval"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
        )
        self._task = self._progress.add_task("eval", total=self.counters.total, stats="")
        self._progress.start()
        return self.refresh

    def refresh(self) -> None:
        c = self.counters
        rate = c.successes / c.done if c.done else 0.0
        self._progress.update(
            self._task, completed=c.done,
            stats=f"success {c.successes}/{c.done} ({rate:.0%})  {c.rate:.1f} steps/s",
        )

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self.refresh()
            self._progress.stop()
