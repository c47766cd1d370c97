"""A last alignment step that looks at the page: table cells the text alone cannot place.

When a PDF draws a table column by column, its character stream lists every date, then
every name, while our text (pypdf's layout mode) has one row a line; a value that repeats
("Closure Permanent", "07/21/2015") has many equal candidates, and `ingest.align` leaves
it unmatched rather than guess. Here each line of our text that has matched characters
gets a row band (the median height and middle of its matched glyphs), and a piece still
unmatched on it (cut at "|" and line ends) takes the one unused occurrence of its
characters that lies in that band and between its matched neighbours' glyphs on the line.
Two or more such occurrences, or none: it stays without a box. Before that, on a table
row, what the text steps matched off the row's band is unmatched (`drop_off_row`): the
same value in another row. Pure (numpy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["drop_off_row", "match_rows"]

PASSES = 2  # a cell placed in the first pass bounds its neighbours in the second
Boxes = npt.NDArray[np.float32]  # per unit of `b`: left, bottom, right, top; NaN: none


@dataclass(frozen=True)
class _Glyphs:
    """Each unit of `b`'s glyph: vertical middle, left and right edge (NaN: no box)."""

    middle: list[float]
    left: list[float]
    right: list[float]


def match_rows(a: str, b: str, match: list[int], line_of: npt.NDArray[np.int64],
               b_boxes: Boxes) -> None:
    """Extend `match` (a -> b positions, -1: none) in place; `line_of[i]` is the line of
    our text that unit i of `a` is on."""
    used = bytearray(len(b))
    for j in match:
        if j >= 0:
            used[j] = 1
    glyphs = _Glyphs(((b_boxes[:, 1] + b_boxes[:, 3]) / 2).tolist(), b_boxes[:, 0].tolist(),
                     b_boxes[:, 2].tolist())
    for _ in range(PASSES):
        bands = _bands(match, line_of, b_boxes)
        for start, end in _pieces(a, match, line_of):
            band = bands.get(int(line_of[start]))
            if band is not None:
                _place(a, b, match, used, (start, end), line_of, band, glyphs)


def drop_off_row(match: list[int], line_of: npt.NDArray[np.int64], rows: set[int],
                 b_boxes: Boxes, sure: list[bool] | None = None) -> None:
    """Unmatch, on the lines `rows` (a table's rows: one visual row each), units whose glyph
    lies off the row band of the line's matched glyphs (its `sure` ones, when it has some):
    the text steps matched them to the same characters in another row (a column-ordered
    table repeats its values)."""
    bands = _bands(match, line_of, b_boxes)
    if sure is not None:
        bands.update(_bands([j if ok else -1 for j, ok in zip(match, sure, strict=True)],
                            line_of, b_boxes))
    for i, j in enumerate(match):
        band = bands.get(int(line_of[i])) if j >= 0 and int(line_of[i]) in rows else None
        if band is not None:
            middle = float(b_boxes[j, 1] + b_boxes[j, 3]) / 2
            if not abs(middle - band[0]) <= band[1] / 2:  # NaN (no box) is off too
                match[i] = -1


def _bands(match: list[int], line_of: npt.NDArray[np.int64], b_boxes: Boxes
           ) -> dict[int, tuple[float, float]]:
    """Each line's (middle, height) from its matched glyphs."""
    mine = np.asarray(match)
    matched = np.flatnonzero(mine >= 0)
    boxes = b_boxes[mine[matched]]
    ok = ~np.isnan(boxes).any(axis=1)
    lines, boxes = line_of[matched][ok], boxes[ok]
    middles, heights = (boxes[:, 1] + boxes[:, 3]) / 2, boxes[:, 3] - boxes[:, 1]
    return {int(line): (float(np.median(middles[lines == line])),
                        float(np.median(heights[lines == line])))
            for line in np.unique(lines)}


def _pieces(a: str, match: list[int], line_of: npt.NDArray[np.int64]) -> list[tuple[int, int]]:
    """Maximal unmatched runs of `a`, cut at "|" and at line ends."""
    pieces: list[tuple[int, int]] = []
    i = 0
    while i < len(a):
        if match[i] >= 0 or a[i] == "|":
            i += 1
            continue
        end = i + 1
        while (end < len(a) and match[end] < 0 and a[end] != "|"
               and line_of[end] == line_of[i]):
            end += 1
        pieces.append((i, end))
        i = end
    return pieces


def _place(a: str, b: str, match: list[int], used: bytearray, piece: tuple[int, int],
           line_of: npt.NDArray[np.int64], band: tuple[float, float], glyphs: _Glyphs) -> None:
    start, end = piece
    size = end - start
    left, right = _neighbour_edges(match, piece, line_of, glyphs)
    middle, height = band
    found = -1
    j = b.find(a[start:end])
    while j >= 0:
        last = j + size - 1
        if (abs(glyphs.middle[j] - middle) <= height / 2  # False for NaN: no box
                and abs(glyphs.middle[last] - middle) <= height / 2
                and glyphs.left[j] >= left and glyphs.right[last] <= right
                and not any(used[j:j + size])):
            if found >= 0:
                return  # two candidates: leave it
            found = j
        j = b.find(a[start:end], j + 1)
    if found >= 0:
        for t in range(size):
            match[start + t] = found + t
            used[found + t] = 1


def _neighbour_edges(match: list[int], piece: tuple[int, int], line_of: npt.NDArray[np.int64],
                     glyphs: _Glyphs) -> tuple[float, float]:
    """The right edge of the nearest matched glyph before the piece on its line, and the
    left edge of the nearest one after it (-inf, inf where there is none), less a point of
    tolerance for kerning."""
    start, end = piece
    line = line_of[start]
    before, after = start - 1, end
    while before >= 0 and line_of[before] == line and match[before] < 0:
        before -= 1
    while after < len(match) and line_of[after] == line and match[after] < 0:
        after += 1
    left = right = float("nan")
    if before >= 0 and line_of[before] == line:
        left = glyphs.right[match[before]] - 1
    if after < len(match) and line_of[after] == line:
        right = glyphs.left[match[after]] + 1
    return (-np.inf if np.isnan(left) else left), (np.inf if np.isnan(right) else right)
