"""Weighted RRF, and HybridRetriever over a real knowledge base (SQLite FTS5 + FAISS)
with a fake embedder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ingest.chunk import ChunkerConfig
from ingest.parse import ParseResult
from ingest.prepare import DocumentSource, prepare_document
from qa_service.config import RetrievalSettings
from qa_service.errors import DocumentNotFound, IndexMismatch, InvalidRequest
from qa_service.lexical import LexicalIndex
from qa_service.retrieval import (
    MAX_QUERY_CHARS,
    HybridRetriever,
    RankedList,
    fuse_rankings,
    fuse_zscores,
    with_asked_statements,
    with_candidates,
    with_cross_lingual_scores,
    with_document_prior,
    with_named_documents,
)
from qa_service.schemas import DocumentStatus, Page, PreparedDocument
from qa_service.statements import STATEMENTS, statements_asked
from qa_service.store.knowledge_base import IndexIdentity, KnowledgeBase
from tests.fakes import HashEmbedder, make_document, publish


def ranked(ids: list[int], weight: float = 1.0) -> RankedList:
    """Hits best first; the scores only matter to z-score fusion."""
    return RankedList([(i, float(len(ids) - n)) for n, i in enumerate(ids)], weight)


# --- weighted reciprocal rank fusion -------------------------------------------------


def test_rrf_single_ranking_scores_are_weight_over_k_plus_rank() -> None:
    fused = fuse_rankings([ranked([7, 3, 9])], rrf_k=60)
    assert [i for i, _ in fused] == [7, 3, 9]
    assert [s for _, s in fused] == pytest.approx([1 / 61, 1 / 62, 1 / 63])


def test_rrf_scores_add_up_across_rankings_with_weights() -> None:
    fused = dict(fuse_rankings([ranked([1, 2], 2.0), ranked([2, 3], 0.5)], rrf_k=10))
    assert fused[1] == pytest.approx(2.0 / 11)
    assert fused[2] == pytest.approx(2.0 / 12 + 0.5 / 11)
    assert fused[3] == pytest.approx(0.5 / 12)


def test_rrf_ignores_the_scores_themselves() -> None:
    a = fuse_rankings([RankedList([(1, 100.0), (2, 1.0)], 1.0)], rrf_k=60)
    b = fuse_rankings([RankedList([(1, 0.2), (2, 0.1)], 1.0)], rrf_k=60)
    assert a == b


def test_rrf_agreement_beats_a_single_top_rank() -> None:
    fused = fuse_rankings([ranked([1, 2]), ranked([3, 2])], rrf_k=60)
    assert fused[0][0] == 2


def test_rrf_ties_are_broken_by_smaller_id() -> None:
    fused = fuse_rankings([ranked([9, 4]), ranked([4, 9])], rrf_k=60)
    assert [i for i, _ in fused] == [4, 9]
    assert fused[0][1] == pytest.approx(fused[1][1])


@pytest.mark.parametrize("weight", [0.0, -1.0])
def test_rrf_non_positive_weight_ignores_the_ranking(weight: float) -> None:
    fused = fuse_rankings([ranked([1, 2]), ranked([5, 1], weight)], rrf_k=60)
    assert [i for i, _ in fused] == [1, 2]
    assert dict(fused)[1] == pytest.approx(1 / 61)


def test_rrf_k_controls_how_fast_scores_decay() -> None:
    small = fuse_rankings([ranked([1, 2])], rrf_k=1)
    large = fuse_rankings([ranked([1, 2])], rrf_k=1000)
    assert small[0][1] / small[1][1] == pytest.approx(3 / 2)
    assert large[0][1] / large[1][1] == pytest.approx(1002 / 1001)


def test_nothing_to_fuse() -> None:
    assert fuse_rankings([], rrf_k=60) == []
    assert fuse_rankings([RankedList([], 1.0)], rrf_k=60) == []
    assert fuse_zscores([]) == []
    assert fuse_zscores([RankedList([], 1.0)]) == []


# --- z-score fusion ------------------------------------------------------------------


def test_zscore_math() -> None:
    lexical = RankedList([(1, 9.0), (2, 6.0), (3, 3.0)], 0.7)
    dense = RankedList([(2, 0.8), (4, 0.4)], 0.3)
    fused = dict(fuse_zscores([lexical, dense]))
    z_lex = {1: 1.224745, 2: 0.0, 3: -1.224745}  # (v - mean) / population std
    z_dense = {2: 1.0, 4: -1.0}
    assert fused[1] == pytest.approx(0.7 * z_lex[1] + 0.3 * -1.0, abs=1e-5)
    assert fused[2] == pytest.approx(0.7 * z_lex[2] + 0.3 * z_dense[2], abs=1e-5)
    assert fused[3] == pytest.approx(0.7 * z_lex[3] + 0.3 * -1.0, abs=1e-5)
    assert fused[4] == pytest.approx(0.7 * -1.224745 + 0.3 * z_dense[4], abs=1e-5)
    assert [i for i, _ in fuse_zscores([lexical, dense])] == [1, 2, 3, 4]


def test_zscore_is_scale_free_per_list() -> None:
    lexical = [(1, 9.0), (2, 6.0), (3, 3.0)]
    dense = [(2, 0.8), (4, 0.4), (1, 0.1)]
    scaled = [(i, s * 1000 + 5) for i, s in lexical]
    a = fuse_zscores([RankedList(lexical, 0.5), RankedList(dense, 0.5)])
    b = fuse_zscores([RankedList(scaled, 0.5), RankedList(dense, 0.5)])
    assert [i for i, _ in a] == [i for i, _ in b]
    assert [s for _, s in a] == pytest.approx([s for _, s in b])


@pytest.mark.parametrize("weight", [0.0, -1.0])
def test_zscore_non_positive_weight_ignores_the_list(weight: float) -> None:
    fused = fuse_zscores([RankedList([(1, 3.0), (2, 1.0)], 1.0),
                          RankedList([(5, 0.9), (2, 0.8)], weight)])
    assert [i for i, _ in fused] == [1, 2]


def test_zscore_ties_are_broken_by_smaller_id() -> None:
    fused = fuse_zscores([RankedList([(9, 1.0), (4, 1.0)], 1.0)])
    assert [i for i, _ in fused] == [4, 9]


def test_the_document_prior_lifts_a_document_that_matches_throughout() -> None:
    fused = [(1, 2.0), (2, 1.8), (3, 1.7), (4, 1.6), (5, 0.0)]
    documents = {1: "stray", 2: "steady", 3: "steady", 4: "steady", 5: "other"}
    assert with_document_prior(fused, documents, 0.0)[0][0] == 1
    reranked = [cid for cid, _ in with_document_prior(fused, documents, 1.0)]
    assert reranked[:3] == [2, 3, 4] and reranked[-1] == 5
    assert with_document_prior(fused[:1], documents, 1.0) == fused[:1]


def test_a_named_document_is_lifted_by_its_share_of_the_best_match() -> None:
    fused = [(1, 2.0), (2, 1.7), (3, 1.6)]
    documents = {1: "pfizer", 2: "amazon-2019", 3: "amazon-2017"}
    rescored = with_named_documents(fused, documents, {"amazon-2019": 1.0, "amazon-2017": 0.5},
                                    0.5)
    assert [cid for cid, _ in rescored] == [2, 1, 3]
    assert dict(rescored) == pytest.approx({1: 2.0, 2: 2.2, 3: 1.85})
    assert with_named_documents(fused, documents, {}, 0.5) == fused


def test_a_passage_in_another_language_scores_by_its_dense_side() -> None:
    fused = [(1, 1.5), (2, 0.9), (3, -0.4), (4, -0.8)]  # 3 and 4: no BM25 match, z floor
    dense = RankedList([(4, 0.9), (2, 0.5), (3, 0.1), (1, 0.0)], 0.3)
    rescored = dict(with_cross_lingual_scores(fused, dense, {3, 4}, 0.5))
    assert rescored[1] == 1.5 and rescored[2] == 0.9  # same language: unchanged
    assert rescored[4] > rescored[3] and rescored[4] > -0.4  # its meaning now counts
    assert with_cross_lingual_scores(fused, dense, set(), 0.5) == fused


def test_zscore_the_only_hit_of_a_list_still_counts() -> None:
    # BM25 found one chunk (the only one with the query's words); the dense side likes
    # another chunk a little better. Being the sole lexical match must weigh something.
    lexical = RankedList([(1, 12.0)], 0.7)
    dense = RankedList([(2, 0.62), (1, 0.60), (3, 0.20)], 0.3)
    fused = fuse_zscores([lexical, dense])
    assert fused[0][0] == 1, fused


# --- HybridRetriever ---------------------------------------------------------------

FILLER = "General remarks about procedures, forms, offices and opening hours follow here. "


@pytest.fixture
def corpus(tmp_path: Path, fake_embedder: HashEmbedder, lexical: LexicalIndex):  # type: ignore[no-untyped-def]
    kb = KnowledgeBase.create(tmp_path / "kb", "kb", IndexIdentity(fake_embedder.name,
                                                                   fake_embedder.dimension))
    chunker = ChunkerConfig(target_chars=200, overlap_sentences=0, min_chars=0)

    def build(name: str, *pages: str) -> PreparedDocument:
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


def retriever(embedder: HashEmbedder, lexical: LexicalIndex, **settings: float | str
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


def test_the_postings_budget_leaves_common_words_out_of_bm25(corpus, fake_embedder,  # type: ignore[no-untyped-def]
                                                              lexical, monkeypatch) -> None:
    """"procedur" is on every filler chunk, "herring" on one: within a budget of one
    posting BM25 matches the herring alone; the default budget keeps both words."""
    kb, _ = corpus
    kept: list[list[str]] = []
    search = lexical.search

    def spied(postings, query, limit, document_ids=None, also=(), budget=None):  # type: ignore[no-untyped-def]
        kept.append(budget.kept(list(dict.fromkeys(lexical.tokenizer.tokens(query)))))
        return search(postings, query, limit, document_ids, also, budget)

    monkeypatch.setattr(lexical, "search", spied)
    tight = retriever(fake_embedder, lexical, dense_weight=0.0, lexical_postings=1)
    passages = tight.search(kb, "procedures herring", 3)
    assert kept == [["herring"]]
    assert "herring" in passages[0].text
    kept.clear()
    retriever(fake_embedder, lexical, dense_weight=0.0).search(kb, "procedures herring", 3)
    assert kept == [["procedur", "herring"]]


def test_bm25_matches_what_the_question_asks_not_its_instructions(corpus, fake_embedder,  # type: ignore[no-untyped-def]
                                                                   lexical, monkeypatch
                                                                   ) -> None:
    """"Answer using the procedures and forms of the offices." tells the answerer how to
    answer: its words are on every filler chunk, and BM25 would rank those with the
    penguins' page; it matches the asked part alone."""
    kb, docs = corpus
    queries: list[str] = []
    search = lexical.search

    def spied(postings, query, limit, document_ids=None, also=(), budget=None):  # type: ignore[no-untyped-def]
        queries.append(query)
        return search(postings, query, limit, document_ids, also, budget)

    monkeypatch.setattr(lexical, "search", spied)
    question = "When are penguins fed? Answer using the procedures and forms of the offices."
    passages = retriever(fake_embedder, lexical, dense_weight=0.0).search(kb, question, 3)
    assert queries == ["When are penguins fed?"]
    assert passages[0].document_id == docs["zoo"].info.id and "Penguins" in passages[0].text
    assert len(passages) == 1  # no filler chunk holds an asked word


