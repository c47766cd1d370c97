"""Ingestion jobs: a list of files for one knowledge base, run in the background.

A job and its files are rows in the knowledge base's catalog, so `GET .../jobs/{id}`
works from any process. Each file's outcome is written in the same transaction that
publishes (or records) its document: after a crash, a job resumes exactly at the files
that have no outcome yet. A job runs under a lock file, so a job being run by one process
(the server, or `qa ingest`) is never picked up by another. Each job first removes the
staged uploads that crashes left behind (`ingest.uploads.remove_orphaned_uploads`).

A job whose knowledge base is deleted while it runs (or waits) ends quietly: one INFO
line, no traceback, nothing recorded (its catalog went with the knowledge base).
"""

from __future__ import annotations

import fcntl
import logging
import queue
import shutil
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ingest.parser_pool import ParserPoolClosed
from ingest.pipeline import IngestPipeline, ParsedAhead, PreparedAhead, Progress
from ingest.uploads import job_lock_path, remove_orphaned_uploads
from qa_service.errors import KnowledgeBaseNotFound, QAError, describe
from qa_service.schemas import DocumentStatus, FileOutcome, JobInfo, JobState
from qa_service.store.knowledge_base import JobFile, KnowledgeBase
from qa_service.store.registry import KnowledgeBaseRegistry

__all__ = ["JobRunner", "run_job"]

log = logging.getLogger(__name__)

PARSE_AHEAD = 2  # files parsed ahead per parser worker


def run_job(
    pipeline: IngestPipeline,
    kb: KnowledgeBase,
    job_id: str,
    on_file: Callable[[FileOutcome], None] | None = None,
    progress: Progress | None = None,
) -> JobInfo | None:
    """Run a job's remaining files. None if another process is running it right now, or
    the knowledge base was deleted (the job went with it; one INFO line says so)."""
    lock_path = job_lock_path(kb, job_id)
    try:
        lock_path.parent.mkdir(exist_ok=True)  # never parents: a deleted kb stays deleted
        handle = open(lock_path, "a+b")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        log.info("job %s of knowledge base '%s' not run: the knowledge base was deleted",
                 job_id, kb.name)
        return None
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        try:
            remove_orphaned_uploads(kb)
            _run_logged(pipeline, kb, job_id, on_file, progress)
        except ParserPoolClosed:  # stopping: the files left keep no outcome and resume later
            log.info("job %s of '%s' interrupted by shutdown; it resumes on the next start",
                     job_id, kb.name)
        except Exception as exc:
            if isinstance(exc, _KnowledgeBaseGone) or not kb.exists():
                log.info("job %s of knowledge base '%s' cancelled: the knowledge base was "
                         "deleted", job_id, kb.name)
                return None
            log.exception("job %s of '%s' failed", job_id, kb.name)
            kb.set_job_state(job_id, JobState.FAILED, describe(exc))
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    lock_path.unlink(missing_ok=True)
    return kb.job(job_id)


class _KnowledgeBaseGone(Exception):
    """The knowledge base was deleted while its job ran: the job ends, quietly."""


def _run_logged(pipeline: IngestPipeline, kb: KnowledgeBase, job_id: str,
                on_file: Callable[[FileOutcome], None] | None, progress: Progress | None) -> None:
    """`_run_files`, with one INFO line as the job starts and one as it ends (counts and
    duration)."""
    start = time.monotonic()
    queued = sum(1 for *_, status in kb.job_files(job_id)
                 if status is DocumentStatus.QUEUED)
    log.info("job %s of '%s' started: %d file(s) to ingest", job_id, kb.name, queued)
    _run_files(pipeline, kb, job_id, on_file, progress)
    job = kb.job(job_id)
    if job is not None:
        statuses = Counter(f.status.value for f in job.files)
        log.info("job %s of '%s' done in %.1f s: %d file(s): %s; %d page(s), %d chunk(s)",
                 job_id, kb.name, time.monotonic() - start, len(job.files),
                 ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())),
                 job.pages_parsed, job.chunks_embedded)


