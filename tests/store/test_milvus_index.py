"""The Milvus index beyond the contract (`qa_service.store.milvus_index`): nothing of the
default index is written, BM25 scores as FTS5's do, a deleted knowledge base's collections
go, an interrupted write's rows are collected, and wrong settings are refused clearly."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from qa_service.errors import ConfigurationError, IndexMismatch, StorageError
from qa_service.store.catalog import Catalog
from qa_service.store.faiss_index import FaissBackend
from qa_service.store.index import IndexBackend
from qa_service.store.knowledge_base import IndexIdentity, KnowledgeBase
from qa_service.store.milvus_index import PENDING, MilvusBackend, MilvusConnection
from qa_service.store.registry import KnowledgeBaseRegistry
from qa_service.testing.index_contract import HashEmbedder, document

PAGES = ["Otters hold hands while they sleep. Otters eat fish and crabs.",
         "Seals bark on the rocks; otters swim past them.",
         "The harbour opens at nine. Boats leave for the islands at ten.",
         "Fish markets sell crabs, mussels and fish caught at dawn by the boats."]


@pytest.fixture
def milvus(tmp_path: Path) -> Iterator[MilvusBackend]:
    backend = MilvusBackend(MilvusConnection(uri=str(tmp_path / "milvus.db")))
    yield backend
    backend.close()


def create(root: Path, backend: IndexBackend, embedder: HashEmbedder) -> KnowledgeBase:
    return KnowledgeBase.create(root, "kb", IndexIdentity(embedder.name, embedder.dimension),
                                backend)


def test_no_faiss_segment_or_fts5_posting_is_written(milvus: MilvusBackend,
                                                      tmp_path: Path) -> None:
    embedder = HashEmbedder(32)
    kb = create(tmp_path / "kb", milvus, embedder)
    try:
        kb.publish(document(tmp_path / "src", "zoo.pdf", PAGES, embedder, identity="Zoo"))
        with kb.snapshot() as snapshot:
            assert snapshot.bm25(["otters"], 5)
    finally:
        kb.close()
    assert not any((tmp_path / "kb" / "vectors").iterdir())
    assert not list((tmp_path / "kb").rglob("*.faiss"))
    with sqlite3.connect(tmp_path / "kb" / "catalog.sqlite") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert not any("fts" in table for table in tables)
    assert {"lexical_terms", "lexical_chunks", "lexical_totals"} <= tables


def test_bm25_scores_as_fts5_does_as_the_average_length_drifts(
        milvus: MilvusBackend, tmp_path: Path) -> None:
    """Documents of very different lengths written one after another, and one deleted:
    each chunk was weighed in Milvus at the average length of its time, yet the scores and
    the order (equal scores by id) are FTS5's to the last digits, for chunks and for the
    documents' identities, with and without a document filter."""
    embedder = HashEmbedder(32)
    src = tmp_path / "src"
    docs = [document(src, "zoo.pdf", PAGES, embedder, identity="Harbour zoo"),
            document(src, "long.pdf", [" ".join(PAGES * 6), "Otters. " * 40,
                                       "Crabs and fish, fish and crabs."], embedder,
                     identity="Long harbour survey of the otters"),
            document(src, "short.pdf", ["Otters.", "Fish.", "Otters fish."], embedder,
                     identity="Short zoo notes"),
            document(src, "twin.pdf", ["Otters fish.", "Otters fish."], embedder,
                     identity="Zoo twin")]
    scores = {}
    for name, backend in (("faiss", FaissBackend()), ("milvus", milvus)):
        kb = create(tmp_path / name, backend, embedder)
        try:
            for doc in docs:
                kb.publish(doc)
            kb.delete_document(docs[1].info.id)
            with kb.snapshot() as snapshot:
                scores[name] = (
                    snapshot.bm25(["otters", "fish", "crabs", "the"], 10),
                    snapshot.bm25(["otters", "fish"], 3),
                    snapshot.bm25(["otters", "fish"], 10, [docs[2].info.id, docs[3].info.id]),
                    snapshot.bm25_documents(["harbour", "zoo", "otters"], 5),
                    snapshot.term_frequencies(["otters", "fish", "boats", "no"]))
        finally:
            kb.close()
    for faiss_hits, milvus_hits in zip(scores["faiss"][:4], scores["milvus"][:4], strict=True):
        assert faiss_hits
        assert [c for c, _ in milvus_hits] == [c for c, _ in faiss_hits]
        np.testing.assert_allclose([s for _, s in milvus_hits], [s for _, s in faiss_hits],
                                   rtol=1e-9)
    twins = sorted(docs[3].chunk_ids)  # equal scores: by id
    assert [c for c, _ in scores["milvus"][2] if c in docs[3].chunk_ids] == twins
    assert scores["milvus"][4] == scores["faiss"][4]
    assert scores["milvus"][4]["boats"] == 2 and "no" not in scores["milvus"][4]


