"""The nano model on held-out seeds, per app and screen size, through the real transformers backend.

Runs the code behind ``vlagent eval`` (``--backend transformers --profile qwen2-vl``) on the synthetic apps
with seeds from 10000 up (no training sample comes from them) and prints success per app x size, with
the issue's two groups: single-click apps (dialog, home) and multi-step apps (login, picker, settings).

    .venv/bin/python bench/eval_nano.py MODEL_DIR --sizes phone,800x600 --episodes 10
    .venv/bin/python bench/eval_nano.py runs/nano/run/checkpoints/step-000800 --base runs/nano/init
    .venv/bin/python bench/eval_nano.py vlagent-nano          (the shipped checkpoint)
    .venv/bin/python bench/eval_nano.py random                (the baseline: a named policy, see `vlagent policies`)

A training checkpoint (``--base`` given) is turned into a model folder first: the base folder with the
checkpoint's trained weights, as the trainer's export writes it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

SINGLE_CLICK = ("dialog", "home")
MULTI_STEP = ("login", "picker", "settings")


def checkpoint_as_model(checkpoint: Path, base: Path, folder: Path) -> Path:
    """The base model folder with the checkpoint's ``trainable.safetensors`` loaded into it, saved to ``folder``."""
    from safetensors.torch import load_file
    from transformers import Qwen2VLForConditionalGeneration

    shutil.copytree(base, folder, dirs_exist_ok=True)
    model = Qwen2VLForConditionalGeneration.from_pretrained(base)
    weights = load_file(str(checkpoint / "trainable.safetensors"))
    params = dict(model.named_parameters())
    for name, value in weights.items():
        params[name].data.copy_(value)
    model.save_pretrained(folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a model folder or shipped name, a training checkpoint with --base, or a named "
                    "policy (random, oracle) for a baseline")
    ap.add_argument("--base", type=Path, help="the run's base model folder (when MODEL is a checkpoint)")
    ap.add_argument("--sizes", default="phone,800x600")
    ap.add_argument("--apps", default=",".join(SINGLE_CLICK + MULTI_STEP))
    ap.add_argument("--episodes", type=int, default=10, help="episodes per app and size")
    ap.add_argument("--max-pixels", type=int, default=160000)
    ap.add_argument("--min-pixels", type=int, default=3136)
    ap.add_argument("--history-images", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=15)
    ap.add_argument("--out", type=Path, default=None, help="eval folder (default: a temporary one)")
    ap.add_argument("--json", type=Path, default=None, help="write the table as JSON here")
    args = ap.parse_args(argv)

    from vlagent.agent.evaluate import evaluate
    from vlagent.agent.train_eval import heldout_specs
    from vlagent.model import make_backend
    from vlagent.model.chat import GenerationOptions
    from vlagent.model.policies import policy_names
    from vlagent.model.transformers_backend import TransformersBackend

    work = Path(tempfile.mkdtemp(prefix="eval-nano-"))
    model_dir = args.model
    if args.base is not None:
        model_dir = checkpoint_as_model(Path(args.model), args.base, work / "model")
    apps = args.apps.split(",")
    sizes = args.sizes.split(",")  # names and WxH, as the synthetic apps take them
    if args.base is None and args.model in policy_names():
        backend = make_backend("python", args.model)
    else:
        backend = TransformersBackend(model_dir, device="cpu", min_pixels=args.min_pixels, max_pixels=args.max_pixels)
    table: dict[str, dict[str, float]] = {}
    t0 = time.perf_counter()
    for size in sizes:
        specs = heldout_specs(args.episodes * len(apps), apps=apps, sizes=[size])
        out = (args.out or work) / f"eval-{size}"
        results = evaluate(
            specs, backend=backend, profile="qwen2-vl", out=out, workers=min(len(specs), 8), progress=False,
            report=False, config={"model": str(model_dir), "size": str(size)}, max_steps=args.max_steps,
            history_images=args.history_images, gen_options=GenerationOptions(max_new_tokens=64),
            min_pixels=args.min_pixels, max_pixels=args.max_pixels,
        )
        per_app: dict[str, list[bool]] = {}
        for ep in results.episodes:
            app = ep.env.split(":", 1)[1]
            per_app.setdefault(app, []).append(bool(ep.success))
        table[size] = {app: sum(v) / len(v) for app, v in sorted(per_app.items())}
        for group, names in (("single-click", SINGLE_CLICK), ("multi-step", MULTI_STEP)):
            runs = [ok for app in names for ok in per_app.get(app, [])]
            if runs:
                table[size][group] = sum(runs) / len(runs)
    seconds = time.perf_counter() - t0
    columns = apps + ["single-click", "multi-step"]
    print(f"held-out seeds from 10000, {args.episodes} episode(s) per app and size, {seconds:.0f} s")
    print("| size | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for key, row in table.items():
        print(f"| {key} | " + " | ".join(f"{row[c]:.0%}" if c in row else "-" for c in columns) + " |")
    if args.json:
        args.json.write_text(json.dumps({"episodes": args.episodes, "table": table}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
