"""Staged uploads: a deletion of the knowledge base ends an upload with 404, and what a
crash leaves in `uploads/` goes away, while an upload in progress is never touched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.uploads import StagedUpload, job_lock_path, remove_orphaned_uploads
from qa_service.errors import KnowledgeBaseNotFound
from qa_service.schemas import JobState
from qa_service.store.knowledge_base import IndexIdentity, KnowledgeBase
from qa_service.store.registry import KnowledgeBaseRegistry
from tests.pdfs import text_pdf

ROOT = Path(__file__).resolve().parents[2]
IDENTITY = IndexIdentity("fake-hash", 64)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[KnowledgeBaseRegistry]:
    opened = KnowledgeBaseRegistry(tmp_path / "data")
    opened.create("kb", IDENTITY)
    yield opened
    opened.close()


def staging(kb: KnowledgeBase) -> list[str]:
    return sorted(p.name for p in (kb.root / "uploads").iterdir())


# --- a deletion while an upload streams --------------------------------------------------


def test_a_deletion_before_the_next_file_ends_the_upload_with_404(
        registry: KnowledgeBaseRegistry) -> None:
    kb = registry.open("kb")
    with (pytest.raises(KnowledgeBaseNotFound, match="deleted while the upload") as caught,
          StagedUpload(kb) as upload):
        upload.begin_file("one.pdf")
        upload.write(text_pdf(["One."]))
        registry.delete("kb")
        upload.begin_file("two.pdf")
    assert caught.value.http_status == 404 and caught.value.code == "kb_not_found"
    assert not kb.root.exists()  # nothing recreated the deleted folder


def test_a_deletion_before_the_commit_ends_the_upload_with_404(
        registry: KnowledgeBaseRegistry) -> None:
    kb = registry.open("kb")
    with pytest.raises(KnowledgeBaseNotFound), StagedUpload(kb) as upload:
        upload.begin_file("one.pdf")
        upload.write(text_pdf(["One."]))
        registry.delete("kb")
        upload.commit()
    assert not kb.root.exists()


def test_a_deletion_while_one_large_file_streams_is_noticed_before_its_end(
        registry: KnowledgeBaseRegistry) -> None:
    kb = registry.open("kb")
    written = 0
    with pytest.raises(KnowledgeBaseNotFound), StagedUpload(kb) as upload:
        upload.begin_file("large.pdf")
        upload.write(b"%PDF-1.4\n")
        registry.delete("kb")
        for _ in range(50):  # 50 MB the client means to send
            upload.write(b"0" * 1_000_000)
            written += 1
    assert written < 10


def test_an_upload_to_a_knowledge_base_deleted_before_it_began_is_404(
        registry: KnowledgeBaseRegistry) -> None:
    kb = registry.open("kb")
    registry.delete("kb")
    with pytest.raises(KnowledgeBaseNotFound), StagedUpload(kb):
        pass
    assert not kb.root.exists()


# --- staged files a crash left behind ------------------------------------------------------

CHILD = """
import os, signal, sys
from pathlib import Path
from ingest.uploads import StagedUpload
from qa_service.store.knowledge_base import KnowledgeBase
kb = KnowledgeBase.open(Path(sys.argv[1]), "kb")
with StagedUpload(kb) as upload:
    upload.begin_file("partial.pdf")
    upload.write(b"%PDF-1.4\\n" + b"0" * 100_000)
    print(upload.job_id, flush=True)
    if sys.argv[2] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    sys.stdin.readline()  # an upload still streaming, until told to finish
    upload.write(b"1" * 1000)
    upload.commit()
print("committed", flush=True)
"""


def start_uploader(kb: KnowledgeBase, mode: str) -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(kb.root), mode], cwd=ROOT,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    return child, child.stdout.readline().strip()


def test_a_killed_upload_leaves_staged_files_that_the_sweep_removes(
        registry: KnowledgeBaseRegistry) -> None:
    kb = registry.open("kb")
    child, job_id = start_uploader(kb, "kill")
    with child:
        assert child.wait(30) == -signal.SIGKILL
    assert staging(kb) == [job_id, f"{job_id}.lock"]  # what the crash left, with no job
    assert kb.catalog.job(job_id) is None
    assert remove_orphaned_uploads(kb) == 1
    assert staging(kb) == []
    assert remove_orphaned_uploads(kb) == 0


def test_an_upload_in_progress_is_never_removed(registry: KnowledgeBaseRegistry) -> None:
    kb = registry.open("kb")
    child, job_id = start_uploader(kb, "slow")
    with child:
        time.sleep(0.2)
        assert remove_orphaned_uploads(kb) == 0
        assert job_id in staging(kb)
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write("go on\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "committed"
    assert remove_orphaned_uploads(kb) == 0  # queued: its runner will take the files
    job = kb.catalog.job(job_id)
    assert job is not None and job.state is JobState.QUEUED
    assert (kb.upload_folder(job_id) / "00000.pdf").stat().st_size == 100_009 + 1000


def test_the_staged_files_of_a_finished_job_are_removed(registry: KnowledgeBaseRegistry
                                                        ) -> None:
    kb = registry.open("kb")
    with StagedUpload(kb) as upload:
        upload.begin_file("a.pdf")
        upload.write(text_pdf(["A."]))
        job_id = upload.commit()
    kb.catalog.set_job_state(job_id, JobState.DONE)  # as if a crash came before the clean-up
    assert job_lock_path(kb, job_id).exists()
    assert remove_orphaned_uploads(kb) == 1
    assert staging(kb) == []


def test_the_lock_of_an_upload_in_this_process_counts_too(registry: KnowledgeBaseRegistry
                                                          ) -> None:
    kb = registry.open("kb")
    with StagedUpload(kb) as upload:
        upload.begin_file("a.pdf")
        upload.write(b"%PDF-1.4\n")
        assert remove_orphaned_uploads(kb) == 0
        assert upload.folder.is_dir()


def test_leftovers_of_interrupted_deletions_are_removed(registry: KnowledgeBaseRegistry
                                                        ) -> None:
    trash = registry.data_dir / ".deleting-old-1234abcd"
    (trash / "files").mkdir(parents=True)
    (trash / "files" / "x.pdf").write_bytes(b"%PDF")
    fresh = registry.data_dir / ".creating-new-1234abcd"  # maybe being created right now
    fresh.mkdir()
    old = registry.data_dir / ".creating-old-1234abcd"
    old.mkdir()
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    registry.remove_leftovers()
    assert not trash.exists() and not old.exists()
    assert fresh.exists() and registry.names() == ["kb"]
