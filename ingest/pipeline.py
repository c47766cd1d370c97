"""One file into one knowledge base: hash -> skip unchanged -> parse -> prepare (chunk,
tokens, vectors: `ingest.prepare`) -> publish (`KnowledgeBase.publish`). Parse and prepare
may run on a Ray cluster (`ingest.ray_prepare`); publishing is always here.

Every file ends with a `FileOutcome` (status + a reason a person can act on); nothing here
raises for a bad document. The cost of adding a document is proportional to that
document: nothing else in the knowledge base is re-read, re-embedded or rebuilt.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.chunk import ChunkerConfig
from ingest.parse import HEADER_WINDOW, ParseResult, find_pdf_header
from ingest.parser_pool import ParserPool
from ingest.prepare import DocumentSource, prepare_document
from ingest.ray_prepare import PrepareReply, PrepareRequest, RayPreparer, WorkerDied
from qa_service.embedding import Embedder
from qa_service.lexical import LexicalIndex
from qa_service.parser_identity import DEFAULT_PARSER_IDENTITY
from qa_service.schemas import DocumentStatus, FileOutcome, PreparedDocument
from qa_service.store.knowledge_base import IndexIdentity, JobFile, KnowledgeBase

__all__ = ["IngestPipeline", "ParsedAhead", "PreparedAhead", "Progress", "file_sha256"]

Progress = Callable[[str, int], None]  # ("pages" | "chunks", how many more)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_CLAIMING = threading.Lock()  # a job's parse-ahead threads check and claim a hash together


@dataclass(frozen=True)
class ParsedAhead:
    """A file that `IngestPipeline.parse_ahead` hashed and parsed: its document id (the
    SHA-256 of its bytes), its size then, and its parse."""

    doc_id: str
    size: int
    result: ParseResult


@dataclass(frozen=True)
class PreparedAhead:
    """A file that `IngestPipeline.parse_ahead` had a Ray worker prepare (`remote`): its
    document id, its size then, and the parse's outcome with the prepared document."""

    doc_id: str
    size: int
    reply: PrepareReply


def _tell(kb: KnowledgeBase, job_file: JobFile | None, outcome: FileOutcome) -> None:
    """Record `outcome` for `job_file` when it changes nothing else in the knowledge base."""
    if job_file is not None:
        kb.finish_job_file(job_file.ended(outcome))


def _ending(job_file: JobFile | None, outcome: FileOutcome) -> JobFile | None:
    return job_file.ended(outcome) if job_file is not None else None


