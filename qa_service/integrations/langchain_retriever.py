"""A LangChain retriever over a running QA service: `POST /kbs/{kb}/search`, nothing more.

    from qa_service.integrations.langchain_retriever import QARetriever

    with QARetriever(base_url="http://127.0.0.1:8000", api_key="qa_...",
                     knowledge_base="handbook", k=4) as retriever:
        documents = retriever.invoke("How many vacation days do I get?")
        documents[0].metadata["source"]  # 'handbook.pdf#page=12'

It needs the optional extra `pip install 'qa-service[langchain]'` (langchain-core, httpx);
no other module of `qa_service` imports this one. It loads no model and opens no index: the
service does the retrieval, with the knowledge bases and access rules of the key it is given.

Each passage becomes a `Document` whose `page_content` is the passage's text and whose
`metadata` holds `document_id`, `filename`, `page` (1-based), `char_start` and `char_end`
(offsets in that page's text), `score`, `chunk_id`, `knowledge_base` and `source`
(`filename#page=N`, the PDF fragment that viewers open at that page).

Connections: synchronous calls (`invoke`, `batch`) share one pooled `httpx.Client`, opened
at the first call; `close()`, or leaving `with QARetriever(...)`, closes it (a later call
opens a new one), and so does garbage collection of an unclosed retriever. Asynchronous
calls (`ainvoke`, `abatch`) open an `httpx.AsyncClient` per call and close it before
returning: an async client belongs to the event loop it first ran on, so one kept across
`asyncio.run` calls would fail or leak its sockets. Both kinds share one SSL context, built
at the first call.

Errors are the project's (`qa_service.errors`), so `except QAError` catches them all:

- the API's `{"error": {"code", "message"}}` becomes the exception with that code
  (`Unauthorized` for a missing, wrong or revoked key, `Forbidden`, `InvalidRequest`,
  `IndexMismatch`, `RateLimited`, ...); a knowledge base the key may not see, or that does
  not exist (the service does not tell them apart), is `KnowledgeBaseNotFound`; a code this
  module does not know is classed by its HTTP status (400 and 422 `InvalidRequest`, 401
  `Unauthorized`, 403 `Forbidden`, 404 `NotFound`);
- a service that cannot be reached, does not answer within `timeout`, fails with another
  5xx, or answers with something other than search results is `QAServiceUnavailable`,
  whose message names the base URL.
"""

from __future__ import annotations

import ssl
import threading
import weakref
from collections.abc import Callable
from typing import Any, Self
from urllib.parse import quote

from pydantic import BaseModel, Field, PrivateAttr, SecretStr, ValidationError, field_validator

from qa_service import __version__
from qa_service.errors import (
    AlreadyExists,
    ConfigurationError,
    EmbeddingError,
    Forbidden,
    IndexMismatch,
    InvalidName,
    InvalidRange,
    InvalidRequest,
    KnowledgeBaseNotFound,
    NotFound,
    PayloadTooLarge,
    QAError,
    RateLimited,
    StorageError,
    Unauthorized,
    UnsupportedMediaType,
)

INSTALL_HINT = "pip install 'qa-service[langchain]'"

try:
    import httpx
    from langchain_core.callbacks import (
        AsyncCallbackManagerForRetrieverRun,
        CallbackManagerForRetrieverRun,
    )
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
except ImportError as missing:
    raise ImportError(
        f"QARetriever needs langchain-core and httpx ({missing}): install them with "
        f"{INSTALL_HINT}", name=missing.name) from missing

__all__ = ["INSTALL_HINT", "QARetriever", "QAServiceUnavailable"]


class QAServiceUnavailable(QAError):
    """The QA service could not be reached, did not answer in time, failed (HTTP 5xx), or
    answered with something other than search results.

    A client-side condition that no class of `qa_service.errors` names (they are what the
    service itself raises), so it derives from `QAError` directly."""

    http_status = 502  # as for LLMUnavailable: the API this client calls failed it
    code = "service_unavailable"


# The service's error codes whose class takes a plain message: raised here as they were there.
_BY_CODE: dict[str, type[QAError]] = {cls.code: cls for cls in (
    InvalidRequest, InvalidName, Unauthorized, Forbidden, NotFound, AlreadyExists,
    IndexMismatch, InvalidRange, PayloadTooLarge, UnsupportedMediaType, ConfigurationError,
    StorageError, EmbeddingError)}
# Any other code (FastAPI's validation_error, a 404 of another route, ...), by HTTP status.
_BY_STATUS: dict[int, type[QAError]] = {400: InvalidRequest, 401: Unauthorized, 403: Forbidden,
                                        404: NotFound, 422: InvalidRequest}


class _Passage(BaseModel):
    """One passage of a search response (the service's `PassageOut`, as a client reads it)."""

    chunk_id: int
    document_id: str
    filename: str
    page: int
    char_start: int
    char_end: int
    text: str
    score: float


class _SearchReply(BaseModel):
    passages: list[_Passage]


