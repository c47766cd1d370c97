from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from ingest.chunk import ChunkerConfig
from ingest.embed import embed_chunks
from qa_service.config import RetrievalSettings
from qa_service.errors import IndexMismatch
from qa_service.lexical import LexicalIndex
from qa_service.retrieval import HybridRetriever
from qa_service.schemas import DocumentStatus, FileOutcome, PreparedDocument
from qa_service.store.approximate import ApproximateSettings
from qa_service.store.catalog import Catalog
from qa_service.store.faiss_index import FaissBackend
from qa_service.store.knowledge_base import IndexIdentity, JobFile, KnowledgeBase
from tests.fakes import HashEmbedder, make_document, publish

FILLER = ("The committee reviewed quarterly figures and agreed on a modest budget. "
          "Members discussed staffing, training and the schedule for the next audit. ")


@pytest.fixture
def kb(tmp_path: Path, fake_embedder: HashEmbedder):  # type: ignore[no-untyped-def]
    identity = IndexIdentity(fake_embedder.name, fake_embedder.dimension,
                             ChunkerConfig().describe())
    base = KnowledgeBase.create(tmp_path / "kb", "kb", identity)
    yield base
    base.close()


@pytest.fixture
def doc(tmp_path: Path, fake_embedder: HashEmbedder, lexical: LexicalIndex):  # type: ignore[no-untyped-def]
    def build(filename: str, *page_texts: str) -> PreparedDocument:
        return make_document(tmp_path / "sources", filename, page_texts, fake_embedder, lexical)
    return build


def lexical_ids(kb: KnowledgeBase, lexical: LexicalIndex, query: str) -> set[int]:
    with kb.snapshot() as snapshot:
        return {i for i, _ in lexical.search(snapshot, query, 100)}


def dense_ids(kb: KnowledgeBase, embedder: HashEmbedder, query: str, k: int = 100) -> list[int]:
    return [i for i, _ in kb.index.store.search(embedder.embed_queries([query]), k)[0]]


def catalog_chunk_ids(kb: KnowledgeBase) -> set[int]:
    return {c.id for c in kb.catalog.all_chunks()}


def test_publish_makes_chunks_searchable(kb: KnowledgeBase, doc, lexical: LexicalIndex,  # type: ignore[no-untyped-def]
                                         fake_embedder: HashEmbedder) -> None:
    manual = doc("manual.pdf", FILLER * 3 + "The pelican mascot wears a scarlet hat.",
                 "Page two explains the refund policy for damaged kayaks.")
    assert publish(kb, manual) is True
    assert lexical_ids(kb, lexical, "pelican mascot") <= manual.chunk_ids
    assert lexical_ids(kb, lexical, "pelican mascot")
    assert lexical_ids(kb, lexical, "kayaks refund") <= manual.chunk_ids
    top = dense_ids(kb, fake_embedder, "refund policy for damaged kayaks", 1)
    assert top and top[0] in manual.chunk_ids
    info = kb.catalog.document(manual.info.id)
    assert info is not None and info.status is DocumentStatus.INDEXED
    assert info.chunks == len(manual.chunks) and info.pages == 2
    assert kb.catalog.page_text(manual.info.id, 2) == manual.pages[1].text
    assert kb.info().documents == 1 and kb.info().chunks == len(manual.chunks)
    assert kb.file_path(manual.info.id).read_bytes() == manual.source.read_bytes()
    assert sorted(kb.index.store.ids().tolist()) == sorted(manual.chunk_ids)


def test_publishing_the_same_document_twice_is_a_no_op(kb: KnowledgeBase, doc) -> None:  # type: ignore[no-untyped-def]
    manual = doc("manual.pdf", "Only one page about otters.")
    assert publish(kb, manual) is True
    assert publish(kb, manual) is False
    assert kb.info().chunks == len(manual.chunks)
    assert len(kb.index.store.ids()) == len(manual.chunks)