@pytest.mark.parametrize("fusion", ["zscore", "rrf"])
def test_lexical_only_ranking_follows_bm25(corpus, fake_embedder, lexical, fusion: str  # type: ignore[no-untyped-def]
                                           ) -> None:
    kb, _ = corpus
    query = "mortgage rates interest"
    with kb.snapshot() as snapshot:
        bm25 = dict(lexical.search(snapshot, query, 50))
    passages = retriever(fake_embedder, lexical, lexical_weight=1, dense_weight=0,
                         fusion=fusion).search(kb, query, 10)
    assert len(passages) == min(10, len(bm25)) > 1
    ranked_scores = [bm25[p.chunk_id] for p in passages]  # only BM25 hits, best first
    assert ranked_scores == sorted(ranked_scores, reverse=True)
    assert ranked_scores[0] == max(bm25.values())
    if fusion == "rrf":
        assert [p.score for p in passages] == pytest.approx(
            [round(1 / (60 + r), 6) for r in range(1, len(passages) + 1)])


@pytest.mark.parametrize("fusion", ["zscore", "rrf"])
def test_dense_only_ranking_follows_the_vectors(corpus, fake_embedder, lexical, fusion: str  # type: ignore[no-untyped-def]
                                                ) -> None:
    kb, _ = corpus
    query = "the ferry to the island"
    hits = dict(kb.index.store.search(fake_embedder.embed_queries([query]), 100)[0])
    passages = retriever(fake_embedder, lexical, lexical_weight=0, fusion=fusion).search(
        kb, query, 5)
    ranked_scores = [hits[p.chunk_id] for p in passages]
    assert len(passages) == 5
    assert ranked_scores == sorted(ranked_scores, reverse=True)
    assert ranked_scores[0] == pytest.approx(max(hits.values()))


