"""The names a question gives, and which of them the passages never mention.

"What total assets did LG Electronics report ..." asked of a knowledge base that holds
Samsung's balance sheet retrieves Samsung's page: every other word of the question is
there. What is missing is the name the question is about. A question names a company, a
product, a place, a case or a code (LG, Dyson V15 Detect, Miranda v. Arizona, SK하이닉스,
VCA-SBTA95); when the passages never mention one of those names, they are about
something else, however many other words they share with the question.

- English: the capitalised words after the first (not the question words, months,
  "Co."/"Inc." and such, currency codes) and the words with a digit and a letter in them
  (V15, H100; not a period such as 2021-2025);
- Korean: Kiwi's proper nouns (NNP) and the capitalised Latin words in the question (LG,
  KLUE; not the "CUTE" of "CUTE80").

A name is looked for in a passage's text and context (its document's identity and
section) as a whole word (Latin letters, case-insensitive; Hangul: anywhere, as Korean
compounds hold names: 삼성전자 holds 삼성), or as one of the translations retrieval
found for its words (index terms: a word that starts so), or by its words' stems, or as
the word retrieval read a misspelling as ("Ghandi": gandhi), with a plural ending, a
demonym by its country ("Indian": India), an acronym by the capitalised words it stands
for ("ECSC": European Coal and Steel Community). It is looked for only when
every passage could write it: a Hangul name when they are all Korean, a Latin name when
they are all English, a code or an acronym (a digit, three letters at most, or capitals)
in any, and a name with a translation in any; "Samsung Electronics" over a Korean
balance sheet (삼성전자) is not looked for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from qa_service.answer.models import is_korean
from qa_service.tokens import Tokenizer, has_hangul

__all__ = ["missing_names", "question_names"]

_ENGLISH_NAME = re.compile(r"\b(?:[A-Z][\w&'\u2019\-]*|[A-Za-z\-]*\d[\w\-]*)")
_NOT_NAMES = frozenset({
    # question words and a question's openings
    "what", "which", "how", "when", "where", "who", "whom", "whose", "why", "in", "on", "at",
    "according", "for", "under", "the", "does", "did", "do", "is", "was", "are", "were", "by",
    "below", "to", "of", "a", "an", "as", "if", "from", "among", "based", "using", "per",
    "please", "we", "i", "it", "its", "this", "that", "and", "or", "with",
    # months and days name no thing
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "monday", "tuesday", "wednesday", "thursday",
    "friday", "saturday", "sunday",
    # a company's legal form, titles, currencies
    "co", "inc", "corp", "corporation", "ltd", "llc", "plc", "group", "company",
    "jr", "sr", "mr", "mrs", "ms", "dr", "st",
    "usd", "krw", "eur", "gbp", "jpy",
    # countries abbreviated many ways (U.S., U.S.A., United States, America)
    "us", "usa", "uk", "eu",
})
_KOREAN_NAME_TAGS = frozenset({"NNP", "SL"})
# a period ("FY2023", "Q2", "Q2'2023", "FY2023Q1", "H1") or a roman numeral names no thing
_PERIOD = re.compile(r"(?:FY|CY|Q[1-4]|H[12]|[1-4]Q)(?:['\u2019]?\d{2,4})?(?:Q[1-4])?|[IVX]+",
                     re.IGNORECASE)
_CODE = re.compile(r"\d|^[A-Z]{1,3}$|^[A-Z0-9\-]+$")  # written as it is in either language
_POSSESSIVE = re.compile(r"['\u2019]s?$")
_DASHES = str.maketrans("\u2010\u2011\u2012\u2013\u2014\u2212", "------")
# a word after a sentence's end is capitalised as its first ("... millions)? Base your
# judgments ..."); not after "v." or "Co."
_SENTENCE_END = re.compile(r"(?:[?!:]|(?<!\bv)(?<!\bvs)(?<!\bco)(?<!\binc)(?<!\bno)\.)\s*$",
                           re.IGNORECASE)
TITLE_CASE_SHARE = 0.5  # a question with more of its words capitalised is in title case
_LOWER_SUFFIX = re.compile(r"(?<=[A-Za-z])-[a-z][a-z\-]*$")
_PLURAL_ACRONYM = re.compile(r"(?<=[A-Z]{2})s$")  # "DVDs"
STEM_CHARS = 5  # a name's stem that a word may start with ("Langlades" -> langlad)
_DEMONYM = re.compile(r"(?:ian|an|ese)$")
ACRONYM_MAX = 5  # letters of an acronym the page may spell out
_ACRONYM = re.compile(rf"[A-Z]{{2,{ACRONYM_MAX}}}")
# capitalised words, with the small words that join them ("Coal and Steel")
_CAPITALISED_RUN = re.compile(
    r"[A-Z][\w'\-]*(?:\s+(?:(?:of|and|the|for|de|du|la|le|&)\s+)*[A-Z][\w'\-]*)+")


def question_names(question: str, tokenizer: Tokenizer) -> list[str]:
    """The names `question` gives (see the module), in order, each once."""
    names: list[str] = []
    if has_hangul(question):
        for form, tag, start, end in tokenizer.morphemes(question):
            if (tag not in _KOREAN_NAME_TAGS or len(form.rstrip(".")) < 2
                    or form.casefold() in _NOT_NAMES or _PERIOD.fullmatch(form)):
                continue
            # a Latin word is a name when capitalised, and not part of a code ("CUTE80")
            if tag == "SL" and (not form[0].isupper() or question[end:end + 1].isdigit()
                                or question[start - 1:start].isdigit()):
                continue
            names.append(form)
        return list(dict.fromkeys(names))
    words = [found for found in _ENGLISH_NAME.finditer(question)
             if found.start() > 0 and not _SENTENCE_END.search(question[:found.start()])]
    capitalised = [w for w in words if w.group()[:1].isupper() and w.group().isalpha()]
    lower = sum(1 for w in re.findall(r"\b[a-z][a-z]{2,}\b", question)
                if w not in _NOT_NAMES)
    title_case = len(capitalised) > TITLE_CASE_SHARE * (len(capitalised) + lower)
    for found in words:
        word = _POSSESSIVE.sub("", found.group().strip("-")).rstrip(".")
        word = _LOWER_SUFFIX.sub("", word)  # "Halloween-themed" names Halloween
        if len(word) < 2 or word.casefold() in _NOT_NAMES or _PERIOD.fullmatch(word):
            continue
        if any(ch.isdigit() for ch in word) and not any(ch.isupper() for ch in word):
            continue  # "2021-2025", "21-month-old", "1st": no name
        if title_case and not _CODE.search(word):
            continue  # "What Was AMCOR's Adjusted Non GAAP EBITDA": only codes name
        names.append(word)
    return list(dict.fromkeys(names))


def missing_names(names: Sequence[str], texts: Sequence[str],
                  translations: Mapping[str, tuple[str, ...]],
                  tokenizer: Tokenizer,
                  spellings: Mapping[str, str] | None = None) -> tuple[list[str], int]:
    """Of `names`, those that none of `texts` (the passages, each with its context)
    mentions, and how many names could be looked for at all: a name is looked for only
    when every passage could write it (see the module), as a passage in the other
    language may hold it translated."""
    korean = [is_korean(text) for text in texts]
    folded = [text.casefold().translate(_DASHES) for text in texts]
    joined = [re.sub(r"\s+", "", text) for text in folded]  # "재 무 상 태 표"
    missing: list[str] = []
    checked = 0
    for name in names:
        hangul = has_hangul(name)
        tokens = tokenizer.tokens(name)
        also = {t for token in tokens for t in translations.get(token, ())}
        if not texts or not all(also or _CODE.search(name) or written_in_hangul == hangul
                                for written_in_hangul in korean):
            continue
        checked += 1
        wanted = _PLURAL_ACRONYM.sub("", name).casefold().translate(_DASHES)
        # as written, as an acronym with full stops ("U.N."), by its words' stems
        # ("Langlades" -> langlad) and as meant when misspelled ("Ghandi" -> gandhi)
        dotted = ".".join(wanted) + "." if name.isupper() and name.isalpha() else wanted
        forms = {wanted, dotted}
        starts = {*(t for t in tokens if len(t) >= STEM_CHARS and t != wanted and not hangul),
                  *also,
                  *((spellings or {}).get(t, "") for t in tokens)} - {""}
        if not hangul:
            forms |= {wanted + "s", wanted + "es"}  # "Nazi" in "Nazis"
            if _DEMONYM.search(wanted) and len(wanted) > STEM_CHARS:
                starts.add(wanted[:-1])  # "Indian" -> India, "Korean" -> Korea
        if not any(any(_mentions(joined[i] if hangul else folded[i], form, whole=not hangul)
                       for form in forms)
                   or any(_mentions(folded[i], term, whole=False) for term in starts)
                   or (_ACRONYM.fullmatch(name) and name in _initials(texts[i]))
                   for i in range(len(texts))):
            missing.append(name)
    return missing, checked


def _initials(text: str) -> set[str]:
    """The initials of each run of capitalised words in `text` ("European Coal and Steel
    Community" -> ECSC, ECS, ..., CSC, ...): what an acronym the question uses may stand
    for on the page."""
    found: set[str] = set()
    for run in _CAPITALISED_RUN.finditer(text):
        letters = "".join(word[0] for word in run.group().split() if word[0].isupper())
        found.update(letters[i:j] for i in range(len(letters))
                     for j in range(i + 2, min(len(letters), i + ACRONYM_MAX) + 1))
    return found


def _mentions(text: str, name: str, whole: bool) -> bool:
    """Whether `text` holds `name`: as a whole word (`whole`), else as a word's start (a
    translation is an index term: an English stem, "invoic") or, in Hangul, anywhere."""
    if has_hangul(name):
        return name in text
    end = r"(?![^\W_])" if whole else ""
    return re.search(rf"(?<![^\W_]){re.escape(name)}{end}", text) is not None
