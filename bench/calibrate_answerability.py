"""Fit the answerability model (`qa_service/answer/answerability.py`) and show the trade-off
of its threshold. Run with `make calibrate` (about 15 minutes the first time: it ingests
the evaluation sets into knowledge bases kept under `--data`, then only asks).

Questions and their label (1: the documents answer it, 0: they do not):
- `wiki-en` / `wiki-ko`: the first half of the SQuAD v1.1 / KorQuAD v1.0 dev articles in a
  knowledge base; their questions are 1, those of the other half and of the other
  language's file are 0;
- `real`: every PDF of `../shared/data/pdfs` in one knowledge base; `team-real.jsonl`
  (answerable 1, the rest 0), `team-cross.jsonl` (1), `team-none.jsonl` (0);
- `financebench`: FinanceBench dev's filings; every question is 1.
The model is fitted on the `tune` half of the real-document questions (the fixed split of
`qa_service.eval.page_eval.half_of`) and on even-numbered SQuAD/KorQuAD questions; the
curve is reported on both halves, so the `check` half and the odd-numbered questions show
what it does on questions it was not fitted on.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from qa_service.answer.answerability import (
    FEATURE_NAMES,
    AnswerabilityFeatures,
    AnswerabilityModel,
    fit_model,
)
from qa_service.answer.extractive import ExtractiveAnswerer
from qa_service.cli_support import open_services
from qa_service.config import Settings
from qa_service.eval.datasets import Dataset, load_dataset, sample_evenly
from qa_service.eval.page_eval import KB_NAME as PAGES_KB
from qa_service.eval.page_eval import PageQuestion, half_of, ingest_folder, load_page_questions
from qa_service.eval.retrieval_eval import KB_NAME as WIKI_KB
from qa_service.eval.retrieval_eval import build_corpus
from qa_service.services import Services
from qa_service.store.knowledge_base import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]
WIKI_WEIGHT = 3.0
THRESHOLDS = [round(0.2 + 0.05 * i, 2) for i in range(13)]


@dataclass(frozen=True)
class Row:
    source: str  # wiki-en, wiki-ko, real, financebench
    group: str  # what the curve reports it under
    label: int
    half: str  # tune (fitted on) or check
    features: AnswerabilityFeatures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--data", type=Path, default=ROOT / ".eval" / "calibrate")
    parser.add_argument("--per-group", type=int, default=300,
                        help="SQuAD/KorQuAD questions per group (answerable, other half, "
                             "other language)")
    parser.add_argument("--out", type=Path, default=ROOT / ".eval" / "calibrate.json")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = list(_wiki_rows(args, "squad-v1.1.dev.json", "korquad-v1.0.dev.json", "wiki-en"))
    rows += _wiki_rows(args, "korquad-v1.0.dev.json", "squad-v1.1.dev.json", "wiki-ko")
    rows += _real_rows(args)
    rows += _financebench_rows(args)
    fitted = [r for r in rows if r.half == "tune"]
    weights = _balanced_weights(fitted)
    model = fit_model([r.features.vector() for r in fitted], [r.label for r in fitted], weights)
    curve = _curve(model, rows)
    report = {"model": {"weights": dict(zip(FEATURE_NAMES, model.weights, strict=True)),
                        "intercept": model.intercept},
              "questions": {g: sum(1 for r in rows if r.group == g)
                            for g in sorted({r.group for r in rows})},
              "curve": curve, "seconds": round(time.perf_counter() - started, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    print(f"AnswerabilityModel(weights={model.weights}, intercept={model.intercept})")
    _print_curve(curve)


def _answerer(services: Services) -> ExtractiveAnswerer:
    return ExtractiveAnswerer(services.lexical.tokenizer, services.settings.answer)


def _features(services: Services, answerer: ExtractiveAnswerer, kb: KnowledgeBase,
              question: str) -> AnswerabilityFeatures:
    evidence = services.retriever.evidence(kb, question, services.settings.answer.k)
    return answerer.features(evidence)


def _settings(data: Path) -> Settings:
    return Settings().model_copy(update={"data_dir": data})


def _wiki_rows(args: argparse.Namespace, own: str, foreign: str, source: str) -> Iterator[Row]:
    dataset = load_dataset(args.shared / "qa" / own)
    other = load_dataset(args.shared / "qa" / foreign)
    half = len(dataset.articles) // 2
    with open_services(_settings(args.data / source)) as services:
        kb = _wiki_kb(services, dataset.limited(half), args.data / f"{source}-work")
        answerer = _answerer(services)
        answerable = [q for q in dataset.questions if q.article < half and not q.impossible]
        left_out = [q for q in dataset.questions if q.article >= half]
        groups = [(f"{source} answerable", 1, answerable), (f"{source} other half", 0, left_out),
                  (f"{source} other language", 0, list(other.questions))]
        for group, label, questions in groups:
            for number, question in enumerate(sample_evenly(tuple(questions), args.per_group)):
                yield Row(source, group, label, "tune" if number % 2 == 0 else "check",
                          _features(services, answerer, kb, question.text))


def _kept_kb(services: Services, name: str, work: Path,
             build: Callable[[Path], KnowledgeBase]) -> KnowledgeBase:
    """The knowledge base `name` kept from an earlier run, else `build(work)`'s."""
    if name in services.registry.names():
        return services.registry.open(name)
    work.mkdir(parents=True, exist_ok=True)
    return build(work)


