"""Placing table cells by the page's rows when the text alone cannot (pure)."""

from __future__ import annotations

import numpy as np

from ingest.align import align, units_of
from ingest.align_rows import drop_off_row, match_rows

# Three rows drawn column by column: the stream lists the names, then the kinds.
ROWS = [("Maxim Integrated", "Layoff"), ("Minno Incorporated", "Closure"),
        ("Safeway Stores Inc", "Layoff")]


def column_ordered() -> tuple[str, str, np.ndarray, np.ndarray]:
    """Our text (one row a line), the stream's units, each of our units' line, and each
    stream unit's box (left, bottom, right, top): row r at y = 700 - 20 r."""
    ours = units_of("\n".join(f"{name} | {kind}" for name, kind in ROWS))
    stream, boxes = "", []
    for column, x in ((0, 72.0), (1, 300.0)):
        for r, row in enumerate(ROWS):
            cell = row[column].replace(" ", "")
            stream += cell
            boxes += [(x + 6 * k, 700 - 20 * r, x + 6 * k + 6, 710 - 20 * r)
                      for k in range(len(cell))]
    text = "\n".join(f"{name} | {kind}" for name, kind in ROWS)
    lines = np.cumsum([c == "\n" for c in text])[ours.owner]
    return ours.text, stream, lines, np.asarray(boxes, dtype=np.float32)


def rows_of(match: list[int], boxes: np.ndarray, a: str, piece: str) -> list[float]:
    """The bottom y of each occurrence of `piece` in `a`, by its match (nan if none)."""
    found, i = [], a.find(piece)
    while i >= 0:
        found.append(float(boxes[match[i], 1]) if match[i] >= 0 else float("nan"))
        i = a.find(piece, i + 1)
    return found


def test_a_repeated_cell_the_text_put_in_another_row_is_moved_to_its_own() -> None:
    a, b, lines, boxes = column_ordered()
    match = align(a, b)
    assert rows_of(match, boxes, a, "Layoff") == [660.0, 700.0]  # the text alone swaps them
    drop_off_row(match, lines, {0, 1, 2}, boxes)
    assert np.isnan(rows_of(match, boxes, a, "Layoff")).all()
    assert rows_of(match, boxes, a, "Closure") == [680.0]  # right: kept
    match_rows(a, b, match, lines, boxes)
    assert rows_of(match, boxes, a, "Layoff") == [700.0, 660.0]


def test_only_table_rows_are_checked() -> None:
    a, b, lines, boxes = column_ordered()
    match = align(a, b)
    drop_off_row(match, lines, set(), boxes)
    assert rows_of(match, boxes, a, "Layoff") == [660.0, 700.0]


def test_two_candidates_in_the_same_row_leave_the_cell_without_a_box() -> None:
    a, b = "Total|10|10", "Total1010"
    boxes = np.asarray([(72 + 6 * k, 700, 78 + 6 * k, 710) for k in range(len(b))],
                       dtype=np.float32)
    match = [0, 1, 2, 3, 4, -1, -1, -1, -1, -1, -1]
    match_rows(a, b, match, np.zeros(len(a), dtype=np.int64), boxes)
    assert match[5:] == [-1] * 6
