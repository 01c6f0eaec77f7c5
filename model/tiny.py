"""A tiny random-weight Qwen2-VL, built on the spot, for tests, benchmarks and CLI demos.

No weights can be downloaded on the machines this project is tested on, yet the model path (processor,
chat template, M-RoPE, vision tower, batched generation) must run for real. :func:`build_tiny_qwen2vl`
writes a complete Qwen2-VL checkpoint folder: a small ``Qwen2VLConfig`` with the real token ids layout
(special tokens after the BPE vocabulary), a byte-level BPE tokenizer trained here with the ``tokenizers``
library holding every Qwen2-VL special token, the real Qwen2-VL-Instruct chat template and the real
preprocessor settings (patch 14, merge 2, ``min_pixels``/``max_pixels`` of the shipped checkpoints). The
weights are random, so replies are gibberish; everything around them is real.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vlagent.model.qwen_format import (
    QWEN2_VL_CHAT_TEMPLATE,
    QWEN2_VL_DEFAULT_MAX_PIXELS,
    QWEN2_VL_DEFAULT_MIN_PIXELS,
    QWEN2_VL_SPECIAL_TOKENS,
)

_BPE_VOCAB_SIZE = 768

# Training text for the tokenizer: what an agent reads and writes (tasks, actions, coordinates), so the
# merges are plausible for the replies the tests decode.
_CORPUS_LINES = (
    "You are a helpful assistant.",
    "You are a GUI agent. You are given a task and a screenshot of the screen.",
    "Thought: I should click the OK button to close the dialog.",
    "Action: click(start_box='(512,301)')",
    "Action: type(content='hello world\\n')",
    "Action: scroll(start_box='(500,500)', direction='down')",
    "Action: hotkey(key='ctrl c') wait() finished() call_user()",
    "Describe the screen. Where is the search box? Output its bounding box.",
    "the OK button (512,301),(640,355) the Cancel button (100,200),(300,400)",
    '{"thought": "move towards the goal", "action": "forward"}',
    "Picture 1: Video 1: open the settings app, press home, press back, long press",
    "0 1 2 3 4 5 6 7 8 9 10 25 50 100 250 500 750 999 1000 0.5 0.25",
    "The quick brown fox jumps over the lazy dog. ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n",
)


def _train_tokenizer(corpus: Sequence[str] = _CORPUS_LINES, vocab_size: int = _BPE_VOCAB_SIZE):
    r"""Train a byte-level BPE with Qwen2's pre-tokenizer and wrap it in transformers' Qwen2Tokenizer.

    Qwen2's pre-tokenizer splits every digit on its own (``\p{N}``), so each digit is one token, as in the
    real vocabulary; ``corpus`` and ``vocab_size`` let the nano model train a vocabulary for its own prompts.
    """
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, trainers
    from tokenizers.models import BPE
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    bpe = Tokenizer(BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(list(corpus) * 4, trainer=trainer)
    model_state = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model_state["merges"]]
    tokenizer = Qwen2Tokenizer(
        vocab=model_state["vocab"],
        merges=merges,
        unk_token=None,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        errors="replace",
        model_max_length=32768,
        padding_side="left",
    )
    # Added in the real order so the ids line up the way they do in the real vocabulary (after the BPE).
    tokenizer.add_special_tokens(
        {"additional_special_tokens": [t for t in QWEN2_VL_SPECIAL_TOKENS if t != "<|endoftext|>"]}
    )
    tokenizer.padding_side = "left"
    tokenizer.chat_template = QWEN2_VL_CHAT_TEMPLATE
    return tokenizer


def tiny_qwen2vl_config(
    tokenizer,
    *,
    variant: str = "qwen2_vl",
    initializer_range: float = 0.3,
    text_overrides: Mapping[str, Any] | None = None,
    vision_overrides: Mapping[str, Any] | None = None,
):
    """A ``Qwen2VLConfig`` (or ``Qwen2_5_VLConfig``) with the real architecture at toy widths.

    Text: 2 layers, hidden 64, 4 heads of 16 (``mrope_section`` [2, 3, 3] sums to head_dim / 2 = 8, as
    [16, 24, 24] does for the real head_dim 128). Vision: depth 1, width 32, 2 heads, patch 14, merge 2,
    temporal patch 2, so visual-token counts are exactly those of the real checkpoints. The initializer
    range is wider than the real 0.02 so greedy decoding of random weights has clear winners and batched
    and unbatched runs pick the same tokens. ``text_overrides``/``vision_overrides`` change widths and depths
    (the nano model's sizes), keeping the token-id layout.
    """
    from transformers import Qwen2_5_VLConfig, Qwen2VLConfig

    if variant not in ("qwen2_vl", "qwen2_5_vl"):
        raise ValueError(f"variant must be 'qwen2_vl' or 'qwen2_5_vl', got {variant!r}")

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN2_VL_SPECIAL_TOKENS}
    vocab_size = len(tokenizer)
    text = {
        "vocab_size": vocab_size,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 32768,
        "rms_norm_eps": 1e-6,
        "initializer_range": initializer_range,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 3, 3]},
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }
    vision = {
        "depth": 1,
        "embed_dim": 32,
        "hidden_size": 64,
        "mlp_ratio": 2,
        "num_heads": 2,
        "in_channels": 3,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "initializer_range": initializer_range,
    }
    if variant == "qwen2_5_vl":
        # Qwen2.5-VL's tower: SwiGLU MLP, windowed attention with some full-attention blocks.
        vision = {
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "out_hidden_size": 64,
            "num_heads": 2,
            "in_channels": 3,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 112,
            "fullatt_block_indexes": [1],
            "initializer_range": initializer_range,
        }
    text.update(text_overrides or {})
    vision.update(vision_overrides or {})
    config_cls = Qwen2_5_VLConfig if variant == "qwen2_5_vl" else Qwen2VLConfig
    return config_cls(
        text_config=text,
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )


def build_tiny_qwen2vl(folder: str | Path, *, seed: int = 0, variant: str = "qwen2_vl") -> Path:
    """Write a complete random-weight Qwen2-VL checkpoint to ``folder`` and return its path.

    The folder loads with ``Qwen2VLForConditionalGeneration.from_pretrained`` (and the tokenizer and
    image processor with their Auto classes) like a downloaded checkpoint. The same seed gives the same
    weights and tokenizer. Takes about a second on a laptop CPU once torch is imported.

    Args:
        folder: Where to write (created if missing).
        seed: Seeds the weight initialisation.
        variant: ``qwen2_vl`` (default) or ``qwen2_5_vl`` for a Qwen2.5-VL checkpoint.

    Example:
        >>> callable(build_tiny_qwen2vl)
        True
    """
    from transformers import Qwen2_5_VLForConditionalGeneration, Qwen2VLForConditionalGeneration

    tokenizer = _train_tokenizer()
    config = tiny_qwen2vl_config(tokenizer, variant=variant)
    model_cls = (
        Qwen2_5_VLForConditionalGeneration if variant == "qwen2_5_vl" else Qwen2VLForConditionalGeneration
    )
    return save_random_checkpoint(folder, model_cls, config, tokenizer, seed=seed)


def save_random_checkpoint(folder: str | Path, model_cls: Any, config: Any, tokenizer: Any, *, seed: int) -> Path:
    """Write a seeded random-weight ``model_cls(config)`` with the files a real Qwen2-VL checkpoint ships.

    The tiny test model and the untrained nano model are both made this way; the backend then loads them
    through the same path as a downloaded 7B.
    """
    import torch
    from transformers import GenerationConfig
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_cls(config)
    model.generation_config = GenerationConfig(
        bos_token_id=config.text_config.bos_token_id,
        pad_token_id=config.text_config.pad_token_id,
        eos_token_id=[config.text_config.eos_token_id, config.text_config.pad_token_id],
        do_sample=False,
    )
    model.save_pretrained(out)
    # Saved part by part, as the real checkpoints ship them (preprocessor_config.json, tokenizer files,
    # chat_template.json): transformers 5's Qwen2VLProcessor cannot be built without torchvision.
    Qwen2VLImageProcessorPil(
        min_pixels=QWEN2_VL_DEFAULT_MIN_PIXELS, max_pixels=QWEN2_VL_DEFAULT_MAX_PIXELS
    ).save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "chat_template.json").write_text(
        json.dumps({"chat_template": QWEN2_VL_CHAT_TEMPLATE}, indent=2) + "\n"
    )
    return out
