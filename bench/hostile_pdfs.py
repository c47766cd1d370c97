"""Hostile and broken PDFs through a real server: every file ends with a status and a
reason within its time budget, the server keeps answering, and no parser worker leaks.

Run with `make hostile` (or `python -m bench.hostile_pdfs [--pdfs DIR] [--out FILE]`).

It starts `qa serve` on 127.0.0.1 (a free port, a temporary data directory, a random admin
key sent on every request), creates a knowledge base and uploads every PDF under `--pdfs`
(recursively) and the generated attacks of `bench.attack_pdfs`, one file per upload
request, one at a time, each followed to the end of its job. Meanwhile a thread calls
`GET /health` and `POST /kbs/{kb}/search` every half second. Reported: counts by status,
each attack's outcome, files over their parsing budget (`base + per_page * pages`, capped,
and OCR's per-page budget for the pages of a file that was OCR'd or ended `no_text`;
the time measured runs from the upload's answer to the job's end, so it also covers
queueing, chunking and embedding, and a file counts as over only past `SLACK_S` more),
health and search failures and latencies, and the
server's parser workers before, during and after (after the jobs at most the configured
pool; after SIGTERM none, also when the server is stopped in the middle of a slow parse).
Exits non-zero when a file has no status or reason, a file is over its budget, a health or
search request failed, or a worker leaked.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.attack_pdfs import ATTACKS, attack_slow_pages, write_attacks
from qa_service.config import IngestSettings, Settings
from qa_service.services import OCR_DRAW_BUDGET_S

KB = "hostile"
# What the measured time holds besides parsing: staging the upload, starting a worker
# (a second or two on a busy machine), polling every 0.1 s.
SLACK_S = 5.0
FINAL_STATES = ("done", "failed")
QUERIES = ["What is the total amount?", "연차 휴가는 며칠인가요?", "encryption password",
           "table of contents"]
_PROJECT = Path(__file__).resolve().parent.parent


@dataclass
class FileRun:
    name: str
    source: str  # "shared" or "attack"
    size: int
    status: str = ""
    reason: str = ""
    pages: int = 0
    chunks: int = 0
    elapsed_s: float = 0.0
    budget_s: float = 0.0
    http_status: int = 0

    @property
    def over_budget(self) -> bool:
        return self.elapsed_s > self.budget_s + SLACK_S

    @property
    def unexplained(self) -> bool:
        """No final status, or a status other than indexed/unchanged without a reason."""
        ended = self.status not in ("", "queued")
        return not ended or (self.status not in ("indexed", "unchanged") and not self.reason)


def budget(ingest: IngestSettings, pages: int, ocr_pages: int = 0) -> float:
    """The parsing budget, and OCR's own for each page OCR may have started on."""
    return (min(ingest.parse_timeout_max_s,
                ingest.parse_timeout_base_s + ingest.parse_timeout_per_page_s * pages)
            + ocr_pages * (ingest.ocr_page_timeout_s + OCR_DRAW_BUDGET_S))


