"""PDF bytes -> pages of text.

A `PdfParser` turns one PDF's bytes into a `ParseResult` and never raises for a bad
document: it classifies it (`ParseResult.status`) and says why in words a person can act
on. `PARSERS` names the implementations (`pypdf`: the text layer; `ocr`: the text layer,
and Tesseract for pages without one, `ingest.ocr`); the one a service uses runs
inside parser worker processes (`ingest.parser_pool`), which bound its memory and time.
Every implementation passes the same contract (`tests/ingest/test_parse.py`).

pypdf opens the file and classifies it (damaged, encrypted, too many pages). A page's text
is then pdfium's (`TEXT_LAYERS`: "pdfium", the default): pypdf's text extraction is pure
Python, about twenty times slower, and it tears words apart ("op\nerations") and runs
Korean words together where pdfium keeps the spaces. pypdf reads the pages pdfium cannot
(a page that fails, or every page when pdfium cannot open the file or counts its pages
differently), and draws table pages in its layout mode (`_page_text`). With
`text_layer="pypdf"`, every page is pypdf's (the parser pool retries a file that way when
pdfium crashed or hung its worker: `ingest.parser_pool`).
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from qa_service.errors import describe
from qa_service.schemas import DocumentStatus, Page

__all__ = ["HEADER_WINDOW", "PARSERS", "PDFIUM_TEXT", "PDF_MAGIC", "PYPDF_TEXT", "TEXT_LAYERS",
           "FilledPages", "PageFiller", "ParseResult", "PdfParser", "PypdfParser",
           "clean_page_text", "find_pdf_header", "missing_decoder", "parse_pdf", "parser_named"]

TEXT_LAYERS = ("pdfium", "pypdf")  # who reads a page's text; the first is the default
PDFIUM_TEXT, PYPDF_TEXT = TEXT_LAYERS

PDF_MAGIC = b"%PDF-"
HEADER_WINDOW = 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class ParseResult:
    status: DocumentStatus
    reason: str = ""
    pages: list[Page] = field(default_factory=list)
    page_count: int = 0
    title: str = ""  # the document's own title (PDF metadata), when it has a usable one
    ocr_pages: int = 0  # pages whose text comes from OCR


class PdfParser(Protocol):
    """One PDF's bytes -> its pages' text, classified; never raises for a bad document.

    `on_page_count` hears the page count before extraction starts (the worker pool sets
    its time budget from it), `on_ocr_page` the number of each page just before it is
    OCR'd (each such page adds its own budget); a document whose text passes `max_chars`
    ends `too_large`."""

    name: str

    def parse(self, data: bytes, *, max_pages: int, max_chars: int | None = None,
              on_page_count: Callable[[int], None] | None = None,
              on_ocr_page: Callable[[int], None] | None = None) -> ParseResult: ...


@dataclass(frozen=True)
class FilledPages:
    """What a `PageFiller` made of the pages the text layer left empty or unusable."""

    pages: list[Page]  # every page, the filled ones with their new text (and positions)
    filled: list[int]  # numbers of the pages whose text now comes from OCR
    problem: str = ""  # why the first page that could not be read was not (in words)


class PageFiller(Protocol):
    """Reads pages another way (OCR) where the text layer has no usable text."""

    def fill(self, data: bytes, pages: list[Page],
             on_page: Callable[[int], None] | None = None,
             avoid: Collection[int] = ()) -> FilledPages:
        """`pages` with those it can read filled; `on_page` hears each page it starts on;
        the pages in `avoid` are left as they are."""
        ...


class PypdfParser:
    """The text layer (see the module: opened by pypdf, read by `text_layer`)."""

    name = "pypdf"

    def __init__(self, text_layer: str = TEXT_LAYERS[0]) -> None:
        self.text_layer = text_layer

    def parse(self, data: bytes, *, max_pages: int, max_chars: int | None = None,
              on_page_count: Callable[[int], None] | None = None,
              on_ocr_page: Callable[[int], None] | None = None) -> ParseResult:
        return parse_pdf(data, max_pages=max_pages, max_chars=max_chars,
                         on_page_count=on_page_count, text_layer=self.text_layer)


def _ocr_parser(options: Mapping[str, Any] | None = None,
                text_layer: str = TEXT_LAYERS[0]) -> PdfParser:
    from ingest.ocr import OcrOptions, OcrParser  # loads only where OCR runs

    return OcrParser(OcrOptions(**(options or {})), text_layer)


def parser_named(name: str, ocr_options: Mapping[str, Any] | None = None,
                 text_layer: str = TEXT_LAYERS[0]) -> PdfParser:
    """The parser `name` of `PARSERS`; `ocr_options` are `ingest.ocr.OcrOptions` fields;
    `text_layer` one of `TEXT_LAYERS`."""
    if text_layer not in TEXT_LAYERS:
        raise ValueError(f"unknown text layer {text_layer!r}: one of {', '.join(TEXT_LAYERS)}")
    if name == "ocr":
        return _ocr_parser(ocr_options, text_layer)
    return PARSERS[name](text_layer)


def _default_ocr_parser(text_layer: str = TEXT_LAYERS[0]) -> PdfParser:
    return _ocr_parser(None, text_layer)


PARSERS: dict[str, Callable[..., PdfParser]] = {PypdfParser.name: PypdfParser,
                                                "ocr": _default_ocr_parser}


def find_pdf_header(head: bytes) -> int:
    """Offset of `%PDF-` within the first 1,024 bytes, or -1 when it is not there."""
    return head[:HEADER_WINDOW].find(PDF_MAGIC)


def clean_page_text(text: str) -> str:
    """Normalize extracted text: NFC, no control characters, tidy whitespace."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def parse_pdf(
    data: bytes,
    *,
    max_pages: int,
    max_chars: int | None = None,
    on_page_count: Callable[[int], None] | None = None,
    filler: PageFiller | None = None,
    on_ocr_page: Callable[[int], None] | None = None,
    text_layer: str = TEXT_LAYERS[0],
) -> ParseResult:
    """Extract every page's text. `on_page_count` hears the page count before extraction;
    `filler` (OCR) reads the pages the text layer leaves without usable text, telling
    `on_ocr_page` each page it starts.

    A document whose text passes `max_chars` characters ends `too_large` as soon as it
    does: chunking and embedding cost in proportion to the text, outside the time budget
    of parsing, and a tiny file can show the same huge text on every page. Pages that end
    without text are named in the reason: they are never indexed silently. `text_layer`:
    who reads each page's text (see the module)."""
    offset = find_pdf_header(data)
    if offset < 0:
        return ParseResult(
            DocumentStatus.INVALID,
            "not a PDF: no %PDF- header in the first 1,024 bytes; upload the PDF itself",
        )
    try:
        reader = _open_reader(body := data[offset:])
    except _Classified as exc:
        return ParseResult(exc.status, exc.reason)
    try:
        count = len(reader.pages)
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types for broken trees
        return ParseResult(DocumentStatus.INVALID, f"the page tree {_problem(exc)}")
    if count == 0:
        return ParseResult(DocumentStatus.NO_TEXT, "the PDF has no pages")
    if count > max_pages:
        return ParseResult(
            DocumentStatus.TOO_LARGE,
            f"{count:,} pages is over the limit of {max_pages:,}; split the document "
            "or raise QA_INGEST__MAX_PAGES",
            page_count=count,
        )
    if on_page_count is not None:
        on_page_count(count)
    read = _read_text_layer(reader, body, count, max_chars, text_layer)
    if isinstance(read, ParseResult):
        return read
    filled = FilledPages(read.pages, [])
    if filler is not None:
        filled = filler.fill(body, read.pages, on_ocr_page, avoid=read.hostile)
        if (too_large := _over_chars(filled.pages, max_chars, count)) is not None:
            return too_large
    result = _classify(read, filled, count, ocr=filler is not None)
    return ParseResult(result.status, result.reason, result.pages, result.page_count,
                       _title(reader), len(filled.filled))


