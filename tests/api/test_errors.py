"""Every error leaves the API as exactly {"error": {"code": str, "message": str}}."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from qa_service.errors import StorageError
from tests.api.helpers import assert_error, create_kb, ingest, upload
from tests.pdfs import text_pdf


@pytest.fixture
def kb(client: TestClient) -> str:
    create_kb(client, "errs")
    return "errs"


@pytest.mark.parametrize(
    "body",
    [{"query": "x", "k": 0}, {"k": 3}, {"query": ""},
     {"query": "x" * 4001}, {"query": "x", "document_ids": "abc"}, {"query": 5, "k": "many"}],
    ids=["k-0", "no-query", "empty-query", "long-query", "ids-not-list", "types"],
)
def test_invalid_search_bodies_are_422(client: TestClient, kb: str, body: dict) -> None:  # type: ignore[type-arg]
    error = assert_error(client.post(f"/kbs/{kb}/search", json=body), 422, "validation_error")
    assert error["message"]


def test_k_over_the_configured_maximum_is_400(client: TestClient, kb: str) -> None:
    error = assert_error(client.post(f"/kbs/{kb}/search", json={"query": "x", "k": 101}), 400,
                         "invalid_request")
    assert "between 1 and 100" in error["message"]


def test_malformed_json_is_422(client: TestClient, kb: str) -> None:
    response = client.post(f"/kbs/{kb}/search", content=b"{not json",
                           headers={"content-type": "application/json"})
    assert_error(response, 422, "validation_error")


def test_blank_query_is_400(client: TestClient, kb: str) -> None:
    assert_error(client.post(f"/kbs/{kb}/search", json={"query": "   "}), 400,
                 "invalid_request")


def test_an_upload_that_is_not_multipart_is_400(client: TestClient, kb: str) -> None:
    error = assert_error(client.post(f"/kbs/{kb}/documents", data={"other": "x"}), 400,
                         "invalid_request")
    assert "multipart/form-data" in error["message"]


def test_a_multipart_upload_without_files_is_400(client: TestClient, kb: str) -> None:
    response = client.post(f"/kbs/{kb}/documents", files={"other": ("x.pdf", b"%PDF-1.4")})
    error = assert_error(response, 400, "invalid_request")
    assert "'files'" in error["message"]
    assert not any((client.app.state.services.registry.open(kb).root / "uploads").iterdir())


def test_a_malformed_multipart_body_is_400(client: TestClient, kb: str) -> None:
    response = client.post(f"/kbs/{kb}/documents", content=b"--b\r\ngarbage",
                           headers={"content-type": "multipart/form-data; boundary=zz"})
    assert response.status_code == 400, response.text


def test_non_integer_page_is_422(client: TestClient, kb: str) -> None:
    assert_error(client.get(f"/kbs/{kb}/documents/{'a' * 64}/pages/first"), 422,
                 "validation_error")


def test_too_long_kb_name_in_the_path_is_422(client: TestClient) -> None:
    assert_error(client.get("/kbs/" + "a" * 201), 422, "validation_error")


def test_unknown_route_is_404(client: TestClient) -> None:
    assert_error(client.get("/no/such/route"), 404, "not_found")


def test_wrong_method_is_405(client: TestClient) -> None:
    assert_error(client.put("/kbs"), 405, "method_not_allowed")


def test_unknown_document_job_and_page(client: TestClient, kb: str) -> None:
    missing = "0" * 64
    assert_error(client.get(f"/kbs/{kb}/documents/{missing}"), 404, "document_not_found")
    assert_error(client.get(f"/kbs/{kb}/documents/{missing}/file"), 404, "document_not_found")
    assert_error(client.get(f"/kbs/{kb}/documents/{missing}/pages/1"), 404,
                 "document_not_found")
    assert_error(client.delete(f"/kbs/{kb}/documents/{missing}"), 404, "document_not_found")
    assert_error(client.get(f"/kbs/{kb}/jobs/{missing}"), 404, "job_not_found")
    error = assert_error(client.post(f"/kbs/{kb}/search",
                                     json={"query": "x", "document_ids": [missing]}),
                         404, "document_not_found")
    assert missing in error["message"]


def test_an_upload_without_pdfs_is_415_and_creates_nothing(client: TestClient, kb: str,
                                                           tmp_path) -> None:  # type: ignore[no-untyped-def]
    response = upload(client, kb, [("notes.pdf", b"plain text notes"), ("x.txt", b"")])
    error = assert_error(response, 415, "unsupported_media_type")
    assert "PDF" in error["message"]
    assert client.get(f"/kbs/{kb}/documents").json() == {"documents": []}
    assert list((tmp_path / "data" / kb / "uploads").iterdir()) == []
    assert client.get(f"/kbs/{kb}").json()["documents"] == 0


def test_the_file_of_a_document_that_was_not_indexed_is_404(client: TestClient, kb: str
                                                            ) -> None:
    job = ingest(client, kb, [("ok.pdf", text_pdf(["fine"])), ("bad.pdf", b"broken")])
    bad = job["files"][1]
    assert bad["status"] == "invalid"
    assert client.get(f"/kbs/{kb}/documents/{bad['document_id']}").json()["status"] == \
        "invalid"
    assert_error(client.get(f"/kbs/{kb}/documents/{bad['document_id']}/file"), 404,
                 "document_not_found")
    error = assert_error(client.get(f"/kbs/{kb}/documents/{bad['document_id']}/pages/1"), 404,
                         "page_not_found")
    assert "page 1" in error["message"]


def test_a_broken_knowledge_base_is_a_storage_error_without_a_server_path(
        client: TestClient, kb: str, caplog: pytest.LogCaptureFixture) -> None:
    root = client.app.state.services.registry.open(kb).root  # type: ignore[attr-defined]
    (root / "manifest.json").write_text("{broken", "utf-8")
    error = assert_error(client.get(f"/kbs/{kb}"), 500, "storage_error")
    assert f"knowledge base '{kb}'" in error["message"]
    # the operator's log has the path the client is not shown
    assert any(str(root) in r.getMessage() for r in caplog.records if r.levelname == "ERROR")


def test_the_suite_wide_scan_catches_a_leaked_path(client: TestClient, kb: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Every response of a test client is scanned (tests/api/helpers.py); prove it bites."""
    services = client.app.state.services  # type: ignore[attr-defined]
    leaked = f"cannot read {services.settings.data_dir.resolve()}/{kb}/catalog.sqlite"

    def leaky(_name: str) -> None:
        raise StorageError(leaked)

    monkeypatch.setattr(services, "open_kb", leaky)
    with pytest.raises(AssertionError, match=r"catalog\.sqlite"):
        client.post(f"/kbs/{kb}/search", json={"query": "x"})
