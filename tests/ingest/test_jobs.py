from __future__ import annotations

import fcntl
import io
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ingest.chunk import ChunkerConfig
from ingest.jobs import JobRunner, run_job
from ingest.parser_pool import ParserLimits, ParserPool
from ingest.pipeline import IngestPipeline
from ingest.uploads import queue_local_files, stage_upload
from qa_service.embedding import Embedder
from qa_service.lexical import LexicalIndex
from qa_service.schemas import DocumentStatus, FileOutcome, JobInfo, JobState
from qa_service.store.knowledge_base import IndexIdentity, KnowledgeBase
from qa_service.store.registry import KnowledgeBaseRegistry
from tests.pdfs import text_pdf


@pytest.fixture
def pipeline(pool: ParserPool, embedder: Embedder, lexical: LexicalIndex) -> IngestPipeline:
    return IngestPipeline(parsers=pool, embedder=embedder, lexical=lexical,
                          chunker=ChunkerConfig(), max_file_bytes=10_000_000)


@pytest.fixture
def kb(tmp_path: Path, embedder: Embedder):  # type: ignore[no-untyped-def]
    base = KnowledgeBase.create(tmp_path / "kb", "kb",
                                IndexIdentity(embedder.name, embedder.dimension))
    yield base
    base.close()


def test_a_job_gives_every_file_an_outcome(pipeline: IngestPipeline, kb: KnowledgeBase,
                                           tmp_path: Path) -> None:
    good = tmp_path / "good.pdf"
    good.write_bytes(text_pdf(["Chapter one. " * 40, "Chapter two. " * 40]))
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"not a pdf")
    missing = tmp_path / "missing.pdf"
    job_id = queue_local_files(kb, [good, bad, missing])
    queued = kb.catalog.job(job_id)
    assert queued is not None and queued.state is JobState.QUEUED
    assert [f.status for f in queued.files] == [DocumentStatus.QUEUED] * 3
    heard: list[FileOutcome] = []
    job = run_job(pipeline, kb, job_id, on_file=heard.append)
    assert job is not None and job.state is JobState.DONE
    assert [f.status for f in job.files] == [DocumentStatus.INDEXED, DocumentStatus.INVALID,
                                             DocumentStatus.FAILED]
    assert [f.status for f in heard] == [f.status for f in job.files]
    assert all(f.reason for f in job.files[1:])
    assert (job.files_total, job.files_done) == (3, 3)
    assert job.pages_parsed == 2
    assert job.chunks_embedded == job.files[0].chunks == kb.info().chunks
    assert job.files[0].filename == str(good)


def test_a_job_resumes_at_the_files_without_an_outcome(pipeline: IngestPipeline,
                                                       kb: KnowledgeBase, tmp_path: Path
                                                       ) -> None:
    good = tmp_path / "good.pdf"
    good.write_bytes(text_pdf(["A resumed job indexes this page."]))
    already = tmp_path / "already-done.pdf"  # does not exist: touching it would fail
    job_id = queue_local_files(kb, [already, good])
    with kb.catalog.transaction() as conn:
        kb.catalog.finish_job_file(conn, job_id, 0, FileOutcome(
            str(already), DocumentStatus.INDEXED, "", "a" * 64, 1, 1))
    job = run_job(pipeline, kb, job_id)
    assert job is not None and job.state is JobState.DONE
    assert [f.status for f in job.files] == [DocumentStatus.INDEXED, DocumentStatus.INDEXED]
    assert job.files[0].document_id == "a" * 64
    assert job.files_done == 2


def test_a_job_run_elsewhere_is_not_run_twice(pipeline: IngestPipeline, kb: KnowledgeBase,
                                              tmp_path: Path) -> None:
    good = tmp_path / "good.pdf"
    good.write_bytes(text_pdf(["Locked job."]))
    job_id = queue_local_files(kb, [good])
    lock = kb.root / "uploads" / f"{job_id}.lock"
    with open(lock, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        assert run_job(pipeline, kb, job_id) is None
    job = kb.catalog.job(job_id)
    assert job is not None and job.state is JobState.QUEUED
    assert kb.catalog.unfinished_jobs() == [job_id]


def test_staged_uploads_are_removed_when_the_job_is_done(pipeline: IngestPipeline,
                                                         kb: KnowledgeBase) -> None:
    job_id = stage_upload(kb, [("a.pdf", io.BytesIO(text_pdf(["Staged upload."])))])
    assert any(kb.upload_folder(job_id).iterdir())
    job = run_job(pipeline, kb, job_id)
    assert job is not None and job.files[0].status is DocumentStatus.INDEXED
    assert not kb.upload_folder(job_id).exists()
    assert kb.catalog.unfinished_jobs() == []


def test_a_job_stopped_by_shutdown_stays_queued(embedder: Embedder, lexical: LexicalIndex,
                                                kb: KnowledgeBase, tmp_path: Path) -> None:
    """A closed parser pool (the service stopping) does not judge the file: no outcome
    is recorded, and the job resumes on the next start."""
    good = tmp_path / "good.pdf"
    good.write_bytes(text_pdf(["Parsed after the restart."]))
    pool = ParserPool(ParserLimits(), size=1)
    pool.close()
    stopped = IngestPipeline(parsers=pool, embedder=embedder, lexical=lexical,
                             chunker=ChunkerConfig(), max_file_bytes=10_000_000)
    job_id = queue_local_files(kb, [good])
    job = run_job(stopped, kb, job_id)
    assert job is not None and job.state is JobState.RUNNING
    assert [f.status for f in job.files] == [DocumentStatus.QUEUED]
    assert kb.catalog.unfinished_jobs() == [job_id]


# --- a knowledge base deleted under its job ------------------------------------------------


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(("ingest", "qa_service"))]


