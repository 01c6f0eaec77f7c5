"""Fixtures for the model path: the tiny real Qwen2-VL and a loopback chat-completions server.

Other areas register the module as a plugin from their test file (fixtures then resolve by name)::

    pytest_plugins = ("model_fixtures",)

or import them by name (``from model_fixtures import tiny_qwen2vl_path``). Plain helpers (screenshots,
reply bodies) live in ``model_helpers``.

``tiny_qwen2vl_path`` builds the random-weight Qwen2-VL once per session (vlagent.model.tiny) and
``tiny_backend`` loads it once through the real ``TransformersBackend`` on CPU in float32.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from model_helpers import completion


@pytest.fixture(scope="session")
def tiny_qwen2vl_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the tiny random-weight Qwen2-VL checkpoint (built once per session)."""
    from vlagent.model.tiny import build_tiny_qwen2vl

    return build_tiny_qwen2vl(tmp_path_factory.mktemp("tiny-qwen2vl"), seed=0)


@pytest.fixture(scope="session")
def tiny_backend(tiny_qwen2vl_path: Path):
    """The tiny model loaded through TransformersBackend on CPU, float32 (shared: do not mutate)."""
    from vlagent.model.transformers_backend import TransformersBackend

    return TransformersBackend(tiny_qwen2vl_path, device="cpu")


# ------------------------------------------------------------------------ loopback chat-completions server
@dataclass
class ChatServer:
    """A real HTTP server on 127.0.0.1 speaking the chat-completions format, recording every request.

    ``script`` holds (status, body) replies used in order before falling back to ``default``, a callable
    from the request JSON to (status, body). ``on_request`` runs first in the handler thread (to block,
    count concurrency). Not a fake of vLLM's model, only of its HTTP surface: that is what the client sees.
    """

    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    script: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    default: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]] | None = None
    on_request: Callable[[dict[str, Any]], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _echo(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    last = request["messages"][-1]["content"]
    text = last if isinstance(last, str) else " ".join(p.get("text", "") for p in last if p["type"] == "text")
    return 200, completion(f"echo: {text}")


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A fresh loopback chat-completions server for one test (threaded, so batches can overlap)."""
    state = ChatServer(default=_echo)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            with state.lock:
                state.requests.append(body)
                state.headers.append({k.lower(): v for k, v in self.headers.items()})
                scripted = state.script.pop(0) if state.script else None
            if state.on_request is not None:
                state.on_request(body)
            status, reply = scripted if scripted is not None else state.default(body)
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    class QuietServer(ThreadingHTTPServer):
        def handle_error(self, request, client_address) -> None:
            # A client that timed out on purpose leaves a broken pipe behind; anything else is reported.
            if not isinstance(sys.exc_info()[1], ConnectionError):
                super().handle_error(request, client_address)

    server = QuietServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
