"""Language-aware tokens for BM25: Korean morphemes (kiwipiepy), English words.

Text with Hangul goes through Kiwi's morphological analyser, keeping content morphemes
(nouns, verb and adjective stems, roots; Chinese characters); particles and endings are
dropped, which is what makes Korean BM25 work at all, and so are a few words of those
kinds that carry no content (`KOREAN_STOPWORDS`: 얼마, 하, 되, 있, 수, 것...). Other
text, and the Latin words inside Korean text, become lowercase words without English
stop words, reduced to their Snowball (Porter2) stems, so "organized"/"organizing" and
"embargoes"/"embargo" meet.
A word of 2+ letters and 2+ digits also gives its parts ("FY2017" -> fy2017, fy, 2017); a
number keeps its digit groups together ("5,466,312" -> 5466312); letter-spaced Korean is
read as one word ("자 산 총 계" -> 자산총계).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qa_service.analyser_process import AnalyserProcess, Morpheme

__all__ = ["KOREAN_STOPWORDS", "STOPWORDS", "Tokenizer", "has_hangul", "is_korean", "new_kiwi"]

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_WORD = re.compile(r"[^\W_]+")
_LETTER = re.compile(r"[^\W\d_]")
# a word of 2+ letters and 2+ digits ("fy2017", "fy23"); not "m1", "q2", "10k", "h100"
_MIXED = re.compile(r"^(?=(?:.*\d){2})(?=(?:.*[^\W\d_]){2})")
_PARTS = re.compile(r"\d+|[^\W\d_]+")
# a year glued to a period or a form: "2024q2", "q22023" (Q2 2023) also meet "2024", "q2"
_YEAR_FIRST = re.compile(r"^((?:19|20)\d\d)(?=.*[^\W\d_])(.+)$")
_YEAR_LAST = re.compile(r"^(?=.*[^\W\d_])(.+?)((?:19|20)\d\d)$")
# "5,466,312" and "3.5" are one token each, not three and two: a financial table holds
# hundreds of figures, and split they made its chunks too long for BM25 to rank
_DIGIT_GROUPS = re.compile(r"(?<=\d)[,.](?=\d)")
# letter-spaced Korean, as table labels are set: "자 산 총 계" is 자산총계 (3+ syllables,
# each alone between single spaces)
_LETTER_SPACED = re.compile(r"(?<![\uac00-\ud7a3])[\uac00-\ud7a3](?: [\uac00-\ud7a3]){2,}"
                            r"(?![\uac00-\ud7a3])")
_KOREAN_TAGS = frozenset({"NNG", "NNP", "NNB", "VV", "VA", "XR"})
# Korean words of those tags that say nothing about a passage: the question word 얼마
# ("how much", a noun to Kiwi: a question that asks for an amount holds it, the page that
# states the amount does not), the light verbs 하/되/있, 어떻/그렇 (how, so), and bound
# nouns such as 수 ("can") and 것 ("thing"); the Korean side of English's stop words
KOREAN_STOPWORDS = frozenset({"얼마", "하", "되", "있", "어떻", "그렇", "이렇", "저렇", "수",
                              "것", "등", "데", "때문"})
# English function words. Words are split at apostrophes, so "didn't" is "didn" + "t".
STOPWORDS = frozenset(
    "a about above after again against all am an and any are aren as at be because been "
    "before being below between both but by can cannot could couldn d did didn do does doesn "
    "doing don down during each few for from further had hadn has hasn have haven having he "
    "her here hers herself him himself his how i if in into is isn it its itself just ll m "
    "me more most mustn my myself no nor not now o of off on once only or other ought our "
    "ours ourselves out over own re s same shan she should shouldn so some such t than that "
    "the their theirs them themselves then there these they this those through to too under "
    "until up ve very was wasn we were weren what when where which while who whom why will "
    "with won would wouldn y you your yours yourself yourselves".split()
)


def has_hangul(text: str) -> bool:
    return _HANGUL.search(text) is not None


def is_korean(text: str) -> bool:
    """Whether Hangul makes up at least a third of the letters of a text's opening (400
    characters: retrieval asks this of every dense-only candidate of every search)."""
    opening = text[:400]
    letters = len(_LETTER.findall(opening))
    return letters > 0 and len(_HANGUL.findall(opening)) * 3 >= letters


class Tokenizer:
    """Thread-safe; the Korean analyser loads on first use or on `load()` (1.5 s, holding
    the interpreter lock: English text never needs it). Until then, a `lent` analyser
    process (`qa_service.analyser_process`), if there is one, analyses Korean text; `load()`
    ends the loan."""

    def __init__(self, lent: AnalyserProcess | None = None) -> None:
        self._kiwi: Any = None
        self._lent = lent
        self._lock = threading.Lock()

    def tokens(self, text: str) -> list[str]:
        text = _DIGIT_GROUPS.sub("", unicodedata.normalize("NFKC", text))
        text = _LETTER_SPACED.sub(lambda m: m.group().replace(" ", ""), text)
        if has_hangul(text):
            return self._korean(text)
        return _english(text)

    def morphemes(self, text: str) -> list[tuple[str, str, int, int]]:
        """Kiwi's analysis of Korean `text`: (form, part-of-speech tag without its
        sub-tag, "VV-R" -> "VV", start, end) per morpheme, offsets into `text`."""
        with self._lock:  # one analysis at a time: the analyser is shared by all threads
            analysed = self._analysis(text)
        return [(form, tag.split("-", 1)[0], start, end) for form, tag, start, end in analysed]

    def _korean(self, text: str) -> list[str]:
        out: list[str] = []
        for form, tag, start, end in self.morphemes(text):
            if tag in _KOREAN_TAGS and form not in KOREAN_STOPWORDS:
                # a dictionary entry may hold spaces: "MBC 100분 토론"
                out += [w.casefold() for w in _WORD.findall(form)]
            elif tag == "SH":  # Chinese characters
                out.append(form)
            elif tag in ("SL", "SN"):  # Latin words and numbers go the English way
                out += _english(text[start:end])
        return out

    @property
    def loaded(self) -> bool:
        """Whether this process's own analyser has loaded."""
        return self._kiwi is not None

    def load(self) -> None:
        """Load this process's own analyser now, its first analysis included (its model
        finishes loading then), and end the loan of an analyser process."""
        with self._lock:
            self._analyser().tokenize("모델을 미리 불러옵니다")
        self.close()

    def close(self) -> None:
        """End the loan of an analyser process, if any (the tokenizer stays usable)."""
        with self._lock:
            lent, self._lent = self._lent, None
        if lent is not None:
            lent.close()

    def _analysis(self, text: str) -> list[Morpheme]:
        """Kiwi's morphemes of `text`, from the lent process until this process's own
        analyser has loaded; callers hold `self._lock`."""
        if self._kiwi is None and self._lent is not None:
            found = self._lent.analyse(text)
            if found is not None:
                return found
            self._lent = None  # it failed and has ended: analyse here from now on
        return [(t.form, t.tag, t.start, t.end) for t in self._analyser().tokenize(text)]

    def _analyser(self) -> Any:
        """The Kiwi analyser; callers hold `self._lock`."""
        if self._kiwi is None:
            self._kiwi = new_kiwi()
        return self._kiwi


