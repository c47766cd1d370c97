"""The question's focus: the words naming what it asks for (qa_service.answer.focus)."""

from __future__ import annotations

import pytest

from qa_service.answer.focus import content_tokens, question_focus, question_locator
from qa_service.tokens import Tokenizer


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer()


@pytest.mark.parametrize(("question", "focus"), [
    ("데이터 애널리틱스의 데이터 분석 프로젝트 청구서에 붙은 소비세는 얼마인가요?", "소비세"),
    ("로고 디자인 청구서에서 수정 비용은 얼마로 청구됐나요?", "수정 비용"),
    ("신라스테이 여수 호텔의 온돌 객실은 총 몇 개인가요?", "온돌 객실"),
    ("카페 레스토랑의 주말 조식 시간은 어떻게 되나요?", "주말 조식 시간"),
    ("삼성전자의 연결 기준 이익잉여금 금액이 궁금합니다.", "연결 기준 이익잉여금 금액"),
    ("성과지표에서 행정정보 수의 2023년 목표치는?", "목표치"),
    ("연결재무상태표에서 2022년 12월 31일 기준 재고자산은 얼마로 나와 있나요?", "재고자산"),
    ("Kentucky의 Permit(허가) 건수는 몇 건인가요?", "Permit(허가) 건수"),
    ("How many passengers did JAL Group carry in December 2015?", "passengers"),
    ("What is the estimated total cost on U.S. operators for the test?",
     "estimated total cost"),
    ("In the MORAN paper, what accuracy does the 'Only ASRN' variant get on CUTE80?",
     "accuracy"),
    ("On the Kraxi Systems invoice, what is the unit price of the Giga Trash item?",
     "unit price"),
    # a possessive names where to look, and the period after it which column
    ("What is Amazon's FY2019 net income attributable to shareholders (in USD millions)?",
     "net income"),
    ("What was 3M's total revenue in FY2018?", "total revenue"),
    ("What is Best Buy's year end FY2019 total amount of inventories?", "total amount"),
    ("What was the company\u2019s 2022 gross margin?", "gross margin"),
    # a plural's possessive: "Samsung Electronics'"
    ("What were Samsung Electronics' consolidated cash and cash equivalents as of "
     "December 31, 2022 (in million KRW)?", "consolidated cash and cash equivalents"),
    # what an invoice charges for: the line's label, without "line item" or a bracket
    ("On the data analysis invoice, how much is charged for the reporting line item?",
     "reporting"),
    ("On the invoice, how much is the development fee line item (before tax)?",
     "development fee"),
    ("How much does Smart Networks charge for support on its invoice?", "support"),
    ("How much was spent on the new stadium?", "new stadium"),
    # how a quantity moved: the quantity is what a row or a sentence names
    ("What is Amazon's year-over-year change in revenue from FY2016 to FY2017?", "revenue"),
    ("What was the growth in net sales in 2022?", "net sales"),
    ("What was the increase of the operating income?", "operating income"),
    ("What was the change?", "change"),
    # a bare measure of a quantity: the quantity (a page's row names it, not its value)
    ("What was the value of non-controlling interests in Samsung's equity?",
     "non-controlling interests"),
    ("What is the amount of goodwill?", "goodwill"),
    ("What is the number of Constituency MSPs?", "Constituency MSPs"),
    ("What is the atomic number of oxygen?", "atomic number"),
])
def test_the_focus_names_what_is_asked(tokenizer: Tokenizer, question: str,
                                       focus: str) -> None:
    assert question_focus(question, tokenizer) == focus


@pytest.mark.parametrize("question", [
    "서울시 스마트도시 기본계획 수립 때 진행한 시민 온라인 설문조사에는 몇 명이 참여했나요?",
    "Who argued on behalf of the respondent in Knowles v. Mirzayance?",
    "How much does it cost to derive an attack string?",
    "How many were killed in the war?",
    "How much is it?",
    # a payee is no line item
    "In the expenditure report, how much was paid to staff assistant Payton Englert?",
])
def test_a_question_that_names_no_focus_has_none(tokenizer: Tokenizer, question: str) -> None:
    assert question_focus(question, tokenizer) == ""


@pytest.mark.parametrize(("question", "dropped"), [
    ("반기문이 유엔 사무총장 선거 출마를 선언한 날짜는?", "날짜"),
    ("반기문이 참여정부에서 맡은 직위는?", "직위"),
    ("1992년 올림픽 높이뛰기에서 우승한 인물은?", "인물"),
])
def test_the_noun_that_names_the_answers_kind_is_no_content(tokenizer: Tokenizer,
                                                             question: str, dropped: str) -> None:
    tokens = tokenizer.tokens(question)
    assert dropped in tokens
    kept = content_tokens(tokens)
    assert dropped not in kept and kept == [t for t in tokens if t != dropped]


def test_a_question_of_answer_kind_nouns_alone_keeps_them(tokenizer: Tokenizer) -> None:
    assert content_tokens(tokenizer.tokens("날짜와 장소는?")) == tokenizer.tokens("날짜와 장소는?")


@pytest.mark.parametrize(("question", "locator"), [
    ("In the Fond du Lac County 90-day report on the December 2015 incident, what did the "
     "Medical Examiner conclude?",
     "In the Fond du Lac County 90-day report on the December 2015 incident, "),
    ("According to the warranty card, how long is the battery covered?",
     "According to the warranty card, "),
    ("서울시 스마트도시 기본계획에서 2023년 투자액은 얼마인가요?",
     "서울시 스마트도시 기본계획에서 "),
    ("아동 발달 교재의 신체 성장 챕터에 따르면 만 2세 유아는 몇 파운드인가요?",
     "아동 발달 교재의 신체 성장 챕터에 따르면 "),
])
def test_the_locator_is_the_leading_clause_that_says_where_to_look(question: str,
                                                                   locator: str) -> None:
    assert question_locator(question) == locator


@pytest.mark.parametrize("question", [
    "In what year did the Normans conquer England?",  # no clause: "in" asks the question
    "In 1960 how many people lived there?",
    "신라스테이 여수 호텔의 온돌 객실은 총 몇 개인가요?",
    "Who argued on behalf of the respondent?",
])
def test_a_question_without_a_leading_clause_has_no_locator(question: str) -> None:
    assert question_locator(question) == ""
