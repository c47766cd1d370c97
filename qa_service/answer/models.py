"""What an ask returns: the answer text, its citations and how it was produced."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from qa_service.schemas import Passage
from qa_service.table_lines import CELL_SEPARATOR

ONE_LINE = str.maketrans("\n\r\t\f\v", "     ")  # what a quote shows as spaces

__all__ = ["ONE_LINE", "Answer", "AnswerMode", "Citation", "ShortAnswer", "abstention_text",
           "is_korean"]


class AnswerMode(StrEnum):
    EXTRACTIVE = "extractive"
    LLM = "llm"
    EXTRACTIVE_FALLBACK = "extractive-fallback"  # the LLM failed; the configuration allowed it


@dataclass(frozen=True)
class Citation:
    """One quoted passage supporting `answer[answer_start:answer_end]`.

    `quote` is verbatim page text: `page_text(document_id, page)[char_start:char_end]`.
    `number` is the citation's 1-based label, as shown in the answer (`[1]`).
    """

    number: int
    document_id: str
    filename: str
    page: int
    quote: str
    chunk_id: int
    char_start: int
    char_end: int
    answer_start: int
    answer_end: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def quoting(cls, number: int, passage: Passage, start: int, end: int,
                answer_start: int) -> Citation:
        """Citation `number` quoting `passage.text[start:end]`, shown in the answer from
        `answer_start` (line breaks as spaces: the same length)."""
        return cls(number=number, document_id=passage.document_id, filename=passage.filename,
                   page=passage.page, quote=passage.text[start:end], chunk_id=passage.chunk_id,
                   char_start=passage.char_start + start, char_end=passage.char_start + end,
                   answer_start=answer_start, answer_end=answer_start + end - start)


@dataclass(frozen=True)
class ShortAnswer:
    """The shortest span that answers the question (a number with its unit, a date, a
    name, a table cell): `text` is `quote[quote_start:quote_end]` of citation `citation`
    (its 1-based number)."""

    text: str
    citation: int
    quote_start: int
    quote_end: int

    @property
    def shown(self) -> str:
        """The short answer as the answer's first line shows it: on one line, and as one
        value across the table cells it spans ("2023년 | 07월 31일" -> "2023년 07월 31일")."""
        return self.text.translate(ONE_LINE).replace(CELL_SEPARATOR, " ")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    abstained: bool
    mode: AnswerMode
    citations: list[Citation]
    passages: list[Passage]
    removed_citations: int = 0  # LLM path: citations of passages that were not retrieved
    unsupported_sentences: int = 0  # LLM path: sentences the passages do not support
    answerability: float | None = None  # extractive path: the score abstention compares
    fallback_reason: str = ""  # why the LLM was not used (mode extractive-fallback)
    fallback_code: str = ""  # ... as the error's code: llm_unavailable, llm_timeout, ...
    timings_ms: dict[str, float] = field(default_factory=dict)
    short_answer: ShortAnswer | None = None  # the answer's lead, when a short span answers
    # the question retrieval and the answer used: `question` itself without earlier turns
    # or when it stands alone, else its standalone rewrite (`answer.conversation`)
    standalone_question: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "standalone_question": self.standalone_question or self.question,
            "answer": self.answer,
            "short_answer": self.short_answer.to_json() if self.short_answer else None,
            "abstained": self.abstained,
            "mode": self.mode.value,
            "citations": [c.to_json() for c in self.citations],
            "removed_citations": self.removed_citations,
            "unsupported_sentences": self.unsupported_sentences,
            "answerability": self.answerability,
            "fallback_reason": self.fallback_reason,
            "fallback_code": self.fallback_code,
            "passages": [p.to_json() for p in self.passages],
            "timings_ms": self.timings_ms,
        }


def is_korean(text: str) -> bool:
    """True when `text` has more Hangul syllables than Latin letters."""
    hangul = sum(1 for ch in text if "\uac00" <= ch <= "\ud7a3" or "\u3131" <= ch <= "\u318e")
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return hangul > 0 and hangul >= latin / 2


def abstention_text(question: str) -> str:
    """The plain "not in the documents" answer, in the question's language."""
    if is_korean(question):
        return "문서에는 이 질문에 대한 답이 없습니다. 가장 가까운 구절을 아래에 보여 드립니다."
    return "The documents do not say. The closest passages are listed below."
