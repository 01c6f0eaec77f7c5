"""Vision embeddings of screenshots already seen: each image goes through the ViT once per episode.

An agent's prompt carries the last few screenshots, so without a cache every history screenshot is
preprocessed and encoded again at every step (5 history images cost 5.8x one). Qwen2-VL's vision tower
sees only the image's own patches (its attention is per image, its positions are the image's own grid),
so an image's embeddings do not depend on the text or the other images around it: reusing them is exact.

Keys are the image's content (a digest of its mode, size and pixels) and its pixel budget (which fixes the
resize). Entries live in one LRU per backend, bounded by the bytes of the embeddings it holds; the backend
clears it when its model changes (:meth:`VisionCache.bind`).

Digests are remembered per image object while it lives, so a screenshot kept in an episode's history is
hashed once, not at every step. That relies on a screenshot not being drawn on after it was first sent,
which holds for every image vlagent makes (observations are never mutated; annotation draws on a copy).
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from PIL import Image


@dataclass(frozen=True)
class ImageKey:
    """What a cached embedding depends on: the pixels and the budget that sets the resize.

    Example:
        >>> ImageKey("ab12", 3136, 1003520).max_pixels
        1003520
    """

    digest: str
    min_pixels: int
    max_pixels: int


_DIGESTS: dict[int, tuple[weakref.ref[Image.Image], str]] = {}
_DIGEST_LOCK = threading.Lock()


def _forget(image_id: int) -> None:
    with _DIGEST_LOCK:
        _DIGESTS.pop(image_id, None)


def image_digest(image: Image.Image) -> str:
    """A digest of the image's mode, size, pixels and palette (SHA-1: ~4 ms at 1920x1080), once per object.

    Example:
        >>> a, b = Image.new("RGB", (4, 4)), Image.new("RGB", (4, 4))
        >>> image_digest(a) == image_digest(b) != image_digest(Image.new("RGB", (4, 4), "red"))
        True
    """
    key = id(image)
    with _DIGEST_LOCK:
        known = _DIGESTS.get(key)
        if known is not None and known[0]() is image:
            return known[1]
    h = hashlib.sha1(f"{image.mode}:{image.width}x{image.height}:".encode(), usedforsecurity=False)
    h.update(image.tobytes())
    # A paletted image's bytes are indexes: its colours and its transparent index are part of its content.
    if image.palette is not None:
        h.update(bytes(image.getpalette() or ()))
    h.update(repr(image.info.get("transparency")).encode())
    digest = h.hexdigest()
    ref = weakref.ref(image, lambda _r, key=key: _forget(key))
    with _DIGEST_LOCK:
        _DIGESTS[key] = (ref, digest)
    return digest


def video_digest(frame_digests: list[str], max_tokens: int) -> str:
    """A video's key: its frames' digests in order, and the token cap that sets its per-frame resize.

    Example:
        >>> video_digest(["a", "b"], 16384) != video_digest(["b", "a"], 16384)
        True
    """
    h = hashlib.sha1(f"video:{max_tokens}:".encode(), usedforsecurity=False)
    h.update(":".join(frame_digests).encode())
    return "video:" + h.hexdigest()


@dataclass(frozen=True)
class Entry:
    """One image's vision embeddings (merged tokens x hidden, on the model's device) and its grid."""

    embeds: Any  # torch.Tensor; typed loosely so this module imports without torch
    grid: tuple[int, int, int]

    @property
    def nbytes(self) -> int:
        return int(self.embeds.numel() * self.embeds.element_size())


class VisionCache:
    """A byte-bounded LRU of vision embeddings, for one backend.

    Args:
        max_bytes: the most bytes of embeddings kept; 0 turns the cache off (every lookup misses).

    Example:
        >>> import torch
        >>> cache = VisionCache(max_bytes=1024)
        >>> key = ImageKey("d", 1, 2)
        >>> cache.put(key, Entry(torch.zeros(4, 8), (1, 4, 4)))
        >>> cache.get(key).grid, cache.stats()["hits"], cache.nbytes
        ((1, 4, 4), 1, 128)
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self._entries: OrderedDict[ImageKey, Entry] = OrderedDict()
        self.nbytes = 0
        self.hits = self.misses = self.evictions = 0
        self._owner: object | None = None

    def bind(self, model: object) -> None:
        """Make the cache belong to ``model``; a different model (reloaded, swapped) empties it first.

        In-place weight updates (training the model the backend serves) are not visible here: call
        :meth:`clear` after them.
        """
        if self._owner is not model:
            self.clear()
            self._owner = model

    def get(self, key: ImageKey) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def put(self, key: ImageKey, entry: Entry) -> None:
        """Keep ``entry``, evicting the least recently used until the bound holds (too big: not kept)."""
        if entry.nbytes > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.nbytes -= old.nbytes
        self._entries[key] = entry
        self.nbytes += entry.nbytes
        while self.nbytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.nbytes -= evicted.nbytes
            self.evictions += 1

    def clear(self) -> None:
        self._entries.clear()
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> dict[str, int]:
        """Hits, misses, evictions, entries and bytes held (the benchmarks and gpu_check print them)."""
        return {"hits": self.hits, "misses": self.misses, "evictions": self.evictions,
                "entries": len(self._entries), "bytes": self.nbytes}
