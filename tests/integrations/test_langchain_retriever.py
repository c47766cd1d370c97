"""`QARetriever`, the LangChain retriever, against a real `qa serve` with real langchain-core:
documents with the passages' metadata, sync and async, filters, errors as the project's
exceptions, use in an LCEL chain; and the extra stays optional (nothing else imports it)."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import importlib
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.language_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from pydantic import ValidationError

from qa_service.errors import (
    IndexMismatch,
    InvalidName,
    InvalidRequest,
    KnowledgeBaseNotFound,
    NotFound,
    QAError,
    RateLimited,
    StorageError,
    Unauthorized,
)
from qa_service.integrations.langchain_retriever import (
    INSTALL_HINT,
    QARetriever,
    QAServiceUnavailable,
)
from tests.api.helpers import wait_for_job
from tests.live_server import ADMIN, qa_serve
from tests.pdfs import text_pdf
from tests.test_layering import imported

ROOT = Path(__file__).resolve().parents[2]
MODULE = "qa_service.integrations.langchain_retriever"
KB = "handbook"
HANDBOOK = text_pdf([
    "The employee handbook of Northwind Traders: how the company works and whom to ask.",
    "Annual leave: every employee receives 25 vacation days per year. Unused vacation days "
    "carry over until the end of March.",
    "Travel expenses must be reported within 30 days, with the receipts attached.",
])
SECURITY = text_pdf([
    "Passwords must be rotated every 90 days and be at least 14 characters long.",
    "A lost laptop must be reported to the security desk within one hour; every laptop uses "
    "full-disk encryption.",
])
CAFETERIA = text_pdf(["The cafeteria serves lunch from 11:30 to 14:00 on weekdays."])
FILES = {"handbook.pdf": HANDBOOK, "security.pdf": SECURITY, "cafeteria.pdf": CAFETERIA}
VACATION = "How many vacation days does an employee receive per year?"
LAPTOP = "Whom do I tell when my laptop is lost?"
LUNCH = "When does the cafeteria serve lunch?"
PASSAGE_FIELDS = ("chunk_id", "document_id", "filename", "page", "char_start", "char_end",
                  "score")
METADATA = {*PASSAGE_FIELDS, "knowledge_base", "source"}


def doc_id(filename: str) -> str:
    return hashlib.sha256(FILES[filename]).hexdigest()


# ---------------------------------------------------------------- without a server


@pytest.fixture
def refused() -> Iterator[str]:
    """A base URL whose port is bound but not listening: connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_the_key_never_shows_in_the_repr() -> None:
    retriever = QARetriever(base_url="http://127.0.0.1:8000/", api_key="qa_secret-value-123",
                            knowledge_base=KB)
    assert "secret-value" not in repr(retriever) and "secret-value" not in str(retriever)
    assert retriever.base_url == "http://127.0.0.1:8000"  # the trailing slash is dropped
    assert (retriever.k, retriever.document_ids, retriever.timeout) == (5, None, 30.0)
    with pytest.raises(ValidationError, match="base_url must start with http:// or https://"):
        QARetriever(base_url="localhost:8000", api_key="k", knowledge_base=KB)


@pytest.mark.parametrize("fields", [{"base_url": "127.0.0.1:8000"}, {"k": 0},
                                    {"knowledge_base": ""}, {"timeout": 0}])
def test_invalid_settings_are_refused_when_built(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as error:
        QARetriever(**{"base_url": "http://127.0.0.1:8000", "api_key": "k",
                       "knowledge_base": KB, **fields})
    assert [e["loc"] for e in error.value.errors()] == [tuple(fields)]


def test_an_unreachable_service_is_a_clear_error_naming_its_url(refused: str) -> None:
    with QARetriever(base_url=refused, api_key="k", knowledge_base=KB) as retriever:
        with pytest.raises(QAServiceUnavailable, match="cannot reach the QA service at "
                           + refused) as sync_error:
            retriever.invoke(VACATION)
        with pytest.raises(QAServiceUnavailable, match=refused):
            asyncio.run(retriever.ainvoke(VACATION))
    assert isinstance(sync_error.value, QAError) and "ConnectError" in str(sync_error.value)


def test_a_service_that_never_answers_times_out_with_a_clear_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # connections complete in the backlog; nothing ever answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with QARetriever(base_url=url, api_key="k", knowledge_base=KB,
                         timeout=0.3) as retriever, \
                pytest.raises(QAServiceUnavailable, match=f"at {url} did not answer within "
                              r"0\.3 s"):
            retriever.invoke(VACATION)


