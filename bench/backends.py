"""`make bench-backends`: the Milvus index and Ray ingestion on this machine, beside the
defaults, on `make bench`'s PDFs and questions.

1. Ingestion: `qa ingest` of every benchmark PDF into a new knowledge base, without Ray
   (the parser workers and this process) and with the prepare stage on a local Ray of 1
   and of 2 workers (`--ray --ray-workers N`): pages/s and CPU-seconds a page.
2. Search at `--size` chunks (100,000 by default): the knowledge base those PDFs made,
   grown as `make bench` grows it (`bench.kb_scale.grow`: copies of its documents with
   perturbed vectors), once in FAISS (the default index) and once in Milvus Lite
   (`QA_INDEX=milvus`, a `.db` file), each served by `qa serve`: time to publish, cold
   start to the first answered search, hybrid search p50/p95 with 1 and 8 clients, the
   server's memory.

Writes `.eval/backends.json` and `.eval/backends.md`. It takes longer than `make bench`
(Milvus Lite is pure Python: publishing 100,000 chunks into it is the long part).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.compare import KB, KEY, bench_inputs, latency, latency_queries, ours_search
from bench.kb_scale import cold_start, grow, process_memory, server, source_documents

RAY_WORKERS = (1, 2)


def ingest(folders: list[Path], data_dir: Path, ray_workers: int) -> dict[str, Any]:
    """`qa ingest` of `folders` into a new knowledge base; `ray_workers` 0: without Ray."""
    from bench.concurrent_load import qa_command, qa_environment

    command = [*qa_command(), "ingest", KB, *map(str, folders), "--create", "--json"]
    if ray_workers:
        command += ["--ray", "--ray-workers", str(ray_workers)]
    before = os.times()
    started = time.perf_counter()
    done = subprocess.run(command, env=qa_environment(data_dir), capture_output=True,  # noqa: S603
                          text=True, timeout=7200, check=False)
    seconds = time.perf_counter() - started
    after = os.times()
    if done.returncode not in (0, 1):
        raise RuntimeError(f"qa ingest failed:\n{done.stderr[-3000:]}")
    job = json.loads(done.stdout)
    cpu = (after.children_user + after.children_system
           - before.children_user - before.children_system)
    pages = int(job["pages_parsed"])
    return {"ray_workers": ray_workers, "pages": pages, "chunks": int(job["chunks_embedded"]),
            "seconds": round(seconds, 1), "pages_per_s": round(pages / seconds, 2),
            "cpu_s_per_page": round(cpu / pages, 3) if ray_workers == 0 else None,
            "failed": [f["filename"] for f in job["files"]
                       if f["status"] not in ("indexed", "unchanged")]}


def grown_into(source_dir: Path, target_dir: Path, size: int, index: str) -> dict[str, Any]:
    """The knowledge base in `source_dir` (built with the default index) published again,
    with copies, into a new knowledge base of `index` in `target_dir` up to `size` chunks."""
    from qa_service.config import Settings
    from qa_service.embedding import load_embedder
    from qa_service.lexical import LexicalIndex
    from qa_service.retrieval import HybridRetriever
    from qa_service.services import index_backend
    from qa_service.store.registry import KnowledgeBaseRegistry
    from qa_service.tokens import Tokenizer

    source_registry = KnowledgeBaseRegistry(source_dir)
    try:
        source = source_registry.open(KB)
        identity = source.identity
        sources = source_documents(source)
    finally:
        source_registry.close()
    settings = Settings(data_dir=target_dir, index=index)  # type: ignore[arg-type]
    registry = KnowledgeBaseRegistry(target_dir, backend=index_backend(settings))
    try:
        kb = registry.create(KB, identity)
        prepare = HybridRetriever(load_embedder(settings.embedding_model),
                                  LexicalIndex(Tokenizer()), settings.retrieval).prepare
        row = grow(kb, size, prepare=prepare, sources=sources)
        row["publish_ms_per_document"] = round(1000 * row["publish_s"] / row["documents"], 1)
        row["disk_mb"] = round(sum(p.stat().st_size for p in target_dir.rglob("*")
                                   if p.is_file()) / 1e6, 1)  # Milvus Lite's file included
        return {"index": index, **row}
    finally:
        registry.close()


def served(target_dir: Path, index: str, queries: list[str], work: Path) -> dict[str, Any]:
    """Cold start and search latency of `qa serve` on `target_dir`."""
    from bench.concurrency import stop

    extra = {"QA_INDEX": index}
    if index == "milvus":
        extra["QA_MILVUS_URI"] = str(target_dir / "milvus.db")
    url, command, env = server(target_dir, KEY, **extra)
    process, seconds = cold_start(command, env, url, KB, KEY, queries[0],
                                  work / f"serve-{index}.log")
    try:
        headers = {"Authorization": f"Bearer {KEY}"}
        row: dict[str, Any] = {"cold_start_s": round(seconds, 2)}
        for clients in (1, 8):
            row[f"search_{clients}"] = latency(url, headers, ours_search, queries, clients)
        row.update(process_memory(process.pid))
        return row
    finally:
        stop(process)


def markdown(report: dict[str, Any]) -> str:
    lines = ["| ingestion | pages/s | seconds | pages / chunks | failed |", "|---|---|---|---|---|"]
    for row in report["ingest"]:
        name = (f"Ray, {row['ray_workers']} worker(s)" if row["ray_workers"]
                else "without Ray (2 parser workers)")
        lines.append(f"| {name} | {row['pages_per_s']} | {row['seconds']} | "
                     f"{row['pages']} / {row['chunks']} | {len(row['failed'])} |")
    lines += ["", "| index, " + f"{report['size']:,}" + " chunks | publish s (ms a document) "
              "| cold start s | hybrid search p50 / p95 ms, 1 client; req/s | 8 clients | "
              "disk MB | server RSS MB (anon + file) |", "|---|---|---|---|---|---|---|"]
    for row in report["search"]:
        one, eight = row["search_1"], row["search_8"]
        lines.append(
            f"| {row['index']} | {row['publish_s']} ({row['publish_ms_per_document']}) | "
            f"{row['cold_start_s']} | {one['p50_ms']} / {one['p95_ms']}; {one['rps']} | "
            f"{eight['p50_ms']} / {eight['p95_ms']}; {eight['rps']} | {row['disk_mb']:,.0f} | "
            f"{row['rss_anon_mb']:,.0f} + {row['rss_file_mb']:,.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path(".eval"))
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--indexes", default="faiss,milvus")
    parser.add_argument("--ray-workers", default=",".join(map(str, RAY_WORKERS)),
                        help="Ray worker counts to ingest with, after the run without Ray "
                        "(empty: none)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: tmp)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qa-backends-", dir=args.work))
    started = time.perf_counter()
    try:
        _, probes, folders = bench_inputs(args.data, work / "inputs")
        queries = latency_queries(probes)
        report: dict[str, Any] = {"size": args.size, "ingest": [], "search": []}
        for workers in (0, *(int(n) for n in args.ray_workers.split(",") if n)):
            print(f"ingestion, Ray workers: {workers}", flush=True)
            report["ingest"].append(ingest(folders, work / f"ingest-{workers}", workers))
            print(json.dumps(report["ingest"][-1]), flush=True)
        for index in [i for i in args.indexes.split(",") if i]:
            print(f"{index}: {args.size:,} chunks", flush=True)
            target = work / f"kb-{index}"
            row = grown_into(work / "ingest-0", target, args.size, index)
            row.update(served(target, index, queries, work))
            report["search"].append(row)
            print(json.dumps(row), flush=True)
            shutil.rmtree(target, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["seconds"] = round(time.perf_counter() - started)
    report["date"] = time.strftime("%Y-%m-%d")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "backends.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    table = markdown(report)
    (args.out / "backends.md").write_text(
        f"# make bench-backends, {report['date']} ({report['seconds']} s)\n\n" + table, "utf-8")
    print(table)


if __name__ == "__main__":
    main()