def test_rows_kept_before_frequencies_keep_milvus_s_score(milvus: MilvusBackend,
                                                          tmp_path: Path) -> None:
    """A catalog whose term rows have no frequencies (written before they were kept) still
    searches: those rows keep the score Milvus gave them."""
    embedder = HashEmbedder(32)
    kb = create(tmp_path / "kb", milvus, embedder)
    try:
        kb.publish(document(tmp_path / "src", "zoo.pdf", PAGES, embedder, identity="Zoo"))
        with kb.snapshot() as snapshot:
            exact = snapshot.bm25(["otters", "fish"], 10)
        with sqlite3.connect(tmp_path / "kb" / "catalog.sqlite") as conn:
            conn.execute("UPDATE lexical_chunks SET frequencies = NULL")
        with kb.snapshot() as snapshot:
            kept = snapshot.bm25(["otters", "fish"], 10)
    finally:
        kb.close()
    assert [c for c, _ in kept] == [c for c, _ in exact]
    np.testing.assert_allclose([s for _, s in kept], [s for _, s in exact], rtol=1e-4)


def test_a_deleted_knowledge_base_takes_its_collections(milvus: MilvusBackend,
                                                         tmp_path: Path) -> None:
    embedder = HashEmbedder(32)
    registry = KnowledgeBaseRegistry(tmp_path / "data", backend=milvus)
    try:
        kb = registry.create("zoo", IndexIdentity(embedder.name, embedder.dimension))
        kb.publish(document(tmp_path / "src", "zoo.pdf", PAGES, embedder))
        prefix = f"qa_{kb.uid}_"
        assert sum(n.startswith(prefix) for n in milvus.client().list_collections()) == 3
        registry.delete("zoo")
        assert not [n for n in milvus.client().list_collections() if n.startswith(prefix)]
    finally:
        registry.close()


