from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from ingest.chunk import ChunkerConfig
from qa_service.config import DEFAULT_EMBEDDING_MODEL, Settings


def test_the_environment_is_stripped_of_qa_variables() -> None:
    assert [name for name in os.environ if name.startswith("QA_")] == []


def test_defaults() -> None:
    settings = Settings()
    assert settings.data_dir.is_absolute()  # never the current folder's indexes/
    assert settings.data_dir.name in ("indexes", "qa-service")  # checkout or per-user folder
    assert settings.embedding_model == DEFAULT_EMBEDDING_MODEL
    assert settings.ingest.workers == 2
    assert settings.retrieval.fusion == "zscore"


def test_chunking_defaults_match_the_chunker() -> None:
    assert Settings().chunking.model_dump() == {
        k: v for k, v in ChunkerConfig().describe().items() if k != "name"}


def test_environment_with_nested_sections(monkeypatch: pytest.MonkeyPatch, tmp_path: Path
                                          ) -> None:
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("QA_INGEST__WORKERS", "3")
    monkeypatch.setenv("QA_RETRIEVAL__RRF_K", "10.5")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.ingest.workers == 3
    assert settings.retrieval.rrf_k == 10.5


def test_out_of_range_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_INGEST__WORKERS", "0")
    with pytest.raises(ValidationError):
        Settings()


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.port = 1  # type: ignore[misc]
