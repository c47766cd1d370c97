"""The extractive answerer through a real knowledge base: PDFs ingested with the real model.

One small knowledge base (English and Korean PDFs, small chunks so that chunks overlap) is
built once for the module; each test asks through an `AskService` whose answer settings it
chooses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.jobs import run_job
from ingest.uploads import queue_local_files
from qa_service.answer.extractive import (
    ELLIPSIS,
    LEAD_SEPARATOR,
    ExtractiveAnswerer,
    SentenceWeights,
)
from qa_service.answer.models import Answer, AnswerMode, abstention_text
from qa_service.answer.service import AskService
from qa_service.config import AnswerSettings, ChunkingSettings, Settings
from qa_service.embedding import Embedder
from qa_service.evidence import gather_evidence
from qa_service.lexical import TermStatistics
from qa_service.schemas import DocumentStatus, Passage
from qa_service.services import Services
from qa_service.statements import STATEMENTS
from qa_service.store.knowledge_base import KnowledgeBase
from qa_service.tokens import Tokenizer
from tests.answer.conftest import embedded_evidence, evidence_of, whole_page
from tests.pdfs import HANGUL_FONT, Drawn, drawn_pdf, render_pages_article, text_pdf

AURORA = [
    "The Aurora battery was designed in 1987 by the engineer Ingrid Halvorsen. "
    "The Aurora battery stores energy in sodium cells. Each cell weighs about two kilograms. "
    "The battery pack is assembled in the coastal town of Bodo.",
    "The maintenance manual explains, in one long sentence, that the coolant pump of the "
    "Aurora battery must be inspected every six months by a certified technician who checks "
    "the seals, the pressure valves, the rubber hoses, the temperature sensors and the wiring "
    "harness before signing the logbook that is kept in the control room next to the "
    "emergency exit of the plant.",
    # ~700 characters of distinct sentences: with 400-character chunks, two chunks that
    # share one sentence (the chunker's overlap).
    "The north gate of the Aurora plant is painted a deep cherry red colour. "
    "The east wing of the Aurora plant has a roof of pale blue ceramic tiles. "
    "The south yard of the Aurora plant is bordered by a tall green iron fence. "
    "The west tower of the Aurora plant carries a bright yellow brick chimney. "
    "The main hall of the Aurora plant contains a very old black pendulum clock. "
    "The staff canteen of the Aurora plant serves hot porridge every single morning. "
    "The car park of the Aurora plant holds exactly ninety spaces for visitors. "
    "The rooftop of the Aurora plant flies a pink flag with a silver star. "
    "The basement of the Aurora plant stores spare parts in wooden crates.",
]
GARDEN = [
    "The Willow Garden was designed in 1952 by the landscape architect Tomas Berg. "
    "The garden has a pond with golden carp. Visitors may enter free of charge on Sundays."
]
KOREAN = [
    "한빛 등대는 1987년에 조각가 김민서가 보라색으로 칠했다. 등대의 높이는 스물두 미터이다. "
    "등대지기는 매일 저녁 여섯 시에 불을 켠다."
]
_LINE_BREAKS = re.compile(r"[\n\r\t\f\v]")


@dataclass
class Library:
    services: Services
    kb: KnowledgeBase
    ids: dict[str, str]  # filename stem -> document id

    def asker(self, **answer: Any) -> AskService:
        settings = AnswerSettings(**answer)
        extractive = ExtractiveAnswerer(self.services.lexical.tokenizer, settings)
        return AskService(self.services.settings.model_copy(update={"answer": settings}),
                          self.services.retriever, extractive, None)

    def ask(self, question: str, k: int | None = None, document_ids: list[str] | None = None,
            **answer: Any) -> Answer:
        return self.asker(**answer).ask(self.kb, question, k, "extractive", document_ids)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
            shared_models: None) -> Iterator[Library]:
    folder = tmp_path_factory.mktemp("extractive")
    (folder / "aurora.pdf").write_bytes(text_pdf(AURORA))
    (folder / "garden.pdf").write_bytes(text_pdf(GARDEN))
    render_pages_article(folder / "lighthouse.pdf", "한빛 등대", KOREAN)
    settings = Settings(data_dir=folder / "data",
                        chunking=ChunkingSettings(target_chars=400, min_chars=0))
    services = Services.build(settings, embedder=embedder)
    try:
        kb = services.create_kb("facts")
        paths = [folder / name for name in ("aurora.pdf", "garden.pdf", "lighthouse.pdf")]
        job = run_job(services.pipeline, kb, queue_local_files(kb, paths))
        assert job is not None
        assert [f.status for f in job.files] == [DocumentStatus.INDEXED] * 3, job
        ids = {Path(f.filename).stem: str(f.document_id) for f in job.files}
        yield Library(services, kb, ids)
    finally:
        services.close()


def assert_verbatim(library: Library, answer: Answer, settings: AnswerSettings) -> None:
    """Every citation is exact page text and points at its words in the answer."""
    assert answer.mode is AnswerMode.EXTRACTIVE
    assert not answer.abstained and answer.citations
    assert len(answer.citations) <= settings.max_sentences
    assert len(answer.answer) <= settings.max_chars
    passages = {p.chunk_id: p for p in answer.passages}
    for number, citation in enumerate(answer.citations, start=1):
        assert citation.number == number
        page = library.kb.catalog.page_text(citation.document_id, citation.page)
        assert page is not None
        assert citation.quote and page[citation.char_start:citation.char_end] == citation.quote
        passage = passages[citation.chunk_id]  # a retrieved chunk
        assert (passage.document_id, passage.filename, passage.page) == (
            citation.document_id, citation.filename, citation.page)
        assert passage.char_start <= citation.char_start < citation.char_end <= passage.char_end
        shown = answer.answer[citation.answer_start:citation.answer_end]
        assert shown == _LINE_BREAKS.sub(" ", citation.quote)
    quotes = answer.answer
    if answer.short_answer is not None:  # the short answer on its own line, then the quotes
        short = answer.short_answer
        cited = answer.citations[short.citation - 1]
        assert cited.quote[short.quote_start:short.quote_end] == short.text
        lead, _, quotes = answer.answer.partition(LEAD_SEPARATOR)
        assert lead == _LINE_BREAKS.sub(" ", short.text)  # shown as the quotes are
    assert "\n" not in quotes


@pytest.mark.parametrize("question", [
    "When was the Aurora battery designed?",
    "What does the Aurora battery store energy in?",
    "What colour is the north gate of the Aurora plant?",
    "Who designed the Willow Garden?",
    "한빛 등대는 언제 칠해졌나요?",
])
def test_answers_quote_verbatim_sentences(library: Library, question: str) -> None:
    answer = library.ask(question)
    assert_verbatim(library, answer, AnswerSettings())
    assert answer.question == question
    assert answer.passages and answer.answerability is not None
    assert {"retrieve", "answer", "total"} <= set(answer.timings_ms)
    # without cutting, the answer is exactly its short answer (if any), then its quotes, in
    # order, separated by spaces
    lead = (_LINE_BREAKS.sub(" ", answer.short_answer.text) + LEAD_SEPARATOR
            if answer.short_answer else "")
    assert answer.answer == lead + " ".join(_LINE_BREAKS.sub(" ", c.quote)
                                            for c in answer.citations)


def test_quotes_keep_the_page_line_breaks(library: Library) -> None:
    """text_pdf wraps at 80 characters: quotes keep "\\n", the answer shows spaces."""
    settings = AnswerSettings(max_sentences=2, max_chars=2000, abstain_below=0)  # quoting only
    quotes = []
    for question in ("What does the Aurora battery store energy in?",
                     "How often must the coolant pump of the Aurora battery be inspected?"):
        answer = library.ask(question, **settings.model_dump(exclude={"k"}))
        assert_verbatim(library, answer, settings)
        quotes += [c.quote for c in answer.citations]
    assert any("\n" in quote for quote in quotes)


@pytest.mark.parametrize(("question", "short"), [
    ("When was the Aurora battery designed?", "1987"),
    ("Who designed the Willow Garden?", "Tomas Berg"),
])
def test_the_answer_leads_with_the_short_fact(library: Library, question: str,
                                              short: str) -> None:
    answer = library.ask(question)
    assert answer.short_answer is not None and answer.short_answer.text == short
    assert answer.answer.startswith(short + LEAD_SEPARATOR)
    assert answer.to_json()["short_answer"]["text"] == short


@pytest.mark.parametrize(("question", "expected"), [
    ("When was the Aurora battery designed?",
     "The Aurora battery was designed in 1987 by the engineer Ingrid Halvorsen."),
    ("When was the Willow Garden designed?",
     "The Willow Garden was designed in 1952 by the landscape architect Tomas Berg."),
    ("How many spaces does the car park of the Aurora plant hold?", "ninety spaces"),
    ("한빛 등대는 언제 칠해졌나요?", "1987년에 조각가 김민서가 보라색으로 칠했다."),
])
def test_the_best_sentence_comes_first(library: Library, question: str, expected: str) -> None:
    answer = library.ask(question)
    assert not answer.abstained
    first = answer.citations[0]
    assert expected in _LINE_BREAKS.sub(" ", first.quote)
    lead = (_LINE_BREAKS.sub(" ", answer.short_answer.text) + LEAD_SEPARATOR
            if answer.short_answer else "")
    assert first.answer_start == len(lead)


@pytest.mark.parametrize(("max_sentences", "max_chars"), [
    (1, 400), (2, 120), (2, 4000), (4, 50),
    (3, 4000), (10, 200),
])
def test_at_most_max_sentences_and_max_chars(library: Library, max_sentences: int,
                                             max_chars: int) -> None:
    settings = AnswerSettings(max_sentences=max_sentences, max_chars=max_chars,
                              abstain_below=0)  # the sizes, not abstention
    for question in ("What colour is the north gate of the Aurora plant?",
                     "How often must the coolant pump of the Aurora battery be inspected?"):
        answer = library.ask(question, k=10, **settings.model_dump(exclude={"k"}))
        assert_verbatim(library, answer, settings)
        if max_chars >= 4000:
            assert len(answer.citations) == max_sentences  # the room is there: all are used


DOORS = ["The red door is old.", "The blue door is new.", "The green door is shut.",
         "The pink door is open."]


def _doors(tokenizer: Tokenizer, max_chars: int) -> Answer:
    """Four one-sentence passages answered together (no knowledge base needed)."""
    passages = [whole_page(text, "doors", "doors.pdf", page=i + 1, chunk_id=i)
                for i, text in enumerate(DOORS)]
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(max_sentences=4, max_chars=max_chars,
                                                            abstain_below=0))
    return answerer.answer(evidence_of("Which door?", passages,
                                       TermStatistics(chunks=4, frequencies={})))


def test_every_citation_points_at_its_quote_in_the_answer(tokenizer: Tokenizer) -> None:
    answer = _doors(tokenizer, 400)
    assert len(answer.citations) == 4
    for citation in answer.citations:
        assert answer.answer[citation.answer_start:citation.answer_end] == citation.quote


def test_the_answer_never_exceeds_max_chars(tokenizer: Tokenizer) -> None:
    full = len(" ".join(DOORS))  # 89
    for max_chars in range(50, full + 1):
        answer = _doors(tokenizer, max_chars)
        assert len(answer.answer) <= max_chars, (max_chars, answer.answer)


def test_a_long_sentence_is_cut_to_a_verbatim_window(library: Library) -> None:
    settings = AnswerSettings(max_sentences=1, max_chars=150, abstain_below=0)
    answer = library.ask("How often must the coolant pump of the Aurora battery be inspected?",
                         **settings.model_dump(exclude={"k"}))
    assert_verbatim(library, answer, settings)
    (citation,) = answer.citations
    page = library.kb.catalog.page_text(citation.document_id, citation.page)
    assert page is not None and page.startswith("The maintenance manual")
    sentence_end = page.index("of the plant.") + len("of the plant.")
    assert citation.char_end < sentence_end  # a part of the sentence only
    assert answer.answer.startswith(ELLIPSIS) or answer.answer.endswith(ELLIPSIS)
    prefix = ELLIPSIS if citation.char_start > 0 else ""
    suffix = ELLIPSIS if citation.char_end < sentence_end else ""
    assert answer.answer == prefix + _LINE_BREAKS.sub(" ", citation.quote) + suffix
    assert citation.answer_start == len(prefix)
    assert "inspected every six months" in _LINE_BREAKS.sub(" ", citation.quote)
    # cut on word boundaries
    assert citation.char_start == 0 or page[citation.char_start - 1].isspace()
    assert page[citation.char_end].isspace()


@pytest.mark.parametrize("question", [
    "What is the capital of Mars?",
    "Which football team won the 1966 World Cup final?",
])
def test_an_off_topic_question_abstains(library: Library, question: str) -> None:
    answer = library.ask(question)
    assert answer.abstained
    assert answer.mode is AnswerMode.EXTRACTIVE
    assert answer.answer == abstention_text(question)
    assert answer.answer.startswith("The documents do not say.")
    assert answer.citations == []
    assert answer.passages  # the closest passages are still shown
    assert answer.answerability is not None and answer.answerability < 0.41


@pytest.mark.parametrize("question", ["화성의 수도는 어디인가요?",
                                      "월드컵 결승전에서 어느 팀이 이겼나요?"])
def test_an_off_topic_korean_question_abstains_in_korean(library: Library,
                                                        question: str) -> None:
    answer = library.ask(question)
    assert answer.abstained
    assert answer.answer == abstention_text(question)
    assert answer.answer.startswith("문서에는 이 질문에 대한 답이 없습니다.")
    assert answer.citations == [] and answer.passages


def test_abstain_below_zero_never_abstains(library: Library) -> None:
    settings = AnswerSettings(abstain_below=0)
    for question in ("What is the capital of Mars?", "화성의 수도는 어디인가요?", "?!"):
        answer = library.ask(question, **settings.model_dump(exclude={"k"}))
        assert_verbatim(library, answer, settings)


@pytest.mark.parametrize("question", [
    "When was the Aurora battery designed?",
    "한빛 등대는 언제 칠해졌나요?",
    "The Aurora battery was designed in 1987 by the engineer Ingrid Halvorsen.",
])
def test_abstain_below_one_always_abstains(library: Library, question: str) -> None:
    answer = library.ask(question, abstain_below=1)
    assert answer.abstained
    assert answer.citations == []
    assert answer.answer == abstention_text(question)


def test_sentences_of_overlapping_chunks_are_quoted_once(library: Library) -> None:
    doc = library.ids["aurora"]
    passages = library.services.retriever.search(library.kb, "Aurora plant", 20, [doc])
    page3 = sorted((p for p in passages if p.page == 3), key=lambda p: p.char_start)
    assert len(page3) == 2, "the fixture should cut page 3 into two overlapping chunks"
    first, second = page3
    assert second.char_start < first.char_end, "the chunks should share a sentence"
    shared = first.text[second.char_start - first.char_start:]
    assert shared == second.text[:len(shared)] and shared.endswith(".")
    # ask with the shared sentence itself: both copies are the best candidates
    question = " ".join(shared.split())
    answer = library.ask(question, k=10, document_ids=[doc], abstain_below=0, max_sentences=3,
                         max_chars=1000)
    assert answer.passages and {p.chunk_id for p in page3} <= {
        p.chunk_id for p in answer.passages}
    assert answer.citations[0].quote == shared
    spans = [(c.document_id, c.page, c.char_start) for c in answer.citations]
    assert len(spans) == len(set(spans)) == 3
    assert len({c.quote for c in answer.citations}) == 3
    assert answer.answer.count(question) == 1


def test_document_ids_restrict_the_answer(library: Library) -> None:
    question = "When was the Willow Garden designed?"
    everywhere = library.ask(question)
    assert everywhere.citations[0].document_id == library.ids["garden"]
    aurora = library.ids["aurora"]
    restricted = library.ask(question, document_ids=[aurora], abstain_below=0, max_sentences=5,
                             max_chars=2000)
    assert restricted.passages
    assert {p.document_id for p in restricted.passages} == {aurora}
    assert {c.document_id for c in restricted.citations} == {aurora}
    assert "Willow" not in restricted.answer
    korean = library.ask("한빛 등대는 언제 칠해졌나요?", document_ids=[library.ids["lighthouse"]])
    assert {c.document_id for c in korean.citations} == {library.ids["lighthouse"]}


@pytest.mark.parametrize("question", ["Summarize the Aurora battery document",
                                      "Aurora 배터리 문서를 요약해줘"])
def test_an_overview_request_quotes_the_documents_opening(library: Library,
                                                          question: str) -> None:
    answer = library.ask(question)
    assert not answer.abstained and answer.citations
    assert answer.answer.startswith("The Aurora battery was designed in 1987")
    assert "summar" not in answer.answer.lower()
    for citation in answer.citations:
        assert citation.document_id == library.ids["aurora"]
        page = library.kb.catalog.page_text(citation.document_id, citation.page)
        assert page is not None and page[citation.char_start:citation.char_end] == citation.quote


INVOICE = ("청구서\n2023년 11월 14일\n주식회사 데이터 애널리틱스 | ㉾ 03000\n"
           "제목 : 데이터 분석 프로젝트 | TEL: 000-0000-0000\n품번\u2027품명 | 수량 | 단가 | 금액\n"
           "데이터 분석 | 1 | 9,000,000 | 9,000,000\n보고 | 1 | 500,000 | 500,000\n"
           "소계 | 9,500,000\n소비세 (10%) | 950,000\n합계 | 10,450,000")


def test_a_table_row_named_by_the_question_s_focus_answers(tokenizer: Tokenizer) -> None:
    """The company and project the question names fill the invoice's title lines; the row
    it asks for (소비세) holds one of its words: the focus picks that row."""
    passage = whole_page(INVOICE, "invoice", "invoice.pdf")
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0))
    question = ("주식회사 데이터 애널리틱스의 데이터 분석 프로젝트 청구서에 붙은 "
                "소비세는 얼마인가요?")
    answer = answerer.answer(evidence_of(question, [passage], TermStatistics(
        chunks=50, frequencies={"소비세": 5, "데이터": 20, "분석": 20})))
    assert answer.short_answer is not None and answer.short_answer.text == "950,000"
    assert answer.citations[0].quote.startswith("소비세 (10%) | 950,000")


def test_a_short_answer_across_a_line_break_is_shown_on_one_line(tokenizer: Tokenizer) -> None:
    """The answer shows the short answer as it shows quotes (line breaks as spaces), so it
    stays on the answer's first line; `short_answer.text` is the page's exact text."""
    answer = answer_over(tokenizer, "평가 데이터를 포함해 총 21,421\n개의 질문-답변 쌍이 "
                         "변환되었다.", "질문-답변 쌍은 총 몇 개가 변환되었나요?")
    assert answer.short_answer is not None and answer.short_answer.text == "21,421\n개"
    assert answer.answer.startswith("21,421 개" + LEAD_SEPARATOR)


OPERATIONS = ("AMAZON.COM, INC.\nCONSOLIDATED STATEMENTS OF OPERATIONS\n"
              "(in millions, except per share data)\nYear Ended December 31,\n"
              "2017 | 2018 | 2019\n"
              "Total net sales | 177,866 | 232,887 | 280,522\n"
              "Operating income | 4,106 | 12,421 | 14,541\n"
              "Interest income | 202 | 440 | 832\n"
              "Other income (expense), net | 346 | (183) | 203\n"
              "Income before income taxes | 3,806 | 11,261 | 13,976\n"
              "Provision for income taxes | (769) | (1,197) | (2,374)\n"
              "Net income | $ 3,033 | $ 10,073 | $ 11,588\n"
              "Basic earnings per share | $ 6.32 | $ 20.68 | $ 23.46")


def test_the_focus_after_a_possessive_picks_the_row(tokenizer: Tokenizer) -> None:
    """Every row of an income statement holds "income"; "Amazon's FY2019 net income" asks
    for the net income row, in the column of 2019."""
    answer = answer_over(
        tokenizer, OPERATIONS,
        "By drawing conclusions from the information stated only in the income statement, "
        "what is Amazon's FY2019 net income attributable to shareholders (in USD millions)?",
        {"incom": 30, "net": 20})
    assert answer.short_answer is not None and answer.short_answer.text == "$ 11,588"
    assert answer.citations[0].quote.startswith("Net income | $ 3,033")


BULLETIN = ("PRECINCT BULLETINS GENERAL ELECTION 11/04/14 PRECINCT 0050003A ACTON\n"
            "327 BALLOTS CAST 1100 REGISTERED VOTERS\n"
            "GOVERNOR VOTER NOMINATED\n"
            "NEEL KASHKARI 247REP\n"
            "EDMUND G BROWN 69 DEM\n"
            "LIEUTENANT GOVERNOR GAVIN NEWSOM 64 DEM")


def test_words_that_name_the_document_do_not_pick_the_line(tokenizer: Tokenizer) -> None:
    """The precinct, election and bulletin the question names fill the page's title line
    and the document's context; the line that answers holds the rest (the candidate)."""
    passage = whole_page(BULLETIN, "bulletin", "bulletin.pdf")
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0))
    question = ("In the general election precinct bulletin for precinct 0050003A (Acton), "
                "how many votes did Edmund G Brown receive?")
    evidence = gather_evidence(
        question, [passage], np.zeros(8, np.float32),
        TermStatistics(chunks=50, frequencies={}), {},
        contexts={1: "la precinct bulletin 2014 | PRECINCT BULLETINS GENERAL ELECTION "
                     "PRECINCT 0050003A ACTON"})
    answer = answerer.answer(evidence)
    assert answer.short_answer is not None and answer.short_answer.text == "69"


