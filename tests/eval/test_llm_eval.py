"""`make eval-llm`'s parts: the eval commands in mode llm, journaled and resumable, and the
report that sets the LLM next to the extractive mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bench.llm_report import markdown, report
from qa_service.cli import app
from qa_service.eval.asking import Journal
from qa_service.eval.datasets import sample_evenly
from tests.eval.test_page_eval import write_inputs
from tests.llm_server import ScriptedLLM

LAMP = "The Kestrel Point lighthouse lamp can be seen from thirty kilometres away. [1]"


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> Any:
    with ScriptedLLM(respond=lambda body: LAMP) as server:
        monkeypatch.setenv("QA_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("QA_LLM_MODEL", "scripted-1")
        yield server


def _eval_pages(tmp_path: Path, *extra: str) -> dict[str, Any]:
    folder, questions = write_inputs(tmp_path)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["eval", "pages", str(folder), str(questions), "--answers",
                                      "--keep", str(tmp_path / "kb"), "--json", str(out),
                                      *extra])
    assert result.exit_code == 0, result.output
    answers: dict[str, Any] = json.loads(out.read_text("utf-8"))["answers"]
    return answers


def test_an_interrupted_llm_evaluation_resumes_where_it_stopped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_models: None,
        llm: ScriptedLLM) -> None:
    monkeypatch.chdir(tmp_path)
    journal = tmp_path / "team-llm.jsonl"
    first = _eval_pages(tmp_path, "--mode", "llm", "--journal", str(journal))
    assert len(llm.requests) == 4 and first["resumed"] == 0
    assert first["mode"] == "llm" and first["llm_model"] == "scripted-1"
    assert first["citation_valid"] == 1.0 and first["fallbacks"] == 0.0
    assert first["context_overflows"] == 0 and first["first_text_p50_ms"] > 0
    lines = journal.read_text("utf-8").splitlines()
    assert len(lines) == 4
    # interrupted while writing the third outcome: the first two are kept, the rest asked
    journal.write_text("\n".join(lines[:2]) + "\n" + lines[2][:25], "utf-8")
    second = _eval_pages(tmp_path, "--mode", "llm", "--journal", str(journal))
    assert len(llm.requests) == 6 and second["resumed"] == 2
    third = _eval_pages(tmp_path, "--mode", "llm", "--journal", str(journal))
    assert len(llm.requests) == 6 and third["resumed"] == 4
    for key in ("answer_hit", "false_refusals", "unanswerable_declined", "citation_valid"):
        assert first[key] == second[key] == third[key], key
    # another mode or model is never read from the same journal
    extractive = _eval_pages(tmp_path, "--mode", "extractive", "--journal", str(journal))
    assert extractive["resumed"] == 0 and extractive["llm_model"] == ""
    assert len(llm.requests) == 6


def test_eval_pages_asks_an_even_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        shared_models: None, llm: ScriptedLLM) -> None:
    monkeypatch.chdir(tmp_path)
    answers = _eval_pages(tmp_path, "--questions", "2", "--mode", "extractive")
    assert answers["questions"] == 2 and answers["mode"] == "extractive"
    assert llm.requests == []
    assert sample_evenly(range(10), 3) == (0, 3, 6) and sample_evenly(range(2), 5) == (0, 1)


def test_a_journal_keeps_outcomes_apart_by_mode_and_model(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    one = Journal(path, "llm", "model-a")
    one.add(one.key("doc", "q?"), {"hit": True})
    assert Journal(path, "llm", "model-a").get(one.key("doc", "q?")) == {"hit": True}
    other = Journal(path, "llm", "model-b")
    assert other.get(other.key("doc", "q?")) is None and other.resumed == 0
    assert Journal(path, "llm", "model-a").resumed == 1
    assert Journal(None, "llm", "m").resumed == 0


def _row(mode: str, hit: float, refusals: float, overflows: int = 0) -> dict[str, Any]:
    return {"questions": 20, "config": {"mode": mode, "llm_model": "m" if mode == "llm" else ""},
            "answer_hit": hit, "abstained_answerable": refusals, "citation_valid": 1.0,
            "removed_citations": 0, "unsupported_sentences": 1, "fallbacks": 0.0,
            "context_overflows": overflows, "first_text_p50_ms": 900.0,
            "held_back_p50_ms": 300.0, "ask_p50_ms": 1000.0, "ask_p95_ms": 2000.0}


def test_the_report_sets_the_llm_beside_the_extractive_mode(tmp_path: Path) -> None:
    figures = {"squad": (0.90, 0.86, 0.05, 0.10), "korquad": (0.95, 0.85, 0.0, 0.0),
               "team": (0.45, 0.50, 0.20, 0.35)}
    for name, (ext_hit, llm_hit, ext_refusals, llm_refusals) in figures.items():
        rows = {"extractive": _row("extractive", ext_hit, ext_refusals),
                "llm": _row("llm", llm_hit, llm_refusals)}
        for mode, row in rows.items():
            config = row.pop("config")
            body = {"answers": {**row, **config,  # `eval pages` has them at its top level
                                "false_refusals": row.pop("abstained_answerable")}} \
                if name == "team" else {**row, "config": config}
            (tmp_path / f"{name}-{mode}.json").write_text(json.dumps(body), "utf-8")
    result = report(tmp_path)
    assert result["sets"]["squad"]["targets"] == {
        "answer_hit": True, "refusals": True, "citation_valid": True,
        "context_overflows": True}
    assert result["sets"]["korquad"]["targets"]["answer_hit"] is False  # 0.10 under
    assert result["sets"]["team"]["targets"]["refusals"] is False  # 0.15 more
    assert result["met"] is False
    text = markdown(result)
    assert "| SQuAD dev (EN) | llm (m) | 20 | 0.860 | 0.100 |" in text
    assert "not met: answer_hit" in text and "not met: refusals" in text
