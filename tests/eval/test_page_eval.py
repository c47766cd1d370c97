"""`qa eval pages` end to end: a folder of generated PDFs and FinanceBench-format questions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import pytest
from typer.testing import CliRunner

from qa_service.answer.models import Answer, AnswerMode, Citation, ShortAnswer
from qa_service.cli import app
from qa_service.eval.asking import Asked
from qa_service.eval.page_eval import (
    PageCorpus,
    PageQuestion,
    contains_gold,
    half_of,
    load_page_questions,
    normalize_gold,
)
from qa_service.eval.page_eval import _answered as answered
from qa_service.store.knowledge_base import KnowledgeBase
from tests.pdfs import text_pdf

DOCUMENTS = {
    "ORCHARD_2021_REPORT": ["Orchard annual report 2021.",
                            "CONSOLIDATED BALANCE SHEETS\nTotal current liabilities 4,200",
                            "The apple harvest began in September."],
    "sub/LIGHTHOUSE_GUIDE": ["The Kestrel Point lighthouse was painted purple in 1979.",
                             "Its lamp can be seen from thirty kilometres away."],
}
QUESTIONS = [
    {"doc_name": "ORCHARD_2021_REPORT", "question": "What were the orchard's total current "
     "liabilities in the 2021 balance sheet?", "evidence": [{"evidence_page_num": 1}],
     "lang": "en", "kind": "table", "answerable": True},
    {"doc_name": "sub/LIGHTHOUSE_GUIDE", "question": "How far away can the Kestrel Point "
     "lighthouse lamp be seen?", "evidence": [{"evidence_page_num": 1}], "lang": "en",
     "kind": "prose", "answerable": True, "gold": ["thirty kilometres"]},
    {"doc_name": "sub/LIGHTHOUSE_GUIDE", "question": "등대는 언제 보라색으로 칠해졌나요?",
     "evidence": [{"evidence_page_num": 0}], "lang": "ko", "kind": "cross",
     "answerable": True, "gold": ["1979"]},
    {"doc_name": "", "question": "Who owns the vineyard?", "evidence": [], "lang": "en",
     "kind": "none", "answerable": False},
]


def write_inputs(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "pdfs"
    for name, pages in DOCUMENTS.items():
        path = folder / f"{name}.pdf"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text_pdf(pages))
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in QUESTIONS),
                         "utf-8")
    return folder, questions


@pytest.mark.parametrize("neutral", [False, True], ids=["file-names", "neutral-names"])
def test_eval_pages_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               shared_models: None, neutral: bool) -> None:
    monkeypatch.chdir(tmp_path)
    folder, questions = write_inputs(tmp_path)
    out = tmp_path / "report.json"
    args = ["eval", "pages", str(folder), str(questions), "--json", str(out)]
    result = CliRunner().invoke(app, args + (["--neutral-names"] if neutral else []))
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text("utf-8"))
    assert report["questions"] == 3 and report["unanswerable_questions"] == 1
    assert report["documents"] == 2 and report["pages"] == 5
    assert report["questions_about_missing_documents"] == []
    assert report["page_hit@10"] == 1.0 and report["doc_hit@5"] == 1.0
    assert report["page_hit@1"] >= 2 / 3
    assert set(report["groups"]) >= {"lang=en", "lang=ko", "kind=cross", "half=tune",
                                     "half=check"}
    by_half = {g: v["questions"] for g, v in report["groups"].items() if "," in g}
    assert sum(by_half.values()) == 3 and all(g.startswith("half=") for g in by_half)
    assert "page@5" in result.output and "pages/s" in result.output
    assert not (tmp_path / "indexes").exists()  # a scratch data directory, then gone


def test_questions_load_with_their_evidence_and_halves(tmp_path: Path) -> None:
    _folder, path = write_inputs(tmp_path)
    questions = load_page_questions(path)
    assert [q.answerable for q in questions] == [True, True, True, False]
    assert questions[0].evidence == frozenset({("ORCHARD_2021_REPORT", 2)})  # 1-based
    assert {q.half for q in questions} <= {"tune", "check"}
    assert half_of("What is 2+2?") == half_of("What is 2+2?")


def test_a_broken_question_file_is_a_clear_error(tmp_path: Path) -> None:
    folder, questions = write_inputs(tmp_path)
    questions.write_text('{"question": "x"}\nnot json\n', "utf-8")
    result = CliRunner().invoke(app, ["eval", "pages", str(folder), str(questions)])
    assert result.exit_code == 2
    assert "line 2" in result.output


def test_eval_pages_with_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 shared_models: None) -> None:
    monkeypatch.chdir(tmp_path)
    folder, questions = write_inputs(tmp_path)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["eval", "pages", str(folder), str(questions), "--answers",
                                      "--json", str(out)])
    assert result.exit_code == 0, result.output
    answers = json.loads(out.read_text("utf-8"))["answers"]
    assert (answers["questions"], answers["answerable"], answers["with_gold"],
            answers["unanswerable"]) == (4, 3, 2, 1)
    for key in ("answer_hit", "short_answer_hit", "false_refusals",
                "first_citation_on_evidence", "unanswerable_declined"):
        assert 0.0 <= answers[key] <= 1.0
    assert answers["mode"] == "extractive" and "lang=ko" in answers["groups"]
    assert "mode extractive; ask p50" in result.output


@pytest.mark.parametrize(("text", "gold", "found"), [
    ("재고자산은 52187866 백만원", ["52,187,866"], True),
    ("Total: \uff041,500", ["$1,500"], True),
    ("It opens at 06:00 \u2013 23:00 daily", ["06:00 \u2013 23:00"], True),
    ("THIRTY KILOMETRES", ["thirty kilometres"], True),
    ("4,100", ["4,200"], False),
    ("anything", [""], False),
])
def test_gold_answers_compare_without_case_spaces_or_separators(text: str, gold: list[str],
                                                                found: bool) -> None:
    assert contains_gold(text, gold) is found
    assert normalize_gold("1, 234 Won") == "1234won"


class _OnePage:
    """A knowledge base holding one page (all `valid_citations` reads)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def page_text(self, document_id: str, page: int) -> str | None:
        return self.text if (document_id, page) == ("d1", 1) else None