AGENDA = ("Welcome to the meeting of the Board of Education. Please turn off your phone.\n"
          "Board of Education\nSpecial Meeting\nAGENDA\n"
          "District Office\n1309 S. Mary Avenue\n\nApril 6, 2016\n7:30 a.m.\n"
          "1. CALL TO ORDER")


def answer_over(tokenizer: Tokenizer, text: str, question: str,
                frequencies: dict[str, int] | None = None) -> Answer:
    """The extractive answer (never declined) over one page's text as the only passage, in
    a knowledge base of 50 chunks where only `frequencies`' words occur."""
    passage = whole_page(text, "doc", "doc.pdf")
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0))
    return answerer.answer(evidence_of(question, [passage], TermStatistics(
        chunks=50, frequencies=frequencies or {})))


def test_the_fact_on_the_next_line_of_a_short_sentence_is_read(tokenizer: Tokenizer) -> None:
    """The date the question names is on one line, the time it asks for on the next."""
    answer = answer_over(tokenizer, AGENDA,
                         "What time does the special meeting on April 6, 2016 start?")
    assert answer.short_answer is not None and answer.short_answer.text == "7:30 a.m."


NORMS = ("The age norms give the month by which infants have mastered each skill:\n"
         "Walks holding on 9.2 12.7\nPlays pat-a-cake 9.3 15.0\n\nInfants differ.\n\n"
         "Stands well alone 11.5 13.9\nWalks well 12.1 14.3\nBuilds tower of two cubes 13.8 19.0\n")


