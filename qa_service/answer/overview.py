"""Overview requests: "요약해줘", "Summarize the paper", "What is this document about?".

Such a question names no fact, so no sentence of the passages "answers" it, and the one
that happens to contain the word "summary" is the worst possible quote. An overview is
answered from the document the question is about (the first retrieved passage's, or the
one a `document_ids` filter names): its opening sentences and its section headings, each
quoted and cited like any answer. With an LLM configured, the LLM writes the overview
from the document's opening passages instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa_service.answer.models import ONE_LINE, Citation, is_korean
from qa_service.headings import is_heading
from qa_service.schemas import Passage
from qa_service.sentences import split_sentences
from qa_service.table_lines import lines_of

__all__ = ["is_overview_request", "overview_quotes", "overview_text"]

_REQUEST = re.compile(
    r"\bsummari[sz](?:e|ing)\b|\b(?:give|write|provide|show|need|want)\b.{0,25}\b(?:summary|"
    r"overview|gist|synopsis)\b|^\s*(?:summary|overview|synopsis|tl;?dr)\b|\boverview of\b"
    r"|\bwhat (?:is|'s|are) (?:this|the|these|that)\b.{0,60}\b(?:document|paper|report|file"
    r"|pdf|brochure|plan|guide|manual|presentation|filing)s? about\s*\??\s*$"
    r"|\b(?:main|key) (?:points|ideas|findings"
    r"|takeaways)\b|\bin a nutshell\b"
    r"|요약(?:해|하|좀|을|본|\s*부탁|\s*$|\??\s*$)|간추려|개요(?:를|가|\s*알려|\s*$)"
    r"|무슨\s*내용|어떤\s*내용(?:인|이|을)|핵심\s*(?:내용|만|을|이)|주요\s*내용|전반적인\s*내용",
    re.IGNORECASE)
OPENING_SENTENCES = 3
OPENING_LINES = 4  # quoted instead when the document has no opening sentence
HEADINGS = 6
MIN_SENTENCE_CHARS = 40  # shorter "sentences" at a document's start are labels, not prose
MAX_SENTENCE_CHARS = 400  # longer ones are tables of contents or lists run together
LABEL_LINE_CHARS = 30  # a short line before a sentence is a label ("Abstract", "요 약")
# Headings an overview lists: numbered ("2. Related Work", "Ⅲ. 추진 전략") or set in
# capitals with two words or more ("CONSOLIDATED BALANCE SHEETS"), not figure labels
_NUMBERED_HEADING = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2})*\.?|[IVX]{1,4}\.|[\u2160-\u216b]\.?)\s*"
                               r"[A-Z가-힣][^\n]{2,}$")
_WORDS = re.compile(r"[^\W\d_]{2,}")
_LABEL = re.compile(r"^\s*(?:abstract|summary|introduction|overview|executive summary|요\s*약"
                    r"|개\s*요|초\s*록|서\s*론|머리말)\s*[:.]?\s*$", re.IGNORECASE)


def is_overview_request(question: str) -> bool:
    return _REQUEST.search(question) is not None


def overview_quotes(passages: Sequence[Passage]) -> tuple[list[tuple[Passage, int, int]],
                                                           list[tuple[Passage, int, int]]]:
    """The document's opening sentences and its first distinct section headings, as
    (passage, start, end) spans of the passages' text (reading order)."""
    sentences: list[tuple[Passage, int, int]] = []
    headings: list[tuple[Passage, int, int]] = []
    seen_headings: set[str] = set()
    covered: dict[int, int] = {}  # page -> the page offset read up to (chunks overlap)
    for passage in passages:
        start_on_page = max(covered.get(passage.page, 0) - passage.char_start, 0)
        for line_from, line in _lines(passage.text, start_on_page, len(passage.text)):
            if len(headings) < HEADINGS and _is_section(line) and \
                    line.strip().casefold() not in seen_headings:
                seen_headings.add(line.strip().casefold())
                headings.append((passage, line_from, line_from + len(line.rstrip())))
        for start, end in split_sentences(passage.text):
            if start < start_on_page or len(sentences) >= OPENING_SENTENCES:
                continue
            # a sentence after a label line starts after it ("Abstract\nIrregular text ...")
            lines = _lines(passage.text, start, end)
            labels = [at for at, line in lines[:-1] if _is_label(line)]
            if labels:
                start = next(at for at, _line in lines if at > labels[-1])
            text = passage.text[start:end]
            if MIN_SENTENCE_CHARS <= len(text) <= MAX_SENTENCE_CHARS and " | " not in text \
                    and not is_heading(text) and text[-1:] in ".!?다요":
                sentences.append((passage, start, end))
        covered[passage.page] = passage.char_end
        if len(sentences) >= OPENING_SENTENCES and len(headings) >= HEADINGS:
            break
    return sentences, headings


def _opening_lines(passages: Sequence[Passage]) -> list[tuple[Passage, int, int]]:
    """A document without prose (a balance sheet, a price list) opens with its title and
    first lines: those, when no opening sentence qualifies."""
    if not passages:
        return []
    first = passages[0]
    return [(first, at, at + len(line.rstrip()))
            for at, line in _lines(first.text, 0, len(first.text))[:OPENING_LINES]]


def _is_label(line: str) -> bool:
    """A line that labels what follows: "Abstract", "요 약", "1. Introduction"."""
    return _LABEL.match(line) is not None or (len(line) < LABEL_LINE_CHARS and _is_section(line))


def _is_section(line: str) -> bool:
    line = line.strip()
    if not is_heading(line) or line.endswith((".", "-")) or " | " in line or \
            line.count(",") >= 2:
        return False
    if _NUMBERED_HEADING.match(line) is not None:
        return True
    words = _WORDS.findall(line)
    latin = sum(1 for ch in line if ch.isascii() and ch.isalpha())
    return len(words) >= 2 and latin * 2 >= len("".join(words)) >= 10 and line.upper() == line


def _lines(text: str, start: int, end: int) -> list[tuple[int, str]]:
    """The non-empty lines of `text[start:end]` (`table_lines.lines_of`) as (where the line's
    first non-space character is, the line from it)."""
    found = []
    for line_start, line_end in lines_of(text, start, end):
        line = text[line_start:line_end]
        stripped = line.lstrip()
        found.append((line_start + len(line) - len(stripped), stripped))
    return found


def overview_text(question: str, passages: Sequence[Passage], max_chars: int
                  ) -> tuple[str, list[Citation]]:
    """The overview answer: the opening sentences, then "Sections:" and the headings, each
    quoted verbatim and cited; at most `max_chars` characters."""
    sentences, headings = overview_quotes(passages)
    korean = is_korean(question)
    parts: list[str] = []
    citations: list[Citation] = []
    length = 0

    def add(piece: tuple[Passage, int, int], prefix: str) -> bool:
        nonlocal length
        passage, start, end = piece
        quote = passage.text[start:end]
        shown = quote.translate(ONE_LINE)
        if length + len(prefix) + len(shown) > max_chars:
            return False
        offset = length + len(prefix)
        parts.append(prefix + shown)
        length = offset + len(shown)
        citations.append(Citation.quoting(len(citations) + 1, passage, start, end, offset))
        return True

    for piece in sentences or _opening_lines(passages):
        if not add(piece, " " if parts else ""):
            break
    label = "목차: " if korean else "Sections: "
    for number, piece in enumerate(headings):
        if not add(piece, ("\n\n" + label if parts else label) if number == 0 else "; "):
            break
    return "".join(parts), citations