def test_rrf_scores_combine_both_rankings(corpus, fake_embedder, lexical) -> None:  # type: ignore[no-untyped-def]
    kb, _ = corpus
    passages = retriever(fake_embedder, lexical, fusion="rrf", lexical_weight=1,
                         dense_weight=1).search(kb, "giraffe enclosure", 10)
    assert passages[0].score <= round(2 / 61, 6)
    assert passages[0].score > 1 / 61  # found by both sides


def test_the_default_fusion_puts_the_exact_match_first(corpus, fake_embedder, lexical) -> None:  # type: ignore[no-untyped-def]
    kb, docs = corpus
    passages = retriever(fake_embedder, lexical).search(kb, "giraffe enclosure", 3)
    assert passages[0].document_id == docs["zoo"].info.id
    assert "giraffe" in passages[0].text


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
    passages = retriever(fake_embedder, lexical, fusion="rrf", lexical_weight=1,
                         dense_weight=1).search(kb, "The ferry to the island leaves hourly.", 3)
    assert passages[0].document_id == ferry.info.id
    # one vote per ranking at most: 1/61 from BM25 plus 1/61 from the dense side
    assert passages[0].score <= round(2 / 61, 6), passages[0]


@pytest.fixture
def filings(tmp_path: Path, fake_embedder: HashEmbedder, lexical: LexicalIndex):  # type: ignore[no-untyped-def]
    """Two companies' statements that never name the company on the page."""
    kb = KnowledgeBase.create(tmp_path / "filings", "filings",
                              IndexIdentity(fake_embedder.name, fake_embedder.dimension))
    statement = ("Total current liabilities 5,466,312 4,586,657. Total assets 19,012,742. "
                 "Net income attributable to shareholders 558,929. ")
    docs = {}
    for name, identity in (("a.pdf", "ORCHARD FOODS 2017 10K"),
                           ("b.pdf", "HARBOUR SHIPPING 2019 10K")):
        docs[name] = make_document(tmp_path / "src", name, [FILLER, statement + name],
                                   fake_embedder, lexical, identity=identity)
        publish(kb, docs[name])
    yield kb, docs
    kb.close()


