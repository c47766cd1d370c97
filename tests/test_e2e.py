"""End to end: render multi-page English and Korean PDFs, upload them through the API with
the real default model, and ask a question whose answer sits on page 3 of each; on each
index engine (the default FAISS and FTS5, and Milvus Lite: `QA_INDEX=milvus`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa_service.embedding import Embedder
from tests.api.helpers import create_kb, ingest, running_app, search
from tests.pdfs import extract_pages, render_pages_article

pytestmark = pytest.mark.slow

FACT_PAGE = 3
ENGLISH_FILLER = [
    "The city council met on Tuesday to discuss the new budget for public parks and libraries.",
    "Farmers in the valley reported a good harvest of wheat and barley this autumn.",
    "The football match was delayed by an hour because of heavy rain.",
    "Local bakeries now open at six in the morning to serve commuters.",
    "Engineers are testing a new bridge design that uses less steel.",
    "The museum extended its opening hours during the summer holidays.",
    "Students prepared for their final exams in the quiet reading rooms.",
    "A new bus route connects the university with the central station.",
]
KOREAN_FILLER = [
    "시의회는 화요일에 공원과 도서관 예산을 논의했다.",
    "계곡의 농부들은 올가을 밀과 보리를 많이 수확했다.",
    "축구 경기는 폭우 때문에 한 시간 늦게 시작되었다.",
    "동네 빵집들은 이제 아침 여섯 시에 문을 연다.",
    "기술자들은 강철을 덜 쓰는 새로운 다리 설계를 시험하고 있다.",
    "박물관은 여름 방학 동안 관람 시간을 늘렸다.",
    "학생들은 조용한 열람실에서 기말고사를 준비했다.",
    "새 버스 노선이 대학교와 중앙역을 잇는다.",
]
ENGLISH_FACT = ("The Kestrel Point lighthouse was painted bright purple in 1987 by the "
                "sculptor Miriam Okonkwo.")
KOREAN_FACT = "한빛섬 등대는 1987년에 조각가 김민서가 보라색으로 칠했다."


def _filler(sentences: list[str], paragraphs: int) -> list[str]:
    return [" ".join(sentences[(i + j) % len(sentences)] for j in range(5))
            for i in range(paragraphs)]


def _render(path: Path, title: str, filler: list[str], before: int, fact: str) -> bytes:
    data = render_pages_article(path, title, [*_filler(filler, before), fact,
                                              *_filler(filler, 8)])
    pages = [" ".join(text.split()) for text in extract_pages(data)]
    assert len(pages) > FACT_PAGE
    assert [n for n, text in enumerate(pages, start=1) if fact in text] == [FACT_PAGE], \
        "the fixture no longer puts its fact on page 3: adjust the filler"
    return data


@dataclass
class Library:
    client: TestClient
    job: dict[str, Any]


@pytest.fixture(scope="module", params=["faiss", "milvus"])
def library(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
            embedder: Embedder, shared_models: None) -> Iterator[Library]:
    folder = tmp_path_factory.mktemp("e2e")
    english = _render(folder / "en.pdf", "Annual report of the harbour town",
                      ENGLISH_FILLER, 24, ENGLISH_FACT)
    korean = _render(folder / "ko.pdf", "항구 도시 연례 보고서", KOREAN_FILLER, 30, KOREAN_FACT)
    with running_app(folder / "data", embedder, index=request.param) as client:
        create_kb(client, "reports")
        job = ingest(client, "reports", [("harbour-report.pdf", english),
                                         ("항구-보고서.pdf", korean)])
        yield Library(client, job)


def test_both_documents_are_indexed(library: Library) -> None:
    assert [(f["filename"], f["status"]) for f in library.job["files"]] == [
        ("harbour-report.pdf", "indexed"), ("항구-보고서.pdf", "indexed")]
    assert all(f["pages"] > FACT_PAGE and f["chunks"] > FACT_PAGE for f in library.job["files"])


@pytest.mark.parametrize(
    ("question", "filename", "evidence"),
    [
        ("What colour was the Kestrel Point lighthouse painted?", "harbour-report.pdf",
         "bright purple"),
        ("Who painted the lighthouse at Kestrel Point?", "harbour-report.pdf", "Okonkwo"),
        ("한빛섬 등대는 무슨 색으로 칠해졌나요?", "항구-보고서.pdf", "보라색"),
        ("한빛섬 등대를 칠한 조각가는 누구인가요?", "항구-보고서.pdf", "김민서"),
    ],
    ids=["en-colour", "en-who", "ko-colour", "ko-who"],
)
def test_the_answer_page_comes_first(library: Library, question: str, filename: str,
                                     evidence: str) -> None:
    passages = search(library.client, "reports", question, k=5)
    top = passages[0]
    assert (top["filename"], top["page"]) == (filename, FACT_PAGE), passages[:2]
    assert evidence in " ".join(top["text"].split())
    page = library.client.get(
        f"/kbs/reports/documents/{top['document_id']}/pages/{FACT_PAGE}").json()["text"]
    assert page[top["char_start"]:top["char_end"]] == top["text"]


def test_the_korean_file_keeps_its_name_and_bytes(library: Library) -> None:
    korean = next(f for f in library.job["files"] if f["filename"] == "항구-보고서.pdf")
    response = library.client.get(f"/kbs/reports/documents/{korean['document_id']}/file")
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF-")
    assert hashlib.sha256(response.content).hexdigest() == korean["document_id"]


@pytest.mark.parametrize(("question", "fact"), [
    ("What colour was the Kestrel Point lighthouse painted?", ENGLISH_FACT),
    ("한빛섬 등대를 칠한 조각가는 누구인가요?", KOREAN_FACT)], ids=["en", "ko"])
def test_the_answer_quotes_the_fact_from_page_3(library: Library, question: str,
                                                fact: str) -> None:
    answer = library.client.post("/kbs/reports/ask", json={"question": question}).json()
    assert not answer["abstained"]
    first = answer["citations"][0]
    assert first["page"] == FACT_PAGE and " ".join(first["quote"].split()) in fact


def test_a_deleted_document_is_no_longer_found(library: Library) -> None:
    """Last in this module: it deletes the English report."""
    english = next(f for f in library.job["files"] if f["filename"] == "harbour-report.pdf")
    assert library.client.delete(
        f"/kbs/reports/documents/{english['document_id']}").status_code in (200, 204)
    passages = search(library.client, "reports", "Kestrel Point lighthouse purple", k=5)
    assert passages and all(p["filename"] == "항구-보고서.pdf" for p in passages)
