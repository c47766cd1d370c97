"""The `PdfParser` contract: every parser in `ingest.parse.PARSERS`, in process, and the
service's way of running one (a `ParserPool` worker) must read and classify every fixture
the same way, and never raise."""

from __future__ import annotations

import base64
import io
import shutil
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfWriter

from bench.attack_pdfs import page_with_content
from ingest.parse import PARSERS, ParseResult, clean_page_text, find_pdf_header, parse_pdf
from ingest.parser_pool import ParserPool
from ingest.tesseract import tesseract_problem
from qa_service.schemas import DocumentStatus
from tests.ingest.conftest import MAX_PAGES
from tests.pdfs import (
    encrypted,
    image_only_pdf,
    render_pages_article,
    text_pdf,
    with_junk_prefix,
    with_title,
)

Parse = Callable[[bytes], ParseResult]

PAGES = [
    "The first page explains how apples are harvested in autumn.",
    "The second page covers storage of pears. It has two sentences.",
    "The third page lists cherry varieties.",
]


@pytest.fixture(params=[*PARSERS, "worker", "worker-ocr"])
def parse(request: pytest.FixtureRequest, tmp_path: Path) -> Parse:
    if request.param in PARSERS:
        parser = PARSERS[request.param]()
        return lambda data: parser.parse(data, max_pages=MAX_PAGES)
    pool: ParserPool = request.getfixturevalue(
        "ocr_pool" if request.param == "worker-ocr" else "pool")

    def through_worker(data: bytes) -> ParseResult:
        path = tmp_path / f"upload-{len(list(tmp_path.iterdir()))}.pdf"
        path.write_bytes(data)
        return pool.parse(path)

    return through_worker


def assert_pages(result: ParseResult, texts: list[str]) -> None:
    assert result.status is DocumentStatus.INDEXED, result.reason
    assert result.page_count == len(texts)
    assert [p.number for p in result.pages] == list(range(1, len(texts) + 1))
    assert [p.text for p in result.pages] == texts


def test_text_pdf_gives_each_pages_text(parse: Parse) -> None:
    result = parse(text_pdf(PAGES))
    assert_pages(result, PAGES)
    assert result.reason == ""


def test_long_lines_are_wrapped_into_one_page_text(parse: Parse) -> None:
    paragraph = " ".join(f"word{n}" for n in range(60))
    result = parse(text_pdf([paragraph], wrap=50))
    assert result.status is DocumentStatus.INDEXED
    assert result.pages[0].text.split() == paragraph.split()


def test_not_a_pdf_is_invalid(parse: Parse) -> None:
    result = parse(b"Dear team,\nthese are meeting notes, saved with a .pdf name.\n" * 20)
    assert result.status is DocumentStatus.INVALID
    assert "not a PDF" in result.reason
    assert result.pages == []


def test_empty_file_is_invalid(parse: Parse) -> None:
    result = parse(b"")
    assert result.status is DocumentStatus.INVALID
    assert result.reason


