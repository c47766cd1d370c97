"""English questions, without an analyser: words that are not stop words make runs of
nouns; a capitalized word inside the sentence (or a word in capitals, or with digits) is a
name; a possessive ends a run; the closing verb of a question is dropped."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa_service.answer.phrases.model import NUMBER, YEAR, Anaphor, Kind, Parsed, Phrase
from qa_service.tokens import STOPWORDS, Tokenizer

__all__ = ["EnglishQuestion"]

_EN_WORD = re.compile(r"[^\W_]+(?:[-.&/][^\W_]+)*")
_POSSESSIVE = re.compile(r"['\u2019]s\b|(?<=s)['\u2019](?=\s|$)")
_EN_CUES = frozenset({"and", "but", "also", "so", "then", "ok", "okay", "now", "well", "oh",
                      "plus"})
_EN_ABOUT = frozenset({"what", "how"})  # + "about"
_EN_WH = frozenset({"what", "which", "who", "whom", "whose", "when", "where", "why", "how"})
_EN_HOW = frozenset({"much", "many", "long", "far", "often", "old", "big", "large", "soon"})
_EN_QUESTION = frozenset({"what", "which", "who", "whom", "whose", "when", "where", "why",
                          "how", "please", "tell", "give", "explain", "describe", "say",
                          "says", "said", "know", "show", "list", "according", "mention",
                          "mentioned", "state", "stated", "else", "exactly", "yes", "kind",
                          "type", "sort", "also", "instead", "there"})
_EN_AUXILIARY = frozenset({"do", "does", "did", "is", "are", "was", "were", "can", "could",
                           "will", "would", "has", "have", "had", "should", "may", "might"})
_EN_PRONOUNS = frozenset({"it", "they", "them", "he", "him", "she", "its", "their", "his",
                          "her", "theirs"})
_EN_POSSESSIVE_PRONOUNS = frozenset({"its", "their", "his", "her", "theirs"})
_EN_PLURAL_PRONOUNS = frozenset({"they", "them", "their", "theirs"})
_EN_DEMONSTRATIVES = frozenset({"this", "these", "those", "that", "the", "such"})
# "the company", "that report": a definite noun phrase that points back
_EN_GENERIC_HEADS = frozenset({"company", "companies", "firm", "business", "organization",
                               "document", "documents", "report", "filing", "paper", "study",
                               "article", "book", "chapter", "product", "products", "device",
                               "model", "hotel", "city", "plan", "same", "one", "ones",
                               "person", "group", "fund", "bank", "manual", "guide"})
_EN_POINTING = frozenset({"this", "these", "those"})  # + any noun: "this vacuum"
_EN_TIME = frozenset({"year", "years", "month", "months", "week", "quarter", "time", "period",
                      "day", "morning", "evening", "season"})  # "this year" points nowhere
_EN_EXPLETIVE_VERBS = frozenset({"take", "takes", "took", "cost", "costs"})
_EN_EXPLETIVE_ADJECTIVES = frozenset({"possible", "necessary", "true", "allowed", "required",
                                      "safe", "legal", "mandatory", "free"})
_EN_PREPOSITIONS = frozenset({"in", "of", "for", "on", "at", "from", "about", "by", "with",
                              "to", "into", "under", "after", "before", "during"})
# prepositions and other function words that STOPWORDS leaves in
_EN_FUNCTION = frozenset({"across", "per", "via", "within", "without", "among", "along",
                          "around", "behind", "beside", "besides", "beyond", "despite",
                          "except", "inside", "near", "onto", "outside", "since", "toward",
                          "towards", "upon", "versus", "vs", "amid", "including", "regarding",
                          "according", "overall", "total", "whole", "entire"})
_MONTHS = frozenset("january february march april may june july august september october "
                    "november december jan feb mar apr jun jul aug sep sept oct nov dec"
                    .split())
_EN_LEADING_WORDS = 5  # a question this short, without a question word, is a fragment


@dataclass(frozen=True)
class _Word:
    text: str
    start: int
    end: int
    lower: str
    possessive: bool  # followed by 's


class EnglishQuestion:
    def __init__(self, text: str, tokenizer: Tokenizer) -> None:
        self.text = text
        self.tokenizer = tokenizer
        self.words = [_Word(m.group(), m.start(), m.end(), m.group().casefold(),
                            _POSSESSIVE.match(text, m.end()) is not None)
                      for m in _EN_WORD.finditer(text)
                      if not (m.group() in "sS" and text[m.start() - 1:m.start()] in "'\u2019"
                              and m.start() > 0)]

    def parse(self) -> Parsed:
        cue, first, fragment = self._cue()
        anaphors, pointed = self._anaphors(first)
        runs = self._runs(first, pointed)
        phrases: list[Phrase] = []
        spans = []
        for number, run in enumerate(runs):
            phrases += self._phrases(run, number)
            spans.append((run[0].start, run[-1].end))
        asks = any(w.lower in _EN_QUESTION or w.lower in _EN_AUXILIARY
                   for w in self.words[first:first + 2])
        fragment = fragment or (not asks and len(self.words) - first <= _EN_LEADING_WORDS)
        asked = next((w.end for w in self.words[first:] if w.lower in _EN_WH), -1)
        return Parsed(self.text, False, tuple(phrases), tuple(anaphors), cue, fragment,
                      tuple(spans), asked)

    def _cue(self) -> tuple[int, int, bool]:
        """Where the opening cue ends, the first word after it, and whether it was
        "what about" / "how about" (the rest is then a fragment)."""
        i, about, words = 0, False, self.words
        while i < len(words):
            if words[i].lower in _EN_CUES:
                i += 1
            elif (words[i].lower in _EN_ABOUT and i + 1 < len(words)
                  and words[i + 1].lower == "about"):
                i, about = i + 2, True
            else:
                break
        end = words[i].start if i < len(words) else len(self.text)
        return (end if i else 0), i, about

    def _anaphors(self, first: int) -> tuple[list[Anaphor], set[int]]:
        """The anaphors, and the indexes of the words they cover."""
        found, covered = [], set()
        words = self.words
        for i in range(first, len(words)):
            word = words[i]
            nxt = words[i + 1] if i + 1 < len(words) else None
            if word.lower in _EN_PRONOUNS and not (word.lower == "it" and self._expletive(i)):
                found.append(Anaphor(word.start, word.end,
                                     word.lower in _EN_POSSESSIVE_PRONOUNS,
                                     plural=word.lower in _EN_PLURAL_PRONOUNS))
                covered.add(i)
            elif nxt is not None and self._points(i):
                key = (self.tokenizer.tokens(nxt.text) or [nxt.lower])[0]
                found.append(Anaphor(word.start, nxt.end, nxt.possessive, key,
                                     nxt.lower in _EN_GENERIC_HEADS))
                covered |= {i, i + 1}
        return found, covered

    def _points(self, i: int) -> bool:
        """Whether word `i` and the next make a noun phrase that points back: "the
        company", "this vacuum", "in that case" (not "the product that costs")."""
        word, nxt = self.words[i], self.words[i + 1]
        if word.lower not in _EN_DEMONSTRATIVES or not _adjacent(self.text, word.end,
                                                                   nxt.start):
            return False
        if nxt.lower in _EN_GENERIC_HEADS:
            return True
        if self._stop(nxt) or nxt.lower in _EN_TIME or nxt.text[:1].isupper():
            return False
        before = self.words[i - 1].lower if i > 0 else ""
        last = i + 2 == len(self.words)  # "... investigating that accident?"
        return word.lower in _EN_POINTING or (word.lower == "that" and (
            before in _EN_PREPOSITIONS or last))

    def _runs(self, first: int, pointed: set[int]) -> list[list[_Word]]:
        runs: list[list[_Word]] = []
        current: list[_Word] = []
        for i in range(first, len(self.words)):
            word = self.words[i]
            joins = current and _adjacent(self.text, current[-1].end, word.start) \
                and not current[-1].possessive
            if not joins and current:
                runs.append(current)
                current = []
            if i in pointed or self._stop(word):
                continue
            current.append(word)
        if current:
            runs.append(current)
        return self._without_final_verb(runs, first)

    def _without_final_verb(self, runs: list[list[_Word]], first: int) -> list[list[_Word]]:
        """The question's closing verb is not a noun: "How long does the battery last?"
        (after do/does/did, the last lowercase word), "When was Netflix founded?" (after
        a form of be or have, a participle)."""
        auxiliaries = {w.lower for w in self.words[first:]} & _EN_AUXILIARY
        if not runs or not auxiliaries:
            return runs
        last = runs[-1]
        word = last[-1]
        tail = self.text[word.end:].strip()
        if len(last) < 2 or not word.text.islower() or tail not in ("", "?", ".", "?."):
            return runs
        if auxiliaries & {"do", "does", "did"} or _participle(word.lower):
            runs[-1] = last[:-1]
        return runs

    def _stop(self, word: _Word) -> bool:
        """A stop word, a question word, or "much", "long"... after "how"."""
        if word.lower in STOPWORDS or word.lower in _EN_QUESTION or word.lower in _EN_FUNCTION:
            return True
        index = self.words.index(word)
        return word.lower in _EN_HOW and index > 0 and self.words[index - 1].lower == "how"

    def _expletive(self, index: int) -> bool:
        """ "How long does it take to ...", "is it possible to ...": an "it" that points
        at nothing."""
        after = self.words[index + 1].lower if index + 1 < len(self.words) else ""
        before = self.words[index - 1].lower if index > 0 else ""
        later = {w.lower for w in self.words[index + 2:]}
        return (after in _EN_EXPLETIVE_VERBS and "to" in later) or (
            before in ("is", "was", "isn", "wasn") and after in _EN_EXPLETIVE_ADJECTIVES)

    def _phrases(self, run: list[_Word], number: int) -> list[Phrase]:
        """A run's numbers (each with the word after it as its unit) and the stretches of
        words between them; a number right after a name is part of it ("Aurora 3")."""
        out: list[Phrase] = []
        stretch: list[_Word] = []
        i = 0
        while i < len(run):
            word = run[i]
            if NUMBER.match(word.text) and not self._proper(word):
                out += self._stretch(stretch, number)
                stretch = []
                unit = run[i + 1] if i + 1 < len(run) and not NUMBER.match(run[i + 1].text) \
                    and not YEAR.match(word.text) else None
                out.append(self._number(word, unit, number))
                i += 2 if unit is not None else 1
                continue
            stretch.append(word)
            i += 1
        return out + self._stretch(stretch, number)

    def _stretch(self, words: Sequence[_Word], run: int) -> list[Phrase]:
        """A stretch of words as its names and the other words between them:
        Samsung | cordless vacuum."""
        out: list[Phrase] = []
        part: list[_Word] = []
        for word in words:
            if part and self._proper(word) != self._proper(part[-1]):
                out += self._part(part, run)
                part = []
            part.append(word)
        return out + self._part(part, run)

    def _part(self, words: Sequence[_Word], run: int) -> list[Phrase]:
        keys = [k for w in words for k in self.tokenizer.tokens(w.text)[:1]]
        if not keys:
            return []
        role = "possessive" if words[-1].possessive else (
            "of" if self._next_lower(words[-1]) == "of" else "")
        if all(w.text.islower() and _participle(w.lower) for w in words):
            role = "verbal"  # "affected", "received": a verb, not a thing
        start, end = words[0].start, words[-1].end
        kind: Kind = "month" if all(w.lower in _MONTHS for w in words) else (
            "entity" if self._proper(words[0]) else "noun")
        return [Phrase(self.text[start:end], start, end, kind, frozenset(keys), keys[-1],
                       run, role)]

    def _number(self, word: _Word, unit: _Word | None, run: int) -> Phrase:
        year = YEAR.match(word.text) is not None and unit is None
        end = unit.end if unit is not None else word.end
        unit_key = (self.tokenizer.tokens(unit.text) or [unit.lower])[0] if unit else ""
        keys = frozenset({word.text.replace(",", ""), *([unit_key] if unit_key else [])})
        return Phrase(self.text[word.start:end], word.start, end,
                      "year" if year else "quantity", keys, unit_key or word.text, run,
                      unit=unit_key, value_start=word.start, value_end=word.end)

    def _proper(self, word: _Word) -> bool:
        """A name: capitals inside the sentence, all capitals, letters with digits, or a
        capitalized first word that is possessive or followed by another capital."""
        text = word.text
        if any(c.isdigit() for c in text):
            index = self.words.index(word)  # "Aurora 3": a number after a name
            return any(c.isalpha() for c in text) or (
                index > 0 and not YEAR.match(text)
                and not NUMBER.match(self.words[index - 1].text)
                and self._proper(self.words[index - 1])
                and _adjacent(self.text, self.words[index - 1].end, word.start))
        if not text[:1].isupper() or word.lower in _MONTHS:
            return False
        if (len(text) > 1 and text.isupper()) or any(c.isupper() for c in text[1:]):
            return True
        index = self.words.index(word)
        if index > 0:
            return True
        nxt = self.words[index + 1] if index + 1 < len(self.words) else None
        return word.possessive or (nxt is not None and nxt.text[:1].isupper())

    def _next_lower(self, word: _Word) -> str:
        index = self.words.index(word)
        return self.words[index + 1].lower if index + 1 < len(self.words) else ""


_IRREGULAR_PARTICIPLES = frozenset({"made", "built", "held", "sold", "paid", "run", "set",
                                    "put", "cut", "hit", "read", "led", "met", "kept", "lost",
                                    "won", "found", "bought", "brought", "taught", "sent",
                                    "spent", "left", "born", "done", "seen", "given", "taken",
                                    "known", "shown", "grown", "written", "chosen", "begun",
                                    "cast"})


def _participle(word: str) -> bool:
    return word.endswith("ed") or word in _IRREGULAR_PARTICIPLES


def _adjacent(text: str, end: int, start: int) -> bool:
    """Only spaces or a hyphen between two words."""
    return text[end:start].strip(" -") == ""

