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
- A small M-RoPE base (:data:`NANO_ROPE_THETA`), so screen rows and columns differ in phase.

:func:`build_nano_qwen2vl` writes the untrained checkpoint; ``scripts/train-nano.sh`` trains it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from vlagent.model.tiny import _train_tokenizer, save_random_checkpoint, tiny_qwen2vl_config

NANO_VOCAB_SIZE = 2048
#: M-RoPE's base. Qwen2-VL's 1,000,000 gives the width section of a 64-wide head rotations of 1e-6 to 2e-4
#: radians per position: across a 16-column screen the language model cannot tell one column from the next.
#: The nano model's context is short (under 1,000 tokens), so a small base costs nothing there and puts the
#: height and width sections at 0.05-0.5 radians per position.
NANO_ROPE_THETA = 20.0
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
