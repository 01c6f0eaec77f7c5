"""Any OpenAI-compatible ``/v1/chat/completions`` server, usually ``vllm serve Qwen/Qwen2-VL-7B-Instruct``.

This is how a deployment outgrows one GPU: vLLM shards the model (tensor/pipeline parallel) and this
client sends a batch of chats concurrently through a bounded pool. Images travel as base64 PNG data URLs,
videos as vLLM's ``video/jpeg`` frame list (each frame resized here to the size the per-frame budget
gives, so the server's own resize keeps it and the token count is known);
the pixel budget travels the way vLLM takes it (``extra_body={"mm_processor_kwargs": {"min_pixels": ..,
"max_pixels": ..}}``) and ``skip_special_tokens: false`` keeps ``<|box_start|>`` in replies.

Errors are mapped where they arise, as httpx maps httpcore's: connection failures, timeouts, 429 and 5xx
are retried with exponential backoff and end as :class:`ModelUnavailable`; other 4xx and malformed replies
(a 200 whose body is not JSON included) raise :class:`ModelRejected` at once.

``timeout`` is one wall-clock deadline per chat, covering every attempt, every read and the backoff between
attempts. The client's own timeouts restart with each byte that arrives, so a server that trickles bytes
would never be cut off by them; here each attempt runs on a watchdog thread that the caller stops waiting
for at the deadline, and that thread stops reading at its next chunk.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from vlagent.model.chat import (
    Chat,
    Generation,
    GenerationOptions,
    ImagePart,
    TextPart,
    VideoPart,
    escape_surrogates,
)
from vlagent.model.errors import ModelRejected, ModelUnavailable
from vlagent.model.images import jpeg_frames_data_url, png_data_url
from vlagent.model.qwen_format import (
    QWEN2_VL_DEFAULT_MAX_PIXELS,
    QWEN2_VL_DEFAULT_MIN_PIXELS,
    QWEN2_VL_TOKEN_SIDE,
    defuse_vision_tokens,
)

#: Seconds a call may take in all (attempts, reads, backoff): what ``--timeout`` defaults to.
DEFAULT_TIMEOUT = 120.0
#: Extra attempts after a retryable failure, inside the deadline: what ``--max-retries`` defaults to.
DEFAULT_MAX_RETRIES = 3

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
        timeout: Seconds for the whole call (every attempt, read and backoff): the step's deadline.
        max_retries: Extra attempts after a retryable failure (connection, timeout, 429, 5xx), within the deadline.
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
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
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
        if not 0 < timeout < math.inf:  # NaN fails both; an infinite deadline is none at all
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

    def _video_grid(self, part: VideoPart, opts: GenerationOptions, where: str) -> tuple[int, int, int]:
        """The clip's ``video_grid_thw`` under its per-frame budget and token cap (Qwen2-VL's arithmetic)."""
        from vlagent.model.preprocess import PatchSpec
        from vlagent.model.video import check_frames, video_grid

        mn = part.min_pixels or opts.min_pixels or self.min_pixels or QWEN2_VL_DEFAULT_MIN_PIXELS
        mx = part.max_pixels or opts.max_pixels or self.max_pixels or QWEN2_VL_DEFAULT_MAX_PIXELS
        try:
            return video_grid(check_frames(part.frames), len(part.frames), PatchSpec(), int(mn), int(mx),
                              part.max_tokens)
        except ValueError as exc:
            raise ModelRejected(f"{where} ({len(part.frames)} frames) cannot be sent: {exc}") from exc

    def _video_content(self, part: VideoPart, opts: GenerationOptions, where: str) -> dict[str, Any]:
        """A ``video_url`` part: the frames resized to the clip's grid, as JPEGs (vLLM's ``video/jpeg``)."""
        from PIL import Image

        _, gh, gw = self._video_grid(part, opts, where)
        size = (gw * 14, gh * 14)
        frames = [f if f.size == size else f.convert("RGB").resize(size, Image.Resampling.BICUBIC)
                  for f in part.frames]
        return {"type": "video_url", "video_url": {"url": jpeg_frames_data_url(frames)}}

    def _messages(self, chat: Chat, opts: GenerationOptions | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        videos = 0
        for message in chat.messages:
            if all(isinstance(p, TextPart) for p in message.content):
                out.append({"role": message.role, "content": defuse_vision_tokens(message.text)})
                continue
            content: list[dict[str, Any]] = []
            for part in message.content:
                if isinstance(part, TextPart):
                    content.append({"type": "text", "text": defuse_vision_tokens(part.text)})
                elif isinstance(part, VideoPart):
                    videos += 1
                    content.append(self._video_content(part, opts or GenerationOptions(), f"video {videos}"))
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
            "messages": self._messages(chat, opts),
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
    def _where(self, index: int) -> str:
        # Without --base-url the client falls back to OPENAI_BASE_URL or api.openai.com: name what it used.
        return f"{self.base_url or getattr(self.client, 'base_url', None) or 'the server'} (chat {index})"

    def _send(self, request: dict[str, Any], index: int) -> dict[str, Any]:
        """The reply's JSON, from attempts that all fit in one ``timeout``-second deadline.

        The deadline is wall-clock time for the whole call: each attempt's socket timeout is what is left of
        it, and a watchdog ends the wait when it passes, so neither a server that never answers nor one that
        trickles a byte at a time (every read returns, none times out) can hold a step longer.
        """
        where = self._where(index)
        deadline = time.monotonic() + self.timeout
        last = ModelUnavailable(f"{where}: no attempt made")
        attempts = 0
        for attempt in range(self.max_retries + 1):
            if attempt:
                self._sleep(min(self.backoff * 2 ** (attempt - 1), 8.0, max(deadline - time.monotonic(), 0.0)))
            if time.monotonic() >= deadline:
                break
            attempts += 1
            try:
                return self._attempt(request, where, deadline)
            except ModelUnavailable as exc:
                last = exc
        tried = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        raise ModelUnavailable(
            f"{last} (the {self.timeout:g}s deadline, --timeout, covers every attempt; gave up after {tried})",
            status_code=last.status_code,
        ) from last.__cause__

    def _attempt(self, request: dict[str, Any], where: str, deadline: float) -> dict[str, Any]:
        """One request on a watchdog thread; past the deadline the wait ends and the thread stops reading."""
        outcome: list[dict[str, Any] | BaseException] = []
        cancel = threading.Event()

        def exchange() -> None:
            try:
                outcome.append(self._exchange(request, where, deadline, cancel))
            except BaseException as exc:  # handed to the caller's thread, which raises it
                outcome.append(exc)

        worker = threading.Thread(target=exchange, name="vlagent-openai", daemon=True)
        worker.start()
        worker.join(max(deadline - time.monotonic(), 0.0))
        if worker.is_alive() or not outcome:
            cancel.set()
            raise ModelUnavailable(f"{where}: Timeout: no complete reply before the deadline")
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def _exchange(
        self, request: dict[str, Any], where: str, deadline: float, cancel: threading.Event
    ) -> dict[str, Any]:
        """Send the request and read the body chunk by chunk, stopping once the deadline has passed."""
        import openai

        try:
            with self.client.chat.completions.with_streaming_response.create(
                **request, timeout=max(deadline - time.monotonic(), 0.001)
            ) as response:
                chunks: list[bytes] = []
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    if cancel.is_set() or time.monotonic() >= deadline:
                        raise ModelUnavailable(f"{where}: Timeout: the reply was still arriving at the deadline")
        except openai.APIConnectionError as exc:  # includes APITimeoutError
            raise ModelUnavailable(f"{where}: {type(exc).__name__}: {exc}") from exc
        except openai.APIStatusError as exc:
            status = exc.status_code
            error = ModelUnavailable if status == 429 or status >= 500 else ModelRejected
            raise error(f"{where}: HTTP {status}: {exc.message}", status_code=status) from exc
        except _transport_errors() as exc:  # a body read fails outside the client's own error mapping
            raise ModelUnavailable(f"{where}: {type(exc).__name__}: {exc}") from exc
        return _decode_reply(b"".join(chunks), where)

    def _one(self, chat: Chat, opts: GenerationOptions, index: int) -> Generation:
        t0 = time.perf_counter()
        request = self._request(chat, opts, index)
        t1 = time.perf_counter()
        reply = self._send(request, index)
        t2 = time.perf_counter()
        text, finish_reason = _reply_text(reply, index)
        usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else {}
        budget = request.get("extra_body", {}).get("mm_processor_kwargs", {})
        visual = _estimate_visual_tokens(chat.images, budget) if chat.images else 0
        visual += sum(_grid_tokens(self._video_grid(v, opts, "video")) for v in chat.videos)
        return Generation(
            text=text,
            prompt_tokens=_count(usage.get("prompt_tokens")),
            visual_tokens=visual,
            new_tokens=_count(usage.get("completion_tokens")),
            preprocess_seconds=t1 - t0,
            generate_seconds=t2 - t1,
            extra={"finish_reason": finish_reason, "visual_tokens_estimated": bool(visual),
                   "video_grids": [self._video_grid(v, opts, "video") for v in chat.videos]},
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


@functools.cache
def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP library's transport errors (openai 3 ships httpx as ``httpx2``): what a body read can raise."""
    found: list[type[BaseException]] = []
    for name in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(name).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _decode_reply(body: bytes, where: str) -> dict[str, Any]:
    """The reply's JSON object; a body that is not one is a broken server, and sending again will not fix it."""
    try:
        data = json.loads(body)
    except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
        raise ModelRejected(f"{where}: the 200 reply is not JSON ({exc}): {body[:200]!r}") from exc
    if not isinstance(data, dict):
        raise ModelRejected(f"{where}: the reply is JSON but not an object: {body[:200]!r}")
    return data


def _reply_text(reply: dict[str, Any], index: int) -> tuple[str, Any]:
    """The first choice's text (lone surrogates escaped, so it can be recorded and sent back) and finish reason."""
    try:
        choice = reply["choices"][0]
        text = choice["message"].get("content") or ""
        if not isinstance(text, str):
            raise TypeError(f"content is {type(text).__name__}")
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ModelRejected(f"malformed chat-completions reply for chat {index}: {reply!r:.300}") from exc
    return escape_surrogates(text), choice.get("finish_reason")


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _grid_tokens(grid: tuple[int, int, int]) -> int:
    return grid[0] * grid[1] * grid[2] // 4


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
