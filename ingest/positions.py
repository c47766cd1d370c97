"""Where each character of our page text is drawn: pdfium's glyph boxes, aligned to it.

The one module that knows pdfium (pypdfium2), as `ingest.parse` is the one that knows
pypdf. For every page it reads pdfium's character stream and each character's loose box
(the font's full height, the glyph's advance), aligns that stream with the page text we
store (`ingest.align`, then `ingest.align_rows` for table cells the text alone could not
place), and gives each of our characters the box of the glyph it matched:
`PagePositions` (`qa_service.page_positions`) in top-left page coordinates. A ligature
glyph that stands for several of our characters is split evenly among them.

It runs in the parser worker after the text is sent (`ingest.parse_worker`), and never
raises for a bad page or document: that page, or every page, gets no positions.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.align import Units, align_marked, units_of
from ingest.align_rows import drop_off_row, match_rows
from qa_service.page_positions import Boxes, PagePositions, coverage

__all__ = ["locate_pages", "page_coverage"]

log = logging.getLogger(__name__)

_SCALE = 64  # device pixels per point when reading the page's display transform
ROW_STEP_FROM = 8  # unplaced units from which a page also gets `ingest.align_rows`


def locate_pages(data: bytes, texts: Sequence[str]) -> list[PagePositions | None]:
    """The positions of each page's text (`texts[n]` is page n + 1), None where unknown."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except Exception as exc:  # noqa: BLE001 - no positions is an answer, not a failure
        log.info("no page positions: pdfium cannot open the file (%s)", exc)
        return [None] * len(texts)
    try:
        return [_locate_page(document, number, text) for number, text in enumerate(texts)]
    finally:
        document.close()


def _locate_page(document: Any, index: int, text: str) -> PagePositions | None:
    if not text or index >= len(document):
        return None
    try:
        page = document[index]
    except Exception:  # noqa: BLE001 - one broken page must not lose the others
        return None
    try:
        return _page_positions(page, text)
    except Exception as exc:  # noqa: BLE001
        log.info("no positions for page %d: %s", index + 1, exc)
        return None
    finally:
        page.close()


def _page_positions(page: Any, text: str) -> PagePositions:
    width, height = page.get_size()
    textpage = page.get_textpage()
    try:
        characters = _characters(textpage)
        glyphs, ours = units_of(characters), units_of(text)
        rows = _table_rows(text)
        boxes = _all_boxes(textpage, len(characters)) if rows else None
        order = _reading_order(boxes[glyphs.owner]) if boxes is not None else None
        match, sure = align_marked(ours.text, glyphs.text, order)
        if boxes is None and _unplaced(ours.text, match) >= ROW_STEP_FROM:
            boxes = _all_boxes(textpage, len(characters))
        if boxes is None:
            matched = np.asarray([j for j in match if j >= 0], dtype=np.int64)
            boxes = _glyph_boxes(textpage, len(characters), np.unique(glyphs.owner[matched]))
        else:  # a table, or cells the text could not place: check and place by rows
            line_of, unit_boxes = _lines(text)[ours.owner], boxes[glyphs.owner]
            drop_off_row(match, line_of, rows, unit_boxes, sure)
            match_rows(ours.text, glyphs.text, match, line_of, unit_boxes)
    finally:
        textpage.close()
    mine = _our_boxes(len(text), ours, glyphs, np.asarray(match, dtype=np.int64), boxes)
    return PagePositions.encode(text, width, height, _to_display(page, width, height, mine))


def _unplaced(units: str, match: list[int]) -> int:
    """How many units found no glyph, not counting the "|" that joins our table cells."""
    return sum(1 for unit, j in zip(units, match, strict=True) if j < 0 and unit != "|")


def _all_boxes(textpage: Any, count: int) -> Boxes:
    return _glyph_boxes(textpage, count, np.arange(count))


def _reading_order(boxes: Boxes) -> list[int]:
    """Each glyph's rank in a table's reading order: rows top to bottom (by the middle of
    the glyph, to the point), then left to right."""
    middles = np.nan_to_num(np.rint((boxes[:, 1] + boxes[:, 3]) / 2), nan=-1e9)
    ranks = np.empty(len(boxes), dtype=np.int64)
    ranks[np.lexsort((np.nan_to_num(boxes[:, 0]), -middles))] = np.arange(len(boxes))
    return [int(r) for r in ranks]


def _table_rows(text: str) -> set[int]:
    """The lines of `text` that are table rows (cells joined by " | ", one row a line)."""
    return {number for number, line in enumerate(text.split("\n")) if " | " in line}


def _lines(text: str) -> npt.NDArray[np.int64]:
    """The line number of each character of `text`."""
    codes = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype="<u4")
    return np.cumsum(codes == ord("\n")).astype(np.int64)


