"""Writing a FAISS index into an open file, streamed: FAISS hands it over in pieces, so
an index is never also held in memory as one serialized copy (a 1M-vector segment is
2 GB at 512 dimensions)."""

from __future__ import annotations

from typing import Any, BinaryIO

__all__ = ["write_index"]


def write_index(index: Any, handle: BinaryIO) -> None:
    import faiss  # lazy: keeps `import qa_service` light

    library: Any = faiss  # its Python callback writer is missing from its type stubs
    writer = library.PyCallbackIOWriter(handle.write)
    try:
        library.write_index(index, writer)
    finally:
        del writer  # flushes what FAISS still buffers
