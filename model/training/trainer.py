"""The training loop: AdamW over the reply tokens, gradient accumulation, checkpoints that resume exactly.

A plain loop with its own collator rather than trl's ``SFTTrainer``: trl needs a processor for image
columns, the Qwen2-VL processor needs torchvision, and on CPU its defaults (bf16 autocast, gradient
checkpointing) are several times slower. What the loop does:

- **Data order** is a function of the seed and the step alone (a seeded permutation per epoch), so a
  resumed run draws the same batches as an uninterrupted one without saving any sampler state.
- **Loss** is the mean cross-entropy over every reply token of the optimizer step (all micro-batches of
  an accumulation together, so long and short replies weigh per token, as in one big batch). The digit
  tokens' own loss is logged apart, overall and by place in the number (``digit_loss_by_place``: first,
  second, third digit): naming coordinates is what a small model learns last.
- **Full fine-tune or LoRA**: full for small models, peft LoRA on the language model's projections for
  large ones; ``freeze`` keeps the parameters a regex names at the base's weights (the vision tower, or
  all but the attention). Checkpoints hold only what is trained.
- **Precision**: fp32 on CPU (bf16 autocast is slower there); bf16 autocast on CUDA, with LoRA's frozen
  base loaded in bf16.
- **Logging**: ``OUT/train_log.jsonl`` (one line per step, plus eval lines), a rich progress bar with
  loss, samples/s and ETA.
- **Export**: ``OUT/model`` at the end, a folder the transformers backend loads (see export.py).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from vlagent.model.errors import ModelLoadError
from vlagent.model.training.checkpoint import (
    CHECKPOINTS,
    latest_checkpoint,
    load_checkpoint,
    load_extra,
    save_checkpoint,
)
from vlagent.model.training.encode import IGNORE_INDEX, EncodedSample, SampleEncoder
from vlagent.model.training.errors import CheckpointError, TrainingDataError, TrainingError
from vlagent.model.training.export import export_model
from vlagent.model.training.lora import LANGUAGE_MODEL_PROJECTIONS, add_lora
from vlagent.model.training.pointer_aux import POINTER_TARGETS, PointerAux, first_point
from vlagent.model.training.sample import TrainingSample

LOG_FILE = "train_log.jsonl"
MODEL_DIR = "model"
#: An eval hook: ``(step, export) -> figures to log``; ``export(folder)`` writes the current model there.
EvalHook = Callable[[int, Callable[[Path], Path]], dict[str, Any]]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes a run. ``steps`` counts optimizer steps of ``batch_size * grad_accum`` samples.

    The fields in :data:`RESUME_FIELDS` must match the checkpoint a run resumes; the others (more steps,
    other logging or eval intervals) may change between the two halves.

    Example:
        >>> TrainConfig(batch_size=4, grad_accum=2).samples_per_step
        8
    """

    steps: int = 200
    batch_size: int = 4
    grad_accum: int = 1
    lr: float = 3e-3
    warmup_steps: int = 0
    schedule: Literal["constant", "cosine"] = "constant"
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0
    lora: bool = False
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_targets: str = LANGUAGE_MODEL_PROJECTIONS
    device: str = "auto"
    dtype: str | None = None
    gradient_checkpointing: bool = False
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    eval_every: int = 0
    max_length: int | None = None
    cache_mb: int = 2048
    threads: int | None = None
    #: Weight of the grounding supervision for models trained from scratch (0: off; see pointer_aux.py).
    pointer_aux: float = 0.0
    #: What the pointer head must attend to: ``near`` (3x3 cells around the point) or ``widget`` (its cells).
    pointer_target: str = "near"
    #: Weight of the copy supervision (a head that looks up what the reply copies from the task; 0: off).
    copy_aux: float = 0.0
    #: Weight of the pointer head's readout (its own output must name the point's first digit; 0: off).
    readout_aux: float = 0.0
    #: Weight of the copy head's readout (its own output must be the token it copies; needs copy_aux).
    copy_readout_aux: float = 0.0
    #: Weight of the previous-token term (a first-layer head attends to each task token's predecessor, which
    #: the copy head's induction lookup matches on; 0: off).
    prev_token_aux: float = 0.0
    #: A regex searched in each parameter's name: those it matches keep the base's weights ("" trains all).
    freeze: str = ""

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "grad_accum", "lora_rank", "lora_alpha"):
            if getattr(self, name) < 1:
                raise TrainingError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise TrainingError(f"lr must be a positive number, got {self.lr}")
        if self.schedule not in ("constant", "cosine"):
            raise TrainingError(f"schedule must be constant or cosine, got {self.schedule!r}")
        for name in ("warmup_steps", "checkpoint_every", "keep_checkpoints", "eval_every", "cache_mb", "pointer_aux"):
            if getattr(self, name) < 0:
                raise TrainingError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("copy_aux", "readout_aux", "copy_readout_aux", "prev_token_aux"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise TrainingError(f"{name} must be >= 0, got {value}")
            if value and not self.pointer_aux:
                raise TrainingError(f"{name} is part of the grounding supervision: it needs pointer_aux > 0")
        if self.copy_readout_aux and not self.copy_aux:
            raise TrainingError("copy_readout_aux reads the copy head: it needs copy_aux > 0")
        if self.freeze:
            try:
                re.compile(self.freeze)
            except re.error as exc:
                raise TrainingError(f"freeze must be a regular expression, got {self.freeze!r}: {exc}") from exc
        if self.pointer_target not in POINTER_TARGETS:
            raise TrainingError(f"pointer_target must be one of {', '.join(POINTER_TARGETS)}, got {self.pointer_target!r}")

    @property
    def samples_per_step(self) -> int:
        return self.batch_size * self.grad_accum


#: What a resumed run must share with its checkpoint for the two halves to be one run.
RESUME_FIELDS = ("batch_size", "grad_accum", "lr", "warmup_steps", "schedule", "min_lr_ratio", "weight_decay",
                 "max_grad_norm", "seed", "lora", "lora_rank", "lora_alpha", "lora_dropout", "lora_targets",
                 "pointer_aux", "pointer_target", "copy_aux", "readout_aux", "copy_readout_aux", "prev_token_aux", "freeze")


@dataclass
class TrainResult:
    """What a run leaves: the log lines of every step (resumed ones included), where the model went.

    Example:
        >>> TrainResult(log=[{"step": 1, "loss": 2.0}, {"step": 2, "loss": 0.5}], out=Path("run")).losses
        [2.0, 0.5]
    """

    log: list[dict[str, Any]]
    out: Path
    model_dir: Path | None = None
    resumed_from: int = 0
    evals: list[dict[str, Any]] = field(default_factory=list)

    @property
    def losses(self) -> list[float]:
        return [line["loss"] for line in self.log if "loss" in line]


def sample_order(step: int, *, n: int, config: TrainConfig) -> list[int]:
    """The sample indices of optimizer step ``step`` (0-based): a fresh seeded permutation every epoch.

    Example:
        >>> cfg = TrainConfig(batch_size=2, seed=1)
        >>> sorted(sample_order(0, n=4, config=cfg) + sample_order(1, n=4, config=cfg))
        [0, 1, 2, 3]
    """
    per = config.samples_per_step
    out = []
    perms: dict[int, np.ndarray] = {}
    for pos in range(step * per, (step + 1) * per):
        epoch = pos // n
        if epoch not in perms:
            perms[epoch] = np.random.default_rng([config.seed, epoch]).permutation(n)
        out.append(int(perms[epoch][pos % n]))
    return out


def lr_factor(step: int, config: TrainConfig) -> float:
    """The LR multiplier at ``step``: linear warm-up, then constant or cosine down to ``min_lr_ratio``.

    Example:
        >>> cfg = TrainConfig(steps=10, warmup_steps=2, schedule="cosine", min_lr_ratio=0.0)
        >>> [round(lr_factor(s, cfg), 2) for s in (0, 1, 2, 10)]
        [0.5, 1.0, 1.0, 0.0]
    """
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return 1.0
    span = max(config.steps - config.warmup_steps, 1)
    t = min((step - config.warmup_steps) / span, 1.0)
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))


