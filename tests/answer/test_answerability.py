"""The answerability model (qa_service/answer/answerability.py)."""

from __future__ import annotations

import random

from qa_service.answer.answerability import (
    DEFAULT_MODEL,
    FEATURE_NAMES,
    AnswerabilityFeatures,
    fit_model,
)


def features(**values: float) -> AnswerabilityFeatures:
    base = dict.fromkeys(AnswerabilityFeatures.__dataclass_fields__, 0.0)
    return AnswerabilityFeatures(**{**base, **values})


def test_the_default_model_has_a_weight_per_feature() -> None:
    assert len(DEFAULT_MODEL.weights) == len(FEATURE_NAMES) == len(features().vector())
    assert FEATURE_NAMES[-1] == "cross_lingual_similarity"


def test_more_of_the_question_found_is_more_answerable() -> None:
    low = features(coverage=0.1, line_share=0.1, similarity=0.2, unseen=0.5, top_score=1.0)
    high = features(coverage=0.9, line_share=0.8, similarity=0.6, unseen=0.0, top_score=3.0)
    assert 0.0 < DEFAULT_MODEL.probability(low) < 0.5 < DEFAULT_MODEL.probability(high) < 1.0


def test_a_question_in_the_other_language_is_judged_by_its_similarity() -> None:
    weak = features(cross_lingual=1.0, similarity=0.2, top_score=2.0)
    strong = features(cross_lingual=1.0, similarity=0.7, top_score=2.0)
    assert DEFAULT_MODEL.probability(strong) > DEFAULT_MODEL.probability(weak)


def test_fitting_separates_the_labels_it_is_given() -> None:
    rng = random.Random(7)
    rows, labels = [], []
    for _ in range(400):
        label = rng.random() < 0.5
        coverage = rng.uniform(0.5, 1.0) if label else rng.uniform(0.0, 0.6)
        rows.append(features(coverage=coverage, similarity=rng.random()).vector())
        labels.append(int(label))
    model = fit_model(rows, labels, l2=0.1)
    assert model.weights[FEATURE_NAMES.index("coverage")] > 5.0  # the signal
    assert abs(model.weights[FEATURE_NAMES.index("similarity")]) < 1.0  # noise
    right = sum((model.probability(features(coverage=row[0], similarity=row[4])) > 0.5) == bool(y)
                for row, y in zip(rows, labels, strict=True))
    assert right / len(rows) > 0.85  # the ranges overlap on 0.5-0.6


def test_sample_weights_move_the_boundary() -> None:
    rows = [features(coverage=c / 10).vector() for c in range(11)] * 2
    labels = [int(c >= 5) for c in range(11)] * 2
    even = fit_model(rows, labels, l2=0.01)
    heavy = fit_model(rows, labels, [3.0 if y == 0 else 1.0 for y in labels], l2=0.01)
    middle = features(coverage=0.5)
    assert heavy.probability(middle) < even.probability(middle)
