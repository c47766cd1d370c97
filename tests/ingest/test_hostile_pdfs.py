"""Hostile PDFs (`bench/attack_pdfs.py`, scaled down) through the real parser pool and
pipeline: each ends quickly with a status and a reason a person can act on.

The full-size set, with the shared real-world PDFs, runs against a real server in
`make hostile` (`bench/hostile_pdfs.py`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench import attack_pdfs as attacks
from ingest.chunk import ChunkerConfig
from ingest.parse import parse_pdf
from ingest.parser_pool import ParserLimits, ParserPool
from ingest.pipeline import IngestPipeline
from qa_service.lexical import LexicalIndex
from qa_service.schemas import DocumentStatus
from qa_service.store.knowledge_base import IndexIdentity, KnowledgeBase
from tests.fakes import HashEmbedder

MAX_PAGES = 5
MAX_TEXT_CHARS = 100_000
BOMB = 96 << 20  # inflates to 96 MiB: past pypdf's 75 MB limit, tiny to build
SAFETY = "PDF parser's safety limits"

# name -> (file, status, words the reason must hold)
CASES: dict[str, tuple[Callable[[], bytes], DocumentStatus, str]] = {
    "flate bomb": (lambda: attacks.attack_flate_bomb(BOMB), DocumentStatus.INVALID,
                   f"page 1 goes past the {SAFETY}"),
    "object stream bomb": (lambda: attacks.attack_object_stream_bomb(BOMB),
                           DocumentStatus.INVALID, f"the page tree goes past the {SAFETY}"),
    "pages cycle": (attacks.attack_pages_cycle, DocumentStatus.INVALID, "cyclic page"),
    "pages self kid": (attacks.attack_pages_self_kid, DocumentStatus.INVALID, "cyclic page"),
    "xref huge subsection": (attacks.attack_xref_huge_subsection, DocumentStatus.INVALID,
                             f"the file goes past the {SAFETY}"),
    "10,000 pages": (attacks.attack_many_pages, DocumentStatus.TOO_LARGE,
                     f"10,000 pages is over the limit of {MAX_PAGES}"),
    "text flood": (lambda: attacks.attack_text_flood(pages=3, chars_per_page=60_000),
                   DocumentStatus.TOO_LARGE,
                   f"passes the limit of {MAX_TEXT_CHARS:,} characters at page 2 of 3"),
    "truncated": (attacks.attack_truncated, DocumentStatus.INVALID, "damaged beyond repair"),
    "garbage body": (attacks.attack_garbage_body, DocumentStatus.INVALID,
                     "damaged beyond repair"),
}
# pypdf refuses these pages at its safety limits; pdfium, which reads the text, reads them
# without expanding the trap (the font is not decompressed, the CMap range not spelled out,
# the nesting not followed), within the worker's memory and time: their text is indexed
PYPDF_REFUSES: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "font bomb": (lambda: attacks.attack_font_bomb(BOMB), f"page 1 goes past the {SAFETY}",
                  "font bomb"),
    "cmap range bomb": (attacks.attack_cmap_range_bomb, SAFETY, "A"),
    "deep nesting": (attacks.attack_deep_nesting, "nests its objects too deeply",
                     "deep nesting"),
}
# these are read correctly in spite of the trap: the loop or the lie is ignored
READABLE: dict[str, tuple[Callable[[], bytes], str]] = {
    "xref prev loop": (attacks.attack_xref_prev_loop, "xref prev loop"),
    "xref prev self": (attacks.attack_xref_prev_self, "xref prev loop"),
    "count lie": (attacks.attack_count_lie, "count lie"),
    "xobject cycle": (attacks.attack_xobject_cycle, "again"),
    "xobject fan-out": (lambda: attacks.attack_xobject_fanout(levels=6), "laugh"),
    **{name: (build, text) for name, (build, _, text) in PYPDF_REFUSES.items()},
}


# pages without text that OCR must not draw: the pixel limits refuse them before decoding
SCANS: dict[str, tuple[Callable[[], bytes], str]] = {
    "scan bomb": (attacks.attack_scan_bomb,
                  "page 1: its images decode to 1,250 MB, over the OCR limit of 300 MB"),
    "huge page": (attacks.attack_huge_page, "page 1: the page is 200 x 200 inches, too large"),
}


@pytest.fixture(scope="module", params=["pypdf", "ocr"])
def hostile_pool(request: pytest.FixtureRequest) -> Iterator[ParserPool]:
    """Both parsers: OCR must not draw what the text layer's safety limits refused."""
    limits = ParserLimits(max_pages=MAX_PAGES, max_text_chars=MAX_TEXT_CHARS,
                          parser=request.param)
    with ParserPool(limits, size=1) as pool:
        yield pool


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / (name.replace(" ", "-").replace(",", "") + ".pdf")
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", CASES)
def test_a_hostile_file_ends_quickly_with_a_clear_reason(
        name: str, hostile_pool: ParserPool, tmp_path: Path) -> None:
    build, status, words = CASES[name]
    path = write(tmp_path, name, build())
    started = time.monotonic()
    result = hostile_pool.parse(path)
    assert time.monotonic() - started < 10
    assert result.status is status, result.reason
    assert words in result.reason
    assert result.pages == []