def test_a_table_row_is_weighed_by_its_passage_not_by_its_sentence(tokenizer: Tokenizer) -> None:
    """The first sentence holds more of the question (month, infants) and a row that names
    part of it (walks); the row that names it all (walks well) is in a later "sentence" of
    the same table: rows are ranked by what they hold, not by their sentence's rank."""
    answer = answer_over(tokenizer, NORMS, "By what month do infants walk well?",
                         {"well": 40, "walk": 2, "month": 30, "infant": 30})
    assert answer.short_answer is not None and answer.short_answer.text == "12.1"
    assert answer.citations[0].quote == "Walks well 12.1 14.3"


TRIAL = ("During the final\ndesert trial the\nlighter prototype took\nonly 41.5 seconds for\n"
         "the full course.\nThe heavier one was slower.")


def test_a_sentence_wrapped_over_lines_is_searched_whole(tokenizer: Tokenizer) -> None:
    """No line of the wrapped sentence holds much of the question; the sentence does."""
    answer = answer_over(tokenizer, TRIAL, "How long did the lighter prototype need for the "
                         "full course in the final desert trial?")
    assert answer.short_answer is not None and answer.short_answer.text == "41.5 seconds"
    assert answer.citations[0].quote.startswith("During the final")


STATEMENT = ("연 결 재 무 상 태 표\n제 54 기 : 2022년 12월 31일 현재\n"
             "제 53 기 : 2021년 12월 31일 현재\n"
             "삼성전자주식회사와 그 종속기업 | (단위 : 백만원)\n"
             "과 | 목 | 주 석 | 제 54 (당) 기 | 제 53 (전) 기\n자 | 산\n"
             "\u2160. 유 동 자 산 | 218,470,581 | 218,163,185\n"
             "1. 현금및현금성자산 | 4, 28 | 49,680,710 | 39,031,415\n"
             "2. 단기금융상품 | 4, 28 | 65,102,886 | 81,708,986\n"
             "8. 재고자산 | 8 | 52,187,866 | 41,384,404\n"
             "자 산 총 계 | 448,424,507 | 426,621,158")


def test_a_row_is_read_although_the_period_s_lines_outrank_it(tokenizer: Tokenizer) -> None:
    """On a statement's page every line is a sentence, and the lines that hold the
    question's date ("2022년 12월 31일") outrank the row it asks for (재고자산): the rows of
    the first passages that hold the question's focus are weighed too, and the row is
    quoted with its column header."""
    passage = whole_page(STATEMENT, "bs", "bs.pdf", page=2)
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0))
    question = "삼성전자 연결재무상태표에서 2022년 12월 31일 기준 재고자산은 얼마로 나와 있나요?"
    evidence = gather_evidence(
        question, [passage], np.zeros(8, np.float32),
        TermStatistics(chunks=50, frequencies={"재고": 2, "자산": 10, "2022": 20}), {},
        contexts={1: "삼성 재무제표 | 연결재무상태표 삼성전자"})
    answer = answerer.answer(evidence)
    assert answer.short_answer is not None and answer.short_answer.text == "52,187,866"
    assert answer.citations[0].quote == "8. 재고자산 | 8 | 52,187,866 | 41,384,404"
    assert answer.citations[1].quote.startswith("과 | 목 | 주 석")


WARRANTY = ("DJ68-00879A-02\n제품보증서\n삼성 청소기\n서비스센터 홈페이지\n"
            "모델명, 고장상태, 연락처를 알려주시면 고객 여러분의 궁금한 점을 친절하게 상담합니다.\n"
            "제 품 명\n판 매 금 액\n년 월 일\n제품 보증기간\n배터리 보증기간\n부품 보유기간\n"
            "1 년\n2 년\n7 년\n제품의 외관 및 규격 등은 제품 개선을 위해 예고 없이 변경될 수 "
            "있습니다.")


@pytest.mark.parametrize(("question", "short"), [
    ("삼성 무선 청소기 제품보증서에 따르면 배터리는 몇 년 동안 보증되나요?", "2 년"),
    ("삼성 청소기의 부품 보유기간은 얼마나 되나요?", "7 년"),
])
def test_a_value_stacked_below_its_label_answers(tokenizer: Tokenizer, question: str,
                                                  short: str) -> None:
    """A warranty card printed as labels above values (read column by column): the
    label the question names pairs with its value, quoted with the whole block."""
    passage = whole_page(WARRANTY, "card", "card.pdf")
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0))
    answer = answerer.answer(evidence_of(question, [passage], TermStatistics(
        chunks=50, frequencies={"배터리": 3, "보증": 3, "부품": 3, "보유": 3})))
    assert answer.short_answer is not None and answer.short_answer.text == short
    assert answer.citations[0].quote.startswith("제품 보증기간\n배터리 보증기간")
    found = answer.short_answer
    assert answer.citations[0].quote[found.quote_start:found.quote_end] == short


BALANCE_ROWS = [("현금및현금성자산", "49,680,710", "39,031,415"),
                ("단기금융상품", "65,102,886", "81,708,986"),
                ("매출채권", "35,721,563", "40,713,415"),
                ("재고자산", "52,187,866", "41,384,404"),
                ("유형자산", "168,045,388", "149,928,539"),
                ("자 산 총 계", "448,424,507", "426,621,158"),
                ("매입채무", "10,644,686", "13,453,351"),
                ("부 채 총 계", "93,674,903", "121,721,227"),
                ("이익잉여금", "337,946,407", "293,064,763")]


