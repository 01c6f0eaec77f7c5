"""The nano Qwen2-VL: the real architecture at a few million parameters, to be trained from scratch here.

Same config class, processor files and chat template as the shipped Qwen2-VL checkpoints, so the same
transformers backend loads it as it loads a 7B. What differs:

- **Its own small tokenizer**: a byte-level BPE of :data:`NANO_VOCAB_SIZE` trained on the prompts and
  replies it will see (passed in as ``corpus``: the caller draws them from the synthetic apps), holding
  every Qwen2-VL special token. Qwen2's pre-tokenizer makes every digit one token, so a coordinate is
  written digit by digit, each digit a small classification the model can learn.
- **Widths**: text 4 layers of 256 (4 heads of 64, M-RoPE sections [8, 12, 12] summing to 32 = 64/2 as
  [16, 24, 24] do for 128), vision 4 blocks of 128 merged 2x2 into the text width; about 4.4M parameters,
  17-18 MB of float32 safetensors.
- The real initializer range (0.02): it is trained, not sampled at random.
- A smaller M-RoPE base than Qwen's (:data:`NANO_ROPE_THETA`): rows still differ in phase, and half the
  components stay slow enough for lookups by content.

:func:`build_nano_qwen2vl` writes the untrained checkpoint; ``scripts/train-nano.sh`` trains it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from vlagent.model.tiny import _train_tokenizer, save_random_checkpoint, tiny_qwen2vl_config

#: The screen sizes the nano recipe trains on (scripts/train-nano.sh), and so the ones to run it at.
NANO_SIZES = ("phone", "800x600")
#: Its pixel budget and screenshots per prompt: the card's (model/catalog.py), so ``--model vlagent-nano``
#: is asked as it was trained.
NANO_MIN_PIXELS, NANO_MAX_PIXELS, NANO_HISTORY_IMAGES = 3136, 160_000, 1
NANO_ABOUT = ("a ~4.4M-parameter Qwen2-VL trained from scratch on vlagent's built-in synthetic apps only "
              f"(sizes {' and '.join(NANO_SIZES)}); it drives those apps and nothing else: it finishes their confirm "
              "dialogs, under half of the home-screen taps and almost none of the multi-step apps (README: The nano model)")

NANO_VOCAB_SIZE = 2048
#: M-RoPE's base. With head_dim 64 and sections [8, 12, 12] the temporal section turns 1 to 0.13 rad per
#: position, the height section 0.1 to 0.004 and the width section 0.003 to 0.0001. The slow half is what lets
#: a reply token find the task words or a widget by what they say, from a distance that changes with the
#: task's length: at a base of 20 (the previous recipe) every component turned at least 0.05 rad per
#: position, so no lookup over the ~250 tokens between task and reply was the same from one sample to the
#: next, and the trained model clicked by the task's wording alone, the same button whatever the screen
#: showed. Where each visual token is comes from the vision tower and the position probe
#: (:mod:`vlagent.model.training.pointer_aux`), not from a fast rotation.
NANO_ROPE_THETA = 10000.0
NANO_TEXT = {
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "rope_parameters": {"rope_type": "default", "rope_theta": NANO_ROPE_THETA, "mrope_section": [8, 12, 12]},
}
NANO_VISION = {"depth": 4, "embed_dim": 128, "hidden_size": 256, "mlp_ratio": 2, "num_heads": 4}


def nano_qwen2vl_config(tokenizer):
    """The nano ``Qwen2VLConfig`` for ``tokenizer`` (special-token ids as in the real layout).

    Example:
        >>> NANO_TEXT["hidden_size"] // NANO_TEXT["num_attention_heads"] == 2 * sum(NANO_TEXT["rope_parameters"]["mrope_section"])
        True
    """
    return tiny_qwen2vl_config(tokenizer, initializer_range=0.02, text_overrides=NANO_TEXT,
                               vision_overrides=NANO_VISION)


def build_nano_qwen2vl(folder: str | Path, corpus: Iterable[str], *, seed: int = 0) -> Path:
    """Write the untrained nano checkpoint (weights, tokenizer, preprocessor, chat template) to ``folder``.

    Example:
        >>> callable(build_nano_qwen2vl)
        True
    """
    from transformers import Qwen2VLForConditionalGeneration

    lines = sorted({line for text in corpus for line in text.splitlines() if line.strip()})
    tokenizer = _train_tokenizer(lines, NANO_VOCAB_SIZE)
    config = nano_qwen2vl_config(tokenizer)
    return save_random_checkpoint(folder, Qwen2VLForConditionalGeneration, config, tokenizer, seed=seed)


def ship_nano(trained: str | Path, folder: str | Path) -> Path:
    """Copy a trained nano model folder to ``folder`` (``model/weights/vlagent-nano``) with its card.

    Only what the transformers backend loads is copied (no training leftovers). The card is the one
    ``vlagent train`` wrote (the profile, pixel budget and screenshots per prompt it really trained with),
    with :data:`NANO_ABOUT` as what it is; a folder without a card is refused, since nothing else knows how
    the model must be asked.
    """
    import shutil

    from vlagent.model.catalog import CARD_FILE, ModelCard
    from vlagent.model.errors import ModelLoadError

    src, dst = Path(trained), Path(folder)
    card = ModelCard.read(src)
    if card is None:
        raise ModelLoadError(f"{src} has no {CARD_FILE}: ship a folder `vlagent train` exported")
    dst.mkdir(parents=True, exist_ok=True)
    for old in dst.iterdir():
        old.unlink()
    for path in sorted(src.iterdir()):
        if path.is_file() and (path.suffix in (".json", ".jinja", ".safetensors")):
            shutil.copyfile(path, dst / path.name)
    card.model_copy(update={"about": NANO_ABOUT}).write(dst)
    return dst
