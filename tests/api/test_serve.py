"""`qa serve` as users run it: a process killed in the middle of an upload, then started
again. What the crash staged is removed at start-up, the unfinished job resumes, and the
log says so in lines with a timestamp, a level and a logger; expected conditions (a
client that goes away mid-upload, a job of a deleted knowledge base) log no traceback."""

from __future__ import annotations

import json
import re
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from ingest.uploads import queue_local_files
from qa_service.store.knowledge_base import KnowledgeBase
from tests.api.helpers import ADMIN_KEY
from tests.live_server import qa_serve
from tests.pdfs import text_pdf

pytestmark = pytest.mark.slow

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
BOUNDARY = "serve-boundary"
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
                  r"[\w.]+: .+")


def start_upload(url: str, kb: str, declared: int, first: bytes) -> socket.socket:
    """An upload that sends its headers and `first`, then stalls."""
    port = int(url.rsplit(":", 1)[1])
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"slow.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall((f"POST /kbs/{kb}/documents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Authorization: Bearer {ADMIN_KEY}\r\n"
                  f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                  f"Content-Length: {declared}\r\n\r\n").encode() + head + first)
    return sock


def staged_bytes(kb_root: Path) -> int:
    return sum(p.stat().st_size for p in (kb_root / "uploads").glob("*/*.pdf"))


def wait_for(condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_server_killed_mid_upload_cleans_up_and_resumes_on_restart(tmp_path: Path) -> None:
    data_dir, log = tmp_path / "data", tmp_path / "server.log"
    kb_root = data_dir / "docs"
    with qa_serve(data_dir, log) as (url, process):
        assert httpx.post(f"{url}/kbs", json={"name": "docs"}, headers=ADMIN).status_code == 201
        sock = start_upload(url, "docs", 5_000_000, b"%PDF-1.4\n" + b"0" * 300_000)
        wait_for(lambda: staged_bytes(kb_root) >= 300_000, "the upload never staged its bytes")
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        sock.close()
    (orphan,) = [p for p in (kb_root / "uploads").iterdir() if p.is_dir()]

    waiting = tmp_path / "waiting.pdf"  # a job the killed server had queued, not yet run
    waiting.write_bytes(text_pdf(["A job that resumes after the restart."]))
    kb = KnowledgeBase.open(kb_root, "docs")
    job_id = queue_local_files(kb, [waiting])
    kb.close()

    with qa_serve(data_dir, log) as (url, _process):
        assert not orphan.exists()
        wait_for(lambda: httpx.get(f"{url}/kbs/docs/jobs/{job_id}", headers=ADMIN
                                   ).json()["state"] == "done", "the resumed job never ended")
        # a client that goes away in the middle of its upload
        gone = start_upload(url, "docs", 2_000_000, b"%PDF-1.4\n" + b"0" * 100_000)
        wait_for(lambda: staged_bytes(kb_root) >= 100_000, "the second upload never staged")
        gone.close()
        wait_for(lambda: staged_bytes(kb_root) == 0, "a dropped upload kept its files")
        # a knowledge base deleted while its job runs
        big = text_pdf([f"Page {n} of a long document. " * 30 for n in range(40)])
        job = httpx.post(f"{url}/kbs/docs/documents", headers=ADMIN,
                         files=[("files", ("long.pdf", big, "application/pdf"))]).json()
        wait_for(lambda: "started" in log.read_text("utf-8").split(job["job_id"], 1)[-1],
                 "the long job never started")
        assert httpx.delete(f"{url}/kbs/docs", headers=ADMIN).status_code == 204
        wait_for(lambda: re.search(rf"job {job['job_id']} of .* (cancelled|not run)",
                                   log.read_text("utf-8")), "the deleted job left no line")

    text = log.read_text("utf-8")
    assert "Traceback" not in text, text
    service = [line for line in text.splitlines() if LINE.match(line)]
    messages = "\n".join(service)
    assert re.search(r" INFO ingest\.uploads: removed the staged files of upload \w+ in "
                     r"knowledge base 'docs' \(its upload never finished\)", messages), text
    assert re.search(rf" INFO ingest\.jobs: resuming job {job_id} of 'docs'", messages), text
    assert re.search(r" INFO qa_service\.api\.app: resumed 1 unfinished ingestion job", messages)
    assert re.search(rf" INFO ingest\.jobs: job {job_id} of 'docs' done in [\d.]+ s: 1 file\(s\)"
                     r": 1 indexed; 1 page\(s\), 1 chunk\(s\)", messages), text
    assert re.search(r" INFO uvicorn\.access: .*\"GET /health HTTP/1\.1\" 200", messages), text
    unformatted = [line for line in text.splitlines()
                   if line.strip() and not LINE.match(line) and not line.startswith(" ")]
    assert unformatted == [], unformatted


def test_json_logs_and_the_level_setting(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with qa_serve(tmp_path / "data", log, QA_LOG_FORMAT="json", QA_LOG_LEVEL="warning",
                  QA_AUTH="off") as (url, _):
        assert httpx.get(f"{url}/health").status_code == 200
        assert httpx.get(f"{url}/kbs").status_code == 200
    lines = [line for line in log.read_text("utf-8").splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert [(r["level"], r["logger"]) for r in records] == [("WARNING", "qa_service.api.app")]
    assert "QA_AUTH=off" in records[0]["message"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", records[0]["time"])
