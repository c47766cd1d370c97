"""Checking an LLM reply against the passages it was given (pure: no I/O, no model calls).

A reply becomes an `Answer` in five steps:

1. Decline. A reply that is only the decline token (`NOT_IN_DOCUMENTS`), or is empty,
   abstains: the answer is the plain "not in the documents" text, with no citations.
   The token inside a longer reply is deleted and the rest is checked.
2. Links. Markdown images and HTML tags (`<img>`, `<a>`, `<iframe>`...; the text between
   tags stays) are removed entirely, always: a rendered image fetches its URL without a
   click, the classic way an injected passage exfiltrates data, even when that URL is
   written in the (possibly hostile) passage; any other `![` loses its `!`.
   A markdown link `[text](url)` keeps only `text` unless `url` is a URL written in a
   passage, a link definition (`[1]: url` at a line's start) loses its label, so that no
   reference-style link or image can resolve, and a bare URL (`http(s)://`, `ftp://`,
   `www.`, `data:`, and those no passage can offer: `//host`, `https:` with backslashes,
   `javascript:`, `vbscript:`, `mailto:`) is deleted unless it is one; "written in a
   passage" means equal to a whole URL found in a passage's text, not a prefix of one,
   and not the URL of an image in the passage. This runs over the whole reply, before any
   sentence is kept.
3. Sentences and markers. Citation markers (`[2]`, `[1, 3]`, `[1][3]`, `[-1]`) are taken
   out; the rest is cut into sentences (`split_sentences`, line by line). A marker belongs
   to the sentence before it on its line, or, at the start of a line, to the sentence after
   it. A number outside 1..len(passages) is dropped and counted in `removed_citations`.
   A sentence with no content tokens, or only a list bullet or a filler word ("Yes.",
   "1.", "네."), cannot be checked on its own: it joins the sentence after it (the last
   one joins the sentence before it) and shares its fate; with no other sentence, it is
   dropped.
4. Support. A sentence's content tokens (`Tokenizer`) are weighted by their inverse
   document frequency over the retrieved passages, `1 + ln((N + 1) / (df + 1))`, so a
   word no passage contains (an invented name or number) weighs most and a word every
   passage shares weighs 1. In each passage, the window of three consecutive sentences
   (a sentence and its two neighbours) holding the largest weight of the sentence's
   tokens is its best window: answers often merge adjacent sentences, but a window never
   spans a whole chunk, so words gathered from all over a passage do not pass.
   Support is the weighted share of the sentence's distinct tokens found in the best
   windows of the passages it cites, taken together; the sentence is kept when support
   >= `support_threshold` (0 keeps everything, 1 demands every content token). A
   sentence citing no valid passage is checked against each passage alone and, when the
   best one supports it, cites that one. Unsupported sentences are removed and counted
   in `unsupported_sentences`; a reply with nothing left abstains. A cited passage that
   shares no token with a kept sentence is not listed as its citation.
5. Citations. The answer is rebuilt from the kept sentences, each followed by its
   markers (`... capital of France. [1]`); for each cited passage, the quote is the
   passage sentence (inside the best window) sharing the most weight with the answer
   sentence, verbatim, with page offsets, and `answer[answer_start:answer_end]` is the
   answer sentence without its markers.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from qa_service.answer.models import Answer, AnswerMode, Citation, abstention_text
from qa_service.answer.prompt import DECLINE_TOKEN
from qa_service.schemas import Passage
from qa_service.sentences import split_sentences
from qa_service.tokens import Tokenizer

__all__ = ["StreamGuard", "abstention", "check_reply", "passage_urls", "sanitize_links"]

_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#x27|#39);")
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"', "&#x27;": "'", "&#39;": "'"}
_DECLINE = re.compile(re.escape(DECLINE_TOKEN).replace("_", r"\\?_"), re.IGNORECASE)
_DECLINE_TRIM = " \t\r\n.!\"'`*_:"
_HTML_IMAGE = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[a-z][a-z0-9-]*(?:[\s/][^>]*)?>", re.IGNORECASE)
_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_LINK = re.compile(r"\[([^\]\n]*)\]\(\s*<?([^)\s>]*)>?[^)\n]*\)")
_DESTINATION = re.compile(r"\]\(\s*<?([^)\s>]*)>?[^)\n]*\)")  # of a label _LINK cannot read
_DEFINITION = re.compile(r"^([ \t>*+\d.)-]*)\[(?:[^\]\\]|\\.)*\]:", re.MULTILINE)
_URL = re.compile(  # not after a Latin letter or digit: after Hangul it is still a URL
    r"(?<![a-z0-9])(?:(?:https?|ftp)://|www\.)[^\s<>\"'`]+"
    r"|(?<![a-z0-9])data:[\w.+-]+/[\w.+-]+[;,]\S*", re.IGNORECASE
)
_ANY_URL = re.compile(  # _URL, and what no passage offers: \\ for /, //host, scripts, mail
    _URL.pattern + r"|(?<![a-z0-9])(?:https?|ftp):[/\\]{2}[^\s<>\"'`]+"
    r"|(?<![a-z0-9:/\\])/[/\\][^\s/\\<>\"'`]+[^\s<>\"'`]*"
    r"|(?<![a-z0-9])(?:javascript|vbscript|mailto):[^\s<>\"'`]+", re.IGNORECASE
)
_URL_TAIL = ".,;:!?)]}>'\"*_"
_MARKER = re.compile(
    r"[ \t]*\[\s*(?:(?:passages?|sources?)\s*)?(-?\d+(?:\s*[,;]\s*-?\d+)*)\s*\]", re.IGNORECASE
)
_CITATION_TEXT = re.compile(r"\s*-?\d+(?:\s*[,;]\s*-?\d+)*\s*")
_LIST_BULLET = re.compile(r"(?:\d{1,3}[.)]|[-*+\u2022#>]+)")
_FILLER = frozenset("yes yeah yep ok okay sure indeed correct right exactly".split())
_WORD = re.compile(r"[^\W_]+")


@dataclass
class _Unit:
    """A sentence of the reply (with any fragments merged in): a span of the clean text."""

    start: int
    end: int
    tokens: frozenset[str]
    numbers: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Support:
    """How one passage supports one sentence: tokens found and the best quote's span."""

    number: int
    hits: frozenset[str]
    quote: tuple[int, int]


