"""A whole knowledge base of 1M chunks served by a real `qa serve` while the same server
ingests: does it all fit this machine's memory? (`make bench-kb-joint`, about 90 minutes:
longer than `make bench`'s hour, so a target of its own.)

1. The benchmark's PDFs (`bench.compare.bench_inputs`) are ingested through the API into a
   knowledge base, as `make bench` does.
2. That knowledge base is grown to `--size` chunks (1M by default) as `bench.kb_scale`
   grows one: its documents published again and again through `KnowledgeBase.publish`
   (real pages, chunks and BM25 postings; perturbed real vectors), then its approximate
   vector index built and the retriever prepared as the server does after a job.
3. A server is started on it (cold start: process start to the first answered search).
   One client then runs hybrid searches (`POST /kbs/{kb}/search`, k=5) over it, question
   after question, while every benchmark PDF is uploaded into a second knowledge base of
   the same server, whose two parser worker processes parse them.

Every quarter second it samples the machine's `MemAvailable` and the server process tree's
anonymous and file-backed resident memory (`bench.joint_load.MemorySampler`). It reports
the lowest `MemAvailable`, those peaks, the searches' p50/p95 during the ingestion, the
ingestion's pages per second, and writes `.eval/kb-joint.json`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.compare import KB, KEY, bench_inputs, ingest_ours, latency_queries, ours_search

INCOMING = "incoming"


def build(data: Path, work: Path, size: int) -> tuple[Path, dict[str, Any], list[str], list[Path]]:
    """Steps 1 and 2: the grown knowledge base's data directory, how it was built, the
    latency questions and the PDFs."""
    from bench.concurrency import qa_server
    from bench.kb_scale import copy_knowledge_base, grow
    from qa_service.config import Settings
    from qa_service.embedding import load_embedder
    from qa_service.lexical import LexicalIndex
    from qa_service.retrieval import HybridRetriever
    from qa_service.store.registry import KnowledgeBaseRegistry
    from qa_service.tokens import Tokenizer

    pdfs, probes, _ = bench_inputs(data, work / "pdfs")
    print(f"{len(pdfs)} PDFs: ingesting them", flush=True)
    with qa_server(work / "source", KEY, work / "source.log") as (url, pid), \
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"},
                         timeout=300) as api:
        source = ingest_ours(api, pid, pdfs)
    print(f"ingested {source['pages']} pages, {source['chunks']} chunks; growing to "
          f"{size:,} chunks", flush=True)
    data_dir = work / "big"
    copy_knowledge_base(work / "source" / KB, data_dir)
    registry = KnowledgeBaseRegistry(data_dir)
    try:
        settings = Settings()
        retriever = HybridRetriever(load_embedder(settings.embedding_model),
                                    LexicalIndex(Tokenizer()), settings.retrieval)
        grown = grow(registry.open(KB), size, prepare=retriever.prepare)
    finally:
        registry.close()
    print(json.dumps(grown), flush=True)
    return data_dir, grown, latency_queries(probes), pdfs


def searched_while_ingesting(data_dir: Path, work: Path, queries: list[str],
                             pdfs: list[Path]) -> dict[str, Any]:
    """Step 3 (see the module)."""
    from bench.compare import process_tree
    from bench.concurrency import stop
    from bench.joint_load import MemorySampler, meminfo_mb
    from bench.kb_scale import cold_start, server

    url, command, env = server(data_dir, KEY, QA_LIMITS__UPLOADS_PER_MINUTE="0")
    process, cold_s = cold_start(command, env, url, KB, KEY, queries[0], work / "big.log")
    spent: list[float] = []
    failures: list[str] = []
    done = threading.Event()
    headers = {"Authorization": f"Bearer {KEY}"}

    def search_until_done() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            while not done.is_set():
                for query in queries:
                    if done.is_set():
                        return
                    started = time.perf_counter()
                    try:
                        ours_search(client, query)
                    except httpx.HTTPError as exc:
                        failures.append(f"{type(exc).__name__}: {exc}")
                        continue
                    spent.append((time.perf_counter() - started) * 1000)

    try:
        searcher = threading.Thread(target=search_until_done, daemon=True)
        with httpx.Client(base_url=url, headers=headers, timeout=300) as api, \
                MemorySampler([process.pid]) as memory:
            searcher.start()
            ingested = ingest_ours(api, process.pid, pdfs, INCOMING)
            done.set()
            searcher.join(120)
            kb_info = api.get(f"/kbs/{KB}").json()
        processes = len(process_tree(process.pid))
    finally:
        done.set()
        stop(process)
    return {
        "cold_start_s": round(cold_s, 2),
        "memory_total_mb": round(meminfo_mb("MemTotal")),
        "lowest_available_mb": round(memory.lowest_available_mb),
        "peak_anon_mb": round(memory.peak_anon_mb),
        "peak_file_mb": round(memory.peak_file_mb),
        "server_processes": processes,
        "kb_chunks": kb_info["chunks"],
        "searches": len(spent), "search_failures": failures[:5],
        "search_p50_ms": round(float(np.percentile(spent, 50)), 1) if spent else None,
        "search_p95_ms": round(float(np.percentile(spent, 95)), 1) if spent else None,
        "ingest_pages": ingested["pages"],
        "ingest_pages_per_s": round(ingested["pages"] / ingested["seconds"], 2),
        "ingest_failed": ingested["failed"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path(".eval"))
    parser.add_argument("--size", type=int, default=1_000_000, help="chunks")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: tmp;"
                        " a 1M-chunk knowledge base takes about 45 GB)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qa-kb-joint-", dir=args.work))
    started = time.perf_counter()
    try:
        data_dir, grown, queries, pdfs = build(args.data, work, args.size)
        report = {"size": args.size, "built": grown,
                  **searched_while_ingesting(data_dir, work, queries, pdfs)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["seconds"] = round(time.perf_counter() - started)
    report["date"] = time.strftime("%Y-%m-%d")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "kb-joint.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
