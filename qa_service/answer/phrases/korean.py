"""Korean questions, through Kiwi's morphemes (`Tokenizer.morphemes`): nouns that follow
each other (spaces between them allowed) make one run, split into names (NNP, Latin
words), numbers with their unit and other nouns; the particle after a phrase gives its
role (topic 은/는, subject 이/가, possessive 의, object 을/를)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from qa_service.answer.phrases.model import YEAR, Anaphor, Kind, Morpheme, Parsed, Phrase
from qa_service.tokens import KOREAN_STOPWORDS, Tokenizer

__all__ = ["KoreanQuestion"]

_KO_NOUNS = frozenset({"NNG", "NNP", "NNB", "NR", "SL", "SH", "SN", "XR", "XPN", "XSN"})
_KO_NAMES = frozenset({"NNP", "SL", "SH"})
_KO_PREDICATES = frozenset({"VV", "VA", "VX", "VCP", "VCN", "XSV", "XSA"})
_KO_CUES = frozenset({"그럼", "그러면", "그리고", "그런데", "근데", "또", "또한", "그렇다면",
                      "그러니까", "그래서", "아", "음"})
_KO_PRONOUNS = frozenset({"그것", "이것", "저것", "그거", "이거", "저거", "거기", "여기", "저기",
                          "그곳", "이곳", "저곳", "그들", "이들", "그녀", "그분", "이분", "그",
                          "걔", "얘"})
_KO_DETERMINERS = frozenset({"그", "이", "저", "해당", "같은", "위", "상기"})
# question words and words that say nothing about what is asked
_KO_EMPTY = KOREAN_STOPWORDS | frozenset({
    "무엇", "뭐", "누구", "어디", "언제", "몇", "어느", "무슨", "어떤", "얼마나", "정도", "경우",
    "내용", "관련", "대하", "대한", "알리", "궁금", "설명", "나오", "말", "기준", "중", "각각",
    "총", "전체", "요", "건가", "거", "가지"})
# nouns that name no particular thing: "그 회사" points at the name itself
_KO_GENERIC = frozenset({"회사", "기업", "업체", "곳", "분", "사람", "기관", "단체", "제품",
                         "문서", "자료", "보고서", "논문", "것"})
_ROLES = {"JX": "topic", "JKS": "subject", "JKG": "possessive", "JKO": "object"}


class KoreanQuestion:
    def __init__(self, text: str, tokenizer: Tokenizer) -> None:
        self.text = text
        self.tokenizer = tokenizer
        self.morphemes = tokenizer.morphemes(text)

    def parse(self) -> Parsed:
        cue, first = self._cue()
        anaphors, pointed = self._anaphors(first)
        phrases: list[Phrase] = []
        spans: list[tuple[int, int]] = []
        for run in self._runs(first, pointed):
            made = self._phrases(run, len(spans))
            if made:
                phrases += made
                spans.append((run[0][2], run[-1][3]))
        fragment = not any(m[1] in _KO_PREDICATES for m in self.morphemes[first:])
        return Parsed(self.text, True, tuple(phrases), tuple(anaphors), cue, fragment,
                      tuple(spans))

    def _cue(self) -> tuple[int, int]:
        i, morphemes = 0, self.morphemes
        while i < len(morphemes) and (morphemes[i][1] == "SP" or (
                morphemes[i][0] in _KO_CUES and morphemes[i][1] in ("MAJ", "MAG", "IC"))):
            i += 1
        if i + 1 < len(morphemes) and morphemes[i][0] == "그렇" and morphemes[i + 1][1] == "EC":
            i += 2  # 그렇다면
        while i < len(morphemes) and morphemes[i][1] in ("SP", "SF", "SS"):
            i += 1
        if not i:
            return 0, 0
        return (morphemes[i][2] if i < len(morphemes) else len(self.text)), i

    def _anaphors(self, first: int) -> tuple[list[Anaphor], set[int]]:
        found, covered = [], set()
        morphemes = self.morphemes
        for i in range(first, len(morphemes)):
            form, tag, start, end = morphemes[i]
            nxt = morphemes[i + 1] if i + 1 < len(morphemes) else None
            if tag == "NP" and form in _KO_PRONOUNS:
                found.append(Anaphor(start, end, False))
                covered.add(i)
            elif (form in _KO_DETERMINERS and tag in ("MM", "NNG", "VA") and nxt is not None
                  and nxt[1] in ("NNG", "NNB") and nxt[0] not in _KO_EMPTY):
                found.append(Anaphor(start, nxt[3], False, nxt[0].casefold(),
                                     nxt[0] in _KO_GENERIC))
                covered |= {i, i + 1}
        return found, covered

    def _runs(self, first: int, pointed: set[int]) -> list[list[Morpheme]]:
        runs: list[list[Morpheme]] = []
        current: list[Morpheme] = []
        for i in range(first, len(self.morphemes)):
            morpheme = self.morphemes[i]
            counter = i > 0 and self.morphemes[i - 1][0] == "몇"  # 몇 층, 몇 개: the question
            noun = morpheme[1] in _KO_NOUNS and i not in pointed and not counter
            joins = noun and current and not self.text[current[-1][3]:morpheme[2]].strip()
            if current and not joins:
                runs.append(current)
                current = []
            if noun:
                current.append(morpheme)
        if current:
            runs.append(current)
        return runs

    def _phrases(self, run: list[Morpheme], number: int) -> list[Phrase]:
        out: list[Phrase] = []
        stretch: list[Morpheme] = []
        role = self._role(run[-1][3])
        run = _named_numbers(self.text, run)
        i = 0
        while i < len(run):
            if run[i][1] == "SN":
                out += self._stretch(stretch, number, "")
                stretch = []
                unit = run[i + 1] if i + 1 < len(run) and run[i + 1][1] in (
                    "NNB", "NNG", "SL") else None
                out.append(self._number(run[i], unit, number))
                i += 2 if unit is not None else 1
                continue
            stretch.append(run[i])
            i += 1
        out += self._stretch(stretch, number, role)
        return out

    def _stretch(self, morphemes: Sequence[Morpheme], run: int, role: str) -> list[Phrase]:
        """A stretch of nouns without the empty words at its edges, as its names (NNP,
        Latin words) and the other nouns between them: 삼성 | 무선 청소기."""
        full = _trimmed(morphemes, lambda m: m[0] in _KO_EMPTY or m[1] == "NNB")
        out: list[Phrase] = []
        part: list[Morpheme] = []
        for morpheme in full:
            if part and (morpheme[1] in _KO_NAMES) != (part[-1][1] in _KO_NAMES):
                out += self._part(part, run, "")
                part = []
            part.append(morpheme)
        return out + self._part(part, run, role)

    def _part(self, morphemes: Sequence[Morpheme], run: int, role: str) -> list[Phrase]:
        keys = [k for m in morphemes if m[0] not in _KO_EMPTY for k in self._keys(m)]
        if not keys:
            return []
        start, end = morphemes[0][2], morphemes[-1][3]
        kind: Kind = "entity" if morphemes[0][1] in _KO_NAMES else "noun"
        return [Phrase(self.text[start:end], start, end, kind, frozenset(keys), keys[-1],
                       run, role)]

    def _keys(self, morpheme: Morpheme) -> list[str]:
        if morpheme[1] in ("SL", "SN"):
            return self.tokenizer.tokens(morpheme[0])[:1]
        return [morpheme[0].casefold()]

    def _number(self, number: Morpheme, unit: Morpheme | None, run: int) -> Phrase:
        digits = number[0].replace(",", "")
        unit_key = unit[0].casefold() if unit else ""
        year = YEAR.match(digits) is not None and unit_key in ("", "년")
        end = unit[3] if unit is not None else number[3]
        return Phrase(self.text[number[2]:end], number[2], end, "year" if year else "quantity",
                      frozenset({digits, *([unit_key] if unit_key else [])}),
                      unit_key or digits, run, self._role(end), unit_key,
                      number[2], number[3])

    def _role(self, end: int) -> str:
        """What the particle after a phrase makes of it: topic (은/는), subject (이/가),
        possessive (의), object (을/를); verbal before 하다/되다 (설치해야, 설립되었나요)."""
        after = next((m for m in self.morphemes if m[2] >= end), None)
        if after is not None and after[2] == end and after[1] in ("XSV", "XSA"):
            return "verbal"
        if after is None or after[2] != end or not after[1].startswith("J"):
            return ""
        if after[1] == "JX" and after[0] not in ("은", "는"):
            return "other"
        return _ROLES.get(after[1], "other")


def _named_numbers(text: str, run: list[Morpheme]) -> list[Morpheme]:
    """A number written against a name, or a version after it, is part of the name:
    F1, H100, "KorQuAD 2.0"."""
    out = list(run)
    for i in range(1, len(out)):
        form, tag, start, end = out[i]
        before = out[i - 1]
        if tag == "SN" and before[1] in _KO_NAMES and (before[3] == start or (
                "." in form and not text[before[3]:start].strip())):
            out[i] = (form, "SL", start, end)
    return out


def _trimmed(items: Sequence[Morpheme], empty: Callable[[Morpheme], bool]
             ) -> Sequence[Morpheme]:
    start, end = 0, len(items)
    while start < end and empty(items[start]):
        start += 1
    while end > start and empty(items[end - 1]):
        end -= 1
    return items[start:end]
