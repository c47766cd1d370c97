"""Turning an upload (or a list of local paths) into a queued ingestion job.

Uploaded bytes go only to `<kb>/uploads/<job id>/<position>.pdf`: the file name a client
sends is display metadata, never part of a path. Sizes are counted while the bytes arrive,
so an oversized file is refused before it is all read.

While an upload streams, its job lock (`<kb>/uploads/<job id>.lock`, the lock a running
job holds: see `ingest.jobs`) is held, so `remove_orphaned_uploads` can tell a staging
folder in use from one that a crash left behind. A knowledge base deleted while an upload
streams ends that upload with `KnowledgeBaseNotFound` (404), never a storage error.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ingest.parse import HEADER_WINDOW, find_pdf_header
from qa_service.errors import (
    InvalidRequest,
    KnowledgeBaseNotFound,
    PayloadTooLarge,
    StorageError,
    UnsupportedMediaType,
)
from qa_service.schemas import JobState
from qa_service.store.knowledge_base import KnowledgeBase

__all__ = ["StagedUpload", "UploadLimits", "display_name", "job_lock_path", "local_names",
           "queue_local_files", "remove_orphaned_uploads", "stage_upload"]

log = logging.getLogger(__name__)

_COPY_BLOCK = 1 << 20
_CHECK_EVERY = 4 << 20  # while one file streams, look for a deletion of the kb this often
MB = 1_000_000
_DELETED = "was deleted while the upload was under way; nothing of the upload was kept"


def job_lock_path(kb: KnowledgeBase, job_id: str) -> Path:
    """Held (flock) while the job's files are staged, and while the job runs."""
    return kb.uploads / f"{job_id}.lock"


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
    _lock: BinaryIO | None = None
    _unchecked: int = 0  # bytes written since the last look for a deletion

    def __enter__(self) -> StagedUpload:
        with self._unless_deleted():  # never recreate the folders of a deleted kb
            self._lock = open(job_lock_path(self.kb, self.job_id), "a+b")
            try:
                fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX)
                self.folder.mkdir()
            except BaseException:
                self._release_lock(committed=False)
                raise
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self._close_file()
        if error is not None:
            self.discard()
        self._release_lock(committed=error is None)

    def _release_lock(self, committed: bool) -> None:
        """A committed job keeps its lock file for its runner; otherwise it goes."""
        if self._lock is None:
            return
        if not committed:
            job_lock_path(self.kb, self.job_id).unlink(missing_ok=True)
        self._lock.close()
        self._lock = None

    @contextmanager
    def _unless_deleted(self) -> Iterator[None]:
        """A file-system or catalog failure because the knowledge base was deleted (its
        folder renamed away) becomes `KnowledgeBaseNotFound`."""
        try:
            yield
        except (OSError, sqlite3.Error, StorageError) as exc:
            if not self.kb.exists():
                raise KnowledgeBaseNotFound(self.kb.name, _DELETED) from exc
            raise

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
        with self._unless_deleted():
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
        self._unchecked += len(data)
        if self._unchecked >= _CHECK_EVERY:  # a deleted kb's files still take writes
            self._unchecked = 0
            if not self.kb.exists():
                raise KnowledgeBaseNotFound(self.kb.name, _DELETED)

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
        with self._unless_deleted():
            self.kb.create_job(self.job_id, [(f.name, str(f.path), None)
                                                     for f in self._files])
        if not self.kb.exists():  # deleted just before: the job went with it
            raise KnowledgeBaseNotFound(self.kb.name, _DELETED)
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


def queue_local_files(kb: KnowledgeBase, paths: Iterable[Path], *, by_name: bool = False
                      ) -> str:
    """A job over files already on disk (`qa ingest`): they are read in place.

    Each document is named by the path as given, or with `by_name` by its file name alone
    (`local_names`), as an uploaded file is: what citations show, and what a later
    file of the same name replaces."""
    files = list(paths)
    names = local_names(files) if by_name else [str(path) for path in files]
    entries = [(name, str(path.resolve()), None)
               for name, path in zip(names, files, strict=True)]
    if not entries:
        raise InvalidRequest("no PDF files found at the given paths")
    job_id = uuid.uuid4().hex
    kb.create_job(job_id, entries)
    return job_id


def local_names(paths: Sequence[Path]) -> list[str]:
    """Each file's name; files of one job that share a name but are different files keep
    as many of their last folders as tell them apart (`q1/report.pdf`, `q2/report.pdf`),
    so that neither replaces the other. Characters that cannot be printed are left out."""
    full = [path.resolve().parts for path in paths]
    depth = _distinct_depths(set(full))
    names = [str(Path(*parts[-depth[parts]:])) for parts in full]
    return ["".join(ch for ch in name if ch.isprintable()) for name in names]


def _distinct_depths(paths: set[tuple[str, ...]]) -> dict[tuple[str, ...], int]:
    """How many trailing parts of each (distinct, absolute) path tell it from the others."""
    depth = dict.fromkeys(paths, 1)
    while True:
        by_tail: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for parts, n in depth.items():
            by_tail.setdefault(parts[-n:], []).append(parts)
        clashes = [group for group in by_tail.values() if len(group) > 1]
        if not clashes:
            return depth
        for group in clashes:
            for parts in group:
                depth[parts] += 1


def remove_orphaned_uploads(kb: KnowledgeBase) -> int:
    """Remove staged files that belong to no unfinished job and to no upload in progress
    (a crash while an upload streamed leaves them); returns how many uploads went.

    An upload in progress, or a running job, holds its job lock: such a folder is never
    touched. A free lock means its uploader is gone; under that lock, the folder is kept
    only if its job was committed and has not finished."""
    root = kb.uploads
    try:
        entries = list(root.iterdir())
    except FileNotFoundError:
        return 0
    unfinished = set(kb.unfinished_jobs())
    candidates = {e.name.removesuffix(".lock") for e in entries} - unfinished
    return sum(_remove_if_orphaned(kb, job_id) for job_id in sorted(candidates))


def _remove_if_orphaned(kb: KnowledgeBase, job_id: str) -> bool:
    lock_path = job_lock_path(kb, job_id)
    try:
        handle = open(lock_path, "a+b")  # noqa: SIM115 - closed below
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # staging or running right now
        job = kb.job(job_id)
        if job is not None and job.state in (JobState.QUEUED, JobState.RUNNING):
            return False  # committed since we looked: its runner will take it
        folder = kb.upload_folder(job_id)
        staged = folder.is_dir()
        shutil.rmtree(folder, ignore_errors=True)
        with suppress(OSError):
            lock_path.unlink()
    if staged:
        log.info("removed the staged files of upload %s in knowledge base '%s' (%s)", job_id,
                 kb.name, "its job had ended" if job is not None else
                 "its upload never finished")
    return staged
