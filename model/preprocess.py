"""Qwen2-VL image preprocessing, exact and fast: one resize, then normalise + patchify in one gather.

transformers' ``Qwen2VLImageProcessorPil`` turns a screenshot into ``pixel_values`` through a chain of
copies (PIL -> numpy -> PIL again for the resize -> float64 rescale -> float32 normalise on a transposed
view -> patchify -> concatenate). The arithmetic itself is simple, and because the resized image is 8-bit,
every output value is a function of one byte and its channel: ``(float32(byte * rescale) - mean) / std``.
So :func:`exact_pixel_values` resizes once with the processor's own filter, builds that 3x256 lookup table
with the processor's own dtypes and operation order, and writes each patch straight into a reused output
buffer with one gather per channel. The result is bit-identical to the processor's (tests/test_preprocess.py
checks it over many sizes, budgets and image modes) at a fraction of the cost.

On CUDA, :func:`device_pixel_values` uploads the uint8 screenshot and resizes (torch's bicubic with
antialias, the same Keys a=-0.5 kernel as PIL, rounded to 8 bits after each pass as PIL does),
normalises and patchifies on the device, casting to the model's dtype there. It differs from the exact
path only in the resize: fixed-point versus float coefficients (one 8-bit level, 0.015 after
normalisation) and, for some sizes, the order of the two passes (Pillow sometimes runs the vertical pass
first), which moves a few pixels on sharp edges by more. :data:`DEVICE_TOLERANCE` states the bounds the
tests hold it to.

torch is imported only by the functions that return tensors.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from vlagent.actions.coords import resized_size

if TYPE_CHECKING:
    import torch

#: How far the device path may be from the exact one, in normalised units: ``max`` |difference| over all
#: values, its ``mean``, and the ``share`` of values off by more than two 8-bit levels. Screenshots (flat
#: GUI colours, RGB or RGBA) measured max 0.17, mean 0.0003, share 0.0008; dithered palette images, whose
#: every pixel is an edge, max 0.27, mean 0.009, share 0.055. Both are bounded here and tested.
SCREENSHOT_TOLERANCE = {"max": 0.2, "mean": 0.001, "share": 0.002}
DEVICE_TOLERANCE = {"max": 0.4, "mean": 0.015, "share": 0.08}


@dataclass(frozen=True)
class PatchSpec:
    """Everything the processor does to an image, read from its configuration.

    Example:
        >>> spec = PatchSpec()
        >>> spec.factor, spec.patch_dim
        (28, 1176)
    """

    patch_size: int = 14
    merge_size: int = 2
    temporal_patch_size: int = 2
    resample: int = int(Image.Resampling.BICUBIC)
    rescale_factor: float = 1 / 255
    image_mean: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
    image_std: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)

    @property
    def factor(self) -> int:
        """The side of one merged patch: resized sides are multiples of it."""
        return self.patch_size * self.merge_size

    @property
    def patch_dim(self) -> int:
        """Values per row of ``pixel_values``: channels x frames x patch x patch."""
        return 3 * self.temporal_patch_size * self.patch_size * self.patch_size

    @classmethod
    def from_processor(cls, processor: Any) -> PatchSpec | None:
        """The spec of a Qwen2-VL image processor, or ``None`` when it does something this module does not.

        A processor configured to skip the resize, the rescale, the normalisation or the RGB conversion
        (or with a non-RGB mean/std) keeps going through transformers, so the fast path never guesses.
        """
        flags = ("do_resize", "do_rescale", "do_normalize", "do_convert_rgb")
        if not all(getattr(processor, f, True) for f in flags):
            return None
        mean, std = getattr(processor, "image_mean", None), getattr(processor, "image_std", None)
        if mean is None or std is None or len(mean) != 3 or len(std) != 3:
            return None
        return cls(
            patch_size=int(processor.patch_size),
            merge_size=int(processor.merge_size),
            temporal_patch_size=int(processor.temporal_patch_size),
            resample=int(processor.resample if processor.resample is not None else Image.Resampling.BICUBIC),
            rescale_factor=float(processor.rescale_factor),
            image_mean=tuple(float(v) for v in mean),
            image_std=tuple(float(v) for v in std),
        )


def to_rgb(image: Image.Image) -> Image.Image:
    """The image as RGB the way transformers converts it: transparency composited onto white.

    Example:
        >>> to_rgb(Image.new("RGBA", (1, 1), (0, 0, 0, 0))).getpixel((0, 0))
        (255, 255, 255)
    """
    if image.mode == "RGB":
        return image
    if "A" in image.getbands() or image.info.get("transparency") is not None:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def grid_for(size: tuple[int, int], spec: PatchSpec, min_pixels: int, max_pixels: int) -> tuple[int, int, int]:
    """``image_grid_thw`` of one image of ``size`` (width, height): 1 frame x patch rows x patch columns.

    Raises ``ValueError`` as transformers does for an aspect ratio over 200.

    Example:
        >>> grid_for((1920, 1080), PatchSpec(), 3136, 1280 * 28 * 28)
        (1, 52, 94)
    """
    w, h = resized_size(*size, min_pixels=min_pixels, max_pixels=max_pixels, factor=spec.factor)
    return 1, h // spec.patch_size, w // spec.patch_size


def patch_count(grid: tuple[int, int, int]) -> int:
    """Rows of ``pixel_values`` for one image."""
    return grid[0] * grid[1] * grid[2]


_LUTS: dict[tuple[PatchSpec, str], np.ndarray] = {}
_LUT_LOCK = threading.Lock()


def _storage_dtype(dtype: str) -> np.dtype:
    # numpy has no bfloat16: bf16 values travel as their 16-bit patterns and are viewed as bf16 by torch.
    return np.dtype(np.uint16) if dtype == "bfloat16" else np.dtype(dtype)


def normalise_table(spec: PatchSpec, dtype: str = "float32") -> np.ndarray:
    """The (3, 256) table from an 8-bit value to its normalised value, as the processor computes it.

    The processor rescales in float64 and casts to float32, then subtracts a float32 mean and divides by a
    float32 std; the table repeats exactly those operations, so a lookup equals the processor's output bit
    for bit. For ``bfloat16``/``float16`` the float32 values are cast with torch's rounding (what
    ``tensor.to(dtype)`` does to the processor's output); bf16 entries hold the raw 16-bit patterns.
    """
    key = (spec, dtype)
    with _LUT_LOCK:
        table = _LUTS.get(key)
        if table is not None:
            return table
    levels = (np.arange(256, dtype=np.float64) * spec.rescale_factor).astype(np.float32)
    mean = np.array(spec.image_mean, dtype=np.float32)[:, None]
    std = np.array(spec.image_std, dtype=np.float32)[:, None]
    table32 = (levels[None, :] - mean) / std
    if dtype == "float32":
        table = table32
    else:
        import torch

        cast = torch.from_numpy(np.ascontiguousarray(table32)).to(getattr(torch, dtype))
        table = (cast.view(torch.int16) if dtype == "bfloat16" else cast).numpy().view(_storage_dtype(dtype))
    table = np.ascontiguousarray(table)
    table.setflags(write=False)
    with _LUT_LOCK:
        _LUTS[key] = table
    return table


class PixelBuffer:
    """One growable output buffer for ``pixel_values``, reused from call to call.

    Fresh arrays of tens of megabytes pay page faults on first touch (a 198 MB tensor costs 116 ms new and
    15 ms reused); a backend processes about the same images every step, so it keeps one buffer, grown
    with headroom when a batch needs more. The views :meth:`rows` hands out are valid until the next call:
    the backend consumes them (the vision tower reads them) before it asks again.

    Example:
        >>> buf = PixelBuffer()
        >>> buf.rows(10, 1176, "float32").shape
        (10, 1176)
    """

    def __init__(self) -> None:
        self._data = np.empty(0, dtype=np.uint8)

    def rows(self, n: int, width: int, dtype: str) -> np.ndarray:
        """A (n, width) view of the buffer in ``dtype`` (bf16 as uint16 patterns)."""
        storage = _storage_dtype(dtype)
        need = n * width * storage.itemsize
        if self._data.nbytes < need:
            self._data = np.empty(int(need * 1.25) + 1, dtype=np.uint8)
        return self._data[:need].view(storage).reshape(n, width)


def resize_for(image: Image.Image, spec: PatchSpec, grid: tuple[int, int, int]) -> np.ndarray:
    """The RGB image resized to the grid's size with the processor's filter, as an (H, W, 3) uint8 array."""
    _, gh, gw = grid
    rgb = to_rgb(image)
    size = (gw * spec.patch_size, gh * spec.patch_size)
    resized = rgb.resize(size, resample=Image.Resampling(spec.resample))
    return np.asarray(resized)


def patch_blocks(pixels: np.ndarray, spec: PatchSpec) -> np.ndarray:
    """An (H, W, 3) uint8 image as (patches, 3, p, p) uint8 blocks in the processor's row order.

    Row order is the processor's: merged 2x2 blocks in raster order, the patches of each block in raster
    order inside it.
    """
    p, m = spec.patch_size, spec.merge_size
    h, w, _ = pixels.shape
    gh, gw = h // p, w // p
    blocks = pixels.reshape(gh // m, m, p, gw // m, m, p, 3).transpose(0, 3, 1, 4, 6, 2, 5)
    return np.ascontiguousarray(blocks).reshape(gh * gw, 3, p, p)  # uint8: cheap to copy


def write_frame(blocks: np.ndarray, table: np.ndarray, frames: np.ndarray, slot: int) -> None:
    """Normalise ``blocks`` into temporal slot ``slot`` of ``frames`` (patches x 3 x tps x p x p).

    Each row of ``pixel_values`` is channel-major, then the temporal slot, then the patch pixels: an image
    fills every slot with itself, a video's temporal patch puts frame 2g in slot 0 and 2g+1 in slot 1.
    """
    for c in range(3):
        # mode="clip" skips take's bounds buffering; uint8 indexes into 256 entries never clip.
        np.take(table[c], blocks[:, c], out=frames[:, c, slot], mode="clip")


def patchify_into(pixels: np.ndarray, spec: PatchSpec, table: np.ndarray, out: np.ndarray) -> None:
    """Write the normalised patches of an (H, W, 3) uint8 image into ``out`` (rows x patch_dim).

    An image is ``temporal_patch_size`` identical frames: slot 0 is written, the others copy it.
    """
    p, t = spec.patch_size, spec.temporal_patch_size
    blocks = patch_blocks(pixels, spec)
    frames = out.reshape(len(blocks), 3, t, p, p)
    write_frame(blocks, table, frames, 0)
    for k in range(1, t):
        frames[:, :, k] = frames[:, :, 0]


def exact_pixel_values(
    image: Image.Image,
    spec: PatchSpec,
    min_pixels: int,
    max_pixels: int,
    *,
    dtype: str = "float32",
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[int, int, int]]:
    """``pixel_values`` and ``image_grid_thw`` of one image, bit-identical to ``Qwen2VLImageProcessorPil``.

    ``out`` (rows x patch_dim, in ``dtype``'s storage) receives the values when given; a new array is made
    otherwise. bf16 values come back as uint16 patterns: view them with :func:`as_tensor`.

    Example:
        >>> values, grid = exact_pixel_values(Image.new("RGB", (56, 56)), PatchSpec(), 3136, 3136)
        >>> values.shape, grid
        ((16, 1176), (1, 4, 4))
    """
    grid = grid_for(image.size, spec, min_pixels, max_pixels)
    n = patch_count(grid)
    if out is None:
        out = np.empty((n, spec.patch_dim), dtype=_storage_dtype(dtype))
    if out.shape != (n, spec.patch_dim):
        raise ValueError(f"out has shape {out.shape}, the image needs {(n, spec.patch_dim)}")
    patchify_into(resize_for(image, spec, grid), spec, normalise_table(spec, dtype), out)
    return out, grid


def as_tensor(values: np.ndarray, dtype: str) -> torch.Tensor:
    """A CPU tensor sharing ``values``' memory, in ``dtype`` (bf16 patterns viewed as bf16)."""
    import torch

    tensor = torch.from_numpy(values)
    return tensor.view(torch.bfloat16) if dtype == "bfloat16" else tensor


def _resize_like_pil(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bicubic (a=-0.5, antialiased) resize of a (1, 3, H, W) float tensor of 8-bit values, as PIL does it.

    PIL resizes horizontally first, then vertically, rounding and clipping to 8 bits after each pass; doing
    the same here keeps bright text on dark bars from ringing past 255 into the second pass.
    """
    import torch.nn.functional as F  # noqa: N812 - torch's own convention

    if x.shape[-1] != width:
        x = F.interpolate(x, size=(x.shape[-2], width), mode="bicubic", align_corners=False, antialias=True)
        x = x.round_().clamp_(0, 255)
    if x.shape[-2] != height:
        x = F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False, antialias=True)
        x = x.round_().clamp_(0, 255)
    return x


def device_pixel_values(
    image: Image.Image,
    spec: PatchSpec,
    min_pixels: int,
    max_pixels: int,
    *,
    device: str | torch.device,
    dtype: torch.dtype,
) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """``pixel_values`` computed on ``device``: only the uint8 screenshot crosses the bus.

    Within :data:`DEVICE_TOLERANCE` of :func:`exact_pixel_values` (the resize rounds differently); the
    layout and ``image_grid_thw`` are the same. Works on CPU too, which is how the tests check it.
    """
    import torch

    grid = grid_for(image.size, spec, min_pixels, max_pixels)
    _, gh, gw = grid
    p, m, t = spec.patch_size, spec.merge_size, spec.temporal_patch_size
    pixels = torch.from_numpy(np.array(to_rgb(image))).to(device, non_blocking=True)
    x = _resize_like_pil(pixels.permute(2, 0, 1).unsqueeze(0).float(), gh * p, gw * p)
    mean = torch.tensor(spec.image_mean, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.image_std, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    x = (x * spec.rescale_factor - mean) / std
    blocks = x.view(3, gh // m, m, p, gw // m, m, p).permute(1, 4, 2, 5, 0, 3, 6)
    frames = blocks.unsqueeze(5).expand(*blocks.shape[:5], t, p, p)
    return frames.reshape(gh * gw, spec.patch_dim).to(dtype), grid
