"""Running headers, footers and page numbers leave the page text (ingest/running_lines.py)."""

from __future__ import annotations

import numpy as np

from ingest.context import document_identity
from ingest.running_lines import strip_running_lines
from qa_service.page_positions import PagePositions
from qa_service.schemas import Page


def pages_of(*bodies: str, head: str = "Table of Contents", foot: str = "Page {n} of 9"
             ) -> list[Page]:
    return [Page(n, f"{head}\n{body}\n{foot.format(n=n)}") for n, body in
            enumerate(bodies, start=1)]


BODIES = ("Revenue grew by a tenth.", "Costs fell.", "Cash rose to 5,000.", "Debt was repaid.",
          "Margins widened.")


def test_a_header_and_numbered_footer_on_every_page_are_removed() -> None:
    stripped, running = strip_running_lines(pages_of(*BODIES))
    assert [p.text for p in stripped] == list(BODIES)
    assert running == ["Table of Contents", "Page 1 of 9"]  # as page 1 sets them
    assert [p.number for p in stripped] == [1, 2, 3, 4, 5]


def test_lines_repeated_inside_the_page_are_content() -> None:
    bodies = [f"Intro {n}.\nFirst {n}.\nTotal assets\nMore {n}.\nEven more {n}.\nEnd {n}."
              for n in range(5)]
    stripped, _ = strip_running_lines([Page(n, b) for n, b in enumerate(bodies, start=1)])
    assert all("Total assets" in p.text for p in stripped)


def test_a_table_header_row_repeated_on_every_page_is_kept() -> None:
    pages = pages_of(*BODIES, head="State | Permit | Handgun | Long gun")
    stripped = strip_running_lines(pages)[0]
    assert all(p.text.startswith("State | Permit") for p in stripped)
    assert not any("Page" in p.text for p in stripped)


def test_short_documents_and_rare_lines_are_left_alone() -> None:
    three = pages_of(*BODIES[:3])
    assert strip_running_lines(three)[0] == three
    mixed = pages_of(*BODIES, head="Chapter {n}")  # a different first line on each page
    assert all(p.text.startswith("Chapter") for p in strip_running_lines(
        [Page(p.number, p.text.replace("Chapter {n}", f"Chapter {chr(64 + p.number)}"))
         for p in mixed])[0])


def test_a_line_on_fewer_than_four_in_ten_pages_is_kept() -> None:
    words = "apple pear plum fig lime kiwi date lemon peach grape".split()

    def pages(drafts: int) -> list[Page]:
        return [Page(n, ("Draft\n" if n <= drafts else "") + f"The {w} is ripe.\nEat the {w}."
                     f"\nSell the {w}.\nKeep the {w}.") for n, w in enumerate(words, start=1)]

    assert all(p.text.startswith("Draft") for p in strip_running_lines(pages(3))[0][:3])
    stripped = strip_running_lines(pages(4))[0]
    assert not any("Draft" in p.text for p in stripped)
    assert all(p.text.count("\n") == 3 for p in stripped)  # nothing else went


def test_a_page_is_never_emptied() -> None:
    pages = [Page(n, f"Page number {n}.") for n in range(1, 6)]
    assert strip_running_lines(pages)[0] == pages


def test_a_running_header_that_names_the_document_joins_its_identity() -> None:
    pages = pages_of(*BODIES, head="Johnson & Johnson and Subsidiaries", foot="{n}")
    stripped, running = strip_running_lines(pages)
    assert running == ["Johnson & Johnson and Subsidiaries", "1"]
    identity = document_identity("doc_01.pdf", "", stripped, running)
    assert "Johnson & Johnson and Subsidiaries" in identity and "| 1" not in identity


def test_the_positions_of_the_text_that_is_left_are_kept() -> None:
    pages = pages_of(*BODIES)
    placed = []
    for page in pages:
        boxes = np.asarray([[i, page.number * 10, i + 1, page.number * 10 + 8]
                            for i in range(len(page.text))], dtype=np.float32)
        boxes[[i for i, ch in enumerate(page.text) if ch.isspace()]] = np.nan
        placed.append(Page(page.number, page.text,
                           PagePositions.encode(page.text, 600, 800, boxes)))
    stripped, _ = strip_running_lines(placed)
    for before, after in zip(placed, stripped, strict=True):
        assert after.positions is not None
        boxes = after.positions.decode(after.text)
        assert boxes is not None and len(boxes) == len(after.text)
        start = before.text.index(after.text)  # the body line, now alone
        old = before.positions.decode(before.text) if before.positions else None
        assert old is not None
        np.testing.assert_allclose(boxes, old[start:start + len(after.text)])
