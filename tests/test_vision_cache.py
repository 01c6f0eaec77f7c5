"""The vision-embedding cache: history screenshots are encoded once, and the replies do not change.

The end-to-end checks run the tiny real Qwen2-VL: an episode-like sequence of prompts through a backend
that caches, against the same last prompt through a fresh backend on transformers' own processor with no
cache (the reference path).
"""

from __future__ import annotations

import pytest
import torch
from model_helpers import draw_screenshot
from PIL import Image

from vlagent.model import Chat, GenerationOptions, ImagePart, Message, TextPart
from vlagent.model.qwen_format import IMAGE_PAD, visual_tokens_for_grid
from vlagent.model.transformers_backend import TransformersBackend
from vlagent.model.vision_cache import Entry, ImageKey, VisionCache, image_digest

pytest_plugins = ("model_fixtures",)  # tiny_qwen2vl_path
pytestmark = pytest.mark.timeout(120)

OPTS = GenerationOptions(max_new_tokens=10, max_pixels=256 * 28 * 28)


def entry(nbytes: int) -> Entry:
    return Entry(torch.zeros(nbytes // 4, dtype=torch.float32), (1, 2, 2))


def test_lru_evicts_the_least_recently_used_to_stay_under_its_byte_bound():
    cache = VisionCache(max_bytes=300)
    a, b, c = (ImageKey(d, 1, 2) for d in "abc")
    cache.put(a, entry(100))
    cache.put(b, entry(100))
    assert cache.get(a) is not None  # a is now the most recent
    cache.put(c, entry(200))  # 400 > 300: b goes, then the bound holds
    assert cache.get(b) is None and cache.get(a) is not None and cache.get(c) is not None
    assert cache.nbytes == 300 and cache.stats()["evictions"] == 1
    cache.put(ImageKey("huge", 1, 2), entry(400))  # larger than the whole cache: not kept, nothing evicted
    assert len(cache) == 2 and cache.nbytes == 300


def test_a_different_model_empties_the_cache_and_zero_bytes_keeps_nothing():
    cache = VisionCache(max_bytes=10**6)
    first, second = object(), object()
    cache.bind(first)
    cache.put(ImageKey("a", 1, 2), entry(64))
    cache.bind(first)
    assert len(cache) == 1
    cache.bind(second)
    assert len(cache) == 0
    off = VisionCache(max_bytes=0)
    off.put(ImageKey("a", 1, 2), entry(64))
    assert off.get(ImageKey("a", 1, 2)) is None


def test_digest_follows_content_not_identity():
    shot = draw_screenshot(320, 240)
    copy = shot.copy()
    changed = shot.copy()
    changed.putpixel((5, 5), (1, 2, 3))
    assert image_digest(shot) == image_digest(copy)
    assert image_digest(shot) != image_digest(changed)
    assert image_digest(shot) != image_digest(shot.convert("RGBA"))  # same colours, other bytes/mode
    assert image_digest(Image.new("RGB", (4, 2))) != image_digest(Image.new("RGB", (2, 4)))
    # Paletted: same indexes, other colours (or another transparent index) is another picture.
    paletted = shot.convert("P")
    recoloured = paletted.copy()
    recoloured.putpalette([255 - v for v in paletted.getpalette()])
    transparent = paletted.copy()
    transparent.info["transparency"] = 0
    assert len({image_digest(paletted), image_digest(recoloured), image_digest(transparent)}) == 3


class VisionCalls:
    """Counts what the vision tower is asked to encode (a forward hook on the real module)."""

    def __init__(self, backend: TransformersBackend) -> None:
        self.grids: list[list[list[int]]] = []
        self._handle = backend.model.model.visual.register_forward_hook(self._hook, with_kwargs=True)

    def _hook(self, module, args, kwargs, output) -> None:
        self.grids.append(kwargs["grid_thw"].tolist())

    def close(self) -> None:
        self._handle.remove()


def episode_prompts(screens: list[Image.Image], keep: int = 5) -> list[Chat]:
    """The prompts an agent sends: at step k the last ``keep`` screenshots and the replies so far."""
    chats = []
    for k in range(len(screens)):
        shown = screens[max(0, k + 1 - keep) : k + 1]
        content = [ImagePart(s) for s in shown] + [TextPart(f"Step {k}: open the settings.")]
        chats.append(Chat([Message("system", [TextPart("You are a GUI agent.")]), Message("user", content)]))
    return chats


@pytest.fixture(scope="module")
def screens() -> list[Image.Image]:
    return [draw_screenshot(420 + 40 * i, 300 + 10 * i, title=f"Screen {i}") for i in range(6)]


def test_cached_history_gives_the_reference_reply_and_logits(tiny_qwen2vl_path, screens):
    cached = TransformersBackend(tiny_qwen2vl_path, device="cpu")
    reference = TransformersBackend(tiny_qwen2vl_path, device="cpu", preprocess="transformers", vision_cache_mb=0)
    calls = VisionCalls(cached)
    prompts = episode_prompts(screens)
    replies = [cached.generate([chat], OPTS)[0] for chat in prompts]
    # Every step encoded exactly one image (the new screenshot); the history came from the cache.
    assert [len(g) for g in calls.grids] == [1] * len(prompts)
    calls.close()
    last = prompts[-1]
    assert replies[-1].text == reference.generate([last], OPTS)[0].text
    assert replies[-1].visual_tokens == reference.generate([last], OPTS)[0].visual_tokens
    with torch.inference_mode():
        got = cached.model(**cached._prepare([last], OPTS)[0]).logits
        want = reference.model(**reference._prepare([last], OPTS)[0]).logits
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_without_the_cache_every_image_is_encoded_every_call(tiny_qwen2vl_path, screens):
    backend = TransformersBackend(tiny_qwen2vl_path, device="cpu", vision_cache_mb=0)
    calls = VisionCalls(backend)
    chat = episode_prompts(screens[:3])[-1]
    backend.generate([chat], OPTS)
    backend.generate([chat], OPTS)
    calls.close()
    assert [len(g) for g in calls.grids] == [3, 3]


def test_a_batch_encodes_an_image_shared_by_its_chats_once(tiny_qwen2vl_path, screens):
    backend = TransformersBackend(tiny_qwen2vl_path, device="cpu")
    calls = VisionCalls(backend)
    chats = [Chat.simple("a", [screens[0], screens[1]]), Chat.simple("b", [screens[0].copy(), screens[2]])]
    batched = backend.generate(chats, OPTS)
    calls.close()
    assert [len(g) for g in calls.grids] == [3]  # screens[0] and its copy are one image
    fresh = TransformersBackend(tiny_qwen2vl_path, device="cpu", preprocess="transformers", vision_cache_mb=0)
    assert [g.text for g in batched] == [fresh.generate([c], OPTS)[0].text for c in chats]
    assert backend.vision_cache.stats()["entries"] == 3


def test_a_changed_budget_is_a_different_entry(tiny_qwen2vl_path, screens):
    backend = TransformersBackend(tiny_qwen2vl_path, device="cpu")
    chat = Chat.simple("x", [screens[0]])
    small = backend.generate([chat], GenerationOptions(max_new_tokens=2, max_pixels=64 * 28 * 28))[0]
    large = backend.generate([chat], GenerationOptions(max_new_tokens=2, max_pixels=256 * 28 * 28))[0]
    assert small.visual_tokens < large.visual_tokens
    assert backend.vision_cache.stats()["entries"] == 2


def test_prompt_tokenised_once_equals_tokenising_the_expanded_text(tiny_qwen2vl_path, screens):
    backend = TransformersBackend(tiny_qwen2vl_path, device="cpu")
    chat = episode_prompts(screens[:3])[-1]
    rendered = backend._render(chat, OPTS, 0)
    counts = [visual_tokens_for_grid(r.grid, backend.merge_size) for r in rendered.images]
    pieces = rendered.text.split(IMAGE_PAD)
    expanded = pieces[0] + "".join(IMAGE_PAD * n + rest for n, rest in zip(counts, pieces[1:], strict=True))
    (ids,) = backend._token_ids([rendered])
    assert ids.tolist() == backend.tokenizer(expanded)["input_ids"]