def api_error(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


# What a scripted server answers a search of each knowledge base: status, headers, body.
SCRIPT: dict[str, tuple[int, dict[str, str], bytes]] = {
    "page": (200, {"Content-Type": "text/html"}, b"<html>not the QA service</html>"),
    "proxy": (502, {"Content-Type": "text/html"}, b"<html>Bad Gateway</html>"),
    "renamed": (400, {}, api_error("invalid_name", "invalid knowledge base name")),
    "validation": (422, {}, api_error("validation_error", "query: too short")),
    "mismatch": (409, {}, api_error("index_mismatch", "built with another model")),
    "busy": (429, {"Retry-After": "7"}, api_error("rate_limited", "too many requests")),
    "broken": (500, {}, api_error("storage_error", "the index is unreadable")),
    "bug": (500, {}, api_error("internal", "internal error (KeyError); see the server log")),
}


class ScriptedService(BaseHTTPRequestHandler):
    """Not the QA service: answers each search as SCRIPT says."""

    def do_POST(self) -> None:
        status, headers, body = SCRIPT[self.path.split("/")[2]]
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def scripted() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedService)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(("kb", "error", "message"), [
    ("page", QAServiceUnavailable, "at {url} answered HTTP 200 with something other than "
     "search results: is base_url the service's address?"),
    ("proxy", QAServiceUnavailable, "at {url} answered: HTTP 502 Bad Gateway without an "
     "error message: is base_url the QA service's address?"),
    ("renamed", InvalidName, "at {url} answered: invalid knowledge base name"),
    ("validation", InvalidRequest, "at {url} answered: query: too short"),
    ("mismatch", IndexMismatch, "at {url} answered: built with another model"),
    ("busy", RateLimited, "at {url} answered: too many requests"),
    ("broken", StorageError, "at {url} answered: the index is unreadable"),
    ("bug", QAServiceUnavailable, "at {url} answered: internal error (KeyError); see the "
     "server log"),
])
def test_each_error_answer_becomes_the_project_s_exception(
        scripted: str, kb: str, error: type[QAError], message: str) -> None:
    with QARetriever(base_url=scripted, api_key="k", knowledge_base=kb) as retriever:
        with pytest.raises(QAError) as raised:
            retriever.invoke(VACATION)
        with pytest.raises(error):
            asyncio.run(retriever.ainvoke(VACATION))
    assert type(raised.value) is error
    assert str(raised.value) == "the QA service " + message.format(url=scripted)
    if isinstance(raised.value, RateLimited):
        assert raised.value.retry_after == 7


def test_an_unclosed_retriever_closes_its_connections_when_collected() -> None:
    retriever = QARetriever(base_url="http://127.0.0.1:8000", api_key="k", knowledge_base=KB)
    client = retriever._sync_client()
    assert retriever._sync_client() is client  # one client, kept
    del retriever
    gc.collect()
    assert client.is_closed


def test_close_closes_the_client_and_a_later_call_opens_another() -> None:
    retriever = QARetriever(base_url="http://127.0.0.1:8000", api_key="k", knowledge_base=KB)
    first = retriever._sync_client()
    retriever.close()
    assert first.is_closed
    second = retriever._sync_client()
    assert second is not first and not second.is_closed
    retriever.close()
    retriever.close()  # twice is harmless
    assert second.is_closed


def test_without_langchain_core_the_import_says_how_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n.split(".")[0] == "langchain_core"]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "langchain_core", None)  # "not installed"
    monkeypatch.delitem(sys.modules, MODULE)
    with pytest.raises(ImportError) as error:
        importlib.import_module(MODULE)
    assert INSTALL_HINT == "pip install 'qa-service[langchain]'"
    assert INSTALL_HINT in str(error.value)
    assert (error.value.name or "").split(".")[0] == "langchain_core"
    assert MODULE not in sys.modules  # a later import (with the package) can still succeed


