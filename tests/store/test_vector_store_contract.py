"""The VectorStore contract (`qa_service/store/vectors.py`), run against every implementation:
the real FAISS segment store, exact and with its approximate index, and the brute-force
fake used in unit tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from qa_service.store.approximate import ApproximateSettings
from qa_service.store.faiss_store import FaissSegmentStore
from qa_service.store.vectors import VectorStore
from tests.fakes import BruteForceVectorStore

DIM = 8
Factory = Callable[[Path], VectorStore]


class ApproximatedStore(FaissSegmentStore):
    """The FAISS store with its approximate index from the first id, rebuilt after a write
    when half the ids are outside it (as a knowledge base does after its commits), so
    searches go through the index and through segments written since it was built."""

    def __init__(self, folder: Path, dimension: int) -> None:
        super().__init__(folder, dimension, ApproximateSettings(
            approximate_from=0, rebuild_fraction=0.5, candidates=10, nprobe=2))

    def _maintain(self) -> None:
        if self.approximate_due():
            self.publish_approximate(self.build_approximate())

    def add(self, ids: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> None:
        super().add(ids, vectors)
        self._maintain()

    def remove(self, ids: npt.NDArray[np.int64]) -> None:
        super().remove(ids)
        self._maintain()

    def compact(self, live: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.bool_]]) -> None:
        super().compact(live)
        self._maintain()


IMPLEMENTATIONS: dict[str, Callable[[Path, int], VectorStore]] = {
    "faiss": FaissSegmentStore,
    "faiss-approximate": ApproximatedStore,
    "brute-force": BruteForceVectorStore,
}


def unit(rows: npt.ArrayLike) -> npt.NDArray[np.float32]:
    array = np.atleast_2d(np.asarray(rows, dtype=np.float32))
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def random_unit(n: int, seed: int) -> npt.NDArray[np.float32]:
    return unit(np.random.default_rng(seed).normal(size=(n, DIM)))


def ids(*values: int) -> npt.NDArray[np.int64]:
    return np.asarray(values, dtype=np.int64)


def hit_ids(hits: list[tuple[int, float]]) -> list[int]:
    return [i for i, _ in hits]


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def open_store(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Opens (or reopens) the implementation's store in one folder."""
    kind = IMPLEMENTATIONS[request.param]
    opened: list[VectorStore] = []

    def factory(folder: Path = tmp_path / "vectors") -> VectorStore:
        store = kind(folder, DIM)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Factory) -> VectorStore:
    return open_store()  # type: ignore[call-arg]


def brute_force(vectors: npt.NDArray[np.float32], vector_ids: npt.NDArray[np.int64],
                query: npt.NDArray[np.float32], k: int) -> list[int]:
    scores = vectors @ query
    order = np.argsort(-scores, kind="stable")[:k]
    return [int(vector_ids[i]) for i in order]


def test_is_a_vector_store(store: VectorStore) -> None:
    assert isinstance(store, VectorStore)
    assert store.dimension == DIM


def test_empty_store_finds_nothing(store: VectorStore) -> None:
    assert store.search(random_unit(2, 0), 5) == [[], []]
    assert len(store.ids()) == 0


def test_search_ranks_by_inner_product(store: VectorStore) -> None:
    vectors, vector_ids = random_unit(30, 1), np.arange(100, 130, dtype=np.int64)
    store.add(vector_ids, vectors)
    queries = random_unit(3, 2)
    hits = store.search(queries, 30)
    assert len(hits) == 3
    for query, found in zip(queries, hits, strict=True):
        assert hit_ids(found) == brute_force(vectors, vector_ids, query, 30)
        expected = {int(i): float(v @ query) for i, v in zip(vector_ids, vectors, strict=True)}
        for chunk_id, score in found:
            assert score == pytest.approx(expected[chunk_id], abs=1e-5)
        scores = [s for _, s in found]
        assert scores == sorted(scores, reverse=True)


def test_search_over_several_adds(store: VectorStore) -> None:
    vectors = random_unit(12, 3)
    for start in range(0, 12, 4):
        store.add(np.arange(start, start + 4, dtype=np.int64), vectors[start:start + 4])
    query = random_unit(1, 4)[0]
    assert hit_ids(store.search(query[None], 5)[0]) == brute_force(
        vectors, np.arange(12, dtype=np.int64), query, 5)
    assert sorted(store.ids().tolist()) == list(range(12))