class _Evidence:
    """The passages, cut into sentences and tokenized once per reply."""

    def __init__(self, passages: Sequence[Passage], tokenizer: Tokenizer) -> None:
        self.passages = list(passages)
        self.spans = [split_sentences(p.text) or [(0, len(p.text))] for p in self.passages]
        self.tokens = [
            [frozenset(tokenizer.tokens(p.text[a:b])) for a, b in spans]
            for p, spans in zip(self.passages, self.spans, strict=True)
        ]
        self.windows = [
            [frozenset().union(*sentences[max(i - 1, 0):i + 2]) for i in range(len(sentences))]
            for sentences in self.tokens
        ]
        self._df = Counter(token for sentences in self.tokens
                           for token in frozenset().union(*sentences))
        self.urls = passage_urls(self.passages)

    def weight(self, tokens: frozenset[str]) -> float:
        n = len(self.passages)
        return math.fsum(1.0 + math.log((n + 1) / (self._df[t] + 1)) for t in tokens)

    def share(self, tokens: frozenset[str], hits: frozenset[str]) -> float:
        total = self.weight(tokens)
        return self.weight(hits & tokens) / total if total else 0.0

    def support(self, tokens: frozenset[str], number: int) -> _Support:
        windows, sentences = self.windows[number - 1], self.tokens[number - 1]
        center = max(range(len(windows)), key=lambda i: self.weight(tokens & windows[i]))
        around = [center, *(i for i in (center - 1, center + 1) if 0 <= i < len(sentences))]
        best = max(around, key=lambda i: self.weight(tokens & sentences[i]))
        return _Support(number, tokens & windows[center], self.spans[number - 1][best])


def abstention(question: str, passages: Sequence[Passage], *, removed_citations: int = 0,
               unsupported_sentences: int = 0) -> Answer:
    """The LLM path's "not in the documents" answer: no citations, the passages shown."""
    return Answer(
        question=question, answer=abstention_text(question), abstained=True,
        mode=AnswerMode.LLM, citations=[], passages=list(passages),
        removed_citations=removed_citations, unsupported_sentences=unsupported_sentences,
    )


