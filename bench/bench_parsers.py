"""Parser time per KB, per profile, for pathological and real replies, and how it grows with size.

A parser must be linear in the reply's length: a loop that meets 1 MB of noise (a model that repeats
itself until the token limit) must refuse it in milliseconds. For every profile this prints, for each
shape of ``tests/parsers_fixtures.py`` (the pathological ones that once backtracked, and real replies
with a long typed text or a long thought), the time of one parse at ``--size`` and the ratio of the
time per KB at ``--size`` to the time per KB at ``--size / 4``: about 1 when linear, about 4 when
quadratic (below ~256 KB a reply stays in the CPU cache and looks faster per KB, so the smaller size
is not taken smaller). The goal is every reply of 1 MB under 0.5 s.

Run: .venv/bin/python bench/bench_parsers.py [--size 1048576] [--profiles qwen2-vl,ui-tars] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from parsers_fixtures import PROFILE_NAMES, pathological, real_reply  # noqa: E402

from vlagent.actions import ActionParseError  # noqa: E402
from vlagent.prompts import get_profile  # noqa: E402

#: Seconds a 1 MB reply may take (the issue's goal).
GOAL_PER_MB = 0.5


def parse_seconds(parser, text: str, repeats: int) -> float:
    """The best of ``repeats`` parses of ``text`` (parsed or refused, the time is what matters)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            parser.parse(text)
        except ActionParseError:
            pass
        best = min(best, time.perf_counter() - start)
    return best


def shapes(profile: str) -> dict[str, Callable[[int], str]]:
    """The pathological shapes for ``profile`` plus its real replies with a long text and a long thought."""
    out: dict[str, Callable[[int], str]] = dict(pathological(profile))  # type: ignore[arg-type]
    out["real: long text"] = lambda n: real_reply(profile, n, where="text")
    out["real: long thought"] = lambda n: real_reply(profile, n, where="thought")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1 << 20, help="reply size in characters (default 1 MiB)")
    ap.add_argument("--profiles", default=",".join(PROFILE_NAMES))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    small = max(args.size // 4, 1024)
    worst = 0.0
    print(f"{'profile':<12} {'shape':<22} {'KB':>6} {'s/parse':>9} {'ms/KB':>8} {'growth':>7}")
    for profile in args.profiles.split(","):
        parser = get_profile(profile).make_parser()
        for name, make in shapes(profile).items():
            big_text, small_text = make(args.size), make(small)
            big = parse_seconds(parser, big_text, args.repeats)
            little = parse_seconds(parser, small_text, args.repeats)
            per_kb = big / (len(big_text) / 1024)
            growth = per_kb / max(little / (len(small_text) / 1024), 1e-12)
            worst = max(worst, big * (1 << 20) / len(big_text))
            print(f"{profile:<12} {name:<22} {len(big_text) // 1024:>6} {big:>9.4f} {per_kb * 1e3:>8.4f} {growth:>7.2f}")
    verdict = "meets" if worst < GOAL_PER_MB else "MISSES"
    print(f"\nslowest, scaled to 1 MB: {worst:.3f} s ({verdict} the {GOAL_PER_MB} s goal); "
          "growth = ms/KB at the full size over ms/KB at 1/4 of it (1 = linear, 4 = quadratic)")
    return 0 if worst < GOAL_PER_MB else 1


if __name__ == "__main__":
    raise SystemExit(main())
