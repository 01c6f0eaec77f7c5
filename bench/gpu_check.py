"""Checks that need a CUDA GPU, run by bench/gpu_check.sh; prints PASS/FAIL per check and exits non-zero on a FAIL.

1. the tiny random-weight Qwen2-VL loads in bf16 on CUDA and generates;
2. batched greedy replies equal one-at-a-time replies (float32 with TF32 off, where kernels chosen for other
   shapes move logits by ~1e-6; in bf16 they move by ~1e-2, enough to flip a near-tie of the random-weight
   model's argmax, so bf16 agreement is reported, not required);
3. device-side preprocessing (uint8 upload, resize/normalise/patchify on the GPU) within its documented
   tolerance of the exact host path, over sizes, budgets and modes;
4. the vision cache: an episode of prompts through a caching backend gives the same last reply as a fresh
   backend without the cache (same preprocessing mode, float32 as in 2), logits close;
5. videos (VideoPart) on the device: 4- and 8-frame clips and a 16-frame one whose M-RoPE positions
   differ from transformers' own, batched with an image chat == one at a time (bf16);
6. a step-time breakdown at 1920x1080 @1280*28*28 with 2 screenshots: host, vision tower, LM; cold and warm.

Nothing is downloaded: the tiny model is built on the spot. Meant to finish in well under 5 minutes.
``--device cpu`` runs the same checks on the CPU (slowly): a dry run of this script where no GPU is lent.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import torch  # noqa: E402
from model_helpers import app_screenshot, draw_screenshot  # noqa: E402

from vlagent.model import Chat, GenerationOptions, ImagePart, Message, TextPart  # noqa: E402
from vlagent.model.chat import VideoPart  # noqa: E402
from vlagent.model.preprocess import (  # noqa: E402
    DEVICE_TOLERANCE,
    SCREENSHOT_TOLERANCE,
    PatchSpec,
    device_pixel_values,
    exact_pixel_values,
)
from vlagent.model.tiny import build_tiny_qwen2vl  # noqa: E402
from vlagent.model.transformers_backend import TransformersBackend  # noqa: E402

RESULTS: list[tuple[str, bool, str]] = []
OPTS = GenerationOptions(max_new_tokens=12, max_pixels=256 * 28 * 28)


def check(name: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    """Run the check now; record PASS with its detail line, or FAIL with the error."""

    def run(fn: Callable[[], str]) -> Callable[[], str]:
        t0 = time.perf_counter()
        try:
            detail = fn()
            ok = True
        except Exception as exc:  # a check that breaks is a FAIL with its reason, and the others still run
            detail = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
            ok = False
        RESULTS.append((name, ok, detail))
        print(f"{'PASS' if ok else 'FAIL'} {name} ({time.perf_counter() - t0:.1f} s): {detail}", flush=True)
        return fn

    return run


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    dev = ap.parse_args().device
    if dev.startswith("cuda") and not torch.cuda.is_available():
        print(f"FAIL cuda: torch {torch.__version__} sees no CUDA GPU")
        raise SystemExit(1)
    name = torch.cuda.get_device_name(0) if dev.startswith("cuda") else "CPU (dry run)"
    # float32 means float32 in the equality checks: no TF32 in matmuls or in the ViT's patch convolution.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    print(f"torch {torch.__version__}, {name}", flush=True)
    folder = build_tiny_qwen2vl(Path(tempfile.mkdtemp()) / "tiny", seed=0)
    backends: dict[str, TransformersBackend] = {}

    @check(f"tiny Qwen2-VL in bf16 on {dev} generates")
    def _load() -> str:
        b = TransformersBackend(folder, device=dev, dtype="bf16", preprocess="device")
        backends["main"] = b
        gen = b.generate([Chat.simple("Where is OK?", [draw_screenshot(640, 480)])], OPTS)[0]
        assert b.model.dtype == torch.bfloat16 and b.preprocess == "device", (b.model.dtype, b.preprocess)
        assert gen.new_tokens >= 1
        return f"{gen.new_tokens} tokens, {gen.visual_tokens} visual tokens, preprocess={b.preprocess}"

    @check("batched == one-at-a-time (greedy, float32; bf16 agreement reported)")
    def _batched() -> str:
        exact = TransformersBackend(folder, device=dev, dtype="fp32", preprocess="device")
        chats = [Chat.simple("Where is the OK button?", [draw_screenshot(640, 480)]),
                 Chat.simple("Open settings " * 5, [draw_screenshot(300, 700, title="Phone")]),
                 Chat.simple("No image at all."),
                 Chat.simple("Two", [draw_screenshot(500, 400), draw_screenshot(420, 420)])]
        batched = [g.text for g in exact.generate(chats, OPTS)]
        single = [exact.generate([c], OPTS)[0].text for c in chats]
        assert batched == single, f"batched {batched} vs single {single}"
        half = backends["main"]
        agree = sum(a == half.generate([c], OPTS)[0].text for a, c in zip([g.text for g in half.generate(chats, OPTS)],
                                                                         chats, strict=True))
        return f"{len(chats)} chats identical in float32; bf16 {agree}/{len(chats)} identical"

    @check("device preprocessing within tolerance of the exact path")
    def _device() -> str:
        spec, worst = PatchSpec(), 0.0
        for size in ((1920, 1080), (1080, 2400), (3840, 2160), (57, 900)):
            for budget in ((3136, 1280 * 28 * 28), (3136, 16384 * 28 * 28)):
                for mode in ("RGB", "RGBA", "P"):
                    image = draw_screenshot(*size).convert(mode)
                    exact, grid = exact_pixel_values(image, spec, *budget)
                    on_dev, dgrid = device_pixel_values(image, spec, *budget, device=dev, dtype=torch.float32)
                    assert dgrid == grid
                    diff = (on_dev.cpu() - torch.from_numpy(exact)).abs()
                    bound = DEVICE_TOLERANCE if mode == "P" else SCREENSHOT_TOLERANCE
                    assert diff.max() <= bound["max"] and diff.mean() <= bound["mean"], (size, budget, mode,
                                                                                         float(diff.max()),
                                                                                         float(diff.mean()))
                    worst = max(worst, float(diff.max()))
        return f"worst max |diff| {worst:.3f} (bounds {SCREENSHOT_TOLERANCE} / paletted {DEVICE_TOLERANCE})"

    @check("vision cache on == off (greedy text, logits close)")
    def _cache() -> str:
        cached = TransformersBackend(folder, device=dev, dtype="fp32", preprocess="device")
        fresh = TransformersBackend(folder, device=dev, dtype="fp32", preprocess="device", vision_cache_mb=0)
        screens = [draw_screenshot(420 + 40 * i, 300 + 10 * i, title=f"Screen {i}") for i in range(6)]
        last = None
        for k in range(len(screens)):
            content = [ImagePart(s) for s in screens[max(0, k - 4): k + 1]] + [TextPart(f"Step {k}.")]
            last = Chat([Message("user", content)])
            got = cached.generate([last], OPTS)[0]
        want = fresh.generate([last], OPTS)[0]
        assert got.text == want.text, (got.text, want.text)
        hits = sum(min(k, 4) for k in range(len(screens)))  # step k reuses the min(k, 4) screenshots before it
        assert cached.vision_cache.stats()["hits"] == hits, (cached.vision_cache.stats(), hits)
        with torch.inference_mode():
            a = cached.model(**cached._prepare([last], OPTS)[0]).logits.float()
            b = fresh.model(**fresh._prepare([last], OPTS)[0]).logits.float()
        err = float((a - b).abs().max())
        assert err <= 0.05 * float(b.abs().max()) + 1e-3, err
        return f"same text; max |logit diff| {err:.2e}; cache {cached.vision_cache.stats()}"

    @check("videos on the device: batched == one-at-a-time (bf16)")
    def _videos() -> str:
        b = backends["main"]
        clips = [tuple(draw_screenshot(w, h, title=f"frame {i}") for i in range(n))
                 for n, (w, h) in ((4, (224, 224)), (8, (320, 240)), (16, (56, 56)))]
        chats = [Chat([Message("user", [VideoPart(c), TextPart("What moved?")])]) for c in clips]
        chats.append(Chat.simple("Where is OK?", [draw_screenshot(640, 480)]))
        opts = GenerationOptions(max_new_tokens=12, min_pixels=3136, max_pixels=256 * 28 * 28)
        single = [b.generate([c], opts)[0] for c in chats]
        b.vision_cache.clear()
        batched = [g.text for g in b.generate(chats, opts)]
        assert batched == [g.text for g in single], f"batched {batched} vs single {[g.text for g in single]}"
        return f"grids {[g.extra['video_grids'] for g in single[:3]]}, identical"

    @check("step-time breakdown, 1920x1080 @1280*28*28, 2 screenshots")
    def _breakdown() -> str:
        lines = []
        for mode in ("device", "exact", "transformers"):
            b = TransformersBackend(folder, device=dev, dtype="bf16", preprocess=mode,
                                    vision_cache_mb=0 if mode == "transformers" else 512)
            shots = [app_screenshot(a, "desktop") for a in ("settings", "login", "dialog")]
            opts = GenerationOptions(max_new_tokens=16, max_pixels=1280 * 28 * 28)
            b.generate([Chat.simple("warm-up", shots[:2])], opts)
            b.vision_cache.clear()
            rows = []
            for i, chat in enumerate((Chat.simple("step 1", shots[:2]), Chat.simple("step 2", shots[1:]))):
                sync(dev)
                t0 = time.perf_counter()
                g = b.generate([chat], opts)[0]
                wall = time.perf_counter() - t0
                v = float(g.extra["vision_seconds"])
                rows.append(f"step {i + 1}: wall {wall * 1e3:.1f} ms = host {g.preprocess_seconds * 1e3:.1f} + "
                            f"vision {v * 1e3:.1f} + lm {(g.generate_seconds - v) * 1e3:.1f}")
            lines.append(f"[{mode}] " + "; ".join(rows))
        return "\n    " + "\n    ".join(lines)

    failed = [name for name, ok, _ in RESULTS if not ok]
    print(f"\n{len(RESULTS) - len(failed)}/{len(RESULTS)} checks passed" + (f"; FAILED: {failed}" if failed else ""))
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
