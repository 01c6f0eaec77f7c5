"""Video input on the real model path: grids and token counts, the pixel layout, generation, M-RoPE.

The reference for the pixel layout is transformers' own PIL image processor run on each frame, rearranged
by the recipe issue 14 measured against transformers' (torchvision) video processor: keep one of the
``temporal_patch_size`` identical copies of each frame's rows, pair frames 2g and 2g+1 into temporal
patch g. The reference for generation is the model's own vision path (``pixel_values_videos`` handed to
``generate``), so the backend's frame preprocessing, token expansion, cache and embedding hand-over are
all checked against transformers.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from vlagent.model.chat import Chat, GenerationOptions, ImagePart, Message, TextPart, VideoPart
from vlagent.model.mrope import VisionSpan, mrope_positions
from vlagent.model.preprocess import PatchSpec
from vlagent.model.video import exact_video_pixel_values, video_grid

pytest_plugins = ("model_fixtures",)
pytestmark = pytest.mark.timeout(120)
SPEC = PatchSpec()
BIG = 12845056  # the checkpoints' default max_pixels


def _frames(n: int, size: tuple[int, int], seed: int = 0) -> tuple[Image.Image, ...]:
    rng = np.random.default_rng(seed)
    w, h = size
    return tuple(Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for _ in range(n))


def _tokens(grid: tuple[int, int, int]) -> int:
    return grid[0] * grid[1] * grid[2] // 4


# ---------------------------------------------------------------------------------- grids and budgets
@pytest.mark.parametrize(
    ("frames", "size", "max_pixels", "grid"),
    [
        (4, (224, 224), BIG, (2, 16, 16)),  # 32 tokens a frame: 4 frames = 128
        (8, (224, 224), BIG, (4, 16, 16)),
        (3, (224, 224), BIG, (2, 16, 16)),  # odd: the last frame repeated
        (1, (224, 224), BIG, (1, 16, 16)),
        (2, (1280, 720), 50176, (1, 12, 20)),  # 30 tokens a frame
        (2, (1280, 720), 100352, (1, 16, 30)),  # 60
        (2, (1280, 720), 200704, (1, 24, 42)),  # 126
        (2, (1280, 720), 401408, (1, 32, 60)),  # 240
    ],
)
def test_video_grid_and_tokens(frames: int, size: tuple[int, int], max_pixels: int, grid: tuple) -> None:
    assert video_grid(size, frames, SPEC, 3136, max_pixels, 16384) == grid


def test_per_frame_tokens_at_each_budget() -> None:
    per_frame = [_tokens(video_grid((1280, 720), 4, SPEC, 3136, mp, 16384)) // 4
                 for mp in (50176, 100352, 200704, 401408)]
    assert per_frame == [30, 60, 126, 240]


@pytest.mark.parametrize("frames", [32, 64, 200])
def test_a_long_clip_is_capped_by_lowering_every_frame(frames: int) -> None:
    free = video_grid((1280, 720), frames, SPEC, 3136, BIG, 10**9)
    capped = video_grid((1280, 720), frames, SPEC, 3136, BIG, 16384)
    assert _tokens(free) > 16384 >= _tokens(capped)
    assert capped[0] == free[0]  # every frame kept; each one smaller
    assert capped[1] < free[1] and capped[2] < free[2]
    assert _tokens(capped) > 16384 * 0.8  # the cap is used, not undershot by far


def test_a_clip_that_cannot_fit_is_refused(tiny_backend) -> None:
    from vlagent.model.errors import ModelRejected

    clip = VideoPart(_frames(40, (56, 56)), max_tokens=10)  # 20 temporal patches: not even 1 token each
    with pytest.raises(ModelRejected, match="cannot be encoded"):
        tiny_backend.generate([Chat([Message("user", [clip, TextPart("?")])])])


# ----------------------------------------------------------------------------------------- pixel layout
def _reference_layout(frames: tuple[Image.Image, ...], grid: tuple[int, int, int], max_pixels: int) -> torch.Tensor:
    """The issue's recipe on transformers' PIL image processor output."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    _, gh, gw = grid
    proc = Qwen2VLImageProcessorPil(min_pixels=3136, max_pixels=max_pixels)
    padded = list(frames) + [frames[-1]] * (len(frames) % 2)
    rows = torch.stack([proc(images=[f], return_tensors="pt")["pixel_values"] for f in padded])
    t, n = len(padded), gh * gw
    one = rows.view(t, n, 3, 2, 14, 14)[:, :, :, 0]
    return one.view(t // 2, 2, n, 3, 14, 14).permute(0, 2, 3, 1, 4, 5).reshape(t // 2 * n, 1176)


@pytest.mark.parametrize(
    ("frames", "size", "max_pixels"),
    [(4, (224, 224), BIG), (3, (112, 168), BIG), (4, (250, 170), 3136 * 8), (5, (1280, 720), 50176)],
)
def test_frames_follow_the_processor_layout_bit_for_bit(frames: int, size: tuple, max_pixels: int) -> None:
    clip = _frames(frames, size, seed=frames)
    grid = video_grid(size, frames, SPEC, 3136, max_pixels, 16384)
    ours = exact_video_pixel_values(clip, SPEC, grid)
    assert torch.equal(torch.from_numpy(ours), _reference_layout(clip, grid, max_pixels))


def test_an_image_is_a_video_of_two_identical_frames() -> None:
    from vlagent.model.preprocess import exact_pixel_values

    (frame,) = _frames(1, (200, 120))
    image, grid = exact_pixel_values(frame, SPEC, 3136, BIG)
    video = exact_video_pixel_values((frame, frame), SPEC, grid)
    assert np.array_equal(image, video)


# ------------------------------------------------------------------------------------------- M-RoPE
def test_mrope_positions_follow_the_papers_rule() -> None:
    # text(3) image 224x224 (8x8 tokens) text(2) video 16 frames 56x56 (grid 8x4x4: 8x2x2 tokens) text(2)
    types = [0] * 3 + [1] * 64 + [0] * 2 + [2] * 32 + [0] * 2
    pos = mrope_positions(types, [VisionSpan((1, 16, 16)), VisionSpan((8, 4, 4))])
    img = pos[:, 3:67]
    assert set(img[0].tolist()) == {3} and img[1].min() == 3 and img[1].max() == 10 and img[2].max() == 10
    assert pos[:, 67].tolist() == [11, 11, 11]  # max of the image + 1
    vid = pos[:, 69:101]
    assert vid[0].tolist() == [v for v in range(13, 21) for _ in range(4)]  # temporal: one step per 2 frames
    assert vid[1].max() == 14 and vid[2].max() == 14
    assert pos[:, 101].tolist() == [21, 21, 21]  # the video's largest position (temporal 20) + 1


def _transformers_rope(model, types: list[int], spans: list[VisionSpan]) -> np.ndarray:
    ids = torch.zeros(1, len(types), dtype=torch.long)
    tt = torch.tensor([types])
    images = [s.grid for s, k in zip(spans, [t for t in _kinds(types)], strict=True) if k == 1]
    videos = [s.grid for s, k in zip(spans, [t for t in _kinds(types)], strict=True) if k == 2]
    pos, _ = model.model.get_rope_index(
        ids, tt, image_grid_thw=torch.tensor(images) if images else None,
        video_grid_thw=torch.tensor(videos) if videos else None,
    )
    return pos[:, 0].numpy()


def _kinds(types: list[int]) -> list[int]:
    return [k for i, k in enumerate(types) if k and (i == 0 or types[i - 1] != k)]


@pytest.mark.parametrize(
    ("grid", "same"),
    [((1, 16, 16), True),  # an image
     ((4, 16, 16), True),  # t = 4 <= max(h, w) / 2 = 8
     ((8, 4, 4), False)],  # t = 8 > 2: transformers 5's rule starts the text inside the video's time axis
)
def test_transformers_agrees_with_the_paper_only_while_t_fits(tiny_backend, grid: tuple, same: bool) -> None:
    kind = 1 if grid[0] == 1 else 2
    span = VisionSpan(grid)
    types = [0] * 20 + [kind] * span.tokens(2) + [0] * 5
    ours = mrope_positions(types, [span])
    theirs = _transformers_rope(tiny_backend.model, types, [span])
    assert np.array_equal(ours[:, :-5], theirs[:, :-5])  # the vision tokens themselves agree
    assert np.array_equal(ours, theirs) is same
    if not same:  # the example: temporal 20..27, next text 28 by the paper, 22 by transformers 5
        assert ours[0, 20:-5].max() == 27 and ours[0, -5] == 28 and theirs[0, -5] == 22


def test_mixed_prompt_positions_reach_the_model(tiny_backend) -> None:
    """What the language model receives is the paper's positions, for an image and a long video together."""
    seen: list[dict] = []

    def hook(_module, _args, kwargs):
        if not seen:
            seen.append({"ids": kwargs["input_ids"].clone(), "pos": kwargs["position_ids"].clone()})

    handle = tiny_backend.model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        chat = Chat([Message("user", [ImagePart(_frames(1, (224, 224))[0]), TextPart("then"),
                                      VideoPart(_frames(16, (56, 56))), TextPart("what next?")])])
        tiny_backend.generate([chat], GenerationOptions(max_new_tokens=2, min_pixels=3136))
    finally:
        handle.remove()
    ids, pos = seen[0]["ids"][0], seen[0]["pos"][:, 0]
    image_id, video_id = tiny_backend.image_token_id, tiny_backend.video_token_id
    types = torch.where(ids == image_id, 1, torch.where(ids == video_id, 2, 0)).tolist()
    assert types.count(1) == 64 and types.count(2) == 32
    expected = mrope_positions(types, [VisionSpan((1, 16, 16)), VisionSpan((8, 4, 4))])
    assert np.array_equal(pos[1:].numpy(), expected)
    # The paper's rule read off what arrived: text counts up by one, and the first text token after an
    # image or a video is one past the largest position any of its tokens got.
    mrope = pos[1:].numpy()
    for kind in (1, 2):
        first, last = types.index(kind), max(i for i, t in enumerate(types) if t == kind)
        assert mrope[:, last + 1].tolist() == [mrope[:, first:last + 1].max() + 1] * 3
        assert mrope[:, first].tolist() == [mrope[0, first - 1] + 1] * 3  # the grid starts after the text
    text = [i for i, t in enumerate(types) if t == 0]
    assert all((mrope[:, b] - mrope[:, a] == 1).all() for a, b in zip(text, text[1:], strict=False) if b == a + 1)


def test_an_image_costs_64_tokens_between_vision_markers(tiny_backend) -> None:
    seen: list[torch.Tensor] = []
    handle = tiny_backend.model.register_forward_pre_hook(
        lambda _m, _a, kw: seen.append(kw["input_ids"].clone()) if not seen else None, with_kwargs=True)
    try:
        gen = tiny_backend.generate([Chat.simple("Describe.", [_frames(1, (224, 224))[0]])],
                                    GenerationOptions(max_new_tokens=1))[0]
    finally:
        handle.remove()
    tok = tiny_backend.tokenizer
    ids = seen[0][0].tolist()
    start = ids.index(tok.convert_tokens_to_ids("<|vision_start|>"))
    end = ids.index(tok.convert_tokens_to_ids("<|vision_end|>"))
    assert ids[start + 1:end] == [tiny_backend.image_token_id] * 64
    assert gen.visual_tokens == 64


# ------------------------------------------------------------------------------------------ generation
@pytest.mark.parametrize("frames", [4, 8])
def test_generation_on_a_video_matches_the_models_own_vision_path(tiny_backend, frames: int) -> None:
    clip = _frames(frames, (224, 224), seed=frames)
    chat = Chat([Message("user", [VideoPart(clip), TextPart("What moved?")])])
    opts = GenerationOptions(max_new_tokens=6)
    gen = tiny_backend.generate([chat], opts)[0]
    grid = (frames // 2, 16, 16)
    assert gen.extra["video_grids"] == [grid] and gen.visual_tokens == 32 * frames

    # The reference: transformers computes the video's embeddings and (t <= 8 here) the same positions.
    rendered = tiny_backend._render(chat, opts, 0)
    ids = torch.from_numpy(tiny_backend._token_ids([rendered])[0])[None]
    mm = (ids == tiny_backend.video_token_id).long() * 2
    pixels = torch.from_numpy(exact_video_pixel_values(clip, SPEC, grid))
    with torch.inference_mode():
        out = tiny_backend.model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), mm_token_type_ids=mm,
            pixel_values_videos=pixels, video_grid_thw=torch.tensor([grid]),
            **tiny_backend._generation_kwargs(opts),
        )
    text, _ = tiny_backend._decode(out[0, ids.shape[1]:].tolist(), ())
    assert gen.text == text
    hits = tiny_backend.vision_cache.hits
    assert gen.text == tiny_backend.generate([chat], opts)[0].text  # again, from the vision cache
    assert tiny_backend.vision_cache.hits == hits + 1


