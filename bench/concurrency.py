"""Benchmark: ingest into a knowledge base while clients search and ask it, every response
checked. Run with `make concurrency` (or `python -m bench.concurrency [--seconds 60]
[--clients 4] [--out .eval/concurrency.json]`).

It starts a real server (`qa serve` in a subprocess on 127.0.0.1, a free port, a temporary
data directory, its own QA_ADMIN_KEY, rate limits off: this measures concurrency, not the
limits), creates a knowledge base with seed documents (English and Korean, made of
distinct, checkable facts: `bench/fact_corpus.py`), then:

A. for --seconds, new documents are uploaded through the API, one job after another,
   while --clients threads loop search + ask about seed and new documents;
B. for --cli-seconds (default: half of --seconds), `qa ingest` runs in another process on
   the same data directory, batch after batch, while the uploads and the clients go on
   (the clients for a few seconds more, to reach the last documents).

Every response is checked (`bench/consistency.py`): status 200, and no result from a
half-written state. At the end a second `qa serve` on the same data directory must exit
non-zero with the "another qa server" message, and the first must still answer. Prints,
per phase: requests, errors, search and ask latency, documents ingested, how soon they
were visible, consistency violations. Exits 1 on any error or violation.
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.concurrent_load import (
    SearchClients,
    Uploader,
    Watcher,
    cli_ingest,
    free_port,
    qa_command,
    qa_environment,
    second_server_problem,
    upload_and_wait,
)
from bench.fact_corpus import FactCorpus
from bench.load_run import LoadRun

KB = "load"
SEED_DOCUMENTS = 4
CLI_BATCH = 3
SETTLE_S = 3.0  # the clients go on this long after the last ingestion of phase B
START_TIMEOUT_S = 180.0


@contextmanager
def qa_server(data_dir: Path, key: str, log_path: Path) -> Iterator[tuple[str, int]]:
    """`qa serve` in a subprocess; yields its URL and process id once it answers."""
    port = free_port()
    env = qa_environment(data_dir, QA_ADMIN_KEY=key, QA_LIMITS__ASKS_PER_MINUTE="0",
                         QA_LIMITS__UPLOADS_PER_MINUTE="0")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own command
            [*qa_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_healthy(url, process, log_path)
            yield url, process.pid
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not ended 30 s later."""
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(30)


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"qa serve exited {process.returncode}:\n{_tail(log_path)}")
        try:
            if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"qa serve did not answer within {START_TIMEOUT_S:.0f} s:\n"
                       f"{_tail(log_path)}")


def _tail(path: Path, size: int = 3000) -> str:
    return path.read_bytes()[-size:].decode("utf-8", "replace")


def seed(run: LoadRun, corpus: FactCorpus) -> None:
    run.begin_phase("seed")
    with run.client() as api:
        run.call(api, "setup", "POST", "/kbs", expect=201, json={"name": run.kb})
        upload_and_wait(run, api, corpus.batch(SEED_DOCUMENTS, "seed"), "seed")


def phase_uploads(run: LoadRun, corpus: FactCorpus, seconds: float) -> None:
    run.begin_phase("A: API uploads")
    with Uploader(run, corpus.batch, time.monotonic() + seconds):
        pass


def phase_cli(run: LoadRun, corpus: FactCorpus, data_dir: Path, seconds: float) -> None:
    run.begin_phase("B: qa ingest + API uploads")
    deadline = time.monotonic() + seconds
    with Uploader(run, corpus.batch, deadline):
        while True:
            cli_ingest(run, corpus.batch(CLI_BATCH, "cli"), data_dir)
            if time.monotonic() >= deadline:
                break
    time.sleep(SETTLE_S)  # so that searches and asks reach the last documents too


