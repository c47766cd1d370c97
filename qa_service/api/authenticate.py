"""Authentication before anything else: the bearer key is checked from the request's
headers, before any of its body is read, so a request without a valid key costs the
server no memory or disk whatever it declares or sends.

The principal the key stands for is left in the request's state, where the `Caller`
dependency (`qa_service.api.deps`) takes it. Routes that hold no data (`/health` and the
API reference) need no key.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from qa_service.api.errors import send_error
from qa_service.errors import QAError

__all__ = ["PUBLIC_PATHS", "Authenticate"]

PUBLIC_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


class Authenticate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        access = scope["app"].state.services.access
        header = Headers(scope=scope).get("authorization")
        try:  # the key store is SQLite: off the event loop
            principal = await run_in_threadpool(access.authenticate, header)
        except QAError as exc:
            await send_error(send, exc)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
