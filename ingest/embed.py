"""Chunks -> vectors: one vector per sentence, and one for the chunk's context (document
identity and section), stored under its chunk's id.

The default model (Universal Sentence Encoder) is a sentence encoder: on the SQuAD dev
set, scoring a chunk by its best-matching sentence found the answer passage far more often
than one vector for a whole 1,800-character chunk (dense-only recall@5 0.84 vs 0.79, and
0.964 vs 0.958 fused with BM25), and short inputs embed faster. The vector store scores an
id by its best vector, so the chunk's dense score is its best sentence's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from qa_service.embedding import Embedder
from qa_service.schemas import Chunk
from qa_service.sentences import MAX_SENTENCE_CHARS, bounded_sentences

__all__ = ["CONTEXT_SCALE", "embed_chunks"]

# A chunk scores by its best vector; its context's is stored scaled down, so it lifts the
# chunk only when the question matches the context clearly better than any of its
# sentences (at 1.0 every chunk of an article scored at least its title: squad -0.2 pt)
CONTEXT_SCALE = 0.8


def embed_chunks(
    embedder: Embedder,
    chunks: Sequence[Chunk],
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """(ids, vectors): per batch, a row per sentence of every chunk, then a row for each
    chunk's context (when it has one); ids repeat per chunk. A chunk's rows are therefore
    its sentences in order, then its context (see `PreparedDocument`)."""
    ids: list[int] = []
    rows: list[npt.NDArray[np.float32]] = []
    cache: dict[str, npt.NDArray[np.float32]] = {}  # overlapping chunks share sentences
    for start in range(0, len(chunks), batch_size):
        batch = chunks[start:start + batch_size]
        units = [(c.id, c.text[a:b]) for c in batch
                 for a, b in bounded_sentences(c.text, MAX_SENTENCE_CHARS)]
        sentences = len(units)
        units += [(c.id, c.context) for c in batch if c.context]  # a page's chunks share one
        fresh = list(dict.fromkeys(text for _, text in units if text not in cache))
        if fresh:
            cache.update(zip(fresh, embedder.embed_passages(fresh), strict=True))
        ids += [chunk_id for chunk_id, _ in units]
        rows += [cache[text] for _, text in units[:sentences]]
        rows += [cache[text] * CONTEXT_SCALE for _, text in units[sentences:]]
        if progress is not None:
            progress(len(batch))
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, embedder.dimension), np.float32)
    return np.asarray(ids, dtype=np.int64), np.vstack(rows).astype(np.float32)
