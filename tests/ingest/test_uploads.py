from __future__ import annotations

import io
from pathlib import Path

import pytest

from ingest.uploads import display_name, queue_local_files, stage_upload
from qa_service.errors import InvalidRequest, UnsupportedMediaType
from qa_service.schemas import DocumentStatus
from qa_service.store.knowledge_base import IndexIdentity, KnowledgeBase
from tests.pdfs import text_pdf


@pytest.fixture
def kb(tmp_path: Path):  # type: ignore[no-untyped-def]
    base = KnowledgeBase.create(tmp_path / "kb", "kb", IndexIdentity("fake-hash", 64))
    yield base
    base.close()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\kim\\보고서.pdf", "보고서.pdf"),
        ("  spaced.pdf  ", "spaced.pdf"),
        ("bad\x00name\n.pdf", "badname.pdf"),
        (None, "upload-3.pdf"),
        ("folder/", "upload-3.pdf"),
        ("x" * 300, "x" * 255),
    ],
)
def test_display_name(raw: str | None, expected: str) -> None:
    assert display_name(raw, 2) == expected


def test_stage_upload_copies_files_and_queues_a_job(kb: KnowledgeBase) -> None:
    pdf = text_pdf(["Uploaded."])
    job_id = stage_upload(kb, [("a.pdf", io.BytesIO(pdf)), ("notes.txt", io.BytesIO(b"hi"))])
    job = kb.catalog.job(job_id)
    assert job is not None and job.files_total == 2
    assert [(f.filename, f.status) for f in job.files] == [
        ("a.pdf", DocumentStatus.QUEUED), ("notes.txt", DocumentStatus.QUEUED)]
    staged = sorted(kb.upload_folder(job_id).iterdir())
    assert [p.read_bytes() for p in staged] == [pdf, b"hi"]
    assert all(kb.upload_folder(job_id) in p.parents for p in staged)


def test_an_upload_without_any_pdf_is_refused_and_leaves_nothing(kb: KnowledgeBase) -> None:
    with pytest.raises(UnsupportedMediaType, match="none of the 2"):
        stage_upload(kb, [("a.pdf", io.BytesIO(b"text")), ("b.doc", io.BytesIO(b""))])
    assert list((kb.root / "uploads").iterdir()) == []
    assert kb.catalog.unfinished_jobs() == []


def test_an_empty_upload_is_refused(kb: KnowledgeBase) -> None:
    with pytest.raises(InvalidRequest):
        stage_upload(kb, [])


def test_queue_local_files(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = tmp_path / "local.pdf"
    path.write_bytes(text_pdf(["Local."]))
    job = kb.catalog.job(queue_local_files(kb, [path]))
    assert job is not None and job.files[0].filename == str(path)
    with pytest.raises(InvalidRequest, match="no PDF files"):
        queue_local_files(kb, [])
