"""The financial statements every annual or quarterly report holds, and the names people
ask for them by.

Ingestion (`ingest.context`) adds a statement's common names to the matching context of
every chunk whose section that statement's formal title heads ("CONSOLIDATED STATEMENTS
OF OPERATIONS" -> "income statement, statement of operations, ..."); retrieval reads the
same names back to tell which statement a chunk belongs to, and finds in a question the
statements it asks for ("... from the income statement", "free cash flow", "total current
liabilities"). Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["STATEMENTS", "Statement", "of_statements", "statement_names",
           "statements_asked"]


@dataclass(frozen=True)
class Statement:
    title: re.Pattern[str]  # its formal titles (US GAAP, IFRS, K-IFRS), and how it is asked for
    names: str  # its own common names, and those of the measures it reports
    items: re.Pattern[str] | None = None  # line items it alone reports, as questions ask them

    def matches(self, text: str) -> bool:
        return self.title.search(text) is not None

    def asked_in(self, question: str) -> bool:
        """Whether `question` names this statement or one of its own line items."""
        return self.matches(question) or (self.items is not None
                                          and self.items.search(question) is not None)


def _statement(pattern: str, names: str, items: str = "") -> Statement:
    return Statement(re.compile(pattern, re.IGNORECASE), names,
                     re.compile(items, re.IGNORECASE) if items else None)


# "gross margin" is read off the income statement and "free cash flow" off the cash flow
# statement, though neither always prints it; the names are the marker a chunk's context
# carries, so changing them needs the documents' contexts rebuilt (`qa kb rebuild`)
STATEMENTS: tuple[Statement, ...] = (
    _statement(r"balance\s*sheets?|statements?\s+of\s+(consolidated\s+)?financial\s+"
               r"(position|condition)|재\s*무\s*상\s*태\s*표|대\s*차\s*대\s*조\s*표",
               "balance sheet, statement of financial position, assets liabilities equity, "
               "working capital, total debt, 재무상태표, 대차대조표, 자산 부채 자본",
               r"\btotal\s+(current\s+)?(assets|liabilities)\b|\bcurrent\s+(assets|liabilities)"
               r"\b|\bworking\s+capital\b|\baccounts\s+(payable|receivable)\b|자\s*산\s*총\s*계|"
               r"부\s*채\s*총\s*계"),
    _statement(r"statements?\s+of\s+(consolidated\s+)?(operations|income|earnings)|income\s+"
               r"statements?|profit\s+(and|&)\s+loss|손\s*익\s*계\s*산\s*서",
               "income statement, statement of operations, profit and loss, P&L, earnings, "
               "revenue, net sales, gross margin, operating margin, net income, earnings per "
               "share, 손익계산서, 매출액, 영업이익, 당기순이익",
               r"\bnet\s+(income|earnings|loss)\b|\bcost\s+of\s+(goods\s+sold|sales|revenue)\b|"
               r"\bcogs\b|\bgross\s+(profits?|margins?)\b|\boperating\s+(income|margins?)\b|"
               r"\bearnings\s+per\s+share\b|영\s*업\s*이\s*익|당\s*기\s*순\s*이\s*익"),
    _statement(r"comprehensive\s+income|포\s*괄\s*손\s*익",
               "statement of comprehensive income, 포괄손익계산서"),
    _statement(r"cash\s+flows?|현\s*금\s*흐\s*름\s*표",
               "cash flow statement, statement of cash flows, operating cash flow, free cash "
               "flow, capital expenditures, 현금흐름표, 영업활동 투자활동 재무활동",
               r"\bcapital\s+expenditures?\b|\bcapex\b|\bfree\s+cash\s*flow\b|"
               r"\bdividends\s+paid\b|\b(depreciation|d&a)\b"),
    _statement(r"(stockholders|shareholders|changes\s+in)['\u2019]?\s+equity|자\s*본\s*변\s*동\s*표",
               "statement of equity, stockholders equity, 자본변동표"),
)


def statement_names(headings: Sequence[str]) -> list[str]:
    """The common names of the financial statements that `headings` title."""
    text = " ".join(headings)
    return [statement.names for statement in STATEMENTS if statement.matches(text)]


def statements_asked(question: str) -> list[Statement]:
    """The statements a question asks for by name ("... shown in the income statement",
    "Netflix's balance sheet", "free cash flow", "현금흐름표") or by a line item that one
    statement alone reports ("total current liabilities", "cost of goods sold", "capital
    expenditure", "자산총계"; not revenue or sales, which every part of a report discusses):
    a chunk of one of them carries its `names` in its context."""
    return [statement for statement in STATEMENTS if statement.asked_in(question)]


def of_statements(context: str, statements: Sequence[Statement]) -> bool:
    """Whether a chunk with this context belongs to one of `statements`: ingestion wrote
    the statement's names into the context of every chunk its title heads."""
    return any(statement.names in context for statement in statements)