class _Classified(Exception):
    def __init__(self, status: DocumentStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _open_reader(data: bytes):  # type: ignore[no-untyped-def]
    from pypdf import PdfReader
    from pypdf.errors import (
        DependencyError,
        DeprecationError,
        FileNotDecryptedError,
        LimitReachedError,
        PdfReadError,
    )

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except (DependencyError, DeprecationError, NotImplementedError) as exc:
        decoder = missing_decoder(exc)
        if decoder is None:
            raise
        raise _Classified(DocumentStatus.FAILED, f"the file {decoder}") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, IndexError, AssertionError) as exc:
        raise _Classified(
            DocumentStatus.INVALID, f"the file is damaged beyond repair ({describe(exc, 200)})"
        ) from exc
    except LimitReachedError as exc:
        raise _Classified(DocumentStatus.INVALID, f"the file {_OVER_LIMITS} ({describe(exc, 200)})"
                          ) from exc
    except RecursionError as exc:
        raise _Classified(
            DocumentStatus.INVALID, "the file's object structure loops on itself"
        ) from exc
    if reader.is_encrypted:
        try:
            decrypted = reader.decrypt("")
        except DependencyError as exc:
            raise _Classified(
                DocumentStatus.FAILED, f"cannot decrypt: {exc}; install 'cryptography'"
            ) from exc
        except (FileNotDecryptedError, PdfReadError, NotImplementedError) as exc:
            raise _Classified(
                DocumentStatus.ENCRYPTED,
                f"encrypted with an unsupported scheme ({describe(exc, 200)}); "
                "upload an unlocked copy",
            ) from exc
        if not decrypted:
            raise _Classified(
                DocumentStatus.ENCRYPTED,
                "encrypted with a password; upload an unlocked copy",
            )
    return reader


