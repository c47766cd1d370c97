"""The prepare stage: a parsed document -> one `PreparedDocument` (chunks, lexical text,
vectors). Pure: it reads no knowledge base and writes nothing, so it can run anywhere (a
worker, another machine); the publish stage (`KnowledgeBase.publish`) is the one writer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ingest.chunk import ChunkerConfig, chunk_document
from ingest.context import chunk_contexts, document_identity
from ingest.embed import embed_chunks
from ingest.parse import ParseResult
from qa_service.embedding import Embedder
from qa_service.lexical import LexicalIndex
from qa_service.schemas import DocumentInfo, DocumentStatus, PreparedDocument
from qa_service.store.catalog import now

__all__ = ["DocumentSource", "indexed_text", "prepare_document"]


@dataclass(frozen=True)
class DocumentSource:
    """Which file a prepared document comes from, and under what name it is shown."""

    doc_id: str  # sha256 of the bytes
    filename: str
    path: Path
    size: int


def indexed_text(context: str, text: str) -> str:
    """What BM25 sees for a chunk: its context (`ingest.context`), then the chunk.

    A passage often never names what it is about ("It began in October...", a balance
    sheet's rows); the context puts it back. Users get the chunk text alone.
    """
    return f"{context}\n{text}" if context else text


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
    plain = chunk_document(source.doc_id, parsed.pages, chunker, version if rebuilt else "")
    identity = document_identity(source.filename, parsed.title, parsed.pages)
    chunks = [replace(chunk, context=context) for chunk, context
              in zip(plain, chunk_contexts(identity, parsed.pages, plain), strict=True)]
    vector_ids, vectors = embed_chunks(embedder, chunks, batch_size, on_chunks)
    tokens = lexical.document_tokens([indexed_text(c.context, c.text) for c in chunks])
    stamp = now()
    info = DocumentInfo(source.doc_id, source.filename, DocumentStatus.INDEXED, parsed.reason,
                        parsed.page_count, len(chunks), source.size, stamp, stamp)
    return PreparedDocument(info, source.path, tuple(parsed.pages), tuple(chunks), vector_ids,
                            vectors, tuple(tokens), version)
