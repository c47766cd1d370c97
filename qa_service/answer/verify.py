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
   "1.", "네."), cannot be checked on its own: it joins the sentence after it and shares
   its fate; after the last sentence, it is dropped.
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
   sentence citing no valid passage, or passages that do not support it, is checked
   against each passage alone and, when the best one supports it, cites that one (small
   models often cite the passage next to the right one; the wrong number is counted in
   `removed_citations`). Every figure a sentence states must be written in the passages
   that support it (a small model's favourite invention is a plausible number; a
   threshold of 0 checks nothing). A sentence in the other language than a passage (a
   Korean answer from an English page) shares none of its words: it is supported by the
   passage sentence whose multilingual vector is closest to its own when their cosine reaches
   `CROSS_LINGUAL_SUPPORT` (0.7; translations measured 0.73 to 0.90, sentences on the
   same topic making another claim 0.24 to 0.67) and every figure it states is written in
   that sentence or its neighbours. Unsupported sentences are removed and counted
   in `unsupported_sentences`; a reply with nothing left abstains. A cited passage that
   shares no token with a kept sentence is not listed as its citation.
5. Citations. The answer is rebuilt from the kept sentences, each followed by its
   markers (`... capital of France. [1]`); for each cited passage, the quote is the
   passage sentence (inside the best window) sharing the most weight with the answer
   sentence, verbatim, with page offsets, and `answer[answer_start:answer_end]` is the
   answer sentence without its markers.

The reply is checked as it streams (`ReplyChecker`): a sentence is judged as soon as the
next one begins, and only what is kept is released, so a client never sees a sentence
that the final answer does not hold.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from qa_service.answer.models import Answer, AnswerMode, Citation, abstention_text
from qa_service.answer.prompt import DECLINE_TOKEN
from qa_service.schemas import Passage
from qa_service.sentences import split_sentences
from qa_service.tokens import Tokenizer, is_korean

__all__ = ["ReplyChecker", "StreamGuard", "abstention", "check_reply", "passage_urls",
           "sanitize_links"]

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
_FIGURE = re.compile(r"\d(?:[\d,.]*\d)?")
_FIGURE_SEPARATOR = re.compile(r"(?<=\d),(?=\d)")
_NUMBER_WORDS = {word: str(n) for n, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())} | {
    word: str(10 * n) for n, word in enumerate(
        "thirty forty fifty sixty seventy eighty ninety".split(), 3)}
CROSS_LINGUAL_SUPPORT = 0.7  # cosine: translations 0.73-0.90, other claims 0.24-0.67

Encode = Callable[[Sequence[str]], "npt.NDArray[np.float32]"]
_SPACES = re.compile(r"[ \t]{2,}")


@dataclass
class _Unit:
    """A sentence of the reply (with any fragments merged in): a span of the clean text."""

    start: int
    end: int
    tokens: frozenset[str]
    text: str = ""  # the sentence as written (for the cross-lingual check)
    numbers: list[int] = field(default_factory=list)
    vector: npt.NDArray[np.float32] | None = None  # its multilingual vector, once needed


@dataclass(frozen=True)
class _Support:
    """How one passage supports one sentence: tokens found and the best quote's span."""

    number: int
    hits: frozenset[str]
    quote: tuple[int, int]


class _Evidence:
    """The passages, cut into sentences and tokenized once per reply."""

    def __init__(self, passages: Sequence[Passage], tokenizer: Tokenizer,
                 encode: Encode | None = None) -> None:
        self.passages = list(passages)
        self._encode = encode
        self._vectors: dict[int, npt.NDArray[np.float32]] = {}
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

    def across_languages(self, unit: _Unit, number: int) -> _Support | None:
        """Support for a sentence in the other language than passage `number`: a sentence
        of the passage whose meaning is the same (cosine of their multilingual vectors at
        least `CROSS_LINGUAL_SUPPORT`) and that holds every figure the sentence states."""
        passage = self.passages[number - 1]
        if self._encode is None or is_korean(unit.text) == is_korean(passage.text):
            return None
        spans = self.spans[number - 1]
        vectors = self._vectors.get(number)
        if vectors is None:
            vectors = self._vectors[number] = self._encode([passage.text[a:b]
                                                            for a, b in spans])
        if unit.vector is None:
            unit.vector = self._encode([unit.text])[0]
        similarity = vectors @ unit.vector
        best = int(np.argmax(similarity))
        window = passage.text[spans[max(best - 1, 0)][0]:spans[min(best + 1, len(spans) - 1)][1]]
        if float(similarity[best]) < CROSS_LINGUAL_SUPPORT or not _states_figures(unit.text,
                                                                                 window):
            return None
        return _Support(number, unit.tokens, spans[best])

    def backs(self, unit: _Unit, supports: Sequence[_Support], threshold: float) -> bool:
        """Whether `supports` together keep `unit`: the weighted share of its tokens they
        hold reaches `threshold` and (unless it is 0) their passages write every figure it
        states."""
        found = frozenset().union(*(s.hits for s in supports))
        if self.share(unit.tokens, found) < threshold:
            return False
        return threshold <= 0 or _states_figures(
            unit.text, " ".join(self.passages[s.number - 1].text for s in supports))

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
                support_threshold: float, encode: Encode | None = None) -> Answer:
    """The checked `Answer` (mode `llm`) for the model's `reply` to `question`; `encode`
    (multilingual passage vectors) lets a sentence be supported by a passage in the other
    language."""
    checker = ReplyChecker(question, passages, tokenizer, support_threshold, encode)
    checker.feed(reply)
    return checker.finish()[1]