def test_frames_of_different_sizes_are_refused(tiny_backend) -> None:
    from vlagent.model.errors import ModelRejected

    clip = VideoPart(_frames(1, (224, 224)) + _frames(1, (112, 224)))
    with pytest.raises(ModelRejected, match="share one size"):
        tiny_backend.generate([Chat([Message("user", [clip])])])


# ----------------------------------------------------------------------------------------- OpenAI HTTP
def test_openai_request_carries_the_video_as_vllm_takes_it(chat_server) -> None:
    import base64
    import io

    from vlagent.model.openai_backend import OpenAIBackend

    backend = OpenAIBackend("served", chat_server.base_url, max_pixels=50176, max_retries=0)
    clip = _frames(4, (1280, 720))
    chat = Chat([Message("user", [VideoPart(clip, timestamps=(0.0, 0.5, 1.0, 1.5)), ImagePart(clip[-1]),
                                  TextPart("What moved?")])])
    gen = backend.generate([chat])[0]
    (request,) = chat_server.requests
    content = request["messages"][-1]["content"]
    assert [p["type"] for p in content] == ["video_url", "image_url", "text"]
    url = content[0]["video_url"]["url"]
    media, _, data = url.partition(";base64,")
    assert media == "data:video/jpeg"
    frames = [Image.open(io.BytesIO(base64.b64decode(f))) for f in data.split(",")]
    assert [(f.format, f.size) for f in frames] == [("JPEG", (280, 168))] * 4  # the grid's size: 30 tokens a frame
    # The frames arrive in order: each is closest to the frame it was made from.
    sent = [np.asarray(f.convert("RGB"), dtype=np.int16) for f in frames]
    made = [np.asarray(c.resize((280, 168), Image.Resampling.BICUBIC), dtype=np.int16) for c in clip]
    assert [int(np.argmin([np.abs(s - m).mean() for m in made])) for s in sent] == [0, 1, 2, 3]
    assert request["mm_processor_kwargs"] == {"max_pixels": 50176}
    assert gen.extra["video_grids"] == [(2, 12, 20)]
    assert gen.visual_tokens == 4 * 30 + 60  # the clip's 30 a frame, the image's 60


