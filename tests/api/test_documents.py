"""Uploads, jobs, documents, pages and search through the real app, on one shared corpus."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa_service.api.models import JobOut, PassageOut
from qa_service.embedding import Embedder
from tests.api.helpers import (
    assert_error,
    create_kb,
    ingest,
    running_app,
    search,
    upload,
    wait_for_job,
)
from tests.pdfs import encrypted, image_only_pdf, text_pdf

KB = "library"
BIRDS = [
    "Puffins nest in burrows on steep sea cliffs. " * 8
    + "A puffin can carry ten small fish crosswise in its beak at once.",
    "Albatrosses glide for hours without flapping. " * 8
    + "The wandering albatross has the longest wingspan of any living bird.",
    "Hummingbirds hover by beating their wings very fast. " * 6,
]
TRAINS = [
    "The night train leaves the capital at eleven and reaches the coast at dawn. " * 5,
    "Sleeper cabins have two berths and a washbasin. Breakfast is served at seven. " * 5,
]


@dataclass
class Corpus:
    client: TestClient
    job: dict[str, Any]
    files: dict[str, bytes]

    def outcome(self, name: str) -> dict[str, Any]:
        return next(f for f in self.job["files"] if f["filename"] == name)

    def doc_id(self, name: str) -> str:
        return str(self.outcome(name)["document_id"])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
           shared_models: None) -> Iterator[Corpus]:
    files = {
        "birds.pdf": text_pdf(BIRDS),
        "trains.pdf": text_pdf(TRAINS),
        "notes.txt": b"meeting notes, not a PDF",
        "locked.pdf": encrypted(text_pdf(["secret plans"]), "secret", "owner"),
        "scan.pdf": image_only_pdf(),
    }
    with running_app(tmp_path_factory.mktemp("api") / "data", embedder) as client:
        create_kb(client, KB)
        response = upload(client, KB, list(files.items()))
        assert response.status_code == 202, response.text
        accepted = response.json()
        assert accepted["state"] == "queued" and accepted["files_total"] == 5
        job = wait_for_job(client, KB, accepted["job_id"])
        yield Corpus(client, job, files)


def test_the_job_reports_every_file(corpus: Corpus) -> None:
    job = corpus.job
    assert set(job) == set(JobOut.model_fields)
    assert job["state"] == "done" and job["error"] == ""
    assert (job["files_total"], job["files_done"]) == (5, 5)
    statuses = {f["filename"]: f["status"] for f in job["files"]}
    assert statuses == {"birds.pdf": "indexed", "trains.pdf": "indexed",
                        "notes.txt": "invalid", "locked.pdf": "encrypted",
                        "scan.pdf": "no_text"}
    assert [f["filename"] for f in job["files"]] == list(corpus.files)
    assert "not a PDF" in corpus.outcome("notes.txt")["reason"]
    assert "password" in corpus.outcome("locked.pdf")["reason"]
    assert "OCR" in corpus.outcome("scan.pdf")["reason"]
    birds = corpus.outcome("birds.pdf")
    assert (birds["pages"], birds["reason"]) == (3, "")
    assert birds["chunks"] > 0
    assert job["pages_parsed"] >= 3 + 2 + 1
    assert job["chunks_embedded"] == birds["chunks"] + corpus.outcome("trains.pdf")["chunks"]


def test_counts_follow_the_indexed_documents(corpus: Corpus) -> None:
    info = corpus.client.get(f"/kbs/{KB}").json()
    assert info["documents"] == 2
    assert info["chunks"] == corpus.job["chunks_embedded"]


def test_documents_list_and_detail(corpus: Corpus) -> None:
    listed = corpus.client.get(f"/kbs/{KB}/documents").json()["documents"]
    assert {d["filename"]: d["status"] for d in listed} == {
        "birds.pdf": "indexed", "trains.pdf": "indexed", "notes.txt": "invalid",
        "locked.pdf": "encrypted", "scan.pdf": "no_text"}
    for document in listed:  # a job's file and its document name its id alike
        assert document["document_id"] == corpus.doc_id(document["filename"])
        assert document["id"] == document["document_id"]  # the older name, deprecated
    detail = corpus.client.get(f"/kbs/{KB}/documents/{corpus.doc_id('birds.pdf')}").json()
    assert detail == next(d for d in listed if d["filename"] == "birds.pdf")
    assert detail["size_bytes"] == len(corpus.files["birds.pdf"])
    assert (detail["pages"], detail["chunks"]) == (3, corpus.outcome("birds.pdf")["chunks"])


def test_the_original_file_comes_back(corpus: Corpus) -> None:
    response = corpus.client.get(f"/kbs/{KB}/documents/{corpus.doc_id('birds.pdf')}/file")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content == corpus.files["birds.pdf"]
    assert "birds.pdf" in response.headers["content-disposition"]


def test_pages(corpus: Corpus) -> None:
    doc = corpus.doc_id("birds.pdf")
    page = corpus.client.get(f"/kbs/{KB}/documents/{doc}/pages/2").json()
    assert page["document_id"] == doc and page["page"] == 2
    assert "longest wingspan" in page["text"]
    for number in (0, 4, -1):
        error = assert_error(corpus.client.get(f"/kbs/{KB}/documents/{doc}/pages/{number}"),
                             404, "page_not_found")
        assert "1-3" in error["message"]


def test_a_page_number_beyond_any_integer_column_is_not_a_server_error(corpus: Corpus) -> None:
    doc = corpus.doc_id("birds.pdf")
    response = corpus.client.get(f"/kbs/{KB}/documents/{doc}/pages/{2**63}")
    assert response.status_code in (404, 422), response.text
    assert_error(response, response.status_code)


def test_uploading_the_same_file_again_changes_nothing(corpus: Corpus) -> None:
    before = corpus.client.get(f"/kbs/{KB}").json()
    job = ingest(corpus.client, KB, [("birds.pdf", corpus.files["birds.pdf"])])
    (outcome,) = job["files"]
    assert outcome["status"] == "unchanged"
    assert outcome["document_id"] == corpus.doc_id("birds.pdf")
    assert "already indexed" in outcome["reason"]
    assert job["pages_parsed"] == 0 and job["chunks_embedded"] == 0
    assert corpus.client.get(f"/kbs/{KB}").json() == before


def test_a_file_that_ended_no_text_is_tried_again(corpus: Corpus) -> None:
    job = ingest(corpus.client, KB, [("scan.pdf", corpus.files["scan.pdf"])])
    (outcome,) = job["files"]
    assert outcome["status"] == "no_text"
    assert job["pages_parsed"] == 1  # it was parsed again


def _page_text(client: TestClient, passage: dict[str, Any]) -> str:
    response = client.get(
        f"/kbs/{KB}/documents/{passage['document_id']}/pages/{passage['page']}")
    assert response.status_code == 200
    return str(response.json()["text"])


def test_search_returns_complete_verifiable_passages(corpus: Corpus) -> None:
    passages = search(corpus.client, KB, "Which bird has the longest wingspan?", k=4)
    assert 1 <= len(passages) <= 4
    top = passages[0]
    assert set(top) == set(PassageOut.model_fields) == {
        "chunk_id", "document_id", "filename", "page", "char_start", "char_end", "text",
        "score"}
    assert (top["filename"], top["document_id"], top["page"]) == (
        "birds.pdf", corpus.doc_id("birds.pdf"), 2)
    assert "wingspan" in top["text"]
    for passage in passages:
        assert isinstance(passage["chunk_id"], int) and passage["chunk_id"] > 0
        assert isinstance(passage["score"], float)
        page_text = _page_text(corpus.client, passage)
        assert page_text[passage["char_start"]:passage["char_end"]] == passage["text"]
    scores = [p["score"] for p in passages]
    assert scores == sorted(scores, reverse=True)


def test_search_can_be_restricted_to_documents(corpus: Corpus) -> None:
    trains = corpus.doc_id("trains.pdf")
    passages = search(corpus.client, KB, "puffin beak fish", k=10, document_ids=[trains])
    assert passages and {p["document_id"] for p in passages} == {trains}
    both = search(corpus.client, KB, "puffin beak fish", k=10,
                  document_ids=[trains, corpus.doc_id("birds.pdf")])
    assert both[0]["filename"] == "birds.pdf"


def test_search_with_an_unknown_document_id_is_404(corpus: Corpus) -> None:
    response = corpus.client.post(f"/kbs/{KB}/search", json={
        "query": "trains", "document_ids": [corpus.doc_id("trains.pdf"), "f" * 64]})
    assert_error(response, 404, "document_not_found")


def test_search_in_korean_on_english_documents_still_answers(corpus: Corpus) -> None:
    passages = search(corpus.client, KB, "야간 열차는 언제 출발하나요?", k=3)
    assert passages  # dense retrieval is multilingual
    assert all(p["text"] == _page_text(corpus.client, p)[p["char_start"]:p["char_end"]]
               for p in passages)


def test_a_deleted_document_never_appears_in_search(corpus: Corpus, tmp_path: Path) -> None:
    client = corpus.client
    create_kb(client, "scratch")
    ingest(client, "scratch", [("birds.pdf", corpus.files["birds.pdf"]),
                               ("trains.pdf", corpus.files["trains.pdf"])])
    birds = corpus.doc_id("birds.pdf")
    assert birds in {p["document_id"] for p in search(client, "scratch", "puffin", k=20)}
    assert client.delete(f"/kbs/scratch/documents/{birds}").status_code == 204
    for query in ("puffin beak fish", "albatross wingspan", "Puffins nest in burrows"):
        found = search(client, "scratch", query, k=50)
        assert birds not in {p["document_id"] for p in found}
    assert_error(client.get(f"/kbs/scratch/documents/{birds}"), 404, "document_not_found")
    assert_error(client.get(f"/kbs/scratch/documents/{birds}/file"), 404, "document_not_found")
    assert client.get("/kbs/scratch").json()["documents"] == 1
    assert client.delete("/kbs/scratch").status_code == 204


def test_a_new_version_under_the_same_filename_replaces_the_old(corpus: Corpus) -> None:
    client = corpus.client
    create_kb(client, "versions")
    first = ingest(client, "versions", [("guide.pdf", text_pdf(["Version one: gates open at "
                                                                "noon for the tulip show."]))])
    second = ingest(client, "versions", [("guide.pdf", text_pdf(["Version two: gates open at "
                                                                 "nine for the orchid show."]))])
    old, new = first["files"][0]["document_id"], second["files"][0]["document_id"]
    assert old != new
    listed = client.get("/kbs/versions/documents").json()["documents"]
    assert [d["document_id"] for d in listed] == [new]
    found = search(client, "versions", "tulip show gates", k=10)
    assert {p["document_id"] for p in found} == {new}
    assert client.delete("/kbs/versions").status_code == 204
