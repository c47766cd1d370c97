"""`qa keys` manages the HTTP API's keys on the data directory; `qa serve` refuses
settings it cannot serve safely."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa_service.embedding import Embedder
from tests.api.helpers import assert_error, bearer, create_kb, running_app
from tests.test_cli import Qa, qa  # noqa: F401 - the fixture


def test_keys_made_by_the_cli_work_on_a_running_server_and_revoke_at_once(
        qa: Qa, tmp_path: Path, embedder: Embedder) -> None:  # noqa: F811
    with running_app(tmp_path / "data", embedder) as client:
        create_kb(client, "docs")
        made = qa("keys", "create", "--kb", "docs", "--scope", "write", "--json")
        assert made.exit_code == 0, made.output
        created = json.loads(made.stdout)
        assert created["scope"] == "write" and created["kbs"] == ["docs"]
        assert client.get("/kbs/docs", headers=bearer(created["key"])).status_code == 200

        listed = qa("keys", "list", "--json")
        assert [k["id"] for k in json.loads(listed.stdout)["keys"]] == [created["id"]]
        assert created["key"] not in listed.stdout

        assert qa("keys", "revoke", created["id"]).exit_code == 0
        assert_error(client.get("/kbs/docs", headers=bearer(created["key"])), 401)


def test_keys_create_checks_its_arguments(qa: Qa) -> None:  # noqa: F811
    assert qa("kb", "create", "docs").exit_code == 0
    missing = qa("keys", "create", "--kb", "nope")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    scope = qa("keys", "create", "--kb", "docs", "--scope", "admin")
    assert scope.exit_code == 2 and "read or write" in scope.stderr
    unknown = qa("keys", "revoke", "000000000000")
    assert unknown.exit_code == 2 and "`qa keys list` lists them" in unknown.stderr
    assert "GET /keys" not in unknown.stderr


def test_rotate_admin_replaces_the_generated_admin_key(
        qa: Qa, tmp_path: Path, embedder: Embedder) -> None:  # noqa: F811
    rotated = qa("keys", "rotate-admin")
    assert rotated.exit_code == 0, rotated.output
    key = rotated.stdout.strip().splitlines()[-1]
    assert key.startswith("qa_admin_")
    with running_app(tmp_path / "data", embedder, admin_key=None) as client:
        assert client.get("/kbs", headers=bearer(key)).status_code == 200
        newer = qa("keys", "rotate-admin").stdout.strip().splitlines()[-1]
        assert_error(client.get("/kbs", headers=bearer(key)), 401)
        assert client.get("/kbs", headers=bearer(newer)).status_code == 200


def test_serve_refuses_auth_off_on_a_public_address(qa: Qa,  # noqa: F811
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_AUTH", "off")
    refused = qa("serve", "--host", "0.0.0.0")
    assert refused.exit_code == 2
    assert "loopback" in refused.stderr


def test_serve_refuses_a_data_directory_another_server_uses(
        qa: Qa, tmp_path: Path, embedder: Embedder) -> None:  # noqa: F811
    with running_app(tmp_path / "data", embedder):
        refused = qa("serve", "--port", "1")
    assert refused.exit_code == 2
    assert "another qa server is already serving" in refused.stderr
