"""Evaluation: suites of episodes run in parallel, batched model calls, resumable results you can trust.

The episodes come from :mod:`vlagent.agent.suites` (named suites, env specs, TOML suite files).

Layout of an evaluation folder::

    OUT/config.json              the configuration the episodes were run with (the resume key)
    OUT/episodes/<episode_id>/   one trajectory folder per episode (see trajectory.py)
    OUT/results.json             per-suite summary and one line per episode
    OUT/index.html               the report

A rerun with the same ``OUT`` skips episodes whose ``meta.json`` says they ended (outcomes that did not
get a fair run, ``interrupted``/``model_error``/``env_error``, are run again), but only under the same
configuration: backend, model, profile, pixel budget, history images, retries, decoding options and the
episode list (each episode's env, keywords, task, seed and step limit). A rerun with another one into a
folder that holds episodes raises :class:`ResumeMismatch`, naming what differs, and touches nothing.

Ctrl+C stops every live episode after its current step (``interrupted``) and starts no new one; the results
count only the episodes that ran, leave the interrupted ones out of the rates and say how many there were.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from vlagent.agent.batch import EpisodeJob, run_batched
from vlagent.agent.config import setting_default
from vlagent.agent.errors import ResumeMismatch, SuiteError, TrajectoryError
from vlagent.agent.loop import RETRYABLE_OUTCOMES, Agent, EpisodeResult, TrajectoryStore, model_name
from vlagent.agent.metrics import INTERRUPTED, SuiteSummary, summarize
from vlagent.agent.report import write_report
from vlagent.agent.safety import StopFlag
from vlagent.agent.suites import EpisodeSpec
from vlagent.agent.trajectory import EpisodeMeta, json_safe, load_episode, now, read_meta
from vlagent.model.chat import GenerationOptions, ModelBackend

CONFIG_FILE = "config.json"


class EvalConfig(BaseModel):
    """What an evaluation's episodes depend on: a rerun into the same folder resumes only under an equal one.

    The agent settings are the effective ones (a pixel budget left to the profile counts as the profile's),
    and every episode carries its own step limit, so ``--max-steps 30`` and the default 30 are one config.

    Example:
        >>> from vlagent.agent.scripted import OraclePolicy
        >>> from vlagent.model.python_backend import PythonBackend
        >>> specs = [EpisodeSpec("s", "synthetic:login")]
        >>> a = EvalConfig.of(PythonBackend(OraclePolicy(), spec="m:a"), "json", specs, {})
        >>> b = EvalConfig.of(PythonBackend(OraclePolicy(), spec="m:b"), "json", specs, {"history_images": 3})
        >>> a.differences(b)
        ["model 'm:a' there, 'm:b' now", 'history_images 2 there, 3 now']
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str
    model: str
    profile: str
    min_pixels: int
    max_pixels: int
    history_images: int
    max_retries: int
    repeat_limit: int
    dry_run: bool
    time_limit: float | None
    generation: dict[str, Any]
    episodes: list[dict[str, Any]]
    #: ``device`` when the transformers backend resizes screenshots on the GPU (pixel values a few 8-bit
    #: levels off the processor's, so replies can differ); ``None`` for the exact host path, which is
    #: bit-identical to the processor's (and to any older folder's, which lacks this entry). The vision
    #: cache size is not here: a cached embedding equals a recomputed one.
    preprocess: str | None = None

    @classmethod
    def of(cls, backend: Any, profile: Any, specs: Sequence[EpisodeSpec], agent_kwargs: dict[str, Any]) -> EvalConfig:
        """The configuration ``evaluate(specs, backend=..., profile=..., **agent_kwargs)`` runs with."""
        from vlagent.prompts import get_profile

        chosen = get_profile(profile) if isinstance(profile, str) else profile
        settings = {name: agent_kwargs.get(name, _agent_default(name)) for name in _AGENT_SETTINGS}
        gen = agent_kwargs.get("gen_options") or GenerationOptions()
        return cls(
            backend=str(getattr(backend, "name", type(backend).__name__)),
            model=model_name(backend),
            profile=chosen.name,
            **settings,
            min_pixels=agent_kwargs.get("min_pixels") or chosen.min_pixels,
            max_pixels=agent_kwargs.get("max_pixels") or chosen.max_pixels,
            generation=json_safe(dataclasses.asdict(gen)),
            episodes=[_episode_key(s, episode_max_steps(s, agent_kwargs)) for s in specs],
            preprocess=_inexact_preprocess(backend),
        )

    def differences(self, new: EvalConfig) -> list[str]:
        """What differs from ``new``, one phrase each (``"model 'a' there, 'b' now"``); empty when equal."""
        old_d, new_d = self.model_dump(mode="json"), new.model_dump(mode="json")
        out = [f"{k} {old_d[k]!r} there, {new_d[k]!r} now" for k in new_d if k != "episodes" and old_d[k] != new_d[k]]
        episodes = _episodes_difference(old_d["episodes"], new_d["episodes"])
        return out + ([episodes] if episodes else [])


def _inexact_preprocess(backend: Any) -> str | None:
    """The backend's preprocessing mode when it can change the pixel values (the device path), else None."""
    mode = getattr(backend, "preprocess", None)
    return mode if mode == "device" else None


#: The Agent keywords an episode's outcome depends on, besides those EvalConfig computes itself.
_AGENT_SETTINGS: tuple[str, ...] = ("history_images", "max_retries", "repeat_limit", "dry_run", "time_limit")


def _agent_default(name: str) -> Any:
    """An :class:`Agent` setting's default (defined once, in :mod:`vlagent.agent.config`)."""
    return setting_default(name)


def episode_max_steps(spec: EpisodeSpec, agent_kwargs: dict[str, Any]) -> int:
    """An episode's step limit: the caller's ``max_steps`` if given, else the suite's, else the Agent default."""
    return agent_kwargs.get("max_steps") or spec.max_steps or _agent_default("max_steps")


def _episode_key(spec: EpisodeSpec, max_steps: int) -> dict[str, Any]:
    """An episode as the resume key sees it: its env keywords as built (the spec's defaults included)."""
    from vlagent.envs.registry import with_env_defaults

    kwargs = with_env_defaults(spec.env, spec.env_kwargs)
    return json_safe({"id": spec.episode_id, "env": spec.env, "env_kwargs": kwargs, "task": spec.task,
                      "seed": spec.seed, "max_steps": max_steps})


def _episodes_difference(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> str | None:
    """The first way two episode lists differ, in words."""
    if old == new:
        return None
    for i, (a, b) in enumerate(zip(old, new, strict=False)):
        if a["id"] != b["id"]:
            return f"episode #{i + 1} {a['id']!r} there, {b['id']!r} now ({len(old)} episode(s) there, {len(new)} now)"
        if a != b:
            key = next(k for k in b if a.get(k) != b[k])
            return f"episode {b['id']!r}: {key} {a.get(key)!r} there, {b[key]!r} now"
    return f"{len(old)} episode(s) there, {len(new)} now"


def check_resume(out: Path, config: EvalConfig) -> None:
    """Refuse to resume into ``out`` when its episodes were run under another configuration; record ours.

    A folder without episodes takes the new configuration (nothing in it would be reused).
    """
    path = out / CONFIG_FILE
    has_episodes = any((out / "episodes").glob("*/meta.json"))
    if has_episodes:
        if not path.exists():
            raise ResumeMismatch(f"{out} holds episodes but no {CONFIG_FILE} saying how they were run (an older "
                                 "vlagent wrote them); choose another --out, or delete the folder to start over")
        try:
            old = EvalConfig.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TrajectoryError(f"cannot read {path}: {exc}") from exc
        diffs = old.differences(config)
        if diffs:
            raise ResumeMismatch(f"{out} holds episodes of another configuration ({'; '.join(diffs)}); rerun with "
                                 "the same options to resume, or choose another --out")
    path.write_text(config.model_dump_json(indent=2), encoding="utf-8")


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

    ``ran`` counts the episodes started by this call (``interrupted`` of them were cut short by Ctrl+C and
    are left out of the rates), ``not_started`` the ones Ctrl+C kept from starting, ``skipped`` those a
    previous run had finished; ``stopped`` says Ctrl+C ended the call.

    Example:
        >>> EvalResults(created="now", config={}, suites=[], episodes=[], ran=0, skipped=0, seconds=0.0,
        ...             steps_per_second=0.0).interrupted
        0
    """

    model_config = ConfigDict(extra="forbid")

    created: str
    config: dict[str, Any]
    suites: list[SuiteSummary]
    episodes: list[EpisodeLine]
    ran: int
    interrupted: int = 0
    not_started: int = 0
    skipped: int
    stopped: bool = False
    seconds: float
    steps_per_second: float


@dataclass
class _Progress:
    """Counters the progress bar shows (updated from the runner's callbacks)."""

    total: int
    done: int = 0
    successes: int = 0
    steps: int = 0
    interrupted: int = 0
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


def _check_ids(specs: Sequence[EpisodeSpec]) -> None:
    seen: set[str] = set()
    for spec in specs:
        if spec.episode_id in seen:
            raise SuiteError(f"episode {spec.episode_id!r} is listed twice (same suite, env, size and seed); "
                             "list it once, or give one of them another seed or a label in a suite file")
        seen.add(spec.episode_id)


def _pending(specs: Sequence[EpisodeSpec], store: TrajectoryStore) -> tuple[list[EpisodeSpec], int]:
    """The episodes still to run (torn or retryable folders removed), and how many had finished."""
    todo: list[EpisodeSpec] = []
    for spec in specs:
        folder = store.path_for(spec.episode_id)
        if _finished_meta(folder) is not None:
            continue
        if folder.exists():
            shutil.rmtree(folder)  # a torn or retryable episode starts over
        todo.append(spec)
    return todo, len(specs) - len(todo)


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

    ``agent_kwargs`` go to every :class:`Agent` (``max_steps``, ``history_images``, ``gen_options``...); a
    ``max_steps`` given here overrides the episodes' own. ``config`` adds descriptive entries (the suite as
    typed, workers) to the results' configuration.

    Raises :class:`ResumeMismatch` (before running anything) when ``out`` holds episodes of another
    configuration. Ctrl+C (the first stops after the current step, a second at once) returns normally with
    ``stopped`` set and the results written.
    """
    out = Path(out)
    _check_ids(specs)
    key = EvalConfig.of(backend, profile, specs, agent_kwargs)
    out.mkdir(parents=True, exist_ok=True)
    check_resume(out, key)
    store = TrajectoryStore(out / "episodes")
    todo, skipped = _pending(specs, store)
    own_pool = pool is None
    pool = pool or EnvPool()
    stop = stop or StopFlag()
    counters = _Progress(total=len(todo))
    t0 = time.perf_counter()
    try:
        jobs = (_job(spec, backend, profile, store, pool, stop, agent_kwargs) for spec in todo)
        # gym's toy-text games render with pygame, which is not thread-safe: their env work stays serial.
        threads = 1 if any(s.env.startswith("gym:") for s in todo) else None
        interrupted_now = _run_jobs(jobs, counters, workers=workers, threads=threads, stop=stop, progress=progress)
    finally:
        if own_pool:
            pool.close()
    seconds = time.perf_counter() - t0
    described = {**(config or {}), **key.model_dump(mode="json", exclude={"episodes"})}
    return _write_results(
        out, specs, store, config=described, counters=counters, skipped=skipped, seconds=seconds,
        stopped=interrupted_now or stop.requested, report=report,
    )


def _job(spec: EpisodeSpec, backend: ModelBackend, profile: str, store: TrajectoryStore, pool: EnvPool,
         stop: StopFlag, agent_kwargs: dict[str, Any]) -> EpisodeJob:
    """The job of one episode: its agent gets a pooled env, the store, the shared stop flag and its step limit."""

    def make_agent() -> Agent:
        env = pool.acquire(spec.env, spec.env_kwargs)
        kwargs = {**agent_kwargs, "max_steps": episode_max_steps(spec, agent_kwargs)}
        return Agent(backend, profile, env, recorder=store, stop=stop, env_spec=spec.env,
                     env_kwargs=spec.env_kwargs, suite=spec.suite, **kwargs)

    return EpisodeJob(spec.episode_id, spec.task, spec.seed, make_agent,
                      release=lambda agent: pool.release(spec.env, spec.env_kwargs, agent.env))


def _run_jobs(jobs: Iterable[EpisodeJob], counters: _Progress, *, workers: int, threads: int | None,
              stop: StopFlag, progress: bool) -> bool:
    """Run the jobs batched, counting for the progress bar; ``True`` when a second Ctrl+C cut the run short."""
    try:
        with _progress_bar(counters, enabled=progress) as refresh:

            def on_done(result: EpisodeResult) -> None:
                counters.done += 1
                cut_short = result.outcome == INTERRUPTED
                counters.interrupted += cut_short
                counters.successes += bool(result.success) and not cut_short
                refresh()

            def on_step(_: Any) -> None:
                counters.steps += 1
                refresh()

            run_batched(jobs, workers=workers, threads=threads, stop=stop, on_done=on_done, on_step=on_step)
    except KeyboardInterrupt:  # a second Ctrl+C: the live episodes were closed as interrupted on the way out
        return True
    return False


def _write_results(
    out: Path, specs: Sequence[EpisodeSpec], store: TrajectoryStore, *, config: dict[str, Any],
    counters: _Progress, skipped: int, seconds: float, stopped: bool, report: bool,
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
        ran=counters.done,
        interrupted=counters.interrupted,
        not_started=counters.total - counters.done,
        skipped=skipped,
        stopped=stopped,
        seconds=seconds,
        steps_per_second=counters.steps / seconds if seconds > 0 else 0.0,
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
        counted = c.done - c.interrupted
        rate = c.successes / counted if counted else 0.0
        cut = f", {c.interrupted} interrupted" if c.interrupted else ""
        self._progress.update(
            self._task, completed=c.done,
            stats=f"success {c.successes}/{counted} ({rate:.0%}){cut}  {c.rate:.1f} steps/s",
        )

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self.refresh()
            self._progress.stop()
