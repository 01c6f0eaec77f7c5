"""Many episodes at once: one policy call (for a model, one ``backend.generate``) per step for every live episode.

A model serves a batch of chats for little more than the cost of one (one forward per decoding step), so
an evaluation keeps ``workers`` episodes alive, gathers one step (its chat) from each, asks the policy once,
and hands every reply back to its episode. Each episode goes through exactly the phases of
:meth:`Agent.run` (prepare, decide, act, advance), so a batched episode ends as it would alone.
Env work (acting, capturing, writing PNGs) runs on a small thread pool: Chromium and PNG encoding release
the GIL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from vlagent.actions.errors import EnvError, ModelError
from vlagent.agent.loop import Agent, Episode, EpisodeResult, Prepared
from vlagent.agent.safety import StopFlag
from vlagent.agent.trajectory import EpisodeMeta, ErrorRecord, StepRecord


@dataclass(frozen=True)
class EpisodeJob:
    """One episode to run: its id, task and seed, and a factory for its agent (which owns a fresh env).

    When the episode ends the runner hands the agent to ``release`` (an env pool takes its env back) or,
    without one or after an env failure, closes the env.

    Example:
        >>> EpisodeJob("synthetic-login-0", "Sign in", seed=0, make_agent=lambda: None).seed
        0
    """

    episode_id: str
    task: str
    seed: int | None
    make_agent: Callable[[], Agent]
    release: Callable[[Agent], None] | None = field(default=None, compare=False)


@dataclass
class _Live:
    job: EpisodeJob
    agent: Agent
    ep: Episode


def _close_env(agent: Agent, job: EpisodeJob | None = None, *, broken: bool = False) -> None:
    if job is not None and job.release is not None and not broken:
        job.release(agent)
        return
    close = getattr(agent.env, "close", None)
    if callable(close):
        close()


def _start(job: EpisodeJob, agent: Agent) -> _Live | EpisodeResult:
    try:
        return _Live(job, agent, agent.start(job.task, seed=job.seed, episode_id=job.episode_id))
    except EnvError as exc:  # the env could not even reset: record it, the rest of the run goes on
        _close_env(agent, job, broken=True)
        return _start_failure(agent, job, exc)


def _start_failure(agent: Agent, job: EpisodeJob, exc: EnvError) -> EpisodeResult:
    meta = EpisodeMeta(
        episode_id=job.episode_id,
        task=job.task,
        suite=agent.suite,
        env=agent.env_spec,
        env_kwargs=agent.env_kwargs,
        seed=job.seed,
        profile=agent.profile.name,
        backend=str(getattr(agent.backend, "name", "")),
    )
    if agent.recorder is None:
        meta = meta.model_copy(update={"outcome": "env_error", "error": ErrorRecord.of(exc, fed_back=False)})
        return EpisodeResult(meta=meta, steps=[], path=None)
    rec = agent.recorder.open(meta)
    meta = rec.close(outcome="env_error", error=ErrorRecord.of(exc, fed_back=False))
    return EpisodeResult(meta=meta, steps=[], path=rec.path)


class _Finisher:
    """Ends episodes on a thread of its own, so the next model call does not wait for an ended one's files.

    Ending an episode is mostly waiting: for the writer process to encode its last steps' PNGs, then for
    ``final.png`` and ``meta.json`` (measured: 4.1 of 5.5 s of a recorded 8-worker run on 2 cores, all on
    the loop's thread). Its env goes back at once, so the next episode reuses it; the rest runs here while
    the other episodes go on. One thread, so results and ``on_done`` keep the order episodes ended in,
    and ``on_done`` is never called from two threads at once. A failure is raised in the loop's thread at
    its next :meth:`check` (the loop's, once per step) or at :meth:`drain`.
    """

    def __init__(self, on_done: Callable[[EpisodeResult], None] | None) -> None:
        self.results: list[EpisodeResult] = []
        self._on_done = on_done
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vlagent-finish")
        self._jobs: list[Future[None]] = []

    def _done(self, result: EpisodeResult) -> None:
        self.results.append(result)
        if self._on_done is not None:
            self._on_done(result)

    def record(self, result: EpisodeResult) -> None:
        """An episode that ended without running (its env did not reset), in its place in the order."""
        self._submit(lambda: self._done(result))

    def close(self, item: _Live, **kwargs: Any) -> None:
        """Give the env back now; write the episode's end (and report it) on the finishing thread."""
        broken = kwargs.get("outcome") in ("env_error", "crashed")
        try:
            _close_env(item.agent, item.job, broken=broken)
        finally:
            self._submit(lambda: self._done(item.agent.finish(item.ep, **kwargs)))

    def _submit(self, fn: Callable[[], None]) -> None:
        self._jobs.append(self._thread.submit(fn))

    def check(self) -> None:
        """Re-raise the first failure of an ending written so far (a full disk, a bug)."""
        still = []
        for job in self._jobs:
            if job.done():
                job.result()
            else:
                still.append(job)
        self._jobs = still

    def drain(self, *, raise_errors: bool = True) -> None:
        """Wait for every ending; re-raise the first failure unless another exception is on its way out."""
        jobs, self._jobs = self._jobs, []
        self._thread.shutdown(wait=True)
        for job in jobs:
            if raise_errors:
                job.result()


def run_batched(
    jobs: Iterable[EpisodeJob],
    *,
    workers: int = 4,
    threads: int | None = None,
    stop: StopFlag | None = None,
    on_done: Callable[[EpisodeResult], None] | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
) -> list[EpisodeResult]:
    """Run ``jobs`` with up to ``workers`` episodes alive, one backend call per step for all of them.

    Agents must share one backend (their chats go into one ``generate`` call; agents with different
    generation options are asked in one call per option set). An env failure ends that episode
    (``env_error``) and the run goes on; a backend failure ends every live episode (``model_error``) and
    re-raises; any other exception (an env that cannot be built, a bug) closes the live episodes as
    ``interrupted`` and re-raises. Ctrl+C stops all episodes after the current step and starts no new ones.
    An ended episode's files are finished while the others go on (:class:`_Finisher`), and ``on_done``
    is called from that thread, one result at a time in order; every folder is written when this returns.

    ``threads`` bounds the thread pool for env work (default ``min(workers, 8)``); pass 1 for envs that
    must not run concurrently (pygame-rendered gym games share module state).

    Returns the results in the order the episodes ended.

    Example:
        >>> run_batched([], workers=2)
        []
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    runner = _Runner(jobs, workers=workers, threads=threads or min(workers, 8), on_done=on_done, on_step=on_step)
    return runner.run(stop or StopFlag())


class _Runner:
    """The state of one :func:`run_batched` call: the jobs still to start, the live episodes, the endings."""

    def __init__(
        self,
        jobs: Iterable[EpisodeJob],
        *,
        workers: int,
        threads: int,
        on_done: Callable[[EpisodeResult], None] | None,
        on_step: Callable[[StepRecord], None] | None,
    ) -> None:
        self.pending: Iterator[EpisodeJob] = iter(jobs)
        self.exhausted = False
        self.workers = workers
        self.live: list[_Live] = []
        self.finisher = _Finisher(on_done)
        self.on_step = on_step
        self.pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 and workers > 1 else None

    def run(self, stop: StopFlag) -> list[EpisodeResult]:
        try:
            with stop.on_sigint():
                while True:
                    self.finisher.check()
                    self._fill(stop)
                    if not self.live:
                        break
                    self._step()
                    if stop.requested:
                        self._close_live(outcome="interrupted")
                        break
        except ModelError as exc:
            self._close_all(outcome="model_error", error=exc)
            raise
        except BaseException as exc:  # Ctrl+C twice, an env that cannot be built, a bug: the others did not fail
            self._close_all(outcome="interrupted", error=exc)
            raise
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True)
        self.finisher.drain()
        return self.finisher.results

    def _fill(self, stop: StopFlag) -> None:
        """Start episodes until ``workers`` are live (none once a stop is requested)."""
        fresh: list[EpisodeJob] = []
        while not self.exhausted and len(self.live) + len(fresh) < self.workers and not stop.requested:
            job = next(self.pending, None)
            if job is None:
                self.exhausted = True
            else:
                fresh.append(job)
        # Build every new env first (a browser takes seconds to start), then reset them together,
        # so no episode's clock (MiniWoB++ tasks time out) runs while another env is starting.
        agents = self._each(lambda j: j.make_agent(), fresh)
        for started in self._each(lambda pair: _start(*pair), list(zip(fresh, agents, strict=True))):
            if isinstance(started, EpisodeResult):
                self.finisher.record(started)
            else:
                self.live.append(started)

    def _step(self) -> None:
        """One step of every live episode: their chats in one policy call, then each acts; ended ones close."""
        prepared: list[Prepared] = self._each(lambda i: i.agent.prepare(i.ep), self.live)
        replies = _generate(self.live, prepared)
        outcomes = self._each(lambda triple: _advance(*triple), list(zip(self.live, prepared, replies, strict=True)))
        still: list[_Live] = []
        for item, outcome in zip(self.live, outcomes, strict=True):
            if self.on_step is not None and outcome is None:
                self.on_step(item.ep.records[-1])
            if isinstance(outcome, EnvError):
                self.finisher.close(item, outcome="env_error", error=outcome)
            elif item.ep.stop is not None:
                self.finisher.close(item)
            else:
                still.append(item)
        self.live = still

    def _each(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        if self.pool is None or len(items) == 1:
            return [fn(i) for i in items]
        return list(self.pool.map(fn, items))

    def _close_live(self, **kwargs: Any) -> None:
        live, self.live = self.live, []
        for item in live:
            self.finisher.close(item, **kwargs)

    def _close_all(self, **kwargs: Any) -> None:
        """End every live episode after a failure, and wait for all endings (the failure is what is raised)."""
        try:
            self._close_live(**kwargs)
        finally:
            self.finisher.drain(raise_errors=False)


def _generate(live: list[_Live], prepared: list[Prepared]) -> list[tuple[Any, float]]:
    """One policy call per backend and set of generation options (normally exactly one); replies in order."""
    groups: dict[Any, list[int]] = {}
    for i, item in enumerate(live):
        groups.setdefault((id(item.agent.backend), item.agent.gen_options), []).append(i)
    out: list[tuple[Any, float] | None] = [None] * len(live)
    for indexes in groups.values():
        gens, wall = live[indexes[0]].agent.generate([prepared[i] for i in indexes])
        for i, gen in zip(indexes, gens, strict=True):
            out[i] = (gen, wall)
    return [o for o in out if o is not None]


def _advance(item: _Live, prepared: Prepared, reply: tuple[Any, float]) -> EnvError | None:
    gen, wall = reply
    try:
        item.agent.advance(item.ep, prepared, gen, wall)
    except EnvError as exc:
        return exc
    return None
