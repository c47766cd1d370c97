"""Error messages go to clients, so they never hold a server path; `detail` keeps it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from qa_service.errors import InvalidRequest, StorageError, describe
from qa_service.store.catalog import Catalog
from qa_service.store.faiss_store import FaissSegmentStore
from qa_service.store.knowledge_base import read_manifest


def test_describe_leaves_out_the_file_names_of_os_errors(tmp_path: Path) -> None:
    with pytest.raises(OSError) as caught:
        (tmp_path / "missing" / "file.pdf").read_bytes()
    text = describe(caught.value)
    assert text == "FileNotFoundError: No such file or directory"
    assert str(tmp_path) not in text


def test_describe_replaces_absolute_paths_in_other_messages() -> None:
    text = describe(sqlite3.OperationalError("cannot open /srv/qa/indexes/kb/catalog.sqlite now"))
    assert text == "OperationalError: cannot open <path> now"
    assert describe(ValueError("see http://host/a/b and GET /health")) == (
        "ValueError: see http://host/a/b and GET /health")
    assert describe(InvalidRequest("as said")) == "as said"
    assert describe(RuntimeError()) == "RuntimeError"


def test_storage_errors_name_the_knowledge_base_and_keep_the_path_in_detail(
        tmp_path: Path) -> None:
    folder = tmp_path / "handbook"
    folder.mkdir()
    (folder / "catalog.sqlite").mkdir()  # a folder where the database file should be
    with pytest.raises(StorageError) as caught:
        Catalog(folder / "catalog.sqlite").initialize()
    assert "handbook" in caught.value.message and str(tmp_path) not in caught.value.message
    assert str(folder) in caught.value.detail

    (folder / "manifest.json").write_text("{broken", "utf-8")
    with pytest.raises(StorageError) as caught:
        read_manifest(folder)
    assert "handbook" in caught.value.message and str(tmp_path) not in caught.value.message
    assert str(folder) in caught.value.detail

    vectors = folder / "vectors"
    FaissSegmentStore(vectors, 4)
    (vectors / "manifest.json").write_text("{broken", "utf-8")
    with pytest.raises(StorageError) as caught:
        FaissSegmentStore(vectors, 4)
    assert "handbook" in caught.value.message and str(tmp_path) not in caught.value.message
    assert str(vectors) in caught.value.detail
