"""The short answer: which span of a line answers the question (qa_service/answer/short.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from qa_service.answer.short import (
    AnswerType,
    answer_type,
    asks_cost,
    asks_quantity,
    column_header,
    empty_column,
    fiscal_years,
    in_currency,
    other_periods,
    row_headings,
    short_span,
    stacked_value,
    states_quantity,
)
from qa_service.table_lines import lines_of, table_cells
from qa_service.tokens import Tokenizer

BALANCE = ("삼성전자주식회사와 그 종속기업 | (단위 : 백만원)\n"
           "과 | 목 | 주 석 | 제 54 (당) 기 | 제 53 (전) 기\n"
           "8. 재고자산 | 8 | 52,187,866 | 41,384,404\n")
BANQUET = ("Room | Floor | 넓이 | Banner | Rate | Rate | Rate\n"
           "(㎡/평) | Size (m) | (4HRS) | (8HRS) | (09:00-22:00)\n"
           "Ballroom | 1F | 230㎡ | ㆍ | 150 | 170 | 200 | 6 x 1 | 2,000,000 | 3,000,000 | "
           "4,000,000\n")


_TOKENIZER = Tokenizer()


def matcher(question: str) -> Callable[[str], float]:
    """How many of the question's tokens a text holds (the answerer weighs them by IDF)."""
    asked = set(_TOKENIZER.tokens(question))
    return lambda text: float(len(asked & set(_TOKENIZER.tokens(text))))


def span_of(question: str, text: str, line_number: int, anchored: bool = True) -> str | None:
    line = lines_of(text, 0, len(text))[line_number]
    found = short_span(question, text, line, matcher(question), anchored=anchored)
    return None if found is None else text[found.start:found.end]


@pytest.mark.parametrize(("question", "kind"), [
    ("When was the company founded?", AnswerType.DATE),
    ("What time does the meeting start?", AnswerType.TIME),
    ("How much does the repair cost?", AnswerType.MONEY),
    ("청구서의 소비세는 얼마인가요?", AnswerType.MONEY),
    ("What percentage of votes did she win?", AnswerType.PERCENT),
    ("How many rooms does the hotel have?", AnswerType.COUNT),
    ("객실은 총 몇 개인가요?", AnswerType.COUNT),
    ("PDF Association은 몇 년에 설립되었나요?", AnswerType.DATE),
    ("배터리는 몇 년 동안 보증되나요?", AnswerType.COUNT),
    ("Who argued for the respondent?", AnswerType.NAME),
    ("Summarize the paper", AnswerType.NONE),
    # whether: a yes, a no or a choice, not a figure of the words it holds
    ("Did Ulta Beauty's wages expense as a percent of net sales increase or decrease in "
     "FY2023?", AnswerType.NONE),
    ("Was there any change in the number of Best Buy stores?", AnswerType.NONE),
    ("Is the total cost above the budget?", AnswerType.NONE),
    # ... unless it also asks what, how much ...
    ("Does the hotel run a shuttle bus, and what does it cost?", AnswerType.MONEY),
    ("Is it known how many rooms the hotel has?", AnswerType.COUNT),
    # ... nor a request
    ("Can you tell me the price of the room?", AnswerType.MONEY),
    ("Do you know the total amount of the invoice?", AnswerType.MONEY),
    # a name, not a count ("명" of 모델명 is no counter)
    ("배터리 모델명은 무엇인가요?", AnswerType.NONE),
])
def test_the_question_says_what_kind_of_answer_it_wants(question: str, kind: AnswerType) -> None:
    assert answer_type(question) is kind


def test_table_cells_are_the_spans_between_separators() -> None:
    text = "a | b |  c "
    assert [text[s:e] for s, e in table_cells(text, 0, len(text))] == ["a", "b", "c"]


@pytest.mark.parametrize(("line", "cells"), [
    ("Accumulated depreciation and amortization (14,166) (12,896)",
     ["Accumulated depreciation and amortization", "(14,166)", "(12,896)"]),
    ("Revenues $ 36,397 $ 34,350", ["Revenues", "$ 36,397", "$ 34,350"]),
    ("Google - - 0.2535 0.1834", ["Google", "-", "-", "0.2535", "0.1834"]),
    ("(in millions) 2022 2021", ["(in millions)", "2022", "2021"]),
    ("2022 2021", ["2022", "2021"]),
    # prose, a list, a date, a page number: one cell
    ("The rate rose to 5% in 2020", ["The rate rose to 5% in 2020"]),
    ("Networks. iScience 2022, 25, 105043.", ["Networks. iScience 2022, 25, 105043."]),
    ("October 14, 1998", ["October 14, 1998"]),
    ("Page 1 of 205", ["Page 1 of 205"]),
    ("Total - -", ["Total - -"]),
])
def test_a_row_laid_out_with_spaces_has_its_label_and_values_as_cells(
        line: str, cells: list[str]) -> None:
    assert [line[s:e] for s, e in table_cells(line, 0, len(line))] == cells


