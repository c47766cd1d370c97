"""`qa eval retrieval`: render SQuAD-style articles to PDFs, ingest them, score search.

A question is a hit at rank r when the passage at rank r contains one of its gold answers
(after `normalize_answer`) and comes from its own article's PDF. `page_hit@5`: some hit in
the top 5 lies on the page where the question's gold paragraph starts.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ingest.jobs import run_job
from ingest.uploads import queue_local_files
from qa_service.eval.datasets import Dataset, Question, normalize_answer, sample_evenly
from qa_service.eval.render import image_only, render_article
from qa_service.schemas import DocumentStatus, FileOutcome, Passage
from qa_service.services import Services
from qa_service.store.knowledge_base import KnowledgeBase

__all__ = ["EvalCorpus", "build_corpus", "evaluate_retrieval"]

KB_NAME = "eval"
_UNSAFE = re.compile(r"[^\w.-]+")


@dataclass
class EvalCorpus:
    kb: KnowledgeBase
    documents: dict[tuple[str, int], str] = field(default_factory=dict)  # (file, article) -> id
    ingest_seconds: dict[str, float] = field(default_factory=dict)
    pages: dict[str, int] = field(default_factory=dict)
    ocr_pages: dict[str, int] = field(default_factory=dict)
    failures: list[FileOutcome] = field(default_factory=list)
    _page_texts: dict[str, list[str]] = field(default_factory=dict)

    def page_texts(self, doc_id: str) -> list[str]:
        if doc_id not in self._page_texts:
            info = self.kb.document(doc_id)
            count = info.pages if info else 0
            self._page_texts[doc_id] = [
                normalize_answer(self.kb.page_text(doc_id, n) or "")
                for n in range(1, count + 1)
            ]
        return self._page_texts[doc_id]

    def gold_page(self, doc_id: str, paragraph: str) -> int | None:
        """The page where `paragraph` starts, found by its opening words in the page text."""
        pages = self.page_texts(doc_id)
        target = normalize_answer(paragraph)
        for length in (80, 40, 20):
            prefix = target[:length]
            found = [n for n, text in enumerate(pages, start=1) if prefix in text]
            if len(found) == 1 or (found and length == 20):
                return found[0]
        return None


def build_corpus(services: Services, datasets: Sequence[Dataset], work: Path,
                 progress: Callable[[str], None] | None = None,
                 scanned_dpi: float | None = None) -> EvalCorpus:
    """Render every article to a PDF and ingest each file's PDFs as one job; with
    `scanned_dpi`, each PDF is first turned into page images at that resolution with no
    text layer (`render.image_only`), as a scanner would give it back."""
    say = progress or (lambda _message: None)
    if KB_NAME in services.registry.names():
        services.registry.delete(KB_NAME)
    corpus = EvalCorpus(kb=services.create_kb(KB_NAME))
    for dataset in datasets:
        folder = work / "pdfs" / _UNSAFE.sub("_", dataset.name)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for index, article in enumerate(dataset.articles):
            path = folder / f"{index:03d}-{_UNSAFE.sub('_', article.title)[:60]}.pdf"
            render_article(path, article.title, article.paragraphs)
            if scanned_dpi is not None:
                image_only(path, scanned_dpi)
            paths.append(path)
        say(f"{dataset.name}: rendered {len(paths)} PDFs"
            + (f" as scans at {scanned_dpi:g} dpi" if scanned_dpi is not None else "")
            + "; ingesting")
        started = time.perf_counter()
        job = run_job(services.pipeline, corpus.kb, queue_local_files(corpus.kb, paths))
        corpus.ingest_seconds[dataset.name] = time.perf_counter() - started
        services.after_ingest(corpus.kb)  # the approximate index, when due
        outcomes = job.files if job else []
        corpus.pages[dataset.name] = sum(o.pages for o in outcomes)
        corpus.ocr_pages[dataset.name] = sum(o.ocr_pages for o in outcomes)
        for index, outcome in enumerate(outcomes):
            if outcome.status in (DocumentStatus.INDEXED, DocumentStatus.UNCHANGED):
                assert outcome.document_id is not None
                corpus.documents[(dataset.name, index)] = outcome.document_id
            else:
                corpus.failures.append(outcome)
    return corpus


@dataclass(frozen=True)
class _Scored:
    first_hit: int | None  # 1-based rank of the first hit within the top 10
    page_hit: bool
    millis: float


def _score(corpus: EvalCorpus, dataset: Dataset, question: Question,
           passages: list[Passage], millis: float) -> _Scored:
    doc_id = corpus.documents.get((dataset.name, question.article))
    answers = [normalize_answer(a) for a in question.answers]
    gold_page = (corpus.gold_page(doc_id, dataset.articles[question.article]
                                  .paragraphs[question.paragraph]) if doc_id else None)
    first_hit, page_hit = None, False
    for rank, passage in enumerate(passages, start=1):
        text = normalize_answer(passage.text)
        if passage.document_id != doc_id or not any(a in text for a in answers):
            continue
        first_hit = first_hit or rank
        page_hit = page_hit or (rank <= 5 and passage.page == gold_page)
    return _Scored(first_hit, page_hit, millis)


def _summary(scored: Sequence[_Scored], pages: int, seconds: float) -> dict[str, Any]:
    n = len(scored)
    ranks = [s.first_hit for s in scored]
    millis = np.asarray([s.millis for s in scored]) if scored else np.zeros(1)

    def recall(k: int) -> float:
        return round(sum(1 for r in ranks if r is not None and r <= k) / max(n, 1), 4)

    return {
        "questions": n,
        "recall@1": recall(1),
        "recall@5": recall(5),
        "recall@10": recall(10),
        "mrr@10": round(sum(1 / r for r in ranks if r is not None) / max(n, 1), 4),
        "page_hit@5": round(sum(s.page_hit for s in scored) / max(n, 1), 4),
        "pages": pages,
        "ingest_pages_per_s": round(pages / seconds, 2) if seconds > 0 else 0.0,
        "search_p50_ms": round(float(np.percentile(millis, 50)), 1),
        "search_p95_ms": round(float(np.percentile(millis, 95)), 1),
    }


def evaluate_retrieval(services: Services, corpus: EvalCorpus, datasets: Sequence[Dataset],
                       questions_per_file: int | None,
                       progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    per_file: dict[str, dict[str, Any]] = {}
    everything: list[_Scored] = []
    for dataset in datasets:
        answerable = tuple(q for q in dataset.questions if not q.impossible)
        scored = []
        for question in sample_evenly(answerable, questions_per_file):
            started = time.perf_counter()
            passages = services.retriever.search(corpus.kb, question.text, 10)
            millis = (time.perf_counter() - started) * 1000
            scored.append(_score(corpus, dataset, question, passages, millis))
            if progress is not None:
                progress(1)
        per_file[dataset.name] = _summary(scored, corpus.pages.get(dataset.name, 0),
                                          corpus.ingest_seconds.get(dataset.name, 0.0))
        per_file[dataset.name]["ocr_pages"] = corpus.ocr_pages.get(dataset.name, 0)
        everything.extend(scored)
    report = _summary(everything, sum(corpus.pages.values()), sum(corpus.ingest_seconds.values()))
    report["ocr_pages"] = sum(corpus.ocr_pages.values())
    report["per_file"] = per_file
    report["documents"] = len(corpus.documents)
    report["ingest_failures"] = [o.to_json() for o in corpus.failures]
    report["config"] = {
        "embedding_model": services.embedder.name,
        "chunking": services.settings.chunking.model_dump(),
        "retrieval": services.settings.retrieval.model_dump(),
    }
    return report
