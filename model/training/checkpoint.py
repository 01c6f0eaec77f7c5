"""Checkpoints of a training run, and finding the one to resume from.

::

    OUT/checkpoints/step-000200/
      trainable.safetensors   the parameters being trained (all of them, or only the LoRA adapters)
      optimizer.pt            AdamW state and the LR scheduler's
      state.json              step, the run's config, torch RNG state (the data order is a function of
                              the step and the seed, so it needs no state of its own)

Only trainable parameters are written: a LoRA checkpoint of a 7B model is megabytes, and resuming rebuilds
the frozen part from the base model. A folder is written under a temporary name and renamed when
complete, so a crash never leaves a half checkpoint that looks whole.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from vlagent.model.training.errors import CheckpointError

CHECKPOINTS = "checkpoints"
_PREFIX = "step-"


#: Where a checkpoint keeps trained state outside the model (see ``extra``).
EXTRA_FILE = "extra.safetensors"


def checkpoint_dir(out: Path, step: int) -> Path:
    """Where the checkpoint after ``step`` optimizer steps lives.

    Example:
        >>> checkpoint_dir(Path("run"), 12).as_posix()
        'run/checkpoints/step-000012'
    """
    return Path(out) / CHECKPOINTS / f"{_PREFIX}{step:06d}"


def list_checkpoints(out: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under ``out``, oldest first (temporary folders of a crashed save are ignored)."""
    root = Path(out) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        name = p.name
        if p.is_dir() and name.startswith(_PREFIX) and name[len(_PREFIX):].isdigit() and (p / "state.json").is_file():
            found.append((int(name[len(_PREFIX):]), p))
    return sorted(found)


def latest_checkpoint(out: Path) -> Path | None:
    found = list_checkpoints(out)
    return found[-1][1] if found else None


def trainable_state(model: Any) -> dict[str, Any]:
    """The parameters that require grad, detached on the CPU (each tied parameter once)."""
    return {n: p.detach().to("cpu").contiguous() for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(out: Path, step: int, model: Any, optimizer: Any, scheduler: Any, state: dict[str, Any],
                    *, keep: int, extra: Any = None) -> Path:
    """Write the checkpoint after ``step`` and drop all but the newest ``keep``.

    ``extra`` is trained state that is not part of the model (the pointer probe): anything with
    ``state_dict()``, saved beside it so a resumed run continues it too.
    """
    import torch
    from safetensors.torch import save_file

    final = checkpoint_dir(out, step)
    tmp = final.with_name(final.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    save_file(trainable_state(model), str(tmp / "trainable.safetensors"))
    if extra is not None:
        save_file({k: v.contiguous() for k, v in extra.state_dict().items()}, str(tmp / EXTRA_FILE))
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, tmp / "optimizer.pt")
    (tmp / "state.json").write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    for _, old in list_checkpoints(out)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def read_state(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((Path(folder) / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{folder}: state.json does not read back: {exc}") from exc


def load_extra(folder: Path, extra: Any) -> None:
    """Load a checkpoint's auxiliary state (:data:`EXTRA_FILE`) into ``extra`` through ``load_state_dict``.

    Also how a new run starts its probes from an earlier run's (``Trainer(aux_init=...)``).
    """
    from safetensors.torch import load_file

    try:
        extra.load_state_dict(load_file(str(Path(folder) / EXTRA_FILE)))
    except (OSError, RuntimeError) as exc:
        raise CheckpointError(f"{folder}: no {EXTRA_FILE} for this run's auxiliary state: {exc}") from exc


def load_checkpoint(folder: Path, model: Any, optimizer: Any, scheduler: Any, *, extra: Any = None) -> dict[str, Any]:
    """Load the trainable parameters and optimizer state into a model built the same way; returns state.json.

    ``extra`` (see :func:`save_checkpoint`) gets its saved state back through ``load_state_dict``.
    """
    import torch
    from safetensors.torch import load_file

    folder = Path(folder)
    state = read_state(folder)
    try:
        weights = load_file(str(folder / "trainable.safetensors"))
        opt = torch.load(folder / "optimizer.pt", map_location="cpu", weights_only=False)
    except (OSError, RuntimeError) as exc:
        raise CheckpointError(f"{folder}: {exc}") from exc
    expected = {n for n, p in model.named_parameters() if p.requires_grad}
    if set(weights) != expected:
        extra, missing = sorted(set(weights) - expected)[:3], sorted(expected - set(weights))[:3]
        raise CheckpointError(
            f"{folder} holds other parameters than this run trains (LoRA vs full fine-tune, another base or "
            f"LoRA rank?): unexpected {extra}, missing {missing}"
        )
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value.to(params[name].device, dtype=params[name].dtype))
    if extra is not None:
        load_extra(folder, extra)
    optimizer.load_state_dict(opt["optimizer"])
    scheduler.load_state_dict(opt["scheduler"])
    return state
