"""Test doubles: a deterministic bag-of-words embedder (the index contract's), a
brute-force vector store, a clock moved by hand, and helpers that turn page texts into a
publishable document."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ingest.chunk import ChunkerConfig, chunk_document
from ingest.embed import embed_chunks
from qa_service.lexical import LexicalIndex
from qa_service.schemas import DocumentInfo, DocumentStatus, Page, PreparedDocument
from qa_service.store.catalog import now
from qa_service.store.knowledge_base import KnowledgeBase
from qa_service.testing.index_contract import HashEmbedder


class ManualClock:
    """A monotonic clock that moves only when a test sets `now`."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class BruteForceVectorStore:
    """The smallest honest VectorStore: rows of (id, vector) persisted in one .npz file.

    An id may own several vectors; search scores an id by its best one."""

    def __init__(self, folder: Path, dimension: int) -> None:
        self.folder = folder
        self._dimension = dimension
        self._ids = np.zeros(0, dtype=np.int64)
        self._vectors = np.zeros((0, dimension), dtype=np.float32)
        folder.mkdir(parents=True, exist_ok=True)
        self.refresh()

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def _file(self) -> Path:
        return self.folder / "state.npz"

    def refresh(self) -> None:
        if not self._file.exists():
            return
        with np.load(self._file) as state:
            self._ids = state["ids"].astype(np.int64)
            self._vectors = state["vectors"].astype(np.float32)

    def _save(self, ids: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> None:
        temporary = self.folder / "state.tmp.npz"
        np.savez(temporary, ids=ids, vectors=vectors)
        temporary.replace(self._file)
        self._ids, self._vectors = ids, vectors

    def add(self, ids: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> None:
        self.refresh()
        rows = np.asarray(vectors, dtype=np.float32).reshape(-1, self._dimension)
        self._save(np.concatenate([self._ids, np.asarray(ids, dtype=np.int64)]),
                   np.concatenate([self._vectors, rows]))

    def _keep(self, mask: npt.NDArray[np.bool_]) -> None:
        self._save(self._ids[mask], self._vectors[mask])

    def remove(self, ids: npt.NDArray[np.int64]) -> None:
        self.refresh()
        self._keep(~np.isin(self._ids, np.asarray(ids, dtype=np.int64)))

    def search(self, queries: npt.NDArray[np.float32], k: int,
               allowed_ids: npt.NDArray[np.int64] | None = None
               ) -> list[list[tuple[int, float]]]:
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, self._dimension)
        allowed = None if allowed_ids is None else {int(i) for i in allowed_ids}
        hits = []
        for query in queries:
            best: dict[int, float] = {}
            for chunk_id, vector in zip(self._ids, self._vectors, strict=True):
                if allowed is None or int(chunk_id) in allowed:
                    score = float(vector @ query)
                    best[int(chunk_id)] = max(score, best.get(int(chunk_id), -np.inf))
            ranked = sorted(best.items(), key=lambda item: -item[1])
            hits.append(ranked[:max(k, 0)])
        return hits

    def ids(self) -> npt.NDArray[np.int64]:
        return np.unique(self._ids)

    def vectors_of(self, ids: npt.NDArray[np.int64]) -> dict[int, npt.NDArray[np.float32]]:
        return {int(i): self._vectors[self._ids == i] for i in np.unique(ids)
                if (self._ids == i).any()}

    def compact(self, live: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.bool_]]) -> None:
        self.refresh()
        unique, position = np.unique(self._ids, return_inverse=True)
        self._keep(np.asarray(live(unique), dtype=bool)[position])

    def close(self) -> None:
        self._ids = np.zeros(0, dtype=np.int64)
        self._vectors = np.zeros((0, self._dimension), dtype=np.float32)


def make_document(folder: Path, filename: str, page_texts: Sequence[str], embedder: HashEmbedder,
                  lexical: LexicalIndex, chunker: ChunkerConfig | None = None,
                  identity: str = "") -> PreparedDocument:
    """A `PreparedDocument` made from page texts (a stand-in file, no PDF parsing), with
    `identity` as its identity field (no section fields, no contexts)."""
    data = ("%PDF-1.4 stand-in for " + filename + "\n" + "\f".join(page_texts)).encode()
    doc_id = hashlib.sha256(data).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{doc_id}.pdf"
    path.write_bytes(data)
    pages = [Page(number=n, text=text) for n, text in enumerate(page_texts, start=1)]
    chunks = chunk_document(doc_id, pages, chunker or ChunkerConfig())
    texts = [c.text for c in chunks]
    stamp = now()
    info = DocumentInfo(doc_id, filename, DocumentStatus.INDEXED, "", len(pages), len(chunks),
                        len(data), stamp, stamp)
    vector_ids, vectors = embed_chunks(embedder, chunks)
    fields = lexical.chunk_fields(texts, identity=identity)
    return PreparedDocument(info, path, tuple(pages), tuple(chunks), vector_ids, vectors,
                            tuple(fields), fields[0].identity if fields else "")


def publish(kb: KnowledgeBase, doc: PreparedDocument) -> bool:
    return kb.publish(doc)
