"""`qa eval conversations`: does a follow-up question, made standalone, find its page?

A set (`evalsets/conversations.jsonl`, JSON Lines) holds two-turn conversations over real
PDFs: `id`, `lang`, `file` (its path under the PDF folder), and `turns`, each with its
`question`, gold `pages` (1-based) and a short gold `answer`. The second question cannot be
answered alone: it takes its subject, name or document from the first.

The PDFs the set names (and only those) are linked into one folder and ingested into one
knowledge base (`page_eval.ingest_folder`); every question is searched and scored as `qa
eval pages` scores it (`page_eval`: a page hit at rank r is a passage at rank r on a gold
page of the item's file). Four ways of asking:

- `turn1`: the first question, alone;
- `turn2_alone`: the follow-up as if there were no conversation (the floor);
- `turn2_rules`: the follow-up made standalone by the `RuleCondenser`;
- `turn2_llm`: ... by the `LLMCondenser`, when an LLM is configured (QA_LLM_BASE_URL).

A condenser reads the first question and, as the assistant's reply, its gold answer (what a
right answer says). `ratio` is a condensed follow-up's page_hit@5 over the first turn's:
the target is `TARGET_RATIO`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa_service.answer.conversation import Condensed, Condenser, LLMCondenser, Turn
from qa_service.errors import InvalidRequest
from qa_service.eval.page_eval import (
    PageCorpus,
    PageQuestion,
    ScoredQuestion,
    page_summary,
    score_question,
)
from qa_service.services import Services

__all__ = ["TARGET_RATIO", "Conversation", "ConversationTurn", "evaluate_conversations",
           "link_files", "load_conversations"]

TARGET_RATIO = 0.85
LANGUAGES = ("ko", "en")


@dataclass(frozen=True)
class ConversationTurn:
    question: str
    pages: tuple[int, ...]
    answer: str = ""


@dataclass(frozen=True)
class Conversation:
    id: str
    lang: str
    file: str  # under the PDF folder, with .pdf
    turns: tuple[ConversationTurn, ConversationTurn]

    @property
    def doc_name(self) -> str:
        """The file as `page_eval` names documents: its path without `.pdf`."""
        return self.file[:-4] if self.file.lower().endswith(".pdf") else self.file

    def history(self) -> list[Turn]:
        first = self.turns[0]
        return [Turn("user", first.question)] + (
            [Turn("assistant", first.answer)] if first.answer else [])

    def asking(self, question: str, turn: int) -> PageQuestion:
        """`question` scored against the gold pages of turn `turn` (0 or 1)."""
        pages = frozenset((self.doc_name, page) for page in self.turns[turn].pages)
        return PageQuestion(question, self.doc_name, pages, self.lang)


def load_conversations(path: Path) -> list[Conversation]:
    items = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(_conversation(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidRequest(f"{path.name} line {number}: not a conversation ({exc})"
                                 ) from exc
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise InvalidRequest(f"{path.name}: ids are not unique")
    return items


def _conversation(row: dict[str, Any]) -> Conversation:
    turns = tuple(_turn(t) for t in row["turns"])
    if len(turns) != 2:
        raise ValueError(f"{len(turns)} turns, not 2")
    lang = str(row["lang"])
    if lang not in LANGUAGES:
        raise ValueError(f"lang {lang!r} is not one of {', '.join(LANGUAGES)}")
    file = str(row["file"])
    if not file.lower().endswith(".pdf") or Path(file).is_absolute() or ".." in Path(file).parts:
        raise ValueError(f"file {file!r} is not a relative path to a PDF")
    return Conversation(str(row["id"]), lang, file, (turns[0], turns[1]))


def _turn(row: dict[str, Any]) -> ConversationTurn:
    pages = tuple(int(p) for p in row["pages"])
    question = str(row["question"]).strip()
    if not question or not pages or min(pages) < 1:
        raise ValueError("a turn needs a question and 1-based pages")
    return ConversationTurn(question, pages, str(row.get("answer", "")))


def link_files(folder: Path, conversations: Sequence[Conversation], work: Path) -> Path:
    """A folder under `work` that holds (as links) the PDFs the set names, at their paths
    under `folder`: what `ingest_folder` then ingests."""
    linked = work / "conversation-pdfs"
    for file in sorted({c.file for c in conversations}):
        source = folder / file
        if not source.is_file():
            raise InvalidRequest(f"{file}: no such PDF under {folder}")
        link = linked / file
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(source.resolve())
    return linked


@dataclass(frozen=True)
class _Variant:
    name: str
    questions: list[PageQuestion]
    scored: list[ScoredQuestion]


def evaluate_conversations(services: Services, corpus: PageCorpus,
                           conversations: Sequence[Conversation],
                           condensers: Mapping[str, Condenser], k: int = 10,
                           progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Page hits of every way of asking (`turn1`, `turn2_alone`, `turn2_<condenser>`),
    overall and per language, the condensed follow-ups' ratio to the first turn, and
    each item's questions and ranks."""
    asked = {"turn1": [c.asking(c.turns[0].question, 0) for c in conversations],
             "turn2_alone": [c.asking(c.turns[1].question, 1) for c in conversations]}
    fallbacks: dict[str, int] = {}
    seconds: dict[str, float] = {}
    for name, condenser in condensers.items():
        started = time.perf_counter()
        made = [_condensed(condenser, c) for c in conversations]
        seconds[name] = round(time.perf_counter() - started, 1)
        fallbacks[name] = sum(1 for m in made if m.source == "rules" and m.reason)
        asked[f"turn2_{name}"] = [c.asking(m.question, 1)
                                  for c, m in zip(conversations, made, strict=True)]
    variants = [_Variant(name, questions, _searched(services, corpus, questions, k, progress))
                for name, questions in asked.items()]
    figures = {v.name: _figures(v.scored) for v in variants}
    return {
        "conversations": len(conversations),
        "k": k,
        "target_ratio": TARGET_RATIO,
        "variants": figures,
        "ratios": _ratios(figures, list(condensers)),
        "condense_s": seconds,
        "llm_fallbacks": fallbacks,
        "documents": len(set(corpus.documents.values())),
        "documents_not_indexed": [o.to_json() for o in corpus.failures],
        "items": _items(conversations, variants),
        "config": {"embedding_model": services.embedder.name,
                   "retrieval": services.settings.retrieval.model_dump()},
    }