@pytest.mark.parametrize("company", ["Harbour Shipping", "Orchard Foods"])
def test_the_document_a_question_names_comes_first(filings, fake_embedder, lexical,  # type: ignore[no-untyped-def]
                                                    company: str) -> None:
    kb, docs = filings
    wanted = docs["b.pdf" if company.startswith("Harbour") else "a.pdf"].info.id
    query = f"What were {company}'s total current liabilities?"
    first = retriever(fake_embedder, lexical).search(kb, query, 3)[0]
    assert first.document_id == wanted and first.page == 2
    with kb.snapshot() as snapshot:
        named = lexical.search_documents(snapshot, query, 10)
    assert [doc for doc, _ in named] == [wanted]
    # and the answerer is told which document the question names
    assert retriever(fake_embedder, lexical).evidence(kb, query, 3).named == {wanted: 1.0}


def test_named_documents_respect_the_document_filter(filings, fake_embedder, lexical) -> None:  # type: ignore[no-untyped-def]
    kb, docs = filings
    only = docs["a.pdf"].info.id
    passages = retriever(fake_embedder, lexical).search(
        kb, "Harbour Shipping total current liabilities", 5, [only])
    assert passages and {p.document_id for p in passages} == {only}


def test_a_deleted_document_is_no_longer_named(filings, lexical) -> None:  # type: ignore[no-untyped-def]
    kb, docs = filings
    kb.delete_document(docs["b.pdf"].info.id)
    with kb.snapshot() as snapshot:
        assert lexical.search_documents(snapshot, "Harbour Shipping", 10) == []


