"""The app shares its data directory with other processes (the CLI, a restarted server)."""

from __future__ import annotations

import io
from pathlib import Path

from fastapi.testclient import TestClient

from ingest.embed import embed_chunks
from ingest.uploads import stage_upload
from qa_service.embedding import Embedder
from qa_service.store.knowledge_base import IndexIdentity
from qa_service.store.registry import KnowledgeBaseRegistry
from tests.api.helpers import assert_error, create_kb, ingest, running_app, search, wait_for_job
from tests.fakes import HashEmbedder
from tests.pdfs import text_pdf


def test_a_job_left_queued_is_resumed_at_startup(tmp_path: Path, embedder: Embedder,
                                                 shared_models: None) -> None:
    data = tmp_path / "data"
    with running_app(data, embedder) as client:
        create_kb(client, "inbox")
    registry = KnowledgeBaseRegistry(data)  # as if a server died right after accepting
    try:
        job_id = stage_upload(registry.open("inbox"), [
            ("queued.pdf", io.BytesIO(text_pdf(["Left in the queue by a crashed server."])))])
    finally:
        registry.close()
    with running_app(data, embedder) as client:
        job = wait_for_job(client, "inbox", job_id)
        assert job["state"] == "done"
        assert job["files"][0]["status"] == "indexed"
        assert search(client, "inbox", "crashed server queue", k=1)[0]["filename"] == \
            "queued.pdf"


def test_a_reindex_by_another_process_is_noticed(client: TestClient, tmp_path: Path) -> None:
    create_kb(client, "shared")
    ingest(client, "shared", [("a.pdf", text_pdf(["A page about marmots."]))])
    assert search(client, "shared", "marmots", k=1)
    other = KnowledgeBaseRegistry(tmp_path / "data")  # e.g. `qa kb reindex` meanwhile
    try:
        small = HashEmbedder(32, "fake-hash-32")
        other.open("shared").replace_vectors(lambda chunks: embed_chunks(small, chunks),
                                             IndexIdentity(small.name, small.dimension))
    finally:
        other.close()
    assert client.get("/kbs/shared").json()["embedding_model"] == "fake-hash-32"
    error = assert_error(client.post("/kbs/shared/search", json={"query": "marmots"}), 409,
                         "index_mismatch")
    assert "fake-hash-32" in error["message"]
