"""Crash safety of publishing (issue "Safe to expose", section "Crash safety"): a fault at
each step of the publishing protocol (`indexes/README.md`, `STEPS` in
`tests/crash_child.py`): an exception in this process, and `os._exit` in a child.

A knowledge base holds two documents; publishing a new version of one of them stops at
the step. After every fault the knowledge base must open and hold exactly the documents
whose publication committed (the new version only once the catalog commit happened), each
complete in SQLite, FTS5 and FAISS, and nothing of any other document. Leftovers of the
interrupted publication (vector ids and files the catalog does not know) may stay on
disk, never visible, only while the `write.unfinished` marker says a writer did not
finish; the next write removes them. SIGKILL at random moments and interrupted jobs are
in `test_crash_kills.py`; the documents, checks and child process both use are in
`crash_support.py`.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.jobs import run_job
from ingest.pipeline import IngestPipeline
from qa_service.schemas import DocumentStatus, JobState
from qa_service.store.knowledge_base import KnowledgeBase
from tests.crash_child import EXIT_CODE, STEPS, inject, raise_at
from tests.store.crash_support import (
    KB,
    SEED,
    Child,
    Searchers,
    Source,
    assert_documents,
    child_log,
    make_source,
    new_data_dir,
    opened,
    resume_jobs,
    upload,
)

pytestmark = pytest.mark.usefixtures("_one_faiss_thread")


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
