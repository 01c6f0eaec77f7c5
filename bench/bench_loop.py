"""Loop overhead and batched-episode throughput, with the scripted oracle standing in for the model.

1. Per-step overhead at 1920x1080: everything but the model (env capture and acting, prompt building,
   parsing, coordinate conversion, recording PNGs and JSONL), per phase, with and without recording.
2. Episode throughput, sequential (one episode at a time) vs batched (W episodes, one backend call per
   step): with the bare scripted oracle (pure overhead) and with a simulated model whose call costs a
   fixed latency whatever the batch size (as one batched forward pass on a GPU roughly does).

Run: .venv/bin/python bench/bench_loop.py [--episodes 24] [--workers 8] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence

from vlagent.agent.evaluate import EnvPool, EpisodeSpec, evaluate
from vlagent.agent.loop import Agent, TrajectoryStore
from vlagent.agent.scripted import OraclePolicy
from vlagent.envs.registry import make_env
from vlagent.envs.synthetic import APPS
from vlagent.model.chat import Chat, Generation, GenerationOptions

PHASES = ("capture", "preprocess", "model", "parse", "execute", "settle", "record")


class Oracle:
    """The scripted oracle as a backend, optionally with a fixed latency per call (a batched forward)."""

    name = "bench-oracle"

    def __init__(self, latency: float = 0.0) -> None:
        self.policy = OraclePolicy()
        self.latency = latency
        self.calls = 0

    def generate(self, chats: Sequence[Chat], options: GenerationOptions | None = None) -> list[Generation]:
        self.calls += 1
        if self.latency:
            time.sleep(self.latency)  # stands in for the model's compute; not a synchronisation
        return [Generation(text=self.policy.reply(c)) for c in chats]


def overhead(episodes: int, record: bool, latency: float = 0.0) -> dict[str, float]:
    """Mean seconds per step by phase, and the wall time per step outside the model."""
    env = make_env("synthetic:login", size="desktop")
    with tempfile.TemporaryDirectory() as tmp:
        agent = Agent(Oracle(latency), "qwen2-vl", env, recorder=TrajectoryStore(tmp) if record else None, max_steps=20)
        agent.run("", seed=0)  # warm-up: imports, fonts
        steps, model, wall = [], 0.0, 0.0
        for seed in range(1, episodes + 1):
            t0 = time.perf_counter()
            result = agent.run("", seed=seed)
            wall += time.perf_counter() - t0
            steps.extend(result.steps)
            model += sum(s.timings.model for s in result.steps)
    out = {p: statistics.fmean(getattr(s.timings, p) for s in steps) for p in PHASES}
    out["steps"] = len(steps)
    out["wall_per_step"] = wall / len(steps)
    out["overhead_per_step"] = (wall - model) / len(steps)
    return out


def throughput(episodes: int, workers: int, latency: float) -> dict[str, float]:
    apps = sorted(APPS)
    specs = [EpisodeSpec("bench", f"synthetic:{apps[i % len(apps)]}", {"size": "desktop"}, "", i // len(apps))
             for i in range(episodes)]
    pool = EnvPool()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            backend = Oracle(latency)
            t0 = time.perf_counter()
            res = evaluate(specs, backend=backend, profile="qwen2-vl", out=tmp, workers=workers, pool=pool,
                           progress=False, report=False)
            seconds = time.perf_counter() - t0
    finally:
        pool.close()
    steps = sum(e.steps for e in res.episodes)
    return {"seconds": seconds, "episodes_per_s": episodes / seconds, "steps_per_s": steps / seconds,
            "model_calls": backend.calls, "success": sum(bool(e.success) for e in res.episodes) / episodes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=24)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--latency", type=float, default=0.05, help="simulated seconds per model call")
    ap.add_argument("--overhead-episodes", type=int, default=10)
    args = ap.parse_args()

    print("== per-step overhead at 1920x1080 (scripted oracle; model time ~0) ==")
    for record, latency in ((False, 0.0), (True, 0.0), (True, args.latency)):
        o = overhead(args.overhead_episodes, record, latency)
        label = "with recording (2 PNGs + JSONL per step)" if record else "without recording"
        if latency:
            label += f", model taking {latency * 1000:.0f} ms (PNGs encode meanwhile)"
        print(f"{label}: {o['overhead_per_step'] * 1000:.1f} ms/step outside the model "
              f"(wall {o['wall_per_step'] * 1000:.1f} ms/step over {o['steps']:.0f} steps)")
        print("  by phase (ms): " + ", ".join(f"{p} {o[p] * 1000:.2f}" for p in PHASES))

    print(f"\n== throughput: {args.episodes} synthetic episodes at 1920x1080, recorded ==")
    for latency in (0.0, args.latency):
        seq = throughput(args.episodes, 1, latency)
        bat = throughput(args.episodes, args.workers, latency)
        name = "bare scripted oracle" if latency == 0 else f"oracle + {latency * 1000:.0f} ms per model call"
        print(f"{name}:")
        print(f"  sequential: {seq['episodes_per_s']:.2f} episodes/s, {seq['steps_per_s']:.1f} steps/s, "
              f"{seq['model_calls']} model calls, success {seq['success']:.0%}")
        print(f"  batched x{args.workers}: {bat['episodes_per_s']:.2f} episodes/s, {bat['steps_per_s']:.1f} steps/s, "
              f"{bat['model_calls']} model calls, success {bat['success']:.0%}")
        print(f"  ratio batched/sequential: {bat['episodes_per_s'] / seq['episodes_per_s']:.2f}x")


if __name__ == "__main__":
    main()