def test_same_source_name_replaces_the_old_version(kb: KnowledgeBase, doc,  # type: ignore[no-untyped-def]
                                                   lexical: LexicalIndex,
                                                   fake_embedder: HashEmbedder) -> None:
    old = doc("report.pdf", FILLER + "Version one mentions the walrus budget.")
    new = doc("report.pdf", FILLER + "Version two mentions the narwhal budget.")
    other = doc("other.pdf", "An unrelated memo about the walrus enclosure.")
    publish(kb, old)
    publish(kb, other)
    publish(kb, new)
    assert kb.catalog.document(old.info.id) is None
    assert {d.id for d in kb.catalog.documents()} == {other.info.id, new.info.id}
    assert not lexical_ids(kb, lexical, "walrus budget") & old.chunk_ids
    assert lexical_ids(kb, lexical, "narwhal") <= new.chunk_ids
    assert not set(dense_ids(kb, fake_embedder, "Version one mentions the walrus budget")) & \
        old.chunk_ids
    assert catalog_chunk_ids(kb) == new.chunk_ids | other.chunk_ids
    assert not set(kb.index.store.ids().tolist()) & old.chunk_ids
    assert not kb.file_path(old.info.id).exists()
    assert kb.file_path(new.info.id).exists()
    assert kb.info().documents == 2


def test_delete_document_removes_it_from_every_index(kb: KnowledgeBase, doc,  # type: ignore[no-untyped-def]
                                                     lexical: LexicalIndex,
                                                     fake_embedder: HashEmbedder) -> None:
    keep = doc("keep.pdf", FILLER * 2 + "Keep the iguana feeding schedule.")
    gone = doc("gone.pdf", FILLER * 2 + "Forget the flamingo migration route.",
               "Second page about flamingo feathers.")
    publish(kb, keep)
    publish(kb, gone)
    assert kb.delete_document(gone.info.id) is True
    assert kb.status_of(gone.info.id) is None
    assert kb.catalog.page_text(gone.info.id, 1) is None
    assert not lexical_ids(kb, lexical, "flamingo")
    assert not set(dense_ids(kb, fake_embedder, "flamingo migration route")) & gone.chunk_ids
    assert catalog_chunk_ids(kb) == keep.chunk_ids
    assert not set(kb.index.store.ids().tolist()) & gone.chunk_ids
    assert not kb.file_path(gone.info.id).exists()
    assert kb.delete_document(gone.info.id) is False
    assert lexical_ids(kb, lexical, "iguana") <= keep.chunk_ids


def test_record_outcome_never_overwrites_an_indexed_document(kb: KnowledgeBase, doc) -> None:  # type: ignore[no-untyped-def]
    manual = doc("manual.pdf", "A page about beavers building dams.")
    publish(kb, manual)
    kb.record_outcome(manual.info.id, "manual.pdf", DocumentStatus.NO_TEXT, "no text", 10)
    info = kb.catalog.document(manual.info.id)
    assert info is not None
    assert info.status is DocumentStatus.INDEXED and info.chunks == len(manual.chunks)
    assert catalog_chunk_ids(kb) == manual.chunk_ids


def test_record_outcome_records_and_updates_other_documents(kb: KnowledgeBase) -> None:
    kb.record_outcome("f" * 64, "scan.pdf", DocumentStatus.NO_TEXT, "no text layer", 123, 4)
    info = kb.catalog.document("f" * 64)
    assert info is not None
    assert (info.status, info.reason, info.pages, info.chunks, info.size_bytes) == (
        DocumentStatus.NO_TEXT, "no text layer", 4, 0, 123)
    kb.record_outcome("f" * 64, "scan2.pdf", DocumentStatus.FAILED, "timeout", 123)
    info = kb.catalog.document("f" * 64)
    assert info is not None and info.status is DocumentStatus.FAILED
    assert info.filename == "scan2.pdf" and info.reason == "timeout"
    assert kb.info().documents == 0  # only indexed documents count


def test_indexing_a_document_that_failed_before(kb: KnowledgeBase, doc) -> None:  # type: ignore[no-untyped-def]
    manual = doc("manual.pdf", "Pages about hedgehogs in winter.")
    kb.record_outcome(manual.info.id, "manual.pdf", DocumentStatus.FAILED, "timeout", 5)
    assert publish(kb, manual) is True
    info = kb.catalog.document(manual.info.id)
    assert info is not None and info.status is DocumentStatus.INDEXED
    assert len(kb.catalog.documents()) == 1