def final_checks(run: LoadRun, data_dir: Path, key: str, pid: int) -> dict[str, Any]:
    """A second server is refused; the first still answers; the totals add up."""
    run.begin_phase("final checks")
    problem = second_server_problem(data_dir, holder_pid=pid, QA_ADMIN_KEY=key)
    if problem is not None:
        run.error(problem)
    with run.client() as api:
        info = run.call(api, "setup", "GET", f"/kbs/{run.kb}") or {}
        found = run.call(api, "search", "POST", f"/kbs/{run.kb}/search",
                         json={"query": run.documents()[-1].doc.facts[0].question})
        if found is not None:
            run.checker.check(api, found, "search after the second server was refused")
    docs = run.documents()
    expected = (len(docs), sum(len(d.doc.chunks) for d in docs))
    if (info.get("documents"), info.get("chunks")) != expected:
        run.violation(f"the knowledge base has {info.get('documents')} documents and "
                      f"{info.get('chunks')} chunks; expected {expected}")
    run.end_phase()
    return {"second_server_refused": problem is None, "second_server_problem": problem,
            "documents": info.get("documents"), "chunks": info.get("chunks")}


def run_benchmark(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    data_dir, key = work / "data", secrets.token_urlsafe(32)
    corpus = FactCorpus(seed=args.seed)
    with qa_server(data_dir, key, work / "server.log") as (url, pid):
        run = LoadRun(url, key, KB)
        seed(run, corpus)
        with Watcher(run), SearchClients(run, args.clients):
            phase_uploads(run, corpus, args.seconds)
            phase_cli(run, corpus, data_dir, args.cli_seconds)
        run.end_phase()
        final = final_checks(run, data_dir, key, pid)
    failures = run.problems()
    if failures:
        print(f"server log (end):\n{_tail(work / 'server.log')}", file=sys.stderr)
    return {"clients": args.clients, "ok": not failures, **run.report(), "final": final}


def _ms(figures: dict[str, float]) -> str:
    if not figures.get("count"):
        return "-"
    return f"{figures['p50']:.0f}/{figures['p95']:.0f}/{figures['max']:.0f}"


def _seconds(spread: dict[str, float]) -> str:
    return (f"{spread['median']:+.2f} s ({spread['min']:+.2f}..{spread['max']:+.2f})"
            if spread else "-")


def _visible(source: str, seen: dict[str, Any]) -> str:
    reporter = "its job" if source == "api" else "qa ingest"
    return (f"{seen['documents']} documents; after {reporter} reported one indexed, the list "
            f"showed it {_seconds(seen['listed_minus_reported_s'])}, a result first returned "
            f"it {_seconds(seen['first_result_minus_reported_s'])}; never returned: "
            f"{seen['never_returned']}")


def print_report(report: dict[str, Any]) -> None:
    print(f"{'phase':<28} {'s':>5} {'requests':>8} {'errors':>6} {'violations':>10} "
          f"{'docs api/cli':>12} {'search p50/p95/max ms':>22} {'ask p50/p95/max ms':>20}")
    for phase in report["phases"]:
        docs = phase["documents_ingested"]
        print(f"{phase['phase']:<28} {phase['seconds']:>5.0f} {phase['requests']:>8} "
              f"{phase['errors']:>6} {phase['violations']:>10} "
              f"{docs.get('api', 0) + docs.get('seed', 0):>8}/{docs.get('cli', 0):<3} "
              f"{_ms(phase['search_ms']):>22} {_ms(phase['ask_ms']):>20}")
    for phase in report["phases"]:
        for source, seen in phase["visibility"].items():
            if source != "seed":
                print(f"{phase['phase']}, {source}: {_visible(source, seen)}")
        if phase["search_found_after_indexed"] != "0/0":
            print(f"{phase['phase']}: searches about an indexed document returned it "
                  f"{phase['search_found_after_indexed']}")
        for message in phase["first_errors"] + phase["first_violations"]:
            print(f"  {phase['phase']}: {message}")
    final = report["final"]
    print(f"second qa serve on the same data directory: "
          f"{'refused' if final['second_server_refused'] else final['second_server_problem']}")
    print(f"final: {final['documents']} documents, {final['chunks']} chunks; "
          f"{'OK' if report['ok'] else 'FAILED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="length of phase A (API uploads)")
    parser.add_argument("--cli-seconds", type=float, default=None,
                        help="length of phase B (qa ingest); default half of --seconds")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="also write the report here")
    args = parser.parse_args()
    if args.cli_seconds is None:
        args.cli_seconds = args.seconds / 2
    with tempfile.TemporaryDirectory(prefix="qa-concurrency-") as folder:
        report = run_benchmark(args, Path(folder))
    print_report(report)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