def test_evidence_hands_an_answerer_the_passages_their_sentences_and_vectors(  # type: ignore[no-untyped-def]
        corpus, fake_embedder, lexical) -> None:
    kb, _ = corpus
    hybrid = retriever(fake_embedder, lexical)
    evidence = hybrid.evidence(kb, "  When are penguins fed?  ", 3)
    assert evidence.question == "When are penguins fed?"
    assert evidence.passages == hybrid.search(kb, "When are penguins fed?", 3)
    for item in evidence.items:
        assert item.sentences and all(0 <= a < b <= len(item.passage.text)
                                      for a, b in item.sentences)
        assert item.vectors is not None and len(item.vectors) == len(item.sentences)
        assert item.context == ""  # these stand-in documents have none
    assert evidence.terms.chunks > 0 and evidence.query_vector.shape == (fake_embedder.dimension,)
    assert evidence.encode is not None
    assert evidence.encode(["a line", "another"]).shape == (2, fake_embedder.dimension)
    assert evidence.overview == ()


def test_an_overview_brings_the_first_passages_document_in_reading_order(  # type: ignore[no-untyped-def]
        corpus, fake_embedder, lexical) -> None:
    kb, docs = corpus
    hybrid = retriever(fake_embedder, lexical)
    evidence = hybrid.overview(kb, hybrid.evidence(kb, "When are penguins fed?", 2))
    zoo = docs["zoo"]
    assert [p.chunk_id for p in evidence.overview] == [c.id for c in zoo.chunks]
    assert all(p.document_id == zoo.info.id and p.filename == "zoo.pdf"
               for p in evidence.overview)
    pages = [(p.page, p.char_start) for p in evidence.overview]
    assert pages == sorted(pages)
    with kb.catalog.snapshot() as conn:
        assert kb.catalog.contexts(conn, [c.id for c in zoo.chunks]) == {
            c.id: "" for c in zoo.chunks}
        assert kb.catalog.contexts(conn, []) == {}


# --- a financial statement asked for by name -----------------------------------------


def test_an_asked_statement_is_lifted_in_the_named_documents_only() -> None:
    fused = [(1, 3.0), (2, 1.0), (3, 0.5), (4, 0.2)]
    balance = f"NETFLIX 2017 10K | CONSOLIDATED BALANCE SHEETS | {STATEMENTS[0].names}"
    contexts = {1: "NETFLIX 2017 10K | RISK FACTORS", 2: balance, 3: balance.replace(
        "NETFLIX", "NIKE"), 4: balance}
    documents = {1: "netflix", 2: "netflix", 3: "nike", 4: "netflix"}
    asked = statements_asked("Netflix's total current liabilities (balance sheet)?")
    rescored = with_asked_statements(fused, contexts, documents, asked, {"netflix": 1.0}, 2.5)
    assert rescored == [(2, 3.5), (1, 3.0), (4, 2.7), (3, 0.5)]
    # no document named: every chunk of the statement counts
    anywhere = dict(with_asked_statements(fused, contexts, documents, asked, {}, 2.5))
    assert anywhere[3] == 3.0