def test_a_short_answer_across_table_cells_counts_as_the_answer_shows_it() -> None:
    """The page's text layer set "2023년" and "07월 31일" in two cells: the answer shows
    "2023년 07월 31일", so the gold date is found, as a reader finds it."""
    page = "청구 금액 | ₩3,300,000\n지불 기한 : | 2023년 | 07월 31일\n소계 | 3,000,000"
    start, end = page.index("지불"), page.index("\n소계")
    quote = page[start:end]
    value = "2023년 | 07월 31일"
    short = ShortAnswer(value, 1, quote.index(value), quote.index(value) + len(value))
    shown = f"{short.shown}\n\n{quote}"
    citation = Citation(1, "d1", "invoice.pdf", 1, quote, 7, start, end,
                        len(shown) - len(quote), len(shown))
    answer = Answer(question="지불 기한은 언제인가요?", answer=shown, abstained=False,
                    mode=AnswerMode.EXTRACTIVE, citations=[citation], passages=[],
                    short_answer=short)
    question = PageQuestion("지불 기한은 언제인가요?", "invoice",
                            frozenset({("invoice", 1)}), gold=("2023년 07월 31일",))
    corpus = PageCorpus(kb=cast(KnowledgeBase, _OnePage(page)), documents={"invoice": "d1"})
    outcome = answered(corpus, question, Asked(answer, 1.0, 2.0))
    assert short.shown == "2023년 07월 31일"
    assert outcome.hit and outcome.short_hit and outcome.cited_evidence
