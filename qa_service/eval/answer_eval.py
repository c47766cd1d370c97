"""`qa eval answers`: ask every question of SQuAD-style files and score the answers.

The knowledge base holds the first `articles` articles of each file (all when None).
Questions fall in three groups:
- answerable questions of ingested articles: `answer_hit` (the answer text contains a
  gold answer, compared as in retrieval; an abstention is a miss), `page_accuracy` (the
  first citation lies in the gold article on a page of the gold paragraph) and
  `abstained_answerable`;
- unanswerable questions of ingested articles (`is_impossible`, SQuAD v2):
  `abstained_unanswerable`;
- questions whose answer is not in the knowledge base: those of the articles left out,
  and every question of the `foreign` files: `out_of_kb_abstained`.
`citation_valid` checks every citation of every answer: its quote is exactly the cited
page's text at `char_start:char_end` of the cited document. Questions are asked as a
streaming client asks (`asking.ask_timed`), and with a journal an interrupted run resumes
where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from qa_service.answer.service import RequestedMode
from qa_service.eval.asking import Journal, ask_timed, journal_for, llm_facts, llm_figures, model_of
from qa_service.eval.datasets import (
    Dataset,
    Question,
    holds_answer,
    normalize_answer,
    sample_evenly,
)
from qa_service.eval.retrieval_eval import EvalCorpus
from qa_service.services import Services

__all__ = ["evaluate_answers"]


@dataclass(frozen=True)
class _Outcome:
    group: str  # "answerable", "unanswerable" or "out_of_kb"
    abstained: bool
    hit: bool
    short_hit: bool  # the short answer alone holds a gold answer
    short: bool  # a short answer was given
    page_ok: bool
    chars: int
    facts: dict[str, Any]  # `asking.llm_facts`: citations, fallbacks, timings


def _pages_of(corpus: EvalCorpus, doc_id: str, paragraph: str) -> set[int]:
    """The pages a paragraph occupies: from where it starts to where its end is found."""
    first = corpus.gold_page(doc_id, paragraph)
    if first is None:
        return set()
    tail = normalize_answer(paragraph)[-40:]
    pages = corpus.page_texts(doc_id)
    last = next((n for n in range(first, len(pages) + 1) if tail in pages[n - 1]), first)
    return set(range(first, last + 1))


def _ask(services: Services, corpus: EvalCorpus, dataset: Dataset, question: Question,
         group: str, mode: RequestedMode | None) -> _Outcome:
    asked = ask_timed(services, corpus.kb, question.text, mode)
    answer = asked.answer
    hit = page_ok = short_hit = False
    short = answer.short_answer.shown if answer.short_answer is not None else ""
    if group == "answerable" and not answer.abstained:
        hit = holds_answer(answer.answer, question.answers)
        short_hit = bool(short) and holds_answer(short, question.answers)
        doc_id = corpus.documents.get((dataset.name, question.article))
        if doc_id is not None and answer.citations:
            first = answer.citations[0]
            paragraph = dataset.articles[question.article].paragraphs[question.paragraph]
            page_ok = (first.document_id == doc_id
                       and first.page in _pages_of(corpus, doc_id, paragraph))
    return _Outcome(group, answer.abstained, hit, short_hit, bool(short), page_ok,
                    len(answer.answer), llm_facts(asked, corpus.kb))


def _summary(outcomes: Sequence[_Outcome]) -> dict[str, Any]:
    def share(group: str, pick: Callable[[_Outcome], bool]) -> float | None:
        members = [o for o in outcomes if o.group == group]
        return round(sum(pick(o) for o in members) / len(members), 4) if members else None

    answerable = [o for o in outcomes if o.group == "answerable"]
    answered = [o for o in outcomes if not o.abstained]
    report: dict[str, Any] = {
        "questions": len(outcomes),
        "answerable": len(answerable),
        "answer_hit": share("answerable", lambda o: o.hit),
        "short_answer_hit": share("answerable", lambda o: o.short_hit),
        "short_answer_given": share("answerable", lambda o: o.short),
        "answer_chars_mean": (round(float(np.mean([o.chars for o in answered])), 1)
                              if answered else None),
        "page_accuracy": share("answerable", lambda o: o.page_ok),
        "abstained_answerable": share("answerable", lambda o: o.abstained),
        **llm_figures([o.facts for o in outcomes]),
    }
    unanswerable = share("unanswerable", lambda o: o.abstained)
    if unanswerable is not None:
        report["unanswerable"] = sum(1 for o in outcomes if o.group == "unanswerable")
        report["abstained_unanswerable"] = unanswerable
    out_of_kb = share("out_of_kb", lambda o: o.abstained)
    if out_of_kb is not None:
        report["out_of_kb"] = sum(1 for o in outcomes if o.group == "out_of_kb")
        report["out_of_kb_abstained"] = out_of_kb
    return report


def _group(question: Question, ingested_articles: int) -> str:
    if question.article >= ingested_articles:
        return "out_of_kb"
    return "unanswerable" if question.impossible else "answerable"


def evaluate_answers(services: Services, corpus: EvalCorpus, datasets: Sequence[Dataset],
                     articles: int | None, questions_per_file: int | None,
                     foreign: Sequence[Dataset] = (), mode: RequestedMode | None = None,
                     progress: Callable[[int], None] | None = None,
                     journal: Journal | None = None) -> dict[str, Any]:
    """`datasets` are the whole files; their first `articles` articles are in `corpus`.
    Outcomes found in `journal` are not asked again; new ones are added to it."""
    journal = journal or journal_for(services, mode)
    resumed = journal.resumed
    per_file: dict[str, dict[str, Any]] = {}
    everything: list[_Outcome] = []
    plan = [(d, min(articles, len(d.articles)) if articles is not None else len(d.articles))
            for d in datasets] + [(d, 0) for d in foreign]
    for dataset, ingested in plan:
        outcomes = []
        for question in sample_evenly(dataset.questions, questions_per_file):
            group = _group(question, ingested)
            key = journal.key(dataset.name, group, question.id, question.text)
            if (done := journal.get(key)) is not None:
                outcomes.append(_Outcome(**done))
            else:
                outcome = _ask(services, corpus, dataset, question, group, mode)
                journal.add(key, asdict(outcome))
                outcomes.append(outcome)
            if progress is not None:
                progress(1)
        per_file[dataset.name] = _summary(outcomes)
        everything.extend(outcomes)
    report = _summary(everything)
    report["per_file"] = per_file
    report["documents"] = len(corpus.documents)
    report["ingest_failures"] = [o.to_json() for o in corpus.failures]
    report["config"] = {
        "embedding_model": services.embedder.name,
        "mode": mode or services.asker.default_mode,
        "llm_model": model_of(services, mode),
        "resumed": resumed,
        "answer": services.settings.answer.model_dump(),
        "retrieval": services.settings.retrieval.model_dump(),
    }
    return report
