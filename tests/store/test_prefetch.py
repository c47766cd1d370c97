"""Scattered rows of memory-mapped vectors are asked for all at once (`madvise`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa_service.store import approximate, prefetch
from tests.store.test_faiss_store import approximated, clustered


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int, int]] = []

    def __call__(self, address: int, length: int, advice: int) -> int:
        self.calls.append((address, length, advice))
        return 0


def mapped(tmp_path: Path, rows: int, width: int) -> np.ndarray:
    path = tmp_path / "rows.bin"
    path.write_bytes(np.arange(rows * width, dtype=np.float32).tobytes())
    return np.memmap(path, dtype=np.float32, mode="r", shape=(rows, width))


def test_touching_rows_share_one_range_of_whole_pages(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    array = mapped(tmp_path, 400, 512)  # 2,048 bytes a row: two rows a page
    recorder = Recorder()
    monkeypatch.setattr(prefetch, "_madvise", lambda: recorder)
    assert prefetch.will_need(array, np.asarray([100, 0, 1, 2, 101], np.int64)) == 2
    base = array.ctypes.data
    page = prefetch.PAGE
    spans = sorted((address - base // page * page, length) for address, length, _ in
                   recorder.calls)
    first_page = base // page
    assert [advice for *_, advice in recorder.calls] == [prefetch.MADV_WILLNEED] * 2
    for (offset, length), (low_row, high_row) in zip(spans, [(0, 2), (100, 101)],
                                                     strict=True):
        start, end = base + low_row * 2048, base + (high_row + 1) * 2048
        assert offset == (start // page - first_page) * page  # aligned down to a page
        assert offset + length >= end - first_page * page  # and covering the last row
        assert length % page == 0


def test_the_real_madvise_accepts_what_is_asked(tmp_path: Path) -> None:
    array = mapped(tmp_path, 1000, 512)
    assert prefetch.will_need(array, np.arange(0, 1000, 7, dtype=np.int64)) > 0
    assert prefetch.will_need_bytes([(array.ctypes.data + 10, 5000)]) == 1


def test_without_madvise_nothing_is_asked(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefetch, "_madvise", lambda: None)
    array = mapped(tmp_path, 10, 512)
    assert prefetch.will_need(array, np.asarray([1, 5], np.int64)) == 0
    assert prefetch.will_need_bytes([(array.ctypes.data, 100)]) == 0


def test_a_search_asks_for_its_lists_and_its_candidates_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids, vectors = clustered(1000, 4, 32, 5)
    store = approximated(tmp_path, 32, nprobe=8)
    store.add(ids, vectors)
    store.publish_approximate(store.build_approximate())
    lists: list[list[tuple[int, int]]] = []
    rows: list[int] = []
    real_rows = prefetch.will_need

    def watched_rows(array: Any, wanted: Any) -> int:
        rows.append(len(wanted))
        return real_rows(array, wanted)

    monkeypatch.setattr(approximate, "will_need_bytes",
                        lambda spans: lists.append(list(spans)) or len(spans))
    monkeypatch.setattr("qa_service.store.faiss_store.will_need", watched_rows)
    queries = clustered(3, 1, 32, 6)[1]
    found = store.search(queries, 5)
    assert all(len(row) == 5 for row in found)
    assert len(lists) == 1 and 2 <= len(lists[0]) <= 2 * 8 * len(queries)  # codes and ids
    assert all(length > 0 for _, length in lists[0])
    assert len(rows) >= len(queries) and all(n > 0 for n in rows)
