"""Cross-lingual word bridge: a question's words in the knowledge base's other language.

An English question about a Korean page ("How long is the battery warranty?") shares no
word with it, so BM25 and the answerer's word overlaps see nothing. The multilingual
sentence encoder places a single word near its translations ("warranty" near 보증,
"battery" near 배터리, 은행 near "bank"), so each content word of the question is looked up
among the indexed terms of the other language (Korean morphemes of two syllables or more;
English stems of three letters or more) by the cosine of their vectors. Hubs (terms close
to every word, such as 만큼 or 의의) are discounted by cross-domain similarity local
scaling (CSLS): a pair's score is twice its cosine less each side's mean cosine to its
`NEIGHBOURS` nearest terms on the other side. The terms scoring at least `min_score`, at
most `per_word`, become the word's translations: retrieval also searches them, and the
answerer counts a sentence that holds a translation as holding the word. The labels that
forms and statements print have no reliable neighbours ("total" and "due" find no Korean
term), so a word's translations in the glossary of such labels (`qa_service.glossary`)
that the knowledge base holds come first.

The terms' vectors are computed when first needed and kept with the knowledge base
(`TermVectorCache`: a JSON header of the model, the dimension and the terms, then the
vectors as raw float16; no pickle): a term is embedded once, and a new document adds only
its new terms. Which terms a side holds and their hub scores are kept too (`SideFile`,
keyed by the model, the question's language and the index state): a server started on an
unchanged knowledge base answers its first question without listing every indexed term or
measuring the hubs again.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa_service.glossary import Glossary
from qa_service.store.atomic import write_bytes_atomic
from qa_service.tokens import Tokenizer, has_hangul

__all__ = ["SideFile", "TermVectorCache", "WordBridge", "question_words"]

log = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]
Encode = Callable[[Sequence[str]], Vectors]
NEIGHBOURS = 10  # CSLS: the nearest terms whose mean cosine discounts a hub
HUB_SAMPLE = 4000  # terms of the question's language a hub is measured against, at most
MIN_TERMS = 100  # a language with fewer indexed terms is not translated into
_ENGLISH_TERM = re.compile(r"^[a-z]{3,}$")
_QUESTION_WORD = re.compile(r"[^\W_][\w'\-]*")


def is_korean_term(term: str) -> bool:
    """A Korean term worth translating: two syllables or more (one syllable, such as 년 or
    개, is a unit or a fragment, close to everything)."""
    return has_hangul(term) and len(term) >= 2


def is_english_term(term: str) -> bool:
    return _ENGLISH_TERM.match(term) is not None


def question_words(tokenizer: Tokenizer, question: str) -> list[tuple[str, str]]:
    """The question's content words in its own language as (token, word as written): a
    Korean question's Hangul morphemes, an English question's words with their stems (a
    Latin name in a Korean question is matched as it is, not translated)."""
    if has_hangul(question):
        return [(t, t) for t in dict.fromkeys(tokenizer.tokens(question)) if is_korean_term(t)]
    words: dict[str, str] = {}
    for match in _QUESTION_WORD.finditer(question):
        for word in _parts_of(match.group(), tokenizer):
            tokens = tokenizer.tokens(word)
            if len(tokens) == 1 and is_english_term(tokens[0]) and tokens[0] not in words:
                words[tokens[0]] = word
    return list(words.items())


def _parts_of(word: str, tokenizer: Tokenizer) -> list[str]:
    """A hyphenated word as its parts ("non-controlling" -> non, controlling), each
    translated alone, when the tokenizer splits it; any other word whole."""
    if "-" in word and len(tokenizer.tokens(word)) > 1:
        return [part for part in word.split("-") if part]
    return [word]


class TermVectorCache:
    """The vectors of a knowledge base's indexed terms, embedded once each, kept in
    `path`: a 4-byte little-endian header length, the JSON header (`model`, `dimension`,
    `terms`), then one float16 row per term; rewritten whole, atomically, when terms were
    added. A file of another model, or one that does not read back whole, is ignored."""

    def __init__(self, path: Path, model: str, encode: Encode) -> None:
        self.path = path
        self.model = model
        self.encode = encode
        self._rows: dict[str, int] = {}
        self._vectors = np.zeros((0, 0), dtype=np.float16)
        self._loaded = False

    def vectors(self, terms: Sequence[str]) -> Vectors:
        """The unit vectors of `terms`, in order (embedding the ones never seen)."""
        self._load()
        missing = [t for t in dict.fromkeys(terms) if t not in self._rows]
        if missing:
            added = np.asarray(self.encode(missing), dtype=np.float16)
            base = len(self._rows)
            self._vectors = (np.vstack([self._vectors, added]) if base else added)
            self._rows.update((t, base + i) for i, t in enumerate(missing))
            self._save()
        if not terms:
            return np.zeros((0, self._vectors.shape[1] if self._vectors.size else 1),
                            dtype=np.float32)
        return self._vectors[[self._rows[t] for t in terms]].astype(np.float32)

    def retain(self, terms: Sequence[str]) -> None:
        """Forget the vectors of terms no longer indexed (their documents were deleted)
        once they are as many as the indexed ones: the file does not grow without end."""
        self._load()
        wanted = set(terms)
        stale = [t for t in self._rows if t not in wanted]
        if len(stale) <= len(self._rows) - len(stale):
            return
        kept = [t for t in self._rows if t in wanted]
        self._vectors = self._vectors[[self._rows[t] for t in kept]]
        self._rows = {t: i for i, t in enumerate(kept)}
        self._save()

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        try:
            header, vectors = _decoded(self.path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("term vectors %s unreadable (%s): embedding the terms again",
                        self.path, exc)
            return
        if header["model"] != self.model:
            return
        self._rows = {str(t): i for i, t in enumerate(header["terms"])}
        self._vectors = vectors

    def _save(self) -> None:
        header = json.dumps({"model": self.model, "dimension": int(self._vectors.shape[1]),
                             "terms": list(self._rows)}, ensure_ascii=False).encode("utf-8")
        data = (len(header).to_bytes(4, "little") + header
                + self._vectors.astype("<f2").tobytes())
        try:
            write_bytes_atomic(self.path, data)
        except OSError as exc:  # a read-only data directory: embed again next time
            log.warning("term vectors not kept at %s: %s", self.path, exc)


def _decoded(raw: bytes) -> tuple[dict[str, Any], npt.NDArray[np.float16]]:
    """A `TermVectorCache` file's header and vectors; ValueError when it is not whole."""
    size = int.from_bytes(raw[:4], "little")
    header = json.loads(raw[4:4 + size].decode("utf-8"))
    terms, dimension = header["terms"], int(header["dimension"])
    body = raw[4 + size:]
    if not isinstance(terms, list) or len(body) != len(terms) * dimension * 2:
        raise ValueError("the vectors do not match the terms")
    vectors = np.frombuffer(body, dtype="<f2").reshape(len(terms), dimension)
    return header, vectors.astype(np.float16)


