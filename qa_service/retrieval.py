"""Hybrid retrieval: BM25 and dense candidates, fused (z-scores by default, or RRF).

Both candidate lists are read inside one catalog snapshot, and a dense hit counts only if
its chunk is in that snapshot: deleted or half-published documents never come back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from qa_service.bridge import WordBridge, question_words
from qa_service.config import RetrievalSettings
from qa_service.embedding import Embedder
from qa_service.errors import DocumentNotFound, InvalidRequest
from qa_service.evidence import OVERVIEW_CHUNKS, Evidence, gather_evidence
from qa_service.glossary import Glossary
from qa_service.instructions import asked_part
from qa_service.lexical import Budget, LexicalIndex, TermStatistics
from qa_service.schemas import Passage
from qa_service.statements import Statement, of_statements, statements_asked
from qa_service.store.knowledge_base import KnowledgeBase
from qa_service.store.snapshot import Snapshot
from qa_service.tokens import has_hangul, is_korean

__all__ = ["HybridRetriever", "RankedList", "Retrieval", "fuse_rankings", "fuse_zscores",
           "with_asked_statements", "with_document_prior", "with_translated_hits"]

MAX_QUERY_CHARS = 4000
TERM_VECTORS_FILE = "term-vectors.bin"  # a knowledge base's `qa_service.bridge` cache
# a translated BM25 hit counts when the dense side ranks its chunk within this many times
# its candidates: a page in the other language often ranks just below them
TRANSLATED_DENSE_DEPTH = 4


@dataclass(frozen=True)
class Retrieval:
    passages: list[Passage]
    query_vector: npt.NDArray[np.float32]
    terms: TermStatistics | None  # the query tokens' statistics, when asked for
    # the query's words no chunk holds -> the indexed word one typing slip away, also
    # searched for (`LexicalIndex.near_terms`; `terms` counts both)
    spellings: dict[str, str] = field(default_factory=dict)
    # the documents whose identity the question names, with their match relative to the
    # best (1.0): `HybridRetriever._named_documents`
    named: dict[str, float] = field(default_factory=dict)
    # the question's words -> their translations among the indexed terms of the other
    # language (`qa_service.bridge`), also searched for
    translations: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class RankedList:
    """One side's candidates, best first, with their scores (higher is better)."""

    hits: Sequence[tuple[int, float]]
    weight: float