@pytest.mark.parametrize(("question", "asked"), [
    ("What is Amazon's FY2019 net income? Use the income statement.", "income statement"),
    ("Basing your answer on the statement of income, what was Nike's revenue?",
     "income statement"),
    ("What is Adobe's free cash flow conversion?", "cash flow statement"),
    ("삼성전자의 재무상태표에서 자산총계는?", "balance sheet"),
    # a line item that one statement alone reports names it too
    ("What is Netflix's year end FY2017 total current liabilities?", "balance sheet"),
    ("삼성전자의 2023년 부채총계는 얼마인가요?", "balance sheet"),
    ("What is Nike's cost of goods sold as a % of revenue from FY2016 to FY2018?",
     "income statement"),
    ("Are Best Buy's gross margins historically consistent?", "income statement"),
    ("What is 3M's FY2018 capital expenditure amount?", "cash flow statement"),
])
def test_the_statements_a_question_asks_for(question: str, asked: str) -> None:
    assert [s.names.split(",")[0] for s in statements_asked(question)] == [asked]


@pytest.mark.parametrize("question", [
    "When did Super Bowl 50 take place?",
    # sales and revenue are discussed in every part of a report, not only in its statement
    "What drove the reduction in SG&A expense as a percent of net sales in FY2023?",
    "Which region had the worst topline revenue performance for MGM during FY2022?",
])
def test_a_question_without_a_statement_asks_for_none(question: str) -> None:
    assert statements_asked(question) == []


@pytest.fixture
def statements(tmp_path: Path, fake_embedder: HashEmbedder, lexical: LexicalIndex):  # type: ignore[no-untyped-def]
    """Two companies' filings through the real preparation (identity, sections, statement
    names): a page of notes full of the question's words, and a balance sheet page."""
    kb = KnowledgeBase.create(tmp_path / "statements", "statements",
                              IndexIdentity(fake_embedder.name, fake_embedder.dimension))
    docs = {}
    for company in ("ORCHARD FOODS", "HARBOUR SHIPPING"):
        pages = [Page(1, f"{company}\nANNUAL REPORT 2019\n{FILLER}"),
                 Page(2, "NOTES TO THE FINANCIAL STATEMENTS\nTotal equity, as shown in "
                         "the balance sheet, grew by 4%. What total equity was shown in the "
                         "balance sheet depends on the equity holders' share of income."),
                 Page(3, "CONSOLIDATED BALANCE SHEETS\nTotal assets 19,012,742\nTotal "
                         "liabilities 15,012,742\nTotal equity 4,000,000")]
        path = tmp_path / f"{company}.pdf"
        path.write_bytes(company.encode())
        source = DocumentSource(hashlib.sha256(company.encode()).hexdigest(),
                                f"{company.lower().replace(' ', '_')}.pdf", path, 1)
        parsed = ParseResult(DocumentStatus.INDEXED, pages=pages, page_count=3)
        docs[company] = prepare_document(source, parsed, ChunkerConfig(), fake_embedder, lexical)
        publish(kb, docs[company])
    yield kb, docs
    kb.close()


def test_a_question_that_names_a_statement_gets_that_statement(  # type: ignore[no-untyped-def]
        statements, fake_embedder, lexical) -> None:
    kb, docs = statements
    query = "What was Harbour Shipping's total equity, as shown in the balance sheet?"
    first = retriever(fake_embedder, lexical).search(kb, query, 3)[0]
    assert (first.document_id, first.page) == (docs["HARBOUR SHIPPING"].info.id, 3)
    # without the lift, the page that repeats the question's words comes first
    words = HybridRetriever(fake_embedder, lexical, RetrievalSettings(statement_weight=0))
    assert words.search(kb, query, 3)[0].page == 2


def test_the_statement_asked_for_is_found_by_its_names_in_the_named_documents(  # type: ignore[no-untyped-def]
        statements, fake_embedder, lexical) -> None:
    """The balance sheet of the document the question names, found by the statement's
    names whatever words the question uses; not the other company's."""
    kb, docs = statements
    harbour = docs["HARBOUR SHIPPING"].info.id
    search = HybridRetriever(fake_embedder, lexical, RetrievalSettings())
    with kb.snapshot() as snapshot:
        found = search._statement_chunks(snapshot, statements_asked("the balance sheet"),
                                         [harbour])
        rows = snapshot.passages(set(found))
    assert found and {(rows[i].document_id, rows[i].page) for i in found[:1]} == {(harbour, 3)}
    assert {rows[i].document_id for i in found} == {harbour}


