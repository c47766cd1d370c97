"""The vector store seam: FAISS on local disk today, a distributed engine (Milvus) later.

Contract (checked for every implementation by `tests/store/test_vector_store_contract.py`):
- `add` is durable when it returns; ids are int64 chunk ids, vectors are unit-length.
- `search` ranks by inner product and returns at most `k` (id, score) pairs per query,
  only among `allowed_ids` when given, never an id that was `remove`d.
- Visibility is decided by the catalog: a knowledge base adds vectors before it commits
  the chunks they belong to, so vectors whose chunk never committed are invisible garbage
  that `compact(live)` drops where it rewrites (`live(ids)`: which of these ids the catalog
  holds; asked only about what is rewritten, so compaction costs what it rewrites).
- `vectors_of` returns every live vector of the given ids, in the order they were added
  (the service stores one vector per sentence of a chunk, in sentence order).
- `refresh` picks up what other processes published.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["Hits", "VectorStore"]

Hits = list[list[tuple[int, float]]]


@runtime_checkable
class VectorStore(Protocol):
    @property
    def dimension(self) -> int: ...

    def add(self, ids: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> None: ...

    def remove(self, ids: npt.NDArray[np.int64]) -> None: ...

    def search(
        self,
        queries: npt.NDArray[np.float32],
        k: int,
        allowed_ids: npt.NDArray[np.int64] | None = None,
    ) -> Hits: ...

    def vectors_of(
        self, ids: npt.NDArray[np.int64]
    ) -> dict[int, npt.NDArray[np.float32]]: ...

    def ids(self) -> npt.NDArray[np.int64]: ...

    def compact(
        self, live: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.bool_]]
    ) -> None: ...

    def refresh(self) -> None: ...

    def close(self) -> None: ...