def test_failing_job_bookkeeping_rolls_the_publication_back(  # type: ignore[no-untyped-def]
        kb: KnowledgeBase, doc, monkeypatch: pytest.MonkeyPatch) -> None:
    manual = doc("manual.pdf", "A page about lemurs.")

    def fail(*_args: object) -> None:
        raise RuntimeError("job bookkeeping failed")

    monkeypatch.setattr(Catalog, "finish_job_file", fail)
    outcome = FileOutcome("manual.pdf", DocumentStatus.INDEXED, "", manual.info.id)
    with pytest.raises(RuntimeError):
        kb.publish(manual, JobFile("job", 0, outcome))
    assert kb.status_of(manual.info.id) is None
    assert catalog_chunk_ids(kb) == set()


def _crash_while_publishing(kb: KnowledgeBase, document: PreparedDocument,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*_args: object, **_kwargs: object) -> None:
        raise OSError("simulated crash before the catalog commit")

    with monkeypatch.context() as patch:
        patch.setattr(Catalog, "insert_indexed", crash)
        with pytest.raises(OSError, match="simulated crash"):
            publish(kb, document)


def test_crash_before_the_catalog_commit_keeps_the_previous_state(  # type: ignore[no-untyped-def]
        kb: KnowledgeBase, doc, lexical: LexicalIndex, fake_embedder: HashEmbedder,
        monkeypatch: pytest.MonkeyPatch) -> None:
    old = doc("report.pdf", FILLER + "The old report praises the orange tractor.")
    new = doc("report.pdf", FILLER + "The new report condemns the violet submarine.")
    publish(kb, old)
    _crash_while_publishing(kb, new, monkeypatch)

    # the vectors were written, but nothing that reads through the catalog sees them
    assert set(kb.index.store.ids().tolist()) & new.chunk_ids
    for base in (kb, KnowledgeBase.open(kb.root, "kb")):
        assert base.status_of(new.info.id) is None
        old_info = base.catalog.document(old.info.id)
        assert old_info is not None and old_info.status is DocumentStatus.INDEXED
        assert catalog_chunk_ids(base) == old.chunk_ids
        assert lexical_ids(base, lexical, "tractor") <= old.chunk_ids
        assert not lexical_ids(base, lexical, "violet submarine")
        retriever = HybridRetriever(fake_embedder, lexical, RetrievalSettings())
        passages = retriever.search(base, "new report condemns the violet submarine", 10)
        assert passages and {p.document_id for p in passages} == {old.info.id}
        assert base.info().documents == 1
        if base is not kb:
            base.close()


def test_a_retry_after_a_crash_publishes_the_document(  # type: ignore[no-untyped-def]
        kb: KnowledgeBase, doc, fake_embedder: HashEmbedder, lexical: LexicalIndex,
        monkeypatch: pytest.MonkeyPatch) -> None:
    manual = doc("manual.pdf", FILLER + "The retry concerns the turquoise glacier.")
    _crash_while_publishing(kb, manual, monkeypatch)
    assert publish(kb, manual) is True
    assert catalog_chunk_ids(kb) == manual.chunk_ids
    assert sorted(kb.index.store.ids().tolist()) == sorted(manual.chunk_ids)
    assert lexical_ids(kb, lexical, "turquoise glacier") <= manual.chunk_ids
    found = dense_ids(kb, fake_embedder, "turquoise glacier", 10)
    assert len(found) == len(set(found)) and set(found) <= manual.chunk_ids


def test_a_re_added_document_gets_only_its_new_vectors(  # type: ignore[no-untyped-def]
        kb: KnowledgeBase, doc) -> None:
    """Delete a document, then publish the same bytes again with different vectors (as a
    new service version splitting sentences differently would): the old vectors are gone."""
    big = doc("big.pdf", *[f"Page {n} of the big manual. " + FILLER for n in range(1, 11)])
    small = doc("small.pdf", "A single page about the saffron lighthouse.")
    publish(kb, big)
    publish(kb, small)
    assert kb.delete_document(small.info.id)
    changed = dataclasses.replace(small, vectors=np.roll(small.vectors, 5, axis=1))
    assert publish(kb, changed) is True
    old_query = small.vectors[:1]
    hits = dict(kb.index.store.search(old_query, 50)[0])
    (chunk_id,) = small.chunk_ids
    assert hits[chunk_id] == pytest.approx(float(changed.vectors[0] @ old_query[0]), abs=1e-5), \
        "a vector removed with the old document came back"


