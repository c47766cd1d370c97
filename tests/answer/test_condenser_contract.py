"""The `Condenser` contract, run against every implementation: the rules, and the LLM one
against a scripted OpenAI-compatible server that replies as a good model would (wrapped in
the labels, quotes and markup real models add)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from qa_service.answer.conversation import (
    MAX_STANDALONE_CHARS,
    Condenser,
    LLMCondenser,
    RuleCondenser,
    Turn,
)
from qa_service.answer.llm import LLMAnswerer
from qa_service.config import Settings
from qa_service.tokens import Tokenizer, has_hangul
from tests.llm_server import ScriptedLLM

NETFLIX = "What was Netflix's revenue in 2021?"
SAMSUNG = "삼성전자의 2021년 매출은 얼마인가요?"
VACUUM = "삼성 무선 청소기의 배터리는 몇 년 동안 보증되나요?"


@dataclass(frozen=True)
class Case:
    history: tuple[Turn, ...]
    question: str
    carries: tuple[str, ...]  # words the standalone question must hold
    reply: str  # what the scripted model answers


FOLLOW_UPS = [
    Case((Turn("user", NETFLIX), Turn("assistant", "29.7 billion dollars [1]")),
         "And in 2022?", ("Netflix", "revenue", "2022"),
         'Standalone question: "What was Netflix\'s revenue in 2022?"'),
    Case((Turn("user", "When was Netflix founded?"),), "Who founded it?",
         ("Netflix", "founded"), "**Rewritten question:** Who founded Netflix?"),
    Case((Turn("user", NETFLIX),), "What about Samsung?", ("Samsung", "revenue"),
         "What was Samsung's revenue in 2021?\nThis replaces Netflix with Samsung."),
    Case((Turn("user", SAMSUNG), Turn("assistant", "279조 원입니다.")), "그럼 2022년은?",
         ("삼성전자", "2022", "매출"), "질문: 삼성전자의 2022년 매출은 얼마인가요?"),
    Case((Turn("user", VACUUM),), "그럼 제품 보증 기간은?", ("삼성", "청소기", "보증"),
         "「삼성 무선 청소기의 제품 보증 기간은 얼마인가요?」"),
    Case((Turn("user", "삼성전자는 언제 설립되었나요?"),), "그 회사의 본사는 어디인가요?",
         ("삼성전자", "본사"), "삼성전자의 본사는 어디인가요?"),
]
STANDALONE = [
    Case((Turn("user", NETFLIX),), "How many rooms does the Shilla Stay Yeosu hotel have?",
         (), "How many rooms does the Shilla Stay Yeosu hotel have?"),
    Case((Turn("user", SAMSUNG),), "서울특별시 스마트도시 계획의 비전은 무엇인가요?", (),
         "서울특별시 스마트도시 계획의 비전은 무엇인가요?"),
]
REPLIES = {case.question: case.reply for case in FOLLOW_UPS + STANDALONE}
_QUESTION = re.compile(r"<question>\n(.*)\n</question>", re.S)


def scripted_reply(body: dict[str, Any]) -> str:
    match = _QUESTION.search(body["messages"][1]["content"])
    assert match is not None
    return REPLIES[html.unescape(match.group(1))]


@pytest.fixture(scope="module")
def llm_server() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(scripted_reply) as server:
        yield server


@pytest.fixture(params=["rules", "llm"])
def condenser(request: pytest.FixtureRequest, tokenizer: Tokenizer) -> Iterator[Condenser]:
    rules = RuleCondenser(tokenizer)
    if request.param == "rules":
        yield rules
        return
    server: ScriptedLLM = request.getfixturevalue("llm_server")
    settings = Settings(llm_base_url=server.base_url, llm_model="scripted", llm_timeout=10.0)
    answerer = LLMAnswerer(settings, tokenizer)
    try:
        yield LLMCondenser(answerer, settings, rules)
    finally:
        answerer.close()


def assert_one_question(text: str, question: str) -> None:
    assert text and text == text.strip() and "\n" not in text
    assert len(text) <= MAX_STANDALONE_CHARS
    assert has_hangul(text) == has_hangul(question)
    assert not re.match(r"(?i)(standalone|rewritten|question|질문)\b", text)
    assert text[0] not in "\"'「*" and text[-1] not in "\"'」*"


@pytest.mark.parametrize("case", FOLLOW_UPS, ids=lambda c: c.question)
def test_a_follow_up_carries_what_it_leaves_out(condenser: Condenser, case: Case) -> None:
    standalone = condenser.condense(case.history, case.question)
    assert_one_question(standalone, case.question)
    for word in case.carries:
        assert word.casefold() in standalone.casefold(), (standalone, word)


@pytest.mark.parametrize("case", STANDALONE, ids=lambda c: c.question)
def test_a_question_that_stands_alone_is_unchanged(condenser: Condenser, case: Case) -> None:
    assert condenser.condense(case.history, case.question) == case.question


@pytest.mark.parametrize("history", [(), (Turn("assistant", "Hello! Ask me anything."),)],
                         ids=["no-history", "no-user-turn"])
def test_without_an_earlier_question_the_question_is_returned(condenser: Condenser,
                                                              history: tuple[Turn, ...]
                                                              ) -> None:
    assert condenser.condense(history, "  And in 2022?  ") == "And in 2022?"
    assert condenser.condense(history, "그럼 2022년은?") == "그럼 2022년은?"


def test_the_question_keeps_its_language(condenser: Condenser) -> None:
    """A Korean follow-up of an English question stays Korean, and the other way round."""
    korean = condenser.condense([Turn("user", NETFLIX)], "그럼 2022년은?")
    english = condenser.condense([Turn("user", SAMSUNG)], "And in 2022?")
    assert has_hangul(korean) and "2022" in korean
    assert "2022" in english
