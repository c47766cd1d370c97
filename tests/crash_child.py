"""Crash-test helpers: a light ingestion pipeline, fault injection at each step of the
publishing protocol, and a child process that runs an ingestion job.

    python -m tests.crash_child DATA_DIR KB JOB_ID [--exit-at STEP]

The child runs the queued job `JOB_ID` of knowledge base `KB` and reports on stdout, one
flushed JSON line each: {"event": "ready"} before the job starts, {"event": "publishing",
"filename": ...} before each publish, {"event": "ack", "filename", "status", "document_id"}
once a file's outcome is committed (for an indexed file: after its publish returned), and
{"event": "done"}. With `--exit-at STEP` it calls `os._exit(EXIT_CODE)` the first time
the publishing protocol reaches STEP (see `STEPS`), as a crash at that point would.

The pipeline is the real one with two light parts: PDFs are parsed in-process (no worker
process to start) and embedded by the deterministic `HashEmbedder`, so a child is fast.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from ingest.chunk import ChunkerConfig
from ingest.jobs import run_job
from ingest.parse import ParseResult, parse_pdf
from ingest.pipeline import IngestPipeline
from qa_service.lexical import LexicalIndex
from qa_service.schemas import FileOutcome
from qa_service.store import atomic
from qa_service.store.catalog import Catalog
from qa_service.store.knowledge_base import IndexIdentity, KnowledgeBase
from qa_service.store.registry import KnowledgeBaseRegistry
from qa_service.tokens import Tokenizer
from tests.fakes import HashEmbedder

__all__ = ["EXIT_CODE", "STEPS", "Fault", "embedder", "exit_at", "identity", "inject",
           "light_pipeline", "raise_at"]

EXIT_CODE = 86
# Wide enough that a probe's private words rarely share a hash bucket with the few words of
# another document's context vector (its file name): at 256 two of four did, by chance.
DIMENSION = 1024
TARGETS = ("pdf", "segment", "manifest")  # the original PDF, a vector segment, its manifest
STEPS = (
    *(f"{target}-{op}" for target in TARGETS for op in ("write", "fsync", "rename", "dir-fsync")),
    "catalog-commit",  # the SQLite COMMIT that makes the document visible
    "after-commit",  # the clean-up that follows it (old versions' vectors and files)
)


def embedder() -> HashEmbedder:
    return HashEmbedder(dimension=DIMENSION)


def identity() -> IndexIdentity:
    model = embedder()
    return IndexIdentity(model.name, model.dimension, ChunkerConfig().describe())


class InlineParser:
    """The parser pool's interface, parsing in this process (a worker costs a second)."""

    size = 1

    def parse(self, path: Path) -> ParseResult:
        return parse_pdf(path.read_bytes(), max_pages=50)


def light_pipeline(lexical: LexicalIndex | None = None) -> IngestPipeline:
    return IngestPipeline(parsers=InlineParser(), embedder=embedder(),  # type: ignore[arg-type]
                          lexical=lexical or LexicalIndex(Tokenizer()),
                          chunker=ChunkerConfig(), max_file_bytes=10_000_000)


# --- fault injection -------------------------------------------------------------------


@dataclass
class Fault:
    """What happens the first time the protocol reaches `step`: `action(step)`."""

    step: str
    action: Callable[[str], None]
    fired: bool = False
    last_written: str | None = None  # the target of the file being written
    last_renamed: str | None = None  # the target of the latest rename
    publishing: bool = False  # inside the transaction that publishes a document

    def reach(self, step: str) -> None:
        if step == self.step and not self.fired:
            self.fired = True
            self.action(step)


def raise_at(step: str) -> None:
    """An in-process failure, of the type the real step would raise."""
    if step == "catalog-commit":
        raise sqlite3.OperationalError(f"disk I/O error (injected at {step})")
    raise OSError(errno.EIO, f"injected fault at {step}")


def exit_at(_step: str) -> None:
    os._exit(EXIT_CODE)


def target_of(path: Path) -> str | None:
    """Which protocol file `path` (or its temporary ".<name>.<hex>.tmp") belongs to."""
    name = path.name
    if name.startswith(".") and name.endswith(".tmp"):
        name = name[1:].rsplit(".", 2)[0]
    if name.endswith(".pdf") and path.parent.parent.name == "files":
        return "pdf"
    if name.startswith("seg-") and name.endswith(".faiss"):
        return "segment"
    if name == "manifest.json" and path.parent.name.startswith("vectors"):
        return "manifest"
    return None


