"""The threads of a load run on a server, and the other processes it starts.

- `SearchClients`: threads looping search + ask with questions about seed and new
  documents; every response is checked (`bench/consistency.py`);
- `Watcher`: polls the document list; every document listed must be complete;
- `Uploader`: uploads new documents through the API, one job after another;
- `cli_ingest`: `qa ingest` in another process on the same data directory;
- `second_server_problem`: a second `qa serve` on a data directory already served.

They share one `LoadRun` (`bench/load_run.py`). Used by `bench/concurrency.py` (a
`qa serve` process, a minute) and `tests/api/test_concurrency.py` (an in-process server,
a few seconds).
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.fact_corpus import FactDocument
from bench.load_run import REQUEST_TIMEOUT_S, DocumentState, LoadRun

__all__ = ["SearchClients", "Uploader", "Watcher", "cli_ingest", "free_port", "qa_command",
           "qa_environment", "second_server_problem", "upload_and_wait"]

JOB_TIMEOUT_S = 180.0


# --- the threads -------------------------------------------------------------------------


def _thread(run: LoadRun, name: str, work: Callable[..., None], *args: Any) -> threading.Thread:
    """A daemon thread whose crash is an error of the run, not a silent loss of load."""
    def guarded() -> None:
        try:
            work(*args)
        except Exception as exc:  # noqa: BLE001 - reported, and the run fails
            run.error(f"{name} stopped: {type(exc).__name__}: {exc}")

    return threading.Thread(target=guarded, name=name, daemon=True)


class SearchClients:
    """`count` threads looping search + ask until stopped; every response checked."""

    def __init__(self, run: LoadRun, count: int = 4, seed: int = 1) -> None:
        self.run = run
        self._stop = threading.Event()
        self._threads = [_thread(run, f"client-{n}", self._loop, random.Random(seed + n))
                         for n in range(count)]

    def __enter__(self) -> SearchClients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(REQUEST_TIMEOUT_S * 3)
            if thread.is_alive():
                self.run.error(f"{thread.name} did not stop")

    def _loop(self, rng: random.Random) -> None:
        with self.run.client() as api:
            while not self._stop.is_set():
                self._round(api, rng)

    def _round(self, api: httpx.Client, rng: random.Random) -> None:
        run, target = self.run, self.run.pick(rng)
        question = rng.choice(target.doc.facts).question
        was_indexed = target.reported_at is not None
        found = run.call(api, "search", "POST", f"/kbs/{run.kb}/search",
                         json={"query": question, "k": 5})
        if found is not None:
            run.checker.check(api, found, f"search {question!r}")
            if was_indexed:
                run.recall(any(p["document_id"] == target.doc.id for p in found["passages"]))
        if was_indexed and rng.random() < 0.3:
            self._search_within(api, target, question)
        answer = run.call(api, "ask", "POST", f"/kbs/{run.kb}/ask", json={"question": question})
        if answer is not None:
            run.checker.check(api, answer, f"ask {question!r}")

    def _search_within(self, api: httpx.Client, target: DocumentState, question: str) -> None:
        """A search restricted to a document its job reported indexed finds that document."""
        run = self.run
        found = run.call(api, "search", "POST", f"/kbs/{run.kb}/search",
                         json={"query": question, "k": 3, "document_ids": [target.doc.id]})
        if found is None:
            return
        run.checker.check(api, found, f"search in {target.doc.filename}")
        if not found["passages"] or any(p["document_id"] != target.doc.id
                                        for p in found["passages"]):
            run.violation(f"a search within {target.doc.filename}, indexed, returned "
                          f"{[p['document_id'][:12] for p in found['passages']]}")


class Watcher:
    """Polls the document list: each document listed must be indexed and complete."""

    def __init__(self, run: LoadRun, interval_s: float = 0.1) -> None:
        self.run, self.interval_s = run, interval_s
        self._stop = threading.Event()
        self._thread = _thread(run, "watcher", self._loop)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(REQUEST_TIMEOUT_S * 2)

    def _loop(self) -> None:
        with self.run.client() as api:
            while not self._stop.wait(self.interval_s):
                listing = self.run.call(api, "list", "GET", f"/kbs/{self.run.kb}/documents")
                for row in (listing or {}).get("documents", []):
                    self._check(row)

    def _check(self, row: dict[str, Any]) -> None:
        state = self.run.document(row["id"])
        if state is None:
            self.run.violation(f"the document list shows an unknown document {row}")
            return
        expected = ("indexed", len(state.doc.pages), len(state.doc.chunks), state.display_name)
        if (row["status"], row["pages"], row["chunks"], row["filename"]) != expected:
            self.run.violation(f"the document list shows {state.doc.filename} as {row}; "
                               f"expected (status, pages, chunks, filename) {expected}")
        self.run.listed(row["id"])


class Uploader:
    """Uploads documents through the API (one or two per job) until `deadline`, waiting
    for each job; a thread, so that the caller can run `qa ingest` meanwhile."""

    def __init__(self, run: LoadRun, supply: Callable[[int], list[FactDocument]],
                 deadline: float) -> None:
        self.run, self.supply, self.deadline = run, supply, deadline
        self._thread = _thread(run, "uploader", self._loop)

    def __enter__(self) -> Uploader:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._thread.join(JOB_TIMEOUT_S + REQUEST_TIMEOUT_S)
        if self._thread.is_alive():
            self.run.error("the uploader did not finish")

    def _loop(self) -> None:
        with self.run.client() as api:
            rounds = 0
            while rounds == 0 or time.monotonic() < self.deadline:
                rounds += 1
                if not upload_and_wait(self.run, api, self.supply(1 + rounds % 2), "api"):
                    time.sleep(0.5)  # recorded as an error; do not spin


def upload_and_wait(run: LoadRun, api: httpx.Client, docs: Sequence[FactDocument],
                    source: str) -> bool:
    """Upload `docs` as one job and follow it; each file must end indexed, complete."""
    run.add_documents(docs, source)
    files = [("files", (d.filename, d.pdf, "application/pdf")) for d in docs]
    accepted = run.call(api, "upload", "POST", f"/kbs/{run.kb}/documents", expect=202,
                        files=files)
    if accepted is None:
        return False
    run.set_job(docs, accepted["job_id"])
    job = follow_job(run, api, accepted["job_id"])
    if job is None:
        return False
    check_job(run, job, docs, [d.filename for d in docs])
    return True


def follow_job(run: LoadRun, api: httpx.Client, job_id: str) -> dict[str, Any] | None:
    """Poll a job until it ends, recording when each file is reported indexed."""
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        job = run.call(api, "job", "GET", f"/kbs/{run.kb}/jobs/{job_id}")
        if job is None:
            return None
        for outcome in job["files"]:
            if outcome["status"] == "indexed" and run.document(outcome["document_id"]):
                run.reported(outcome["document_id"])
        if job["state"] in ("done", "failed"):
            return job  # type: ignore[no-any-return]
        time.sleep(0.05)
    run.error(f"job {job_id} did not end within {JOB_TIMEOUT_S:.0f} s")
    return None


def check_job(run: LoadRun, job: dict[str, Any], docs: Sequence[FactDocument],
              names: Sequence[str]) -> None:
    if job["state"] != "done" or len(job["files"]) != len(docs):
        run.error(f"job {job['job_id']} ended {job['state']} with {len(job['files'])} of "
                  f"{len(docs)} files: {job['error']}")
    for doc, name, outcome in zip(docs, names, job["files"], strict=False):
        expected = (name, "indexed", doc.id, len(doc.pages), len(doc.chunks))
        got = (outcome["filename"], outcome["status"], outcome["document_id"],
               outcome["pages"], outcome["chunks"])
        if got != expected:
            run.error(f"job {job['job_id']}: {doc.filename} ended {got}, expected {expected}")
        run.reported(doc.id)


# --- other processes ---------------------------------------------------------------------


def qa_command() -> list[str]:
    """The `qa` command of this environment."""
    script = Path(sys.executable).with_name("qa")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "qa_service.cli"]


def qa_environment(data_dir: Path, **variables: str) -> dict[str, str]:
    """This process's environment without its `QA_*` variables, plus these."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    return {**env, "QA_DATA_DIR": str(data_dir), "OMP_WAIT_POLICY": "PASSIVE", **variables}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli_ingest(run: LoadRun, docs: Sequence[FactDocument], data_dir: Path,
               timeout_s: float = 300.0) -> None:
    """`qa ingest` of `docs` in another process; it must index them all, completely."""
    with _written(docs) as paths:
        names = [p.name for p in paths]  # `qa ingest` stores each file's name, not its path
        run.add_documents(docs, "cli", names)
        try:
            done = subprocess.run(  # noqa: S603 - our own command
                [*qa_command(), "ingest", run.kb, *map(str, paths), "--json"],
                env=qa_environment(data_dir), capture_output=True, text=True, timeout=timeout_s,
                check=False)
        except subprocess.TimeoutExpired:
            run.error(f"qa ingest did not end within {timeout_s:.0f} s")
            return
    if done.returncode != 0:
        run.error(f"qa ingest exited {done.returncode}: {done.stderr[-600:]}")
    try:
        job = json.loads(done.stdout)
    except ValueError:
        run.error(f"qa ingest printed no JSON: {done.stdout[-300:]} {done.stderr[-300:]}")
        return
    check_job(run, job, docs, names)
    with run.client() as api:  # the server sees the other process's job as it ended
        seen = run.call(api, "job", "GET", f"/kbs/{run.kb}/jobs/{job['job_id']}")
    if seen is not None and (seen["state"], seen["files"]) != ("done", job["files"]):
        run.violation(f"the server shows qa ingest's job as {seen}, qa ingest printed {job}")


@contextmanager
def _written(docs: Sequence[FactDocument]) -> Iterator[list[Path]]:
    with tempfile.TemporaryDirectory(prefix="qa-cli-ingest-") as folder:
        paths = [Path(folder) / d.filename for d in docs]
        for doc, path in zip(docs, paths, strict=True):
            path.write_bytes(doc.pdf)
        yield paths


def second_server_problem(data_dir: Path, timeout_s: float = 120.0, holder_pid: int | None = None,
                          **variables: str) -> str | None:
    """Start `qa serve` on a data directory a server already serves: None when it exits
    non-zero naming the other server (and its process id, when given), else what went
    wrong."""
    command = [*qa_command(), "serve", "--host", "127.0.0.1", "--port", str(free_port())]
    try:
        done = subprocess.run(command,  # noqa: S603 - our own command
                              env=qa_environment(data_dir, **variables),
                              capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return f"a second qa serve was still running after {timeout_s:.0f} s (killed)"
    message = " ".join(done.stderr.split())
    named = holder_pid is None or f'"pid": {holder_pid}' in message
    if done.returncode == 0 or "another qa server is already serving" not in message or not named:
        return f"a second qa serve exited {done.returncode}: {message[-600:]}"
    return None
