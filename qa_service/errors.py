"""One exception tree for the whole project; each error knows its HTTP status and code.

    QAError (500, internal)
    ├── InvalidRequest (400, invalid_request)
    │   └── InvalidName (400, invalid_name)
    ├── NotFound (404, not_found)
    │   ├── KnowledgeBaseNotFound (404, kb_not_found)
    │   ├── DocumentNotFound (404, document_not_found)
    │   ├── PageNotFound (404, page_not_found)
    │   └── JobNotFound (404, job_not_found)
    ├── AlreadyExists (409, already_exists)
    ├── IndexMismatch (409, index_mismatch)       index built with another model/format
    ├── UnsupportedMediaType (415, unsupported_media_type)
    ├── StorageError (500, storage_error)         the on-disk index is unreadable
    ├── EmbeddingError (500, embedding_error)     a model could not be loaded or run
    ├── LLMUnavailable (502, llm_unavailable)     the LLM API refused, failed or replied nonsense
    └── LLMTimeout (504, llm_timeout)             the LLM API did not answer in QA_LLM_TIMEOUT

Messages say what happened and what to do about it. The API maps these to
`{"error": {"code", "message"}}` in one place (`qa_service.api.errors`); the CLI prints
the message and exits non-zero.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "DocumentNotFound",
    "EmbeddingError",
    "IndexMismatch",
    "InvalidName",
    "InvalidRequest",
    "JobNotFound",
    "KnowledgeBaseNotFound",
    "LLMTimeout",
    "LLMUnavailable",
    "NotFound",
    "PageNotFound",
    "QAError",
    "StorageError",
    "UnsupportedMediaType",
]


class QAError(Exception):
    """Base of every error this project raises on purpose."""

    http_status = 500
    code = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(QAError):
    http_status = 400
    code = "invalid_request"


class InvalidName(InvalidRequest):
    code = "invalid_name"


class NotFound(QAError):
    http_status = 404
    code = "not_found"


class KnowledgeBaseNotFound(NotFound):
    code = "kb_not_found"

    def __init__(self, name: str) -> None:
        super().__init__(f"knowledge base '{name}' does not exist; create it with POST /kbs")


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


class UnsupportedMediaType(QAError):
    http_status = 415
    code = "unsupported_media_type"


class StorageError(QAError):
    code = "storage_error"


class EmbeddingError(QAError):
    code = "embedding_error"


class LLMUnavailable(QAError):
    """The LLM API could not be reached, answered an HTTP error, or sent a malformed reply."""

    http_status = 502
    code = "llm_unavailable"


class LLMTimeout(QAError):
    """The LLM API did not answer (or went silent mid-stream) within QA_LLM_TIMEOUT seconds."""

    http_status = 504
    code = "llm_timeout"