def test_rows_of_a_write_that_died_after_adding_are_collected(
        milvus: MilvusBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sentence vectors were written, then the sparse ones inside the transaction,
    which then failed: the next writer deletes exactly those rows."""
    embedder = HashEmbedder(32)
    kb = create(tmp_path / "kb", milvus, embedder)
    failed = document(tmp_path / "src", "failed.pdf", ["Narwhals sing at night."], embedder)
    later = document(tmp_path / "src", "later.pdf", ["Dolphins sing by day."], embedder)
    try:
        original = kb.index.write

        def write_then_crash(conn: sqlite3.Connection, doc: object) -> None:
            original(conn, doc)  # type: ignore[arg-type]
            raise OSError("simulated crash before the commit")

        with monkeypatch.context() as patch:
            patch.setattr(kb.index, "write", write_then_crash)
            with pytest.raises(OSError):
                kb.publish(failed)
        assert (tmp_path / "kb" / PENDING).exists()
        client = milvus.client()
        index = kb.index
        assert client.query(index.lexical, filter="chunk_id >= 0", output_fields=["chunk_id"])
        with kb.snapshot() as snapshot:  # the rows are there, the catalog hides them
            assert snapshot.passages({i for i, _ in snapshot.bm25(["narwhals"], 5)}) == {}
            assert snapshot.term_frequencies(["narwhals"]) == {}
        kb.publish(later)
        ids = {int(r["chunk_id"]) for r in client.query(
            index.lexical, filter="chunk_id >= 0", output_fields=["chunk_id"])}
        dense = {int(r["chunk_id"]) for r in client.query(
            index.dense, filter="chunk_id >= 0", output_fields=["chunk_id"])}
        assert ids == dense == later.chunk_ids
        assert not (tmp_path / "kb" / PENDING).exists()
    finally:
        kb.close()


def test_a_knowledge_base_of_the_other_engine_is_refused(milvus: MilvusBackend,
                                                          tmp_path: Path) -> None:
    embedder = HashEmbedder(32)
    create(tmp_path / "kb", FaissBackend(), embedder).close()
    with pytest.raises(IndexMismatch, match="QA_INDEX=faiss"):
        KnowledgeBase.open(tmp_path / "kb", "kb", backend=milvus)


def test_settings_that_cannot_work_are_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"\.db or a Milvus server"):
        MilvusBackend(MilvusConnection(uri="milvus-data"))
    unreachable = MilvusBackend(MilvusConnection(uri="http://127.0.0.1:9"))
    with pytest.raises(StorageError, match="cannot connect to Milvus") as caught:
        KnowledgeBase.create(tmp_path / "kb", "kb", IndexIdentity("m", 8), unreachable)
    assert "127.0.0.1:9" not in caught.value.message  # the address is the operator's
    assert "127.0.0.1:9" in (caught.value.detail or "")


def test_the_dense_index_is_exact_on_lite_and_never_hnsw_unless_set(
        milvus: MilvusBackend, tmp_path: Path) -> None:
    """HNSW can lose vectors identical to others, which chunks share; so Milvus Lite gets
    FLAT and a server IVF_SQ8 unless the operator names an index, and each index type gets
    its search breadth unless the operator gives one."""
    lite, server = MilvusConnection(uri="x.db"), MilvusConnection(uri="http://milvus:19530")
    assert (lite.dense_index(), lite.dense_search_params()) == ("FLAT", {})
    assert (server.dense_index(), server.dense_search_params()) == ("IVF_SQ8", {"nprobe": 32})
    named = MilvusConnection(uri="x.db", index_type="hnsw")
    assert (named.dense_index(), named.dense_search_params()) == ("HNSW", {"ef": 1024})
    tuned = MilvusConnection(uri="x.db", index_type="IVF_FLAT", search_params=(("nprobe", 8),))
    assert tuned.dense_search_params() == {"nprobe": 8}
    kb = create(tmp_path / "kb", milvus, HashEmbedder(32))
    try:
        client = milvus.client()
        dense = next(n for n in client.list_collections()
                     if n.startswith("qa_") and n.endswith("_vectors"))
        assert client.describe_index(dense, "vector")["index_type"] == "FLAT"
    finally:
        kb.close()


def test_an_approximate_index_s_hits_are_scored_exactly(tmp_path: Path) -> None:
    """IVF_SQ8 distances are of quantized vectors; a search returns its candidates scored by
    their best stored vector, as FAISS's exact search scores them, and in the same order."""
    embedder = HashEmbedder(32)
    approximate = MilvusBackend(MilvusConnection(uri=str(tmp_path / "milvus.db"),
                                                 index_type="IVF_SQ8"))
    words = " ".join(PAGES).replace(".", "").replace(";", "").replace(",", "").split()
    # more vectors a segment than IVF lists (128), so that its codes are of residuals
    pages = [" ".join(words[(n * 7 + i * 3) % len(words)] for i in range(6)) + "."
             for n in range(400)]
    docs = [document(tmp_path / "src", "many.pdf", pages, embedder)]
    found = {}
    try:
        for name, backend in (("faiss", FaissBackend()), ("milvus", approximate)):
            kb = create(tmp_path / name, backend, embedder)
            try:
                for doc in docs:
                    kb.publish(doc)
                with kb.snapshot() as snapshot:
                    query = embedder.embed_queries(["otters eat crabs at the harbour"])
                    found[name] = snapshot.nearest(query, 5)
            finally:
                kb.close()
    finally:
        approximate.close()
    assert [c for c, _ in found["milvus"]] == [c for c, _ in found["faiss"]]
    np.testing.assert_allclose([s for _, s in found["milvus"]], [s for _, s in found["faiss"]],
                               rtol=1e-6)


def test_a_closed_backend_leaves_the_lite_file_to_another_process(tmp_path: Path) -> None:
    """Milvus Lite's server runs in the process that opened the file until released: a
    closed backend releases it, so a `qa serve` can start after a `qa` command in the same
    script, or a benchmark's server after the benchmark built the knowledge base."""
    uri = str(tmp_path / "milvus.db")
    backend = MilvusBackend(MilvusConnection(uri=uri))
    kb = create(tmp_path / "kb", backend, HashEmbedder(32))
    kb.close()
    backend.close()
    other = subprocess.run(
        [sys.executable, "-c", "import sys; from pymilvus import MilvusClient; "
         "print(len(MilvusClient(uri=sys.argv[1], timeout=10).list_collections()))", uri],
        capture_output=True, text=True, timeout=120, check=False)
    assert other.returncode == 0, other.stderr[-2000:]
    assert other.stdout.strip().splitlines()[-1] == "3"


def test_catalog_counts_chunks_for_both_engines(milvus: MilvusBackend, tmp_path: Path
                                                ) -> None:
    embedder = HashEmbedder(32)
    kb = create(tmp_path / "kb", milvus, embedder)
    try:
        kb.publish(document(tmp_path / "src", "zoo.pdf", PAGES, embedder))
        with kb.catalog.snapshot() as conn:
            assert Catalog.chunk_count(conn) == len(PAGES)
    finally:
        kb.close()


def test_a_creation_that_died_leaves_collections_the_next_start_drops(
        milvus: MilvusBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = HashEmbedder(32)
    registry = KnowledgeBaseRegistry(tmp_path / "data", backend=milvus)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(Catalog, "initialize",
                          lambda *_a, **_k: (_ for _ in ()).throw(OSError("simulated crash")))
            with pytest.raises(OSError, match="simulated crash"):
                registry.create("zoo", IndexIdentity(embedder.name, embedder.dimension))
        [leftover] = (tmp_path / "data").glob(".creating-zoo-*")
        assert any(n.startswith("qa_") for n in milvus.client().list_collections())
        os.utime(leftover, (0, 0))  # older than an hour
        with monkeypatch.context() as patch:  # Milvus unreachable: the folder waits
            patch.setattr(milvus, "remove", lambda _m: (_ for _ in ()).throw(OSError("down")))
            registry.remove_leftovers()
        assert leftover.exists()
        registry.remove_leftovers()
        assert not leftover.exists()
        assert not [n for n in milvus.client().list_collections() if n.startswith("qa_")]
    finally:
        registry.close()
