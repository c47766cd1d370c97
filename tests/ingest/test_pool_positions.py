"""Positions through the parser pool: computed in the worker after the text, and never
the reason a document fails."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bench.attack_pdfs import attack_xobject_fanout
from ingest.parse import ParseResult
from ingest.parser_pool import (
    ParserLimits,
    ParserPool,
    ParserPoolClosed,
    _Timeout,
    _WorkerGone,
    with_positions,
)
from qa_service.page_positions import quote_boxes
from qa_service.schemas import DocumentStatus, Page
from tests.ingest.test_positions import PROSE
from tests.pdfs import drawn_pdf


def drawn_file(tmp_path: Path) -> Path:
    path = tmp_path / "drawn.pdf"
    path.write_bytes(drawn_pdf([PROSE, PROSE[:1]]))
    return path


def test_the_pool_gives_each_page_its_positions(pool: ParserPool, tmp_path: Path) -> None:
    result = pool.parse(drawn_file(tmp_path))
    assert result.status is DocumentStatus.INDEXED, result.reason
    for page in result.pages:
        assert page.positions is not None
        found = quote_boxes(page.text, page.positions)
        assert found.positions and found.coverage == 1.0 and found.boxes
    assert pool.worker_pids(), "the worker is kept for the next file"


def test_positions_can_be_turned_off(tmp_path: Path) -> None:
    with ParserPool(ParserLimits(positions=False)) as pool:
        result = pool.parse(drawn_file(tmp_path))
    assert result.status is DocumentStatus.INDEXED
    assert [page.positions for page in result.pages] == [None, None]


def test_a_page_pdfium_cannot_finish_costs_only_its_positions(tmp_path: Path) -> None:
    """A form XObject fanned out to 10^12 draws: pypdf stops at its limit, pdfium would
    run for ever; the text is indexed once the positions budget is spent."""
    path = tmp_path / "fanout.pdf"
    path.write_bytes(attack_xobject_fanout())
    limits = ParserLimits(positions_base_s=1.0, positions_per_page_s=0.0)
    with ParserPool(limits) as pool:
        started = time.monotonic()
        result = pool.parse(path)
        assert time.monotonic() - started < 15
        assert pool.worker_pids() == []  # the worker stuck in pdfium was killed
    assert result.status is DocumentStatus.INDEXED, result.reason
    assert [page.positions for page in result.pages] == [None]


TEXT_ONLY = ParseResult(DocumentStatus.INDEXED, pages=[Page(1, "one"), Page(2, "two")],
                        page_count=2)


class FakeWorker:
    """Sends the text, then fails as told instead of sending the positions."""

    def __init__(self, failure: type[Exception] | dict[str, Any]) -> None:
        self.failure = failure

    def receive(self, deadline: float) -> dict[str, Any]:
        if isinstance(self.failure, dict):
            return self.failure
        raise self.failure()


@pytest.mark.parametrize("failure", [_Timeout, _WorkerGone, {"type": "result", "pages": []}])
def test_a_worker_lost_while_locating_keeps_the_text(failure: Any) -> None:
    pool = ParserPool(ParserLimits(), size=1)
    result, keep = pool._with_positions(FakeWorker(failure), TEXT_ONLY,  # type: ignore[arg-type]
                                        time.monotonic() + 1)
    assert result is TEXT_ONLY and not keep


def test_a_pool_closed_while_locating_leaves_the_file_for_the_next_start() -> None:
    pool = ParserPool(ParserLimits(), size=1)
    pool.close()
    with pytest.raises(ParserPoolClosed):
        pool._with_positions(FakeWorker(_WorkerGone), TEXT_ONLY,  # type: ignore[arg-type]
                             time.monotonic() + 1)


def test_malformed_positions_are_dropped_page_by_page() -> None:
    entries: list[Any] = [{"width": 1, "height": 1}, {"format": 1, "width": 10, "height": 10,
                          "unit": 0.0625, "text_hash": "x", "boxes": "not base64!"}]
    assert [p.positions for p in with_positions(TEXT_ONLY, entries).pages] == [None, None]
    assert with_positions(TEXT_ONLY, [None]) is TEXT_ONLY  # wrong length: ignored
    assert with_positions(TEXT_ONLY, "positions") is TEXT_ONLY