@pytest.mark.parametrize(("line", "cells"), [
    # a quantity, a unit price and their amount, printed without spaces: 1 x 1,500,000
    ("지원 비용 | 11,500,0001,500,000", ["지원 비용", "1", "1,500,000", "1,500,000"]),
    ("보고 | 1500,000500,000", ["보고", "1", "500,000", "500,000"]),
    ("Kite | 340.00120.00", ["Kite", "3", "40.00", "120.00"]),
    # a count before a currency sign
    ("개발비 | 1₩1,500,000 | ₩1,500,000", ["개발비", "1", "₩1,500,000", "₩1,500,000"]),
    # no product checks, or a figure alone: one cell, as printed
    ("Kite | 5 | 20.00100.00", ["Kite", "5", "20.00100.00"]),
    ("총계 | 1,2345", ["총계", "1,2345"]),
    ("청구 번호 | 2023-1031", ["청구 번호", "2023-1031"]),
    ("합계 | 24,750,000", ["합계", "24,750,000"]),
    ("a | 100,0000", ["a", "100,0000"]),
])
def test_figures_glued_by_the_text_layer_are_told_apart_only_when_certain(
        line: str, cells: list[str]) -> None:
    assert [line[s:e] for s, e in table_cells(line, 0, len(line))] == cells


INVOICE = ("청구 금액 | ₩ 24,750,000\n"
           "품번‧품명 | 수량 | 단가 | 금액\n"
           "시스템 개발 비용 | 118,000,00018,000,000\n"
           "지원 비용 | 11,500,0001,500,000\n")


def test_a_row_of_glued_figures_answers_with_its_price_or_amount() -> None:
    assert span_of("지원 비용은 얼마인가요?", INVOICE, 3) == "1,500,000"
    assert span_of("시스템 개발 비용의 금액은?", INVOICE, 2) == "18,000,000"
    assert span_of("How many units of support are billed?", INVOICE.replace(
        "품번‧품명 | 수량 | 단가 | 금액", "Item | Units | Price | Amount").replace(
        "지원 비용", "Support"), 3) == "1"


STATEMENT = ("Consolidated Balance Sheets (in millions)\n"
             "(in millions) 2022 2021\n"
             "Accumulated depreciation and amortization (14,166) (12,896)\n")


def test_a_row_laid_out_with_spaces_answers_from_the_column_its_header_names() -> None:
    assert span_of("What was accumulated depreciation in 2021?", STATEMENT, 2) == "(12,896)"
    assert span_of("What was accumulated depreciation in FY2022?", STATEMENT, 2) == "(14,166)"
    assert column_header(STATEMENT, lines_of(STATEMENT, 0, len(STATEMENT))[2]) == \
        lines_of(STATEMENT, 0, len(STATEMENT))[1]


def test_a_row_answers_with_its_first_amount_not_its_note_number() -> None:
    assert span_of("삼성전자 재고자산은 얼마인가요?", BALANCE, 2) == "52,187,866"


def test_a_row_answers_from_the_column_its_header_names() -> None:
    assert span_of("제53기 재고자산은 얼마인가요?", BALANCE, 2) == "41,384,404"
    assert span_of("How much is the Ballroom for 8 hours?", BANQUET, 2) == "3,000,000"
    # "볼룸" does not meet "Ballroom": only a line chosen by its vector may answer
    assert span_of("볼룸을 8시간 대관하면 요금이 얼마인가요?", BANQUET, 2) is None
    assert span_of("볼룸을 8시간 대관하면 요금이 얼마인가요?", BANQUET, 2,
                   anchored=False) == "3,000,000"
    assert span_of("What is the ballroom rate for the full day (09:00-22:00)?", BANQUET,
                   2) == "4,000,000"


@pytest.mark.parametrize(("question", "line", "answer"), [
    ("How many images are in the IIIT5K test set?",
     "IIIT5K-Words (IIIT5K) [32] contains 3000 images for testing.", "3000 images"),
    ("BERT 모델은 질문 한 건당 평균 응답 시간이 얼마나 걸렸나요?",
     "BERT 모델은 평균 13,484 밀리초의 응답시간이 소요되었다.", "13,484 밀리초"),
    ("When was the plan announced?", "The plan was announced on March 3, 2021 in Seoul.",
     "March 3, 2021"),
    ("What time did the special meeting start?",
     "The special meeting was called to order at 7:30 a.m. by the president.", "7:30 a.m."),
    ("Who chaired the meeting?", "The meeting was chaired by Maria Lopez, the board president.",
     "Maria Lopez"),
    ("How many questions are in Table 1?", "[표 1] 문서 및 질문 개수", None),
    ("시민 설문조사에는 몇 명이 참여했나요?",
     "① 시민 설문조사(온라인/1,849명) : \u201920.5.22", "1,849명"),
    ("비행 자동차의 도심 최대 속도는 얼마인가요?",
     "도심에서 비행 자동차의 최대 속도는 시속 150km로 한다.", "150km"),
    ("검수자 선정 기준인 과제 성공률은 얼마인가요?",
     "검수자는 과제 성공률 85% 이상인 작업자를 선별했다.", "85% 이상"),
    ("How many passengers flew the Korea routes?", "1.2 Monthly passengers on Korea routes: 47,126",
     "47,126"),
])
def test_prose_answers_with_a_span_of_the_asked_kind(question: str, line: str,
                                                     answer: str | None) -> None:
    assert span_of(question, line, 0) == answer


