"""Answerability: the probability that the retrieved passages answer the question.

The extractive answerer declines ("the documents do not say") below
`QA_ANSWER__ABSTAIN_BELOW`. The probability is a logistic model over signals the answerer
has anyway (`AnswerabilityFeatures`): how much of the question's IDF weight the best
sentence (with its neighbours; also with what its passage is about: its document's
identity and section) and the best line hold, how much of it lies on words the
knowledge base never saw, the best question-sentence cosine (which counts more when
question and passage are in different languages), the first passage's retrieval score,
whether a span of the asked type (a date, an amount...) was found, and whether the
figures the question names (a year, a period) appear in the first passages at all, and
how many of the names it gives (a company, a product, a case) no passage mentions.

`DEFAULT_MODEL` was fitted by `make calibrate` (`bench/calibrate_answerability.py`) on the
`tune` halves of the team's real-document sets and FinanceBench dev, and on half of the
SQuAD and KorQuAD dev articles with questions about the other half and the other language
as the unanswerable ones (Wikipedia weighing 3x: its figures must not regress); README
"Answering" shows the trade-off curve of the threshold. Refit it after changing a feature.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import astuple, dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["DEFAULT_MODEL", "FEATURE_NAMES", "AnswerabilityFeatures", "AnswerabilityModel",
           "fit_model", "fit_weight"]


@dataclass(frozen=True)
class AnswerabilityFeatures:
    coverage: float  # the best share of the question's IDF weight in a sentence + neighbours
    context_coverage: float  # ... in a sentence + neighbours + its passage's context
    line_share: float  # ... in one line of the best sentences (of the words its passage
    # can hold: a Korean question's names and terms in an English passage)
    unseen: float  # the share of the question's IDF weight on words no chunk holds
    similarity: float  # the best question-sentence cosine, floored at 0
    cross_lingual: float  # 1.0 when the first passage is in another language than the question
    top_score: float  # the first passage's retrieval score
    typed: float  # 1.0 when the question asks for a date, amount, count, name...
    short_answer: float  # 1.0 when a span of that kind was found in the best lines
    numbers_found: float  # the share of the question's figures (a year...) in the passages
    names_missing: float = 0.0  # the share of the question's names (LG, Miranda, SK하이닉스)
    # that no passage mentions where it could be written (`qa_service.answer.names`)

    def vector(self) -> list[float]:
        """The model's inputs: the features, then cross-lingual x similarity."""
        return [*astuple(self), self.cross_lingual * self.similarity]


FEATURE_NAMES: tuple[str, ...] = (*AnswerabilityFeatures.__dataclass_fields__,
                                  "cross_lingual_similarity")


@dataclass(frozen=True)
class AnswerabilityModel:
    weights: tuple[float, ...]  # one per FEATURE_NAMES
    intercept: float

    def probability(self, features: AnswerabilityFeatures) -> float:
        z = self.intercept + sum(w * x for w, x in zip(self.weights, features.vector(),
                                                        strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def fit_model(rows: Sequence[Sequence[float]], labels: Sequence[int],
              sample_weights: Sequence[float] | None = None, l2: float = 1.0,
              iterations: int = 50) -> AnswerabilityModel:
    """Weighted L2-regularised logistic regression by Newton's method (the intercept is
    not penalised)."""
    x = np.hstack([np.ones((len(rows), 1)), np.asarray(rows, dtype=np.float64)])
    y = np.asarray(labels, dtype=np.float64)
    w = np.ones(len(y)) if sample_weights is None else np.asarray(sample_weights, np.float64)
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0
    beta: npt.NDArray[np.float64] = np.zeros(x.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ beta, -30, 30)))
        gradient = x.T @ (w * (p - y)) + penalty * beta
        hessian = (x * (w * p * (1 - p))[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return AnswerabilityModel(tuple(round(float(b), 4) for b in beta[1:]),
                              round(float(beta[0]), 4))


def fit_weight(model: AnswerabilityModel, name: str, rows: Sequence[Sequence[float]],
               labels: Sequence[int], sample_weights: Sequence[float] | None = None,
               l2: float = 1.0, iterations: int = 50) -> AnswerabilityModel:
    """`model` with the weight of the feature `name` fitted (weighted, L2-regularised, by
    Newton's method) and every other weight and the intercept kept: a question whose
    `name` is 0 keeps its answerability. How a new signal joins a model whose refits
    moved along the same trade-off curve rather than beyond it."""
    index = FEATURE_NAMES.index(name)
    x = np.asarray(rows, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    w = np.ones(len(y)) if sample_weights is None else np.asarray(sample_weights, np.float64)
    kept = np.asarray(model.weights, dtype=np.float64)
    kept[index] = 0.0
    offset = model.intercept + x @ kept
    feature = x[:, index]
    weight = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(offset + weight * feature, -30, 30)))
        gradient = float(feature @ (w * (p - y))) + l2 * weight
        hessian = float((feature * feature) @ (w * p * (1 - p))) + l2
        step = gradient / hessian
        weight -= step
        if abs(step) < 1e-8:
            break
    weights = list(model.weights)
    weights[index] = round(weight, 4)
    return AnswerabilityModel(tuple(weights), model.intercept)


# Fitted by `make calibrate` on 2026-12-04 (see the module's docstring); the weight of
# `names_missing` alone on 2026-12-06 (`make calibrate CALIBRATE_ARGS="--fit-only
# names_missing"`), the others kept.
DEFAULT_MODEL = AnswerabilityModel(
    weights=(1.605, 0.5617, 1.3053, -3.0137, 6.1867, -0.3556, 0.253, -0.4763, 0.8337, 0.4412,
             -3.0415, 1.4475),
    intercept=-4.1276,
)