@dataclass(frozen=True)
class _Side:
    """The indexed terms of one language, their vectors and hub scores."""

    terms: tuple[str, ...]
    vectors: Vectors
    hubs: npt.NDArray[np.float32]
    held: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "held", frozenset(self.terms))


class SideFile:
    """Which terms a question in one language is translated into, and their hub scores, as
    last built for an index state: a 4-byte little-endian header length, the JSON header
    (`model`, `korean_question`, `state`, `terms`: null for a side with too few terms),
    then one little-endian float32 hub score per term. Read only when the model, the
    language and the state are the ones asked for; a file that does not read back whole is
    ignored (the side is built again)."""

    def __init__(self, path: Path, model: str) -> None:
        self.path = path
        self.model = model

    def load(self, state: object, korean_question: bool
             ) -> tuple[bool, tuple[list[str], npt.NDArray[np.float32]] | None]:
        """(found, (terms, hubs) or None for a side with too few terms)."""
        wanted = _jsonable(state)
        if wanted is None:
            return False, None
        try:
            raw = self.path.read_bytes()
            size = int.from_bytes(raw[:4], "little")
            header = json.loads(raw[4:4 + size].decode("utf-8"))
            if (header["model"], header["korean_question"], header["state"]) != (
                    self.model, korean_question, wanted):
                return False, None
            if header["terms"] is None:
                return True, None
            terms = [str(t) for t in header["terms"]]
            hubs = np.frombuffer(raw[4 + size:], dtype="<f4")
            if len(hubs) != len(terms):
                raise ValueError("the hub scores do not match the terms")
        except FileNotFoundError:
            return False, None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("term side %s unreadable (%s): building it again", self.path, exc)
            return False, None
        return True, (terms, hubs.astype(np.float32))

    def save(self, state: object, korean_question: bool,
             side: tuple[Sequence[str], npt.NDArray[np.float32]] | None) -> None:
        wanted = _jsonable(state)
        if wanted is None:
            return
        header = json.dumps({"model": self.model, "korean_question": korean_question,
                             "state": wanted, "terms": list(side[0]) if side else None},
                            ensure_ascii=False).encode("utf-8")
        body = side[1].astype("<f4").tobytes() if side else b""
        try:
            write_bytes_atomic(self.path, len(header).to_bytes(4, "little") + header + body)
        except OSError as exc:  # a read-only data directory: built again next start
            log.warning("term side not kept at %s: %s", self.path, exc)


def _jsonable(state: object) -> Any:
    """`state` as it reads back from JSON, or None when it cannot be written as JSON."""
    try:
        return json.loads(json.dumps(state))
    except (TypeError, ValueError):
        return None


