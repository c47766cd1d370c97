"""Crash safety of ingestion (issue "Safe to expose", section "Crash safety"): kills.

- Rounds of real ingestion jobs in a child process (`tests/crash_child.py`), killed with
  SIGKILL at random (seeded) moments, most of them while a document is being published.
- Interrupted jobs are resumed when the job runner starts.

After every kill the knowledge base must open and hold exactly the documents whose
publication committed (every acknowledged one among them), each complete in SQLite, FTS5
and FAISS, and nothing of any other document. Leftovers of an interrupted publication
(vector ids and files the catalog does not know) may stay on disk, never visible, only
while the `write.unfinished` marker says a writer did not finish; the next write removes
them. A fault at each step of the publishing protocol is in `test_publish_faults.py`; the
documents, checks and child process both use are in `crash_support.py`.
"""

from __future__ import annotations

import random
import shutil
import signal
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ingest.jobs import run_job
from ingest.pipeline import IngestPipeline
from qa_service.errors import StorageError
from qa_service.schemas import DocumentStatus, FileOutcome, JobState
from qa_service.store.catalog import Catalog
from qa_service.store.knowledge_base import UNFINISHED_MARKER, KnowledgeBase
from tests.store.crash_support import (
    KB,
    SEED,
    Child,
    ChildRun,
    Searchers,
    Source,
    State,
    Trigger,
    assert_consistent,
    assert_documents,
    broken_source,
    child_log,
    make_source,
    new_data_dir,
    opened,
    resume_jobs,
    upload,
)

pytestmark = pytest.mark.usefixtures("_one_faiss_thread")

ROUNDS = 8

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
