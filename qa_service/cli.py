"""The `qa` command: knowledge bases, ingestion, search, the server, and evaluations.

It works on the data directory directly, safely while a server uses the same directory:
`QA_DATA_DIR` when set, else the source checkout's `indexes/`, else the per-user data
directory (`qa_service.data_dir`), never a folder that depends on where `qa` runs. `qa kb
list` shows which; errors name it. Commands that only read (or need an existing knowledge
base) never create it. `--json` prints the same shapes as the HTTP API (`kb list` adds
`data_dir`).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from qa_service.config import Settings
from qa_service.errors import QAError

__all__ = ["app", "main"]

app = typer.Typer(help="Self-hosted document Q&A over PDF knowledge bases. They live in the "
                       "data directory: QA_DATA_DIR when set, else the source checkout's "
                       "indexes/, else the per-user data directory (Linux: "
                       "~/.local/share/qa-service); `qa kb list` shows which.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
kb_app = typer.Typer(help="Create, list, delete, re-embed and rebuild knowledge bases.",
                     no_args_is_help=True)
eval_app = typer.Typer(help="Measure quality on SQuAD-format question sets.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of the HTTP server (the CLI itself needs none).",
                       no_args_is_help=True)
app.add_typer(kb_app, name="kb")
app.add_typer(keys_app, name="keys")
app.add_typer(eval_app, name="eval")

console = Console()
errors = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON (the API's shapes).")]
ERROR_STATUSES = ("failed", "invalid")


@contextmanager
def _on_data(kb: str | None = None, *, create: bool = False) -> Iterator[Any]:
    """The services on the configured data directory, whose errors name it. Unless the
    command may `create` it, a missing data directory ends the command (naming `kb`, the
    knowledge base it needed): reading never makes an empty one."""
    settings = Settings()
    if not create and not settings.data_dir.is_dir():
        _no_data_directory(settings.data_dir, kb)
    with _services(settings, settings.data_dir) as services:
        yield services


@contextmanager
def _services(settings: Settings, data_dir: Path | None = None) -> Iterator[Any]:
    """Services built from `settings`; a QAError ends the command (`_exit_on_error`)."""
    from qa_service.services import Services

    services = Services.build(settings)
    try:
        with _exit_on_error(data_dir):
            yield services
    finally:
        services.close()


@contextmanager
def _exit_on_error(data_dir: Path | None = None) -> Iterator[None]:
    """A QAError ends the command with exit code 2 after printing its message in the CLI's
    words, and for the operator at the terminal its detail (paths) and the data directory
    the command worked on too."""
    try:
        yield
    except QAError as exc:
        errors.print(f"[red]error:[/red] {escape(exc.cli_message)}", highlight=False)
        if exc.detail:
            errors.print(f"  ({exc.detail})", style="dim", markup=False, highlight=False)
        if data_dir is not None:
            errors.print(f"  (data directory: {data_dir}; QA_DATA_DIR chooses another)",
                         style="dim", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _no_data_directory(data_dir: Path, kb: str | None) -> NoReturn:
    where = f"there is no data directory at {data_dir}"
    if kb:
        text = (f"knowledge base '{kb}' does not exist: {where}; create it with `qa kb create "
                f"{kb}`, or set QA_DATA_DIR to the folder that holds it")
    else:
        text = (f"{where}; create a knowledge base with `qa kb create NAME`, or set "
                "QA_DATA_DIR to the folder that holds yours")
    errors.print(f"[red]error:[/red] {escape(text)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


# --- knowledge bases -------------------------------------------------------------------


@kb_app.command("create")
def kb_create(name: str, as_json: JsonFlag = False) -> None:
    """Create an empty knowledge base (and the data directory, if it is the first)."""
    with _on_data(create=True) as services:
        info = services.create_kb(name).info().to_json()
        where = services.settings.data_dir
    if as_json:
        _print_json(info)
        return
    console.print(f"created knowledge base [bold]{escape(name)}[/bold] in "
                  f"{escape(str(where))}", highlight=False, soft_wrap=True)


@kb_app.command("list")
def kb_list(as_json: JsonFlag = False) -> None:
    """List knowledge bases with their document and chunk counts, and the data directory
    they are in (QA_DATA_DIR chooses another)."""
    settings = Settings()
    data_dir, exists = settings.data_dir, settings.data_dir.is_dir()
    infos: list[dict[str, Any]] = []
    if exists:  # a missing one is reported, never created
        with _services(settings, data_dir) as services:
            infos = [services.registry.open(n).info().to_json()
                     for n in services.registry.names()]
    if as_json:
        _print_json({"knowledge_bases": infos, "data_dir": str(data_dir)})
        return
    console.print(f"Data directory: {data_dir}{'' if exists else ' (does not exist yet)'}",
                  markup=False, highlight=False, soft_wrap=True)
    if not infos:
        console.print("no knowledge bases; create one with `qa kb create NAME`, or set "
                      "QA_DATA_DIR to the folder that holds yours", markup=False)
        return
    table = Table("name", "documents", "chunks", "model", "created")
    for info in infos:
        table.add_row(info["name"], str(info["documents"]), str(info["chunks"]),
                      info["embedding_model"], info["created_at"])
    console.print(table)
    for info in infos:
        if info["rebuild_needed"]:
            console.print(f"[yellow]{info['name']} was built with an older parser or lexical "
                          f"analyser: run `qa kb rebuild {info['name']}`[/yellow]")


@kb_app.command("delete")
def kb_delete(name: str,
              yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False
              ) -> None:
    """Delete a knowledge base and everything in it."""
    if not yes and not typer.confirm(f"delete knowledge base '{name}' and all its documents?"):
        raise typer.Exit(1)
    with _on_data(name) as services:
        services.delete_kb(name)
    console.print(f"deleted knowledge base [bold]{escape(name)}[/bold]")


@kb_app.command("reindex")
def kb_reindex(
    name: str,
    model: Annotated[str, typer.Option(help="Embedding model: packaged name, "
                                            "sentence-transformers name or local path.")],
) -> None:
    """Re-embed every stored chunk with another model (no re-parsing)."""
    from ingest.embed import embed_chunks
    from qa_service.embedding import load_embedder
    from qa_service.store.knowledge_base import IndexIdentity

    with _on_data(name) as services:
        kb = services.registry.open(name)
        embedder = load_embedder(model, services.settings.embedding_threads)
        identity = IndexIdentity(model, embedder.dimension, dict(kb.manifest["chunker"]),
                                 dict(kb.manifest["parser"]), dict(kb.manifest["lexical"]))
        total = kb.info().chunks
        with _progress() as bar:
            task = bar.add_task("re-embedding", total=total)
            count = kb.replace_vectors(lambda chunks: embed_chunks(embedder, chunks), identity,
                                       progress=lambda n: bar.advance(task, n))
    console.print(f"re-embedded {count} chunks of [bold]{name}[/bold] with {model}; "
                  f"set QA_EMBEDDING_MODEL={model} to search it")


@kb_app.command("rebuild")
def kb_rebuild(name: str, as_json: JsonFlag = False) -> None:
    """Parse every document again from its stored original with this version's parser,
    lexical analysis and document context, and re-embed it (after an upgrade: `qa kb
    list` says when a knowledge base needs it). The chunk settings stay the knowledge
    base's. Each document switches from its old version to its new one in one step, and
    one that no longer parses keeps its old version (reported, never deleted).
    Interrupted (Ctrl-C, a crash), it continues where it stopped when run again. Safe
    while `qa serve` runs on the same data directory: its searches see each document
    switch as it is published. Exits 1 if a document failed.
    """
    from ingest.rebuild import RebuildOutcome, RebuildStatus, rebuild_knowledge_base

    done: list[RebuildOutcome] = []
    with _on_data(name) as services:
        kb = services.open_kb(name)  # another embedding model: refused, naming the fix
        with _progress() as bar:
            task = bar.add_task("rebuilding", total=kb.info().documents)
            pages = [0]

            def on_progress(kind: str, n: int) -> None:
                if kind == "pages":
                    pages[0] += n
                    bar.update(task, description=f"rebuilding ({pages[0]:,} pages)")

            def on_document(outcome: RebuildOutcome) -> None:
                done.append(outcome)
                bar.advance(task)

            try:
                result = rebuild_knowledge_base(services.pipeline, kb, on_document, on_progress)
            except KeyboardInterrupt:
                errors.print(f"[yellow]interrupted[/yellow] after {len(done)} documents; each "
                             f"document holds its old or its new version; run `qa kb rebuild "
                             f"{name}` again to finish")
                raise typer.Exit(130) from None
    _print_json(result.to_json()) if as_json else _print_rebuild(result.to_json())
    if result.count(RebuildStatus.FAILED):
        raise typer.Exit(1)


def _print_rebuild(report: dict[str, Any]) -> None:
    colours = {"rebuilt": "green", "unchanged": "cyan", "failed": "red", "deleted": "yellow"}
    table = Table("document", "status", "pages", "chunks", "reason")
    for d in report["documents"]:
        if d["status"] != "unchanged":
            colour = colours[d["status"]]
            table.add_row(escape(d["filename"]), f"[{colour}]{d['status']}[/{colour}]",
                          str(d["pages"]), str(d["chunks"]), escape(d["reason"]))
    if table.row_count:
        console.print(table)
    console.print(f"{report['kb']}: {report['rebuilt']} rebuilt, {report['failed']} failed, "
                  f"{report['unchanged']} unchanged, {report['deleted']} deleted meanwhile")
    if report["identity_recorded"]:
        console.print("every document is built with this version's pipeline")
    else:
        console.print(f"[yellow]documents that failed (or were added by an older server "
                      f"meanwhile) keep their older indexing; run `qa kb rebuild "
                      f"{report['kb']}` again after fixing the cause[/yellow]")


# --- ingestion and search --------------------------------------------------------------


def _pdf_paths(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file()
                            and p.suffix.lower() == ".pdf")
        elif path.exists():
            found.append(path)
        else:
            errors.print(f"[red]error:[/red] {path}: no such file or folder")
            raise typer.Exit(2)
    return found


@contextmanager
def _progress() -> Iterator[Progress]:
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=errors, transient=True) as bar:
        yield bar


@app.command("ingest")
def ingest(
    kb: str,
    paths: Annotated[list[Path], typer.Argument(help="PDF files and folders (searched for *.pdf)")],
    create: Annotated[bool, typer.Option(help="Create the knowledge base if missing.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Index PDFs into a knowledge base; exits non-zero if any file failed or was invalid."""
    from ingest.jobs import run_job
    from ingest.uploads import queue_local_files

    files = _pdf_paths(paths)
    with _on_data(kb, create=create) as services:
        if create and kb not in services.registry.names():
            services.create_kb(kb)
        base = services.open_kb(kb)
        job_id = queue_local_files(base, files, by_name=True)  # a.pdf, not ../docs/a.pdf
        with _progress() as bar:
            task = bar.add_task("ingesting", total=len(files))
            job = run_job(services.pipeline, base, job_id,
                          on_file=lambda outcome: bar.advance(task))
        if job is not None:  # the terms a question in the other language will need
            services.retriever.prepare(base)
    if job is None:
        raise typer.Exit(2)
    result = job.to_json()
    _print_json(result) if as_json else _print_job(result)
    if any(f["status"] in ERROR_STATUSES for f in result["files"]) or job.state.value == "failed":
        raise typer.Exit(1)


