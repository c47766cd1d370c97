"""OCR for pages without a usable text layer: the `ocr` implementation of `PdfParser`.

It reads the text layer as the `pypdf` parser does (`ingest.parse.parse_pdf`), then, page by page,
renders each page whose text layer is empty or unusable (`needs_ocr`) with pdfium
(`ingest.render`) and reads it with Tesseract (`ingest.tesseract`). A page keeps the OCR
text when it holds more letters and digits in words than its text layer, with a box for each
character (`PagePositions`, as the text layer's glyphs have), so that a quote from a
scanned page can be shown on it. Each page has its own time limit and the renderer's
pixel limits; a page over one keeps its text layer and is named in the document's reason.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ingest.parse import TEXT_LAYERS, FilledPages, ParseResult, clean_page_text, parse_pdf
from ingest.render import PageImage, PdfPages, RenderRefused
from ingest.tesseract import (
    DEFAULT_LANGUAGES,
    OcrError,
    OcrText,
    recognize,
    tesseract_problem,
    tesseract_version,
)
from qa_service.page_positions import PagePositions
from qa_service.parser_identity import DEFAULT_DPI
from qa_service.schemas import Page

__all__ = ["OcrOptions", "OcrParser", "OcrStatus", "TesseractPages", "needs_ocr", "ocr_status",
           "readable_characters", "word_characters"]

MIN_READABLE = 20  # a page whose text layer has fewer letters and digits is read by OCR
MAX_UNREADABLE_SHARE = 0.3  # ... or whose characters are this often unmapped glyphs
MAX_LONE_SHARE = 0.6  # ... or whose words (10 or more) are this often one Latin letter
_READABLE = re.compile(r"[^\W_]")
_UNMAPPED = re.compile(r"[\ufffd\ue000-\uf8ff]")  # replacement and private-use characters
# what pypdf writes for glyphs of a font with no Unicode map: "/g437", "(cid:12)", "/uni0041"
_GLYPH_NAMES = re.compile(r"/g\d+|\(cid:\d+\)|/uni[0-9A-Fa-f]{4,}")
_LONE = re.compile(r"[A-Za-z]")  # one Latin letter


@dataclass(frozen=True)
class OcrOptions:
    """How pages are read (`QA_INGEST__OCR_*` settings)."""

    languages: str = DEFAULT_LANGUAGES
    dpi: float = DEFAULT_DPI
    page_timeout_s: float = 60.0
    max_megapixels: float = 40.0  # of the rendered page (A4 at 200 dpi: 3.9)
    max_image_mb: float = 300.0  # the page's images, decoded (read before decoding)
    threads: int = 2  # Tesseract processes at once (pages of one document in parallel)


@dataclass(frozen=True)
class OcrStatus:
    """Whether this server OCRs pages, with what, and if not, why (for `/health`)."""

    enabled: bool
    languages: str
    engine: str = ""  # "tesseract 5.3.0"
    reason: str = ""  # why OCR is off, in words

    def to_json(self) -> dict[str, object]:
        return {"enabled": self.enabled, "languages": self.languages, "engine": self.engine,
                "reason": self.reason}


def ocr_status(mode: str, languages: str) -> OcrStatus:
    """`mode` "auto" turns OCR on where Tesseract and its `languages` are installed; "off"
    turns it off."""
    if mode == "off":
        return OcrStatus(False, languages, reason="turned off (QA_INGEST__OCR=off)")
    problem = tesseract_problem(languages)
    if problem is not None:
        return OcrStatus(False, languages, reason=problem)
    return OcrStatus(True, languages, tesseract_version())


def readable_characters(text: str) -> int:
    """Letters and digits, glyph names ("/g437") left out."""
    return len(_READABLE.findall(_GLYPH_NAMES.sub(" ", text)))


def word_characters(text: str) -> int:
    """The letters and digits of words of two or more of them: what a text layer or an OCR
    reading of the same page is compared by (a layer of lone shifted characters, "F n e m
    b", holds as many letters as the page but no words)."""
    return sum(count for token in _GLYPH_NAMES.sub(" ", text).split()
               if (count := len(_READABLE.findall(token))) >= 2)


def needs_ocr(text: str) -> bool:
    """Whether a page's text layer is empty or unusable: under `MIN_READABLE` letters and
    digits; mostly glyphs that map to no character, or glyph names (a font without a
    Unicode map); or mostly lone Latin letters (a font whose map is shifted)."""
    if readable_characters(text) < MIN_READABLE:
        return True
    visible = len(text) - text.count(" ") - text.count("\n")
    unmapped = len(_UNMAPPED.findall(text)) + sum(len(m) for m in _GLYPH_NAMES.findall(text))
    if unmapped > MAX_UNREADABLE_SHARE * max(1, visible):
        return True
    tokens = text.split()
    lone = sum(1 for token in tokens if len(token) == 1 and _LONE.fullmatch(token))
    return len(tokens) >= 10 and lone >= MAX_LONE_SHARE * len(tokens)


@dataclass
class TesseractPages:
    """The `PageFiller` that reads pages with Tesseract."""

    options: OcrOptions = field(default_factory=OcrOptions)

    def fill(self, data: bytes, pages: list[Page],
             on_page: Callable[[int], None] | None = None,
             avoid: Collection[int] = ()) -> FilledPages:
        """Pages are drawn one at a time (pdfium is not thread-safe) and read by up to
        `options.threads` Tesseract processes at once."""
        wanted = [page.number for page in pages
                  if needs_ocr(page.text) and page.number not in avoid]
        if not wanted:
            return FilledPages(pages, [])
        try:
            document = PdfPages(data)
        except RenderRefused as exc:  # the text layer stands without OCR
            return FilledPages(pages, [], str(exc))
        options = self.options
        threads = max(1, options.threads)
        reads: dict[int, Page] = {}
        problems: dict[int, str] = {}
        with document, ThreadPoolExecutor(threads, thread_name_prefix="ocr") as readers:
            running: deque[tuple[int, PageImage, Future[OcrText]]] = deque()
            for number in wanted:
                if on_page is not None:
                    on_page(number)
                try:
                    image = document.draw(number, options.dpi,
                                          int(options.max_megapixels * 1e6),
                                          int(options.max_image_mb * 1e6))
                except RenderRefused as exc:
                    problems[number] = str(exc)
                    continue
                running.append((number, image, readers.submit(
                    recognize, image.pixels, options.languages, options.page_timeout_s)))
                while len(running) >= threads:
                    self._collect(*running.popleft(), reads, problems)
            while running:
                self._collect(*running.popleft(), reads, problems)
        out = list(pages)
        filled = [number for number, read in sorted(reads.items())
                  if word_characters(read.text) > word_characters(out[number - 1].text)]
        for number in filled:
            out[number - 1] = reads[number]
        problem = next((f"page {n}: {why}" for n, why in sorted(problems.items())), "")
        return FilledPages(out, filled, problem)

    @staticmethod
    def _collect(number: int, image: PageImage, reading: Future[OcrText],
                 reads: dict[int, Page], problems: dict[int, str]) -> None:
        try:
            reads[number] = _page_of(number, image, reading.result())
        except OcrError as exc:
            problems[number] = str(exc)


def _page_of(number: int, image: PageImage, recognized: OcrText) -> Page:
    """An OCR'd page: its text, and its characters' boxes in points."""
    text = recognized.text
    positions = None
    if recognized.boxes is not None and clean_page_text(text) == text and text:
        rows, columns = image.pixels.shape
        positions = PagePositions.encode(
            text, columns / image.scale, rows / image.scale,
            (recognized.boxes / np.float32(image.scale)).astype(np.float32))
    return Page(number, clean_page_text(text), positions)


class OcrParser:
    """The text layer (`ingest.parse`, read by `text_layer`), and Tesseract for the pages
    without a usable one."""

    name = "ocr"

    def __init__(self, options: OcrOptions | None = None, text_layer: str = TEXT_LAYERS[0]) -> None:
        self.options = options or OcrOptions()
        self.text_layer = text_layer

    def parse(self, data: bytes, *, max_pages: int, max_chars: int | None = None,
              on_page_count: Callable[[int], None] | None = None,
              on_ocr_page: Callable[[int], None] | None = None) -> ParseResult:
        return parse_pdf(data, max_pages=max_pages, max_chars=max_chars,
                         on_page_count=on_page_count, filler=TesseractPages(self.options),
                         on_ocr_page=on_ocr_page, text_layer=self.text_layer)
