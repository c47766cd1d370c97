"""The outside probe's reproductions, against a real `qa serve`, with the figures it reported.

1. Memory before authentication: a 250 MB `multipart/form-data` body to a JSON route
   (`POST /kbs/x/search`), without a key (once, then two at once) and with one (declared
   and chunked). Prints each answer, what the client got to send, and the server's resident
   memory (RSS, sampled every 5 ms) before and at its peak.
2. Deleting a knowledge base while an upload to it streams: `curl --limit-rate 20k -F
   files=@big.pdf` (one file, then two), `DELETE /kbs/k` 1.5 s later, 8 rounds each. Prints
   the upload's status codes and whether any answer held a server path.

    python -m bench.hardening_probe [--rounds 8] [--mb 250] [--out .eval/hardening.json]

Exits 1 when an answer is a 5xx, holds a server path, or the memory grows by more than
64 MB for a refused body."""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.concurrency import qa_server
from tests.api.raw_http import send_until_answered
from tests.pdfs import text_pdf

BOUNDARY = b"probe-boundary"
BLOCK = 1 << 20
RSS_GROWTH_LIMIT_MB = 64.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@contextmanager
def peak_rss(pid: int) -> Iterator[dict[str, float]]:
    """{"before", "peak", "after"} in MB, the peak sampled every 5 ms meanwhile."""
    figures = {"before": rss_mb(pid), "peak": 0.0, "after": 0.0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            figures["peak"] = max(figures["peak"], rss_mb(pid))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield figures
    finally:
        time.sleep(0.5)
        done.set()
        sampler.join()
        figures["after"] = rss_mb(pid)
        figures["peak"] = max(figures["peak"], figures["after"])


def send_big_body(port: int, path: str, size: int, key: str | None, chunked: bool
                  ) -> dict[str, Any]:
    """POST `size` bytes of multipart body as fast as the server takes them; stop when it
    answers. Returns the status, the bytes sent and the answer's body."""
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1",
            f"Content-Type: multipart/form-data; boundary={BOUNDARY.decode()}"]
    head += [f"Authorization: Bearer {key}"] if key else []
    head += ["Transfer-Encoding: chunked"] if chunked else [f"Content-Length: {size}"]
    block = b"0" * BLOCK
    payload = b"%x\r\n%b\r\n" % (len(block), block) if chunked else block
    reply, sent = send_until_answered(port, ("\r\n".join(head) + "\r\n\r\n").encode(),
                                      [payload], size, timeout=120)
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0
    body = reply.partition(b"\r\n\r\n")[2].decode("utf-8", "replace")
    return {"status": status, "sent_mb": round(sent / 1e6, 2), "body": body[:300]}