class ReplyChecker:
    """Checks a reply as it is written, releasing only what the final answer keeps.

    `feed` takes the reply's next piece and returns the answer text that became final: a
    sentence is judged once the next one has begun (its citation markers are all written
    by then) and, when kept, released with its separator and markers; `finish` judges the
    rest and returns the last text and the `Answer`, whose `answer` is exactly everything
    released, in order. So streamed text is always a prefix of the final answer, and a
    sentence the passages do not support is never shown. A reply given whole (`feed` once)
    is checked the same way (`check_reply`).
    """

    def __init__(self, question: str, passages: Sequence[Passage], tokenizer: Tokenizer,
                 support_threshold: float, encode: Encode | None = None) -> None:
        self._question = question
        self._passages = list(passages)
        self._tokenizer = tokenizer
        self._threshold = support_threshold
        self._evidence = (_Evidence(self._passages, tokenizer, encode) if self._passages
                          else None)
        self._guard = StreamGuard(self._passages)
        self._raw = ""  # not yet given to the guard: after the last whitespace
        self._settled = ""  # the guard's output: links sanitized, entities decoded
        self._tokens: dict[str, frozenset[str]] = {}
        self._judged = 0  # units judged so far
        self._unsupported = 0
        self._recited = 0  # citations replaced: the cited passage did not support its sentence
        self._assembly = _Assembly()

    def feed(self, piece: str) -> str:
        """The answer text that `piece` made final ("" while a sentence is still open)."""
        self._raw += piece
        cut = max(self._raw.rfind(c) for c in " \n\t") + 1
        if cut == 0:
            return ""
        ready, self._raw = self._raw[:cut], self._raw[cut:]
        settled = self._guard.feed(_decoded(ready))
        if not settled:
            return ""  # the guard holds it all (an open link or marker): nothing to judge
        self._settled += settled
        return self._release(final=False)[0]

    def finish(self) -> tuple[str, Answer]:
        """The last released text and the finished `Answer`."""
        self._settled += self._guard.feed(_decoded(self._raw)) + self._guard.flush()
        self._raw = ""
        rest, removed = self._release(final=True)
        assembly = self._assembly
        if self._evidence is None or not assembly.citations:
            return "", abstention(self._question, self._passages, removed_citations=removed,
                                  unsupported_sentences=self._unsupported)
        return rest, Answer(
            question=self._question, answer=assembly.answer, abstained=False,
            mode=AnswerMode.LLM, citations=assembly.citations, passages=self._passages,
            removed_citations=removed, unsupported_sentences=self._unsupported,
        )

    def _release(self, final: bool) -> tuple[str, int]:
        """Judge the units that are final; their text, and the invalid citations so far."""
        if self._evidence is None or _is_decline(self._settled):
            return "", 0
        # pieces sanitized apart may each end and begin with a space where a link was
        settled = _SPACES.sub(" ", _DECLINE.sub("", self._settled))
        clean, markers = _take_markers(settled)
        units = _units(clean, self._tokenized)
        removed = _assign_markers(clean, units, markers, len(self._passages))
        ready = units if final else units[:-1]  # the last may grow or gain markers
        released = []
        for unit in ready[self._judged:]:
            supports = _judge(unit, self._evidence, self._threshold)
            if supports is None:
                self._unsupported += 1
                continue
            if {s.number for s in supports}.isdisjoint(unit.numbers):
                self._recited += len(unit.numbers)  # re-cited: none of its numbers stands
            released.append(self._assembly.add(clean, unit, supports, self._evidence))
        self._judged = max(self._judged, len(ready))
        return "".join(released), removed + self._recited

    def _tokenized(self, text: str) -> frozenset[str]:
        tokens = self._tokens.get(text)
        if tokens is None:
            tokens = self._tokens[text] = frozenset(self._tokenizer.tokens(text))
        return tokens


