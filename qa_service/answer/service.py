"""`ask`: retrieve passages, then answer extractively or through the configured LLM.

The mode defaults to `llm` when `QA_LLM_BASE_URL` is set, else `extractive`. When the LLM
is unreachable, times out, fails or cannot fit the prompt, the answer is extractive with
mode `extractive-fallback` and the reason (if `QA_LLM_FALLBACK`, the default), or the error
(502/504) propagates. With `QA_LLM_FALLBACK`, an LLM answer with nothing to show (declined,
or no sentence supported) gives way to the extractive answer when that one quotes an
answer (`fallback_code` `llm_declined` or `llm_unsupported`): a small model's refusal or
invention is never worse than no LLM at all.

With earlier turns (`history`), the question is first made standalone by the `Condenser`
(`qa_service.answer.conversation`): retrieval and the answerer see that question, and the
`Answer` says it in `standalone_question`. `Answer.question` stays the question as asked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Literal

from qa_service.answer.answerer import Answerer
from qa_service.answer.conversation import Condenser, RuleCondenser, Turn, recent_turns
from qa_service.answer.models import Answer, AnswerMode
from qa_service.answer.overview import is_overview_request
from qa_service.config import Settings
from qa_service.errors import InvalidRequest, LLMTimeout, LLMUnavailable
from qa_service.evidence import Evidence
from qa_service.retrieval import HybridRetriever
from qa_service.store.knowledge_base import KnowledgeBase

__all__ = ["AskService", "RequestedMode"]

RequestedMode = Literal["extractive", "llm"]
MAX_QUESTION_CHARS = 2000


class AskService:
    """`condenser` rewrites follow-ups (default: the rules, on the retriever's tokenizer)."""

    def __init__(self, settings: Settings, retriever: HybridRetriever,
                 extractive: Answerer, llm: Answerer | None,
                 condenser: Condenser | None = None) -> None:
        self.settings = settings
        self.retriever = retriever
        self.extractive = extractive
        self.llm = llm
        self.condenser = condenser or RuleCondenser(retriever.lexical.tokenizer)

    def close(self) -> None:
        self.extractive.close()
        if self.llm is not None:
            self.llm.close()

    @property
    def default_mode(self) -> RequestedMode:
        return "llm" if self.llm is not None else "extractive"

    def ask(self, kb: KnowledgeBase, question: str, k: int | None = None,
            mode: RequestedMode | None = None,
            document_ids: Sequence[str] | None = None,
            history: Sequence[Turn] = ()) -> Answer:
        """The checked answer (no streaming). `history`: the conversation's earlier turns,
        oldest first (the last `QA_CONVERSATION__MAX_TURNS` are read)."""
        for item in self._run(kb, question, k, mode, document_ids, history, stream=False):
            if isinstance(item, Answer):
                return item
        raise AssertionError("an ask always ends with an answer")  # pragma: no cover

    def ask_stream(self, kb: KnowledgeBase, question: str, k: int | None = None,
                   mode: RequestedMode | None = None,
                   document_ids: Sequence[str] | None = None,
                   history: Sequence[Turn] = ()) -> Iterator[str | Answer]:
        """Answer text as it arrives, then the checked `Answer` (authoritative)."""
        return self._run(kb, question, k, mode, document_ids, history, stream=True)

    def _run(self, kb: KnowledgeBase, question: str, k: int | None,
             mode: RequestedMode | None, document_ids: Sequence[str] | None,
             history: Sequence[Turn], stream: bool) -> Iterator[str | Answer]:
        started = time.perf_counter()
        question = self._checked(question)
        mode = mode or self.default_mode
        if mode == "llm" and self.llm is None:
            raise InvalidRequest("mode 'llm' needs an LLM: set QA_LLM_BASE_URL and "
                                 "QA_LLM_MODEL, or ask with mode 'extractive'")
        standalone, timings = self._standalone(question, history)
        for item in self._answered(kb, standalone, k, mode, document_ids, timings, started,
                                   stream):
            yield (replace(item, question=question, standalone_question=standalone)
                   if isinstance(item, Answer) else item)

    def _standalone(self, question: str, history: Sequence[Turn]
                    ) -> tuple[str, dict[str, float]]:
        """The question retrieval and the answerer use, and the time condensing took."""
        turns = recent_turns(history, self.settings.conversation.max_turns)
        if not any(turn.role == "user" for turn in turns):
            return question, {}
        began = time.perf_counter()
        standalone = self.condenser.condense(turns, question).strip()
        if not standalone or len(standalone) > MAX_QUESTION_CHARS:
            standalone = question
        return standalone, {"condense": _ms(began, time.perf_counter())}

    def _answered(self, kb: KnowledgeBase, question: str, k: int | None, mode: RequestedMode,
                  document_ids: Sequence[str] | None, timings: dict[str, float],
                  started: float, stream: bool) -> Iterator[str | Answer]:
        began = time.perf_counter()
        evidence = self.retriever.evidence(kb, question, k or self.settings.answer.k,
                                           document_ids)
        if is_overview_request(question):  # answered from the document, not a sentence
            evidence = self.retriever.overview(kb, evidence)
        timings = {**timings, "retrieve": _ms(began, time.perf_counter())}
        if mode == "extractive" or self.llm is None:
            yield from _emitted(self._extractive(evidence, AnswerMode.EXTRACTIVE, timings,
                                                 started), stream)
            return
        try:
            if stream:
                for item in self.llm.stream(evidence):
                    if isinstance(item, Answer):
                        yield from self._llm_or_quotes(item, evidence, timings, started,
                                                       stream)
                    else:
                        yield item
            else:
                yield from self._llm_or_quotes(self.llm.answer(evidence), evidence, timings,
                                               started, stream)
        except (LLMUnavailable, LLMTimeout) as exc:
            if not self.settings.llm_fallback:
                raise
            answer = self._extractive(evidence, AnswerMode.EXTRACTIVE_FALLBACK, timings, started)
            yield from _emitted(replace(answer, fallback_reason=exc.message,
                                         fallback_code=exc.code), stream)

    def _llm_or_quotes(self, answer: Answer, evidence: Evidence, timings: dict[str, float],
                       started: float, stream: bool) -> Iterator[str | Answer]:
        """The LLM's answer; when it has nothing to show (it declined, or none of its
        sentences passed the checks, so nothing was streamed) and the extractive answerer
        does quote an answer, that one, marked as the fallback it is (with
        `QA_LLM_FALLBACK`)."""
        if not answer.abstained or not self.settings.llm_fallback:
            yield self._finish(answer, timings, started)
            return
        quoted = self._extractive(evidence, AnswerMode.EXTRACTIVE_FALLBACK,
                                  {**timings, **answer.timings_ms}, started)
        if quoted.abstained:
            yield self._finish(answer, timings, started)
            return
        unsupported = answer.unsupported_sentences + answer.removed_citations > 0
        code = "llm_unsupported" if unsupported else "llm_declined"
        reason = ("the passages did not support the LLM's answer" if unsupported else
                  "the LLM found no answer in the passages")
        yield from _emitted(replace(
            quoted, fallback_code=code, removed_citations=answer.removed_citations,
            unsupported_sentences=answer.unsupported_sentences,
            fallback_reason=f"{reason}; the answer quotes them instead"), stream)

    def _extractive(self, evidence: Evidence, mode: AnswerMode, timings: dict[str, float],
                    started: float) -> Answer:
        began = time.perf_counter()
        answer = self.extractive.answer(evidence)
        timings = {**timings, "answer": _ms(began, time.perf_counter())}
        return self._finish(replace(answer, mode=mode), timings, started)

    @staticmethod
    def _finish(answer: Answer, timings: dict[str, float], started: float) -> Answer:
        merged = {**timings, **answer.timings_ms, "total": _ms(started, time.perf_counter())}
        return replace(answer, timings_ms=merged)

    @staticmethod
    def _checked(question: str) -> str:
        question = question.strip()
        if not question:
            raise InvalidRequest("the question is empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise InvalidRequest(f"the question is longer than {MAX_QUESTION_CHARS} characters")
        return question


def _emitted(answer: Answer, stream: bool) -> Iterator[str | Answer]:
    """A finished answer as a stream: its whole text as one piece, then the answer."""
    if stream:
        yield answer.answer
    yield answer


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 1)
