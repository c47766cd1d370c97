"""`make bench`: the service against the naive LangChain pipeline (`bench/naive.py`) in one
run, on the same PDFs and questions, then the vector store at 10k/100k/1M chunks
(`bench/vector_scale.py`). Prints a table of figures and ratios (ours / naive) and writes
`.eval/bench.json` and `.eval/bench.md`.

Inputs: the FinanceBench dev filings, PDFs rendered from the first articles of the SQuAD
and KorQuAD dev files (as `qa eval retrieval` renders them) and the Korean PDFs of the
shared data. Both pipelines run as HTTP servers on 127.0.0.1 in their own processes; their
CPU time and memory are read from /proc for the whole process tree (ours has parser
workers). Quality: recall@5 (a top-5 passage from the question's article holds a gold
answer) on the rendered SQuAD/KorQuAD questions, and page_hit@5 (a top-5 passage on an
evidence page) on FinanceBench. Latency: `POST /kbs/{kb}/search` (hybrid, k=5) and
`POST /kbs/{kb}/ask` (extractive) for ours, `POST /search` (k=5) for the naive pipeline,
with one client and with 8 concurrent ones.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.concurrency import qa_server
from bench.concurrent_load import free_port
from qa_service.eval.datasets import holds_answer, load_dataset, sample_evenly
from qa_service.eval.render import render_article

KB = "bench"
KEY = "bench-admin-key-0123456789abcdef"
ARTICLES = 12  # of each of SQuAD and KorQuAD, rendered to PDFs
QUESTIONS = 150  # of each, spread over those articles
LATENCY_QUERIES = 100
CONCURRENT = 8
TICK = os.sysconf("SC_CLK_TCK")
_UNSAFE = re.compile(r"[^\w.-]+")


# --- inputs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """A question and how to score a passage list: `hit(passages)`."""

    text: str
    kind: str  # "squad", "korquad", "financebench"
    hit: Callable[[list[dict[str, Any]]], bool]


def rendered(dataset_path: Path, folder: Path, prefix: str) -> list[Probe]:
    """The first ARTICLES articles as PDFs in `folder`; their questions as probes."""
    dataset = load_dataset(dataset_path).limited(ARTICLES)
    folder.mkdir(parents=True, exist_ok=True)
    names = {}
    for index, article in enumerate(dataset.articles):
        name = f"{prefix}-{index:03d}-{_UNSAFE.sub('_', article.title)[:50]}.pdf"
        render_article(folder / name, article.title, article.paragraphs)
        names[index] = name
    probes = []
    for question in sample_evenly([q for q in dataset.questions if not q.impossible],
                                  QUESTIONS):
        def hit(passages: list[dict[str, Any]], q: Any = question) -> bool:
            return any(p["source"] == names[q.article] and holds_answer(p["text"], q.answers)
                       for p in passages)
        probes.append(Probe(question.text, prefix, hit))
    return probes


def financebench(folder: Path) -> list[Probe]:
    probes = []
    for line in (folder / "questions.jsonl").read_text("utf-8").splitlines():
        record = json.loads(line)
        pages = {(f"{record['doc_name']}.pdf", int(e["evidence_page_num"]) + 1)
                 for e in record["evidence"]}

        def hit(passages: list[dict[str, Any]], wanted: set[tuple[str, int]] = pages) -> bool:
            return any((p["source"], p["page"]) in wanted for p in passages)
        probes.append(Probe(record["question"], "financebench", hit))
    return probes


# --- processes --------------------------------------------------------------------------


class TreeMonitor:
    """CPU seconds and peak memory of a process and its descendants, sampled from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss_mb = 0.0
        self._cpu: dict[int, float] = {}
        self._base = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMonitor:
        self._sample()
        self._base = self.cpu_seconds
        self.peak_rss_mb = 0.0
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def cpu_seconds(self) -> float:
        return sum(self._cpu.values()) - self._base

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self._sample()

    def _sample(self) -> None:
        rss = 0.0
        for pid in self._tree():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue
            self._cpu[pid] = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
            rss += pages * os.sysconf("SC_PAGE_SIZE") / 1e6
        self.peak_rss_mb = max(self.peak_rss_mb, rss)

    def _tree(self) -> list[int]:
        return process_tree(self.pid)