def fuse_rankings(rankings: Sequence[RankedList], rrf_k: float) -> list[tuple[int, float]]:
    """Weighted RRF: score(id) = sum of weight / (rrf_k + rank), ranks from 1."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        if ranking.weight <= 0:
            continue
        for rank, (chunk_id, _) in enumerate(ranking.hits, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + ranking.weight / (rrf_k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def fuse_zscores(rankings: Sequence[RankedList]) -> list[tuple[int, float]]:
    """Weighted sum of per-list z-scores; an id missing from a list gets its lowest z."""
    standardized: list[tuple[dict[int, float], float, float]] = []
    for ranking in rankings:
        if ranking.weight <= 0 or not ranking.hits:
            continue
        values = np.asarray([score for _, score in ranking.hits], dtype=np.float64)
        spread = float(values.std())
        if spread > 0:
            z = (values - values.mean()) / spread
            floor = float(z.min())
        else:  # one hit, or all tied: they still beat every candidate missing from the list
            z, floor = np.ones_like(values), 0.0
        standardized.append(({cid: float(v) for (cid, _), v in zip(ranking.hits, z, strict=True)},
                             floor, ranking.weight))
    every = {cid for table, _, _ in standardized for cid in table}
    fused = {cid: sum(weight * table.get(cid, floor) for table, floor, weight in standardized)
             for cid in every}
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


DOCUMENT_EVIDENCE_CHUNKS = 3
# the chunks of a statement the question asks for, found in the documents it names by the
# statement's names, that join the candidates (`HybridRetriever._statement_chunks`)
STATEMENT_CHUNKS = 6


def with_cross_lingual_scores(fused: Sequence[tuple[int, float]], dense: RankedList,
                              other_language: set[int], weight: float
                              ) -> list[tuple[int, float]]:
    """Rescore the candidates in another language than the question by their dense z-score
    alone, at `weight`; the others keep their fused score."""
    if not other_language or not dense.hits:
        return list(fused)
    zdense = dict(fuse_zscores([RankedList(dense.hits, 1.0)]))
    floor = min(zdense.values())
    rescored = [(cid, weight * zdense.get(cid, floor) if cid in other_language else score)
                for cid, score in fused]
    return sorted(rescored, key=lambda item: (-item[1], item[0]))


def with_document_prior(fused: Sequence[tuple[int, float]], documents: dict[int, str],
                        weight: float) -> list[tuple[int, float]]:
    """Add `weight` x the z-score of each chunk's document evidence: the sum of the
    document's best `DOCUMENT_EVIDENCE_CHUNKS` fused scores, shifted so the weakest
    candidate counts zero."""
    if len(fused) < 2:
        return list(fused)
    low = min(score for _, score in fused)
    best: dict[str, list[float]] = {}
    for chunk_id, score in fused:  # best first
        scores = best.setdefault(documents[chunk_id], [])
        if len(scores) < DOCUMENT_EVIDENCE_CHUNKS:
            scores.append(score - low)
    evidence = {doc: sum(scores) for doc, scores in best.items()}
    values = np.asarray(list(evidence.values()), dtype=np.float64)
    spread = float(values.std()) or 1.0
    mean = float(values.mean())
    rescored = [(cid, score + weight * (evidence[documents[cid]] - mean) / spread)
                for cid, score in fused]
    return sorted(rescored, key=lambda item: (-item[1], item[0]))


def _merged(first: Sequence[tuple[int, float]], second: Sequence[tuple[int, float]]
            ) -> list[tuple[int, float]]:
    """Two candidate lists of the same scorer as one, best first, each id once."""
    merged = dict(first)
    merged.update(second)
    return sorted(merged.items(), key=lambda item: (-item[1], item[0]))


def with_named_documents(fused: Sequence[tuple[int, float]], documents: dict[int, str],
                         named: dict[str, float], weight: float) -> list[tuple[int, float]]:
    """Add `weight` x the relative identity match of each chunk's document."""
    rescored = [(cid, score + weight * named.get(documents[cid], 0.0)) for cid, score in fused]
    return sorted(rescored, key=lambda item: (-item[1], item[0]))


def with_candidates(fused: Sequence[tuple[int, float]], added: Sequence[int]
                    ) -> list[tuple[int, float]]:
    """`fused` with the chunks of `added` that it lacks, at its candidates' mean score (or
    0): found by another search than the two fused, they count as an average candidate,
    ranked by what is added to that."""
    present = {i for i, _ in fused}
    missing = [i for i in dict.fromkeys(added) if i not in present]
    if not missing:
        return list(fused)
    mean = float(np.mean([score for _, score in fused])) if fused else 0.0
    return sorted([*fused, *((i, mean) for i in missing)], key=lambda item: (-item[1], item[0]))


def with_asked_statements(fused: Sequence[tuple[int, float]], contexts: dict[int, str],
                          documents: dict[int, str], asked: Sequence[Statement],
                          named: dict[str, float], weight: float) -> list[tuple[int, float]]:
    """Add `weight` to each chunk of a statement the question asks for (its context carries
    the statement's names), in the documents the question names when it names any: "What
    is Amazon's FY2019 net income, from the income statement?" wants Amazon's statement of
    operations, not the statement page of every filing that matches its words better."""
    def wanted(chunk_id: int) -> bool:
        if named and documents[chunk_id] not in named:
            return False
        return of_statements(contexts.get(chunk_id, ""), asked)
    rescored = [(cid, score + weight if wanted(cid) else score) for cid, score in fused]
    return sorted(rescored, key=lambda item: (-item[1], item[0]))