WHEN = {"start": (IngestPipeline, "ingest_file"), "parse": (ParserPool, "parse"),
        "publish": (KnowledgeBase, "publish")}


@pytest.mark.parametrize("when", list(WHEN))
def test_a_job_of_a_deleted_knowledge_base_ends_quietly(
        pipeline: IngestPipeline, tmp_path: Path, embedder: Embedder,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    registry = KnowledgeBaseRegistry(tmp_path / "data")
    kb = registry.create("doomed", IndexIdentity(embedder.name, embedder.dimension))
    job_id = stage_upload(kb, [(f"{n}.pdf", io.BytesIO(text_pdf([f"Page of file {n}."])))
                               for n in range(3)])
    owner, method = WHEN[when]
    real = getattr(owner, method)

    def delete_first(*args: Any, **kwargs: Any) -> Any:
        if kb.exists():
            registry.delete("doomed")
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, method, delete_first)
    caplog.set_level(logging.INFO)
    assert run_job(pipeline, kb, job_id) is None
    records = _records(caplog)
    assert [r.levelname for r in records if r.levelno >= logging.WARNING] == []
    assert [r for r in records if r.exc_info] == []
    assert [r.getMessage() for r in records if "cancelled" in r.getMessage()] == [
        f"job {job_id} of knowledge base 'doomed' cancelled: the knowledge base was deleted"]
    assert registry.names() == [] and not kb.root.exists()
    registry.close()


def test_a_queued_job_of_a_deleted_knowledge_base_is_dropped_with_one_line(
        pipeline: IngestPipeline, tmp_path: Path, embedder: Embedder,
        caplog: pytest.LogCaptureFixture) -> None:
    registry = KnowledgeBaseRegistry(tmp_path / "data")
    kb = registry.create("gone", IndexIdentity(embedder.name, embedder.dimension))
    job_id = stage_upload(kb, [("a.pdf", io.BytesIO(text_pdf(["Never ingested."])))])
    registry.delete("gone")
    caplog.set_level(logging.INFO)
    runner = JobRunner(registry, pipeline)
    runner.start()
    runner.submit("gone", job_id)
    runner.stop()
    assert [(r.levelname, r.getMessage()) for r in _records(caplog)] == [
        ("INFO", f"job {job_id} of knowledge base 'gone' not run: the knowledge base was "
                 "deleted")]
    registry.close()


def test_a_job_logs_its_start_and_its_end_with_counts(
        pipeline: IngestPipeline, kb: KnowledgeBase, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    good = tmp_path / "good.pdf"
    good.write_bytes(text_pdf(["Logged page one.", "Logged page two."]))
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"not a pdf")
    job_id = queue_local_files(kb, [good, bad])
    caplog.set_level(logging.INFO)
    run_job(pipeline, kb, job_id)
    lines = [r.getMessage() for r in _records(caplog) if r.name == "ingest.jobs"]
    assert lines[0] == f"job {job_id} of 'kb' started: 2 file(s) to ingest"
    assert re.fullmatch(rf"job {job_id} of 'kb' done in \d+\.\d s: 2 file\(s\): 1 indexed, "
                        r"1 invalid; 2 page\(s\), \d+ chunk\(s\)", lines[1]), lines


