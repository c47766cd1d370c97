"""`RuleCondenser`: the phenomena it handles, in Korean and English, one case each.

The names are made up or public; none of these questions is in an evaluation set."""

from __future__ import annotations

import pytest

from qa_service.answer.condense_rules import RuleCondenser
from qa_service.answer.conversation import Turn
from qa_service.answer.wording import agreeing, applied, final_consonant
from qa_service.tokens import Tokenizer, has_hangul

NETFLIX = "What was Netflix's revenue in 2021?"
SAMSUNG = "삼성전자의 2021년 매출은 얼마인가요?"


@pytest.fixture(scope="module")
def rules(tokenizer: Tokenizer) -> RuleCondenser:
    return RuleCondenser(tokenizer)


def condensed(rules: RuleCondenser, *questions: str) -> str:
    *earlier, last = questions
    return rules.condense([Turn("user", q) for q in earlier], last)


@pytest.mark.parametrize(("previous", "follow_up", "standalone"), [
    # a slot replaced: year, name, the thing asked about, a name beside a repeated noun
    (NETFLIX, "and in 2022?", "What was Netflix's revenue in 2022?"),
    (NETFLIX, "what about Samsung?", "What was Samsung's revenue in 2021?"),
    (NETFLIX, "And its operating income?", "What was Netflix's operating income in 2021?"),
    ("How many Ondol rooms does the Aurora Hotel have?", "And how many Deluxe rooms?",
     "How many Deluxe rooms does the Aurora Hotel have?"),
    ("How many handgun checks were run in Kentucky in November 2015?", "And in Kansas?",
     "How many handgun checks were run in Kansas in November 2015?"),
    ("How many passengers flew on Aurora Air's Transpacific routes in May 2015?",
     "What about China?", "How many passengers flew on Aurora Air's China routes in May 2015?"),
    (SAMSUNG, "그럼 2022년은?", "삼성전자의 2022년 매출은 얼마인가요?"),
    (SAMSUNG, "LG전자는?", "LG전자의 2021년 매출은 얼마인가요?"),
    (SAMSUNG, "그 회사의 영업이익은?", "삼성전자의 2021년 영업이익은 얼마인가요?"),
    ("한빛 호텔의 온돌 객실은 총 몇 개인가요?", "디럭스 객실은요?",
     "한빛 호텔의 디럭스 객실은 총 몇 개인가요?"),
    ("한빛 호텔 1층 볼룸을 8시간 대관하면 요금이 얼마인가요?", "그럼 4시간은?",
     "한빛 호텔 1층 볼룸을 4시간 대관하면 요금이 얼마인가요?"),
    # an anaphor resolved: a pronoun, a generic noun, a noun of the previous question
    ("When was Netflix founded?", "Who founded it?", "Who founded Netflix?"),
    ("삼성전자는 언제 설립되었나요?", "그 회사의 본사는 어디인가요?",
     "삼성전자의 본사는 어디인가요?"),
    ("In the Milwaukee 90-day report, how old was the child?",
     "What did the Medical Examiner conclude in that report?",
     "What did the Medical Examiner conclude in the Milwaukee 90-day report? (child)"),
])
def test_a_follow_up_becomes_the_question_it_means(rules: RuleCondenser, previous: str,
                                                   follow_up: str, standalone: str) -> None:
    assert condensed(rules, previous, follow_up) == standalone


@pytest.mark.parametrize(("previous", "follow_up", "opens", "carries"), [
    ("삼성 무선 청소기 제품보증서에 따르면 배터리는 몇 년 동안 보증되나요?",
     "부품 보유 기간은 얼마인가요?", "부품 보유 기간은 얼마인가요? (", "삼성 무선 청소기"),
    ("삼성 무선 청소기 제품보증서에 따르면 배터리는 몇 년 동안 보증되나요?",
     "그럼 제품 보증 기간은?", "삼성 무선 청소기", "보증 기간"),
    ("How many rooms does the Aurora Hotel have?", "What time is check-in?",
     "What time is check-in? (", "Aurora Hotel"),
    ("How many Turbo Flyers were ordered on the Kraxi invoice 2020-10?",
     "How long is the warranty?", "How long is the warranty? (", "Kraxi invoice 2020-10"),
    ("한빛 호텔 피트니스 센터는 몇 층에 있나요?", "이용 시간은 어떻게 되나요?",
     "이용 시간은 어떻게 되나요? (", "피트니스 센터"),
])
def test_what_the_follow_up_lacks_is_carried(rules: RuleCondenser, previous: str,
                                             follow_up: str, opens: str,
                                             carries: str) -> None:
    standalone = condensed(rules, previous, follow_up)
    assert standalone.startswith(opens) and carries in standalone
    assert "\n" not in standalone and standalone.count("(") <= 1


