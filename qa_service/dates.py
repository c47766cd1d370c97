"""The calendar dates a question names, found again in a page however it prints them.

"The invoice ... dated November 9, 2023" names the invoice by its date, and the Korean
invoice prints it "2023년 11월 09일" (or, laid out as a table, "2023년 11 | 월 | 09일"),
its number "20231109-001"; a US form prints "11/09/2023", a report "9 November 2023".
`asked_dates` reads the full dates (day, month and year) of a question, in English,
Korean or ISO form; `AskedDate.found_in` says whether a text prints that date in any of
these forms. A month and year alone ("December 2015") is no such date: reports of other
months print it too, in their comparisons.

`asked_months` reads the months a question names with their year and no day ("in April
2018", "2015년 11월"); `AskedMonth.found_in` says whether a text prints that month of that year
in any form ("April 2018", "Nov-2015", "November - 2015", "9 April 2018", "April 9, 2018",
"2018년 4월", "2018-04", "04/2018"). Printed, it names no document (reports of other
months print it too); printed nowhere, the documents are about other months.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

__all__ = ["AskedDate", "AskedMonth", "asked_dates", "asked_months"]

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")


def _month_name(month: str) -> str:
    """A month's name, whole or cut short ("Nov.", "Sept.")."""
    short = r"t\.?|\." if month == "september" else r"\."
    return f"{month[:3]}(?:{month[3:]}|{short})?"


_MONTH = r"(?P<month>" + "|".join(_month_name(m) for m in _MONTHS) + r")"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_QUESTION_FORMS = tuple(re.compile(p, re.IGNORECASE) for p in (
    rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b",  # November 9, 2023
    rf"\b{_DAY}\s+{_MONTH},?\s+{_YEAR}\b",  # 9 November 2023
    # 2023년 11월 9일
    rf"(?<!\d){_YEAR}\s*년\s*(?P<month_number>1[0-2]|0?[1-9])\s*월\s*{_DAY}\s*일",
    rf"(?<!\d){_YEAR}-(?P<month_number>1[0-2]|0[1-9])-(?P<day>[0-3]\d)(?!\d)",  # 2023-11-09
))
# (a month and a year of no day: "the invoice dated 9 November 2023" names a date)
_MONTH_FORMS = tuple(re.compile(p, re.IGNORECASE) for p in (
    # April 2018, Nov. 2015, April of 2018
    rf"(?<!\d\s)(?<!\d(?:st|nd|rd|th)\s)\b{_MONTH},?\s+(?:of\s+)?{_YEAR}\b",
    # 2015년 11월
    rf"(?<!\d){_YEAR}\s*년\s*(?P<month_number>1[0-2]|0?[1-9])\s*월(?!\s*[0-3]?\d\s*일)",
))
# what joins the bounds of a period: "July 2015 to March 2016", "2015년 7월~2016년 3월"
_RANGE_JOINER = r"(?:to|through|until|[-\u2013\u2014~\u223c\uff5e])"
_ANY_MONTH = "|".join(_month_name(m) for m in _MONTHS)
_RANGE_AFTER = re.compile(
    rf"\s*(?:[0-3]?\d\s*일\s*)?{_RANGE_JOINER}\s*(?:\d|(?:{_ANY_MONTH})\b)", re.IGNORECASE)
_RANGE_BEFORE = re.compile(rf"(?:\d|(?:{_ANY_MONTH})|[월일])[.,]?\s*{_RANGE_JOINER}\s*$",
                           re.IGNORECASE)
# what a page puts between a date's parts: spaces, a table's cell separators, 년/월, . / -
_BETWEEN = r"[\s|년월./-]{1,8}"


@dataclass(frozen=True)
class AskedDate:
    year: int
    month: int
    day: int

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        y, m, d = self.year, self.month, self.day
        month = _month_name(_MONTHS[m - 1])
        forms = (
            rf"(?<!\d){y}{_BETWEEN}0?{m}{_BETWEEN}0?{d}(?!\d)",  # 2023년 11월 09일, 2023-11-09
            rf"(?<!\d){y}{m:02d}{d:02d}(?!\d)",  # 20231109 (in a document's number too)
            rf"(?<!\d)0?{m}[/.-]0?{d}[/.-]{y}(?!\d)",  # 11/09/2023
            rf"\b{month}\s+0?{d}(?:st|nd|rd|th)?,?\s+{y}(?!\d)",  # Nov. 9, 2023
            rf"(?<!\d)0?{d}(?:st|nd|rd|th)?\s+{month},?\s+{y}(?!\d)",  # 9 November 2023
        )
        return re.compile("|".join(forms), re.IGNORECASE)

    def found_in(self, text: str) -> bool:
        """Whether `text` prints this date, in any of the forms above."""
        return self._pattern.search(text) is not None


def asked_dates(question: str) -> tuple[AskedDate, ...]:
    """The full dates `question` names, each once, in order."""
    found: dict[tuple[int, int, int], None] = {}
    for form in _QUESTION_FORMS:
        for match in form.finditer(question):
            parts = match.groupdict()
            month = (int(parts["month_number"]) if parts.get("month_number")
                     else _month_number(parts["month"]))
            day = int(parts["day"])
            if 1 <= day <= 31:
                found[(int(parts["year"]), month, day)] = None
    return tuple(AskedDate(*date) for date in found)


@dataclass(frozen=True)
class AskedMonth:
    year: int
    month: int

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        y, m = self.year, self.month
        month = _month_name(_MONTHS[m - 1])
        forms = (
            rf"\b{month}[\s|,./'\u2019-]{{0,8}}(?:{y}|{y % 100:02d})(?!\d)",  # Nov-2015, Apr '18
            rf"\b{month}\s+[0-3]?\d(?:st|nd|rd|th)?,?\s+{y}(?!\d)",  # April 9, 2018
            rf"(?<!\d){y}{_BETWEEN}0?{m}(?!\d)",  # 2018년 4월, 2018-04, 2018.4
            rf"(?<!\d)0?{m}/(?:[0-3]?\d/)?{y}(?!\d)",  # 04/2018, 4/9/2018
        )
        return re.compile("|".join(forms), re.IGNORECASE)

    def found_in(self, text: str) -> bool:
        """Whether `text` prints this month of this year, in any of the forms above."""
        return self._pattern.search(text) is not None


def asked_months(question: str) -> tuple[AskedMonth, ...]:
    """The months `question` names with their year and no day, each once, in order; not
    the bounds of a period ("July 2015 to March 2016", "2015년 7월~2016년 3월"): the months
    between them are as much asked."""
    found: dict[tuple[int, int], None] = {}
    for form in _MONTH_FORMS:
        for match in form.finditer(question):
            if (_RANGE_AFTER.match(question, match.end())
                    or _RANGE_BEFORE.search(question, 0, match.start())):
                continue
            parts = match.groupdict()
            month = (int(parts["month_number"]) if parts.get("month_number")
                     else _month_number(parts["month"]))
            found[(int(parts["year"]), month)] = None
    return tuple(AskedMonth(*month) for month in found)


def _month_number(name: str) -> int:
    return 1 + next(i for i, month in enumerate(_MONTHS) if month.startswith(name[:3].lower()))