def test_a_mismatched_embedder_is_refused_with_the_fix(kb: KnowledgeBase) -> None:
    kb.check_embedder("fake-hash", 64)
    with pytest.raises(IndexMismatch) as caught:
        kb.check_embedder("other-model", 384)
    message = caught.value.message
    assert "qa kb reindex kb --model other-model" in message
    assert "QA_EMBEDDING_MODEL=fake-hash" in message
    assert caught.value.http_status == 409
    with pytest.raises(IndexMismatch):
        kb.check_embedder("fake-hash", 32)


def test_an_unknown_format_version_is_refused(kb: KnowledgeBase) -> None:
    path = kb.root / "manifest.json"
    manifest = json.loads(path.read_text("utf-8"))
    manifest["format_version"] = 99
    path.write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(IndexMismatch, match="format 99"):
        KnowledgeBase.open(kb.root, "kb")


def test_replace_vectors_switches_the_model(kb: KnowledgeBase, doc,  # type: ignore[no-untyped-def]
                                            lexical: LexicalIndex) -> None:
    first = doc("a.pdf", FILLER + "Alpha page about copper kettles.")
    second = doc("b.pdf", FILLER * 4 + "Beta page about silver spoons.", "More about spoons.")
    publish(kb, first)
    publish(kb, second)
    old_folder = kb.root / kb.vectors_dir
    small = HashEmbedder(dimension=32, name="fake-hash-32")
    identity = IndexIdentity(small.name, small.dimension, kb.manifest["chunker"])
    done: list[int] = []
    count = kb.replace_vectors(lambda chunks: embed_chunks(small, chunks), identity, batch=2,
                               progress=done.append)
    everything = first.chunk_ids | second.chunk_ids
    assert count == len(everything) == sum(done)
    assert (kb.embedding_model, kb.dimension, kb.index.store.dimension) == ("fake-hash-32", 32, 32)
    assert not old_folder.exists()
    kb.check_embedder("fake-hash-32", 32)
    reopened = KnowledgeBase.open(kb.root, "kb")
    try:
        assert (reopened.embedding_model, reopened.dimension) == ("fake-hash-32", 32)
        assert sorted(reopened.index.store.ids().tolist()) == sorted(everything)
        retriever = HybridRetriever(small, lexical, RetrievalSettings(lexical_weight=0))
        passages = retriever.search(reopened, "silver spoons", 1)
        assert passages[0].document_id == second.info.id
    finally:
        reopened.close()


def test_replace_vectors_failing_midway_keeps_the_old_index(kb: KnowledgeBase, doc,  # type: ignore[no-untyped-def]
                                                            fake_embedder: HashEmbedder
                                                            ) -> None:
    manual = doc("a.pdf", *[f"Page {n}. " + FILLER for n in range(1, 6)])
    publish(kb, manual)
    small = HashEmbedder(dimension=32, name="fake-hash-32")
    calls = []

    def flaky(chunks):  # type: ignore[no-untyped-def]
        calls.append(len(chunks))
        if len(calls) == 2:
            raise RuntimeError("model crashed")
        return embed_chunks(small, chunks)

    with pytest.raises(RuntimeError):
        kb.replace_vectors(flaky, IndexIdentity(small.name, 32), batch=2)
    reopened = KnowledgeBase.open(kb.root, "kb")
    try:
        for base in (kb, reopened):
            base.check_embedder(fake_embedder.name, fake_embedder.dimension)
            assert sorted(base.index.store.ids().tolist()) == sorted(manual.chunk_ids)
            hits = base.index.store.search(fake_embedder.embed_queries(["Page 3."]), 1)
            assert hits[0] and hits[0][0][0] in manual.chunk_ids
    finally:
        reopened.close()


