from __future__ import annotations

from collections.abc import Iterator

import pytest

from ingest.parser_pool import ParserLimits, ParserPool

MAX_PAGES = 5


@pytest.fixture(scope="module")
def pool() -> Iterator[ParserPool]:
    """One worker for a module's tests (a worker start costs about a second)."""
    with ParserPool(ParserLimits(max_pages=MAX_PAGES), size=1) as shared:
        yield shared


@pytest.fixture(scope="module")
def ocr_pool() -> Iterator[ParserPool]:
    """One worker that runs the `ocr` parser, for a module's tests."""
    with ParserPool(ParserLimits(max_pages=MAX_PAGES, parser="ocr"), size=1) as shared:
        yield shared