def _wiki_kb(services: Services, dataset: Dataset, work: Path) -> KnowledgeBase:
    return _kept_kb(services, WIKI_KB, work,
                    lambda at: build_corpus(services, [dataset], at, print).kb)


def _pages_kb(services: Services, folder: Path, work: Path) -> KnowledgeBase:
    return _kept_kb(services, PAGES_KB, work,
                    lambda at: ingest_folder(services, folder, at, False, print).kb)


def _real_rows(args: argparse.Namespace) -> Iterator[Row]:
    sets = {name: load_page_questions(ROOT / "evalsets" / f"{name}.jsonl")
            for name in ("team-real", "team-cross", "team-none")}
    with open_services(_settings(args.data / "real")) as services:
        kb = _pages_kb(services, args.shared / "pdfs", args.data / "real-work")
        answerer = _answerer(services)
        for name, questions in sets.items():
            for question in questions:
                yield _page_row(services, answerer, kb, "real", name, question)


def _financebench_rows(args: argparse.Namespace) -> Iterator[Row]:
    folder = args.shared / "real" / "financebench-dev"
    questions = load_page_questions(folder / "questions.jsonl")
    with open_services(_settings(args.data / "financebench")) as services:
        kb = _pages_kb(services, folder / "pdfs", args.data / "financebench-work")
        answerer = _answerer(services)
        for question in questions:
            yield _page_row(services, answerer, kb, "financebench", "financebench", question)


def _page_row(services: Services, answerer: ExtractiveAnswerer, kb: KnowledgeBase,
              source: str, name: str, question: PageQuestion) -> Row:
    label = int(question.answerable)
    group = f"{name} {'answerable' if label else 'unanswerable'}"
    return Row(source, group, label, half_of(question.question),
               _features(services, answerer, kb, question.question))


def _balanced_weights(rows: list[Row]) -> list[float]:
    """Within Wikipedia and within real documents, the answerable and the unanswerable
    questions weigh the same; Wikipedia weighs `WIKI_WEIGHT` times the real documents, as
    its figures (SQuAD/KorQuAD false abstentions, out-of-KB declined) must not regress."""
    kinds = {(r.source.startswith("wiki"), r.label) for r in rows}
    counts = {kind: sum(1 for r in rows if (r.source.startswith("wiki"), r.label) == kind)
              for kind in kinds}
    return [len(rows) / (len(kinds) * counts[(r.source.startswith("wiki"), r.label)])
            * (WIKI_WEIGHT if r.source.startswith("wiki") else 1.0) for r in rows]


def _curve(model: AnswerabilityModel, rows: list[Row]) -> list[dict[str, object]]:
    """Per threshold, per group and half: the share declined."""
    probabilities = [model.probability(r.features) for r in rows]
    curve = []
    for threshold in THRESHOLDS:
        point: dict[str, object] = {"threshold": threshold}
        for group in sorted({r.group for r in rows}):
            for half in ("tune", "check"):
                chosen = [p for r, p in zip(rows, probabilities, strict=True)
                          if r.group == group and r.half == half]
                if chosen:
                    point[f"{group} [{half}]"] = round(
                        sum(1 for p in chosen if p < threshold) / len(chosen), 3)
        curve.append(point)
    return curve


def _print_curve(curve: list[dict[str, object]]) -> None:
    columns = [key for key in curve[0] if key != "threshold"]
    print("share declined, per threshold (answerable groups: false refusals)")
    print("threshold | " + " | ".join(columns))
    for point in curve:
        print(f"{point['threshold']:.2f} | " + " | ".join(f"{point[c]:.3f}" for c in columns))


if __name__ == "__main__":
    main()

