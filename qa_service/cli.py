"""The `qa` command: knowledge bases, ingestion, search, the server, and evaluations.

It works on the data directory directly, safely while a server uses the same directory:
`QA_DATA_DIR` when set, else the source checkout's `indexes/`, else the per-user data
directory (`qa_service.data_dir`), never a folder that depends on where `qa` runs. `qa kb
list` shows which; errors name it. Commands that only read (or need an existing knowledge
base) never create it. `--json` prints the same shapes as the HTTP API (`kb list` adds
`data_dir`).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from qa_service.cli_support import (
    ERROR_STATUSES,
    JsonFlag,
    console,
    errors,
    exit_on_error,
    on_data,
    open_services,
    print_json,
    progress_bar,
    requested_mode,
)
from qa_service.config import Settings
from qa_service.eval.commands import eval_app

__all__ = ["app", "main"]

app = typer.Typer(help="Self-hosted document Q&A over PDF knowledge bases. They live in the "
                       "data directory: QA_DATA_DIR when set, else the source checkout's "
                       "indexes/, else the per-user data directory (Linux: "
                       "~/.local/share/qa-service); `qa kb list` shows which.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
kb_app = typer.Typer(help="Create, list, delete, re-embed and rebuild knowledge bases.",
                     no_args_is_help=True)
keys_app = typer.Typer(help="API keys of the HTTP server (the CLI itself needs none).",
                       no_args_is_help=True)
app.add_typer(kb_app, name="kb")
app.add_typer(keys_app, name="keys")
app.add_typer(eval_app, name="eval")

# --- knowledge bases -------------------------------------------------------------------


@kb_app.command("create")
def kb_create(name: str, as_json: JsonFlag = False) -> None:
    """Create an empty knowledge base (and the data directory, if it is the first)."""
    with on_data(create=True) as services:
        info = services.create_kb(name).info().to_json()
        where = services.settings.data_dir
    if as_json:
        print_json(info)
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
        with open_services(settings, data_dir) as services:
            infos = [services.registry.open(n).info().to_json()
                     for n in services.registry.names()]
    if as_json:
        print_json({"knowledge_bases": infos, "data_dir": str(data_dir)})
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
    with on_data(name) as services:
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

    with on_data(name) as services:
        kb = services.registry.open(name)
        embedder = load_embedder(model, services.settings.embedding_threads)
        identity = dataclasses.replace(kb.identity, embedding_model=model,
                                       dimension=embedder.dimension)
        total = kb.info().chunks
        with progress_bar() as bar:
            task = bar.add_task("re-embedding", total=total)
            count = kb.replace_vectors(lambda chunks: embed_chunks(embedder, chunks), identity,
                                       progress=lambda n: bar.advance(task, n))
        kb.build_approximate_index()  # the new vectors' own, when the size calls for one
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
    with on_data(name) as services:
        kb = services.open_kb(name)  # another embedding model: refused, naming the fix
        with progress_bar() as bar:
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
                kb.build_approximate_index()
            except KeyboardInterrupt:
                errors.print(f"[yellow]interrupted[/yellow] after {len(done)} documents; each "
                             f"document holds its old or its new version; run `qa kb rebuild "
                             f"{name}` again to finish")
                raise typer.Exit(130) from None
    print_json(result.to_json()) if as_json else _print_rebuild(result.to_json())
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


@app.command("ingest")
def ingest(
    kb: str,
    paths: Annotated[list[Path], typer.Argument(help="PDF files and folders (searched for *.pdf)")],
    create: Annotated[bool, typer.Option(help="Create the knowledge base if missing.")] = False,
    ray: Annotated[bool, typer.Option(
        "--ray", help="Parse, chunk and embed on a Ray cluster (a local one unless "
        "--ray-address); publish here, in order.")] = False,
    ray_address: Annotated[str | None, typer.Option(
        help="Join this Ray cluster (`auto`, host:6379, ray://host:10001).")] = None,
    ray_workers: Annotated[int | None, typer.Option(
        min=1, help="Ray workers preparing files at once (QA_INGEST__RAY_WORKERS).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Index PDFs into a knowledge base; exits non-zero if any file failed or was invalid."""
    from ingest.jobs import run_job
    from ingest.uploads import queue_local_files

    files = _pdf_paths(paths)
    settings = Settings()
    if ray or ray_address is not None or ray_workers is not None:
        changed = {"ray": True, **({"ray_address": ray_address} if ray_address else {}),
                   **({"ray_workers": ray_workers} if ray_workers else {})}
        settings = settings.model_copy(
            update={"ingest": settings.ingest.model_copy(update=changed)})
    with on_data(kb, create=create, settings=settings) as services:
        if create and kb not in services.registry.names():
            services.create_kb(kb)
        base = services.open_kb(kb)
        job_id = queue_local_files(base, files, by_name=True)  # a.pdf, not ../docs/a.pdf
        with progress_bar() as bar:
            task = bar.add_task("ingesting", total=len(files))
            job = run_job(services.pipeline, base, job_id,
                          on_file=lambda outcome: bar.advance(task))
        if job is not None:  # cross-lingual terms; the approximate index when due
            services.after_ingest(base)
    if job is None:
        raise typer.Exit(2)
    result = job.to_json()
    print_json(result) if as_json else _print_job(result)
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
    with on_data(kb) as services:
        passages = services.retriever.search(services.open_kb(kb), query, k, document_id)
    if as_json:
        print_json({"passages": [p.to_json() for p in passages]})
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
    requested = requested_mode(mode)
    with on_data(kb) as services:
        answer = services.asker.ask(services.open_kb(kb), question, k, requested,
                                    document)
    if as_json:
        print_json(answer.to_json())
        return
    _print_answer(answer.to_json())


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
    with on_data() as services:
        info, key = services.create_key(kb, Scope(scope))
    if as_json:
        print_json({**info.to_json(), "key": key})
        return
    console.print(f"key [bold]{info.id}[/bold] ({scope}: {', '.join(info.kbs)}), shown only now:")
    sys.stdout.write(key + "\n")


