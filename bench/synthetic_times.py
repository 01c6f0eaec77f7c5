"""Reset and step times of every synthetic app at desktop (1920x1080), 4K (3840x2160) and phone (1080x2400).

    .venv/bin/python bench/synthetic_times.py [--episodes 20]

Each episode resets with a new seed and follows ``info["oracle"]`` to success (what a scripted policy
does), so a step time includes applying the action, drawing the whole frame with Pillow, hit-testing
boxes and computing the next oracle action. Prints the median and p90 per app and size.
"""

from __future__ import annotations

import argparse
import statistics
import time

from vlagent.envs.synthetic import APPS

SIZES = ("desktop", "4k", "phone")


def _p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=20)
    args = ap.parse_args()
    print(f"{'app':9s} {'size':8s} {'reset ms (med/p90)':>20s} {'step ms (med/p90)':>20s} {'steps/ep':>9s}")
    for name, cls in sorted(APPS.items()):
        for size in SIZES:
            env = cls(size=size)
            resets: list[float] = []
            steps: list[float] = []
            for seed in range(args.episodes):
                t = time.perf_counter()
                _, info = env.reset(seed=seed)
                resets.append(time.perf_counter() - t)
                terminated = False
                while not terminated:
                    t = time.perf_counter()
                    _, _, terminated, _, info = env.step(info["oracle"])
                    steps.append(time.perf_counter() - t)
                if not info["success"]:
                    raise SystemExit(f"{name} {size} seed {seed}: the oracle failed ({info['outcome']})")
            r = f"{statistics.median(resets) * 1e3:.1f} / {_p90(resets) * 1e3:.1f}"
            s = f"{statistics.median(steps) * 1e3:.1f} / {_p90(steps) * 1e3:.1f}"
            print(f"{name:9s} {size:8s} {r:>20s} {s:>20s} {len(steps) / args.episodes:9.1f}")


if __name__ == "__main__":
    main()
