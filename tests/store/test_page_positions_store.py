"""Page positions in the catalog: written with the pages in the publish transaction,
deleted with the document, and simply absent in a knowledge base from before them."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ingest.chunk import ChunkerConfig
from qa_service.lexical import LexicalIndex
from qa_service.page_positions import PagePositions
from qa_service.schemas import DocumentStatus, FileOutcome, Page, PreparedDocument
from qa_service.store.catalog import Catalog
from qa_service.store.knowledge_base import IndexIdentity, JobFile, KnowledgeBase
from tests.fakes import HashEmbedder, make_document

PAGES = ("The pelican mascot wears a scarlet hat.", "Page two explains the refund policy.")


@pytest.fixture
def kb(tmp_path: Path, fake_embedder: HashEmbedder) -> Iterator[KnowledgeBase]:
    identity = IndexIdentity(fake_embedder.name, fake_embedder.dimension,
                             ChunkerConfig().describe())
    base = KnowledgeBase.create(tmp_path / "kb", "kb", identity)
    yield base
    base.close()


def positions_of(text: str) -> PagePositions:
    boxes = np.tile(np.array([[10, 20, 16, 30]], dtype=np.float32), (len(text), 1))
    return PagePositions.encode(text, 595.0, 842.0, boxes)


def located(tmp_path: Path, fake_embedder: HashEmbedder, lexical: LexicalIndex,
            filename: str = "manual.pdf", texts: tuple[str, ...] = PAGES) -> PreparedDocument:
    """A document whose first page has positions and whose second has none."""
    plain = make_document(tmp_path / "sources", filename, texts, fake_embedder, lexical)
    pages = (Page(1, texts[0], positions_of(texts[0])), *plain.pages[1:])
    return dataclasses.replace(plain, pages=pages)


def rows(kb: KnowledgeBase, doc_id: str) -> int:
    return int(kb.catalog.connection().execute(
        "SELECT COUNT(*) FROM page_positions WHERE document_id = ?", (doc_id,)).fetchone()[0])


def test_positions_are_published_with_their_pages(
        kb: KnowledgeBase, tmp_path: Path, fake_embedder: HashEmbedder,
        lexical: LexicalIndex) -> None:
    doc = located(tmp_path, fake_embedder, lexical)
    assert kb.publish(doc)
    assert kb.catalog.page_with_positions(doc.info.id, 1) == (PAGES[0], positions_of(PAGES[0]))
    assert kb.catalog.page_with_positions(doc.info.id, 2) == (PAGES[1], None)
    assert kb.catalog.page_with_positions(doc.info.id, 3) is None


def test_deleting_or_replacing_a_document_removes_its_positions(
        kb: KnowledgeBase, tmp_path: Path, fake_embedder: HashEmbedder,
        lexical: LexicalIndex) -> None:
    first = located(tmp_path, fake_embedder, lexical)
    assert kb.publish(first) and rows(kb, first.info.id) == 1
    second = located(tmp_path, fake_embedder, lexical, texts=("A new first page.", "And two."))
    assert kb.publish(second)  # the same filename: it replaces the first version
    assert rows(kb, first.info.id) == 0 and rows(kb, second.info.id) == 1
    assert kb.delete_document(second.info.id)
    assert rows(kb, second.info.id) == 0


def test_a_failed_publication_writes_no_positions(
        kb: KnowledgeBase, tmp_path: Path, fake_embedder: HashEmbedder,
        lexical: LexicalIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = located(tmp_path, fake_embedder, lexical)

    def fail(*_args: object) -> None:
        raise RuntimeError("the job's bookkeeping failed")

    monkeypatch.setattr(Catalog, "finish_job_file", fail)
    outcome = FileOutcome("located.pdf", DocumentStatus.INDEXED, "", doc.info.id)
    with pytest.raises(RuntimeError):
        kb.publish(doc, JobFile("job", 0, outcome))
    assert rows(kb, doc.info.id) == 0


def test_a_knowledge_base_from_before_positions_keeps_working(
        tmp_path: Path, fake_embedder: HashEmbedder, lexical: LexicalIndex,
        kb: KnowledgeBase) -> None:
    old = make_document(tmp_path / "sources", "old.pdf", PAGES, fake_embedder, lexical)
    assert kb.publish(old)
    kb.close()
    with sqlite3.connect(kb.root / "catalog.sqlite") as conn:  # as an older version left it
        conn.execute("DROP TABLE page_positions")
    reopened = KnowledgeBase.open(kb.root, "kb")
    try:
        assert reopened.catalog.page_with_positions(old.info.id, 1) == (PAGES[0], None)
        new = located(tmp_path, fake_embedder, lexical, filename="new.pdf",
                      texts=("Fresh text on page one.", "Page two."))
        assert reopened.publish(new)
        assert reopened.catalog.page_with_positions(new.info.id, 1) == (
            "Fresh text on page one.", positions_of("Fresh text on page one."))
        assert reopened.delete_document(old.info.id)
    finally:
        reopened.close()