def balance_sheet_pdf() -> bytes:
    strings = [Drawn(72, 780, "연 결 재 무 상 태 표", HANGUL_FONT, 14),
               Drawn(72, 760, "제 54 기 : 2022년 12월 31일 현재", HANGUL_FONT),
               Drawn(72, 745, "(단위 : 백만원)", HANGUL_FONT),
               Drawn(72, 725, "과 목", HANGUL_FONT), Drawn(330, 725, "제 54 (당) 기", HANGUL_FONT),
               Drawn(450, 725, "제 53 (전) 기", HANGUL_FONT)]
    for row, (label, current, previous) in enumerate(BALANCE_ROWS):
        y = 705 - 18 * row
        strings += [Drawn(72, y, label, HANGUL_FONT), Drawn(330, y, current),
                    Drawn(450, y, previous)]
    return drawn_pdf([strings])


@pytest.fixture(scope="module")
def balance_sheet(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
                  shared_models: None) -> Iterator[Library]:
    """A knowledge base of one Korean balance sheet and nothing else."""
    folder = tmp_path_factory.mktemp("balance")
    (folder / "재무제표.pdf").write_bytes(balance_sheet_pdf())
    services = Services.build(Settings(data_dir=folder / "data"), embedder=embedder)
    try:
        kb = services.create_kb("finance")
        job = run_job(services.pipeline, kb, queue_local_files(kb, [folder / "재무제표.pdf"]))
        assert job is not None and job.files[0].status is DocumentStatus.INDEXED, job
        yield Library(services, kb, {"재무제표": str(job.files[0].document_id)})
    finally:
        services.close()


@pytest.mark.parametrize(("question", "short"), [
    ("재고자산은 얼마인가요?", "52,187,866"),
    ("이익잉여금은 얼마입니까?", "337,946,407"),
    ("부채총계는 얼마인가요?", "93,674,903"),
])
def test_how_much_over_a_single_balance_sheet_is_answered(balance_sheet: Library,
                                                          question: str, short: str) -> None:
    """With the service's own threshold: "얼마" (how much) is no word a page that states
    the amount holds, so it no longer weighs against a knowledge base of one statement."""
    answer = balance_sheet.ask(question)
    assert not answer.abstained, answer.answerability
    assert answer.short_answer is not None and answer.short_answer.text == short


def test_the_noun_naming_the_answers_kind_need_not_be_on_the_page(tokenizer: Tokenizer) -> None:
    """"... 날짜는?" asks for a date: the sentence that gives it never says 날짜, and a word
    the knowledge base never holds would otherwise count against answering at all."""
    text = "반기문은 2016년 12월 21일 유엔 사무총장 퇴임 뒤 대통령 선거 출마를 선언했다."
    passage = whole_page(text, "ban", "ban.pdf", score=3.0)
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings())
    features = answerer.features(evidence_of(
        "반기문이 대통령 선거 출마를 선언한 날짜는?", [passage],
        TermStatistics(chunks=50, frequencies={"반기문": 3, "대통령": 5, "선거": 5,
                                               "출마": 2, "선언": 4})))
    assert features.unseen == 0.0 and features.coverage == pytest.approx(1.0)


def test_a_word_whose_translation_a_passage_holds_is_not_unseen(
        tokenizer: Tokenizer) -> None:
    """A Korean question over an English traffic report: the knowledge base never saw 유럽
    or 국제선, but the passage holds a translation of 유럽 (`Evidence.translations`), so it
    does not count as a word of another topic; 국제선, whose translation the knowledge base
    holds but the passage does not, and 탑승, which has none, still do."""
    text = "Europe | 42,097 | 88.3 | 383,539 | 87.2 | 618,617 | 99.5 | 62.0"
    passage = whole_page(text, "jal", "jal.pdf", score=3.0)
    terms = TermStatistics(chunks=50, frequencies={"jal": 5, "europ": 3, "internat": 4})
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings())
    evidence = evidence_of("JAL의 유럽 국제선 탑승률은 몇 퍼센트였나요?", [passage], terms)
    plain = answerer.features(evidence)
    europe = answerer.features(replace(evidence, translations={"유럽": ("europ",)}))
    both = answerer.features(replace(evidence, translations={
        "유럽": ("europ",), "국제선": ("internat",)}))
    assert 0 < both.unseen == europe.unseen < plain.unseen


def test_a_line_item_named_otherwise_is_not_unseen(tokenizer: Tokenizer) -> None:
    """No chunk says "topline", but the passage's "Net revenues" is the same line item
    (`qa_service.line_items`): the word is not one of another topic."""
    text = "Net revenues | 13,127 | 9,680\nLas Vegas Strip Resorts | 7,051 | 4,786"
    passage = whole_page(text, "mgm", "mgm.pdf", score=3.0)
    terms = TermStatistics(chunks=50, frequencies={"mgm": 5, "region": 4, "best": 7,
                                                   "revenu": 9})
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings())
    named = answerer.features(evidence_of("Which MGM region had the best topline?",
                                          [passage], terms))
    other = answerer.features(evidence_of("Which MGM region had the best outline?",
                                          [passage], terms))
    assert named.unseen == 0.0 < other.unseen


def test_a_misspelled_word_counts_as_meant_but_still_as_unseen(tokenizer: Tokenizer) -> None:
    """Retrieval read "Hollwood" as "hollywood" (`Evidence.spellings`): the sentence that
    holds it covers the question, while the typed word still says the knowledge base
    never saw it (a question about another topic is misspelled no less often)."""
    text = "ABC bought 20 acres of land in Hollywood in 1949 for its studios."
    passage = whole_page(text, "abc", "abc.pdf", score=3.0)
    terms = TermStatistics(chunks=50, frequencies={"abc": 9, "bought": 3, "acr": 2,
                                                   "land": 4, "hollwood": 0, "hollywood": 2})
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings())
    question = "How many acres of land did ABC buy in Hollwood?"
    plain = answerer.features(evidence_of(question, [passage], terms))
    read = answerer.features(replace(evidence_of(question, [passage], terms),
                                     spellings={"hollwood": "hollywood"}))
    assert read.coverage > plain.coverage and read.line_share > plain.line_share
    assert read.unseen == plain.unseen > 0


def test_instructions_to_the_answerer_do_not_count_against_the_answer(
        tokenizer: Tokenizer) -> None:
    """"Base your judgments on ..." says how to answer: the balance sheet's row answers the
    question as well with it as without it."""
    text = "CONSOLIDATED BALANCE SHEETS\nTotal current liabilities | 5,466,312 | 4,586,657"
    passage = whole_page(text, "nflx", "nflx.pdf", score=3.0)
    terms = TermStatistics(chunks=500, frequencies={"total": 90, "current": 60, "liabil": 40})
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings())
    asked = "What were the total current liabilities?"
    told = asked + " Base your judgments on the information provided primarily in the sheet."
    plain, instructed = (answerer.features(evidence_of(q, [passage], terms))
                         for q in (asked, told))
    assert instructed == plain


def test_a_compound_counts_by_its_parts(tokenizer: Tokenizer) -> None:
    """"FY2017" is also read as "fy" and "2017": a statement whose column says 2017 holds
    the year asked for, and the compound, rare in the knowledge base, must not outweigh
    every other word of the question."""
    text = ("CONSOLIDATED BALANCE SHEETS\nAs of December 31, 2017\n"
            "Total current liabilities | 5,466,312 | 4,586,657")
    passage = whole_page(text, "nflx", "nflx.pdf", score=3.0)
    terms = TermStatistics(chunks=500, frequencies={
        "fy2017": 1, "fy": 40, "2017": 60, "total": 90, "current": 60, "liabil": 40})
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings())
    compound = answerer.features(evidence_of(
        "What were the FY2017 total current liabilities?", [passage], terms))
    year = answerer.features(evidence_of(
        "What were the FY 2017 total current liabilities?", [passage], terms))
    assert compound.coverage == pytest.approx(year.coverage)


def test_words_the_passage_is_about_weigh_less_in_its_sentences(tokenizer: Tokenizer) -> None:
    """"How large was Harbour Shipping's fleet of vessels, according to its annual
    report?": the company and the report say where to look, and the passage's context
    already holds them; the sentence that holds the fleet and its vessels answers."""
    text = ("Harbour Shipping presents its annual report for the year. "
            "The fleet had 42 vessels in service at the end of the year.")
    passage = whole_page(text, "hs", "harbour.pdf", score=3.0)
    terms = TermStatistics(chunks=500, frequencies={
        "harbour": 10, "ship": 10, "annual": 10, "report": 10, "vessel": 60, "fleet": 60,
        "accord": 100})
    evidence = gather_evidence(
        "How large was Harbour Shipping's fleet of vessels, according to its annual report?",
        [passage], np.zeros(8, np.float32), terms, {}, {1: "HARBOUR SHIPPING ANNUAL REPORT"})
    settings = AnswerSettings(abstain_below=0, max_sentences=1)
    answer = ExtractiveAnswerer(tokenizer, settings).answer(evidence)
    assert answer.citations[0].quote.startswith("The fleet had 42 vessels")
    flat = ExtractiveAnswerer(tokenizer, settings, SentenceWeights(context_words=1.0))
    assert flat.answer(evidence).citations[0].quote.startswith("Harbour Shipping")


