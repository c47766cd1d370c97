from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa_service.embedding import Embedder
from tests.api.helpers import running_app


@pytest.fixture
def app_client(tmp_path: Path, embedder: Embedder, shared_models: None
               ) -> Callable[..., AbstractContextManager[TestClient]]:
    """Start an app on a fresh data directory: `with app_client() as client: ...`."""
    def start(**settings: Any) -> AbstractContextManager[TestClient]:
        return running_app(tmp_path / "data", embedder, **settings)
    return start


@pytest.fixture
def client(app_client: Callable[..., AbstractContextManager[TestClient]]
           ) -> Iterator[TestClient]:
    with app_client() as started:
        yield started
