"""One knowledge base on disk: manifest, catalog (SQLite + FTS5), vectors, original files.

    <data_dir>/<name>/
        manifest.json      identity: format version, embedding model and dimension,
                           chunker, parser and lexical settings, index engine (atomic
                           replace)
        catalog.sqlite     documents, pages, chunks, BM25 postings, jobs (WAL)
        vectors/           the vector store of the default index (faiss_index.py)
        files/ab/<sha256>.pdf   original PDFs, by content hash
        uploads/<job>/     staged uploads of unfinished jobs
        write.lock         held (flock) by whichever process publishes
        write.unfinished   present while a write is under way, or after one that died

Its chunks' vectors and BM25 postings are in its index, which the `IndexBackend` given by
the composition root opens (`qa_service.store.index`; FAISS and FTS5 by default).

Publishing a document, under the write lock: set the `write.unfinished` marker -> store
the PDF (fsync) -> add it to the index (`ChunkIndex.add`: the default index writes a
vector segment, fsync, and replaces its vector manifest) -> one SQLite transaction inserts
the document, pages and chunks (and what the index keeps in the catalog: the default
index's postings) and removes any older version of the same source name -> drop the
replaced version's vectors and file -> lift the marker.
The chunks become visible at that commit; a crash before it leaves only unreferenced files
and vector ids that are never returned (the catalog decides visibility). The next writer
finds the marker and removes them before it writes (deleting a document works the same).

Republishing (`qa kb rebuild`) replaces an indexed document by a version built with a
newer pipeline, by the same steps: a rebuilt document's chunk ids include the pipeline
version (`IndexIdentity.pipeline_version`), which differs from the old version's, so the
two versions' vectors never share an id, and the commit switches from one complete
version to the other.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa_service.errors import IndexMismatch, StorageError, describe
from qa_service.page_positions import PagePositions
from qa_service.parser_identity import DEFAULT_PARSER_IDENTITY
from qa_service.schemas import (
    Chunk,
    DocumentInfo,
    DocumentStatus,
    FileOutcome,
    JobInfo,
    JobState,
    JobSummary,
    KnowledgeBaseInfo,
    PreparedDocument,
)
from qa_service.store.atomic import fsync_directory, write_bytes_atomic, write_json_atomic
from qa_service.store.catalog import Catalog, now
from qa_service.store.faiss_index import FaissBackend
from qa_service.store.index import ChunkIndex, IndexBackend
from qa_service.store.snapshot import Snapshot

__all__ = ["FORMAT_VERSION", "UNFINISHED_MARKER", "IndexIdentity", "JobFile", "KnowledgeBase"]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
UNFINISHED_MARKER = "write.unfinished"  # present while a write may leave garbage behind


@dataclass(frozen=True)
class JobFile:
    """One file of an ingestion job (its position in the job): a write that settles the
    file records its `outcome` in the same commit as what it changed."""

    job_id: str
    position: int
    outcome: FileOutcome | None = None

    def ended(self, outcome: FileOutcome) -> JobFile:
        return dataclasses.replace(self, outcome=outcome)


@dataclass(frozen=True)
class IndexIdentity:
    """What a knowledge base's index was built with; a mismatch is refused, not guessed."""

    embedding_model: str
    dimension: int
    chunker: dict[str, Any] = field(default_factory=dict)
    parser: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PARSER_IDENTITY))
    lexical: dict[str, Any] = field(
        default_factory=lambda: {"name": "sqlite-fts5-bm25", "tokens": "kiwi-words-v5",
                                 "context": "identity-sections-v7",
                                 "fields": "identity-section-text-v1"}
    )

    @property
    def pipeline_version(self) -> str:
        """A digest of what a document's pages, chunks and lexical text are made with (the
        parser, chunker and lexical identities; the embedding model is the knowledge
        base's, one for all its documents). Each indexed document records the version
        that built it; a rebuilt document's chunk ids include it (`ingest.chunk.chunk_id`)."""
        described = json.dumps({"parser": self.parser, "chunker": self.chunker,
                                "lexical": self.lexical}, sort_keys=True)
        return hashlib.sha256(described.encode()).hexdigest()[:16]


