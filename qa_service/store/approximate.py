"""The approximate vector index of a large knowledge base.

Exact search scores a chunk by its best sentence vector and reads every sentence vector
for each question: about 8.6 vectors per chunk, 1.8 GB per question at 100,000 chunks.
Once a knowledge base holds `approximate_from` chunks, the vector store also keeps a FAISS
inverted-file index over the same sentence vectors, 8-bit scalar-quantized (IVF-SQ8:
512 bytes a vector), each labelled with its chunk's id. A question reads the `nprobe`
lists nearest to it (fewer on an index so large that those would hold more than
`probe_vectors` vectors: `ApproximateIndex.lists_read`), takes the chunks of its best
`candidates` sentences, adds the exact best of the segments written since the index was
built, and scores every candidate exactly by its best sentence vector, as exact search
would: the index only chooses what to score, so a chunk's score never depends on it.

(One vector per chunk, the mean of its sentences, was measured first and rejected: on the
FinanceBench filings its 200 best chunks held 0.74 of exact search's top 10; see the
README's "Large knowledge bases".)

The index is built from a snapshot of the immutable segments, without any lock, and
published by one atomic manifest replace (`FaissSegmentStore.publish_approximate`). It is
read memory-mapped (`IO_FLAG_MMAP`): one copy, in the page cache, shared by processes.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa_service.store.atomic import write_file_atomic
from qa_service.store.faiss_io import write_index
from qa_service.store.prefetch import will_need_bytes

__all__ = ["INDEX_KIND", "ApproximateIndex", "ApproximateSettings", "BuiltIndex", "build_index",
           "list_count"]

IdArray = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]
Rows = Iterator[tuple[IdArray, Vectors]]  # (owner ids, vectors) blocks
INDEX_KIND = "ivf-sq8"  # what the manifest's "approximate" entry names; others are rebuilt
TRAINING_PER_LIST = 40  # sample rows per list to train the coarse quantizer
MAX_TRAINING = 200_000


@dataclass(frozen=True)
class ApproximateSettings:
    """How the vector store searches once a knowledge base is large (`VectorSettings`)."""

    approximate_from: int = 20_000  # chunks; 0 builds the index for every knowledge base
    rebuild_fraction: float = 0.1  # rebuild when this share of chunks is outside the index
    candidates: int = 300  # best sentences taken from the index per question, at least
    nprobe: int = 192  # lists read per question, at most
    probe_vectors: int = 100_000  # ... and no more than hold about this many vectors (0: any)
    max_lists: int = 8192


@dataclass(frozen=True)
class BuiltIndex:
    """An index written to disk, not yet published: its file, the segments it covers."""

    file: str
    covers: tuple[str, ...]
    count: int  # vectors
    lists: int


def list_count(vectors: int, max_lists: int) -> int:
    """Inverted lists for `vectors`: about 4 sqrt(n), a power of two, 16 to `max_lists`."""
    wanted = 4 * math.sqrt(max(vectors, 1))
    return int(min(max_lists, max(16, 2 ** round(math.log2(wanted)))))


def build_index(folder: Path, dimension: int, total: int, sample: Vectors, rows: Rows,
                covers: tuple[str, ...], settings: ApproximateSettings) -> BuiltIndex:
    """Train an IVF-SQ8 index on `sample`, add every block of `rows` (owner ids and their
    vectors) and write it to a new file in `folder` (fsync)."""
    import faiss

    lists = min(list_count(total, settings.max_lists), max(1, len(sample) // 39))
    index = faiss.index_factory(dimension, f"IVF{lists},SQ8", faiss.METRIC_INNER_PRODUCT)
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    count = 0
    for owners, vectors in rows:
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                           np.ascontiguousarray(owners, dtype=np.int64))
        count += len(owners)
    name = f"ann-{uuid.uuid4().hex[:12]}.faiss"
    write_file_atomic(folder / name, lambda handle: write_index(index, handle))
    return BuiltIndex(name, covers, count, lists)


class ApproximateIndex:
    """A published index, read memory-mapped: candidates for a question."""

    def __init__(self, path: Path, nprobe: int, probe_vectors: int = 0) -> None:
        import faiss

        self._faiss: Any = faiss
        self.file = path.name
        self.nprobe = nprobe
        self.probe_vectors = probe_vectors
        self._index: Any = faiss.read_index(str(path), faiss.IO_FLAG_MMAP)

    @property
    def count(self) -> int:
        return int(self._index.ntotal)

    def _will_need_lists(self, queries: Vectors, lists: int) -> None:
        """Queue the disk reads of the lists the search will read, all at once
        (`store.prefetch`): a large index is mostly outside the page cache, and FAISS reads
        its lists one after another."""
        faiss = self._faiss
        ivf = faiss.extract_index_ivf(self._index)
        inverted = ivf.invlists
        _, probed = ivf.quantizer.search(np.ascontiguousarray(queries, dtype=np.float32),
                                         lists)
        spans = []
        for number in np.unique(probed[probed >= 0]).tolist():
            size = inverted.list_size(number)
            if size:
                codes, ids = inverted.get_codes(number), inverted.get_ids(number)
                spans += [(faiss.rev_swig_ptr(codes, 1).ctypes.data, size * inverted.code_size),
                          (faiss.rev_swig_ptr(ids, 1).ctypes.data, size * 8)]
                inverted.release_codes(number, codes)
                inverted.release_ids(number, ids)
        will_need_bytes(spans)

    @property
    def lists_read(self) -> int:
        """Lists a question reads: `nprobe`, or fewer where that many hold more than about
        `probe_vectors` vectors. A question's cost is the vectors it reads, and a large
        index's lists are long: at 1M chunks (9.1M vectors in 5,128 lists, as many as the
        training sample allows) 192 lists hold 340k vectors, 174 MB read per question, most
        of it from disk until cached; at 100k chunks they hold 42k."""
        lists = int(self._index.nlist)
        read = min(self.nprobe, lists)
        if self.probe_vectors > 0 and self.count > 0:
            read = min(read, max(1, math.ceil(self.probe_vectors * lists / self.count)))
        return read

    def candidates(self, queries: Vectors, n: int, removed: IdArray,
                   allowed: IdArray | None = None) -> list[IdArray]:
        """The distinct ids of the best `n` vectors per query, none of them `removed`, all
        `allowed` (unordered: they are scored exactly next)."""
        faiss = self._faiss
        n = min(n, self.count)
        if n <= 0:
            return [np.zeros(0, np.int64) for _ in range(len(queries))]
        keep: list[Any] = []
        selector = None
        if len(removed):
            gone = np.ascontiguousarray(removed, dtype=np.int64)
            batch = faiss.IDSelectorBatch(len(gone), faiss.swig_ptr(gone))
            selector = faiss.IDSelectorNot(batch)
            keep += [gone, batch]
        if allowed is not None:
            wanted = np.ascontiguousarray(allowed, dtype=np.int64)
            only = faiss.IDSelectorBatch(len(wanted), faiss.swig_ptr(wanted))
            keep += [wanted, only]
            selector = only if selector is None else faiss.IDSelectorAnd(only, selector)
        params = faiss.SearchParametersIVF(nprobe=self.lists_read)
        self._will_need_lists(queries, params.nprobe)
        if selector is not None:
            params.sel = selector
            keep.append(selector)
        _, found = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), n,
                                      params=params)
        del keep
        return [np.unique(row[row >= 0]).astype(np.int64) for row in found]
