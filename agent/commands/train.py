"""``vlagent train``: fine-tune a Qwen2-VL on trajectory folders and synthetic ground truth; ``nano-model``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vlagent.agent.cli import app
from vlagent.agent.commands.agent_options import DEFAULT_PROFILE, writable_folder
from vlagent.model.catalog import CARD_FILE, ModelCard
from vlagent.model.training.pointer_aux import POINTER_TARGETS


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


@app.command("train")
def train(
    model: Annotated[str, typer.Option(help="The base checkpoint: a Qwen2-VL / Qwen2.5-VL folder or hub id.")],
    out: Annotated[Path, typer.Option(help="Run folder: checkpoints, train_log.jsonl, the exported model/.")],
    data: Annotated[
        list[Path] | None, typer.Option(help="Trajectory folders (an episode, a runs/ or eval folder); repeatable.")
    ] = None,
    synthetic: Annotated[int, typer.Option(min=0, help="Oracle episodes of the synthetic apps to add.")] = 0,
    synthetic_apps: Annotated[str, typer.Option(help="Comma-separated synthetic apps (default: all).")] = "",
    synthetic_sizes: Annotated[str, typer.Option(help="Comma-separated sizes: desktop, phone, 4k, WxH.")] = "desktop",
    kinds: Annotated[
        str, typer.Option(help="Synthetic sample kinds: episode, grounding ('Click the X' per widget), target, "
                          "distractors (the nano curriculum's button screens), typing (the typing steps of sign-ins with "
                          "made-up credentials, which only copying the task gets right).")
    ] = "episode,grounding",
    points_only: Annotated[bool, typer.Option(help="Synthetic clicks as a point, never a box (small models).")] = False,
    perturb: Annotated[float, typer.Option(
        min=0.0, max=0.99, help="Chance that a synthetic episode step goes wrong on purpose (a cut-off reply, a "
                                "stray click, a garbled text), so the samples after it recover from a mistake.")] = 0.0,
    synthetic_typing: Annotated[int | None, typer.Option(
        min=0, help="Sign-ins with made-up credentials for --kinds typing (default: --synthetic's count).")] = None,
    typing_pieces: Annotated[bool, typer.Option(
        help="Build --kinds typing's made-up credentials from the base model's word pieces too (its tokens "
             "spelled with letters, digits, dots and underscores), so copying learns multi-character tokens.")] = False,
    synthetic_seed: Annotated[int, typer.Option(min=0, help="First seed of the synthetic episodes (< 10000).")] = 0,
    profile: Annotated[str, typer.Option(help="The reply format to train: qwen2-vl, ui-tars, showui, ...")] = DEFAULT_PROFILE,
    include_failed: Annotated[bool, typer.Option(help="Also train on episodes that ended in failure.")] = False,
    history_images: Annotated[int, typer.Option(min=1, help="Screenshots per prompt, as `vlagent run` uses.")] = 2,
    min_pixels: Annotated[int | None, typer.Option(min=1, help="Smallest resized screenshot area.")] = None,
    max_pixels: Annotated[int | None, typer.Option(min=1, help="Largest resized screenshot area.")] = None,
    lora: Annotated[bool, typer.Option(help="Train LoRA adapters (large models) instead of every weight.")] = False,
    freeze: Annotated[str, typer.Option(
        help="A regex of parameter names to keep at the base's weights, e.g. 'visual' (the vision tower) or "
             "'^(?!.*self_attn)' (all but the language model's attention).")] = "",
    lora_rank: Annotated[int, typer.Option(min=1)] = 16,
    lora_alpha: Annotated[int, typer.Option(min=1)] = 32,
    steps: Annotated[int, typer.Option(min=1, help="Optimizer steps.")] = 200,
    batch_size: Annotated[int, typer.Option(min=1, help="Samples per forward pass.")] = 4,
    grad_accum: Annotated[int, typer.Option(min=1, help="Forward passes per optimizer step.")] = 1,
    lr: Annotated[float, typer.Option(help="Peak learning rate (AdamW).")] = 3e-3,
    warmup: Annotated[int, typer.Option(min=0, help="Linear warm-up steps.")] = 0,
    schedule: Annotated[str, typer.Option(help="constant or cosine (after the warm-up).")] = "constant",
    weight_decay: Annotated[float, typer.Option(min=0.0)] = 0.0,
    seed: Annotated[int, typer.Option(help="Seeds the data order and the torch RNG.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    dtype: Annotated[str | None, typer.Option(help="Weights dtype (default fp32; bf16 for a LoRA base on CUDA).")] = None,
    gradient_checkpointing: Annotated[bool, typer.Option(help="Trade compute for memory (large models).")] = False,
    checkpoint_every: Annotated[int, typer.Option(min=0, help="Steps between checkpoints (0: only at the end).")] = 100,
    keep_checkpoints: Annotated[int, typer.Option(min=1, help="Newest checkpoints kept.")] = 2,
    eval_every: Annotated[int, typer.Option(min=0, help="Steps between held-out evaluations (0: never).")] = 0,
    eval_episodes: Annotated[int, typer.Option(min=1, help="Held-out episodes per evaluation (seeds >= 10000).")] = 10,
    resume: Annotated[
        bool, typer.Option(help="Continue from the newest checkpoint under --out (--no-resume deletes them).")
    ] = True,
    threads: Annotated[int | None, typer.Option(min=1, help="torch CPU threads.")] = None,
    cache_mb: Annotated[int, typer.Option(min=0, help="Memory for preprocessed samples (re-encoded past it).")] = 2048,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
    pointer_aux: Annotated[float, typer.Option(
        min=0.0, help="Weight of the grounding supervision for models trained from scratch (0: off).")] = 0.0,
    pointer_target: Annotated[str, typer.Option(
        help=f"What the pointing head must attend to ({', '.join(POINTER_TARGETS)}): the 3x3 cells around the "
             "point, or the cells of the widget it lands on.")] = POINTER_TARGETS[0],
    copy_aux: Annotated[float, typer.Option(
        min=0.0, help="Weight of the copy supervision: a head looks up in the task what the reply copies "
                      "(typed text); needs --pointer-aux.")] = 0.0,
    readout_aux: Annotated[float, typer.Option(
        min=0.0, help="Weight of the pointer head's readout: what it alone writes must name the point's first "
                      "digit; needs --pointer-aux.")] = 0.0,
    copy_readout_aux: Annotated[float, typer.Option(
        min=0.0, help="Weight of the copy head's readout: what it alone writes must be the token it copies; "
                      "needs --copy-aux.")] = 0.0,
    prev_token_aux: Annotated[float, typer.Option(
        min=0.0, help="Weight of the previous-token supervision: a first-layer head attends to each task token's "
                      "predecessor, what copying a string never seen matches on; needs --pointer-aux.")] = 0.0,
    pointer_aux_from: Annotated[Path | None, typer.Option(
        help="A checkpoint folder of an earlier run whose pointer probes this run starts from.")] = None,
) -> None:
    """Fine-tune a Qwen2-VL on recorded episodes and/or the synthetic apps' ground truth.

    Every cleanly executed step of a trajectory folder becomes a sample (its screenshots, task and history
    as the loop prompts them, and its actions rewritten into --profile's reply format); the loss falls on
    the reply alone. Checkpoints let a rerun with the same --out resume; the exported OUT/model folder loads
    with `--backend transformers --model OUT/model`.

    Try:

      vlagent tiny-model /tmp/tiny && vlagent train --model /tmp/tiny --synthetic 20 --synthetic-sizes 512x384 --out runs/train-tiny --steps 100

      vlagent train --model ~/models/Qwen2-VL-2B-Instruct --data runs/ --lora --lr 2e-4 --out runs/train-2b
    """
    from vlagent.agent.train_eval import heldout_eval_hook
    from vlagent.agent.training_data import DataReport, synthetic_samples, trajectory_samples
    from vlagent.model.training import TrainConfig, Trainer, TrainingDataError

    out = writable_folder(out)
    report = DataReport()
    if data:
        report.extend(trajectory_samples(data, profile, history_images=history_images, include_failed=include_failed))
    apps = _csv(synthetic_apps) or None
    sizes = _csv(synthetic_sizes)  # names and WxH, as the synthetic apps' size argument takes them
    sample_kinds = _csv(kinds)
    pieces: tuple[str, ...] = ()
    if typing_pieces and synthetic and "typing" in sample_kinds:  # the base's tokenizer only when it is used
        from transformers import AutoTokenizer

        from vlagent.agent.training_data import tokenizer_credential_pieces

        pieces = tokenizer_credential_pieces(AutoTokenizer.from_pretrained(model))
        typer.echo(f"{len(pieces)} word pieces for made-up credentials", err=True)
    if synthetic:
        report.extend(synthetic_samples(profile, synthetic, seed=synthetic_seed, apps=apps, sizes=sizes,
                                        kinds=sample_kinds,  # type: ignore[arg-type]
                                        history_images=history_images, min_pixels=min_pixels, max_pixels=max_pixels,
                                        points_only=points_only, perturb=perturb, typing_episodes=synthetic_typing,
                                        credential_pieces=pieces))
    typer.echo(f"{len(report.samples)} samples; {len(report.skipped)} steps or episodes left out", err=True)
    for line in report.skipped[:5]:
        typer.echo(f"  left out: {line}", err=True)
    if not report.samples:
        raise TrainingDataError("no training samples: give --data folders with executed steps or --synthetic N")
    config = TrainConfig(
        steps=steps, batch_size=batch_size, grad_accum=grad_accum, lr=lr, warmup_steps=warmup,
        schedule=schedule, weight_decay=weight_decay, seed=seed, lora=lora, lora_rank=lora_rank,  # type: ignore[arg-type]
        lora_alpha=lora_alpha, device=device, dtype=dtype, gradient_checkpointing=gradient_checkpointing,
        checkpoint_every=checkpoint_every, keep_checkpoints=keep_checkpoints, eval_every=eval_every,
        threads=threads, cache_mb=cache_mb, pointer_aux=pointer_aux, pointer_target=pointer_target,
        copy_aux=copy_aux, readout_aux=readout_aux, copy_readout_aux=copy_readout_aux,
        prev_token_aux=prev_token_aux, freeze=freeze,
    )
    hook = None
    if eval_every:
        from vlagent.envs.synthetic import APPS

        hook = heldout_eval_hook(out, profile=profile, episodes=eval_episodes, apps=apps or sorted(APPS),
                                 sizes=sizes, history_images=history_images, min_pixels=min_pixels,
                                 max_pixels=max_pixels, device=device)
    result = Trainer(model, report.samples, out, config, on_eval=hook, progress=progress,
                     aux_init=pointer_aux_from).run(resume=resume)
    if result.resumed_from:
        typer.echo(f"resumed from step {result.resumed_from}", err=True)
    last = result.log[-1] if result.log else {}
    typer.echo(json.dumps({k: last[k] for k in ("step", "loss", "digit_loss", "token_accuracy") if k in last}))
    trained_on = []
    if data:
        trained_on.append(f"{len(data)} trajectory folder(s)")
    if synthetic:
        from vlagent.envs.synthetic import APPS

        trained_on.append(f"the built-in synthetic apps ({', '.join(apps or sorted(APPS))}) at "
                          f"{', '.join(sizes)}")
    card = ModelCard(profile=profile, min_pixels=min_pixels, max_pixels=max_pixels, history_images=history_images,
                     about=f"fine-tuned by `vlagent train` from {model} on {len(report.samples)} samples from "
                           f"{' and '.join(trained_on)}{' only' if not data else ''}")
    card.write(result.model_dir)
    typer.echo(f"model: {result.model_dir}")
    typer.echo(f"run it: vlagent run --env synthetic:login --model {result.model_dir}  "
               f"(its {CARD_FILE} gives --profile {profile} and the pixel budget it was trained with)")


#: The compact screen the nano model is trained and evaluated on: every app fits and the oracle finishes.
NANO_SIZE = "512x384"


@app.command("nano-model")
def nano_model(
    folder: Annotated[Path, typer.Argument(help="Where to write the untrained checkpoint.")],
    seed: Annotated[int, typer.Option(help="Seeds the initial weights.")] = 0,
    profile: Annotated[str, typer.Option(help="The prompt format its vocabulary is trained on.")] = DEFAULT_PROFILE,
    sizes: Annotated[str, typer.Option(help="Screen sizes of the prompts the vocabulary sees.")] = NANO_SIZE,
) -> None:
    """Write the UNTRAINED nano Qwen2-VL (a few million parameters, its own vocabulary); train it with `train`.

    The vocabulary is trained on the prompts and replies of the synthetic apps (seeds below 10000).
    """
    from vlagent.agent.curriculum import tokenizer_corpus
    from vlagent.agent.training_data import SAMPLE_KINDS, synthetic_samples
    from vlagent.model.nano import build_nano_qwen2vl

    # Not the made-up credentials: random strings would spend the small vocabulary on merges of noise (and
    # the shipped vocabulary, which scripts/train-nano.sh reproduces, was trained without them).
    kinds = [k for k in SAMPLE_KINDS if k != "typing"]
    report = synthetic_samples(profile, 25, sizes=_csv(sizes), kinds=kinds)  # type: ignore[arg-type]
    out = build_nano_qwen2vl(writable_folder(folder, "FOLDER"), tokenizer_corpus(report.samples), seed=seed)
    typer.echo(str(out))
