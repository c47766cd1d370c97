"""The codes a question names, found again in a page (qa_service/codes.py)."""

from __future__ import annotations

import pytest

from qa_service.codes import Version, asked_codes, asked_versions, printed


@pytest.mark.parametrize(("question", "codes"), [
    ("How many votes did Neel Kashkari receive in precinct 0050004A?", ("0050004A",)),
    ("How long is the battery warranty on the Dyson V15 Detect?", ("V15",)),
    ("How much does a replacement VCA-SBTA95 battery cost?", ("VCA-SBTA95",)),
    ("What Recall@20 does GPT-o1 achieve?", ("GPT-o1",)),
    ("What is the due date of DARPA-BAA-15-58?", ("DARPA-BAA-15-58",)),
    ("LG 코드제로 A9 무선청소기의 배터리 보증기간은?", ("A9",)),
    ("CWE-326(취약한 암호화) 데이터셋의 평균 코드 줄 수는?", ("CWE-326",)),
    # periods, ordinals, figures with their unit, year ranges and ages are no codes
    ("As of FY2023Q1, by how many points did Pepsico raise its guidance?", ()),
    ("As of Q2'2023, is Pfizer spinning off a segment? And in 2H23?", ()),
    ("What were the total current liabilities in FY2017, its 53rd year?", ()),
    ("How heavy is the 5kg model, and what does CodeLlama-7B score?", ()),
    ("In Seoul's 2021-2025 plan, for a 21-month-old child", ()),
])
def test_the_codes_a_question_names(question: str, codes: tuple[str, ...]) -> None:
    assert asked_codes(question) == codes


def test_a_code_is_printed_however_its_hyphens_and_case_are_set() -> None:
    assert printed("DARPA-BAA-15-58", "Broad Agency Announcement DARPA\u2010BAA\u201015\u201058")
    assert printed("GPT-o1", "GPT o1 - 0.058 0.0134")
    assert printed("v15", "the V15 Detect")
    assert not printed("0050004A", "PRECINCT 0050003A ACTON")
    # a word of its own: not a part of another code
    assert not printed("A9", "배터리명 (VCA-SBTA95)")
    assert not printed("V15", "the AV150 and V150")
    assert printed("A9", "LG 코드제로 A9 무선청소기")


@pytest.mark.parametrize(("question", "versions"), [
    ("When was Edition 2.0 of the data model published?", [("Edition", "2.0")]),
    ("KorQuAD 2.0 데이터를 만들 때 작업자에게 얼마를 지급했나요?", [("KorQuAD", "2.0")]),
    ("Does iOS 7.0 support it, and what changed in version 1.1?",
     [("iOS", "7.0"), ("version", "1.1")]),
    # a capital opening the sentence, a currency, a figure: no versions
    ("About 2.5 million people paid USD 2.5 each, and Python 3.11 is new", []),
])
def test_the_versions_a_question_names(question: str, versions: list[tuple[str, str]]) -> None:
    assert asked_versions(question) == tuple(Version(*v) for v in versions)


def test_a_text_of_another_version_only_is_told() -> None:
    edition = Version("Edition", "2.0")
    assert edition.other_in("National Hydro Network, Level 1 Data Model Edition 1.0 2004-08")
    assert not edition.other_in("Edition 1.0 was replaced by EDITION 2.0 in 2010")
    assert not edition.other_in("The data model, first published in 2004")
