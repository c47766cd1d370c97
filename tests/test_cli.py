"""The `qa` command, through typer's CliRunner, on a data directory in tmp_path."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from ingest.parser_pool import ParserLimits
from ingest.pipeline import IngestPipeline
from ingest.tesseract import tesseract_problem
from qa_service.api.models import JobOut, PassageOut
from qa_service.cli import app
from qa_service.embedding import Embedder
from qa_service.store.knowledge_base import IndexIdentity, KnowledgeBase
from tests.api.helpers import create_kb, running_app, search
from tests.pdfs import joined_pdf, scanned_pdf, text_pdf

Qa = Callable[..., Result]

PLANETS = [
    "Mercury is the smallest planet and the closest to the Sun. " * 4,
    "Saturn's rings are made of ice and rock. The rings are very thin. " * 4,
]
COOKING = ["To bake bread, knead the dough for ten minutes and let it rise for an hour. " * 4]


@pytest.fixture
def qa(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_models: None) -> Qa:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "250")  # rich tables: no wrapping of paths and reasons
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        result = runner.invoke(app, list(args), input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


def write_pdf(path: Path, pages: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text_pdf(pages))
    return path


def test_kb_create_list_delete(qa: Qa, tmp_path: Path) -> None:
    created = qa("kb", "create", "handbook")
    assert created.exit_code == 0, created.output
    assert "created knowledge base handbook" in created.stdout
    assert (tmp_path / "data" / "handbook" / "manifest.json").is_file()

    duplicate = qa("kb", "create", "handbook")
    assert duplicate.exit_code == 2
    assert "already exists" in duplicate.stderr

    invalid = qa("kb", "create", "Bad Name")
    assert invalid.exit_code == 2
    assert "invalid knowledge base name" in invalid.stderr

    listed = qa("kb", "list", "--json")
    assert listed.exit_code == 0
    (info,) = json.loads(listed.stdout)["knowledge_bases"]
    assert (info["name"], info["documents"], info["chunks"]) == ("handbook", 0, 0)
    assert info["embedding_model"] == "use-multilingual-v3"
    assert "handbook" in qa("kb", "list").stdout
    empty = qa("search", "handbook", "anything at all")
    assert empty.exit_code == 0
    assert "no passages found" in empty.stdout

    refused = qa("kb", "delete", "handbook", input="n\n")
    assert refused.exit_code == 1
    assert (tmp_path / "data" / "handbook").is_dir()

    deleted = qa("kb", "delete", "handbook", "--yes")
    assert deleted.exit_code == 0
    assert "deleted knowledge base handbook" in deleted.stdout
    assert json.loads(qa("kb", "list", "--json").stdout) == {
        "knowledge_bases": [], "data_dir": str(tmp_path / "data")}

    again = qa("kb", "delete", "handbook", "--yes")
    assert again.exit_code == 2
    assert "does not exist" in again.stderr


def test_ingest_files_and_folders_then_search(qa: Qa, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write_pdf(docs / "planets.pdf", PLANETS)
    write_pdf(docs / "nested" / "cooking.PDF", COOKING)
    (docs / "readme.txt").write_text("not picked up from a folder", "utf-8")
    extra = write_pdf(tmp_path / "extra.pdf", ["An extra page about lighthouses and fog."])

    result = qa("ingest", "lib", str(docs), str(extra), "--create")
    assert result.exit_code == 0, result.output
    assert "3/3 files" in result.stdout
    assert result.stdout.count("indexed") == 3
    assert "readme.txt" not in result.stdout

    again = qa("ingest", "lib", str(extra), "--json")
    assert again.exit_code == 0, again.output
    job = json.loads(again.stdout)
    assert set(job) == set(JobOut.model_fields)
    assert job["state"] == "done"
    (outcome,) = job["files"]
    assert outcome["status"] == "unchanged"
    assert outcome["filename"] == "extra.pdf"  # the file's name, not the path typed

    info = json.loads(qa("kb", "list", "--json").stdout)["knowledge_bases"][0]
    assert info["documents"] == 3

    found = qa("search", "lib", "What are Saturn's rings made of?", "-k", "2")
    assert found.exit_code == 0, found.output
    assert "1. planets.pdf, page 2" in found.stdout
    assert "rings are made of ice" in found.stdout

    as_json = qa("search", "lib", "How long should dough rise?", "--json", "-k", "2")
    assert as_json.exit_code == 0
    passages = json.loads(as_json.stdout)["passages"]
    assert 1 <= len(passages) <= 2
    assert set(passages[0]) == set(PassageOut.model_fields)
    assert passages[0]["filename"].endswith("cooking.PDF")
    assert passages[0]["page"] == 1

    planets_id = hashlib.sha256((docs / "planets.pdf").read_bytes()).hexdigest()
    only = qa("search", "lib", "How long should dough rise?", "--json",
              "--document-id", planets_id)
    assert only.exit_code == 0
    assert {p["document_id"] for p in json.loads(only.stdout)["passages"]} == {planets_id}


def test_ingest_with_an_invalid_file_exits_1(qa: Qa, tmp_path: Path) -> None:
    good = write_pdf(tmp_path / "good.pdf", PLANETS)
    broken = tmp_path / "broken.pdf"
    broken.write_text("this is a text file with a .pdf name", "utf-8")
    result = qa("ingest", "mixed", str(good), str(broken), "--create")
    assert result.exit_code == 1, result.output
    table = result.stdout
    assert "invalid" in table and "indexed" in table
    assert "not a PDF" in table
    assert "2/2 files" in table

    as_json = qa("ingest", "mixed", str(broken), "--json")
    assert as_json.exit_code == 1
    job = json.loads(as_json.stdout)
    assert [f["status"] for f in job["files"]] == ["invalid"]


def test_ingest_of_a_missing_path_or_knowledge_base(qa: Qa, tmp_path: Path) -> None:
    missing = qa("ingest", "lib", str(tmp_path / "nope.pdf"), "--create")
    assert missing.exit_code == 2
    assert "no such file" in missing.stderr
    pdf = write_pdf(tmp_path / "a.pdf", ["A page."])
    no_kb = qa("ingest", "absent", str(pdf))
    assert no_kb.exit_code == 2
    assert "does not exist" in no_kb.stderr


def test_cli_ingest_is_visible_to_a_running_server(qa: Qa, tmp_path: Path,
                                                  embedder: Embedder) -> None:
    with running_app(tmp_path / "data", embedder) as client:
        create_kb(client, "live")
        assert search(client, "live", "Saturn rings") == []
        pdf = write_pdf(tmp_path / "planets.pdf", PLANETS)
        assert qa("ingest", "live", str(pdf)).exit_code == 0
        found = search(client, "live", "What are Saturn's rings made of?", k=1)
        assert found and found[0]["filename"] == "planets.pdf"
        assert client.get("/kbs/live").json()["documents"] == 1


@pytest.mark.slow
def test_reindex_with_another_model(qa: Qa, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                    ) -> None:
    pdf = write_pdf(tmp_path / "planets.pdf", PLANETS)
    assert qa("ingest", "space", str(pdf), "--create").exit_code == 0

    reindexed = qa("kb", "reindex", "space", "--model", "all-minilm-l6-v2")
    assert reindexed.exit_code == 0, reindexed.output
    assert "re-embedded" in reindexed.stdout
    assert "QA_EMBEDDING_MODEL=all-minilm-l6-v2" in reindexed.stdout
    (info,) = json.loads(qa("kb", "list", "--json").stdout)["knowledge_bases"]
    assert (info["embedding_model"], info["dimension"]) == ("all-minilm-l6-v2", 384)

    refused = qa("search", "space", "Saturn rings")
    assert refused.exit_code != 0
    message = " ".join(refused.stderr.split())
    assert "all-minilm-l6-v2" in message and "use-multilingual-v3" in message
    assert "qa kb reindex space" in message
    assert "QA_EMBEDDING_MODEL=all-minilm-l6-v2" in message

    monkeypatch.setenv("QA_EMBEDDING_MODEL", "all-minilm-l6-v2")
    found = qa("search", "space", "What are Saturn's rings made of?", "--json")
    assert found.exit_code == 0, found.output
    passages = json.loads(found.stdout)["passages"]
    assert passages[0]["filename"] == pdf.name
    assert passages[0]["page"] == 2


OLD_PARSER = {"name": "pypdf", "text": "nfc-v1"}  # before tables were read as rows


def ingest_as_an_older_release(qa: Qa, monkeypatch: pytest.MonkeyPatch, data_dir: Path,
                               kb: str, *pdfs: Path) -> None:
    """Ingest as a release with an older parser identity did: documents built by its
    pipeline version, and the manifest recording that parser."""
    identity_for = IngestPipeline.identity_for

    def older(pipeline: IngestPipeline, base: KnowledgeBase) -> IndexIdentity:
        return dataclasses.replace(identity_for(pipeline, base), parser=OLD_PARSER)

    with monkeypatch.context() as patch:
        patch.setattr(IngestPipeline, "identity_for", older)
        assert qa("ingest", kb, *map(str, pdfs), "--create").exit_code == 0
    path = data_dir / kb / "manifest.json"
    manifest = json.loads(path.read_text("utf-8"))
    path.write_text(json.dumps({**manifest, "parser": OLD_PARSER}), "utf-8")


def test_kb_rebuild_reports_each_document_and_finishes_when_run_again(
        qa: Qa, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planets = write_pdf(tmp_path / "planets.pdf", PLANETS)
    cooking = write_pdf(tmp_path / "cooking.pdf", COOKING)
    ingest_as_an_older_release(qa, monkeypatch, tmp_path / "data", "lib", planets, cooking)
    listed = qa("kb", "list")
    assert "run `qa kb rebuild lib`" in " ".join(listed.stdout.split())
    (info,) = json.loads(qa("kb", "list", "--json").stdout)["knowledge_bases"]
    assert info["rebuild_needed"] is True
    stored = tmp_path / "data" / "lib" / "files"
    cooking_id = hashlib.sha256(cooking.read_bytes()).hexdigest()
    (stored / cooking_id[:2] / f"{cooking_id}.pdf").unlink()

    partial = qa("kb", "rebuild", "lib", "--json")
    assert partial.exit_code == 1, partial.output
    report = json.loads(partial.stdout)
    assert (report["rebuilt"], report["failed"], report["identity_recorded"]) == (1, 1, False), \
        report["documents"]
    outcomes = {d["filename"]: d for d in report["documents"]}
    assert outcomes[planets.name]["status"] == "rebuilt"
    assert outcomes[planets.name]["pages"] == 2 and outcomes[planets.name]["chunks"] > 0
    failed = outcomes[cooking.name]
    assert failed["status"] == "failed" and "stored original PDF is missing" in failed["reason"]
    assert json.loads(qa("kb", "list", "--json").stdout)["knowledge_bases"][0][
        "rebuild_needed"] is True
    found = qa("search", "lib", "How long should dough rise?", "--json", "-k", "1")
    assert json.loads(found.stdout)["passages"][0]["filename"] == cooking.name  # kept

    (stored / cooking_id[:2] / f"{cooking_id}.pdf").write_bytes(cooking.read_bytes())
    finished = qa("kb", "rebuild", "lib")
    assert finished.exit_code == 0, finished.output
    summary = " ".join(finished.stdout.split())
    assert "lib: 1 rebuilt, 0 failed, 1 unchanged" in summary
    assert "every document is built with this version's pipeline" in summary
    (info,) = json.loads(qa("kb", "list", "--json").stdout)["knowledge_bases"]
    assert (info["rebuild_needed"], info["documents"]) == (False, 2)
    assert "qa kb rebuild" not in qa("kb", "list").stdout
    manifest = json.loads((tmp_path / "data" / "lib" / "manifest.json").read_text("utf-8"))
    reads = ParserLimits(parser="ocr" if tesseract_problem() is None else "pypdf")
    assert manifest["parser"] == reads.identity()  # the text layer's, and OCR's where it runs
    answer = qa("search", "lib", "What are Saturn's rings made of?", "--json", "-k", "1")
    assert json.loads(answer.stdout)["passages"][0]["filename"] == planets.name


@pytest.mark.slow
def test_kb_rebuild_refuses_another_embedding_model(qa: Qa, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert qa("kb", "create", "lib").exit_code == 0
    monkeypatch.setenv("QA_EMBEDDING_MODEL", "all-minilm-l6-v2")
    refused = qa("kb", "rebuild", "lib")
    assert refused.exit_code == 2
    message = " ".join(refused.stderr.split())
    assert "use-multilingual-v3" in message and "qa kb reindex lib" in message


@pytest.mark.skipif(tesseract_problem() is not None,
                    reason=f"OCR cannot run here: {tesseract_problem()}")
def test_ingest_shows_ocr_pages_and_rebuild_reads_pages_an_earlier_build_left_empty(
        qa: Qa, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scanned = "The lift maintenance fee is 48,000 euros a year, invoiced every quarter."
    path = tmp_path / "contract.pdf"
    path.write_bytes(joined_pdf(text_pdf(PLANETS[:1]), scanned_pdf([scanned])))
    monkeypatch.setenv("QA_INGEST__OCR", "off")
    before = qa("ingest", "lib", str(path), "--create", "--json")
    assert before.exit_code == 0, before.output
    (outcome,) = json.loads(before.stdout)["files"]
    assert (outcome["status"], outcome["ocr_pages"]) == ("indexed", 0)
    assert outcome["reason"] == ("page 2 has no text (scanned or image-only pages need OCR "
                                 "(QA_INGEST__OCR=auto))")
    assert not json.loads(qa("search", "lib", "maintenance fee", "--json").stdout)[
        "passages"][0]["text"].count("48,000")

    monkeypatch.setenv("QA_INGEST__OCR", "auto")  # a server that reads scans: rebuild
    assert "run `qa kb rebuild lib`" in " ".join(qa("kb", "list").stdout.split())
    rebuilt = qa("kb", "rebuild", "lib", "--json")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert json.loads(rebuilt.stdout)["rebuilt"] == 1
    (document,) = KnowledgeBase.open(tmp_path / "data" / "lib", "lib").catalog.documents()
    assert (document.ocr_pages, document.reason) == (1, "")
    (top, *_) = json.loads(qa("search", "lib", "maintenance fee", "--json").stdout)["passages"]
    assert (top["page"], "48,000" in top["text"]) == (2, True)

    shown = qa("ingest", "lib", str(write_pdf(tmp_path / "more.pdf", PLANETS[1:])))
    assert "OCR'd" in shown.stdout

    monkeypatch.setenv("QA_INGEST__OCR", "off")  # a server without OCR loses nothing
    assert "qa kb rebuild" not in qa("kb", "list").stdout
    kept = qa("kb", "rebuild", "lib", "--json")
    outcomes = {d["filename"]: d for d in json.loads(kept.stdout)["documents"]}
    assert outcomes[path.name]["status"] == "failed"
    assert "1 of its pages were read by OCR, and this server read 0" in (
        outcomes[path.name]["reason"])
    (top, *_) = json.loads(qa("search", "lib", "maintenance fee", "--json").stdout)["passages"]
    assert (top["page"], "48,000" in top["text"]) == (2, True)
