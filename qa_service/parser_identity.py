"""What pages are read with, as knowledge bases record it (`IndexIdentity.parser`).

The text layer's identity (`text`: pdfium reads each page's text, pypdf the pages pdfium
cannot: `ingest.parse`) is the same for every server; a server that OCRs pages adds
`"ocr"` (engine, languages, resolution: `ingest.parser_pool.ParserLimits.identity`), so the
documents it builds carry another pipeline version and `qa kb rebuild` reads the pages an
earlier build left without text.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_DPI", "DEFAULT_PARSER_IDENTITY"]

DEFAULT_PARSER_IDENTITY: dict[str, Any] = {
    "name": "pypdf", "text": "pdfium-nfc-v1", "tables": "layout-rows-v2",
    "running_lines": "edges-v1", "positions": "pdfium-v1"}
DEFAULT_DPI = 200.0  # pages are drawn at this resolution for OCR