class KnowledgeBase:
    def __init__(self, name: str, root: Path, manifest: dict[str, Any],
                 parser_identity: dict[str, Any] | None = None,
                 backend: IndexBackend | None = None) -> None:
        self.name = name
        self.root = root
        self.manifest = manifest
        # what the server that opened it reads pages with (`rebuild_needed` compares)
        self.parser_identity = dict(parser_identity or DEFAULT_PARSER_IDENTITY)
        self.backend: IndexBackend = backend or FaissBackend()
        recorded = str(manifest.get("index", FaissBackend.name))
        if recorded != self.backend.name:
            raise IndexMismatch(
                f"knowledge base '{name}' keeps its index in {recorded}, but the service is "
                f"configured with QA_INDEX={self.backend.name}; set QA_INDEX={recorded} to "
                "serve it (a data directory holds knowledge bases of one index engine)")
        self.catalog = Catalog(root / "catalog.sqlite")
        self.index: ChunkIndex = self.backend.open(root, manifest, self.dimension,
                                                   self.vectors_dir)
        self._thread_lock = threading.Lock()

    # --- lifecycle -------------------------------------------------------------------

    @classmethod
    def create(cls, root: Path, name: str, identity: IndexIdentity,
               backend: IndexBackend | None = None) -> KnowledgeBase:
        """Build a knowledge base in `root`, which must be a new, empty folder."""
        for sub in ("vectors", "files", "uploads"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        manifest = {
            "format_version": FORMAT_VERSION,
            "name": name,
            "uid": uuid.uuid4().hex,
            "created_at": now(),
            "embedding": {"model": identity.embedding_model, "dimension": identity.dimension},
            "chunker": identity.chunker,
            "parser": identity.parser,
            "lexical": identity.lexical,
            "index": (backend or FaissBackend()).name,
        }
        # the manifest first: an index kept outside the folder (Milvus) may be created as
        # the knowledge base opens, and a creation that dies then must still name it
        # (`KnowledgeBaseRegistry.remove_leftovers` drops it by the manifest's uid)
        write_json_atomic(root / "manifest.json", manifest)
        kb = cls(name, root, manifest, backend=backend)
        kb.catalog.initialize(kb.backend.initialize)
        return kb

    @classmethod
    def open(cls, root: Path, name: str, parser_identity: dict[str, Any] | None = None,
             backend: IndexBackend | None = None) -> KnowledgeBase:
        manifest = read_manifest(root)
        version = manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise IndexMismatch(
                f"knowledge base '{name}' uses on-disk format {version}; this version of the "
                f"service reads format {FORMAT_VERSION}"
            )
        kb = cls(name, root, manifest, parser_identity, backend)
        kb.catalog.initialize(kb.backend.initialize)
        return kb

    def close(self) -> None:
        self.catalog.close()
        self.index.close()

    @property
    def uid(self) -> str:
        return str(self.manifest["uid"])

    @property
    def embedding_model(self) -> str:
        return str(self.manifest["embedding"]["model"])

    @property
    def dimension(self) -> int:
        return int(self.manifest["embedding"]["dimension"])

    @property
    def vectors_dir(self) -> str:
        return str(self.manifest["embedding"].get("vectors", "vectors"))

    def check_embedder(self, model: str, dimension: int) -> None:
        if model != self.embedding_model or dimension != self.dimension:
            raise IndexMismatch(
                f"knowledge base '{self.name}' was indexed with embedding model "
                f"'{self.embedding_model}' ({self.dimension} dimensions) but the service "
                f"uses '{model}' ({dimension}); run `qa kb reindex {self.name} --model {model}` "
                f"or set QA_EMBEDDING_MODEL={self.embedding_model}"
            )

    def info(self) -> KnowledgeBaseInfo:
        documents, chunks = self.catalog.counts()
        return KnowledgeBaseInfo(
            name=self.name, documents=documents, chunks=chunks,
            embedding_model=self.embedding_model, dimension=self.dimension,
            created_at=str(self.manifest["created_at"]), rebuild_needed=self.rebuild_needed,
        )

    @property
    def rebuild_needed(self) -> bool:
        """Whether the manifest records another parser or lexical identity than this
        version of the service builds with (`qa kb rebuild` re-parses the documents): the
        text layer's or the lexical analyser's, or OCR where this server runs OCR another
        way than the knowledge base was built (a server without OCR cannot improve on a
        build with it). The chunker is not judged here: its current version is the ingest
        package's."""
        current = IndexIdentity(self.embedding_model, self.dimension,
                                parser=dict(self.parser_identity))
        recorded = dict(self.manifest.get("parser") or {})
        recorded_ocr, current_ocr = recorded.pop("ocr", None), current.parser.pop("ocr", None)
        return ((recorded, self.manifest.get("lexical")) != (current.parser, current.lexical)
                or (current_ocr is not None and recorded_ocr != current_ocr))

    def exists(self) -> bool:
        """Whether this knowledge base is still in place: not deleted (its folder renamed
        away), nor replaced by a new one of the same name."""
        try:
            return read_manifest(self.root).get("uid") == self.uid
        except (OSError, StorageError):
            return False

    def file_path(self, doc_id: str) -> Path:
        return self.root / "files" / doc_id[:2] / f"{doc_id}.pdf"

    @property
    def uploads(self) -> Path:
        """Where uploads are staged: a folder per job (`upload_folder`), and its lock."""
        return self.root / "uploads"

    def upload_folder(self, job_id: str) -> Path:
        return self.uploads / job_id

    def derived_file(self, name: str) -> Path:
        """A file derived from the indexed documents that the service may rebuild at will
        (a cache): it lives and goes with the knowledge base."""
        return self.root / name

    @property
    def created_at(self) -> str:
        return str(self.manifest["created_at"])

    @property
    def identity(self) -> IndexIdentity:
        """What the manifest records this knowledge base's index was built with."""
        return IndexIdentity(self.embedding_model, self.dimension,
                             dict(self.manifest.get("chunker") or {}),
                             dict(self.manifest.get("parser") or {}),
                             dict(self.manifest.get("lexical") or {}))

    # --- reading ---------------------------------------------------------------------

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """One committed state of the knowledge base to read: everything a question reads
        comes from one (`Snapshot`)."""
        with self.catalog.snapshot() as conn:
            yield Snapshot(self.catalog, conn, self.index.reader(conn))

    def document(self, doc_id: str) -> DocumentInfo | None:
        return self.catalog.document(doc_id)

    def documents(self) -> list[DocumentInfo]:
        """Every document with an outcome (indexed or not), oldest first."""
        return self.catalog.documents()

    def outdated_documents(self, pipeline_version: str) -> list[DocumentInfo]:
        """The indexed documents built by another pipeline version (`qa kb rebuild`)."""
        return self.catalog.outdated_documents(pipeline_version)

    def page_text(self, doc_id: str, number: int) -> str | None:
        return self.catalog.page_text(doc_id, number)

    def page_with_positions(self, doc_id: str, number: int
                            ) -> tuple[str, PagePositions | None] | None:
        """A page's text and where its characters are drawn (None: not known for this
        page); None: no such page."""
        return self.catalog.page_with_positions(doc_id, number)

    # --- ingestion jobs --------------------------------------------------------------

    def create_job(self, job_id: str, files: Sequence[tuple[str, str, FileOutcome | None]]
                   ) -> None:
        """`files`: (display name, staged path, outcome if already decided)."""
        self.catalog.create_job(job_id, files)

    def job(self, job_id: str) -> JobInfo | None:
        return self.catalog.job(job_id)

    def jobs(self, limit: int, state: JobState | None = None) -> list[JobSummary]:
        """The `limit` newest jobs (only those in `state`, when given), newest first."""
        return self.catalog.jobs(limit, state)

    def job_files(self, job_id: str) -> list[tuple[int, str, str, DocumentStatus]]:
        """(position, display name, staged path, status) of each of the job's files."""
        return self.catalog.job_files(job_id)

    def unfinished_jobs(self) -> list[str]:
        """The jobs queued or running, oldest first."""
        return self.catalog.unfinished_jobs()

    def set_job_state(self, job_id: str, state: JobState, error: str = "") -> None:
        self.catalog.set_job_state(job_id, state, error)

    def add_job_progress(self, job_id: str, pages: int = 0, chunks: int = 0) -> None:
        self.catalog.add_job_progress(job_id, pages, chunks)

    def finish_job_file(self, job_file: JobFile) -> None:
        """Record the outcome of a job's file that changed nothing else."""
        with self.catalog.transaction() as conn:
            self._finish_job_file(conn, job_file)

    def _finish_job_file(self, conn: sqlite3.Connection, job_file: JobFile | None) -> None:
        if job_file is not None and job_file.outcome is not None:
            self.catalog.finish_job_file(conn, job_file.job_id, job_file.position,
                                         job_file.outcome)

    # --- writing ---------------------------------------------------------------------

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Exclusive among threads and processes: one publisher at a time."""
        with self._thread_lock, open(self.root / "write.lock", "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def status_of(self, doc_id: str) -> DocumentStatus | None:
        return self.catalog.status_of(self.catalog.connection(), doc_id)

    def publish(self, document: PreparedDocument, job_file: JobFile | None = None) -> bool:
        """Make a prepared document searchable (the single-writer publish stage); False if
        it was already indexed. `job_file`'s outcome is recorded in the same commit."""
        info = document.info
        with self.write_lock():
            if self.status_of(info.id) is DocumentStatus.INDEXED:
                return False

            def replaced(conn: sqlite3.Connection) -> list[str]:
                named = self.catalog.documents_named(conn, info.filename)
                return [*named, info.id]  # and an earlier failed attempt of the same bytes

            self._write_document(document, replaced, job_file)
        return True

    def republish(self, document: PreparedDocument) -> bool:
        """Replace an indexed document by a new version of it (same bytes, so same id and
        file) built with another pipeline version: one commit switches searches from the
        old version, complete, to the new one, complete. It keeps its name and creation
        time. False, changing nothing, if the document is no longer indexed (deleted
        meanwhile: it is not brought back) or already holds this pipeline version."""
        doc_id = document.info.id
        with self.write_lock():
            self._check_manifest_unchanged()
            conn = self.catalog.connection()
            old = self.catalog.document(doc_id)
            if (old is None or old.status is not DocumentStatus.INDEXED
                    or self.catalog.pipeline_version_of(conn, doc_id)
                    == document.pipeline_version):
                return False
            if document.chunk_ids & set(self.catalog.chunk_ids_of(conn, [doc_id])):
                raise StorageError(  # it would mix the two versions' vectors
                    f"the new version of '{old.filename}' in knowledge base '{self.name}' "
                    "reuses chunk ids of the indexed one; nothing was changed")
            info = dataclasses.replace(document.info, filename=old.filename,
                                       created_at=old.created_at)
            self._write_document(dataclasses.replace(document, info=info),
                                 lambda _conn: [doc_id], None)
        return True

    def _write_document(self, document: PreparedDocument,
                        replaced: Callable[[sqlite3.Connection], list[str]],
                        job_file: JobFile | None) -> None:
        """Steps of the publishing protocol (caller holds the write lock): the documents
        `replaced(conn)` names give way to `document` in one commit."""
        info = document.info
        self._begin_write()
        self._store_file(info.id, document.source)
        self.index.add(document)
        with self.catalog.transaction() as conn:
            old_docs = replaced(conn)
            stale = self.catalog.delete_documents(conn, old_docs)
            self.index.erase(conn, old_docs, stale)
            self.catalog.insert_indexed(conn, info, document.pages, document.chunks,
                                        document.pipeline_version)
            self.index.write(conn, document)
            self._finish_job_file(conn, job_file)
        keep = document.chunk_ids
        self._end_write(lambda: self._forget(stale, keep, old_docs=old_docs, current=info.id))

    def record_pipeline(self, identity: IndexIdentity) -> bool:
        """Record `identity`'s parser, chunker and lexical settings in the manifest, once
        every indexed document was built with them (`qa kb rebuild`); False, leaving the
        manifest as it is, while some document still holds an older version. The
        embedding section is left alone (`replace_vectors` changes it)."""
        with self.write_lock():
            self._check_manifest_unchanged()
            if self.catalog.outdated_documents(identity.pipeline_version):
                return False
            manifest = {**self.manifest, "chunker": identity.chunker,
                        "parser": identity.parser, "lexical": identity.lexical}
            if manifest != self.manifest:
                write_json_atomic(self.root / "manifest.json", manifest)
                self.manifest = manifest
        return True

    def record_outcome(self, doc_id: str, filename: str, status: DocumentStatus, reason: str,
                       size_bytes: int, pages: int = 0, job_file: JobFile | None = None) -> None:
        """Record a document that ended without being indexed; an indexed one is kept.
        `job_file`'s outcome is recorded in the same commit."""
        with self.write_lock(), self.catalog.transaction() as conn:
            if self.catalog.status_of(conn, doc_id) is not DocumentStatus.INDEXED:
                self.catalog.record_outcome(conn, doc_id, filename, status, reason, size_bytes,
                                            pages)
            self._finish_job_file(conn, job_file)

    def delete_document(self, doc_id: str) -> bool:
        with self.write_lock():
            if self.status_of(doc_id) is None:
                return False
            self._begin_write()
            with self.catalog.transaction() as conn:
                stale = self.catalog.delete_documents(conn, [doc_id])
                self.index.erase(conn, [doc_id], stale)
            self._end_write(lambda: self._forget(stale, set(), old_docs=[doc_id], current=None))
        return True

    def _check_manifest_unchanged(self) -> None:
        """Refuse to write what was prepared for a manifest another process has replaced
        since this one read it (`qa kb reindex` moves the vectors to a new folder)."""
        if read_manifest(self.root) != self.manifest:
            raise StorageError(f"knowledge base '{self.name}' was changed by another process "
                               "(re-embedded or replaced); open it again and retry",
                               detail=str(self.root / "manifest.json"))

    def _begin_write(self) -> None:
        """Before writing anything: set the marker of an unfinished write (durably), or, if
        a writer that died left it, first collect what that writer left behind."""
        marker = self.root / UNFINISHED_MARKER
        if marker.exists():
            self._collect_garbage()
        else:
            marker.touch()
            fsync_directory(self.root)

    def _end_write(self, clean_up: Callable[[], None]) -> None:
        """After the commit: `clean_up` what it made garbage, then lift the marker. The commit
        stands whatever happens here: a failure is logged and leaves the marker, so the next
        writer collects the garbage."""
        try:
            clean_up()
            self._compact_if_needed()
        except Exception:
            log.exception("cleaning up knowledge base '%s' after a commit failed; the next "
                          "write finishes it", self.name)
            return
        (self.root / UNFINISHED_MARKER).unlink(missing_ok=True)

    def _collect_garbage(self) -> None:
        """Remove what an interrupted writer left: what the index holds of chunks, and the
        original files, that the catalog does not refer to (never committed, or already
        deleted)."""
        indexed = [document.id for document in self.catalog.documents()
                   if document.status is DocumentStatus.INDEXED]
        self.index.collect_garbage(self.catalog.all_chunk_ids(), set(indexed))
        stored = {self.file_path(doc_id) for doc_id in indexed}
        for path in (self.root / "files").glob("*/*"):
            if path not in stored:
                path.unlink(missing_ok=True)

    def _forget(self, chunk_ids: list[int], keep: set[int], old_docs: list[str],
                current: str | None) -> None:
        """After a commit: drop vectors and files nothing refers to any more."""
        gone = np.asarray([c for c in chunk_ids if c not in keep], dtype=np.int64)
        removed = [doc_id for doc_id in old_docs if doc_id != current]
        self.index.forget(gone, removed)
        for doc_id in removed:
            self.file_path(doc_id).unlink(missing_ok=True)

    def _compact_if_needed(self) -> None:
        if self.index.needs_compaction():
            self.index.compact(self.catalog.committed)

    def build_approximate_index(self) -> bool:
        """Build the index's approximate vector index when it is due (`approximate_due`)
        and publish it; False when it was not due. The build reads without any lock (the
        default index: its immutable segments), so writers go on meanwhile; only the
        publish takes the write lock. A build whose vectors were replaced meanwhile (`qa kb
        reindex`) is dropped."""
        index = self.index
        if not index.approximate_due():
            return False
        built = index.build_approximate()
        published = False
        try:
            with self.write_lock():
                if self.index is index and read_manifest(self.root).get(
                        "embedding", {}).get("vectors", "vectors") == self.vectors_dir:
                    index.publish_approximate(built)
                    published = True
        finally:
            if not published:
                index.discard(built)
        return published

    def _store_file(self, doc_id: str, source: Path) -> None:
        target = self.file_path(doc_id)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(target, source.read_bytes())

    def replace_vectors(
        self,
        embed: Callable[[list[Chunk]], tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]],
        identity: IndexIdentity,
        batch: int = 256,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Re-embed every stored chunk with another model (`qa kb reindex`).

        `embed(chunks)` returns (vector ids, vectors) as in a `PreparedDocument`. The new
        vectors go to a new folder; one atomic manifest replace switches to it, so a crash
        leaves either the old index or the new one, both complete.
        """
        folder = f"vectors-{uuid.uuid4().hex[:12]}"
        with self.write_lock():
            index = self.backend.open(self.root, self.manifest, identity.dimension, folder)
            chunks = list(self.catalog.all_chunks())
            for start in range(0, len(chunks), batch):
                part = chunks[start:start + batch]
                index.add_vectors(part, *embed(part))
                if progress is not None:
                    progress(len(part))
            manifest = dict(self.manifest)
            manifest["embedding"] = {"model": identity.embedding_model,
                                     "dimension": identity.dimension, "vectors": folder}
            write_json_atomic(self.root / "manifest.json", manifest)
            old, self.manifest, self.index = self.index, manifest, index
            old.destroy_vectors()
        return len(chunks)


def read_manifest(root: Path) -> dict[str, Any]:
    path = root / "manifest.json"
    try:
        manifest: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise StorageError(f"the manifest of knowledge base '{root.name}' is unreadable "
                           f"({describe(exc)})", detail=f"{path}: {exc}") from exc
    return manifest
