"""An answer as an OpenAI assistant message: its text with a `[n]` marker after each cited
part, and one `url_citation` annotation per marker.

LLM answers carry their markers already (`The pack weighs 2 kg. [1]`: the checker writes
them after each sentence it kept, in the order of its citations). Extractive answers are
quotes without markers: a marker is added after each quote (after its ellipsis, when it
was cut). Markers are placed from the citations' offsets, never found by searching the
text, so a document's own "[3]" quoted in an answer is never taken for one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any
from urllib.parse import quote, urlencode

from qa_service.answer.models import Answer, Citation

__all__ = ["CitedText", "Marker", "PageLinks", "cited_text", "references"]


@dataclass(frozen=True)
class Marker:
    """`content[start:end]` is `[n]`, the label of `citation`."""

    citation: Citation
    start: int
    end: int


@dataclass(frozen=True)
class CitedText:
    content: str
    markers: tuple[Marker, ...]


def cited_text(answer: Answer) -> CitedText:
    """The answer's text with its citation markers, and where each marker is."""
    text, cursor, content = answer.answer, 0, ""
    markers: list[Marker] = []
    for group in _groups(answer.citations):
        labels = "".join(f"[{c.number}]" for c in group)
        end = max(group[0].answer_end, cursor)
        written = text.startswith(" " + labels, end)
        at = end if written else _word_end(text, end)
        content += text[cursor:at] + " "
        for citation in group:
            label = f"[{citation.number}]"
            markers.append(Marker(citation, len(content), len(content) + len(label)))
            content += label
        cursor = at + 1 + len(labels) if written else at
    return CitedText(content + text[cursor:], tuple(markers))


def _groups(citations: Sequence[Citation]) -> list[list[Citation]]:
    """Citations of the same part of the answer (one marker group), in answer order."""
    ordered = sorted(citations, key=lambda c: c.answer_end)  # stable: label order kept
    return [list(group) for _, group in
            groupby(ordered, key=lambda c: (c.answer_start, c.answer_end))]


def _word_end(text: str, index: int) -> int:
    """The end of the word at `index`: past an ellipsis or punctuation right after it."""
    while index < len(text) and not text[index].isspace():
        index += 1
    return index


@dataclass(frozen=True)
class PageLinks:
    """Links that open a citation in the web page's page view (the page image with the
    quote highlighted), under the base URL the client used. The citation is in the URL's
    fragment, which the browser keeps to itself: `#kb=..&document=..&page=..&start=..&end=..`
    (`start`/`end` index the page text, as `char_start`/`char_end` do)."""

    base_url: str  # ends with "/"; includes the proxy's root path
    kb: str

    def view(self, citation: Citation) -> str:
        fragment = urlencode({"kb": self.kb, "document": citation.document_id,
                              "page": citation.page, "start": citation.char_start,
                              "end": citation.char_end}, quote_via=quote)
        return f"{self.base_url}#{fragment}"

    def annotations(self, markers: Sequence[Marker], offset: int = 0) -> list[dict[str, Any]]:
        """OpenAI `url_citation` annotations, the markers' positions moved by `offset`."""
        return [{"type": "url_citation", "url_citation": {
            "start_index": marker.start + offset, "end_index": marker.end + offset,
            "title": f"{marker.citation.filename}, page {marker.citation.page}",
            "url": self.view(marker.citation),
        }} for marker in markers]


def references(answer: Answer) -> list[dict[str, Any]]:
    """The checked citations, as `POST /kbs/{kb}/ask` gives them."""
    return [citation.to_json() for citation in answer.citations]