@dataclass(frozen=True)
class _TextLayer:
    pages: list[Page]
    broken: list[int]  # pages pypdf could not read
    problem: str  # why the first of them could not be read
    # broken pages that went past a safety limit (a decompression bomb, nesting without
    # end): not drawn for OCR either, whose renderer has no such limits
    hostile: frozenset[int] = frozenset()


class _PdfiumText:
    """pdfium's text of a document's pages. A page it finds no text on is read by pypdf
    too (`_extract`): pypdf's limits name a decompression bomb or a page tree without end,
    which pdfium would quietly find empty."""

    def __init__(self, document: Any) -> None:
        self._document = document

    @classmethod
    def open(cls, data: bytes, count: int) -> _PdfiumText | None:
        """The document, or None when pdfium cannot open it or sees another number of
        pages than pypdf's `count` (then page numbers could not be trusted)."""
        import pypdfium2 as pdfium

        try:
            document = pdfium.PdfDocument(data)
        except Exception:  # noqa: BLE001 - pdfium's errors are plain exceptions: pypdf reads it
            return None
        if len(document) != count:
            document.close()
            return None
        return cls(document)

    def page(self, number: int) -> str | None:
        """Page `number`'s text (1-based); None when pdfium cannot read that page."""
        try:
            page = self._document[number - 1]
        except Exception:  # noqa: BLE001 - one broken page must not lose the others
            return None
        try:
            textpage = page.get_textpage()
            try:
                return str(textpage.get_text_range())
            finally:
                textpage.close()
        except Exception:  # noqa: BLE001 - pypdf reads the page instead
            return None
        finally:
            page.close()

    def close(self) -> None:
        self._document.close()


def _read_text_layer(reader, data: bytes, count: int,  # type: ignore[no-untyped-def]
                     max_chars: int | None, text_layer: str) -> _TextLayer | ParseResult:
    pdfium = _PdfiumText.open(data, count) if text_layer == PDFIUM_TEXT else None
    try:
        return _extract(reader, count, max_chars, pdfium)
    finally:
        if pdfium is not None:
            pdfium.close()