def test_the_statement_the_question_asks_for_is_quoted_first(tokenizer: Tokenizer) -> None:
    """"Total current liabilities?" is read off the balance sheet (its passage's context
    carries the statement's names), not off the note that mentions them in passage 1."""
    note = "Total current liabilities are described in Note 7."
    sheet = "Total current liabilities | 5,466,312 | 4,586,657"
    passages = [whole_page(text, "nflx", "nflx.pdf", score=3.0 - n, page=n, chunk_id=n)
                for n, text in ((1, note), (2, sheet))]
    contexts = {1: "NETFLIX 2017 10K | NOTES", 2: "NETFLIX 2017 10K | CONSOLIDATED BALANCE "
                f"SHEETS | {STATEMENTS[0].names}"}
    terms = TermStatistics(chunks=500, frequencies={"total": 90, "current": 60, "liabil": 40,
                                                    "note": 50})
    evidence = gather_evidence("Total current liabilities?", passages,
                               np.zeros(8, np.float32), terms, {}, contexts)
    settings = AnswerSettings(abstain_below=0, max_sentences=1)
    first = ExtractiveAnswerer(tokenizer, settings).answer(evidence).citations[0]
    assert first.page == 2
    flat = ExtractiveAnswerer(tokenizer, settings, SentenceWeights(asked_statement=0))
    assert flat.answer(evidence).citations[0].page == 1


def test_a_line_item_asked_by_another_name_is_read_off_its_row(tokenizer: Tokenizer) -> None:
    """"Cost of goods sold" is the statement's "Cost of sales" row, not the first
    passage's sentence that holds the words "goods" and "sold"."""
    prose = "Goods sold through our own stores cost us 1,250 more than planned."
    statement = ("(In millions) | 2018 | 2017\nRevenues | $ 36,397 | $ 34,350\n"
                 "Cost of sales | 20,441 | 19,038\nGross profit | 15,956 | 15,312")
    passages = [whole_page(text, "nike", "nike.pdf", score=3.0 - n, page=n, chunk_id=n)
                for n, text in ((1, prose), (2, statement))]
    terms = TermStatistics(chunks=500, frequencies={"cost": 60, "good": 40, "sold": 40,
                                                    "2018": 30})
    evidence = gather_evidence("What was the cost of goods sold in 2018?", passages,
                               np.zeros(8, np.float32), terms, {})
    answer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0)).answer(evidence)
    assert answer.short_answer is not None
    assert answer.short_answer.text == "20,441"
    assert answer.citations[0].page == 2


def test_a_figure_to_compute_is_quoted_from_its_rows_not_shown_as_read(
        tokenizer: Tokenizer) -> None:
    """Told to calculate, the answerer quotes the row it read first, with its header, but
    no figure of it stands as the answer: 20,441 is no three-year average."""
    statement = ("(In millions) | 2018 | 2017 | 2016\nRevenues | $ 36,397 | $ 34,350 | "
                 "$ 32,376\nCost of sales | 20,441 | 19,038 | 17,405")
    passage = whole_page(statement, "nike", "nike.pdf")
    terms = TermStatistics(chunks=500, frequencies={"cost": 60, "sale": 40, "2016": 30,
                                                    "2018": 30, "averag": 20})
    asked = "What was the average cost of sales from 2016 to 2018?"
    settings = AnswerSettings(abstain_below=0)
    read = ExtractiveAnswerer(tokenizer, settings).answer(
        gather_evidence(asked, [passage], np.zeros(8, np.float32), terms, {}))
    assert read.short_answer is not None and read.short_answer.text == "20,441"
    computed = ExtractiveAnswerer(tokenizer, settings).answer(gather_evidence(
        f"{asked} Calculate it from the income statement.", [passage],
        np.zeros(8, np.float32), terms, {}))
    assert computed.short_answer is None
    assert computed.answer.startswith("Cost of sales | 20,441 | 19,038 | 17,405")
    assert computed.citations[0].quote == "Cost of sales | 20,441 | 19,038 | 17,405"


def answer_on_page(tokenizer: Tokenizer, text: str, question: str,
                   frequencies: dict[str, int]) -> Answer:
    """The extractive answer (never declined) to `question` over one page, `text`."""
    passage = whole_page(text, "doc", "doc.pdf")
    return ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0)).answer(
        gather_evidence(question, [passage], np.zeros(8, np.float32),
                        TermStatistics(chunks=500, frequencies=frequencies), {}))


def test_a_change_in_a_line_item_is_read_off_the_items_row(tokenizer: Tokenizer) -> None:
    """"The year-over-year change in revenue" asks about revenue: the statement's "Total net
    sales" row is quoted first (with its header), not the header of years that the
    question's other words match."""
    statement = ("Year Ended December 31, | 2015 | 2016 | 2017\n"
                 "Net product sales | $ 79,268 | $ 94,665 | $ 118,573\n"
                 "Total net sales | 107,006 | 135,987 | 177,866\n"
                 "Cost of sales | 71,651 | 88,265 | 111,934")
    answer = answer_on_page(
        tokenizer, statement, "What is the year-over-year change in revenue from 2016 to 2017?",
        {"year": 200, "chang": 80, "revenu": 60, "2016": 30, "2017": 40})
    assert answer.citations[0].quote.startswith("Total net sales | 107,006")


def test_a_forms_label_before_a_colon_labels_its_value(tokenizer: Tokenizer) -> None:
    """"On what date was the invoice issued?" is read off the line labelled "Issue date:",
    whose label holds what is asked, not off the line that shares more of the question's
    other words and also holds a date."""
    invoice = ("Invoice No: 2023-1031\n"
               "Website renewal project kickoff: September 1, 2023\n"
               "Issue date: October 31, 2023\n"
               "Amount due: USD 2,275")
    answer = answer_on_page(
        tokenizer, invoice, "On what date was the invoice for the website renewal project issued?",
        {"date": 40, "invoic": 30, "websit": 20, "renew": 10, "project": 30, "issu": 40})
    assert answer.short_answer is not None
    assert answer.short_answer.text == "October 31, 2023"


BROCHURE = ("Membership in the PDF Association\n"
            "Founded in 2006, the PDF Association exists to promote the\n"
            "adoption and implementation of International Standards for PDF technology.\n"
            "The activities of the PDF Association cover\n"
            "the PDF standard itself as well as PDF/A, PDF/E and PDF/UA.\n"
            "Membership fees start at 500 EUR per year.")


def test_a_korean_question_reads_an_english_line_by_its_names(tokenizer: Tokenizer) -> None:
    """A Korean question shares only its names with an English page ("PDF Association"):
    a line weighs the share of those it holds, so the line with the names and a year
    gives the short answer, although most of the question's words are Korean."""
    passage = whole_page(BROCHURE, "brochure", "brochure.pdf")
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0))
    answer = answerer.answer(evidence_of(
        "PDF Association의 PDF/UA 브로슈어에 따르면 PDF Association은 몇 년에 설립되었나요?",
        [passage], TermStatistics(chunks=50, frequencies={"pdf": 30, "associ": 10, "ua": 10})))
    assert answer.short_answer is not None and answer.short_answer.text == "2006"
    assert "Founded in 2006" in answer.citations[0].quote


def invoices(texts: list[str]) -> list[Passage]:
    """One page each, `invoice-1`, `invoice-2` ..., the first ranked highest."""
    return [Passage(chunk_id=i + 1, document_id=f"invoice-{i + 1}",
                    filename=f"invoice-{i + 1}.pdf", page=1, char_start=0,
                    char_end=len(text), text=text, score=2.0 - i)
            for i, text in enumerate(texts)]


def test_a_document_the_question_names_is_quoted_before_the_others(
        tokenizer: Tokenizer) -> None:
    """Two invoices say "청구 금액"; the question names the company of the second one:
    its sentence is quoted first although the first one ranks higher."""
    passages = invoices(["주식회사 기술 서비스 청구서. 청구 금액은 3,300,000원입니다.",
                         "주식회사 데이터 애널리틱스 청구서. 청구 금액은 10,450,000원입니다."])
    question = "청구서의 청구 금액은 얼마인가요?"
    evidence = evidence_of(question, passages, TermStatistics(chunks=50, frequencies={}))
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0))
    assert answerer.answer(evidence).citations[0].document_id == "invoice-1"
    named = replace(evidence, named={"invoice-2": 1.0})
    assert answerer.answer(named).citations[0].document_id == "invoice-2"


def test_a_colon_in_prose_labels_nothing(tokenizer: Tokenizer) -> None:
    """"... advertising revenues: ABC's revenue increased ..." is prose, not a form's label
    and value: its words before the colon do not weigh it as the row the focus names."""
    text = ("Advertising revenues: ABC's revenue increased by 67 percent to $26 million in "
            "the year 1954 alone.\nIn 1962 ABC earned revenue of $15.5 million.")
    answer = answer_on_page(tokenizer, text, "What was ABC's revenue in 1962?",
                            {"abc": 30, "revenu": 40, "1962": 100})
    assert answer.short_answer is not None and answer.short_answer.text == "$15.5 million"


def test_a_document_that_prints_the_asked_date_is_quoted_before_the_others(
        tokenizer: Tokenizer) -> None:
    """Two invoices print a total; the question names the second by its date, which it
    prints otherwise ("11/09/2023" for "November 9, 2023"): its total is the answer
    although the first one ranks higher."""
    passages = invoices(["Invoice dated 2023-10-31\nTotal | USD 2,750",
                         "Invoice dated 11/09/2023\nTotal | USD 3,300"])
    terms = TermStatistics(chunks=50, frequencies={"invoic": 5, "date": 5, "total": 5,
                                                   "2023": 5})
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0))
    undated = answerer.answer(evidence_of("What is the total on the invoice?", passages, terms))
    assert undated.short_answer is not None and undated.short_answer.text == "USD 2,750"
    dated = answerer.answer(evidence_of(
        "What is the total on the invoice dated November 9, 2023?", passages, terms))
    assert dated.short_answer is not None and dated.short_answer.text == "USD 3,300"
    assert dated.citations[0].document_id == "invoice-2"