def test_the_next_job_removes_staged_files_a_crash_left(pipeline: IngestPipeline,
                                                        kb: KnowledgeBase, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    orphan = kb.upload_folder("0" * 32)  # as a killed upload leaves it: no job, no lock held
    orphan.mkdir()
    (orphan / "00000.pdf").write_bytes(b"%PDF-1.4\n" + b"0" * 1000)
    good = tmp_path / "good.pdf"
    good.write_bytes(text_pdf(["The next job."]))
    caplog.set_level(logging.INFO)
    job = run_job(pipeline, kb, queue_local_files(kb, [good]))
    assert job is not None and job.state is JobState.DONE
    assert not orphan.exists()
    assert any("its upload never finished" in r.getMessage() for r in caplog.records)


class _WatchedPool:
    """The real pool, noting which files were parsed and releasing `parsed_second` once
    the second file's parse is done."""

    def __init__(self, pool: ParserPool, second: Path) -> None:
        self.pool, self.second = pool, second
        self.size = pool.size
        self.parsed: list[str] = []
        self.parsed_second = threading.Event()

    def parse(self, path: Path) -> Any:
        result = self.pool.parse(path)
        self.parsed.append(path.name)
        if path == self.second:
            self.parsed_second.set()
        return result


def _watched_pipeline(pool: ParserPool, second: Path, embedder: Embedder,
                      lexical: LexicalIndex) -> tuple[IngestPipeline, _WatchedPool]:
    """A pipeline parsing through `pool`, watched (`_WatchedPool`)."""
    watched = _WatchedPool(pool, second)
    return IngestPipeline(parsers=watched,  # type: ignore[arg-type]
                          embedder=embedder, lexical=lexical, chunker=ChunkerConfig(),
                          max_file_bytes=10_000_000), watched


def _run_watched(pool: ParserPool, paths: list[Path], watched_path: Path, embedder: Embedder,
                 lexical: LexicalIndex, kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
                 ) -> tuple[JobInfo | None, bool, list[str]]:
    """Run a job of `paths`; whether `watched_path` had been parsed by the time the first
    file's embedding began (it waits up to a minute for it), and the files parsed."""
    pipeline, watched = _watched_pipeline(pool, watched_path, embedder, lexical)
    overlapped: list[bool] = []
    embed = embedder.embed_passages

    def embed_waiting(texts: list[str]) -> Any:
        if not overlapped:  # the first file's embedding
            overlapped.append(watched.parsed_second.wait(timeout=60))
        return embed(texts)

    monkeypatch.setattr(embedder, "embed_passages", embed_waiting)
    job = run_job(pipeline, kb, queue_local_files(kb, paths))
    return job, overlapped == [True], watched.parsed


def _reports(tmp_path: Path, names: tuple[str, ...]) -> list[Path]:
    paths = [tmp_path / f"{name}.pdf" for name in names]
    for n, path in enumerate(paths):
        path.write_bytes(text_pdf([f"Report number {n} on the harvest. " * 30]))
    return paths


def test_the_next_file_is_parsed_while_this_one_is_embedded(
        pool: ParserPool, embedder: Embedder, lexical: LexicalIndex, kb: KnowledgeBase,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _reports(tmp_path, ("first", "second", "third"))
    job, overlapped, parsed = _run_watched(pool, paths, paths[1], embedder, lexical, kb,
                                           monkeypatch)
    assert overlapped  # the second file was parsed while the first was embedded
    assert job is not None and [f.status for f in job.files] == [DocumentStatus.INDEXED] * 3
    assert parsed == ["first.pdf", "second.pdf", "third.pdf"]  # each parsed once


def test_each_parser_worker_parses_a_file_ahead(
        embedder: Embedder, lexical: LexicalIndex, kb: KnowledgeBase, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With two workers, the two files after the one being embedded are parsed meanwhile;
    outcomes still come in the job's order."""
    paths = _reports(tmp_path, ("first", "second", "third", "fourth"))
    with ParserPool(ParserLimits(), size=2) as two:
        job, overlapped, parsed = _run_watched(two, paths, paths[2], embedder, lexical, kb,
                                               monkeypatch)
    assert overlapped  # the third file was parsed while the first was embedded
    assert job is not None and [Path(f.filename).name for f in job.files] == [p.name for p in paths]
    assert [f.status for f in job.files] == [DocumentStatus.INDEXED] * 4
    assert sorted(parsed) == sorted(p.name for p in paths)  # each parsed once


def test_a_worker_done_with_a_short_file_goes_on_to_the_next(
        pool: ParserPool, embedder: Embedder, lexical: LexicalIndex, kb: KnowledgeBase,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two files are parsed ahead per worker: with one worker, the third file is parsed
    while the first is embedded, so a long file does not leave the worker idle."""
    paths = _reports(tmp_path, ("first", "second", "third", "fourth"))
    job, overlapped, parsed = _run_watched(pool, paths, paths[2], embedder, lexical, kb,
                                           monkeypatch)
    assert overlapped
    assert job is not None and [f.status for f in job.files] == [DocumentStatus.INDEXED] * 4
    assert parsed == [p.name for p in paths]  # in order, each once


def test_the_same_file_twice_in_a_job_is_parsed_once(
        pool: ParserPool, embedder: Embedder, lexical: LexicalIndex, kb: KnowledgeBase,
        tmp_path: Path) -> None:
    report = _reports(tmp_path, ("report",))[0]
    pipeline, watched = _watched_pipeline(pool, report, embedder, lexical)
    job = run_job(pipeline, kb, queue_local_files(kb, [report, report, report]))
    assert job is not None
    assert [f.status for f in job.files] == [DocumentStatus.INDEXED] + [
        DocumentStatus.UNCHANGED] * 2
    assert watched.parsed == ["report.pdf"]


def test_a_file_that_would_not_be_parsed_is_not_parsed_ahead(
        pool: ParserPool, embedder: Embedder, lexical: LexicalIndex, kb: KnowledgeBase,
        tmp_path: Path) -> None:
    good = tmp_path / "good.pdf"
    good.write_bytes(text_pdf(["Orchards need pruning in winter. " * 30]))
    not_pdf = tmp_path / "notes.pdf"
    not_pdf.write_bytes(b"plain notes")
    pipeline, watched = _watched_pipeline(pool, not_pdf, embedder, lexical)
    job = run_job(pipeline, kb, queue_local_files(kb, [good, not_pdf, good]))
    assert job is not None
    assert [f.status for f in job.files] == [DocumentStatus.INDEXED, DocumentStatus.INVALID,
                                             DocumentStatus.UNCHANGED]
    assert watched.parsed == ["good.pdf"]


def test_after_each_job_the_runner_prepares_the_knowledge_base(
        pipeline: IngestPipeline, tmp_path: Path, embedder: Embedder,
        caplog: pytest.LogCaptureFixture) -> None:
    """The composition root hands the retriever's `prepare` (the terms questions in the
    other language will need); a failure there is logged and the next job still runs."""
    registry = KnowledgeBaseRegistry(tmp_path / "data")
    kb = registry.create("kb", IndexIdentity(embedder.name, embedder.dimension))
    prepared: list[tuple[str, int]] = []

    def after(done: KnowledgeBase) -> None:
        prepared.append((done.name, done.info().documents))
        if len(prepared) == 1:
            raise RuntimeError("no room for the term vectors")

    first = stage_upload(kb, [("a.pdf", io.BytesIO(text_pdf(["First document."])))])
    second = stage_upload(kb, [("b.pdf", io.BytesIO(text_pdf(["Second document."])))])
    runner = JobRunner(registry, pipeline, after)
    runner.start()
    runner.submit("kb", first)
    deadline = time.monotonic() + 60
    while not prepared and time.monotonic() < deadline:
        time.sleep(0.05)
    runner.submit("kb", second)
    runner.stop()
    assert prepared == [("kb", 1), ("kb", 2)]
    assert "knowledge base 'kb': not prepared for questions after its job" in caplog.text
    job = kb.catalog.job(second)
    assert job is not None and job.state is JobState.DONE
    registry.close()


def test_jobs_queued_together_prepare_their_knowledge_base_once_after_the_last(
        pipeline: IngestPipeline, tmp_path: Path, embedder: Embedder) -> None:
    """Preparing embeds every new term of the knowledge base: done between two queued jobs
    of the same one, it would hold up the second for nothing. Another knowledge base's job
    in between does not delay it."""
    registry = KnowledgeBaseRegistry(tmp_path / "data")
    kb = registry.create("kb", IndexIdentity(embedder.name, embedder.dimension))
    other = registry.create("other", IndexIdentity(embedder.name, embedder.dimension))
    prepared: list[tuple[str, int]] = []
    runner = JobRunner(registry, pipeline,
                       lambda done: prepared.append((done.name, done.info().documents)))
    for n in range(3):
        runner.submit("kb", stage_upload(kb, [(f"{n}.pdf", io.BytesIO(
            text_pdf([f"Document number {n} of the series."])))]))
    runner.submit("other", stage_upload(other, [("x.pdf", io.BytesIO(
        text_pdf(["The other knowledge base."])))]))
    runner.submit("kb", stage_upload(kb, [("last.pdf", io.BytesIO(
        text_pdf(["The last document of the series."])))]))
    runner.start()  # every job queued before the runner takes the first
    runner.stop()
    assert prepared == [("other", 1), ("kb", 4)]
    registry.close()


def test_a_knowledge_base_deleted_during_its_job_is_not_prepared(
        pipeline: IngestPipeline, tmp_path: Path, embedder: Embedder,
        caplog: pytest.LogCaptureFixture) -> None:
    registry = KnowledgeBaseRegistry(tmp_path / "data")
    kb = registry.create("kb", IndexIdentity(embedder.name, embedder.dimension))
    prepared: list[str] = []
    runner = JobRunner(registry, pipeline, lambda done: prepared.append(done.name))
    registry.delete("kb")
    runner._after(kb)  # what the runner does once run_job has returned
    assert prepared == [] and "not prepared" not in caplog.text
    registry.close()
