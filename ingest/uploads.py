"""Turning an upload (or a list of local paths) into a queued ingestion job.

Uploaded bytes go only to `<kb>/uploads/<job id>/<position>.pdf`: the file name a client
sends is display metadata, never part of a path. Sizes are counted while the bytes arrive,
so an oversized file is refused before it is all read.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ingest.parse import HEADER_WINDOW, find_pdf_header
from qa_service.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from qa_service.store.knowledge_base import KnowledgeBase

__all__ = ["StagedUpload", "UploadLimits", "display_name", "queue_local_files", "stage_upload"]

_COPY_BLOCK = 1 << 20
MB = 1_000_000


def display_name(raw: str | None, position: int) -> str:
    """The source name shown to people: the name without any folders, never a path we use."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable())[:255]
    return name or f"upload-{position + 1}.pdf"


@dataclass(frozen=True)
class UploadLimits:
    max_file_bytes: int = 100 * MB
    max_files: int = 100


@dataclass
class _File:
    name: str
    path: Path
    size: int = 0
    head: bytes = b""


@dataclass
class StagedUpload:
    """Files of one upload being written under the knowledge base; `commit` queues them
    as a job, `discard` removes them. Use as a context manager: leaving it with an error
    discards everything staged so far."""

    kb: KnowledgeBase
    limits: UploadLimits = field(default_factory=UploadLimits)
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    _files: list[_File] = field(default_factory=list)
    _out: BinaryIO | None = None

    def __enter__(self) -> StagedUpload:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self._close_file()
        if error is not None:
            self.discard()

    @property
    def folder(self) -> Path:
        return self.kb.upload_folder(self.job_id)

    def begin_file(self, raw_name: str | None) -> None:
        self._close_file()
        position = len(self._files)
        if position >= self.limits.max_files:
            raise PayloadTooLarge(
                f"more than {self.limits.max_files} files in one upload; send at most "
                f"{self.limits.max_files} per request (QA_LIMITS__MAX_FILES)")
        staged = _File(display_name(raw_name, position), self.folder / f"{position:05d}.pdf")
        self._files.append(staged)
        self._out = open(staged.path, "wb")  # noqa: SIM115 - closed by _close_file

    def write(self, data: bytes) -> None:
        staged, out = self._files[-1], self._out
        assert out is not None, "write() before begin_file()"
        staged.size += len(data)
        if staged.size > self.limits.max_file_bytes:
            raise PayloadTooLarge(
                f"{staged.name}: larger than the limit of "
                f"{self.limits.max_file_bytes / MB:g} MB per file (QA_INGEST__MAX_FILE_MB)")
        if len(staged.head) < HEADER_WINDOW:
            staged.head += data[: HEADER_WINDOW - len(staged.head)]
        out.write(data)

    def _close_file(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def commit(self) -> str:
        """Queue the staged files as a job; returns its id.

        Raises InvalidRequest for an empty upload and UnsupportedMediaType when no file is
        a PDF; otherwise non-PDF files simply end `invalid` while the others are indexed."""
        self._close_file()
        if not self._files:
            raise InvalidRequest("no files: send one or more PDFs in the multipart field 'files'")
        if not any(find_pdf_header(f.head) >= 0 for f in self._files):
            raise UnsupportedMediaType(
                f"none of the {len(self._files)} uploaded file(s) is a PDF (no %PDF- header "
                "in the first 1,024 bytes)")
        self.kb.catalog.create_job(self.job_id, [(f.name, str(f.path), None)
                                                 for f in self._files])
        return self.job_id

    @property
    def file_count(self) -> int:
        return len(self._files)

    def discard(self) -> None:
        self._close_file()
        shutil.rmtree(self.folder, ignore_errors=True)


def stage_upload(kb: KnowledgeBase, files: Sequence[tuple[str | None, BinaryIO]],
                 limits: UploadLimits | None = None) -> str:
    """Copy readable streams under the knowledge base and queue a job; returns its id."""
    with StagedUpload(kb, limits or UploadLimits()) as upload:
        for name, stream in files:
            upload.begin_file(name)
            while block := stream.read(_COPY_BLOCK):
                upload.write(block)
        return upload.commit()


def queue_local_files(kb: KnowledgeBase, paths: Iterable[Path]) -> str:
    """A job over files already on disk (`qa ingest`): they are read in place."""
    entries = [(str(path), str(path.resolve()), None) for path in paths]
    if not entries:
        raise InvalidRequest("no PDF files found at the given paths")
    job_id = uuid.uuid4().hex
    kb.catalog.create_job(job_id, entries)
    return job_id