def test_a_figure_asked_for_a_period_the_table_lacks_is_declined(tokenizer: Tokenizer) -> None:
    """A balance sheet of 2022 and 2021 does not say 2019's total assets: the question is
    declined (answerability 0), not answered from the 2022 column; 2021's is answered."""
    sheet = ("연결재무상태표\n제 54 기 : 2022년 12월 31일 현재\n제 53 기 : 2021년 12월 31일 현재\n"
             "과 | 목 | 주 석 | 제 54 (당) 기 | 제 53 (전) 기\n"
             "자 산 총 계 | | 448,424,507 | 426,621,158")
    passage = whole_page(sheet, "sheet", "samsung.pdf")
    terms = TermStatistics(chunks=50, frequencies={"자산총계": 3, "연결재무상태표": 3, "2021": 5,
                                                   "2022": 5, "기": 5})
    # any threshold above 0 (0 declines nothing)
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0.01))
    asked = answerer.answer(evidence_of("2021년 말(제53기) 자산총계는 얼마였나요?", [passage],
                                        terms))
    assert not asked.abstained
    assert asked.short_answer is not None and asked.short_answer.text == "426,621,158"
    other = answerer.answer(evidence_of("2019년 말(제51기) 자산총계는 얼마였나요?", [passage],
                                        terms))
    assert other.abstained and other.answerability == 0.0


def test_a_fiscal_period_reads_as_the_year_another_page_of_its_document_says(
        tokenizer: Tokenizer) -> None:
    """The balance sheet's second page names its columns 제54기 and 제53기 only; its first
    page, another passage of the same document, says they end in 2022 and 2021: "2021년
    말" reads the 제53기 column, and "2019년 말" is declined."""
    first = whole_page("연결재무상태표\n제 54 기 : 2022년 12월 31일 현재\n"
                       "제 53 기 : 2021년 12월 31일 현재\n과 | 목 | 주 석 | 제 54 (당) 기 | "
                       "제 53 (전) 기\n자 산 총 계 | | 448,424,507 | 426,621,158", "sheet",
                       "samsung.pdf", score=0.5, chunk_id=1)
    second = whole_page("과 | 목 | 주 석 | 제 54 (당) 기 | 제 53 (전) 기\n"
                        "비지배지분 | 31 | 9,563,462 | 8,662,234", "sheet", "samsung.pdf",
                        page=2, chunk_id=2)
    terms = TermStatistics(chunks=50, frequencies={"지배": 3, "지분": 3, "2021": 5, "2022": 5,
                                                   "기": 5})
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0.01))
    asked = answerer.answer(evidence_of("2021년 말 비지배지분은 얼마였나요?", [second, first],
                                        terms))
    assert asked.short_answer is not None and asked.short_answer.text == "8,662,234"
    other = answerer.answer(evidence_of("2019년 말 비지배지분은 얼마였나요?", [second, first],
                                        terms))
    assert other.abstained and other.answerability == 0.0


def test_a_figure_whose_column_is_empty_in_the_named_row_is_declined(
        tokenizer: Tokenizer) -> None:
    """GPT-o1's row prints a dash under Recall@20: the documents do not say it, and the
    row of another method ("Google with GPT-4o") is no answer either."""
    table = ("Table 6: Results on RealScholarQuery.\n"
             "Method Crawler Recall Precision Recall Recall@100 Recall@50 Recall@20\n"
             "Google with GPT-4o - - - 0.2946 0.2573 0.2020\n"
             "GPT-o1 - 0.058 0.0134 - - -\n"
             "PaSa-7b 0.7071 0.5146 0.6111 0.6929 0.6563 0.5798")
    passage = whole_page(table, "pasa", "pasa.pdf")
    terms = TermStatistics(chunks=50, frequencies={"gpt": 3, "o1": 1, "recal": 3, "20": 5})
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0.01))
    named = answerer.answer(evidence_of("What Recall@20 does PaSa-7b achieve?", [passage],
                                        terms))
    assert named.short_answer is not None and named.short_answer.text == "0.5798"
    empty = answerer.answer(evidence_of("What Recall@20 does GPT-o1 achieve?", [passage],
                                        terms))
    assert empty.abstained and empty.answerability == 0.0


def test_a_code_the_documents_never_print_is_declined(tokenizer: Tokenizer) -> None:
    """The bulletin of precinct 0050003A does not give precinct 0050004A's votes: a code
    no passage prints and no chunk holds declines the question (answerability 0); a code
    the knowledge base holds on a page not retrieved does not."""
    bulletin = whole_page("PRECINCT 0050003A ACTON\nGOVERNOR\nNEEL KASHKARI | 247\n"
                          "EDMUND G. BROWN | 301", "bulletin", "bulletin.pdf")
    seen = {"neel": 2, "kashkari": 2, "vote": 5, "receiv": 5, "precinct": 9, "0050003a": 1}
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0.01))
    asked = "How many votes did Neel Kashkari receive in precinct {}?"
    named = answerer.answer(evidence_of(asked.format("0050003A"), [bulletin],
                                        TermStatistics(chunks=50, frequencies=seen)))
    assert not named.abstained and named.short_answer is not None
    other = answerer.answer(evidence_of(asked.format("0050004A"), [bulletin],
                                        TermStatistics(chunks=50, frequencies=seen)))
    assert other.abstained and other.answerability == 0.0
    elsewhere = answerer.answer(evidence_of(
        asked.format("0050004A"), [bulletin],
        TermStatistics(chunks=50, frequencies={**seen, "0050004a": 1})))
    assert not elsewhere.abstained


def test_a_version_of_which_the_documents_print_only_others_is_declined(
        tokenizer: Tokenizer) -> None:
    """The data model of Edition 1.0 does not say when Edition 2.0 was published."""
    cover = whole_page("National Hydro Network, Canada, Level 1 Data Model\n"
                       "Edition 1.0 published 2004-08", "nhn", "nhn.pdf")
    terms = TermStatistics(chunks=50, frequencies={"edit": 2, "nation": 3, "hydro": 1,
                                                   "network": 3, "publish": 4, "10": 9})
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0.01))
    asked = "When was Edition {} of the National Hydro Network data model published?"
    assert not answerer.answer(evidence_of(asked.format("1.0"), [cover], terms)).abstained
    other = answerer.answer(evidence_of(asked.format("2.0"), [cover], terms))
    assert other.abstained and other.answerability == 0.0


# (of the asked year, as Amazon's: a statement of other years would not answer at all)
AMCOR = ("U.S. GAAP Condensed Consolidated Statements of Income\n"
         "($ million) | 2018 | 2019\n"
         "Net income attributable to Amcor plc shareholders | 805 | 1,048\n"
         "Net income attributable to non-controlling interests | (10) | (10)")


def test_a_row_of_a_document_the_question_does_not_name_gives_no_short_answer(
        tokenizer: Tokenizer) -> None:
    """Amcor's statement holds more of the question's words ("net income attributable")
    and ranks first, but the question names Amazon by its proper name and Amazon's 10-K is
    among the passages: its net income row answers. A document named by a common word
    only ("invoice") is no reason to pass over the others' rows."""
    passages = [whole_page(AMCOR, "amcor-2023", "AMCOR_2023Q4_EARNINGS.pdf", score=2.8,
                           chunk_id=1),
                whole_page(OPERATIONS, "amazon-2019", "AMAZON_2019_10K.pdf", score=2.4,
                           page=38, chunk_id=2)]
    contexts = {1: "AMCOR 2023Q4 EARNINGS | Condensed Consolidated Statements of Income",
                2: "AMAZON 2019 10K | CONSOLIDATED STATEMENTS OF OPERATIONS"}
    question = ("By drawing conclusions from the information stated only in the income "
                "statement, what is Amazon's FY2019 net income attributable to shareholders?")
    evidence = gather_evidence(question, passages, np.zeros(8, np.float32), TermStatistics(
        chunks=500, frequencies={"incom": 90, "net": 60, "attribut": 10, "amazon": 5}), {},
        contexts=contexts, named={"amazon-2019": 1.0})
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0))
    answer = answerer.answer(evidence)
    assert answer.short_answer is not None and answer.short_answer.text == "$ 11,588"
    assert answer.citations[0].document_id == "amazon-2019"
    unnamed = answerer.answer(replace(evidence, named={}))
    assert unnamed.short_answer is not None and unnamed.short_answer.text == "1,048"
    # named by what its context does not hold as a proper name ("statements"): no reason
    # to pass over the other document's rows
    plain = gather_evidence(question, passages, np.zeros(8, np.float32), evidence.terms, {},
                            contexts={**contexts, 2: "10K | STATEMENTS OF OPERATIONS"},
                            named={"amazon-2019": 1.0})
    common = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0)).answer(plain)
    assert common.short_answer is not None and common.short_answer.text == "1,048"
    # a name the question uses otherwise than as the owner of what it asks ("American
    # cars" and the American Broadcasting Company) is no reason either
    adjective = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0)).answer(
        replace(evidence, question=question.replace("Amazon's FY2019 net income",
                                                    "the FY2019 Amazon net income")))
    assert adjective.short_answer is not None and adjective.short_answer.text == "1,048"


def test_a_sentence_holding_a_translation_holds_the_question_s_word(
        tokenizer: Tokenizer) -> None:
    """An English question over a Korean page: with its words' translations
    (`Evidence.translations`), the sentence holding 배터리 and 보증 is the one quoted,
    and the answer's weight counts (it is not declined for sharing no words)."""
    text = ("제품 보증서. 이 제품은 가정용으로 만들었습니다. 제품 보증 기간은 1년입니다. "
            "배터리 보증 기간은 2년입니다.")
    passage = whole_page(text, "card", "보증서.pdf")
    question = "How long is the battery warranty?"
    evidence = evidence_of(question, [passage], TermStatistics(
        chunks=50, frequencies={"batteri": 2, "warranti": 2, "long": 5, "배터리": 3, "보증": 4}))
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0))
    translated = replace(evidence, translations={"batteri": ("배터리",), "warranti": ("보증",)})
    answer = answerer.answer(translated)
    assert answer.citations[0].quote == "배터리 보증 기간은 2년입니다."
    assert answerer.features(translated).coverage > answerer.features(evidence).coverage == 0