def _extract(reader, count: int,  # type: ignore[no-untyped-def]
             max_chars: int | None, pdfium: _PdfiumText | None = None
             ) -> _TextLayer | ParseResult:
    from pypdf.errors import LimitReachedError

    pages: list[Page] = []
    broken: list[int] = []
    hostile: set[int] = set()
    problem, chars = "", 0  # why the first broken page could not be read
    for number in range(1, count + 1):
        try:
            plain = pdfium.page(number) if pdfium is not None else None
            if plain is not None and not plain.strip():
                plain = None  # pypdf says why a page is empty (a scan, a bomb it stops)
            raw = _page_text(partial(_pypdf_page, reader, number), plain)
        except Exception as exc:  # noqa: BLE001 - one broken page must not lose the others
            raw, broken = "", [*broken, number]
            problem = problem or f"page {number} {_problem(exc)}"
            if isinstance(exc, LimitReachedError | MemoryError | RecursionError):
                hostile.add(number)
        pages.append(Page(number=number, text=clean_page_text(raw)))
        chars += len(pages[-1].text)
        if max_chars is not None and chars > max_chars:
            return _too_large(max_chars, number, count)
    return _TextLayer(pages, broken, problem, frozenset(hostile))


def _too_large(max_chars: int, number: int, count: int) -> ParseResult:
    return ParseResult(
        DocumentStatus.TOO_LARGE,
        f"the text passes the limit of {max_chars:,} characters at page {number:,} "
        f"of {count:,} (real pages hold a few thousand); split the document",
        page_count=count,
    )


def _over_chars(pages: list[Page], max_chars: int | None, count: int) -> ParseResult | None:
    chars = 0
    for page in pages:
        chars += len(page.text)
        if max_chars is not None and chars > max_chars:
            return _too_large(max_chars, page.number, count)
    return None


def _classify(layer: _TextLayer, filled: FilledPages, count: int, ocr: bool) -> ParseResult:
    """The document's status from its pages: `indexed` when any page has text (the pages
    left without it named in the reason), else `no_text`, or `invalid` / `failed` when no
    page could be read at all."""
    pages = filled.pages
    read_by_ocr = set(filled.filled)
    broken = [n for n in layer.broken if n not in read_by_ocr]
    problem = layer.problem if broken else ""
    if not any(page.text for page in pages):
        if len(broken) == count:
            return ParseResult(
                DocumentStatus.FAILED if _DECODER_MARK in problem else DocumentStatus.INVALID,
                f"no page could be read: {problem}",
                page_count=count,
            )
        found = (f"OCR found no text on {'it' if count == 1 else 'them'}"
                 + (f"; {filled.problem}" if filled.problem else "")) if ocr else (
            "run OCR (for example ocrmypdf) and upload the result, or turn OCR on "
            "(QA_INGEST__OCR=auto)")
        return ParseResult(
            DocumentStatus.NO_TEXT,
            f"no text layer: the pages look scanned or image-only; {found}",
            page_count=count,
        )
    notes = []
    if broken:
        notes.append(f"pages {_ranges(broken)} could not be read and are empty; {problem}")
    empty = [page.number for page in pages if not page.text and page.number not in broken]
    if empty:
        why = (f"OCR found none{f'; {filled.problem}' if filled.problem else ''}" if ocr
               else "scanned or image-only pages need OCR (QA_INGEST__OCR=auto)")
        notes.append(f"{_pages(empty)} {'has' if len(empty) == 1 else 'have'} no text ({why})")
    return ParseResult(DocumentStatus.INDEXED, "; ".join(notes), pages=pages, page_count=count)


def _pages(numbers: list[int]) -> str:
    return ("page " if len(numbers) == 1 else "pages ") + _ranges(numbers)