def memory_probe(url: str, pid: int, key: str, megabytes: int) -> list[dict[str, Any]]:
    port, size = int(url.rsplit(":", 1)[1]), megabytes * 1_000_000
    cases: list[dict[str, Any]] = []
    for name, parallel, use_key, chunked in [
            ("no key", 1, False, False), ("no key, chunked", 1, False, True),
            ("no key, two at once", 2, False, False), ("with key", 1, True, False),
            ("with key, chunked", 1, True, True)]:
        answers: list[dict[str, Any]] = []

        def one(use: str | None, framed: bool, into: list[dict[str, Any]]) -> None:
            into.append(send_big_body(port, "/kbs/x/search", size, use, framed))

        with peak_rss(pid) as memory:
            threads = [threading.Thread(target=one, args=(key if use_key else None, chunked,
                                                          answers)) for _ in range(parallel)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        cases.append({"case": f"{megabytes} MB multipart to POST /kbs/x/search, {name}",
                      "statuses": sorted(a["status"] for a in answers),
                      "client_sent_mb": [a["sent_mb"] for a in answers],
                      "rss_before_mb": round(memory["before"], 1),
                      "rss_peak_mb": round(memory["peak"], 1),
                      "rss_growth_mb": round(memory["peak"] - memory["before"], 1)})
    return cases


def delete_during_upload(url: str, key: str, files: int, rounds: int, work: Path
                         ) -> dict[str, Any]:
    big = work / "big.pdf"
    if not big.exists():  # a PDF with 150 kB of incompressible bytes after its end: at
        # 20 kB/s its upload lasts about 8 s, so the deletion comes in the middle of it
        big.write_bytes(text_pdf(["A page of a report."]) + secrets.token_bytes(150_000))
    admin = {"Authorization": f"Bearer {key}"}
    statuses, bodies = [], []
    for _ in range(rounds):
        assert httpx.post(f"{url}/kbs", json={"name": "k"}, headers=admin).status_code == 201
        parts = [arg for _ in range(files) for arg in ("-F", f"files=@{big}")]
        command = ["curl", "-s", "--limit-rate", "20k", "-H", f"Authorization: Bearer {key}",
                   "-w", "\n%{http_code}", *parts, f"{url}/kbs/k/documents"]
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as curl:  # noqa: S603
            time.sleep(1.5)
            deleted = httpx.delete(f"{url}/kbs/k", headers=admin)
            out, _ = curl.communicate(timeout=300)
        body, _, code = out.rpartition("\n")
        statuses.append(int(code))
        bodies.append(body)
        if deleted.status_code != 204:
            bodies.append(f"DELETE answered {deleted.status_code}: {deleted.text}")
    return {"case": f"DELETE /kbs/k 1.5 s into a 20 kB/s upload of {files} file(s), "
                    f"{big.stat().st_size // 1000} kB each",
            "statuses": statuses, "bodies": sorted(set(bodies))}


def holds_path(text: str, work: Path) -> bool:
    return any(p in text for p in (str(work), str(Path.cwd()), tempfile.gettempdir() + "/"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--mb", type=int, default=250)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if shutil.which("curl") is None:
        print("curl is needed for the delete-during-upload rounds", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="qa-probe-"))
    key = secrets.token_urlsafe(32)
    try:
        with qa_server(work / "data", key, work / "server.log") as (url, pid):
            httpx.get(f"{url}/health")
            memory = memory_probe(url, pid, key, args.mb)
            deletes = [delete_during_upload(url, key, n, args.rounds, work) for n in (1, 2)]
        log = (work / "server.log").read_text("utf-8", "replace")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {"memory": memory, "delete_during_upload": deletes,
              "server_log_tracebacks": log.count("Traceback")}
    problems = _problems(report, work)
    _print(report, problems)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({**report, "problems": problems}, indent=2) + "\n")
    return 1 if problems else 0


def _problems(report: dict[str, Any], work: Path) -> list[str]:
    problems = []
    for case in report["memory"]:
        if any(s not in (401, 413) for s in case["statuses"]):
            problems.append(f"{case['case']}: answered {case['statuses']}")
        if case["rss_growth_mb"] > RSS_GROWTH_LIMIT_MB:
            problems.append(f"{case['case']}: memory grew {case['rss_growth_mb']} MB")
    for case in report["delete_during_upload"]:
        if any(s >= 500 for s in case["statuses"]):
            problems.append(f"{case['case']}: answered {case['statuses']}")
        if any(holds_path(body, work) for body in case["bodies"]):
            problems.append(f"{case['case']}: an answer holds a server path")
    if report["server_log_tracebacks"]:
        problems.append(f"the server log holds {report['server_log_tracebacks']} traceback(s)")
    return problems


def _print(report: dict[str, Any], problems: list[str]) -> None:
    print(f"{'case':<66} {'status':<12} {'sent MB':<14} RSS before → peak (growth) MB")
    for case in report["memory"]:
        print(f"{case['case']:<66} {','.join(map(str, case['statuses'])):<12} "
              f"{','.join(map(str, case['client_sent_mb'])):<14} {case['rss_before_mb']} → "
              f"{case['rss_peak_mb']} (+{case['rss_growth_mb']})")
    for case in report["delete_during_upload"]:
        print(f"{case['case']}: statuses {case['statuses']}")
        for body in case["bodies"]:
            print(f"    {body[:160]}")
    print(f"tracebacks in the server log: {report['server_log_tracebacks']}")
    print("OK" if not problems else "PROBLEMS:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    sys.exit(main())
