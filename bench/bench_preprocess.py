"""Image preprocessing: transformers' PIL processor vs vlagent's exact fast path vs the floor.

Per size and budget, in one run, interleaved, CPU time of the calling thread, min of --repeats:

* ``transformers``: ``Qwen2VLImageProcessorPil(images=[im], size=..., return_tensors="pt")``, what the
  backend did before (plus its ``torch.cat``, not counted here);
* ``fast``: :func:`vlagent.model.preprocess.exact_pixel_values` into a reused buffer (what the backend
  does now on CPU), checked bit-identical to the processor's ``pixel_values`` and ``image_grid_thw``;
* ``fast fresh``: the same into a new array each call (page faults on first touch included);
* ``floor``: reading the image's bytes and writing the output's bytes (``tobytes`` + filling a reused
  buffer of the output's size): no preprocessing can cost less.
* ``resize``: the single PIL resize the fast path does (the part it cannot speed up and stay exact).

Run: .venv/bin/python bench/bench_preprocess.py [--repeats 5] [--sizes 1920x1080,3840x2160] [--no-4k]
The machine may be loaded: read the ratios (measured side by side), not the absolute times.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from model_helpers import draw_screenshot  # noqa: E402
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil  # noqa: E402

from vlagent.model.preprocess import PatchSpec, exact_pixel_values, grid_for, patch_count, resize_for  # noqa: E402

BUDGETS = [("1280*28*28", 1280 * 28 * 28), ("16384*28*28", 16384 * 28 * 28)]
MIN_PIXELS = 56 * 56


def cpu_ms(fn: Callable[[], object]) -> float:
    t0 = time.thread_time()
    fn()
    return (time.thread_time() - t0) * 1e3


def bench_case(proc: Qwen2VLImageProcessorPil, spec: PatchSpec, size: tuple[int, int], budget: int,
               repeats: int) -> dict[str, float | bool | tuple]:
    image = draw_screenshot(*size)
    grid = grid_for(image.size, spec, MIN_PIXELS, budget)
    rows = patch_count(grid)
    reused = np.empty((rows, spec.patch_dim), np.float32)
    floor_out = np.empty(rows * spec.patch_dim, np.float32)
    kw = {"size": {"shortest_edge": MIN_PIXELS, "longest_edge": budget}, "return_tensors": "pt"}
    methods: dict[str, Callable[[], object]] = {
        "transformers": lambda: proc(images=[image], **kw),
        "fast": lambda: exact_pixel_values(image, spec, MIN_PIXELS, budget, out=reused),
        "fast fresh": lambda: exact_pixel_values(image, spec, MIN_PIXELS, budget),
        "resize": lambda: resize_for(image, spec, grid),
        "floor": lambda: (image.tobytes(), floor_out.fill(1.0)),
    }
    best = {name: float("inf") for name in methods}
    for rep in range(repeats):
        names = list(methods) if rep % 2 == 0 else list(methods)[::-1]  # interleaved, order alternating
        for name in names:
            best[name] = min(best[name], cpu_ms(methods[name]))
    ref = proc(images=[image], **kw)
    values, got_grid = exact_pixel_values(image, spec, MIN_PIXELS, budget)
    same = torch.equal(ref["pixel_values"], torch.from_numpy(values)) and ref["image_grid_thw"][0].tolist() == list(got_grid)
    return {**best, "identical": same, "grid": got_grid, "mb": values.nbytes / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sizes", default="1920x1080,1080x2400,3840x2160")
    args = ap.parse_args()
    torch.set_num_threads(1)
    proc = Qwen2VLImageProcessorPil()
    spec = PatchSpec.from_processor(proc)
    assert spec is not None
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    print(f"CPU ms of the calling thread, min of {args.repeats}, methods interleaved (machine possibly loaded)")
    print(f"{'image':>10} {'budget':>12} {'tokens':>6} {'out MB':>6} {'transformers':>12} {'fast':>6} "
          f"{'fresh':>6} {'resize':>6} {'floor':>6} {'tf/fast':>7} {'fast/floor':>10} {'bit-identical':>13}")
    all_same = True
    for size in sizes:
        for label, budget in BUDGETS:
            r = bench_case(proc, spec, size, budget, args.repeats)
            all_same &= bool(r["identical"])
            _, gh, gw = r["grid"]
            print(f"{size[0]}x{size[1]:<5} {label:>12} {gh * gw // 4:>6} {r['mb']:>6.1f} {r['transformers']:>12.1f} "
                  f"{r['fast']:>6.1f} {r['fast fresh']:>6.1f} {r['resize']:>6.1f} {r['floor']:>6.1f} "
                  f"{r['transformers'] / r['fast']:>6.2f}x {r['fast'] / r['floor']:>9.2f}x {str(r['identical']):>13}")
    print(f"all bit-identical: {all_same}")
    if not all_same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
