"""No body is read before authentication, and only the upload route takes a large body.

Declaring `multipart/form-data` on a JSON route once lifted its cap to the upload cap, and
the body was read into memory before the key was checked. Each case below sends 20 MB to a
route capped at 256 kB, as fast as the server takes it, and counts what the server read
from its socket before it answered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qa_service.embedding import Embedder
from tests.api.helpers import ADMIN_KEY
from tests.api.live_server import LiveServer, live_server
from tests.api.raw_http import send_until_answered

CAP = 256_000
SLACK = 64_000  # what the server may buffer beyond what the app reads
TOTAL = 20_000_000
BOUNDARY = "probe-boundary"
ROUTES = ["/kbs/box/search", "/kbs/box/ask", "/kbs", "/keys"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
           shared_models: None) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("probe") / "data", embedder,
                     limits={"max_body_kb": CAP / 1000, "max_request_mb": 500}) as running:
        yield running


def send(server: LiveServer, path: str, key: str | None, chunked: bool) -> tuple[bytes, int]:
    """POST a 20 MB multipart body; return (the reply, body bytes the server read)."""
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}",
             f"Content-Type: multipart/form-data; boundary={BOUNDARY}"]
    lines += [f"Authorization: Bearer {key}"] if key else []
    lines += ["Transfer-Encoding: chunked"] if chunked else [f"Content-Length: {TOTAL}"]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    block = b"0" * 65536
    payload = b"%x\r\n%b\r\n" % (len(block), block) if chunked else block
    start = server.bytes_read
    reply, _sent = send_until_answered(server.port, head, [payload], TOTAL)
    return reply, server.bytes_read - start - len(head)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("path", ROUTES)
def test_without_a_key_the_answer_is_401_or_413_before_the_body_is_read(
        server: LiveServer, path: str, chunked: bool) -> None:
    reply, body_read = send(server, path, None, chunked)
    assert reply.startswith((b"HTTP/1.1 401", b"HTTP/1.1 413")), reply[:200]
    assert body_read <= CAP + SLACK, body_read


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("path", ROUTES)
def test_with_a_key_a_multipart_body_on_a_json_route_is_capped_at_the_json_limit(
        server: LiveServer, path: str, chunked: bool) -> None:
    reply, body_read = send(server, path, ADMIN_KEY, chunked)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"QA_LIMITS__MAX_BODY_KB" in reply
    assert body_read <= CAP + SLACK, body_read


def test_the_upload_route_still_takes_a_large_multipart_body(server: LiveServer,
                                                             tmp_path: Path) -> None:
    import httpx

    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    created = httpx.post(f"{server.url}/kbs", json={"name": "big"}, headers=admin)
    assert created.status_code in (201, 409), created.text
    body = b"%PDF-1.4\n" + b"0" * 3_000_000  # over the JSON cap, under the upload cap
    response = httpx.post(f"{server.url}/kbs/big/documents", headers=admin, timeout=60,
                          files=[("files", ("large.pdf", body, "application/pdf"))])
    assert response.status_code == 202, response.text
