"""The names one line item of a financial statement goes by.

Filings name the same item differently: one income statement prints "Cost of sales",
another "Cost of goods sold" or "Cost of revenues"; "Net earnings" is net income,
"Selling, general and administrative" is SG&A. A question asks by one name and the page
prints another, so a sentence or a table row that holds another name of an item the
question names holds the question's words for it (`ItemNames.shared_words`).

Names are matched in text as whole words, case-insensitively, the longest first and
without overlaps: in "cost of revenue" the item is the cost, not the revenue. Pure
functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property

__all__ = ["LINE_ITEMS", "ItemNames", "items_named"]

# each entry: the names of one line item, as questions ask and US GAAP and IFRS filings
# print them
LINE_ITEMS: tuple[tuple[str, ...], ...] = (
    ("revenue", "revenues", "net revenue", "net revenues", "total revenue", "total revenues",
     "net sales", "total net sales", "sales to customers", "turnover", "top line", "topline"),
    ("cost of goods sold", "cost of sales", "cost of revenue", "cost of revenues",
     "cost of products sold", "cost of merchandise sold", "cost of goods and services sold",
     "cogs"),
    ("gross profit", "gross margin"),
    ("operating income", "operating profit", "income from operations",
     "earnings from operations", "operating earnings"),
    ("net income", "net earnings", "net profit", "profit for the year",
     "profit for the period"),
    ("selling, general and administrative", "selling, general & administrative", "sg&a"),
    ("research and development", "r&d"),
    ("earnings per share", "earnings per common share", "net income per share", "eps"),
    ("capital expenditure", "capital expenditures", "capex", "capital spending",
     "purchases of property and equipment", "purchases of property, plant and equipment",
     "payments for property, plant and equipment",
     "additions to property, plant and equipment"),
    ("property, plant and equipment", "property and equipment", "pp&e"),
    ("depreciation and amortization", "depreciation & amortization",
     "depreciation, depletion and amortization", "d&a"),
    ("operating cash flow", "cash from operations", "cash flow from operations",
     "cash flows from operating activities", "cash provided by operations",
     "net cash provided by operating activities", "net cash from operating activities"),
    ("shareholders' equity", "stockholders' equity", "shareowners' equity", "total equity"),
    ("accounts payable", "trade payables", "trade accounts payable"),
    ("accounts receivable", "trade receivables", "trade accounts receivable"),
    ("long-term debt", "long-term borrowings", "non-current borrowings"),
    ("dividends paid", "cash dividends paid", "payments of dividends", "payment of dividends",
     "dividend payments"),
    ("provision for income taxes", "income tax expense", "income tax provision"),
    ("share repurchases", "stock repurchases", "share buybacks", "buybacks",
     "repurchases of common stock", "repurchase of common stock",
     "purchases of treasury stock"),
)


def _name_pattern(name: str) -> str:
    """A name as pages print it: any spacing, a comma or not between words, straight or
    curly apostrophes, "-" or a space."""
    parts = []
    for word in re.split(r"[\s,]+", name):
        word = re.escape(word).replace("'", "['\u2019]?").replace(r"\-", r"[-\s]?")
        parts.append(word)
    return r",?\s+".join(parts)


@dataclass(frozen=True)
class _Names:
    """Some names as one pattern (longest first, whole words) with the item of each of
    its groups, and the first words of the names, to pass over a text that holds none."""

    pattern: re.Pattern[str]
    items: tuple[int, ...]
    first_words: frozenset[str]

    @classmethod
    def of(cls, names: Sequence[tuple[str, int]]) -> _Names:
        ordered = sorted(names, key=lambda pair: -len(pair[0]))
        alternatives = "|".join(f"({_name_pattern(name)})" for name, _ in ordered)
        return cls(re.compile(rf"(?<![\w&])(?:{alternatives})(?![\w&])", re.IGNORECASE),
                   tuple(item for _, item in ordered),
                   frozenset(re.split(r"[\s,'-]+", name)[0] for name, _ in ordered))

    def named(self, text: str) -> dict[int, str]:
        """The items `text` names -> the first name it used."""
        lowered = text.casefold()
        if not any(word in lowered for word in self.first_words):
            return {}
        found: dict[int, str] = {}
        for match in self.pattern.finditer(text):
            if match.lastindex is not None:
                found.setdefault(self.items[match.lastindex - 1], match.group())
        return found


@cache
def _all_names() -> _Names:
    """Every item's names, built on first use (not at import)."""
    return _Names.of([(name, index) for index, item in enumerate(LINE_ITEMS) for name in item])


def items_named(text: str) -> dict[int, str]:
    """The line items (`LINE_ITEMS` index) that `text` names -> the first name it used."""
    return _all_names().named(text)


@dataclass(frozen=True)
class ItemNames:
    """The line items a question names, with its words for each."""

    words: dict[int, frozenset[str]]  # item -> the question's tokens of the name it used

    @classmethod
    def of_question(cls, question: str, tokens: Callable[[str], list[str]]) -> ItemNames:
        return cls({item: frozenset(tokens(name))
                    for item, name in items_named(question).items()})

    @cached_property
    def _names(self) -> _Names:
        """The names of the question's items, and those of the other items that hold one
        of them ("cost of revenue" holds "revenue"), which a text may name instead."""
        asked = [(name, item) for item in self.words for name in LINE_ITEMS[item]]
        holding = [(name, index) for index, item in enumerate(LINE_ITEMS)
                   if index not in self.words for name in item
                   if any(own in name for own, _ in asked)]
        return _Names.of(asked + holding)

    def shared_words(self, text: str) -> frozenset[str]:
        """The question's words for the items `text` names too, by any of their names."""
        if not self.words:
            return frozenset()
        held: set[str] = set()
        for item in self._names.named(text):
            held |= self.words.get(item, frozenset())
        return frozenset(held)
