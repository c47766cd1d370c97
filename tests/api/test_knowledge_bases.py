from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.ocr import ocr_status
from qa_service.store.knowledge_base import IndexIdentity
from qa_service.store.registry import KnowledgeBaseRegistry
from tests.api.helpers import assert_error, create_kb, ingest, upload
from tests.pdfs import text_pdf


def test_create_a_knowledge_base(client: TestClient, embedder) -> None:  # type: ignore[no-untyped-def]
    body = create_kb(client, "handbook")
    assert body["name"] == "handbook"
    assert (body["documents"], body["chunks"]) == (0, 0)
    assert (body["embedding_model"], body["dimension"]) == (embedder.name, embedder.dimension)
    assert body["created_at"]


def test_duplicate_name_is_a_conflict(client: TestClient) -> None:
    create_kb(client, "handbook")
    assert_error(client.post("/kbs", json={"name": "handbook"}), 409, "already_exists")


@pytest.mark.parametrize("name", ["../etc", "A B", "UPPER", "", "a" * 65, "a/b", "-x"])
def test_invalid_names_are_bad_requests(client: TestClient, name: str, tmp_path: Path) -> None:
    error = assert_error(client.post("/kbs", json={"name": name}), 400, "invalid_name")
    assert "lowercase" in error["message"]
    assert client.get("/kbs").json() == {"knowledge_bases": []}
    assert not (tmp_path / "etc").exists()


def test_list_and_get_with_counts(client: TestClient) -> None:
    create_kb(client, "beta")
    create_kb(client, "alpha")
    job = ingest(client, "alpha", [("one.pdf", text_pdf(["A page about walruses. " * 10,
                                                         "Another page. " * 10]))])
    assert job["files"][0]["status"] == "indexed"
    listed = client.get("/kbs").json()["knowledge_bases"]
    assert [kb["name"] for kb in listed] == ["alpha", "beta"]
    alpha = client.get("/kbs/alpha").json()
    assert alpha["documents"] == 1
    assert alpha["chunks"] == job["files"][0]["chunks"] > 0
    assert listed[0] == alpha
    assert client.get("/kbs/beta").json()["documents"] == 0


def test_delete_then_not_found(client: TestClient) -> None:
    create_kb(client, "temp")
    ingest(client, "temp", [("one.pdf", text_pdf(["Soon deleted."]))])
    response = client.delete("/kbs/temp")
    assert response.status_code == 204
    assert response.content == b""
    assert_error(client.get("/kbs/temp"), 404, "kb_not_found")
    assert_error(client.delete("/kbs/temp"), 404, "kb_not_found")
    assert_error(client.post("/kbs/temp/search", json={"query": "deleted"}), 404, "kb_not_found")
    assert client.get("/kbs").json() == {"knowledge_bases": []}
    create_kb(client, "temp")  # the name can be used again
    assert client.get("/kbs/temp").json()["documents"] == 0


def test_unknown_knowledge_base_is_not_found_everywhere(client: TestClient) -> None:
    for response in (
        client.get("/kbs/nope"),
        client.get("/kbs/nope/documents"),
        client.get("/kbs/nope/jobs"),
        client.get("/kbs/nope/jobs/123"),
        client.get(f"/kbs/nope/documents/{'a' * 64}"),
        client.post("/kbs/nope/search", json={"query": "x"}),
        upload(client, "nope", [("a.pdf", text_pdf(["x"]))]),
    ):
        error = assert_error(response, 404, "kb_not_found")
        assert "nope" in error["message"]


def test_a_knowledge_base_of_another_model_is_refused_for_search_and_upload(
        client: TestClient, tmp_path: Path) -> None:
    registry = KnowledgeBaseRegistry(tmp_path / "data")
    registry.create("legacy", IndexIdentity("all-minilm-l6-v2", 384))
    registry.close()
    assert client.get("/kbs/legacy").json()["embedding_model"] == "all-minilm-l6-v2"
    error = assert_error(client.post("/kbs/legacy/search", json={"query": "x"}), 409,
                         "index_mismatch")
    assert "qa kb reindex legacy" in error["message"]
    assert_error(upload(client, "legacy", [("a.pdf", text_pdf(["x"]))]), 409, "index_mismatch")
    assert client.delete("/kbs/legacy").status_code == 204


def test_health_needs_no_key_and_tells_nothing_about_knowledge_bases(
        client: TestClient, embedder) -> None:  # type: ignore[no-untyped-def]
    create_kb(client, "one")
    response = client.get("/health", headers={"Authorization": ""})
    assert response.json() == {"status": "ok", "embedding_model": embedder.name,
                               "ocr": ocr_status("auto", "kor+eng").to_json()}


def test_openapi_lists_the_routes(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    expected = {
        "/health": {"get"},
        "/kbs": {"get", "post"},
        "/kbs/{kb}": {"get", "delete"},
        "/kbs/{kb}/documents": {"get", "post"},
        "/kbs/{kb}/documents/{doc_id}": {"get", "delete"},
        "/kbs/{kb}/documents/{doc_id}/file": {"get"},
        "/kbs/{kb}/documents/{doc_id}/pages/{page}": {"get"},
        "/kbs/{kb}/documents/{doc_id}/pages/{page}/boxes": {"get"},
        "/kbs/{kb}/documents/{doc_id}/pages/{page}/image": {"get"},
        "/kbs/{kb}/jobs": {"get"},
        "/kbs/{kb}/jobs/{job_id}": {"get"},
        "/kbs/{kb}/search": {"post"},
        "/kbs/{kb}/ask": {"post"},
        "/keys": {"get", "post"},
        "/keys/me": {"get"},
        "/keys/{key_id}": {"delete"},
        "/v1/models": {"get"},
        "/v1/models/{model}": {"get"},
        "/v1/chat/completions": {"post"},
    }
    assert {path: set(ops) for path, ops in paths.items()} == expected
    error_schema = paths["/kbs/{kb}/search"]["post"]["responses"]["404"]
    assert error_schema["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
