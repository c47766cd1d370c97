"""The lines of a page's text read as table rows: cells joined by ` | ` (the tables
`ingest` finds), or a label followed by figures, as text extraction lays out a table drawn
without rules ("Accumulated depreciation (14,166) (12,896)"); and which of them name
columns rather than hold values. Ingestion (a chunk's table heading, `ingest.context`) and
the short answer (`qa_service.answer.short`) read tables alike. Pure functions of text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

__all__ = ["CELL_SEPARATOR", "FIGURE", "NON_SPACE", "PLAIN_FIGURE", "PURE_VALUE",
           "TEXT_ROW_MIN_VALUES", "YEAR", "glued_figures", "is_empty_cell", "is_header_row",
           "is_table_row", "lines_of", "names_columns", "stripped", "table_cells",
           "text_row_cells", "value_words"]

# A figure on its own: not the "5" of "IIIT5K", the "1" of "7-1", the "8" of the model
# "737-8" written with an en dash, nor the "1588" or the "3366" of the phone number
# "1588-3366" (also when a line break follows the hyphen or the en dash of a code such as
# "737-00-1028"), nor the "2120" of "RIN 2120-AA64"), nor any part of figures joined by
# two dots or more (a date "21.9.15.", a version "2.0.1")
FIGURE = (r"(?<![\w.,\-\u2013])(?<!\d/)(?<!\d[-\u2013]\s)"
          r"(?:[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[-+]?\d+(?:\.\d+)?)"
          r"(?![\d,.]*-\d)(?![\d,.]*\u2013\d{4})(?![\d,.]*[-\u2013]\n\d)"
          r"(?![\d,.]*[-\u2013][A-Z]+\d)(?!\d*\.\d)")
# A figure as printed (with thousands separators or decimals)
PLAIN_FIGURE = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
# A cell that is a value alone: a figure with its currency, brackets or unit
PURE_VALUE = re.compile(
    rf"^\s*\(?\s*(?:[$₩€£¥]\s?)?\(?(?:{FIGURE})\)?\s*(?:%|원|만원|억원|백만원)?\s*\)?\s*$")
# A cell that is a year: a column's name, not a value
YEAR = re.compile(r"^\s*(?:FY\s?)?(?:19|20)\d{2}\s*$", re.IGNORECASE)
NON_SPACE = re.compile(r"\S+")
_DASH = r"[\u2014\u2013-]"  # a hyphen, an en or an em dash
_EMPTY_CELL = re.compile(rf"\s*{_DASH}\s*")
CELL_SEPARATOR = " | "
# A value of a row laid out with spaces: a figure (with its currency, sign, brackets or
# percent sign), or a dash for an empty cell
_TEXT_ROW_VALUE = re.compile(rf"[$₩€£¥]?\(?[-+]?{PLAIN_FIGURE}\)?%?|{_DASH}")
_CURRENCY = frozenset("$₩€£¥")
# figures glued together by the text layer (`glued_figures`), and one of them
GLUED_MAX_CHARS = 48  # three figures of 15 characters: longer runs are something else
_GLUED = re.compile(r"[$₩€£¥]?\d[\d,.$₩€£¥]*")
_GLUED_PART = re.compile(rf"[$₩€£¥]?(?!0[\d,]){PLAIN_FIGURE}")  # no leading zero
TEXT_ROW_MIN_VALUES = 2


def table_cells(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The cells of the line `text[start:end]` as spans (stripped): split at ` | ` (a
    table the parser found), else, for a row laid out with spaces (`text_row_cells`), its
    label and its values; else the line is one cell."""
    if CELL_SEPARATOR not in text[start:end]:
        return text_row_cells(text, start, end) or [stripped(text, start, end)]
    cells: list[tuple[int, int]] = []
    at = start
    while at <= end:
        cut = text.find(CELL_SEPARATOR, at, end)
        stop = end if cut < 0 else cut
        cell = stripped(text, at, stop)
        cells.extend(glued_figures(text, *cell) or [cell])
        if cut < 0:
            break
        at = cut + len(CELL_SEPARATOR)
    return cells