def _model_class(model_type: str) -> Any:
    import transformers

    # The backend's table of the architectures it serves: train only what it can load afterwards.
    from vlagent.model.transformers_backend import MODEL_CLASSES

    name = MODEL_CLASSES.get(model_type)
    if name is None:
        raise ModelLoadError(f"a {model_type!r} model; the trainer trains {', '.join(MODEL_CLASSES)}")
    return getattr(transformers, name)


@dataclass
class Loaded:
    """The model being trained with its tokenizer, image processor and how it was loaded."""

    model: Any
    tokenizer: Any
    image_processor: Any
    device: str
    weights_dtype: Any
    autocast_dtype: Any | None
    load_kwargs: dict[str, Any]


def load_for_training(base: str | Path, config: TrainConfig) -> Loaded:
    """Load ``base`` for training: weights in fp32 (bf16 for a LoRA base on CUDA), LoRA added if asked."""
    import torch
    from transformers import AutoConfig, AutoImageProcessor, AutoTokenizer

    from vlagent.model.transformers_backend import resolve_device, resolve_dtype

    device = resolve_device(config.device)
    cuda = device.startswith("cuda")
    if config.dtype is not None:
        weights = resolve_dtype(config.dtype, device)
    else:
        weights = torch.bfloat16 if (cuda and config.lora) else torch.float32
    autocast = torch.bfloat16 if cuda else None
    ref = str(Path(str(base)).expanduser()) if Path(str(base)).expanduser().exists() else str(base)
    try:
        model_config = AutoConfig.from_pretrained(ref)
        cls = _model_class(getattr(model_config, "model_type", ""))
        tokenizer = AutoTokenizer.from_pretrained(ref)
        image_processor = AutoImageProcessor.from_pretrained(ref, backend="pil")
        # The pointer supervision reads attention weights, which only the eager implementation returns.
        load_kwargs = {"dtype": weights, "attn_implementation": "eager" if config.pointer_aux else "sdpa"}
        model = cls.from_pretrained(ref, **load_kwargs)
    except (OSError, ValueError) as exc:
        raise ModelLoadError.no_weights(ref, str(exc).splitlines()[0]) from exc
    model.to(device)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    if config.lora:
        model = add_lora(model, rank=config.lora_rank, alpha=config.lora_alpha, dropout=config.lora_dropout,
                         targets=config.lora_targets)
        if not any(p.requires_grad for p in model.parameters()):
            raise TrainingError(f"the LoRA target regex {config.lora_targets!r} matched no module of {ref}")
    if config.freeze:
        freeze_matching(model, config.freeze, ref)
    model.train()
    return Loaded(model, tokenizer, image_processor, device, weights, autocast, load_kwargs)


