"""Whole knowledge bases of 100k (or more) chunks, searched through the real server: hybrid
search latency over HTTP, BM25 alone, and cold start (process start to the first answered
search, for an English question and, in a second start, a Korean one).

How the large knowledge base is made: every indexed document of a real knowledge base (the
one `make bench` ingested) is published again and again through `KnowledgeBase.publish`,
each copy under its own document id and file name, until the knowledge base holds the chunks
asked for. A copy keeps the real pages, chunks and BM25 postings, so the lexical side sees
the real vocabulary in the real proportions (the fraction of chunks that holds "company" or
"2022" is the source's), and its vectors are the real ones perturbed as
`bench.vector_scale.synthetic` perturbs them (each blended with a random real sentence
vector, weight 0.5-1 on its own, plus Gaussian noise, then given its original length back).
The approximate vector index is then built as the server builds it. Copies repeat their
source's text, so lexical results repeat across copies; that changes what is found, not
what a search costs.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from ingest.chunk import chunk_id
from qa_service.lexical import Budget, LexicalIndex
from qa_service.schemas import (
    Chunk,
    DocumentInfo,
    DocumentStatus,
    LexicalFields,
    Page,
    PreparedDocument,
)
from qa_service.store.knowledge_base import KnowledgeBase
from qa_service.tokens import Tokenizer

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SourceDocument:
    """An indexed document as its knowledge base holds it: what publishing it again needs."""

    info: DocumentInfo
    file: Path
    pages: tuple[Page, ...]
    chunks: tuple[Chunk, ...]
    tokens: tuple[LexicalFields, ...]
    identity_tokens: str
    rows: tuple[Vectors, ...]  # each chunk's vectors, in its stored order
    pipeline_version: str


def source_documents(kb: KnowledgeBase) -> list[SourceDocument]:
    found = []
    with kb.catalog.snapshot() as conn:
        for info in kb.catalog.documents():
            if info.status is not DocumentStatus.INDEXED:
                continue
            pages = tuple(Page(int(n), str(t)) for n, t in conn.execute(
                "SELECT number, text FROM pages WHERE document_id = ? ORDER BY number",
                (info.id,)))
            chunks = tuple(Chunk(*row) for row in conn.execute(
                "SELECT id, document_id, page, char_start, char_end, text, context FROM chunks"
                " WHERE document_id = ? ORDER BY page, char_start", (info.id,)))
            tokens = tuple(LexicalFields(*conn.execute(
                "SELECT identity, section, tokens FROM chunks_fts WHERE rowid = ?",
                (c.id,)).fetchone()) for c in chunks)
            identity = conn.execute("SELECT tokens FROM documents_fts WHERE document_id = ?",
                                    (info.id,)).fetchone()
            vectors = kb.index.reader(conn).vectors_of([c.id for c in chunks])
            found.append(SourceDocument(
                info, kb.file_path(info.id), pages, chunks, tokens,
                str(identity[0]) if identity else "", tuple(vectors[c.id] for c in chunks),
                kb.catalog.pipeline_version_of(conn, info.id) or ""))
    return found


def copy_of(document: SourceDocument, copy: int, partners: Vectors,
            rng: np.random.Generator) -> PreparedDocument:
    """Copy number `copy` of `document`: its own id, name and chunk ids, perturbed vectors."""
    doc_id = hashlib.sha256(f"{document.info.id}:copy:{copy}".encode()).hexdigest()
    chunks = tuple(replace(c, id=chunk_id(doc_id, c.page, c.char_start, c.char_end),
                           document_id=doc_id) for c in document.chunks)
    rows = np.concatenate(document.rows)
    weight = rng.uniform(0.5, 1.0, size=(len(rows), 1)).astype(np.float32)
    mixed: Vectors = (weight * rows
                      + (1 - weight) * partners[rng.integers(0, len(partners), len(rows))])
    mixed += rng.normal(0, 0.03, size=mixed.shape).astype(np.float32)
    mixed *= (np.linalg.norm(rows, axis=1) / np.linalg.norm(mixed, axis=1))[:, None]
    ids = np.repeat(np.asarray([c.id for c in chunks], np.int64),
                    [len(r) for r in document.rows])
    info = replace(document.info, id=doc_id, filename=f"copy{copy:05d}-{document.info.filename}")
    return PreparedDocument(info, document.file, document.pages, chunks, ids,
                            mixed.astype(np.float32), document.tokens, document.identity_tokens,
                            document.pipeline_version)


def grow(kb: KnowledgeBase, chunks: int, seed: int = 0,
         prepare: Callable[[KnowledgeBase], None] | None = None,
         sources: list[SourceDocument] | None = None) -> dict[str, Any]:
    """Publish copies of `kb`'s documents (or of `sources`, another knowledge base's) into
    it until it holds `chunks` chunks, then build its approximate index and run `prepare`
    (what the server does after an ingestion job: `HybridRetriever.prepare`). Returns how
    long each part took."""
    sources = sources if sources is not None else source_documents(kb)
    partners = np.concatenate([np.concatenate(s.rows) for s in sources])
    rng = np.random.default_rng(seed)
    held = kb.info().chunks
    started = time.perf_counter()
    copy = 0
    while held < chunks:
        copy += 1
        for source in sources:
            if held >= chunks:
                break
            kb.publish(copy_of(source, copy, partners, rng))
            held += len(source.chunks)
    write_s = time.perf_counter() - started
    started = time.perf_counter()
    kb.build_approximate_index()
    if prepare is not None:
        prepare(kb)
    return {"chunks": kb.info().chunks, "documents": kb.info().documents,
            "publish_s": round(write_s, 1), "index_s": round(time.perf_counter() - started, 1),
            "disk_mb": round(sum(p.stat().st_size for p in kb.root.rglob("*") if p.is_file())
                             / 1e6, 1)}


def lexical_latency(kb: KnowledgeBase, queries: list[str], postings: int, depth: int = 50
                    ) -> dict[str, float]:
    """BM25 alone as hybrid search asks it (`LexicalIndex.search`, the `postings` budget;
    0: none), p50/p95/max ms, after 10 queries to warm up; and the share of queries whose
    terms the budget cut."""
    lexical = LexicalIndex(Tokenizer())
    spent, cut = [], 0
    with kb.snapshot() as snapshot:
        for index, query in enumerate([*queries[:10], *queries]):
            tokens = list(dict.fromkeys(lexical.tokenizer.tokens(query)))
            budget = Budget(postings, lexical.statistics(snapshot, tokens).frequencies)
            started = time.perf_counter()
            lexical.search(snapshot, query, depth, budget=budget)
            if index >= 10:
                spent.append((time.perf_counter() - started) * 1000)
                cut += len(budget.kept(tokens)) < len(tokens)
    return {"p50_ms": round(float(np.percentile(spent, 50)), 1),
            "p95_ms": round(float(np.percentile(spent, 95)), 1),
            "max_ms": round(float(np.max(spent)), 1), "cut": round(cut / len(spent), 3)}


COLD_STARTS = 5  # server starts per question whose median is the cold start


def cold_start(command: list[str], env: dict[str, str], url: str, kb_name: str, key: str,
               query: str, log: Path, timeout: float = 120
               ) -> tuple[subprocess.Popen[bytes], float]:
    """Start the server; seconds from the process start to its first answered search."""
    started = time.perf_counter()
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out,  # noqa: S603 - our own
                                   stderr=subprocess.STDOUT)
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{log.read_text()[-3000:]}")
        try:
            response = httpx.post(f"{url}/kbs/{kb_name}/search", json={"query": query, "k": 5},
                                  headers={"Authorization": f"Bearer {key}"}, timeout=30)
            if response.status_code == 200:
                return process, time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    process.kill()
    raise RuntimeError("the server did not answer a search in time")


def server(data_dir: Path, key: str, **env: str) -> tuple[str, list[str], dict[str, str]]:
    """The URL, command and environment of a `qa serve` over `data_dir` on a free loopback
    port, with `key` as its admin key, no limit on questions, and `env`'s settings."""
    from bench.concurrent_load import free_port, qa_command, qa_environment

    port = free_port()
    environment = qa_environment(data_dir, QA_ADMIN_KEY=key, QA_LIMITS__ASKS_PER_MINUTE="0",
                                 **env)
    command = [*qa_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return f"http://127.0.0.1:{port}", command, environment


def copy_knowledge_base(source_root: Path, data_dir: Path) -> Path:
    """The knowledge base folder copied into a fresh data directory (its files only: no
    server state), where it is grown."""
    target = data_dir / source_root.name
    shutil.copytree(source_root, target, ignore=shutil.ignore_patterns("uploads", "*.lock"))
    return target


def process_memory(pid: int) -> dict[str, float]:
    """A process's resident memory (MB): all, anonymous, file-backed (memory-mapped)."""
    from bench.vector_scale import status_memory

    fields = status_memory(pid)
    return {"rss_mb": round(fields["VmRSS"], 1), "rss_anon_mb": round(fields["RssAnon"], 1),
            "rss_file_mb": round(fields["RssFile"], 1)}


def measure(source_root: Path, size: int, queries: list[str], work: Path, key: str,
            latency: Callable[[str, dict[str, str], int], dict[str, float]]
            ) -> dict[str, Any]:
    """The knowledge base at `source_root` grown to `size` chunks in a data directory of its
    own; BM25 alone with and without the postings budget; a server started on it (cold
    start to the first answered search), then `latency(url, headers, clients)` with 1 and
    8 clients, and the server's memory after."""
    from bench.concurrency import stop
    from qa_service.config import RetrievalSettings, Settings
    from qa_service.embedding import load_embedder
    from qa_service.retrieval import HybridRetriever
    from qa_service.store.registry import KnowledgeBaseRegistry
    from qa_service.tokens import has_hangul

    data_dir = work / f"kb-{size}"
    copy_knowledge_base(source_root, data_dir)
    registry = KnowledgeBaseRegistry(data_dir)
    try:
        kb = registry.open(source_root.name)
        settings = Settings()
        retriever = HybridRetriever(load_embedder(settings.embedding_model),
                                    LexicalIndex(Tokenizer()), settings.retrieval)
        row = grow(kb, size, prepare=retriever.prepare)
        budget = RetrievalSettings().lexical_postings
        row["lexical"] = {"budget": budget,
                          "within_budget": lexical_latency(kb, queries, budget),
                          "budget_20000": lexical_latency(kb, queries, 20_000),
                          "no_budget": lexical_latency(kb, queries, 0)}
    finally:
        registry.close()
    url, command, env = server(data_dir, key)
    # an English question, then a Korean one, each asked first of a server started
    # `COLD_STARTS` times (starts alternate): only Korean needs the Korean analyser, which
    # loads in about two seconds (`qa_service.api.activity`). One start on this 2-core
    # machine varies by half a second either way, so the median is the figure, and the
    # slowest start is reported beside it.
    korean = next((q for q in queries if has_hangul(q)), None)
    asked = [("", queries[0]), *([("_korean", korean)] if korean is not None else [])]
    starts: dict[str, list[float]] = {suffix: [] for suffix, _ in asked}
    process = None
    for attempt in range(COLD_STARTS):
        for suffix, question in asked:
            if process is not None:
                stop(process)
            process, seconds = cold_start(command, env, url, source_root.name, key, question,
                                          work / f"kb-{size}{suffix}-{attempt}.log")
            starts[suffix].append(round(seconds, 2))
    for suffix, seconds_each in starts.items():
        row[f"cold_start{suffix}_s"] = round(float(np.median(seconds_each)), 2)
        row[f"cold_start{suffix}_max_s"] = max(seconds_each)
        row[f"cold_start{suffix}_runs"] = seconds_each
    assert process is not None
    try:
        headers = {"Authorization": f"Bearer {key}"}
        for clients in (1, 8):
            row[f"search_{clients}"] = latency(url, headers, clients)
        row.update(process_memory(process.pid))
    finally:
        stop(process)
    shutil.rmtree(data_dir, ignore_errors=True)
    return row