def _print_job(job: dict[str, Any]) -> None:
    """One row per file, its whole name (folded over lines, never cut) and reason."""
    table = Table()
    for column in ("file", "status", "pages", "OCR'd", "chunks", "reason"):
        table.add_column(column, overflow="fold" if column in ("file", "reason") else "ellipsis")
    colours = {"indexed": "green", "unchanged": "cyan", "failed": "red", "invalid": "red"}
    for f in job["files"]:
        colour = colours.get(f["status"], "yellow")
        table.add_row(escape(f["filename"]), f"[{colour}]{f['status']}[/{colour}]",
                      str(f["pages"]), str(f["ocr_pages"]), str(f["chunks"]),
                      escape(f["reason"]))
    console.print(table)
    console.print(f"{job['files_done']}/{job['files_total']} files, {job['pages_parsed']} pages,"
                  f" {job['chunks_embedded']} chunks embedded")
    if job["error"]:
        console.print(f"[red]job failed:[/red] {job['error']}")


@app.command("search")
def search(
    kb: str,
    query: str,
    k: Annotated[int, typer.Option("-k", help="How many passages.")] = 5,
    document_id: Annotated[list[str] | None, typer.Option(help="Only these documents.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Search a knowledge base (hybrid BM25 + dense)."""
    with _on_data(kb) as services:
        passages = services.retriever.search(services.open_kb(kb), query, k, document_id)
    if as_json:
        _print_json({"passages": [p.to_json() for p in passages]})
        return
    if not passages:
        console.print("no passages found")
    for rank, p in enumerate(passages, start=1):
        console.print(f"[bold]{rank}. {p.filename}[/bold], page {p.page} "
                      f"[dim](score {p.score:.4f}, chars {p.char_start}-{p.char_end})[/dim]")
        console.print(p.text.replace("\n", " "), highlight=False)
        console.print()


# --- server ----------------------------------------------------------------------------


@app.command("ask")
def ask(
    kb: str,
    question: str,
    k: Annotated[int | None, typer.Option("-k", "--k",
                                          help="Passages to retrieve (default 5).")] = None,
    mode: Annotated[str | None, typer.Option(
        help="extractive or llm (default: llm when QA_LLM_BASE_URL is set).")] = None,
    document: Annotated[list[str] | None, typer.Option(
        "--document", help="Answer only from this document id (repeatable).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Answer a question from a knowledge base, with numbered, quoted citations."""
    requested = _mode(mode)
    with _on_data(kb) as services:
        answer = services.asker.ask(services.open_kb(kb), question, k, requested,
                                    document)
    if as_json:
        _print_json(answer.to_json())
        return
    _print_answer(answer.to_json())


def _mode(value: str | None) -> Literal["extractive", "llm"] | None:
    if value is None:
        return None
    if value == "extractive":
        return "extractive"
    if value == "llm":
        return "llm"
    raise typer.BadParameter("mode must be extractive or llm", param_hint="--mode")


def _print_answer(answer: dict[str, Any]) -> None:
    from rich.markup import escape

    style = "yellow" if answer["abstained"] else "bold"
    console.print(f"[{style}]{escape(answer['answer'])}[/{style}]")
    if answer["mode"] == "extractive-fallback":
        console.print(f"[yellow](answered extractively, without the LLM: "
                      f"{escape(answer['fallback_reason'])})[/yellow]")
    if answer["removed_citations"] or answer["unsupported_sentences"]:
        console.print(f"[dim](removed {answer['removed_citations']} invented citation(s) and "
                      f"{answer['unsupported_sentences']} unsupported sentence(s))[/dim]")
    if answer["citations"]:
        console.print()
        for c in answer["citations"]:
            console.print(f"[cyan][{c['number']}][/cyan] {escape(c['filename'])}, "
                          f"page {c['page']}:")
            console.print(f'    "{escape(" ".join(c["quote"].split()))}"')
    elif answer["passages"]:
        console.print("\nClosest passages:")
        for n, p in enumerate(answer["passages"], start=1):
            snippet = " ".join(p["text"].split())
            snippet = snippet[:200] + ("…" if len(snippet) > 200 else "")
            console.print(f"[dim]{n}. {escape(p['filename'])}, page {p['page']}:[/dim] "
                          f"{escape(snippet)}")


# --- API keys --------------------------------------------------------------------------


@keys_app.command("create")
def keys_create(
    kb: Annotated[list[str], typer.Option("--kb", help="A knowledge base the key may use "
                                                       "(repeat for several).")],
    scope: Annotated[str, typer.Option(help="read (search, ask, read) or write (also upload "
                                            "and delete documents).")] = "read",
    as_json: JsonFlag = False,
) -> None:
    """Make a key for the HTTP API; it is printed once and never shown again."""
    from qa_service.access import Scope

    if scope not in ("read", "write"):
        errors.print("[red]error:[/red] --scope must be read or write")
        raise typer.Exit(2)
    with _on_data() as services:
        info, key = services.create_key(kb, Scope(scope))
    if as_json:
        _print_json({**info.to_json(), "key": key})
        return
    console.print(f"key [bold]{info.id}[/bold] ({scope}: {', '.join(info.kbs)}), shown only now:")
    sys.stdout.write(key + "\n")


@keys_app.command("list")
def keys_list(as_json: JsonFlag = False) -> None:
    """List keys: ids, scopes and knowledge bases (never the keys themselves)."""
    with _on_data() as services:
        infos = [info.to_json() for info in services.access.keys.infos()]
    if as_json:
        _print_json({"keys": infos})
        return
    table = Table("id", "scope", "knowledge bases", "created", "revoked")
    for info in infos:
        table.add_row(str(info["id"]), str(info["scope"]), ", ".join(info["kbs"]),
                      str(info["created_at"]), str(info["revoked_at"] or ""))
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key: a running server refuses it from its next request."""
    with _on_data() as services:
        services.access.keys.revoke(key_id)
    console.print(f"revoked key [bold]{key_id}[/bold]")


@keys_app.command("rotate-admin")
def keys_rotate_admin() -> None:
    """Make a new generated admin key (the old one stops working at once). Has no effect
    on a server started with QA_ADMIN_KEY, which uses that key."""
    with _on_data(create=True) as services:
        key = services.access.keys.rotate_admin()
    console.print("new admin key, shown only now:")
    sys.stdout.write(key + "\n")


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (QA_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (QA_PORT).")] = None,
) -> None:
    """Run the HTTP API (logs: QA_LOG_LEVEL, QA_LOG_FORMAT)."""
    from qa_service.api.server import serve as run_server

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    settings = Settings().model_copy(update=overrides)
    with _exit_on_error(settings.data_dir):
        run_server(settings)


# --- evaluation ------------------------------------------------------------------------

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
        with _services(Settings(data_dir=data_dir)) as services:
            corpus = build_corpus(services, loaded, Path(scratch), progress=errors.print,
                                  scanned_dpi=scanned)
            with _progress() as bar:
                task = bar.add_task("searching", total=total)
                report = evaluate_retrieval(services, corpus, loaded, questions,
                                            progress=lambda n: bar.advance(task, n))
    report["scanned_dpi"] = scanned
    if json_out is not None:
        json_out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    _print_json(report)


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

    requested = _mode(mode)
    loaded = [load_dataset(path) for path in datasets]
    others = [load_dataset(path) for path in foreign or []]
    total = sum(len(sample_evenly(d.questions, questions)) for d in loaded + others)
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as scratch:
        data_dir = keep or Path(scratch) / "data"
        with _services(Settings(data_dir=data_dir)) as services:
            corpus = build_corpus(services, [d.limited(articles) for d in loaded],
                                  Path(scratch), progress=errors.print)
            with _progress() as bar:
                task = bar.add_task("asking", total=total)
                report = evaluate_answers(
                    services, corpus, loaded, articles, questions, others, requested,
                    progress=lambda n: bar.advance(task, n),
                    journal=journal_for(services, requested, journal))
    if json_out is not None:
        json_out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    _print_json(report)


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
    requested = _mode(mode)
    with _exit_on_error():
        asked = sample_evenly([q for q in load_page_questions(questions)
                               if half is None or q.half == half], questions_count)
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as scratch:
        settings = Settings(data_dir=keep or Path(scratch) / "data")
        with _services(settings) as services:
            corpus = ingest_folder(services, folder, Path(scratch), neutral_names, errors.print,
                                   reuse=keep is not None)
            with _progress() as bar:
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

    with _exit_on_error():
        items = load_conversations(conversations)
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as scratch:
        settings = Settings(data_dir=keep or Path(scratch) / "data")
        with _services(settings) as services:
            linked = link_files(folder, items, Path(scratch))
            corpus = ingest_folder(services, linked, Path(scratch), progress=errors.print,
                                   reuse=keep is not None)
            rules = RuleCondenser(services.lexical.tokenizer)
            condensers: dict[str, Condenser] = {"rules": rules}
            if isinstance(services.asker.llm, LLMAnswerer):
                condensers["llm"] = LLMCondenser(services.asker.llm, settings, rules)
            with _progress() as bar:
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
