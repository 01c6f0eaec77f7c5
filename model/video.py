"""Qwen2-VL video input without torchvision: frame budgets, ``video_grid_thw`` and ``pixel_values_videos``.

Qwen2-VL reads images and videos with one vision tower: a row of ``pixel_values`` holds one 14x14 patch
of ``temporal_patch_size`` (2) consecutive frames, so an image is two identical frames and a video of T
frames is T/2 temporal patches (an odd count is padded by repeating the last frame, as transformers'
video processor does). transformers' video processor needs torchvision, which vlagent does not install;
the layout it produces is simple enough to write directly: every frame is resized and normalised exactly
as the PIL image processor does an image (model/preprocess.py), and frame 2g goes into temporal slot 0
and frame 2g+1 into slot 1 of temporal patch g. Each frame is therefore bit-identical to what the image
processor makes of it; against transformers' (torch) video processor the values differ only where a
frame is resized (PIL's fixed-point bicubic against torch's float one, about one 8-bit level).

Token cost: one token per merged 2x2 patch per temporal patch, so a frame costs half of what the same
image would. A clip is capped at ``max_tokens`` (the paper's 16,384 by default) by lowering the
per-frame pixel budget, all frames alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from vlagent.model.preprocess import (
    PatchSpec,
    grid_for,
    normalise_table,
    patch_blocks,
    resize_for,
    write_frame,
)


def padded_frame_count(frames: int, spec: PatchSpec) -> int:
    """Frames after padding to a whole number of temporal patches (the last frame repeated).

    Example:
        >>> padded_frame_count(3, PatchSpec()), padded_frame_count(4, PatchSpec())
        (4, 4)
    """
    return frames + (-frames % spec.temporal_patch_size)


def frame_budget(
    frames: int, spec: PatchSpec, min_pixels: int, max_pixels: int, max_tokens: int
) -> tuple[int, int]:
    """The per-frame ``(min_pixels, max_pixels)`` that keep a clip of ``frames`` within ``max_tokens``.

    A temporal patch of ``h x w`` pixels costs ``h*w / factor**2`` tokens, so the clip's share per
    temporal patch is ``max_tokens // patches`` tokens, i.e. that many ``factor x factor`` squares of
    pixels. Raises ``ValueError`` when not even one token per temporal patch fits.

    Example:
        >>> frame_budget(16, PatchSpec(), 3136, 1003520, 16384)   # 8 temporal patches: 2048 tokens each
        (3136, 1003520)
        >>> frame_budget(64, PatchSpec(), 3136, 12845056, 16384)  # 32 patches: 512 tokens each
        (3136, 401408)
    """
    patches = padded_frame_count(frames, spec) // spec.temporal_patch_size
    share = max_tokens // patches
    if share < 1:
        raise ValueError(f"{frames} frames need at least {patches} tokens, more than max_tokens={max_tokens}")
    cap = min(max_pixels, share * spec.factor * spec.factor)
    return min(min_pixels, cap), cap


def video_grid(
    size: tuple[int, int], frames: int, spec: PatchSpec, min_pixels: int, max_pixels: int, max_tokens: int
) -> tuple[int, int, int]:
    """``video_grid_thw`` of a clip of ``frames`` frames of ``size`` (width, height).

    Example:
        >>> video_grid((224, 224), 4, PatchSpec(), 3136, 1003520, 16384)
        (2, 16, 16)
        >>> video_grid((1280, 720), 5, PatchSpec(), 3136, 50176, 16384)
        (3, 12, 20)
    """
    lo, hi = frame_budget(frames, spec, min_pixels, max_pixels, max_tokens)
    _, gh, gw = grid_for(size, spec, lo, hi)
    grid = (padded_frame_count(frames, spec) // spec.temporal_patch_size, gh, gw)
    tokens = grid[0] * gh * gw // (spec.merge_size**2)
    if tokens > max_tokens:  # smart_resize keeps at least one merged patch a side: a very thin frame
        raise ValueError(f"{frames} frames of {size[0]}x{size[1]} cost {tokens} tokens, over max_tokens={max_tokens}")
    return grid


def check_frames(frames: Sequence[Image.Image]) -> tuple[int, int]:
    """The one size every frame has; raises ``ValueError`` for frames of different sizes.

    A video is one tensor of frames: a frame of another size (a rotated phone) would have to be
    distorted into the first one's, so it is refused instead.
    """
    if not frames:
        raise ValueError("a video needs at least one frame")
    sizes = {f.size for f in frames}
    if len(sizes) > 1:
        raise ValueError(f"a video's frames must share one size, got {sorted(sizes)}")
    return frames[0].size


def exact_video_pixel_values(
    frames: Sequence[Image.Image],
    spec: PatchSpec,
    grid: tuple[int, int, int],
    *,
    dtype: str = "float32",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """``pixel_values_videos`` of a clip at ``grid`` (from :func:`video_grid`), rows x patch_dim.

    Row ``g*n + i`` is patch ``i`` of temporal patch ``g``: frame ``2g`` in slot 0, frame ``2g+1`` in
    slot 1 (the last frame repeated when the count is odd). A frame that repeats an earlier one (the same
    object) is resized once.

    Example:
        >>> clip = [Image.new("RGB", (56, 56), c) for c in ("red", "blue", "lime")]
        >>> exact_video_pixel_values(clip, PatchSpec(), (2, 4, 4)).shape
        (32, 1176)
    """
    t, gh, gw = grid
    tps, p = spec.temporal_patch_size, spec.patch_size
    if t * tps < len(frames) or t * tps >= len(frames) + tps:
        raise ValueError(f"grid {grid} does not hold {len(frames)} frames")
    padded = list(frames) + [frames[-1]] * (t * tps - len(frames))
    n = gh * gw
    if out is None:
        out = np.empty((t * n, spec.patch_dim), dtype=np.uint16 if dtype == "bfloat16" else np.dtype(dtype))
    if out.shape != (t * n, spec.patch_dim):
        raise ValueError(f"out has shape {out.shape}, the video needs {(t * n, spec.patch_dim)}")
    table = normalise_table(spec, dtype)
    blocks: dict[int, np.ndarray] = {}
    for j, frame in enumerate(padded):
        key = id(frame)
        if key not in blocks:
            blocks[key] = patch_blocks(resize_for(frame, spec, (1, gh, gw)), spec)
        g, slot = divmod(j, tps)
        write_frame(blocks[key], table, out[g * n : (g + 1) * n].reshape(n, 3, tps, p, p), slot)
    return out