BALANCE_SHEET = ("연 결 재 무 상 태 표\n"
                 "제 54 기 : 2022년 12월 31일 현재\n"
                 "삼성전자주식회사와 그 종속기업 | (단위 : 백만원)\n"
                 "과 목 | 주 석 | 제 54 (당) 기 | 제 53 (전) 기\n"
                 "현금및현금성자산 | 4, 28 | 49,680,710 | 39,031,415\n"
                 "단기금융상품 | 4, 28 | 65,102,886 | 81,708,986\n"
                 "매출채권 | 4, 5, 28 | 35,721,563 | 40,713,415\n")


def test_an_english_possessive_plural_names_the_korean_row_it_asks_for(
        tokenizer: Tokenizer) -> None:
    """"What were Samsung Electronics' consolidated cash and cash equivalents ...": the
    focus after a plural's possessive is the row's label, read through its translations
    (현금및현금성자산), so its figure is the short answer rather than a title line's."""
    passage = whole_page(BALANCE_SHEET, "bs", "재무제표.pdf")
    question = ("What were Samsung Electronics' consolidated cash and cash equivalents as of "
                "December 31, 2022 (in million KRW)?")
    evidence = replace(
        evidence_of(question, [passage], TermStatistics(chunks=50, frequencies={
            "samsung": 3, "electron": 3, "consolid": 5, "cash": 4, "equival": 2, "현금": 3,
            "자산": 10, "연결": 5, "삼성": 3, "전자": 3})),
        translations={"samsung": ("삼성",), "electron": ("전자",), "consolid": ("연결",),
                      "cash": ("현금",), "equival": ("현금", "자산")})
    answer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0)).answer(evidence)
    assert answer.short_answer is not None and answer.short_answer.text == "49,680,710"


RENEWAL_INVOICE = ("제목 : 웹 사이트 리뉴얼 프로젝트\n"
                   "품번‧품명 | 수량 | 단가(세금 별도) | 금액\n"
                   "개발비 | 1 | ₩1,500,000 | ₩1,500,000\n"
                   "디렉션 비용 | 1 | ₩1,000,000 | ₩1,000,000\n"
                   "송금 수수료는 귀사에서 부담해 주시기 바랍니다.\n")


def test_a_korean_compound_label_is_read_by_its_parts(tokenizer: Tokenizer) -> None:
    """"How much is the development fee?" over a Korean invoice: its row reads 개발비, one
    word to Kiwi; read as 개발 + 비용, it holds "development" and "fee" (through their
    translations), so its amount answers rather than the remittance-fee line's."""
    passage = whole_page(RENEWAL_INVOICE, "invoice", "청구서.pdf")
    question = "On the website renewal invoice, how much is the development fee line item?"
    evidence = replace(
        evidence_of(question, [passage], TermStatistics(chunks=50, frequencies={
            "invoic": 3, "websit": 3, "renew": 2, "develop": 3, "fee": 4, "개발": 3,
            "비용": 6, "수수료": 2})),
        translations={"invoic": ("청구서",), "websit": ("사이트",), "develop": ("개발",),
                      "fee": ("수수료", "비용")})
    answer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0)).answer(evidence)
    assert answer.short_answer is not None and answer.short_answer.text == "₩1,500,000"
    assert answer.citations[0].quote.startswith("개발비")


def test_a_form_header_repeating_the_leading_clause_is_not_quoted_first(
        tokenizer: Tokenizer, embedder: Embedder) -> None:
    """"In the Fond du Lac County 90-day report on the December 2015 incident involving a
    3-year-old, what did the Medical Examiner conclude ...": the report's form header,
    one "sentence" of field lines, repeats every word of the leading clause; those words
    count a quarter (`located_words`), so the Medical Examiner's sentence is quoted first.
    At a half, as a passage's context words count, the header was."""
    text = ("Individuals may be referenced by relationship or position; e.g., mother, "
            "father, child, physician, etc.\n"
            "Case Tracking Number: 151201-DSP-FOND-581 Agency: Fond du Lac County Department "
            "of Social Services\nChild Information (at time of incident)\n"
            "Age: 3 Years Gender: Female\nDate of Incident: 12/01/2015\n"
            "Description of the incident, including the suspected cause of death, injury or "
            "egregious abuse or neglect:\nOn December 1, 2015, the agency received a report "
            "regarding a 3-year-old child brought to the hospital with head injuries. "
            "The Medical Examiner's Office completed report determined that the child's head "
            "trauma was caused by accidental means.")
    passage = whole_page(text, "report", "report.pdf")
    question = ("In the Fond du Lac County 90-day report on the December 2015 incident "
                "involving a 3-year-old, what did the Medical Examiner conclude caused the "
                "head trauma?")
    evidence = embedded_evidence(embedder, tokenizer, question, [passage])
    settings = AnswerSettings(abstain_below=0, max_sentences=1)
    answer = ExtractiveAnswerer(tokenizer, settings).answer(evidence)
    assert answer.citations[0].quote.startswith("The Medical Examiner's Office")
    halved = ExtractiveAnswerer(tokenizer, settings, SentenceWeights(located_words=0.5))
    assert not halved.answer(evidence).citations[0].quote.startswith("The Medical")


def test_a_cost_is_answered_with_the_amount_that_names_its_currency(
        tokenizer: Tokenizer) -> None:
    """"How much does it cost ...?": the sentence with most of the question's words gives
    "2.1 million" (tokens); the next one names the currency (USD 5.80) and answers. An
    amount question that asks no cost keeps the first amount."""
    text = ("For GPT-3.5-Turbo-Instruct, the maximal number of input and output tokens "
            "consumed to derive the final attack for one CWE is 2.1 million and 1.3 million, "
            "respectively. Given the current rates of USD 1.50 per million input tokens and "
            "USD 2.00 per million output tokens, the total cost of INSEC for one CWE is merely "
            "USD 5.80.")
    passage = whole_page(text, "insec", "insec.pdf")
    terms = TermStatistics(chunks=50, frequencies={  # the paper's words are common in it
        "cost": 2, "insec": 3, "cwe": 10, "gpt": 20, "turbo": 20, "instruct": 20,
        "deriv": 15, "attack": 30, "input": 10, "consum": 5})
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0))
    cost = answerer.answer(evidence_of(
        "How much does it cost to derive an INSEC attack for one CWE against "
        "GPT-3.5-Turbo-Instruct?", [passage], terms))
    assert cost.short_answer is not None and cost.short_answer.text == "USD 5.80"
    tokens = answerer.answer(evidence_of(
        "How much input is consumed to derive the final attack for one CWE against "
        "GPT-3.5-Turbo-Instruct?", [passage], terms))
    assert tokens.short_answer is not None and tokens.short_answer.text == "2.1 million"


def test_the_words_that_say_where_to_look_do_not_pick_the_sentence(
        tokenizer: Tokenizer) -> None:
    """"In the ... report on the December 2015 incident involving a 3-year-old, what did the
    Medical Examiner conclude caused the head trauma?": the report's opening sentence
    repeats the incident's words; the leading clause's words count as a passage's context
    words do (half), so the sentence with the conclusion is quoted first."""
    text = ("Description of the incident: On December 1, 2015, the agency received a report "
            "regarding a 3-year-old child brought to the hospital with head injuries. "
            "The Medical Examiner's Office completed report determined that the child's head "
            "trauma was caused by accidental means.")
    passage = whole_page(text, "report", "report.pdf")
    question = ("In the 90-day report on the December 2015 incident involving a 3-year-old "
                "child, what did the Medical Examiner conclude caused the head trauma?")
    evidence = evidence_of(question, [passage], TermStatistics(chunks=50, frequencies={}))
    answer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0)).answer(evidence)
    assert answer.citations[0].quote.startswith("The Medical Examiner's Office")


SPLITS = ("학습, 검증, 평가 데이터를 포함해 총 21,421\n개의 질문-답변 쌍이 변환되었고 나머지는\n"
          "새로 크롤링 한 문서에서 찾을 수 없는 경우들이다.\n"
          "[표 1] 문서 및 질문 개수\n"
          "학습 검증 평가 합계\n"
          "문서 38,496 4,736 4,725 47,957\n"
          "질문 83,486 10,165 9,309 102,960\n")


@pytest.mark.parametrize(("question", "value"), [
    ("학습 데이터의 질문 개수는 몇 개인가요?", "83,486"),
    ("평가 데이터의 질문 개수는 몇 개인가요?", "9,309"),
])
def test_a_row_laid_out_with_spaces_is_read_with_its_caption_and_header(
        tokenizer: Tokenizer, question: str, value: str) -> None:
    """The prose sentence holds more of the question's words than the row "질문 ..."; the
    table's caption ("문서 및 질문 개수") and its header of words ("학습 검증 평가 합계")
    name the row's value as the question asks for it."""
    answer = answer_over(tokenizer, SPLITS, question, {"질문": 5, "개수": 3, "데이터": 20})
    assert answer.short_answer is not None and answer.short_answer.text == value
    assert answer.citations[0].quote.startswith("질문 83,486")
    assert "학습 검증 평가 합계" in [c.quote for c in answer.citations]


