"""How the answer evaluations ask: streamed and timed, and journaled so a run can resume.

An ask through a small local LLM takes tens of seconds: an evaluation of 70 questions runs
for most of an hour, and an interrupted run must not start over. `Journal` appends each
question's outcome to a JSON Lines file as soon as it is scored (and flushed to disk); a
rerun with the same journal reads the outcomes back and asks only the questions it lacks.
An outcome is keyed by the question, the mode and the LLM model, so a journal never mixes
the answers of two models or modes.

`ask_timed` asks through the streaming path, as a chat client does, and measures the time
to the first text shown (`first_text_ms`) as well as to the final answer.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa_service.answer.models import Answer, AnswerMode
from qa_service.answer.service import RequestedMode
from qa_service.services import Services
from qa_service.store.knowledge_base import KnowledgeBase

__all__ = ["Asked", "Journal", "ask_timed", "journal_for", "llm_facts", "llm_figures",
           "model_of", "valid_citations"]


@dataclass(frozen=True)
class Asked:
    answer: Answer
    first_text_ms: float | None  # when the first text was shown (None: nothing was)
    total_ms: float


def ask_timed(services: Services, kb: KnowledgeBase, question: str,
              mode: RequestedMode | None) -> Asked:
    """Ask as a streaming client does; the answer and when its first text came."""
    started = time.perf_counter()
    first: float | None = None
    answer: Answer | None = None
    for item in services.asker.ask_stream(kb, question, mode=mode):
        if isinstance(item, Answer):
            answer = item
        elif first is None and item.strip():
            first = (time.perf_counter() - started) * 1000
    if answer is None:  # pragma: no cover (an ask always ends with an answer)
        raise AssertionError("the ask ended without an answer")
    return Asked(answer, first, (time.perf_counter() - started) * 1000)


def valid_citations(kb: KnowledgeBase, answer: Answer) -> int:
    """How many of the answer's citations quote their page exactly at their offsets."""
    valid = 0
    for citation in answer.citations:
        text = kb.page_text(citation.document_id, citation.page)
        if text is not None and citation.quote and (
                text[citation.char_start:citation.char_end] == citation.quote):
            valid += 1
    return valid


def llm_facts(asked: Asked, kb: KnowledgeBase) -> dict[str, Any]:
    """What an outcome records of the LLM path (all zero for an extractive answer)."""
    answer = asked.answer
    timings = answer.timings_ms
    held = (timings["first_text"] - timings["llm_first_token"]
            if "first_text" in timings and "llm_first_token" in timings else None)
    return {
        "citations": len(answer.citations),
        "valid_citations": valid_citations(kb, answer),
        "removed_citations": answer.removed_citations,
        "unsupported_sentences": answer.unsupported_sentences,
        "fallback": answer.mode is AnswerMode.EXTRACTIVE_FALLBACK,
        "fallback_code": answer.fallback_code,
        "first_text_ms": None if asked.first_text_ms is None else round(asked.first_text_ms, 1),
        "held_back_ms": None if held is None else round(held, 1),
        "millis": round(asked.total_ms, 1),
    }


def llm_figures(outcomes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The LLM path's figures over outcomes holding `llm_facts`."""
    citations = sum(o["citations"] for o in outcomes)
    n = len(outcomes)

    def percentile(key: str, q: float) -> float | None:
        values = [o[key] for o in outcomes if o.get(key) is not None]
        return round(float(np.percentile(values, q)), 1) if values else None

    return {
        "citation_valid": (round(sum(o["valid_citations"] for o in outcomes) / citations, 4)
                           if citations else None),
        "citations": citations,
        "removed_citations": sum(o["removed_citations"] for o in outcomes),
        "unsupported_sentences": sum(o["unsupported_sentences"] for o in outcomes),
        "fallbacks": round(sum(o["fallback"] for o in outcomes) / n, 4) if n else None,
        "context_overflows": sum(o["fallback_code"] == "llm_context_overflow"
                                 for o in outcomes),
        "first_text_p50_ms": percentile("first_text_ms", 50),
        "first_text_p95_ms": percentile("first_text_ms", 95),
        "held_back_p50_ms": percentile("held_back_ms", 50),
        "ask_p50_ms": percentile("millis", 50),
        "ask_p95_ms": percentile("millis", 95),
    }


class Journal:
    """Outcomes already scored, read from and appended to a JSON Lines file (see the
    module); without a path it keeps nothing."""

    def __init__(self, path: Path | None, mode: str, model: str) -> None:
        self._path = path
        self._scope = f"{mode}|{model}"
        self._done: dict[str, dict[str, Any]] = {}
        self._cut = False  # the file ends inside a line: the next record starts a new one
        if path is not None and path.exists():
            text = path.read_text("utf-8")
            self._cut = bool(text) and not text.endswith("\n")
            for line in text.splitlines():
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by the interruption: asked again
                if isinstance(record, dict) and isinstance(record.get("key"), str):
                    self._done[record["key"]] = record.get("outcome", {})

    def key(self, *parts: str) -> str:
        return "|".join((self._scope, *parts))

    def get(self, key: str) -> dict[str, Any] | None:
        return self._done.get(key)

    def add(self, key: str, outcome: dict[str, Any]) -> None:
        self._done[key] = outcome
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("a", encoding="utf-8") as out:
            line = json.dumps({"key": key, "outcome": outcome}, ensure_ascii=False) + "\n"
            out.write("\n" + line if self._cut else line)
            self._cut = False
            out.flush()
            os.fsync(out.fileno())

    @property
    def resumed(self) -> int:
        """Outcomes held for this mode and model."""
        return sum(key.startswith(self._scope + "|") for key in self._done)


def model_of(services: Services, mode: RequestedMode | None) -> str:
    """The LLM model an evaluation's answers come from ("" when extractive)."""
    chosen = mode or services.asker.default_mode
    return services.settings.llm_model if chosen == "llm" else ""


def journal_for(services: Services, mode: RequestedMode | None, path: Path | None = None
                ) -> Journal:
    """The journal of an evaluation asking in `mode` (the default mode when None) with the
    configured model; without a path, one that keeps nothing."""
    return Journal(path, mode or services.asker.default_mode, model_of(services, mode))
