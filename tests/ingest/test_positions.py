"""Page positions on generated PDFs: the boxes of a quote lie where its text was drawn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from reportlab.lib.pagesizes import A4

from ingest.parse import parse_pdf
from ingest.parse_worker import positions_of
from ingest.positions import locate_pages, page_coverage
from qa_service.page_positions import Box, PagePositions, quote_boxes
from qa_service.schemas import DocumentStatus
from tests.pdfs import HANGUL_FONT, Drawn, drawn_pdf, text_pdf

WIDTH, HEIGHT = A4
TOLERANCE = 2.0  # points
PROSE = [Drawn(72, 760, "The quick brown fox jumps over the lazy dog."),
         Drawn(72, 744, "Pack my box with five dozen liquor jugs.")]
KOREAN = Drawn(72, 700, "한국어 문장의 위치를 정확히 찾습니다", HANGUL_FONT, 12)
ROWS = [("Cash and cash equivalents", "2,822,795", "1,467,576"),
        ("Short-term investments", "1,266,206", "266,206"),
        ("Total current assets", "7,669,974", "5,720,291"),
        ("Accounts payable", "359,555", "312,842"),
        ("Total current liabilities", "5,466,312", "4,586,657"),
        ("Long-term debt", "6,499,432", "3,364,311"),
        ("Total liabilities", "15,430,786", "10,906,810")]
TABLE = [Drawn(72, 760, "CONSOLIDATED BALANCE SHEETS")] + [
    Drawn(x, 730 - 16 * row, cell) for row, cells in enumerate(ROWS)
    for x, cell in zip((72, 330, 450), cells, strict=True)]


def page_of(data: bytes, number: int = 1) -> tuple[str, PagePositions | None]:
    parsed = parse_pdf(data, max_pages=10)
    assert parsed.status is DocumentStatus.INDEXED, parsed.reason
    texts = [page.text for page in parsed.pages]
    return texts[number - 1], locate_pages(data, texts)[number - 1]


def boxes_of(text: str, positions: PagePositions | None, quote: str) -> tuple[list[Box], float]:
    start = text.index(quote)
    found = quote_boxes(text, positions, start, start + len(quote))
    assert found.positions and found.coverage is not None
    return list(found.boxes), found.coverage


def assert_drawn_at(box: Box, drawn: Drawn, quote: str) -> None:
    """`box` covers `quote` (a part of what `drawn` shows) where reportlab drew it."""
    offset = drawn.text.index(quote)
    left = drawn.x_of(drawn.text[:offset])
    baseline = HEIGHT - drawn.y  # top-left origin
    assert math.isclose(box.x0, left, abs_tol=TOLERANCE), (box, left)
    assert math.isclose(box.x1, left + drawn.width(quote), abs_tol=TOLERANCE), box
    assert baseline - 1.2 * drawn.size <= box.y0 <= baseline - 0.6 * drawn.size, box
    assert baseline <= box.y1 <= baseline + 0.4 * drawn.size, box


def test_the_boxes_of_a_quote_in_prose_lie_where_it_was_drawn() -> None:
    text, positions = page_of(drawn_pdf([PROSE]))
    assert positions is not None
    assert (positions.width, positions.height) == pytest.approx((WIDTH, HEIGHT))
    (box,), coverage = boxes_of(text, positions, "brown fox jumps")
    assert coverage == 1.0
    assert_drawn_at(box, PROSE[0], "brown fox jumps")


def test_a_quote_over_two_lines_gets_one_box_a_line() -> None:
    text, positions = page_of(drawn_pdf([PROSE]))
    first, second = boxes_of(text, positions, "lazy dog.\nPack my box")[0]
    assert_drawn_at(first, PROSE[0], "lazy dog.")
    assert_drawn_at(second, PROSE[1], "Pack my box")


def test_a_korean_quote_lies_where_it_was_drawn() -> None:
    text, positions = page_of(drawn_pdf([[*PROSE, KOREAN]]))
    assert "위치를" in text
    (box,), coverage = boxes_of(text, positions, "위치를 정확히")
    assert coverage == 1.0
    assert_drawn_at(box, KOREAN, "위치를 정확히")


def test_a_table_page_rewritten_with_cell_separators_finds_each_cell() -> None:
    text, positions = page_of(drawn_pdf([TABLE]))
    row = "Total current liabilities | 5,466,312 | 4,586,657"
    assert row in text.split("\n")  # the layout rewrite happened
    label, first, second = boxes_of(text, positions, row)[0]
    cells = [d for d in TABLE if d.y == 730 - 16 * 4]
    for box, drawn in zip((label, first, second), cells, strict=True):
        assert_drawn_at(box, drawn, drawn.text)
    bar = text.index(row) + len("Total current liabilities ")
    assert text[bar] == "|"
    assert quote_boxes(text, positions, bar, bar + 1).boxes == ()


def test_nearly_every_character_of_these_pages_has_a_box() -> None:
    for page in ([*PROSE, KOREAN], TABLE):
        text, positions = page_of(drawn_pdf([page]))
        assert page_coverage(text, positions) == 1.0


def test_characters_that_are_not_on_the_page_get_no_box() -> None:
    data = drawn_pdf([PROSE])
    drawn_text = page_of(data)[0]
    text = drawn_text + "\nThis sentence is not drawn anywhere on the page."
    (positions,) = locate_pages(data, [text])
    assert positions is not None
    boxes = positions.decode(text)
    assert boxes is not None
    assert np.isnan(boxes[len(drawn_text):]).all()
    assert not np.isnan(boxes[:len(drawn_text)][[not c.isspace() for c in drawn_text]]).any()
    missing = quote_boxes(text, positions, len(drawn_text) + 1, len(text))
    assert missing.positions and missing.boxes == () and missing.coverage == 0.0


def test_a_text_that_is_not_on_the_page_at_all_gets_no_boxes() -> None:
    text = "Sphinx of black quartz, judge my vow."
    (positions,) = locate_pages(drawn_pdf([PROSE]), [text])
    assert page_coverage(text, positions) == 0.0


def test_boxes_follow_the_page_s_rotation() -> None:
    """A page turned 90 degrees clockwise: its top is on the right, and the text runs
    down the page, displayed x = PDF y and displayed y = PDF x."""
    text, positions = page_of(drawn_pdf([PROSE], rotate=90))
    assert positions is not None
    assert (positions.width, positions.height) == pytest.approx((HEIGHT, WIDTH))
    (box,), _ = boxes_of(text, positions, "brown fox")
    left = PROSE[0].x_of("The quick ")
    assert math.isclose(box.y0, left, abs_tol=TOLERANCE)
    assert math.isclose(box.y1, left + PROSE[0].width("brown fox"), abs_tol=TOLERANCE)
    baseline = PROSE[0].y
    assert baseline - 0.4 * 10 <= box.x0 <= baseline < baseline + 0.6 * 10 <= box.x1 <= (
        baseline + 1.2 * 10)


def test_pages_beyond_the_document_or_without_text_have_no_positions() -> None:
    data = text_pdf(["Only one page here."])
    assert locate_pages(data, ["Only one page here.", "", "a second page text"])[1:] == [
        None, None]


def test_a_file_pdfium_cannot_open_has_no_positions_and_does_not_raise() -> None:
    assert locate_pages(b"%PDF-1.7\nnot really a pdf", ["some text"]) == [None]
    assert positions_of(b"garbage", ["a", "b"]) == [None, None]


def test_the_worker_s_positions_are_json_safe_and_round_trip() -> None:
    import json

    data = drawn_pdf([PROSE])
    text = page_of(data)[0]
    (entry,) = json.loads(json.dumps(positions_of(data, [text])))
    restored = PagePositions.from_json(entry)
    assert restored == locate_pages(data, [text])[0]


def test_a_failure_inside_positions_leaves_every_page_without_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(data: bytes, texts: list[str]) -> list[PagePositions | None]:
        raise MemoryError

    monkeypatch.setattr("ingest.positions.locate_pages", broken)
    assert positions_of(drawn_pdf([PROSE]), ["x", "y"]) == [None, None]