def test_an_amount_is_not_a_dates_figure() -> None:
    assert span_of("이익잉여금은 얼마인가요?",
                   "2021년 12월 31일 현재 이익잉여금 293,064,763", 0) == "293,064,763"
    assert span_of("What is the unit price of the paper planes?",
                   "Paper planes 3 units, unit price 180.00 each", 0) == "180.00"


def test_a_span_the_question_already_holds_is_not_the_answer() -> None:
    assert span_of("How many people lived there in 2020?",
                   "In 2020 the town had 12,500 people.", 0) == "12,500 people"


def test_no_span_is_sought_in_prose_when_the_question_wants_none() -> None:
    assert span_of("Summarize the paper", "It has 3 parts.", 0) is None


def test_a_row_whose_label_the_question_does_not_name_gives_no_short_answer() -> None:
    assert span_of("삼성전자 매출채권은 얼마인가요?", BALANCE, 2) is None
    assert span_of("삼성전자 매출채권은 얼마인가요?", BALANCE, 2, anchored=False) == "52,187,866"


def test_a_tables_header_gives_no_short_answer() -> None:
    """A line of four cells or more, none of them a value, names columns: the "000" of
    "RPK (000's)" is a unit, not the load factor asked for; the row below answers."""
    table = ("Routes | Pax | y.o.y(%) | RPK\uff08000's\uff09 | y.o.y(%) | ASK\uff08000's) | "
             "y.o.y(%) | L/F(%)\n"
             "Europe | 42,097 | 88.3 | 383,539 | 87.2 | 618,617 | 99.5 | 62.0\n")
    question = "What percentage was the Europe route's L/F in December?"
    assert span_of(question, table, 0, anchored=False) is None
    assert span_of("What percentage of seats were filled, L/F?", table, 1,
                   anchored=False) == "62.0"
    # two cells, a label and a date that is no pure figure: a line, not a header
    due = "지급 기한: | 2023년 11월 30일"
    assert span_of("지급 기한은 언제인가요?", due, 0) == "2023년 11월 30일"


def test_a_prose_span_far_from_the_questions_words_is_no_answer() -> None:
    line = ("The museum opened its doors to visitors in the spring and it has since then "
            "welcomed school groups, artists and tourists from everywhere, about 12,000 a year.")
    assert span_of("When did the museum open?", line, 0) is None


def test_figures_joined_by_two_dots_are_no_amount() -> None:
    """"21.9.15." (after a right quote) is a date, 2021-09-15, and "2.0.1" a version:
    neither holds an amount (Seoul's plan was answered "21.9" for a budget); a decimal
    still is one."""
    question = "How much does the master plan budget for Metaverse Seoul?"
    assert span_of(question, "The master plan for Seoul was published (\u201921.9.15.)",
                   0) is None
    assert span_of(question, "The master plan's Metaverse Seoul runs version 2.0.1", 0) is None
    assert span_of(question, "The master plan budgets 3.9 billion won for Metaverse Seoul",
                   0) == "3.9 billion"


def test_a_version_is_no_amount_or_count() -> None:
    """"KorQuAD 1.0" names a dataset's version: it pays no one 1.0 and counts nothing."""
    line = "작업자에게는 KorQuAD 1.0과 유사한 방식으로 질문-답변 쌍을 만들게 하였다."
    assert span_of("작업자에게 질문-답변 한 쌍당 얼마를 지급했나요?", line, 0) is None
    assert span_of("How many question-answer pairs did workers write for Edition 2.0?",
                   "Workers wrote pairs for Edition 2.0 of the set", 0) is None
    assert span_of("How much did workers get per question-answer pair?",
                   "Workers got USD 1.0 per question-answer pair", 0) == "USD 1.0"


def test_a_phone_number_or_a_code_is_not_a_count() -> None:
    question = "삼성 청소기 제품보증서에 따르면 배터리는 몇 년 동안 보증되나요?"
    assert span_of(question, "제품보증서 삼성 청소기 고장 접수 1588-3366", 0) is None
    # the number's second half on the next line of a wrapped sentence
    wrapped = "배터리 보증 확인은 서비스센터(1588-\n3366)를 통해 하세요"
    line = (0, len(wrapped))
    found = short_span(question, wrapped, line, matcher(question))
    assert found is None
    assert span_of("How many parts does model DJ68-00879 have?",
                   "Model DJ68-00879 parts list, order line 2021-3300", 0) is None
    assert span_of(question, "배터리 보증기간은 2 년입니다", 0) == "2 년"


WARRANTY = ("제 품 명\n판 매 금 액\n년 월 일\n제품 보증기간\n배터리 보증기간\n부품 보유기간\n"
            "1 년\n2 년\n7 년\n청정스테이션 먼지흡입 모터")


@pytest.mark.parametrize(("label", "value"), [
    ("제품 보증기간", "1 년"), ("배터리 보증기간", "2 년"), ("부품 보유기간", "7 년")])
