"""The vector store at 10k, 100k and 1M chunks: exact search (every sentence vector) against
the approximate index (`qa_service/store/approximate.py`), on vectors of the real model.

How the large stores are made: the sentence vectors of a real knowledge base (`--source`,
a knowledge base's `vectors/` folder, e.g. the FinanceBench filings) are the seed. Each
synthetic chunk takes a real chunk's sentences and blends every sentence vector with one of
another real chunk (weight 0.5-1 on its own) plus Gaussian noise, then normalizes: chunks
keep the real number of sentences per chunk and the real vectors' geometry without being
copies. Queries are real questions embedded by the real model (`--questions`).

For each size it reports: the time to write the segments and to build the index, disk,
search p50/p95 (one query at a time, k=10, as a question asks), recall@10 of the
approximate search against exact search, exact search's own p50/p95 (on fewer queries at
1M: each reads every vector), and the memory of a fresh process that opened the store and
answered the queries (anonymous and file-backed RSS: the vectors are memory-mapped), with
the time from opening to its first answer. `python -m bench.vector_scale --help`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa_service.store.approximate import ApproximateSettings
from qa_service.store.faiss_store import FaissSegmentStore

SEGMENT_CHUNKS = 100_000  # chunks per add: one segment each, as large ingestions write
K = 10

Vectors = npt.NDArray[np.float32]


def real_chunks(source: Path) -> list[Vectors]:
    """Every chunk's sentence vectors in the knowledge base's vector folder."""
    manifest = json.loads((source / "manifest.json").read_text("utf-8"))
    store = FaissSegmentStore(source, int(manifest["dimension"]))
    try:
        ids = store.ids()
        found = store.vectors_of(ids)
        return [found[int(i)] for i in ids if int(i) in found]
    finally:
        store.close()


def synthetic(chunks: list[Vectors], n: int, seed: int) -> tuple[npt.NDArray[np.int64], Vectors]:
    """`n` chunks made from real ones (see the module docstring): owner ids and vectors."""
    rng = np.random.default_rng(seed)
    lengths = np.asarray([len(c) for c in chunks])
    picks = rng.integers(0, len(chunks), n)
    others = rng.integers(0, len(chunks), n)
    owners = np.repeat(np.arange(n, dtype=np.int64), lengths[picks])
    rows = np.concatenate([chunks[p] for p in picks])
    partners = np.concatenate([chunks[o][rng.integers(0, len(chunks[o]), lengths[p])]
                               for p, o in zip(picks, others, strict=True)])
    weight = rng.uniform(0.5, 1.0, size=(len(rows), 1)).astype(np.float32)
    blended = weight * rows + (1 - weight) * partners
    blended += rng.normal(0, 0.03, size=blended.shape).astype(np.float32)
    blended /= np.linalg.norm(blended, axis=1, keepdims=True)
    return owners, blended.astype(np.float32)


def status_memory(pid: int | str = "self") -> dict[str, float]:
    """A process's resident memory from /proc (MB): VmRSS (all), RssAnon (its own),
    RssFile (file-backed: memory-mapped vectors), VmHWM (peak)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def memory() -> dict[str, float]:
    fields = status_memory()
    fields["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return fields


def timed(store: FaissSegmentStore, queries: Vectors) -> tuple[list[list[int]], list[float]]:
    found, spent = [], []
    for query in queries:
        started = time.perf_counter()
        hits = store.search(query[None, :], K)[0]
        spent.append((time.perf_counter() - started) * 1000)
        found.append([i for i, _ in hits])
    return found, spent


def measure(size: int, chunks: list[Vectors], queries: Vectors, folder: Path,
            settings: ApproximateSettings, exact_queries: int) -> dict[str, Any]:
    dimension = chunks[0].shape[1]
    store = FaissSegmentStore(folder, dimension, settings)
    started = time.perf_counter()
    sentences = 0
    for first in range(0, size, SEGMENT_CHUNKS):
        count = min(SEGMENT_CHUNKS, size - first)
        owners, vectors = synthetic(chunks, count, seed=first)
        store.add(owners + first, vectors)
        sentences += len(owners)
        del owners, vectors
    write_s = time.perf_counter() - started
    _, exact_ms = timed(store, queries[:exact_queries])
    truth = [[i for i, _ in hits] for hits in store.search(queries, K)]  # one pass, batched
    started = time.perf_counter()
    store.publish_approximate(store.build_approximate())
    build_s = time.perf_counter() - started
    store.close()
    # searched by a fresh process, as a server opens the knowledge base: its memory is what
    # one server holds for these vectors
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        served = pool.submit(serve_queries, folder, dimension, settings, queries).result()
    found, spent = served.pop("found"), served.pop("spent_ms")
    recall = float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))
    return {
        "chunks": size, "sentence_vectors": sentences,
        "write_s": round(write_s, 1), "build_s": round(build_s, 1),
        "disk_mb": round(sum(p.stat().st_size for p in folder.iterdir()) / 1e6, 1),
        "search_p50_ms": round(float(np.percentile(spent, 50)), 2),
        "search_p95_ms": round(float(np.percentile(spent, 95)), 2),
        "recall_at_10": round(recall, 4),
        "exact_p50_ms": round(float(np.percentile(exact_ms, 50)), 1),
        "exact_p95_ms": round(float(np.percentile(exact_ms, 95)), 1),
        "exact_queries": len(exact_ms), **served,
    }


