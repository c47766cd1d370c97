"""The catalog: one SQLite database per knowledge base (documents, pages, chunks, jobs).

`page_positions` holds, for pages where it is known, where each character of the page's
text is drawn (`qa_service.page_positions`); a catalog from before it gets the empty table
when opened, and its pages simply have no positions.

It is the source of truth for what is visible: a chunk is searchable exactly when its row
is here. An index may keep its part in the same database (the default one's BM25 postings:
`qa_service.store.fts`), so documents, chunks and postings change in one transaction. WAL
mode lets readers (the server, the CLI) proceed while one writer commits;
`synchronous=FULL` makes a commit durable once it returns.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from qa_service.errors import StorageError
from qa_service.page_positions import PagePositions
from qa_service.schemas import (
    Chunk,
    DocumentInfo,
    DocumentStatus,
    FileOutcome,
    JobInfo,
    JobState,
    JobSummary,
    Page,
    Passage,
)
from qa_service.store.catalog_jobs import job_summaries

__all__ = ["Catalog", "now", "use_wal"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    filename TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    pages INTEGER NOT NULL DEFAULT 0,
    chunks INTEGER NOT NULL DEFAULT 0,
    size_bytes INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    pipeline_version TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS documents_filename ON documents(filename);
CREATE TABLE IF NOT EXISTS pages (
    document_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (document_id, number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS page_positions (
    document_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    format INTEGER NOT NULL,
    width REAL NOT NULL,
    height REAL NOT NULL,
    unit REAL NOT NULL,
    text_hash TEXT NOT NULL,
    boxes BLOB NOT NULL,
    PRIMARY KEY (document_id, number)
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    document_id TEXT NOT NULL,
    page INTEGER NOT NULL,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    text TEXT NOT NULL,
    context TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS chunks_document ON chunks(document_id);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    files_total INTEGER NOT NULL,
    files_done INTEGER NOT NULL DEFAULT 0,
    pages_parsed INTEGER NOT NULL DEFAULT 0,
    chunks_embedded INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS job_files (
    job_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    filename TEXT NOT NULL,
    staged_path TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    document_id TEXT,
    pages INTEGER NOT NULL DEFAULT 0,
    chunks INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, position)
) WITHOUT ROWID;
"""

# (table, column, declaration) added after the first release: chunk contexts, the pipeline
# version of each document ('' = built before it was recorded), and how many pages of a
# document (and of a job's file) were read by OCR
_ADDED_COLUMNS = (("chunks", "context", "TEXT NOT NULL DEFAULT ''"),
                  ("documents", "pipeline_version", "TEXT NOT NULL DEFAULT ''"),
                  ("documents", "ocr_pages", "INTEGER NOT NULL DEFAULT 0"),
                  ("job_files", "ocr_pages", "INTEGER NOT NULL DEFAULT 0"))

_DOCUMENT_COLUMNS = (
    "id, filename, status, reason, pages, chunks, size_bytes, created_at, updated_at, ocr_pages"
)


WAL_RETRY_SECONDS = 30.0  # as long as a connection waits for a lock
WAL_RETRY_PAUSE = 0.02


