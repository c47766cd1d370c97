"""Answerability: the probability that the retrieved passages answer the question.

The extractive answerer declines ("the documents do not say") below
`QA_ANSWER__ABSTAIN_BELOW`. The probability is a logistic model over signals the answerer
has anyway (`AnswerabilityFeatures`): how much of the question's IDF weight the best
sentence (with its neighbours; also with what its passage is about: its document's
identity and section) and the best line hold, how much of it lies on words the
knowledge base never saw, the best question-sentence cosine (which counts more when
question and passage are in different languages), the first passage's retrieval score,
whether a span of the asked type (a date, an amount...) was found, and whether the
figures the question names (a year, a period) appear in the first passages at all.

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
           "fit_model"]


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


# Fitted by `make calibrate` on 2026-12-04 (see the module's docstring).
DEFAULT_MODEL = AnswerabilityModel(
    weights=(1.605, 0.5617, 1.3053, -3.0137, 6.1867, -0.3556, 0.253, -0.4763, 0.8337, 0.4412,
             1.4475),
    intercept=-4.1276,
)
