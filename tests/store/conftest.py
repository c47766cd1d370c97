"""Fixtures of the crash-safety tests (`test_crash_kills.py`, `test_publish_faults.py`).

Module-scoped, so each of those modules builds them once: a light ingestion pipeline
(in-process PDF parsing, the deterministic hash embedder) and `Searchers` over the same
lexical index. `_one_faiss_thread` is not autouse, so the other tests here are left as
they are; the crash modules ask for it with `pytestmark`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ingest.pipeline import IngestPipeline
from qa_service.config import RetrievalSettings
from qa_service.lexical import LexicalIndex
from qa_service.retrieval import HybridRetriever
from qa_service.tokens import Tokenizer
from tests.crash_child import embedder, light_pipeline
from tests.store.crash_support import Searchers


@pytest.fixture(scope="module")
def _one_faiss_thread() -> Iterator[None]:
    """Tiny indexes: OpenMP threads only add overhead, a lot of it on a busy machine."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture(scope="module")
def light_lexical() -> LexicalIndex:
    """English-only documents: the Korean analyser is never loaded."""
    return LexicalIndex(Tokenizer())


@pytest.fixture(scope="module")
def pipeline(light_lexical: LexicalIndex) -> IngestPipeline:
    return light_pipeline(light_lexical)


@pytest.fixture(scope="module")
def searchers(light_lexical: LexicalIndex) -> Searchers:
    model = embedder()
    return Searchers(
        HybridRetriever(model, light_lexical, RetrievalSettings(lexical_weight=1, dense_weight=0)),
        HybridRetriever(model, light_lexical, RetrievalSettings(lexical_weight=0, dense_weight=1)),
    )
