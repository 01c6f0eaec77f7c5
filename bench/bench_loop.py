"""Loop overhead and batched-episode throughput, with the scripted oracle standing in for the model.

1. Per-step overhead at 1920x1080: everything but the model (env capture and acting, prompt building,
   parsing, coordinate conversion, recording PNGs and JSONL), per phase, with and without recording.
2. Episode throughput, sequential (one episode at a time) vs batched (W episodes, one backend call per
   step): with the bare scripted oracle (pure overhead) and with a simulated model whose call costs a
   fixed latency whatever the batch size (as one batched forward pass on a GPU roughly does).
3. ``--mode tiny``: the same comparison with a real model, the tiny random-weight Qwen2-VL through the
   transformers backend on CPU: N episodes one ``Agent.run`` after another vs W alive at once with one
   ``backend.generate`` per step for all of them. Its replies do not parse (random weights), so every
   episode makes exactly ``--tiny-steps`` model calls in both modes (``max_retries`` is set above it), and
   the figures compare like with like.

Run: .venv/bin/python bench/bench_loop.py [--mode scripted|tiny|all] [--episodes 24] [--workers 8] [--latency 0.05]
     .venv/bin/python bench/bench_loop.py --mode tiny [--tiny-episodes 16] [--tiny-workers 4] [--tiny-steps 3] [--tiny-repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from vlagent.agent.batch import EpisodeJob, run_batched
from vlagent.agent.evaluate import EnvPool, evaluate
from vlagent.agent.loop import Agent, EpisodeResult, TrajectoryStore
from vlagent.agent.scripted import OraclePolicy
from vlagent.agent.suites import EpisodeSpec
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


class Counting:
    """Wraps a backend to count its ``generate`` calls, the chats sent and the tokens it generated."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.name = backend.name
        self.calls = self.chats = self.new_tokens = 0
        self.seconds = 0.0

    def __getattr__(self, attr: str) -> Any:  # model_ref and the like, for the episode's meta
        return getattr(self.backend, attr)

    def generate(self, chats: Sequence[Chat], options: GenerationOptions | None = None) -> list[Generation]:
        t0 = time.perf_counter()
        gens = self.backend.generate(chats, options)
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        self.chats += len(chats)
        self.new_tokens += sum(g.new_tokens for g in gens)
        return gens


def tiny_throughput(episodes: int, workers: int, steps: int, max_new_tokens: int, max_pixels: int,
                    app: str, size: tuple[int, int], repeats: int = 2) -> None:
    """Sequential vs batched episodes with the tiny real Qwen2-VL (transformers backend, CPU)."""
    import torch

    from vlagent.model import make_backend
    from vlagent.model.tiny import build_tiny_qwen2vl

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        folder = build_tiny_qwen2vl(tmp, seed=0)
        backend = Counting(make_backend("transformers", str(folder), device="cpu"))
        print(f"tiny Qwen2-VL built and loaded in {time.perf_counter() - t0:.1f} s "
              f"(torch threads {torch.get_num_threads()})")
        gen = GenerationOptions(max_new_tokens=max_new_tokens)
        env_spec = f"synthetic:{app}"

        def agent() -> Agent:
            # max_retries and repeat_limit above max_steps: unparsable replies never end an episode early,
            # so every episode makes exactly `steps` model calls, alone or batched.
            return Agent(backend, "qwen2-vl", make_env(env_spec, size=size), max_steps=steps,
                         max_retries=steps + 1, repeat_limit=steps + 2, gen_options=gen,
                         max_pixels=max_pixels, env_spec=env_spec)

        agent().run("", seed=10_000)  # warm-up: first forward pass, kernels, fonts
        modes = ("sequential", f"batched x{workers}")
        best: dict[str, float] = {}
        for rep in range(repeats):
            for mode in modes if rep % 2 == 0 else modes[::-1]:  # alternate the order: drift hits both alike
                backend.calls = backend.chats = backend.new_tokens = 0
                backend.seconds = 0.0
                t0 = time.perf_counter()
                if mode == "sequential":
                    results: list[EpisodeResult] = []
                    for i in range(episodes):
                        a = agent()
                        try:
                            results.append(a.run("", seed=i, episode_id=f"tiny-{i}"))
                        finally:
                            a.env.close()
                else:
                    jobs = [EpisodeJob(f"tiny-{i}", "", i, agent) for i in range(episodes)]
                    results = run_batched(jobs, workers=workers)
                seconds = time.perf_counter() - t0
                best[mode] = max(best.get(mode, 0.0), episodes / seconds)
                per_episode = sorted({len(r.steps) for r in results})
                outcomes = sorted({str(r.outcome) for r in results})
                print(f"  [{rep + 1}/{repeats}] {mode}: {seconds:.2f} s, {episodes / seconds:.2f} episodes/s, "
                      f"{backend.calls} generate calls for {backend.chats} chats "
                      f"({backend.seconds / backend.calls * 1000:.0f} ms/call, {backend.seconds / seconds:.0%} of wall), "
                      f"model calls per episode {per_episode}, {backend.new_tokens} tokens generated, "
                      f"outcomes {outcomes}")
    seq, bat = best[modes[0]], best[modes[1]]
    print(f"  best of {repeats}: sequential {seq:.2f} episodes/s, {modes[1]} {bat:.2f} episodes/s, "
          f"ratio batched/sequential {bat / seq:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("scripted", "tiny", "all"), default="scripted",
                    help="scripted oracle (overhead, simulated latency), the tiny real Qwen2-VL, or both")
    ap.add_argument("--episodes", type=int, default=24)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--latency", type=float, default=0.05, help="simulated seconds per model call")
    ap.add_argument("--overhead-episodes", type=int, default=10)
    ap.add_argument("--tiny-episodes", type=int, default=16)
    ap.add_argument("--tiny-workers", type=int, default=4)
    ap.add_argument("--tiny-steps", type=int, default=3, help="model calls per episode (max_steps)")
    ap.add_argument("--tiny-max-new-tokens", type=int, default=16)
    ap.add_argument("--tiny-max-pixels", type=int, default=256 * 28 * 28)
    ap.add_argument("--tiny-app", default="login", help="synthetic app")
    ap.add_argument("--tiny-repeats", type=int, default=3, help="runs of each mode, alternating; best is kept")
    args = ap.parse_args()
    if args.mode in ("scripted", "all"):
        scripted(args)
    if args.mode in ("tiny", "all"):
        print(f"\n== throughput: {args.tiny_episodes} synthetic:{args.tiny_app} episodes at 640x480, tiny random-weight "
              f"Qwen2-VL (transformers, CPU), {args.tiny_steps} steps, max_new_tokens {args.tiny_max_new_tokens}, "
              f"max_pixels {args.tiny_max_pixels}, not recorded ==")
        tiny_throughput(args.tiny_episodes, args.tiny_workers, args.tiny_steps, args.tiny_max_new_tokens,
                        args.tiny_max_pixels, args.tiny_app, (640, 480), args.tiny_repeats)


def scripted(args: argparse.Namespace) -> None:

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