class _TornFile:
    """A file being written that stops (fails, or the process exits) half-way."""

    def __init__(self, handle: Any, fault: Fault, step: str) -> None:
        self._handle, self._fault, self._step = handle, fault, step

    def __enter__(self) -> _TornFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._handle.close()

    def write(self, data: bytes) -> int:
        written: int = self._handle.write(data[: len(data) // 2])
        self._handle.flush()
        self._fault.reach(self._step)
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


class _OsWithFaults:
    """`os` as `qa_service.store.atomic` sees it, with fsync and replace watched."""

    def __init__(self, fault: Fault) -> None:
        self._fault = fault

    def fsync(self, fd: int) -> None:
        if self._fault.last_written is not None:  # the file just written, not a folder
            written, self._fault.last_written = self._fault.last_written, None
            self._fault.reach(f"{written}-fsync")
        os.fsync(fd)

    def replace(self, source: Any, target: Any) -> None:
        kind = target_of(Path(target))
        self._fault.last_renamed = kind
        if kind is not None:
            self._fault.reach(f"{kind}-rename")
        os.replace(source, target)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


class _CommitTrap:
    """A catalog connection whose COMMIT of a publishing transaction reaches the fault."""

    def __init__(self, conn: sqlite3.Connection, fault: Fault) -> None:
        self._conn, self._fault = conn, fault

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT" and self._fault.publishing:
            self._fault.publishing = False
            self._fault.reach("catalog-commit")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@contextmanager
def inject(step: str, action: Callable[[str], None]) -> Iterator[Fault]:
    """Within the block, the publishing protocol calls `action(step)` at `step`."""
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r}; one of {', '.join(STEPS)}")
    fault = Fault(step, action)
    real_open, real_dir_fsync = open, atomic.fsync_directory
    real_connection, real_insert = Catalog.connection, Catalog.insert_indexed
    real_forget = KnowledgeBase._forget

    def watched_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        kind = target_of(Path(file)) if "w" in mode else None
        fault.last_written = kind
        handle = real_open(file, mode, *args, **kwargs)
        if kind is not None and fault.step == f"{kind}-write" and not fault.fired:
            return _TornFile(handle, fault, fault.step)
        return handle

    def watched_dir_fsync(path: Path) -> None:
        if fault.last_renamed is not None:
            fault.reach(f"{fault.last_renamed}-dir-fsync")
        real_dir_fsync(path)

    def trapped_connection(catalog: Catalog) -> Any:
        return _CommitTrap(real_connection(catalog), fault)

    def watched_insert(catalog: Catalog, conn: Any, *args: Any, **kwargs: Any) -> None:
        fault.publishing = True
        real_insert(catalog, conn, *args, **kwargs)

    def watched_forget(kb: KnowledgeBase, *args: Any, **kwargs: Any) -> None:
        fault.reach("after-commit")
        real_forget(kb, *args, **kwargs)

    with ExitStack() as stack:
        for owner, name, value in (
            (atomic, "open", watched_open), (atomic, "os", _OsWithFaults(fault)),
            (atomic, "fsync_directory", watched_dir_fsync),
            (Catalog, "connection", trapped_connection),
            (Catalog, "insert_indexed", watched_insert),
            (KnowledgeBase, "_forget", watched_forget),
        ):
            stack.enter_context(mock.patch.object(owner, name, value, create=name == "open"))
        yield fault


# --- the child process -----------------------------------------------------------------


def say(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def _announce_publishing(kb: KnowledgeBase) -> None:
    publish = kb.publish

    def announced(document: Any, *args: Any, **kwargs: Any) -> bool:
        say("publishing", filename=document.info.filename)
        return publish(document, *args, **kwargs)

    kb.publish = announced  # type: ignore[method-assign]


def _acknowledge(outcome: FileOutcome) -> None:
    say("ack", filename=outcome.filename, status=outcome.status.value,
        document_id=outcome.document_id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.crash_child")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("kb")
    parser.add_argument("job_id")
    parser.add_argument("--exit-at", choices=STEPS)
    args = parser.parse_args(argv)
    registry = KnowledgeBaseRegistry(args.data_dir)
    kb = registry.open(args.kb)
    pipeline = light_pipeline()
    _announce_publishing(kb)
    with inject(args.exit_at, exit_at) if args.exit_at else nullcontext():
        say("ready")
        run_job(pipeline, kb, args.job_id, on_file=_acknowledge)
    say("done")
    registry.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
