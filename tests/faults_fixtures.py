"""What the fault tests share: the CLI run in process, and real loopback servers that misbehave on purpose.

A :class:`MisbehavingServer` is a real TCP server on 127.0.0.1 that reads each HTTP request whole and then
does what its ``answer`` says with the raw socket: never answer, trickle bytes, send a body that is not JSON.
No client library is faked: the OpenAI client talks to it over a socket, as it would to a sick vLLM.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from vlagent.agent import cli
from vlagent.agent.trajectory import EpisodeMeta, find_episodes, read_meta

Answer = Callable[[socket.socket, threading.Event], None]


def vlagent(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    """Run ``vlagent ARGS`` through the console-script entry point; return (exit code, stdout, stderr).

    An exception that is neither a usage error nor a vlagent error escapes and fails the test, as the
    traceback a user would have seen.
    """
    monkeypatch.setattr(sys, "argv", ["vlagent", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def error_lines(err: str) -> list[str]:
    """The lines of stderr that report an error (the scripted banner and trajectory notes are not errors)."""
    return [line for line in err.splitlines() if line.startswith(("error:", "Error:", "Traceback", "  File"))]


def only_meta(out: Path) -> EpisodeMeta:
    """The meta.json of the one episode under ``out``."""
    (episode,) = find_episodes(out)
    return read_meta(episode)


def _read_request(conn: socket.socket) -> bytes:
    """One HTTP request: headers up to the blank line, then Content-Length bytes of body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return body


class MisbehavingServer:
    """A loopback HTTP server whose every answer is ``answer(conn, stop)``.

    ``requests`` counts the requests; ``first_request_at`` is the ``time.monotonic()`` the first one arrived
    (a deadline is measured from there, not from the imports and env setup before it).
    """

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests = 0
        self.first_request_at: float | None = None
        self.stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/v1"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            while not self.stop.is_set():
                _read_request(conn)
                if self.first_request_at is None:
                    self.first_request_at = time.monotonic()
                self.requests += 1
                self.answer(conn, self.stop)
        except OSError:  # the client gave up and closed: what a deadline is for
            pass

    def close(self) -> None:
        self.stop.set()
        self._listener.close()
        for conn in self._conns:
            conn.close()


@contextmanager
def misbehaving_server(answer: Answer) -> Iterator[MisbehavingServer]:
    """Serve ``answer`` on 127.0.0.1 for the duration of the block."""
    server = MisbehavingServer(answer)
    try:
        yield server
    finally:
        server.close()


def never_answer(conn: socket.socket, stop: threading.Event) -> None:
    """Accept the request and say nothing, holding the connection open."""
    stop.wait(60)


def trickle(every: float) -> Answer:
    """Send a 200 with a long body one byte each ``every`` seconds: no single read ever times out."""

    def answer(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        while not stop.wait(every):
            conn.sendall(b" ")

    return answer


def trickle_headers(every: float) -> Answer:
    """Send the status line, then one header byte each ``every`` seconds: the body never even starts."""

    def answer(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while not stop.wait(every):
            conn.sendall(b"a")

    return answer


def reply_body(body: bytes) -> Answer:
    """Answer every request with HTTP 200 and ``body`` as the JSON it claims to be."""

    def answer(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)

    return answer


def completion_body(text: str) -> bytes:
    """A chat-completions reply with ``text`` as the assistant's content, JSON-encoded the standard way."""
    return json.dumps({
        "id": "c", "object": "chat.completion", "created": int(time.time()), "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }).encode()
