"""Per-step host work and batched-episode throughput, with the real image work counted.

1. ``--mode host`` (default): the real per-step host work at 1920x1080 with the transformers backend and
   the tiny random-weight Qwen2-VL: image preprocessing, vision cache, tokenising, the loop, recording.
   The tiny model's replies are replaced by the scripted oracle's *after* the real generate call (every
   image goes through the real processor and ViT, the episode still progresses, so each step brings a new
   screenshot and the prompt carries ``--history`` of them). Every phase is named and the phases sum to
   the step's wall time (``other`` is what no phase claims). Host CPU is the loop thread's CPU time minus
   what it spent inside the model (ViT + generate); ``all threads`` adds the PNG writer's. The reference
   path (transformers' processor, no cache) and the fast path run interleaved, min of --repeats episodes.
   Then a prompt with 5 screenshots (4 seen before) against one with 1, both paths.
2. ``--mode record``: the loop thread's cost of recording a 1920x1080 step with the writer process vs
   writing inline, and how much the encoding slows CPU-bound loop work running meanwhile.
3. ``--mode scripted``: loop overhead and throughput with the scripted oracle as the model (no image work
   at all: what the loop itself costs), sequential vs batched, bare and with a simulated model latency.
4. ``--mode tiny``: sequential vs batched episodes with the tiny real Qwen2-VL on CPU; per chat, its own
   preprocessing vs the time it waited for the other chats' preprocessing in the same call.

Run: .venv/bin/python bench/bench_loop.py [--mode host|record|scripted|tiny|all] [--repeats 3] [--history 2]
The machine may be loaded (2 cores shared): read the ratios, measured side by side, not absolute times.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vlagent.agent.batch import EpisodeJob, run_batched
from vlagent.agent.evaluate import EnvPool, evaluate
from vlagent.agent.loop import Agent, EpisodeResult, TrajectoryStore
from vlagent.agent.policy import Planned, PolicyStep
from vlagent.agent.scripted import OraclePolicy
from vlagent.agent.suites import EpisodeSpec
from vlagent.envs.registry import make_env
from vlagent.envs.synthetic import APPS
from vlagent.model.chat import Chat, Generation, GenerationOptions

PHASES = ("capture", "preprocess", "model", "parse", "execute", "settle", "record")
FHD_BUDGET = 1280 * 28 * 28


class Oracle:
    """The scripted oracle as a policy, optionally with a fixed latency per call (a batched forward)."""

    name = "bench-oracle"

    def __init__(self, latency: float = 0.0) -> None:
        self.policy = OraclePolicy()
        self.latency = latency
        self.calls = 0

    def decide(self, steps: Sequence[PolicyStep]) -> list[Planned]:
        self.calls += 1
        if self.latency:
            time.sleep(self.latency)  # stands in for the model's compute; not a synchronisation
        return self.policy.decide(steps)


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


# ------------------------------------------------------------------------------------ host work per step
class ModelClock:
    """Wraps the model's compute entry points to add up the loop thread's CPU and wall time inside them."""

    def __init__(self, model: Any) -> None:
        self.cpu = self.wall = 0.0
        for attr in ("generate", "get_image_features"):
            setattr(model, attr, self._timed(getattr(model, attr)))

    def _timed(self, fn: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            c0, w0 = time.thread_time(), time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.cpu += time.thread_time() - c0
                self.wall += time.perf_counter() - w0
        return call


class OracleReplies:
    """The real backend does all its work on each step's chat; the oracle's reply then replaces the model's text.

    ``options`` are the agent's generation options (set once the agent exists).
    """

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.name = backend.name
        self.model_ref = backend.model_ref
        self.policy = OraclePolicy()
        self.last: list[Generation] = []
        self.options: GenerationOptions | None = None

    def decide(self, steps: Sequence[PolicyStep]) -> list[Generation]:
        gens = self.backend.generate([s.prompt for s in steps], self.options)
        self.last = gens
        return [Generation(text=self.policy.reply(c), prompt_tokens=g.prompt_tokens, visual_tokens=g.visual_tokens,
                           new_tokens=g.new_tokens, preprocess_seconds=g.preprocess_seconds,
                           generate_seconds=g.generate_seconds, extra=g.extra) for c, g in zip(steps, gens, strict=True)]


HOST_PHASES = ("capture", "prompt", "images+tokens", "vision", "model", "parse", "execute", "settle", "record",
               "other")


def host_episode(agent: Agent, backend: OracleReplies, clock: ModelClock, seed: int) -> list[dict[str, float]]:
    """One episode through the loop's own phases (as Agent.run does), measured step by step."""
    # Screens repeat across episodes of one app; the cache is per episode here so that every episode
    # measures what one episode alone costs (an episode's first prompt brings all its images new).
    backend.backend.vision_cache.clear()
    ep = agent.start("", seed=seed)
    rows = []
    try:
        while ep.stop is None:
            c0, p0, w0 = time.thread_time(), time.process_time(), time.perf_counter()
            m_cpu, m_wall = clock.cpu, clock.wall
            prepared = agent.prepare(ep)
            gens, wall = agent.generate([prepared])
            record = agent.advance(ep, prepared, gens[0], wall)
            step_wall = time.perf_counter() - w0
            model_cpu, model_wall = clock.cpu - m_cpu, clock.wall - m_wall
            g, t = backend.last[0], record.timings
            vision = float(g.extra.get("vision_seconds", 0.0))
            row = {"capture": t.capture, "prompt": prepared.preprocess_seconds, "images+tokens": g.preprocess_seconds,
                   "vision": vision, "model": t.model - vision, "parse": t.parse, "execute": t.execute,
                   "settle": t.settle, "record": t.record}
            # The capture of this step's screenshot happened in the previous step's act (or the reset).
            row["other"] = step_wall - sum(row.values()) + t.capture
            row["wall"] = step_wall + t.capture
            row["host_cpu"] = time.thread_time() - c0 - model_cpu
            row["all_cpu"] = time.process_time() - p0 - model_cpu  # includes torch's own threads in the model
            row["model_wall"] = model_wall
            row["images"] = len(prepared.chat.images)
            rows.append(row)
    finally:
        agent.finish(ep)
    return rows