def test_truncated_pdf_is_invalid_or_failed_with_a_reason(parse: Parse) -> None:
    data = text_pdf(PAGES)
    result = parse(data[: len(data) // 2])
    assert result.status in (DocumentStatus.INVALID, DocumentStatus.FAILED)
    assert result.reason.strip()


def test_header_only_is_invalid(parse: Parse) -> None:
    result = parse(b"%PDF-1.7\n")
    assert result.status in (DocumentStatus.INVALID, DocumentStatus.FAILED)
    assert result.reason.strip()


def test_password_protected_pdf_is_encrypted(parse: Parse) -> None:
    result = parse(encrypted(text_pdf(PAGES), user_password="secret", owner_password="owner"))
    assert result.status is DocumentStatus.ENCRYPTED
    assert "password" in result.reason
    assert "unlocked copy" in result.reason
    assert result.pages == []


def test_owner_password_only_pdf_opens(parse: Parse) -> None:
    result = parse(encrypted(text_pdf(PAGES), user_password="", owner_password="owner"))
    assert_pages(result, PAGES)


def test_image_only_pdf_has_no_text(parse: Parse) -> None:
    result = parse(image_only_pdf(pages=2))
    assert result.status is DocumentStatus.NO_TEXT
    assert "OCR" in result.reason
    assert result.page_count == 2


def test_pdf_without_pages_has_no_text(parse: Parse) -> None:
    buffer = io.BytesIO()
    PdfWriter().write(buffer)
    result = parse(buffer.getvalue())
    assert result.status is DocumentStatus.NO_TEXT
    assert "no pages" in result.reason


def test_junk_before_the_header_within_1024_bytes_is_tolerated(parse: Parse) -> None:
    assert_pages(parse(with_junk_prefix(text_pdf(PAGES), 1000)), PAGES)


def test_junk_over_1024_bytes_is_invalid(parse: Parse) -> None:
    result = parse(with_junk_prefix(text_pdf(PAGES), 1030))
    assert result.status is DocumentStatus.INVALID
    assert "1,024" in result.reason


def test_too_many_pages_is_too_large(parse: Parse) -> None:
    result = parse(text_pdf([f"Page {n}." for n in range(1, MAX_PAGES + 2)]))
    assert result.status is DocumentStatus.TOO_LARGE
    assert result.page_count == MAX_PAGES + 1
    assert f"limit of {MAX_PAGES}" in result.reason
    assert "QA_INGEST__MAX_PAGES" in result.reason


def test_exactly_max_pages_is_fine(parse: Parse) -> None:
    texts = [f"Page number {n}." for n in range(1, MAX_PAGES + 1)]
    assert_pages(parse(text_pdf(texts)), texts)


def test_page_count_is_announced_before_extraction() -> None:
    heard: list[int] = []
    result = parse_pdf(text_pdf(PAGES), max_pages=10, on_page_count=heard.append)
    assert heard == [3]
    assert result.page_count == 3


def test_find_pdf_header() -> None:
    assert find_pdf_header(b"%PDF-1.4") == 0
    assert find_pdf_header(b"x" * 1019 + b"%PDF-") == 1019
    assert find_pdf_header(b"x" * 1020 + b"%PDF-") == -1
    assert find_pdf_header(b"PDF-1.4") == -1


def test_clean_page_text() -> None:
    decomposed = unicodedata.normalize("NFD", "한글")
    raw = f"  {decomposed}\x00 text\r\nwith\t\tspaces\u00a0here \r\r\r\n\n\nend\x0c  "
    assert clean_page_text(raw) == "한글 text\nwith spaces here\n\nend"


def test_the_documents_own_title_is_kept(parse: Parse) -> None:
    result = parse(with_title(text_pdf(PAGES), "Orchard  Handbook\n2024"))
    assert result.status is DocumentStatus.INDEXED
    assert result.title == "Orchard Handbook 2024"


@pytest.mark.parametrize("title", ["", "untitled", "Microsoft Word - notes.docx", "scan.pdf",
                                   "ab"])
def test_placeholder_titles_are_dropped(parse: Parse, title: str) -> None:
    result = parse(with_title(text_pdf(PAGES), title))
    assert result.status is DocumentStatus.INDEXED
    assert result.title == ""


def test_rendered_articles_carry_their_title(tmp_path: Path) -> None:
    data = render_pages_article(tmp_path / "a.pdf", "항구 도시 연례 보고서", ["본문입니다."])
    assert parse_pdf(data, max_pages=MAX_PAGES).title == "항구 도시 연례 보고서"


# --- streams that need a decoder ------------------------------------------------------------

TEXT = b"BT /F1 12 Tf 72 720 Td (Needs a decoder to read) Tj ET"
WORDS = "Needs a decoder to read"


def test_brotli_compressed_text_is_read(parse: Parse) -> None:
    brotli = pytest.importorskip("brotli")  # a dependency: pypdf decodes Brotli with it
    result = parse(page_with_content(brotli.compress(TEXT), b"/Filter /BrotliDecode"))
    assert result.status is DocumentStatus.INDEXED
    assert [p.text for p in result.pages] == ["Needs a decoder to read"]


DECODERS = [
    (page_with_content(base64.a85encode(TEXT) + b"~>", b"/Filter /A85"),
     "the abbreviated filter name /A85 outside an inline image"),
    (page_with_content(TEXT, b"/Filter /FooDecode"), "the /FooDecode filter"),
    (page_with_content(TEXT, b"/Filter /JBIG2Decode"), "the /JBIG2Decode filter"),
]


@pytest.mark.parametrize(("data", "named"), DECODERS, ids=["a85", "unknown", "jbig2"])
def test_pdfium_reads_a_stream_pypdf_cannot_decode(parse: Parse, data: bytes, named: str
                                                  ) -> None:
    result = parse(data)
    assert result.status is DocumentStatus.INDEXED, result.reason
    assert (result.ocr_pages, [p.text for p in result.pages]) == (0, [WORDS])


@pytest.mark.parametrize(("data", "named"), DECODERS, ids=["a85", "unknown", "jbig2"])
@pytest.mark.parametrize("parser", PARSERS)
def test_pypdf_reading_a_stream_it_cannot_decode_fails_with_a_reason_naming_the_filter(
        parser: str, data: bytes, named: str) -> None:
    """pypdf reads every page where pdfium cannot (`ingest.parse`)."""
    if "JBIG2" in named and shutil.which("jbig2dec"):
        pytest.skip("jbig2dec is installed here: pypdf can decode JBIG2")
    result = PARSERS[parser]("pypdf").parse(data, max_pages=MAX_PAGES)
    if parser == "ocr" and tesseract_problem() is None:
        # pdfium draws what pypdf cannot decode, and OCR reads the drawn page
        assert result.status is DocumentStatus.INDEXED, result.reason
        assert (result.ocr_pages, result.pages[0].text) == (1, "Needs a decoder to read")
        return
    assert result.status is DocumentStatus.FAILED  # the file is fine; this server cannot
    assert f"page 1 uses {named}, which this server cannot decode" in result.reason
    assert "damaged" not in result.reason


def test_a_missing_brotli_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import pypdf.filters

    brotli = pytest.importorskip("brotli")
    real = pypdf.filters.find_spec
    check = pypdf.filters.BrotliDecode._check_brotli_available  # remembers its answer
    monkeypatch.setattr(pypdf.filters, "find_spec",
                        lambda name, *a: None if name == "brotli" else real(name, *a))
    check.cache_clear()
    try:
        result = parse_pdf(page_with_content(brotli.compress(TEXT), b"/Filter /BrotliDecode"),
                           max_pages=MAX_PAGES, text_layer="pypdf")
    finally:
        check.cache_clear()
    assert result.status is DocumentStatus.FAILED
    assert "uses the /BrotliDecode filter" in result.reason
    assert "install the 'brotli' Python package" in result.reason


def test_readable_pages_are_kept_when_another_page_needs_a_missing_decoder() -> None:
    writer = PdfWriter()
    for data in (text_pdf(["A readable first page."]),
                 page_with_content(TEXT, b"/Filter /FooDecode")):
        writer.append(io.BytesIO(data))
    out = io.BytesIO()
    writer.write(out)
    result = parse_pdf(out.getvalue(), max_pages=MAX_PAGES, text_layer="pypdf")
    assert result.status is DocumentStatus.INDEXED
    assert "pages 2 could not be read" in result.reason and "/FooDecode" in result.reason
    both = parse_pdf(out.getvalue(), max_pages=MAX_PAGES)  # pdfium reads the second too
    assert [p.text for p in both.pages] == ["A readable first page.", WORDS]
    assert both.reason == ""


# --- table pages: one row a line ----------------------------------------------------------

ROWS = [("Cash and cash equivalents", "$", "2,822,795", "$", "1,467,576"),
        ("Short-term investments", "", "—", "", "266,206"),
        ("Total current assets", "", "7,669,974", "", "5,720,291"),
        ("Accounts payable", "", "359,555", "", "312,842"),
        ("Total current liabilities", "", "5,466,312", "", "4,586,657"),
        ("Long-term debt", "", "6,499,432", "", "3,364,311"),
        ("Total liabilities", "", "15,430,786", "", "10,906,810")]


def drawn_pdf(draw: Callable[[Any], None]) -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    canvas = Canvas(out)
    draw(canvas)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def balance_sheet(canvas: Any) -> None:
    canvas.setFont("Helvetica", 10)
    canvas.drawString(72, 760, "CONSOLIDATED BALANCE SHEETS")
    canvas.drawString(72, 745, "(in thousands)")
    canvas.drawString(330, 730, "2017")
    canvas.drawString(450, 730, "2016")
    for row, cells in enumerate(ROWS):
        y = 710 - 16 * row
        canvas.drawString(72, y, cells[0])
        for x, cell in zip((310, 330, 430, 450), cells[1:], strict=True):
            if cell:
                canvas.drawString(x, y, cell)


def two_columns_of_figures(canvas: Any) -> None:
    canvas.setFont("Helvetica", 10)
    left = [f"In {1990 + n} the plant made {n * 1000 + 7} units and hired {n * 3 + 1} people."
            for n in range(12)]
    for row, line in enumerate(left):
        canvas.drawString(50, 760 - 14 * row, line[:44])
        canvas.drawString(320, 760 - 14 * row, line[44:] + f" Output {row * 311} tonnes.")


def test_a_table_page_keeps_each_row_s_label_with_its_figures() -> None:
    result = parse_pdf(drawn_pdf(balance_sheet), max_pages=MAX_PAGES)
    lines = result.pages[0].text.split("\n")
    assert "Total current liabilities | 5,466,312 | 4,586,657" in lines
    assert "Cash and cash equivalents | $ 2,822,795 | $ 1,467,576" in lines
    assert "CONSOLIDATED BALANCE SHEETS" in lines


def test_prose_with_figures_in_two_columns_is_not_read_as_a_table() -> None:
    text = parse_pdf(drawn_pdf(two_columns_of_figures), max_pages=MAX_PAGES).pages[0].text
    assert " | " not in text


def invoice_drawn_by_columns(canvas: Any) -> None:
    """Two item rows, drawn as a generator of invoices does: every name, then every
    quantity, then every amount, so the content order tears each row apart."""
    canvas.setFont("Helvetica", 10)
    canvas.drawString(72, 760, "INVOICE 2023-11")
    canvas.drawString(72, 740, "Billed to Example Trading Ltd, 12 Harbour Road, Portsmouth")
    canvas.drawString(72, 725, "Issued 2023-11-10, due 2023-12-28, phone 0212-3456-7890")
    canvas.drawString(72, 710, "Account 1234-5678-9012-3456 at Example Bank")
    items = [("Design fee", "1", "3,000,000"), ("Revision fee", "1", "200,000")]
    for x, column in ((72, 0), (300, 1), (450, 2)):
        for row, cells in enumerate(items):
            canvas.drawString(x, 680 - 16 * row, cells[column])
    canvas.drawString(72, 640, "Please pay within 30 days.")


def test_a_table_drawn_column_by_column_is_read_row_by_row() -> None:
    """Few rows, so the page is no table by its share of rows; but the plain text never
    has a label next to its figure, so the rows come from the page's layout."""
    plain = drawn_pdf(invoice_drawn_by_columns)
    lines = parse_pdf(plain, max_pages=MAX_PAGES).pages[0].text.split("\n")
    assert "Design fee | 1 | 3,000,000" in lines
    assert "Revision fee | 1 | 200,000" in lines
    assert "Please pay within 30 days." in lines


def test_a_number_cut_at_a_glyph_gap_is_one_cell() -> None:
    from ingest.parse import _cells

    assert _cells(["Revision fee", "1", "200", ",000", "200,000"]) == [
        "Revision fee", "1", "200,000", "200,000"]
    assert _cells(["Subtotal", "3,2", "00,000"]) == ["Subtotal", "3,200,000"]
    assert _cells(["Item", "12", "3,000"]) == ["Item", "12", "3,000"]
    assert _cells(["Total", "$", "1,5", "2"]) == ["Total", "$ 1,5", "2"]
