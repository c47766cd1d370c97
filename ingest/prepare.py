"""The prepare stage: a parsed document -> one `PreparedDocument` (chunks, lexical text,
vectors). Pure: it reads no knowledge base and writes nothing, so it can run anywhere (a
worker, another machine); the publish stage (`KnowledgeBase.publish`) is the one writer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ingest.chunk import ChunkerConfig, chunk_document
from ingest.context import chunk_sections, document_identity, joined_context
from ingest.embed import embed_chunks
from ingest.parse import ParseResult
from ingest.running_lines import strip_running_lines
from qa_service.embedding import Embedder
from qa_service.lexical import LexicalIndex
from qa_service.schemas import DocumentInfo, DocumentStatus, PreparedDocument
from qa_service.store.catalog import now

__all__ = ["DocumentSource", "prepare_document"]


@dataclass(frozen=True)
class DocumentSource:
    """Which file a prepared document comes from, and under what name it is shown."""

    doc_id: str  # sha256 of the bytes
    filename: str
    path: Path
    size: int


def prepare_document(
    source: DocumentSource,
    parsed: ParseResult,
    chunker: ChunkerConfig,
    embedder: Embedder,
    lexical: LexicalIndex,
    batch_size: int = 64,
    on_chunks: Callable[[int], None] | None = None,
    version: str = "",
    rebuilt: bool = False,
) -> PreparedDocument:
    """Chunk, tokenize and embed an `indexed` parse; `on_chunks(n)` hears the embedding's
    progress. `version` is the pipeline's (`IndexIdentity.pipeline_version`); the chunk ids
    of a `rebuilt` document include it (`ingest.chunk.chunk_id`)."""
    # Running headers, footers and page numbers leave the page text, which is what is
    # stored, chunked and quoted (`ingest.running_lines`).
    pages, running = strip_running_lines(parsed.pages)
    plain = chunk_document(source.doc_id, pages, chunker, version if rebuilt else "")
    # What a chunk is matched together with (`ingest.context`): a passage often never names
    # what it is about (a balance sheet's rows); users get the chunk text alone.
    identity = document_identity(source.filename, parsed.title, pages, running)
    sections = chunk_sections(pages, plain)
    chunks = [replace(chunk, context=joined_context(identity, section))
              for chunk, section in zip(plain, sections, strict=True)]
    vector_ids, vectors = embed_chunks(embedder, chunks, batch_size, on_chunks)
    tokens = lexical.chunk_fields([c.text for c in chunks], sections, identity)
    stamp = now()
    info = DocumentInfo(source.doc_id, source.filename, DocumentStatus.INDEXED, parsed.reason,
                        parsed.page_count, len(chunks), source.size, stamp, stamp,
                        parsed.ocr_pages)
    return PreparedDocument(info, source.path, tuple(pages), tuple(chunks), vector_ids,
                            vectors, tuple(tokens), tokens[0].identity if tokens else "",
                            version)