def _condensed(condenser: Condenser, conversation: Conversation) -> Condensed:
    question = conversation.turns[1].question
    if isinstance(condenser, LLMCondenser):
        return condenser.condense_traced(conversation.history(), question)
    made = condenser.condense(conversation.history(), question)
    return Condensed(made, "unchanged" if made == question else "rules")


def _searched(services: Services, corpus: PageCorpus, questions: Sequence[PageQuestion],
              k: int, progress: Callable[[int], None] | None) -> list[ScoredQuestion]:
    scored = []
    for question in questions:
        started = time.perf_counter()
        passages = services.retriever.search(corpus.kb, question.question, k)
        scored.append(score_question(corpus, question, passages,
                             (time.perf_counter() - started) * 1000))
        if progress is not None:
            progress(1)
    return scored


def _figures(scored: Sequence[ScoredQuestion]) -> dict[str, Any]:
    figures = page_summary(scored)
    for lang in LANGUAGES:
        chosen = [s for s in scored if s.question.lang == lang]
        if chosen:
            figures[f"lang={lang}"] = page_summary(chosen)
    return figures


def _ratios(figures: Mapping[str, dict[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """page_hit@5 of each condensed follow-up over the first turn's, overall and per
    language, and whether it meets the target."""
    first = figures["turn1"]
    ratios: dict[str, Any] = {}
    for name in ["alone", *names]:
        mine = figures[f"turn2_{name}"]
        row = {"all": _ratio(mine["page_hit@5"], first["page_hit@5"])}
        for lang in LANGUAGES:
            if f"lang={lang}" in mine:
                row[f"lang={lang}"] = _ratio(mine[f"lang={lang}"]["page_hit@5"],
                                             first[f"lang={lang}"]["page_hit@5"])
        row["meets_target"] = row["all"] is not None and row["all"] >= TARGET_RATIO
        ratios[f"turn2_{name}"] = row
    return ratios


def _ratio(mine: float, first: float) -> float | None:
    return round(mine / first, 4) if first else None


def _items(conversations: Sequence[Conversation], variants: Sequence[_Variant]
           ) -> list[dict[str, Any]]:
    """Each conversation's questions as asked and where each way found its first gold
    page (null: not in the top k)."""
    items = []
    for index, conversation in enumerate(conversations):
        item: dict[str, Any] = {"id": conversation.id, "lang": conversation.lang,
                                "file": conversation.file}
        for variant in variants:
            scored = variant.scored[index]
            item[variant.name] = {"question": scored.question.question,
                                  "first_page_hit": scored.first_page_hit}
        items.append(item)
    return items
