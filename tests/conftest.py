"""Shared fixtures: hermetic environment, and models loaded once per session.

Every test starts without `QA_*` variables, so the developer's environment can never
change a result. The real default embedding model and the Korean analyser (Kiwi, ~3 s)
load once per session; app and CLI tests get them through `shared_models`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from qa_service import embedding as embedding_module
from qa_service import services as services_module
from qa_service.config import DEFAULT_EMBEDDING_MODEL
from qa_service.embedding import Embedder, load_embedder
from qa_service.lexical import LexicalIndex
from qa_service.tokens import Tokenizer
from tests.fakes import HashEmbedder

_PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def _qa_variables() -> list[str]:
    """The service's settings (QA_*) and the proxy variables: every client in the tests
    talks to 127.0.0.1 directly, whatever the developer's proxy."""
    proxies = {*_PROXIES, *(name.lower() for name in _PROXIES)}
    return [name for name in os.environ if name.startswith("QA_") or name in proxies]


@pytest.fixture(scope="session", autouse=True)
def _no_qa_environment_for_the_session() -> Iterator[None]:
    """Session- and module-scoped fixtures build settings and clients too: strip the
    variables (`_qa_variables`) for them."""
    with pytest.MonkeyPatch.context() as patch:
        for name in _qa_variables():
            patch.delenv(name)
        yield


@pytest.fixture(autouse=True)
def _no_qa_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _qa_variables():
        monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def load_model() -> Callable[..., Embedder]:
    """`load_embedder` with a session cache: each real model loads at most once."""
    cache: dict[str, Embedder] = {}

    def cached_load_embedder(spec: str, threads: int = 0) -> Embedder:
        if spec not in cache:
            cache[spec] = load_embedder(spec, threads)
        return cache[spec]

    return cached_load_embedder


@pytest.fixture(scope="session")
def embedder(load_model: Callable[..., Embedder]) -> Embedder:
    """The real default model (use-multilingual-v3), loaded once."""
    model = load_model(DEFAULT_EMBEDDING_MODEL)
    model.embed_queries(["warm up"])
    return model


@pytest.fixture(scope="session")
def tokenizer() -> Tokenizer:
    """One Tokenizer (its Kiwi analyser takes seconds to load) for the whole session."""
    shared = Tokenizer()
    shared.tokens("한국어 분석기를 미리 불러옵니다")
    return shared


@pytest.fixture(scope="session")
def lexical(tokenizer: Tokenizer) -> LexicalIndex:
    return LexicalIndex(tokenizer)


@pytest.fixture
def fake_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(scope="session")
def shared_models(load_model: Callable[..., Embedder], embedder: Embedder,
                  tokenizer: Tokenizer) -> Iterator[None]:
    """Make every `Services.build` (API lifespan, CLI) reuse the session's models.

    `load_embedder` still resolves the configured model name; it only caches the loaded
    model per name, so the CLI's `QA_EMBEDDING_MODEL` handling is exercised for real.
    """

    def shared_tokenizer(*_args: Any, **_kwargs: Any) -> Tokenizer:
        return tokenizer

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services_module, "Tokenizer", shared_tokenizer)
        patch.setattr(services_module, "load_embedder", load_model)
        patch.setattr(embedding_module, "load_embedder", load_model)
        yield


@pytest.fixture
def dead_base_url() -> Iterator[str]:
    """An LLM base URL whose port is bound but not listening: connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
