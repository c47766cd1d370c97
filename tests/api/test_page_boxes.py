"""GET /kbs/{kb}/documents/{id}/pages/{n}/boxes: where a citation's characters are drawn."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa_service.api.models import PageBoxesOut
from qa_service.embedding import Embedder
from tests.api.helpers import assert_error, create_kb, ingest, running_app, search
from tests.ingest.test_positions import HEIGHT, KOREAN, PROSE, TABLE, WIDTH
from tests.pdfs import drawn_pdf

KB = "atlas"


@dataclass
class World:
    client: TestClient
    doc_id: str
    data: Path

    def boxes(self, page: int, **query: Any) -> Any:
        return self.client.get(f"/kbs/{KB}/documents/{self.doc_id}/pages/{page}/boxes",
                               params=query)

    def text(self, page: int) -> str:
        response = self.client.get(f"/kbs/{KB}/documents/{self.doc_id}/pages/{page}")
        return str(response.json()["text"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
          shared_models: None) -> Iterator[World]:
    data = tmp_path_factory.mktemp("boxes") / "data"
    with running_app(data, embedder) as client:
        create_kb(client, KB)
        job = ingest(client, KB, [("atlas.pdf", drawn_pdf([[*PROSE, KOREAN], TABLE]))])
        (outcome,) = job["files"]
        assert outcome["status"] == "indexed", outcome
        yield World(client, str(outcome["document_id"]), data)


def test_a_quote_s_boxes_are_where_it_was_drawn(world: World) -> None:
    text = world.text(1)
    start = text.index("brown fox")
    response = world.boxes(1, start=start, end=start + len("brown fox"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == set(PageBoxesOut.model_fields)
    assert body["positions"] is True and body["coverage"] == 1.0
    assert (body["width"], body["height"]) == pytest.approx((WIDTH, HEIGHT))
    (box,) = body["boxes"]
    assert math.isclose(box["x0"], PROSE[0].x_of("The quick "), abs_tol=2)
    assert box["y0"] < HEIGHT - PROSE[0].y < box["y1"]


def test_without_a_range_the_whole_page_is_covered(world: World) -> None:
    body = world.boxes(2).json()
    assert (body["start"], body["end"]) == (0, len(world.text(2)))
    assert body["coverage"] == 1.0
    assert len(body["boxes"]) == 1 + 3 * 7  # the title, then three cells a row


def test_a_search_passage_s_offsets_give_its_boxes(world: World) -> None:
    (passage, *_) = search(world.client, KB, "Total current liabilities", k=1)
    body = world.boxes(passage["page"], start=passage["char_start"],
                       end=passage["char_end"]).json()
    assert body["positions"] and body["boxes"] and body["coverage"] == 1.0


@pytest.mark.parametrize("page", [0, 3, -1, 2**63])
def test_a_page_that_does_not_exist_is_404(world: World, page: int) -> None:
    error = assert_error(world.boxes(page), 404, "page_not_found")
    assert "its pages are 1-2" in error["message"]


@pytest.mark.parametrize("query", [{"start": 5, "end": 5}, {"start": 9, "end": 2},
                                   {"start": -1}, {"end": 10**6}])
def test_a_range_outside_the_page_s_text_is_422(world: World, query: dict[str, int]) -> None:
    error = assert_error(world.boxes(1, **query), 422, "invalid_range")
    assert f"has {len(world.text(1))} characters" in error["message"]


def test_a_non_numeric_offset_is_a_validation_error(world: World) -> None:
    assert_error(world.boxes(1, start="first"), 422, "validation_error")


def test_an_unknown_document_is_404(world: World) -> None:
    response = world.client.get(f"/kbs/{KB}/documents/{'0' * 64}/pages/1/boxes")
    assert_error(response, 404, "document_not_found")


def test_a_page_without_positions_says_they_are_unavailable(world: World) -> None:
    catalog = world.data / KB / "catalog.sqlite"
    with sqlite3.connect(catalog) as conn:  # as a knowledge base indexed before them
        conn.execute("DELETE FROM page_positions WHERE number = 2")
    response = world.boxes(2, start=0, end=5)
    assert response.status_code == 200, response.text
    assert response.json() == {"document_id": world.doc_id, "page": 2, "start": 0, "end": 5,
                               "positions": False, "width": None, "height": None,
                               "boxes": [], "coverage": None}
    assert world.client.get(f"/kbs/{KB}/documents/{world.doc_id}/pages/2").status_code == 200


def test_deleting_the_document_deletes_its_positions(world: World) -> None:
    catalog = world.data / KB / "catalog.sqlite"
    with sqlite3.connect(catalog) as conn:
        assert conn.execute("SELECT COUNT(*) FROM page_positions").fetchone()[0] >= 1
    assert world.client.delete(f"/kbs/{KB}/documents/{world.doc_id}").status_code == 204
    with sqlite3.connect(catalog) as conn:
        assert conn.execute("SELECT COUNT(*) FROM page_positions").fetchone()[0] == 0
    assert_error(world.boxes(1), 404, "document_not_found")