def host_work(args: argparse.Namespace) -> None:
    import torch

    from vlagent.model import make_backend
    from vlagent.model.tiny import build_tiny_qwen2vl

    print(f"== host work per step: synthetic:{args.host_app} at 1920x1080, max_pixels {FHD_BUDGET} (1280*28*28), "
          f"{args.history} screenshots per prompt, tiny Qwen2-VL on CPU (torch threads {torch.get_num_threads()}), "
          f"recorded; min over {args.repeats} interleaved runs of {args.host_episodes} episodes ==")
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_tiny_qwen2vl(Path(tmp) / "tiny", seed=0)
        configs = {
            "reference (transformers processor, no cache)": {"preprocess": "transformers", "vision_cache_mb": 0},
            "fast path + vision cache": {},
        }
        setups = {}
        for label, kw in configs.items():
            backend = make_backend("transformers", str(folder), device="cpu", **kw)
            clock = ModelClock(backend.model)
            wrapped = OracleReplies(backend)
            agent = Agent(wrapped, "qwen2-vl", make_env(f"synthetic:{args.host_app}", size="desktop"),
                          history_images=args.history, max_pixels=FHD_BUDGET, max_steps=20,
                          gen_options=GenerationOptions(max_new_tokens=args.tiny_max_new_tokens),
                          recorder=TrajectoryStore(Path(tmp) / label.split()[0]))
            wrapped.options = agent.gen_options
            host_episode(agent, wrapped, clock, seed=999)  # warm-up
            setups[label] = (agent, wrapped, clock)
        best: dict[str, dict[str, float]] = {}
        for rep in range(args.repeats):
            for label in list(setups) if rep % 2 == 0 else list(setups)[::-1]:
                agent, wrapped, clock = setups[label]
                rows = [r for seed in range(args.host_episodes) for r in host_episode(agent, wrapped, clock, seed)]
                rows = [r for r in rows if r["images"] == args.history] or rows  # steady state: a full history
                mean = {k: statistics.fmean(r[k] for r in rows) for k in rows[0]}
                if label not in best or mean["host_cpu"] < best[label]["host_cpu"]:
                    best[label] = mean | {"steps": len(rows)}
        for label, m in best.items():
            print(f"{label}: host CPU {m['host_cpu'] * 1e3:.1f} ms/step (loop thread, model excluded), "
                  f"all threads {m['all_cpu'] * 1e3:.1f} ms, wall {m['wall'] * 1e3:.1f} ms/step over {m['steps']} steps")
            print("  phases (ms, sum = wall): " + ", ".join(f"{p} {m[p] * 1e3:.2f}" for p in HOST_PHASES))
        ref, fast = (best[k]["host_cpu"] for k in configs)
        print(f"host CPU ratio reference/fast: {ref / fast:.2f}x (target: fast <= 50 ms/step)")
        history_scaling(setups, args.repeats)


