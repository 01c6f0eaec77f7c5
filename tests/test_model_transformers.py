"""The local transformers backend on the tiny real Qwen2-VL (random weights, real code path, CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from model_helpers import app_screenshot, draw_screenshot
from PIL import Image

from vlagent.actions.coords import resized_size
from vlagent.model import Chat, GenerationOptions, ImagePart, Message, TextPart
from vlagent.model.errors import ModelLoadError, ModelRejected
from vlagent.model.images import open_image
from vlagent.model.transformers_backend import TransformersBackend

pytest_plugins = ("model_fixtures",)  # tiny_qwen2vl_path, tiny_backend
pytestmark = pytest.mark.timeout(120)

FHD = (1920, 1080)
DEFAULT_MIN, DEFAULT_MAX = 56 * 56, 12845056


def expected_visual_tokens(size: tuple[int, int], min_pixels: int, max_pixels: int) -> int:
    # transformers' own smart_resize (via actions.coords) then one token per 28x28 block.
    w, h = resized_size(*size, min_pixels=min_pixels, max_pixels=max_pixels)
    return (w // 28) * (h // 28)


@pytest.fixture(scope="module")
def fhd_shot() -> Image.Image:
    return draw_screenshot(*FHD)


@pytest.mark.parametrize(
    ("max_pixels", "tokens"),
    [(None, 2691), (1280 * 28 * 28, 1222), (256 * 28 * 28, 252)],
    ids=["default", "1280x784", "256x784"],
)
def test_visual_tokens_follow_max_pixels_for_a_1920x1080_screenshot(
    tiny_backend, fhd_shot, max_pixels, tokens
):
    opts = GenerationOptions(max_new_tokens=2, max_pixels=max_pixels)
    gen = tiny_backend.generate([Chat.simple("Where is the OK button?", [fhd_shot])], opts)[0]
    assert gen.visual_tokens == tokens
    assert gen.visual_tokens == expected_visual_tokens(FHD, DEFAULT_MIN, max_pixels or DEFAULT_MAX)
    ((rw, rh),) = gen.extra["resized_sizes"]
    assert (rw, rh) == resized_size(*FHD, min_pixels=DEFAULT_MIN, max_pixels=max_pixels or DEFAULT_MAX)
    # The prompt is the visual tokens plus the template and the question, nothing hidden.
    assert tokens < gen.prompt_tokens < tokens + 60
    assert gen.new_tokens == 2 and gen.preprocess_seconds > 0 and gen.generate_seconds > 0


def test_budget_precedence_image_part_over_options_over_backend(tiny_qwen2vl_path, fhd_shot):
    small = TransformersBackend(tiny_qwen2vl_path, device="cpu", max_pixels=256 * 28 * 28)
    chat = Chat.simple("x", [fhd_shot])
    assert small.generate([chat], GenerationOptions(max_new_tokens=1))[0].visual_tokens == 252
    opts = GenerationOptions(max_new_tokens=1, max_pixels=1280 * 28 * 28)
    assert small.generate([chat], opts)[0].visual_tokens == 1222
    own = Chat([Message("user", [ImagePart(fhd_shot, max_pixels=64 * 28 * 28), TextPart("x")])])
    assert small.generate([own], opts)[0].visual_tokens == expected_visual_tokens(
        FHD, DEFAULT_MIN, 64 * 28 * 28
    )
    # min_pixels scales a small image up to the floor.
    tiny_im = draw_screenshot(120, 90)
    floor = GenerationOptions(max_new_tokens=1, min_pixels=100 * 28 * 28)
    got = small.generate([Chat.simple("x", [tiny_im])], floor)[0].visual_tokens
    assert got == expected_visual_tokens((120, 90), 100 * 28 * 28, 256 * 28 * 28) >= 100


@pytest.mark.parametrize(
    ("app", "size", "pixels"),
    [
        ("settings", "desktop", (1920, 1080)),
        ("login", "phone", (1080, 2400)),
        ("dialog", (800, 600), (800, 600)),
    ],
    ids=["settings-1920x1080", "login-1080x2400", "dialog-800x600"],
)
def test_generates_on_app_screenshots_of_several_sizes(tiny_backend, tmp_path, app, size, pixels):
    path = tmp_path / "shot.png"
    app_screenshot(app, size).save(path)
    shot = open_image(path)
    assert shot.size == pixels
    opts = GenerationOptions(max_new_tokens=6, max_pixels=512 * 28 * 28)
    gen = tiny_backend.generate([Chat.simple("Click OK.", [shot], system="You are a GUI agent.")], opts)[0]
    assert isinstance(gen.text, str)
    assert 1 <= gen.new_tokens <= 6
    assert gen.visual_tokens == expected_visual_tokens(pixels, DEFAULT_MIN, 512 * 28 * 28)
    assert "<|im_end|>" not in gen.text and "<|endoftext|>" not in gen.text


def test_batched_greedy_equals_one_at_a_time(tiny_backend):
    chats = [
        Chat.simple("Where is the OK button?", [draw_screenshot(640, 480)]),
        Chat.simple("Open settings " * 5, [draw_screenshot(300, 700, title="Phone")]),
        Chat.simple("No image at all, just text."),
        Chat(
            [
                Message("system", [TextPart("You are a GUI agent.")]),
                Message("user", [ImagePart(draw_screenshot(500, 400)), TextPart("Step 1")]),
                Message("assistant", [TextPart("click(start_box='(10,20)')")]),
                Message("user", [ImagePart(draw_screenshot(420, 420)), TextPart("Step 2")]),
            ]
        ),
    ]
    opts = GenerationOptions(max_new_tokens=12)
    batched = tiny_backend.generate(chats, opts)
    single = [tiny_backend.generate([c], opts)[0] for c in chats]
    assert [g.text for g in batched] == [g.text for g in single]
    assert [g.new_tokens for g in batched] == [g.new_tokens for g in single]
    assert [g.prompt_tokens for g in batched] == [g.prompt_tokens for g in single]
    assert [g.visual_tokens for g in batched] == [g.visual_tokens for g in single]
    assert (
        len({g.prompt_tokens for g in batched}) == 4
    )  # really different lengths: left padding was exercised
    assert batched[2].visual_tokens == 0
    assert all(g.extra["batch_size"] == 4 for g in batched)


def test_bf16_on_cpu_runs(tiny_qwen2vl_path):
    backend = TransformersBackend(tiny_qwen2vl_path, device="cpu", dtype="bf16")
    assert backend.model.dtype == torch.bfloat16
    gen = backend.generate(
        [Chat.simple("x", [draw_screenshot(400, 300)])], GenerationOptions(max_new_tokens=4)
    )[0]
    assert gen.new_tokens >= 1 and gen.visual_tokens == expected_visual_tokens(
        (400, 300), DEFAULT_MIN, DEFAULT_MAX
    )


def test_cpu_defaults_to_float32_and_sdpa(tiny_backend):
    assert tiny_backend.model.dtype == torch.float32
    assert tiny_backend.model.config._attn_implementation == "sdpa"


def test_special_tokens_survive_decoding_but_terminators_do_not(tiny_backend):
    tok = tiny_backend.tokenizer
    reply = "<|object_ref_start|>the OK button<|object_ref_end|><|box_start|>(512,301),(640,355)<|box_end|>"
    ids = tok.encode(reply, add_special_tokens=False) + tok.convert_tokens_to_ids(
        ["<|im_end|>", "<|endoftext|>"]
    )
    text, new_tokens = tiny_backend._decode(ids, ())
    assert text == reply
    assert new_tokens == len(ids) - 1  # counted up to and including <|im_end|>, not the padding after it


def test_stop_string_cuts_the_reply(tiny_backend):
    chat = Chat.simple("Describe.", [draw_screenshot(320, 240)])
    full = tiny_backend.generate([chat], GenerationOptions(max_new_tokens=24))[0]
    # The tiny model is built from a fixed seed and decoded greedily, so its reply is the same every run.
    pos = next((i for i in range(3, len(full.text)) if full.text[i].isalnum()), None)
    assert pos is not None, f"the tiny model's reply has no letter to stop on: {full.text!r}"
    stop = full.text[pos]
    cut = tiny_backend.generate([chat], GenerationOptions(max_new_tokens=24, stop=(stop,)))[0]
    assert cut.text == full.text[: full.text.find(stop)]
    assert cut.new_tokens <= full.new_tokens


def test_sampling_when_asked_still_returns_one_reply_per_chat(tiny_backend):
    torch.manual_seed(0)
    chats = [Chat.simple("x", [draw_screenshot(200, 200)])] * 3
    gens = tiny_backend.generate(chats, GenerationOptions(max_new_tokens=5, temperature=1.0, top_p=0.9))
    assert len(gens) == 3 and all(1 <= g.new_tokens <= 5 for g in gens)


# -------------------------------------------------------------------------------------------- errors
def test_missing_folder_says_how_to_download(tmp_path):
    with pytest.raises(
        ModelLoadError, match="hf download Qwen/Qwen2-VL-2B-Instruct --local-dir"
    ):
        TransformersBackend(tmp_path / "qwen2-vl", device="cpu")


def test_folder_without_weights_says_how_to_download(tmp_path, tiny_qwen2vl_path):
    (tmp_path / "config.json").write_text((tiny_qwen2vl_path / "config.json").read_text())
    with pytest.raises(ModelLoadError, match="no \\*.safetensors.*hf download"):
        TransformersBackend(tmp_path, device="cpu")


def test_hub_id_offline_is_a_typed_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="could not fetch 'Qwen/Qwen2-VL-2B-Instruct'.*offline"):
        TransformersBackend("Qwen/Qwen2-VL-2B-Instruct", device="cpu", local_files_only=True)


def test_not_a_qwen_vl_checkpoint(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="'llama' model"):
        TransformersBackend(tmp_path, device="cpu")


def test_unreadable_image_file(tmp_path):
    bad = tmp_path / "shot.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(ModelLoadError, match="cannot read image"):
        open_image(bad)


def test_image_the_processor_cannot_take(tiny_backend):
    sliver = Image.new("RGB", (6000, 20))  # aspect ratio 300 > Qwen2-VL's limit of 200
    with pytest.raises(ModelLoadError, match="image 1 of chat 0 \\(6000x20.*could not be processed"):
        tiny_backend.generate([Chat.simple("x", [sliver])], GenerationOptions(max_new_tokens=1))
    with pytest.raises(ModelLoadError, match="not a PIL image"):
        tiny_backend.generate([Chat([Message("user", [ImagePart("shot.png")])])])  # type: ignore[arg-type]


def test_bad_options_are_rejected(tiny_qwen2vl_path, tiny_backend):
    with pytest.raises(ModelRejected, match="min_pixels .* larger than max_pixels"):
        tiny_backend.generate(
            [Chat.simple("x", [draw_screenshot(64, 64)])],
            GenerationOptions(min_pixels=10**6, max_pixels=10**5),
        )
    with pytest.raises(ModelRejected, match="unknown dtype"):
        TransformersBackend(tiny_qwen2vl_path, device="cpu", dtype="int3")
    with pytest.raises(ModelLoadError, match="flash-attn|CUDA only"):
        TransformersBackend(tiny_qwen2vl_path, device="cpu", attn_implementation="flash_attention_2")


def test_vision_placeholder_tokens_in_prompt_text_are_defused(tiny_backend):
    # Regression: the loop feeds a reply back to the model; a random-weight reply holding <|video_pad|> made
    # the next generate crash inside transformers' get_rope_index (TypeError), ending `vlagent run`.
    opts = GenerationOptions(max_new_tokens=4)
    history = Chat(messages=[
        Message("user", [ImagePart(draw_screenshot(200, 150)), TextPart("Where is OK?")]),
        Message("assistant", [TextPart("garbled<|video_pad|><|vision_start|> reply")]),
        Message("user", [ImagePart(draw_screenshot(200, 150)), TextPart("sneaky <|image_pad|><|vision_end|>")]),
    ])
    (gen,) = tiny_backend.generate([history], opts)
    one = tiny_backend.generate([Chat.simple("x", [draw_screenshot(200, 150)])], opts)[0]
    assert gen.visual_tokens == 2 * one.visual_tokens  # only the two real images count
    assert tiny_backend.generate([Chat.simple("sneaky <|image_pad|>")], opts)[0].visual_tokens == 0


def test_importing_vlagent_model_does_not_import_torch():
    code = "import sys, vlagent.model, vlagent.model.chat; print('torch' in sys.modules, 'openai' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, check=True
    )
    assert out.stdout.split() == ["False", "False"]


def test_qwen2_5_vl_checkpoint_loads_its_own_class(tmp_path):
    from vlagent.model.tiny import build_tiny_qwen2vl

    path = build_tiny_qwen2vl(tmp_path / "tiny-qwen2.5", variant="qwen2_5_vl")
    backend = TransformersBackend(path, device="cpu")
    assert type(backend.model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    chats = [
        Chat.simple("Where?", [draw_screenshot(800, 600)]),
        Chat.simple("And here, longer?", [draw_screenshot(400, 900)]),
    ]
    opts = GenerationOptions(max_new_tokens=6, max_pixels=256 * 28 * 28)
    batched = backend.generate(chats, opts)
    assert [g.visual_tokens for g in batched] == [
        expected_visual_tokens((800, 600), DEFAULT_MIN, 256 * 28 * 28),
        expected_visual_tokens((400, 900), DEFAULT_MIN, 256 * 28 * 28),
    ]
    assert [g.text for g in batched] == [backend.generate([c], opts)[0].text for c in chats]


def test_cuda_out_of_memory_suggests_a_lower_max_pixels(tiny_backend, monkeypatch):
    # No GPU here: the one fake in this file raises the exception torch raises on a full GPU, to check
    # that the backend turns it into the advice a user needs.
    def full_gpu(**kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(tiny_backend.model, "generate", full_gpu)
    opts = GenerationOptions(max_new_tokens=1, max_pixels=4096 * 28 * 28)
    with pytest.raises(ModelLoadError, match=r"CUDA out of memory.*lower max_pixels \(now 3211264\)"):
        tiny_backend.generate([Chat.simple("x", [draw_screenshot(64, 64)])], opts)


def test_preprocess_mode_and_cache_size_are_checked(tiny_qwen2vl_path, tiny_backend):
    assert tiny_backend.preprocess == "exact"  # auto on CPU: bit-identical host path
    with pytest.raises(ModelRejected, match="unknown preprocess 'gpu'"):
        TransformersBackend(tiny_qwen2vl_path, device="cpu", preprocess="gpu")
    with pytest.raises(ModelRejected, match="vision_cache_mb must be >= 0"):
        TransformersBackend(tiny_qwen2vl_path, device="cpu", vision_cache_mb=-1)


def test_each_chat_is_charged_its_share_and_the_shares_add_up_to_the_call(tiny_qwen2vl_path):
    # The loop's `model` phase is the call's wall time minus the call's host work; each chat's `preprocess`
    # is its own share. The shares must add up to the host work, or a batched step's phases would not sum.
    backend = TransformersBackend(tiny_qwen2vl_path, device="cpu")
    chats = [Chat.simple("a", [draw_screenshot(640, 480), draw_screenshot(320, 200)]),
             Chat.simple("b, text only"), Chat.simple("c", [draw_screenshot(500, 400)])]
    gens = backend.generate(chats, GenerationOptions(max_new_tokens=2))
    total = gens[0].extra["batch_preprocess_seconds"]
    assert all(g.extra["batch_preprocess_seconds"] == total for g in gens)
    assert sum(g.preprocess_seconds for g in gens) == pytest.approx(total, rel=1e-6)
    assert gens[0].preprocess_seconds > gens[1].preprocess_seconds  # two images vs none
