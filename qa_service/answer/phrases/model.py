"""The parts of a question (`parse_question`): phrases, anaphors, and the whole."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["NUMBER", "YEAR", "Anaphor", "Kind", "Morpheme", "Parsed", "Phrase"]

Kind = Literal["entity", "year", "month", "quantity", "noun"]
Morpheme = tuple[str, str, int, int]  # form, tag, start, end

YEAR = re.compile(r"^(?:19|20)\d\d$")
NUMBER = re.compile(r"^\d+(?:[.,]\d+)*$")


@dataclass(frozen=True)
class Phrase:
    """`text` = question[start:end]. A year or quantity's number is
    question[value_start:value_end] (its unit follows); `keys` are the phrase's content
    words as the lexical index sees them; `head` its last one."""

    text: str
    start: int
    end: int
    kind: Kind
    keys: frozenset[str]
    head: str
    run: int  # phrases of one run of nouns share it
    role: str = ""  # the particle after it: topic, subject, possessive, object, other
    unit: str = ""
    value_start: int = 0
    value_end: int = 0


@dataclass(frozen=True)
class Anaphor:
    """A pronoun ("it", "그것") or a pointing noun phrase ("that report", "그 청구서"),
    whose noun is `head` (a key, '' for a pronoun); `generic` when that noun names no
    particular thing ("the company", "그 회사")."""

    start: int
    end: int
    possessive: bool  # its, their: the antecedent takes "'s"
    head: str = ""
    generic: bool = False
    plural: bool = False  # they, them, their: a group of things, not a name


@dataclass(frozen=True)
class Parsed:
    text: str
    korean: bool
    phrases: tuple[Phrase, ...]
    anaphors: tuple[Anaphor, ...]
    cue_end: int  # the follow-up cue it opens with ends here (0: none)
    fragment: bool  # no predicate: "삼성은?", "what about Samsung?"
    runs: tuple[tuple[int, int], ...] = ()  # spans of the runs of nouns
    asked_at: int = -1  # English: where the question word ends ("how many", "what")

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(k for p in self.phrases for k in p.keys)

    def of_kind(self, *kinds: Kind) -> list[Phrase]:
        return [p for p in self.phrases if p.kind in kinds]

    def run_text(self, run: int) -> str:
        start, end = self.runs[run]
        return self.text[start:end]

    def run_keys(self, run: int) -> frozenset[str]:
        return frozenset(k for p in self.phrases if p.run == run for k in p.keys)

