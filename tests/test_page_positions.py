"""Encoding page positions, and the rectangles that cover a range of a page's text."""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np
import pytest

from qa_service.errors import InvalidRange
from qa_service.page_positions import Box, PagePositions, coverage, quote_boxes

TEXT = "ab cd\nef | gh"


def char_boxes() -> np.ndarray:
    """Two lines of 10-point-high glyphs, 6 points wide; "gh" far right of "ef"."""
    boxes = np.full((len(TEXT), 4), np.nan, dtype=np.float32)
    for i, x in zip((0, 1, 3, 4), (10, 16, 25, 31), strict=True):
        boxes[i] = (x, 100, x + 6, 110)
    for i, x in zip((6, 7, 11, 12), (10, 16, 200, 206), strict=True):
        boxes[i] = (x, 115, x + 6, 125)
    return boxes


def positions() -> PagePositions:
    return PagePositions.encode(TEXT, 300.0, 400.0, char_boxes())


def test_boxes_round_trip_to_a_sixteenth_of_a_point() -> None:
    decoded = positions().decode(TEXT)
    assert decoded is not None
    assert np.allclose(decoded, char_boxes(), atol=1 / 32, equal_nan=True)


def test_positions_of_another_text_are_not_used() -> None:
    assert positions().decode(TEXT.replace("a", "x")) is None
    assert positions().decode(TEXT + " ") is None


def test_damaged_or_unknown_positions_are_treated_as_missing() -> None:
    good = positions()
    for bad in (dataclasses.replace(good, boxes=good.boxes[:-3]),
                dataclasses.replace(good, boxes=zlib.compress(b"\x00" * 7)),
                dataclasses.replace(good, format=2)):
        assert bad.decode(TEXT) is None
        assert not quote_boxes(TEXT, bad, 0, 2).positions


def test_a_page_of_text_takes_about_two_bytes_a_character() -> None:
    text = "x" * 3000
    boxes = np.array([[10 + 5 * (i % 90), 100 + 12 * (i // 90), 15 + 5 * (i % 90),
                       110 + 12 * (i // 90)] for i in range(3000)], dtype=np.float32)
    assert len(PagePositions.encode(text, 595, 842, boxes).boxes) < 2 * len(text)


def test_boxes_are_clipped_to_the_page_and_those_off_it_dropped() -> None:
    boxes = np.array([[-5, -5, 10, 10], [400, 10, 420, 20], [290, 390, 320, 420]],
                     dtype=np.float32)
    decoded = PagePositions.encode("abc", 300, 400, boxes).decode("abc")
    assert decoded is not None
    assert decoded[0].tolist() == [0, 0, 10, 10]
    assert np.isnan(decoded[1]).all()
    assert decoded[2].tolist() == [290, 390, 300, 400]


def test_a_large_page_uses_a_coarser_unit() -> None:
    boxes = np.array([[0, 0, 10000, 5000]], dtype=np.float32)
    encoded = PagePositions.encode("a", 14400, 14400, boxes)
    assert encoded.unit > 1 / 16
    decoded = encoded.decode("a")
    assert decoded is not None and np.allclose(decoded, boxes, atol=encoded.unit)


def test_the_json_form_round_trips() -> None:
    assert PagePositions.from_json(positions().to_json()) == positions()


def test_a_range_gives_one_rectangle_a_line_run() -> None:
    found = quote_boxes(TEXT, positions(), 0, len(TEXT))
    assert found.positions and found.coverage == 1.0
    assert found.boxes == (Box(10, 100, 37, 110), Box(10, 115, 22, 125),
                           Box(200, 115, 212, 125))


def test_a_range_inside_a_line() -> None:
    found = quote_boxes(TEXT, positions(), 1, 4)
    assert found.boxes == (Box(16, 100, 31, 110),)


def test_coverage_counts_visible_characters_without_the_cell_separator() -> None:
    boxes = char_boxes()
    assert coverage(TEXT, boxes) == 1.0
    boxes[1] = np.nan
    assert coverage(TEXT, boxes) == pytest.approx(7 / 8)
    assert coverage("   ", boxes[:3]) == 1.0


def test_a_page_without_positions_says_so() -> None:
    found = quote_boxes(TEXT, None, 0, 2)
    assert not found.positions and found.boxes == () and found.coverage is None


@pytest.mark.parametrize(("start", "end"), [(-1, 2), (3, 3), (4, 2), (0, len(TEXT) + 1)])
def test_a_range_outside_the_text_is_refused(start: int, end: int) -> None:
    with pytest.raises(InvalidRange, match=f"has {len(TEXT)} characters"):
        quote_boxes(TEXT, positions(), start, end)
