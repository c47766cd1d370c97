"""The official `openai` client against a real `qa serve`: knowledge bases are models,
completions keep their `[n]` markers with OpenAI's `url_citation` annotations and our
`references`, streams spell the same content, and a key reaches only its knowledge bases."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from tests.api.aurora import AURORA, QUESTION, SECRET
from tests.api.helpers import ADMIN_KEY, page_text_url, viewer_link, wait_for_job
from tests.live_server import ADMIN, qa_serve
from tests.pdfs import text_pdf

pytestmark = pytest.mark.slow


@dataclass
class Server:
    url: str
    reader: str  # a read key for `handbook` only


def _ingest(url: str, kb: str, pages: list[str]) -> None:
    assert httpx.post(f"{url}/kbs", json={"name": kb}, headers=ADMIN).status_code == 201
    with httpx.Client(base_url=url, headers=ADMIN, timeout=60) as admin:
        job = admin.post(f"/kbs/{kb}/documents",
                         files=[("files", (f"{kb}.pdf", text_pdf(pages), "application/pdf"))])
        state = wait_for_job(admin, kb, job.json()["job_id"])
    assert state["files"][0]["status"] == "indexed", state


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("openai-serve")
    with qa_serve(root / "data", root / "server.log") as (url, _process):
        _ingest(url, "handbook", AURORA)
        _ingest(url, "secret", [SECRET])
        key = httpx.post(f"{url}/keys", json={"kbs": ["handbook"]}, headers=ADMIN).json()
        yield Server(url, key["key"])
    log = (root / "server.log").read_text("utf-8", "replace")
    assert "Traceback" not in log, log


def client(server: Server, key: str = ADMIN_KEY) -> OpenAI:
    return OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=60)


def ask(api: OpenAI, model: str = "kb:handbook", **options: Any) -> Any:
    return api.chat.completions.create(
        model=model, messages=[{"role": "system", "content": "Be concise."},
                               {"role": "user", "content": QUESTION}], **options)


def test_models_and_a_completion_with_citations(server: Server) -> None:
    api = client(server)
    assert [m.id for m in api.models.list()] == ["kb:handbook", "kb:secret"]
    assert api.models.retrieve("kb:handbook").owned_by == "qa-service"
    completion = ask(api, temperature=0.3, max_tokens=200, user="tester", seed=1,
                     extra_body={"mode": "extractive", "k": 3})
    message = completion.choices[0].message
    assert completion.model == "kb:handbook" and completion.choices[0].finish_reason == "stop"
    assert message.role == "assistant" and "1987" in (message.content or "")
    content = message.content or ""
    assert "[1]" in content and message.annotations
    references = message.model_extra["references"]
    assert getattr(message, "references") == references  # noqa: B009 - an extra field
    assert len(message.annotations) == len(references)
    for annotation, reference in zip(message.annotations, references, strict=True):
        cited = annotation.url_citation
        assert annotation.type == "url_citation"
        assert content[cited.start_index:cited.end_index] == f"[{reference['number']}]"
        assert cited.title == f"handbook.pdf, page {reference['page']}"
        assert cited.url == viewer_link(f"{server.url}/", "handbook", reference)
        page = httpx.get(page_text_url(cited.url), headers=ADMIN)
        assert page.status_code == 200, page.text
        assert page.json()["text"][reference["char_start"]:reference["char_end"]] == \
            reference["quote"]
    assert httpx.get(page_text_url(message.annotations[0].url_citation.url)).status_code == 401
    assert completion.usage is not None and completion.usage.total_tokens > 0


def test_a_stream_spells_the_same_content_and_keeps_the_citations(server: Server) -> None:
    api = client(server)
    plain = ask(api, extra_body={"mode": "extractive", "k": 3}).choices[0].message
    chunks = list(ask(api, stream=True, stream_options={"include_usage": True},
                      extra_body={"mode": "extractive", "k": 3}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.content
    (last,) = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    delta = last.choices[0].delta
    annotations = delta.model_extra["annotations"]
    assert [a["url_citation"]["start_index"] for a in annotations] == [
        a.url_citation.start_index for a in plain.annotations or []]
    assert delta.model_extra["references"] == plain.model_extra["references"]
    assert chunks[-1].usage is not None and chunks[-1].choices == []


def test_a_key_reaches_only_its_knowledge_bases(server: Server) -> None:
    reader = client(server, server.reader)
    assert [m.id for m in reader.models.list()] == ["kb:handbook"]
    assert "1987" in (ask(reader).choices[0].message.content or "")
    for model in ("kb:secret", "kb:ghost"):
        with pytest.raises(openai.NotFoundError) as caught:
            ask(reader, model)
        assert caught.value.code == "model_not_found"
        with pytest.raises(openai.NotFoundError):
            list(ask(reader, model, stream=True))
        with pytest.raises(openai.NotFoundError):
            reader.models.retrieve(model)
    with pytest.raises(openai.AuthenticationError) as refused:
        client(server, "qa_000000000000_not-a-real-key").models.list()
    assert refused.value.code == "invalid_api_key"
    with pytest.raises(openai.BadRequestError):
        ask(reader, n=2)