@dataclass
class IngestPipeline:
    parsers: ParserPool
    embedder: Embedder
    lexical: LexicalIndex
    chunker: ChunkerConfig
    max_file_bytes: int
    embed_batch_size: int = 64
    # what `parsers` read pages with (`ParserLimits.identity`), part of the pipeline version
    parser_identity: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PARSER_IDENTITY))
    # the prepare stage on a Ray cluster (`ingest.ray_prepare`): a job's files are parsed,
    # chunked and embedded there, ahead, and published here in order
    remote: RayPreparer | None = None

    @property
    def ahead_workers(self) -> int:
        """How many files a job prepares (or parses) at once, ahead of the one it publishes."""
        return self.remote.size if self.remote is not None else self.parsers.size

    def ingest_file(
        self,
        kb: KnowledgeBase,
        path: Path,
        filename: str,
        progress: Progress | None = None,
        job_file: JobFile | None = None,
        parsed: ParsedAhead | PreparedAhead | None = None,
    ) -> FileOutcome:
        """Index `path` under the display name `filename`. The outcome of `job_file` (the
        job's file this is) is recorded in the same commit as what the file changed, so a
        job stays consistent with its knowledge base.
        `parsed`: the file's hash and parse (or prepared document), when `parse_ahead`
        already made them (a file of another size since is hashed and parsed again)."""
        report = progress or (lambda _kind, _n: None)
        try:
            size = path.stat().st_size
        except OSError as exc:
            unreadable = FileOutcome(filename, DocumentStatus.FAILED,
                                     f"cannot read the file: {exc.strerror or exc}")
            _tell(kb, job_file, unreadable)
            return unreadable
        if parsed is not None and parsed.size != size:
            parsed = None
        doc_id = parsed.doc_id if parsed is not None else file_sha256(path)
        early = self._precheck(kb, path, doc_id, filename, size)
        if early is not None:
            if early.status is not DocumentStatus.UNCHANGED:
                kb.record_outcome(doc_id, filename, early.status, early.reason, size,
                                  job_file=_ending(job_file, early))
            else:
                _tell(kb, job_file, early)
            return early
        return self._index(kb, path, doc_id, filename, size, report, job_file, parsed)

    def parse_ahead(self, kb: KnowledgeBase, path: Path, claimed: set[str] | None = None,
                    filename: str | None = None) -> ParsedAhead | PreparedAhead | None:
        """Hash and parse `path` for a later `ingest_file(..., parsed=...)`: a job parses
        its next files in the parser workers while this process chunks and embeds the
        current one, which keeps both cores busy; with `remote` (Ray), a worker there also
        chunks and embeds it, under its display name `filename`. None when `ingest_file`
        would not parse the file (unreadable, too large, not a PDF, already indexed), or
        when its hash is in `claimed` (the same bytes already parsed ahead for this job; the
        hash is added otherwise): the copy is found indexed in its turn."""
        try:
            size = path.stat().st_size
        except OSError:
            return None
        doc_id = file_sha256(path)
        if self._precheck(kb, path, doc_id, path.name, size) is not None:
            return None
        if claimed is not None:
            with _CLAIMING:
                if doc_id in claimed:
                    return None
                claimed.add(doc_id)
        if self.remote is None:
            return ParsedAhead(doc_id, size, self.parsers.parse(path))
        identity = self.identity_for(kb)
        request = PrepareRequest(doc_id, filename or path.name, size, identity.chunker,
                                 identity.pipeline_version)
        try:
            reply = self.remote.prepare(path, request)
        except WorkerDied as exc:
            reply = PrepareReply(DocumentStatus.FAILED, str(exc), 0)
        return PreparedAhead(doc_id, size, reply)

    def _precheck(self, kb: KnowledgeBase, path: Path, doc_id: str, filename: str,
                  size: int) -> FileOutcome | None:
        limit_mb = self.max_file_bytes / 1_000_000
        if size > self.max_file_bytes:
            return FileOutcome(filename, DocumentStatus.TOO_LARGE,
                               f"{size / 1_000_000:.1f} MB is over the limit of {limit_mb:g} MB",
                               doc_id)
        if size == 0:
            return FileOutcome(filename, DocumentStatus.INVALID, "the file is empty", doc_id)
        with open(path, "rb") as handle:
            head = handle.read(HEADER_WINDOW)
        if find_pdf_header(head) < 0:
            return FileOutcome(filename, DocumentStatus.INVALID,
                               "not a PDF: no %PDF- header in the first 1,024 bytes", doc_id)
        existing = kb.document(doc_id)
        if existing is not None and existing.status is DocumentStatus.INDEXED:
            return FileOutcome(filename, DocumentStatus.UNCHANGED,
                               f"the same file is already indexed as '{existing.filename}'",
                               doc_id, existing.pages, existing.chunks)
        return None

    def _index(self, kb: KnowledgeBase, path: Path, doc_id: str, filename: str, size: int,
               report: Progress, job_file: JobFile | None,
               ahead: ParsedAhead | PreparedAhead | None) -> FileOutcome:
        parsed: ParseResult | PrepareReply = (
            ahead.reply if isinstance(ahead, PreparedAhead) else
            ahead.result if ahead is not None else self.parsers.parse(path))
        report("pages", parsed.page_count)
        if parsed.status is not DocumentStatus.INDEXED:
            outcome = FileOutcome(filename, parsed.status, parsed.reason, doc_id,
                                  parsed.page_count)
            kb.record_outcome(doc_id, filename, outcome.status, outcome.reason, size,
                              parsed.page_count, job_file=_ending(job_file, outcome))
            return outcome
        if isinstance(parsed, PrepareReply):
            assert parsed.document is not None  # an indexed reply carries its document
            prepared = parsed.document
            report("chunks", len(prepared.chunks))
        else:
            prepared = self.prepare(kb, DocumentSource(doc_id, filename, path, size), parsed,
                                    report)
        outcome = FileOutcome(filename, DocumentStatus.INDEXED, parsed.reason, doc_id,
                              parsed.page_count, len(prepared.chunks), parsed.ocr_pages)
        if not kb.publish(prepared, _ending(job_file, outcome)):
            unchanged = FileOutcome(filename, DocumentStatus.UNCHANGED,
                                    "the same file is already indexed", doc_id)
            _tell(kb, job_file, unchanged)
            return unchanged
        return outcome

    def identity_for(self, kb: KnowledgeBase) -> IndexIdentity:
        """What this pipeline builds `kb`'s documents with: this version's parser and lexical
        analyser, and the chunker settings `kb` was created with (a knowledge base keeps
        them, recorded in its manifest, so all its documents are chunked alike)."""
        chunker = ChunkerConfig.from_description(kb.identity.chunker)
        return IndexIdentity(self.embedder.name, self.embedder.dimension, chunker.describe(),
                             dict(self.parser_identity))

    def prepare(self, kb: KnowledgeBase, source: DocumentSource, parsed: ParseResult,
                report: Progress, rebuilt: bool = False) -> PreparedDocument:
        """An `indexed` parse of `source` -> a document ready to publish into `kb` (or, when
        `rebuilt`, to replace its indexed version: `KnowledgeBase.republish`)."""
        identity = self.identity_for(kb)
        return prepare_document(source, parsed, ChunkerConfig.from_description(identity.chunker),
                                self.embedder, self.lexical, self.embed_batch_size,
                                lambda n: report("chunks", n), identity.pipeline_version,
                                rebuilt)
