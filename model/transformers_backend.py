"""Local Qwen2-VL / Qwen2.5-VL through transformers: dynamic resolution, batched greedy generation.

The processor work is done here piece by piece (image processor per image, chat template, placeholder
expansion, tokenizer) rather than through ``Qwen2VLProcessor``, for two reasons: each image may carry its
own ``min_pixels``/``max_pixels`` (the processor applies one budget to a whole call), and transformers 5
cannot build ``Qwen2VLProcessor`` without torchvision while the PIL image processor
(``Qwen2VLImageProcessorPil``) needs nothing beyond Pillow. The arithmetic is the processor's own: one
``<|image_pad|>`` per merged patch, ``mm_token_type_ids`` marking them for M-RoPE.

torch and transformers are imported when a backend is built, never when this module is imported.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from vlagent.model.chat import Chat, Generation, GenerationOptions, ImagePart, TextPart
from vlagent.model.errors import ModelLoadError, ModelRejected
from vlagent.model.qwen_format import (
    IMAGE_PAD,
    QWEN2_VL_CHAT_TEMPLATE,
    QWEN2_VL_DEFAULT_MAX_PIXELS,
    QWEN2_VL_DEFAULT_MIN_PIXELS,
    defuse_vision_tokens,
    visual_tokens_for_grid,
)

_DTYPE_NAMES = {
    "float32": "float32",
    "fp32": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
}
_MODEL_CLASSES = {
    "qwen2_vl": "Qwen2VLForConditionalGeneration",
    "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
}
_WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.safetensors.index.json", "*.bin.index.json")


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when a GPU is visible, else ``cpu``; anything else is checked.

    Example:
        >>> resolve_device("cpu")
        'cpu'
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(
            f"device {device!r} asked for but torch sees no CUDA GPU (torch {torch.__version__})"
        )
    if not (device == "cpu" or device.startswith("cuda") or device == "mps"):
        raise ModelRejected(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N")
    return device


def resolve_dtype(dtype: str | None, device: str):
    """The torch dtype: bf16 on CUDA and float32 on CPU unless one is named (bf16 on CPU works, slowly).

    Example:
        >>> str(resolve_dtype(None, "cpu")), str(resolve_dtype("bf16", "cpu"))
        ('torch.float32', 'torch.bfloat16')
    """
    import torch

    if dtype is None or dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    name = _DTYPE_NAMES.get(str(dtype).lower().removeprefix("torch."))
    if name is None:
        raise ModelRejected(f"unknown dtype {dtype!r}; use one of {', '.join(sorted(_DTYPE_NAMES))}")
    return getattr(torch, name)


def _looks_like_path(model: str) -> bool:
    # A hub id is exactly "owner/name"; anything rooted, relative-dotted or deeper is a folder.
    return model.startswith(("/", "./", "../", "~", ".\\")) or model.count("/") > 1 or "\\" in model


def _is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


class TransformersBackend:
    """Qwen2-VL (or Qwen2.5-VL) on this machine, many chats per forward pass.

    Args:
        model: A hub id (``Qwen/Qwen2-VL-2B-Instruct``, from the local cache when offline) or a folder.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.
        dtype: ``None`` for bf16 on CUDA and float32 on CPU, or ``bf16``/``fp16``/``fp32``.
        attn_implementation: ``sdpa`` (default), ``flash_attention_2`` (needs the flash-attn package and a
            GPU) or ``eager``.
        min_pixels: Smallest image area after resizing; ``None`` keeps the checkpoint's (56*56).
        max_pixels: Largest image area after resizing, the visual-token knob (tokens ~ pixels / 784);
            ``None`` keeps the checkpoint's (12845056, ~16k tokens: lower it for screenshots).
        local_files_only: Never touch the network; default follows ``HF_HUB_OFFLINE``.

    Times reported per generation: ``preprocess_seconds`` is that chat's own image and template work
    plus its share of the batch tokenisation; ``generate_seconds`` is the batch's prefill+decode wall time,
    which every chat in the batch waited for (``extra["batch_size"]`` says how many shared it).

    Example:
        >>> TransformersBackend.name
        'transformers'
    """

    name = "transformers"

    def __init__(
        self,
        model: str | Path,
        *,
        device: str = "auto",
        dtype: str | None = None,
        attn_implementation: str = "sdpa",
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        local_files_only: bool | None = None,
    ) -> None:
        for label, value in (("min_pixels", min_pixels), ("max_pixels", max_pixels)):
            if value is not None and value <= 0:
                raise ModelRejected(f"{label} must be positive, got {value}")
        self.model_ref = str(model)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.attn_implementation = self._check_attn(attn_implementation)
        self._load(local_files_only)
        size = getattr(self.image_processor, "size", None) or {}
        self.min_pixels = int(min_pixels or size.get("shortest_edge") or QWEN2_VL_DEFAULT_MIN_PIXELS)
        self.max_pixels = int(max_pixels or size.get("longest_edge") or QWEN2_VL_DEFAULT_MAX_PIXELS)
        if self.min_pixels > self.max_pixels:
            raise ModelRejected(f"min_pixels {self.min_pixels} is larger than max_pixels {self.max_pixels}")
        self.merge_size = int(getattr(self.image_processor, "merge_size", 2))
        self.patch_size = int(getattr(self.image_processor, "patch_size", 14))

    # ----------------------------------------------------------------------------------------- loading
    def _check_attn(self, attn: str) -> str:
        if attn not in ("sdpa", "flash_attention_2", "eager"):
            raise ModelRejected(f"unknown attn_implementation {attn!r}; use sdpa, flash_attention_2 or eager")
        if attn == "flash_attention_2":
            if importlib.util.find_spec("flash_attn") is None:
                raise ModelLoadError(
                    "attn_implementation='flash_attention_2' needs the flash-attn package "
                    "(`pip install flash-attn --no-build-isolation`); or use 'sdpa'"
                )
            if not self.device.startswith("cuda"):
                raise ModelLoadError(
                    f"flash_attention_2 runs on CUDA only, not on {self.device!r}; use 'sdpa'"
                )
        return attn

    def _resolve_ref(self) -> tuple[str, bool]:
        path = Path(self.model_ref).expanduser()
        if not (path.exists() or _looks_like_path(self.model_ref)):
            return self.model_ref, False  # a hub id
        if not path.is_dir():
            raise ModelLoadError.no_weights(
                str(path), "no such folder" if not path.exists() else "not a folder"
            )
        if not (path / "config.json").is_file():
            raise ModelLoadError.no_weights(str(path), "no config.json")
        if not any(next(path.glob(p), None) for p in _WEIGHT_PATTERNS):
            raise ModelLoadError.no_weights(str(path), "config.json but no *.safetensors or *.bin weights")
        return str(path), True

    def _load(self, local_files_only: bool | None) -> None:
        import transformers
        from transformers import AutoConfig, AutoImageProcessor, AutoTokenizer

        ref, is_local = self._resolve_ref()
        kw: dict[str, Any] = {}
        if local_files_only is not None:
            kw["local_files_only"] = local_files_only
        try:
            config = AutoConfig.from_pretrained(ref, **kw)
        except (OSError, ValueError) as exc:
            if is_local:
                raise ModelLoadError.no_weights(ref, str(exc).splitlines()[0]) from exc
            raise ModelLoadError.offline(ref, str(exc).splitlines()[0]) from exc
        class_name = _MODEL_CLASSES.get(getattr(config, "model_type", ""))
        if class_name is None:
            raise ModelLoadError(
                f"{ref!r} is a {getattr(config, 'model_type', '?')!r} model; this backend runs "
                f"{', '.join(_MODEL_CLASSES)} (Qwen2-VL, Qwen2.5-VL and their fine-tunes such as UI-TARS)"
            )
        model_cls = getattr(transformers, class_name)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(ref, **kw)
            self.image_processor = AutoImageProcessor.from_pretrained(ref, backend="pil", **kw)
            # On a GPU the weights load straight onto it (no full CPU copy of a 7B model first).
            placement = {"device_map": self.device} if self.device.startswith("cuda") else {}
            model = model_cls.from_pretrained(
                ref, dtype=self.dtype, attn_implementation=self.attn_implementation, **placement, **kw
            )
            self.model = model.to(self.device).eval()
        except (OSError, ValueError) as exc:
            if is_local:
                raise ModelLoadError.no_weights(ref, str(exc).splitlines()[0]) from exc
            raise ModelLoadError.offline(ref, str(exc).splitlines()[0]) from exc
        except RuntimeError as exc:
            if _is_oom(exc):
                raise ModelLoadError.out_of_memory(None, "while loading the weights") from exc
            raise
        self.chat_template = self.tokenizer.chat_template or QWEN2_VL_CHAT_TEMPLATE
        self.image_token_id = int(self.model.config.image_token_id)
        self.video_token_id = int(self.model.config.video_token_id)
        gen = self.model.generation_config
        eos = gen.eos_token_id if gen.eos_token_id is not None else self.tokenizer.eos_token_id
        self.eos_token_ids = {int(e) for e in (eos if isinstance(eos, list) else [eos]) if e is not None}
        # A chat turn ends at <|im_end|> whatever the checkpoint's generation_config lists.
        im_end = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        if isinstance(im_end, int) and im_end != self.tokenizer.unk_token_id:
            self.eos_token_ids.add(im_end)
        pad = gen.pad_token_id if gen.pad_token_id is not None else self.tokenizer.pad_token_id
        self.pad_token_id = int(pad if pad is not None else min(self.eos_token_ids))
        self.eos_token_ids.add(self.pad_token_id)

    # ------------------------------------------------------------------------------------ preprocessing
    def _budget(self, part: ImagePart, opts: GenerationOptions) -> tuple[int, int]:
        mn = part.min_pixels or opts.min_pixels or self.min_pixels
        mx = part.max_pixels or opts.max_pixels or self.max_pixels
        if mn > mx:
            raise ModelRejected(f"min_pixels {mn} is larger than max_pixels {mx}")
        return int(mn), int(mx)

    def _process_image(self, part: ImagePart, opts: GenerationOptions, where: str) -> dict[str, Any]:
        if not isinstance(part.image, Image.Image):
            raise ModelLoadError(f"{where} is a {type(part.image).__name__}, not a PIL image")
        mn, mx = self._budget(part, opts)
        try:
            out = self.image_processor(
                images=[part.image], size={"shortest_edge": mn, "longest_edge": mx}, return_tensors="pt"
            )
        except (OSError, ValueError, TypeError) as exc:
            w, h = part.image.size
            raise ModelLoadError(
                f"{where} ({w}x{h}, mode {part.image.mode}) could not be processed: {exc}"
            ) from exc
        return out

    def _render(
        self, chat: Chat, opts: GenerationOptions, index: int
    ) -> tuple[str, list[Any], list[Any], dict]:
        messages: list[dict[str, Any]] = []
        pixel_values, grids = [], []
        for message in chat.messages:
            content: list[dict[str, Any]] = []
            for part in message.content:
                if isinstance(part, TextPart):
                    content.append({"type": "text", "text": defuse_vision_tokens(part.text)})
                    continue
                out = self._process_image(part, opts, f"image {len(grids) + 1} of chat {index}")
                pixel_values.append(out["pixel_values"])
                grids.append(out["image_grid_thw"])
                content.append({"type": "image"})
            messages.append({"role": message.role, "content": content})
        add_prompt = not chat.messages or chat.messages[-1].role != "assistant"
        text = self.tokenizer.apply_chat_template(
            messages,
            chat_template=self.chat_template,
            tokenize=False,
            add_generation_prompt=add_prompt,
            continue_final_message=not add_prompt,
        )
        pieces = text.split(IMAGE_PAD)
        if len(pieces) - 1 != len(grids):
            raise ModelRejected(
                f"chat {index} has {len(grids)} images but its text holds {len(pieces) - 1} {IMAGE_PAD} "
                "markers; remove Qwen special tokens from the prompt text"
            )
        counts = [
            visual_tokens_for_grid(tuple(int(v) for v in g[0].tolist()), self.merge_size) for g in grids
        ]
        expanded = pieces[0] + "".join(
            IMAGE_PAD * n + rest for n, rest in zip(counts, pieces[1:], strict=True)
        )
        sizes = [(int(g[0][2]) * self.patch_size, int(g[0][1]) * self.patch_size) for g in grids]
        return expanded, pixel_values, grids, {"visual_tokens": sum(counts), "resized_sizes": sizes}

    def _prepare(self, chats: Sequence[Chat], opts: GenerationOptions):
        import torch

        texts, pixel_values, grids, infos, own_seconds = [], [], [], [], []
        for i, chat in enumerate(chats):
            t0 = time.perf_counter()
            text, pv, gr, info = self._render(chat, opts, i)
            own_seconds.append(time.perf_counter() - t0)
            texts.append(text)
            pixel_values.extend(pv)
            grids.extend(gr)
            infos.append(info)
        t0 = time.perf_counter()
        batch = self.tokenizer(texts, padding=True, padding_side="left", return_tensors="pt")
        ids = batch["input_ids"]
        mm = torch.zeros_like(ids)
        mm[ids == self.image_token_id] = 1
        mm[ids == self.video_token_id] = 2
        inputs: dict[str, Any] = {
            "input_ids": ids.to(self.device),
            "attention_mask": batch["attention_mask"].to(self.device),
            "mm_token_type_ids": mm.to(self.device),
        }
        if pixel_values:
            inputs["pixel_values"] = torch.cat(pixel_values).to(self.device, dtype=self.dtype)
            inputs["image_grid_thw"] = torch.cat(grids).to(self.device)
        shared = (time.perf_counter() - t0) / len(chats)
        prompt_tokens = batch["attention_mask"].sum(dim=1).tolist()
        for info, own, n in zip(infos, own_seconds, prompt_tokens, strict=True):
            info["preprocess_seconds"] = own + shared
            info["prompt_tokens"] = int(n)
        return inputs, infos

    # --------------------------------------------------------------------------------------- generation
    def _generation_kwargs(self, opts: GenerationOptions) -> dict[str, Any]:
        if opts.max_new_tokens <= 0:
            raise ModelRejected(f"max_new_tokens must be positive, got {opts.max_new_tokens}")
        sampling = opts.temperature > 0
        kw: dict[str, Any] = {
            "max_new_tokens": opts.max_new_tokens,
            "do_sample": sampling,
            # Explicit values so the checkpoint's sampling defaults (Qwen2-VL ships top_k=1, top_p=0.001,
            # repetition_penalty=1.05) never change what "greedy" or "temperature=0.7" means here.
            "temperature": opts.temperature if sampling else 1.0,
            "top_p": opts.top_p if (sampling and opts.top_p is not None) else 1.0,
            "top_k": 0 if sampling else 50,
            "repetition_penalty": 1.0,
            "pad_token_id": self.pad_token_id,
            "eos_token_id": sorted(self.eos_token_ids),
        }
        if opts.stop:
            kw["stop_strings"] = list(opts.stop)
            kw["tokenizer"] = self.tokenizer
        return kw

    def _decode(self, row: list[int], stop: tuple[str, ...]) -> tuple[str, int]:
        end = next((i for i, t in enumerate(row) if t in self.eos_token_ids), None)
        kept = row if end is None else row[:end]
        text = self.tokenizer.decode(kept, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
        if cut >= 0:
            return text[:cut], len(kept)  # the token after a stop string is padding, not generated
        return text, len(kept) + (1 if end is not None else 0)

    def generate(self, chats: Sequence[Chat], options: GenerationOptions | None = None) -> list[Generation]:
        """One generation per chat, all chats in one batch (left padding, one forward per decoding step)."""
        import torch

        opts = options or GenerationOptions()
        if not chats:
            return []
        gen_kw = self._generation_kwargs(opts)
        try:
            inputs, infos = self._prepare(chats, opts)
            prompt_len = inputs["input_ids"].shape[1]
            t0 = time.perf_counter()
            with torch.inference_mode():
                out = self.model.generate(**inputs, **gen_kw)
            if self.device.startswith("cuda"):
                torch.cuda.synchronize()
            seconds = time.perf_counter() - t0
        except RuntimeError as exc:
            if _is_oom(exc):
                budget = opts.max_pixels or self.max_pixels
                raise ModelLoadError.out_of_memory(budget, f"{len(chats)} chats in one batch") from exc
            raise
        results = []
        for info, row in zip(infos, out[:, prompt_len:].tolist(), strict=True):
            text, new_tokens = self._decode(row, opts.stop)
            results.append(
                Generation(
                    text=text,
                    prompt_tokens=info["prompt_tokens"],
                    visual_tokens=info["visual_tokens"],
                    new_tokens=new_tokens,
                    preprocess_seconds=info["preprocess_seconds"],
                    generate_seconds=seconds,
                    extra={"batch_size": len(chats), "resized_sizes": info["resized_sizes"]},
                )
            )
        return results