_CELL_GAP = re.compile(r" {3,}")
_FIGURE = re.compile(r"^[($€£¥₩-]*[\d][\d,.]*%?\)?$|^[\u2014\u2013-]$")
_CURRENCY = frozenset("$€£¥₩")
_DIGITS = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")
TABLE_LINES = 0.3  # of a page's lines: rows of a label and figures make it a table page
SPLIT_ROWS = 2  # rows the plain text tears apart: the page is a table drawn by columns
PROSE_CELL_LETTERS = 20  # a layout cell of this many letters is a run of prose
PROSE_COLUMN_LINES = 0.2  # of a page's lines with two such runs: two columns of prose
_GROUP_OPENS = re.compile(r"^[,.]\d{3}(?:,\d{3})*(?:\.\d+)?$")
_ENDS_IN_DIGIT = re.compile(r"\d$")
_SHORT_GROUP = re.compile(r"\d,(\d{1,2})$")


def _pypdf_page(reader: Any, number: int) -> Any:
    return reader.pages[number - 1]


def _few_figures(text: str) -> bool:
    """Too few digits for a table page: layout mode is not tried."""
    return len(_DIGITS.findall(text)) < max(40, len(_LETTER.findall(text)) // 4)


def _page_text(page: Callable[[], Any], plain: str | None = None) -> str:
    """The page's text in reading order (`plain`: pdfium's; when None, pypdf's of `page()`,
    the pypdf page); a table page (a financial statement, a price list) in pypdf's layout
    mode instead, one table row a line, cells joined by " | ", so that a row keeps its
    label with its figures ("Total current liabilities | 5,466,312 | 4,586,657"). Layout
    mode is tried only on pages with many figures, and kept only when most of its lines are
    such rows: on a page of two text columns it would interleave them. Raises what pypdf
    raises for a page it cannot read, unless pdfium has read it."""
    if plain is None:  # pypdf reads it all; what it raises marks the page broken
        pypdf_page = page()
        plain = str(pypdf_page.extract_text() or "")
        if _few_figures(plain):
            return plain
        layout = str(pypdf_page.extract_text(extraction_mode="layout") or "")
    elif _few_figures(plain):
        return plain
    else:
        try:
            layout = str(page().extract_text(extraction_mode="layout") or "")
        except Exception:  # noqa: BLE001 - pdfium has read it; pypdf only draws its rows
            return plain
    lines = [_cells(_CELL_GAP.split(line.strip())) for line in layout.splitlines()
             if line.strip()]
    rows = [cells for cells in lines if len(cells) >= 2
            and any(_FIGURE.match(cell) for cell in cells[1:])]
    if not lines or (len(rows) < TABLE_LINES * len(lines)
                     and not _rows_split_in(plain, rows, lines)):
        return plain
    return "\n".join(" | ".join(cells) for cells in lines)


def _rows_split_in(plain: str, rows: list[list[str]], lines: list[list[str]]) -> bool:
    """Whether the plain text tears the table's rows apart: a PDF that draws its table
    column by column (an invoice's item names, then its quantities, then its amounts)
    reads, in content order, with no label next to its figure. So when at least
    `SPLIT_ROWS` rows have no plain line holding both their label and their first figure,
    the layout text is kept even on a page of few rows, unless the page is set in two
    columns of prose, which layout mode would interleave."""
    plain_lines = [" ".join(line.split()) for line in plain.splitlines()]
    split = 0
    for cells in rows:
        label = " ".join(cells[0].split())
        figure = next(cell for cell in cells[1:] if _FIGURE.match(cell))
        if not any(label in line and figure in line for line in plain_lines):
            split += 1
    prose_columns = sum(1 for cells in lines
                        if sum(1 for cell in cells if len(_LETTER.findall(cell))
                               >= PROSE_CELL_LETTERS) >= 2)
    return (split >= SPLIT_ROWS
            and prose_columns < PROSE_COLUMN_LINES * len(lines))


def _cells(cells: list[str]) -> list[str]:
    """Trimmed cells, a lone currency sign joined to the figure after it ("$ 2,822,795"),
    and a number that layout mode cut at a wide glyph gap made whole again ("200" ",000"
    -> "200,000"; "3,2" "00,000" -> "3,200,000": digit groups have three digits)."""
    out: list[str] = []
    for cell in (c.strip() for c in cells):
        if out and out[-1] in _CURRENCY:
            out[-1] = f"{out[-1]} {cell}"
        elif out and _cut_number(out[-1], cell):
            out[-1] = out[-1] + cell
        else:
            out.append(cell)
    return out


def _cut_number(left: str, right: str) -> bool:
    """Whether `left` + `right` is one number cut in two: `right` opens with a separator
    and a full digit group, or `left` ends in a short digit group that `right` completes."""
    if _GROUP_OPENS.match(right):
        return bool(_ENDS_IN_DIGIT.search(left))
    short = _SHORT_GROUP.search(left)
    return short is not None and re.match(
        rf"\d{{{3 - len(short[1])}}}(?:,\d{{3}})*(?:\.\d+)?$", right) is not None


_OVER_LIMITS = ("goes past the PDF parser's safety limits, as hostile files such as "
                "decompression bombs do")


_DECODER_MARK = "which this server cannot decode"


def missing_decoder(exc: BaseException) -> str | None:
    """"uses <the filter>, which this server cannot decode (<why>)" when `exc` says that a
    stream needs a decoder that pypdf lacks here; None for any other error. The file is
    not damaged: the server cannot read it (status `failed`, not `invalid`)."""
    from pypdf.errors import DependencyError, DeprecationError

    text = str(exc)
    why = None
    if isinstance(exc, DependencyError) and "brotli" in text.lower():
        name, why = "the /BrotliDecode filter", "install the 'brotli' Python package"
    elif isinstance(exc, DependencyError) and "jbig2" in text.lower():
        name, why = "the /JBIG2Decode filter", "it needs the jbig2dec program"
    elif isinstance(exc, DependencyError):
        name, why = "a compression filter", text[:200]
    elif isinstance(exc, DeprecationError) and (found := _ABBREVIATED.search(text)):
        name = f"the abbreviated filter name {found[1]} outside an inline image"
        why = f"pypdf {found[2]} and later read only {found[3]} there; re-save the PDF"
    elif isinstance(exc, NotImplementedError) and (found := _UNSUPPORTED.search(text)):
        name, why = f"the {found[1]} filter", "the PDF library (pypdf) has no decoder for it"
    elif isinstance(exc, NotImplementedError) and "/Crypt" in text:
        name, why = "a named /Crypt filter", "the PDF library (pypdf) does not support it"
    if why is None:
        return None
    return f"uses {name}, {_DECODER_MARK} ({why})"


_ABBREVIATED = re.compile(r"filter name (/\w+) is deprecated and has been removed in "
                          r"pypdf ([\d.]+?)\.? Use (/\w+)")
_UNSUPPORTED = re.compile(r"Unsupported filter (/[^\s]+)")


def _problem(exc: Exception) -> str:
    """Why a part of the file could not be read, in words: "page 3 " + this."""
    from pypdf.errors import LimitReachedError

    decoder = missing_decoder(exc)
    if decoder is not None:
        return decoder
    if isinstance(exc, RecursionError):
        return "nests its objects too deeply, or they refer to themselves"
    if isinstance(exc, MemoryError):
        return "needs more memory than the parser may use"
    if isinstance(exc, LimitReachedError):
        return f"{_OVER_LIMITS} ({describe(exc, 200)})"
    return f"is damaged ({describe(exc, 200)})"


_GENERATED_TITLE = re.compile(r"^(microsoft (word|powerpoint|excel) - |untitled)|\.(docx?|pptx?|"
                              r"xlsx?|hwpx?|pdf|tex|dvi)$", re.IGNORECASE)


def _title(reader) -> str:  # type: ignore[no-untyped-def]
    """The metadata title, unless missing or a placeholder ("Microsoft Word - x.docx")."""
    try:
        raw = reader.metadata.title if reader.metadata else None
    except Exception:  # noqa: BLE001 - metadata is optional; a broken one is ignored
        return ""
    title = clean_page_text(str(raw or "")).replace("\n", " ")[:200]
    if len(title) < 3 or _GENERATED_TITLE.search(title):
        return ""
    return title


def _ranges(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")
