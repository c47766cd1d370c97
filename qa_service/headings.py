"""Heading lines: what a page's title or a section's name looks like in extracted text.

Shared by ingestion (a chunk is matched together with its section's heading,
`ingest.context`) and answering (an overview of a document lists its section headings,
`qa_service.answer.summary`). Pure functions, no I/O.
"""

from __future__ import annotations

import re

__all__ = ["HEADING_MAX_CHARS", "is_heading"]

HEADING_MAX_CHARS = 90
_LETTERS = re.compile(r"[^\W\d_]")
_NUMBERED = re.compile(r"^(?:[IVX]+|[0-9]{1,2}|[가-하]|[A-Z])[.)]\s+\S")


def is_heading(line: str) -> bool:
    """A short line that looks like a title: mostly capitals ("CONSOLIDATED BALANCE
    SHEETS", "NETFLIX, INC."), or numbered and without a sentence's full stop ("2. Results",
    "가. 추진 배경")."""
    line = line.strip()
    if not 3 <= len(line) <= HEADING_MAX_CHARS or line.endswith((",", ";", ":")):
        return False
    letters = _LETTERS.findall(line)
    if len(letters) < 3:
        return False
    if sum(1 for ch in letters if ch.isupper()) / len(letters) >= 0.8:
        return True
    return _NUMBERED.match(line) is not None and not line.endswith(".")