@pytest.mark.parametrize(("k", "expected"), [(1, 1), (3, 3), (10, 6), (0, 0)])
def test_k_limits_the_results(store: VectorStore, k: int, expected: int) -> None:
    store.add(np.arange(6, dtype=np.int64), random_unit(6, 5))
    assert [len(h) for h in store.search(random_unit(2, 6), k)] == [expected, expected]


def test_allowed_ids_filter(store: VectorStore) -> None:
    vectors = random_unit(20, 7)
    store.add(np.arange(20, dtype=np.int64), vectors)
    query = vectors[3]  # the best match overall is id 3, which is not allowed
    allowed = ids(1, 5, 8, 13)
    found = store.search(query[None], 10, allowed)[0]
    assert hit_ids(found) == brute_force(vectors[allowed], allowed, query, 10)
    assert 3 not in hit_ids(found)
    assert store.search(query[None], 2, allowed)[0] == found[:2]


def test_allowed_ids_empty_or_unknown(store: VectorStore) -> None:
    store.add(np.arange(5, dtype=np.int64), random_unit(5, 8))
    assert store.search(random_unit(1, 9), 5, ids()) == [[]]
    assert store.search(random_unit(1, 9), 5, ids(77, 78)) == [[]]


def test_remove_hides_ids(store: VectorStore) -> None:
    vectors = random_unit(10, 10)
    store.add(np.arange(10, dtype=np.int64), vectors)
    store.remove(ids(2, 7, 999))  # 999 was never added: harmless
    for query in vectors:
        found = hit_ids(store.search(query[None], 10)[0])
        assert 2 not in found and 7 not in found
        assert len(found) == 8
    assert sorted(store.ids().tolist()) == [0, 1, 3, 4, 5, 6, 8, 9]
    assert store.search(vectors[2][None], 5, ids(2, 7)) == [[]]


def test_remove_nothing_is_a_no_op(store: VectorStore) -> None:
    store.add(ids(1, 2), random_unit(2, 11))
    store.remove(ids())
    assert sorted(store.ids().tolist()) == [1, 2]


def test_re_add_after_remove_uses_the_new_vector_once(store: VectorStore) -> None:
    old = random_unit(10, 12)
    store.add(np.arange(10, dtype=np.int64), old)
    store.remove(ids(4))
    new = unit(np.eye(DIM, dtype=np.float32)[0])
    store.add(ids(4), new)
    found = store.search(old[4][None], 10)[0]
    assert hit_ids(found).count(4) == 1, found
    assert dict(found)[4] == pytest.approx(float(new[0] @ old[4]), abs=1e-5)
    assert sorted(store.ids().tolist()) == list(range(10))
    assert store.search(new, 1)[0][0][0] == 4


def test_an_id_with_several_vectors_is_scored_by_its_best_one(store: VectorStore) -> None:
    vectors = random_unit(9, 24)
    store.add(ids(1, 1, 1, 2, 2, 3, 4, 5, 6), vectors)  # chunk 1 has 3 sentences, chunk 2 has 2
    query = random_unit(1, 25)[0]
    found = store.search(query[None], 10)[0]
    assert sorted(hit_ids(found)) == [1, 2, 3, 4, 5, 6]  # distinct ids
    expected = {1: max(vectors[:3] @ query), 2: max(vectors[3:5] @ query)}
    assert dict(found)[1] == pytest.approx(float(expected[1]), abs=1e-5)
    assert dict(found)[2] == pytest.approx(float(expected[2]), abs=1e-5)
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    assert hit_ids(store.search(vectors[1][None], 1)[0]) == [1]
    assert len(store.search(query[None], 2)[0]) == 2  # k counts ids, not vectors
    assert sorted(store.ids().tolist()) == [1, 2, 3, 4, 5, 6]


def test_vectors_of_returns_each_ids_vectors_in_order(store: VectorStore) -> None:
    first, second = random_unit(5, 40), random_unit(2, 41)
    store.add(ids(1, 1, 1, 2, 3), first)
    store.add(ids(4, 4), second)
    store.remove(ids(3))
    found = store.vectors_of(ids(1, 3, 4, 99))
    assert sorted(found) == [1, 4]  # removed and unknown ids have none
    np.testing.assert_allclose(found[1], first[:3], atol=1e-6)
    np.testing.assert_allclose(found[4], second, atol=1e-6)


