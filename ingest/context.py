"""What a chunk is matched together with: its document's identity and its section.

A page of a financial statement rarely names the company, the year or the filing that a
question names ("Netflix's FY2017 total current liabilities"), and its rows never repeat
the statement's heading ("CONSOLIDATED BALANCE SHEETS"). Each chunk is therefore matched
(BM25 and vectors) together with:

- the document's identity: the words of its file name (`NETFLIX_2017_10K.pdf` ->
  "NETFLIX 2017 10K": people name files that way), its metadata title, and the heading
  lines of its first page (where a filing names the company and the form);
- its section: the heading lines that open its page (a statement's title) and the
  nearest heading line above the chunk on that page; and, for a chunk that opens inside a
  table, the table's header rows above it (`table_heading`: "State / Territory | Permit |
  Handgun | Long Gun" names what the figures of "Kentucky | 264,140 | 12,155" count). A
  financial statement's formal title also brings the names people use for it, in English
  and Korean ("CONSOLIDATED STATEMENTS OF OPERATIONS" -> "income statement, profit and
  loss, 손익계산서").

This text is for matching only: quotes and offsets come from the page text alone. Pure
functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa_service.headings import is_heading
from qa_service.schemas import Chunk, Page
from qa_service.statements import statement_names
from qa_service.table_lines import is_header_row, is_table_row

__all__ = ["captioned_name", "chunk_sections", "document_identity", "filename_words",
           "joined_context", "opening_line", "section_heading", "statement_titles",
           "table_heading"]

IDENTITY_CHARS = 240  # of the first page's opening text
PAGE_HEAD_CHARS = 160  # of each page's opening lines
OPENING_MAX_CHARS = 120
TITLE_LINES = 6  # of a page's opening lines, where a statement's title stands
STATEMENT_TITLE_CHARS = 90
_CONSOLIDATED = re.compile(r"\b(consolidated|condensed)\b", re.IGNORECASE)
_DIGIT = re.compile(r"\d")
RUNNING_LINES = 2  # of a document's running headers, the most frequent, in its identity
_SEPARATORS = re.compile(r"[_\-.+]+|(?<=[a-z])(?=[A-Z])")
_FOLDERS = re.compile(r"^.*[\\/]")
_LETTERS = re.compile(r"[^\W\d_]")
_SPACES = re.compile(r"\s+")
_WORDS = re.compile(r"[^\W\d_]+")  # letters only: "000" and "2017" do not count
# A form names who files it on the line above a caption that says so: every SEC filing's
# cover page reads "NETFLIX, INC." over "(Exact name of registrant as specified in its
# charter)", often set in title case ("Costco Wholesale Corporation"), so not a heading
_CAPTIONED_NAME = re.compile(
    r"^[ \t]*(?P<name>[^\n]*[^\W\d_][^\n]*?)[ \t]*\n[ \t.,]{0,3}\((?:exact\s+|full\s+)?"
    r"(?:legal\s+)?name\s+of\s+(?:the\s+)?(?:registr|issuer|company|reporting\s+person)",
    re.IGNORECASE | re.MULTILINE)
CAPTIONED_NAME_CHARS = 80
TABLE_HEADING_CHARS = 240  # of a table's header rows, in the context of a chunk inside it
TABLE_ROWS_ABOVE = 400  # how far up a table's rows are followed to its header


def filename_words(filename: str) -> str:
    """`.../NETFLIX_2017_10K.pdf` -> "NETFLIX 2017 10K"; `doc_01.pdf` -> "doc 01"."""
    stem = _FOLDERS.sub("", filename)
    stem = stem[: -len(".pdf")] if stem.lower().endswith(".pdf") else stem
    return _SPACES.sub(" ", _SEPARATORS.sub(" ", stem)).strip()


def document_identity(filename: str, title: str, pages: Sequence[Page],
                      running: Sequence[str] = ()) -> str:
    """File-name words (unless the title already says them all), title, page 1's opening
    line (a paper's or a report's title, in whatever case), the name a form captions as
    its filer's, the `running` header lines removed from its pages
    (`ingest.running_lines`: "Johnson & Johnson and Subsidiaries") and page 1's headings."""
    first = next((p.text for p in pages if p.text.strip()), "")
    named = filename_words(filename)
    if named and _WORDS.findall(named.casefold()) and \
            set(_WORDS.findall(named.casefold())) <= set(_WORDS.findall(title.casefold())):
        named = ""  # "000-Super_Bowl_50.pdf" under the title "Super Bowl 50": said once
    named_lines = [line for line in running[:RUNNING_LINES] if len(_WORDS.findall(line)) >= 2]
    parts = [named, title, opening_line(first), captioned_name(first), *named_lines,
             *_headings(first, IDENTITY_CHARS, lines=40)]
    return " | ".join(dict.fromkeys(p for p in parts if p))