@keys_app.command("list")
def keys_list(as_json: JsonFlag = False) -> None:
    """List keys: ids, scopes and knowledge bases (never the keys themselves)."""
    with on_data() as services:
        infos = [info.to_json() for info in services.access.keys.infos()]
    if as_json:
        print_json({"keys": infos})
        return
    table = Table("id", "scope", "knowledge bases", "created", "revoked")
    for info in infos:
        table.add_row(str(info["id"]), str(info["scope"]), ", ".join(info["kbs"]),
                      str(info["created_at"]), str(info["revoked_at"] or ""))
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key: a running server refuses it from its next request."""
    with on_data() as services:
        services.access.keys.revoke(key_id)
    console.print(f"revoked key [bold]{key_id}[/bold]")


@keys_app.command("rotate-admin")
def keys_rotate_admin() -> None:
    """Make a new generated admin key (the old one stops working at once). Has no effect
    on a server started with QA_ADMIN_KEY, which uses that key."""
    with on_data(create=True) as services:
        key = services.access.keys.rotate_admin()
    console.print("new admin key, shown only now:")
    sys.stdout.write(key + "\n")


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (QA_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (QA_PORT).")] = None,
) -> None:
    """Run the HTTP API (logs: QA_LOG_LEVEL, QA_LOG_FORMAT)."""
    from qa_service.analyser_process import AnalyserProcess

    # first: the Korean analyser loads on the other core while the server starts, so the
    # first Korean question does not wait seconds for it (`qa_service.analyser_process`)
    analyser = AnalyserProcess.start()
    try:
        from qa_service.api.server import serve as run_server

        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
        settings = Settings().model_copy(update=overrides)
        with exit_on_error(settings.data_dir):
            run_server(settings, analyser)
    finally:
        analyser.close()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