def glued_figures(text: str, start: int, end: int) -> list[tuple[int, int]] | None:
    """The cells of `text[start:end]` when it is figures that the text layer printed
    without the space between them, told apart only where that is certain: a quantity, a
    unit price and the amount they make ("11,500,0001,500,000": 1 x 1,500,000 =
    1,500,000), or a count before a currency sign ("1₩1,500,000"); None for any other
    cell (a figure alone included), and when two readings fit."""
    cell = text[start:end]
    if len(cell) > GLUED_MAX_CHARS or not _GLUED.fullmatch(cell) or PURE_VALUE.match(cell):
        return None
    signed = [i for i in range(1, len(cell)) if cell[i] in _CURRENCY and cell[i - 1].isdigit()]
    if len(signed) == 1 and all(_GLUED_PART.fullmatch(part)
                                for part in (cell[:signed[0]], cell[signed[0]:])):
        return [(start, start + signed[0]), (start + signed[0], end)]
    found = []
    for first in range(1, len(cell) - 1):
        for second in range(first + 1, len(cell)):
            parts = cell[:first], cell[first:second], cell[second:]
            if all(_GLUED_PART.fullmatch(part) for part in parts) and _product(*parts):
                found.append([(start, start + first), (start + first, start + second),
                              (start + second, end)])
    return found[0] if len(found) == 1 else None


def _product(quantity: str, price: str, amount: str) -> bool:
    """Whether `quantity` x `price` is exactly `amount`, the quantity a count."""
    return quantity.isdigit() and int(quantity) * _value(price) == _value(amount)


def _value(figure: str) -> Decimal:
    return Decimal(figure.lstrip("".join(_CURRENCY)).replace(",", ""))


def is_table_row(text: str, start: int, end: int) -> bool:
    """Whether the line `text[start:end]` is a table row (`table_cells`)."""
    return CELL_SEPARATOR in text[start:end] or text_row_cells(text, start, end) is not None


def text_row_cells(text: str, start: int, end: int) -> list[tuple[int, int]] | None:
    """A table row that text extraction laid out with spaces ("Accumulated depreciation
    (14,166) (12,896)", "Walks well 12.1 14.3", "Google - - - 0.2535"): its label (when
    it has one) and its `TEXT_ROW_MIN_VALUES` values or more (figures, or dashes for empty
    cells, at least one a figure) that end the line; None for any other line. A figure
    followed by a comma or a full stop ends a sentence or a list ("2019, 20, 3018."),
    never a row."""
    words = [(m.start(), m.end()) for m in NON_SPACE.finditer(text, start, end)]
    values: list[tuple[int, int]] = []
    while words and _TEXT_ROW_VALUE.fullmatch(text, *words[-1]):
        first, last = words.pop()
        if words and text[slice(*words[-1])] in _CURRENCY and text[first] not in _CURRENCY:
            first = words.pop()[0]  # "$ 36,397"
        values.append((first, last))
    values.reverse()
    if len(values) < TEXT_ROW_MIN_VALUES or not any(
            any(ch.isdigit() for ch in text[a:b]) for a, b in values):
        return None
    label = stripped(text, start, values[0][0])
    return ([label] if label[1] > label[0] else []) + values


def value_words(text: str, start: int, end: int) -> int:
    """How many of the words of `text[start:end]` are values of a row laid out with
    spaces: figures (with currency, sign, brackets or percent sign) or dashes alone."""
    return sum(1 for m in NON_SPACE.finditer(text, start, end)
               if _TEXT_ROW_VALUE.fullmatch(m.group()))


def stripped(text: str, start: int, end: int) -> tuple[int, int]:
    """`(start, end)` without the white space at either end of `text[start:end]`."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def names_columns(text: str, cells: list[tuple[int, int]]) -> bool:
    """Whether a line of these cells names columns: two cells or more, at most a third of
    them figures (a year is a column's name); an empty cell (a dash: `is_empty_cell`)
    counts as neither, so "GPT-o1 - 0.058 0.0134 - - -" is a row of values."""
    filled = [(a, b) for a, b in cells if not is_empty_cell(text[a:b])]
    return len(filled) >= 2 and sum(1 for a, b in filled if PURE_VALUE.match(text[a:b])
                                    and not YEAR.match(text[a:b])) * 3 <= len(filled)


def is_empty_cell(cell: str) -> bool:
    """Whether a table cell is printed empty: a dash alone (hyphen, en or em dash)."""
    return _EMPTY_CELL.fullmatch(cell) is not None


def is_header_row(text: str, start: int, end: int) -> bool:
    """Whether the line `text[start:end]` is a table's header: cells (`table_cells`) that
    name columns rather than hold values."""
    return names_columns(text, table_cells(text, start, end))


def lines_of(text: str, start: int, end: int) -> Sequence[tuple[int, int]]:
    """The non-empty lines of `text[start:end]` as spans."""
    lines = []
    at = start
    while at < end:
        cut = text.find("\n", at, end)
        stop = end if cut < 0 else cut
        if text[at:stop].strip():
            lines.append((at, stop))
        at = stop + 1
    return lines