def test_compaction_after_many_deletions_keeps_search_right(  # type: ignore[no-untyped-def]
        kb: KnowledgeBase, doc, fake_embedder: HashEmbedder) -> None:
    docs = [doc(f"d{n}.pdf", f"Document {n} talks about topic{n} in depth. " + FILLER)
            for n in range(6)]
    for d in docs:
        publish(kb, d)
    for d in docs[:4]:
        kb.delete_document(d.info.id)
    manifest = json.loads((kb.root / kb.vectors_dir / "manifest.json").read_text("utf-8"))
    assert len(manifest["removed"]) <= 0.2 * sum(s["count"] for s in manifest["segments"])
    live = docs[4].chunk_ids | docs[5].chunk_ids
    assert set(kb.index.store.ids().tolist()) == live
    top = dense_ids(kb, fake_embedder, "Document 5 talks about topic5 in depth.", 1)
    assert top[0] in docs[5].chunk_ids
    assert np.isin(dense_ids(kb, fake_embedder, "topic1"), list(live)).all()


def test_a_catalog_from_before_ocr_gets_its_ocr_page_counts(kb: KnowledgeBase, doc) -> None:  # type: ignore[no-untyped-def]
    manual = doc("manual.pdf", FILLER * 3)
    publish(kb, dataclasses.replace(manual, info=dataclasses.replace(manual.info, ocr_pages=1)))
    assert kb.catalog.document(manual.info.id).ocr_pages == 1  # type: ignore[union-attr]
    with kb.catalog.transaction() as conn:
        conn.execute("ALTER TABLE documents DROP COLUMN ocr_pages")
        conn.execute("ALTER TABLE job_files DROP COLUMN ocr_pages")
    kb.close()
    old = KnowledgeBase.open(kb.root, "kb")
    try:
        (document,) = old.catalog.documents()
        assert document.ocr_pages == 0  # documents from before were never OCR'd
        columns = {row[1] for row in old.catalog.connection().execute(
            "PRAGMA table_info(job_files)")}
        assert "ocr_pages" in columns
    finally:
        old.close()


def test_rebuild_is_needed_where_this_server_reads_scans_another_way(
        kb: KnowledgeBase) -> None:
    plain = dict(kb.manifest["parser"])
    ocr = {**plain, "ocr": "tesseract-v1:kor+eng:200dpi"}
    assert not KnowledgeBase(kb.name, kb.root, kb.manifest, plain).rebuild_needed
    assert KnowledgeBase(kb.name, kb.root, kb.manifest, ocr).rebuild_needed
    built_with_ocr = {**kb.manifest, "parser": ocr}
    assert not KnowledgeBase(kb.name, kb.root, built_with_ocr, ocr).rebuild_needed
    assert KnowledgeBase(kb.name, kb.root, built_with_ocr,
                         {**ocr, "ocr": "tesseract-v1:eng:300dpi"}).rebuild_needed
    # a server without OCR cannot improve on a build with it
    assert not KnowledgeBase(kb.name, kb.root, built_with_ocr, plain).rebuild_needed


def test_a_knowledge_base_builds_its_approximate_index_when_large_enough(
        tmp_path: Path, fake_embedder: HashEmbedder, doc) -> None:  # type: ignore[no-untyped-def]
    identity = IndexIdentity(fake_embedder.name, fake_embedder.dimension,
                             ChunkerConfig().describe())
    KnowledgeBase.create(tmp_path / "big", "big", identity).close()
    base = KnowledgeBase.open(tmp_path / "big", "big", backend=FaissBackend(
        ApproximateSettings(approximate_from=3, nprobe=64)))
    try:
        base.publish(doc("one.pdf", FILLER + "The pelican mascot wears a scarlet hat."))
        assert not base.build_approximate_index()  # too small yet
        for n in range(3):
            base.publish(doc(f"more-{n}.pdf", FILLER * (n + 1) + f"Appendix {n} lists owls."))
        query = fake_embedder.embed_queries(["pelican scarlet hat"])
        exact = base.index.store.search(query, 5)[0]
        assert base.build_approximate_index()
        listed = json.loads((base.root / base.vectors_dir / "manifest.json").read_text())
        assert listed["approximate"]["kind"] == "ivf-sq8"
        assert not base.build_approximate_index()  # not due again
        found = base.index.store.search(query, 5)[0]  # the same, but for the order of ties
        assert found[0] == exact[0]
        assert [s for _, s in found] == pytest.approx([s for _, s in exact], abs=1e-5)
        base.delete_document(base.catalog.documents()[0].id)  # removed ids: never found
        remaining = catalog_chunk_ids(base)
        assert set(dense_ids(base, fake_embedder, "pelican scarlet hat", 50)) <= remaining
    finally:
        base.close()
