"""Crash safety of ingestion and publishing (issue "Safe to expose", section "Crash safety").

- Rounds of real ingestion jobs in a child process (`tests/crash_child.py`), killed with
  SIGKILL at random (seeded) moments, most of them while a document is being published.
- A fault at each step of the publishing protocol (`indexes/README.md`): an exception in
  this process, and `os._exit` in a child.
- Interrupted jobs are resumed when the job runner starts.

After every failure the knowledge base must open and hold exactly the documents whose
publication committed (every acknowledged one among them), each complete in SQLite, FTS5
and FAISS, and nothing of any other document. Leftovers of an interrupted publication
(vector ids and files the catalog does not know) may stay on disk, never visible, only
while the `write.unfinished` marker says a writer did not finish; the next write removes
them.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import queue
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.embed import embed_chunks
from ingest.jobs import JobRunner, run_job
from ingest.pipeline import IngestPipeline
from ingest.uploads import stage_upload
from qa_service.config import RetrievalSettings
from qa_service.errors import StorageError
from qa_service.lexical import LexicalIndex
from qa_service.retrieval import HybridRetriever
from qa_service.schemas import DocumentStatus, FileOutcome, JobInfo, JobState
from qa_service.store.catalog import Catalog
from qa_service.store.knowledge_base import UNFINISHED_MARKER, KnowledgeBase
from qa_service.store.registry import KnowledgeBaseRegistry
from qa_service.tokens import Tokenizer
from tests.crash_child import EXIT_CODE, STEPS, embedder, identity, inject, light_pipeline, raise_at
from tests.pdfs import text_pdf

ROOT = Path(__file__).resolve().parents[2]
KB = "kb"
CHILD_TIMEOUT_S = 60.0
JOB_TIMEOUT_S = 30.0
ROUNDS = 8
SEED = 20261123

# --- documents -------------------------------------------------------------------------

FILLER = ("The committee reviewed the quarterly figures and agreed on a modest budget. "
          "Members discussed staffing, training and the schedule of the next audit. ")


@dataclass(frozen=True)
class Source:
    """A file to ingest, and a query that only this document answers."""

    name: str
    data: bytes
    probe: str = ""

    @property
    def doc_id(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def private_word(rng: random.Random) -> str:
    return "".join(rng.choice("bdgklmnprstvz") + rng.choice("aeiou") for _ in range(4))


def make_source(rng: random.Random, name: str, pages: int = 2) -> Source:
    """A PDF whose pages each hold words no other document has."""
    texts, probe = [], ""
    for page in range(pages):
        w = [private_word(rng) for _ in range(8)]
        texts.append(f"The {w[0]} of the {w[1]} is {w[2]} and {w[3]}. {FILLER}"
                     f"Page {page + 1} ends where the {w[4]} met {w[5]} near {w[6]} {w[7]}.")
        probe = probe or " ".join(w[:4])
    return Source(name, text_pdf(texts), probe)


def broken_source(name: str) -> Source:
    return Source(name, f"{name} is not a PDF at all\n".encode() * 20)


def upload(kb: KnowledgeBase, sources: Sequence[Source]) -> str:
    return stage_upload(kb, [(s.name, io.BytesIO(s.data)) for s in sources])


# --- checks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    indexed: set[str]  # ids of the documents the catalog shows as indexed
    interrupted: bool  # the marker of a writer that did not finish is there
    leftovers: list[str]  # what only an unfinished writer may leave on disk


def assert_consistent(kb: KnowledgeBase) -> State:
    """SQLite, FTS5, FAISS and the files agree on what is visible; returns what is there."""
    with kb.catalog.snapshot() as conn:
        documents = {row[0]: row[1:] for row in
                     conn.execute("SELECT id, status, pages, chunks FROM documents")}
        chunk_owner = dict(conn.execute("SELECT id, document_id FROM chunks").fetchall())
        postings = {row[0] for row in conn.execute("SELECT rowid FROM chunks_fts")}
        page_counts = dict(conn.execute(
            "SELECT document_id, COUNT(*) FROM pages GROUP BY document_id").fetchall())
    indexed = {d for d, (status, _, _) in documents.items() if status == "indexed"}
    chunks = set(chunk_owner)
    assert postings == chunks, "FTS5 and the chunks table disagree"
    assert set(chunk_owner.values()) <= indexed, "chunks of a document that is not indexed"
    assert set(page_counts) <= indexed, "pages of a document that is not indexed"
    per_document = Counter(chunk_owner.values())
    for doc_id in indexed:
        _, pages, count = documents[doc_id]
        assert count > 0 and per_document[doc_id] == count, f"{doc_id}: partial chunks"
        assert page_counts.get(doc_id) == pages, f"{doc_id}: partial pages"
        stored = kb.file_path(doc_id)
        assert stored.is_file() and hashlib.sha256(stored.read_bytes()).hexdigest() == doc_id
    live = set(kb.vectors.ids().tolist())
    assert chunks <= live, "a visible chunk has no vectors"
    _assert_vectors_are_exactly_the_embeddings(kb)
    leftovers = _leftovers(kb, live - chunks, indexed)
    interrupted = (kb.root / UNFINISHED_MARKER).exists()
    assert interrupted or not leftovers, f"leftovers without an unfinished writer: {leftovers}"
    return State(indexed, interrupted, leftovers)


def _assert_vectors_are_exactly_the_embeddings(kb: KnowledgeBase) -> None:
    """Each chunk has one vector per sentence, in order: no duplicates of an earlier try."""
    chunks = list(kb.catalog.all_chunks())
    ids, vectors = embed_chunks(embedder(), chunks)
    found = kb.vectors.vectors_of(np.asarray([c.id for c in chunks], dtype=np.int64))
    for chunk in chunks:
        expected = vectors[ids == chunk.id]
        assert found[chunk.id].shape == expected.shape, f"chunk {chunk.id}: wrong vector count"
        np.testing.assert_allclose(found[chunk.id], expected, atol=1e-6)


def _leftovers(kb: KnowledgeBase, dead_ids: set[int], indexed: set[str]) -> list[str]:
    """Vector ids and files no committed state refers to; none of them may be visible."""
    with kb.catalog.snapshot() as conn:
        assert kb.catalog.passages(conn, dead_ids) == {}, "a dead vector id is visible"
    folder = kb.root / kb.vectors_dir
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    listed = {segment["file"] for segment in manifest["segments"]}
    present = {p.name for p in folder.iterdir()} - {"manifest.json"}
    assert listed <= present, "a listed vector segment is missing"
    files = {p for p in (kb.root / "files").rglob("*") if p.is_file()}
    unknown = files - {kb.file_path(doc_id) for doc_id in indexed}
    return sorted([f"vector id {i}" for i in dead_ids]
                  + [f"vectors/{name}" for name in present - listed]
                  + [str(p.relative_to(kb.root)) for p in unknown]
                  + [p.name for p in kb.root.glob(".*.tmp")])


@dataclass(frozen=True)
class Searchers:
    lexical: HybridRetriever
    dense: HybridRetriever

    def assert_visible(self, kb: KnowledgeBase, source: Source) -> None:
        for side, retriever in (("lexical", self.lexical), ("dense", self.dense)):
            passages = retriever.search(kb, source.probe, 3)
            assert passages and passages[0].document_id == source.doc_id, \
                f"{source.name}: not found by {side} search"

    def assert_invisible(self, kb: KnowledgeBase, source: Source, indexed: set[str]) -> None:
        assert kb.status_of(source.doc_id) is not DocumentStatus.INDEXED
        assert self.lexical.search(kb, source.probe, 10) == [], f"{source.name} is visible"
        passages = self.dense.search(kb, source.probe, 10)
        assert {p.document_id for p in passages} <= indexed - {source.doc_id}


def assert_documents(kb: KnowledgeBase, searchers: Searchers, visible: Sequence[Source],
                     invisible: Sequence[Source]) -> State:
    state = assert_consistent(kb)
    assert {s.doc_id for s in visible} <= state.indexed
    for source in visible:
        searchers.assert_visible(kb, source)
    for source in invisible:
        searchers.assert_invisible(kb, source, state.indexed)
    return state


# --- the child process -----------------------------------------------------------------


@dataclass
class ChildRun:
    events: list[dict[str, Any]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # when the parent read each event
    returncode: int | None = None

    def acks(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == "ack"]

    def publish_times(self) -> list[float]:
        """Seconds from "publishing X" to the acknowledgement of X, as seen from here."""
        started: dict[str, float] = {}
        spans = []
        for event, at in zip(self.events, self.times, strict=True):
            if event["event"] == "publishing":
                started[event["filename"]] = at
            elif event["event"] == "ack" and event["filename"] in started:
                spans.append(at - started[event["filename"]])
        return spans


Trigger = Callable[[dict[str, Any]], bool]


class Child:
    """`python -m tests.crash_child` running a job; its events are read as they come."""

    def __init__(self, data_dir: Path, job_id: str, log: Path, exit_at: str | None = None
                 ) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
        env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
        command = [sys.executable, "-m", "tests.crash_child", str(data_dir), KB, job_id]
        command += ["--exit-at", exit_at] if exit_at else []
        self.log = log
        with open(log, "ab") as stderr:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env,
                                            stdout=subprocess.PIPE, stderr=stderr)
        self._lines: queue.Queue[tuple[str, float] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for raw in self.process.stdout:
                if raw.endswith(b"\n"):  # a line cut by the kill was never acknowledged
                    self._lines.put((raw.decode("utf-8"), time.monotonic()))
        self._lines.put(None)

    def follow(self, kill_after: Trigger | None = None, delay_s: float = 0.0) -> ChildRun:
        """Read events to the end; SIGKILL the child `delay_s` after the first event
        `kill_after` accepts (if it is still running then)."""
        run = ChildRun()
        deadline = time.monotonic() + CHILD_TIMEOUT_S
        try:
            while (item := self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
                   ) is not None:
                run.events.append(json.loads(item[0]))
                run.times.append(item[1])
                if kill_after is not None and kill_after(run.events[-1]):
                    kill_after = None
                    time.sleep(delay_s)
                    self.process.send_signal(signal.SIGKILL)
            run.returncode = self.process.wait(timeout=CHILD_TIMEOUT_S)
        except queue.Empty:
            pytest.fail(f"the child did not finish in {CHILD_TIMEOUT_S:g} s: {child_log(self.log)}")
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=CHILD_TIMEOUT_S)
            self._reader.join(timeout=CHILD_TIMEOUT_S)
        return run


def wait_for_job(kb: KnowledgeBase, job_id: str) -> JobInfo:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        job = kb.catalog.job(job_id)
        assert job is not None
        if job.state in (JobState.DONE, JobState.FAILED) or time.monotonic() > deadline:
            return job
        time.sleep(0.02)


def resume_jobs(data_dir: Path, pipeline: IngestPipeline, job_id: str) -> tuple[int, JobInfo]:
    """What a restarted server does: start the job runner and resume unfinished jobs."""
    registry = KnowledgeBaseRegistry(data_dir)
    runner = JobRunner(registry, pipeline)
    runner.start()
    try:
        resumed = runner.resume_unfinished()
        job = wait_for_job(registry.open(KB), job_id)
    finally:
        runner.stop()
        registry.close()
    return resumed, job



@contextmanager
def opened(root: Path) -> Iterator[KnowledgeBase]:
    """A fresh instance, as a restarted process would open it."""
    kb = KnowledgeBase.open(root, KB)
    try:
        yield kb
    finally:
        kb.close()


def new_data_dir(path: Path) -> Path:
    registry = KnowledgeBaseRegistry(path)
    registry.create(KB, identity())
    registry.close()
    return path


def child_log(path: Path) -> str:
    return path.read_text("utf-8", errors="replace")[-3000:] if path.exists() else ""


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _one_faiss_thread() -> Iterator[None]:
    """Tiny indexes: OpenMP threads only add overhead, a lot of it on a busy machine."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture(scope="module")
