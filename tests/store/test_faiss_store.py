"""What the FAISS segment store adds to the VectorStore contract: its on-disk layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa_service.errors import StorageError
from qa_service.store import faiss_store
from qa_service.store.approximate import ApproximateIndex, ApproximateSettings
from qa_service.store.faiss_store import MERGE_FACTOR, FaissSegmentStore
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


def everything(ids: np.ndarray) -> np.ndarray:
    return np.ones(len(ids), dtype=bool)


def add_singles(store: FaissSegmentStore, first: int, count: int, seed: int,
                compact: bool = True) -> None:
    """`count` adds of one vector each (ids from `first`), compacting after each as a
    knowledge base does after its writes."""
    vectors = random_unit(count, seed)
    for n in range(count):
        store.add(np.asarray([first + n], dtype=np.int64), vectors[n:n + 1])
        if compact and store.needs_compaction():
            store.compact(everything)


def test_a_full_size_tier_is_merged_into_one_segment_of_the_next(tmp_path: Path) -> None:
    store = FaissSegmentStore(tmp_path, DIM)
    add_singles(store, 0, MERGE_FACTOR - 1, 1)
    assert not store.needs_compaction()
    add_singles(store, MERGE_FACTOR - 1, 1, 3, compact=False)
    assert store.needs_compaction()
    query = random_unit(1, 2)
    before = store.search(query, 5)[0]
    store.compact(everything)
    assert [s["count"] for s in manifest(tmp_path)["segments"]] == [MERGE_FACTOR]
    assert len(segment_files(tmp_path)) == 1 and not store.needs_compaction()
    after = store.search(query, 5)[0]
    assert [i for i, _ in after] == [i for i, _ in before]
    assert [s for _, s in after] == pytest.approx([s for _, s in before])
    assert sorted(store.ids().tolist()) == list(range(MERGE_FACTOR))


def test_a_vector_is_rewritten_once_a_tier_not_once_an_add(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two tiers of merges for 2 x 8 x 8 single-vector adds: each vector is written twice
    by merges (tier 0 -> 1 -> 2), where merging the smallest segments into one after every
    few adds rewrote a share of the whole store each time."""
    written: list[int] = []
    write = FaissSegmentStore._write_index

    def counted(self: FaissSegmentStore, index: object) -> str:
        written.append(int(index.ntotal))  # type: ignore[attr-defined]
        return write(self, index)

    monkeypatch.setattr(FaissSegmentStore, "_write_index", counted)
    store = FaissSegmentStore(tmp_path, DIM)
    adds = 2 * MERGE_FACTOR * MERGE_FACTOR
    add_singles(store, 0, adds, 4)
    assert sum(written) - adds == 2 * adds  # what merges wrote
    assert [s["count"] for s in manifest(tmp_path)["segments"]] == [64, 64]
    assert len(store.ids()) == adds


def test_no_merge_writes_more_than_the_largest_segment_allowed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faiss_store, "MAX_MERGED_VECTORS", 20)
    store = FaissSegmentStore(tmp_path, DIM)
    add_singles(store, 0, 4 * MERGE_FACTOR, 11)
    counts = sorted(s["count"] for s in manifest(tmp_path)["segments"])
    assert max(counts) <= 20 and sum(counts) == 4 * MERGE_FACTOR
    assert counts == [8, 8, 8, 8]  # tier 1 is full, but no two of it fit in one segment
    assert not store.needs_compaction()
    query = random_unit(1, 12)
    assert len(store.search(query, 40)[0]) == 4 * MERGE_FACTOR


def test_compaction_asks_about_the_ids_it_rewrites_only(tmp_path: Path) -> None:
    store = FaissSegmentStore(tmp_path, DIM)
    store.add(np.arange(1000, 1100, dtype=np.int64), random_unit(100, 5))  # tier 2
    add_singles(store, 0, MERGE_FACTOR, 6, compact=False)
    asked: list[int] = []

    def live(ids: np.ndarray) -> np.ndarray:
        asked.extend(ids.tolist())
        return ids != 3  # 3 was never committed

    store.compact(live)
    assert sorted(asked) == list(range(MERGE_FACTOR))
    assert 3 not in store.ids() and 1050 in store.ids()