def test_a_chunk_found_by_another_search_joins_at_the_candidates_mean() -> None:
    fused = [(1, 2.0), (2, 0.0), (3, -0.5)]
    assert with_candidates(fused, [4, 2]) == [(1, 2.0), (4, 0.5), (2, 0.0), (3, -0.5)]
    assert with_candidates(fused, []) == fused
    assert with_candidates([], [7]) == [(7, 0.0)]


def test_a_misspelled_word_finds_what_it_meant(corpus, fake_embedder, lexical) -> None:  # type: ignore[no-untyped-def]
    kb, docs = corpus
    words = retriever(fake_embedder, lexical, lexical_weight=1, dense_weight=0)
    first = words.search(kb, "pengiuns", 3)[0]  # no chunk holds the word as typed
    assert first.document_id == docs["zoo"].info.id and "herring" in first.text
    evidence = words.evidence(kb, "What are pengiuns fed with?", 3)
    assert evidence.spellings == {"pengiun": "penguin"}
    assert evidence.terms.frequencies["pengiun"] == 0 and evidence.terms.frequencies["penguin"]


# --- a question in the other language (`qa_service.bridge`) ---------------------------

KOREAN_PAGES = (
    "제품 보증서. 이 제품의 보증 기간은 구입일로부터 1년입니다. 배터리 보증 기간은 2년입니다.",
    "호텔 안내. 야외 수영장은 6층에 있으며 오전 9시부터 오후 9시까지 운영합니다.",
    "객실 요금표. 디럭스 객실의 1박 요금은 20만 원이며 조식이 포함됩니다.",
)
ENGLISH_PAGES = (
    "Annual report. The bank raised its mortgage rates twice during the year.",
    "Research methods. The study followed three hundred families for five years.",
    "Shipping terms. Orders over fifty dollars ship free within the country.",
)


@pytest.fixture
def bilingual(tmp_path: Path, embedder, lexical: LexicalIndex,  # type: ignore[no-untyped-def]
              monkeypatch: pytest.MonkeyPatch):
    from qa_service import bridge

    monkeypatch.setattr(bridge, "MIN_TERMS", 5)
    kb = KnowledgeBase.create(tmp_path / "kb", "kb", IndexIdentity(embedder.name,
                                                                   embedder.dimension))
    chunker = ChunkerConfig(target_chars=120, overlap_sentences=0, min_chars=0)
    for name, pages in (("보증서.pdf", KOREAN_PAGES), ("report.pdf", ENGLISH_PAGES)):
        publish(kb, make_document(tmp_path / "src", name, pages, embedder, lexical, chunker))
    yield kb
    kb.close()


def test_a_question_s_words_are_also_searched_in_the_other_language(
        bilingual, embedder, lexical) -> None:  # type: ignore[no-untyped-def]
    """"warranty" and "battery" are 보증 and 배터리 to BM25 too: the Korean warranty page
    comes first, and the answerer is told which words stood for which."""
    search = HybridRetriever(embedder, lexical, RetrievalSettings(dense_weight=0.0))
    found = search.retrieve(bilingual, "How long is the battery warranty?", 3,
                            statistics=True)
    assert found.passages[0].text.startswith("제품 보증서")
    assert "보증" in found.translations["warranti"]
    assert "배터리" in found.translations["batteri"]
    assert found.terms is not None and found.terms.frequencies["보증"] >= 1
    evidence = search.evidence(bilingual, "How long is the battery warranty?", 3)
    assert evidence.translations == found.translations
    # and the other way: a Korean question finds the English page by its stems
    back = search.retrieve(bilingual, "은행의 연구 보고서", 3)
    assert back.passages[0].filename == "report.pdf"
    # the terms' vectors are kept with the knowledge base
    assert (bilingual.root / "term-vectors.bin").exists()


INVOICE_PAGES = (
    "청구서. 발행일 2023년 10월 31일. 품목 개발비 150만 원, 디자인 100만 원.",
    "소계 250만 원. 부가세 25만 원. 합계 275만 원. 지불 기한 2023년 11월 30일.",
)