def light_lexical() -> LexicalIndex:
    """English-only documents: the Korean analyser is never loaded."""
    return LexicalIndex(Tokenizer())


@pytest.fixture(scope="module")
def pipeline(light_lexical: LexicalIndex) -> IngestPipeline:
    return light_pipeline(light_lexical)


@pytest.fixture(scope="module")
def searchers(light_lexical: LexicalIndex) -> Searchers:
    model = embedder()
    return Searchers(
        HybridRetriever(model, light_lexical, RetrievalSettings(lexical_weight=1, dense_weight=0)),
        HybridRetriever(model, light_lexical, RetrievalSettings(lexical_weight=0, dense_weight=1)),
    )


# --- SIGKILL at random moments ---------------------------------------------------------


@dataclass
class History:
    """What the rounds published: the version of each name that must be visible, the
    versions it replaced, and how long publishing took (to aim the kills)."""

    current: dict[str, Source] = field(default_factory=dict)
    replaced: list[Source] = field(default_factory=list)
    publish_s: list[float] = field(default_factory=lambda: [0.02])

    def publish(self, sources: Sequence[Source]) -> None:
        for source in sources:
            if source.probe and source.name in self.current:
                self.replaced.append(self.current[source.name])
            if source.probe:
                self.current[source.name] = source


