"""Where each character of a page's text is drawn, and the boxes that cover a passage.

A page's `PagePositions` holds one box per character of its stored text (the text that
citation offsets index into), or none for a character that has no glyph (whitespace, the
" | " that joins table cells, a character the parser produced but the PDF does not draw
where it could be found). `ingest.positions` computes them at ingestion; here they are
encoded for storage, decoded, and turned into the rectangles a viewer draws:
`boxes_in_range(text, boxes, start, end)` merges the boxes of text[start:end] into one
rectangle per run of characters on a line.

Coordinates are PDF points (1/72 inch) on the page as displayed (its crop box, with its
/Rotate applied), origin at the top-left corner, y growing downward: the coordinates of
the page rendered at 72 dpi. Scale by `rendered_width / width` for any other resolution.

Stored format 1 (`PagePositions.boxes`), zlib-compressed: a bitmap of which characters
of the page text have a box (numpy `packbits`, one bit a character, first character in the
high bit), then the boxes of those characters in steps of `unit` points, column by column
(every x0, then y0, x1, y1), each column as little-endian uint16 differences from the
previous value (the first from 0), modulo 2^16. Lines share their y and glyphs follow each
other, so this is about 1.5 bytes a character. `text_hash` ties the boxes to the exact
text they were made for: positions whose text changed since are treated as missing, never
misapplied. No pickle.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from qa_service.errors import InvalidRange

__all__ = ["FORMAT", "Box", "PagePositions", "QuoteBoxes", "boxes_in_range", "coverage",
           "quote_boxes", "text_hash"]

FORMAT = 1
_MAX_STEP = 0xFFFF
_FINE_UNIT = 1 / 16  # points per step, unless the page is too large for it
_CELL_JOIN = re.compile(r"(?<= )\|(?= )")
Boxes = npt.NDArray[np.float32]  # (len(text), 4): x0, y0, x1, y1; NaN rows have no box


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


@dataclass(frozen=True)
class Box:
    """A rectangle on the page: top-left origin, y down, PDF points (see the module)."""

    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class PagePositions:
    """The boxes of one page's characters, encoded (format 1, see the module docstring)."""

    width: float
    height: float
    unit: float
    boxes: bytes
    text_hash: str
    format: int = FORMAT

    @classmethod
    def encode(cls, text: str, width: float, height: float, boxes: Boxes) -> PagePositions:
        """Positions of `text` from float boxes (one row per character, NaN = no box);
        boxes are clipped to the page, and one with nothing left on it has no box."""
        if boxes.shape != (len(text), 4):
            raise ValueError(f"{boxes.shape[0]} boxes for {len(text)} characters")
        unit = max(_FINE_UNIT, max(width, height) / _MAX_STEP)
        limits = np.array([width, height, width, height], dtype=np.float64)
        clipped = np.clip(boxes.astype(np.float64), 0.0, limits)
        usable = (np.isfinite(boxes).all(axis=1) & (clipped[:, 2] > clipped[:, 0])
                  & (clipped[:, 3] > clipped[:, 1]))
        steps = np.clip(np.rint(clipped[usable] / unit), 0, _MAX_STEP).astype(np.int64)
        deltas = np.diff(steps.T, axis=1, prepend=0) % 0x10000
        blob = np.packbits(usable).tobytes() + deltas.astype("<u2").tobytes()
        return cls(float(width), float(height), unit, zlib.compress(blob, 1), text_hash(text))

    def decode(self, text: str) -> Boxes | None:
        """The float boxes of `text`'s characters; None when they were made for another
        text (the page was re-extracted since) or in a format this version cannot read."""
        if self.format != FORMAT or self.text_hash != text_hash(text):
            return None
        try:
            raw = zlib.decompress(self.boxes)
        except zlib.error:
            return None
        marks = (len(text) + 7) // 8
        has = np.unpackbits(np.frombuffer(raw[:marks], dtype=np.uint8), count=len(text))
        has = has.astype(bool)
        if len(raw) != marks + 8 * int(has.sum()):
            return None
        deltas = np.frombuffer(raw[marks:], dtype="<u2").reshape(4, -1)
        steps = np.cumsum(deltas, axis=1, dtype=np.uint16).T
        boxes = np.full((len(text), 4), np.nan, dtype=np.float32)
        boxes[has] = steps.astype(np.float32) * np.float32(self.unit)
        return boxes

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe form (the parser worker's frames carry it)."""
        return {"format": self.format, "width": self.width, "height": self.height,
                "unit": self.unit, "text_hash": self.text_hash,
                "boxes": base64.b64encode(self.boxes).decode("ascii")}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PagePositions:
        return cls(float(data["width"]), float(data["height"]), float(data["unit"]),
                   base64.b64decode(data["boxes"], validate=True), str(data["text_hash"]),
                   int(data["format"]))


@dataclass(frozen=True)
class QuoteBoxes:
    """Where text[start:end] of a page is drawn; `positions` False when that page has none
    (then the size and coverage are None and there are no boxes)."""

    start: int
    end: int
    positions: bool
    width: float | None = None
    height: float | None = None
    boxes: tuple[Box, ...] = ()
    coverage: float | None = None


def quote_boxes(text: str, positions: PagePositions | None, start: int | None = None,
                end: int | None = None) -> QuoteBoxes:
    """The boxes of text[start:end] (default: the whole page). Raises `InvalidRange`
    unless 0 <= start < end <= len(text)."""
    start = 0 if start is None else start
    end = len(text) if end is None else end
    if not 0 <= start < end <= len(text):
        raise InvalidRange(
            f"characters [{start}, {end}) are not a range of this page's text, which has "
            f"{len(text)} characters; pass 0 <= start < end <= {len(text)}, as a "
            "citation's char_start and char_end are")
    boxes = positions.decode(text) if positions is not None else None
    if positions is None or boxes is None:
        return QuoteBoxes(start, end, positions=False)
    found, covered = boxes_in_range(text, boxes, start, end)
    return QuoteBoxes(start, end, True, positions.width, positions.height, tuple(found),
                      covered)


def coverage(text: str, boxes: Boxes) -> float:
    """The fraction of `text`'s non-whitespace characters that have a box (1.0 if none).
    The "|" of a " | " is not counted: on a table page it joins cells and has no glyph."""
    visible = np.fromiter((not ch.isspace() for ch in text), dtype=bool, count=len(text))
    for found in _CELL_JOIN.finditer(text):
        visible[found.start()] = False
    total = int(visible.sum())
    if total == 0:
        return 1.0
    return float((visible & ~np.isnan(boxes[:, 0])).sum()) / total


def boxes_in_range(text: str, boxes: Boxes, start: int, end: int) -> tuple[list[Box], float]:
    """The rectangles covering text[start:end], one per run of characters on a line, in
    text order; and that range's coverage (its non-whitespace characters with a box)."""
    part = boxes[start:end]
    runs: list[tuple[list[float], int]] = []  # (box, direction: 0 unknown, 1 across, 2 down)
    for row in part[~np.isnan(part[:, 0])].tolist():
        direction = _continues(*runs[-1], row) if runs else 0
        if direction:
            last = runs[-1][0]
            runs[-1] = ([min(last[0], row[0]), min(last[1], row[1]),
                         max(last[2], row[2]), max(last[3], row[3])], direction)
        else:
            runs.append((row, 0))
    return [Box(*run) for run, _ in runs], coverage(text[start:end], part)


def _continues(run: list[float], direction: int, box: list[float]) -> int:
    """How a character's box extends a run: 1 along a line (half its height overlaps the
    run, not behind it nor across a gap wider than two line heights, a table's next
    column), 2 down a column of text (a page turned 90 degrees: the same with x and y
    swapped); 0 if it starts a new run. A run keeps the direction it took."""
    if direction in (0, 1) and _follows(run, box, across=True):
        return 1
    if direction in (0, 2) and _follows(run, box, across=False):
        return 2
    return 0


def _follows(run: list[float], box: list[float], across: bool) -> bool:
    lo, hi, front, back = (1, 3, 0, 2) if across else (0, 2, 1, 3)
    size = min(run[hi] - run[lo], box[hi] - box[lo])
    overlap = min(run[hi], box[hi]) - max(run[lo], box[lo])
    gap = box[front] - run[back]
    return overlap >= 0.5 * size and -0.5 * size <= gap <= 2.0 * size