def freeze_matching(model: Any, pattern: str, ref: str) -> list[str]:
    """Stop training the parameters whose name ``pattern`` finds; returns their names.

    A pattern that freezes nothing or everything is a typo or a mistake, not a run: both are errors.

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
        >>> freeze_matching(net, "^0[.]", "net")
        ['0.weight', '0.bias']
    """
    rule = re.compile(pattern)
    trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    frozen = [(n, p) for n, p in trained if rule.search(n)]
    if not frozen:
        raise TrainingError(f"--freeze {pattern!r} matched no trained parameter of {ref} "
                            f"(names look like {trained[0][0] if trained else '-'})")
    if len(frozen) == len(trained):
        raise TrainingError(f"--freeze {pattern!r} matched every trained parameter of {ref}: nothing left to train")
    for _, param in frozen:
        param.requires_grad_(False)
    return [n for n, _ in frozen]


def digit_token_ids(tokenizer: Any) -> list[int]:
    """Ids of the ten single-digit tokens (empty when the vocabulary merges digits into longer tokens)."""
    ids = [tokenizer.convert_tokens_to_ids(d) for d in "0123456789"]
    if any(not isinstance(i, int) or i == tokenizer.unk_token_id for i in ids):
        return []
    return [int(i) for i in ids]


def line_break_ids(tokenizer: Any) -> list[int]:
    """Ids of the vocabulary's tokens that hold a line break (where the copy term's task span ends)."""
    return [i for i in range(len(tokenizer)) if "\n" in tokenizer.decode([i])]


class _EncodedCache:
    """Encoded samples kept for reuse (image preprocessing is most of the data cost), up to ``limit_mb``.

    Samples past the budget are encoded again each time they are drawn: the same tensors, more CPU.
    """

    def __init__(self, encoder: SampleEncoder, samples: Sequence[TrainingSample], limit_mb: int) -> None:
        self.encoder, self.samples, self.budget = encoder, samples, limit_mb * 2**20
        self._kept: dict[int, EncodedSample] = {}

    def __getitem__(self, i: int) -> EncodedSample:
        hit = self._kept.get(i)
        if hit is not None:
            return hit
        encoded = self.encoder.encode(self.samples[i])
        if encoded.nbytes <= self.budget:
            self._kept[i] = encoded
            self.budget -= encoded.nbytes
        return encoded


