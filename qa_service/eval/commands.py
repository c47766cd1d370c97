"""`qa eval ...`: quality on SQuAD-format sets, on real documents and on conversations,
each in a scratch (or kept) data directory."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from qa_service.cli_support import (
    console,
    errors,
    exit_on_error,
    open_services,
    print_json,
    progress_bar,
    requested_mode,
)
from qa_service.config import Settings

__all__ = ["eval_app"]

eval_app = typer.Typer(help="Measure quality on SQuAD-format question sets.", no_args_is_help=True)

Datasets = Annotated[list[Path], typer.Argument(help="SQuAD-format JSON files", exists=True)]
ArticlesOpt = Annotated[int | None, typer.Option(help="Only the first N articles of each file.")]
QuestionsOpt = Annotated[int | None, typer.Option(help="An evenly spaced sample of N questions "
                                                       "per file.")]
JsonOut = Annotated[Path | None, typer.Option("--json", help="Also write the report here.")]
KeepOpt = Annotated[Path | None, typer.Option(
    help="Keep the knowledge base in this data dir (`eval pages` reuses it on the next run: "
         "the PDFs it holds are not read again).")]


ScannedOpt = Annotated[float | None, typer.Option(
    "--scanned", min=50, max=600, metavar="DPI",
    help="Ingest the PDFs as scans: page images at this resolution, no text layer (OCR).")]


@eval_app.command("retrieval")
def eval_retrieval(datasets: Datasets, articles: ArticlesOpt = None,
                   questions: QuestionsOpt = None, json_out: JsonOut = None,
                   keep: KeepOpt = None, scanned: ScannedOpt = None) -> None:
    """Render articles to PDFs, ingest them into one fresh knowledge base, score search."""
    from qa_service.eval.datasets import load_dataset, sample_evenly
    from qa_service.eval.retrieval_eval import build_corpus, evaluate_retrieval

    loaded = [load_dataset(path).limited(articles) for path in datasets]
    total = sum(len(sample_evenly(tuple(q for q in d.questions if not q.impossible), questions))
                for d in loaded)
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as scratch:
        data_dir = keep or Path(scratch) / "data"
        with open_services(Settings(data_dir=data_dir)) as services:
            corpus = build_corpus(services, loaded, Path(scratch), progress=errors.print,
                                  scanned_dpi=scanned)
            with progress_bar() as bar:
                task = bar.add_task("searching", total=total)
                report = evaluate_retrieval(services, corpus, loaded, questions,
                                            progress=lambda n: bar.advance(task, n))
    report["scanned_dpi"] = scanned
    if json_out is not None:
        json_out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print_json(report)


ForeignOpt = Annotated[list[Path] | None, typer.Option(
    "--foreign", help="Also ask this file's questions; none is in the knowledge base.",
    exists=True)]
ModeOpt = Annotated[str | None, typer.Option(
    help="extractive or llm (default: llm when QA_LLM_BASE_URL is set).")]
JournalOpt = Annotated[Path | None, typer.Option(
    "--journal", dir_okay=False,
    help="Append each question's outcome to this JSON Lines file, and skip the questions it "
         "already holds (for this mode and LLM model): an interrupted run resumes.")]


@eval_app.command("answers")
def eval_answers(datasets: Datasets, articles: ArticlesOpt = None,
                 questions: QuestionsOpt = None, foreign: ForeignOpt = None,
                 mode: ModeOpt = None, json_out: JsonOut = None, keep: KeepOpt = None,
                 journal: JournalOpt = None) -> None:
    """Ingest the first N articles of each file, ask every question, score the answers.

    Questions of the articles left out (and of --foreign files) must be declined."""
    from qa_service.eval.answer_eval import evaluate_answers
    from qa_service.eval.asking import journal_for
    from qa_service.eval.datasets import load_dataset, sample_evenly
    from qa_service.eval.retrieval_eval import build_corpus

    requested = requested_mode(mode)
    loaded = [load_dataset(path) for path in datasets]
    others = [load_dataset(path) for path in foreign or []]
    total = sum(len(sample_evenly(d.questions, questions)) for d in loaded + others)
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as scratch:
        data_dir = keep or Path(scratch) / "data"
        with open_services(Settings(data_dir=data_dir)) as services:
            corpus = build_corpus(services, [d.limited(articles) for d in loaded],
                                  Path(scratch), progress=errors.print)
            with progress_bar() as bar:
                task = bar.add_task("asking", total=total)
                report = evaluate_answers(
                    services, corpus, loaded, articles, questions, others, requested,
                    progress=lambda n: bar.advance(task, n),
                    journal=journal_for(services, requested, journal))
    if json_out is not None:
        json_out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print_json(report)


PagesFolder = Annotated[Path, typer.Argument(help="A folder of PDFs (searched recursively)",
                                             exists=True, file_okay=False)]
PageQuestions = Annotated[Path, typer.Argument(
    help="Questions, one JSON object a line: doc_name, question, evidence[].evidence_page_num "
         "(0-based)", exists=True, dir_okay=False)]
HalfOpt = Annotated[str | None, typer.Option(help="Only the `tune` or the `check` half.")]


@eval_app.command("pages")
def eval_pages(folder: PagesFolder, questions: PageQuestions,
               k: Annotated[int, typer.Option("-k", "--k", min=1, max=100,
                                              help="Passages per search.")] = 10,
               half: HalfOpt = None,
               neutral_names: Annotated[bool, typer.Option(
                   help="Ingest the PDFs as doc_01.pdf, doc_02.pdf, ...")] = False,
               answers: Annotated[bool, typer.Option(
                   "--answers", help="Also ask every question and score the answers "
                   "(gold in the short answer or first sentence, refusals)")] = False,
               questions_count: Annotated[int | None, typer.Option(
                   "--questions", min=1,
                   help="Only this many questions, spread evenly over the file.")] = None,
               mode: ModeOpt = None, journal: JournalOpt = None,
               json_out: JsonOut = None, keep: KeepOpt = None) -> None:
    """Ingest a folder of real PDFs into one fresh knowledge base; score whether search
    finds each question's evidence page (page_hit@1/5/10, doc_hit@5, MRR@10) and, with
    --answers, the answers."""
    from qa_service.eval.asking import journal_for
    from qa_service.eval.datasets import sample_evenly
    from qa_service.eval.page_eval import (
        HALVES,
        evaluate_page_answers,
        evaluate_pages,
        ingest_folder,
        load_page_questions,
    )

    if half is not None and half not in HALVES:
        raise typer.BadParameter(f"--half is one of {', '.join(HALVES)}")
    requested = requested_mode(mode)
    with exit_on_error():
        asked = sample_evenly([q for q in load_page_questions(questions)
                               if half is None or q.half == half], questions_count)
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as scratch:
        settings = Settings(data_dir=keep or Path(scratch) / "data")
        with open_services(settings) as services:
            corpus = ingest_folder(services, folder, Path(scratch), neutral_names, errors.print,
                                   reuse=keep is not None)
            with progress_bar() as bar:
                task = bar.add_task("searching", total=sum(q.answerable for q in asked))
                report = evaluate_pages(services, corpus, asked, k,
                                        progress=lambda n: bar.advance(task, n))
                if answers:
                    task = bar.add_task("asking", total=len(asked))
                    report["answers"] = evaluate_page_answers(
                        services, corpus, asked, requested,
                        progress=lambda n: bar.advance(task, n),
                        journal=journal_for(services, requested, journal))
    if json_out is not None:
        json_out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    _print_page_report(report)
    if answers:
        _print_page_answers(report["answers"])


ConversationSet = Annotated[Path, typer.Argument(
    help="Two-turn conversations, one JSON object a line: id, lang (ko or en), file (its "
         "path under the folder), turns[].question, .pages (1-based), .answer",
    exists=True, dir_okay=False)]


@eval_app.command("conversations")
def eval_conversations(folder: PagesFolder, conversations: ConversationSet,
                       k: Annotated[int, typer.Option("-k", "--k", min=5, max=100,
                                                      help="Passages per search.")] = 10,
                       json_out: JsonOut = None, keep: KeepOpt = None) -> None:
    """Ingest the PDFs a set of two-turn conversations names into one knowledge base;
    score page_hit@5 of the first question, of the follow-up alone, and of the follow-up
    made standalone by the rules and (when QA_LLM_BASE_URL is set) by the LLM."""
    from qa_service.answer.conversation import Condenser, LLMCondenser, RuleCondenser
    from qa_service.answer.llm import LLMAnswerer
    from qa_service.eval.conversation_eval import (
        evaluate_conversations,
        link_files,
        load_conversations,
    )
    from qa_service.eval.page_eval import ingest_folder

    with exit_on_error():
        items = load_conversations(conversations)
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as scratch:
        settings = Settings(data_dir=keep or Path(scratch) / "data")
        with open_services(settings) as services:
            linked = link_files(folder, items, Path(scratch))
            corpus = ingest_folder(services, linked, Path(scratch), progress=errors.print,
                                   reuse=keep is not None)
            rules = RuleCondenser(services.lexical.tokenizer)
            condensers: dict[str, Condenser] = {"rules": rules}
            if isinstance(services.asker.llm, LLMAnswerer):
                condensers["llm"] = LLMCondenser(services.asker.llm, settings, rules)
            with progress_bar() as bar:
                task = bar.add_task("searching", total=len(items) * (2 + len(condensers)))
                report = evaluate_conversations(services, corpus, items, condensers, k,
                                                progress=lambda n: bar.advance(task, n))
    if json_out is not None:
        json_out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    _print_conversation_report(report)


def _print_conversation_report(report: dict[str, Any]) -> None:
    table = Table("asked", "group", "n", "page@1", "page@5", "page@10", "MRR@10",
                  "ratio@5")
    for name, figures in report["variants"].items():
        ratios = report["ratios"].get(name, {})
        for group in ("all", "lang=ko", "lang=en"):
            row = figures if group == "all" else figures.get(group)
            if row is None:
                continue
            ratio = ratios.get(group)
            table.add_row(name, group, str(row["questions"]), *(f"{row[key]:.3f}" for key in (
                "page_hit@1", "page_hit@5", "page_hit@10", "mrr@10")),
                "-" if ratio is None else f"{ratio:.3f}")
    console.print(table)
    met = ", ".join(f"{name}: {'yes' if row['meets_target'] else 'no'}"
                    for name, row in report["ratios"].items() if name != "turn2_alone")
    console.print(f"{report['conversations']} conversations over {report['documents']} "
                  f"documents; ratio@5 = a follow-up's page_hit@5 over the first turn's "
                  f"(target {report['target_ratio']}): {met}; LLM fallbacks "
                  f"{report['llm_fallbacks'].get('llm', '-')}")


def _print_page_report(report: dict[str, Any]) -> None:
    table = Table("questions", "n", "page@1", "page@5", "page@10", "doc@5", "MRR@10")
    rows = {"all": report, **report["groups"]}
    for name, row in rows.items():
        table.add_row(name, str(row["questions"]), *(f"{row[key]:.3f}" for key in (
            "page_hit@1", "page_hit@5", "page_hit@10", "doc_hit@5", "mrr@10")))
    console.print(table)
    console.print(f"{report['documents']} documents, {report['pages']} pages ingested in "
                  f"{report['ingest_s']} s ({report['ingest_pages_per_s']} pages/s); search "
                  f"p50 {report['search_p50_ms']} ms, p95 {report['search_p95_ms']} ms; "
                  f"{report['unanswerable_questions']} unanswerable question(s) not scored")
    if report["questions_about_missing_documents"]:
        errors.print("[yellow]questions about documents not indexed:[/yellow] "
                     + escape(", ".join(report["questions_about_missing_documents"])))


def _print_page_answers(report: dict[str, Any]) -> None:
    table = Table("questions", "answerable", "answer hit", "short hit", "false refusals",
                  "1st citation on evidence", "unanswerable", "declined")

    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    for name, row in {"all": report, **report["groups"]}.items():
        table.add_row(name, str(row["answerable"]), cell(row["answer_hit"]),
                      cell(row["short_answer_hit"]), cell(row["false_refusals"]),
                      cell(row["first_citation_on_evidence"]), str(row["unanswerable"]),
                      cell(row["unanswerable_declined"]))
    console.print(table)
    model = f" ({report['llm_model']})" if report["llm_model"] else ""
    console.print(f"mode {report['mode']}{model}; ask p50 "
                  f"{report['ask_p50_ms']} ms, p95 {report['ask_p95_ms']} ms, first text p50 "
                  f"{report['first_text_p50_ms']} ms; citations valid "
                  f"{cell(report['citation_valid'])}; removed {report['removed_citations']} "
                  f"citation(s) and {report['unsupported_sentences']} sentence(s); fallbacks "
                  f"{cell(report['fallbacks'])} ({report['context_overflows']} context "
                  "overflow(s)); answer hit: a gold answer in the short answer or the answer's "
                  "first sentence")
