"""Models vlagent ships, by name, and the card a trained model folder carries (``vlagent.json``).

``--model vlagent-nano`` names the nano Qwen2-VL inside this package (``model/weights/vlagent-nano``): the
transformers backend loads it like any downloaded checkpoint, so the whole model path (processor, chat
template, generation, parsing) runs on a CPU with nothing to download.

A folder ``vlagent train`` exported holds a :class:`ModelCard`: the profile, pixel budget and screenshots
per prompt it was trained with. ``vlagent run`` and ``vlagent eval`` take those where the command line
gives none, because a model trained on 160,000-pixel screenshots, one per prompt, asked with a million
pixels and two screenshots sees inputs it never saw (and runs six times slower).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vlagent.model.errors import ModelLoadError

#: The card's file name inside a model folder.
CARD_FILE = "vlagent.json"
#: Where shipped checkpoints live, one folder per name.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: Shipped models by name: what ``--model NAME`` loads.
SHIPPED_MODELS: dict[str, Path] = {"vlagent-nano": WEIGHTS_DIR / "vlagent-nano"}


class ModelCard(BaseModel):
    """How a model was trained, so it is asked the same way; every field is optional.

    Example:
        >>> ModelCard(max_pixels=160000, history_images=1).history_images
        1
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    profile: str | None = None
    min_pixels: int | None = Field(default=None, ge=1)
    max_pixels: int | None = Field(default=None, ge=1)
    history_images: int | None = Field(default=None, ge=1)
    #: One line for the run banner: what the model is and what it was trained on.
    about: str = ""

    def write(self, folder: str | Path) -> Path:
        """Write the card into ``folder`` (next to config.json)."""
        path = Path(folder) / CARD_FILE
        path.write_text(json.dumps(self.model_dump(exclude_none=True), indent=2) + "\n")
        return path

    @classmethod
    def read(cls, folder: str | Path) -> ModelCard | None:
        """The card in ``folder``, or None when it has none; a card that does not parse is a ModelLoadError."""
        path = Path(folder) / CARD_FILE
        if not path.is_file():
            return None
        try:
            return cls.model_validate(json.loads(path.read_text()))
        except (ValueError, ValidationError) as exc:
            raise ModelLoadError(f"{path}: not a valid model card ({exc})") from exc


def resolve_model(ref: str) -> str:
    """The folder a shipped model's name stands for; any other reference (folder, hub id) unchanged.

    Example:
        >>> resolve_model("vlagent-nano").endswith("weights/vlagent-nano"), resolve_model("Qwen/Qwen2-VL-2B-Instruct")
        (True, 'Qwen/Qwen2-VL-2B-Instruct')
    """
    folder = SHIPPED_MODELS.get(ref)
    if folder is None:
        return ref
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"the shipped model {ref!r} is missing from this install (no {folder / 'config.json'}); "
                             "reinstall vlagent, or rebuild it with scripts/train-nano.sh")
    return str(folder)


def model_card(ref: str) -> ModelCard | None:
    """The card of a shipped model's name or a local model folder; None for hub ids and card-less folders.

    Example:
        >>> model_card("Qwen/Qwen2-VL-2B-Instruct") is None
        True
    """
    path = Path(resolve_model(ref)).expanduser()
    return ModelCard.read(path) if path.is_dir() else None