def test_a_batch_mixing_videos_and_images_equals_one_at_a_time(tiny_backend) -> None:
    """Left padding shifts every prompt but one: the positions must count from each prompt's own start."""
    long_clip = Chat([Message("user", [VideoPart(_frames(16, (56, 56), seed=3)), TextPart("next?")])])
    short = Chat([Message("user", [VideoPart(_frames(2, (112, 112), seed=4)), TextPart("moved?")])])
    image = Chat.simple("Describe.", [_frames(1, (224, 224), seed=5)[0]])
    opts = GenerationOptions(max_new_tokens=5, min_pixels=3136)
    alone = [tiny_backend.generate([c], opts)[0].text for c in (long_clip, short, image)]
    tiny_backend.vision_cache.clear()
    together = [g.text for g in tiny_backend.generate([long_clip, short, image], opts)]
    assert together == alone


def test_generate_command_sends_a_video(tiny_qwen2vl_path, tmp_path) -> None:
    from typer.testing import CliRunner

    from vlagent.agent.cli import _register_commands, app

    files = []
    for i, frame in enumerate(_frames(4, (224, 224), seed=9)):
        files += ["--video", str(tmp_path / f"f{i}.png")]
        frame.save(tmp_path / f"f{i}.png")
    _register_commands()
    res = CliRunner().invoke(app, ["generate", "What moved?", "--model", str(tiny_qwen2vl_path), "--device", "cpu",
                                   *files, "--max-new-tokens", "2", "--json"])
    assert res.exit_code == 0, res.output
    line = res.output[res.output.index('{"text"'):].splitlines()[0]  # after the weight-loading progress bar
    assert json.loads(line)["visual_tokens"] == 128  # 4 frames of 224x224: 32 tokens each


