"""The seam between a knowledge base and the engine that searches its chunks.

A knowledge base keeps its documents, pages, chunks and jobs in its catalog (SQLite) and
its original files on disk; its chunks' dense vectors and BM25 postings live in a
`ChunkIndex`, which an `IndexBackend` opens for it. The backend is chosen once, by the
composition root (`qa_service.services`), and passed down through the registry.

Writing follows the knowledge base's publishing protocol (`qa_service.store.knowledge_base`),
and the catalog decides what is visible:
1. before the catalog commits a document, `add` stores its vectors (and any postings kept
   outside the catalog) durably: they are invisible garbage until that commit;
2. inside the commit's transaction, `write` adds what the index keeps in the catalog's own
   database (and `erase` removes it for documents deleted or replaced);
3. after the commit, `forget` drops what no committed chunk refers to any more; a writer
   that died before doing so leaves garbage that `collect_garbage(live ids)` removes.

A question reads through an `IndexReader` bound to the catalog's read transaction
(`reader(conn)`): its BM25 (the lexical index's `Postings`), its nearest vectors and the
stored vectors of chunks. The contract tests (`qa_service.testing.index_contract`) run
against every backend: FAISS and FTS5 (`qa_service.store.faiss_index`, the default) and
Milvus (`qa_service.store.milvus_index`, `QA_INDEX=milvus`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from qa_service.schemas import Chunk, PreparedDocument

__all__ = ["ChunkIndex", "IndexBackend", "IndexReader"]

IdArray = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]


class IndexReader(Protocol):
    """What a question reads of a knowledge base's index, within one catalog snapshot."""

    def bm25(self, terms: Sequence[str], limit: int,
             document_ids: Sequence[str] | None = None) -> list[tuple[int, float]]:
        """(chunk id, BM25 score; higher is better) of the chunks holding any of `terms`
        (only those of `document_ids` when given), best first."""
        ...

    def bm25_documents(self, terms: Sequence[str], limit: int) -> list[tuple[str, float]]:
        """(document id, BM25 score of `terms` against the document's identity), best
        first."""
        ...

    def term_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks hold each of `terms` that any chunk holds."""
        ...

    def chunk_count(self) -> int:
        """How many chunks are searchable."""
        ...

    def indexed_terms(self) -> list[str]:
        """Every term the lexical index holds (in any field of any chunk), in byte order
        (`Snapshot.indexed_terms`)."""
        ...

    def nearest(self, query_vector: Vectors, k: int,
                document_ids: Sequence[str] | None = None) -> list[tuple[int, float]]:
        """(chunk id, inner product) of the `k` stored vectors nearest to `query_vector`
        (one row), best first, only among the chunks of `document_ids` when given. An id
        may belong to no committed chunk: the catalog leaves it out."""
        ...

    def vectors_of(self, ids: Sequence[int]) -> dict[int, Vectors]:
        """The stored vectors of each chunk among `ids` (one a sentence, in order)."""
        ...


class ChunkIndex(Protocol):
    """One knowledge base's dense vectors and BM25 postings (see the module)."""

    def add(self, document: PreparedDocument) -> None:
        """Step 1: store `document`'s vectors (and postings kept outside the catalog)."""
        ...

    def add_vectors(self, chunks: Sequence[Chunk], ids: IdArray, vectors: Vectors) -> None:
        """Store vectors alone (re-embedding: `KnowledgeBase.replace_vectors`): `vectors[i]`
        belongs to chunk `ids[i]`, one of `chunks`."""
        ...

    def write(self, conn: sqlite3.Connection, document: PreparedDocument) -> None:
        """Step 2, inside the catalog transaction that commits `document`."""
        ...

    def erase(self, conn: sqlite3.Connection, doc_ids: Sequence[str],
              chunk_ids: Sequence[int]) -> None:
        """Step 2 for documents deleted (or replaced) in the catalog transaction."""
        ...

    def forget(self, chunk_ids: IdArray, document_ids: Sequence[str]) -> None:
        """Step 3: drop what the index holds of chunks (and documents) no longer committed."""
        ...

    def collect_garbage(self, live_ids: IdArray, live_documents: Collection[str]) -> None:
        """Remove everything of chunks not among `live_ids` and of documents not among
        `live_documents` (the indexed ones): a writer died mid-way."""
        ...

    def needs_compaction(self) -> bool: ...

    def compact(self, live: Callable[[IdArray], npt.NDArray[np.bool_]]) -> None:
        """Tidy the index (the default one merges segments); what it rewrites keeps only
        chunks that `live(ids)` says are committed."""
        ...

    def reader(self, conn: sqlite3.Connection) -> IndexReader:
        """Reads bound to the catalog's read transaction `conn`."""
        ...

    def approximate_due(self) -> bool:
        """Whether an approximate vector index should be built now (`build_approximate`)."""
        ...

    def build_approximate(self) -> Any:
        """Build it, reading without any lock; `publish_approximate` or `discard` it."""
        ...

    def publish_approximate(self, built: Any) -> None:
        """Make a built index the one searched (under the knowledge base's write lock)."""
        ...

    def discard(self, built: Any) -> None:
        """Drop a built index that was not published."""
        ...

    def close(self) -> None: ...

    def destroy_vectors(self) -> None:
        """Close it and delete its vectors, which `qa kb reindex` replaced (postings
        stay: they do not depend on the embedding model)."""
        ...


class IndexBackend(Protocol):
    """Opens knowledge bases' indexes on one engine (`QA_INDEX`)."""

    name: str

    def initialize(self, conn: sqlite3.Connection) -> None:
        """Create (or bring up to date) what the index keeps in a catalog's database, in
        the transaction `conn` holds."""
        ...

    def open(self, root: Path, manifest: Mapping[str, Any], dimension: int,
             vectors_folder: str) -> ChunkIndex:
        """The index of the knowledge base in `root` (its `manifest`), its vectors in
        `vectors_folder` (a new folder gives a new, empty index)."""
        ...

    def remove(self, manifest: Mapping[str, Any]) -> None:
        """Delete what the index keeps outside the knowledge base's folder (the registry
        deleted the knowledge base that `manifest` describes, and removes the folder)."""
        ...

    def close(self) -> None:
        """Release connections (the registry closes)."""
        ...
