"""What the FAISS segment store adds to the VectorStore contract: its on-disk layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa_service.errors import StorageError
from qa_service.store.faiss_store import MAX_SEGMENTS, FaissSegmentStore
from tests.store.test_vector_store_contract import DIM, random_unit


def segment_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("seg-*.faiss"))


def manifest(folder: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((folder / "manifest.json").read_text("utf-8"))


def test_each_add_writes_one_segment_listed_by_the_manifest(tmp_path: Path) -> None:
    store = FaissSegmentStore(tmp_path, DIM)
    for n in range(3):
        store.add(np.arange(n * 10, n * 10 + 5, dtype=np.int64), random_unit(5, n))
    listed = [s["file"] for s in manifest(tmp_path)["segments"]]
    assert sorted(listed) == segment_files(tmp_path)
    assert len(listed) == 3
    assert manifest(tmp_path)["generation"] == 3


def test_reopening_with_another_dimension_is_refused(tmp_path: Path) -> None:
    FaissSegmentStore(tmp_path, DIM).add(np.arange(2, dtype=np.int64), random_unit(2, 0))
    with pytest.raises(StorageError, match="dimension"):
        FaissSegmentStore(tmp_path, DIM * 2)


def test_unreadable_manifest_is_a_storage_error(tmp_path: Path) -> None:
    FaissSegmentStore(tmp_path, DIM)
    (tmp_path / "manifest.json").write_text("{not json", "utf-8")
    with pytest.raises(StorageError, match="unreadable"):
        FaissSegmentStore(tmp_path, DIM)


def test_many_segments_ask_for_compaction_and_compaction_bounds_them(tmp_path: Path) -> None:
    store = FaissSegmentStore(tmp_path, DIM)
    vectors = random_unit(MAX_SEGMENTS + 3, 1)
    for i in range(MAX_SEGMENTS + 3):
        store.add(np.asarray([i], dtype=np.int64), vectors[i:i + 1])
    assert store.needs_compaction()
    query = random_unit(1, 2)
    before = store.search(query, 5)
    store.compact(store.ids())
    assert len(manifest(tmp_path)["segments"]) <= MAX_SEGMENTS
    assert len(segment_files(tmp_path)) == len(manifest(tmp_path)["segments"])
    assert not store.needs_compaction()
    after = store.search(query, 5)[0]
    assert [i for i, _ in after] == [i for i, _ in before[0]]
    assert [s for _, s in after] == pytest.approx([s for _, s in before[0]])


def test_many_removals_ask_for_compaction(tmp_path: Path) -> None:
    store = FaissSegmentStore(tmp_path, DIM)
    store.add(np.arange(10, dtype=np.int64), random_unit(10, 3))
    store.remove(np.arange(1, dtype=np.int64))
    assert not store.needs_compaction()
    store.remove(np.arange(5, dtype=np.int64))
    assert store.needs_compaction()
    store.compact(np.arange(5, 10, dtype=np.int64))
    assert manifest(tmp_path)["removed"] == []
    assert not store.needs_compaction()


def test_remove_orphans_deletes_only_unlisted_files(tmp_path: Path) -> None:
    store = FaissSegmentStore(tmp_path, DIM)
    store.add(np.arange(3, dtype=np.int64), random_unit(3, 4))
    listed = segment_files(tmp_path)
    (tmp_path / "seg-999999-deadbeef.faiss").write_bytes(b"left by a crash")
    (tmp_path / ".manifest.json.0123.tmp").write_bytes(b"{")
    store.remove_orphans()
    assert segment_files(tmp_path) == listed
    assert not list(tmp_path.glob(".*.tmp"))
    assert sorted(store.ids().tolist()) == [0, 1, 2]


def test_mismatched_ids_and_vectors_are_refused(tmp_path: Path) -> None:
    store = FaissSegmentStore(tmp_path, DIM)
    with pytest.raises(ValueError, match="3 ids for 2 vectors"):
        store.add(np.arange(3, dtype=np.int64), random_unit(2, 5))
    assert segment_files(tmp_path) == []