def check_reply(question: str, reply: str, passages: Sequence[Passage], tokenizer: Tokenizer,
                support_threshold: float) -> Answer:
    """The checked `Answer` (mode `llm`) for the model's `reply` to `question`."""
    text = _ENTITY.sub(lambda m: _ENTITIES[m.group()], reply)
    if _is_decline(text) or not passages:
        return abstention(question, passages)
    evidence = _Evidence(passages, tokenizer)
    clean, markers = _take_markers(sanitize_links(_DECLINE.sub("", text), evidence.urls))
    units = _units(clean, tokenizer)
    removed = _assign_markers(clean, units, markers, len(passages))
    kept = [(unit, supports) for unit in units
            if (supports := _judge(unit, evidence, support_threshold)) is not None]
    unsupported = len(units) - len(kept)
    if not kept:
        return abstention(question, passages, removed_citations=removed,
                          unsupported_sentences=unsupported)
    answer, citations = _assemble(clean, kept, evidence)
    return Answer(
        question=question, answer=answer, abstained=False, mode=AnswerMode.LLM,
        citations=citations, passages=list(passages), removed_citations=removed,
        unsupported_sentences=unsupported,
    )


def sanitize_links(text: str, allowed_urls: frozenset[str]) -> str:
    """`text` without images or HTML tags, and without links or URLs other than
    `allowed_urls`; link definitions lose their label, so no reference can resolve."""
    text = _IMAGE.sub("", _HTML_TAG.sub("", text))
    text = _LINK.sub(lambda m: _link(m, allowed_urls), text)
    text = _DESTINATION.sub(lambda m: _destination(m, allowed_urls), text)
    text = _DEFINITION.sub(r"\1", text).replace("![", "[")
    text = _ANY_URL.sub(lambda m: _bare_url(m.group(), allowed_urls), text)
    return re.sub(r"[ \t]{2,}", " ", text.replace("<>", ""))


def passage_urls(passages: Sequence[Passage]) -> frozenset[str]:
    """The URLs the passages offer as links: the only ones an answer may carry."""
    return frozenset(url for passage in passages for url in _link_urls(passage.text))


class StreamGuard:
    """Streamed model text with the same link rules as the checked answer.

    Text is released up to its last whitespace (a URL has none), except from an opening
    `[` or `<` whose markdown link, citation marker or tag is not complete yet, so a link
    split across pieces is still recognised and removed. An HTML tag may span lines: it is
    held up to its `>` (or a blank line); any other `[` or `<` is released at a newline."""

    _COMPLETE = re.compile(
        r"!?\[[^\]\n]*\](?:\([^)\n]*\)|(?=[^(]))|<[^>\n]*>"
        r"|</?[a-z][^>]*?(?:>|\n[ \t]*\n)|(?:\[|<(?!/?[a-z]))[^\]>\n]*\n", re.IGNORECASE
    )
    _OPENING = re.compile(r"!?\[|<")

    def __init__(self, passages: Sequence[Passage]) -> None:
        self._allowed = passage_urls(passages)
        self._held = ""

    def feed(self, piece: str) -> str:
        self._held += piece
        cut = max(self._held.rfind(c) for c in " \n\t") + 1
        position = 0
        while (opening := self._OPENING.search(self._held, position, cut)) is not None:
            complete = self._COMPLETE.match(self._held, opening.start())
            if complete is None:
                cut = opening.start()
                break
            cut = max(cut, complete.end())  # never split a complete link at a space
            position = complete.end()
        ready, self._held = self._held[:cut], self._held[cut:]
        return sanitize_links(ready, self._allowed) if ready else ""

    def flush(self) -> str:
        ready, self._held = self._held, ""
        return sanitize_links(ready, self._allowed) if ready else ""


def _link(match: re.Match[str], allowed: frozenset[str]) -> str:
    label, url = match.group(1), match.group(2)
    if url.rstrip(_URL_TAIL) in allowed:
        return match.group()
    return f"[{label}]" if _CITATION_TEXT.fullmatch(label) else label


def _destination(match: re.Match[str], allowed: frozenset[str]) -> str:
    return match.group() if match.group(1).rstrip(_URL_TAIL) in allowed else "]"


def _bare_url(url: str, allowed: frozenset[str]) -> str:
    core = url.rstrip(_URL_TAIL)
    return url if core in allowed else url[len(core):]


def _link_urls(text: str) -> list[str]:
    """The URLs a passage offers as links: those of its own images do not count."""
    text = _IMAGE.sub("", _HTML_IMAGE.sub("", text))
    return [m.group().rstrip(_URL_TAIL) for m in _URL.finditer(text)]


