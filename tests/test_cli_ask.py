"""`qa ask` through typer's CliRunner, on a knowledge base ingested once for the module."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ingest.jobs import run_job
from ingest.uploads import queue_local_files
from qa_service.api.models import AskResponse, CitationOut
from qa_service.cli import app
from qa_service.config import Settings
from qa_service.embedding import Embedder
from qa_service.schemas import DocumentStatus
from qa_service.services import Services
from tests.llm_server import ScriptedLLM
from tests.pdfs import text_pdf

Qa = Callable[..., Result]

KB = "manuals"
QUESTION = "When was the Aurora battery designed?"
FACT = "The Aurora battery was designed in 1987 by the engineer Ingrid Halvorsen."
AURORA = [
    "The Aurora battery pack is assembled in the coastal town of Bodo. "
    "The factory employs three hundred people and runs two shifts a day.",
    f"{FACT} The Aurora battery stores energy in sodium cells. "
    "Each cell weighs about two kilograms.",
]
GARDEN = ["The Willow Garden was designed in 1952 by the landscape architect Tomas Berg. "
          "The garden has a pond with golden carp."]


@dataclass
class Library:
    data: Path
    files: dict[str, Path]  # stem -> path (the CLI names documents by their path)
    ids: dict[str, str]  # stem -> document id


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
            shared_models: None) -> Iterator[Library]:
    folder = tmp_path_factory.mktemp("cli-ask")
    files = {"aurora": folder / "aurora.pdf", "garden": folder / "garden.pdf"}
    files["aurora"].write_bytes(text_pdf(AURORA))
    files["garden"].write_bytes(text_pdf(GARDEN))
    services = Services.build(Settings(data_dir=folder / "data"), embedder=embedder)
    try:
        kb = services.create_kb(KB)
        job = run_job(services.pipeline, kb, queue_local_files(kb, files.values()))
        assert job is not None
        assert [f.status for f in job.files] == [DocumentStatus.INDEXED] * 2, job
        ids = {Path(f.filename).stem: str(f.document_id) for f in job.files}
    finally:
        services.close()
    yield Library(folder / "data", files, ids)


@pytest.fixture
def qa(library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Qa:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QA_DATA_DIR", str(library.data))
    monkeypatch.setenv("COLUMNS", "250")  # rich: no wrapping of paths and quotes
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        result = runner.invoke(app, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


def test_ask_prints_the_answer_and_numbered_quoted_citations(qa: Qa, library: Library) -> None:
    result = qa("ask", KB, QUESTION)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "1987"  # the short answer first, then the quoted sentence
    assert FACT in lines[2]
    assert f"[1] {library.files['aurora']}, page 2:" in lines
    assert f'    "{FACT}"' in lines
    assert "Closest passages" not in result.stdout
    assert result.stderr == ""


def test_ask_json_prints_the_api_shape(qa: Qa, library: Library) -> None:
    result = qa("ask", KB, QUESTION, "--json", "--k", "2")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) == set(AskResponse.model_fields)
    AskResponse.model_validate(body)
    assert body["mode"] == "extractive" and body["abstained"] is False
    assert body["question"] == QUESTION and FACT in body["answer"]
    assert len(body["passages"]) == 2
    first = body["citations"][0]
    assert set(first) == set(CitationOut.model_fields)
    assert (first["number"], first["page"], first["quote"]) == (1, 2, FACT)
    assert first["filename"] == str(library.files["aurora"])
    assert first["document_id"] == library.ids["aurora"]
    assert {"retrieve", "answer", "total"} <= set(body["timings_ms"])


def test_ask_restricted_to_a_document(qa: Qa, library: Library) -> None:
    garden = library.ids["garden"]
    result = qa("ask", KB, QUESTION, "--json", "--document", garden)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert {p["document_id"] for p in body["passages"]} == {garden}
    assert {c["document_id"] for c in body["citations"]} <= {garden}
    both = qa("ask", KB, QUESTION, "--json", "--document", garden,
              "--document", library.ids["aurora"])
    assert {p["document_id"] for p in json.loads(both.stdout)["passages"]} == {
        garden, library.ids["aurora"]}
    missing = qa("ask", KB, QUESTION, "--document", "0" * 64)
    assert missing.exit_code == 2
    assert "has no document" in missing.stderr


def test_ask_abstains_and_lists_the_closest_passages(qa: Qa, library: Library) -> None:
    result = qa("ask", KB, "What is the capital of Mars?")
    assert result.exit_code == 0, result.output
    assert "The documents do not say." in result.stdout
    assert "Closest passages:" in result.stdout
    assert f"1. {library.files['aurora']}, page" in result.stdout or \
        f"1. {library.files['garden']}, page" in result.stdout
    assert "[1]" not in result.stdout


def test_ask_an_unknown_knowledge_base_fails_clearly(qa: Qa) -> None:
    result = qa("ask", "nope", QUESTION)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "error:" in result.stderr and "knowledge base 'nope' does not exist" in result.stderr


def test_ask_with_a_bad_mode_or_k(qa: Qa) -> None:
    bad_mode = qa("ask", KB, QUESTION, "--mode", "generative")
    assert bad_mode.exit_code == 2
    assert "mode must be extractive or llm" in bad_mode.output
    no_llm = qa("ask", KB, QUESTION, "--mode", "llm")
    assert no_llm.exit_code == 2
    assert "QA_LLM_BASE_URL" in no_llm.stderr
    blank = qa("ask", KB, "   ")
    assert blank.exit_code == 2 and "the question is empty" in blank.stderr
    too_many = qa("ask", KB, QUESTION, "--k", "1000")
    assert too_many.exit_code == 2 and "k must be between" in too_many.stderr


def test_ask_through_an_llm_reports_what_was_removed(qa: Qa,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedLLM() as llm:
        monkeypatch.setenv("QA_LLM_BASE_URL", llm.base_url)
        monkeypatch.setenv("QA_LLM_MODEL", "scripted")
        llm.reply("The Aurora battery was designed in 1987 [1][7].")
        result = qa("ask", KB, QUESTION, "--k", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("The Aurora battery was designed in 1987. [1]")
    assert "(removed 1 invented citation(s) and 0 unsupported sentence(s))" in result.stdout
    assert f'    "{FACT}"' in result.stdout


def test_ask_falls_back_when_the_llm_is_down(qa: Qa, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        monkeypatch.setenv("QA_LLM_BASE_URL", f"http://127.0.0.1:{sock.getsockname()[1]}/v1")
        monkeypatch.setenv("QA_LLM_MODEL", "scripted")
        result = qa("ask", KB, QUESTION, "--json")
        printed = qa("ask", KB, QUESTION)
        monkeypatch.setenv("QA_LLM_FALLBACK", "false")
        refused = qa("ask", KB, QUESTION)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["mode"] == "extractive-fallback" and FACT in body["answer"]
    assert "cannot be reached" in body["fallback_reason"]
    assert "(answered extractively, without the LLM:" in printed.stdout
    assert refused.exit_code == 2 and "cannot be reached" in refused.stderr
