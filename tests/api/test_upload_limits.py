"""Upload limits are counted while the body streams; nothing lands outside the data dir."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa_service.embedding import Embedder
from tests.api.helpers import ADMIN_KEY, assert_error, create_kb, upload, wait_for_job
from tests.api.live_server import LiveServer, live_server
from tests.api.raw_http import send_until_answered
from tests.pdfs import text_pdf

BOUNDARY = "qa-test-boundary"


def part_header(name: str) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"{name}\"\r\nContent-Type: application/pdf\r\n\r\n").encode()


def staged(client: TestClient, kb: str) -> list[Path]:
    root = client.app.state.services.registry.open(kb).root / "uploads"  # type: ignore[attr-defined]
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.fixture
def limited(app_client: Callable[..., AbstractContextManager[TestClient]]
            ) -> Iterator[TestClient]:
    with app_client(ingest={"max_file_mb": 0.05, "max_pages": 2},
                    limits={"max_request_mb": 0.12, "max_files": 3, "max_body_kb": 4,
                            "uploads_per_minute": 0}) as client:
        create_kb(client, "box")
        yield client


def test_a_file_over_the_per_file_limit_is_413_and_nothing_stays(limited: TestClient) -> None:
    big = b"%PDF-1.4\n" + b"0" * 60_000
    error = assert_error(upload(limited, "box", [("big.pdf", big)]), 413, "too_large")
    assert "big.pdf" in error["message"] and "QA_INGEST__MAX_FILE_MB" in error["message"]
    assert staged(limited, "box") == []


def test_files_together_over_the_request_limit_are_413(limited: TestClient) -> None:
    each = b"%PDF-1.4\n" + b"0" * 45_000
    response = upload(limited, "box", [("a.pdf", each), ("b.pdf", each), ("c.pdf", each)])
    error = assert_error(response, 413, "too_large")
    assert "QA_LIMITS__MAX_REQUEST_MB" in error["message"]
    assert staged(limited, "box") == []


def test_too_many_files_is_413(limited: TestClient) -> None:
    files = [(f"{n}.pdf", text_pdf([f"File {n}."])) for n in range(4)]
    error = assert_error(upload(limited, "box", files), 413, "too_large")
    assert "QA_LIMITS__MAX_FILES" in error["message"]
    assert staged(limited, "box") == []


def test_a_large_json_body_is_413(limited: TestClient) -> None:
    response = limited.post("/kbs/box/search", json={"query": "x" * 5000})
    assert_error(response, 413, "too_large")


def test_a_document_over_the_page_limit_ends_too_large(limited: TestClient) -> None:
    response = upload(limited, "box", [("long.pdf", text_pdf(["one", "two", "three"]))])
    job = wait_for_job(limited, "box", response.json()["job_id"])
    (outcome,) = job["files"]
    assert outcome["status"] == "too_large"
    assert "3 pages" in outcome["reason"] and "2" in outcome["reason"]


def test_filenames_are_labels_and_nothing_is_written_outside_the_data_dir(
        limited: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = tmp_path / "system-tmp"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))  # where a spooling parser would write
    names = ["../../../escape.pdf", "/etc/passwd", "..\\..\\win.pdf", "x/../../y.pdf"]
    response = upload(limited, "box", [(n, text_pdf([f"Label {i}."])) for i, n in
                                       enumerate(names[:3])])
    assert response.status_code == 202, response.text
    job = wait_for_job(limited, "box", response.json()["job_id"])
    assert [f["filename"] for f in job["files"]] == ["escape.pdf", "passwd", "win.pdf"]
    assert list(spool.iterdir()) == []
    data_dir = limited.app.state.services.settings.data_dir  # type: ignore[attr-defined]
    outside = [p for p in tmp_path.rglob("*") if p.is_file()
               and data_dir not in p.parents and p.name in ("escape.pdf", "passwd", "win.pdf")]
    assert outside == []


# --- on a real server: 413 arrives while the client is still sending ------------------


@pytest.fixture
def server(tmp_path: Path, embedder: Embedder, shared_models: None) -> Iterator[LiveServer]:
    with live_server(tmp_path / "data", embedder, ingest={"max_file_mb": 1.0},
                     limits={"max_request_mb": 2.0}) as running:
        import httpx
        created = httpx.post(f"{running.url}/kbs", json={"name": "box"},
                             headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert created.status_code == 201, created.text
        yield running


def upload_until_answered(server: LiveServer, head: bytes, total: int,
                          declared: int | None) -> tuple[int, int]:
    """Send a multipart upload of `total` bytes in 64 kB blocks, stopping as soon as the
    server answers; return (status, bytes sent)."""
    lines = ["POST /kbs/box/documents HTTP/1.1", f"Host: 127.0.0.1:{server.port}",
             f"Authorization: Bearer {ADMIN_KEY}",
             f"Content-Type: multipart/form-data; boundary={BOUNDARY}"]
    lines.append(f"Content-Length: {declared}" if declared is not None
                 else "Transfer-Encoding: chunked")
    blocks = [head + b"0" * (65536 - len(head)), b"0" * 65536]
    if declared is None:
        blocks = [b"%x\r\n%b\r\n" % (len(block), block) for block in blocks]
    reply, sent = send_until_answered(server.port, ("\r\n".join(lines) + "\r\n\r\n").encode(),
                                      blocks, total)
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1") else 0
    return status, sent


def test_a_declared_oversized_body_is_refused_before_any_of_it_is_sent(
        server: LiveServer) -> None:
    request = (f"POST /kbs/box/documents HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
               f"Authorization: Bearer {ADMIN_KEY}\r\n"
               f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
               f"Content-Length: {10**10}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(request)  # headers only: not one byte of the 10 GB body
        reply = b""
        while chunk := sock.recv(65536):  # the server answers, then closes
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert b"QA_LIMITS__MAX_REQUEST_MB" in reply


def test_a_chunked_body_is_cut_off_at_the_per_file_limit(server: LiveServer) -> None:
    status, sent = upload_until_answered(server, part_header("endless.pdf") + b"%PDF-1.4\n",
                                       total=50_000_000, declared=None)
    assert status == 413
    assert sent < 10_000_000  # far from the 50 MB the client meant to send


def test_a_lying_content_length_is_counted_not_trusted(server: LiveServer) -> None:
    status, sent = upload_until_answered(server, part_header("liar.pdf") + b"%PDF-1.4\n",
                                       total=50_000_000, declared=1_500_000)
    assert status in (400, 413)
    assert sent < 10_000_000