def history_scaling(setups: dict[str, tuple[Agent, OracleReplies, ModelClock]], repeats: int) -> None:
    """A prompt carrying 5 screenshots, 4 of them seen the step before, against one carrying 1."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from model_helpers import app_screenshot

    shots = [app_screenshot(app, "desktop") for app in ("settings", "login", "dialog", "home", "picker", "settings")]
    shots[-1] = shots[-1].rotate(180)  # a sixth, different screen
    opts = GenerationOptions(max_new_tokens=4, max_pixels=FHD_BUDGET)
    print("\n== one step's backend call with 1 vs 5 screenshots (4 of them in the previous step's prompt), "
          f"wall ms, min of {repeats} ==")
    for label, (_, wrapped, _) in setups.items():
        backend = wrapped.backend
        best: dict[int, dict[str, float]] = {}
        for rep in range(repeats):
            for n in (1, 5) if rep % 2 == 0 else (5, 1):
                history = shots[rep % 2: rep % 2 + 4]
                new = shots[5].rotate(rep + 1 + n)  # a screenshot no earlier prompt had
                backend.generate([Chat.simple("Step before.", history)], opts)  # the previous step
                chat = Chat.simple("Next step.", [*history, new] if n == 5 else [new])
                t0 = time.perf_counter()
                (g,) = backend.generate([chat], opts)
                wall = time.perf_counter() - t0
                vision = float(g.extra["vision_seconds"])
                row = {"wall": wall, "host": g.preprocess_seconds, "vision": vision,
                       "lm": g.generate_seconds - vision}
                if n not in best or wall < best[n]["wall"]:
                    best[n] = row
        one, five = best[1], best[5]
        parts = ", ".join(f"{k} {one[k] * 1e3:.0f} -> {five[k] * 1e3:.0f} ms ({five[k] / max(one[k], 1e-9):.2f}x)"
                          for k in ("host", "vision", "lm"))
        print(f"{label}: step {one['wall'] * 1e3:.0f} -> {five['wall'] * 1e3:.0f} ms, "
              f"ratio {five['wall'] / one['wall']:.2f}x; {parts}")
    print("(host = preprocessing + tokenising; vision = the ViT; lm = prefill + decoding, which grows with the"
          " prompt's tokens whatever the runtime does)")


# ---------------------------------------------------------------------------------------------- recording
def recording(args: argparse.Namespace) -> None:
    """The loop thread's cost of recording a 1920x1080 step, and how much the encoding slows the loop.

    Between steps the loop thread does ``--record-work`` ms of pure-Python work (standing in for the
    model call and the loop); a writer that competes for the GIL or the cores shows as that work taking
    longer. Inline writing (``background_images=False``) is the baseline.
    """
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from model_helpers import app_screenshot

    from vlagent.agent.trajectory import EpisodeMeta, EpisodeRecorder, StepRecord

    shots = [app_screenshot(app, "desktop") for app in ("settings", "login", "dialog", "home", "picker")]
    work = args.record_work / 1e3

    def busy() -> float:
        t0, x = time.perf_counter(), 0
        while time.perf_counter() - t0 < work:
            x += 1
        return x  # iterations done in `work` seconds: fewer when something else holds the GIL or the core

    print(f"\n== recording 1920x1080 steps (2 PNGs each), {args.record_steps} steps, {args.record_work:.0f} ms of "
          f"loop work between steps, min/mean of {args.repeats} interleaved runs ==")
    with tempfile.TemporaryDirectory() as tmp:
        results: dict[str, list[tuple[float, float, float]]] = {"writer process": [], "inline": []}
        for rep in range(args.repeats):
            for label in list(results) if rep % 2 == 0 else list(results)[::-1]:
                rec = EpisodeRecorder(Path(tmp) / f"{label}-{rep}".replace(" ", "-"),
                                      EpisodeMeta(episode_id="e", task="t", env="x"),
                                      background_images=label == "writer process")
                main_cpu, loops = [], []
                for i in range(args.record_steps):
                    c0 = time.thread_time()
                    record = rec.save_images(StepRecord(index=i, raw="wait()", screenshot=""), shots[i % len(shots)])
                    rec.write_step(record)
                    main_cpu.append(time.thread_time() - c0)
                    loops.append(busy())
                t0 = time.perf_counter()
                rec.close()
                results[label].append((statistics.fmean(main_cpu), statistics.fmean(loops), time.perf_counter() - t0))
        base_loops = max(r[1] for r in results["inline"])
        for label, runs in results.items():
            cpu = min(r[0] for r in runs)
            loops = max(r[1] for r in runs)
            print(f"{label}: loop-thread CPU {cpu * 1e3:.2f} ms/step, loop work done {loops / base_loops:.2f}x of "
                  f"inline's, close waited {min(r[2] for r in runs) * 1e3:.0f} ms for the images still queued")


class Counting:
    """Wraps a backend to count its ``generate`` calls, the chats sent and the tokens it generated."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.name = backend.name
        self.calls = self.chats = self.new_tokens = 0
        self.seconds = self.own_preprocess = self.batch_preprocess = 0.0

    def __getattr__(self, attr: str) -> Any:  # model_ref and the like, for the episode's meta
        return getattr(self.backend, attr)

    def generate(self, chats: Sequence[Chat], options: GenerationOptions | None = None) -> list[Generation]:
        t0 = time.perf_counter()
        gens = self.backend.generate(chats, options)
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        self.chats += len(chats)
        self.new_tokens += sum(g.new_tokens for g in gens)
        # Each chat's own preprocessing, and the call's whole host work that every chat in it waited for.
        self.own_preprocess += sum(g.preprocess_seconds for g in gens)
        self.batch_preprocess += sum(float(g.extra.get("batch_preprocess_seconds", g.preprocess_seconds)) for g in gens)
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
                backend.seconds = backend.own_preprocess = backend.batch_preprocess = 0.0
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
                      f"outcomes {outcomes}; per chat: own preprocessing "
                      f"{backend.own_preprocess / backend.chats * 1000:.0f} ms, the other chats' "
                      f"{(backend.batch_preprocess - backend.own_preprocess) / backend.chats * 1000:.0f} ms")
    seq, bat = best[modes[0]], best[modes[1]]
    print(f"  best of {repeats}: sequential {seq:.2f} episodes/s, {modes[1]} {bat:.2f} episodes/s, "
          f"ratio batched/sequential {bat / seq:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("host", "record", "scripted", "tiny", "all"), default="host",
                    help="host work per step with the tiny model (default), scripted oracle (loop overhead, "
                         "simulated latency), batched throughput with the tiny model, or all")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved runs per configuration; min is kept")
    ap.add_argument("--history", type=int, default=2, help="screenshots per prompt (the current one included)")
    ap.add_argument("--host-episodes", type=int, default=2)
    ap.add_argument("--host-app", default="login")
    ap.add_argument("--record-steps", type=int, default=8)
    ap.add_argument("--record-work", type=float, default=100.0, help="ms of loop work between recorded steps")
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
    if args.mode in ("host", "all"):
        host_work(args)
    if args.mode in ("record", "all"):
        recording(args)
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
