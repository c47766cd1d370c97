"""`qa eval answers` end to end on tiny synthetic SQuAD-format files written to tmp_path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qa_service.cli import app

ARTICLES: list[tuple[str, str, list[tuple[str, str | None]]]] = [
    ("Aurora_battery",
     "The Aurora battery was designed in 1987 by the engineer Ingrid Halvorsen. It stores "
     "energy in sodium cells. The battery pack is assembled in the coastal town of Bodo.",
     [("When was the Aurora battery designed?", "1987"),
      ("Where is the Aurora battery pack assembled?", "Bodo"),
      ("Who bought the Aurora battery factory in 2020?", None)]),
    ("Willow_Garden",
     "The Willow Garden was designed in 1952 by the landscape architect Tomas Berg. The "
     "garden has a pond with golden carp. Visitors may enter free of charge on Sundays.",
     [("Who designed the Willow Garden?", "Tomas Berg"),
      ("What is in the pond of the Willow Garden?", "golden carp")]),
    ("Kestrel_lighthouse",
     "The Kestrel Point lighthouse was painted purple in 1979 by the sculptor Miriam "
     "Okonkwo. Its lamp can be seen from thirty kilometres away.",
     [("Who painted the Kestrel Point lighthouse purple?", "Miriam Okonkwo")]),
    ("Glacier_railway",
     "The Glacier railway climbs 1200 metres over 40 kilometres of track. Its steepest "
     "section has a gradient of eleven percent.",
     [("How steep is the steepest section of the Glacier railway?", "eleven percent")]),
]
FOREIGN: list[tuple[str, str, list[tuple[str, str | None]]]] = [
    ("Volcano_observatory",
     "The Mount Hekla volcano observatory was founded in 1961. Its seismographs record "
     "about forty small earthquakes every week.",
     [("When was the Mount Hekla volcano observatory founded?", "1961"),
      ("How many earthquakes do the seismographs of the observatory record each week?",
       "about forty")]),
]
REPORT_KEYS = {
    "questions", "answer_hit", "answer_chars_mean", "citation_valid", "page_accuracy",
    "abstained_answerable", "abstained_unanswerable", "out_of_kb_abstained", "ask_p50_ms",
    "ask_p95_ms", "per_file",
}


def squad(path: Path, articles: list[tuple[str, str, list[tuple[str, str | None]]]]) -> Path:
    data = []
    for a, (title, context, questions) in enumerate(articles):
        qas: list[dict[str, Any]] = []
        for q, (question, answer) in enumerate(questions):
            if answer is None:
                qas.append({"id": f"{a}-{q}", "question": question, "answers": [],
                            "is_impossible": True})
            else:
                assert answer in context
                qas.append({"id": f"{a}-{q}", "question": question, "is_impossible": False,
                            "answers": [{"text": answer, "answer_start": context.index(answer)}]})
        data.append({"title": title, "paragraphs": [{"context": context, "qas": qas}]})
    path.write_text(json.dumps({"version": "v2.0", "data": data}), "utf-8")
    return path


def test_eval_answers_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 shared_models: None) -> None:
    monkeypatch.chdir(tmp_path)
    main = squad(tmp_path / "tiny-squad.json", ARTICLES)
    foreign = squad(tmp_path / "tiny-foreign.json", FOREIGN)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["eval", "answers", str(main), "--articles", "2",
                                      "--foreign", str(foreign), "--json", str(out)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert json.loads(out.read_text("utf-8")) == report
    assert set(report) >= REPORT_KEYS

    # groups: 4 answerable + 1 unanswerable (ingested articles 0-1), 2 out of the knowledge
    # base (articles 2-3, not ingested) + 2 foreign
    assert report["questions"] == 9
    assert report["answerable"] == 4
    assert report["unanswerable"] == 1
    assert report["out_of_kb"] == 4
    assert report["documents"] == 2 and report["ingest_failures"] == []
    assert report["citations"] > 0
    assert report["citation_valid"] == 1.0
    assert report["config"]["mode"] == "extractive"

    assert set(report["per_file"]) == {"tiny-squad.json", "tiny-foreign.json"}
    own, other = report["per_file"]["tiny-squad.json"], report["per_file"]["tiny-foreign.json"]
    assert (own["questions"], own["answerable"], own["unanswerable"], own["out_of_kb"]) == (
        7, 4, 1, 2)
    assert (other["questions"], other["answerable"], other["out_of_kb"]) == (2, 0, 2)
    assert "unanswerable" not in other and "abstained_unanswerable" not in other
    assert other["answer_hit"] is None and other["page_accuracy"] is None
    assert own["citation_valid"] == 1.0
    assert other["citation_valid"] in (None, 1.0)

    for scores in (report, own):
        for key in ("answer_hit", "page_accuracy", "abstained_answerable",
                    "abstained_unanswerable", "out_of_kb_abstained"):
            assert 0.0 <= scores[key] <= 1.0, key
        assert scores["ask_p50_ms"] <= scores["ask_p95_ms"]
    # these questions are easy: every answerable one is answered, on the right page
    assert report["answer_hit"] == 1.0 and report["abstained_answerable"] == 0.0
    assert report["page_accuracy"] == 1.0
    assert report["answer_chars_mean"] > 0
    # and the questions about articles that were never ingested are declined
    assert report["out_of_kb_abstained"] == 1.0
