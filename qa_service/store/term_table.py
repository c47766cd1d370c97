"""BM25 as sparse vectors: the term statistics an index outside SQLite needs, kept in the
catalog (`QA_INDEX=milvus`: `qa_service.store.milvus_index`).

An engine that searches sparse vectors by inner product ranks chunks by BM25 when each
chunk's vector holds, for each of its terms, BM25's saturated term frequency, and the
question's vector each term's IDF (k1 = 1.2, b = 0.75, the fields weighed by
`FIELD_WEIGHTS`, as SQLite's FTS5 ranks for the default index: `qa_service.store.fts`).
The terms are ours (`qa_service.lexical`: Kiwi morphemes, English stems), never the
engine's analyzer's.

IDF changes with every document, so it is computed per question from the counts here:
- `lexical_terms`: each term's id (its sparse dimension), how many committed chunks hold
  it and how many documents' identities;
- `lexical_chunks` / `lexical_documents`: each chunk's (document identity's) length and
  term ids, so a delete takes back exactly what its write counted;
- `lexical_totals`: how many chunks and identities there are, and their summed lengths.
They change in the catalog transaction that commits or deletes the chunks (`write`,
`erase`), so the counts always describe exactly the committed chunks.

A chunk's saturated frequencies in the engine use the average length at the time it was
written, which drifts as documents come and go; so the engine's best hits are only
candidates. `rescored` scores them again exactly as FTS5 does (each row's weighed term
frequencies are kept beside its term ids, and today's average length is in
`lexical_totals`), and `ranked` orders them as the default index does: best first, equal
scores by key. A search asks the engine for `candidates(limit)` hits, so the exact best
`limit` are among them unless the average drifted far more than it does. Rows written before
the frequencies were kept keep the engine's score until `qa kb rebuild`.
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qa_service.lexical import FIELD_WEIGHTS
from qa_service.schemas import LexicalFields

__all__ = ["K1", "B", "SparseRow", "TermTable", "candidates", "ranked"]

K1 = 1.2
B = 0.75
_BATCH = 500
# FTS5 floors an IDF at this (a term in more than half the chunks still counts a little)
_MIN_IDF = 1e-6

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS lexical_terms (id INTEGER PRIMARY KEY, term TEXT NOT NULL "
    "UNIQUE, chunks INTEGER NOT NULL DEFAULT 0, documents INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS lexical_chunks (chunk_id INTEGER PRIMARY KEY, "
    "length INTEGER NOT NULL, terms BLOB NOT NULL, frequencies BLOB)",
    "CREATE TABLE IF NOT EXISTS lexical_documents (document_id TEXT PRIMARY KEY, "
    "length INTEGER NOT NULL, terms BLOB NOT NULL, frequencies BLOB)",
    "CREATE TABLE IF NOT EXISTS lexical_totals (id INTEGER PRIMARY KEY CHECK (id = 0), "
    "chunks INTEGER NOT NULL, chunk_length INTEGER NOT NULL, documents INTEGER NOT NULL, "
    "document_length INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO lexical_totals VALUES (0, 0, 0, 0, 0)",
)


@dataclass(frozen=True)
class SparseRow:
    """One chunk's (or one document identity's) sparse BM25 vector: term id -> saturated
    term frequency."""

    key: int | str
    weights: dict[int, float]


# (table, key column, its count and summed length in lexical_totals)
_CHUNKS = ("lexical_chunks", "chunk_id", "chunks", "chunk_length")
_DOCUMENTS = ("lexical_documents", "document_id", "documents", "document_length")


def candidates(limit: int) -> int:
    """How many of the engine's hits to score again for the best `limit` (see the module)."""
    return 2 * limit + 10


def ranked(hits: Iterable[tuple[Any, float]]) -> list[tuple[Any, float]]:
    """`hits` best first, equal scores by key (the default index's order)."""
    return sorted(hits, key=lambda hit: (-hit[1], hit[0]))


def _packed(weighed: Mapping[int, float]) -> tuple[bytes, bytes]:
    """(term ids sorted, their weighed frequencies in that order) as stored."""
    ids = sorted(weighed)
    return (np.asarray(ids, dtype="<i4").tobytes(),
            np.asarray([weighed[i] for i in ids], dtype="<f4").tobytes())


def _unpack(blob: bytes) -> list[int]:
    return [int(i) for i in np.frombuffer(blob, dtype="<i4")]


def _saturated(frequency: float, length: int, average: float) -> float:
    return frequency * (K1 + 1) / (frequency + K1 * (1 - B + B * length / average))


def _idf(total: int, holding: int) -> float:
    return max(math.log((total - holding + 0.5) / (holding + 0.5)), _MIN_IDF)


