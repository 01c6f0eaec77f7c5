"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1 (the chat-completions surface
vLLM serves; the model behind it is scripted, since no vLLM can run here)."""

from __future__ import annotations

import base64
import io
import socket
import threading
import time

import pytest
from model_helpers import completion, draw_screenshot
from PIL import Image

from vlagent.model import Chat, GenerationOptions, ImagePart, Message, TextPart
from vlagent.model.errors import ModelRejected, ModelUnavailable
from vlagent.model.openai_backend import OpenAIBackend

pytest_plugins = ("model_fixtures",)  # chat_server
pytestmark = pytest.mark.timeout(60)


def make(server, **kw) -> OpenAIBackend:
    kw.setdefault("timeout", 5.0)
    kw.setdefault("max_retries", 2)
    kw.setdefault("backoff", 0.01)
    return OpenAIBackend("Qwen/Qwen2-VL-7B-Instruct", server.base_url, **kw)


def decode_data_url(url: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    raw = base64.b64decode(url[len(prefix) :])
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(raw))


def test_images_arrive_as_png_data_urls_of_the_right_size(chat_server):
    shots = [draw_screenshot(1920, 1080), draw_screenshot(1080, 2400)]
    gen = make(chat_server).generate([Chat.simple("Where is OK?", shots, system="You are a GUI agent.")])[0]
    assert gen.text == "echo: Where is OK?"
    (req,) = chat_server.requests
    assert req["messages"][0] == {"role": "system", "content": "You are a GUI agent."}
    parts = req["messages"][1]["content"]
    assert [p["type"] for p in parts] == ["image_url", "image_url", "text"]
    decoded = [decode_data_url(p["image_url"]["url"]) for p in parts[:2]]
    assert [im.size for im in decoded] == [(1920, 1080), (1080, 2400)]
    assert decoded[0].convert("RGB").tobytes() == shots[0].tobytes()  # lossless


def test_vision_placeholder_tokens_in_text_are_not_sent(chat_server):
    # Regression: a reply fed back with <|video_pad|> in it must not reach vLLM, whose Qwen2-VL processor would
    # count it as a video with no frames; grounding tokens stay.
    chat = Chat(messages=[
        Message("user", [ImagePart(draw_screenshot(64, 64)), TextPart("Where is OK?<|image_pad|>")]),
        Message("assistant", [TextPart("<|box_start|>(1,2)<|box_end|><|video_pad|>")]),
        Message("user", [TextPart("again <|vision_start|>")]),
    ])
    make(chat_server).generate([chat])
    (req,) = chat_server.requests
    assert req["messages"][0]["content"][1]["text"] == "Where is OK?"
    assert req["messages"][1]["content"] == "<|box_start|>(1,2)<|box_end|>"
    assert req["messages"][2]["content"] == "again "


def test_options_and_pixel_budget_pass_through_the_way_vllm_takes_them(chat_server, monkeypatch):
    monkeypatch.setenv("VLAGENT_API_KEY", "sk-test-123")
    backend = make(chat_server, min_pixels=3136, max_pixels=1280 * 28 * 28)
    opts = GenerationOptions(max_new_tokens=77, temperature=0.7, top_p=0.9, stop=("<|im_end|>", "\n\n"))
    gen = backend.generate([Chat.simple("hi", [draw_screenshot(1920, 1080)])], opts)[0]
    (req,), (headers,) = chat_server.requests, chat_server.headers
    assert req["model"] == "Qwen/Qwen2-VL-7B-Instruct"
    assert (req["max_tokens"], req["temperature"], req["top_p"]) == (77, 0.7, 0.9)
    assert req["stop"] == ["<|im_end|>", "\n\n"]
    assert req["mm_processor_kwargs"] == {"min_pixels": 3136, "max_pixels": 1280 * 28 * 28}
    assert req["skip_special_tokens"] is False
    assert headers["authorization"] == "Bearer sk-test-123"
    assert (gen.prompt_tokens, gen.new_tokens) == (11, 3)  # the server's usage block
    assert gen.visual_tokens == 1222  # smart_resize arithmetic for the budget that was sent


def test_per_call_and_per_image_budgets_override_the_backend(chat_server):
    backend = make(chat_server, max_pixels=1280 * 28 * 28)
    shot = draw_screenshot(800, 600)
    backend.generate([Chat.simple("a", [shot])], GenerationOptions(max_pixels=256 * 28 * 28))
    own = Chat([Message("user", [ImagePart(shot, max_pixels=64 * 28 * 28), TextPart("b")])])
    backend.generate([own])
    assert [r["mm_processor_kwargs"]["max_pixels"] for r in chat_server.requests] == [256 * 784, 64 * 784]
    mixed = Chat(
        [Message("user", [ImagePart(shot, max_pixels=64 * 784), ImagePart(shot, max_pixels=128 * 784)])]
    )
    with pytest.raises(ModelRejected, match="one budget per request"):
        backend.generate([mixed])


def test_500_then_200_is_retried_with_backoff(chat_server):
    chat_server.script = [(500, {"error": {"message": "engine overloaded"}})]
    delays: list[float] = []
    gen = make(chat_server, sleep=delays.append, backoff=0.25).generate([Chat.simple("again")])[0]
    assert gen.text == "echo: again"
    assert len(chat_server.requests) == 2
    assert delays == [0.25]


def test_5xx_every_time_ends_in_model_unavailable(chat_server):
    chat_server.default = lambda req: (503, {"error": {"message": "down"}})
    delays: list[float] = []
    with pytest.raises(ModelUnavailable, match="HTTP 503.*after 3 attempts") as info:
        make(chat_server, sleep=delays.append, backoff=0.5).generate([Chat.simple("x")])
    assert info.value.status_code == 503 and info.value.retryable
    assert len(chat_server.requests) == 3
    assert delays == [0.5, 1.0]  # exponential


def test_4xx_is_rejected_without_retry(chat_server):
    chat_server.default = lambda req: (400, {"error": {"message": "max_tokens too large"}})
    with pytest.raises(ModelRejected, match="HTTP 400") as info:
        make(chat_server).generate([Chat.simple("x")])
    assert info.value.status_code == 400 and not info.value.retryable
    assert len(chat_server.requests) == 1


def test_malformed_reply_is_rejected(chat_server):
    chat_server.default = lambda req: (200, {"id": "x", "object": "chat.completion", "choices": []})
    with pytest.raises(ModelRejected, match="malformed"):
        make(chat_server).generate([Chat.simple("x")])


def test_dead_port_gives_model_unavailable_within_the_timeout():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = OpenAIBackend("m", f"http://127.0.0.1:{port}/v1", timeout=2.0, max_retries=1, backoff=0.01)
    t0 = time.monotonic()
    with pytest.raises(ModelUnavailable, match="APIConnectionError.*after 2 attempts"):
        backend.generate([Chat.simple("x")])
    assert time.monotonic() - t0 < 2.0 * 2 + 1


def test_a_stalled_server_times_out_as_model_unavailable(chat_server):
    release = threading.Event()
    chat_server.on_request = lambda req: release.wait(10)
    try:
        t0 = time.monotonic()
        with pytest.raises(ModelUnavailable, match="Timeout"):
            make(chat_server, timeout=0.5, max_retries=0).generate([Chat.simple("x")])
        assert time.monotonic() - t0 < 3
    finally:
        release.set()


def test_a_batch_is_sent_concurrently_through_a_bounded_pool_and_kept_in_order(chat_server):
    in_flight, peak, lock = [0], [0], threading.Lock()
    barrier = threading.Barrier(3, timeout=10)

    def overlap(req):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            barrier.wait()  # only passes when 3 requests are in flight at once
        finally:
            with lock:
                in_flight[0] -= 1

    chat_server.on_request = overlap
    chats = [Chat.simple(f"chat {i}") for i in range(6)]
    gens = make(chat_server, concurrency=3, max_retries=0).generate(chats)
    assert [g.text for g in gens] == [f"echo: chat {i}" for i in range(6)]
    assert peak[0] == 3


def test_api_key_defaults(monkeypatch, chat_server):
    monkeypatch.delenv("VLAGENT_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    make(chat_server).generate([Chat.simple("x")])
    monkeypatch.delenv("OPENAI_API_KEY")
    make(chat_server).generate([Chat.simple("y")])
    assert [h["authorization"] for h in chat_server.headers] == ["Bearer sk-openai", "Bearer EMPTY"]


def test_a_client_can_be_passed_in(chat_server):
    from openai import OpenAI

    client = OpenAI(base_url=chat_server.base_url, api_key="sk-mine", max_retries=0)
    chat_server.script = [(200, completion("<|box_start|>(1,2)<|box_end|>"))]
    gen = OpenAIBackend("m", client=client).generate([Chat.simple("x")])[0]
    assert gen.text == "<|box_start|>(1,2)<|box_end|>"
    assert chat_server.headers[0]["authorization"] == "Bearer sk-mine"


def test_without_base_url_the_error_names_the_url_the_client_used(monkeypatch):
    # Regression: the error said "the server" when --base-url was left out, hiding where it had tried.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    backend = OpenAIBackend("Qwen/Qwen2-VL-7B-Instruct", None, timeout=2.0, max_retries=0)
    with pytest.raises(ModelUnavailable, match=rf"127\.0\.0\.1:{port}/v1.*after 1 attempt\)"):
        backend.generate([Chat.simple("x")])
    with pytest.raises(ModelRejected, match="timeout must be a positive"):
        OpenAIBackend("m", "http://127.0.0.1:9/v1", timeout=-1)
