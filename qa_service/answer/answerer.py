"""The seam between retrieval and answering: anything that turns `Evidence` into an
`Answer` whose citations quote the cited pages verbatim.

Two implementations: `ExtractiveAnswerer` (no LLM) and `LLMAnswerer` (any OpenAI-compatible
API, its reply checked against the passages). `tests/answer/test_answerer_contract.py` runs
the same citation contract against both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from qa_service.answer.models import Answer
from qa_service.evidence import Evidence

__all__ = ["Answerer"]


class Answerer(Protocol):
    def answer(self, evidence: Evidence) -> Answer:
        """The finished answer."""
        ...

    def stream(self, evidence: Evidence) -> Iterator[str | Answer]:
        """Answer text as it is written, then the finished `Answer` (authoritative: shown
        text that it does not hold must be replaced by it)."""
        ...

    def close(self) -> None:
        """Release what the answerer holds (connections); it may be used again after."""
        ...