def test_many_vectors_of_one_id_do_not_crowd_out_the_others(store: VectorStore) -> None:
    query = unit(np.eye(DIM, dtype=np.float32)[0])[0]
    close = unit(np.tile(query, (40, 1)) + np.random.default_rng(26).normal(size=(40, DIM)) * 0.01)
    store.add(np.full(40, 7, dtype=np.int64), close)
    store.add(ids(8, 9), random_unit(2, 27))
    assert sorted(hit_ids(store.search(query[None], 3)[0])) == [7, 8, 9]


def test_remove_drops_every_vector_of_an_id(store: VectorStore) -> None:
    vectors = random_unit(4, 28)
    store.add(ids(1, 1, 1, 2), vectors)
    store.remove(ids(1))
    assert hit_ids(store.search(vectors[0][None], 5)[0]) == [2]
    assert store.ids().tolist() == [2]


def liveness(live: npt.NDArray[np.int64]) -> Callable[[npt.NDArray[np.int64]],
                                                      npt.NDArray[np.bool_]]:
    return lambda ids: np.isin(ids, live)


def test_compaction_never_changes_what_search_finds(store: VectorStore) -> None:
    store.add(np.arange(8, dtype=np.int64), random_unit(8, 13))
    store.add(np.arange(100, 104, dtype=np.int64), random_unit(4, 14))  # never committed
    store.remove(ids(2))
    live = ids(0, 1, 3, 4, 5, 6, 7)
    queries = random_unit(5, 15)
    before = store.search(queries, 7, live)
    held = set(store.ids().tolist())
    store.compact(liveness(live))
    assert set(store.ids().tolist()) <= held and 2 not in store.ids()
    after = store.search(queries, 7, live)
    for b, a in zip(before, after, strict=True):
        assert hit_ids(a) == hit_ids(b)
        assert [s for _, s in a] == pytest.approx([s for _, s in b], abs=1e-6)


def test_compact_rewrites_mostly_dead_data_keeping_only_live_ids(store: VectorStore) -> None:
    vectors = random_unit(24, 16)
    store.add(np.r_[np.arange(20), np.arange(100, 104)].astype(np.int64), vectors)
    store.remove(np.arange(0, 15, dtype=np.int64))  # and 100-103 never committed
    live = np.arange(15, 20, dtype=np.int64)
    queries = random_unit(4, 17)
    before = store.search(queries, 10, live)
    store.compact(liveness(live))
    after = store.search(queries, 10)
    assert [hit_ids(h) for h in after] == [hit_ids(h) for h in before]
    assert sorted(store.ids().tolist()) == live.tolist()
    for query, found in zip(queries, after, strict=True):
        assert hit_ids(found) == brute_force(vectors[15:20], live, query, 10)


def test_compact_with_everything_dead(store: VectorStore) -> None:
    store.add(np.arange(5, dtype=np.int64), random_unit(5, 18))
    store.remove(np.arange(5, dtype=np.int64))
    store.compact(liveness(ids()))
    assert len(store.ids()) == 0
    assert store.search(random_unit(1, 19), 5) == [[]]
    store.add(ids(3), random_unit(1, 20))
    assert store.ids().tolist() == [3]


def test_refresh_sees_another_instances_writes(open_store: Factory, tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    writer, reader = open_store(folder), open_store(folder)  # type: ignore[call-arg]
    vectors = random_unit(6, 21)
    assert reader.search(vectors[:1], 3) == [[]]
    writer.add(np.arange(6, dtype=np.int64), vectors)
    reader.refresh()
    assert hit_ids(reader.search(vectors[:1], 1)[0]) == [0]
    assert sorted(reader.ids().tolist()) == list(range(6))
    writer.remove(ids(0))
    reader.refresh()
    assert 0 not in hit_ids(reader.search(vectors[:1], 6)[0])
    reader.add(ids(50), vectors[:1])  # and the other way round
    writer.refresh()
    assert hit_ids(writer.search(vectors[:1], 1)[0]) == [50]


def test_writes_persist_across_reopening(open_store: Factory, tmp_path: Path) -> None:
    folder = tmp_path / "persisted"
    first = open_store(folder)  # type: ignore[call-arg]
    vectors = random_unit(10, 22)
    first.add(np.arange(10, dtype=np.int64), vectors)
    first.remove(ids(9))
    queries = random_unit(3, 23)
    expected = first.search(queries, 5)
    first.close()
    second = open_store(folder)  # type: ignore[call-arg]
    assert second.search(queries, 5) == expected
    assert sorted(second.ids().tolist()) == list(range(9))
