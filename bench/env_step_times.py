"""Reset and step times of the gym-adapter and MiniWoB++ envs (median and p90 over N calls).

    .venv/bin/python bench/env_step_times.py [--n 50] [--no-miniwob]

Gym envs step with a reproducible random named option; MiniWoB++ tasks step with the oracle's action
(what a scripted policy does), at device scale 1 and 2. Times include building the Observation (frame
to PIL image, text) and, for MiniWoB++, the browser round trips and the screenshot.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import warnings

from vlagent.actions.models import Choose

GYM = [
    ("FrozenLake-v1", {"is_slippery": False}),
    ("CliffWalking-v1", {}),
    ("Taxi-v4", {}),
    ("Blackjack-v1", {}),
    ("MiniGrid-Empty-5x5-v0", {}),
    ("ALE/Pong-v5", {}),
    ("ALE/Breakout-v5", {}),
]
MINIWOB = ["click-test", "click-button", "enter-text", "login-user"]


def stats(xs: list[float]) -> str:
    xs = sorted(xs)
    return f"median {statistics.median(xs) * 1000:7.2f} ms  p90 {xs[int(0.9 * (len(xs) - 1))] * 1000:7.2f} ms"


def bench_gym(n: int) -> None:
    from vlagent.envs.gym_adapter import GymEnv

    rng = random.Random(0)
    for env_id, kwargs in GYM:
        env = GymEnv(env_id, kwargs)
        resets, steps = [], []
        obs, _ = env.reset(seed=0)
        for i in range(n):
            t = time.perf_counter()
            obs, _ = env.reset(seed=i)
            resets.append(time.perf_counter() - t)
            for _ in range(5):
                t = time.perf_counter()
                obs, _, term, trunc, _ = env.step(Choose(option=rng.choice(obs.options)))
                steps.append(time.perf_counter() - t)
                if term or trunc:
                    break
        size = "x".join(map(str, obs.size))
        print(f"gym:{env_id:24s} {size:>8s}  reset {stats(resets)}  | step {stats(steps)}")
        env.close()


def bench_miniwob(n: int) -> None:
    from vlagent.envs.miniwob import MiniWoBEnv, availability

    ok, why = availability()
    if not ok:
        print(f"miniwob skipped: {why}")
        return
    for scale in (1.0, 2.0):
        t = time.perf_counter()
        env = MiniWoBEnv(MINIWOB[0], scale=scale)
        print(f"miniwob start (Chromium + ChromeDriver, scale {scale:g}): {(time.perf_counter() - t) * 1000:.0f} ms")
        for task in MINIWOB:
            t = time.perf_counter()
            env.switch_task(task)
            switch = time.perf_counter() - t
            resets, steps = [], []
            for i in range(n):
                t = time.perf_counter()
                obs, info = env.reset(seed=i)
                resets.append(time.perf_counter() - t)
                for _ in range(10):
                    if info["oracle"] is None:
                        break
                    t = time.perf_counter()
                    obs, _, term, _, info = env.step(info["oracle"])
                    steps.append(time.perf_counter() - t)
                    if term:
                        break
            size = "x".join(map(str, obs.size))
            print(f"miniwob:{task:18s} {size:>8s}  reset {stats(resets)}  | step {stats(steps)}"
                  f"  (switch task {switch * 1000:.0f} ms)")
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="episodes per env")
    parser.add_argument("--no-miniwob", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    bench_gym(args.n)
    if not args.no_miniwob:
        bench_miniwob(max(5, args.n // 5))


if __name__ == "__main__":
    main()
