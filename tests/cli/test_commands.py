"""The `qa` command finds its data, says where it is, and speaks in commands: through
typer's CliRunner, run from a folder that is not the data directory's."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from qa_service import data_dir as data_dir_module
from qa_service.cli import app
from qa_service.embedding import Embedder
from qa_service.errors import KnowledgeBaseNotFound
from qa_service.store.knowledge_base import KnowledgeBase
from tests.api.helpers import assert_error, running_app
from tests.cli.test_data_dir import fake_checkout
from tests.pdfs import text_pdf

Qa = Callable[..., Result]

SATURN = ["Saturn's rings are made of ice and rock. The rings are very thin. " * 4]
MERCURY = ["Mercury is the smallest planet and the closest to the Sun. " * 4]
LONG_NAME = "a-report-whose-name-is-far-too-long-for-a-narrow-table-column-2024-q3.pdf"


@pytest.fixture
def qa(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Qa:
    """`qa ...` run from `tmp_path/elsewhere`; the data directory is left to each test."""
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.setenv("COLUMNS", "250")  # rich: no wrapping of paths
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        result = runner.invoke(app, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


def one_line(text: str) -> str:
    return " ".join(text.split())


def write_pdf(path: Path, pages: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text_pdf(pages))
    return path


def test_kb_list_from_another_folder_names_the_checkouts_data_directory(
        qa: Qa, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_models: None) -> None:
    package = fake_checkout(tmp_path / "checkout")  # never the real checkout's indexes/
    monkeypatch.setattr(data_dir_module, "source_checkout",
                        functools.partial(data_dir_module.source_checkout, package))
    data = tmp_path / "checkout" / "indexes"
    missing = qa("kb", "list")
    assert missing.exit_code == 0, missing.output
    assert f"Data directory: {data} (does not exist yet)" in missing.stdout
    assert "qa kb create NAME" in missing.stdout
    assert not data.exists()

    assert qa("kb", "create", "handbook").exit_code == 0
    listed = qa("kb", "list")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.startswith(f"Data directory: {data}\n")
    assert "handbook" in listed.stdout
    as_json = json.loads(qa("kb", "list", "--json").stdout)
    assert as_json["data_dir"] == str(data)
    assert [kb["name"] for kb in as_json["knowledge_bases"]] == ["handbook"]
    assert not (tmp_path / "elsewhere" / "indexes").exists()


def test_a_relative_qa_data_dir_is_shown_absolute(qa: Qa, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 shared_models: None) -> None:
    monkeypatch.setenv("QA_DATA_DIR", "../data")
    created = qa("kb", "create", "notes")
    assert created.exit_code == 0, created.output
    assert f"created knowledge base notes in {tmp_path / 'data'}" in created.stdout
    assert (tmp_path / "data" / "notes" / "manifest.json").is_file()
    assert json.loads(qa("kb", "list", "--json").stdout)["data_dir"] == str(tmp_path / "data")


def test_commands_that_read_never_create_a_missing_data_directory(
        qa: Qa, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "nowhere"
    monkeypatch.setenv("QA_DATA_DIR", str(data))
    pdf = write_pdf(tmp_path / "a.pdf", SATURN)
    listed = qa("kb", "list", "--json")
    assert listed.exit_code == 0
    assert json.loads(listed.stdout) == {"knowledge_bases": [], "data_dir": str(data)}
    for args in (("search", "docs", "rings"), ("ask", "docs", "What are the rings made of?"),
                 ("ingest", "docs", str(pdf)), ("kb", "delete", "docs", "--yes"),
                 ("kb", "rebuild", "docs")):
        refused = qa(*args)
        assert refused.exit_code == 2, (args, refused.output)
        message = one_line(refused.stderr)
        assert (f"knowledge base 'docs' does not exist: there is no data directory at "
                f"{data}; create it with `qa kb create docs`, or set QA_DATA_DIR") in message
    for keys in (("keys", "list"), ("keys", "revoke", "abc")):
        refused = qa(*keys)
        assert refused.exit_code == 2, (keys, refused.output)
        assert f"there is no data directory at {data}" in one_line(refused.stderr)
    assert not data.exists()
    assert not (tmp_path / "elsewhere" / "indexes").exists()


def test_a_missing_knowledge_base_is_reported_with_the_cli_command_and_the_data_directory(
        qa: Qa, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_models: None) -> None:
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    assert qa("kb", "create", "present").exit_code == 0
    for args in (("search", "nope", "rings"), ("ask", "nope", "What?"),
                 ("kb", "delete", "nope", "--yes")):
        result = qa(*args)
        assert result.exit_code == 2, (args, result.output)
        message = one_line(result.stderr)
        assert ("error: knowledge base 'nope' does not exist; create it with "
                "`qa kb create nope`") in message
        assert "POST /kbs" not in message
        assert f"data directory: {tmp_path / 'data'}" in message


def test_the_api_still_names_its_route() -> None:
    error = KnowledgeBaseNotFound("nope")
    assert error.message == "knowledge base 'nope' does not exist; create it with POST /kbs"
    assert error.cli_message == ("knowledge base 'nope' does not exist; create it with "
                                 "`qa kb create nope`")
    deleted = KnowledgeBaseNotFound("gone", "was deleted meanwhile")
    assert deleted.message == deleted.cli_message == "knowledge base 'gone' was deleted meanwhile"


def test_the_api_answers_an_unknown_knowledge_base_with_its_route(
        tmp_path: Path, embedder: Embedder, shared_models: None) -> None:
    with running_app(tmp_path / "data", embedder) as client:
        error = assert_error(client.post("/kbs/nope/search", json={"query": "x"}), 404,
                             "kb_not_found")
    assert error["message"] == "knowledge base 'nope' does not exist; create it with POST /kbs"


def test_ingest_stores_file_names_and_ask_takes_k(qa: Qa, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 shared_models: None) -> None:
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    write_pdf(tmp_path / "elsewhere" / "sub" / "dir" / "a.pdf", SATURN)
    write_pdf(tmp_path / "docs" / LONG_NAME, MERCURY)
    result = qa("ingest", "lib", "sub/dir/a.pdf", f"../docs/{LONG_NAME}", "--create")
    assert result.exit_code == 0, result.output
    assert "a.pdf" in result.stdout and "sub/dir" not in result.stdout
    assert LONG_NAME in result.stdout and "../docs" not in result.stdout
    documents = KnowledgeBase.open(tmp_path / "data" / "lib", "lib").catalog.documents()
    assert sorted(d.filename for d in documents) == sorted(["a.pdf", LONG_NAME])

    found = json.loads(qa("search", "lib", "What are Saturn's rings made of?", "-k", "1",
                          "--json").stdout)["passages"]
    assert [p["filename"] for p in found] == ["a.pdf"]
    for k in ("-k", "--k"):
        asked = qa("ask", "lib", "What are Saturn's rings made of?", k, "1", "--json")
        assert asked.exit_code == 0, asked.output
        answer = json.loads(asked.stdout)
        assert len(answer["passages"]) == 1
        assert {c["filename"] for c in answer["citations"]} <= {"a.pdf"}
    shown = qa("ask", "lib", "What are Saturn's rings made of?", "-k", "3")
    assert shown.exit_code == 0, shown.output
    assert "a.pdf, page 1" in shown.stdout and "sub/dir" not in shown.stdout


def test_files_that_share_a_name_keep_the_folders_that_tell_them_apart(
        qa: Qa, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_models: None) -> None:
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    write_pdf(tmp_path / "docs" / "q1" / "report.pdf", SATURN)
    write_pdf(tmp_path / "docs" / "q2" / "report.pdf", MERCURY)
    result = qa("ingest", "lib", "../docs", "--create", "--json")
    assert result.exit_code == 0, result.output
    names = [f["filename"] for f in json.loads(result.stdout)["files"]]
    assert names == ["q1/report.pdf", "q2/report.pdf"]
    (info,) = json.loads(qa("kb", "list", "--json").stdout)["knowledge_bases"]
    assert info["documents"] == 2  # neither replaced the other


def test_a_narrow_table_folds_file_names_instead_of_cutting_them(
        qa: Qa, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_models: None) -> None:
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "60")
    broken = tmp_path / "docs" / LONG_NAME
    broken.parent.mkdir(parents=True)
    broken.write_text("not a PDF at all", "utf-8")
    result = qa("ingest", "lib", str(broken), "--create")
    assert result.exit_code == 1, result.output
    assert "…" not in result.stdout
    cells = "".join(line.split("│")[1].strip() for line in result.stdout.splitlines()
                    if line.startswith("│"))
    assert cells == LONG_NAME  # the file column, read down, is the whole name