def new_kiwi() -> Any:
    """A Kiwi analyser as every tokenizer and analyser process builds one: the same options
    give the same morphemes, which the BM25 index depends on (`kiwi-words` in
    `IndexIdentity.lexical`).

    Without Kiwi's multi-word dictionary (252,000 Wikidata names, "간사이 국제공항"): it
    doubles Kiwi's load (3.0 -> 1.5 s here, holding the interpreter lock), and retrieval
    measured the same without it (KorQuAD dev recall@5 0.9964 against 0.9958; the team's
    Korean questions page_hit@5 0.833 both); a name it would have kept whole is found by its
    parts, as the query splits it the same way."""
    from kiwipiepy import Kiwi

    return Kiwi(load_multi_dict=False)


def _english(text: str) -> list[str]:
    out: list[str] = []
    for word in (m.casefold() for m in _WORD.findall(text)):
        if word in STOPWORDS:
            continue
        out.append(_stem(word))
        out += [_stem(part) for part in _parts(word) if part not in STOPWORDS]
    return out


def _parts(word: str) -> list[str]:
    """What a word of letters and digits also meets: "fy2017" -> fy, 2017; "2024q2" ->
    2024, q2; "q22023" -> q2, 2023."""
    parts = _PARTS.findall(word) if _MIXED.match(word) else []
    year = _YEAR_FIRST.match(word) or _YEAR_LAST.match(word)
    if year:
        parts += [part for part in year.groups() if len(part) > 1]
    return list(dict.fromkeys(part for part in parts if part != word))


@lru_cache(maxsize=262_144)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")