def test_labels_stacked_above_their_values_pair_in_order(label: str, value: str) -> None:
    start = WARRANTY.index(label)
    found = stacked_value(WARRANTY, (start, start + len(label)))
    assert found is not None
    assert WARRANTY[found[0]:found[1]] == value
    block = "제품 보증기간\n배터리 보증기간\n부품 보유기간\n1 년\n2 년\n7 년"
    assert WARRANTY[found[2]:found[3]] == block


@pytest.mark.parametrize(("text", "line"), [
    (WARRANTY, "년 월 일"),  # more labels than values: the first ones have none
    ("Total\nThank you for your business\nPlease pay within 30 days", "Total"),
    ("Amount due | 845.00\n845.00", "Amount due | 845.00"),  # a row, not a label
])
def test_a_line_that_is_no_stacked_label_has_no_stacked_value(text: str, line: str) -> None:
    start = text.index(line)
    assert stacked_value(text, (start, start + len(line))) is None


def test_a_single_label_pairs_with_the_value_below_it() -> None:
    text = "INVOICE\nTotal due\n$845.00\nThank you"
    found = stacked_value(text, (8, 17))
    assert found is not None and text[found[0]:found[1]] == "$845.00"


def test_the_column_header_has_about_as_many_cells_as_the_row() -> None:
    """A section heading inside a table ("자 | 산") is nearer but names no column."""
    text = BALANCE.replace("8. 재고자산", "자 | 산\n8. 재고자산")
    row = lines_of(text, 0, len(text))[3]
    header = column_header(text, row)
    assert header is not None and text[header[0]:header[1]].startswith("과 | 목")


@pytest.mark.parametrize(("question", "line", "span"), [
    ("How many seasons did The Love Boat run for?",
     "The Love Boat ran from 1977 to 1986 for nine seasons.", "nine seasons"),
    ("How much did the network pay for the rights?",
     "In 1954 the network paid $5 million for the rights.", "$5 million"),
])
def test_a_year_is_no_amount_or_count(question: str, line: str, span: str) -> None:
    assert span_of(question, line, 0) == span


@pytest.mark.parametrize(("question", "line", "span"), [
    ("Who originally hosted the quiz show?",
     "In August 1999 the quiz show was first hosted by Regis Philbin.", "Regis Philbin"),
    ("Who did the company sell the newspapers to?",
     "On April 3, the company sold the newspapers.", None),
    ("Who originally hosted the quiz show?",
     "The quiz show was first hosted by \u201cRegis Philbin\u201d in 1999.", "Regis Philbin"),
])
def test_a_sentence_s_opening_word_or_a_month_is_no_name(question: str, line: str,
                                                         span: str | None) -> None:
    assert span_of(question, line, 0) == span


def test_a_date_that_adds_the_month_to_the_asked_year_answers() -> None:
    assert span_of("When did the 1973 oil crisis begin?",
                   "The crisis began in October 1973 when the embargo was proclaimed.",
                   0) == "October 1973"


def test_a_korean_line_gives_no_name() -> None:
    """Names in Korean text are in Hangul: a Latin capitalised run there is a term."""
    assert span_of("이 회사를 세운 사람은 누구인가?",
                   "이 회사는 1998년 Search Engine 기술로 이 사람이 세웠다.", 0) is None


@pytest.mark.parametrize(("question", "line", "anchored", "span"), [
    # a Korean counter picks the figure of what it counts, in either language
    ("Lion Air 610편 사고로 몇 명이 사망했나요?",
     "On October 29, 2018, a Boeing Model 737-8 airplane operated by Lion Air (Lion Air "
     "Flight 610) crashed after takeoff, resulting in 189 fatalities.", False, "189 fatalities"),
    ("설문조사에는 몇 명이 참여했나요?", "설문조사: 5개 기관, 1,849명 참여", True, "1,849명"),
    # so does the noun after "how many"
    ("How many people died in the accident?",
     "The crash took 12 minutes to unfold; 189 people died in the accident.", True,
     "189 people"),
    ("How many background checks did the state run?",
     "The state, with 3 offices, ran 12,155 background checks.", True,
     "12,155 background checks"),
    # nothing that fits the counter: the nearest figure, as before
    ("몇 명이 참여했나요?", "참여 기관 5개", False, "5개"),
])
def test_a_count_is_of_what_the_question_counts(question: str, line: str, anchored: bool,
                                                span: str) -> None:
    assert span_of(question, line, 0, anchored=anchored) == span


@pytest.mark.parametrize(("question", "line", "span"), [
    ("How many people were hurt?", "On October 29, 2018, 14 people were hurt.", "14 people"),
    ("몇 건이 접수되었나요?", "2023년 07월 31일 기준 접수 215건", "215건"),
    ("How many visitors did the museum count?", "As of 2023-07-31 the museum counted 42.",
     "42"),
])
def test_a_dates_day_is_no_count(question: str, line: str, span: str) -> None:
    assert span_of(question, line, 0) == span


SPLITS = ("[표 1] 문서 및 질문 개수\n학습 검증 평가 합계\n문서 38,496 4,736 4,725 47,957\n"
          "질문 83,486 10,165 9,309 102,960\n")


