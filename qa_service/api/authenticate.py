"""Authentication before anything else: the bearer key is checked from the request's
headers, before any of its body is read, so a request without a valid key costs the
server no memory or disk whatever it declares or sends.

The principal the key stands for is left in the request's state, where the `Caller`
dependency (`qa_service.api.deps`) takes it. Routes that hold no data (`/health` and the
API reference, with the files of its pages under `DOCS_STATIC`, and the web page at `/`
with its files under `WEB_STATIC`) need no key. A refused key
is answered in the shape that `error_sender` picks for the request (the API's own by
default; the app picks OpenAI's for the OpenAI-compatible routes).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from qa_service.api.docs import DOCS_PATH, DOCS_STATIC, OAUTH2_REDIRECT_PATH, REDOC_PATH
from qa_service.api.errors import send_error
from qa_service.errors import QAError
from qa_service.web import WEB_PATH, WEB_STATIC

__all__ = ["PUBLIC_PATHS", "PUBLIC_PREFIXES", "Authenticate", "ErrorSender", "is_public"]

PUBLIC_PATHS = frozenset({"/health", DOCS_PATH, OAUTH2_REDIRECT_PATH, REDOC_PATH, "/openapi.json",
                          WEB_PATH})
# folders whose files are public: a path is public when it names one file directly inside
# (never a sub-folder, a "." or ".." segment, or an empty name)
PUBLIC_PREFIXES = (f"{DOCS_STATIC}/", f"{WEB_STATIC}/")


def is_public(path: str) -> bool:
    """Whether a request for `path` (the decoded URL path) needs no key."""
    if path in PUBLIC_PATHS:
        return True
    for prefix in PUBLIC_PREFIXES:
        name = path.removeprefix(prefix)
        if name != path and name.strip(".") and "/" not in name and "\\" not in name:
            return True
    return False


ErrorSender = Callable[[Send, QAError], Awaitable[None]]


def _api_shape(_scope: Scope) -> ErrorSender:
    return send_error


class Authenticate:
    def __init__(self, app: ASGIApp,
                 error_sender: Callable[[Scope], ErrorSender] = _api_shape) -> None:
        self.app = app
        self.error_sender = error_sender

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        access = scope["app"].state.services.access
        header = Headers(scope=scope).get("authorization")
        try:  # the key store is SQLite: off the event loop
            principal = await run_in_threadpool(access.authenticate, header)
        except QAError as exc:
            await self.error_sender(scope)(send, exc)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
