"""The contract every index backend passes (`qa_service.store.index`), as pytest tests.

A backend's test module subclasses `IndexContract` and gives it the backend to test:

    from qa_service.testing.index_contract import IndexContract

    class TestMyBackend(IndexContract):
        @pytest.fixture
        def backend(self, tmp_path):
            return MyBackend(...)

Every test builds a knowledge base with that backend (`KnowledgeBase.create`), publishes
small documents through the knowledge base's publishing protocol, and reads them back the
way retrieval does (`KnowledgeBase.snapshot`): BM25, nearest vectors, stored vectors and
term statistics, before and after deletes, replacements, failed writes, re-embedding and
reopening. The documents are made here from page texts (`document`), one chunk a page
and one vector a sentence of a hashed bag of words (`HashEmbedder`), so nothing depends on
a model or on the chunker.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from qa_service.schemas import (
    Chunk,
    DocumentInfo,
    DocumentStatus,
    LexicalFields,
    Page,
    PreparedDocument,
)
from qa_service.store.catalog import Catalog, now
from qa_service.store.index import IndexBackend
from qa_service.store.knowledge_base import IndexIdentity, KnowledgeBase

__all__ = ["HashEmbedder", "IndexContract", "document"]

_WORD = re.compile(r"\w+")
DIMENSION = 32


class HashEmbedder:
    """Hashed bag of words, L2-normalized: texts sharing words get similar vectors."""

    def __init__(self, dimension: int = 64, name: str = "fake-hash") -> None:
        self.name = name
        self.dimension = dimension

    def _vector(self, text: str) -> npt.NDArray[np.float32]:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in _WORD.findall(text.casefold()):
            digest = hashlib.sha1(word.encode(), usedforsecurity=False).digest()
            bucket = int.from_bytes(digest[:4], "big")
            vector[bucket % self.dimension] += 1.0
        if not vector.any():
            vector[0] = 1.0
        return vector / np.linalg.norm(vector)

    def embed_passages(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def embed_queries(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return self.embed_passages(texts)


def words(text: str) -> list[str]:
    """The contract's tokens: lowercase words (backends index whatever tokens they get)."""
    return _WORD.findall(text.casefold())


def document(folder: Path, filename: str, pages: Sequence[str], embedder: HashEmbedder,
             identity: str = "", version: str = "") -> PreparedDocument:
    """A publishable document: one chunk a page, one vector a sentence ('.'-ended) of each
    chunk, `identity` as its identity field. `version` gives other chunk ids (as a rebuilt
    document's are)."""
    data = ("%PDF-1.4 stand-in for " + filename + "\n" + "\f".join(pages)).encode()
    doc_id = hashlib.sha256(data).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{doc_id}.pdf"
    path.write_bytes(data)
    base = int(hashlib.sha256((doc_id + version).encode()).hexdigest()[:12], 16) << 8
    chunks = tuple(Chunk(base + n, doc_id, n, 0, len(text), text)
                   for n, text in enumerate(pages, start=1))
    ids: list[int] = []
    sentences: list[str] = []
    for chunk in chunks:
        parts = [s.strip() for s in chunk.text.split(".") if s.strip()] or [chunk.text]
        ids += [chunk.id] * len(parts)
        sentences += parts
    stamp = now()
    info = DocumentInfo(doc_id, filename, DocumentStatus.INDEXED, "", len(pages), len(chunks),
                        len(data), stamp, stamp)
    identity_tokens = " ".join(words(identity))
    fields = tuple(LexicalFields(identity_tokens, "", " ".join(words(c.text))) for c in chunks)
    return PreparedDocument(info, path, tuple(Page(n, t) for n, t in enumerate(pages, 1)),
                            chunks, np.asarray(ids, dtype=np.int64),
                            embedder.embed_passages(sentences), fields, identity_tokens,
                            version)