def test_a_line_of_words_over_rows_laid_out_with_spaces_names_their_columns() -> None:
    assert span_of("평가 데이터의 질문은 몇 개인가요?", SPLITS, 3) == "9,309"
    assert span_of("학습 데이터의 질문은 몇 개인가요?", SPLITS, 3) == "83,486"
    row = lines_of(SPLITS, 0, len(SPLITS))[3]
    assert [SPLITS[a:b] for a, b in row_headings(SPLITS, row)] == [
        "학습 검증 평가 합계", "[표 1] 문서 및 질문 개수"]


def test_a_line_of_words_names_columns_only_right_above_rows_with_as_many_values() -> None:
    # a line of prose above the rows, or one with another number of words, is no header
    text = "Ages in months\nWalks well 12.1 14.3\n"
    assert span_of("By what month do infants walk well?", text, 1) == "12.1"
    prose = "The norms are given below\nWalks well 12.1 14.3\n"
    row = lines_of(prose, 0, len(prose))[1]
    assert column_header(prose, row) is None
    assert [prose[a:b] for a, b in row_headings(prose, row)] == ["The norms are given below"]


MORAN = ("Table 4. Performance of the MORAN.\n"
         "Method IIIT5K SVT IC03 IC13 SVT-P CUTE80 IC15\n"
         "End-to-end training 89.9 84.1 92.5 90.0 76.1 77.1 68.8\n"
         "Only ASRN 84.2 82.2 91.0 90.1 71.0 64.6 65.6\n")


def test_a_line_of_names_with_figures_in_them_over_text_rows_names_their_columns() -> None:
    # "CUTE80" and "IC13" name datasets, and "Method" names the labels' column
    assert span_of("What accuracy does Only ASRN get on CUTE80?", MORAN, 3) == "64.6"
    assert span_of("What accuracy does Only ASRN get on SVT-P?", MORAN, 3) == "71.0"
    row = lines_of(MORAN, 0, len(MORAN))[3]
    assert column_header(MORAN, row) == lines_of(MORAN, 0, len(MORAN))[1]
    # a line with a figure among its words is no header: it may be a row of values
    figures = MORAN.replace("IC15", "15")
    assert column_header(figures, lines_of(figures, 0, len(figures))[3]) is None


def test_a_year_written_with_an_apostrophe_names_its_column() -> None:
    text = ("성과지표 | (KPI) | \u201821 | \u201822 | \u201823 | \u201824 | \u201825 | 비고\n"
            "챗봇 서울톡 행정정보 수 | 300 | 400 | 550 | 700 | 900 | -\n")
    assert span_of("챗봇 '서울톡' 행정정보 수의 2023년 목표치는?", text, 1) == "550"
    assert span_of("챗봇 '서울톡' 행정정보 수의 2025년 목표치는?", text, 1) == "900"


def test_a_part_of_a_code_with_en_dashes_is_no_amount() -> None:
    question = "What is the estimated total cost of the sensor system test?"
    line = ("Performing a sensor system test per Service Bulletin 737\u2013\n00\u20131028, "
            "dated 2020.")
    found = short_span(question, line, (0, len(line)), matcher(question))
    assert found is None
    assert span_of("How many airplanes would the rule affect?", "Docket No. FAA\u20132020\u2013"
                   "0686; Identifier 2019\u2013NM\u2013035\u2013AD] RIN 2120\u2013AA64", 0) is None
    assert span_of("How many people were hired, aged 18\u201324?", "They hired 120 people "
                   "aged 18\u201324.", 0) == "120 people"


@pytest.mark.parametrize(("question", "line", "span"), [
    ("지불 기한은 언제인가요?", "지불 기한 : | 2023년 | 07월 31일",
     "2023년 | 07월 31일"),
    ("청구서 날짜는 언제인가요?", "청구서 2023년 11월 | 10일 /No. 20231110-001",
     "2023년 11월 | 10일"),
    ("총투자액은 얼마인가요?", "총투자액은 1조 4,692억원이다.", "1조 4,692억원"),
])
def test_a_korean_date_or_amount_is_read_whole_across_its_parts(question: str, line: str,
                                                                 span: str) -> None:
    assert span_of(question, line, 0) == span


@pytest.mark.parametrize(("question", "line", "span"), [
    ("How much does a two-year-old weigh?", "At two, toddlers weigh 27 to 30 pounds.",
     "27 to 30 pounds"),
    ("What is the mortality rate of the plague?", "The plague kills 30\u201375% of the sick.",
     "30\u201375%"),
    ("보증 기간은 몇 년인가요?", "보증 기간은 3년~5년 입니다.", "3년~5년"),
    ("How much does the plan cost?", "The plan costs $20 to $30 a month.", "$20 to $30"),
    # found by its last figure, read from its first
    ("How many neurons are formed?", "Of the 100 to 200 billion neurons, most are formed.",
     "100 to 200 billion"),
    ("How much will the temperature rise?", "The temperature will rise by between 1.4 and "
     "5.8 °C.", "1.4 and 5.8 °C"),
    # "and" is a range only after "between"; a year opens or closes none
    ("How many people were there?", "There were 5 and 6 people.", "6 people"),
    ("What percentage of students got honours in 2005?", "Honours fell from 90% in 2004 to "
     "60% in 2005.", "60%"),
])
def test_a_range_is_read_whole(question: str, line: str, span: str) -> None:
    assert span_of(question, line, 0) == span