@dataclass(frozen=True)
class Kill:
    where: str
    delay_ms: float
    mid_publish: bool  # it interrupted a write: the marker appeared
    leftovers: int  # vector ids and files that write left behind


def round_sources(rng: random.Random, number: int) -> list[Source]:
    """A new version of report.pdf, three new documents and a file that is no PDF."""
    sources = [make_source(rng, "report.pdf", pages=3),
               *(make_source(rng, f"r{number}-d{i}.pdf") for i in range(3)),
               broken_source(f"r{number}-broken.pdf")]
    rng.shuffle(sources)
    return sources


def kill_moment(rng: random.Random, sources: Sequence[Source], publish_s: list[float]
                ) -> tuple[Trigger, float, str]:
    """Mostly a moment inside a random document's publication (the window that matters),
    sometimes any moment of the job."""
    typical = statistics.median(publish_s)
    if rng.random() < 0.25:
        return (lambda e: e["event"] == "ready"), rng.uniform(0, 0.3), "anywhere"
    name = rng.choice([s.name for s in sources if s.probe])
    return ((lambda e: e["event"] == "publishing" and e["filename"] == name),
            rng.uniform(0, 1.2 * typical), f"publishing {name}")


def kill_during_job(rng: random.Random, data_dir: Path, sources: Sequence[Source],
                    history: History, searchers: Searchers, log: Path) -> tuple[str, Kill]:
    """Run a job over `sources` in a child, SIGKILL it, check what a restart finds."""
    root = data_dir / KB
    with opened(root) as kb:
        job_id = upload(kb, sources)
    was_unfinished = (root / UNFINISHED_MARKER).exists()
    trigger, delay, where = kill_moment(rng, sources, history.publish_s)
    run = Child(data_dir, job_id, log).follow(kill_after=trigger, delay_s=delay)
    assert run.returncode in (-signal.SIGKILL, 0), child_log(log)
    history.publish_s += run.publish_times()
    with opened(root) as kb:
        state = check_after_kill(kb, searchers, job_id, run, sources, history.current)
    mid_publish = state.interrupted and not was_unfinished
    return job_id, Kill(where, round(delay * 1000, 1), mid_publish, len(state.leftovers))


