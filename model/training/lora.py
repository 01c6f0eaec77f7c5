"""LoRA adapters through peft, on the language model's projections only.

The target regex names the projections under ``language_model``: plain module names (``q_proj``,
``up_proj``...) also match the vision tower's MLP on Qwen2.5-VL, which would then be adapted too and
merge into a different tower than the one the checkpoint shipped.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from vlagent.model.training.errors import MissingTrainingExtra

#: The attention and MLP projections of the language model, never the vision tower's.
LANGUAGE_MODEL_PROJECTIONS = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"


def require_peft() -> None:
    """Raise :class:`MissingTrainingExtra` unless peft is importable."""
    if importlib.util.find_spec("peft") is None:
        raise MissingTrainingExtra()


def add_lora(model: Any, *, rank: int, alpha: int, dropout: float, targets: str = LANGUAGE_MODEL_PROJECTIONS) -> Any:
    """``model`` wrapped in a peft LoRA (base weights frozen, adapters trainable).

    Example:
        >>> callable(add_lora)
        True
    """
    require_peft()
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets, bias="none")
    return get_peft_model(model, config)