def with_translated_hits(lexical: Sequence[tuple[int, float]],
                         translated: Sequence[tuple[int, float]],
                         dense: Sequence[tuple[int, float]], other_language: set[int]
                         ) -> list[tuple[int, float]]:
    """`lexical` with the BM25 hits of the query searched with its words' translations
    (`translated`) that lie in the other language than the question (`other_language`)
    and that the dense side found too (`dense`: its wider list, `TRANSLATED_DENSE_DEPTH`
    times its candidates): in that language the translations are the question's words,
    and the question's own-language passages keep their ranking."""
    near = {chunk_id for chunk_id, _ in dense}
    return _merged(lexical, [(chunk_id, score) for chunk_id, score in translated
                             if chunk_id in other_language and chunk_id in near])


def _index_state(kb: KnowledgeBase, snapshot: Snapshot) -> tuple[object, ...]:
    """What the bridge keys a knowledge base's terms by: it and the state of its index."""
    return (kb.uid, *snapshot.index_state())


class HybridRetriever:
    def __init__(self, embedder: Embedder, lexical: LexicalIndex,
                 settings: RetrievalSettings) -> None:
        self.embedder = embedder
        self.lexical = lexical
        self.settings = settings
        self.bridge = WordBridge(
            embedder.name, embedder.embed_passages, settings.translation_score,
            settings.translations_per_word,
            glossary=Glossary(lexical.tokenizer) if settings.glossary else None)

    def search(self, kb: KnowledgeBase, query: str, k: int,
               document_ids: Sequence[str] | None = None) -> list[Passage]:
        return self.retrieve(kb, query, k, document_ids).passages

    def retrieve(self, kb: KnowledgeBase, query: str, k: int,
                 document_ids: Sequence[str] | None = None,
                 statistics: bool = False) -> Retrieval:
        """The `k` best passages, with the query's vector and (if asked) its tokens'
        chunk frequencies, all read from one catalog snapshot."""
        query = self._checked(query, k)
        kb.check_embedder(self.embedder.name, self.embedder.dimension)
        query_vector = self.embedder.embed_queries([query])
        depth = max(self.settings.candidates, k)
        with kb.snapshot() as snapshot:
            if document_ids is not None:
                self._check_documents(kb, snapshot, document_ids)
            terms, spellings, translations = self._query_terms(kb, snapshot, query)
            meant = list(spellings.values())
            bridged = [*meant, *(t for found in translations.values() for t in found)]
            scopes: list[Sequence[str] | None] = [document_ids]
            # the dense side's wider list only vouches for translated BM25 hits (below)
            wide = snapshot.nearest(query_vector, depth * TRANSLATED_DENSE_DEPTH
                                    if translations else depth, document_ids)
            dense = wide[:depth]
            named = self._named_documents(snapshot, query, document_ids)
            focus = list(named)[:self.settings.named_documents]
            if focus:  # also the best candidates of the documents the question names
                scopes.append(focus)
                dense = _merged(dense, snapshot.nearest(query_vector, depth, focus))
            budget = Budget(self.settings.lexical_postings, terms.frequencies)
            # BM25 matches the words of what the question asks, not of what it tells the
            # answerer ("Calculate what was asked by utilizing the line items clearly
            # shown ..."): no page answers with those; the statements such an instruction
            # names are still read off the whole question (`statements_asked`), and the
            # vectors read it whole
            asked_words = asked_part(query)
            lexical = self._lexical(snapshot, asked_words, depth, scopes, meant, budget)
            translated = (self._lexical(snapshot, asked_words, depth, scopes, bridged, budget)
                          if len(bridged) > len(meant) else [])
            asked = statements_asked(query) if self.settings.statement_weight > 0 else []
            statement = self._statement_chunks(snapshot, asked, focus) if asked and focus else []
            rows = snapshot.passages({i for i, _ in lexical} | {i for i, _ in dense}
                                     | {i for i, _ in translated} | set(statement))
            contexts = snapshot.contexts(list(rows)) if asked else {}
        cross_lingual = (self.settings.cross_lingual_weight > 0
                         and self.settings.fusion == "zscore")
        korean = has_hangul(query)
        other = ({i for i, row in rows.items() if is_korean(row.text) != korean}
                 if translated or cross_lingual else set())
        if translated:
            # `dense` also holds the named documents' own candidates, which `wide` lacks
            lexical = with_translated_hits(lexical, translated, [*wide, *dense], other)
        lexical_hits = RankedList([h for h in lexical if h[0] in rows],
                                  self.settings.lexical_weight)
        dense_hits = RankedList([h for h in dense if h[0] in rows], self.settings.dense_weight)
        fused = self._fuse(lexical_hits, dense_hits)
        if statement:
            fused = with_candidates(fused, [i for i in statement
                                            if of_statements(contexts.get(i, ""), asked)])
        if cross_lingual:
            matched = {i for i, _ in lexical_hits.hits}
            fused = with_cross_lingual_scores(fused, dense_hits, other - matched,
                                              self.settings.cross_lingual_weight)
        documents = {i: row.document_id for i, row in rows.items()}
        if named:
            fused = with_named_documents(fused, documents, named, self.settings.name_weight)
        if asked:
            fused = with_asked_statements(fused, contexts, documents, asked, named,
                                          self.settings.statement_weight)
        if self.settings.document_weight > 0:
            fused = with_document_prior(fused, documents, self.settings.document_weight)
        passages = [replace(rows[i], score=round(score, 6)) for i, score in fused[:k]]
        return Retrieval(passages, query_vector[0], terms if statistics else None, spellings,
                         named, translations)

    def evidence(self, kb: KnowledgeBase, question: str, k: int,
                 document_ids: Sequence[str] | None = None) -> Evidence:
        """The `k` best passages as an answerer's `Evidence`: with their sentences' stored
        vectors, the question's vector and its tokens' statistics."""
        retrieval = self.retrieve(kb, question, k, document_ids, statistics=True)
        assert retrieval.terms is not None
        ids = [p.chunk_id for p in retrieval.passages]
        with kb.snapshot() as snapshot:
            stored = snapshot.vectors_of(ids)
            contexts = snapshot.contexts(ids)
        return gather_evidence(question.strip(), retrieval.passages, retrieval.query_vector,
                               retrieval.terms, stored, contexts, self.embedder.embed_passages,
                               retrieval.spellings, retrieval.named, retrieval.translations)

    def overview(self, kb: KnowledgeBase, evidence: Evidence) -> Evidence:
        """`evidence` with the first passage's document in reading order (`Evidence.overview`)."""
        if not evidence.items:
            return evidence
        with kb.snapshot() as snapshot:
            opening = snapshot.document_passages(evidence.items[0].passage.document_id,
                                                 OVERVIEW_CHUNKS)
        return replace(evidence, overview=tuple(opening))

    def prepare(self, kb: KnowledgeBase) -> None:
        """Embed now the terms that questions in either language will need of `kb`'s
        documents (`qa_service.bridge`), so that the first question after an ingestion
        does not wait for them."""
        if not self.settings.translate:
            return
        with kb.snapshot() as snapshot:
            state = _index_state(kb, snapshot)
            indexed = snapshot.indexed_terms()
        for korean in (False, True):
            self.bridge.prepare(kb.derived_file(TERM_VECTORS_FILE), state, lambda: indexed,
                                korean)

    def _checked(self, query: str, k: int) -> str:
        """The query stripped, once it and `k` are found acceptable."""
        query = query.strip()
        if not query:
            raise InvalidRequest("the query is empty")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidRequest(f"the query is longer than {MAX_QUERY_CHARS} characters")
        if not 1 <= k <= self.settings.max_k:
            raise InvalidRequest(f"k must be between 1 and {self.settings.max_k}")
        return query

    def _lexical(self, snapshot: Snapshot, query: str, depth: int,
                 scopes: Sequence[Sequence[str] | None], also: Sequence[str],
                 budget: Budget) -> list[tuple[int, float]]:
        """BM25's best candidates of the query (and `also`) within each of `scopes`
        (document ids, None: all), merged; the terms are those `budget` keeps."""
        found: list[tuple[int, float]] = []
        for scope in scopes:
            found = _merged(found, self.lexical.search(snapshot, query, depth, scope, also,
                                                       budget))
        return found

    def _statement_chunks(self, snapshot: Snapshot, asked: Sequence[Statement],
                          documents: Sequence[str]) -> list[int]:
        """The chunks of `documents` that BM25 finds best by the names of the statements
        the question asks for (`STATEMENT_CHUNKS` at most): "the year-over-year change in
        Amazon's revenue ... shown in the statement of income" wants the statement of
        operations, which prints "Total net sales" and no word of the question but the
        years."""
        names = " ".join(statement.names for statement in asked)
        tokens = self.lexical.tokenizer.tokens(names)
        budget = Budget(self.settings.lexical_postings,
                        self.lexical.statistics(snapshot, tokens).frequencies)
        return [chunk_id for chunk_id, _ in self.lexical.search(
            snapshot, names, STATEMENT_CHUNKS, documents, (), budget)]

    def _query_terms(self, kb: KnowledgeBase, snapshot: Snapshot, query: str
                     ) -> tuple[TermStatistics, dict[str, str], dict[str, tuple[str, ...]]]:
        """The query tokens' statistics; what its words that no chunk holds most likely
        meant (`LexicalIndex.near_terms`); its words' translations into the knowledge
        base's other language (`_translations`). The statistics count all of them."""
        terms = self.lexical.statistics(snapshot, self.lexical.tokenizer.tokens(query))
        spellings = self.lexical.near_terms(
            snapshot, [token for token, count in terms.frequencies.items() if not count])
        translations = self._translations(kb, snapshot, query)
        also = [*spellings.values(), *(t for found in translations.values() for t in found)]
        if also:
            terms = terms.with_terms(self.lexical.statistics(snapshot, also))
        return terms, spellings, translations

    def _translations(self, kb: KnowledgeBase, snapshot: Snapshot, query: str
                      ) -> dict[str, tuple[str, ...]]:
        """The question's words -> their translations among the indexed terms of the
        other language (`qa_service.bridge`), when `translate` is on."""
        if not self.settings.translate:
            return {}
        return self.bridge.translations(
            kb.derived_file(TERM_VECTORS_FILE), _index_state(kb, snapshot),
            snapshot.indexed_terms,
            question_words(self.lexical.tokenizer, query))

    def _named_documents(self, snapshot: Snapshot, query: str,
                         document_ids: Sequence[str] | None) -> dict[str, float]:
        """The documents whose identity (file name, title, first-page headings) the question
        names, each with its match relative to the best one (1.0), best first."""
        if self.settings.name_weight <= 0:
            return {}
        found = self.lexical.search_documents(snapshot, query, 100)
        if document_ids is not None:
            wanted = set(document_ids)
            found = [(d, s) for d, s in found if d in wanted]
        if not found or found[0][1] <= 0:
            return {}
        best = found[0][1]
        return {doc: score / best for doc, score in found
                if score / best >= self.settings.name_share}

    def _fuse(self, lexical: RankedList, dense: RankedList) -> list[tuple[int, float]]:
        if self.settings.fusion == "rrf":
            return fuse_rankings([lexical, dense], self.settings.rrf_k)
        return fuse_zscores([lexical, dense])

    @staticmethod
    def _check_documents(kb: KnowledgeBase, snapshot: Snapshot,
                         document_ids: Sequence[str]) -> None:
        for doc_id in document_ids:
            if snapshot.status_of(doc_id) is None:
                raise DocumentNotFound(kb.name, doc_id)
