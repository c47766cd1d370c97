"""SQuAD-format question sets (SQuAD v1.1/v2.0, KorQuAD 1.0): loading and sampling."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

__all__ = ["Article", "Dataset", "Question", "holds_answer", "load_dataset", "normalize_answer",
           "sample_evenly"]

_SPACES = re.compile(r"\s+")
_T = TypeVar("_T")


def normalize_answer(text: str) -> str:
    """How answer strings and passages are compared: NFC, case-folded, spaces collapsed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text).casefold()).strip()


_NUMBER_WORDS = {word: str(value) for value, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}
_NUMBER_WORDS.update({word: str(value) for value, word in zip(
    range(30, 100, 10), "thirty forty fifty sixty seventy eighty ninety".split(), strict=True)})
_SPELLED = re.compile(r"\b(?:" + "|".join(_NUMBER_WORDS) + r")\b")


def holds_answer(text: str, answers: Sequence[str]) -> bool:
    """Whether `text` holds one of the gold `answers` (`normalize_answer`d containment).

    A number is the same answer spelled or in digits: gold "four" is held by "intercepted 4
    balls", gold "4" by "four balls" (English number words up to twenty, and the tens; the
    number must stand alone: gold "four" is not held by "2014")."""
    normalized = normalize_answer(text)
    if any(normalize_answer(a) in normalized for a in answers):
        return True
    digits = _digits(normalized)
    return any(_whole(_digits(normalize_answer(a)), digits) for a in answers
               if _SPELLED.search(normalize_answer(a)) or _SPELLED.search(normalized))


def _digits(text: str) -> str:
    return _SPELLED.sub(lambda m: _NUMBER_WORDS[m.group()], text)


def _whole(answer: str, text: str) -> bool:
    """`answer` in `text`, not as part of a longer word or number."""
    return bool(answer) and re.search(
        r"(?<![\w.,])" + re.escape(answer) + r"(?![\w]|[.,]\d)", text) is not None


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    answers: tuple[str, ...]
    article: int  # index of the article in its dataset
    paragraph: int  # index of the paragraph in its article
    impossible: bool


@dataclass(frozen=True)
class Article:
    title: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class Dataset:
    name: str  # the file's basename
    articles: tuple[Article, ...]
    questions: tuple[Question, ...]

    def limited(self, articles: int | None) -> Dataset:
        """The first `articles` articles (file order) and their questions."""
        if articles is None:
            return self
        return Dataset(self.name, self.articles[:articles],
                       tuple(q for q in self.questions if q.article < articles))


def load_dataset(path: Path) -> Dataset:
    raw = json.loads(path.read_text("utf-8"))
    articles: list[Article] = []
    questions: list[Question] = []
    for a_index, article in enumerate(raw["data"]):
        paragraphs = []
        for p_index, paragraph in enumerate(article["paragraphs"]):
            paragraphs.append(paragraph["context"])
            for qa in paragraph["qas"]:
                answers = tuple(dict.fromkeys(a["text"] for a in qa.get("answers", [])
                                              if a["text"].strip()))
                questions.append(Question(
                    id=str(qa["id"]), text=qa["question"], answers=answers,
                    article=a_index, paragraph=p_index,
                    impossible=bool(qa.get("is_impossible", False)) or not answers,
                ))
        title = str(article.get("title", f"article {a_index + 1}")).replace("_", " ")
        articles.append(Article(title, tuple(paragraphs)))
    return Dataset(path.name, tuple(articles), tuple(questions))


def sample_evenly(items: Sequence[_T], count: int | None) -> tuple[_T, ...]:
    """`count` items spread evenly over `items`, deterministically (all when None)."""
    if count is None or count >= len(items):
        return tuple(items)
    if count <= 0:
        return ()
    step = len(items) / count
    return tuple(items[int(i * step)] for i in range(count))
