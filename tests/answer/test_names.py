"""The names a question gives, and which the passages never mention (qa_service.answer.names)."""

from __future__ import annotations

import pytest

from qa_service.answer.names import missing_names, question_names
from qa_service.tokens import Tokenizer


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer()


@pytest.mark.parametrize(("question", "names"), [
    ("What total assets did LG Electronics report as of December 31, 2022?",
     ["LG", "Electronics"]),
    ("How long is the battery warranty on the Dyson V15 Detect cordless vacuum?",
     ["Dyson", "V15", "Detect"]),
    ("Who argued for the petitioner in Miranda v. Arizona?", ["Miranda", "Arizona"]),
    # periods, a title-case question's words, a sentence's first word name nothing
    ("What Was AMCOR's Adjusted Non GAAP EBITDA for FY 2023", ["AMCOR", "GAAP", "EBITDA"]),
    ("As of Q2'2023, is Pfizer spinning off segments in FY2023Q1?", ["Pfizer"]),
    ("What were total liabilities (in USD millions)? Base your answer on the balance sheet.",
     []),
    ("What was Samsung Electronics' cash in million KRW?", ["Samsung", "Electronics"]),
    ("How much did Kraxi Systems Inc. charge on invoice 2020-10?", ["Kraxi", "Systems"]),
    ("SK하이닉스의 재고자산은 얼마인가요?", ["SK", "하이닉스"]),
    ("LG 코드제로 A9 무선청소기의 배터리 보증기간은 몇 년인가요?", ["LG", "코드제로"]),
    ("What did Seoul's 2021-2025 plan budget for the VCA-SBTA95 pilot?",
     ["Seoul", "VCA-SBTA95"]),
    ("배터리 보증기간은 몇 년인가요?", []),
    ("What is the warranty period of the battery?", []),
])
def test_a_question_gives_the_names_of_what_it_is_about(tokenizer: Tokenizer, question: str,
                                                       names: list[str]) -> None:
    assert question_names(question, tokenizer) == names


SAMSUNG = "삼성전자주식회사와 그 종속기업\n자 산 총 계 | 448,424,507 | 426,621,158"
WARRANTY = "Samsung cordless vacuum warranty. The LG battery is covered for two years."


def test_a_name_no_passage_mentions_is_missing(tokenizer: Tokenizer) -> None:
    assert missing_names(["SK", "하이닉스"], [SAMSUNG], {}, tokenizer) == (["SK", "하이닉스"], 2)
    assert missing_names(["Dyson", "V15"], [WARRANTY], {}, tokenizer) == (["Dyson", "V15"], 2)
    # a Korean compound holds the name; a Latin name is matched as a whole word
    assert missing_names(["삼성"], [SAMSUNG], {}, tokenizer) == ([], 1)
    assert missing_names(["LG"], [WARRANTY], {}, tokenizer) == ([], 1)
    assert missing_names(["Sam"], [WARRANTY], {}, tokenizer) == (["Sam"], 1)
    # as an acronym with full stops, by its stem, as retrieval read a misspelling
    assert missing_names(["UN", "US"], ["The U.N. met in the U.S. capital."], {},
                         tokenizer) == ([], 2)
    assert missing_names(["Langlades"], ["Langlade's mission failed."], {}, tokenizer) == (
        [], 1)
    assert missing_names(["Ghandi"], ["Gandhi's work"], {}, tokenizer,
                         {"ghandi": "gandhi"}) == ([], 1)
    # a plural, a demonym by its country, an acronym by the words it stands for
    page = ("The European Coal and Steel Community banned cartels, the American Automobile "
            "Association said. India's Gandhi and the Nazis")
    assert missing_names(["ECSC", "AAA", "Indian", "Nazi"], [page], {}, tokenizer) == ([], 4)
    assert missing_names(["ECB", "Italian"], [page], {}, tokenizer) == (["ECB", "Italian"], 2)


def test_a_name_is_looked_for_only_where_it_could_be_written(tokenizer: Tokenizer) -> None:
    """"Electronics" is not written in a Korean balance sheet (삼성전자 is), nor 하이닉스 in
    an English page; a code or an acronym is written as it is in either."""
    assert missing_names(["Electronics", "하이닉스"], [SAMSUNG], {}, tokenizer) == (
        ["하이닉스"], 1)
    assert missing_names(["하이닉스"], [WARRANTY], {}, tokenizer) == ([], 0)
    assert missing_names(["LG"], [SAMSUNG], {}, tokenizer) == (["LG"], 1)


def test_a_name_is_found_by_its_translation(tokenizer: Tokenizer) -> None:
    assert missing_names(["삼성"], [WARRANTY], {}, tokenizer) == ([], 0)
    assert missing_names(["Samsung"], [SAMSUNG], {"samsung": ("삼성",)}, tokenizer) == ([], 1)
    english = "An invoice from Kraxi Systems."
    # an English passage may hold it translated: looked for only with a translation
    assert missing_names(["인보이스"], ["인보이스 번호: 12", english], {}, tokenizer) == ([], 0)
    assert missing_names(["인보이스"], ["청구서", english], {"인보이스": ("invoic",)},
                         tokenizer) == ([], 1)
    assert missing_names(["인보이스"], ["청구서", english], {"인보이스": ("receipt",)},
                         tokenizer) == (["인보이스"], 1)