def _characters(textpage: Any) -> str:
    """pdfium's characters, one per character index (its text API may add or drop some,
    in which case they are read one at a time)."""
    import pypdfium2.raw as pdfium_c

    count = textpage.count_chars()
    if count <= 0:
        return ""
    buffer = (ctypes.c_ushort * (count + 1))()
    written = pdfium_c.FPDFText_GetText(textpage, 0, count, buffer)
    chars = bytes(memoryview(buffer).cast("B")[:max(0, written - 1) * 2]).decode(
        "utf-16-le", errors="replace")
    if len(chars) == count:
        return chars
    return "".join(chr(pdfium_c.FPDFText_GetUnicode(textpage, i) or 0xFFFD)
                   for i in range(count))


def _glyph_boxes(textpage: Any, count: int, wanted: npt.NDArray[np.int64]) -> Boxes:
    """The loose box (left, bottom, right, top; PDF page space) of each wanted glyph;
    NaN for the others."""
    read = _loose_box_reader()
    handle = ctypes.cast(textpage.raw, ctypes.c_void_p).value
    ltrb = np.zeros((len(wanted), 4), dtype=np.float32)  # FS_RECTF: left, top, right, bottom
    address, stride = ltrb.ctypes.data, ltrb.strides[0]
    found = np.fromiter((read(handle, index, address + k * stride)
                         for k, index in enumerate(wanted.tolist())),
                        dtype=bool, count=len(wanted))
    boxes = np.full((count, 4), np.nan, dtype=np.float32)
    boxes[wanted[found]] = ltrb[found][:, [0, 3, 2, 1]]
    return boxes


def _loose_box_reader() -> Callable[[int | None, int, int], int]:
    """`FPDFText_GetLooseCharBox(textpage, index, rect)` taking plain addresses, so that it
    writes each box straight into a numpy array: twice as fast as building a ctypes
    FS_RECTF per character, which is most of the cost of positions on a text-heavy page."""
    import pypdfium2.raw as pdfium_c

    address = ctypes.cast(pdfium_c.FPDFText_GetLooseCharBox, ctypes.c_void_p).value
    if address is None:
        raise RuntimeError("pdfium has no FPDFText_GetLooseCharBox")
    reader: Callable[[int | None, int, int], int] = _BY_ADDRESS(address)
    return reader


_BY_ADDRESS = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)


def _our_boxes(size: int, ours: Units, glyphs: Units, match: npt.NDArray[np.int64],
               boxes: Boxes) -> Boxes:
    """One box per character of our text (page space; NaN: none): the union of the boxes
    of the glyph units its units matched, a ligature glyph's box split among its units."""
    matched = np.flatnonzero(match >= 0)
    units = match[matched]
    unit_boxes = boxes[glyphs.owner[units]].astype(np.float64)
    step = (unit_boxes[:, 2] - unit_boxes[:, 0]) / glyphs.parts[units]
    unit_boxes[:, 0] += glyphs.part[units] * step
    unit_boxes[:, 2] = unit_boxes[:, 0] + step
    unit_boxes = unit_boxes[~np.isnan(unit_boxes).any(axis=1)]
    owners = ours.owner[matched][~np.isnan(boxes[glyphs.owner[units]]).any(axis=1)]
    low = np.full((size, 2), np.inf)
    high = np.full((size, 2), -np.inf)
    np.minimum.at(low, owners, unit_boxes[:, :2])
    np.maximum.at(high, owners, unit_boxes[:, 2:])
    out = np.hstack([low, high]).astype(np.float32)
    out[~np.isfinite(out).all(axis=1)] = np.nan
    return out


def _to_display(page: Any, width: float, height: float, boxes: Boxes) -> Boxes:
    """Page-space boxes -> the displayed page's top-left coordinates, by pdfium's own
    display transform (crop box offset and /Rotate included)."""
    import pypdfium2.raw as pdfium_c

    def device(x: float, y: float) -> tuple[float, float]:
        dx, dy = ctypes.c_int(), ctypes.c_int()
        pdfium_c.FPDF_PageToDevice(page, 0, 0, round(width * _SCALE), round(height * _SCALE),
                                   0, x, y, dx, dy)
        return dx.value / _SCALE, dy.value / _SCALE

    ox, oy = device(0.0, 0.0)
    xx, xy = device(1000.0, 0.0)
    yx, yy = device(0.0, 1000.0)
    matrix = np.array([[(xx - ox) / 1000, (yx - ox) / 1000],
                       [(xy - oy) / 1000, (yy - oy) / 1000]])
    corners = [boxes[:, [0, 1]].astype(np.float64), boxes[:, [2, 3]].astype(np.float64)]
    mapped = [c @ matrix.T + (ox, oy) for c in corners]
    low, high = np.minimum(*mapped), np.maximum(*mapped)
    return np.hstack([low, high]).astype(np.float32)


def page_coverage(text: str, positions: PagePositions | None) -> float:
    """The fraction of the page's non-whitespace characters with a box (0 without any)."""
    boxes = positions.decode(text) if positions is not None else None
    return 0.0 if boxes is None else coverage(text, boxes)
