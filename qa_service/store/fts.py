"""BM25 postings in the catalog's SQLite database: FTS5 tables of pre-tokenized text.

`chunks_fts` holds each chunk's three fields (`LexicalFields`: its document's identity, its
section, its text; rowid = chunk id), `documents_fts` each document's identity. The
catalog writes them in the same transaction as the documents and chunks
(`Catalog.insert_indexed`), so BM25 changes with a document at a cost in proportion to it.

`Fts5Postings` reads them for `qa_service.lexical.LexicalIndex` (its `Postings`): SQLite's
FTS5 ranks with Okapi BM25 (k1 = 1.2, b = 0.75), counting a term's occurrences in each
field at that field's weight (`FIELD_WEIGHTS`) and normalizing by the chunk's whole length.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from qa_service.lexical import FIELD_WEIGHTS

__all__ = ["Fts5Postings"]

_RANK = "bm25(chunks_fts, " + ", ".join(str(w) for w in FIELD_WEIGHTS) + ")"


def _match(terms: Sequence[str]) -> str:
    """The FTS5 query matching any of `terms`, each quoted (never read as FTS5 syntax)."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


class Fts5Postings:
    """The postings of one catalog connection, read as one snapshot of it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def bm25(self, terms: Sequence[str], limit: int,
             document_ids: Sequence[str] | None = None) -> list[tuple[int, float]]:
        """(chunk id, BM25 score; higher is better) of the chunks holding any of `terms`
        (only those of `document_ids` when given), best first."""
        if not terms or limit <= 0:
            return []
        sql = f"SELECT chunks_fts.rowid, -{_RANK} AS score FROM chunks_fts"
        params: list[object] = [_match(terms)]
        if document_ids is not None:
            # a join, not `rowid IN (...)`: FTS5 would evaluate the query once per rowid
            # (measured: a question naming a company searched within its 39 copies' chunks
            # in a 100k-chunk knowledge base took seconds)
            marks = ",".join("?" * len(document_ids))
            sql += (" JOIN chunks ON chunks.id = chunks_fts.rowid WHERE chunks_fts MATCH ?"
                    f" AND chunks.document_id IN ({marks})")
            params.extend(document_ids)
        else:
            sql += " WHERE chunks_fts MATCH ?"
        sql += f" ORDER BY {_RANK} LIMIT ?"
        params.append(limit)
        return [(int(row[0]), float(row[1])) for row in self._conn.execute(sql, params)]

    def bm25_documents(self, terms: Sequence[str], limit: int) -> list[tuple[str, float]]:
        """(document id, BM25 score of `terms` against the document's identity), best
        first. Empty for a catalog written before identities were kept."""
        if not terms or limit <= 0:
            return []
        rows = self._conn.execute(
            "SELECT document_id, -bm25(documents_fts) FROM documents_fts WHERE documents_fts"
            " MATCH ? ORDER BY bm25(documents_fts) LIMIT ?", (_match(terms), limit))
        return [(str(row[0]), float(row[1])) for row in rows]

    def term_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks hold each of `terms` that any chunk holds."""
        self._conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_vocab "
                           "USING fts5vocab(main, chunks_fts, 'row')")
        found: dict[str, int] = {}
        for start in range(0, len(terms), 500):
            batch = list(terms[start:start + 500])
            marks = ",".join("?" * len(batch))
            for term, count in self._conn.execute(
                    f"SELECT term, doc FROM temp.chunks_vocab WHERE term IN ({marks})", batch):
                found[str(term)] = int(count)
        return found

    def chunk_count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM chunks").fetchone()[0])
