"""Deleting a knowledge base while an upload to it streams (the outside probe's case:
`curl --limit-rate 20k -F files=@big.pdf ... &`, then `DELETE /kbs/k`) answers the upload
with 404 kb_not_found, never 500 or a server path, and leaves nothing behind."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from contextlib import suppress

import httpx
import pytest

from qa_service.embedding import Embedder
from tests.api.helpers import ADMIN_KEY
from tests.api.live_server import LiveServer, live_server
from tests.api.raw_http import read_response
from tests.pdfs import text_pdf

BOUNDARY = "delete-race-boundary"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
           shared_models: None) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("race") / "data", embedder) as running:
        yield running


def part(name: str) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"{name}\"\r\nContent-Type: application/pdf\r\n\r\n").encode()


def upload_with_a_delete(server: LiveServer, before: bytes, after: bytes) -> tuple[int, dict]:  # type: ignore[type-arg]
    """Send `before`, delete the knowledge base, send `after`; return the upload's reply."""
    body_size = len(before) + len(after)
    head = (f"POST /kbs/race/documents HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Authorization: Bearer {ADMIN_KEY}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {body_size}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + before)
        deleted = httpx.delete(f"{server.url}/kbs/race", headers=ADMIN, timeout=30)
        assert deleted.status_code == 204, deleted.text
        with suppress(OSError):  # the server may answer before it has read it all
            sock.sendall(after)
        reply = read_response(sock)
    status = int(reply.split(b" ", 2)[1])
    return status, json.loads(reply.split(b"\r\n\r\n", 1)[1])


@pytest.mark.parametrize("files", [1, 2])
def test_a_delete_during_an_upload_answers_it_404(server: LiveServer,
                                                  caplog: pytest.LogCaptureFixture,
                                                  files: int) -> None:
    assert httpx.post(f"{server.url}/kbs", json={"name": "race"}, headers=ADMIN).status_code == 201
    pdf = text_pdf(["A page uploaded while its knowledge base goes away."] * 3)
    if files == 1:  # the deletion comes in the middle of the only file
        before, after = part("big.pdf") + pdf[:200], pdf[200:] + f"\r\n--{BOUNDARY}--\r\n".encode()
    else:  # ... or between the first file and the second
        before = part("one.pdf") + pdf + b"\r\n"
        after = part("two.pdf") + pdf + f"\r\n--{BOUNDARY}--\r\n".encode()
    caplog.set_level(logging.INFO)
    status, body = upload_with_a_delete(server, before, after)
    assert status == 404, body
    assert body["error"]["code"] == "kb_not_found"
    assert "deleted while the upload" in body["error"]["message"]
    assert str(server.settings.data_dir.parent) not in json.dumps(body)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []
    data_dir = server.settings.data_dir
    assert sorted(p.name for p in data_dir.iterdir()) == ["access.sqlite", "server.lock"]
    # the name is free again, and a new knowledge base of that name works
    assert httpx.post(f"{server.url}/kbs", json={"name": "race"}, headers=ADMIN).status_code == 201
    assert httpx.delete(f"{server.url}/kbs/race", headers=ADMIN).status_code == 204
