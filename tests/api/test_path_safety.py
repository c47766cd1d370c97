"""Names and ids from requests never become paths outside the data directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import create_kb, ingest
from tests.pdfs import text_pdf

HOSTILE_NAMES = ["..", "../escape", "..%2Fescape", "%2e%2e", "a/../../escape", "escape/..",
                 "/etc", "~root", "C:\\\\evil", "\uff21\uff22\uff23", "kb\x00x", "-dash",
                 "a" * 65, ".hidden"]


def files_outside(root: Path, data_dir: Path) -> list[Path]:
    return [p for p in root.rglob("*") if data_dir not in p.parents and p != data_dir
            and "escape" in p.name]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_knowledge_base_name_is_refused_and_creates_nothing(
        client: TestClient, tmp_path: Path, name: str) -> None:
    response = client.post("/kbs", json={"name": name})
    assert response.status_code in (400, 422), response.text
    data_dir = client.app.state.services.settings.data_dir  # type: ignore[attr-defined]
    assert files_outside(tmp_path, data_dir) == []
    assert client.app.state.services.registry.names() == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["..", "..%2F..%2Fetc", "%2e%2e%2f%2e%2e", "a%00b",
                                  "..%5C..%5Cwin"])
def test_a_hostile_name_in_a_path_is_not_found_or_invalid(client: TestClient,
                                                          name: str) -> None:
    for path in (f"/kbs/{name}", f"/kbs/{name}/documents", f"/kbs/{name}/search"):
        response = client.request("POST" if path.endswith("search") else "GET", path,
                                  json={"query": "x"} if path.endswith("search") else None)
        if response.url.path == "/":  # the client resolved "/kbs/.." to "/": the web page
            assert response.headers["content-type"].startswith("text/html")
            continue
        assert response.status_code in (400, 404, 422), (path, response.text)


def test_a_hostile_document_id_never_reads_a_file(client: TestClient) -> None:
    create_kb(client, "docs")
    ingest(client, "docs", [("a.pdf", text_pdf(["Some text."]))])
    for doc in ("..%2Fmanifest.json", "..%2F..%2Faccess.sqlite", "%2e%2e", "catalog.sqlite",
                "0" * 64, "ab%2F..%2F..%2Fmanifest"):
        for suffix in ("", "/file", "/pages/1"):
            response = client.get(f"/kbs/docs/documents/{doc}{suffix}")
            assert response.status_code == 404, (doc, suffix, response.status_code)
            assert b"format_version" not in response.content
            assert not response.content.startswith(b"SQLite")
