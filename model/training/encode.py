"""Samples to tensors the way the transformers backend builds its prompts, plus the reply as labels.

The prompt half must be token for token what :class:`~vlagent.model.transformers_backend.TransformersBackend`
feeds the model at inference, or the model learns one prompt and is asked another. So it is built from the
same pieces: the checkpoint's chat template with the generation prompt, vision placeholders defused in
text, one ``<|image_pad|>`` per merged patch (the model raises "Image features and image tokens do not
match" otherwise), the PIL image processor called with each image's own pixel budget, and
``mm_token_type_ids`` marking image tokens for M-RoPE. The reply is tokenized on its own and followed by
``<|im_end|>``: the token that ends a turn is what the backend stops on, so it is learned too. Labels are
-100 on the prompt and image tokens, so the loss falls on the reply alone.

Batches are right-padded (the loss ignores padding; only generation needs left padding).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from vlagent.model.chat import ImagePart, TextPart
from vlagent.model.qwen_format import (
    IMAGE_PAD,
    QWEN2_VL_CHAT_TEMPLATE,
    QWEN2_VL_DEFAULT_MAX_PIXELS,
    QWEN2_VL_DEFAULT_MIN_PIXELS,
    defuse_vision_tokens,
    visual_tokens_for_grid,
)
from vlagent.model.training.errors import TrainingDataError
from vlagent.model.training.sample import TrainingSample

IGNORE_INDEX = -100
END_OF_TURN = "<|im_end|>"


@dataclass(frozen=True)
class EncodedSample:
    """One sample as tensors: ids, labels (-100 outside the reply) and its images' patches.

    Example:
        >>> import torch
        >>> e = EncodedSample(torch.tensor([1, 2, 3]), torch.tensor([-100, 2, 3]), [], [])
        >>> e.reply_tokens
        2
    """

    input_ids: Any  # LongTensor [seq]
    labels: Any  # LongTensor [seq]
    pixel_values: list[Any]  # one [patches, dim] tensor per image
    image_grid_thw: list[Any]  # one [1, 3] tensor per image

    @property
    def reply_tokens(self) -> int:
        return int((self.labels != IGNORE_INDEX).sum())

    @property
    def nbytes(self) -> int:
        """Memory held (the image patches dominate: ~4.7 MB for a 512x384 screenshot in fp32)."""
        tensors = [self.input_ids, self.labels, *self.pixel_values, *self.image_grid_thw]
        return sum(t.numel() * t.element_size() for t in tensors)


class SampleEncoder:
    """Turns :class:`TrainingSample` into model inputs with a checkpoint's tokenizer and image processor.

    Args:
        tokenizer: the checkpoint's tokenizer (``AutoTokenizer``).
        image_processor: its PIL image processor (``AutoImageProcessor(..., backend="pil")``).
        image_token_id, video_token_id: from the model config.
        max_length: refuse samples longer than this many tokens (a typed error naming the sample).

    Example:
        >>> SampleEncoder.__name__
        'SampleEncoder'
    """

    def __init__(
        self,
        tokenizer: Any,
        image_processor: Any,
        *,
        image_token_id: int,
        video_token_id: int,
        max_length: int | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.image_token_id = int(image_token_id)
        self.video_token_id = int(video_token_id)
        self.max_length = max_length
        self.chat_template = tokenizer.chat_template or QWEN2_VL_CHAT_TEMPLATE
        self.merge_size = int(getattr(image_processor, "merge_size", 2))
        size = getattr(image_processor, "size", None) or {}
        self.min_pixels = int(size.get("shortest_edge") or QWEN2_VL_DEFAULT_MIN_PIXELS)
        self.max_pixels = int(size.get("longest_edge") or QWEN2_VL_DEFAULT_MAX_PIXELS)
        pad = tokenizer.pad_token_id
        self.pad_token_id = int(pad if pad is not None else tokenizer.convert_tokens_to_ids("<|endoftext|>"))
        end = tokenizer.convert_tokens_to_ids(END_OF_TURN)
        if not isinstance(end, int) or end == tokenizer.unk_token_id:
            raise TrainingDataError(f"the tokenizer has no {END_OF_TURN} token: not a Qwen2-VL checkpoint")
        self.end_token_id = int(end)

    # -------------------------------------------------------------------------------------- one sample
    def prompt_text(self, sample: TrainingSample) -> tuple[str, list[Any], list[Any]]:
        """The prompt with image placeholders expanded, and each image's patches and grid."""
        messages: list[dict[str, Any]] = []
        pixel_values, grids = [], []
        for message in sample.chat.messages:
            content: list[dict[str, Any]] = []
            for part in message.content:
                if isinstance(part, TextPart):
                    content.append({"type": "text", "text": defuse_vision_tokens(part.text)})
                    continue
                pv, grid = self._image(part, sample)
                pixel_values.append(pv)
                grids.append(grid)
                content.append({"type": "image"})
            messages.append({"role": message.role, "content": content})
        if messages and messages[-1]["role"] == "assistant":
            raise TrainingDataError(f"{sample.source or 'a sample'}: the chat ends with an assistant turn; "
                                    "the reply belongs in sample.reply")
        text = self.tokenizer.apply_chat_template(
            messages, chat_template=self.chat_template, tokenize=False, add_generation_prompt=True
        )
        pieces = text.split(IMAGE_PAD)
        if len(pieces) - 1 != len(grids):
            raise TrainingDataError(
                f"{sample.source or 'a sample'}: {len(grids)} images but {len(pieces) - 1} {IMAGE_PAD} markers "
                "after the chat template"
            )
        counts = [visual_tokens_for_grid(tuple(int(v) for v in g[0].tolist()), self.merge_size) for g in grids]
        expanded = pieces[0] + "".join(IMAGE_PAD * n + rest for n, rest in zip(counts, pieces[1:], strict=True))
        return expanded, pixel_values, grids

    def _image(self, part: ImagePart, sample: TrainingSample) -> tuple[Any, Any]:
        if not isinstance(part.image, Image.Image):
            raise TrainingDataError(f"{sample.source or 'a sample'}: an image part holds a "
                                    f"{type(part.image).__name__}, not a PIL image")
        lo = int(part.min_pixels or self.min_pixels)
        hi = int(part.max_pixels or self.max_pixels)
        out = self.image_processor(
            images=[part.image.convert("RGB")], size={"shortest_edge": lo, "longest_edge": hi}, return_tensors="pt"
        )
        return out["pixel_values"], out["image_grid_thw"]

    def encode(self, sample: TrainingSample) -> EncodedSample:
        """Prompt ids (labels -100) followed by the reply ids and ``<|im_end|>`` (labelled)."""
        import torch

        if not sample.reply.strip():
            raise TrainingDataError(f"{sample.source or 'a sample'}: empty reply")
        text, pixel_values, grids = self.prompt_text(sample)
        prompt = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        reply = self.tokenizer(sample.reply, add_special_tokens=False)["input_ids"] + [self.end_token_id]
        if self.max_length is not None and len(prompt) + len(reply) > self.max_length:
            raise TrainingDataError(
                f"{sample.source or 'a sample'}: {len(prompt) + len(reply)} tokens, more than max_length "
                f"{self.max_length} (lower the images' max_pixels or the history)"
            )
        ids = torch.tensor(prompt + reply, dtype=torch.long)
        labels = torch.tensor([IGNORE_INDEX] * len(prompt) + reply, dtype=torch.long)
        return EncodedSample(ids, labels, pixel_values, grids)

    # -------------------------------------------------------------------------------------------- batch
    def collate(self, encoded: Sequence[EncodedSample]) -> dict[str, Any]:
        """Right-padded ``input_ids``/``attention_mask``/``labels``/``mm_token_type_ids`` and the images."""
        import torch

        if not encoded:
            raise TrainingDataError("an empty batch")
        width = max(int(e.input_ids.numel()) for e in encoded)
        ids = torch.full((len(encoded), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(encoded), width), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, e in enumerate(encoded):
            n = int(e.input_ids.numel())
            ids[row, :n] = e.input_ids
            labels[row, :n] = e.labels
            mask[row, :n] = 1
        mm = torch.zeros_like(ids)
        mm[ids == self.image_token_id] = 1
        mm[ids == self.video_token_id] = 2
        batch: dict[str, Any] = {"input_ids": ids, "attention_mask": mask, "mm_token_type_ids": mm, "labels": labels}
        pixel_values = [pv for e in encoded for pv in e.pixel_values]
        if pixel_values:
            batch["pixel_values"] = torch.cat(pixel_values)
            batch["image_grid_thw"] = torch.cat([g for e in encoded for g in e.image_grid_thw])
        return batch