def _is_decline(text: str) -> bool:
    core = text.replace("\\_", "_").strip(_DECLINE_TRIM)
    return not core or core.upper() == DECLINE_TOKEN


def _take_markers(text: str) -> tuple[str, list[tuple[int, list[int]]]]:
    """`text` without citation markers, and each marker's position and numbers in it."""
    parts: list[str] = []
    markers: list[tuple[int, list[int]]] = []
    last = length = 0
    for match in _MARKER.finditer(text):
        parts.append(text[last:match.start()])
        length += match.start() - last
        markers.append((length, [int(n) for n in re.findall(r"-?\d+", match.group(1))]))
        last = match.end()
    parts.append(text[last:])
    return "".join(parts), markers


def _units(clean: str, tokenizer: Tokenizer) -> list[_Unit]:
    """The sentences of `clean`, line by line, with fragments merged into a neighbour."""
    units: list[_Unit] = []
    pending: int | None = None  # start of fragments waiting for the next sentence
    for start, end in _sentence_spans(clean):
        text = clean[start:end]
        tokens = frozenset(tokenizer.tokens(text))
        if _is_fragment(text, tokens):
            pending = start if pending is None else pending
            continue
        units.append(_Unit(start if pending is None else pending, end, tokens))
        pending = None
    if pending is not None and units:
        units[-1].end = len(clean.rstrip())
    return units


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        spans += [(offset + a, offset + b) for a, b in split_sentences(line)]
        offset += len(line) + 1
    return spans


def _is_fragment(text: str, tokens: frozenset[str]) -> bool:
    if not tokens or _LIST_BULLET.fullmatch(text):
        return True
    return set(_WORD.findall(text.casefold())) <= _FILLER


def _assign_markers(clean: str, units: list[_Unit], markers: list[tuple[int, list[int]]],
                    passages: int) -> int:
    """Give each valid cited number to its sentence; the count of invalid numbers."""
    removed = 0
    starts = [unit.start for unit in units]
    for position, numbers in markers:
        valid = [n for n in numbers if 1 <= n <= passages]
        removed += len(numbers) - len(valid)
        if not units:
            continue
        i = bisect_left(starts, position) - 1
        if i < 0 or ("\n" in clean[units[i].end:position] and i + 1 < len(units)):
            i += 1
        units[i].numbers += [n for n in valid if n not in units[i].numbers]
    return removed


def _judge(unit: _Unit, evidence: _Evidence, threshold: float) -> list[_Support] | None:
    """The supports that keep `unit`, or None when the passages do not support it."""
    if unit.numbers:
        supports = [evidence.support(unit.tokens, n) for n in unit.numbers]
        found = frozenset().union(*(s.hits for s in supports))
        if evidence.share(unit.tokens, found) < threshold:
            return None
        return [s for s in supports if s.hits] or supports[:1]
    candidates = [evidence.support(unit.tokens, n) for n in range(1, len(evidence.passages) + 1)]
    best = max(candidates, key=lambda s: evidence.weight(s.hits))
    return [best] if evidence.share(unit.tokens, best.hits) >= threshold else None


def _assemble(clean: str, kept: list[tuple[_Unit, list[_Support]]], evidence: _Evidence
              ) -> tuple[str, list[Citation]]:
    answer = ""
    citations: list[Citation] = []
    previous_end: int | None = None
    for unit, supports in kept:
        if previous_end is not None:
            answer += _separator(clean[previous_end:unit.start])
        start = len(answer)
        answer += clean[unit.start:unit.end]
        citations += [_citation(evidence.passages[s.number - 1], s, start, len(answer))
                      for s in supports]
        answer += " " + "".join(f"[{s.number}]" for s in supports)
        previous_end = unit.end
    return answer, citations


def _separator(gap: str) -> str:
    if re.search(r"\n[ \t]*\n", gap):
        return "\n\n"
    return "\n" if "\n" in gap else " "


def _citation(passage: Passage, support: _Support, answer_start: int, answer_end: int
              ) -> Citation:
    start, end = support.quote
    return Citation(
        number=support.number, document_id=passage.document_id, filename=passage.filename,
        page=passage.page, quote=passage.text[start:end], chunk_id=passage.chunk_id,
        char_start=passage.char_start + start, char_end=passage.char_start + end,
        answer_start=answer_start, answer_end=answer_end,
    )