@pytest.mark.parametrize(("question", "line", "span"), [
    ("How many UK viewers watched the film?", "The film was watched by 9.1 million UK viewers.",
     "9.1 million"),
    ("How far is the port from the station?", "The port is 5 miles from the station.",
     "5 miles"),
    # a unit is a whole word: not the "m" of "members", not a letter jammed onto the figure
    ("How many people joined the club?", "The club counted 5 members when people joined.",
     "5"),
    ("How many votes did Brown receive?", "EDMUND G BROWN 69DEM", "69"),
])
def test_a_figure_takes_its_unit_whole(question: str, line: str, span: str) -> None:
    assert span_of(question, line, 0) == span


@pytest.mark.parametrize(("question", "line", "span"), [
    ("How long is one term of the president?", "The president serves a term of three years.",
     "three years"),
    ("How much British military was in North America?", "There were 60,000 European settlers "
     "and a few British military units in North America.", "60,000"),
])
def test_a_figure_in_words_takes_its_unit_and_a_currency_is_a_whole_word(
        question: str, line: str, span: str) -> None:
    assert span_of(question, line, 0) == span


@pytest.mark.parametrize(("question", "line", "span"), [
    # a Korean unit is the whole word, less its particles
    ("한러수교는 몇 주년을 맞았나?", "2010년은 한러수교 20주년을 맞이하는 해이다.", "20주년"),
    ("인증 횟수는 몇 번으로 늘렸나?", "인증 횟수를 2번으로 늘렸다.", "2번"),
    # after 만, 억 or 조, the unit that follows; a figure of several parts, whole
    ("의자에 몇 달러를 두고 나왔나?", "그는 의자에 5만 달러를 두고 나왔다.", "5만 달러"),
    ("공무원의 숫자는 얼마나 늘렸나?", "공무원의 숫자를 8만 1219명 늘렸다.", "8만 1219명"),
    ("2006년 이자 비용은 얼마였는가?", "2006년 이자 비용은 11조4000억원이었다.", "11조4000억원"),
    ("정부의 채무는 얼마를 넘어섰는가?", "정부의 채무는 400조를 넘어섰다.", "400조"),
])
def test_a_korean_figure_is_read_with_its_whole_unit(question: str, line: str,
                                                     span: str) -> None:
    assert span_of(question, line, 0) == span


def test_two_korean_figures_side_by_side_are_not_one() -> None:
    assert span_of("2025년 목표는 얼마인가?", "목표 | 2023년 | 2025년\n누적 투자 600억 750억", 1,
                   anchored=False) in ("600억", "750억")


@pytest.mark.parametrize(("question", "line", "span"), [
    ("When was the French and Indian War?", "The French and Indian War (1754\u20131763) was "
     "fought in North America.", "1754\u20131763"),
    ("When was the war fought?", "The war was fought from 1939 to 1945.", "1939 to 1945"),
    ("When was the bridge opened?", "The bridge was opened in 1932 to traffic.", "1932"),
])
def test_a_range_of_years_answers_when(question: str, line: str, span: str) -> None:
    assert span_of(question, line, 0) == span


@pytest.mark.parametrize(("question", "line", "span"), [
    ("What share of PDFs are untagged?", "Today, over 70% of PDFs are untagged.", "over 70%"),
    ("서울의 인구는 몇 명인가?", "서울의 인구는 약 940만 명이다.", "약 940만 명"),
    ("How many victims did the plague kill?", "The plague killed some 1.7 million victims.",
     "some 1.7 million"),
    ("How much were the earnings per share?", "Earnings per share were $2.10.", "$2.10"),
])
def test_a_figure_keeps_the_word_that_qualifies_it(question: str, line: str, span: str) -> None:
    assert span_of(question, line, 0) == span


@pytest.mark.parametrize(("question", "line", "span"), [
    ("How long is the term?", "The term lasts about three years.", "about three years"),
    # a year closes no range, a larger figure that holds four digits like a year's does
    ("How many visitors came?", "Visitors rose from 12,000 to 150000 in a decade.",
     "12,000 to 150000"),
])
def test_a_qualified_figure_keeps_its_unit_and_only_a_year_closes_no_range(
        question: str, line: str, span: str) -> None:
    assert span_of(question, line, 0) == span


def test_a_cost_question_and_an_amount_in_currency_are_told() -> None:
    assert asks_cost("How much does it cost to derive the attack?")
    assert asks_cost("How much is charged for the reporting line item?")
    assert asks_cost("신라스테이 볼룸 대관 요금은 얼마인가요?")
    assert not asks_cost("How much input is consumed per CWE?")
    assert not asks_cost("인구는 얼마인가요?")
    assert in_currency("USD 5.80") and in_currency("₩1,500,000") and in_currency("3,000원")
    assert in_currency("$2 million") and in_currency("20 euros")
    assert not in_currency("2.1 million") and not in_currency("1,500,000")


