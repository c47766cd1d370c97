from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx
from fastapi.testclient import TestClient

from qa_service.api import create_app
from qa_service.config import Settings
from qa_service.embedding import Embedder

ADMIN_KEY = "test-admin-key-0123456789abcdef"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextmanager
def running_app(data_dir: Path, embedder: Embedder, **settings: Any) -> Iterator[TestClient]:
    """The real app, lifespan included (needs the `shared_models` fixture to stay fast).

    The client sends the admin key by default; pass `headers=` per request to act as
    another key, or `auth="off"` to turn keys off."""
    settings.setdefault("admin_key", ADMIN_KEY)
    app = create_app(Settings(data_dir=data_dir, **settings), embedder=embedder)
    with TestClient(app, headers=bearer(ADMIN_KEY)) as client:
        client.event_hooks["response"] = [_no_server_paths(data_dir)]
        yield client


# Every error any API test provokes is scanned: a message sent to a client never holds a
# server file-system path (the data directory, the code, the system's temporary folder).
_MESSAGE_FIELDS = frozenset({"message", "reason", "error", "fallback_reason"})


def server_paths(data_dir: Path) -> list[str]:
    roots = {data_dir, data_dir.resolve(), Path(__file__).resolve().parents[2],
             Path(sys.prefix), Path(tempfile.gettempdir())}
    return sorted({str(p) for p in roots if len(p.parts) > 1})


def assert_no_server_paths(text: str, data_dir: Path) -> None:
    for path in server_paths(data_dir):
        assert not re.search(re.escape(path) + r"(?=/|\b|$)", text), (path, text)


def _messages(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _MESSAGE_FIELDS and isinstance(item, str):
                yield item
            yield from _messages(item)
    elif isinstance(value, list):
        for item in value:
            yield from _messages(item)


def _no_server_paths(data_dir: Path) -> Any:
    def check(response: httpx.Response) -> None:
        kind = response.headers.get("content-type", "")
        if response.status_code < 400 and not kind.startswith("application/json"):
            return  # files, pages of text and event streams are not error messages
        response.read()
        if response.status_code >= 400:
            assert_no_server_paths(response.text, data_dir)
        elif kind.startswith("application/json"):
            for message in _messages(json.loads(response.content or b"null")):
                assert_no_server_paths(message, data_dir)
    return check


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]  # type: ignore[no-any-return]


def create_kb(client: TestClient, name: str) -> dict[str, Any]:
    response = client.post("/kbs", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def upload(client: TestClient, kb: str, files: Sequence[tuple[str, bytes]]) -> Any:
    return client.post(f"/kbs/{kb}/documents",
                       files=[("files", (name, data, "application/pdf")) for name, data in files])


def wait_for_job(client: httpx.Client, kb: str, job_id: str, timeout: float = 120.0
                 ) -> dict[str, Any]:
    """The job once it ended (done or failed); `client`: a TestClient, or an httpx.Client
    on a real server (base URL and key set)."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/kbs/{kb}/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job = response.json()
        if job["state"] in ("done", "failed"):
            return job  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['state']}: {job}")
        time.sleep(0.05)


def ingest(client: TestClient, kb: str, files: Sequence[tuple[str, bytes]]) -> dict[str, Any]:
    response = upload(client, kb, files)
    assert response.status_code == 202, response.text
    return wait_for_job(client, kb, response.json()["job_id"])


def search(client: TestClient, kb: str, query: str, **body: Any) -> list[dict[str, Any]]:
    response = client.post(f"/kbs/{kb}/search", json={"query": query, **body})
    assert response.status_code == 200, response.text
    return response.json()["passages"]  # type: ignore[no-any-return]


def page_text_url(view_link: str) -> str:
    """The page-text route (`GET .../pages/{n}`) of a `url_citation` link, which opens the
    web page's page view with the citation in its fragment."""
    base, _, fragment = view_link.partition("#")
    cited = dict(parse_qsl(fragment, strict_parsing=True))
    return (f"{base}kbs/{quote(cited['kb'], safe='')}/documents/"
            f"{quote(cited['document'], safe='')}/pages/{cited['page']}")


def viewer_link(base: str, kb: str, citation: dict[str, Any]) -> str:
    """The link that opens `citation` (as `/ask` gives it) in the web page's page view."""
    return (f"{base}#kb={quote(kb, safe='')}&document={quote(citation['document_id'], safe='')}"
            f"&page={citation['page']}&start={citation['char_start']}"
            f"&end={citation['char_end']}")


class PageLinks(HTMLParser):
    """Every URL an HTML page names in an attribute, and the web page's data-i18n keys."""

    URLS = frozenset({"src", "href", "action", "poster", "data", "spec-url"})
    TEXT_KEYS = frozenset({"data-i18n", "data-i18n-placeholder", "data-i18n-label"})

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.keys: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is not None and name in self.URLS:
                self.urls.append(value)
            if value is not None and name in self.TEXT_KEYS:
                self.keys.add(value)


def parsed_page(html: str) -> PageLinks:
    parser = PageLinks()
    parser.feed(html)
    return parser