def test_importing_the_service_never_imports_langchain() -> None:
    code = ("import sys, qa_service, qa_service.api.app, qa_service.cli, "
            "qa_service.integrations; print(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('langchain', 'langchain_core', 'langsmith')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("path", sorted((ROOT / "qa_service").rglob("*.py")),
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_only_the_retriever_module_imports_langchain(path: Path) -> None:
    if path.relative_to(ROOT).as_posix() == "qa_service/integrations/langchain_retriever.py":
        return
    assert not {n for n in imported(path) if n.split(".")[0] in ("langchain", "langchain_core")}


# ---------------------------------------------------------------- against `qa serve`


@dataclass(frozen=True)
class Service:
    url: str
    read_key: str  # a read key for KB
    other_key: str  # a read key for the knowledge base "other" only


def make_key(admin: httpx.Client, kb: str) -> str:
    response = admin.post("/keys", json={"kbs": [kb], "scope": "read"})
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    root = tmp_path_factory.mktemp("langchain")
    with qa_serve(root / "data", root / "server.log") as (url, _process), \
            httpx.Client(base_url=url, headers=ADMIN, timeout=60) as admin:
        for name in (KB, "other"):
            assert admin.post("/kbs", json={"name": name}).status_code == 201
        response = admin.post(f"/kbs/{KB}/documents", files=[
            ("files", (name, data, "application/pdf")) for name, data in FILES.items()])
        assert response.status_code == 202, response.text
        job = wait_for_job(admin, KB, response.json()["job_id"])
        assert job["state"] == "done", job
        assert [f["status"] for f in job["files"]] == ["indexed"] * 3, job
        yield Service(url, make_key(admin, KB), make_key(admin, "other"))


@pytest.fixture
def retriever(service: Service) -> Iterator[QARetriever]:
    with QARetriever(base_url=service.url, api_key=service.read_key,
                     knowledge_base=KB) as made:
        yield made


def page_text(service: Service, document_id: str, page: int) -> str:
    response = httpx.get(f"{service.url}/kbs/{KB}/documents/{document_id}/pages/{page}",
                         headers=ADMIN, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["text"])


def as_pairs(documents: list[Document]) -> list[tuple[str, dict[str, Any]]]:
    return [(d.page_content, d.metadata) for d in documents]


@pytest.mark.slow
def test_invoke_returns_the_right_page_first_with_its_metadata(
        service: Service, retriever: QARetriever) -> None:
    documents = retriever.invoke(VACATION)
    assert len(documents) == 5
    first = documents[0]
    assert "25 vacation days" in first.page_content
    assert set(first.metadata) == METADATA
    assert {k: first.metadata[k] for k in ("document_id", "filename", "page", "knowledge_base",
                                           "source")} == {
        "document_id": doc_id("handbook.pdf"), "filename": "handbook.pdf", "page": 2,
        "knowledge_base": KB, "source": "handbook.pdf#page=2"}
    start, end = first.metadata["char_start"], first.metadata["char_end"]
    assert page_text(service, doc_id("handbook.pdf"), 2)[start:end] == first.page_content
    scores = [d.metadata["score"] for d in documents]
    assert all(isinstance(s, float) for s in scores) and scores == sorted(scores, reverse=True)
    # exactly the API's passages, in its order
    raw = httpx.post(f"{service.url}/kbs/{KB}/search", json={"query": VACATION, "k": 5},
                     headers={"Authorization": f"Bearer {service.read_key}"}, timeout=30)
    assert [(d.page_content, {k: d.metadata[k] for k in PASSAGE_FIELDS}) for d in documents
            ] == [(p["text"], {k: p[k] for k in PASSAGE_FIELDS}) for p in raw.json()["passages"]]


@pytest.mark.slow
def test_ainvoke_and_abatch_return_what_invoke_does(retriever: QARetriever) -> None:
    expected = as_pairs(retriever.invoke(VACATION))
    assert as_pairs(asyncio.run(retriever.ainvoke(VACATION))) == expected
    # a second event loop: the async path keeps no client bound to the first one
    batches = asyncio.run(retriever.abatch([VACATION, LAPTOP]))
    assert as_pairs(batches[0]) == expected
    assert batches[1][0].metadata["source"] == "security.pdf#page=2"


@pytest.mark.slow
def test_batch_shares_the_client_across_threads(retriever: QARetriever) -> None:
    results = retriever.batch([VACATION, LAPTOP, LUNCH] * 2)
    assert [r[0].metadata["source"] for r in results] == [
        "handbook.pdf#page=2", "security.pdf#page=2", "cafeteria.pdf#page=1"] * 2


@pytest.mark.slow
@pytest.mark.parametrize("k", [1, 3])
def test_k_is_how_many_documents_come_back(service: Service, k: int) -> None:
    with QARetriever(base_url=service.url, api_key=service.read_key, knowledge_base=KB,
                     k=k) as retriever:
        documents = retriever.invoke(VACATION)
    assert len(documents) == k
    assert documents[0].metadata["source"] == "handbook.pdf#page=2"


@pytest.mark.slow
def test_document_ids_restrict_the_search(service: Service) -> None:
    only = [doc_id("security.pdf"), doc_id("cafeteria.pdf")]
    with QARetriever(base_url=service.url, api_key=service.read_key, knowledge_base=KB,
                     document_ids=only, k=10) as retriever:
        documents = retriever.invoke(VACATION)
        asynchronous = asyncio.run(retriever.ainvoke(VACATION))
    assert {d.metadata["filename"] for d in documents} == {"security.pdf", "cafeteria.pdf"}
    assert len(documents) == 3  # all the pages of the two documents, none of the handbook
    assert as_pairs(asynchronous) == as_pairs(documents)


@pytest.mark.slow
def test_an_unknown_document_id_is_not_found(service: Service) -> None:
    with QARetriever(base_url=service.url, api_key=service.read_key, knowledge_base=KB,
                     document_ids=["f" * 64]) as retriever, \
            pytest.raises(NotFound, match=f"knowledge base '{KB}' has no document 'f+'"):
        retriever.invoke(VACATION)


@pytest.mark.slow
def test_a_key_for_another_knowledge_base_gets_not_found(service: Service) -> None:
    with QARetriever(base_url=service.url, api_key=service.other_key,
                     knowledge_base=KB) as retriever:
        with pytest.raises(KnowledgeBaseNotFound) as error:
            retriever.invoke(VACATION)
        with pytest.raises(KnowledgeBaseNotFound):
            asyncio.run(retriever.ainvoke(VACATION))
    assert error.value.code == "kb_not_found"
    assert str(error.value) == (
        f"knowledge base '{KB}' was not found at {service.url}, or this API key may not use "
        "it: check the name, or use a key made for it (POST /keys)")


@pytest.mark.slow
def test_a_wrong_key_is_unauthorized_and_never_shown(service: Service) -> None:
    wrong = service.read_key[:-4] + "xxxx"
    with QARetriever(base_url=service.url, api_key=wrong, knowledge_base=KB) as retriever:
        with pytest.raises(Unauthorized, match=f"the QA service at {service.url} answered: "
                           "the key is not valid") as error:
            retriever.invoke(VACATION)
        with pytest.raises(Unauthorized):
            asyncio.run(retriever.ainvoke(VACATION))
    assert wrong not in str(error.value) and wrong not in error.value.detail


@pytest.mark.slow
def test_a_k_over_the_service_s_limit_is_an_invalid_request(service: Service) -> None:
    with QARetriever(base_url=service.url, api_key=service.read_key, knowledge_base=KB,
                     k=1000) as retriever, \
            pytest.raises(InvalidRequest, match="k must be between 1 and 100"):
        retriever.invoke(VACATION)


class PromptCapture(BaseCallbackHandler):
    """Keeps the messages that reached a chat model."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[Any]],
                            **kwargs: Any) -> None:
        self.messages.extend(str(m.content) for batch in messages for m in batch)


def format_documents(documents: list[Document]) -> str:
    return "\n\n".join(f"[{d.metadata['source']}] {d.page_content}" for d in documents)


@pytest.mark.slow
def test_in_an_lcel_chain_the_passages_reach_the_model(retriever: QARetriever) -> None:
    prompt = ChatPromptTemplate.from_messages([
        ("system", "Answer from these passages only:\n\n{context}"), ("human", "{question}")])
    model = FakeListChatModel(responses=["25 days [handbook.pdf#page=2]."] * 2)
    chain = ({"context": retriever | RunnableLambda(format_documents),
              "question": RunnablePassthrough()} | prompt | model | StrOutputParser())
    capture = PromptCapture()
    assert chain.invoke(VACATION, config={"callbacks": [capture]}) == (
        "25 days [handbook.pdf#page=2].")
    system, human = capture.messages
    assert system.startswith("Answer from these passages only:\n\n[handbook.pdf#page=2] "
                             "Annual leave: every employee receives 25 vacation days")
    assert human == VACATION
    again = PromptCapture()
    assert asyncio.run(chain.ainvoke(VACATION, config={"callbacks": [again]})) == (
        "25 days [handbook.pdf#page=2].")
    assert again.messages == capture.messages
