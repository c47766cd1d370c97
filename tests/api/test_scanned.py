"""Scanned PDFs through the API: uploaded, OCR'd page by page, reported (`ocr_pages` in
the job and the document list), asked with citations that are the served page text, and
highlighted from the OCR boxes; `/health` says whether OCR runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingest.tesseract import tesseract_problem
from qa_service.embedding import Embedder
from tests.api.helpers import create_kb, ingest, running_app
from tests.pdfs import image_only_pdf, joined_pdf, scanned_pdf, text_pdf

pytestmark = pytest.mark.skipif(
    tesseract_problem() is not None,
    reason=f"OCR cannot run here: {tesseract_problem()} (`make install` installs it)")

KB = "scans"
TEXT_PAGE = ("The maintenance contract covers the lifts of the east tower. It was signed "
             "by both parties in the spring.")
SCANNED_PAGE = ("Payment terms: the contractor invoices the owner every quarter. The annual "
                "fee for the lift maintenance is 48,000 euros, due within thirty days.")


@dataclass
class World:
    client: TestClient
    job: dict[str, Any]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
          shared_models: None) -> Iterator[World]:
    data = tmp_path_factory.mktemp("scans") / "data"
    contract = joined_pdf(text_pdf([TEXT_PAGE]), scanned_pdf([SCANNED_PAGE]),
                          scanned_pdf([""]))
    with running_app(data, embedder) as client:
        create_kb(client, KB)
        job = ingest(client, KB, [("contract.pdf", contract),
                                  ("blank-scan.pdf", scanned_pdf(["", ""])),
                                  ("shapes.pdf", image_only_pdf(pages=1))])
        yield World(client, job)


def test_the_job_reports_ocr_pages_and_the_pages_left_empty(world: World) -> None:
    contract, blank, shapes = world.job["files"]
    assert (contract["status"], contract["pages"], contract["ocr_pages"]) == ("indexed", 3, 1)
    assert contract["reason"] == "page 3 has no text (OCR found none)"
    assert (blank["status"], blank["ocr_pages"]) == ("no_text", 0)
    assert blank["reason"] == ("no text layer: the pages look scanned or image-only; OCR "
                               "found no text on them")
    assert shapes["status"] == "no_text"


def test_the_job_s_progress_counts_the_ocr_pages(world: World) -> None:
    assert world.job["progress"]["ocr_pages"] == 1  # contract.pdf's scanned page
    (listed,) = world.client.get(f"/kbs/{KB}/jobs").json()["jobs"]
    assert listed["progress"] == world.job["progress"]


def test_the_document_list_shows_ocr_pages(world: World) -> None:
    documents = world.client.get(f"/kbs/{KB}/documents").json()["documents"]
    by_name = {d["filename"]: d for d in documents}
    assert by_name["contract.pdf"]["ocr_pages"] == 1
    assert by_name["blank-scan.pdf"]["ocr_pages"] == 0


def test_an_answer_from_a_scanned_page_cites_the_served_text_and_its_boxes(
        world: World) -> None:
    response = world.client.post(f"/kbs/{KB}/ask",
                                 json={"question": "What is the annual fee for the lift "
                                                   "maintenance?"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert "48,000" in answer["answer"]
    citation = answer["citations"][0]
    assert citation["page"] == 2
    doc = citation["document_id"]
    page = world.client.get(f"/kbs/{KB}/documents/{doc}/pages/2").json()["text"]
    assert page[citation["char_start"]:citation["char_end"]] == citation["quote"]
    boxes = world.client.get(f"/kbs/{KB}/documents/{doc}/pages/2/boxes",
                             params={"start": citation["char_start"],
                                     "end": citation["char_end"]}).json()
    assert boxes["positions"] is True and boxes["coverage"] == 1.0
    assert boxes["boxes"]
    for box in boxes["boxes"]:
        assert 0 <= box["x0"] < box["x1"] <= boxes["width"]
        assert 0 <= box["y0"] < box["y1"] <= boxes["height"]


def test_health_says_ocr_runs(world: World) -> None:
    ocr = world.client.get("/health").json()["ocr"]
    assert ocr["enabled"] is True and ocr["languages"] == "kor+eng"
    assert ocr["engine"].startswith("tesseract ")


def test_with_ocr_off_scans_end_no_text_and_health_says_why(
        tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
        shared_models: None) -> None:
    data = tmp_path_factory.mktemp("no-ocr") / "data"
    with running_app(data, embedder, ingest={"ocr": "off"}) as client:
        ocr = client.get("/health").json()["ocr"]
        assert (ocr["enabled"], ocr["reason"]) == (False, "turned off (QA_INGEST__OCR=off)")
        create_kb(client, KB)
        job = ingest(client, KB, [("scan.pdf", scanned_pdf([SCANNED_PAGE]))])
        (outcome,) = job["files"]
        assert (outcome["status"], outcome["ocr_pages"]) == ("no_text", 0)
        assert "turn OCR on (QA_INGEST__OCR=auto)" in outcome["reason"]


def test_without_tesseract_the_server_starts_with_ocr_off_and_says_why(
        tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, shared_models: None,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no tesseract program to be found
    data = tmp_path_factory.mktemp("no-tesseract") / "data"
    with caplog.at_level("WARNING"), running_app(data, embedder) as client:
        ocr = client.get("/health").json()["ocr"]
    assert ocr["enabled"] is False
    assert ocr["reason"].startswith("the tesseract program is not installed")
    assert any("OCR is off: the tesseract program is not installed" in record.getMessage()
               for record in caplog.records)
