from __future__ import annotations

import json
import unicodedata
from itertools import pairwise
from pathlib import Path

import pytest

from qa_service.eval.datasets import (
    Question,
    holds_answer,
    load_dataset,
    normalize_answer,
    sample_evenly,
)


def test_normalize_answer_casefolds_and_collapses_spaces() -> None:
    assert normalize_answer("  The  Eiffel\tTower\n ") == "the eiffel tower"
    assert normalize_answer("STRASSE") == normalize_answer("Straße")


def test_normalize_answer_composes_hangul() -> None:
    decomposed = unicodedata.normalize("NFD", "한국어")
    assert decomposed != "한국어"
    assert normalize_answer(decomposed) == "한국어"


def _questions(n: int) -> tuple[Question, ...]:
    return tuple(Question(f"q{i}", f"question {i}", ("a",), 0, 0, False) for i in range(n))


def test_sample_evenly_spreads_over_the_whole_list() -> None:
    items = _questions(10)
    picked = sample_evenly(items, 3)
    assert [q.id for q in picked] == ["q0", "q3", "q6"]


def test_sample_evenly_gaps_differ_by_at_most_one() -> None:
    items = _questions(100)
    picked = [int(q.id[1:]) for q in sample_evenly(items, 7)]
    gaps = [b - a for a, b in pairwise(picked)]
    assert len(picked) == 7 and len(set(picked)) == 7
    assert max(gaps) - min(gaps) <= 1
    assert picked[0] == 0


def test_sample_evenly_is_deterministic() -> None:
    items = _questions(57)
    assert sample_evenly(items, 11) == sample_evenly(items, 11)


@pytest.mark.parametrize(("count", "expected"), [(None, 5), (5, 5), (9, 5), (0, 0), (-2, 0)])
def test_sample_evenly_edges(count: int | None, expected: int) -> None:
    assert len(sample_evenly(_questions(5), count)) == expected


def _squad(path: Path) -> Path:
    data = {"version": "v2.0", "data": [
        {"title": "First_Article", "paragraphs": [
            {"context": "Alpha context.", "qas": [
                {"id": "1", "question": "Q1?", "answers": [{"text": "Alpha", "answer_start": 0},
                                                           {"text": "Alpha", "answer_start": 0}]},
                {"id": "2", "question": "Q2?", "answers": [], "is_impossible": True},
            ]},
            {"context": "Beta context.", "qas": [
                {"id": "3", "question": "Q3?", "answers": [{"text": "Beta", "answer_start": 0}]},
            ]},
        ]},
        {"title": "Second", "paragraphs": [
            {"context": "Gamma context.", "qas": [
                {"id": "4", "question": "Q4?", "answers": [{"text": "Gamma", "answer_start": 0}]},
            ]},
        ]},
    ]}
    path.write_text(json.dumps(data), "utf-8")
    return path


def test_load_dataset(tmp_path: Path) -> None:
    dataset = load_dataset(_squad(tmp_path / "mini.json"))
    assert dataset.name == "mini.json"
    assert [a.title for a in dataset.articles] == ["First Article", "Second"]
    assert dataset.articles[0].paragraphs == ("Alpha context.", "Beta context.")
    first, impossible, third, fourth = dataset.questions
    assert first.answers == ("Alpha",)
    assert impossible.impossible and not first.impossible
    assert (third.article, third.paragraph) == (0, 1)
    assert (fourth.article, fourth.paragraph) == (1, 0)


def test_limited_keeps_the_first_articles_and_their_questions(tmp_path: Path) -> None:
    dataset = load_dataset(_squad(tmp_path / "mini.json"))
    assert dataset.limited(None) is dataset
    one = dataset.limited(1)
    assert [a.title for a in one.articles] == ["First Article"]
    assert [q.id for q in one.questions] == ["1", "2", "3"]
    assert dataset.limited(0).questions == ()
    assert dataset.limited(5) == dataset


@pytest.mark.parametrize(("text", "answers", "held"), [
    ("It is the Eiffel  Tower.", ("eiffel tower",), True),
    ("Josh Norman intercepted 4 balls.", ("four",), True),
    ("He had four interceptions.", ("4",), True),
    ("Twenty-one first downs.", ("21",), False),  # compounds are not read
    ("In 2014 the team won.", ("four",), False),
    ("It cost 4.5 million.", ("four",), False),
    ("There were 14 of them.", ("four",), False),
    ("The fourth quarter.", ("4",), False),
    ("Eleven first downs.", ("11 first downs",), True),
    ("Nothing here.", ("four",), False),
])
def test_holds_answer_reads_numbers_spelled_or_in_digits(
        text: str, answers: tuple[str, ...], held: bool) -> None:
    assert holds_answer(text, answers) is held
