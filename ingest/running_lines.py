"""Running headers, footers and page numbers: the lines a document repeats at the top or
the bottom of its pages ("Table of Contents", "Page 5 of 15", "ACME Corp. | Annual Report
2023", "- 12 -").

They are not content: in a chunk they add the same words to every page and push aside the
page's own, and a citation that quotes them quotes nothing. They are removed from the page
text itself, so what is indexed stays what citations quote. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from qa_service.page_positions import PagePositions
from qa_service.schemas import Page

__all__ = ["EDGE_LINES", "strip_running_lines"]

EDGE_LINES = 2  # how many lines at the top and at the bottom of a page are looked at
MIN_PAGES = 4  # shorter documents repeat too little to tell furniture from content
MIN_SHARE = 0.4  # of the pages: a line on this many pages' edges is running
MAX_CHARS = 120  # longer lines are sentences, not furniture
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
_CELL = " | "  # a table row (`ingest.parse`): a header row repeats on every page, and is kept


def _key(line: str) -> str:
    """Pages number themselves: "Page 5 of 15" and "Page 6 of 15" are the same line."""
    return _SPACES.sub(" ", _DIGITS.sub("#", line.casefold())).strip()


def _edges(lines: list[str]) -> list[int]:
    """Positions of the first and last `EDGE_LINES` non-empty lines."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(filled[:EDGE_LINES] + filled[-EDGE_LINES:]))


def _candidate(line: str) -> bool:
    return 0 < len(line.strip()) <= MAX_CHARS and _CELL not in line


def strip_running_lines(pages: Sequence[Page]) -> tuple[list[Page], list[str]]:
    """`pages` without the lines that at least `MIN_SHARE` of them repeat at their edges (a
    page is never emptied), and those lines, most frequent first, as the first page that
    has each sets it: a running header often names the document ("Johnson & Johnson and
    Subsidiaries"), which its identity keeps (`ingest.context.document_identity`)."""
    split = [page.text.split("\n") for page in pages]
    with_text = sum(1 for lines in split if any(line.strip() for line in lines))
    if with_text < MIN_PAGES:
        return list(pages), []
    seen: Counter[str] = Counter()
    for lines in split:
        seen.update({_key(lines[i]) for i in _edges(lines) if _candidate(lines[i])})
    running = {key for key, count in seen.items() if count >= max(2, MIN_SHARE * with_text)}
    if not running:
        return list(pages), []
    out: list[Page] = []
    removed: dict[str, str] = {}  # key -> the line as the first page with it sets it
    for page, lines in zip(pages, split, strict=True):
        drop = {i for i in _edges(lines) if _candidate(lines[i]) and _key(lines[i]) in running}
        if not any(line.strip() for i, line in enumerate(lines) if i not in drop):
            drop = set()  # all of the page: it is the content ("Page number 1.")
        for i in sorted(drop):
            removed.setdefault(_key(lines[i]), lines[i].strip())
        out.append(_without(page, lines, drop) if drop else page)
    order = sorted(removed, key=lambda key: -seen[key])
    return out, [removed[key] for key in order]


def _without(page: Page, lines: list[str], drop: set[int]) -> Page:
    """The page without lines `drop` (and without the blank lines that leaves at its ends
    or doubled), its character positions carried over to the text that is left."""
    kept: list[int] = []
    for i, line in enumerate(lines):
        blank = not line.strip()
        if i in drop or (blank and (not kept or not lines[kept[-1]].strip())):
            continue
        kept.append(i)
    while kept and not lines[kept[-1]].strip():
        kept.pop()
    text = "\n".join(lines[i] for i in kept)
    return Page(page.number, text, _carried(page, lines, kept, text))


def _carried(page: Page, lines: list[str], kept: list[int], text: str) -> PagePositions | None:
    positions = page.positions
    if positions is None:
        return None
    boxes = positions.decode(page.text)
    if boxes is None:  # made for another text
        return None
    starts = np.cumsum([0] + [len(line) + 1 for line in lines])
    rows = []
    for n, i in enumerate(kept):
        if n:
            rows.append(np.full((1, 4), np.nan, dtype=np.float32))  # the newline
        rows.append(boxes[starts[i]:starts[i] + len(lines[i])])
    carried = np.concatenate(rows) if rows else np.zeros((0, 4), dtype=np.float32)
    return PagePositions.encode(text, positions.width, positions.height, carried)
