"""A real HTTP server that speaks the OpenAI chat completions protocol, with scripted replies.

    with ScriptedLLM() as llm:
        llm.reply("Paris is the capital of France. [1]")
        settings = Settings(llm_base_url=llm.base_url, llm_model="scripted")
        ...
        assert llm.requests[0]["messages"][0]["role"] == "system"

It listens on 127.0.0.1 on a free port (stdlib `ThreadingHTTPServer` in a daemon thread)
and answers `POST /v1/chat/completions`: a `chat.completion` JSON object, or, when the
request says `"stream": true`, `text/event-stream` with one `chat.completion.chunk` per
word and `data: [DONE]`. Replies come from a queue (`reply`, `fail`), then from the
`respond` function given to the constructor; with neither, it answers HTTP 500.
`delay` holds a reply back before its headers, `chunk_delay` between stream chunks;
closing the server cuts every pending delay short, so nothing blocks the test's exit.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["Reply", "ScriptedLLM", "sse"]

COMPLETIONS_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class Reply:
    """One scripted answer to one request.

    `content=None` sends `"content": null` (a malformed reply for this service); `raw`
    sends those bytes as the whole body with status `status`, bypassing the protocol.
    """

    content: str | None = ""
    status: int = 200
    error: str = "scripted server error"
    delay: float = 0.0
    chunk_delay: float = 0.0
    raw: bytes | None = None


Responder = Callable[[dict[str, Any]], "Reply | str"]


class ScriptedLLM:
    """An OpenAI-compatible server on 127.0.0.1; use as a context manager."""

    def __init__(self, respond: Responder | None = None) -> None:
        self.requests: list[dict[str, Any]] = []  # every request body, in order
        self.headers: list[dict[str, str]] = []  # their headers (names lowercased)
        self._respond = respond
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.scripted = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="scripted-llm", daemon=True,
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def reply(self, content: str | None, *, delay: float = 0.0, chunk_delay: float = 0.0
              ) -> None:
        """Queue the assistant message for the next request."""
        self.enqueue(Reply(content=content, delay=delay, chunk_delay=chunk_delay))

    def fail(self, status: int = 500, message: str = "scripted server error") -> None:
        """Queue an HTTP error with an OpenAI-style error body for the next request."""
        self.enqueue(Reply(status=status, error=message))

    def enqueue(self, reply: Reply) -> None:
        with self._lock:
            self._queue.append(reply)

    def close(self) -> None:
        self._closing.set()  # wake every handler that is sleeping in a delay
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedLLM:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # called from handler threads

    def _next_reply(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            if self._queue:
                return self._queue.popleft()
        if self._respond is not None:
            answer = self._respond(body)
            return Reply(content=answer) if isinstance(answer, str) else answer
        return Reply(status=500, error="ScriptedLLM: no reply scripted for this request")

    def _sleep(self, seconds: float) -> bool:
        """Wait; False when the server is closing (the reply should be abandoned)."""
        return seconds <= 0 or not self._closing.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    scripted: ScriptedLLM

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that gave up (timeout tests) resets the connection."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection; the body ends at close

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            body = {}
        if self.path.rstrip("/") != COMPLETIONS_PATH:
            self._send_json(404, _error_body(f"no route {self.path}", "not_found"))
            return
        scripted = self.server.scripted
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = scripted._next_reply(body, headers)
        if not scripted._sleep(reply.delay):
            return
        with contextlib.suppress(OSError):  # the client went away (it timed out)
            self._answer(reply, body)

    def _answer(self, reply: Reply, body: dict[str, Any]) -> None:
        if reply.raw is not None:
            self._send(reply.status, "application/json", reply.raw)
        elif reply.status >= 400:
            self._send_json(reply.status, _error_body(reply.error, "server_error"))
        elif body.get("stream"):
            self._stream(reply, body.get("model", ""))
        else:
            self._send_json(200, _completion(reply.content, body.get("model", "")))

    def _stream(self, reply: Reply, model: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for index, event in enumerate(_chunks(reply.content or "", model)):
            if index > 1 and not self.server.scripted._sleep(reply.chunk_delay):
                return
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, "application/json", json.dumps(payload).encode())

    def _send(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _error_body(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _completion(content: str | None, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model or "scripted",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _chunks(content: str, model: str) -> Iterator[dict[str, Any]]:
    """A role chunk, one chunk per word (with its trailing space), a finish chunk."""
    yield _chunk({"role": "assistant", "content": ""}, None, model)
    for piece in re.findall(r"\s*\S+\s*|\s+", content):
        yield _chunk({"content": piece}, None, model)
    yield _chunk({}, "stop", model)


def _chunk(delta: dict[str, Any], finish: str | None, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model or "scripted",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def sse(text: str, size: int) -> bytes:
    """`text` as a chat completions event stream of `size`-character chunks (a body for
    `Reply(raw=...)`): pieces that split words, URLs and citation markers."""
    events = [{"id": "chatcmpl-split", "object": "chat.completion.chunk", "created": 0,
               "model": "scripted",
               "choices": [{"index": 0, "delta": {"content": text[i:i + size]},
                            "finish_reason": None}]}
              for i in range(0, len(text), size)]
    return "".join(f"data: {json.dumps(event)}\n\n" for event in events).encode() + \
        b"data: [DONE]\n\n"