def _run_files(pipeline: IngestPipeline, kb: KnowledgeBase, job_id: str,
               on_file: Callable[[FileOutcome], None] | None, progress: Progress | None) -> None:
    kb.set_job_state(job_id, JobState.RUNNING)

    def count(kind: str, n: int) -> None:
        if n:
            kb.add_job_progress(job_id, **{"pages" if kind == "pages" else "chunks": n})
        if progress is not None:
            progress(kind, n)

    queued = [(position, filename, Path(staged)) for position, filename, staged, status
              in kb.job_files(job_id) if status is DocumentStatus.QUEUED]
    # The next files are parsed ahead (`IngestPipeline.parse_ahead`), `PARSE_AHEAD` per
    # parser worker process (so that a worker done with a short file goes on while a long
    # one holds up the order), while this thread chunks, embeds and publishes them in order.
    # One thread per worker takes the files in the job's order (the executor's queue).
    # With Ray (`pipeline.remote`) the workers there also chunk and embed the files ahead.
    workers = pipeline.ahead_workers
    depth = workers * PARSE_AHEAD
    ahead = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="parse-ahead")
    claimed: set[str] = set()  # files (by hash) parsed ahead: a copy later in the job is not

    def parse_ahead(file: tuple[int, str, Path]) -> ParsedAhead | PreparedAhead | None:
        _, filename, staged = file
        return pipeline.parse_ahead(kb, staged, claimed, filename)

    parsing: deque[Future[ParsedAhead | PreparedAhead | None]] = deque(
        ahead.submit(parse_ahead, file) for file in queued[:depth])
    try:
        for index, (position, filename, staged) in enumerate(queued):
            current = parsing.popleft()
            if index + depth < len(queued):
                parsing.append(ahead.submit(parse_ahead, queued[index + depth]))
            outcome = _ingest_one(pipeline, kb, job_id, position, staged, filename, count,
                                  _parse_of(current))
            if on_file is not None:
                on_file(outcome)
    finally:  # parses still running end on their own; their results are not needed
        ahead.shutdown(wait=False, cancel_futures=True)
    kb.set_job_state(job_id, JobState.DONE)
    shutil.rmtree(kb.upload_folder(job_id), ignore_errors=True)


def _parse_of(parsing: Future[ParsedAhead | PreparedAhead | None]
              ) -> ParsedAhead | PreparedAhead | None:
    """The parse made ahead; None (the file is parsed in turn, and any problem reported
    as usual) when there is none or it failed, unless the pool is shutting down."""
    try:
        return parsing.result()
    except ParserPoolClosed:
        raise
    except Exception:  # parsed again in turn, where a problem is reported
        log.debug("parsing ahead failed; parsing in turn", exc_info=True)
        return None


def _ingest_one(pipeline: IngestPipeline, kb: KnowledgeBase, job_id: str, position: int,
                path: Path, filename: str, progress: Progress,
                parsed: ParsedAhead | PreparedAhead | None = None) -> FileOutcome:
    job_file = JobFile(job_id, position)
    try:
        return pipeline.ingest_file(kb, path, filename, progress, job_file, parsed)
    except ParserPoolClosed:
        raise  # not the file's fault: it stays queued
    except Exception as exc:
        if not kb.exists():  # its files and catalog went away under it
            raise _KnowledgeBaseGone from exc
        if isinstance(exc, QAError):
            outcome = FileOutcome(filename, DocumentStatus.FAILED, exc.message)
        else:
            log.exception("ingesting %s failed", filename)
            outcome = FileOutcome(filename, DocumentStatus.FAILED, describe(exc))
    kb.finish_job_file(job_file.ended(outcome))
    return outcome


class JobRunner:
    """One background thread that runs submitted jobs in order."""

    def __init__(self, registry: KnowledgeBaseRegistry, pipeline: IngestPipeline,
                 after_job: Callable[[KnowledgeBase], None] | None = None) -> None:
        self.registry = registry
        self.pipeline = pipeline
        # runs after a job, its outcome recorded, unless another job of the same knowledge
        # base is queued (then after that one): the retriever prepares what questions will
        # need of the new documents (`HybridRetriever.prepare`); a failure is logged
        self.after_job = after_job
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
            for job_id in self.registry.open(name).unfinished_jobs():
                log.info("resuming job %s of '%s', left unfinished by the last run", job_id,
                         name)
                self.submit(name, job_id)
                resumed += 1
        return resumed

    def remove_leftovers(self) -> int:
        """At start-up: what crashes left behind (staged uploads of no job, half-deleted
        knowledge bases); returns how many staged uploads went."""
        self.registry.remove_leftovers()
        removed = 0
        for name in self.registry.names():
            try:
                removed += remove_orphaned_uploads(self.registry.open(name))
            except QAError as exc:  # an unreadable kb must not stop the server starting
                log.warning("knowledge base '%s': staged uploads not checked: %s", name,
                            exc.message)
        return removed

    def _loop(self) -> None:
        while (item := self._queue.get()) is not None:
            kb_name, job_id = item
            try:
                kb = self.registry.open(kb_name)
                run_job(self.pipeline, kb, job_id)
            except KnowledgeBaseNotFound:
                log.info("job %s of knowledge base '%s' not run: the knowledge base was "
                         "deleted", job_id, kb_name)
            except Exception:
                log.exception("job %s of %s could not run", job_id, kb_name)
            else:
                if not self._queued_for(kb_name):  # else once the last of them has run
                    self._after(kb)

    def _queued_for(self, kb_name: str) -> bool:
        """Whether another job of `kb_name` waits in the queue."""
        with self._queue.mutex:
            return any(item is not None and item[0] == kb_name for item in self._queue.queue)

    def _after(self, kb: KnowledgeBase) -> None:
        if self.after_job is None or not kb.exists():  # deleted during the job
            return
        try:
            self.after_job(kb)
        except Exception:  # the job is done; what it prepares is done again when needed
            if kb.exists():  # else deleted meanwhile: nothing to prepare, nothing to say
                log.exception("knowledge base '%s': not prepared for questions after its "
                              "job", kb.name)

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None
