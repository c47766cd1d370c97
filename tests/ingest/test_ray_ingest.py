"""Ingestion with the prepare stage on Ray (`ingest.ray_prepare`), on a local Ray cluster of
2 CPUs started for this module: the same documents as without Ray, in order, with the same
outcomes; a worker killed mid-task costs a retry, a file workers die on twice ends `failed`
with a reason, and nothing is ever half-published."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.chunk import ChunkerConfig
from ingest.jobs import run_job
from ingest.misbehaving_workers import MisbehavingWorker
from ingest.parser_pool import ParserLimits, ParserPool
from ingest.pipeline import IngestPipeline
from ingest.ray_prepare import (
    PrepareReply,
    PrepareRequest,
    PrepareWorker,
    RayPreparer,
    WorkerConfig,
)
from ingest.uploads import queue_local_files
from qa_service.config import DEFAULT_EMBEDDING_MODEL
from qa_service.embedding import Embedder
from qa_service.lexical import LexicalIndex
from qa_service.schemas import DocumentStatus
from qa_service.store.knowledge_base import IndexIdentity, KnowledgeBase
from tests.pdfs import encrypted, text_pdf

ray = pytest.importorskip("ray")

CHUNKER = ChunkerConfig(target_chars=200, overlap_sentences=1, min_chars=50)
LIMITS = ParserLimits(max_pages=5)
PAGES = {
    "otters.pdf": ["Otters hold hands while they sleep so they do not drift apart. " * 6,
                   "Sea otters use stones to open shells on their bellies. " * 5],
    "beavers.pdf": ["Beavers build dams from branches and mud. They work at night. " * 5],
    "harbour.pdf": ["The harbour opens at nine and the ferries leave at ten. " * 4,
                    "Tickets cost twelve euros for adults and six for children. " * 4],
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    paths = []
    for name, pages in PAGES.items():
        path = folder / name
        path.write_bytes(text_pdf(pages))
        paths.append(path)
    return paths


def mark(files: list[Path], index: int, prefix: str) -> None:
    """Give `files[index]` a name that tells the misbehaving worker what to do with it."""
    marked = files[index].with_name(f"{prefix}-{files[index].name}")
    files[index].rename(marked)
    files[index] = marked


def preparer(worker: type[PrepareWorker] = PrepareWorker, *args: Any) -> RayPreparer:
    return RayPreparer(WorkerConfig(LIMITS, DEFAULT_EMBEDDING_MODEL, 1, 8), "", 2, worker,
                       *args).start()


def run(tmp_path: Path, name: str, files: list[Path], embedder: Embedder,
        lexical: LexicalIndex, remote: RayPreparer | None) -> KnowledgeBase:
    with ParserPool(LIMITS, size=1) as pool:
        pipeline = IngestPipeline(parsers=pool, embedder=embedder, lexical=lexical,
                                  chunker=CHUNKER, max_file_bytes=1_000_000,
                                  embed_batch_size=8, remote=remote)
        kb = KnowledgeBase.create(tmp_path / name, name, IndexIdentity(
            embedder.name, embedder.dimension, CHUNKER.describe()))
        job_id = queue_local_files(kb, files, by_name=True)
        run_job(pipeline, kb, job_id)
    return kb


def run_on_ray(tmp_path: Path, name: str, files: list[Path], embedder: Embedder,
               lexical: LexicalIndex, worker: type[PrepareWorker] = PrepareWorker,
               *args: Any) -> KnowledgeBase:
    """`run` with the prepare stage on Ray actors of class `worker` (given `args`)."""
    remote = preparer(worker, *args)
    try:
        return run(tmp_path, name, files, embedder, lexical, remote)
    finally:
        remote.close()


def contents(kb: KnowledgeBase) -> dict[str, Any]:
    """What a knowledge base holds, by file name: status, pages, chunks and vectors."""
    held: dict[str, Any] = {}
    with kb.snapshot() as snapshot:
        for info in kb.documents():
            chunk_ids = sorted(c.id for c in kb.catalog.all_chunks()
                               if c.document_id == info.id)
            held[info.filename] = (info.status, info.pages, chunk_ids,
                                   snapshot.vectors_of(chunk_ids))
    return held


def assert_nothing_half_published(kb: KnowledgeBase) -> None:
    committed = set(kb.catalog.all_chunk_ids().tolist())
    assert set(kb.index.store.ids().tolist()) == committed


def test_a_job_on_ray_publishes_what_it_would_without_ray(
        cluster: None, tmp_path: Path, files: list[Path], embedder: Embedder,
        lexical: LexicalIndex) -> None:
    files.append(tmp_path / "in" / "locked.pdf")
    files[-1].write_bytes(encrypted(text_pdf(["secret"]), "pw", "owner"))
    on_ray = run_on_ray(tmp_path, "ray", files, embedder, lexical)
    here = run(tmp_path, "here", files, embedder, lexical, None)
    try:
        ray_job, here_job = on_ray.jobs(1)[0], here.jobs(1)[0]
        assert ray_job.state.value == here_job.state.value == "done"
        ray_files = on_ray.job(ray_job.id).files  # type: ignore[union-attr]
        here_files = here.job(here_job.id).files  # type: ignore[union-attr]
        assert [(f.filename, f.status, f.pages, f.chunks, f.reason) for f in ray_files] == \
            [(f.filename, f.status, f.pages, f.chunks, f.reason) for f in here_files]
        assert [f.status for f in ray_files][:3] == [DocumentStatus.INDEXED] * 3
        assert ray_files[3].status is not DocumentStatus.INDEXED
        ours, theirs = contents(on_ray), contents(here)
        assert ours.keys() == theirs.keys()
        for name, (status, pages, chunk_ids, vectors) in ours.items():
            assert (status, pages, chunk_ids) == theirs[name][:3]
            for chunk_id in chunk_ids:
                np.testing.assert_allclose(vectors[chunk_id], theirs[name][3][chunk_id],
                                           atol=1e-5)
        ray_info = on_ray.job(ray_job.id)
        here_info = here.job(here_job.id)
        assert (ray_info.pages_parsed, ray_info.chunks_embedded) == (  # type: ignore[union-attr]
            here_info.pages_parsed, here_info.chunks_embedded)  # type: ignore[union-attr]
        assert_nothing_half_published(on_ray)
    finally:
        on_ray.close()
        here.close()


def test_a_worker_killed_mid_task_costs_a_retry(
        cluster: None, tmp_path: Path, files: list[Path], embedder: Embedder,
        lexical: LexicalIndex) -> None:
    mark(files, 1, "SLOW")
    started = tmp_path / "started.log"
    started.touch()
    killed: list[int] = []

    def kill_when_started() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not started.read_text():
            time.sleep(0.05)
        pid = int(started.read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    killer = threading.Thread(target=kill_when_started)
    killer.start()
    try:
        kb = run_on_ray(tmp_path, "kb", files, embedder, lexical, MisbehavingWorker, "",
                        str(started), 3.0)
    finally:
        killer.join()
    try:
        job = kb.job(kb.jobs(1)[0].id)
        assert job is not None and job.state.value == "done"
        assert [f.status for f in job.files] == [DocumentStatus.INDEXED] * 3
        attempts = started.read_text().splitlines()
        assert len(attempts) == 2 and attempts[0].split()[0] == str(killed[0])
        assert len(kb.documents()) == 3
        assert_nothing_half_published(kb)
    finally:
        kb.close()


def test_a_file_workers_die_on_twice_ends_failed_and_the_rest_go_on(
        cluster: None, tmp_path: Path, files: list[Path], embedder: Embedder,
        lexical: LexicalIndex) -> None:
    mark(files, 0, "DIE")
    kb = run_on_ray(tmp_path, "kb", files, embedder, lexical, MisbehavingWorker)
    try:
        job = kb.job(kb.jobs(1)[0].id)
        assert job is not None and job.state.value == "done"
        first, *rest = job.files
        assert first.status is DocumentStatus.FAILED
        assert "Ray worker preparing it died 2 times" in first.reason
        assert [f.status for f in rest] == [DocumentStatus.INDEXED] * 2
        assert {d.filename for d in kb.documents()
                if d.status is DocumentStatus.INDEXED} == {"beavers.pdf", "harbour.pdf"}
        assert_nothing_half_published(kb)
    finally:
        kb.close()


def test_a_file_waits_for_a_free_worker_not_behind_a_busy_one(
        cluster: None, tmp_path: Path, files: list[Path]) -> None:
    """Files queued behind a busy actor would die with it and be blamed for its death (a
    flaky CI run once failed an innocent file so); each actor holds one file at a time."""
    mark(files, 0, "SLOW")
    started = tmp_path / "started.log"
    started.touch()
    remote = preparer(MisbehavingWorker, "", str(started), 8.0)
    replies: dict[str, PrepareReply] = {}

    def send(path: Path) -> None:
        request = PrepareRequest(path.name, path.name, path.stat().st_size,
                                 CHUNKER.describe(), "test")
        replies[path.name] = remote.prepare(path, request)

    try:
        slow = threading.Thread(target=send, args=(files[0],))
        slow.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not started.read_text():
            time.sleep(0.05)
        busy = int(started.read_text().split()[0])
        others = [threading.Thread(target=send, args=(path,)) for path in files[1:]]
        for thread in others:
            thread.start()
        for thread in others:
            thread.join()
        assert slow.is_alive(), "the slow file ended before the others: no contention"
        assert {replies[p.name].status for p in files[1:]} == {DocumentStatus.INDEXED}
        assert busy not in {replies[p.name].pid for p in files[1:]}
        slow.join()
        assert replies[files[0].name].pid == busy
    finally:
        remote.close()


def test_a_file_a_worker_dies_on_once_is_indexed_by_the_next(
        cluster: None, tmp_path: Path, files: list[Path], embedder: Embedder,
        lexical: LexicalIndex) -> None:
    mark(files, 2, "DIE")
    markers = tmp_path / "markers"
    markers.mkdir()
    kb = run_on_ray(tmp_path, "kb", files, embedder, lexical, MisbehavingWorker, str(markers))
    try:
        job = kb.job(kb.jobs(1)[0].id)
        assert job is not None
        assert [f.status for f in job.files] == [DocumentStatus.INDEXED] * 3
        assert len(list(markers.iterdir())) == 1
        assert_nothing_half_published(kb)
    finally:
        kb.close()


class _Actor:
    """An actor handle as `RayPreparer` uses it to see whether a dead actor is back."""

    class pid:  # the remote method's name
        @staticmethod
        def remote() -> str:
            return "pid-ref"


def _pool_with(actor: _Actor) -> RayPreparer:
    pool = RayPreparer(WorkerConfig(LIMITS, DEFAULT_EMBEDDING_MODEL), "", 1)
    pool._actors = [actor]  # started, its only actor dead (no cluster needed)
    return pool


def test_a_dead_worker_takes_files_again_only_once_it_answers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A file sent to an actor that Ray is still restarting fails as if it had killed it
    (a CI run once failed an innocent file so): a dead actor is leased again only once it
    answers a call."""
    from ingest import ray_prepare

    answers: list[object] = [RuntimeError("restarting"), RuntimeError("restarting"), 4242]
    asked: list[str] = []

    def get(ref: str, timeout: float | None = None) -> object:
        asked.append(ref)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(ray, "get", get)
    monkeypatch.setattr(ray_prepare, "REVIVE_PAUSE_S", 0.01)
    dead = _Actor()
    pool = _pool_with(dead)
    pool._revive(dead)
    assert pool._lease() is dead  # waits for it
    assert asked == ["pid-ref"] * 3 and not answers


def test_when_no_dead_worker_comes_back_the_file_fails_with_a_reason(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest import ray_prepare
    from ingest.ray_prepare import WorkerDied

    def get(ref: str, timeout: float | None = None) -> object:
        raise RuntimeError("gone")

    monkeypatch.setattr(ray, "get", get)
    monkeypatch.setattr(ray_prepare, "REVIVE_S", 0.2)
    monkeypatch.setattr(ray_prepare, "REVIVE_PAUSE_S", 0.01)
    dead = _Actor()
    pool = _pool_with(dead)
    pool._revive(dead)
    with pytest.raises(WorkerDied, match=r"none came back within 0\.2 s"):
        pool._lease()


def test_without_ray_nothing_imports_it(tmp_path: Path, files: list[Path]) -> None:
    script = (
        "import sys\n"
        "from qa_service.cli import main\n"
        "sys.argv = ['qa', 'ingest', 'kb', sys.argv[1], '--create', '--json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as end:\n"
        "    assert not end.code, end.code\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
        "print('no ray')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env["QA_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run([sys.executable, "-c", script, str(files[0])], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "no ray" in done.stdout
