"""The largest vector store searched while a real server ingests: does it all fit?

`make bench` builds the 1M-chunk vector store (`bench.vector_scale`); this then runs two
things at once on the machine:
- a process that opens that store as a server opens a knowledge base's vectors and answers
  the benchmark's questions one after another, pass after pass, timing each search;
- a real `qa serve` (its models, two parser worker processes) ingesting every benchmark
  PDF through the API into a knowledge base of its own.

It samples, every quarter second, the memory the machine has left (`MemAvailable`: free
memory plus page cache that can be dropped) and the memory the two hold (anonymous RSS,
their own, and file-backed RSS, the memory-mapped vectors: shared page cache, reclaimable).
It reports the lowest `MemAvailable`, the peak of the two's anonymous memory together, the
searches' p50/p95 while the ingestion ran, and the ingestion's pages per second under that
load. What it does not hold: the 1M-chunk knowledge base's catalog and BM25 index (SQLite;
its page cache is 2 MB a connection, and the rest of it is page cache too).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from qa_service.store.approximate import ApproximateSettings

Vectors = npt.NDArray[np.float32]
SAMPLE_S = 0.25


def search_until(folder: Path, dimension: int, settings: ApproximateSettings,
                 queries: Vectors, ready: Event, stop: Event,
                 results: Any) -> None:
    """In its own process: open the store, answer `queries` pass after pass until `stop`,
    then put the searches' times (ms) on `results`."""
    from qa_service.store.faiss_store import FaissSegmentStore

    store = FaissSegmentStore(folder, dimension, settings)
    store.search(queries[:1], 10)
    ready.set()
    spent: list[float] = []
    while not stop.is_set():
        for query in queries:
            if stop.is_set():
                break
            started = time.perf_counter()
            store.search(query[None, :], 10)
            spent.append((time.perf_counter() - started) * 1000)
    store.close()
    results.put(spent)


def meminfo_mb(field: str) -> float:
    """One field of /proc/meminfo, in MB."""
    return next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith(f"{field}:")) / 1024


class MemorySampler:
    """The machine's `MemAvailable` and the processes' RSS, sampled in a thread."""

    def __init__(self, roots: list[int]) -> None:
        self.roots = roots
        self.lowest_available_mb = float("inf")
        self.peak_anon_mb = 0.0
        self.peak_file_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.sample()

    def sample(self) -> None:
        from bench.compare import process_tree
        from bench.vector_scale import status_memory

        available = meminfo_mb("MemAvailable")
        self.lowest_available_mb = min(self.lowest_available_mb, available)
        anon = file = 0.0
        for root in self.roots:
            for pid in process_tree(root):
                try:
                    fields = status_memory(pid)
                except (OSError, StopIteration, ValueError):
                    continue  # ended meanwhile
                anon += fields.get("RssAnon", 0.0)
                file += fields.get("RssFile", 0.0)
        self.peak_anon_mb = max(self.peak_anon_mb, anon)
        self.peak_file_mb = max(self.peak_file_mb, file)


def measure(folder: Path, dimension: int, settings: ApproximateSettings, queries: Vectors,
            pdfs: list[Path], work: Path) -> dict[str, Any]:
    """The store at `folder` searched while a server ingests `pdfs` (see the module)."""
    from bench.compare import KEY, ingest_ours
    from bench.concurrency import qa_server

    context = multiprocessing.get_context("spawn")
    ready, stop, results = context.Event(), context.Event(), context.Queue()
    searcher = context.Process(target=search_until, args=(folder, dimension, settings,
                                                          queries, ready, stop, results))
    searcher.start()
    try:
        if not ready.wait(600):
            raise RuntimeError("the store did not open")
        headers = {"Authorization": f"Bearer {KEY}"}
        with qa_server(work / "joint", KEY, work / "joint.log") as (url, pid), \
                httpx.Client(base_url=url, headers=headers, timeout=300) as api, \
                MemorySampler([pid, searcher.pid or 0]) as memory:
            ingested = ingest_ours(api, pid, pdfs)
        stop.set()
        spent = results.get(timeout=600)
        searcher.join(60)
    finally:
        stop.set()
        if searcher.is_alive():
            searcher.kill()
    return {
        "memory_total_mb": round(meminfo_mb("MemTotal")),
        "lowest_available_mb": round(memory.lowest_available_mb),
        "peak_anon_mb": round(memory.peak_anon_mb),
        "peak_file_mb": round(memory.peak_file_mb),
        "searches": len(spent),
        "search_p50_ms": round(float(np.percentile(spent, 50)), 1) if spent else None,
        "search_p95_ms": round(float(np.percentile(spent, 95)), 1) if spent else None,
        "ingest_pages": ingested["pages"],
        "ingest_pages_per_s": round(ingested["pages"] / ingested["seconds"], 2),
        "ingest_failed": ingested["failed"],
    }
