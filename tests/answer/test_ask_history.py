"""`AskService.ask(..., history=...)`: the condenser's question is what retrieval and the
answerer use; the answer keeps the question as asked and says the standalone one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from qa_service.answer.conversation import RuleCondenser, Turn
from qa_service.answer.extractive import ExtractiveAnswerer
from qa_service.answer.models import Answer
from qa_service.answer.service import MAX_QUESTION_CHARS, AskService
from qa_service.config import AnswerSettings, ConversationSettings, Settings
from qa_service.evidence import Evidence
from qa_service.retrieval import HybridRetriever
from qa_service.schemas import Passage
from qa_service.store.knowledge_base import KnowledgeBase
from qa_service.tokens import Tokenizer
from tests.answer.conftest import evidence_of

HISTORY = [Turn("user", "How long does the Aurora 3 battery last?"),
           Turn("assistant", "14 hours [1].")]


@dataclass
class Retriever:
    """Records the questions it is asked; returns the sample passages."""

    passages: list[Passage]
    tokenizer: Tokenizer
    asked: list[str] = field(default_factory=list)

    @property
    def lexical(self) -> Any:
        return self

    def evidence(self, _kb: Any, question: str, _k: int,
                 _document_ids: Sequence[str] | None = None) -> Evidence:
        self.asked.append(question)
        return evidence_of(question, self.passages)

    def overview(self, _kb: Any, evidence: Evidence) -> Evidence:
        return evidence


@dataclass
class Condenser:
    reply: str
    seen: list[tuple[list[Turn], str]] = field(default_factory=list)

    def condense(self, history: Sequence[Turn], question: str) -> str:
        self.seen.append((list(history), question))
        return self.reply


def service(retriever: Retriever, condenser: Any = None, **conversation: Any) -> AskService:
    settings = Settings(conversation=ConversationSettings(**conversation),
                        answer=AnswerSettings(abstain_below=0))  # never abstains
    return AskService(settings, cast(HybridRetriever, retriever),
                      ExtractiveAnswerer(retriever.tokenizer, settings.answer), None,
                      condenser=condenser)


KB = cast(KnowledgeBase, None)


@pytest.fixture
def retriever(english: list[Passage], tokenizer: Tokenizer) -> Retriever:
    return Retriever(english, tokenizer)


def test_retrieval_and_the_answer_use_the_standalone_question(retriever: Retriever) -> None:
    condenser = Condenser("How long is the Aurora 3 battery warranty?")
    answer = service(retriever, condenser).ask(KB, " And its warranty? ", history=HISTORY)
    assert condenser.seen == [(HISTORY, "And its warranty?")]
    assert retriever.asked == ["How long is the Aurora 3 battery warranty?"]
    assert answer.question == "And its warranty?"
    assert answer.standalone_question == "How long is the Aurora 3 battery warranty?"
    assert answer.to_json()["standalone_question"] == answer.standalone_question
    assert "two-year warranty" in answer.answer
    assert "condense" in answer.timings_ms


def test_without_history_the_condenser_is_not_asked(retriever: Retriever) -> None:
    condenser = Condenser("never used")
    answer = service(retriever, condenser).ask(KB, "How much does the Aurora 3 weigh?")
    assert condenser.seen == [] and retriever.asked == ["How much does the Aurora 3 weigh?"]
    assert answer.standalone_question == answer.question == "How much does the Aurora 3 weigh?"
    assert "condense" not in answer.timings_ms


def test_a_streamed_ask_ends_with_the_same_standalone_question(retriever: Retriever) -> None:
    condenser = Condenser("How long is the Aurora 3 battery warranty?")
    items = list(service(retriever, condenser).ask_stream(KB, "And its warranty?", None, None,
                                                          None, history=HISTORY))
    final = items[-1]
    assert isinstance(final, Answer) and all(isinstance(i, str) for i in items[:-1])
    assert final.standalone_question == "How long is the Aurora 3 battery warranty?"
    assert final.question == "And its warranty?"


def test_only_the_last_turns_reach_the_condenser(retriever: Retriever) -> None:
    condenser = Condenser("How long is the Aurora 3 battery warranty?")
    old = [Turn("user", f"question {i}?") for i in range(10)]
    blank = Turn("assistant", "  ")
    service(retriever, condenser, max_turns=2).ask(KB, "And its warranty?",
                                                   history=[*old, blank, *HISTORY, blank])
    assert condenser.seen[0][0] == HISTORY


@pytest.mark.parametrize("reply", ["", "   ", "x" * (MAX_QUESTION_CHARS + 1)])
def test_an_unusable_rewrite_leaves_the_question_as_asked(retriever: Retriever,
                                                          reply: str) -> None:
    answer = service(retriever, Condenser(reply)).ask(KB, "And its warranty?",
                                                      history=HISTORY)
    assert answer.standalone_question == "And its warranty?"
    assert retriever.asked == ["And its warranty?"]


def test_the_default_condenser_is_the_rules(retriever: Retriever) -> None:
    asker = service(retriever)
    assert isinstance(asker.condenser, RuleCondenser)
    answer = asker.ask(KB, "And its warranty?", history=HISTORY)
    assert "Aurora" in answer.standalone_question and "warranty" in answer.standalone_question
