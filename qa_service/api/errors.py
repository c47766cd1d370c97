"""Every error leaves the API as `{"error": {"code": ..., "message": ...}}`, mapped here only."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import Send

from qa_service.errors import QAError

__all__ = ["error_body", "install_error_handlers", "log_server_error", "send_error"]

log = logging.getLogger(__name__)

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type",
               422: "validation_error", 429: "rate_limited"}


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def _respond(status: int, code: str, message: str,
             headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=error_body(code, message), headers=headers)


def log_server_error(exc: QAError) -> None:
    """A 5xx `QAError` in the server log, with its detail (never sent to the client)."""
    if exc.http_status >= 500:
        log.error("%s: %s%s", type(exc).__name__, exc.message,
                  f" ({exc.detail})" if exc.detail else "")


async def _qa_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QAError)
    log_server_error(exc)
    return _respond(exc.http_status, exc.code, exc.message, exc.headers or None)


async def send_error(send: Send, exc: QAError) -> None:
    """Answer with `exc` from ASGI middleware (before the app and its handlers run); the
    connection closes, so a body the client is still sending is never read."""
    log_server_error(exc)
    body = json.dumps(error_body(exc.code, exc.message)).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    headers += [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
    await send({"type": "http.response.start", "status": exc.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        problems.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg"))
    return _respond(422, "validation_error", "; ".join(str(p) for p in problems))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return _respond(exc.status_code, code, str(exc.detail))


async def _client_gone(request: Request, _exc: Exception) -> JSONResponse:
    """The client closed the connection before its body ended (or `BodyLimit` cut the body
    off, and answers 413 itself): expected, so no traceback. Nobody reads this answer."""
    log.debug("%s %s: the client went away before the request body ended", request.method,
              request.url.path)
    return _respond(400, "bad_request", "the request body ended early")


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return _respond(500, "internal", f"internal error ({type(exc).__name__}); see the server log")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(QAError, _qa_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected)
