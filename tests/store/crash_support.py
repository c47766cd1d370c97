"""Support for the crash-safety tests (`test_crash_kills.py`, `test_publish_faults.py`).

- Documents: `Source` (a PDF with words no other document has, and a query that finds
  only it), `make_source`, `broken_source`, and `upload`, which stages them as a job.
- Checks: `assert_consistent` (SQLite, FTS5, FAISS and the files agree on what is
  visible, and leftovers of an interrupted write exist only while `write.unfinished`
  says a writer did not finish), `Searchers` and `assert_documents` (what lexical and
  dense search can and cannot find).
- The child process: `Child` runs `python -m tests.crash_child` on a job and reads its
  events (`ChildRun`), optionally SIGKILLing it after a chosen event; `resume_jobs` does
  what a restarted server does; `opened`, `new_data_dir` and `child_log` are the small
  pieces around them.

Not a test module: pytest collects nothing here. The fixtures the tests share are in
`conftest.py`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import queue
import random
import signal
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
from ingest.jobs import JobRunner
from ingest.pipeline import IngestPipeline
from ingest.uploads import stage_upload
from qa_service.retrieval import HybridRetriever
from qa_service.schemas import DocumentStatus, JobInfo, JobState
from qa_service.store.knowledge_base import UNFINISHED_MARKER, KnowledgeBase
from qa_service.store.registry import KnowledgeBaseRegistry
from tests.crash_child import embedder, identity
from tests.pdfs import text_pdf

__all__ = ["CHILD_TIMEOUT_S", "JOB_TIMEOUT_S", "KB", "ROOT", "SEED", "Child", "ChildRun",
           "Searchers", "Source", "State", "Trigger", "assert_consistent", "assert_documents",
           "broken_source", "child_log", "make_source", "new_data_dir", "opened",
           "private_word", "resume_jobs", "upload", "wait_for_job"]

ROOT = Path(__file__).resolve().parents[2]
KB = "kb"
CHILD_TIMEOUT_S = 60.0
JOB_TIMEOUT_S = 30.0
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
    live = set(kb.index.store.ids().tolist())
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
    found = kb.index.store.vectors_of(np.asarray([c.id for c in chunks], dtype=np.int64))
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
