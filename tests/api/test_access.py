"""API keys: every route but /health needs one; keys see only their knowledge bases."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa_service.api import create_app
from qa_service.config import Settings
from qa_service.embedding import Embedder
from qa_service.errors import ConfigurationError
from tests.api.helpers import (
    ADMIN_KEY,
    assert_error,
    bearer,
    create_kb,
    ingest,
    running_app,
    wait_for_job,
)
from tests.pdfs import text_pdf

SECRET_TEXT = "The payroll password rotation happens every Tuesday at noon."
OTHER_TEXT = "The cafeteria serves bibimbap on Fridays."


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
          shared_models: None) -> Iterator[dict[str, Any]]:
    """Two knowledge bases with a document each, and keys: read on `hr`, write on `hr`,
    read on `ops`."""
    data = tmp_path_factory.mktemp("access") / "data"
    with running_app(data, embedder, limits={"asks_per_minute": 0,
                                             "uploads_per_minute": 0}) as client:
        ids = {}
        for kb, text in (("hr", SECRET_TEXT), ("ops", OTHER_TEXT)):
            create_kb(client, kb)
            job = ingest(client, kb, [(f"{kb}.pdf", text_pdf([text]))])
            ids[kb] = job["files"][0]["document_id"]
            ids[f"{kb}-job"] = job["job_id"]
        keys = {}
        for name, kbs, scope in (("hr-read", ["hr"], "read"), ("hr-write", ["hr"], "write"),
                                 ("ops-read", ["ops"], "read")):
            response = client.post("/keys", json={"kbs": kbs, "scope": scope})
            assert response.status_code == 201, response.text
            keys[name] = response.json()
        yield {"client": client, "ids": ids, "keys": keys, "data": data}


def as_key(world: dict[str, Any], name: str) -> dict[str, str]:
    return bearer(world["keys"][name]["key"])


def read_routes(kb: str, doc: str, job: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", f"/kbs/{kb}", None),
        ("GET", f"/kbs/{kb}/documents", None),
        ("GET", f"/kbs/{kb}/documents/{doc}", None),
        ("GET", f"/kbs/{kb}/documents/{doc}/file", None),
        ("GET", f"/kbs/{kb}/documents/{doc}/pages/1", None),
        ("GET", f"/kbs/{kb}/documents/{doc}/pages/1/boxes", None),
        ("GET", f"/kbs/{kb}/documents/{doc}/pages/1/image", None),
        ("GET", f"/kbs/{kb}/jobs", None),
        ("GET", f"/kbs/{kb}/jobs/{job}", None),
        ("POST", f"/kbs/{kb}/search", {"query": "payroll password"}),
        ("POST", f"/kbs/{kb}/ask", {"question": "When is the payroll password rotated?"}),
    ]


def every_route(world: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    ids = world["ids"]
    return [*read_routes("hr", ids["hr"], ids["hr-job"]),
            ("GET", "/kbs", None), ("POST", "/kbs", {"name": "new"}),
            ("DELETE", "/kbs/hr", None), ("DELETE", f"/kbs/hr/documents/{ids['hr']}", None),
            ("POST", "/keys", {"kbs": ["hr"]}), ("GET", "/keys", None),
            ("DELETE", f"/keys/{world['keys']['hr-read']['id']}", None)]


def call(client: TestClient, method: str, path: str, body: dict[str, Any] | None,
         headers: dict[str, str]) -> Any:
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize("headers", [
    {"Authorization": ""},
    {"Authorization": "Bearer"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer qa_000000000000_not-a-real-key-at-all-0000"},
    {"Authorization": f"Bearer {ADMIN_KEY}x"},
    {"Authorization": f"Bearer {ADMIN_KEY[:-1]}"},
], ids=["none", "empty-bearer", "basic", "unknown", "admin-plus-one", "admin-minus-one"])
def test_every_route_but_health_needs_a_valid_key(world: dict[str, Any],
                                                  headers: dict[str, str]) -> None:
    client = world["client"]
    for method, path, body in every_route(world):
        response = call(client, method, path, body, headers)
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer", path
    upload_response = client.post("/kbs/hr/documents", headers=headers,
                                  files=[("files", ("x.pdf", text_pdf(["x"]), "application/pdf"))])
    assert_error(upload_response, 401, "unauthorized")
    assert client.get("/health", headers=headers).status_code == 200


def test_a_read_key_reads_its_knowledge_base(world: dict[str, Any]) -> None:
    ids = world["ids"]
    for method, path, body in read_routes("hr", ids["hr"], ids["hr-job"]):
        response = call(world["client"], method, path, body, as_key(world, "hr-read"))
        assert response.status_code == 200, (path, response.text)
    listed = world["client"].get("/kbs", headers=as_key(world, "hr-read")).json()
    assert [kb["name"] for kb in listed["knowledge_bases"]] == ["hr"]


def test_another_knowledge_base_looks_exactly_like_one_that_does_not_exist(
        world: dict[str, Any]) -> None:
    ids, client = world["ids"], world["client"]
    hidden = read_routes("hr", ids["hr"], ids["hr-job"])
    absent = read_routes("nothing", ids["hr"], ids["hr-job"])
    for (method, path, body), (_, missing_path, _) in zip(hidden, absent, strict=True):
        seen = call(client, method, path, body, as_key(world, "ops-read"))
        missing = call(client, method, missing_path, body, as_key(world, "ops-read"))
        assert_error(seen, 404, "kb_not_found")
        assert seen.json()["error"]["message"] == \
            missing.json()["error"]["message"].replace("nothing", "hr")
        assert SECRET_TEXT not in seen.text
    for method, path in (("POST", "/kbs/hr/documents"),
                         ("DELETE", f"/kbs/hr/documents/{ids['hr']}")):
        response = client.request(method, path, headers=as_key(world, "ops-read"),
                                  files=[("files", ("x.pdf", b"%PDF-1.4", "application/pdf"))]
                                  if method == "POST" else None)
        assert_error(response, 404, "kb_not_found")


def test_a_document_id_of_another_knowledge_base_is_not_found_through_yours(
        world: dict[str, Any]) -> None:
    ids, client = world["ids"], world["client"]
    for suffix in ("", "/file", "/pages/1", "/pages/1/boxes"):
        response = client.get(f"/kbs/ops/documents/{ids['hr']}{suffix}",
                              headers=as_key(world, "ops-read"))
        assert response.status_code == 404, response.text
        assert SECRET_TEXT not in response.text
    response = client.post("/kbs/ops/search", json={"query": "payroll password",
                                                    "document_ids": [ids["hr"]]},
                           headers=as_key(world, "ops-read"))
    assert response.status_code == 404 and SECRET_TEXT not in response.text


def test_a_read_key_cannot_write_and_only_the_admin_manages(world: dict[str, Any]) -> None:
    client, ids = world["client"], world["ids"]
    for name in ("hr-read", "hr-write"):
        headers = as_key(world, name)
        for method, path, body in (("POST", "/kbs", {"name": "mine"}), ("DELETE", "/kbs/hr", None),
                                   ("POST", "/keys", {"kbs": ["hr"], "scope": "write"}),
                                   ("GET", "/keys", None),
                                   ("DELETE", f"/keys/{world['keys']['ops-read']['id']}", None)):
            assert_error(call(client, method, path, body, headers), 403, "forbidden")
    read = as_key(world, "hr-read")
    assert_error(upload_as(client, "hr", read), 403, "forbidden")
    assert_error(client.delete(f"/kbs/hr/documents/{ids['hr']}", headers=read), 403, "forbidden")
    assert client.get(f"/kbs/hr/documents/{ids['hr']}", headers=read).status_code == 200


def test_a_key_learns_what_it_may_do(world: dict[str, Any]) -> None:
    client = world["client"]
    assert client.get("/keys/me").json() == {"admin": True, "scope": "admin", "kbs": None}
    assert client.get("/keys/me", headers=as_key(world, "hr-read")).json() == {
        "admin": False, "scope": "read", "kbs": ["hr"]}
    assert client.get("/keys/me", headers=as_key(world, "hr-write")).json() == {
        "admin": False, "scope": "write", "kbs": ["hr"]}
    assert_error(client.get("/keys/me", headers=bearer("qa_000000000000_nope")), 401,
                 "unauthorized")


def upload_as(client: TestClient, kb: str, headers: dict[str, str]) -> Any:
    return client.post(f"/kbs/{kb}/documents", headers=headers,
                       files=[("files", ("new.pdf", text_pdf(["A new memo."]), "application/pdf"))])


def test_a_write_key_uploads_and_deletes_in_its_knowledge_base(
        app_client: Callable[..., AbstractContextManager[TestClient]]) -> None:
    with app_client() as client:
        create_kb(client, "team")
        key = client.post("/keys", json={"kbs": ["team"], "scope": "write"}).json()["key"]
        response = upload_as(client, "team", bearer(key))
        assert response.status_code == 202, response.text
        job = wait_for_job(client, "team", response.json()["job_id"])
        doc = job["files"][0]["document_id"]
        assert client.delete(f"/kbs/team/documents/{doc}", headers=bearer(key)).status_code == 204


def test_keys_are_listed_without_secrets_and_stored_only_as_hashes(
        world: dict[str, Any]) -> None:
    listed = world["client"].get("/keys").json()["keys"]
    assert {k["id"] for k in listed} >= {k["id"] for k in world["keys"].values()}
    assert all(set(k) == {"id", "scope", "kbs", "created_at", "revoked", "revoked_at"}
               for k in listed)
    raw = b"".join(p.read_bytes() for p in world["data"].glob("access.sqlite*"))
    for key in world["keys"].values():
        assert key["key"].encode() not in raw
        assert key["key"].startswith(f"qa_{key['id']}_")
    assert ADMIN_KEY.encode() not in raw


def test_a_revoked_key_fails_everywhere_at_once(
        app_client: Callable[..., AbstractContextManager[TestClient]]) -> None:
    with app_client() as client:
        create_kb(client, "team")
        created = client.post("/keys", json={"kbs": ["team"], "scope": "write"}).json()
        headers = bearer(created["key"])
        assert client.get("/kbs/team", headers=headers).status_code == 200
        revoked = client.delete(f"/keys/{created['id']}")
        assert revoked.status_code == 200 and revoked.json()["revoked"] is True
        for method, path, body in (("GET", "/kbs/team", None), ("GET", "/kbs", None),
                                   ("POST", "/kbs/team/search", {"query": "x"}),
                                   ("POST", "/kbs/team/ask", {"question": "x?"})):
            assert_error(call(client, method, path, body, headers), 401, "unauthorized")
        assert_error(upload_as(client, "team", headers), 401, "unauthorized")
        unknown = client.delete("/keys/000000000000")
        assert_error(unknown, 404, "not_found")
        assert "GET /keys lists them" in unknown.json()["error"]["message"]


def test_a_key_does_not_survive_its_knowledge_base(
        app_client: Callable[..., AbstractContextManager[TestClient]]) -> None:
    with app_client() as client:
        create_kb(client, "temp")
        key = client.post("/keys", json={"kbs": ["temp"]}).json()["key"]
        assert client.delete("/kbs/temp").status_code == 204
        create_kb(client, "temp")  # a new knowledge base, perhaps for another team
        assert_error(client.get("/kbs/temp", headers=bearer(key)), 404, "kb_not_found")


def test_a_key_needs_existing_knowledge_bases(world: dict[str, Any]) -> None:
    client = world["client"]
    assert_error(client.post("/keys", json={"kbs": ["ghost"]}), 404, "kb_not_found")
    assert_error(client.post("/keys", json={"kbs": ["../hr"]}), 400, "invalid_name")
    assert_error(client.post("/keys", json={"kbs": []}), 422, "validation_error")
    assert_error(client.post("/keys", json={"kbs": ["hr"], "scope": "owner"}), 422)


def test_the_first_start_generates_an_admin_key_and_shows_it_once(
        tmp_path: Path, embedder: Embedder, shared_models: None,
        capfd: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    app = create_app(Settings(data_dir=data), embedder=embedder)
    with TestClient(app) as client:
        shown = capfd.readouterr().err
        (key,) = [w for w in shown.split() if w.startswith("qa_admin_")]
        assert client.get("/kbs").status_code == 401
        assert client.post("/kbs", json={"name": "a"}, headers=bearer(key)).status_code == 201
    with TestClient(create_app(Settings(data_dir=data), embedder=embedder)) as client:
        assert "qa_admin_" not in capfd.readouterr().err
        assert client.get("/kbs", headers=bearer(key)).status_code == 200
    assert key.encode() not in (data / "access.sqlite").read_bytes()


def test_auth_off_is_for_loopback_only(tmp_path: Path, embedder: Embedder,
                                       shared_models: None) -> None:
    with running_app(tmp_path / "data", embedder, auth="off") as client:
        assert client.post("/kbs", json={"name": "open"},
                           headers={"Authorization": ""}).status_code == 201
    for host in ("0.0.0.0", "192.168.1.5", "::", "example.com"):
        with pytest.raises(ConfigurationError, match="loopback"):
            create_app(Settings(data_dir=tmp_path / "x", auth="off", host=host))
    create_app(Settings(data_dir=tmp_path / "x", auth="off", host="::1"))


def test_a_short_admin_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        Settings(admin_key="short")


def test_asks_and_uploads_are_rate_limited_per_key(
        app_client: Callable[..., AbstractContextManager[TestClient]]) -> None:
    with app_client(limits={"asks_per_minute": 2, "uploads_per_minute": 1}) as client:
        create_kb(client, "busy")
        one = bearer(client.post("/keys", json={"kbs": ["busy"], "scope": "write"}).json()["key"])
        two = bearer(client.post("/keys", json={"kbs": ["busy"]}).json()["key"])
        ask = {"question": "What is served on Fridays?"}
        for _ in range(2):
            assert client.post("/kbs/busy/ask", json=ask, headers=one).status_code == 200
        limited = client.post("/kbs/busy/ask", json=ask, headers=one)
        assert_error(limited, 429, "rate_limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 30
        assert client.post("/kbs/busy/ask", json=ask, headers=two).status_code == 200
        assert upload_as(client, "busy", one).status_code == 202
        assert_error(upload_as(client, "busy", one), 429, "rate_limited")


def test_key_rows_hold_hashes(world: dict[str, Any]) -> None:
    with sqlite3.connect(world["data"] / "access.sqlite") as db:
        hashes = [row[0] for row in db.execute("SELECT hash FROM keys")]
    assert hashes and all(len(h) == 64 and int(h, 16) >= 0 for h in hashes)
