"""The data that flows through the pipeline: pages, chunks, passages, documents, jobs.

These are frozen dataclasses and plain enums: the storage layer, the retrieval layer, the
API and the CLI all speak them. The API's JSON shapes are the `to_json()` of these.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from qa_service.page_positions import PagePositions

__all__ = [
    "JOB_SUMMARY_FILENAMES",
    "Chunk",
    "DocumentInfo",
    "DocumentStatus",
    "FileOutcome",
    "JobInfo",
    "JobState",
    "JobSummary",
    "KnowledgeBaseInfo",
    "LexicalFields",
    "Page",
    "Passage",
    "PreparedDocument",
    "fields_of",
]


def fields_of(record: Any) -> dict[str, Any]:
    """A dataclass instance's fields as JSON-ready data: enums (a status) by their value."""
    return {name: value.value if isinstance(value, Enum) else value
            for name, value in asdict(record).items()}


class DocumentStatus(StrEnum):
    """How a document (or one file of an upload) ended."""

    QUEUED = "queued"
    INDEXED = "indexed"
    UNCHANGED = "unchanged"  # same bytes already indexed: nothing to do
    NO_TEXT = "no_text"  # no text layer (scanned or image-only)
    ENCRYPTED = "encrypted"  # a password is needed
    INVALID = "invalid"  # not a PDF, or broken beyond repair
    TOO_LARGE = "too_large"  # over the file-size or page-count limit
    FAILED = "failed"  # anything else; the reason says what

    @property
    def is_error(self) -> bool:
        return self in (DocumentStatus.FAILED, DocumentStatus.INVALID)


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Page:
    """The extracted text of one page. `number` is 1-based. `positions`: where each of its
    characters is drawn, when that is known (`qa_service.page_positions`)."""

    number: int
    text: str
    positions: PagePositions | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Chunk:
    """A passage of one page: `text == page.text[char_start:char_end]`. `context` (its
    document's identity and section, `ingest.context`) is matched with it, never quoted."""

    id: int
    document_id: str
    page: int
    char_start: int
    char_end: int
    text: str
    context: str = ""


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its document's display name and its fused score."""

    chunk_id: int
    document_id: str
    filename: str
    page: int
    char_start: int
    char_end: int
    text: str
    score: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DocumentInfo:
    id: str
    filename: str
    status: DocumentStatus
    reason: str
    pages: int
    chunks: int
    size_bytes: int
    created_at: str
    updated_at: str
    ocr_pages: int = 0  # pages whose text comes from OCR

    def to_json(self) -> dict[str, Any]:
        """Its fields, the id as `document_id` as everywhere else (and as `id`, its older
        name, still read by older clients)."""
        return {"document_id": self.id, **fields_of(self)}


class LexicalFields(NamedTuple):
    """A chunk's BM25 text in three fields, each its tokens joined by spaces: the document's
    identity, the chunk's section (headings and the statements they title) and the chunk's
    own text. BM25 weighs the fields (`qa_service.lexical.FIELD_WEIGHTS`): a statement's
    title names what its every row is about."""

    identity: str
    section: str
    text: str


@dataclass(frozen=True, eq=False)
class PreparedDocument:
    """One document ready to publish: everything derived from its file by the prepare stage
    (parse, chunk, tokens, vectors), which touches no knowledge base; the publish stage
    (`KnowledgeBase.publish`, one writer) makes it searchable at once.

    `vector_ids[i]` is the chunk id that `vectors[i]` belongs to. A chunk owns one vector
    per sentence (`qa_service.sentences.bounded_sentences(text, MAX_SENTENCE_CHARS)`, in
    order), then one for its `context` when it has one, added in that order
    (`ingest.embed.embed_chunks`): the extractive answerer reads the sentences' rows by
    position. `tokens[i]` is the lexical (BM25) fields of `chunks[i]`; `identity_tokens` the
    document's identity alone, which search matches a question's names against
    (`LexicalIndex.search_documents`). `pipeline_version` says what built it
    (`IndexIdentity.pipeline_version`), recorded with the document so `qa kb rebuild` knows
    what to redo."""

    info: DocumentInfo
    source: Path  # the original PDF, stored under the knowledge base by its hash
    pages: tuple[Page, ...]
    chunks: tuple[Chunk, ...]
    vector_ids: npt.NDArray[np.int64]
    vectors: npt.NDArray[np.float32]
    tokens: tuple[LexicalFields, ...]
    identity_tokens: str = ""
    pipeline_version: str = ""

    @property
    def chunk_ids(self) -> set[int]:
        return {c.id for c in self.chunks}


