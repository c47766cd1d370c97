"""Turning an upload (or a list of local paths) into a queued ingestion job."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

from ingest.parse import HEADER_WINDOW, find_pdf_header
from qa_service.errors import InvalidRequest, UnsupportedMediaType
from qa_service.store.knowledge_base import KnowledgeBase

__all__ = ["display_name", "queue_local_files", "stage_upload"]

_COPY_BLOCK = 1 << 20


def display_name(raw: str | None, position: int) -> str:
    """The source name shown to people: the name without any folders, never a path we use."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable())[:255]
    return name or f"upload-{position + 1}.pdf"


def stage_upload(kb: KnowledgeBase, files: Sequence[tuple[str | None, BinaryIO]]) -> str:
    """Copy uploaded files under the knowledge base and queue a job; returns its id.

    Raises InvalidRequest for an empty upload and UnsupportedMediaType when no file is a
    PDF; otherwise non-PDF files simply end `invalid` while the others are indexed.
    """
    if not files:
        raise InvalidRequest("no files: send one or more PDFs in the multipart field 'files'")
    job_id = uuid.uuid4().hex
    folder = kb.upload_folder(job_id)
    folder.mkdir(parents=True, exist_ok=True)
    entries, pdfs = [], 0
    try:
        for position, (name, stream) in enumerate(files):
            target = folder / f"{position:05d}.pdf"
            head = _copy(stream, target)
            pdfs += find_pdf_header(head) >= 0
            entries.append((display_name(name, position), str(target), None))
        if pdfs == 0:
            raise UnsupportedMediaType(
                f"none of the {len(entries)} uploaded file(s) is a PDF (no %PDF- header in "
                "the first 1,024 bytes)"
            )
        kb.catalog.create_job(job_id, entries)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return job_id


def queue_local_files(kb: KnowledgeBase, paths: Iterable[Path]) -> str:
    """A job over files already on disk (`qa ingest`): they are read in place."""
    entries = [(str(path), str(path.resolve()), None) for path in paths]
    if not entries:
        raise InvalidRequest("no PDF files found at the given paths")
    job_id = uuid.uuid4().hex
    kb.catalog.create_job(job_id, entries)
    return job_id


def _copy(stream: BinaryIO, target: Path) -> bytes:
    head = b""
    with open(target, "wb") as out:
        while block := stream.read(_COPY_BLOCK):
            if len(head) < HEADER_WINDOW:
                head += block[: HEADER_WINDOW - len(head)]
            out.write(block)
    return head