def use_wal(db: sqlite3.Connection) -> None:
    """Switch a database file to WAL (stored in the file: the switch happens once). When
    several processes or threads open a new file at the same moment, the switch fails at
    once with "database is locked" instead of waiting (SQLite does not call its busy
    handler there), so it is retried for up to `WAL_RETRY_SECONDS`."""
    deadline = time.monotonic() + WAL_RETRY_SECONDS
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(WAL_RETRY_PAUSE)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Catalog:
    """Thread-safe access to one knowledge base's SQLite file (one connection per thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def initialize(self, also: Callable[[sqlite3.Connection], None] | None = None) -> None:
        """Create the tables, or add what a catalog from an earlier version lacks; `also`
        does the same, in the same transaction, for what the index keeps here
        (`IndexBackend.initialize`)."""
        conn = self.connection()
        conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
        with self.transaction() as conn:  # columns added since: one process adds each
            for table, column, declaration in _ADDED_COLUMNS:
                columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
                if column not in columns:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            if also is not None:
                also(conn)

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                                       check_same_thread=False)
                use_wal(conn)
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA foreign_keys=ON")
            except sqlite3.Error as exc:
                raise StorageError(
                    f"cannot open the catalog of knowledge base '{self.path.parent.name}': "
                    f"{exc}", detail=str(self.path)) from exc
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; it commits on success and rolls back on any error, a failed
        COMMIT included (SQLite may keep the transaction, and its write lock, open)."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already
                conn.execute("ROLLBACK")
            raise

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same committed state."""
        conn = self.connection()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close the calling thread's connection and let go of the other threads' ones.
        Another thread may be using its connection at this very moment (a search, a job
        parsing ahead, while the knowledge base is deleted): closing it under that thread
        crashes the process inside SQLite. Each is closed when its thread lets go of it
        (at once for an idle thread; a thread that asks again gets a new connection)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        self._local = threading.local()
        if conn is not None:
            conn.close()

    # --- documents -------------------------------------------------------------------

    def document(self, doc_id: str) -> DocumentInfo | None:
        row = self.connection().execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE id = ?", (doc_id,)
        ).fetchone()
        return _document(row) if row else None

    def documents(self) -> list[DocumentInfo]:
        rows = self.connection().execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents ORDER BY created_at, filename"
        ).fetchall()
        return [_document(row) for row in rows]

    def counts(self) -> tuple[int, int]:
        """(documents indexed, chunks searchable)."""
        with self.snapshot() as conn:
            docs = conn.execute(
                "SELECT COUNT(*) FROM documents WHERE status = ?", (DocumentStatus.INDEXED.value,)
            ).fetchone()[0]
            chunks = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(docs), int(chunks)

    def page_text(self, doc_id: str, number: int) -> str | None:
        row = self.connection().execute(
            "SELECT text FROM pages WHERE document_id = ? AND number = ?", (doc_id, number)
        ).fetchone()
        return str(row[0]) if row else None

    def page_with_positions(self, doc_id: str, number: int
                            ) -> tuple[str, PagePositions | None] | None:
        """A page's text and where its characters are drawn (None: not known for this
        page, as for every page indexed before positions were kept); None: no such page."""
        row = self.connection().execute(
            "SELECT p.text, q.width, q.height, q.unit, q.boxes, q.text_hash, q.format"
            " FROM pages p LEFT JOIN page_positions q"
            " ON q.document_id = p.document_id AND q.number = p.number"
            " WHERE p.document_id = ? AND p.number = ?", (doc_id, number)
        ).fetchone()
        if row is None:
            return None
        if row[1] is None:
            return str(row[0]), None
        return str(row[0]), PagePositions(float(row[1]), float(row[2]), float(row[3]),
                                          bytes(row[4]), str(row[5]), int(row[6]))

    @staticmethod
    def index_state(conn: sqlite3.Connection) -> tuple[int, int, str, int]:
        """What changes whenever a document is added, replaced or deleted: (the number of
        documents, their chunks, the latest update, the largest chunk id). Read from the
        documents table and the chunks' primary key, not by counting the chunks: it is
        read at every question, and a count costs in proportion to the index."""
        row = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(chunks), 0), COALESCE(MAX(updated_at), ''),"
            " (SELECT COALESCE(MAX(id), 0) FROM chunks) FROM documents").fetchone()
        return int(row[0]), int(row[1]), str(row[2]), int(row[3])

    @staticmethod
    def chunk_count(conn: sqlite3.Connection) -> int:
        """How many chunks are committed, in `conn`'s snapshot."""
        return int(conn.execute("SELECT count(*) FROM chunks").fetchone()[0])

    @staticmethod
    def chunk_ids_of(conn: sqlite3.Connection, doc_ids: Sequence[str]) -> list[int]:
        marks = ",".join("?" * len(doc_ids))
        rows = conn.execute(
            f"SELECT id FROM chunks WHERE document_id IN ({marks})", tuple(doc_ids)
        ).fetchall()
        return [int(row[0]) for row in rows]

    def passages(self, conn: sqlite3.Connection, ids: set[int]) -> dict[int, Passage]:
        """The chunks among `ids` that exist in this snapshot, as passages scored 0."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = conn.execute(
            "SELECT c.id, c.document_id, d.filename, c.page, c.char_start, c.char_end, c.text"
            f" FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id IN ({marks})",
            tuple(ids),
        ).fetchall()
        return {int(r[0]): Passage(int(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]),
                                   int(r[5]), str(r[6]), 0.0) for r in rows}

    def document_passages(self, conn: sqlite3.Connection, doc_id: str, limit: int
                          ) -> list[Passage]:
        """The first `limit` chunks of a document in reading order, as passages scored 0."""
        rows = conn.execute(
            "SELECT c.id, c.document_id, d.filename, c.page, c.char_start, c.char_end, c.text"
            " FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.document_id = ?"
            " ORDER BY c.page, c.char_start LIMIT ?", (doc_id, limit)).fetchall()
        return [Passage(int(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]), int(r[5]),
                        str(r[6]), 0.0) for r in rows]

    def contexts(self, conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, str]:
        """What the chunks among `ids` are matched together with (document identity and
        section; `ingest.context`): never quoted, but it says what a passage is about."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = conn.execute(f"SELECT id, context FROM chunks WHERE id IN ({marks})",
                            tuple(ids)).fetchall()
        return {int(r[0]): str(r[1]) for r in rows}

    def committed(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which of `ids` are committed chunks (in proportion to `ids`, not the catalog)."""
        conn = self.connection()
        found: set[int] = set()
        values = [int(i) for i in ids]
        for start in range(0, len(values), 500):
            batch = values[start:start + 500]
            marks = ",".join("?" * len(batch))
            found.update(int(row[0]) for row in conn.execute(
                f"SELECT id FROM chunks WHERE id IN ({marks})", batch))
        return np.fromiter((i in found for i in values), dtype=bool, count=len(values))

    def all_chunk_ids(self) -> npt.NDArray[np.int64]:
        rows = self.connection().execute("SELECT id FROM chunks")
        return np.fromiter((row[0] for row in rows), dtype=np.int64)

    def all_chunks(self) -> Iterator[Chunk]:
        rows = self.connection().execute(
            "SELECT id, document_id, page, char_start, char_end, text, context FROM chunks "
            "ORDER BY id"
        )
        for row in rows:
            yield Chunk(*row)

    def record_outcome(
        self,
        conn: sqlite3.Connection,
        doc_id: str,
        filename: str,
        status: DocumentStatus,
        reason: str,
        size_bytes: int,
        pages: int = 0,
    ) -> None:
        """Record a document that was not indexed (it keeps no chunks)."""
        stamp = now()
        conn.execute(
            "INSERT INTO documents (id, filename, status, reason, pages, chunks, size_bytes,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET filename = excluded.filename,"
            " status = excluded.status, reason = excluded.reason, pages = excluded.pages,"
            " chunks = 0, ocr_pages = 0, updated_at = excluded.updated_at",
            (doc_id, filename, status.value, reason, pages, size_bytes, stamp, stamp),
        )

    def insert_indexed(
        self,
        conn: sqlite3.Connection,
        info: DocumentInfo,
        pages: Sequence[Page],
        chunks: Sequence[Chunk],
        pipeline_version: str = "",
    ) -> None:
        conn.execute(
            f"INSERT INTO documents ({_DOCUMENT_COLUMNS}, pipeline_version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (info.id, info.filename, info.status.value, info.reason, info.pages, info.chunks,
             info.size_bytes, info.created_at, info.updated_at, info.ocr_pages,
             pipeline_version),
        )
        conn.executemany(
            "INSERT INTO pages (document_id, number, text) VALUES (?, ?, ?)",
            [(info.id, page.number, page.text) for page in pages],
        )
        conn.executemany(
            "INSERT INTO page_positions (document_id, number, format, width, height, unit,"
            " text_hash, boxes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(info.id, page.number, p.format, p.width, p.height, p.unit, p.text_hash, p.boxes)
             for page in pages if (p := page.positions) is not None],
        )
        conn.executemany(
            "INSERT INTO chunks (id, document_id, page, char_start, char_end, text, context)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(c.id, c.document_id, c.page, c.char_start, c.char_end, c.text, c.context)
             for c in chunks],
        )

    def delete_documents(self, conn: sqlite3.Connection, doc_ids: Iterable[str]) -> list[int]:
        """Remove documents with their pages (and positions) and chunks; returns the chunk
        ids (the index's postings go in the same transaction: `ChunkIndex.erase`)."""
        ids = list(doc_ids)
        if not ids:
            return []
        chunk_ids = self.chunk_ids_of(conn, ids)
        marks = ",".join("?" * len(ids))
        for table, column in (("chunks", "document_id"), ("pages", "document_id"),
                              ("page_positions", "document_id"), ("documents", "id")):
            conn.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", tuple(ids))
        return chunk_ids

    def documents_named(self, conn: sqlite3.Connection, filename: str) -> list[str]:
        rows = conn.execute("SELECT id FROM documents WHERE filename = ?", (filename,)).fetchall()
        return [str(row[0]) for row in rows]

    def pipeline_version_of(self, conn: sqlite3.Connection, doc_id: str) -> str | None:
        row = conn.execute("SELECT pipeline_version FROM documents WHERE id = ?",
                           (doc_id,)).fetchone()
        return str(row[0]) if row else None

    def outdated_documents(self, pipeline_version: str) -> list[DocumentInfo]:
        """The indexed documents built with another pipeline version than this one."""
        rows = self.connection().execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE status = ?"
            " AND pipeline_version != ? ORDER BY created_at, filename",
            (DocumentStatus.INDEXED.value, pipeline_version),
        ).fetchall()
        return [_document(row) for row in rows]

    def status_of(self, conn: sqlite3.Connection, doc_id: str) -> DocumentStatus | None:
        row = conn.execute("SELECT status FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return DocumentStatus(row[0]) if row else None

    # --- jobs ------------------------------------------------------------------------

    def create_job(self, job_id: str, files: Sequence[tuple[str, str, FileOutcome | None]]) -> None:
        """`files`: (display name, staged path, outcome if already decided)."""
        stamp = now()
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO jobs (id, state, files_total, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (job_id, JobState.QUEUED.value, len(files), stamp, stamp),
            )
            conn.executemany(
                "INSERT INTO job_files (job_id, position, filename, staged_path, status, reason)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (job_id, i, name, staged,
                     (outcome.status if outcome else DocumentStatus.QUEUED).value,
                     outcome.reason if outcome else "")
                    for i, (name, staged, outcome) in enumerate(files)
                ],
            )

    def job(self, job_id: str) -> JobInfo | None:
        with self.snapshot() as conn:
            row = conn.execute(
                "SELECT id, state, files_total, files_done, pages_parsed, chunks_embedded,"
                " created_at, updated_at, error FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if row is None:
                return None
            files = conn.execute(
                "SELECT filename, status, reason, document_id, pages, chunks, ocr_pages"
                " FROM job_files WHERE job_id = ? ORDER BY position", (job_id,)
            ).fetchall()
        return JobInfo(
            id=row[0], state=JobState(row[1]), files_total=row[2], files_done=row[3],
            pages_parsed=row[4], chunks_embedded=row[5], created_at=row[6], updated_at=row[7],
            error=row[8],
            files=[FileOutcome(f[0], DocumentStatus(f[1]), f[2], f[3], f[4], f[5], f[6])
                   for f in files],
        )

    def jobs(self, limit: int, state: JobState | None = None) -> list[JobSummary]:
        """The `limit` newest jobs (only those in `state`, when given), newest first."""
        with self.snapshot() as conn:
            return job_summaries(conn, limit, state)

    def job_files(self, job_id: str) -> list[tuple[int, str, str, DocumentStatus]]:
        rows = self.connection().execute(
            "SELECT position, filename, staged_path, status FROM job_files WHERE job_id = ?"
            " ORDER BY position", (job_id,)
        ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2]), DocumentStatus(r[3])) for r in rows]

    def unfinished_jobs(self) -> list[str]:
        rows = self.connection().execute(
            "SELECT id FROM jobs WHERE state IN (?, ?) ORDER BY created_at",
            (JobState.QUEUED.value, JobState.RUNNING.value),
        ).fetchall()
        return [str(row[0]) for row in rows]

    def set_job_state(self, job_id: str, state: JobState, error: str = "") -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET state = ?, error = ?, updated_at = ? WHERE id = ?",
                (state.value, error, now(), job_id),
            )

    def add_job_progress(self, job_id: str, pages: int = 0, chunks: int = 0) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET pages_parsed = pages_parsed + ?,"
                " chunks_embedded = chunks_embedded + ?, updated_at = ? WHERE id = ?",
                (pages, chunks, now(), job_id),
            )

    def finish_job_file(
        self, conn: sqlite3.Connection, job_id: str, position: int, outcome: FileOutcome
    ) -> None:
        conn.execute(
            "UPDATE job_files SET status = ?, reason = ?, document_id = ?, pages = ?, chunks = ?,"
            " ocr_pages = ? WHERE job_id = ? AND position = ?",
            (outcome.status.value, outcome.reason, outcome.document_id, outcome.pages,
             outcome.chunks, outcome.ocr_pages, job_id, position),
        )
        conn.execute(
            "UPDATE jobs SET files_done = (SELECT COUNT(*) FROM job_files WHERE job_id = ?"
            " AND status != ?), updated_at = ? WHERE id = ?",
            (job_id, DocumentStatus.QUEUED.value, now(), job_id),
        )


def _document(row: Sequence[object]) -> DocumentInfo:
    return DocumentInfo(
        id=str(row[0]), filename=str(row[1]), status=DocumentStatus(str(row[2])),
        reason=str(row[3]), pages=int(row[4]), chunks=int(row[5]),  # type: ignore[call-overload]
        size_bytes=int(row[6]), created_at=str(row[7]), updated_at=str(row[8]),  # type: ignore[call-overload]
        ocr_pages=int(row[9]),  # type: ignore[call-overload]
    )