def captioned_name(text: str) -> str:
    """The line a form's caption names as its filer's ("Pfizer Inc." above "(Exact name of
    registrant as specified in its charter)"), or ""."""
    found = _CAPTIONED_NAME.search(text)
    if found is None or len(found["name"]) > CAPTIONED_NAME_CHARS:
        return ""
    return found["name"].strip()


def opening_line(text: str) -> str:
    """The first line of a page that has words, with the next one when the first runs on
    into it (a title set on two lines): "MORAN: A Multi-Object Rectified Attention Network
    for Scene Text Recognition". "" when the page opens with a sentence or a long line."""
    lines = [line.strip() for line in text.split("\n") if len(_LETTERS.findall(line)) >= 3]
    if not lines or len(lines[0]) > OPENING_MAX_CHARS or lines[0].endswith("."):
        return ""
    title = lines[0]
    if len(lines) > 1 and not title.endswith((":", "|")) and lines[1][:1].islower() and \
            len(title) + len(lines[1]) < OPENING_MAX_CHARS:
        title = f"{title} {lines[1]}"
    return title


def _headings(text: str, budget: int, lines: int) -> list[str]:
    """The heading lines among the first `lines` lines of `text`, `budget` characters in all."""
    found: list[str] = []
    for line in text.split("\n")[:lines]:
        if is_heading(line) and budget > 0:
            found.append(line.strip()[:budget])
            budget -= len(found[-1])
    return found


def statement_titles(text: str) -> list[str]:
    """The lines among a page's first `TITLE_LINES` that title a financial statement set
    in any case ("NIKE, Inc. Consolidated Statements of Income", "Condensed Consolidated
    Balance Sheets"), which `is_heading` does not take: short, without figures (a table of
    contents' line has its page number) and saying consolidated or condensed, as the
    statements themselves do ("Free Cash Flow" or "Cash Flows" heads a discussion)."""
    lines = (line.strip() for line in text.split("\n")[:TITLE_LINES])
    return [line for line in lines if len(line) <= STATEMENT_TITLE_CHARS
            and _CONSOLIDATED.search(line) and not _DIGIT.search(line)
            and statement_names([line])]


def section_heading(text: str, start: int) -> str:
    """The nearest heading line that ends before `start` in a page's text ("" if none)."""
    for line in reversed(text[:start].split("\n")):
        if is_heading(line):
            return line.strip()
    return ""


def table_heading(text: str, start: int) -> str:
    """When the chunk at `start` of a page's `text` opens with a table row that is no
    header (`is_table_row`, `is_header_row`), the header rows of its table above it: the
    rows above, up to the first line that is no row, that name columns, in page order, at
    most `TABLE_HEADING_CHARS`; "" otherwise (a chunk that opens with prose or with the
    header shows the header itself)."""
    first = text.rfind("\n", 0, start) + 1
    end = text.find("\n", first)
    end = len(text) if end < 0 else end
    if not is_table_row(text, first, end) or is_header_row(text, first, end):
        return ""
    headers: list[str] = []
    end = first - 1
    for _ in range(TABLE_ROWS_ABOVE):
        if end <= 0:
            break
        line_start = text.rfind("\n", 0, end) + 1
        if not is_table_row(text, line_start, end):
            break
        if is_header_row(text, line_start, end):
            headers.append(" ".join(text[line_start:end].split()))
        end = line_start - 1
    heading = " | ".join(reversed(headers))
    return heading[:TABLE_HEADING_CHARS].rsplit(" ", 1)[0] \
        if len(heading) > TABLE_HEADING_CHARS else heading


def chunk_sections(pages: Sequence[Page], chunks: Sequence[Chunk]) -> list[str]:
    """For each chunk: its page's heading lines (unless the chunk shows them) | its nearest
    heading | the header rows of the table it opens inside (`table_heading`) | the common
    names of the statement those headings title."""
    texts = {page.number: page.text for page in pages}
    sections = []
    for chunk in chunks:
        page = texts.get(chunk.page, "")
        head = _headings(page, PAGE_HEAD_CHARS, lines=4)
        section = [*head, section_heading(page, chunk.char_start)]
        shown = section if chunk.char_start > 0 else section[len(head):]  # else in the chunk
        parts = [*shown, table_heading(page, chunk.char_start),
                 *statement_names([*section, *statement_titles(page)])]
        sections.append(" | ".join(dict.fromkeys(p for p in parts if p)))
    return sections


def joined_context(identity: str, section: str) -> str:
    """A chunk's whole context (`Chunk.context`, embedded with it): identity | section."""
    return " | ".join(part for part in (identity, section) if part)