# --- processes -------------------------------------------------------------------------------


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def parser_workers(marker: str, parent: int | None = None) -> list[int]:
    """Live `ingest.parse_worker` processes whose environment holds `marker` (our data
    directory), children of `parent` when given. Zombies do not count."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or b"ingest.parse_worker" not in _read(f"/proc/{entry}/cmdline"):
            continue
        stat = _read(f"/proc/{entry}/stat").rsplit(b")", 1)[-1].split()
        if not stat or stat[0] in (b"Z", b"X"):
            continue
        if parent is not None and int(stat[1]) != parent:
            continue
        if marker.encode() in _read(f"/proc/{entry}/environ"):
            found.append(int(entry))
    return found


class Server:
    """`qa serve` as a subprocess, with its own data directory and admin key."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.key = secrets.token_urlsafe(24)
        self.data_dir = data_dir
        self.env = {**os.environ, "QA_DATA_DIR": str(data_dir), "QA_ADMIN_KEY": self.key,
                    # this run measures hostile files, not rate limiting
                    "QA_LIMITS__UPLOADS_PER_MINUTE": "0", "QA_LIMITS__ASKS_PER_MINUTE": "0"}
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(  # noqa: S603 - our own command
            [str(_PROJECT / ".venv" / "bin" / "qa"), "serve", "--host", "127.0.0.1",
             "--port", str(self.port)],
            env=self.env, stdout=self._log, stderr=subprocess.STDOUT, cwd=_PROJECT)
        self.url = f"http://127.0.0.1:{self.port}"

    def client(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout,
                            headers={"Authorization": f"Bearer {self.key}"})

    def wait_ready(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        with self.client(5.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited with {self.process.returncode}")
                try:
                    if client.get("/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.5)
        raise RuntimeError("the server did not answer /health in time")

    def workers(self) -> list[int]:
        return parser_workers(str(self.data_dir), self.process.pid)

    def stop(self, timeout: float = 120.0) -> dict[str, Any]:
        """SIGTERM, wait for the exit; how long it took and what was left behind."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
            self.process.kill()
            self.process.wait()
        self._log.close()
        time.sleep(1.0)  # let orphans show up as what they are
        return {"exit_code": code, "stop_s": round(time.monotonic() - started, 2),
                "workers_left": parser_workers(str(self.data_dir))}


# --- the health and search monitor -----------------------------------------------------------


@dataclass
class Monitor:
    server: Server
    interval_s: float = 0.5
    latencies_ms: dict[str, list[float]] = field(
        default_factory=lambda: {"health": [], "search": []})
    failures: list[dict[str, Any]] = field(default_factory=list)
    max_workers: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with self.server.client(10.0) as client:
            turn = 0
            while not self._stop.wait(self.interval_s):
                self._call(client, "health", "GET", "/health", None)
                query = QUERIES[turn % len(QUERIES)]
                self._call(client, "search", "POST", f"/kbs/{KB}/search",
                           {"query": query, "k": 5})
                self.max_workers = max(self.max_workers, len(self.server.workers()))
                turn += 1

    def _call(self, client: httpx.Client, kind: str, method: str, url: str,
              body: dict[str, Any] | None) -> None:
        started = time.perf_counter()
        try:
            response = client.request(method, url, json=body)
            error = "" if response.status_code == 200 else f"HTTP {response.status_code}: " \
                                                             f"{response.text[:200]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        elapsed = (time.perf_counter() - started) * 1000
        self.latencies_ms[kind].append(elapsed)
        if error:
            self.failures.append({"kind": kind, "at": time.time(), "error": error})

    @contextmanager
    def running(self) -> Iterator[Monitor]:
        thread = threading.Thread(target=self.run, name="monitor", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(30)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"failures": len(self.failures),
                               "first_failures": self.failures[:10],
                               "max_workers_seen": self.max_workers}
        for kind, values in self.latencies_ms.items():
            ordered = sorted(values) or [0.0]
            out[kind] = {"requests": len(values),
                         "p50_ms": round(statistics.median(ordered), 1),
                         "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
                         "max_ms": round(ordered[-1], 1)}
        return out


# --- uploading ---------------------------------------------------------------------------------


def upload_and_wait(client: httpx.Client, path: Path, source: str, ingest: IngestSettings,
                    wait_s: float) -> FileRun:
    """Upload one file, follow its job to the end; its status, reason and timing."""
    run = FileRun(path.name, source, path.stat().st_size)
    response = _post_upload(client, path)
    run.http_status = response.status_code
    started = time.monotonic()
    if response.status_code != 202:  # refused at the door: the error is its reason
        error = response.json().get("error", {})
        run.status = f"rejected_{response.status_code}"
        run.reason = f"{error.get('code', '')}: {error.get('message', response.text[:300])}"
        return run
    job_id = response.json()["job_id"]
    job = _wait_job(client, job_id, started + wait_s)
    run.elapsed_s = round(time.monotonic() - started, 2)
    outcome = (job.get("files") or [{}])[0]
    run.status = str(outcome.get("status", ""))
    run.reason = str(outcome.get("reason", "")) or str(job.get("error", ""))
    run.pages = int(outcome.get("pages") or 0)
    run.chunks = int(outcome.get("chunks") or 0)
    # OCR starts on the pages without text: every page of a scan, some of a mixed file
    ocr_started = run.pages if run.status == "no_text" or outcome.get("ocr_pages") else 0
    run.budget_s = budget(ingest, run.pages, ocr_started)
    return run


def _post_upload(client: httpx.Client, path: Path) -> httpx.Response:
    while True:
        with open(path, "rb") as handle:
            response = client.post(f"/kbs/{KB}/documents",
                                   files=[("files", (path.name, handle, "application/pdf"))])
        if response.status_code != 429:
            return response
        time.sleep(float(response.headers.get("Retry-After", "1")))


def _wait_job(client: httpx.Client, job_id: str, deadline: float) -> dict[str, Any]:
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/kbs/{KB}/jobs/{job_id}").json()
        if job.get("state") in FINAL_STATES:
            return job
        time.sleep(0.1)
    return {**job, "files": [], "error": f"no outcome after {deadline:.0f} s of waiting"}


def collect(pdfs: Path | None) -> list[Path]:
    if pdfs is None:
        return []
    return sorted(p for p in pdfs.rglob("*") if p.is_file() and p.suffix.lower() == ".pdf")


# --- the run -----------------------------------------------------------------------------------


def ingest_all(server: Server, files: list[tuple[Path, str]], ingest: IngestSettings
               ) -> list[FileRun]:
    runs = []
    wait_s = ingest.parse_timeout_max_s + 300
    with server.client(120.0) as client:
        for number, (path, source) in enumerate(files, 1):
            run = upload_and_wait(client, path, source, ingest, wait_s)
            runs.append(run)
            flag = "  OVER BUDGET" if run.over_budget else ""
            print(f"[{number:>3}/{len(files)}] {run.status or 'NO STATUS':<13} "
                  f"{run.elapsed_s:>7.1f}s/{run.budget_s:>5.0f}s {source:<6} {run.name[:60]}"
                  f"{flag}  {run.reason[:100]}", flush=True)
            if server.process.poll() is not None:
                print(f"the server died (exit {server.process.returncode})", flush=True)
                break
    return runs


def shutdown_mid_parse(folder: Path, log_path: Path) -> dict[str, Any]:
    """A fresh server stopped with SIGTERM while a worker is busy with a slow file and
    another waits in the queue: no worker may outlive it."""
    server = Server(folder / "data-shutdown", log_path)
    try:
        server.wait_ready()
        slow = [folder / f"slow-{n}.pdf" for n in range(2)]
        for number, path in enumerate(slow):
            path.write_bytes(attack_slow_pages(pages=20 + number))
        with server.client() as client:
            client.post("/kbs", json={"name": KB}).raise_for_status()
            for path in slow:
                _post_upload(client, path).raise_for_status()
        deadline = time.monotonic() + 60
        while not server.workers() and time.monotonic() < deadline:
            time.sleep(0.2)
        busy = server.workers()
        time.sleep(3.0)  # well inside the slow parse
    finally:
        stopped = server.stop()
    return {"workers_busy_at_sigterm": len(busy), **stopped}


def report(runs: list[FileRun], monitor: dict[str, Any], workers: dict[str, Any],
           shutdown: dict[str, Any], pool_size: int) -> dict[str, Any]:
    counts = Counter(r.status or "NO STATUS" for r in runs)
    problems = {
        "unexplained": [r.name for r in runs if r.unexplained],
        "over_budget": [r.name for r in runs if r.over_budget],
        "health_or_search_failures": monitor["failures"],
        "workers_over_pool_during_run": max(0, monitor["max_workers_seen"] - pool_size),
        "workers_over_pool_after_jobs": max(0, len(workers["after_jobs"]) - pool_size),
        "workers_after_sigterm": len(workers["after_stop"]["workers_left"]),
        "workers_after_sigterm_mid_parse": len(shutdown.get("workers_left", [])),
    }
    return {"counts": dict(counts.most_common()), "problems": problems,
            "attacks": {r.name: asdict(r) for r in runs if r.source == "attack"},
            "files": [asdict(r) | {"over_budget": r.over_budget} for r in runs],
            "monitor": monitor, "workers": workers, "shutdown_mid_parse": shutdown}


def print_report(result: dict[str, Any]) -> None:
    print("\nstatus          files")
    for status, count in result["counts"].items():
        print(f"{status:<15} {count:>5}")
    print(f"{'total':<15} {sum(result['counts'].values()):>5}\n")
    print(f"{'attack':<34} {'status':<10} {'time':>8} {'budget':>7}  reason")
    for name, run in result["attacks"].items():
        print(f"{name:<34} {run['status']:<10} {run['elapsed_s']:>7.1f}s {run['budget_s']:>6.0f}s"
              f"  {run['reason'][:110]}")
    monitor = result["monitor"]
    for kind in ("health", "search"):
        stats = monitor[kind]
        print(f"{kind}: {stats['requests']} requests, p50 {stats['p50_ms']} ms, "
              f"p95 {stats['p95_ms']} ms, max {stats['max_ms']} ms")
    print(f"health/search failures: {monitor['failures']}")
    workers = result["workers"]
    print(f"parser workers: before {len(workers['before'])}, at most "
          f"{monitor['max_workers_seen']} during, {len(workers['after_jobs'])} after the jobs "
          f"(pool {workers['pool_size']}), {len(workers['after_stop']['workers_left'])} after "
          f"SIGTERM, {len(result['shutdown_mid_parse'].get('workers_left', []))} after SIGTERM "
          "in the middle of a parse")
    for name, value in result["problems"].items():
        if value:
            print(f"PROBLEM {name}: {value}")


def run(pdfs: Path | None, attacks: list[str], out: Path) -> int:
    started = time.monotonic()
    settings = Settings()
    ingest = settings.ingest
    with tempfile.TemporaryDirectory(prefix="qa-hostile-") as tmp:
        folder = Path(tmp)
        files = [(p, "shared") for p in collect(pdfs)]
        files += [(p, "attack") for p in write_attacks(folder / "attacks", attacks).values()]
        server = Server(folder / "data", folder / "server.log")
        try:
            server.wait_ready()
            with server.client() as client:
                client.post("/kbs", json={"name": KB}).raise_for_status()
            before = server.workers()
            with Monitor(server).running() as monitor:
                runs = ingest_all(server, files, ingest)
            after_jobs = server.workers()
        finally:
            after_stop = server.stop()
        log = (folder / "server.log").read_text(errors="replace")
        shutdown = shutdown_mid_parse(folder, folder / "server-shutdown.log")
        workers = {"pool_size": ingest.workers, "before": before, "after_jobs": after_jobs,
                   "after_stop": after_stop}
        result = report(runs, monitor.summary(), workers, shutdown, ingest.workers)
    result["run_s"] = round(time.monotonic() - started, 1)
    result["settings"] = ingest.model_dump()
    result["server_log_errors"] = [line for line in log.splitlines()
                                   if "Traceback" in line or line.startswith("ERROR")][:50]
    result["server_log_tail"] = log[-4000:]
    print_report(result)
    print(f"server log: {len(result['server_log_errors'])} error or traceback lines")
    print(f"run time {result['run_s']:.0f} s; report in {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2))
    return 1 if any(result["problems"].values()) else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pdfs", type=Path, default=Path("../shared/data/pdfs"),
                        help="folder of real PDFs, read recursively")
    parser.add_argument("--no-shared", action="store_true", help="only the generated attacks")
    parser.add_argument("--no-attacks", action="store_true", help="only the folder's PDFs")
    parser.add_argument("--attack", action="append", choices=sorted(ATTACKS),
                        help="only this generated attack (repeatable; default: all)")
    parser.add_argument("--out", type=Path, default=Path(".eval/hostile.json"))
    args = parser.parse_args()
    attacks = [] if args.no_attacks else args.attack or list(ATTACKS)
    sys.exit(run(None if args.no_shared else args.pdfs, attacks, args.out))


if __name__ == "__main__":
    main()
