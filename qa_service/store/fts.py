"""BM25 postings in the catalog's SQLite database: FTS5 tables of pre-tokenized text.

`chunks_fts` holds each chunk's three fields (`LexicalFields`: its document's identity, its
section, its text; rowid = chunk id), `documents_fts` each document's identity. They are
written in the same transaction as the documents and chunks (`write_postings`,
`erase_postings`: `qa_service.store.faiss_index` calls them), so BM25 changes with a
document at a cost in proportion to it.

`Fts5Postings` reads them for `qa_service.lexical.LexicalIndex` (its `Postings`): SQLite's
FTS5 ranks with Okapi BM25 (k1 = 1.2, b = 0.75), counting a term's occurrences in each
field at that field's weight (`FIELD_WEIGHTS`) and normalizing by the chunk's whole length.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from qa_service.lexical import FIELD_WEIGHTS
from qa_service.schemas import Chunk, LexicalFields
from qa_service.store.catalog import Catalog

__all__ = ["Fts5Postings", "create_postings", "erase_postings", "write_postings"]

# the BM25 postings of each chunk's `LexicalFields`, rowid = chunk id
_CHUNKS_FTS = ("VIRTUAL TABLE {exists}chunks_fts USING fts5(identity, section, tokens, "
               "tokenize = 'unicode61 remove_diacritics 0')")
_DOCUMENTS_FTS = ("VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5("
                  "document_id UNINDEXED, tokens, tokenize = 'unicode61 remove_diacritics 0')")
_RANK = "bm25(chunks_fts, " + ", ".join(str(w) for w in FIELD_WEIGHTS) + ")"


def _match(terms: Sequence[str]) -> str:
    """The FTS5 query matching any of `terms`, each quoted (never read as FTS5 syntax)."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def create_postings(conn: sqlite3.Connection) -> None:
    """Create the FTS5 tables (in the transaction `conn` holds), or bring a catalog from
    before the fields up to date: it has one FTS column of each chunk's tokens, context
    included, which becomes the text field (so search works as it did), and `qa kb
    rebuild` splits them into identity, section and text."""
    conn.execute("CREATE " + _CHUNKS_FTS.format(exists="IF NOT EXISTS "))
    conn.execute("CREATE " + _DOCUMENTS_FTS)
    if len(conn.execute("SELECT * FROM chunks_fts LIMIT 0").description) > 1:
        return
    conn.execute("ALTER TABLE chunks_fts RENAME TO chunks_fts_before_fields")
    conn.execute("CREATE " + _CHUNKS_FTS.format(exists=""))
    conn.execute("INSERT INTO chunks_fts (rowid, identity, section, tokens) "
                 "SELECT rowid, '', '', tokens FROM chunks_fts_before_fields")
    conn.execute("DROP TABLE chunks_fts_before_fields")


def write_postings(conn: sqlite3.Connection, doc_id: str, chunks: Sequence[Chunk],
                   fields: Sequence[LexicalFields], identity_tokens: str = "") -> None:
    """A document's postings: `fields[i]` of `chunks[i]`, and its identity's tokens."""
    conn.executemany(
        "INSERT INTO chunks_fts (rowid, identity, section, tokens) VALUES (?, ?, ?, ?)",
        [(c.id, *chunk_fields) for c, chunk_fields in zip(chunks, fields, strict=True)])
    if identity_tokens:
        conn.execute("INSERT INTO documents_fts (document_id, tokens) VALUES (?, ?)",
                     (doc_id, identity_tokens))


def erase_postings(conn: sqlite3.Connection, doc_ids: Sequence[str],
                   chunk_ids: Sequence[int]) -> None:
    """The postings of `doc_ids`, whose chunks are `chunk_ids`."""
    conn.executemany("DELETE FROM chunks_fts WHERE rowid = ?", [(c,) for c in chunk_ids])
    if doc_ids:
        marks = ",".join("?" * len(doc_ids))
        conn.execute(f"DELETE FROM documents_fts WHERE document_id IN ({marks})",
                     tuple(doc_ids))


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
        sql += f" ORDER BY {_RANK}, chunks_fts.rowid LIMIT ?"  # ties by id, as all indexes
        params.append(limit)
        return [(int(row[0]), float(row[1])) for row in self._conn.execute(sql, params)]

    def bm25_documents(self, terms: Sequence[str], limit: int) -> list[tuple[str, float]]:
        """(document id, BM25 score of `terms` against the document's identity), best
        first. Empty for a catalog written before identities were kept."""
        if not terms or limit <= 0:
            return []
        rows = self._conn.execute(
            "SELECT document_id, -bm25(documents_fts) FROM documents_fts WHERE documents_fts"
            " MATCH ? ORDER BY bm25(documents_fts), document_id LIMIT ?", (_match(terms), limit))
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
        return Catalog.chunk_count(self._conn)

    def indexed_terms(self) -> list[str]:
        """Every term the lexical index holds (in any field of any chunk)."""
        self._conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.indexed_terms"
                           " USING fts5vocab(main, chunks_fts, 'row')")
        return [str(row[0])
                for row in self._conn.execute(
                    "SELECT term FROM temp.indexed_terms ORDER BY term")]
