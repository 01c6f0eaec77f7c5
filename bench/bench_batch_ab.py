"""The batched runner of this tree against the one of another git revision, interleaved, min of N.

The scripted oracle stands in for the model (``--latency`` seconds per call, like a batched forward on a
GPU, which leaves the host's cores free), 16 synthetic episodes at 1920x1080, recorded or not, one at a
time (``workers=1``, what ``vlagent eval --workers 1`` runs) and batched. Both runners get the same jobs;
their episodes must end the same (checked), so only the wall time can differ.

``--lanes`` measures instead the pipeline this runner does not use: the episodes in two lanes, one lane's
env steps and prompt building running while the other lane's model call runs. It hides the host work
only by halving each call's batch, so it pays where host work per step is as long as the model call and
loses where the model's fixed cost (decoding) dominates, as on a GPU; the model here costs
``a + b * chats`` seconds per call for a few (a, b).

Run: .venv/bin/python bench/bench_batch_ab.py [--rev HEAD~1] [--repeats 3] [--latency 0.05] [--lanes]
The machine may be loaded (2 cores shared): read the ratios, measured side by side, not absolute times.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import vlagent.agent.batch as current
from vlagent.agent.loop import Agent, TrajectoryStore
from vlagent.envs.registry import make_env
from vlagent.envs.synthetic import APPS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_loop import Oracle  # noqa: E402

from vlagent.model.chat import Generation, GenerationOptions  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def runner_at(rev: str, folder: Path) -> ModuleType:
    """agent/batch.py as it was at ``rev``, imported under a name of its own."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:agent/batch.py"], check=True,
                            capture_output=True, text=True).stdout
    path = folder / "batch_at_rev.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("batch_at_rev", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["batch_at_rev"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


class LinearOracle(Oracle):
    """The oracle taking ``fixed + per_chat * len(chats)`` seconds per call (decode, then ViT + prefill)."""

    def __init__(self, fixed: float, per_chat: float) -> None:
        super().__init__()
        self.fixed, self.per_chat = fixed, per_chat

    def generate(self, chats: Any, options: GenerationOptions | None = None) -> list[Generation]:
        self.calls += 1
        time.sleep(self.fixed + self.per_chat * len(chats))  # stands in for the model's compute
        return [Generation(text=self.policy.reply(c)) for c in chats]


def bench_agent(i: int, backend: Any, store: TrajectoryStore | None) -> Agent:
    """Episode ``i``: the synthetic apps in turn at 1920x1080, seeds cycling."""
    apps = sorted(APPS)
    return Agent(backend, "qwen2-vl", make_env(f"synthetic:{apps[i % len(apps)]}", size="desktop"),
                 recorder=store, max_steps=20)


