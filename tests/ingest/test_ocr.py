"""OCR of pages without a usable text layer (`ingest.ocr`, `ingest.tesseract`,
`ingest.render`): scans read in English and Korean, page by page among text pages, with a
box per character, within time and pixel limits; pages that stay empty are reported.
The `PdfParser` contract itself runs against the `ocr` parser in `test_parse.py`."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import numpy as np
import pytest

from bench.attack_pdfs import attack_huge_page, attack_scan_bomb
from ingest.ocr import OcrOptions, OcrParser, needs_ocr, ocr_status, word_characters
from ingest.parse import PypdfParser
from ingest.parser_pool import ParserLimits, ParserPool
from ingest.positions import locate_pages
from ingest.tesseract import (
    MIN_CONFIDENCE,
    Word,
    assemble,
    recognize,
    tesseract_problem,
    words_of,
)
from qa_service.eval.render import rasterized
from qa_service.page_positions import quote_boxes
from qa_service.schemas import DocumentStatus
from tests.pdfs import image_only_pdf, joined_pdf, render_pages_article, scanned_pdf, text_pdf

pytestmark = pytest.mark.skipif(
    tesseract_problem() is not None,
    reason=f"OCR cannot run here: {tesseract_problem()} (`make install` installs it)")

ENGLISH = [
    "The harbour bridge opened in March 1932 after eight years of building. It carries "
    "eight lanes of road traffic and two railway tracks across the water.",
    "Ferries leave the northern wharf every twenty minutes between six in the morning "
    "and midnight. A single ticket costs four dollars and fifty cents.",
]
KOREAN = ("서울 지하철 2호선은 1980년에 처음 개통되었으며 순환선으로 운행된다. 하루 평균 "
          "이용객은 약 200만 명으로 국내에서 가장 붐비는 노선이다.")


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, " ".join(a.split()), " ".join(b.split())).ratio()


def test_a_scanned_document_is_read_page_by_page() -> None:
    result = OcrParser().parse(scanned_pdf(ENGLISH), max_pages=50)
    assert result.status is DocumentStatus.INDEXED, result.reason
    assert (result.page_count, result.ocr_pages, result.reason) == (2, 2, "")
    for page, truth in zip(result.pages, ENGLISH, strict=True):
        assert similarity(page.text, truth) > 0.97, page.text


def test_korean_scans_are_read(tmp_path: Path) -> None:
    data = rasterized(render_pages_article(tmp_path / "ko.pdf", "지하철", [KOREAN]))
    result = OcrParser().parse(data, max_pages=50)
    assert result.status is DocumentStatus.INDEXED, result.reason
    assert result.ocr_pages == 1
    assert similarity(result.pages[0].text, "지하철 " + KOREAN) > 0.9, result.pages[0].text
    assert "200만" in result.pages[0].text


def test_only_pages_without_text_are_ocrd_and_empty_pages_are_reported() -> None:
    blank = rasterized(image_only_pdf(pages=1))
    data = joined_pdf(text_pdf([ENGLISH[0]]), scanned_pdf([ENGLISH[1]]), blank)
    started: list[int] = []
    ocr = OcrParser().parse(data, max_pages=50, on_ocr_page=started.append)
    assert started == [2, 3]
    assert ocr.status is DocumentStatus.INDEXED
    assert ocr.ocr_pages == 1
    assert ocr.pages[0].text == PypdfParser().parse(
        text_pdf([ENGLISH[0]]), max_pages=5).pages[0].text  # the text layer, as it was
    assert similarity(ocr.pages[1].text, ENGLISH[1]) > 0.97
    assert ocr.pages[2].text == ""
    assert ocr.reason == "page 3 has no text (OCR found none)"
    plain = PypdfParser().parse(data, max_pages=50)
    assert plain.status is DocumentStatus.INDEXED
    assert plain.ocr_pages == 0
    assert plain.reason == ("pages 2, 3 have no text (scanned or image-only pages need OCR "
                            "(QA_INGEST__OCR=auto))")


def test_nothing_found_is_no_text_with_the_reason() -> None:
    result = OcrParser().parse(rasterized(image_only_pdf(pages=2)), max_pages=50)
    assert result.status is DocumentStatus.NO_TEXT
    assert result.reason == ("no text layer: the pages look scanned or image-only; OCR found "
                             "no text on them")
    assert result.page_count == 2


def test_ocr_boxes_are_where_the_words_are_printed() -> None:
    text_layer = text_pdf([ENGLISH[0]])
    truth = PypdfParser().parse(text_layer, max_pages=5).pages[0]
    glyphs = locate_pages(text_layer, [truth.text])[0]
    page = OcrParser().parse(rasterized(text_layer), max_pages=5).pages[0]
    assert page.positions is not None and glyphs is not None
    word = "railway"
    ours = quote_boxes(page.text, page.positions, page.text.index(word),
                       page.text.index(word) + len(word))
    theirs = quote_boxes(truth.text, glyphs, truth.text.index(word),
                         truth.text.index(word) + len(word))
    assert ours is not None and theirs is not None
    assert (ours.width, ours.height) == pytest.approx((theirs.width, theirs.height), abs=1.0)
    (box,), (glyph,) = ours.boxes, theirs.boxes
    for mine, drawn in zip((box.x0, box.y0, box.x1, box.y1),
                           (glyph.x0, glyph.y0, glyph.x1, glyph.y1), strict=True):
        assert mine == pytest.approx(drawn, abs=4.0)  # points: a few pixels at 200 dpi


def test_a_scan_bomb_is_refused_by_the_pixel_limit_not_decoded() -> None:
    result = OcrParser().parse(attack_scan_bomb(), max_pages=5)
    assert result.status is DocumentStatus.NO_TEXT
    assert "its images decode to 1,250 MB, over the OCR limit of 300 MB" in (
        result.reason)


def test_a_huge_page_is_refused_and_a_large_one_drawn_smaller() -> None:
    result = OcrParser().parse(attack_huge_page(), max_pages=5)
    assert result.status is DocumentStatus.NO_TEXT
    assert "200 x 200 inches, too large to read at 50 dpi" in result.reason
    # 300 dpi would be 5.2 million pixels, over a 4 million limit: drawn at about 260 dpi
    result = OcrParser(OcrOptions(dpi=300, max_megapixels=4)).parse(
        scanned_pdf([ENGLISH[0]]), max_pages=5)
    assert result.ocr_pages == 1
    assert similarity(result.pages[0].text, ENGLISH[0]) > 0.97


def test_a_page_past_its_time_limit_is_reported_and_the_others_read() -> None:
    data = scanned_pdf(ENGLISH)
    result = OcrParser(OcrOptions(page_timeout_s=0.01)).parse(data, max_pages=5)
    assert result.status is DocumentStatus.NO_TEXT
    assert "page 1: OCR ran past its limit of 0.01 s" in result.reason


def test_the_worker_pool_gives_each_ocr_page_its_own_budget(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(scanned_pdf([*ENGLISH, ENGLISH[0]]))
    warm = tmp_path / "text.pdf"  # the worker's imports are done before the timed parse
    warm.write_bytes(text_pdf([ENGLISH[0]]))
    # 1 s reads no page: the budgets of the pages OCR starts on carry the document
    tight = ParserLimits(timeout_base_s=1.0, timeout_per_page_s=0.0, parser="ocr",
                         ocr_page_budget_s=60.0)
    with ParserPool(tight) as pool:
        assert pool.parse(warm).status is DocumentStatus.INDEXED
        result = pool.parse(path)
    assert result.status is DocumentStatus.INDEXED, result.reason
    assert result.ocr_pages == 3
    assert all(page.positions is not None for page in result.pages)
    assert similarity(result.pages[2].text, ENGLISH[0]) > 0.97
    # pages that get (next to) no budget of their own: the 1 s of the document ends it
    none = ParserLimits(timeout_base_s=1.0, timeout_per_page_s=0.0, parser="ocr",
                        ocr_page_budget_s=0.01)
    with ParserPool(none) as pool:
        result = pool.parse(path)
    assert result.status is DocumentStatus.FAILED
    assert re.search(r"\(and 0\.01 s for each of the [123] pages OCR started on\)", result.reason)


@pytest.mark.parametrize(("text", "needed"), [
    ("", True),
    ("Page 3", True),
    ("A short caption of twelve words, and more than twenty letters.", False),
    ("\ue000\ue001\ue002 " * 10 + "abc", True),  # glyphs that map to no character
    ("Revenue in 2015: $12,400 thousand", False),
    ("/g437/g258/g301/g302/g303/g304/g305/g306/g307/g308/g309/g310 Total", True),
    ("F n e m b \\ h e h k ; e Z \\ d I n k ^ ; e Z \\ d ! D 6 * ) )", True),  # shifted map
    ("Total | 5,466,312 | 4,586,657 | - | - | 12 | 7 | Net | 1 | 2", False),  # a table row
])
def test_which_pages_need_ocr(text: str, needed: bool) -> None:
    assert needs_ocr(text) is needed


def test_ocr_replaces_a_layer_only_with_more_letters_in_words() -> None:
    assert word_characters("F n e m b h e h k e Z d I n k") == 0
    assert word_characters("Multicolor Black (K = 100)") == len("MulticolorBlack100")
    assert word_characters("/g437/g258 ua") == 2


def test_the_text_keeps_tesseracts_spacing_and_drops_noise() -> None:
    words = [Word("서울", 10, 10, 40, 20, 95.0), Word("특", 55, 10, 20, 20, 90.0),
             Word("별", 75, 10, 20, 20, 90.0), Word("시", 95, 10, 20, 20, 90.0),
             Word("~", 130, 10, 10, 20, MIN_CONFIDENCE - 1), Word("2", 10, 40, 10, 20, 91.0)]
    result = assemble("서울 특별시 ~\n\n2\n", words)
    assert result.text == "서울 특별시\n2"
    assert result.boxes is not None
    assert result.boxes.shape == (len(result.text), 4)
    np.testing.assert_allclose(result.boxes[0], [10, 10, 30, 30])  # 서 of 서울
    np.testing.assert_allclose(result.boxes[4], [75, 10, 95, 30])  # 별
    assert np.isnan(result.boxes[2]).all() and np.isnan(result.boxes[6]).all()
    # a table that does not hold the plain text's characters: the text alone
    assert assemble("서울 특별시", words[:2]) == type(result)("서울 특별시", None)


def test_tsv_rows_that_are_not_words_are_skipped() -> None:
    table = ("level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\t"
             "height\tconf\ttext\n1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n"
             "5\t1\t1\t1\t1\t1\t5\t6\t7\t8\t96.5\tword\n5\t1\t1\t1\t1\t2\t5\t6\t7\t8\t-1\t \n")
    assert words_of(table) == [Word("word", 5, 6, 7, 8, 96.5)]


def test_recognize_reads_an_image() -> None:
    import pypdfium2 as pdfium

    page = pdfium.PdfDocument(text_pdf([ENGLISH[1]]))[0]
    image = page.render(scale=200 / 72, grayscale=True).to_numpy().squeeze()
    result = recognize(np.ascontiguousarray(image), "eng", 60)
    assert similarity(result.text, ENGLISH[1]) > 0.97


def test_ocr_status_says_why_it_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ocr_status("auto", "kor+eng").enabled
    assert ocr_status("auto", "kor+eng").engine.startswith("tesseract ")
    off = ocr_status("off", "kor+eng")
    assert (off.enabled, off.reason) == (False, "turned off (QA_INGEST__OCR=off)")
    missing = ocr_status("auto", "kor+xyz")
    assert not missing.enabled
    assert "no data for xyz" in missing.reason and "tesseract-ocr-xyz" in missing.reason
    monkeypatch.setenv("PATH", "/nonexistent")
    gone = ocr_status("auto", "kor+eng")
    assert not gone.enabled
    assert "tesseract program is not installed" in gone.reason


def tsv_of(*words: tuple[str, int, float]) -> str:
    """A TSV table of words, each (text, top, confidence) at x = 10 * its place."""
    rows = ["level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\t"
            "height\tconf\ttext"]
    rows += [f"5\t1\t1\t1\t1\t{n}\t{10 * n}\t{top}\t8\t20\t{confidence}\t{text}"
             for n, (text, top, confidence) in enumerate(words, start=1)]
    return "\n".join(rows) + "\n"


def test_words_misread_across_scripts_are_read_again_with_each_language(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import ingest.tesseract as tesseract

    page = [Word("친박계", 0, 0, 60, 20, 95.0), Word("SES", 70, 0, 40, 20, 91.0),
            Word("의원은", 120, 0, 60, 20, 96.0), Word("중국", 0, 30, 40, 20, 95.0),
            Word("81\\", 50, 30, 40, 20, 88.0), Word("UN", 100, 30, 30, 20, 96.0),
            Word("라디오에", 140, 30, 80, 20, 94.0)]
    asked: list[str] = []

    def run(sheet: np.ndarray, language: str, *args: object) -> list[str]:
        asked.append(language)
        _, spans = tesseract._word_sheet(sheet, [page[1], page[4], page[5]])
        middles = [(top + bottom) // 2 - 10 for top, bottom in spans]
        readings = {"kor": [("홍", 94.0), ("81", 60.0), ("유엔", 70.0)],
                    "eng": [("SES", 91.0), ("BTV", 90.0), ("UN", 96.0)]}[language]
        return [tsv_of(*[(text, middle, confidence) for (text, confidence), middle
                         in zip(readings, middles, strict=True)])]

    monkeypatch.setattr(tesseract, "_run", run)
    image = np.full((80, 240), 255, dtype=np.uint8)
    read = tesseract._reread_doubtful(image, page, "kor+eng", 0.0, 1.0)
    assert asked == ["kor", "eng"]
    assert [w.text for w in read] == ["친박계", "홍", "의원은", "중국", "BTV", "UN", "라디오에"]
    assert (read[1].left, read[1].width) == (70, 40)  # the box stays the word's
    asked.clear()  # a page mostly in Latin letters, or one language: nothing read again
    english = [Word("The", 0, 0, 30, 20, 96.0), Word("SES", 40, 0, 30, 20, 91.0)]
    assert tesseract._reread_doubtful(image, english, "kor+eng", 0.0, 1.0) == english
    assert tesseract._reread_doubtful(image, page, "kor", 0.0, 1.0) == page
    assert asked == []


def test_a_unit_written_as_a_korean_letter_is_read_as_m() -> None:
    words = [Word("2.43ㅁ를", 0, 0, 70, 20, 90.0), Word("5ㅁ", 80, 0, 20, 20, 90.0),
             Word("ㅁ자", 110, 0, 20, 20, 90.0)]
    assert assemble("2.43ㅁ를 5ㅁ ㅁ자", words).text == "2.43m를 5m ㅁ자"


def test_pages_read_in_parallel_come_back_in_order_and_a_refused_last_page_loses_none(
        ) -> None:
    data = joined_pdf(scanned_pdf(ENGLISH), scanned_pdf([ENGLISH[0]]), attack_huge_page())
    started: list[int] = []
    one = OcrParser(OcrOptions(threads=1)).parse(data, max_pages=10)
    three = OcrParser(OcrOptions(threads=3)).parse(data, max_pages=10,
                                                   on_ocr_page=started.append)
    assert started == [1, 2, 3, 4]
    assert [p.text for p in three.pages] == [p.text for p in one.pages]
    assert (three.ocr_pages, three.status) == (3, DocumentStatus.INDEXED)
    assert similarity(three.pages[2].text, ENGLISH[0]) > 0.97
    assert three.reason == ("page 4 has no text (OCR found none; page 4: the page is 200 x 200 "
                            "inches, too large to read at 50 dpi or more within 40 million "
                            "pixels)")
