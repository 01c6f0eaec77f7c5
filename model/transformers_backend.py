"""Local Qwen2-VL / Qwen2.5-VL through transformers: dynamic resolution, batched greedy generation.

The processor work is done here piece by piece (image processor per image, chat template, placeholder
expansion, tokenizer) rather than through ``Qwen2VLProcessor``, for two reasons: each image may carry its
own ``min_pixels``/``max_pixels`` (the processor applies one budget to a whole call), and transformers 5
cannot build ``Qwen2VLProcessor`` without torchvision while the PIL image processor
(``Qwen2VLImageProcessorPil``) needs nothing beyond Pillow. The arithmetic is the processor's own: one
``<|image_pad|>`` per merged patch, ``mm_token_type_ids`` marking them for M-RoPE. Videos (``VideoPart``)
go the same way with ``<|video_pad|>`` (type 2), ``pixel_values_videos`` built by model/video.py, and
``video_grid_thw``; position ids follow the Qwen2-VL paper (model/mrope.py) and are passed explicitly.

One call, for all its chats::

    render     chat template per chat (one pad per image), each image keyed by its pixels and budget
    tokenise   all texts at once; each pad repeated for its image's tokens (no expanded text)
    vision     cached embeddings for images seen before; the new ones preprocessed in parallel
               (model/preprocess.py, into one reused buffer) and encoded in one vision-tower call
    generate   model.generate with the embeddings as ``mm_encoder_outputs``, the grids, and M-RoPE
               position ids computed here

torch and transformers are imported when a backend is built, never when this module is imported.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from vlagent.model.catalog import resolve_model
from vlagent.model.chat import Chat, Generation, GenerationOptions, ImagePart, TextPart, VideoPart
from vlagent.model.errors import ModelLoadError, ModelRejected
from vlagent.model.mrope import VisionSpan, batch_positions
from vlagent.model.preprocess import (
    PatchSpec,
    PixelBuffer,
    as_tensor,
    device_pixel_values,
    exact_pixel_values,
    grid_for,
    patch_count,
)
from vlagent.model.qwen_format import (
    IMAGE_PAD,
    QWEN2_VL_CHAT_TEMPLATE,
    QWEN2_VL_DEFAULT_MAX_PIXELS,
    QWEN2_VL_DEFAULT_MIN_PIXELS,
    VIDEO_PAD,
    defuse_vision_tokens,
    visual_tokens_for_grid,
)
from vlagent.model.video import check_frames, exact_video_pixel_values, video_grid
from vlagent.model.vision_cache import Entry, ImageKey, VisionCache, image_digest, video_digest

_DTYPE_NAMES = {
    "float32": "float32",
    "fp32": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
}
MODEL_CLASSES = {
    "qwen2_vl": "Qwen2VLForConditionalGeneration",
    "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
}
_WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.safetensors.index.json", "*.bin.index.json")
#: How images become ``pixel_values``: ``exact`` (bit-identical to transformers' PIL processor, on the
#: host), ``device`` (uint8 upload, resize/normalise/patchify on the GPU, within
#: preprocess.DEVICE_TOLERANCE of exact), ``transformers`` (the library's processor itself, the reference),
#: ``auto`` (device on CUDA, exact elsewhere).
PREPROCESS_MODES = ("auto", "exact", "device", "transformers")
DEFAULT_PREPROCESS = "auto"
_PREPROCESS_THREADS = 2  # PIL's resize and numpy's gather release the GIL; more threads than cores do not help
DEFAULT_VISION_CACHE_MB = 512.0


@dataclass(frozen=True)
class _ImageRef:
    """One image or video of a chat: the picture(s), cache key (pixels + budget), grid, where it is.

    ``kind`` is ``image`` or ``video``; a video's ``frames`` are its pictures and ``image`` its first
    frame; ``interval`` is the step between its temporal positions (see model/mrope.py).
    """

    image: Image.Image
    key: ImageKey
    grid: tuple[int, int, int]
    where: str
    kind: str = "image"
    frames: tuple[Image.Image, ...] = ()
    interval: float = 1.0


@dataclass(frozen=True)
class _Rendered:
    """One chat after the template: its text with one pad per image, and the images in order."""

    text: str
    images: list[_ImageRef]


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
        preprocess: How images become pixel values, one of :data:`PREPROCESS_MODES` (default ``auto``).
        vision_cache_mb: Megabytes of vision embeddings kept for images seen before (history screenshots
            are encoded once); 0 turns the cache off.

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
        preprocess: str = DEFAULT_PREPROCESS,
        vision_cache_mb: float = DEFAULT_VISION_CACHE_MB,
    ) -> None:
        if preprocess not in PREPROCESS_MODES:
            raise ModelRejected(f"unknown preprocess {preprocess!r}; use one of {', '.join(PREPROCESS_MODES)}")
        if vision_cache_mb < 0:
            raise ModelRejected(f"vision_cache_mb must be >= 0, got {vision_cache_mb}")
        for label, value in (("min_pixels", min_pixels), ("max_pixels", max_pixels)):
            if value is not None and value <= 0:
                raise ModelRejected(f"{label} must be positive, got {value}")
        self.model_ref = resolve_model(str(model))  # a shipped model's name (vlagent-nano) is its folder
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
        spec = PatchSpec.from_processor(self.image_processor)
        # A processor configured in a way the fast paths do not mirror keeps going through transformers.
        self._spec = spec or PatchSpec(patch_size=self.patch_size, merge_size=self.merge_size)
        if spec is None or preprocess == "transformers":
            self.preprocess = "transformers"
        elif preprocess == "auto":
            self.preprocess = "device" if self.device.startswith("cuda") else "exact"
        else:
            self.preprocess = preprocess
        self._vision_dtype = next(self.model.model.visual.parameters()).dtype
        self._dtype_name = str(self._vision_dtype).removeprefix("torch.")
        self.vision_cache = VisionCache(int(vision_cache_mb * 2**20))
        self._pixels = PixelBuffer()
        self._video_pixels = PixelBuffer()
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

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
        class_name = MODEL_CLASSES.get(getattr(config, "model_type", ""))
        if class_name is None:
            raise ModelLoadError(
                f"{ref!r} is a {getattr(config, 'model_type', '?')!r} model; this backend runs "
                f"{', '.join(MODEL_CLASSES)} (Qwen2-VL, Qwen2.5-VL and their fine-tunes such as UI-TARS)"
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

    def _image_ref(self, part: ImagePart, opts: GenerationOptions, where: str) -> _ImageRef:
        if not isinstance(part.image, Image.Image):
            raise ModelLoadError(f"{where} is a {type(part.image).__name__}, not a PIL image")
        mn, mx = self._budget(part, opts)
        try:
            grid = grid_for(part.image.size, self._spec, mn, mx)
        except ValueError as exc:
            raise self._unprocessable(part.image, where, exc) from exc
        return _ImageRef(part.image, ImageKey(image_digest(part.image), mn, mx), grid, where)

    def _video_ref(self, part: VideoPart, opts: GenerationOptions, where: str) -> _ImageRef:
        """A video's grid (per-frame budget, lowered to fit ``max_tokens``), cache key and time step."""
        for frame in part.frames:
            if not isinstance(frame, Image.Image):
                raise ModelLoadError(f"a frame of {where} is a {type(frame).__name__}, not a PIL image")
        mn = part.min_pixels or opts.min_pixels or self.min_pixels
        mx = part.max_pixels or opts.max_pixels or self.max_pixels
        if mn > mx:
            raise ModelRejected(f"{where}: min_pixels {mn} is larger than max_pixels {mx}")
        try:
            size = check_frames(part.frames)
            grid = video_grid(size, len(part.frames), self._spec, int(mn), int(mx), part.max_tokens)
        except ValueError as exc:
            raise ModelRejected(f"{where} ({len(part.frames)} frames) cannot be encoded: {exc}") from exc
        digest = video_digest([image_digest(f) for f in part.frames], part.max_tokens)
        return _ImageRef(part.frames[0], ImageKey(digest, int(mn), int(mx)), grid, where, "video",
                         part.frames, self._time_interval(part))

    def _time_interval(self, part: VideoPart) -> float:
        """Temporal position step per temporal patch: 1 for Qwen2-VL; Qwen2.5-VL counts absolute time."""
        per_second = getattr(self.model.config.vision_config, "tokens_per_second", None)
        if getattr(self.model.config, "model_type", "") != "qwen2_5_vl" or not per_second:
            return 1.0
        return float(per_second) * self._spec.temporal_patch_size / part.fps

    @staticmethod
    def _unprocessable(image: Image.Image, where: str, exc: BaseException) -> ModelLoadError:
        w, h = image.size
        return ModelLoadError(f"{where} ({w}x{h}, mode {image.mode}) could not be processed: {exc}")

    def _render(self, chat: Chat, opts: GenerationOptions, index: int) -> _Rendered:
        """The chat's template text (one ``<|image_pad|>`` per image) and its images, keyed for the cache."""
        messages: list[dict[str, Any]] = []
        images: list[_ImageRef] = []
        for message in chat.messages:
            content: list[dict[str, Any]] = []
            for part in message.content:
                if isinstance(part, TextPart):
                    content.append({"type": "text", "text": defuse_vision_tokens(part.text)})
                    continue
                if isinstance(part, VideoPart):
                    videos = sum(r.kind == "video" for r in images)
                    images.append(self._video_ref(part, opts, f"video {videos + 1} of chat {index}"))
                    content.append({"type": "video"})
                    continue
                pictures = sum(r.kind == "image" for r in images)
                images.append(self._image_ref(part, opts, f"image {pictures + 1} of chat {index}"))
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
        for kind, pad in (("image", IMAGE_PAD), ("video", VIDEO_PAD)):
            markers, count = text.count(pad), sum(r.kind == kind for r in images)
            if markers != count:
                raise ModelRejected(
                    f"chat {index} has {count} {kind}s but its text holds {markers} {pad} "
                    "markers; remove Qwen special tokens from the prompt text"
                )
        return _Rendered(text, images)

    def _pixel_values(self, refs: Sequence[_ImageRef]) -> tuple[Any, list[float]]:
        """The ``pixel_values`` of ``refs``, concatenated on the device in the vision tower's dtype.

        Also returns the seconds each image took. Images are processed in parallel: PIL's resize and
        numpy's gather release the GIL.
        """
        import torch

        if self.preprocess == "transformers":
            timed = [self._timed(self._library_pixels, r) for r in refs]
            values = torch.cat([v for _, v in timed]) if len(timed) > 1 else timed[0][1]
            return values.to(self.device, dtype=self._vision_dtype), [t for t, _ in timed]
        if self.preprocess == "device":
            timed = list(self._map(lambda r: self._timed(self._device_pixels, r), refs))
            values = torch.cat([v for _, v in timed]) if len(timed) > 1 else timed[0][1]
            return values, [t for t, _ in timed]
        rows = [patch_count(r.grid) for r in refs]
        buffer = self._pixels.rows(sum(rows), self._spec.patch_dim, self._dtype_name)
        starts = [sum(rows[:i]) for i in range(len(rows))]
        jobs = [(r, buffer[s : s + n]) for r, s, n in zip(refs, starts, rows, strict=True)]
        seconds = list(self._map(lambda job: self._timed(self._exact_pixels, *job)[0], jobs))
        values = as_tensor(buffer, self._dtype_name)
        return values.to(self.device), seconds

    def _exact_pixels(self, ref: _ImageRef, out: Any) -> None:
        try:
            exact_pixel_values(ref.image, self._spec, ref.key.min_pixels, ref.key.max_pixels,
                               dtype=self._dtype_name, out=out)
        except (OSError, ValueError) as exc:
            raise self._unprocessable(ref.image, ref.where, exc) from exc

    def _device_pixels(self, ref: _ImageRef) -> Any:
        try:
            values, _ = device_pixel_values(ref.image, self._spec, ref.key.min_pixels, ref.key.max_pixels,
                                            device=self.device, dtype=self._vision_dtype)
        except (OSError, ValueError) as exc:
            raise self._unprocessable(ref.image, ref.where, exc) from exc
        return values

    def _library_pixels(self, ref: _ImageRef) -> Any:
        """The library's own processor: the reference the fast paths are tested against."""
        size = {"shortest_edge": ref.key.min_pixels, "longest_edge": ref.key.max_pixels}
        try:
            out = self.image_processor(images=[ref.image], size=size, return_tensors="pt")
        except (OSError, ValueError, TypeError) as exc:
            raise self._unprocessable(ref.image, ref.where, exc) from exc
        return out["pixel_values"]

    @staticmethod
    def _timed(fn: Any, *args: Any) -> tuple[float, Any]:
        t0 = time.perf_counter()
        out = fn(*args)
        return time.perf_counter() - t0, out

    def _map(self, fn: Any, items: Sequence[Any]) -> list[Any]:
        if len(items) < 2:
            return [fn(i) for i in items]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=_PREPROCESS_THREADS, thread_name_prefix="vlagent-prep")
        return list(self._pool.map(fn, items))

    def _video_values(self, refs: Sequence[_ImageRef]) -> tuple[Any, list[float]]:
        """``pixel_values_videos`` of ``refs``, one after another, and the seconds each took.

        Every preprocess mode takes the exact host path for videos: transformers' video processor needs
        torchvision, and a clip's frames are small next to a screenshot, so the device path would save
        little.
        """
        rows = [patch_count(r.grid) for r in refs]
        buffer = self._video_pixels.rows(sum(rows), self._spec.patch_dim, self._dtype_name)
        starts = [sum(rows[:i]) for i in range(len(rows))]

        def one(job: tuple[_ImageRef, Any]) -> None:
            ref, out = job
            try:
                exact_video_pixel_values(ref.frames, self._spec, ref.grid, dtype=self._dtype_name, out=out)
            except (OSError, ValueError) as exc:
                raise self._unprocessable(ref.image, ref.where, exc) from exc

        jobs = [(r, buffer[s : s + n]) for r, s, n in zip(refs, starts, rows, strict=True)]
        seconds = [self._timed(one, job)[0] for job in jobs]
        return as_tensor(buffer, self._dtype_name).to(self.device), seconds

    def _vision(self, rendered: Sequence[_Rendered]) -> tuple[list[Any], dict[int, float], float]:
        """Every image's and video's embeddings: from the cache, or encoded now, one tower call per kind.

        Returns the embeddings in prompt order, each chat's own preprocessing seconds (the images it
        brought first) and the vision tower's wall time.
        """
        self.vision_cache.bind(self.model)
        found: dict[ImageKey, Entry] = {}
        new: dict[ImageKey, tuple[int, _ImageRef]] = {}
        for i, chat in enumerate(rendered):
            for ref in chat.images:
                if ref.key in found or ref.key in new:
                    continue
                entry = self.vision_cache.get(ref.key)
                if entry is None:
                    new[ref.key] = (i, ref)
                else:
                    found[ref.key] = entry
        own: dict[int, float] = {}
        encode_seconds = 0.0
        for kind in ("image", "video"):
            todo = [(i, r) for i, r in new.values() if r.kind == kind]
            if todo:
                encode_seconds += self._encode(kind, todo, found, own)
        return [found[r.key].embeds for chat in rendered for r in chat.images], own, encode_seconds

    def _encode(
        self, kind: str, todo: Sequence[tuple[int, _ImageRef]], found: dict[ImageKey, Entry], own: dict[int, float]
    ) -> float:
        """Preprocess and encode new images (or videos) in one vision-tower call; returns the tower's time."""
        import torch

        owners, refs = zip(*todo, strict=True)
        t0 = time.perf_counter()
        values, seconds = self._pixel_values(refs) if kind == "image" else self._video_values(refs)
        # Images ran in parallel: each chat is charged its images' share of the section's wall time,
        # so the charges add up to the time the call spent (not to the threads' sum).
        scale = (time.perf_counter() - t0) / max(sum(seconds), 1e-12)
        for i, sec in zip(owners, seconds, strict=True):
            own[i] = own.get(i, 0.0) + sec * scale
        grids = torch.tensor([r.grid for r in refs], dtype=torch.long, device=self.device)
        features = self.model.get_image_features if kind == "image" else self.model.get_video_features
        t0 = time.perf_counter()
        with torch.inference_mode():
            embeds = features(values, grids, return_dict=True).pooler_output
        if self.device.startswith("cuda"):  # CUDA runs it asynchronously: time the ViT, not its launch
            torch.cuda.synchronize()
        seconds_encoding = time.perf_counter() - t0
        for ref, emb in zip(refs, embeds, strict=True):
            # A split is a view of the whole call's output: copy it so evicting one frees its memory.
            entry = Entry(emb.clone() if len(refs) > 1 else emb, ref.grid)
            found[ref.key] = entry
            self.vision_cache.put(ref.key, entry)
        return seconds_encoding

    def _token_ids(self, rendered: Sequence[_Rendered]) -> list[Any]:
        """Each chat's ids: its text tokenised once, each ``<|image_pad|>`` repeated for its image's tokens.

        The pad is a special token, so the text on either side tokenises the same whatever the count:
        this equals tokenising the expanded text, without building and scanning thousands of pads.
        """
        import numpy as np

        encoded = self.tokenizer([r.text for r in rendered], add_special_tokens=True)["input_ids"]
        rows = []
        for chat, ids in zip(rendered, encoded, strict=True):
            ids = np.asarray(ids, dtype=np.int64)
            repeats = np.ones(len(ids), dtype=np.int64)
            for kind, token in (("image", self.image_token_id), ("video", self.video_token_id)):
                counts = [visual_tokens_for_grid(r.grid, self.merge_size) for r in chat.images if r.kind == kind]
                repeats[ids == token] = counts
            rows.append(np.repeat(ids, repeats))
        return rows

    def _prepare(self, chats: Sequence[Chat], opts: GenerationOptions):
        """The model inputs for ``chats`` and, per chat, the figures a Generation reports."""
        import numpy as np
        import torch
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        t_start = time.perf_counter()
        rendered, own = [], []
        for i, chat in enumerate(chats):
            t0 = time.perf_counter()
            rendered.append(self._render(chat, opts, i))
            own.append(time.perf_counter() - t0)
        rows = self._token_ids(rendered)
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), self.pad_token_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):  # left padding: every prompt ends where generation starts
            ids[i, width - len(row):] = row
            mask[i, width - len(row):] = 1
        mm = np.zeros_like(ids)
        mm[ids == self.image_token_id] = 1
        mm[ids == self.video_token_id] = 2
        embeds, image_seconds, encode_seconds = self._vision(rendered)
        inputs: dict[str, Any] = {
            "input_ids": torch.from_numpy(ids).to(self.device),
            "attention_mask": torch.from_numpy(mask).to(self.device),
            "mm_token_type_ids": torch.from_numpy(mm).to(self.device),
        }
        refs = [r for chat in rendered for r in chat.images]
        if refs:
            encoder_outputs = {}
            for kind, name in (("image", "image_grid_thw"), ("video", "video_grid_thw")):
                chosen = [(r.grid, e) for r, e in zip(refs, embeds, strict=True) if r.kind == kind]
                if chosen:
                    inputs[name] = torch.tensor([g for g, _ in chosen], dtype=torch.long, device=self.device)
                    encoder_outputs[kind] = BaseModelOutputWithPooling(pooler_output=tuple(e for _, e in chosen))
            inputs["mm_encoder_outputs"] = encoder_outputs
            # M-RoPE positions per the paper, passed explicitly (model/mrope.py says why).
            spans = [[VisionSpan(r.grid, r.interval) for r in chat.images] for chat in rendered]
            positions = batch_positions(mm, mask, spans, self.merge_size)
            inputs["position_ids"] = torch.from_numpy(positions).to(self.device)
        host = time.perf_counter() - t_start - encode_seconds
        # Each chat is charged its own template and images; the work common to the batch (tokenising,
        # padding, cache lookups, building the inputs) is split evenly, so the charges add up to `host`.
        charged = [own[i] + image_seconds.get(i, 0.0) for i in range(len(chats))]
        common = max(host - sum(charged), 0.0) / len(chats)
        infos = []
        for i, (chat, row) in enumerate(zip(rendered, rows, strict=True)):
            infos.append({
                "preprocess_seconds": charged[i] + common,
                "prompt_tokens": len(row),
                "visual_tokens": sum(visual_tokens_for_grid(r.grid, self.merge_size) for r in chat.images),
                "resized_sizes": [(r.grid[2] * self.patch_size, r.grid[1] * self.patch_size)
                                  for r in chat.images if r.kind == "image"],
                "video_grids": [r.grid for r in chat.images if r.kind == "video"],
            })
        return inputs, infos, {"host_seconds": host, "vision_seconds": encode_seconds}

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
        """One generation per chat, all chats in one batch (left padding, one forward per decoding step).

        Images seen before (same pixels, same budget) reuse their cached vision embeddings; the others are
        preprocessed in parallel and encoded in one vision-tower call. One call runs at a time.
        """
        import torch

        opts = options or GenerationOptions()
        if not chats:
            return []
        gen_kw = self._generation_kwargs(opts)
        with self._lock:
            try:
                inputs, infos, batch = self._prepare(chats, opts)
                prompt_len = inputs["input_ids"].shape[1]
                t0 = time.perf_counter()
                with torch.inference_mode():
                    out = self.model.generate(**inputs, **gen_kw)
                if self.device.startswith("cuda"):
                    torch.cuda.synchronize()
                seconds = time.perf_counter() - t0 + batch["vision_seconds"]
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
                    extra={
                        "batch_size": len(chats),
                        "resized_sizes": info["resized_sizes"],
                        "video_grids": info["video_grids"],
                        # The host work of the whole call (every chat's preprocessing, in parallel) and the
                        # vision tower's share of generate_seconds: the loop subtracts the first from the
                        # call's wall time to get the model's own.
                        "batch_preprocess_seconds": batch["host_seconds"],
                        "vision_seconds": batch["vision_seconds"],
                    },
                )
            )
        return results