def run_in_two_lanes(episodes: int, workers: int, backend: Any) -> list[Any]:
    """The rejected pipeline: lane A's advance + prepare run while lane B's model call runs, and back."""
    from concurrent.futures import ThreadPoolExecutor

    apps, todo, results = sorted(APPS), list(range(episodes)), []
    host, model = ThreadPoolExecutor(4), ThreadPoolExecutor(1)
    quota = (workers - workers // 2, workers // 2)

    def admit(lane: list[Any], k: int) -> list[Any]:
        while todo and len(lane) < quota[k]:
            i = todo.pop(0)
            a = bench_agent(i, backend, None)
            lane.append((a, a.start("", seed=i // len(apps), episode_id=f"e{i}")))
        return lane

    def host_stage(k: int, lane: list[Any], prepared: list[Any], replies: list[Any] | None) -> tuple[list, list]:
        if replies is not None:
            list(host.map(lambda t: t[0][0].advance(t[0][1], t[1], *t[2]), zip(lane, prepared, replies, strict=True)))
            results.extend(a.finish(ep) for a, ep in lane if ep.stop is not None)
            lane = [(a, ep) for a, ep in lane if ep.stop is None]
        lane = admit(lane, k)
        return lane, list(host.map(lambda t: t[0].prepare(t[1]), lane))

    def call(lane: list[Any], prepared: list[Any]) -> list[Any]:
        gens, wall = lane[0][0].generate(prepared)
        return [(g, wall) for g in gens]

    lanes, prepared, replies = [[], []], [[], []], [None, None]
    for k in (0, 1):
        lanes[k], prepared[k] = host_stage(k, [], [], None)
    turn = 0
    while lanes[0] or lanes[1]:
        other = 1 - turn
        future = model.submit(call, lanes[turn], prepared[turn]) if lanes[turn] else None
        if replies[other] is not None or (not lanes[other] and todo):
            lanes[other], prepared[other] = host_stage(other, lanes[other], prepared[other], replies[other])
            replies[other] = None
        replies[turn] = future.result() if future is not None else None
        turn = other
    host.shutdown()
    model.shutdown()
    return results


def lanes(args: argparse.Namespace) -> None:
    """Lockstep (this tree) vs two lanes, interleaved, for model costs from CPU-like to GPU-like."""
    for fixed, per_chat in ((args.latency, 0.0), (0.03, 0.01), (0.3, 0.04)):
        best: dict[str, float] = {}
        for rep in range(args.repeats):
            ended = []
            for kind in ("lockstep", "lanes") if rep % 2 == 0 else ("lanes", "lockstep"):
                backend = LinearOracle(fixed, per_chat)
                t0 = time.perf_counter()
                if kind == "lanes":
                    results = run_in_two_lanes(args.episodes, args.workers, backend)
                else:
                    jobs = [current.EpisodeJob(f"e{i}", "", i // len(APPS), lambda i=i, b=backend: bench_agent(i, b, None))
                            for i in range(args.episodes)]
                    results = current.run_batched(jobs, workers=args.workers)
                best[kind] = min(best.get(kind, float("inf")), time.perf_counter() - t0)
                ended.append(sorted((r.meta.episode_id, r.outcome, len(r.steps)) for r in results))
            assert ended[0] == ended[1], "the two runners' episodes ended differently"
        print(f"model {fixed * 1000:.0f} ms + {per_chat * 1000:.0f} ms/chat, {args.workers} workers, not recorded, "
              f"min of {args.repeats}: lockstep {best['lockstep']:.2f} s, two lanes {best['lanes']:.2f} s: lanes "
              f"{best['lockstep'] / best['lanes']:.2f}x the lockstep's speed")


def run_once(runner: ModuleType, workers: int, latency: float, record: bool, episodes: int) -> tuple[float, Any]:
    """Seconds for the episodes, and what each did (id, outcome, steps) to compare the runners by."""
    with tempfile.TemporaryDirectory() as tmp:
        backend = Oracle(latency)
        store = TrajectoryStore(tmp) if record else None
        jobs = [runner.EpisodeJob(f"e{i}", "", i // len(APPS), lambda i=i: bench_agent(i, backend, store))
                for i in range(episodes)]
        t0 = time.perf_counter()
        results = runner.run_batched(jobs, workers=workers)
        seconds = time.perf_counter() - t0
    return seconds, sorted((r.meta.episode_id, r.outcome, len(r.steps)) for r in results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", default="HEAD~1", help="the git revision whose agent/batch.py is compared")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--latency", type=float, default=0.05, help="simulated seconds per model call")
    ap.add_argument("--episodes", type=int, default=16)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--lanes", action="store_true", help="lockstep vs the two-lane pipeline instead")
    args = ap.parse_args()
    if args.lanes:
        lanes(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        runners = {args.rev: runner_at(args.rev, Path(tmp)), "this tree": current}
        for record in (True, False):
            best: dict[tuple[str, int], float] = {}
            for rep in range(args.repeats):
                names = list(runners) if rep % 2 == 0 else list(runners)[::-1]  # drift hits both alike
                for workers in (1, args.workers):
                    ended = []
                    for name in names:
                        seconds, what = run_once(runners[name], workers, args.latency, record, args.episodes)
                        best[name, workers] = min(best.get((name, workers), seconds), seconds)
                        ended.append(what)
                    assert ended[0] == ended[1], "the two runners' episodes ended differently"
            old, new = args.rev, "this tree"
            print(f"recorded={record}, {args.latency * 1000:.0f} ms per model call, {args.episodes} episodes, "
                  f"min of {args.repeats}:")
            for workers in (1, args.workers):
                print(f"  workers={workers}: {old} {best[old, workers]:.2f} s, this tree {best[new, workers]:.2f} s, "
                      f"{best[old, workers] / best[new, workers]:.2f}x faster")


if __name__ == "__main__":
    main()