def test_the_labels_of_a_form_are_translated_by_the_glossary(
        bilingual, tmp_path: Path, embedder, lexical) -> None:  # type: ignore[no-untyped-def]
    """The glossary translates the labels first (합계, 기한, 부가세), so the invoice's page
    of totals comes first; the multilingual vectors alone find no 기한 for "due"."""
    chunker = ChunkerConfig(target_chars=120, overlap_sentences=0, min_chars=0)
    publish(bilingual, make_document(tmp_path / "src", "청구서.pdf", INVOICE_PAGES, embedder,
                                     lexical, chunker))
    question = "What is the VAT and the total due on the invoice?"
    search = HybridRetriever(embedder, lexical, RetrievalSettings(dense_weight=0.0))
    found = search.retrieve(bilingual, question, 3)
    assert found.translations["vat"][0] == "부가세"
    assert found.translations["total"][0] == "합계"
    assert found.translations["due"][0] == "기한"
    assert found.passages[0].text.startswith("소계")
    plain = HybridRetriever(embedder, lexical,
                            RetrievalSettings(dense_weight=0.0, glossary=False))
    unlisted = plain.retrieve(bilingual, question, 3).translations
    assert "기한" not in {t for found in unlisted.values() for t in found}


def test_a_translated_hit_counts_when_the_dense_side_ranks_it_a_little_below_its_candidates(
        bilingual, tmp_path: Path, embedder, lexical,  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch) -> None:
    """BM25 finds the Korean invoice page by the question's translated words (합계, 기한);
    the dense side ranks it just below its candidates, as it ranks a page in the other
    language, and that still vouches for it (`TRANSLATED_DENSE_DEPTH` times as deep)."""
    from qa_service import retrieval

    chunker = ChunkerConfig(target_chars=120, overlap_sentences=0, min_chars=0)
    invoice = make_document(tmp_path / "src", "청구서.pdf", INVOICE_PAGES, embedder, lexical,
                            chunker)
    publish(bilingual, invoice)
    question = "What is the VAT and the total due on the invoice?"
    target = next(c.id for c in invoice.chunks if c.text.startswith("소계"))
    with bilingual.snapshot() as snapshot:
        ranked = [i for i, _ in snapshot.nearest(embedder.embed_queries([question]), 20, None)]
    below = ranked.index(target)  # the dense side's candidates end just above it
    assert below >= 1
    settings = RetrievalSettings(dense_weight=0.0, candidates=below)
    found = HybridRetriever(embedder, lexical, settings).search(bilingual, question, 1)
    assert found[0].text.startswith("소계")
    monkeypatch.setattr(retrieval, "TRANSLATED_DENSE_DEPTH", 1)  # as deep as its candidates
    found = HybridRetriever(embedder, lexical, settings).search(bilingual, question, 1)
    assert not any(p.text.startswith("소계") for p in found)


def test_translation_can_be_turned_off(bilingual, embedder, lexical) -> None:  # type: ignore[no-untyped-def]
    search = HybridRetriever(embedder, lexical,
                             RetrievalSettings(dense_weight=0.0, translate=False))
    found = search.retrieve(bilingual, "How long is the battery warranty?", 3)
    assert found.translations == {}
    assert not any(p.text.startswith("제품 보증서") for p in found.passages[:1])
    assert not (bilingual.root / "term-vectors.bin").exists()


def test_prepare_embeds_the_terms_before_the_first_question(
        bilingual, embedder, lexical, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """After an ingestion the retriever embeds both languages' terms, so the first
    question in either language embeds only its own words."""
    search = HybridRetriever(embedder, lexical, RetrievalSettings())
    search.prepare(bilingual)
    assert (bilingual.root / "term-vectors.bin").exists()
    embedded: list[int] = []
    original = search.bridge.encode

    def counting(texts):  # type: ignore[no-untyped-def]
        embedded.append(len(texts))
        return original(texts)

    monkeypatch.setattr(search.bridge, "encode", counting)
    search.retrieve(bilingual, "How long is the battery warranty?", 3)
    search.retrieve(bilingual, "은행의 연구 보고서", 3)
    assert embedded == [3, 3]  # the questions' words only: long, battery, warranty; ...