def serve_queries(folder: Path, dimension: int, settings: ApproximateSettings,
                  queries: Vectors) -> dict[str, Any]:
    """In a fresh process: open the store, the first search timed (cold), 20 to warm up,
    then every query timed; the process's memory after."""
    started = time.perf_counter()
    store = FaissSegmentStore(folder, dimension, settings)
    store.search(queries[:1], K)
    cold_ms = (time.perf_counter() - started) * 1000
    timed(store, queries[:20])
    found, spent = timed(store, queries)
    used = memory()
    store.close()
    return {"found": found, "spent_ms": spent, "first_search_ms": round(cold_ms, 1),
            "rss_mb": round(used["VmRSS"], 1), "rss_anon_mb": round(used["RssAnon"], 1),
            "rss_file_mb": round(used["RssFile"], 1)}


def embedded_questions(paths: list[Path], limit: int) -> Vectors:
    from qa_service.embedding import load_embedder

    questions: list[str] = []
    for path in paths:
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                questions.append(record.get("question") or record.get("q") or "")
    questions = [q for q in questions if q][:limit]
    return load_embedder("use-multilingual-v3").embed_queries(questions).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True,
                        help="a knowledge base's vectors/ folder (the seed vectors)")
    parser.add_argument("--questions", type=Path, nargs="+", required=True,
                        help="JSONL files with a `question` field (embedded as queries)")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: tmp)")
    parser.add_argument("--out", type=Path, default=Path(".eval/vector-scale.json"))
    args = parser.parse_args()
    chunks = real_chunks(args.source)
    queries = embedded_questions(args.questions, args.queries)
    print(f"seed: {len(chunks)} real chunks, {sum(len(c) for c in chunks)} sentence vectors; "
          f"{len(queries)} real questions", flush=True)
    settings = ApproximateSettings(approximate_from=0)  # the defaults otherwise
    results: dict[str, Any] = {"seed_chunks": len(chunks), "queries": len(queries),
                               "settings": vars(settings), "scale": {}}
    work = Path(tempfile.mkdtemp(prefix="vector-scale-", dir=args.work))
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            exact_queries = len(queries) if size <= 100_000 else 20
            row = measure(size, chunks, queries, work / str(size), settings, exact_queries)
            results["scale"][str(size)] = row
            print(json.dumps(row), flush=True)
            shutil.rmtree(work / str(size), ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
