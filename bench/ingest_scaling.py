"""Benchmark: adding a document costs in proportion to the document, not the knowledge base.

Run with `make bench` (or `python -m bench.ingest_scaling [--pages 1000 10000]`).

For each knowledge-base size it fills a knowledge base with synthetic pages, then adds one
10-page document through the real publishing path (FAISS segment + FTS5 postings + SQLite
commit) and compares it with the naive baseline a static index forces: rebuilding the
whole vector index and BM25 index from every chunk. Filling uses a fast hashing embedder so
that large sizes fit in minutes; the real model's measured per-chunk cost is reported
separately, with what re-embedding the whole knowledge base with it would take.
Search latency (hybrid, real tokenizer, hashing query vectors) is reported at each size.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ingest.chunk import ChunkerConfig, chunk_document
from ingest.embed import embed_chunks
from qa_service.config import RetrievalSettings
from qa_service.embedding import load_embedder
from qa_service.lexical import LexicalIndex
from qa_service.retrieval import HybridRetriever
from qa_service.schemas import DocumentInfo, DocumentStatus, Page, PreparedDocument
from qa_service.store.catalog import now
from qa_service.store.knowledge_base import IndexIdentity, KnowledgeBase
from qa_service.tokens import Tokenizer

DIM = 512
PAGE_CHARS = 2400
CHUNKER = ChunkerConfig(target_chars=1000, overlap_sentences=0, min_chars=150)


class HashingEmbedder:
    """Deterministic bag-of-words hashing into 512 dimensions: fast, for filling only."""

    name = "bench-hashing"
    dimension = DIM

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.split():
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
                out[row, h % DIM] += 1.0 if h & 1 << 31 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)

    embed_queries = embed_passages


def synthetic_pages(rng: random.Random, vocabulary: list[str], count: int) -> list[Page]:
    pages = []
    for number in range(1, count + 1):
        sentences, size = [], 0
        while size < PAGE_CHARS:
            sentence = " ".join(rng.choices(vocabulary, k=rng.randint(8, 20))).capitalize() + "."
            sentences.append(sentence)
            size += len(sentence) + 1
        pages.append(Page(number, " ".join(sentences)))
    return pages


def publish(kb: KnowledgeBase, lexical: LexicalIndex, embedder: HashingEmbedder,
            doc_seed: str, pages: list[Page], pdf: Path) -> int:
    doc_id = hashlib.sha256(doc_seed.encode()).hexdigest()
    chunks = chunk_document(doc_id, pages, CHUNKER)
    vector_ids, vectors = embed_chunks(embedder, chunks)
    tokens = lexical.chunk_fields([c.text for c in chunks])
    stamp = now()
    info = DocumentInfo(doc_id, f"{doc_seed}.pdf", DocumentStatus.INDEXED, "", len(pages),
                        len(chunks), 0, stamp, stamp)
    kb.publish(PreparedDocument(info, pdf, tuple(pages), tuple(chunks), vector_ids, vectors,
                                tuple(tokens)))
    return len(chunks)


def naive_rebuild_seconds(kb: KnowledgeBase, lexical: LexicalIndex,
                          embedder: HashingEmbedder) -> float:
    """Rebuild a vector index and a static BM25 index from every chunk (bm25s)."""
    import bm25s
    import faiss

    started = time.perf_counter()
    texts = [c.text for c in kb.catalog.all_chunks()]
    index = faiss.IndexFlatIP(DIM)
    index.add(embedder.embed_passages(texts))
    retriever = bm25s.BM25()
    retriever.index([lexical.tokenizer.tokens(t) for t in texts], show_progress=False)
    return time.perf_counter() - started


def run_size(total_pages: int, real_chunk_seconds: float, work: Path) -> dict[str, float]:
    rng = random.Random(7)
    vocabulary = [f"w{i}" for i in range(6000)]
    lexical = LexicalIndex(Tokenizer())
    embedder = HashingEmbedder()
    pdf = work / "dummy.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%bench\n")
    kb = KnowledgeBase.create(work / f"kb-{total_pages}", "bench",
                              IndexIdentity(embedder.name, DIM, CHUNKER.describe()))
    chunks, batch = 0, 100
    for start in range(0, total_pages, batch):
        pages = synthetic_pages(rng, vocabulary, min(batch, total_pages - start))
        chunks += publish(kb, lexical, embedder, f"fill-{start}", pages, pdf)
    added_ms = []
    for trial in range(3):
        pages = synthetic_pages(rng, vocabulary, 10)
        started = time.perf_counter()
        publish(kb, lexical, embedder, f"added-{trial}", pages, pdf)
        added_ms.append((time.perf_counter() - started) * 1000)
    rebuild_s = naive_rebuild_seconds(kb, lexical, embedder)
    retriever = HybridRetriever(embedder, lexical, RetrievalSettings())  # type: ignore[arg-type]
    latencies = []
    for _ in range(60):
        query = " ".join(rng.choices(vocabulary, k=8))
        started = time.perf_counter()
        retriever.search(kb, query, 5)
        latencies.append((time.perf_counter() - started) * 1000)
    kb.close()
    return {
        "pages": total_pages,
        "chunks": chunks,
        "add_10_pages_ms": float(np.median(added_ms)),
        "naive_rebuild_ms": rebuild_s * 1000,
        "naive_reembed_real_model_s": chunks * real_chunk_seconds,
        "search_p50_ms": float(np.percentile(latencies, 50)),
        "search_p95_ms": float(np.percentile(latencies, 95)),
    }


def real_model_chunk_seconds() -> float:
    model = load_embedder("use-multilingual-v3")
    rng = random.Random(3)
    words = [f"word{i}" for i in range(3000)]
    texts = [" ".join(rng.choices(words, k=150)) for _ in range(96)]
    model.embed_passages(texts[:8])
    started = time.perf_counter()
    model.embed_passages(texts)
    return (time.perf_counter() - started) / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    per_chunk = real_model_chunk_seconds()
    print(f"real model (use-multilingual-v3): {1 / per_chunk:.1f} chunks/s")
    header = (f"{'KB pages':>9} {'chunks':>7} {'add 10 pages':>13} {'naive rebuild':>14} "
              f"{'ratio':>7} {'re-embed all (real model)':>26} {'search p50/p95':>16}")
    print(header)
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as folder:
        for pages in args.pages:
            row = run_size(pages, per_chunk, Path(folder))
            ratio = row["naive_rebuild_ms"] / row["add_10_pages_ms"]
            print(f"{row['pages']:>9,} {row['chunks']:>7,} {row['add_10_pages_ms']:>10.0f} ms "
                  f"{row['naive_rebuild_ms']:>11.0f} ms {ratio:>6.1f}x "
                  f"{row['naive_reembed_real_model_s']:>24.0f} s "
                  f"{row['search_p50_ms']:>7.1f}/{row['search_p95_ms']:.1f} ms")


if __name__ == "__main__":
    main()