SHEET_BY_PERIOD = ("연 결 재 무 상 태 표\n제 54 기 : 2022년 12월 31일 현재\n"
                   "제 53 기 : 2021년 12월 31일 현재\n"
                   "과 | 목 | 주 석 | 제 54 (당) 기 | 제 53 (전) 기\n"
                   "자 산 총 계 | | 448,424,507 | 426,621,158")
REVENUES_BY_YEAR = ("(In millions) | 2019 | 2018 | 2017\n"
                    "Revenues | $ 39,117 | $ 36,397 | $ 34,350")


@pytest.mark.parametrize(("question", "text", "other"), [
    # the balance sheet has 2022 (제54기) and 2021 (제53기), by name or by the year the page
    # says each ends in
    ("2019년 말(제51기) 자산총계는?", SHEET_BY_PERIOD, True),
    ("2020년 12월 31일 자산총계는?", SHEET_BY_PERIOD, True),
    ("2021년 말(제53기) 자산총계는?", SHEET_BY_PERIOD, False),
    ("2022년 12월 31일 기준 자산총계는?", SHEET_BY_PERIOD, False),
    ("제54기 자산총계는?", SHEET_BY_PERIOD, False),
    ("What were the revenues in FY2016?", REVENUES_BY_YEAR, True),
    ("What were the revenues in FY2018?", REVENUES_BY_YEAR, False),
    # no period asked: any column may answer
    ("What were the revenues?", REVENUES_BY_YEAR, False),
])
def test_a_row_of_other_periods_than_the_asked_one_is_told(question: str, text: str,
                                                           other: bool) -> None:
    row = text.rindex("\n") + 1
    assert other_periods(question, text, row) is other
    value = short_span(question, text, (row, len(text)), lambda s: 1.0)
    assert (value is None) is other


SHEET_SECOND_PAGE = ("과 | 목 | 주 석 | 제 54 (당) 기 | 제 53 (전) 기\n"
                     "비지배지분 | 31 | 9,563,462 | 8,662,234")


def test_a_fiscal_period_is_the_year_its_document_says_it_ends_in() -> None:
    """The balance sheet's second page names its columns 제54기 and 제53기 only; its first
    page says they end in 2022 and 2021. Told that (`fiscal`), "2021" is the 제53기 column
    and "2019" none of them; not told, a year says nothing about such columns: the row is
    no other period's, and its first amount answers."""
    row = SHEET_SECOND_PAGE.rindex("\n") + 1
    line = (row, len(SHEET_SECOND_PAGE))
    fiscal = fiscal_years(SHEET_BY_PERIOD)
    assert fiscal == {"기54": "2022", "기53": "2021"}
    assert other_periods("2019년 말 비지배지분은?", SHEET_SECOND_PAGE, row, fiscal)
    assert not other_periods("2021년 말 비지배지분은?", SHEET_SECOND_PAGE, row, fiscal)
    assert not other_periods("2019년 말 비지배지분은?", SHEET_SECOND_PAGE, row)
    # a fiscal period the question names is compared as it is
    assert other_periods("제51기 비지배지분은?", SHEET_SECOND_PAGE, row)

    def value(question: str, years: dict[str, str] | None) -> str | None:
        span = short_span(question, SHEET_SECOND_PAGE, line, lambda s: 1.0, fiscal=years)
        return None if span is None else SHEET_SECOND_PAGE[span.start:span.end]

    assert value("2021년 말 비지배지분은 얼마인가요?", fiscal) == "8,662,234"
    assert value("2022년 말 비지배지분은 얼마인가요?", fiscal) == "9,563,462"
    assert value("2019년 말 비지배지분은 얼마인가요?", fiscal) is None
    assert value("2021년 말 비지배지분은 얼마인가요?", None) == "9,563,462"


RESULTS = ("Method Crawler Recall Precision Recall Recall@100 Recall@50 Recall@20\n"
           "Google with GPT-4o - - - 0.2946 0.2573 0.2020\n"
           "ChatGPT - 0.2280 0.2007 - - -\n"
           "GPT-o1 - 0.058 0.0134 - - -\n"
           "PaSa-7b 0.7071 0.5146 0.6111 0.6929 0.6563 0.5798\n"
           "Table 6: Results on RealScholarQuery.")


def test_a_row_of_dashes_and_figures_names_no_columns() -> None:
    """A dash is an empty cell, neither a name nor a figure: "GPT-o1 - 0.058 0.0134 - - -"
    is a row of values, not the header of the row below it; the header above the block,
    with one column named in two words ("Crawler Recall"), is."""
    rows = lines_of(RESULTS, 0, len(RESULTS))
    for row in rows[1:5]:
        header = column_header(RESULTS, row)
        assert header == rows[0], RESULTS[row[0]:row[1]]


