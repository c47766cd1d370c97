"""What a question reads of a knowledge base, from one committed state
(`KnowledgeBase.snapshot`).

Retrieval reads everything through a `Snapshot`: the BM25 postings (it is the lexical
index's `Postings`) and the nearest vectors, from the knowledge base's index
(`qa_service.store.index`), and the chunks it returns as passages, from the catalog. The
catalog decides what is visible: a vector whose chunk was not committed (a writer that
died, a version being replaced) is never returned as a passage, because `passages` only
finds committed chunks.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from qa_service.schemas import DocumentStatus, Passage
from qa_service.store.catalog import Catalog
from qa_service.store.index import IndexReader

__all__ = ["Snapshot"]


class Snapshot:
    """One read transaction of a knowledge base's catalog, with its index's reads."""

    def __init__(self, catalog: Catalog, conn: sqlite3.Connection,
                 index: IndexReader) -> None:
        self._catalog = catalog
        self._conn = conn
        self._index = index

    # --- lexical: `qa_service.lexical.Postings` ---------------------------------------

    def bm25(self, terms: Sequence[str], limit: int,
             document_ids: Sequence[str] | None = None) -> list[tuple[int, float]]:
        return self._index.bm25(terms, limit, document_ids)

    def bm25_documents(self, terms: Sequence[str], limit: int) -> list[tuple[str, float]]:
        return self._index.bm25_documents(terms, limit)

    def term_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        return self._index.term_frequencies(terms)

    def chunk_count(self) -> int:
        return self._index.chunk_count()

    def indexed_terms(self) -> list[str]:
        """Every term the lexical index holds (in any field of any chunk), in byte order:
        the cross-lingual bridge samples them by position, so every index lists them
        alike."""
        return self._index.indexed_terms()

    # --- dense --------------------------------------------------------------------------

    def nearest(self, query_vector: npt.NDArray[np.float32], k: int,
                document_ids: Sequence[str] | None = None) -> list[tuple[int, float]]:
        """(chunk id, inner product) of the `k` vectors nearest to `query_vector` (one
        row), best first; only among the chunks of `document_ids` when given. An id may
        belong to no committed chunk (`passages` leaves it out)."""
        return self._index.nearest(query_vector, k, document_ids)

    def vectors_of(self, ids: Sequence[int]) -> dict[int, npt.NDArray[np.float32]]:
        """The stored vectors of each chunk among `ids` (one a sentence, in order)."""
        return self._index.vectors_of(ids)

    # --- the catalog --------------------------------------------------------------------

    def status_of(self, doc_id: str) -> DocumentStatus | None:
        return self._catalog.status_of(self._conn, doc_id)

    def passages(self, ids: set[int]) -> dict[int, Passage]:
        """The committed chunks among `ids`, as passages scored 0."""
        return self._catalog.passages(self._conn, ids)

    def document_passages(self, doc_id: str, limit: int) -> list[Passage]:
        """The first `limit` chunks of a document in reading order, as passages scored 0."""
        return self._catalog.document_passages(self._conn, doc_id, limit)

    def contexts(self, ids: Sequence[int]) -> dict[int, str]:
        """What the chunks among `ids` are matched together with (document identity and
        section): never quoted, but it says what a passage is about."""
        return self._catalog.contexts(self._conn, ids)

    def index_state(self) -> tuple[object, ...]:
        """What changes whenever a document is added, replaced or deleted."""
        return self._catalog.index_state(self._conn)
