"""The Embedder contract, run against the real models and the test fake."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from qa_service.embedding import Embedder, load_embedder
from qa_service.errors import EmbeddingError
from tests.fakes import HashEmbedder

TEXTS = ["The cat sat on the mat.", "Stock markets fell sharply after the announcement.",
         "서울은 대한민국의 수도이다."]


@pytest.fixture(params=[
    "fake",
    "use-multilingual-v3",
    pytest.param("all-minilm-l6-v2", marks=pytest.mark.slow),
])
def model(request: pytest.FixtureRequest, load_model: Callable[..., Embedder]) -> Embedder:
    if request.param == "fake":
        return HashEmbedder()
    return load_model(request.param)


def test_is_an_embedder_with_a_name_and_dimension(model: Embedder) -> None:
    assert isinstance(model, Embedder)
    assert isinstance(model.name, str) and model.name
    assert isinstance(model.dimension, int) and model.dimension > 0


@pytest.mark.parametrize("method", ["embed_passages", "embed_queries"])
def test_vectors_are_unit_float32_rows(model: Embedder, method: str) -> None:
    vectors = getattr(model, method)(TEXTS)
    assert vectors.shape == (len(TEXTS), model.dimension)
    assert vectors.dtype == np.float32
    assert vectors.flags["C_CONTIGUOUS"]
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("method", ["embed_passages", "embed_queries"])
def test_no_texts_give_an_empty_matrix(model: Embedder, method: str) -> None:
    assert getattr(model, method)([]).shape == (0, model.dimension)


def test_deterministic_and_batch_independent(model: Embedder) -> None:
    batch = model.embed_passages(TEXTS)
    again = model.embed_passages(TEXTS)
    assert np.allclose(batch, again, atol=1e-6)
    for text, row in zip(TEXTS, batch, strict=True):
        alone = model.embed_passages([text])[0]
        assert float(alone @ row) > 0.99


def test_a_paraphrase_is_closer_than_an_unrelated_text(model: Embedder) -> None:
    query = model.embed_queries(["A cat is sitting on the mat."])[0]
    passages = model.embed_passages(TEXTS[:2])
    assert float(passages[0] @ query) > float(passages[1] @ query)


def test_the_default_model_is_multilingual(embedder: Embedder) -> None:
    korean = embedder.embed_queries(["고양이가 매트 위에 앉아 있다."])[0]
    passages = embedder.embed_passages(TEXTS[:2])
    assert float(passages[0] @ korean) > float(passages[1] @ korean)


@pytest.mark.slow
def test_an_unknown_model_says_what_to_use(tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = load_embedder(str(tmp_path / "no-such-model"))
    with pytest.raises(EmbeddingError, match="packaged"):
        missing.embed_queries(["x"])