def check_after_kill(kb: KnowledgeBase, searchers: Searchers, job_id: str, run: ChildRun,
                     sources: Sequence[Source], earlier: dict[str, Source]) -> State:
    state = assert_consistent(kb)
    by_name = {s.name: s for s in sources}
    for ack in run.acks():
        source = by_name[ack["filename"]]
        assert ack["document_id"] == source.doc_id
        assert kb.status_of(source.doc_id) is DocumentStatus(ack["status"]), \
            f"acknowledged {source.name} is lost"
    for source in sources:
        if source.probe and source.doc_id in state.indexed:
            searchers.assert_visible(kb, source)
        elif source.probe:
            searchers.assert_invisible(kb, source, state.indexed)
    for name, source in earlier.items():  # the previous state, but for a replaced version
        if name in by_name and by_name[name].doc_id in state.indexed:
            searchers.assert_invisible(kb, source, state.indexed)
        else:
            searchers.assert_visible(kb, source)
    job = kb.catalog.job(job_id)
    assert job is not None
    for outcome in job.files:  # a file's outcome commits with its document, or neither does
        source = by_name[outcome.filename]
        assert (outcome.status is DocumentStatus.INDEXED) is (source.doc_id in state.indexed)
    outcomes = {f.filename: f.status for f in job.files}
    assert all(outcomes[a["filename"]] is DocumentStatus(a["status"]) for a in run.acks())
    return state


