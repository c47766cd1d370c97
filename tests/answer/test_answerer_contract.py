"""The citation contract, run against every `Answerer` (extractive and LLM): whatever an
answerer writes, each citation quotes the cited page verbatim at its offsets, points at a
span of the answer text, and belongs to a passage it was given."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from qa_service.answer.answerer import Answerer
from qa_service.answer.extractive import ExtractiveAnswerer
from qa_service.answer.llm import LLMAnswerer
from qa_service.answer.models import Answer
from qa_service.config import AnswerSettings, Settings
from qa_service.embedding import Embedder
from qa_service.schemas import Passage
from qa_service.tokens import Tokenizer
from tests.answer.conftest import (
    ENGLISH_TEXTS,
    KOREAN_PAGE_PREFIX,
    KOREAN_TEXTS,
    PAGE_PREFIX,
    embedded_evidence,
    make_passages,
    page_text,
)
from tests.llm_server import ScriptedLLM

CASES = [  # question, passages' texts, page prefix, what a scripted LLM replies
    ("How long does the Aurora 3 battery last?", ENGLISH_TEXTS, PAGE_PREFIX,
     "The Aurora 3 battery lasts 14 hours on a single charge [1]. It weighs 1.2 "
     "kilograms [2]."),
    ("서울의 인구는 얼마인가?", KOREAN_TEXTS, KOREAN_PAGE_PREFIX,
     "서울의 인구는 약 940만 명이다 [1]."),
    ("Who painted the Mona Lisa?", ENGLISH_TEXTS, PAGE_PREFIX,
     "The documents do not say."),
]


@pytest.fixture(params=["extractive", "llm"])
def answerer(request: pytest.FixtureRequest, tokenizer: Tokenizer,
             llm_settings: Callable[..., Settings],
             scripted_llm: ScriptedLLM) -> Iterator[tuple[Answerer, ScriptedLLM | None]]:
    made: Answerer
    if request.param == "extractive":
        made = ExtractiveAnswerer(tokenizer, AnswerSettings())
        yield made, None
    else:
        made = LLMAnswerer(llm_settings(), tokenizer)
        yield made, scripted_llm
    made.close()


def assert_contract(answer: Answer, given: list[Passage], prefix: str) -> None:
    by_chunk = {p.chunk_id: p for p in given}
    for citation in answer.citations:
        passage = by_chunk[citation.chunk_id]  # only passages it was given
        assert (citation.document_id, citation.filename, citation.page) == (
            passage.document_id, passage.filename, passage.page)
        assert page_text(passage, prefix)[citation.char_start:citation.char_end] == \
            citation.quote and citation.quote.strip()
        assert 0 <= citation.answer_start < citation.answer_end <= len(answer.answer)
    if answer.abstained:
        assert not answer.citations


@pytest.mark.parametrize(("question", "texts", "prefix", "reply"), CASES)
def test_every_citation_quotes_its_page_at_its_offsets(
        answerer: tuple[Answerer, ScriptedLLM | None], embedder: Embedder,
        tokenizer: Tokenizer, question: str, texts: list[str], prefix: str, reply: str) -> None:
    made, llm = answerer
    passages = make_passages(texts, prefix)
    for run in ("answer", "stream"):
        if llm is not None:
            llm.reply(reply)
        evidence = embedded_evidence(embedder, tokenizer, question, passages)
        if run == "answer":
            answer = made.answer(evidence)
        else:
            items = list(made.stream(evidence))
            final = items[-1]
            assert isinstance(final, Answer)
            assert all(isinstance(item, str) for item in items[:-1])
            answer = final
        assert answer.question == question
        assert_contract(answer, passages, prefix)


def test_an_answerable_question_is_answered_with_a_citation(
        answerer: tuple[Answerer, ScriptedLLM | None], embedder: Embedder,
        tokenizer: Tokenizer) -> None:
    made, llm = answerer
    question, texts, prefix, reply = CASES[0]
    if llm is not None:
        llm.reply(reply)
    passages = make_passages(texts, prefix)
    answer = made.answer(embedded_evidence(embedder, tokenizer, question, passages))
    assert not answer.abstained and answer.citations
    assert "14 hours" in answer.answer


def test_a_table_row_answers_with_its_value_quoted_with_its_header(
        embedder: Embedder, tokenizer: Tokenizer) -> None:
    table = ("CONSOLIDATED BALANCE SHEETS\n(in thousands) | 2017 | 2016\n"
             "Total current assets | 9,694,135 | 7,670,479\n"
             "Total current liabilities | 5,466,312 | 4,586,657")
    passages = make_passages([table, "Netflix streams films and series to members."])
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0))
    for question, value in (("What were the total current liabilities in 2017?", "5,466,312"),
                            ("What were the total current liabilities in 2016?", "4,586,657")):
        answer = answerer.answer(embedded_evidence(embedder, tokenizer, question, passages))
        assert answer.short_answer is not None and answer.short_answer.text == value
        assert answer.answer.startswith(value + "\n\n")
        row, header = answer.citations[:2]
        assert row.quote == "Total current liabilities | 5,466,312 | 4,586,657"
        assert row.quote[answer.short_answer.quote_start:answer.short_answer.quote_end] == value
        assert header.quote == "(in thousands) | 2017 | 2016"
        assert_contract(answer, passages, PAGE_PREFIX)