def _decoded(text: str) -> str:
    return _ENTITY.sub(lambda m: _ENTITIES[m.group()], text)


def sanitize_links(text: str, allowed_urls: frozenset[str]) -> str:
    """`text` without images or HTML tags, and without links or URLs other than
    `allowed_urls`; link definitions lose their label, so no reference can resolve."""
    text = _IMAGE.sub("", _HTML_TAG.sub("", text))
    text = _LINK.sub(lambda m: _link(m, allowed_urls), text)
    text = _DESTINATION.sub(lambda m: _destination(m, allowed_urls), text)
    text = _DEFINITION.sub(r"\1", text).replace("![", "[")
    text = _ANY_URL.sub(lambda m: _bare_url(m.group(), allowed_urls), text)
    return _SPACES.sub(" ", text.replace("<>", ""))


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


def _units(clean: str, tokenized: Callable[[str], frozenset[str]]) -> list[_Unit]:
    """The sentences of `clean`, line by line, with fragments merged into the next
    sentence; fragments after the last sentence are left out."""
    units: list[_Unit] = []
    pending: int | None = None  # start of fragments waiting for the next sentence
    for start, end in _sentence_spans(clean):
        text = clean[start:end]
        tokens = tokenized(text)
        if _is_fragment(text, tokens):
            pending = start if pending is None else pending
            continue
        units.append(_Unit(start if pending is None else pending, end, tokens, text))
        pending = None
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
        if evidence.backs(unit, supports, threshold):
            return [s for s in supports if s.hits] or supports[:1]
        # small models often cite the passage next to the right one: the sentence is kept
        # when another passage supports it, citing that one (the wrong number is removed)
    candidates = [evidence.support(unit.tokens, n) for n in range(1, len(evidence.passages) + 1)]
    best = max(candidates, key=lambda s: evidence.weight(s.hits))
    if evidence.backs(unit, [best], threshold):
        return [best]
    # a sentence in the other language shares no words with its passage: its meaning does
    order = [*unit.numbers, *(n for n in range(1, len(evidence.passages) + 1)
                             if n not in unit.numbers)]
    for number in order:
        if (support := evidence.across_languages(unit, number)) is not None:
            return [support]
    return None


class _Assembly:
    """The answer built from the kept sentences, one at a time, each followed by its
    markers (`... capital of France. [1]`), with the citations quoting its support."""

    def __init__(self) -> None:
        self.answer = ""
        self.citations: list[Citation] = []
        self._previous_end: int | None = None

    def add(self, clean: str, unit: _Unit, supports: list[_Support], evidence: _Evidence
            ) -> str:
        """Append `unit` (a span of `clean`); the text appended."""
        piece = "" if self._previous_end is None else _separator(
            clean[self._previous_end:unit.start])
        start = len(self.answer) + len(piece)
        piece += clean[unit.start:unit.end]
        end = len(self.answer) + len(piece)
        self.citations += [_citation(evidence.passages[s.number - 1], s, start, end)
                           for s in supports]
        piece += " " + "".join(f"[{s.number}]" for s in supports)
        self.answer += piece
        self._previous_end = unit.end
        return piece


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


def _states_figures(sentence: str, source: str) -> bool:
    """Whether `source` writes every figure `sentence` states: in digits (thousands
    separators aside, so "52,187,866" is found in a table cell glued to its neighbour) or,
    for small numbers, in English words ("two-year" states 2)."""
    digits = _FIGURE_SEPARATOR.sub("", source)
    words = _figures(source)
    return all(f in digits or f in words for f in _figures(sentence))


def _figures(text: str) -> set[str]:
    """The figures `text` states, without thousands separators ("52,187,866" -> "52187866"),
    and those it writes as English words ("a two-year warranty" -> "2")."""
    words = {_NUMBER_WORDS[w] for w in _WORD.findall(text.casefold()) if w in _NUMBER_WORDS}
    return {_FIGURE_SEPARATOR.sub("", f) for f in _FIGURE.findall(text)} | words
