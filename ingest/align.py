"""Align two extractions of the same page's text, character by character. Pure.

Our stored page text (pypdf's, cleaned; on table pages rebuilt from layout mode with
" | " between cells) and a PDF library's character stream (`ingest.positions`) hold the
same glyphs, but whitespace, order and a few characters differ: layout mode pads and may
reorder, " | " has no glyph, a ligature is one character on one side and two on the other,
Korean letter-spacing adds spaces. So both sides are reduced to *units* (every
non-whitespace character, NFKC-expanded: "ﬁ" is "f", "i"), and units are matched:

1. a shared prefix and suffix (most pages: the streams agree but for a character or two);
2. runs around k-grams that occur exactly once on each side, extended while the units
   agree, in any order (so rows that layout mode moved are still found);
3. each gap between two matched runs with the other side's unused units between the same
   neighbours, by `difflib.SequenceMatcher` (bounded in size), trusting runs of 3+ units
   (or any, in a gap of at most 3 units a side);
4. pieces still unmatched (cut at "|") that occur exactly as often unused on the other
   side (a column header repeated over a table's years), in order (the other side's, or
   the page's when the caller knows it); then 3 again.

A unit left unmatched has no partner: better no box than a wrong one.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np
import numpy.typing as npt

__all__ = ["WHITESPACE", "Units", "align", "align_marked", "units_of"]

WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003"
              "\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
"""Every character for which `str.isspace()` is true."""

ANCHOR = 8  # k-gram length of an anchor
MAX_GAP_WORK = 250_000  # len(a gap) * len(b gap) that step 3 may compare
MIN_BLOCK = 3  # units in common that step 3 trusts in a gap ...
TIGHT_GAP = 3  # ... unless neither side of the gap is longer than this


@dataclass(frozen=True, eq=False)
class Units:
    """The non-whitespace units of a text: `text[i]` came from character `owner[i]`, and
    is unit `part[i]` of that character's `parts[i]` (a ligature "ﬁ" gives 0 of 2, 1 of 2)."""

    text: str
    owner: npt.NDArray[np.int64]
    part: npt.NDArray[np.int64]
    parts: npt.NDArray[np.int64]


def units_of(chars: str) -> Units:
    codes = _codes(chars)
    if unicodedata.is_normalized("NFKC", chars):  # each character is its own unit
        keep = ~np.isin(codes, _codes(WHITESPACE))
        owner = np.flatnonzero(keep)
        text = codes[keep].tobytes().decode("utf-32-le", errors="surrogatepass")
        return Units(text, owner, np.zeros_like(owner), np.ones_like(owner))
    units: list[str] = []
    owners: list[int] = []
    for i, ch in enumerate(chars):
        for unit in unicodedata.normalize("NFKC", ch) if not ch.isspace() else "":
            if not unit.isspace():
                units.append(unit)
                owners.append(i)
    owner = np.asarray(owners, dtype=np.int64)
    _, first, counts = np.unique(owner, return_index=True, return_counts=True)
    group = np.searchsorted(owner[first], owner)  # owners ascend: each unit's character
    return Units("".join(units), owner, np.arange(len(owner)) - first[group], counts[group])


def _codes(text: str) -> npt.NDArray[np.uint32]:
    return np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype="<u4")


def align(a: str, b: str, b_order: Sequence[int] | None = None) -> list[int]:
    """For each position of `a`, the position of `b` it matches, or -1. `b_order`, when
    given, ranks `b`'s positions in the order `a` reads the page (a table's rows top to
    bottom): step 4 pairs repeated pieces in that order instead of `b`'s."""
    return align_marked(a, b, b_order)[0]


def align_marked(a: str, b: str, b_order: Sequence[int] | None = None
                 ) -> tuple[list[int], list[bool]]:
    """`align`, and which matches are sure: those of steps 1 and 2 (shared ends, runs
    around unique anchors), not a gap's or a repeat's pairing."""
    if a == b:
        return list(range(len(a))), [True] * len(a)
    match = [-1] * len(a)
    used = bytearray(len(b))
    _match_ends(a, b, match, used)
    _match_anchors(a, b, match, used)
    sure = [j >= 0 for j in match]
    _match_gaps(a, b, match, used)
    _match_repeats(a, b, match, used, b_order)
    _match_gaps(a, b, match, used)
    return match, sure


def _mark(match: list[int], used: bytearray, i: int, j: int, size: int) -> None:
    for t in range(size):
        match[i + t] = j + t
        used[j + t] = 1


