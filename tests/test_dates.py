"""The dates a question names, found again in a page however it prints them
(qa_service.dates)."""

from __future__ import annotations

import pytest

from qa_service.dates import AskedDate, AskedMonth, asked_dates, asked_months


@pytest.mark.parametrize(("question", "dates"), [
    ("What is the total on the invoice dated November 9, 2023?", [(2023, 11, 9)]),
    ("What was the cash as of Dec. 31, 2022 (in millions)?", [(2022, 12, 31)]),
    ("Who signed it on 9th November 2023?", [(2023, 11, 9)]),
    ("2023년 11월 9일 청구서의 합계는?", [(2023, 11, 9)]),
    ("What happened on 2023-11-09?", [(2023, 11, 9)]),
    ("Between Sept. 3, 2020 and March 3, 2021?", [(2020, 9, 3), (2021, 3, 3)]),
    # a month and a year alone, or a year, name no date
    ("How many passengers flew in December 2015?", []),
    ("What was the revenue in FY2019?", []),
    ("What may 5 people do in 2020?", []),
])
def test_the_full_dates_a_question_names_are_read(question: str,
                                                  dates: list[tuple[int, int, int]]) -> None:
    assert asked_dates(question) == tuple(AskedDate(*d) for d in dates)


@pytest.mark.parametrize("text", [
    "November 9, 2023", "Nov. 9, 2023", "9 November 2023", "9th Nov 2023",
    "2023년 11월 9일", "2023년 11 | 월 | 09일",  # a table's cells split it
    "2023-11-09", "2023.11.09", "11/09/2023", "11/9/2023",
    "청구 번호:20231109-001",  # a document number that begins with it
])
def test_a_date_is_found_however_a_page_prints_it(text: str) -> None:
    assert AskedDate(2023, 11, 9).found_in(text)


@pytest.mark.parametrize("text", [
    "November 19, 2023", "2023년 11월 19일", "2023-11-19", "20231119", "11/19/2023",
    "November 2023", "Invoice 2023-11", "202311090",
])
def test_another_date_or_number_is_not_it(text: str) -> None:
    assert not AskedDate(2023, 11, 9).found_in(text)


@pytest.mark.parametrize(("question", "months"), [
    ("What was the rate in April 2018?", [(2018, 4)]),
    ("How many passengers flew in Nov. 2015 and in March of 2016?", [(2015, 11), (2016, 3)]),
    ("2015년 11월 NICS 통계에서 Kentucky의 건수는?", [(2015, 11)]),
    # a full date names a day (`asked_dates`), not a month
    ("What is the total on the invoice dated November 9, 2023?", []),
    ("Who signed it on 9th November 2023?", []),
    ("2023년 11월 9일 청구서의 합계는?", []),
    # the bounds of a period name the months between them as much: no month of its own
    ("In the WARN report (July 2015 to March 2016), how many?", []),
    ("WARN 보고서(2015년 7월~2016년 3월)에서 몇 명인가요?", []),
    # a year alone, or a month without its year
    ("What was the revenue in FY2019?", []),
    ("What may 5 people do in 2020?", []),
])
def test_the_months_a_question_names_are_read(question: str,
                                              months: list[tuple[int, int]]) -> None:
    assert asked_months(question) == tuple(AskedMonth(*m) for m in months)


@pytest.mark.parametrize("text", [
    "November 2015", "Nov-2015", "Nov. 2015", "NICS Firearm Background Checks\nNovember - 2015",
    "9 November 2015", "November 9, 2015", "2015년 11월", "2015-11-03", "11/2015", "11/9/2015",
])
def test_a_month_is_found_however_a_page_prints_it(text: str) -> None:
    assert AskedMonth(2015, 11).found_in(text)


@pytest.mark.parametrize("text", [
    "November 2016", "Dec-2015", "2015년 12월", "Effective as at 9 April 2019", "2015 | 12월",
    "12/11/2016",
])
def test_another_month_is_not_it(text: str) -> None:
    assert not AskedMonth(2015, 11).found_in(text)
