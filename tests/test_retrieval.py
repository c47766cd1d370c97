"""HybridRetriever over a real knowledge base (SQLite FTS5 + FAISS) with a fake embedder."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunk import ChunkerConfig
from qa_service.config import RetrievalSettings
from qa_service.errors import DocumentNotFound, IndexMismatch, InvalidRequest
from qa_service.lexical import LexicalIndex
from qa_service.retrieval import MAX_QUERY_CHARS, HybridRetriever
from qa_service.store.knowledge_base import IndexIdentity, KnowledgeBase
from tests.fakes import HashEmbedder, SourceDocument, make_document, publish

FILLER = "General remarks about procedures, forms, offices and opening hours follow here. "


@pytest.fixture
def corpus(tmp_path: Path, fake_embedder: HashEmbedder, lexical: LexicalIndex):  # type: ignore[no-untyped-def]
    kb = KnowledgeBase.create(tmp_path / "kb", "kb", IndexIdentity(fake_embedder.name,
                                                                   fake_embedder.dimension))
    chunker = ChunkerConfig(target_chars=200, overlap_sentences=0, min_chars=0)

    def build(name: str, *pages: str) -> SourceDocument:
        document = make_document(tmp_path / "src", name, pages, fake_embedder, lexical, chunker)
        publish(kb, document)
        return document

    docs = {
        "zoo": build("zoo.pdf", FILLER * 3 + "The giraffe enclosure opens at nine.",
                     FILLER * 2 + "Penguins are fed twice a day with herring."),
        "bank": build("bank.pdf", FILLER * 2 + "Mortgage rates rose by half a percent.",
                      "Savings accounts pay interest monthly. " + FILLER),
        "ferry": build("ferry.pdf", "The ferry to the island leaves hourly. " + FILLER),
    }
    yield kb, docs
    kb.close()


def retriever(embedder: HashEmbedder, lexical: LexicalIndex, **settings: float
              ) -> HybridRetriever:
    return HybridRetriever(embedder, lexical, RetrievalSettings(**settings))  # type: ignore[arg-type]


def test_passages_are_exact_page_slices_with_their_document(corpus, fake_embedder,  # type: ignore[no-untyped-def]
                                                            lexical) -> None:
    kb, docs = corpus
    passages = retriever(fake_embedder, lexical).search(kb, "When are penguins fed?", 5)
    assert passages[0].document_id == docs["zoo"].info.id
    assert passages[0].filename == "zoo.pdf"
    assert passages[0].page == 2
    assert "Penguins" in passages[0].text
    for p in passages:
        page = kb.catalog.page_text(p.document_id, p.page)
        assert page is not None and page[p.char_start:p.char_end] == p.text
    scores = [p.score for p in passages]
    assert scores == sorted(scores, reverse=True)
    assert len({p.chunk_id for p in passages}) == len(passages)


def test_k_limits_the_passages(corpus, fake_embedder, lexical) -> None:  # type: ignore[no-untyped-def]
    kb, _ = corpus
    search = retriever(fake_embedder, lexical).search
    assert len(search(kb, "procedures and forms", 1)) == 1
    assert len(search(kb, "procedures and forms", 3)) == 3


def test_document_filter(corpus, fake_embedder, lexical) -> None:  # type: ignore[no-untyped-def]
    kb, docs = corpus
    bank = docs["bank"].info.id
    passages = retriever(fake_embedder, lexical).search(kb, "penguins giraffe", 10, [bank])
    assert passages and {p.document_id for p in passages} == {bank}
    assert retriever(fake_embedder, lexical).search(kb, "penguins", 5, []) == []


def test_unknown_document_in_the_filter(corpus, fake_embedder, lexical) -> None:  # type: ignore[no-untyped-def]
    kb, docs = corpus
    with pytest.raises(DocumentNotFound, match="0" * 64):
        retriever(fake_embedder, lexical).search(kb, "ferry", 5,
                                                 [docs["ferry"].info.id, "0" * 64])


def test_lexical_only_ranking_follows_bm25(corpus, fake_embedder, lexical) -> None:  # type: ignore[no-untyped-def]
    kb, _ = corpus
    query = "mortgage rates interest"
    with kb.catalog.snapshot() as conn:
        bm25 = [i for i, _ in lexical.search(conn, query, 50)]
    passages = retriever(fake_embedder, lexical, dense_weight=0).search(kb, query, 10)
    assert [p.chunk_id for p in passages] == bm25[:10]
    assert [p.score for p in passages] == pytest.approx(
        [round(1 / (60 + r), 6) for r in range(1, len(passages) + 1)])


def test_dense_only_ranking_follows_the_vectors(corpus, fake_embedder, lexical) -> None:  # type: ignore[no-untyped-def]
    kb, _ = corpus
    query = "the ferry to the island"
    hits = kb.vectors.search(fake_embedder.embed_queries([query]), 5)[0]
    passages = retriever(fake_embedder, lexical, lexical_weight=0).search(kb, query, 5)
    assert [p.chunk_id for p in passages] == [i for i, _ in hits]


def test_scores_combine_both_rankings(corpus, fake_embedder, lexical) -> None:  # type: ignore[no-untyped-def]
    kb, _ = corpus
    passages = retriever(fake_embedder, lexical).search(kb, "giraffe enclosure", 10)
    assert passages[0].score <= round(2 / 61, 6)
    assert passages[0].score > 1 / 61  # found by both sides


@pytest.mark.parametrize("query", ["", "   \n"])
def test_empty_query_is_refused(corpus, fake_embedder, lexical, query: str) -> None:  # type: ignore[no-untyped-def]
    kb, _ = corpus
    with pytest.raises(InvalidRequest, match="empty"):
        retriever(fake_embedder, lexical).search(kb, query, 5)


def test_too_long_query_is_refused(corpus, fake_embedder, lexical) -> None:  # type: ignore[no-untyped-def]
    kb, _ = corpus
    with pytest.raises(InvalidRequest, match="longer"):
        retriever(fake_embedder, lexical).search(kb, "x" * (MAX_QUERY_CHARS + 1), 5)


@pytest.mark.parametrize("k", [0, -1, 101])
def test_k_out_of_range_is_refused(corpus, fake_embedder, lexical, k: int) -> None:  # type: ignore[no-untyped-def]
    kb, _ = corpus
    with pytest.raises(InvalidRequest, match="between 1 and 100"):
        retriever(fake_embedder, lexical).search(kb, "ferry", k)


def test_stop_word_query_still_finds_dense_matches(corpus, fake_embedder, lexical) -> None:  # type: ignore[no-untyped-def]
    kb, _ = corpus
    assert retriever(fake_embedder, lexical).search(kb, "what is it", 3)


def test_another_model_is_refused(corpus, lexical) -> None:  # type: ignore[no-untyped-def]
    kb, _ = corpus
    with pytest.raises(IndexMismatch, match="qa kb reindex"):
        retriever(HashEmbedder(64, "other"), lexical).search(kb, "ferry", 5)


def test_deleted_documents_never_come_back(corpus, fake_embedder, lexical) -> None:  # type: ignore[no-untyped-def]
    kb, docs = corpus
    zoo = docs["zoo"].info.id
    kb.delete_document(zoo)
    passages = retriever(fake_embedder, lexical).search(kb, "penguins giraffe herring", 100)
    assert zoo not in {p.document_id for p in passages}


def test_a_re_added_document_is_not_counted_twice(corpus, fake_embedder, lexical) -> None:  # type: ignore[no-untyped-def]
    kb, docs = corpus
    ferry = docs["ferry"]
    kb.delete_document(ferry.info.id)
    publish(kb, ferry)  # the same file uploaded again
    passages = retriever(fake_embedder, lexical).search(
        kb, "The ferry to the island leaves hourly.", 3)
    assert passages[0].document_id == ferry.info.id
    # one vote per ranking at most: 1/61 from BM25 plus 1/61 from the dense side
    assert passages[0].score <= round(2 / 61, 6), passages[0]