@pytest.mark.parametrize("name", PYPDF_REFUSES)
def test_pypdf_reading_the_text_still_refuses_at_its_limits(name: str) -> None:
    """What the pool falls back to when pdfium crashes or hangs (`ingest.parser_pool`)."""
    build, words, _ = PYPDF_REFUSES[name]
    result = parse_pdf(build(), max_pages=MAX_PAGES, text_layer="pypdf")
    assert result.status is DocumentStatus.INVALID, result.reason
    assert words in result.reason
    assert result.pages == []


@pytest.mark.parametrize("name", READABLE)
def test_a_trap_that_pypdf_survives_gives_the_real_text(
        name: str, hostile_pool: ParserPool, tmp_path: Path) -> None:
    build, text = READABLE[name]
    started = time.monotonic()
    result = hostile_pool.parse(write(tmp_path, name, build()))
    assert time.monotonic() - started < 10
    assert result.status is DocumentStatus.INDEXED, result.reason
    assert result.page_count == 1
    assert text in result.pages[0].text


@pytest.mark.parametrize("name", SCANS)
def test_a_page_too_large_to_ocr_is_refused_by_the_budget_not_the_kernel(
        name: str, tmp_path: Path) -> None:
    build, words = SCANS[name]
    limits = ParserLimits(max_pages=MAX_PAGES, max_text_chars=MAX_TEXT_CHARS, parser="ocr")
    with ParserPool(limits, size=1) as pool:
        started = time.monotonic()
        result = pool.parse(write(tmp_path, name, build()))
        assert time.monotonic() - started < 10
        assert len(pool.worker_pids()) == 1  # the worker lives on
    assert result.status is DocumentStatus.NO_TEXT, result.reason
    assert words in result.reason


def test_a_file_slower_than_its_budget_is_stopped_at_it(tmp_path: Path) -> None:
    limits = ParserLimits(timeout_base_s=1.0, timeout_per_page_s=0.0)
    path = write(tmp_path, "slow", attacks.attack_slow_pages(pages=2))
    with ParserPool(limits, size=1) as pool:
        started = time.monotonic()
        result = pool.parse(path)
        elapsed = time.monotonic() - started
        assert pool.worker_pids() == []  # the worker that overran was killed
    assert result.status is DocumentStatus.FAILED
    assert "longer than its budget of 1 s for 2 pages" in result.reason
    assert 0.9 <= elapsed < 4  # pdfium's overrun spent the budget: pypdf gets no other


def test_pypdf_reads_what_pdfium_overran_within_the_rest_of_the_budget(
        tmp_path: Path) -> None:
    """Slow for pdfium and for pypdf: the file ends at its one budget, not two."""
    limits = ParserLimits(timeout_base_s=4.0, timeout_per_page_s=0.0, positions_base_s=1.0,
                          positions_per_page_s=0.0)
    path = write(tmp_path, "slow", attacks.attack_slow_pages(pages=2))
    with ParserPool(limits, size=1) as pool:
        started = time.monotonic()
        result = pool.parse(path)
        elapsed = time.monotonic() - started
    assert result.status is DocumentStatus.FAILED
    assert "longer than its budget of 4 s for 2 pages" in result.reason
    assert 3.9 <= elapsed < 7


def test_the_pipeline_records_every_hostile_file(hostile_pool: ParserPool,
                                                 lexical: LexicalIndex, tmp_path: Path) -> None:
    embedder = HashEmbedder()
    pipeline = IngestPipeline(parsers=hostile_pool, embedder=embedder, lexical=lexical,
                              chunker=ChunkerConfig(), max_file_bytes=10_000_000)
    kb = KnowledgeBase.create(tmp_path / "kb", "kb",
                              IndexIdentity(embedder.name, embedder.dimension))
    try:
        files = {"pages cycle": attacks.attack_pages_cycle(),
                 "flate bomb": attacks.attack_flate_bomb(BOMB),
                 "count lie": attacks.attack_count_lie(),
                 "xref prev loop": attacks.attack_xref_prev_loop()}
        for name, data in files.items():
            outcome = pipeline.ingest_file(kb, write(tmp_path, name, data), name)
            assert outcome.status in (DocumentStatus.INDEXED, DocumentStatus.INVALID), name
            assert outcome.status is DocumentStatus.INDEXED or outcome.reason, name
            assert outcome.document_id is not None
            recorded = kb.catalog.document(outcome.document_id)
            assert recorded is not None
            assert (recorded.status, recorded.reason) == (outcome.status, outcome.reason)
        assert kb.info().documents == 2  # the two readable ones
    finally:
        kb.close()


def test_the_full_size_bomb_inflates_to_gigabytes() -> None:
    """The generator's own promise, checked on a prefix: 4 GiB of spaces, ~1000:1."""
    import zlib

    data = attacks.deflate_spaces(attacks.GIB)
    assert len(data) < attacks.GIB // 900
    inflater = zlib.decompressobj()
    head = inflater.decompress(data, 1 << 20)
    assert head == b" " * (1 << 20) and inflater.unconsumed_tail