@pytest.mark.parametrize(("question", "line", "answer"), [
    ("What Recall@20 does PaSa-7b achieve?", 4, "0.5798"),
    ("What Recall@20 does Google with GPT-4o achieve?", 1, "0.2020"),
    ("What Recall@50 does PaSa-7b achieve?", 4, "0.6563"),
    # the column it names is empty in the row: no value of it answers
    ("What Recall@20 does GPT-o1 achieve?", 3, None),
    ("What Recall@20 does ChatGPT achieve?", 2, None),
])
def test_a_row_answers_from_the_column_named_in_a_wider_header(
        question: str, line: int, answer: str | None) -> None:
    assert span_of(question, RESULTS, line) == answer
    row = lines_of(RESULTS, 0, len(RESULTS))[line]
    assert empty_column(question, RESULTS, row[0]) is (answer is None)


def test_a_row_the_parser_did_not_find_is_no_caption() -> None:
    """A short line right above a block of rows is its caption, unless it holds values: "UN
    도시 평가(LOSI*) 순위 - 8위 - 7위 - ..." is a row (its last cell no figure), and
    its words do not name the row below it."""
    text = ("핵심 성과목표\n"
            "UN 도시 평가(LOSI*) 순위 - 8위 - 7위 - 20년 9위\n"
            "스마트 서비스 혁신성 18% 22% 26% 30% 35%")
    rows = lines_of(text, 0, len(text))
    assert row_headings(text, rows[2]) == []
    captioned = "[표 4] 핵심 성과지표\n스마트 서비스 혁신성 18% 22% 26% 30% 35%"
    assert row_headings(captioned, lines_of(captioned, 0, len(captioned))[1]) == [(0, 13)]


def test_a_whole_number_that_opens_with_a_zero_is_a_code_not_an_amount() -> None:
    """A postcode ("㉾ 03900") or a code ("No. 007") answers no "how much" or "how many"."""
    assert span_of("How much is charged for delivery?",
                   "Delivery charged to postcode 03900 on arrival.", 0) is None
    assert span_of("How much is charged for delivery?",
                   "Delivery charged at 3900 won on arrival.", 0) == "3900 won"
    assert span_of("How many rooms are on the floor?", "Rooms on the floor: No. 007.", 0) is None


@pytest.mark.parametrize(("question", "asks"), [
    ("How many rooms does the hotel have?", True),
    ("수영장 입장료는 1인당 얼마인가요?", True),
    ("먼지봉투는 몇 개월마다 교체해야 하나요?", True),
    # a date or a time is asked for, or no quantity at all
    ("PDF Association은 몇 년에 설립되었나요?", False),
    ("회의는 몇 시에 시작하나요?", False),
    ("몇몇의 평론가들은 무엇이라고 말했는가?", False),
    ("몇 개의 조건적 반응을 없애준 것은 누구인가?", False),
    ("What is the price of the room?", False),
])
def test_how_many_and_how_much_ask_for_a_quantity(question: str, asks: bool) -> None:
    assert asks_quantity(question) is asks


@pytest.mark.parametrize(("question", "text", "states"), [
    ("How many residents died of plague?", "The plague reduced the population by half.", True),
    ("How many treaties protected rights?", "None of the original treaties mention them.", True),
    ("How many biomolecules contain no oxygen?", "Only a few contain no oxygen.", True),
    ("국무회의 심의는 헌법 제 몇 조의 내용인가?", "국무회의의 심의를 거쳐야 한다(제89조).", True),
    ("태조의 몇 번째 아들이었는가?", "태조는 여덟째 아들을 세자로 책봉하였다.", True),
    ("How many people attended in 2015?", "About 2,300 people attended.", True),
    ("How many people came?", "42 people came.", True),
    ("종분화가 몇 년 이내에 이루어져야 하는가?", "최대 3-4천년 이내에 이루어져야 한다.", True),
    ("경계는 몇 세기에 걸쳐 형성되었는가?", "경계는 19-20세기에 걸쳐 형성되었다.", True),
    # no quantity: the pool's fee is charged apart; figures the question names, a year,
    # a date, a name's version, a reference, a list's number
    ("야외 수영장 6층의 입장료는 얼마인가요?", "■ 야외 수영장\n위치: 6층\n※ 입장료 별도.", False),
    ("How many people attended in 2015?", "The fair was held in 2015, as in 2014.", False),
    ("How many people attended?", "It opened on October 29, 2018.", False),
    ("작업자에게 얼마를 지급했나요?", "KorQuAD 1.0[1]과 유사한 방식으로 수집하였다.", False),
    ("메타버스 서울 구축 예산은 얼마인가요?",
     "2 사람중심 스마트도시 구현\n메타버스 서울 구축(\u201922)", False),
    # what something costs is an amount, not any figure
    ("How much does the plan budget for Metaverse Seoul?", "전략과제 4 비대면 서비스 확대", False),
    ("How much does the plan budget for Metaverse Seoul?", "총 사업비 30억 원", True),
    ("How much did the price of oil increase?", "It rose by less than two percent per year.",
     True),
])
def test_a_quantity_is_stated_by_a_figure_or_in_words(question: str, text: str,
                                                      states: bool) -> None:
    assert states_quantity(question, text, 0, len(text)) is states
