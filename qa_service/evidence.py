"""What retrieval hands to an answerer: the passages, their sentences and those sentences'
stored vectors, the question's vector and its tokens' statistics, read once.

An answerer (`qa_service.answer.answerer.Answerer`) works from this value alone and never
reaches back into the knowledge base: the extractive answerer scores the sentences, the LLM
answerer quotes the passages. Sentence spans are those embedded at ingest
(`ingest.embed`), so no sentence is embedded again at ask time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from qa_service.lexical import TermStatistics
from qa_service.schemas import Passage
from qa_service.sentences import MAX_SENTENCE_CHARS, bounded_sentences

__all__ = ["OVERVIEW_CHUNKS", "Evidence", "PassageEvidence", "gather_evidence"]

OVERVIEW_CHUNKS = 300  # of a document, for an overview: its opening and its headings


@dataclass(frozen=True)
class PassageEvidence:
    """One retrieved passage with its sentences: spans into `passage.text` and, when the
    stored rows line up with them, one vector per sentence (None otherwise)."""

    passage: Passage
    sentences: tuple[tuple[int, int], ...]
    vectors: npt.NDArray[np.float32] | None
    context: str = ""  # its document's identity and its section: for matching, never quoted


@dataclass(frozen=True)
class Evidence:
    question: str
    items: tuple[PassageEvidence, ...]  # best first
    query_vector: npt.NDArray[np.float32]
    terms: TermStatistics  # the question's tokens' chunk frequencies, for IDF weights
    # An overview request ("summarize the report"): the first passage's document in reading
    # order (its first `OVERVIEW_CHUNKS` chunks), to answer from its opening and headings
    overview: tuple[Passage, ...] = ()
    # Embeds texts as passages (the knowledge base's model), for what was not embedded at
    # ingest: lines in another language than the question, to find the one that answers
    encode: Callable[[Sequence[str]], npt.NDArray[np.float32]] | None = None
    # The question's words that no chunk holds, read as the indexed word one typing slip
    # away (`LexicalIndex.near_terms`: "hollwood" -> "hollywood"); `terms` counts both
    spellings: Mapping[str, str] = field(default_factory=dict)
    # The documents whose identity (file name, title, first headings) the question names
    # ("Kraxi Systems 인보이스 ..."), each with its match relative to the best (1.0)
    named: Mapping[str, float] = field(default_factory=dict)
    # The question's words -> their translations among the indexed terms of the other
    # language (`qa_service.bridge`: "warranty" -> 보증): a sentence holding a translation
    # holds the word
    translations: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def passages(self) -> list[Passage]:
        return [item.passage for item in self.items]


def gather_evidence(question: str, passages: Sequence[Passage],
                    query_vector: npt.NDArray[np.float32], terms: TermStatistics,
                    stored: Mapping[int, npt.NDArray[np.float32]],
                    contexts: Mapping[int, str] | None = None,
                    encode: Callable[[Sequence[str]], npt.NDArray[np.float32]] | None = None,
                    spellings: Mapping[str, str] | None = None,
                    named: Mapping[str, float] | None = None,
                    translations: Mapping[str, tuple[str, ...]] | None = None) -> Evidence:
    """`stored`: each chunk's vectors as written at ingest (its sentences in order, then at
    most one for its context; `PreparedDocument`); `contexts`: each chunk's context."""
    items = []
    for passage in passages:
        spans = tuple(bounded_sentences(passage.text, MAX_SENTENCE_CHARS))
        items.append(PassageEvidence(passage, spans,
                                     _sentence_rows(stored.get(passage.chunk_id), len(spans)),
                                     (contexts or {}).get(passage.chunk_id, "")))
    return Evidence(question, tuple(items), query_vector, terms, encode=encode,
                    spellings=dict(spellings or {}), named=dict(named or {}),
                    translations=dict(translations or {}))


def _sentence_rows(vectors: npt.NDArray[np.float32] | None, sentences: int
                   ) -> npt.NDArray[np.float32] | None:
    """The sentences' rows of a chunk's stored vectors, or None when they do not line up."""
    if vectors is None or len(vectors) not in (sentences, sentences + 1):
        return None
    return vectors[:sentences]
