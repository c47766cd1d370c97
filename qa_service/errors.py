"""One exception tree for the whole project; each error knows its HTTP status and code.

    QAError (500, internal)
    ├── InvalidRequest (400, invalid_request)
    │   └── InvalidName (400, invalid_name)
    ├── Unauthorized (401, unauthorized)          no key, or an unknown or revoked key
    ├── Forbidden (403, forbidden)                the key may not do this (read-only, not admin)
    ├── NotFound (404, not_found)
    │   ├── KnowledgeBaseNotFound (404, kb_not_found)
    │   ├── DocumentNotFound (404, document_not_found)
    │   ├── PageNotFound (404, page_not_found)
    │   └── JobNotFound (404, job_not_found)
    ├── AlreadyExists (409, already_exists)
    ├── IndexMismatch (409, index_mismatch)       index built with another model/format
    ├── InvalidRange (422, invalid_range)         character offsets outside a page's text
    ├── PayloadTooLarge (413, too_large)          an upload over a size or count limit
    ├── UnsupportedMediaType (415, unsupported_media_type)
    ├── RateLimited (429, rate_limited)           too many asks or uploads for this key
    ├── ConfigurationError (500, configuration_error)  settings that cannot be served
    ├── StorageError (500, storage_error)         the on-disk index is unreadable
    ├── EmbeddingError (500, embedding_error)     a model could not be loaded or run
    ├── LLMUnavailable (502, llm_unavailable)     the LLM API refused, failed or replied nonsense
    │   └── LLMContextOverflow (502, llm_context_overflow)  the prompt does not fit its context
    └── LLMTimeout (504, llm_timeout)             the LLM API did not answer in QA_LLM_TIMEOUT

Messages say what happened and what to do about it, and never hold a server file-system
path: a `message` is sent to API clients. What only the operator should see (the path of
an unreadable file, the library's own words) goes in `detail`, which the server logs and
the CLI prints, but no client receives. `describe` words any exception the same way. An
error may carry HTTP headers (`WWW-Authenticate` on 401, `Retry-After` on 429). The API
maps these to `{"error": {"code", "message"}}` in one place (`qa_service.api.errors`); the
CLI prints the message (and detail) and exits non-zero.

What to do next can depend on who reads it: an error made with `api_hint` (an HTTP route,
"create it with POST /kbs") and `cli_hint` (a `qa` command, "create it with `qa kb create
x`") ends its `message` (what API clients read) with the first and its `cli_message` (what
the `qa` command prints) with the second. Without hints both are the plain message.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "AlreadyExists",
    "ConfigurationError",
    "DocumentNotFound",
    "EmbeddingError",
    "Forbidden",
    "IndexMismatch",
    "InvalidName",
    "InvalidRange",
    "InvalidRequest",
    "JobNotFound",
    "KnowledgeBaseNotFound",
    "LLMContextOverflow",
    "LLMTimeout",
    "LLMUnavailable",
    "NotFound",
    "PageNotFound",
    "PayloadTooLarge",
    "QAError",
    "RateLimited",
    "StorageError",
    "Unauthorized",
    "UnsupportedMediaType",
    "describe",
]


class QAError(Exception):
    """Base of every error this project raises on purpose."""

    http_status = 500
    code = "internal"

    def __init__(self, message: str, detail: str = "", *, api_hint: str = "",
                 cli_hint: str = "") -> None:
        full = f"{message}; {api_hint}" if api_hint else message
        super().__init__(full)
        self.message = full  # what API clients read
        self.cli_message = f"{message}; {cli_hint}" if cli_hint else message  # what `qa` prints
        self.detail = detail  # for the server log and the CLI only, never sent to a client

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the response must carry (none by default)."""
        return {}


class InvalidRequest(QAError):
    http_status = 400
    code = "invalid_request"


class InvalidName(InvalidRequest):
    code = "invalid_name"


class Unauthorized(QAError):
    http_status = 401
    code = "unauthorized"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(QAError):
    http_status = 403
    code = "forbidden"


class NotFound(QAError):
    http_status = 404
    code = "not_found"


class KnowledgeBaseNotFound(NotFound):
    code = "kb_not_found"

    def __init__(self, name: str, what: str = "") -> None:
        """`what` happened to it (default: it does not exist, and how to create it)."""
        if what:
            super().__init__(f"knowledge base '{name}' {what}")
        else:
            super().__init__(f"knowledge base '{name}' does not exist",
                             api_hint="create it with POST /kbs",
                             cli_hint=f"create it with `qa kb create {name}`")


class DocumentNotFound(NotFound):
    code = "document_not_found"

    def __init__(self, kb: str, doc_id: str) -> None:
        super().__init__(f"knowledge base '{kb}' has no document '{doc_id}'")


class PageNotFound(NotFound):
    code = "page_not_found"


class JobNotFound(NotFound):
    code = "job_not_found"

    def __init__(self, kb: str, job_id: str) -> None:
        super().__init__(f"knowledge base '{kb}' has no job '{job_id}'")


class AlreadyExists(QAError):
    http_status = 409
    code = "already_exists"


class IndexMismatch(QAError):
    http_status = 409
    code = "index_mismatch"


class InvalidRange(QAError):
    http_status = 422
    code = "invalid_range"


class PayloadTooLarge(QAError):
    http_status = 413
    code = "too_large"


class UnsupportedMediaType(QAError):
    http_status = 415
    code = "unsupported_media_type"


class RateLimited(QAError):
    http_status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}


class ConfigurationError(QAError):
    code = "configuration_error"


class StorageError(QAError):
    code = "storage_error"


class EmbeddingError(QAError):
    code = "embedding_error"


class LLMUnavailable(QAError):
    """The LLM API could not be reached, answered an HTTP error, or sent a malformed reply."""

    http_status = 502
    code = "llm_unavailable"


class LLMContextOverflow(LLMUnavailable):
    """The prompt cannot fit the LLM's context (QA_LLM_CONTEXT_TOKENS), or the server
    refused it as too long even with half the passage text."""

    code = "llm_context_overflow"


class LLMTimeout(QAError):
    """The LLM API did not answer (or went silent mid-stream) within QA_LLM_TIMEOUT seconds."""

    http_status = 504
    code = "llm_timeout"


def describe(exc: BaseException, limit: int = 300) -> str:
    """`Type: what happened` (at most `limit` characters of what happened), without the
    file names that OSError and sqlite3 put in their text: safe to show a client (a job's
    reason, a document's, an error message)."""
    if isinstance(exc, QAError):
        return exc.message
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = _ABSOLUTE_PATH.sub("<path>", text)[:limit]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])/(?:[^\s/'\"]+/)+[^\s/'\"]*")
