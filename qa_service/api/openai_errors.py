"""Errors of the OpenAI-compatible routes (`/v1/...`) in OpenAI's shape:
`{"error": {"message", "type", "param", "code"}}`, so that OpenAI clients read them.

The same `QAError`s as everywhere, with the same HTTP statuses, but for validation
errors: 400 here (OpenAI's), not 422. `type` is `invalid_request_error` for a 4xx,
`requests` for 429 (as OpenAI's rate limits say) and `server_error` for a 5xx; `code` is
OpenAI's where it has one (`invalid_api_key`, `model_not_found`, `rate_limit_exceeded`),
else this service's error code. Every other route keeps the API's own shape
(`qa_service.api.errors`): `install_openai_errors` puts a path check in front of its
handlers, and `error_sender` tells the `Authenticate` middleware which shape to send.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope, Send

from qa_service.api.authenticate import ErrorSender
from qa_service.api.errors import log_server_error, send_error
from qa_service.errors import KnowledgeBaseNotFound, QAError, RateLimited, Unauthorized

__all__ = ["OPENAI_PREFIX", "error_sender", "install_openai_errors",
           "is_openai_path", "openai_error", "send_openai_error"]

log = logging.getLogger(__name__)

OPENAI_PREFIX = "/v1/"
Handler = Callable[[Request, Exception], Awaitable[Response]]
ErrorBody = dict[str, str | None]

# on /v1, a knowledge base that is not found is a model that is not found
_CODES: dict[type[QAError], str] = {Unauthorized: "invalid_api_key",
                                    KnowledgeBaseNotFound: "model_not_found",
                                    RateLimited: "rate_limit_exceeded"}
_PARAMS: dict[type[QAError], str] = {KnowledgeBaseNotFound: "model"}
_HTTP_CODES = {404: "unknown_url", 405: "method_not_allowed"}


def is_openai_path(scope: Scope) -> bool:
    """Whether the request is for a `/v1/` route (under the proxy's root path, if any)."""
    path, root = str(scope.get("path", "")), str(scope.get("root_path", ""))
    if root and path.startswith(root + "/"):
        path = path[len(root):]
    return path.startswith(OPENAI_PREFIX)


def error_type(status: int) -> str:
    if status == 429:
        return "requests"
    return "server_error" if status >= 500 else "invalid_request_error"


def openai_error(exc: QAError) -> ErrorBody:
    """The `error` object for `exc`."""
    return _body(exc.http_status, exc.message, _CODES.get(type(exc), exc.code),
                 _PARAMS.get(type(exc)))


def _body(status: int, message: str, code: str | None, param: str | None = None
          ) -> ErrorBody:
    return {"message": message, "type": error_type(status), "param": param, "code": code}


def _respond(status: int, error: ErrorBody, headers: dict[str, str] | None = None
             ) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": error}, headers=headers)


async def _qa_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, QAError)
    log_server_error(exc)
    return _respond(exc.http_status, openai_error(exc), exc.headers or None)


def _param(location: tuple[Any, ...]) -> str:
    """`("body", "messages", 0, "content")` as OpenAI writes it: `messages[0].content`."""
    text = ""
    for part in location[1:] if location[:1] == ("body",) else location:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    wheres = [_where(error) for error in errors]
    problems = [f"{where}: {e.get('msg', 'invalid')}" if where else str(e.get("msg", "invalid"))
                for where, e in zip(wheres, errors, strict=True)]
    missing = bool(errors) and errors[0].get("type") == "missing"
    code = "missing_required_parameter" if missing else "invalid_value"
    return _respond(400, _body(400, "; ".join(problems) or "invalid request", code,
                               wheres[0] if wheres and wheres[0] else None))


def _where(error: Any) -> str:
    """The request field an error is about ('' for the body as a whole)."""
    if error.get("type") == "json_invalid":  # its location is a character position
        return ""
    return _param(tuple(error.get("loc", ())))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message, code = str(exc.detail), _HTTP_CODES.get(exc.status_code)
    if exc.status_code == 404:
        message = f"Invalid URL ({request.method} {request.url.path})"
    return _respond(exc.status_code, _body(exc.status_code, message, code),
                    dict(exc.headers or {}) or None)


async def _unexpected(_request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return _respond(500, _body(500, f"internal error ({type(exc).__name__}); see the "
                               "server log", "internal"))


def _by_path(ours: Handler, theirs: Callable[..., Any]) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        if is_openai_path(request.scope):
            return await ours(request, exc)
        response = theirs(request, exc)
        if inspect.isawaitable(response):
            response = await response
        assert isinstance(response, Response)
        return response
    return handle


def install_openai_errors(app: FastAPI) -> None:
    """Give `/v1/` errors OpenAI's shape; call after `install_error_handlers(app)`, whose
    handlers answer every other path."""
    ours: dict[type[Exception], Handler] = {
        QAError: _qa_error, RequestValidationError: _validation_error,
        StarletteHTTPException: _http_error, Exception: _unexpected}
    for kind, handler in ours.items():
        app.add_exception_handler(kind, _by_path(handler, app.exception_handlers[kind]))


async def send_openai_error(send: Send, exc: QAError) -> None:
    """`send_error`'s answer from ASGI middleware, in OpenAI's shape."""
    log_server_error(exc)
    body = json.dumps({"error": openai_error(exc)}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    headers += [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
    await send({"type": "http.response.start", "status": exc.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def error_sender(scope: Scope) -> ErrorSender:
    """How middleware answers an error for this request: OpenAI's shape on `/v1/`."""
    return send_openai_error if is_openai_path(scope) else send_error
