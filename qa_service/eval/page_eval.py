"""`qa eval pages`: real PDFs into one knowledge base, then does search find the right page?

Questions come in FinanceBench's format (JSON Lines): `doc_name` (the PDF's path under the
folder, without `.pdf`), `question`, `evidence[].evidence_page_num` (0-based), and, in our
own set (`evalsets/team-real.jsonl`), `lang`, `kind`, `answerable` and `also[]` (the same
evidence in a near-duplicate file). A question's page hit at rank r: the passage at rank r
lies on one of its evidence pages of its document (or of an `also` document).

With `neutral_names`, the PDFs are ingested as `doc_01.pdf`, `doc_02.pdf`, ... so that a
gain that comes from file names (company, year) is told apart from one that comes from
the documents' content.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ingest.jobs import run_job
from ingest.uploads import queue_local_files
from qa_service.answer.models import Answer
from qa_service.answer.service import RequestedMode
from qa_service.errors import InvalidRequest
from qa_service.eval.asking import (
    Asked,
    Journal,
    ask_timed,
    journal_for,
    llm_facts,
    llm_figures,
    model_of,
)
from qa_service.schemas import DocumentStatus, FileOutcome, Passage
from qa_service.sentences import split_sentences
from qa_service.services import Services
from qa_service.store.knowledge_base import KnowledgeBase

__all__ = ["PageCorpus", "PageQuestion", "ScoredQuestion", "contains_gold",
           "evaluate_page_answers", "evaluate_pages", "half_of", "ingest_folder",
           "load_page_questions", "normalize_gold", "page_summary", "score_question"]

KB_NAME = "eval-pages"
HALVES = ("tune", "check")


def half_of(question: str) -> str:
    """The fixed split of a question set: `tune` when the SHA-256 of the question's text is
    even as an integer, else `check`."""
    return HALVES[int(hashlib.sha256(question.encode("utf-8")).hexdigest(), 16) % 2]


@dataclass(frozen=True)
class PageQuestion:
    question: str
    doc_name: str
    evidence: frozenset[tuple[str, int]]  # (doc_name, 1-based page), `also` included
    lang: str = ""
    kind: str = ""
    answerable: bool = True
    gold: tuple[str, ...] = ()  # short answers as printed on the page

    @property
    def half(self) -> str:
        return half_of(self.question)

    @property
    def documents(self) -> frozenset[str]:
        return frozenset(name for name, _page in self.evidence)


def load_page_questions(path: Path) -> list[PageQuestion]:
    questions = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(_question(row))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidRequest(f"{path.name} line {number}: not a question ({exc})") from exc
    return questions


def _question(row: dict[str, Any]) -> PageQuestion:
    name = str(row.get("doc_name") or "")
    pages = {(name, int(e["evidence_page_num"]) + 1) for e in row.get("evidence") or []}
    pages |= {(str(a["doc_name"]), int(a["evidence_page_num"]) + 1) for a in row.get("also") or []}
    answerable = bool(row.get("answerable", True)) and bool(pages)
    return PageQuestion(str(row["question"]), name, frozenset(pages), str(row.get("lang", "")),
                        str(row.get("kind", "")), answerable,
                        tuple(str(g) for g in row.get("gold") or ()))


@dataclass
class PageCorpus:
    kb: KnowledgeBase
    documents: dict[str, str] = field(default_factory=dict)  # doc_name -> document id
    pages: int = 0
    seconds: float = 0.0
    failures: list[FileOutcome] = field(default_factory=list)


def ingest_folder(services: Services, folder: Path, work: Path, neutral_names: bool = False,
                  progress: Callable[[str], None] | None = None, reuse: bool = False
                  ) -> PageCorpus:
    """Every PDF under `folder` into one fresh knowledge base, as one job; with `reuse`,
    into the one a kept data directory already holds (the PDFs it indexed are `unchanged`
    and not read again)."""
    say = progress or (lambda _message: None)
    sources = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".pdf" and p.is_file())
    if not sources:
        raise InvalidRequest(f"no PDF files under {folder}")
    names = [p.relative_to(folder).with_suffix("").as_posix() for p in sources]
    paths = _neutral_links(sources, work) if neutral_names else sources
    exists = KB_NAME in services.registry.names()
    if exists and not reuse:
        services.registry.delete(KB_NAME)
    kb = services.open_kb(KB_NAME) if exists and reuse else services.create_kb(KB_NAME)
    corpus = PageCorpus(kb=kb)
    say(f"{folder}: ingesting {len(paths)} PDFs" + (" under neutral names" if neutral_names
                                                     else ""))
    started = time.perf_counter()
    job = run_job(services.pipeline, corpus.kb, queue_local_files(corpus.kb, paths))
    corpus.seconds = time.perf_counter() - started
    services.after_ingest(corpus.kb)  # the approximate index, when due
    for name, outcome in zip(names, job.files if job else [], strict=False):
        corpus.pages += outcome.pages if outcome.status is DocumentStatus.INDEXED else 0
        if outcome.status in (DocumentStatus.INDEXED, DocumentStatus.UNCHANGED) and \
                outcome.document_id is not None:
            corpus.documents[name] = outcome.document_id
        else:
            corpus.failures.append(outcome)
    return corpus


def _neutral_links(sources: Sequence[Path], work: Path) -> list[Path]:
    folder = work / "neutral"
    folder.mkdir(parents=True, exist_ok=True)
    links = []
    for number, source in enumerate(sources, start=1):
        link = folder / f"doc_{number:02d}.pdf"
        link.symlink_to(source.resolve())
        links.append(link)
    return links


@dataclass(frozen=True)
class ScoredQuestion:
    question: PageQuestion
    first_page_hit: int | None  # 1-based rank of the first passage on an evidence page
    doc_hit_at_5: bool
    millis: float
    top: tuple[tuple[str, int], ...]  # (filename, page) of the first passages, for misses


def score_question(corpus: PageCorpus, question: PageQuestion, passages: Sequence[Passage],
                   millis: float) -> ScoredQuestion:
    gold_pages = {(corpus.documents.get(name), page) for name, page in question.evidence}
    gold_docs = {corpus.documents.get(name) for name in question.documents}
    first = next((rank for rank, p in enumerate(passages, start=1)
                  if (p.document_id, p.page) in gold_pages), None)
    doc_hit = any(p.document_id in gold_docs for p in passages[:5])
    return ScoredQuestion(question, first, doc_hit, millis,
                   tuple((p.filename, p.page) for p in passages[:3]))


def page_summary(scored: Sequence[ScoredQuestion]) -> dict[str, Any]:
    n = max(len(scored), 1)
    ranks = [s.first_page_hit for s in scored]

    def hit(k: int) -> float:
        return round(sum(1 for r in ranks if r is not None and r <= k) / n, 4)

    return {"questions": len(scored), "page_hit@1": hit(1), "page_hit@5": hit(5),
            "page_hit@10": hit(10), "doc_hit@5": round(sum(s.doc_hit_at_5 for s in scored) / n, 4),
            "mrr@10": round(sum(1 / r for r in ranks if r is not None and r <= 10) / n, 4)}


def _groups(scored: Sequence[Any],
            summary: Callable[[Sequence[Any]], dict[str, Any]] | None = None
            ) -> dict[str, dict[str, Any]]:
    """`summary` (the search summary by default) per language, kind and half of the items'
    `question`, where the questions say them, and per language within each half (a set is
    judged on the half it was not tuned on)."""
    summarize = summary or page_summary
    keys: dict[str, Callable[[PageQuestion], str]] = {
        "lang": lambda q: q.lang, "kind": lambda q: q.kind, "half": lambda q: q.half}
    groups: dict[str, dict[str, Any]] = {}
    for label, key in keys.items():
        values = sorted({key(s.question) for s in scored} - {""})
        if len(values) > 1 or label == "half":
            for value in values:
                groups[f"{label}={value}"] = summarize([s for s in scored
                                                        if key(s.question) == value])
    languages = sorted({s.question.lang for s in scored} - {""})
    for half in HALVES:
        for lang in languages if len(languages) > 1 else []:
            chosen = [s for s in scored if s.question.half == half and s.question.lang == lang]
            if chosen:
                groups[f"half={half},lang={lang}"] = summarize(chosen)
    return groups


def evaluate_pages(services: Services, corpus: PageCorpus, questions: Iterable[PageQuestion],
                   k: int = 10, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    asked = list(questions)
    answerable = [q for q in asked if q.answerable]
    unknown = sorted({name for q in answerable for name in q.documents} - set(corpus.documents))
    scored = []
    for question in answerable:
        started = time.perf_counter()
        passages = services.retriever.search(corpus.kb, question.question, k)
        took = (time.perf_counter() - started) * 1000
        scored.append(score_question(corpus, question, passages, took))
        if progress is not None:
            progress(1)
    millis = np.asarray([s.millis for s in scored] or [0.0])
    return {
        **page_summary(scored),
        "groups": _groups(scored),
        "unanswerable_questions": len(asked) - len(answerable),
        "k": k,
        "documents": len(set(corpus.documents.values())),
        "pages": corpus.pages,
        "ingest_s": round(corpus.seconds, 1),
        "ingest_pages_per_s": round(corpus.pages / corpus.seconds, 2) if corpus.seconds else 0.0,
        "search_p50_ms": round(float(np.percentile(millis, 50)), 1),
        "search_p95_ms": round(float(np.percentile(millis, 95)), 1),
        "documents_not_indexed": [o.to_json() for o in corpus.failures],
        "questions_about_missing_documents": unknown,
        "misses": [{"question": s.question.question, "doc_name": s.question.doc_name,
                    "evidence_pages": sorted(p for _n, p in s.question.evidence),
                    "first_page_hit": s.first_page_hit, "top3": s.top}
                   for s in scored if s.first_page_hit is None or s.first_page_hit > 5],
        "config": {"embedding_model": services.embedder.name,
                   "chunking": services.settings.chunking.model_dump(),
                   "retrieval": services.settings.retrieval.model_dump()},
    }


# --- answers ----------------------------------------------------------------------------

_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d)")
_SPACE = re.compile(r"\s+")


def normalize_gold(text: str) -> str:
    """NFKC, lowercase, no whitespace, no thousands separators: "52,187,866 백만원" and
    "52187866백만원" compare equal."""
    return _DIGIT_COMMA.sub("", _SPACE.sub("", unicodedata.normalize("NFKC", text).casefold()))


def contains_gold(text: str, gold: Sequence[str]) -> bool:
    normalized = normalize_gold(text)
    return any(g.strip() and normalize_gold(g) in normalized for g in gold)


@dataclass(frozen=True)
class _Answered:
    question: PageQuestion
    abstained: bool
    hit: bool  # a gold answer in the short answer (as shown) or the answer's first sentence
    short_hit: bool  # ... in the short answer alone
    has_short: bool
    cited_evidence: bool  # the first citation lies on an evidence page
    answerability: float | None
    head: str  # the answer's start, for the misses
    facts: dict[str, Any]  # `asking.llm_facts`: citations, fallbacks, timings


def _first_sentence(answer: Answer) -> str:
    """The first sentence of the answer's first quote as the answer shows it (of the text
    when nothing is cited): what follows the short answer."""
    text = answer.answer
    if answer.citations:
        first = min(answer.citations, key=lambda c: c.answer_start)
        text = text[first.answer_start:first.answer_end]
    spans = split_sentences(text)
    return text[spans[0][0]:spans[0][1]] if spans else text


def _answered(corpus: PageCorpus, question: PageQuestion, asked: Asked) -> _Answered:
    answer = asked.answer
    gold_pages = {(corpus.documents.get(name), page) for name, page in question.evidence}
    short = answer.short_answer.shown if answer.short_answer is not None else ""
    first = answer.citations[0] if answer.citations else None
    hit = not answer.abstained and bool(question.gold) and (
        contains_gold(short, question.gold) or contains_gold(_first_sentence(answer),
                                                             question.gold))
    return _Answered(
        question=question, abstained=answer.abstained, hit=hit,
        short_hit=not answer.abstained and contains_gold(short, question.gold),
        has_short=bool(short), cited_evidence=first is not None and (
            first.document_id, first.page) in gold_pages,
        answerability=answer.answerability, head=answer.answer[:160],
        facts=llm_facts(asked, corpus.kb))


def _answer_summary(answered: Sequence[_Answered]) -> dict[str, Any]:
    answerable = [a for a in answered if a.question.answerable]
    with_gold = [a for a in answerable if a.question.gold]
    unanswerable = [a for a in answered if not a.question.answerable]

    def share(items: Sequence[_Answered], test: Callable[[_Answered], bool]) -> float | None:
        return round(sum(1 for a in items if test(a)) / len(items), 4) if items else None

    return {
        "questions": len(answered), "answerable": len(answerable),
        "with_gold": len(with_gold), "unanswerable": len(unanswerable),
        "answer_hit": share(with_gold, lambda a: a.hit),
        "short_answer_hit": share(with_gold, lambda a: a.short_hit),
        "short_answer_given": share(answerable, lambda a: a.has_short),
        "short_answer_precision": share([a for a in with_gold if a.has_short],
                                        lambda a: a.short_hit),
        "false_refusals": share(answerable, lambda a: a.abstained),
        "first_citation_on_evidence": share(answerable, lambda a: a.cited_evidence),
        "unanswerable_declined": share(unanswerable, lambda a: a.abstained),
        **llm_figures([a.facts for a in answered]),
    }


def evaluate_page_answers(services: Services, corpus: PageCorpus,
                          questions: Iterable[PageQuestion], mode: RequestedMode | None = None,
                          progress: Callable[[int], None] | None = None,
                          journal: Journal | None = None) -> dict[str, Any]:
    """Ask every question (answerable or not): does the short answer or the answer's first
    sentence hold a gold answer (`normalize_gold`), is the first citation on an evidence
    page, are answerable questions declined (false refusals) and unanswerable ones
    declined? Outcomes found in `journal` are not asked again; new ones are added to it."""
    journal = journal or journal_for(services, mode)
    resumed = journal.resumed
    answered = []
    for question in questions:
        key = journal.key(question.doc_name, question.question)
        if (done := journal.get(key)) is not None:
            answered.append(_Answered(question=question, **done))
        else:
            outcome = _answered(corpus, question, ask_timed(services, corpus.kb,
                                                            question.question, mode))
            journal.add(key, {f.name: getattr(outcome, f.name) for f in fields(outcome)
                              if f.name != "question"})
            answered.append(outcome)
        if progress is not None:
            progress(1)
    return {
        **_answer_summary(answered),
        "groups": _groups(answered, _answer_summary),
        "mode": mode or services.asker.default_mode,
        "llm_model": model_of(services, mode),
        "resumed": resumed,
        "misses": [{"question": a.question.question, "gold": list(a.question.gold),
                    "abstained": a.abstained, "answerability": a.answerability,
                    "answer": a.head}
                   for a in answered if (a.question.answerable and a.question.gold
                                         and not a.hit)
                   or (not a.question.answerable and not a.abstained)],
    }
