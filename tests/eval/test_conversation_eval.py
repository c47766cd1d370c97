"""`qa eval conversations`: the set's format, the team's set itself, and the command end to
end on generated PDFs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from qa_service.cli import app
from qa_service.errors import InvalidRequest
from qa_service.eval.conversation_eval import TARGET_RATIO, link_files, load_conversations
from tests.pdfs import text_pdf

ROOT = Path(__file__).resolve().parents[2]
TEAM_SET = ROOT / "evalsets" / "conversations.jsonl"
SHARED_PDFS = ROOT.parent / "shared" / "data" / "pdfs"

DOCUMENTS = {
    "kestrel.pdf": ["The Kestrel Point lighthouse was painted purple in 1979.",
                    "The Kestrel Point lighthouse lamp can be seen from thirty kilometres away."],
    "sub/harbour.pdf": ["The Oyster Bay harbour opened in 1902.",
                        "The Oyster Bay harbour has berths for forty fishing boats.",
                        "오이스터 베이 항구의 등대는 1931년에 세워졌다."],
}
ITEMS = [
    {"id": "en-1", "lang": "en", "file": "kestrel.pdf", "turns": [
        {"question": "When was the Kestrel Point lighthouse painted purple?", "pages": [1],
         "answer": "1979"},
        {"question": "How far away can its lamp be seen?", "pages": [2],
         "answer": "thirty kilometres"}]},
    {"id": "en-2", "lang": "en", "file": "sub/harbour.pdf", "turns": [
        {"question": "When did the Oyster Bay harbour open?", "pages": [1], "answer": "1902"},
        {"question": "And how many berths does it have?", "pages": [2], "answer": "forty"}]},
    {"id": "ko-1", "lang": "ko", "file": "sub/harbour.pdf", "turns": [
        {"question": "오이스터 베이 항구의 등대는 언제 세워졌나요?", "pages": [3],
         "answer": "1931년"},
        {"question": "그럼 항구는 언제 열렸나요?", "pages": [1], "answer": "1902"}]},
]


def write_inputs(tmp_path: Path, items: list[dict[str, Any]] = ITEMS) -> tuple[Path, Path]:
    folder = tmp_path / "pdfs"
    for name, pages in DOCUMENTS.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(text_pdf(pages))
    (folder / "unused.pdf").write_bytes(text_pdf(["Not named by the set."]))
    path = tmp_path / "conversations.jsonl"
    path.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n", "utf-8")
    return folder, path


def test_conversations_load_with_two_turns_and_pages(tmp_path: Path) -> None:
    _folder, path = write_inputs(tmp_path)
    items = load_conversations(path)
    assert [i.id for i in items] == ["en-1", "en-2", "ko-1"]
    assert items[1].doc_name == "sub/harbour"
    assert items[0].turns[1].pages == (2,)
    assert [t.role for t in items[0].history()] == ["user", "assistant"]
    scored = items[2].asking("x?", 0)
    assert scored.evidence == frozenset({("sub/harbour", 3)}) and scored.lang == "ko"


@pytest.mark.parametrize(("change", "says"), [
    ({"turns": ITEMS[0]["turns"][:1]}, "1 turns"),
    ({"lang": "fr"}, "lang"),
    ({"file": "/etc/passwd.pdf"}, "relative path"),
    ({"file": "../x.pdf"}, "relative path"),
    ({"turns": [{"question": "Q?", "pages": [0]}, {"question": "Q?", "pages": [1]}]},
     "1-based"),
    ({"id": "en-2"}, "not unique"),
])
def test_a_broken_set_is_a_clear_error(tmp_path: Path, change: dict[str, Any],
                                       says: str) -> None:
    _folder, path = write_inputs(tmp_path, [ITEMS[1], {**ITEMS[0], **change}])
    with pytest.raises(InvalidRequest, match=says):
        load_conversations(path)


def test_only_the_files_the_set_names_are_linked(tmp_path: Path) -> None:
    folder, path = write_inputs(tmp_path)
    linked = link_files(folder, load_conversations(path), tmp_path / "work")
    assert sorted(p.relative_to(linked).as_posix() for p in linked.rglob("*.pdf")) == [
        "kestrel.pdf", "sub/harbour.pdf"]
    missing = load_conversations(path)[0]
    with pytest.raises(InvalidRequest, match="no such PDF"):
        link_files(tmp_path, [missing], tmp_path / "other")


def test_eval_conversations_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       shared_models: None) -> None:
    monkeypatch.chdir(tmp_path)
    folder, path = write_inputs(tmp_path)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["eval", "conversations", str(folder), str(path),
                                      "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text("utf-8"))
    assert report["conversations"] == 3 and report["documents"] == 2
    assert set(report["variants"]) == {"turn1", "turn2_alone", "turn2_rules"}  # no LLM
    assert report["variants"]["turn1"]["page_hit@5"] == 1.0
    assert set(report["variants"]["turn1"]) >= {"lang=en", "lang=ko", "page_hit@5"}
    assert report["ratios"]["turn2_rules"]["meets_target"] is (
        report["ratios"]["turn2_rules"]["all"] >= TARGET_RATIO)
    first = report["items"][0]
    assert first["turn2_alone"]["question"] == "How far away can its lamp be seen?"
    assert "Kestrel" in first["turn2_rules"]["question"]
    assert report["variants"]["turn2_rules"]["page_hit@5"] == 1.0
    assert "turn2_rules" in result.output and "ratio@5" in result.output


# --- the team's set ------------------------------------------------------------------------


def test_the_team_set_is_forty_two_turn_conversations_in_two_languages() -> None:
    items = load_conversations(TEAM_SET)
    assert len(items) == 40
    assert sum(i.lang == "ko" for i in items) == sum(i.lang == "en" for i in items) == 20
    assert len({i.file for i in items}) >= 10  # varied documents
    for item in items:
        for turn in item.turns:
            assert (turn.question.endswith("?") or turn.question.endswith("요")
                    or turn.question.endswith("."))
        korean = any("\uac00" <= ch <= "\ud7a3" for ch in item.turns[1].question)
        assert korean == (item.lang == "ko"), item.id


@pytest.mark.skipif(not SHARED_PDFS.is_dir(), reason="the shared evaluation data is absent")
def test_the_team_set_points_at_real_pages() -> None:
    for item in load_conversations(TEAM_SET):
        pages = len(PdfReader(SHARED_PDFS / item.file).pages)
        for turn in item.turns:
            assert all(1 <= page <= pages for page in turn.pages), (item.id, turn.pages)