def _read_log(path: Path, upto: int) -> list[dict[str, Any]]:
    """The log lines of steps <= ``upto`` (a resumed run rewrites what came after its checkpoint)."""
    if not path.exists():
        return []
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue  # a torn last line
        if int(line.get("step", 0)) <= upto:
            lines.append(line)
    return lines


def _check_resume(state: dict[str, Any], config: TrainConfig, base: str, n_samples: int, folder: Path) -> None:
    saved = state.get("config", {})
    # A field newer than the checkpoint counts as its default, which is what the older run did.
    was = {k: saved.get(k, getattr(TrainConfig, k, None)) for k in RESUME_FIELDS}
    diff = [f"{k}: {was[k]!r} -> {getattr(config, k)!r}" for k in RESUME_FIELDS if was[k] != getattr(config, k)]
    if config.schedule == "cosine" and saved.get("steps") != config.steps:
        diff.append(f"steps: {saved.get('steps')} -> {config.steps} (the cosine schedule spans the whole run)")
    if state.get("base") != base:
        diff.append(f"base: {state.get('base')!r} -> {base!r}")
    if state.get("samples") != n_samples:
        diff.append(f"samples: {state.get('samples')} -> {n_samples}")
    if diff:
        raise CheckpointError(f"{folder} belongs to another run ({'; '.join(diff)}); use a new --out or --no-resume")


class _Progress:
    """The rich progress bar (or nothing): step, loss, samples/s, ETA."""

    def __init__(self, enabled: bool, total: int, start: int) -> None:
        self.bar = None
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("train"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[rate]} samples/s"),
            TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[note]}"),
        )
        self.task = self.bar.add_task("train", total=total, completed=start, loss="-", rate="-", note="")

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def update(self, line: dict[str, Any], note: str | None = None) -> None:
        if self.bar is None:
            return
        extra = {"note": note} if note is not None else {}
        self.bar.update(self.task, completed=line["step"], loss=f"{line['loss']:.4f}",
                        rate=f"{line['samples_per_s']:.1f}", **extra)