def test_qwen25vl_counts_time_in_its_temporal_positions(tmp_path_factory) -> None:
    """Qwen2.5-VL spaces temporal patches by ``tokens_per_second`` x seconds per patch, from the timestamps."""
    from vlagent.model.tiny import build_tiny_qwen2vl
    from vlagent.model.transformers_backend import TransformersBackend

    backend = TransformersBackend(build_tiny_qwen2vl(tmp_path_factory.mktemp("tiny25"), variant="qwen2_5_vl"),
                                  device="cpu")
    per_second = backend.model.config.vision_config.tokens_per_second
    seen: list[torch.Tensor] = []
    handle = backend.model.register_forward_pre_hook(
        lambda _m, _a, kw: seen.append(kw["position_ids"].clone()) if not seen else None, with_kwargs=True)
    try:  # 6 frames at 4 fps: 3 temporal patches, 0.5 s each
        clip = VideoPart(_frames(6, (112, 112)), timestamps=tuple(i / 4 for i in range(6)))
        backend.generate([Chat([Message("user", [clip, TextPart("?")])])], GenerationOptions(max_new_tokens=1))
    finally:
        handle.remove()
    temporal = seen[0][1, 0]
    ids = backend._token_ids([backend._render(Chat([Message("user", [clip, TextPart("?")])]), GenerationOptions(), 0)])
    video = torch.from_numpy(ids[0]) == backend.video_token_id
    start = int(temporal[video][0])
    step = int(per_second * 0.5)
    assert sorted(set(temporal[video].tolist())) == [start, start + step, start + 2 * step]
    theirs, _ = backend.model.model.get_rope_index(
        torch.from_numpy(ids[0])[None], video[None].long() * 2, video_grid_thw=torch.tensor([[3, 8, 8]]),
        second_per_grid_ts=torch.tensor([0.5]))
    assert torch.equal(theirs[:, 0][:, video], seen[0][1:, 0][:, video])  # the video's own positions agree
