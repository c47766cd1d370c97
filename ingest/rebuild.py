"""Rebuilding a knowledge base (`qa kb rebuild`): every indexed document parsed again from
its stored original with this version's pipeline (parser, lexical tokens and document
context, embedder; the chunker settings stay the knowledge base's), one at a time.

Each document is replaced in one commit (`KnowledgeBase.republish`): searches see its old
version, complete, until then, and the new one, complete, after. A document that does not
parse now (a lower limit, a parser that refuses it) keeps its indexed version and is
reported with the reason: a rebuild never deletes a document, nor loses the text OCR read
(a server without OCR keeps such a document as it is). Every document records the
pipeline version that built it, so a rebuild that was interrupted (Ctrl-C, a crash,
kill -9) continues where it stopped when run again, and documents ingested since with
this pipeline are left as they are. Once every document is current, the manifest records
the pipeline's identity (`KnowledgeBase.record_pipeline`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ingest.parser_pool import ParserPoolClosed
from ingest.pipeline import IngestPipeline, Progress, file_sha256
from ingest.prepare import DocumentSource
from qa_service.errors import KnowledgeBaseNotFound, QAError, describe
from qa_service.schemas import DocumentInfo, DocumentStatus, fields_of
from qa_service.store.knowledge_base import KnowledgeBase

__all__ = ["RebuildOutcome", "RebuildReport", "RebuildStatus", "rebuild_knowledge_base"]

log = logging.getLogger(__name__)


class RebuildStatus(StrEnum):
    REBUILT = "rebuilt"
    UNCHANGED = "unchanged"  # already built by this pipeline
    FAILED = "failed"  # not rebuilt: its indexed version stays searchable
    DELETED = "deleted"  # deleted while it was being rebuilt (and not brought back)


@dataclass(frozen=True)
class RebuildOutcome:
    """What the rebuild did to one document; pages and chunks are those now searchable."""

    document_id: str
    filename: str
    status: RebuildStatus
    reason: str = ""
    pages: int = 0
    chunks: int = 0

    def to_json(self) -> dict[str, Any]:
        return fields_of(self)


@dataclass(frozen=True)
class RebuildReport:
    kb: str
    documents: list[RebuildOutcome]
    identity_recorded: bool  # the manifest records this pipeline: every document is current

    def count(self, status: RebuildStatus) -> int:
        return sum(outcome.status is status for outcome in self.documents)

    def to_json(self) -> dict[str, Any]:
        return {"kb": self.kb, "identity_recorded": self.identity_recorded,
                **{status.value: self.count(status) for status in RebuildStatus},
                "documents": [outcome.to_json() for outcome in self.documents]}


def rebuild_knowledge_base(
    pipeline: IngestPipeline,
    kb: KnowledgeBase,
    on_document: Callable[[RebuildOutcome], None] | None = None,
    progress: Progress | None = None,
) -> RebuildReport:
    """Rebuild every indexed document of `kb` not yet built by `pipeline`, then record the
    pipeline in the manifest if no document is left behind. `on_document` hears each
    outcome; `progress("pages" | "chunks", n)` the work within a document."""
    report = progress or (lambda _kind, _n: None)
    identity = pipeline.identity_for(kb)
    outdated = {d.id for d in kb.outdated_documents(identity.pipeline_version)}
    outcomes = []
    for document in kb.documents():
        if document.status is not DocumentStatus.INDEXED:
            continue
        if not kb.exists():
            raise KnowledgeBaseNotFound(kb.name, "was deleted while it was being rebuilt")
        if document.id in outdated:
            outcome = _rebuild_document(pipeline, kb, document, report)
        else:
            outcome = RebuildOutcome(document.id, document.filename, RebuildStatus.UNCHANGED,
                                     "already built by this version of the pipeline",
                                     document.pages, document.chunks)
        outcomes.append(outcome)
        if on_document is not None:
            on_document(outcome)
    return RebuildReport(kb.name, outcomes, kb.record_pipeline(identity))


def _rebuild_document(pipeline: IngestPipeline, kb: KnowledgeBase, document: DocumentInfo,
                      report: Progress) -> RebuildOutcome:
    def kept(reason: str) -> RebuildOutcome:
        return RebuildOutcome(document.id, document.filename, RebuildStatus.FAILED,
                              f"{reason}; its indexed version stays searchable",
                              document.pages, document.chunks)

    path = kb.file_path(document.id)
    try:
        problem = _check_original(path, document.id, pipeline.max_file_bytes)
        if problem:
            return kept(problem)
        parsed = pipeline.parsers.parse(path)
        report("pages", parsed.page_count)
        if parsed.status is not DocumentStatus.INDEXED:
            return kept(f"{parsed.status.value}: {parsed.reason}")
        if parsed.ocr_pages < document.ocr_pages:
            return kept(f"{document.ocr_pages:,} of its pages were read by OCR, and this "
                        f"server read {parsed.ocr_pages:,} (is OCR off, or Tesseract "
                        "missing? see /health)")
        source = DocumentSource(document.id, document.filename, path, path.stat().st_size)
        prepared = pipeline.prepare(kb, source, parsed, report, rebuilt=True)
        published = kb.republish(prepared)
    except ParserPoolClosed:
        raise  # shutting down: not the document's fault
    except QAError as exc:
        return kept(exc.message)
    except Exception as exc:
        log.exception("rebuilding %s (%s) failed", document.filename, document.id)
        return kept(describe(exc))
    if published:
        return RebuildOutcome(document.id, document.filename, RebuildStatus.REBUILT,
                              parsed.reason, parsed.page_count, len(prepared.chunks))
    if kb.status_of(document.id) is DocumentStatus.INDEXED:  # another rebuild was quicker
        return RebuildOutcome(document.id, document.filename, RebuildStatus.UNCHANGED,
                              "rebuilt meanwhile by another process", document.pages,
                              document.chunks)
    return RebuildOutcome(document.id, document.filename, RebuildStatus.DELETED,
                          "deleted while it was being rebuilt")


def _check_original(path: Path, doc_id: str, max_file_bytes: int) -> str:
    """Why the stored original cannot be parsed again ('' when it can)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "its stored original PDF is missing; delete the document and ingest the file again"
    if size > max_file_bytes:
        return (f"too_large: {size / 1_000_000:.1f} MB is over the limit of "
                f"{max_file_bytes / 1_000_000:g} MB")
    if file_sha256(path) != doc_id:
        return "its stored original PDF is damaged (its bytes no longer match its id)"
    return ""