def _match_ends(a: str, b: str, match: list[int], used: bytearray) -> None:
    limit = min(len(a), len(b))
    head = 0
    while head < limit and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < limit - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    for start_a, start_b, size in ((0, 0, head), (len(a) - tail, len(b) - tail, tail)):
        if size >= min(ANCHOR, limit):  # a letter or two in common is chance
            _mark(match, used, start_a, start_b, size)


def _unique_grams(text: str, lo: int, hi: int) -> dict[str, int]:
    grams = [text[i:i + ANCHOR] for i in range(lo, hi - ANCHOR + 1)]
    counts = Counter(grams)
    return {gram: lo + i for i, gram in enumerate(grams) if counts[gram] == 1}


def _match_anchors(a: str, b: str, match: list[int], used: bytearray) -> None:
    a_lo, a_hi = _unmatched_span(match)
    b_lo, b_hi = _unmatched_span([0 if u else -1 for u in used])
    if a_hi - a_lo < ANCHOR or b_hi - b_lo < ANCHOR:
        return
    in_a = _unique_grams(a, a_lo, a_hi)
    in_b = _unique_grams(b, b_lo, b_hi)
    i = a_lo
    while i <= a_hi - ANCHOR:
        j = in_b.get(a[i:i + ANCHOR], -1)
        if match[i] >= 0 or j < 0 or used[j] or in_a.get(a[i:i + ANCHOR]) != i:
            i += 1
            continue
        while i > 0 and j > 0 and match[i - 1] < 0 and not used[j - 1] and a[i - 1] == b[j - 1]:
            i, j = i - 1, j - 1
        size = 0
        while (i + size < len(a) and j + size < len(b) and match[i + size] < 0
               and not used[j + size] and a[i + size] == b[j + size]):
            size += 1
        _mark(match, used, i, j, size)
        i += size


def _unmatched_span(match: list[int]) -> tuple[int, int]:
    """[first, last + 1) of the unmatched positions ((0, 0) when none is)."""
    free = [i for i, m in enumerate(match) if m < 0]
    return (free[0], free[-1] + 1) if free else (0, 0)


def _runs(match: list[int]) -> list[tuple[int, int]]:
    """The maximal runs [start, end) of unmatched positions."""
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(match):
        if match[i] >= 0:
            i += 1
            continue
        end = i
        while end < len(match) and match[end] < 0:
            end += 1
        runs.append((i, end))
        i = end
    return runs


def _match_gaps(a: str, b: str, match: list[int], used: bytearray) -> None:
    for start, end in _runs(match):
        before = match[start - 1] if start > 0 else -1
        after = match[end] if end < len(a) else len(b)
        if before < after and (before >= 0 or after < len(b)):  # not all of an unlike text
            free = [j for j in range(before + 1, after) if not used[j]]
            _match_gap(a, b, match, used, (start, end), free)


def _match_gap(a: str, b: str, match: list[int], used: bytearray,
               gap_a: tuple[int, int], free: list[int]) -> None:
    """Match a gap of `a` with `b`'s unused positions `free` between the same neighbours."""
    lo, hi = gap_a
    if not free or (hi - lo) * len(free) > MAX_GAP_WORK:
        return
    tight = max(hi - lo, len(free)) <= TIGHT_GAP
    matcher = SequenceMatcher(None, a[lo:hi], "".join(b[j] for j in free), autojunk=False)
    for block in matcher.get_matching_blocks():
        if block.size < MIN_BLOCK and not tight:  # a letter or two in common: chance
            continue
        for t in range(block.size):
            match[lo + block.a + t] = free[block.b + t]
            used[free[block.b + t]] = 1


def _match_repeats(a: str, b: str, match: list[int], used: bytearray,
                   b_order: Sequence[int] | None) -> None:
    """Unmatched pieces (cut at "|", which joins our table cells) of 2+ units that occur
    as often unused in `b` as unmatched in `a` (a header repeated over columns): the n-th
    with the n-th."""
    pieces: dict[str, list[int]] = {}
    for start, end in _runs(match):
        offset = start
        for piece in a[start:end].split("|"):
            if len(piece) >= 2:
                pieces.setdefault(piece, []).append(offset)
            offset += len(piece) + 1
    for piece, starts in pieces.items():
        found = _unused_occurrences(b, piece, used)
        if b_order is not None:
            found.sort(key=lambda j: b_order[j])
        if len(found) == len(starts):
            for i, j in zip(starts, found, strict=True):
                _mark(match, used, i, j, len(piece))


def _unused_occurrences(b: str, piece: str, used: bytearray) -> list[int]:
    found: list[int] = []
    j = b.find(piece)
    while j >= 0:
        if not any(used[j:j + len(piece)]):
            found.append(j)
            j = b.find(piece, j + len(piece))
        else:
            j = b.find(piece, j + 1)
    return found
