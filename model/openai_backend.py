"""Any OpenAI-compatible ``/v1/chat/completions`` server, usually ``vllm serve Qwen/Qwen2-VL-7B-Instruct``.

This is how a deployment outgrows one GPU: vLLM shards the model (tensor/pipeline parallel) and this
client sends a batch of chats concurrently through a bounded pool. Images travel as base64 PNG data URLs;
the pixel budget travels the way vLLM takes it (``extra_body={"mm_processor_kwargs": {"min_pixels": ..,
"max_pixels": ..}}``) and ``skip_special_tokens: false`` keeps ``<|box_start|>`` in replies.

Errors are mapped where they arise, as httpx maps httpcore's: connection failures, timeouts, 429 and 5xx
are retried with exponential backoff and end as :class:`ModelUnavailable`; other 4xx and malformed replies
raise :class:`ModelRejected` at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from vlagent.model.chat import Chat, Generation, GenerationOptions, ImagePart, TextPart
from vlagent.model.errors import ModelRejected, ModelUnavailable
from vlagent.model.images import png_data_url
from vlagent.model.qwen_format import (
    QWEN2_VL_DEFAULT_MAX_PIXELS,
    QWEN2_VL_DEFAULT_MIN_PIXELS,
    QWEN2_VL_TOKEN_SIDE,
    defuse_vision_tokens,
)

#: Environment variables read for the API key, first match wins; vLLM without ``--api-key`` takes anything.
API_KEY_ENV = ("VLAGENT_API_KEY", "OPENAI_API_KEY")


def api_key_from_env() -> str:
    """The API key from ``VLAGENT_API_KEY`` or ``OPENAI_API_KEY``, else ``"EMPTY"`` (what vLLM accepts).

    Example:
        >>> isinstance(api_key_from_env(), str)
        True
    """
    for name in API_KEY_ENV:
        if os.environ.get(name):
            return os.environ[name]
    return "EMPTY"


class OpenAIBackend:
    """Chats to an OpenAI-compatible server, concurrently, with retries and typed errors.

    Args:
        model: The served model name (``Qwen/Qwen2-VL-7B-Instruct`` for ``vllm serve`` of that id).
        base_url: The server's ``/v1`` URL, e.g. ``http://localhost:8000/v1``.
        api_key: Defaults to ``VLAGENT_API_KEY``, then ``OPENAI_API_KEY``, then ``"EMPTY"``.
        timeout: Seconds per request attempt (connect and read).
        max_retries: Extra attempts after a retryable failure (connection, timeout, 429, 5xx).
        concurrency: Requests in flight at once for a batch.
        backoff: First retry delay in seconds; doubles each attempt, capped at 8 s.
        min_pixels: Default budget sent as ``mm_processor_kwargs`` (``None``: the server's).
        max_pixels: Default budget sent as ``mm_processor_kwargs`` (``None``: the server's).
        keep_special_tokens: Ask the server (vLLM's ``skip_special_tokens``) to keep grounding tokens.
        client: An ``openai.OpenAI`` to use instead of building one (tests, custom transports).
        sleep: How to wait between retries (injected so tests need not sleep).

    Example:
        >>> OpenAIBackend("Qwen/Qwen2-VL-7B-Instruct", "http://127.0.0.1:8000/v1").name
        'openai'
    """

    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
        concurrency: int = 8,
        backoff: float = 0.5,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        keep_special_tokens: bool = True,
        client: Any | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if concurrency < 1:
            raise ModelRejected(f"concurrency must be at least 1, got {concurrency}")
        if max_retries < 0:
            raise ModelRejected(f"max_retries must be >= 0, got {max_retries}")
        if not timeout > 0:
            raise ModelRejected(f"timeout must be a positive number of seconds, got {timeout}")
        self.model = model
        self.base_url = base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.backoff = backoff
        self.min_pixels = min_pixels
        self.max_pixels = max_pixels
        self.keep_special_tokens = keep_special_tokens
        self._sleep = sleep
        if client is None:
            from openai import OpenAI

            # The client's own retries are off: ours decide what is retryable and raise typed errors.
            client = OpenAI(
                base_url=base_url, api_key=api_key or api_key_from_env(), timeout=timeout, max_retries=0
            )
        self.client = client

    # ---------------------------------------------------------------------------------------- requests
    def _budget(self, chat: Chat, opts: GenerationOptions, index: int) -> dict[str, int]:
        parts = [p for m in chat.messages for p in m.content if isinstance(p, ImagePart)]
        budget: dict[str, int] = {}
        for key in ("min_pixels", "max_pixels"):
            own = {getattr(p, key) for p in parts if getattr(p, key) is not None}
            if len(own) > 1:
                raise ModelRejected(
                    f"chat {index} gives its images different {key} ({sorted(own)}); an OpenAI-compatible "
                    "server takes one budget per request"
                )
            value = next(iter(own), None) or getattr(opts, key) or getattr(self, key)
            if value is not None:
                budget[key] = int(value)
        return budget

    def _messages(self, chat: Chat) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for message in chat.messages:
            if all(isinstance(p, TextPart) for p in message.content):
                out.append({"role": message.role, "content": defuse_vision_tokens(message.text)})
                continue
            content: list[dict[str, Any]] = []
            for part in message.content:
                if isinstance(part, TextPart):
                    content.append({"type": "text", "text": defuse_vision_tokens(part.text)})
                else:
                    content.append({"type": "image_url", "image_url": {"url": png_data_url(part.image)}})
            out.append({"role": message.role, "content": content})
        return out

    def _request(self, chat: Chat, opts: GenerationOptions, index: int) -> dict[str, Any]:
        extra_body: dict[str, Any] = {}
        budget = self._budget(chat, opts, index)
        if budget:
            extra_body["mm_processor_kwargs"] = budget
        if self.keep_special_tokens:
            extra_body["skip_special_tokens"] = False
        request: dict[str, Any] = {
            "model": self.model,
            "messages": self._messages(chat),
            "max_tokens": opts.max_new_tokens,
            "temperature": opts.temperature,
        }
        if opts.top_p is not None:
            request["top_p"] = opts.top_p
        if opts.stop:
            request["stop"] = list(opts.stop)
        if extra_body:
            request["extra_body"] = extra_body
        return request

    # --------------------------------------------------------------------------------------- transport
    def _send(self, request: dict[str, Any], index: int) -> Any:
        import openai

        # Without --base-url the client falls back to OPENAI_BASE_URL or api.openai.com: name what it used.
        where = f"{self.base_url or getattr(self.client, 'base_url', None) or 'the server'} (chat {index})"
        last = ModelUnavailable(f"{where}: no attempt made")
        for attempt in range(self.max_retries + 1):
            if attempt:
                self._sleep(min(self.backoff * 2 ** (attempt - 1), 8.0))
            try:
                return self.client.chat.completions.create(**request)
            except openai.APIConnectionError as exc:  # includes APITimeoutError
                last = ModelUnavailable(f"{where}: {type(exc).__name__}: {exc}")
                last.__cause__ = exc
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status == 429 or status >= 500:
                    last = ModelUnavailable(f"{where}: HTTP {status}: {exc.message}", status_code=status)
                    last.__cause__ = exc
                    continue
                raise ModelRejected(f"{where}: HTTP {status}: {exc.message}", status_code=status) from exc
        raise ModelUnavailable(
            f"{last} (gave up after {self.max_retries + 1} attempt{'s' if self.max_retries else ''})",
            status_code=getattr(last, "status_code", None),
        ) from last.__cause__

    def _one(self, chat: Chat, opts: GenerationOptions, index: int) -> Generation:
        t0 = time.perf_counter()
        request = self._request(chat, opts, index)
        t1 = time.perf_counter()
        reply = self._send(request, index)
        t2 = time.perf_counter()
        try:
            text = reply.choices[0].message.content or ""
        except (AttributeError, IndexError, TypeError) as exc:
            raise ModelRejected(f"malformed chat-completions reply for chat {index}: {reply!r:.300}") from exc
        usage = getattr(reply, "usage", None)
        budget = request.get("extra_body", {}).get("mm_processor_kwargs", {})
        visual = _estimate_visual_tokens(chat.images, budget) if chat.images else 0
        return Generation(
            text=text,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            visual_tokens=visual,
            new_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            preprocess_seconds=t1 - t0,
            generate_seconds=t2 - t1,
            extra={"finish_reason": reply.choices[0].finish_reason, "visual_tokens_estimated": bool(visual)},
        )

    def generate(self, chats: Sequence[Chat], options: GenerationOptions | None = None) -> list[Generation]:
        """Send every chat at once (at most ``concurrency`` in flight); results come back in order."""
        opts = options or GenerationOptions()
        if not chats:
            return []
        if len(chats) == 1 or self.concurrency == 1:
            return [self._one(c, opts, i) for i, c in enumerate(chats)]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(chats))) as pool:
            futures = [pool.submit(self._one, c, opts, i) for i, c in enumerate(chats)]
            return [f.result() for f in futures]


def _estimate_visual_tokens(images: Sequence[Any], budget: dict[str, int]) -> int:
    # The server does not report them; Qwen2-VL's processor arithmetic (the same smart_resize vLLM runs)
    # gives the exact count for the budget sent, or for the checkpoints' default budget.
    from vlagent.actions.coords import resized_size

    total = 0
    for image in images:
        w, h = resized_size(
            image.width,
            image.height,
            min_pixels=budget.get("min_pixels", QWEN2_VL_DEFAULT_MIN_PIXELS),
            max_pixels=budget.get("max_pixels", QWEN2_VL_DEFAULT_MAX_PIXELS),
            factor=QWEN2_VL_TOKEN_SIDE,
        )
        total += (w // QWEN2_VL_TOKEN_SIDE) * (h // QWEN2_VL_TOKEN_SIDE)
    return total
