"""Test doubles: a deterministic bag-of-words embedder, a brute-force vector store, and
helpers that turn page texts into a publishable document."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ingest.chunk import ChunkerConfig, chunk_document
from qa_service.lexical import LexicalIndex
from qa_service.schemas import Chunk, DocumentInfo, DocumentStatus, Page
from qa_service.store.catalog import now
from qa_service.store.knowledge_base import KnowledgeBase

_WORD = re.compile(r"\w+")


class HashEmbedder:
    """Hashed bag of words, L2-normalized: texts sharing words get similar vectors."""

    def __init__(self, dimension: int = 64, name: str = "fake-hash") -> None:
        self.name = name
        self.dimension = dimension

    def _vector(self, text: str) -> npt.NDArray[np.float32]:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in _WORD.findall(text.casefold()):
            bucket = int.from_bytes(hashlib.sha1(word.encode()).digest()[:4], "big")
            vector[bucket % self.dimension] += 1.0
        if not vector.any():
            vector[0] = 1.0
        return vector / np.linalg.norm(vector)

    def embed_passages(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def embed_queries(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return self.embed_passages(texts)


class BruteForceVectorStore:
    """The smallest honest VectorStore: a dict of vectors persisted in one .npz file."""

    def __init__(self, folder: Path, dimension: int) -> None:
        self.folder = folder
        self._dimension = dimension
        self._vectors: dict[int, npt.NDArray[np.float32]] = {}
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
            self._vectors = {}
            return
        with np.load(self._file) as state:
            self._vectors = {int(i): v for i, v in zip(state["ids"], state["vectors"],
                                                       strict=True)}

    def _save(self) -> None:
        ids = np.asarray(list(self._vectors), dtype=np.int64)
        vectors = (np.stack(list(self._vectors.values())) if self._vectors
                   else np.zeros((0, self._dimension), dtype=np.float32))
        temporary = self.folder / "state.tmp.npz"
        np.savez(temporary, ids=ids, vectors=vectors)
        temporary.replace(self._file)

    def add(self, ids: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> None:
        self.refresh()
        for i, v in zip(ids, np.asarray(vectors, dtype=np.float32).reshape(-1, self._dimension),
                        strict=True):
            self._vectors[int(i)] = v
        self._save()

    def remove(self, ids: npt.NDArray[np.int64]) -> None:
        self.refresh()
        for i in ids:
            self._vectors.pop(int(i), None)
        self._save()

    def search(self, queries: npt.NDArray[np.float32], k: int,
               allowed_ids: npt.NDArray[np.int64] | None = None
               ) -> list[list[tuple[int, float]]]:
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, self._dimension)
        allowed = None if allowed_ids is None else {int(i) for i in allowed_ids}
        candidates = [(i, v) for i, v in self._vectors.items()
                      if allowed is None or i in allowed]
        hits = []
        for query in queries:
            scored = sorted(((i, float(v @ query)) for i, v in candidates),
                            key=lambda item: -item[1])
            hits.append(scored[:max(k, 0)])
        return hits

    def ids(self) -> npt.NDArray[np.int64]:
        return np.asarray(sorted(self._vectors), dtype=np.int64)

    def compact(self, live_ids: npt.NDArray[np.int64]) -> None:
        self.refresh()
        live = {int(i) for i in live_ids}
        self._vectors = {i: v for i, v in self._vectors.items() if i in live}
        self._save()

    def close(self) -> None:
        self._vectors = {}


@dataclass(frozen=True)
class SourceDocument:
    """Everything `KnowledgeBase.publish_document` needs, derived from page texts."""

    info: DocumentInfo
    path: Path
    pages: list[Page]
    chunks: list[Chunk]
    vectors: npt.NDArray[np.float32]
    tokens: list[str]

    @property
    def chunk_ids(self) -> set[int]:
        return {c.id for c in self.chunks}


def make_document(folder: Path, filename: str, page_texts: Sequence[str], embedder: HashEmbedder,
                  lexical: LexicalIndex, chunker: ChunkerConfig | None = None
                  ) -> SourceDocument:
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
    return SourceDocument(info, path, pages, chunks, embedder.embed_passages(texts),
                          lexical.document_tokens(texts))


def publish(kb: KnowledgeBase, doc: SourceDocument) -> bool:
    return kb.publish_document(doc.info, doc.path, doc.pages, doc.chunks, doc.vectors,
                               doc.tokens)