@dataclass(frozen=True)
class KnowledgeBaseInfo:
    name: str
    documents: int
    chunks: int
    embedding_model: str
    dimension: int
    created_at: str
    rebuild_needed: bool = False  # built with an older parser or lexical analyser

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file of an ingestion job."""

    filename: str
    status: DocumentStatus
    reason: str = ""
    document_id: str | None = None
    pages: int = 0
    chunks: int = 0
    ocr_pages: int = 0  # pages whose text comes from OCR

    def to_json(self) -> dict[str, Any]:
        return fields_of(self)


JOB_SUMMARY_FILENAMES = 10  # how many of a job's file names its summary shows


@dataclass(frozen=True)
class JobSummary:
    """An ingestion job without its files' outcomes: what a list of jobs shows.

    `files_by_status` counts the files by status (`queued` for those not done yet);
    `filenames` are the first `JOB_SUMMARY_FILENAMES` files' names, in upload order;
    `ocr_pages` the pages read by OCR in the files done so far."""

    id: str
    state: JobState
    files_total: int
    files_done: int
    pages_parsed: int
    chunks_embedded: int
    created_at: str
    updated_at: str
    error: str = ""
    ocr_pages: int = 0
    files_by_status: dict[str, int] = field(default_factory=dict)
    filenames: tuple[str, ...] = ()

    @property
    def finished_at(self) -> str | None:
        """When it ended (done or failed); None while queued or running."""
        return self.updated_at if self.state in (JobState.DONE, JobState.FAILED) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.id,
            "state": self.state.value,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "finished_at": self.finished_at,
            "error": self.error,
            "progress": {
                "files_done": self.files_done,
                "files_total": self.files_total,
                "pages_parsed": self.pages_parsed,
                "chunks_embedded": self.chunks_embedded,
                "ocr_pages": self.ocr_pages,
            },
            "files_by_status": dict(self.files_by_status),
            "filenames": list(self.filenames),
            # the progress counters at the top level too, as before `progress` existed
            "files_total": self.files_total,
            "files_done": self.files_done,
            "pages_parsed": self.pages_parsed,
            "chunks_embedded": self.chunks_embedded,
        }


@dataclass(frozen=True)
class JobInfo:
    id: str
    state: JobState
    files_total: int
    files_done: int
    pages_parsed: int
    chunks_embedded: int
    created_at: str
    updated_at: str
    error: str = ""
    files: list[FileOutcome] = field(default_factory=list)

    def summary(self) -> JobSummary:
        return JobSummary(
            id=self.id, state=self.state, files_total=self.files_total,
            files_done=self.files_done, pages_parsed=self.pages_parsed,
            chunks_embedded=self.chunks_embedded, created_at=self.created_at,
            updated_at=self.updated_at, error=self.error,
            ocr_pages=sum(f.ocr_pages for f in self.files),
            files_by_status=dict(sorted(Counter(f.status.value for f in self.files).items())),
            filenames=tuple(f.filename for f in self.files[:JOB_SUMMARY_FILENAMES]))

    def to_json(self) -> dict[str, Any]:
        """Its summary's JSON with every file's outcome."""
        return {**self.summary().to_json(), "files": [f.to_json() for f in self.files]}
