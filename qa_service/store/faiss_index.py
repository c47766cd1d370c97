"""The default index (`QA_INDEX=faiss`): dense vectors in FAISS segments on local disk
(`qa_service.store.faiss_store`), BM25 postings in FTS5 tables of the catalog's own
database (`qa_service.store.fts`). Nothing leaves the machine, and the postings change in
the same transaction as the chunks they index.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa_service.schemas import Chunk, PreparedDocument
from qa_service.store.approximate import ApproximateSettings, BuiltIndex
from qa_service.store.catalog import Catalog
from qa_service.store.faiss_store import FaissSegmentStore
from qa_service.store.fts import Fts5Postings, create_postings, erase_postings, write_postings
from qa_service.store.index import IdArray, Vectors

__all__ = ["FaissBackend", "FaissIndex", "FaissReader"]


class FaissReader(Fts5Postings):
    """Reads of one catalog snapshot: BM25 from its FTS5 tables, vectors from the store."""

    def __init__(self, conn: sqlite3.Connection, store: FaissSegmentStore) -> None:
        super().__init__(conn)
        self._store = store

    def nearest(self, query_vector: Vectors, k: int,
                document_ids: Sequence[str] | None = None) -> list[tuple[int, float]]:
        allowed = (None if document_ids is None else
                   np.asarray(Catalog.chunk_ids_of(self._conn, document_ids), dtype=np.int64))
        return self._store.search(query_vector, k, allowed)[0]

    def vectors_of(self, ids: Sequence[int]) -> dict[int, Vectors]:
        return self._store.vectors_of(np.asarray(ids, dtype=np.int64))


class FaissIndex:
    """A knowledge base's `ChunkIndex` on FAISS and FTS5."""

    def __init__(self, store: FaissSegmentStore) -> None:
        self.store = store

    def add(self, document: PreparedDocument) -> None:
        self.store.add(document.vector_ids, document.vectors)

    def add_vectors(self, chunks: Sequence[Chunk], ids: IdArray, vectors: Vectors) -> None:
        del chunks  # a vector's id is all the store keeps
        self.store.add(ids, vectors)

    def write(self, conn: sqlite3.Connection, document: PreparedDocument) -> None:
        write_postings(conn, document.info.id, document.chunks, document.tokens,
                       document.identity_tokens)

    def erase(self, conn: sqlite3.Connection, doc_ids: Sequence[str],
              chunk_ids: Sequence[int]) -> None:
        erase_postings(conn, doc_ids, chunk_ids)

    def forget(self, chunk_ids: IdArray, document_ids: Sequence[str]) -> None:
        del document_ids  # their postings went with the catalog transaction
        self.store.remove(chunk_ids)

    def collect_garbage(self, live_ids: IdArray, live_documents: Collection[str]) -> None:
        del live_documents
        self.store.remove_orphans()
        self.store.remove(np.setdiff1d(self.store.ids(), live_ids))

    def needs_compaction(self) -> bool:
        return self.store.needs_compaction()

    def compact(self, live: Callable[[IdArray], npt.NDArray[np.bool_]]) -> None:
        self.store.compact(live)

    def reader(self, conn: sqlite3.Connection) -> FaissReader:
        return FaissReader(conn, self.store)

    def approximate_due(self) -> bool:
        return self.store.approximate_due()

    def build_approximate(self) -> BuiltIndex:
        return self.store.build_approximate()

    def publish_approximate(self, built: BuiltIndex) -> None:
        self.store.publish_approximate(built)

    def discard(self, built: BuiltIndex) -> None:
        (self.store.folder / built.file).unlink(missing_ok=True)

    def close(self) -> None:
        self.store.close()

    def destroy_vectors(self) -> None:
        self.store.close()
        shutil.rmtree(self.store.folder, ignore_errors=True)


class FaissBackend:
    """Opens `FaissIndex`es; `approximate`: when and how they use an approximate index."""

    name = "faiss"

    def __init__(self, approximate: ApproximateSettings | None = None) -> None:
        self.approximate = approximate or ApproximateSettings()

    def initialize(self, conn: sqlite3.Connection) -> None:
        create_postings(conn)

    def open(self, root: Path, manifest: Mapping[str, Any], dimension: int,
             vectors_folder: str) -> FaissIndex:
        del manifest  # everything it needs is in its folder
        return FaissIndex(FaissSegmentStore(root / vectors_folder, dimension,
                                            self.approximate))

    def remove(self, manifest: Mapping[str, Any]) -> None:
        del manifest  # everything it keeps is in the knowledge base's folder

    def close(self) -> None:
        """Nothing held beyond each index's files."""