class WordBridge:
    def __init__(self, model: str, encode: Encode, min_score: float = 0.2,
                 per_word: int = 2, cache_size: int = 8, glossary: Glossary | None = None
                 ) -> None:
        """`glossary`: labels translated by hand, ahead of the vectors' translations."""
        self.model = model
        self.encode = encode
        self.min_score = min_score
        self.per_word = per_word
        self.glossary = glossary
        self.cache_size = cache_size
        self._caches: OrderedDict[Path, TermVectorCache] = OrderedDict()
        # None: a side with too few terms, remembered too (listing the terms costs more
        # than the rest of a search on a large knowledge base)
        self._sides: OrderedDict[tuple[object, ...], _Side | None] = OrderedDict()
        self._lock = threading.Lock()

    def translations(self, cache_path: Path, state: object, terms: Callable[[], list[str]],
                     words: Sequence[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
        """For each (token, word as written) of a question, its translations among the
        knowledge base's indexed terms of the other language (`terms()`, read only when
        the index `state` is new), whose vectors are kept at `cache_path`."""
        if not words or self.per_word <= 0:
            return {}
        korean = has_hangul(words[0][1])
        with self._lock:  # one knowledge base's vectors are built once, not per thread
            side = self._side(cache_path, state, terms, korean)
        if side is None:
            return {}
        vectors = np.asarray(self.encode([word for _, word in words]), dtype=np.float32)
        cosines = vectors @ side.vectors.T  # one row per word
        k = min(NEIGHBOURS, cosines.shape[1])
        own = np.partition(cosines, cosines.shape[1] - k, axis=1)[:, -k:].mean(axis=1)
        scores = 2 * cosines - side.hubs[None, :] - own[:, None]
        top = min(self.per_word, scores.shape[1])
        found: dict[str, tuple[str, ...]] = {}
        for (token, _word), row in zip(words, scores, strict=True):
            best = np.argpartition(-row, top - 1)[:top]
            best = best[np.argsort(-row[best])]
            listed = (tuple(t for t in self.glossary.lookup(token) if t in side.held)
                      if self.glossary is not None else ())
            # where the glossary lists the word's labels, the vectors' nearest terms count
            # only as forms of them (투자 -> 투자액), not as neighbours in meaning
            # ("revenue" -> 손익, profit and loss)
            nearest = [side.terms[i] for i in best if row[i] >= self.min_score
                       and (not listed or any(label in side.terms[i] for label in listed))]
            kept = tuple(dict.fromkeys([*listed, *nearest]))
            if kept:
                found[token] = kept
        return found

    def prepare(self, cache_path: Path, state: object, terms: Callable[[], list[str]],
                korean_question: bool) -> None:
        """Embed the terms a question in Korean (or English) will need of the index
        `state`, now rather than at the question."""
        with self._lock:
            self._side(cache_path, state, terms, korean_question)

    def _side(self, cache_path: Path, state: object, terms: Callable[[], list[str]],
              korean_question: bool) -> _Side | None:
        """The other language's side of the index `state` (None when it has too few
        terms); the caller holds `self._lock`."""
        key = (cache_path, state, korean_question)
        if key in self._sides:
            self._sides.move_to_end(key)
            return self._sides[key]
        side = self._built(cache_path, state, terms, korean_question)
        self._sides[key] = side
        while len(self._sides) > self.cache_size:
            self._sides.popitem(last=False)
        return side

    def _built(self, cache_path: Path, state: object, terms: Callable[[], list[str]],
               korean_question: bool) -> _Side | None:
        """The side as kept for `state` (`SideFile`), else built from the indexed terms
        and kept."""
        stored = SideFile(cache_path.with_name(
            f"{cache_path.stem}-{'ko' if korean_question else 'en'}-side.bin"), self.model)
        found, kept = stored.load(state, korean_question)
        if found:
            if kept is None:
                return None
            return _Side(tuple(kept[0]), self._cache(cache_path).vectors(kept[0]), kept[1])
        indexed = terms()
        korean = [t for t in indexed if is_korean_term(t)]
        english = [t for t in indexed if is_english_term(t)]
        targets, sources = (english, korean) if korean_question else (korean, english)
        if len(targets) < MIN_TERMS or not sources:
            stored.save(state, korean_question, None)
            return None
        if len(sources) > HUB_SAMPLE:
            pick = np.random.default_rng(0).choice(len(sources), HUB_SAMPLE, replace=False)
            sources = [sources[i] for i in sorted(pick)]
        cache = self._cache(cache_path)
        cache.retain(indexed)
        target_vectors = cache.vectors(targets)
        hubs = _hubs(target_vectors, cache.vectors(sources))
        stored.save(state, korean_question, (targets, hubs))
        return _Side(tuple(targets), target_vectors, hubs)

    def _cache(self, cache_path: Path) -> TermVectorCache:
        """The term vectors kept at `cache_path`, the most recently used kept open."""
        cache = self._caches.pop(cache_path, None) or TermVectorCache(
            cache_path, self.model, self.encode)
        self._caches[cache_path] = cache  # the most recently used last
        while len(self._caches) > self.cache_size:
            self._caches.popitem(last=False)
        return cache


def _hubs(targets: Vectors, sources: Vectors) -> npt.NDArray[np.float32]:
    """Each target's mean cosine to its `NEIGHBOURS` nearest sources."""
    k = min(NEIGHBOURS, len(sources))
    hubs = np.empty(len(targets), dtype=np.float32)
    for start in range(0, len(targets), 1024):
        block = targets[start:start + 1024] @ sources.T
        hubs[start:start + 1024] = np.partition(block, block.shape[1] - k, axis=1)[:, -k:].mean(
            axis=1)
    return hubs