def test_many_removals_ask_for_a_rewrite_of_the_segments_holding_them(tmp_path: Path) -> None:
    store = FaissSegmentStore(tmp_path, DIM)
    store.add(np.arange(10, dtype=np.int64), random_unit(10, 3))
    store.add(np.arange(10, 20, dtype=np.int64), random_unit(10, 7))
    store.remove(np.arange(1, dtype=np.int64))
    assert not store.needs_compaction()
    untouched = manifest(tmp_path)["segments"][1]["file"]
    store.remove(np.arange(5, dtype=np.int64))
    assert store.needs_compaction()
    store.compact(everything)
    assert manifest(tmp_path)["removed"] == []
    assert untouched in segment_files(tmp_path)  # it held none of them
    assert sorted(store.ids().tolist()) == list(range(5, 20))
    assert not store.needs_compaction()


def test_a_removed_id_another_segment_still_holds_stays_removed(tmp_path: Path) -> None:
    """An id stored twice (a writer that died re-added it) and removed: rewriting one of
    its segments must not make the other's vectors of it visible again."""
    store = FaissSegmentStore(tmp_path, DIM)
    vectors = random_unit(2, 21)
    store.add(np.asarray([7], dtype=np.int64), vectors[:1])
    store.add(np.arange(100, 110, dtype=np.int64), random_unit(10, 22))
    store.add(np.asarray([7], dtype=np.int64), vectors[1:])  # stored twice
    store.remove(np.asarray([7], dtype=np.int64))
    first = manifest(tmp_path)["segments"][0]
    store._rewrite([first], {first["file"]: np.zeros(1, dtype=bool)})
    assert manifest(tmp_path)["removed"] == [7]
    assert 7 not in store.ids()
    assert 7 not in [i for i, _ in store.search(vectors[1:], 5)[0]]


def test_removed_ids_no_segment_holds_leave_with_the_dead_share_rewrite(
        tmp_path: Path) -> None:
    store = FaissSegmentStore(tmp_path, DIM)
    store.add(np.arange(10, dtype=np.int64), random_unit(10, 23))
    store.remove(np.arange(500, 505, dtype=np.int64))  # never stored
    assert store.needs_compaction()
    store.compact(everything)
    assert manifest(tmp_path)["removed"] == [] and not store.needs_compaction()
    assert sorted(store.ids().tolist()) == list(range(10))


def test_covered_segments_merge_among_themselves_and_stay_covered(tmp_path: Path) -> None:
    store = approximated(tmp_path, DIM, approximate_from=0, nprobe=4, candidates=20)
    add_singles(store, 0, MERGE_FACTOR - 1, 8)
    build(store)
    covered = set(manifest(tmp_path)["approximate"]["covers"])
    add_singles(store, 100, MERGE_FACTOR, 9)  # a full tier of new segments: merged alone
    segments = {s["file"] for s in manifest(tmp_path)["segments"]}
    assert covered <= segments and len(segments) == len(covered) + 1
    store.remove(np.arange(3, dtype=np.int64))  # past DEAD_SHARE of the covered ones
    store.compact(everything)
    listed = manifest(tmp_path)["approximate"]
    assert len(listed["covers"]) == MERGE_FACTOR - 1 - 3  # rewritten empty: gone
    assert listed["stale"] == 3 and store.approximate_due()
    query = random_unit(1, 10)
    found = [i for i, _ in store.search(query, 20)[0]]
    assert sorted(found) == sorted([*range(3, MERGE_FACTOR - 1), *range(100, 108)])


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


# --- the approximate index ---------------------------------------------------------------


