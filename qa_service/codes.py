"""The codes a question names, found again in a page however it prints them.

A question about precinct "0050004A", the "VCA-SBTA95" battery, the "V15" vacuum or the
"GPT-o1" model names one thing among many that look alike: a bulletin of precinct
0050003A, a card of another model, a table of other models answer it with a plausible
figure of the wrong thing. A code is a word that mixes letters and digits in one part
("0050004A", "SBTA95", "o1", "A9"), or capitals then figures ("CWE-326",
"DARPA-BAA-15-58"). Not codes: periods ("FY2023", "Q2", "FY2023Q1", "2H23"), ordinals
("53rd") and figures with their unit ("5kg", "10mm", "7B", "3x").

`asked_codes` reads them; `printed` says whether a text prints one, ignoring case,
spaces and hyphens of any kind (DARPA-BAA-15-58 printed with U+2010 hyphens, "GPT o1").

A name with a version ("Edition 2.0", "KorQuAD 2.0") names one release: a data model of
Edition 1.0 does not say when Edition 2.0 was published. The name is a word of mixed case
("KorQuAD", "iOS") or one that says so ("Edition", "Version", "Release"): not a capital
opening a sentence ("About 2.5 million"), nor a currency ("USD 2.5").
`asked_versions` reads them; `Version.other_in` says whether a text prints the name
with another version and never with this one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

__all__ = ["Version", "asked_codes", "asked_versions", "normalized", "printed",
           "versions_name"]

_WORD = re.compile(r"(?<![\w.])[A-Za-z0-9]+(?:[-\u2010-\u2013][A-Za-z0-9]+)*")
_PART_SPLIT = re.compile(r"[-\u2010-\u2013]")
_LETTER = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"\d")
_CAPITALS_THEN_FIGURES = re.compile(r"[A-Z]{2,}(?:-[A-Z0-9]+)*-\d+(?:-[A-Za-z0-9]+)*")
# a period: fiscal or calendar year, quarter, half ("FY2023", "Q2", "FY2023Q1", "2H23")
_PERIOD = re.compile(r"(?:(?:fy|cy|q[1-4]|h[12]|[1-4]q|[12]h)'?(?:\d{2}|\d{4})?)+"
                     r"|(?:\d{2}|\d{4})(?:fy|q[1-4]|h[12])", re.IGNORECASE)
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)", re.IGNORECASE)
# a figure with its unit: "5kg", "10mm", "24h", "7b" (a model's size), "3x", "4k"
_UNITS = ("k m b t x s h d p w v l g kg mg km cm mm ml kb mb gb tb hz khz mhz ghz kw mw "
          "hr hrs min ms ns am pm ft in lb lbs oz px pt fps mp")
_MEASURE = re.compile(r"\d{1,4}(?:\.\d+)?(?:" + "|".join(_UNITS.split()) + ")",
                      re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]")
_VERSION_WORDS = frozenset({"edition", "version", "release", "revision", "rev", "ver"})
_MIXED_CASE = re.compile(r"[a-z][A-Z]|[A-Z].*[A-Z].*[a-z]|[a-z].*[A-Z]")
# a Latin name before its version, and the version: "Edition 2.0", "KorQuAD 2.0", "v3.11"
_NAME = r"(?<![A-Za-z0-9.])([A-Za-z][A-Za-z0-9\-]*)\s+[vV]?"
_NUMBER = r"(\d+\.\d+)(?![\d.])"
_NAME_BEFORE = re.compile(rf"{_NAME}$")  # "KorQuAD " before "1.0": the figure is its version
_VERSIONED = re.compile(_NAME + _NUMBER)


def asked_codes(question: str) -> tuple[str, ...]:
    """The codes `question` names, as written, each once, in order."""
    found: dict[str, None] = {}
    for match in _WORD.finditer(unicodedata.normalize("NFKC", question)):
        word = match.group()
        if _CAPITALS_THEN_FIGURES.fullmatch(word) or any(
                _is_code_part(part) for part in _PART_SPLIT.split(word)):
            found[word] = None
    return tuple(found)


def _is_code_part(part: str) -> bool:
    return (_LETTER.search(part) is not None and _DIGIT.search(part) is not None
            and not _PERIOD.fullmatch(part) and not _ORDINAL.fullmatch(part)
            and not _MEASURE.fullmatch(part))


def normalized(text: str) -> str:
    """`text` as codes are compared: NFKC, lower case, without spaces or hyphens."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text).casefold())


def printed(code: str, text: str) -> bool:
    """Whether `text` prints `code` as a word of its own (`normalized` both: spaces and
    hyphens of any kind may lie between its characters; "A9" is not printed in
    "VCA-SBTA95", nor "V15" in "AV150")."""
    characters = [re.escape(c) for c in normalized(code)]
    if not characters:
        return False
    pattern = (r"(?<![a-z0-9])" + rf"{_SEPARATORS.pattern}*".join(characters)
               + r"(?![a-z0-9])")
    return re.search(pattern, unicodedata.normalize("NFKC", text).casefold()) is not None


@dataclass(frozen=True)
class Version:
    name: str  # "Edition"
    number: str  # "2.0"

    @cached_property
    def _printed(self) -> re.Pattern[str]:
        """The name with any version: the version is its group."""
        return re.compile(rf"(?<![A-Za-z0-9]){re.escape(self.name)}\s*[vV]?{_NUMBER}",
                          re.IGNORECASE)

    def other_in(self, text: str) -> bool:
        """Whether `text` prints the name with another version and never with this one."""
        numbers = {m.group(1) for m in self._printed.finditer(text)}
        return bool(numbers) and self.number not in numbers


def versions_name(text: str, at: int) -> bool:
    """Whether the figure at `text[at:]` is the version of the name before it, by the
    rules of `asked_versions` ("KorQuAD 1.0", "Edition 2.0": no amount, no count)."""
    name = _NAME_BEFORE.search(text, max(0, at - 40), at)
    return name is not None and _is_version_name(name.group(1))


def _is_version_name(name: str) -> bool:
    return name.casefold() in _VERSION_WORDS or _MIXED_CASE.search(name) is not None


def asked_versions(question: str) -> tuple[Version, ...]:
    """The names with a version `question` names, each once, in order."""
    found = {Version(m.group(1), m.group(2)): None
             for m in _VERSIONED.finditer(unicodedata.normalize("NFKC", question))
             if _is_version_name(m.group(1))}
    return tuple(found)