def test_a_short_answer_across_table_cells_is_shown_as_one_value(tokenizer: Tokenizer) -> None:
    """A date whose year has a cell of its own is the short answer whole; the answer shows
    it without the cell separator, `short_answer.text` is the page's exact text."""
    invoice = "청구서\n지불 기한 : | 2023년 | 07월 31일\n청구 금액 | ₩2,275,000"
    answer = answer_over(tokenizer, invoice, "청구서의 지불 기한은 언제인가요?",
                         {"지불": 3, "기한": 3, "청구서": 20})
    assert answer.short_answer is not None
    assert answer.short_answer.text == "2023년 | 07월 31일"
    assert answer.answer.startswith("2023년 07월 31일" + LEAD_SEPARATOR)


def test_how_much_with_no_quantity_in_the_quotes_is_declined(tokenizer: Tokenizer) -> None:
    """The brochure says the pool charges admission, not how much: no sentence it would
    quote states an amount, so the documents do not say (answerability 0)."""
    brochure = ("Facilities - Pool & Rooftop Garden\n■ 야외 수영장\n위치: 6층\n"
                "시설안내 : 메인 풀, 가족 자쿠지, 유아용 풀\n※ 입장료 별도.")
    terms = TermStatistics(chunks=50, frequencies={"수영장": 2, "입장료": 1, "야외": 2})
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0.01))
    fee = answerer.answer(evidence_of("6층 야외 수영장의 입장료는 1인당 얼마인가요?",
                                      [whole_page(brochure, "hotel", "hotel.pdf")], terms))
    assert fee.abstained and fee.answerability == 0.0
    priced = answerer.answer(evidence_of(
        "6층 야외 수영장의 입장료는 1인당 얼마인가요?",
        [whole_page(brochure.replace("별도.", "1인 20,000원."), "hotel", "hotel.pdf")], terms))
    assert not priced.abstained and priced.short_answer is not None
    assert priced.short_answer.text == "20,000원"


FAA = ("SUMMARY: The FAA proposes to supersede Airworthiness Directive (AD) 2018-23-51, "
       "which applies to all The Boeing Company Model 737 MAX airplanes.\n"
       "This proposed airworthiness directive would apply only to the 737 MAX airplanes "
       "registered with the FAA.\n"
       "The FAA's proposed directive would affect the 737 MAX airplanes' flight controls.\n"
       "Costs of Compliance\nThe FAA estimates that this AD affects 73 airplanes of U.S. "
       "registry.")


def test_what_the_question_counts_is_read_from_a_lighter_sentence(tokenizer: Tokenizer) -> None:
    """The summary holds most of the question's words and no count; a later sentence
    counts what the question counts ("73 airplanes"): it is the short answer."""
    answer = answer_over(tokenizer, FAA, "How many U.S.-registered airplanes would the FAA's "
                         "proposed 737 MAX airworthiness directive affect?",
                         {"faa": 5, "airplan": 9, "737": 4, "max": 3, "direct": 4})
    assert answer.short_answer is not None and answer.short_answer.text == "73 airplanes"
    assert "affects 73 airplanes" in answer.citations[0].quote


def test_a_typed_question_about_what_no_passage_names_is_declined(
        tokenizer: Tokenizer) -> None:
    """Kraxi's invoice has no shipping line: no short answer, and what the question asks
    the amount of ("shipping") is in no passage. An item it bills is answered."""
    invoice = ("INVOICE 2020-10 January 8, 2020\nKraxi Systems, Inc.\n"
               "1 Super Kite 2 | 20.00 | 40.00\n2 Turbo Flyer 5 | 40.00 | 200.00\n"
               "Total | | 240.00")
    terms = TermStatistics(chunks=50, frequencies={"kraxi": 3, "invoic": 4, "total": 9})
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0.01))
    page = [whole_page(invoice, "kraxi", "kraxi.pdf")]
    shipping = answerer.answer(evidence_of(
        "How much did Kraxi Systems charge for shipping on invoice 2020-10?", page, terms))
    assert shipping.abstained and shipping.answerability == 0.0
    item = answerer.answer(evidence_of(
        "How much did Kraxi Systems charge for the Turbo Flyer on invoice 2020-10?", page,
        terms))
    assert not item.abstained and item.short_answer is not None


def test_a_korean_question_about_a_company_the_documents_never_name_is_declined(
        tokenizer: Tokenizer) -> None:
    """Samsung's balance sheet does not give SK하이닉스's inventories: the name the
    question puts in the possessive is in no chunk of the knowledge base."""
    sheet = whole_page("삼성전자 연결재무상태표\n과 | 목 | 주 석 | 제 54 (당) 기\n"
                       "재고자산 | 8 | 52,187,866", "sheet", "samsung.pdf")
    terms = TermStatistics(chunks=50, frequencies={"삼성전자": 4, "재고": 3, "자산": 5})
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0.01))
    other = answerer.answer(evidence_of("SK하이닉스의 재고자산은 얼마인가요?", [sheet], terms))
    assert other.abstained and other.answerability == 0.0
    named = answerer.answer(evidence_of("삼성전자의 재고자산은 얼마인가요?", [sheet], terms))
    assert named.short_answer is not None and named.short_answer.text == "52,187,866"
    # a name a passage prints is held, however the knowledge base's words analyse it
    article = whole_page("메탈리카의 기타리스트 커크 해밋은 1989년 시그니처 기타 KH-2를 냈다.",
                         "metallica", "metallica.pdf")
    printed = answerer.answer(evidence_of("메탈리카의 기타리스트가 낸 시그니처 기타는?",
                                          [article], terms))
    assert printed.answerability > 0.0


def test_a_month_no_passage_prints_is_declined(tokenizer: Tokenizer) -> None:
    """The rate sheet of April 2019 does not say which loans had the Standard Variable
    Rate in April 2018; April 2019's are answered."""
    sheet = whole_page("Home Loan Interest Rates\nEffective as at 9 April 2019\n"
                       "The Standard Variable Rate applies to owner-occupied home loans.",
                       "rates", "rates.pdf")
    terms = TermStatistics(chunks=50, frequencies={"standard": 3, "variabl": 3, "rate": 9,
                                                   "loan": 9, "home": 5})
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0.01))
    asked = "Which home loans had the Standard Variable Rate in April {}?"
    other = answerer.answer(evidence_of(asked.format(2018), [sheet], terms))
    assert other.abstained and other.answerability == 0.0
    named = answerer.answer(evidence_of(asked.format(2019), [sheet], terms))
    assert not named.abstained
    # a question that asks for no figure: prose says "in April of that year"
    who = answerer.answer(evidence_of("Which home loans did the bank offer in April 2018?",
                                      [sheet], terms))
    assert who.answerability > 0.0


def test_a_short_answer_from_a_page_of_another_month_is_declined(
        tokenizer: Tokenizer) -> None:
    """The routes' table is December 2015's; the monthly totals' page prints Nov-2015:
    Korea's passengers in November 2015 are not on the page the figure is read from."""
    routes = whole_page("JAL International Passengers by Route\nDec-2015 | Same Month\n"
                        "Route | Passengers | y.o.y(%)\nKorea routes | 47,126 | 103.1", "jal",
                        "jal.pdf", page=2, chunk_id=1)
    totals = whole_page("Monthly Traffic\nNov-2015 | 700,112 | 104.0\n"
                        "Dec-2015 | 731,559 | 105.2", "jal", "jal.pdf", chunk_id=2)
    terms = TermStatistics(chunks=50, frequencies={
        "korea": 2, "passeng": 9, "rout": 9, "jal": 20, "mani": 40, "carri": 30, "decemb": 20,
        "novemb": 20, "2015": 40})
    answerer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0.01))
    asked = "How many passengers did JAL carry on its Korea routes in {} 2015?"
    november = answerer.answer(evidence_of(asked.format("November"), [routes, totals], terms))
    assert november.abstained and november.answerability == 0.0
    december = answerer.answer(evidence_of(asked.format("December"), [routes, totals], terms))
    assert december.short_answer is not None and december.short_answer.text == "47,126"


KORQUAD_RESULTS = ("[표 3] KorQuAD 2.0에 대한 성능 비교\n검증 데이터 평가 데이터\nEM F1 EM F1\n"
                   "Baseline 30.8 46.8 30.2 46.0\nHuman - - 68.8 83.9")


@pytest.mark.parametrize(("question", "value"), [
    ("What F1 score did the baseline achieve on the validation set?", "46.8"),
    ("What exact-match (EM) score did the baseline achieve on the test set?", "30.2"),
    ("What EM score did humans achieve on the test set?", "68.8"),
    # printed empty: the documents do not say
    ("What EM score did humans achieve on the validation (dev) set?", None),
])
def test_a_column_is_named_with_its_group_in_the_other_language(
        tokenizer: Tokenizer, question: str, value: str | None) -> None:
    """"EM F1 EM F1" repeats its names under the groups 검증 데이터 (validation) and 평가
    데이터 (test): an English question names the column by its translated words."""
    passage = whole_page(KORQUAD_RESULTS, "korquad", "korquad.pdf")
    terms = TermStatistics(chunks=50, frequencies={"em": 2, "f1": 3, "baselin": 2, "human": 2,
                                                   "검증": 2, "평가": 3})
    glossary = {"valid": ("검증",), "dev": ("검증",), "test": ("평가",)}  # as it translates
    asked = set(tokenizer.tokens(question))
    evidence = replace(evidence_of(question, [passage], terms),
                       translations={w: t for w, t in glossary.items() if w in asked})
    answer = ExtractiveAnswerer(tokenizer, AnswerSettings(abstain_below=0.01)).answer(evidence)
    if value is None:
        assert answer.abstained and answer.answerability == 0.0
    else:
        assert answer.short_answer is not None and answer.short_answer.text == value
