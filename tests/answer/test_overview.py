"""Overview requests: detected, and answered from the document's opening and headings."""

from __future__ import annotations

import pytest

from qa_service.answer.overview import is_overview_request, overview_quotes, overview_text
from qa_service.schemas import Passage

PAGE_1 = ("MORAN: A Multi-Object Network for Scene Text Recognition\n"
          "Canjie Luo, Lianwen Jin\nAbstract\n"
          "Irregular scene text is hard to read because of its many shapes and distortions. "
          "We propose a rectified attention network that reads such text in one pass.\n"
          "1. Introduction\nScene text recognition has many uses in search and robotics.")
PAGE_2 = ("2. Related Work\nEarlier methods used hand-made features to find characters.\n"
          "SVT, ICDAR2003, ICDAR2013, SVT-\n3. Method\nThe network has two parts.")


def passages() -> list[Passage]:
    return [Passage(1, "moran", "moran.pdf", 1, 0, len(PAGE_1), PAGE_1, 0.0),
            Passage(2, "moran", "moran.pdf", 2, 0, len(PAGE_2), PAGE_2, 0.0)]


@pytest.mark.parametrize(("question", "overview"), [
    ("Summarize the paper", True),
    ("Can you give me a short summary of the MORAN paper?", True),
    ("What is the Shilla Stay Yeosu brochure about?", True),
    ("What are the key findings?", True),
    ("MORAN 논문 요약해줘", True),
    ("이 보고서는 무슨 내용이야?", True),
    ("서울시 기본계획의 주요 내용을 알려줘", True),
    ("What does the summary table say about revenue in 2022?", False),
    ("What is the title of Edwards book about Luther?", False),
    ("What is the report about the flood's damage called?", False),
    ("How long does the battery last?", False),
    ("요약 재무제표에서 2022년 매출액은 얼마인가요?", False),
])
def test_overview_requests_are_told_apart_from_questions(question: str, overview: bool) -> None:
    assert is_overview_request(question) is overview


def test_an_overview_quotes_the_opening_sentences_and_the_section_headings() -> None:
    sentences, headings = overview_quotes(passages())
    quoted = [p.text[a:b] for p, a, b in sentences]
    assert quoted[0].startswith("Irregular scene text is hard")  # after the "Abstract" label
    assert all("Canjie" not in q for q in quoted)
    assert [p.text[a:b] for p, a, b in headings] == ["1. Introduction", "2. Related Work",
                                                     "3. Method"]


def test_the_overview_answer_cites_every_quote_verbatim() -> None:
    text, citations = overview_text("Summarize the paper", passages(), 900)
    assert "Sections: 1. Introduction; 2. Related Work; 3. Method" in text
    by_chunk = {p.chunk_id: p for p in passages()}
    for citation in citations:
        page = by_chunk[citation.chunk_id].text
        assert page[citation.char_start:citation.char_end] == citation.quote
        assert text[citation.answer_start:citation.answer_end] == \
            citation.quote.replace("\n", " ")
    korean, _ = overview_text("논문 요약해줘", passages(), 900)
    assert "목차: 1. Introduction" in korean


def test_an_overview_keeps_to_its_length() -> None:
    text, citations = overview_text("Summarize the paper", passages(), 120)
    assert len(text) <= 120 and citations


def test_a_document_without_prose_opens_with_its_first_lines() -> None:
    sheet = ("연 결 재 무 상 태 표\n제 54 기 : 2022년 12월 31일 현재\n자 산 | 금 액\n"
             "1. 현금 | 49,680,710\n2. 재고 | 5")
    passages = [Passage(1, "bs", "bs.pdf", 1, 0, len(sheet), sheet, 0.0)]
    text, citations = overview_text("이 문서를 요약해줘", passages, 900)
    assert text.startswith("연 결 재 무 상 태 표 제 54 기 : 2022년 12월 31일 현재")
    assert [c.quote for c in citations] == sheet.split("\n")[:4]
