"""M-RoPE position ids as the Qwen2-VL paper defines them, for prompts mixing text, images and videos.

Each token has three positions (temporal, height, width). Text tokens carry the same number in all three,
one more than the token before. A vision input's tokens form a grid: temporal ``start + t * interval``,
height ``start + row``, width ``start + column`` (rows and columns of merged patches). The paper: "position
numbering for each modality is initialized by incrementing the maximum position ID of the preceding
modality by one", so the text after a vision input starts at the largest position any of its tokens got,
plus one.

transformers 5.24's ``get_rope_index`` starts the next text at ``start + max(h, w) / merge`` instead,
which is the same number for an image (its temporal position stays at ``start``) and for a video whose
temporal extent is no longer than its spatial one, but smaller for a longer video: 16 frames at 56x56
(grid 8x4x4) put the video's temporal positions at 20-27 while the next text token gets 22, so the
text overlaps the video's time axis. The rule here is the one the checkpoints were released with
(transformers 4.x's ``get_rope_index``, which the Qwen team wrote alongside the release, and vLLM's
M-RoPE both use the maximum + 1); the backend passes these positions to ``generate`` itself.

numpy only: the backend turns the array into a tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TEXT, IMAGE, VIDEO = 0, 1, 2


@dataclass(frozen=True)
class VisionSpan:
    """One image or video in a prompt: its ``grid_thw`` in patches and its temporal step.

    ``interval`` is how far apart the temporal positions of consecutive temporal patches are: 1 for
    Qwen2-VL, ``tokens_per_second * seconds_per_temporal_patch`` for Qwen2.5-VL's absolute time.

    Example:
        >>> VisionSpan((8, 4, 4)).tokens(2)
        32
    """

    grid: tuple[int, int, int]
    interval: float = 1.0

    def tokens(self, merge_size: int) -> int:
        t, h, w = self.grid
        return t * (h // merge_size) * (w // merge_size)


def _span_positions(start: int, span: VisionSpan, merge_size: int) -> np.ndarray:
    t, h, w = span.grid[0], span.grid[1] // merge_size, span.grid[2] // merge_size
    temporal = (np.arange(t) * span.interval).astype(np.int64) + start
    tt, hh, ww = np.meshgrid(temporal, np.arange(h) + start, np.arange(w) + start, indexing="ij")
    return np.stack([tt.reshape(-1), hh.reshape(-1), ww.reshape(-1)])


def mrope_positions(token_types: Sequence[int], spans: Sequence[VisionSpan], merge_size: int = 2) -> np.ndarray:
    """The (3, len(token_types)) positions of one prompt; ``token_types`` is 0 text, 1 image, 2 video.

    ``spans`` are the prompt's images and videos in the order their tokens appear. Raises ``ValueError``
    when the vision tokens do not add up to the spans' grids.

    Example:
        >>> types = [0] * 2 + [2] * 32 + [0] * 2    # text, 16 frames at 56x56 (grid 8x4x4), text
        >>> pos = mrope_positions(types, [VisionSpan((8, 4, 4))])
        >>> int(pos[0, 2:34].max()), pos[:, 34].tolist()  # the last temporal position, then the text
        (9, [10, 10, 10])
    """
    types = np.asarray(token_types, dtype=np.int64)
    out = np.zeros((3, len(types)), dtype=np.int64)
    queue = list(spans)
    i, nxt = 0, 0
    while i < len(types):
        kind = int(types[i])
        if kind == TEXT:
            j = i
            while j < len(types) and types[j] == TEXT:
                j += 1
            out[:, i:j] = np.arange(nxt, nxt + j - i)
            nxt += j - i
            i = j
            continue
        if not queue:
            raise ValueError(f"vision token at {i} has no image or video left to belong to")
        span = queue.pop(0)
        n = span.tokens(merge_size)
        if i + n > len(types) or not (types[i : i + n] == kind).all():
            raise ValueError(f"a {'video' if kind == VIDEO else 'image'} of grid {span.grid} needs {n} tokens at {i}")
        pos = _span_positions(nxt, span, merge_size)
        out[:, i : i + n] = pos
        nxt = int(pos.max()) + 1
        i += n
    if queue:
        raise ValueError(f"{len(queue)} images or videos have no tokens in the prompt")
    return out


def batch_positions(
    token_types: np.ndarray, mask: np.ndarray, spans: Sequence[Sequence[VisionSpan]], merge_size: int = 2
) -> np.ndarray:
    """Positions for a left-padded batch, as transformers' Qwen2-VL takes them: (4, batch, length).

    Row 0 is the plain text position (the attention mask's running count, what transformers builds its
    causal mask from); rows 1-3 are the M-RoPE positions of :func:`mrope_positions`. Padding gets 0.
    """
    batch, length = token_types.shape
    out = np.zeros((4, batch, length), dtype=np.int64)
    real = mask.astype(bool)
    out[0] = np.where(real, np.cumsum(mask, axis=1) - 1, 0)
    for b in range(batch):
        out[1:, b, real[b]] = mrope_positions(token_types[b, real[b]], spans[b], merge_size)
    return out