def _error_fields(response: httpx.Response) -> tuple[str, str]:
    """The `(code, message)` of an error response; ('', a description) without that body."""
    try:
        error = response.json()["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return "", (f"HTTP {response.status_code} {response.reason_phrase} without an error "
                    "message: is base_url the QA service's address?")


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(1.0, float(response.headers.get("retry-after", "1")))
    except ValueError:
        return 1.0


class QARetriever(BaseRetriever):
    """Passages of one knowledge base of a QA service, as LangChain `Document`s.

    `api_key` is a `SecretStr`: it never appears in the retriever's repr or in an error."""

    base_url: str = Field(description="The service's root URL, e.g. http://127.0.0.1:8000")
    api_key: SecretStr = Field(description="The admin key or a key from POST /keys that may "
                               "read `knowledge_base`")
    knowledge_base: str = Field(min_length=1, description="The knowledge base to search")
    k: int = Field(default=5, ge=1, description="How many passages to return (the service "
                   "allows at most QA_RETRIEVAL__MAX_K, default 100)")
    document_ids: list[str] | None = Field(
        default=None, description="Search only these documents (their `document_id`s)")
    timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for the service")

    _lock: threading.RLock = PrivateAttr(default_factory=threading.RLock)
    _ssl: ssl.SSLContext | None = PrivateAttr(default=None)
    _client: httpx.Client | None = PrivateAttr(default=None)
    _close_client: Callable[[], object] | None = PrivateAttr(default=None)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, e.g. "
                             f"http://127.0.0.1:8000 (got {value!r})")
        return url

    def close(self) -> None:
        """Close the connections of synchronous calls (a later call opens new ones)."""
        with self._lock:
            close, self._close_client, self._client = self._close_client, None, None
        if close is not None:
            close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def _get_relevant_documents(self, query: str, *,
                                run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        try:
            response = self._sync_client().post(self._search_url(), **self._request(query))
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        return self._documents(response)

    async def _aget_relevant_documents(
            self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        async with httpx.AsyncClient(verify=self._ssl_context()) as client:
            try:
                response = await client.post(self._search_url(), **self._request(query))
            except httpx.TransportError as exc:
                raise self._unreachable(exc) from exc
        return self._documents(response)

    def _ssl_context(self) -> ssl.SSLContext:
        with self._lock:
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context()
            return self._ssl

    def _sync_client(self) -> httpx.Client:
        """The pooled client of synchronous calls, opened at the first (thread-safe)."""
        with self._lock:
            if self._client is None or self._client.is_closed:
                client = httpx.Client(verify=self._ssl_context())
                self._client, self._close_client = client, weakref.finalize(self, client.close)
            return self._client

    def _search_url(self) -> str:
        return f"{self.base_url}/kbs/{quote(self.knowledge_base, safe='')}/search"

    def _request(self, query: str) -> dict[str, Any]:
        body: dict[str, Any] = {"query": query, "k": self.k}
        if self.document_ids is not None:
            body["document_ids"] = list(self.document_ids)
        headers = {"Authorization": f"Bearer {self.api_key.get_secret_value()}",
                   "User-Agent": f"qa-service-langchain/{__version__}"}
        return {"json": body, "headers": headers, "timeout": self.timeout}

    def _documents(self, response: httpx.Response) -> list[Document]:
        if not response.is_success:
            raise self._refused(response)
        try:
            reply = _SearchReply.model_validate_json(response.content)
        except ValidationError as exc:
            raise QAServiceUnavailable(
                f"the QA service at {self.base_url} answered HTTP {response.status_code} with "
                "something other than search results: is base_url the service's address?",
                detail=str(exc)[:500]) from exc
        return [self._document(passage) for passage in reply.passages]

    def _document(self, passage: _Passage) -> Document:
        metadata: dict[str, Any] = passage.model_dump(exclude={"text"})
        metadata["knowledge_base"] = self.knowledge_base
        metadata["source"] = f"{passage.filename}#page={passage.page}"
        return Document(page_content=passage.text, metadata=metadata)

    def _refused(self, response: httpx.Response) -> QAError:
        """The exception for an error response: the service's class, with where it came from."""
        code, message = _error_fields(response)
        status = response.status_code
        if code == KnowledgeBaseNotFound.code:
            return KnowledgeBaseNotFound(
                self.knowledge_base, f"was not found at {self.base_url}, or this API key may "
                "not use it: check the name, or use a key made for it (POST /keys)")
        text = f"the QA service at {self.base_url} answered: {message}"
        if status == RateLimited.http_status:
            return RateLimited(text, _retry_after(response))
        cls = _BY_CODE.get(code) or _BY_STATUS.get(status) or QAServiceUnavailable
        return cls(text, detail=f"HTTP {status} {code or '(no code)'} from POST {response.url}")

    def _unreachable(self, exc: httpx.TransportError) -> QAServiceUnavailable:
        if isinstance(exc, httpx.TimeoutException):
            return QAServiceUnavailable(
                f"the QA service at {self.base_url} did not answer within {self.timeout:g} s: "
                "check that it is running, or raise `timeout`", detail=repr(exc))
        return QAServiceUnavailable(
            f"cannot reach the QA service at {self.base_url} ({type(exc).__name__}: {exc}): "
            "check base_url and that `qa serve` is running there", detail=repr(exc))
