"""Fixtures for the answer path: a scripted OpenAI-compatible server and sample passages.

The session-wide `tokenizer` fixture (one Kiwi analyser for the whole run) comes from
`tests/conftest.py`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from qa_service.config import Settings
from qa_service.embedding import Embedder
from qa_service.evidence import Evidence, gather_evidence
from qa_service.lexical import TermStatistics
from qa_service.schemas import Passage
from qa_service.sentences import MAX_SENTENCE_CHARS, bounded_sentences
from qa_service.tokens import Tokenizer
from tests.llm_server import ScriptedLLM


@pytest.fixture
def scripted_llm() -> Iterator[ScriptedLLM]:
    """A running scripted LLM server, closed after the test."""
    with ScriptedLLM() as llm:
        yield llm


@pytest.fixture
def llm_settings(scripted_llm: ScriptedLLM) -> Callable[..., Settings]:
    """`Settings` pointing at the scripted server; keyword arguments override fields."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "llm_base_url": scripted_llm.base_url, "llm_model": "scripted", "llm_timeout": 10.0,
        }
        return Settings(**(values | overrides))

    return make


# Page texts, and passages cut from them (a passage's text is page_text[char_start:char_end]).
PAGE_PREFIX = "Aurora 3 user guide, chapter 2.\n"
ENGLISH_TEXTS = [
    "The Aurora 3 battery lasts 14 hours on a single charge. Charging from empty takes "
    "2 hours with the supplied adapter. The battery is covered by a two-year warranty.",
    "The Aurora 3 weighs 1.2 kilograms. Its chassis is made of recycled aluminium. "
    "The device is sold in Norway and Sweden.",
    "To reset the Aurora 3, hold the power button for ten seconds. The status light "
    "blinks blue while the reset runs. Product pages: https://aurora.example/support",
]
KOREAN_PAGE_PREFIX = "도시 안내서 1장.\n"
KOREAN_TEXTS = [
    "서울의 인구는 약 940만 명이다. 서울은 대한민국의 수도이다. 한강이 도시를 가로질러 흐른다.",
    "부산은 대한민국 제2의 도시이다. 부산에는 큰 항구가 있다.",
]


def evidence_of(question: str, passages: list[Passage],
                terms: TermStatistics | None = None,
                query_vector: npt.NDArray[np.float32] | None = None,
                stored: dict[int, npt.NDArray[np.float32]] | None = None) -> Evidence:
    """Passages handed to an answerer as retrieval would, without a knowledge base: no
    stored vectors and every token unseen unless given."""
    return gather_evidence(question, passages,
                           query_vector if query_vector is not None else np.zeros(8, np.float32),
                           terms or TermStatistics(chunks=max(len(passages), 1), frequencies={}),
                           stored or {})


def embedded_evidence(embedder: Embedder, tokenizer: Tokenizer, question: str,
                      passages: list[Passage]) -> Evidence:
    """`evidence_of` as a knowledge base of these passages would give it: the question's
    vector, each passage's sentence vectors, and token frequencies over the passages."""
    stored = {}
    frequencies: Counter[str] = Counter()
    for passage in passages:
        spans = bounded_sentences(passage.text, MAX_SENTENCE_CHARS)
        stored[passage.chunk_id] = embedder.embed_passages([passage.text[a:b] for a, b in spans])
        frequencies.update(set(tokenizer.tokens(passage.text)))
    return evidence_of(question, passages, TermStatistics(len(passages), dict(frequencies)),
                       query_vector=embedder.embed_queries([question])[0], stored=stored)


def whole_page(text: str, document_id: str, filename: str, score: float = 1.0, page: int = 1,
               chunk_id: int = 1) -> Passage:
    """A passage that is the whole text of its page."""
    return Passage(chunk_id=chunk_id, document_id=document_id, filename=filename, page=page,
                   char_start=0, char_end=len(text), text=text, score=score)


def make_passages(texts: list[str], prefix: str = PAGE_PREFIX,
                  filename: str = "guide.pdf") -> list[Passage]:
    """One passage per text, each on its own page after `prefix` (see `page_text`)."""
    return [
        Passage(chunk_id=10 + i, document_id=f"doc{i}", filename=filename, page=i + 1,
                char_start=len(prefix), char_end=len(prefix) + len(text), text=text,
                score=1.0 - i / 10)
        for i, text in enumerate(texts)
    ]


def page_text(passage: Passage, prefix: str = PAGE_PREFIX) -> str:
    """The page a passage of `make_passages` was cut from."""
    return prefix + passage.text + "\nEnd of page."


@pytest.fixture
def english() -> list[Passage]:
    return make_passages(ENGLISH_TEXTS)


@pytest.fixture
def korean() -> list[Passage]:
    return make_passages(KOREAN_TEXTS, KOREAN_PAGE_PREFIX, "도시.pdf")


def assert_citations_exact(answer: Any, prefix: str = PAGE_PREFIX) -> None:
    """Every citation quotes its passage verbatim, at the right page offsets, and points
    at the sentence it supports in the final answer text (followed by its marker)."""
    by_number = {i: p for i, p in enumerate(answer.passages, 1)}
    for citation in answer.citations:
        passage = by_number[citation.number]
        assert citation.chunk_id == passage.chunk_id
        assert (citation.document_id, citation.filename, citation.page) == (
            passage.document_id, passage.filename, passage.page)
        offset = citation.char_start - passage.char_start
        assert passage.text[offset:offset + len(citation.quote)] == citation.quote
        assert page_text(passage, prefix)[citation.char_start:citation.char_end] == citation.quote
        sentence = answer.answer[citation.answer_start:citation.answer_end]
        assert sentence == sentence.strip() and sentence
        assert f"[{citation.number}]" in answer.answer[citation.answer_end:].split("\n")[0][:40]
