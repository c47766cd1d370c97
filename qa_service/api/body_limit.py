"""A cap on every request body, counted while it streams (not trusted from headers).

The cap is chosen by route, never by what the request declares: the upload routes
(`POST /kbs/{kb}/documents`) may carry up to `QA_LIMITS__MAX_REQUEST_MB`, every other
request up to `QA_LIMITS__MAX_BODY_KB`, whatever its content type. A declared
`Content-Length` over the cap is refused before anything is read; a body that grows past
it is cut off there: the app sees the client as gone (so an upload in progress discards
what it staged) and the client gets 413.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa_service.api.errors import send_error
from qa_service.errors import PayloadTooLarge

__all__ = ["BodyLimit"]


class BodyLimit:
    """`upload_routes`: (method, path template) pairs that take `upload_bytes`."""

    def __init__(self, app: ASGIApp, upload_bytes: int, other_bytes: int,
                 upload_routes: Sequence[tuple[str, str]]) -> None:
        self.app = app
        self.upload_bytes = upload_bytes
        self.other_bytes = other_bytes
        self._uploads = [(method, compile_path(path)[0]) for method, path in upload_routes]

    def _limit(self, scope: Scope) -> tuple[int, str]:
        if any(scope["method"] == method and pattern.fullmatch(scope["path"])
               for method, pattern in self._uploads):
            return self.upload_bytes, "QA_LIMITS__MAX_REQUEST_MB"
        return self.other_bytes, "QA_LIMITS__MAX_BODY_KB"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self._limit(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
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
    await send_error(send, PayloadTooLarge(
        f"the request body is over the limit of {size} for this route ({setting})"))
