"""Training throughput: samples/s of a full fine-tune and LoRA on the tiny model, and the nano model.

Each configuration trains one epoch of 16 synthetic samples from the real loop (batch 4; those steps pay
for preprocessing, which is cached), then ``--steps`` more, and reports their median samples/s. fp32 on CPU; set
OMP_NUM_THREADS / --threads to compare thread counts.

    .venv/bin/python bench/bench_train.py [--steps 6] [--threads 1] [--size 512x384]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--size", default="512x384")
    args = parser.parse_args()

    import torch

    from vlagent.agent.curriculum import tokenizer_corpus
    from vlagent.agent.training_data import synthetic_samples
    from vlagent.model.nano import build_nano_qwen2vl
    from vlagent.model.tiny import build_tiny_qwen2vl
    from vlagent.model.training import TrainConfig, Trainer

    torch.set_num_threads(args.threads)
    w, h = (int(v) for v in args.size.split("x"))
    samples = synthetic_samples("qwen2-vl", 4, apps=["dialog", "login"], sizes=[(w, h)],
                                kinds=["target", "grounding", "episode"], points_only=True).samples[:16]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tiny = build_tiny_qwen2vl(root / "tiny")
        nano = build_nano_qwen2vl(root / "nano", tokenizer_corpus(samples))
        rows = []
        for name, base, lora in (("tiny full", tiny, False), ("tiny LoRA r16", tiny, True), ("nano full", nano, False)):
            warm = -(-len(samples) // 4)
            cfg = TrainConfig(steps=warm + args.steps, batch_size=4, lr=1e-3, device="cpu", checkpoint_every=0, lora=lora,
                              threads=args.threads)
            t0 = time.perf_counter()
            result = Trainer(base, samples, root / name.replace(" ", "-"), cfg).run(export=False)
            rates = [line["samples_per_s"] for line in result.log[warm:]]
            rows.append((name, statistics.median(rates), result.losses[0], result.losses[-1], time.perf_counter() - t0))
    print(f"{'config':15s} {'samples/s':>10s} {'loss first':>11s} {'loss last':>10s} {'wall s':>7s}  ({args.size}, "
          f"{args.threads} thread(s), batch 4)")
    for name, rate, first, last, wall in rows:
        print(f"{name:15s} {rate:10.2f} {first:11.3f} {last:10.3f} {wall:7.1f}")


if __name__ == "__main__":
    main()