class TermTable:
    """The term statistics of one catalog (see the module); every method works in the
    transaction (or snapshot) `conn` holds."""

    @staticmethod
    def create(conn: sqlite3.Connection) -> None:
        for statement in _SCHEMA:
            conn.execute(statement)
        for table, *_ in (_CHUNKS, _DOCUMENTS):  # tables from before the frequencies
            columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if "frequencies" not in columns:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN frequencies BLOB")

    # --- writing --------------------------------------------------------------------------

    @staticmethod
    def _term_ids(conn: sqlite3.Connection, terms: Sequence[str]) -> dict[str, int]:
        conn.executemany("INSERT OR IGNORE INTO lexical_terms (term) VALUES (?)",
                         [(t,) for t in terms])
        found: dict[str, int] = {}
        for start in range(0, len(terms), _BATCH):
            batch = list(terms[start:start + _BATCH])
            marks = ",".join("?" * len(batch))
            found.update((str(t), int(i)) for t, i in conn.execute(
                f"SELECT term, id FROM lexical_terms WHERE term IN ({marks})", batch))
        return found

    @staticmethod
    def write(conn: sqlite3.Connection, document_id: str, chunk_ids: Sequence[int],
              fields: Sequence[LexicalFields], identity_tokens: str
              ) -> tuple[list[SparseRow], SparseRow | None]:
        """Count a document's chunks (`fields[i]` of `chunk_ids[i]`) and identity; their
        sparse vectors (the identity's: None when it has no tokens)."""
        weighed: list[tuple[int, dict[str, float], int]] = []
        for chunk_id, chunk_fields in zip(chunk_ids, fields, strict=True):
            frequencies: dict[str, float] = {}
            length = 0
            for weight, text in zip(FIELD_WEIGHTS, chunk_fields, strict=True):
                tokens = text.split()
                length += len(tokens)
                for token in tokens:
                    frequencies[token] = frequencies.get(token, 0.0) + weight
            weighed.append((chunk_id, frequencies, length))
        identity = Counter(identity_tokens.split())
        vocabulary = sorted({t for _, f, _ in weighed for t in f} | set(identity))
        ids = TermTable._term_ids(conn, vocabulary)
        holding = Counter(t for _, f, _ in weighed for t in f)
        conn.executemany("UPDATE lexical_terms SET chunks = chunks + ? WHERE id = ?",
                         [(n, ids[t]) for t, n in holding.items()])
        conn.executemany(
            "INSERT OR REPLACE INTO lexical_chunks (chunk_id, length, terms, frequencies) "
            "VALUES (?, ?, ?, ?)",
            [(c, length, *_packed({ids[t]: n for t, n in f.items()}))
             for c, f, length in weighed])
        chunks, chunk_length, documents, document_length = conn.execute(
            "SELECT chunks, chunk_length, documents, document_length FROM lexical_totals"
        ).fetchone()
        chunks += len(weighed)
        chunk_length += sum(length for _, _, length in weighed)
        average = chunk_length / chunks if chunks else 1.0
        rows = [SparseRow(c, {ids[t]: _saturated(n, length, average or 1.0)
                              for t, n in f.items()}) for c, f, length in weighed]
        document_row = None
        if identity:
            length = sum(identity.values())
            documents += 1
            document_length += length
            conn.executemany("UPDATE lexical_terms SET documents = documents + 1 WHERE id = ?",
                             [(ids[t],) for t in identity])
            conn.execute("INSERT OR REPLACE INTO lexical_documents (document_id, length, "
                         "terms, frequencies) VALUES (?, ?, ?, ?)",
                         (document_id, length,
                          *_packed({ids[t]: float(n) for t, n in identity.items()})))
            average = document_length / documents
            document_row = SparseRow(document_id, {
                ids[t]: _saturated(n, length, average) for t, n in identity.items()})
        conn.execute("UPDATE lexical_totals SET chunks = ?, chunk_length = ?, documents = ?, "
                     "document_length = ?",
                     (chunks, chunk_length, documents, document_length))
        return rows, document_row

    @staticmethod
    def erase(conn: sqlite3.Connection, document_ids: Sequence[str],
              chunk_ids: Sequence[int]) -> None:
        """Take back what `write` counted for these chunks and documents' identities."""
        for table, key, column, keys, counts in (
                ("lexical_chunks", "chunk_id", "chunks", list(chunk_ids), ("chunks",
                                                                           "chunk_length")),
                ("lexical_documents", "document_id", "documents", list(document_ids),
                 ("documents", "document_length"))):
            held: Counter[int] = Counter()
            rows = 0
            length = 0
            for start in range(0, len(keys), _BATCH):
                batch = keys[start:start + _BATCH]
                marks = ",".join("?" * len(batch))
                for row_length, blob in conn.execute(
                        f"SELECT length, terms FROM {table} WHERE {key} IN ({marks})", batch):
                    rows += 1
                    length += int(row_length)
                    held.update(_unpack(blob))
                conn.execute(f"DELETE FROM {table} WHERE {key} IN ({marks})", batch)
            if not rows:
                continue
            conn.executemany(f"UPDATE lexical_terms SET {column} = {column} - ? WHERE id = ?",
                             [(n, i) for i, n in held.items()])
            conn.execute(f"UPDATE lexical_totals SET {counts[0]} = {counts[0]} - ?, "
                         f"{counts[1]} = {counts[1]} - ?", (rows, length))

    # --- reading --------------------------------------------------------------------------

    @staticmethod
    def _held(conn: sqlite3.Connection, terms: Sequence[str], column: str
              ) -> list[tuple[str, int, int]]:
        """(term, id, how many hold it) of `terms` that any chunk (identity) holds."""
        unique = list(dict.fromkeys(terms))
        found: list[tuple[str, int, int]] = []
        for start in range(0, len(unique), _BATCH):
            batch = unique[start:start + _BATCH]
            marks = ",".join("?" * len(batch))
            found.extend((str(t), int(i), int(n)) for t, i, n in conn.execute(
                f"SELECT term, id, {column} FROM lexical_terms WHERE term IN ({marks})"
                f" AND {column} > 0", batch))
        return found

    @staticmethod
    def chunk_query(conn: sqlite3.Connection, terms: Sequence[str]) -> dict[int, float]:
        """The sparse vector of a question's `terms` against the chunks: term id -> IDF."""
        total = int(conn.execute("SELECT chunks FROM lexical_totals").fetchone()[0])
        return {i: _idf(total, n) for _, i, n in TermTable._held(conn, terms, "chunks")}

    @staticmethod
    def document_query(conn: sqlite3.Connection, terms: Sequence[str]) -> dict[int, float]:
        """The sparse vector of `terms` against the documents' identities."""
        total = int(conn.execute("SELECT documents FROM lexical_totals").fetchone()[0])
        return {i: _idf(total, n) for _, i, n in TermTable._held(conn, terms, "documents")}

    @staticmethod
    def rescored(conn: sqlite3.Connection, query: Mapping[int, float],
                 hits: Sequence[tuple[Any, float]], documents: bool = False
                 ) -> list[tuple[Any, float]]:
        """`hits` of the chunks' (with `documents`, the identities') `query` (term id ->
        IDF), each scored as FTS5 scores it today: BM25 of its weighed term frequencies at
        today's average length. A row kept without frequencies keeps its score."""
        table, key, count, summed = _DOCUMENTS if documents else _CHUNKS
        rows, length = conn.execute(f"SELECT {count}, {summed} FROM lexical_totals").fetchone()
        average = (length / rows) if rows and length else 1.0
        wanted = np.asarray(sorted(query), dtype=np.int64)
        idf = np.asarray([query[i] for i in wanted.tolist()], dtype=np.float64)
        exact: dict[Any, float] = {}
        keys = [k for k, _ in hits]
        for start in range(0, len(keys), _BATCH):
            batch = keys[start:start + _BATCH]
            marks = ",".join("?" * len(batch))
            for name, row_length, terms, frequencies in conn.execute(
                    f"SELECT {key}, length, terms, frequencies FROM {table} "
                    f"WHERE {key} IN ({marks})", batch):
                if frequencies is None:
                    continue
                held = np.frombuffer(terms, dtype="<i4")
                at = np.minimum(np.searchsorted(held, wanted), max(len(held) - 1, 0))
                found = (held[at] == wanted) if len(held) else np.zeros(len(wanted), bool)
                counts = np.frombuffer(frequencies, dtype="<f4").astype(np.float64)[at[found]]
                norm = K1 * (1 - B + B * int(row_length) / average)
                exact[name] = float(np.sum(idf[found] * counts * (K1 + 1) / (counts + norm)))
        return [(k, exact.get(k, score)) for k, score in hits]

    @staticmethod
    def identities(conn: sqlite3.Connection, document_ids: Sequence[str]) -> set[str]:
        """Those of `document_ids` whose identity is committed."""
        found: set[str] = set()
        for start in range(0, len(document_ids), _BATCH):
            batch = list(document_ids[start:start + _BATCH])
            marks = ",".join("?" * len(batch))
            found.update(str(row[0]) for row in conn.execute(
                f"SELECT document_id FROM lexical_documents WHERE document_id IN ({marks})",
                batch))
        return found

    @staticmethod
    def frequencies(conn: sqlite3.Connection, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks hold each of `terms` that any chunk holds."""
        return {t: n for t, _, n in TermTable._held(conn, terms, "chunks")}

    @staticmethod
    def terms(conn: sqlite3.Connection) -> list[str]:
        """Every term some chunk holds, in byte order (as FTS5 lists them)."""
        return [str(row[0]) for row in conn.execute(
            "SELECT term FROM lexical_terms WHERE chunks > 0 ORDER BY term")]