def process_tree(root: int) -> list[int]:
    """`root` and its descendants' process ids, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


@contextmanager
def naive_server(folders: Sequence[Path], work: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """bench/naive.py in its own process: its URL and its ingestion figures."""
    port, stats = free_port(), work / "naive-stats.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    with open(work / "naive.log", "wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", "bench.naive", "--pdfs", *map(str, folders), "--stats",
             str(stats), "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            with TreeMonitor(process.pid) as monitor:
                while not stats.exists():
                    if process.poll() is not None:
                        raise RuntimeError("the naive pipeline exited:\n"
                                           + (work / "naive.log").read_text()[-3000:])
                    time.sleep(0.2)
                figures = json.loads(stats.read_text("utf-8"))
            figures["peak_rss_mb"] = max(figures["peak_rss_mb"], monitor.peak_rss_mb)
            url = f"http://127.0.0.1:{port}"
            _wait(lambda: httpx.get(f"{url}/health", timeout=2).status_code == 200)
            yield url, figures
        finally:
            process.terminate()
            process.wait(30)


def _wait(ready: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("a server did not answer in time")


# --- ours -------------------------------------------------------------------------------


def ingest_ours(api: httpx.Client, pid: int, pdfs: list[Path], kb: str = KB
                ) -> dict[str, Any]:
    """`pdfs` uploaded into a new knowledge base `kb`, 50 a job; waits for the jobs."""
    api.post("/kbs", json={"name": kb}).raise_for_status()
    with TreeMonitor(pid) as monitor:
        started = time.perf_counter()
        jobs = []
        for first in range(0, len(pdfs), 50):
            files = [("files", (p.name, p.read_bytes(), "application/pdf"))
                     for p in pdfs[first:first + 50]]
            response = api.post(f"/kbs/{kb}/documents", files=files, timeout=600)
            response.raise_for_status()
            jobs.append(response.json()["job_id"])
        outcomes = [wait_job(api, job, kb) for job in jobs]
        seconds = time.perf_counter() - started
    files = [f for job in outcomes for f in job["files"]]
    info = api.get(f"/kbs/{kb}").json()
    return {"pages": sum(f.get("pages") or 0 for f in files), "chunks": info["chunks"],
            "failed": [f"{f['filename']}: {f['status']}" for f in files
                       if f["status"] not in ("indexed", "unchanged")],
            "seconds": seconds, "cpu_seconds": monitor.cpu_seconds,
            "peak_rss_mb": monitor.peak_rss_mb}


def wait_job(api: httpx.Client, job_id: str, kb: str = KB, timeout: float = 3600
             ) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.get(f"/kbs/{kb}/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job  # type: ignore[no-any-return]
        time.sleep(0.5)
    raise RuntimeError(f"job {job_id} did not end")


# --- measuring --------------------------------------------------------------------------


Search = Callable[[httpx.Client, str], list[dict[str, Any]]]


def ours_search(api: httpx.Client, query: str) -> list[dict[str, Any]]:
    response = api.post(f"/kbs/{KB}/search", json={"query": query, "k": 5})
    response.raise_for_status()
    return [{"source": p["filename"], "page": p["page"], "text": p["text"]}
            for p in response.json()["passages"]]


def ours_ask(api: httpx.Client, query: str) -> list[dict[str, Any]]:
    response = api.post(f"/kbs/{KB}/ask", json={"question": query, "mode": "extractive"})
    response.raise_for_status()
    return []


def naive_search(api: httpx.Client, query: str) -> list[dict[str, Any]]:
    response = api.post("/search", json={"query": query, "k": 5})
    response.raise_for_status()
    return list(response.json()["passages"])


def quality(api: httpx.Client, search: Search, probes: list[Probe]) -> dict[str, float]:
    hits: dict[str, list[bool]] = {}
    for probe in probes:
        hits.setdefault(probe.kind, []).append(probe.hit(search(api, probe.text)))
    return {kind: round(float(np.mean(found)), 3) for kind, found in hits.items()}


def latency(url: str, headers: dict[str, str], call: Search, queries: list[str],
            clients: int) -> dict[str, float]:
    """p50/p95 of `call` over `queries` (each client takes the next), and requests/s."""
    spent: list[float] = []
    lock = threading.Lock()
    position = iter(range(len(queries)))

    def worker() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as api:
            while True:
                with lock:
                    index = next(position, None)
                if index is None:
                    return
                started = time.perf_counter()
                call(api, queries[index])
                with lock:
                    spent.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(worker) for _ in range(clients)]:
            future.result()
    wall = time.perf_counter() - started
    return {"p50_ms": round(float(np.percentile(spent, 50)), 1),
            "p95_ms": round(float(np.percentile(spent, 95)), 1),
            "rps": round(len(spent) / wall, 2)}


def speed(ingested: dict[str, Any]) -> dict[str, Any]:
    seconds = max(ingested["seconds"], 1e-9)
    return {"pages": ingested["pages"], "chunks": ingested["chunks"],
            "seconds": round(seconds, 1),
            "pages_per_s": round(ingested["pages"] / seconds, 2),
            "chunks_per_s": round(ingested["chunks"] / seconds, 2),
            "cpu_s_per_page": round(ingested["cpu_seconds"] / max(ingested["pages"], 1), 3),
            "peak_rss_mb": round(ingested["peak_rss_mb"], 1),
            "failed": ingested["failed"]}


def bench_inputs(data: Path, inputs: Path) -> tuple[list[Path], list[Probe], list[Path]]:
    """The benchmark's PDFs gathered and rendered under `inputs`: (the PDFs, the questions,
    the folders that hold them)."""
    shutil.copytree(data / "real" / "financebench-dev" / "pdfs", inputs / "financebench")
    shutil.copytree(data / "pdfs" / "korean", inputs / "korean")
    probes = (rendered(data / "qa" / "squad-v1.1.dev.json", inputs / "squad", "squad")
              + rendered(data / "qa" / "korquad-v1.0.dev.json", inputs / "korquad", "korquad")
              + financebench(data / "real" / "financebench-dev"))
    folders = sorted(p for p in inputs.iterdir() if p.is_dir())
    pdfs = sorted(p for folder in folders for p in folder.rglob("*.pdf"))
    return pdfs, probes, folders


def latency_queries(probes: list[Probe]) -> list[str]:
    """LATENCY_QUERIES questions spread over the probes (every kind of question)."""
    return [p.text for p in probes][::max(1, len(probes) // LATENCY_QUERIES)][:LATENCY_QUERIES]


def run(data: Path, work: Path, sizes: list[int], kb_sizes: list[int]) -> dict[str, Any]:
    pdfs, probes, folders = bench_inputs(data, work / "pdfs")
    queries = latency_queries(probes)
    report: dict[str, Any] = {"inputs": {"pdfs": len(pdfs), "questions": len(probes)}}
    print(f"{len(pdfs)} PDFs, {len(probes)} questions; the service first", flush=True)
    headers = {"Authorization": f"Bearer {KEY}"}
    with qa_server(work / "ours", KEY, work / "ours.log") as (url, pid), \
            httpx.Client(base_url=url, headers=headers, timeout=300) as api:
        ours_ingest = ingest_ours(api, pid, pdfs)
        print(f"ours: {json.dumps(speed(ours_ingest))}", flush=True)
        time.sleep(5)  # the background index build, if any, and the warm-up settle
        ours_quality = quality(api, ours_search, probes)
        ours_latency = {f"{name}_{n}": latency(url, headers, call, queries, n)
                        for name, call in (("search", ours_search), ("ask", ours_ask))
                        for n in (1, CONCURRENT)}
    print("the naive pipeline", flush=True)
    with naive_server(folders, work) as (url, naive_ingest), \
            httpx.Client(base_url=url, timeout=300) as api:
        print(f"naive: {json.dumps(speed(naive_ingest))}", flush=True)
        naive_quality = quality(api, naive_search, probes)
        naive_latency = {f"search_{n}": latency(url, {}, naive_search, queries, n)
                         for n in (1, CONCURRENT)}
    report["ingest"] = {"ours": speed(ours_ingest), "naive": speed(naive_ingest)}
    for field in ("pages_per_s", "chunks_per_s", "cpu_s_per_page", "peak_rss_mb"):
        report["ingest"][field] = {"ours": report["ingest"]["ours"][field],
                                   "naive": report["ingest"]["naive"][field]}
    report["quality"] = {"ours": ours_quality, "naive": naive_quality}
    report["latency"] = {"ours": ours_latency, "naive": naive_latency}
    if sizes:  # seeded by the sentence vectors the service made of these PDFs
        report["scale"], report["joint"] = scale(work / "ours" / KB / "vectors", sizes, work,
                                                 probes, pdfs)
    for size in kb_sizes:  # the knowledge base these PDFs made, grown
        print(f"knowledge base: {size:,} chunks through the server", flush=True)
        report.setdefault("knowledge_base", {})[str(size)] = grown(work, size, queries)
        print(json.dumps(report["knowledge_base"][str(size)]), flush=True)
    return report


def grown(work: Path, size: int, queries: list[str]) -> dict[str, Any]:
    from bench.kb_scale import measure

    def timed(url: str, headers: dict[str, str], clients: int) -> dict[str, float]:
        return latency(url, headers, ours_search, queries, clients)

    return measure(work / "ours" / KB, size, queries, work, KEY, timed)


def scale(source: Path, sizes: list[int], work: Path, probes: list[Probe],
          pdfs: list[Path]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The vector store at each of `sizes`; then the largest searched while a server
    ingests `pdfs` (`bench.joint_load`)."""
    from bench import joint_load
    from bench.vector_scale import measure, real_chunks
    from qa_service.embedding import load_embedder
    from qa_service.store.approximate import ApproximateSettings

    chunks = real_chunks(source)
    queries = load_embedder("use-multilingual-v3").embed_queries(
        [p.text for p in probes][::2][:200]).astype(np.float32)
    settings = ApproximateSettings(approximate_from=0)
    results, joint = {}, {}
    for size in sizes:
        print(f"scale: {size:,} chunks", flush=True)
        folder = work / f"scale-{size}"
        results[str(size)] = measure(size, chunks, queries, folder, settings,
                                     len(queries) if size <= 100_000 else 20)
        print(json.dumps(results[str(size)]), flush=True)
        if size == max(sizes):
            print(f"scale: {size:,} chunks searched while a server ingests", flush=True)
            joint = {"chunks": size, **joint_load.measure(
                folder, chunks[0].shape[1], settings, queries, pdfs, work)}
            print(json.dumps(joint), flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    return results, joint


# --- the report -------------------------------------------------------------------------


def ratio(ours: float, naive: float) -> str:
    return f"{ours / naive:.2f}" if naive else "n/a"


def markdown(report: dict[str, Any]) -> str:
    ingest, qual, lat = report["ingest"], report["quality"], report["latency"]
    rows = [("| figure | ours | naive | ours / naive |"), "|---|---|---|---|"]
    for field, label in (("pages_per_s", "ingest pages/s"), ("chunks_per_s", "ingest chunks/s"),
                         ("cpu_s_per_page", "CPU s per page"),
                         ("peak_rss_mb", "peak memory MB (process tree)")):
        ours, naive = ingest["ours"][field], ingest["naive"][field]
        rows.append(f"| {label} | {ours} | {naive} | {ratio(ours, naive)} |")
    rows.append(f"| pages / chunks | {ingest['ours']['pages']} / {ingest['ours']['chunks']} | "
                f"{ingest['naive']['pages']} / {ingest['naive']['chunks']} | |")
    for kind in sorted(qual["ours"]):
        label = "page_hit@5" if kind == "financebench" else "recall@5"
        ours, naive = qual["ours"][kind], qual["naive"].get(kind, 0.0)
        rows.append(f"| {kind} {label} | {ours:.3f} | {naive:.3f} | {ratio(ours, naive)} |")
    for clients in (1, CONCURRENT):
        ours, naive = lat["ours"][f"search_{clients}"], lat["naive"][f"search_{clients}"]
        rows.append(f"| search p50 / p95 ms, {clients} client(s) | {ours['p50_ms']} / "
                    f"{ours['p95_ms']} | {naive['p50_ms']} / {naive['p95_ms']} | "
                    f"{ratio(ours['p95_ms'], naive['p95_ms'])} (p95) |")
        rows.append(f"| search requests/s, {clients} client(s) | {ours['rps']} | "
                    f"{naive['rps']} | {ratio(ours['rps'], naive['rps'])} |")
        ask = lat["ours"][f"ask_{clients}"]
        rows.append(f"| ask (extractive) p50 / p95 ms, {clients} client(s); req/s | "
                    f"{ask['p50_ms']} / {ask['p95_ms']}; {ask['rps']} | no answerer | |")
    lines = ["\n".join(rows)]
    if "scale" in report:
        table = ["| chunks | sentence vectors | search p50 / p95 ms | recall@10 | exact "
                 "p50 / p95 ms | build s | disk MB | server RSS MB (anon + file) | first "
                 "search ms |\n|---|---|---|---|---|---|---|---|---|"]
        for size, row in report["scale"].items():
            table.append(f"| {int(size):,} | {row['sentence_vectors']:,} | "
                         f"{row['search_p50_ms']} / {row['search_p95_ms']} | "
                         f"{row['recall_at_10']:.3f} | {row['exact_p50_ms']} / "
                         f"{row['exact_p95_ms']} | {row['write_s'] + row['build_s']:.0f} | "
                         f"{row['disk_mb']:,.0f} | {row['rss_anon_mb']:,.0f} + "
                         f"{row['rss_file_mb']:,.0f} | {row['first_search_ms']} |")
        lines.append("\n".join(table))
    if report.get("joint"):
        joint = report["joint"]
        lines.append(
            f"{joint['chunks']:,} chunks searched while a server ingests every PDF "
            f"(`bench/joint_load.py`): lowest memory available {joint['lowest_available_mb']:,} "
            f"of {joint['memory_total_mb']:,} MB; the searcher and the server with its parser "
            f"workers held at most {joint['peak_anon_mb']:,} MB of their own (anonymous) and "
            f"{joint['peak_file_mb']:,} MB of page cache (file-backed); {joint['searches']} "
            f"searches p50 / p95 {joint['search_p50_ms']} / {joint['search_p95_ms']} ms; "
            f"ingestion {joint['ingest_pages_per_s']} pages/s"
            + (f"; failed: {', '.join(joint['ingest_failed'])}" if joint["ingest_failed"]
               else "") + ".")
    if "knowledge_base" in report:
        table = ["| knowledge base | built (publish + index) s | disk MB | cold start s, median "
                 "of 5 starts (slowest): English / Korean question | "
                 "hybrid search p50 / p95 ms, 1 client; req/s | 8 clients | BM25 alone p95 "
                 "ms (no budget) | server RSS MB (anon + file) |\n"
                 "|---|---|---|---|---|---|---|---|"]
        for size, row in report["knowledge_base"].items():
            one, eight, lexical = row["search_1"], row["search_8"], row["lexical"]
            table.append(
                f"| {int(size):,} chunks, {row['documents']:,} documents | "
                f"{row['publish_s']:.0f} + {row['index_s']:.0f} | {row['disk_mb']:,.0f} | "
                f"{row['cold_start_s']} ({row.get('cold_start_max_s', 'n/a')}) / "
                f"{row.get('cold_start_korean_s', 'n/a')} "
                f"({row.get('cold_start_korean_max_s', 'n/a')}) | "
                f"{one['p50_ms']} / {one['p95_ms']}; {one['rps']} | "
                f"{eight['p50_ms']} / {eight['p95_ms']}; {eight['rps']} | "
                f"{lexical['within_budget']['p95_ms']} ({lexical['no_budget']['p95_ms']}) | "
                f"{row['rss_anon_mb']:,.0f} + {row['rss_file_mb']:,.0f} |")
        lines.append("\n".join(table))
    return "\n\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path(".eval"))
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="vector store sizes in chunks ('' skips the scale part)")
    parser.add_argument("--kb-sizes", default="100000",
                        help="whole knowledge bases grown to these sizes in chunks and "
                        "searched through the server ('' skips them; bench/kb_scale.py)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: tmp)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    kb_sizes = [int(s) for s in args.kb_sizes.split(",") if s]
    work = Path(tempfile.mkdtemp(prefix="qa-bench-", dir=args.work))
    started = time.perf_counter()
    try:
        report = run(args.data, work, sizes, kb_sizes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["seconds"] = round(time.perf_counter() - started)
    report["machine"] = f"{os.cpu_count()} cores, {_memory_gb():.0f} GiB"
    report["date"] = time.strftime("%Y-%m-%d")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    table = markdown(report)
    (args.out / "bench.md").write_text(
        f"# make bench, {report['date']} ({report['machine']}, {report['seconds']} s)\n\n"
        + table, "utf-8")
    print(table)


def _memory_gb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


if __name__ == "__main__":
    main()
