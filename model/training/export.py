"""Write a trained model as a folder the transformers backend loads like any downloaded checkpoint.

``save_pretrained`` of a model writes weights, config and generation config but not the tokenizer,
the image processor or the chat template, and peft's ``merge_and_unload`` keeps none of them either; a
folder without them does not load in :class:`~vlagent.model.transformers_backend.TransformersBackend`.
:func:`export_model` writes all of it. A LoRA run is merged into the base weights (the folder then needs
no peft), and its adapter alone is kept next to it for who wants to load it with ``PeftModel``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

#: Files a checkpoint folder needs besides weights and config, copied from the base when it has them.
_PROCESSOR_FILES = ("chat_template.json", "chat_template.jinja")


def is_peft_model(model: Any) -> bool:
    return hasattr(model, "peft_config") and hasattr(model, "merge_and_unload")


def save_processors(tokenizer: Any, image_processor: Any, base: str | Path, out: Path) -> None:
    """Tokenizer, image processor and chat template next to the weights."""
    tokenizer.save_pretrained(out)
    image_processor.save_pretrained(out)
    base_dir = Path(str(base)).expanduser()
    for name in _PROCESSOR_FILES:
        if (base_dir / name).is_file():
            shutil.copyfile(base_dir / name, out / name)
    if not (out / "chat_template.json").exists() and tokenizer.chat_template:
        (out / "chat_template.json").write_text(json.dumps({"chat_template": tokenizer.chat_template}, indent=2) + "\n")


def export_model(model: Any, tokenizer: Any, image_processor: Any, base: str | Path, out: str | Path,
                 *, load_kwargs: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (full fine-tune, or LoRA merged into a fresh copy of ``base``) to ``out``.

    The training model is left as it is, so this also serves evaluations in the middle of a run: a LoRA
    adapter is saved, loaded onto a freshly loaded base and merged there.

    Example:
        >>> callable(export_model)
        True
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if is_peft_model(model):
        from peft import PeftModel

        adapter = out / "adapter"
        model.save_pretrained(adapter)
        base_model = type(model.get_base_model()).from_pretrained(str(base), **(load_kwargs or {}))
        merged = PeftModel.from_pretrained(base_model, adapter).merge_and_unload()
        merged.save_pretrained(out)
        tokenizer.save_pretrained(adapter)
    else:
        model.save_pretrained(out)
    save_processors(tokenizer, image_processor, base, out)
    return out