@pytest.mark.parametrize(("previous", "question"), [
    (NETFLIX, "How many employees does Samsung Electronics have?"),
    (SAMSUNG, "서울특별시 스마트도시 계획의 비전은 무엇인가요?"),
    ("When was Netflix founded?", "What is the boiling point of water at sea level?"),
    ("How long does the Aurora battery last?", "How long does it take to charge the Borealis?"),
    (NETFLIX, "How long does it take to ship an order to Canada?"),
])
def test_a_question_that_stands_alone_is_left_as_it_is(rules: RuleCondenser, previous: str,
                                                       question: str) -> None:
    assert condensed(rules, previous, question) == question


def test_a_chain_of_follow_ups_keeps_its_subject(rules: RuleCondenser) -> None:
    assert condensed(rules, NETFLIX, "And in 2022?", "What about Samsung?") == \
        "What was Samsung's revenue in 2022?"
    assert condensed(rules, SAMSUNG, "그럼 2022년은?", "LG전자는?") == \
        "LG전자의 2022년 매출은 얼마인가요?"


def test_a_follow_up_in_the_other_language_stays_in_its_language(rules: RuleCondenser
                                                                 ) -> None:
    korean = condensed(rules, NETFLIX, "그럼 2022년은?")
    assert korean.startswith("2022년은?") and "Netflix" in korean and "revenue" in korean
    english = condensed(rules, SAMSUNG, "And in 2022?")
    assert english.startswith("In 2022?") and "삼성전자" in english
    assert has_hangul(korean)


def test_assistant_turns_and_empty_turns_are_not_questions(rules: RuleCondenser) -> None:
    history = [Turn("user", NETFLIX), Turn("assistant", "Samsung Electronics."),
               Turn("user", "   ")]
    assert rules.condense(history, "and in 2022?") == "What was Netflix's revenue in 2022?"


def test_only_a_cue_gives_the_previous_question(rules: RuleCondenser) -> None:
    assert condensed(rules, NETFLIX, "And?") == NETFLIX
    assert condensed(rules, SAMSUNG, "그럼?") == SAMSUNG


@pytest.mark.parametrize(("word", "after", "agreed"), [
    ("LG전자", "은 얼마인가요?", "는 얼마인가요?"),
    ("삼성", "는?", "은?"),
    ("한빛", "이 만든", "이 만든"),  # 빛 ends in ㅊ: 이 stays
    ("애플", "가 만든", "이 만든"),  # 플 ends in ㄹ
    ("구글", "으로", "로"),  # ... which takes 로
    ("카카오", "을", "를"),
    ("서울", "으로 가는", "로 가는"),  # ㄹ takes 로
    ("2022", "은?", "는?"),  # 이 (2) has no final consonant
    ("2021", "는?", "은?"),  # 일 (1) has one
    ("Apple", "은?", "은?"),  # Latin: left as it is
    ("삼성", "이에요", "이에요"),  # the copula, not a particle
])
def test_korean_particles_follow_the_new_word(word: str, after: str, agreed: str) -> None:
    assert agreeing(word, after) == agreed


def test_edits_apply_right_to_left_with_agreement() -> None:
    assert applied("삼성은 2021년에", [(0, 2, "LG전자"), (4, 8, "2022")], korean=True) == \
        "LG전자는 2022년에"
    assert applied("Netflix's revenue", [(0, 7, "Samsung")], korean=False) == \
        "Samsung's revenue"
    assert final_consonant("") is None and final_consonant("가") == 0
