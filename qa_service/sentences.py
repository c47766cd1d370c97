"""Sentence boundaries for English and Korean text, as character spans (pure, no models).

A sentence ends after `.`, `!`, `?` (or their full-width forms), optionally followed by
closing quotes or brackets and footnote markers (`.[12]`, `.[citation needed]`), when
whitespace follows; a blank line always ends one. An
English abbreviation (`Dr.`, `U.S.`), an initial (`J. Smith`) or a decimal point does not.
Korean sentences end the same way (`...했다. 그러나`), so one rule serves both.
"""

from __future__ import annotations

import re

__all__ = ["MAX_SENTENCE_CHARS", "bounded_sentences", "split_sentences"]

MAX_SENTENCE_CHARS = 600  # longer "sentences" (tables, lists) are cut at whitespace

_END = re.compile(
    r"[.!?\u3002\uff01\uff1f\u2026]+[\"'\u201d\u2019)\]\u300d\u300f]*"
    r"(?:\[[^\[\]]{1,30}\])*(?=\s)"  # footnote markers stay with their sentence: ".[12] "
)
_HARD_BREAK = re.compile(r"\n\s*\n")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc e.g i.e u.s u.k u.n a.m p.m vol fig figs ed eds "
    "approx dept est inc ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec "
    "gen col lt sgt capt rev mt ft op cf al".split()
)
_WORD_BEFORE = re.compile(r"([\w.]+)$")
_WORD_CHAR = re.compile(r"[\w.]")
_NUMBER_AFTER = re.compile(r"\.\s*\d")
_LONGEST_WORD = 64  # a longer run of letters and dots is no abbreviation and no initial


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Spans `(start, end)` of the sentences of `text`, leading/trailing spaces excluded."""
    spans: list[tuple[int, int]] = []
    for block_start, block_end in _blocks(text):
        start = block_start
        for match in _END.finditer(text, block_start, block_end):
            if _is_false_end(text, match.start(), match.group()):
                continue
            _append(spans, text, start, match.end())
            start = match.end()
        _append(spans, text, start, block_end)
    return spans


def _blocks(text: str) -> list[tuple[int, int]]:
    blocks, start = [], 0
    for match in _HARD_BREAK.finditer(text):
        blocks.append((start, match.start()))
        start = match.end()
    blocks.append((start, len(text)))
    return blocks


def _is_false_end(text: str, position: int, mark: str) -> bool:
    if not mark.startswith("."):
        return False
    # only the last characters: searching from the start of the text made splitting a
    # page quadratic in its length (minutes for a page of 100,000 characters)
    start = max(0, position - _LONGEST_WORD)
    before = _WORD_BEFORE.search(text, start, position)
    if before is None or (before.start() == start > 0 and _WORD_CHAR.match(text, start - 1)):
        return False
    word = before.group(1)
    if word.lower().rstrip(".") in _ABBREVIATIONS:
        return True
    if word.lower() == "no" and _NUMBER_AFTER.match(text, position):
        return True  # "No. 5", but "the answer is no. It ..." ends a sentence
    if len(word) == 1 and word.isalpha() and word.isupper():
        return True  # an initial: "J. Smith"
    return bool(re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", word))  # "U.S" in "U.S. Army"


def _append(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def bounded_sentences(text: str, limit: int) -> list[tuple[int, int]]:
    """`split_sentences`, with any sentence longer than `limit` cut at whitespace."""
    bounded: list[tuple[int, int]] = []
    for start, end in split_sentences(text):
        while end - start > limit:
            cut = text.rfind(" ", start + limit // 2, start + limit)
            cut = cut if cut > start else start + limit
            bounded.append((start, cut))
            start = cut
            while start < end and text[start].isspace():
                start += 1
        if end > start:
            bounded.append((start, end))
    return bounded