def resume_after_kill(data_dir: Path, job_id: str, sources: Sequence[Source],
                      history: History, pipeline: IngestPipeline, searchers: Searchers) -> None:
    """A restart resumes the job to its end: every file gets its outcome."""
    with opened(data_dir / KB) as kb:
        unfinished = kb.catalog.unfinished_jobs()
    resumed, job = resume_jobs(data_dir, pipeline, job_id)
    assert resumed == len(unfinished) and job.state is JobState.DONE, job
    assert {f.filename: f.status for f in job.files} == {
        s.name: DocumentStatus.INDEXED if s.probe else DocumentStatus.INVALID for s in sources}
    history.publish(sources)
    with opened(data_dir / KB) as kb:
        assert_documents(kb, searchers, list(history.current.values()), history.replaced)
        assert not kb.upload_folder(job_id).exists()


@pytest.mark.slow
def test_ingestion_killed_at_random_moments_leaves_a_consistent_knowledge_base(
        tmp_path: Path, pipeline: IngestPipeline, searchers: Searchers) -> None:
    rng = random.Random(SEED)
    data_dir = new_data_dir(tmp_path / "data")
    history = History()
    kills = []
    for number in range(ROUNDS):
        sources = round_sources(rng, number)
        job_id, kill = kill_during_job(rng, data_dir, sources, history, searchers,
                                       tmp_path / f"child-{number}.log")
        kills.append(kill)
        resume_after_kill(data_dir, job_id, sources, history, pipeline, searchers)

    final = make_source(rng, "final.pdf")  # one more publish: every leftover is gone
    with opened(data_dir / KB) as kb:
        job = run_job(pipeline, kb, upload(kb, [final]))
        assert job is not None and job.files[0].status is DocumentStatus.INDEXED
        state = assert_documents(kb, searchers, [*history.current.values(), final],
                                 history.replaced)
        assert not state.interrupted and state.leftovers == []
    mid_publish = [kill for kill in kills if kill.mid_publish]
    print(f"\n{len(kills)} kills, {len(mid_publish)} mid-publish: {kills}")
    assert mid_publish, kills


# --- a fault at each step of the publishing protocol -----------------------------------


