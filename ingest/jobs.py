"""Ingestion jobs: a list of files for one knowledge base, run in the background.

A job and its files are rows in the knowledge base's catalog, so `GET .../jobs/{id}`
works from any process. Each file's outcome is written in the same transaction that
publishes (or records) its document: after a crash, a job resumes exactly at the files
that have no outcome yet. A job runs under a lock file, so a job being run by one process
(the server, or `qa ingest`) is never picked up by another.
"""

from __future__ import annotations

import fcntl
import logging
import queue
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from ingest.parser_pool import ParserPoolClosed
from ingest.pipeline import IngestPipeline, Progress
from qa_service.errors import QAError, describe
from qa_service.schemas import DocumentStatus, FileOutcome, JobInfo, JobState
from qa_service.store.knowledge_base import KnowledgeBase, PublishHook
from qa_service.store.registry import KnowledgeBaseRegistry

__all__ = ["JobRunner", "run_job"]

log = logging.getLogger(__name__)


def run_job(
    pipeline: IngestPipeline,
    kb: KnowledgeBase,
    job_id: str,
    on_file: Callable[[FileOutcome], None] | None = None,
    progress: Progress | None = None,
) -> JobInfo | None:
    """Run a job's remaining files. None if another process is running it right now."""
    lock_path = kb.root / "uploads" / f"{job_id}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        try:
            _run_files(pipeline, kb, job_id, on_file, progress)
        except ParserPoolClosed:  # stopping: the files left keep no outcome and resume later
            log.info("job %s of %s interrupted by shutdown; it resumes on the next start",
                     job_id, kb.name)
        except Exception as exc:
            log.exception("job %s of %s failed", job_id, kb.name)
            kb.catalog.set_job_state(job_id, JobState.FAILED, describe(exc))
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    lock_path.unlink(missing_ok=True)
    return kb.catalog.job(job_id)


def _run_files(pipeline: IngestPipeline, kb: KnowledgeBase, job_id: str,
               on_file: Callable[[FileOutcome], None] | None, progress: Progress | None) -> None:
    kb.catalog.set_job_state(job_id, JobState.RUNNING)

    def count(kind: str, n: int) -> None:
        if n:
            kb.catalog.add_job_progress(job_id, **{"pages" if kind == "pages" else "chunks": n})
        if progress is not None:
            progress(kind, n)

    for position, filename, staged, status in kb.catalog.job_files(job_id):
        if status is not DocumentStatus.QUEUED:
            continue
        outcome = _ingest_one(pipeline, kb, job_id, position, Path(staged), filename, count)
        if on_file is not None:
            on_file(outcome)
    kb.catalog.set_job_state(job_id, JobState.DONE)
    shutil.rmtree(kb.upload_folder(job_id), ignore_errors=True)


def _ingest_one(pipeline: IngestPipeline, kb: KnowledgeBase, job_id: str, position: int,
                path: Path, filename: str, progress: Progress) -> FileOutcome:
    def hook(outcome: FileOutcome) -> PublishHook:
        return lambda conn: kb.catalog.finish_job_file(conn, job_id, position, outcome)

    try:
        return pipeline.ingest_file(kb, path, filename, progress, hook)
    except ParserPoolClosed:
        raise  # not the file's fault: it stays queued
    except QAError as exc:
        outcome = FileOutcome(filename, DocumentStatus.FAILED, exc.message)
    except Exception as exc:
        log.exception("ingesting %s failed", filename)
        outcome = FileOutcome(filename, DocumentStatus.FAILED, describe(exc))
    with kb.catalog.transaction() as conn:
        kb.catalog.finish_job_file(conn, job_id, position, outcome)
    return outcome


class JobRunner:
    """One background thread that runs submitted jobs in order."""

    def __init__(self, registry: KnowledgeBaseRegistry, pipeline: IngestPipeline) -> None:
        self.registry = registry
        self.pipeline = pipeline
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="ingest-jobs", daemon=True)
        self._thread.start()

    def submit(self, kb_name: str, job_id: str) -> None:
        self._queue.put((kb_name, job_id))

    def resume_unfinished(self) -> int:
        """Queue the jobs a previous run left queued or running; returns how many."""
        resumed = 0
        for name in self.registry.names():
            for job_id in self.registry.open(name).catalog.unfinished_jobs():
                self.submit(name, job_id)
                resumed += 1
        return resumed

    def _loop(self) -> None:
        while (item := self._queue.get()) is not None:
            kb_name, job_id = item
            try:
                run_job(self.pipeline, self.registry.open(kb_name), job_id)
            except Exception:
                log.exception("job %s of %s could not run", job_id, kb_name)

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None
