"""Reading order of a page image: full-width bands and two-column bands, top to bottom.

Tesseract reads a page as one column here (`--psm 4`): its automatic layout analysis
(`--psm 3`) dropped whole runs of Korean lines on plain single-column pages, differently at
each resolution, where one-column reading kept them. One-column reading runs the lines of
two columns together, so the columns are found first, from the image: a gutter is a narrow
vertical band in the middle of the page that no ink touches over many consecutive lines of
text (text within a column leaves no such band: its word gaps move from line to line). The
rows beside the gutter form two-column bands, read left column first; the rows where ink
crosses it (a title, an abstract, a full-width table) form full-width bands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Region", "reading_regions"]

INK = 128  # gray levels below this are ink
GUTTER_SPAN = (0.3, 0.7)  # where a gutter may lie, as fractions of the page width
GUTTER_WIDTH = 0.01  # of the page width: the blank band a gutter must at least leave
MIN_BAND = 0.1  # of the page height: the shortest run of lines that makes two columns
MIN_SIDE_INK = 0.3  # of a band's ink rows: each column holds ink on this many


@dataclass(frozen=True)
class Region:
    """A rectangle of the image in pixels (x0, y0 inclusive; x1, y1 exclusive)."""

    x0: int
    y0: int
    x1: int
    y1: int


def reading_regions(image: npt.NDArray[np.uint8]) -> list[Region]:
    """The page's regions in reading order: the whole page when it has one column."""
    height, width = image.shape
    whole = [Region(0, 0, width, height)]
    ink = image < INK
    rows = np.flatnonzero(ink.any(axis=1))
    if len(rows) < 0.05 * height:
        return whole
    found = _gutter(ink[rows], rows, width, height)
    if found is None:
        return whole
    split, bands = found
    regions: list[Region] = []
    top = 0
    for start, end in bands:  # two-column bands, as image rows; full width between them
        if start > top:
            regions.append(Region(0, top, width, start))
        regions += [Region(0, start, split, end), Region(split, start, width, end)]
        top = end
    if top < height:
        regions.append(Region(0, top, width, height))
    return regions


def _gutter(ink: npt.NDArray[np.bool_], rows: npt.NDArray[np.intp], width: int, height: int
            ) -> tuple[int, list[tuple[int, int]]] | None:
    """The column split (an x) and the two-column bands (image rows, half-way into the
    blank rows around them), or None when the page has no gutter."""
    band = max(4, int(GUTTER_WIDTH * width))
    prefix = np.zeros((ink.shape[0], width + 1), dtype=np.int32)
    np.cumsum(ink, axis=1, out=prefix[:, 1:])
    xs = np.arange(int(width * GUTTER_SPAN[0]), int(width * GUTTER_SPAN[1]) - band)
    blank = (prefix[:, xs + band] - prefix[:, xs]) == 0  # (ink rows, candidate x)
    best: tuple[int, int, list[tuple[int, int]]] | None = None  # (covered, x, runs)
    for column, x in enumerate(xs.tolist()):
        runs = [(s, e) for s, e in _runs(blank[:, column])
                if rows[e - 1] - rows[s] >= MIN_BAND * height
                and _both_sides(ink[s:e], x, x + band)]
        covered = sum(int(rows[e - 1] - rows[s]) for s, e in runs)
        if runs and (best is None or covered > best[0]):
            best = (covered, x, runs)
    if best is None:
        return None
    _, x, runs = best
    bands = []
    for s, e in runs:
        above = (rows[s - 1] + rows[s] + 1) // 2 if s > 0 else 0
        below = (rows[e - 1] + rows[e] + 1) // 2 if e < len(rows) else height
        bands.append((int(above), int(below)))
    return x + band // 2, bands


def _runs(flags: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """The (start, end) of each run of True."""
    padded = np.concatenate(([0], flags.astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _both_sides(ink: npt.NDArray[np.bool_], left: int, right: int) -> bool:
    return bool(ink[:, :left].any(axis=1).mean() >= MIN_SIDE_INK
                and ink[:, right:].any(axis=1).mean() >= MIN_SIDE_INK)
