from __future__ import annotations

import pytest

from qa_service.retrieval import RankedList, fuse_rankings


def test_single_ranking_scores_are_weight_over_k_plus_rank() -> None:
    fused = fuse_rankings([RankedList([7, 3, 9], 1.0)], rrf_k=60)
    assert [i for i, _ in fused] == [7, 3, 9]
    assert [s for _, s in fused] == pytest.approx([1 / 61, 1 / 62, 1 / 63])


def test_scores_add_up_across_rankings_with_weights() -> None:
    fused = dict(fuse_rankings([RankedList([1, 2], 2.0), RankedList([2, 3], 0.5)], rrf_k=10))
    assert fused[1] == pytest.approx(2.0 / 11)
    assert fused[2] == pytest.approx(2.0 / 12 + 0.5 / 11)
    assert fused[3] == pytest.approx(0.5 / 12)


def test_agreement_beats_a_single_top_rank() -> None:
    fused = fuse_rankings([RankedList([1, 2], 1.0), RankedList([3, 2], 1.0)], rrf_k=60)
    assert fused[0][0] == 2


def test_ties_are_broken_by_smaller_id() -> None:
    fused = fuse_rankings([RankedList([9, 4], 1.0), RankedList([4, 9], 1.0)], rrf_k=60)
    assert [i for i, _ in fused] == [4, 9]
    assert fused[0][1] == pytest.approx(fused[1][1])


@pytest.mark.parametrize("weight", [0.0, -1.0])
def test_non_positive_weight_ignores_the_ranking(weight: float) -> None:
    fused = fuse_rankings([RankedList([1, 2], 1.0), RankedList([5, 1], weight)], rrf_k=60)
    assert [i for i, _ in fused] == [1, 2]
    assert dict(fused)[1] == pytest.approx(1 / 61)


def test_rrf_k_controls_how_fast_scores_decay() -> None:
    small = fuse_rankings([RankedList([1, 2], 1.0)], rrf_k=1)
    large = fuse_rankings([RankedList([1, 2], 1.0)], rrf_k=1000)
    assert small[0][1] / small[1][1] == pytest.approx(3 / 2)
    assert large[0][1] / large[1][1] == pytest.approx(1002 / 1001)


def test_nothing_to_fuse() -> None:
    assert fuse_rankings([], rrf_k=60) == []
    assert fuse_rankings([RankedList([], 1.0)], rrf_k=60) == []
