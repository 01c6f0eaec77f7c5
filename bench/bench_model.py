"""Model-path benchmark: what the pixel budget costs, and what batching buys.

1. Per screenshot (the synthetic settings app at 1920x1080, login at 1080x2400) at three pixel
   budgets (the checkpoint default 12845056, 1280*28*28, 256*28*28): visual tokens and preprocessing
   time (resize + patchify + template + tokenise, as TransformersBackend does it, the vision cache
   emptied before each call), median of --repeats.
2. Tiny random-weight Qwen2-VL, 8 chats: one batched generate vs 8 generates one at a time; total,
   prefill (+ first token) and per-decoding-step time, and the ratios.

Run:  .venv/bin/python bench/bench_model.py [--model DIR] [--device cpu|cuda] [--repeats 3]
Without --model it builds the tiny model in a temp folder. Real checkpoints work too (--model DIR).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from model_helpers import app_screenshot, draw_screenshot  # noqa: E402

from vlagent.model import Chat, GenerationOptions  # noqa: E402
from vlagent.model.transformers_backend import TransformersBackend  # noqa: E402

BUDGETS = [("default", None), ("1280*28*28", 1280 * 28 * 28), ("256*28*28", 256 * 28 * 28)]
SCREENS = [("settings", "desktop"), ("login", "phone")]  # 1920x1080 and 1080x2400


def bench_preprocess(backend: TransformersBackend, repeats: int) -> None:
    print(f"\n== preprocessing per screenshot (median of {repeats}) ==")
    print(
        f"{'image':>10} {'budget':>12} {'resized':>11} {'visual tok':>10} {'prep ms':>9} {'prefill ms':>10} "
        f"{'tok vs default':>14} {'prep vs default':>15}"
    )
    base = {}
    for app, screen in SCREENS:
        shot = app_screenshot(app, screen)
        size = shot.size
        for label, max_pixels in BUDGETS:
            opts = GenerationOptions(max_new_tokens=1, max_pixels=max_pixels)
            prep, prefill, gen = [], [], None
            for _ in range(repeats):
                backend.vision_cache.clear()  # a screenshot seen for the first time, as each step's new one is
                gen = backend.generate([Chat.simple("Where is the OK button?", [shot])], opts)[0]
                prep.append(gen.preprocess_seconds)
                prefill.append(gen.generate_seconds)
            rw, rh = gen.extra["resized_sizes"][0]
            p_ms, f_ms = statistics.median(prep) * 1e3, statistics.median(prefill) * 1e3
            p0, t0 = base.setdefault(size, (p_ms, gen.visual_tokens))
            print(
                f"{size[0]}x{size[1]:<5} {label:>12} {rw:>5}x{rh:<5} {gen.visual_tokens:>10} "
                f"{p_ms:>9.1f} {f_ms:>10.1f} {gen.visual_tokens / t0:>14.3f} {p_ms / p0:>15.3f}"
            )
    print("(prefill = the tiny model's single forward + 1 token; meaningful for real checkpoints only)")


def _timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def bench_batching(backend: TransformersBackend, chats: int, new_tokens: int, repeats: int) -> None:
    print(f"\n== {chats} chats, {new_tokens} new tokens each (greedy), median of {repeats} ==")
    batch = [
        Chat.simple(f"Task {i}: click the OK button." + " please" * i, [draw_screenshot(800 + 40 * i, 600)])
        for i in range(chats)
    ]
    full = GenerationOptions(max_new_tokens=new_tokens, max_pixels=256 * 28 * 28)
    prefill = GenerationOptions(max_new_tokens=1, max_pixels=256 * 28 * 28)
    backend.generate(batch[:1], full)  # warm-up

    def batched(opts):
        return backend.generate(batch, opts)

    def one_by_one(opts):
        return [backend.generate([c], opts)[0] for c in batch]

    rows = {}
    for name, run in (("batched", batched), ("one-by-one", one_by_one)):
        totals, firsts, out = [], [], None
        for _ in range(repeats):
            # Fresh images each time: this compares batching, not the vision cache.
            backend.vision_cache.clear()
            t_full, out = _timed(lambda run=run: run(full))
            backend.vision_cache.clear()
            t_first, _ = _timed(lambda run=run: run(prefill))
            totals.append(t_full)
            firsts.append(t_first)
        total, first = statistics.median(totals), statistics.median(firsts)
        steps = max(g.new_tokens for g in out) - 1
        rows[name] = (total, first, (total - first) / max(steps, 1), out)
    for name, (total, first, step, _) in rows.items():
        print(
            f"{name:<11}: {total * 1e3:8.1f} ms total, prefill+1st token {first * 1e3:7.1f} ms, "
            f"decode {step * 1e3:6.2f} ms/step for all {chats} chats"
        )
    (bt, bf, bs, bout), (st, sf, ss, sout) = rows["batched"], rows["one-by-one"]
    same = [g.text for g in bout] == [g.text for g in sout]
    print(
        f"ratios (one-by-one / batched): total {st / bt:.2f}x, prefill {sf / bf:.2f}x, decode step {ss / bs:.2f}x"
        f"  (batched outputs identical to one-at-a-time: {same})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="checkpoint folder or hub id (default: build the tiny model)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--chats", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=16)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            from vlagent.model.tiny import build_tiny_qwen2vl

            model = str(build_tiny_qwen2vl(Path(tmp) / "tiny"))
        backend = TransformersBackend(model, device=args.device, dtype=args.dtype)
        import torch

        print(
            f"model={args.model or 'tiny random Qwen2-VL'} device={backend.device} dtype={backend.dtype} "
            f"torch threads={torch.get_num_threads()}"
        )
        bench_preprocess(backend, args.repeats)
        bench_batching(backend, args.chats, args.new_tokens, args.repeats)


if __name__ == "__main__":
    main()
