"""The index contract (`qa_service.testing.index_contract`) on every backend: the default
(FAISS and FTS5) and Milvus, embedded (Milvus Lite, a `.db` file per test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qa_service.store.faiss_index import FaissBackend
from qa_service.store.index import IndexBackend
from qa_service.store.milvus_index import MilvusBackend, MilvusConnection
from qa_service.testing.index_contract import IndexContract


class TestFaissBackend(IndexContract):
    @pytest.fixture
    def backend(self) -> IndexBackend:
        return FaissBackend()


class TestMilvusLite(IndexContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[IndexBackend]:
        backend = MilvusBackend(MilvusConnection(uri=str(tmp_path / "milvus.db")))
        yield backend
        backend.close()