def clustered(n_ids: int, per_id: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids with `per_id` vectors each, around 40 topics (as real chunks cluster)."""
    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(40, dim))
    centres = topics[rng.integers(0, 40, n_ids)] + 0.6 * rng.normal(size=(n_ids, dim))
    vectors = np.repeat(centres, per_id, axis=0) + 0.5 * rng.normal(size=(n_ids * per_id, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.repeat(np.arange(n_ids, dtype=np.int64), per_id), vectors.astype(np.float32)


def approximated(folder: Path, dim: int, **settings: object) -> FaissSegmentStore:
    chosen = {"approximate_from": 100, "candidates": 100, "nprobe": 64, **settings}
    return FaissSegmentStore(folder, dim, ApproximateSettings(**chosen))  # type: ignore[arg-type]


def build(store: FaissSegmentStore) -> None:
    store.publish_approximate(store.build_approximate())


def exact_and_approximated(folder: Path, dim: int, n_ids: int, per_id: int, seed: int
                           ) -> tuple[FaissSegmentStore, FaissSegmentStore]:
    """The same clustered vectors in an exact store and in one with its index built."""
    ids, vectors = clustered(n_ids, per_id, dim, seed)
    exact = FaissSegmentStore(folder / "exact", dim)
    store = approximated(folder / "approximate", dim)
    for target in (exact, store):
        target.add(ids, vectors)
    build(store)
    return exact, store


def test_a_store_builds_its_index_once_it_is_large_enough(tmp_path: Path) -> None:
    store = approximated(tmp_path, DIM, approximate_from=30, rebuild_fraction=0.25)
    ids, vectors = clustered(20, 3, DIM, 0)
    store.add(ids, vectors)
    assert not store.approximate_due()  # 20 ids
    store.add(ids + 100, vectors)
    assert store.approximate_due()  # 40
    build(store)
    listed = manifest(tmp_path)["approximate"]
    assert listed["count"] == 120 and sorted(listed["covers"]) == segment_files(tmp_path)
    assert listed["kind"] == "ivf-sq8"
    assert [p.name for p in tmp_path.glob("ann-*.faiss")] == [listed["file"]]
    assert not store.approximate_due()
    store.add(ids[:15] + 200, vectors[:15])  # 5 more ids: 5 of 45 outside
    assert not store.approximate_due()
    store.add(ids[15:] + 200, vectors[15:])  # 5 more: 10 of 50 outside the index
    assert store.approximate_due()
    build(store)
    assert [p.name for p in tmp_path.glob("ann-*.faiss")] == [
        manifest(tmp_path)["approximate"]["file"]]  # the old one is gone


def test_the_index_finds_what_exact_search_finds_with_the_same_scores(tmp_path: Path) -> None:
    exact, store = exact_and_approximated(tmp_path, 32, 3000, 4, 1)
    queries = clustered(60, 1, 32, 2)[1]
    truth, found = exact.search(queries, 10), store.search(queries, 10)
    overlap = [len({i for i, _ in a} & {i for i, _ in b}) / 10
               for a, b in zip(truth, found, strict=True)]
    assert np.mean(overlap) >= 0.95, np.mean(overlap)
    for expected, row in zip(truth, found, strict=True):  # scored exactly: best vector
        scores = dict(expected)
        for chunk_id, score in row:
            if chunk_id in scores:
                assert score == pytest.approx(scores[chunk_id], abs=1e-5)


def test_a_large_index_reads_no_more_lists_than_hold_probe_vectors(tmp_path: Path) -> None:
    """A question's cost is the vectors its lists hold: `nprobe` lists at most, fewer where
    they would hold more than about `probe_vectors`; fewer lists find less."""
    ids, vectors = clustered(3000, 4, 32, 1)
    store = approximated(tmp_path / "store", 32)
    store.add(ids, vectors)
    built = store.build_approximate()
    path, count = tmp_path / "store" / built.file, len(vectors)

    def read(nprobe: int, probe_vectors: int) -> int:
        return ApproximateIndex(path, nprobe, probe_vectors).lists_read

    assert built.lists >= 64
    assert read(64, 0) == 64 and read(1000, 0) == built.lists  # no bound; all lists at most
    assert read(64, count) == 64  # bound above what 64 lists hold
    assert read(64, 1) == 1
    quarter = read(1000, count // 4)
    assert built.lists // 4 <= quarter <= built.lists // 4 + 1
    queries = clustered(60, 1, 32, 2)[1]
    truth = [{i for i, _ in row} for row in store.search(queries, 10)]

    def recall(probe_vectors: int) -> float:
        bounded = approximated(tmp_path / "store", 32, probe_vectors=probe_vectors)
        found = bounded.search(queries, 10)
        return float(np.mean([len(t & {i for i, _ in row}) / 10
                              for t, row in zip(truth, found, strict=True)]))

    store.publish_approximate(built)
    assert recall(1) < recall(0)


def test_ids_written_after_the_index_are_found_and_removed_ones_are_not(tmp_path: Path) -> None:
    dim = 16
    ids, vectors = clustered(400, 2, dim, 3)
    store = approximated(tmp_path, dim, rebuild_fraction=0.9)
    store.add(ids, vectors)
    build(store)
    newcomer = clustered(1, 1, dim, 4)[1]
    store.add(np.asarray([9999], np.int64), newcomer)
    assert not store.approximate_due()  # outside the index, found by exact search
    assert store.search(newcomer, 1)[0][0][0] == 9999
    best = store.search(vectors[:1], 3)[0]
    store.remove(np.asarray([best[0][0]], np.int64))
    again = store.search(vectors[:1], 3)[0]
    assert best[0][0] not in [i for i, _ in again]
    assert [i for i, _ in again][:2] == [i for i, _ in best][1:]


def test_a_filter_is_searched_exactly_or_through_the_index(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exact, store = exact_and_approximated(tmp_path, 16, 600, 2, 5)
    queries = clustered(10, 1, 16, 6)[1]
    allowed = np.arange(0, 600, 3, dtype=np.int64)
    small = store.search(queries, 5, allowed)  # 200 ids: scored exactly
    for mine, theirs in zip(small, exact.search(queries, 5, allowed), strict=True):
        assert [i for i, _ in mine] == [i for i, _ in theirs]
        assert [s for _, s in mine] == pytest.approx([s for _, s in theirs], abs=1e-5)
    monkeypatch.setattr(faiss_store, "EXACT_ALLOWED", 10)  # now through the index
    through = store.search(queries, 5, allowed)
    assert all(i in set(allowed.tolist()) for row in through for i, _ in row)
    overlap = np.mean([len({i for i, _ in a} & {i for i, _ in b}) / 5
                       for a, b in zip(small, through, strict=True)])
    assert overlap >= 0.9, overlap


def test_another_process_uses_the_published_index_and_orphans_go(tmp_path: Path) -> None:
    dim = 16
    ids, vectors = clustered(300, 2, dim, 7)
    writer, reader = approximated(tmp_path, dim), approximated(tmp_path, dim)
    writer.add(ids, vectors)
    before = reader.search(vectors[:3], 5)
    build(writer)
    after = reader.search(vectors[:3], 5)  # now through the index: the same answer
    assert [[i for i, _ in row] for row in after] == [[i for i, _ in row] for row in before]
    assert reader._ann is not None
    (tmp_path / "ann-leftover.faiss").write_bytes(b"half written")
    writer.remove_orphans()
    assert [p.name for p in tmp_path.glob("ann-*.faiss")] == [
        manifest(tmp_path)["approximate"]["file"]]


def test_an_unreadable_index_leaves_search_exact_and_is_rebuilt(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    dim = 16
    ids, vectors = clustered(200, 2, dim, 8)
    exact = FaissSegmentStore(tmp_path / "exact", dim)
    exact.add(ids, vectors)
    store = approximated(tmp_path / "broken", dim)
    store.add(ids, vectors)
    build(store)
    (tmp_path / "broken" / manifest(tmp_path / "broken")["approximate"]["file"]).write_bytes(
        b"not an index")
    reopened = approximated(tmp_path / "broken", dim)
    found = reopened.search(vectors[:2], 5)
    assert [[i for i, _ in row] for row in found] == [
        [i for i, _ in row] for row in exact.search(vectors[:2], 5)]
    assert "unreadable" in caplog.text
    assert reopened.approximate_due()
    build(reopened)
    assert not reopened.approximate_due()
    again = reopened.search(vectors[:2], 5)  # through the new index
    assert reopened._ann is not None
    assert [[i for i, _ in row] for row in again] == [[i for i, _ in row] for row in found]


def test_segments_listed_before_ids_were_counted_are_counted_from_their_file(
        tmp_path: Path) -> None:
    ids, vectors = clustered(40, 3, DIM, 9)
    approximated(tmp_path, DIM).add(ids, vectors)
    listed = manifest(tmp_path)
    for segment in listed["segments"]:
        del segment["ids"]
    (tmp_path / "manifest.json").write_text(json.dumps(listed), "utf-8")
    assert not approximated(tmp_path, DIM, approximate_from=41).approximate_due()
    assert approximated(tmp_path, DIM, approximate_from=40).approximate_due()
