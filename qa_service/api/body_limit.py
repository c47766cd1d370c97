"""A cap on every request body, counted while it streams (not trusted from headers).

Uploads (`multipart/form-data`) may carry up to `QA_LIMITS__MAX_REQUEST_MB`; any other
body up to `QA_LIMITS__MAX_BODY_KB`. A declared `Content-Length` over the cap is refused
before anything is read; a body that grows past it is cut off there: the app sees the
client as gone (so an upload in progress discards what it staged) and the client gets 413.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa_service.api.errors import error_body

__all__ = ["BodyLimit"]


class BodyLimit:
    def __init__(self, app: ASGIApp, upload_bytes: int, other_bytes: int) -> None:
        self.app = app
        self.upload_bytes = upload_bytes
        self.other_bytes = other_bytes

    def _limit(self, headers: dict[bytes, bytes]) -> tuple[int, str]:
        if headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data"):
            return self.upload_bytes, "QA_LIMITS__MAX_REQUEST_MB"
        return self.other_bytes, "QA_LIMITS__MAX_BODY_KB"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        limit, setting = self._limit(headers)
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit, setting)
            return
        meter = _Meter(receive, send, limit)
        try:
            await self.app(scope, meter.receive, meter.send)
        except Exception:
            if not meter.over:
                raise
        if meter.over and not meter.started:
            await _too_large(send, limit, setting)


class _Meter:
    """Counts body bytes; past the limit the app sees a disconnect and cannot answer."""

    def __init__(self, receive: Receive, send: Send, limit: int) -> None:
        self._receive, self._send, self.limit = receive, send, limit
        self.received = 0
        self.over = False
        self.started = False

    async def receive(self) -> Message:
        if self.over:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.over = True
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if self.over and not self.started:
            return  # the app's reaction to the cut-off body is replaced by the 413
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)


async def _too_large(send: Send, limit: int, setting: str) -> None:
    size = f"{limit / 1_000_000:g} MB" if limit >= 1_000_000 else f"{limit / 1000:g} kB"
    body = json.dumps(error_body(
        "too_large", f"the request body is over the limit of {size} ({setting})")).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
