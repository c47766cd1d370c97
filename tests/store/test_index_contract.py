"""The index contract (`qa_service.testing.index_contract`) on the default backend."""

from __future__ import annotations

import pytest

from qa_service.store.faiss_index import FaissBackend
from qa_service.store.index import IndexBackend
from qa_service.testing.index_contract import IndexContract


class TestFaissBackend(IndexContract):
    @pytest.fixture
    def backend(self) -> IndexBackend:
        return FaissBackend()