@dataclass(frozen=True)
class Base:
    """A knowledge base holding `a` and `report_v1`; `report_v2` replaces `report_v1`."""

    data_dir: Path
    a: Source
    report_v1: Source
    report_v2: Source
    c: Source


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, pipeline: IngestPipeline) -> Base:
    rng = random.Random(SEED + 1)
    a, v1 = make_source(rng, "a.pdf"), make_source(rng, "report.pdf", pages=3)
    v2, c = make_source(rng, "report.pdf", pages=3), make_source(rng, "c.pdf")
    data_dir = new_data_dir(tmp_path_factory.mktemp("base") / "data")
    with opened(data_dir / KB) as kb:
        job = run_job(pipeline, kb, upload(kb, [a, v1]))
        assert job is not None and {f.status for f in job.files} == {DocumentStatus.INDEXED}
    return Base(data_dir, a, v1, v2, c)


@pytest.fixture
def data_dir(base: Base, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(base.data_dir, target)
    return target


def expected_after(base: Base, step: str) -> tuple[list[Source], list[Source]]:
    """(visible, invisible) once publishing `report_v2` stopped at `step`."""
    if step == "after-commit":  # the commit happened: the new version replaced the old
        return [base.a, base.report_v2], [base.report_v1]
    return [base.a, base.report_v1], [base.report_v2]


def finish_with_another_publish(kb: KnowledgeBase, base: Base, pipeline: IngestPipeline,
                                searchers: Searchers, retry: DocumentStatus | None) -> None:
    """A retry of `report_v2` (ending `retry`, if given), then a new document: every
    leftover of the failed publication is gone."""
    sources = [base.c] if retry is None else [base.report_v2, base.c]
    job = run_job(pipeline, kb, upload(kb, sources))
    assert job is not None and job.state is JobState.DONE
    expected = [DocumentStatus.INDEXED] if retry is None else [retry, DocumentStatus.INDEXED]
    assert [f.status for f in job.files] == expected
    state = assert_documents(kb, searchers, [base.a, base.report_v2, base.c], [base.report_v1])
    assert not state.interrupted and state.leftovers == []


@pytest.mark.parametrize("step", STEPS)
def test_an_error_at_a_publishing_step_keeps_the_previous_state(
        step: str, base: Base, data_dir: Path, pipeline: IngestPipeline,
        searchers: Searchers) -> None:
    visible, invisible = expected_after(base, step)
    with opened(data_dir / KB) as kb:
        job_id = upload(kb, [base.report_v2])
        with inject(step, raise_at) as fault:
            job = run_job(pipeline, kb, job_id)
        assert fault.fired
        assert job is not None and job.state is JobState.DONE
        (outcome,) = job.files
        if step == "after-commit":
            assert outcome.status is DocumentStatus.INDEXED, outcome
        else:
            assert outcome.status is DocumentStatus.FAILED and f"at {step}" in outcome.reason
        assert assert_documents(kb, searchers, visible, invisible).interrupted
        with opened(data_dir / KB) as restarted:
            assert_documents(restarted, searchers, visible, invisible)
        retried = DocumentStatus.UNCHANGED if step == "after-commit" else DocumentStatus.INDEXED
        finish_with_another_publish(kb, base, pipeline, searchers, retry=retried)


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_a_publishing_step_keeps_the_previous_state(
        step: str, base: Base, data_dir: Path, pipeline: IngestPipeline, searchers: Searchers,
        tmp_path: Path) -> None:
    visible, invisible = expected_after(base, step)
    with opened(data_dir / KB) as kb:
        job_id = upload(kb, [base.report_v2])
    log = tmp_path / "child.log"
    run = Child(data_dir, job_id, log, exit_at=step).follow()
    assert run.returncode == EXIT_CODE, child_log(log)
    with opened(data_dir / KB) as kb:
        job = kb.catalog.job(job_id)
        assert job is not None and job.state is JobState.RUNNING
        committed = DocumentStatus.INDEXED if step == "after-commit" else DocumentStatus.QUEUED
        assert job.files[0].status is committed
        assert assert_documents(kb, searchers, visible, invisible).interrupted
    resumed, job = resume_jobs(data_dir, pipeline, job_id)
    assert resumed == 1 and job.state is JobState.DONE
    assert job.files[0].status is DocumentStatus.INDEXED
    with opened(data_dir / KB) as kb:
        finish_with_another_publish(kb, base, pipeline, searchers, retry=None)


# --- interrupted jobs ------------------------------------------------------------------


@pytest.mark.slow
def test_a_job_killed_mid_run_is_resumed_when_the_runner_starts(
        tmp_path: Path, pipeline: IngestPipeline, searchers: Searchers) -> None:
    rng = random.Random(SEED + 2)
    sources = [make_source(rng, f"doc{i}.pdf") for i in range(6)]
    data_dir = new_data_dir(tmp_path / "data")
    with opened(data_dir / KB) as kb:
        job_id = upload(kb, sources)
    log = tmp_path / "child.log"
    run = Child(data_dir, job_id, log).follow(kill_after=lambda e: e["event"] == "ack")
    assert run.returncode == -signal.SIGKILL, child_log(log)
    with opened(data_dir / KB) as kb:
        job = kb.catalog.job(job_id)
        assert job is not None and job.state is JobState.RUNNING
        assert DocumentStatus.QUEUED in {f.status for f in job.files}
        assert kb.catalog.unfinished_jobs() == [job_id]
    resumed, job = resume_jobs(data_dir, pipeline, job_id)
    assert resumed == 1 and job.state is JobState.DONE
    assert [f.status for f in job.files] == [DocumentStatus.INDEXED] * len(sources)
    with opened(data_dir / KB) as kb:
        assert_documents(kb, searchers, sources, [])
        assert kb.catalog.unfinished_jobs() == []
        assert not kb.upload_folder(job_id).exists()


def interrupted_job(data_dir: Path, sources: Sequence[Source]) -> str:
    """A job as a killed runner leaves it: running, its first file done, the others not."""
    with opened(data_dir / KB) as kb:
        job_id = upload(kb, sources)
        kb.catalog.set_job_state(job_id, JobState.RUNNING)
        with kb.catalog.transaction() as conn:
            kb.catalog.finish_job_file(conn, job_id, 0, FileOutcome(
                sources[0].name, DocumentStatus.INVALID, "not a PDF", sources[0].doc_id))
    return job_id


def test_a_resumed_job_whose_staged_files_are_gone_ends_with_reasons(
        tmp_path: Path, pipeline: IngestPipeline) -> None:
    rng = random.Random(SEED + 3)
    data_dir = new_data_dir(tmp_path / "data")
    job_id = interrupted_job(data_dir, [broken_source("x.pdf"), make_source(rng, "y.pdf")])
    shutil.rmtree(data_dir / KB / "uploads" / job_id)
    resumed, job = resume_jobs(data_dir, pipeline, job_id)
    assert resumed == 1 and job.state is JobState.DONE
    assert [f.status for f in job.files] == [DocumentStatus.INVALID, DocumentStatus.FAILED]
    assert "cannot read the file" in job.files[1].reason


def test_a_resumed_job_that_cannot_run_is_marked_failed_with_the_reason(
        tmp_path: Path, pipeline: IngestPipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(SEED + 4)
    data_dir = new_data_dir(tmp_path / "data")
    job_id = interrupted_job(data_dir, [broken_source("x.pdf"), make_source(rng, "y.pdf")])

    def unreadable(*_args: object) -> None:
        raise StorageError("the job's files cannot be read")

    monkeypatch.setattr(Catalog, "job_files", unreadable)
    resumed, job = resume_jobs(data_dir, pipeline, job_id)
    assert resumed == 1 and job.state is JobState.FAILED
    assert "the job's files cannot be read" in job.error
    with opened(data_dir / KB) as kb:
        assert kb.catalog.unfinished_jobs() == []
