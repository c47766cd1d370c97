"""Concurrency: ingestion while clients search and ask, `qa ingest` in another process while
the server answers, and a second server on the same data directory.

A short version of `bench/concurrency.py` (a `qa serve` process for a minute and more),
with the same checks of every response (`bench/consistency.py`: status 200, no result from
a half-written state), on the real app under uvicorn in a thread with the session's models.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from bench.concurrent_load import (
    SearchClients,
    Uploader,
    Watcher,
    cli_ingest,
    second_server_problem,
    upload_and_wait,
)
from bench.fact_corpus import FactCorpus
from bench.load_run import LoadRun
from qa_service.embedding import Embedder
from tests.api.helpers import ADMIN_KEY
from tests.api.live_server import live_server

pytestmark = pytest.mark.slow

CLIENTS = 4
UPLOAD_SECONDS = 6.0


@dataclass
class Loaded:
    run: LoadRun
    corpus: FactCorpus
    data_dir: Path


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
           shared_models: None) -> Iterator[Loaded]:
    """A live server with a knowledge base of two seed documents (English, Korean)."""
    data_dir = tmp_path_factory.mktemp("concurrency") / "data"
    corpus = FactCorpus(seed=3, facts_per_document=30)
    with live_server(data_dir, embedder,
                     limits={"asks_per_minute": 0, "uploads_per_minute": 0}) as server:
        run = LoadRun(server.url, ADMIN_KEY, "load")
        run.begin_phase("seed")
        with run.client() as api:
            run.call(api, "setup", "POST", "/kbs", expect=201, json={"name": run.kb})
            upload_and_wait(run, api, corpus.batch(2, "seed"), "seed")
        assert run.problems("seed") == []
        yield Loaded(run, corpus, data_dir)


def phase(run: LoadRun, name: str) -> dict[str, Any]:
    (report,) = [p for p in run.report()["phases"] if p["phase"] == name]
    return report  # type: ignore[no-any-return]


def test_ingest_while_four_clients_search_and_ask(loaded: Loaded) -> None:
    run = loaded.run
    run.begin_phase("uploads")
    with Watcher(run), SearchClients(run, CLIENTS), \
            Uploader(run, loaded.corpus.batch, time.monotonic() + UPLOAD_SECONDS):
        pass
    run.end_phase()

    assert run.problems("uploads") == []
    report = phase(run, "uploads")
    assert report["documents_ingested"].get("api", 0) >= 2, report
    assert report["search_ms"]["count"] >= 10 and report["ask_ms"]["count"] >= 10, report
    ingested = [d for d in run.documents() if d.phase == "uploads"]
    assert all(d.listed_at is not None for d in ingested)  # the watcher saw each one


def test_qa_ingest_in_another_process_while_the_server_answers(loaded: Loaded) -> None:
    run = loaded.run
    docs = loaded.corpus.batch(2, "cli")
    run.begin_phase("qa ingest")
    with Watcher(run), SearchClients(run, CLIENTS):
        cli_ingest(run, docs, loaded.data_dir, timeout_s=120)
        with run.client() as api:  # the server finds what the other process published
            for doc in docs:
                found = run.call(api, "search", "POST", f"/kbs/{run.kb}/search",
                                 json={"query": doc.facts[0].question, "k": 3,
                                       "document_ids": [doc.id]})
                assert found is not None and found["passages"], run.problems()
                assert {p["document_id"] for p in found["passages"]} == {doc.id}
                run.checker.check(api, found, f"search in {doc.filename}")
    run.end_phase()

    assert run.problems("qa ingest") == []
    assert phase(run, "qa ingest")["documents_ingested"] == {"cli": 2}
    assert all(run.document(d.id).listed_at is not None for d in docs)  # type: ignore[union-attr]


def test_a_second_server_on_the_same_data_directory_is_refused(loaded: Loaded) -> None:
    started = time.monotonic()
    # the live server runs in this process, so the refusal must name this process
    problem = second_server_problem(loaded.data_dir, timeout_s=60, holder_pid=os.getpid())
    assert problem is None
    assert time.monotonic() - started < 60

    run = loaded.run
    run.begin_phase("after the refusal")
    with run.client() as api:  # the first server goes on answering
        assert run.call(api, "health", "GET", "/health") is not None
        doc = run.documents()[0].doc
        found = run.call(api, "search", "POST", f"/kbs/{run.kb}/search",
                         json={"query": doc.facts[0].question})
        assert found is not None and found["passages"]
        run.checker.check(api, found, "search after the refusal")
    assert run.problems("after the refusal") == []


def test_the_checks_catch_what_a_half_written_state_would_return(loaded: Loaded) -> None:
    """The checks themselves: doctored responses (and a document expected to have one
    chunk more than it has) are each reported."""
    seed = loaded.run.documents()[0].doc
    probe = LoadRun(loaded.run.url, ADMIN_KEY, loaded.run.kb)
    probe.add_documents([seed], "seed")
    with probe.client() as api:
        answers = (probe.call(api, "ask", "POST", f"/kbs/{probe.kb}/ask",
                              json={"question": fact.question}) for fact in seed.facts[:8])
        answer = next(a for a in answers if a is not None and a["citations"]
                      and a["citations"][0]["document_id"] == seed.id)
        assert probe.problems() == []
        passage = next(p for p in answer["passages"]
                       if p["chunk_id"] == answer["citations"][0]["chunk_id"])
        citation = answer["citations"][0]
        doctored: list[dict[str, Any]] = [
            {"passages": [{**passage, "text": passage["text"][:-1]}]},
            {"passages": [{**passage, "chunk_id": passage["chunk_id"] ^ 1}]},
            {"passages": [{**passage, "document_id": "0" * 64}]},
            {"passages": [passage], "citations": [{**citation, "quote": citation["quote"][1:]}]},
            {"passages": [], "citations": [citation]},
        ]
        for number, body in enumerate(doctored):
            probe.checker.check(api, body, f"doctored {number}")
        missing_one = LoadRun(probe.url, ADMIN_KEY, probe.kb)
        one_more = {**seed.chunks, -1: next(iter(seed.chunks.values()))}
        missing_one.add_documents([replace(seed, chunks=one_more)], "seed")
        missing_one.checker.check(api, {"passages": [passage]}, "one chunk short")
    messages = probe.problems()
    for number in range(len(doctored)):
        assert any(m.startswith(f"doctored {number}:") for m in messages), (number, messages)
    assert any("expected ('indexed'" in m for m in missing_one.problems()), \
        missing_one.problems()