class Trainer:
    """One training run of ``base`` on ``samples`` into ``out`` (see the module docstring).

    Args:
        base: a Qwen2-VL / Qwen2.5-VL folder or hub id.
        samples: the training set (see :mod:`vlagent.agent.training_data` for producers).
        out: the run folder: checkpoints, log, the exported model.
        config: the run's settings.
        on_eval: called every ``config.eval_every`` steps with the step and an export function.
        progress: show the progress bar.
        aux_init: a checkpoint folder whose pointer probes this run starts from (a second stage of a
            from-scratch recipe: the model from the first stage's export, its probes from here).

    Example:
        >>> Trainer.__name__
        'Trainer'
    """

    def __init__(self, base: str | Path, samples: Sequence[TrainingSample], out: str | Path, config: TrainConfig,
                 *, on_eval: EvalHook | None = None, progress: bool = False,
                 aux_init: str | Path | None = None) -> None:
        if not samples:
            raise TrainingDataError("no training samples")
        self.base = str(base)
        self.samples = list(samples)
        self.out = Path(out)
        self.config = config
        self.on_eval = on_eval
        self.progress = progress
        self.aux_init = Path(aux_init) if aux_init is not None else None
        if self.aux_init is not None and not config.pointer_aux:
            raise TrainingError("aux_init starts the pointer probes from a checkpoint: it needs pointer_aux > 0")
        self.loaded: Loaded | None = None
        self.aux: PointerAux | None = None
        self._points = [first_point(s.reply) for s in self.samples] if config.pointer_aux else []
        self._layouts = [s.layout for s in self.samples] if config.pointer_aux else []

    def _state(self, step: int) -> dict[str, Any]:
        import torch

        state: dict[str, Any] = {
            "step": step, "base": self.base, "samples": len(self.samples), "config": asdict(self.config),
            "torch_rng": torch.get_rng_state().tolist(),
        }
        if torch.cuda.is_available():
            state["cuda_rng"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
        return state

    def export(self, folder: Path) -> Path:
        """Write the current model as a backend-loadable folder (the run goes on unchanged)."""
        ld = self._require_loaded()
        was_training = ld.model.training
        ld.model.eval()
        try:
            return export_model(ld.model, ld.tokenizer, ld.image_processor, self.base, folder,
                                load_kwargs=ld.load_kwargs)
        finally:
            ld.model.train(was_training)

    def _require_loaded(self) -> Loaded:
        if self.loaded is None:
            raise TrainingError("the model is not loaded yet: call run() first")
        return self.loaded

    def run(self, *, resume: bool = True, export: bool = True, stop_at: int | None = None) -> TrainResult:
        """Train up to ``config.steps``, then export the model.

        With ``resume`` the run continues from the newest checkpoint under ``out``; without it, it starts
        from scratch and deletes the old checkpoints.

        ``stop_at`` ends the run after that step, with a checkpoint and without the export, as an
        interruption would (Ctrl+C does the same after the step in flight).
        """
        import torch

        cfg = self.config
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        ld = self.loaded = load_for_training(self.base, cfg)
        model = ld.model
        encoder = SampleEncoder(ld.tokenizer, ld.image_processor, image_token_id=model.config.image_token_id,
                                video_token_id=model.config.video_token_id, max_length=cfg.max_length)
        cache = _EncodedCache(encoder, self.samples, cfg.cache_mb)
        params = [p for p in model.parameters() if p.requires_grad]
        if cfg.pointer_aux:
            self.aux = PointerAux(model.config.text_config.hidden_size, cfg.pointer_aux,
                                  digit_ids=digit_token_ids(ld.tokenizer), image_token_id=model.config.image_token_id,
                                  merge_size=encoder.merge_size, seed=cfg.seed,
                                  target=cfg.pointer_target, copy_weight=cfg.copy_aux,
                                  line_breaks=line_break_ids(ld.tokenizer) if cfg.copy_aux or cfg.prev_token_aux else (),
                                  readout_weight=cfg.readout_aux, copy_readout_weight=cfg.copy_readout_aux,
                                  prev_token_weight=cfg.prev_token_aux)
            if cfg.readout_aux or cfg.copy_readout_aux:
                self.aux.bind(model)
            if self.aux_init is not None:  # a later stage: the probes go on from where the earlier run left them
                load_extra(self.aux_init, self.aux)
            self.aux.to(ld.device)
            params += self.aux.parameters()
        optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg))
        digits = torch.tensor(digit_token_ids(ld.tokenizer), dtype=torch.long)

        self.out.mkdir(parents=True, exist_ok=True)
        if not resume:  # starting over: a stale checkpoint must never be resumed by a later run
            shutil.rmtree(self.out / CHECKPOINTS, ignore_errors=True)
        start = 0
        ckpt = latest_checkpoint(self.out) if resume else None
        if ckpt is not None:
            state = load_checkpoint(ckpt, model, optimizer, scheduler, extra=self.aux)
            _check_resume(state, cfg, self.base, len(self.samples), ckpt)
            start = int(state["step"])
            if start > cfg.steps:
                raise CheckpointError(f"{ckpt} is at step {start}, past this run's {cfg.steps} steps")
            torch.set_rng_state(torch.tensor(state["torch_rng"], dtype=torch.uint8))
            if "cuda_rng" in state and torch.cuda.is_available():
                torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda_rng"]])
        log_path = self.out / LOG_FILE
        log = _read_log(log_path, start) if ckpt is not None else []
        log_path.write_text("".join(json.dumps(line) + "\n" for line in log), encoding="utf-8")
        result = TrainResult(log=log, out=self.out, resumed_from=start)

        end = cfg.steps if stop_at is None else min(stop_at, cfg.steps)
        done = start
        with _Progress(self.progress, cfg.steps, start) as bar, log_path.open("a", encoding="utf-8") as log_file:
            for step in range(start, end):
                try:
                    line = self._step(step, cache, optimizer, scheduler, digits)
                except KeyboardInterrupt:
                    # The step in flight is lost; what was done before it is kept for the next run.
                    if done > start:
                        save_checkpoint(self.out, done, model, optimizer, scheduler, self._state(done),
                                        keep=cfg.keep_checkpoints, extra=self.aux)
                    raise
                result.log.append(line)
                log_file.write(json.dumps(line) + "\n")
                log_file.flush()
                bar.update(line)
                done = step + 1
                if done == end or (cfg.checkpoint_every and done % cfg.checkpoint_every == 0):
                    save_checkpoint(self.out, done, model, optimizer, scheduler, self._state(done),
                                    keep=cfg.keep_checkpoints, extra=self.aux)
                if self.on_eval is not None and cfg.eval_every and done % cfg.eval_every == 0:
                    figures = {"step": done, "eval": self.on_eval(done, self.export)}
                    result.evals.append(figures)
                    log_file.write(json.dumps(figures) + "\n")
                    log_file.flush()
                    bar.update(line, note=_eval_note(figures["eval"]))
        if export and done == cfg.steps:
            result.model_dir = self.export(self.out / MODEL_DIR)
        return result

    def _step(self, step: int, cache: _EncodedCache, optimizer: Any, scheduler: Any, digits: Any) -> dict[str, Any]:
        import torch
        import torch.nn.functional as F

        cfg, ld = self.config, self._require_loaded()
        t0 = time.perf_counter()
        order = sample_order(step, n=len(self.samples), config=cfg)
        encoded = [cache[i] for i in order]
        total = sum(e.reply_tokens for e in encoded)
        loss_sum = correct = 0.0
        aux_parts: dict[str, float] = {}
        places: dict[int, list[float]] = {}  # digit place in its number (1st, 2nd, ...) -> [loss sum, count]
        for m in range(cfg.grad_accum):
            chunk = encoded[m * cfg.batch_size:(m + 1) * cfg.batch_size]
            batch = {k: v.to(ld.device) for k, v in cache.encoder.collate(chunk).items()}
            labels = batch.pop("labels")
            if "pixel_values" in batch:
                batch["pixel_values"] = batch["pixel_values"].to(ld.weights_dtype)
            extra = {"output_hidden_states": True, "output_attentions": True} if self.aux is not None else {}
            with torch.autocast("cuda", dtype=ld.autocast_dtype, enabled=ld.autocast_dtype is not None):
                outputs = ld.model(**batch, **extra)
            logits = outputs.logits
            targets = labels[:, 1:]
            keep = targets != IGNORE_INDEX
            picked = logits[:, :-1][keep].float()
            wanted = targets[keep]
            token_loss = F.cross_entropy(picked, wanted, reduction="none")
            objective = token_loss.sum() / total
            if self.aux is not None:
                picked_ids = order[m * cfg.batch_size:(m + 1) * cfg.batch_size]
                points = [self._points[i] for i in picked_ids]
                layouts = [self._layouts[i] for i in picked_ids]
                aux_loss, parts = self.aux.losses(outputs, batch, labels, points, layouts)
                objective = objective + aux_loss / cfg.grad_accum
                for k, v in parts.items():
                    aux_parts[k] = aux_parts.get(k, 0.0) + v / cfg.grad_accum
            objective.backward()
            loss_sum += float(token_loss.detach().sum())
            correct += float((picked.argmax(-1) == wanted).sum())
            if digits.numel():
                is_digit = torch.isin(wanted, digits.to(wanted.device)).tolist()
                losses = token_loss.detach().tolist()
                place = 0
                for flag, value in zip(is_digit, losses, strict=True):
                    place = place + 1 if flag else 0
                    if flag:
                        acc = places.setdefault(place, [0.0, 0])
                        acc[0] += value
                        acc[1] += 1
        params = [p for group in optimizer.param_groups for p in group["params"]]
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)) if cfg.max_grad_norm else None
        lr = optimizer.param_groups[0]["lr"]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        seconds = time.perf_counter() - t0
        line: dict[str, Any] = {
            "step": step + 1, "loss": loss_sum / total, "token_accuracy": correct / total, "lr": lr,
            "reply_tokens": total, "samples_per_s": len(order) / seconds, "seconds": seconds,
        }
        if places:
            line["digit_loss"] = sum(v[0] for v in places.values()) / sum(v[1] for v in places.values())
            line["digit_loss_by_place"] = [round(places[p][0] / places[p][1], 5) for p in sorted(places)]
        if grad_norm is not None:
            line["grad_norm"] = grad_norm
        line.update({k: round(v, 5) for k, v in aux_parts.items()})
        return line


def _eval_note(figures: dict[str, Any]) -> str:
    rate = figures.get("success_rate")
    return f"eval {rate:.0%}" if isinstance(rate, float) else ""