class IndexContract:
    """Subclass it and give the `backend` fixture (see the module)."""

    @pytest.fixture
    def backend(self) -> IndexBackend:
        raise NotImplementedError("a backend's test class gives the `backend` fixture")

    @pytest.fixture
    def embedder(self) -> HashEmbedder:
        return HashEmbedder(DIMENSION)

    @pytest.fixture
    def kb(self, tmp_path: Path, backend: IndexBackend,
           embedder: HashEmbedder) -> Iterator[KnowledgeBase]:
        identity = IndexIdentity(embedder.name, embedder.dimension)
        base = KnowledgeBase.create(tmp_path / "kb", "kb", identity, backend)
        yield base
        base.close()

    @staticmethod
    def found(kb: KnowledgeBase, embedder: HashEmbedder, text: str,
              document_ids: Sequence[str] | None = None, k: int = 20
              ) -> tuple[set[int], set[int]]:
        """The committed chunks BM25 finds for `text`'s words, and those among the `k`
        nearest vectors to it, as retrieval keeps them (`Snapshot.passages`)."""
        with kb.snapshot() as snapshot:
            lexical = {i for i, _ in snapshot.bm25(words(text), k, document_ids)}
            dense = {i for i, _ in snapshot.nearest(embedder.embed_queries([text]), k,
                                                    document_ids)}
            visible = set(snapshot.passages(lexical | dense))
        return lexical & visible, dense & visible

    # --- publishing and reading ---------------------------------------------------------

    def test_a_published_document_is_found_by_its_words_and_its_vectors(
            self, kb: KnowledgeBase, embedder: HashEmbedder, tmp_path: Path) -> None:
        otters = document(tmp_path / "src", "otters.pdf",
                          ["Otters hold hands while they sleep.", "Rivers carry fish."],
                          embedder)
        trains = document(tmp_path / "src", "trains.pdf", ["Trains leave every hour."],
                          embedder)
        assert kb.publish(otters) and kb.publish(trains)
        first = min(otters.chunk_ids)
        lexical, dense = self.found(kb, embedder, "otters sleep")
        assert lexical == {first}
        assert first in dense
        with kb.snapshot() as snapshot:
            best = snapshot.nearest(embedder.embed_queries(["Otters hold hands while they "
                                                            "sleep"]), 1)
            scored = snapshot.bm25(["otters", "trains"], 10)
        assert best[0][0] == first and best[0][1] == pytest.approx(1.0, abs=1e-4)
        assert {i for i, _ in scored} == {first, *trains.chunk_ids}
        assert all(score > 0 for _, score in scored)

    def test_bm25_ranks_more_occurrences_higher_and_keeps_the_limit(
            self, kb: KnowledgeBase, embedder: HashEmbedder, tmp_path: Path) -> None:
        doc = document(tmp_path / "src", "otters.pdf",
                       ["Otters eat fish. Otters sleep. Otters play.",
                        "One otters was seen near the bank of a long river today.",
                        "Trains leave the station."], embedder)
        kb.publish(doc)
        ids = sorted(doc.chunk_ids)
        with kb.snapshot() as snapshot:
            hits = snapshot.bm25(["otters"], 10)
            assert [i for i, _ in hits] == ids[:2]
            assert hits[0][1] > hits[1][1] > 0
            assert len(snapshot.bm25(["otters", "trains"], 1)) == 1
            assert snapshot.bm25(["otters"], 0) == [] and snapshot.bm25([], 10) == []
            assert snapshot.bm25(['otters" OR "trains', "*", "NEAR(a b)"], 10) == []

    def test_equal_scores_come_in_id_order_even_where_the_limit_cuts_them(
            self, kb: KnowledgeBase, embedder: HashEmbedder, tmp_path: Path) -> None:
        """Chunks that share a vector (as chunks share their context's) and the same words
        score equally; every backend returns them by id, so the same few are kept whichever
        engine searches, whatever order they were published in."""
        docs = [document(tmp_path / "src", f"notice-{n}.pdf",
                         ["Harbour notice for all boats."], embedder) for n in range(30)]
        docs.sort(key=lambda d: -min(d.chunk_ids))  # published against id order
        for doc in docs:
            kb.publish(doc)
        other = document(tmp_path / "src", "other.pdf", ["Boats leave at dawn."], embedder)
        kb.publish(other)
        ids = sorted(min(d.chunk_ids) for d in docs)
        with kb.snapshot() as snapshot:
            for k in (1, 2, 5):
                nearest = snapshot.nearest(embedder.embed_queries(["harbour notice"]), k)
                assert [i for i, _ in nearest] == ids[:k]
                assert len({s for _, s in nearest}) == 1
                assert [i for i, _ in snapshot.bm25(["notice", "harbour"], k)] == ids[:k]
            nearest = snapshot.nearest(embedder.embed_queries(["harbour notice"]), 40)
            assert [i for i, _ in nearest] == [*ids, *other.chunk_ids]

    def test_document_filters_apply_to_words_and_vectors(
            self, kb: KnowledgeBase, embedder: HashEmbedder, tmp_path: Path) -> None:
        a = document(tmp_path / "src", "a.pdf", ["Lemurs eat fruit at dawn."], embedder)
        b = document(tmp_path / "src", "b.pdf", ["Lemurs eat leaves at dusk."], embedder)
        kb.publish(a)
        kb.publish(b)
        lexical, dense = self.found(kb, embedder, "lemurs eat", [b.info.id])
        assert lexical == dense == b.chunk_ids
        lexical, dense = self.found(kb, embedder, "lemurs eat")
        assert lexical == dense == a.chunk_ids | b.chunk_ids

    def test_a_document_s_identity_is_searched_alone(
            self, kb: KnowledgeBase, embedder: HashEmbedder, tmp_path: Path) -> None:
        named = document(tmp_path / "src", "harbour.pdf", ["Total liabilities were 12."],
                         embedder, identity="Harbour Shipping annual report")
        other = document(tmp_path / "src", "other.pdf", ["Harbour views from the deck."],
                         embedder, identity="Deck guide")
        kb.publish(named)
        kb.publish(other)
        with kb.snapshot() as snapshot:
            assert [d for d, _ in snapshot.bm25_documents(["harbour", "shipping"], 10)] \
                == [named.info.id]
            assert snapshot.bm25_documents(["liabilities"], 10) == []

    def test_term_statistics_count_committed_chunks(
            self, kb: KnowledgeBase, embedder: HashEmbedder, tmp_path: Path) -> None:
        doc = document(tmp_path / "src", "zoo.pdf",
                       ["Otters swim.", "Otters and seals swim.", "Seals bark."], embedder)
        kb.publish(doc)
        with kb.snapshot() as snapshot:
            assert snapshot.chunk_count() == 3
            assert snapshot.term_frequencies(["otters", "seals", "bark", "absent"]) == {
                "otters": 2, "seals": 2, "bark": 1}
            assert {"otters", "seals", "swim", "bark", "and"} <= set(snapshot.indexed_terms())

    def test_indexed_terms_come_in_byte_order_whatever_order_they_came_in(
            self, kb: KnowledgeBase, embedder: HashEmbedder, tmp_path: Path) -> None:
        """The cross-lingual bridge samples them by position: every index lists alike."""
        kb.publish(document(tmp_path / "src", "z.pdf", ["Zebras run. 수달은 헤엄친다."],
                            embedder))
        kb.publish(document(tmp_path / "src", "a.pdf", ["Aardvarks dig. 고래는 노래한다."],
                            embedder))
        with kb.snapshot() as snapshot:
            indexed = snapshot.indexed_terms()
        assert {"zebras", "aardvarks", "수달은", "고래는"} <= set(indexed)
        assert indexed == sorted(indexed, key=lambda t: t.encode())

    def test_stored_vectors_are_each_sentence_s_in_order(
            self, kb: KnowledgeBase, embedder: HashEmbedder, tmp_path: Path) -> None:
        doc = document(tmp_path / "src", "zoo.pdf", ["Otters swim. Seals bark. Owls hoot."],
                       embedder)
        kb.publish(doc)
        chunk_id = next(iter(doc.chunk_ids))
        with kb.snapshot() as snapshot:
            stored = snapshot.vectors_of([chunk_id, 12345])
        assert set(stored) == {chunk_id}
        np.testing.assert_allclose(stored[chunk_id], doc.vectors, atol=1e-5)

    # --- changes ------------------------------------------------------------------------

    def test_a_deleted_document_leaves_nothing_to_find(
            self, kb: KnowledgeBase, embedder: HashEmbedder, tmp_path: Path) -> None:
        gone = document(tmp_path / "src", "gone.pdf", ["Walruses doze on ice."], embedder,
                        identity="Walrus almanac")
        kept = document(tmp_path / "src", "kept.pdf", ["Penguins doze on ice."], embedder)
        kb.publish(gone)
        kb.publish(kept)
        assert kb.delete_document(gone.info.id)
        lexical, dense = self.found(kb, embedder, "walruses doze")
        assert lexical == dense == kept.chunk_ids
        with kb.snapshot() as snapshot:
            assert snapshot.bm25(["walruses"], 10) == []
            assert snapshot.bm25_documents(["walrus"], 10) == []
            assert snapshot.term_frequencies(["walruses", "doze"]) == {"doze": 1}
            assert snapshot.chunk_count() == 1
            assert snapshot.vectors_of(sorted(gone.chunk_ids)) == {}

    def test_a_new_version_of_a_file_replaces_the_old_one(
            self, kb: KnowledgeBase, embedder: HashEmbedder, tmp_path: Path) -> None:
        old = document(tmp_path / "src", "menu.pdf", ["Soup costs four euros."], embedder)
        new = document(tmp_path / "src", "menu.pdf", ["Soup costs five euros."], embedder)
        kb.publish(old)
        kb.publish(new)
        lexical, dense = self.found(kb, embedder, "soup costs euros")
        assert lexical == dense == new.chunk_ids
        with kb.snapshot() as snapshot:
            assert snapshot.bm25(["four"], 10) == []
            assert snapshot.vectors_of(sorted(old.chunk_ids)) == {}

    def test_a_rebuilt_document_switches_versions_in_one_commit(
            self, kb: KnowledgeBase, embedder: HashEmbedder, tmp_path: Path) -> None:
        first = document(tmp_path / "src", "guide.pdf", ["Gates open at nine."], embedder,
                         version="v1")
        rebuilt = document(tmp_path / "src", "guide.pdf", ["Gates open at nine."], embedder,
                           version="v2")
        kb.publish(first)
        assert kb.republish(rebuilt)
        lexical, dense = self.found(kb, embedder, "gates open")
        assert lexical == dense == rebuilt.chunk_ids

    def test_a_write_that_fails_before_its_commit_stays_invisible_and_is_collected(
            self, kb: KnowledgeBase, embedder: HashEmbedder, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> None:
        failed = document(tmp_path / "src", "failed.pdf", ["Narwhals sing at night."],
                          embedder)
        later = document(tmp_path / "src", "later.pdf", ["Dolphins sing by day."], embedder)

        def crash(*_args: object, **_kwargs: object) -> None:
            raise OSError("simulated crash before the catalog commit")

        with monkeypatch.context() as patch:
            patch.setattr(Catalog, "insert_indexed", crash)
            with pytest.raises(OSError, match="simulated crash"):
                kb.publish(failed)
        assert self.found(kb, embedder, "narwhals sing") == (set(), set())
        with kb.snapshot() as snapshot:
            assert snapshot.term_frequencies(["narwhals"]) == {}
            assert snapshot.chunk_count() == 0
        kb.publish(later)  # the next writer collects what the failed one left
        with kb.snapshot() as snapshot:
            assert snapshot.vectors_of(sorted(failed.chunk_ids)) == {}
            near = snapshot.nearest(embedder.embed_queries(["Narwhals sing at night"]), 10)
            assert {i for i, _ in near} == later.chunk_ids
            assert snapshot.bm25(["narwhals"], 10) == []

    def test_re_embedding_switches_every_chunk_to_the_new_vectors(
            self, kb: KnowledgeBase, embedder: HashEmbedder, tmp_path: Path) -> None:
        doc = document(tmp_path / "src", "zoo.pdf", ["Otters swim. Seals bark."], embedder)
        kb.publish(doc)
        wider = HashEmbedder(48, "fake-hash-48")

        def embed(chunks: list[Chunk]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
            return (np.asarray([c.id for c in chunks], dtype=np.int64),
                    wider.embed_passages([c.text for c in chunks]))

        assert kb.replace_vectors(embed, IndexIdentity(wider.name, wider.dimension)) == 1
        assert (kb.embedding_model, kb.dimension) == ("fake-hash-48", 48)
        lexical, dense = self.found(kb, wider, "otters swim")
        assert lexical == dense == doc.chunk_ids
        with kb.snapshot() as snapshot:
            assert snapshot.vectors_of(sorted(doc.chunk_ids))[min(doc.chunk_ids)].shape \
                == (1, 48)

    def test_a_reopened_knowledge_base_reads_what_was_committed(
            self, kb: KnowledgeBase, backend: IndexBackend, embedder: HashEmbedder,
            tmp_path: Path) -> None:
        doc = document(tmp_path / "src", "zoo.pdf", ["Otters swim.", "Seals bark."],
                       embedder, identity="Zoo handbook")
        kb.publish(doc)
        kb.close()
        reopened = KnowledgeBase.open(tmp_path / "kb", "kb", backend=backend)
        try:
            lexical, dense = self.found(reopened, embedder, "otters swim")
            assert min(doc.chunk_ids) in lexical & dense
            with reopened.snapshot() as snapshot:
                assert [d for d, _ in snapshot.bm25_documents(["zoo"], 5)] == [doc.info.id]
                assert snapshot.chunk_count() == 2
        finally:
            reopened.close()
