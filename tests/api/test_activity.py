"""The Korean analyser loads once the server is idle, never in front of a request."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa_service import services as services_module
from qa_service.analyser_process import AnalyserProcess
from qa_service.api.activity import Activity, warm_up_when_idle
from qa_service.api.app import create_app
from qa_service.config import Settings
from qa_service.embedding import Embedder
from qa_service.tokens import Tokenizer
from tests.api.helpers import ADMIN_KEY, running_app
from tests.fakes import ManualClock


def test_idle_counts_from_the_end_of_the_last_request_in_flight() -> None:
    clock = ManualClock(100.0)
    activity = Activity(clock)
    clock.now += 3
    assert activity.idle_for() == 3  # none since the start
    activity.begin()
    activity.begin()
    clock.now += 5
    assert activity.idle_for() == 0
    activity.end()
    clock.now += 1
    assert activity.idle_for() == 0  # one still in flight
    activity.end()
    clock.now += 2
    assert activity.idle_for() == 2


def _wait(event: threading.Event, seconds: float = 5.0) -> bool:
    return event.wait(seconds)


def test_the_load_waits_for_the_requests_in_flight() -> None:
    activity = Activity()
    loaded = threading.Event()
    activity.begin()
    thread = warm_up_when_idle(activity, loaded.set, threading.Event(), idle_s=0.05,
                               poll_s=0.01)
    assert not loaded.wait(0.3)  # a request is in flight all along
    activity.end()
    assert _wait(loaded)
    thread.join(5)
    assert not thread.is_alive()  # once


def test_a_server_stopping_first_never_loads() -> None:
    activity = Activity()
    activity.begin()
    loaded, stop = threading.Event(), threading.Event()
    thread = warm_up_when_idle(activity, loaded.set, stop, idle_s=0.05, poll_s=0.01)
    stop.set()
    thread.join(5)
    activity.end()
    assert not thread.is_alive() and not loaded.is_set()


def test_a_failed_load_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise OSError("model file unreadable")

    thread = warm_up_when_idle(Activity(), broken, threading.Event(), idle_s=0.0)
    thread.join(5)
    assert "loading a model in the background failed" in caplog.text
    assert "model file unreadable" in caplog.text


def test_the_idle_server_loads_the_korean_analyser_its_startup_did_not(
        tmp_path: Path, embedder: Embedder, tokenizer: Tokenizer, shared_models: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []
    started = threading.Event()

    class Watched(Tokenizer):
        def load(self) -> None:
            loads.append(threading.current_thread().name)
            started.set()
            tokenizer.load()  # the session's analyser, already loaded: no seconds spent

    monkeypatch.setattr(services_module, "Tokenizer", Watched)
    services = services_module.Services.build(Settings(data_dir=tmp_path / "alone"))
    try:
        services.warm_up()  # what the startup does: the embedder only
        assert loads == [] and not services.lexical.tokenizer.loaded
    finally:
        services.close()
    with running_app(tmp_path / "data", embedder) as client:
        assert client.get("/health").status_code == 200
        assert _wait(started)
        assert client.post("/kbs", json={"name": "after"}).status_code == 201
    assert loads == ["warm-up"]  # in the background, once


def test_a_lent_analyser_serves_korean_until_the_server_s_own_loads(
        tmp_path: Path, embedder: Embedder, tokenizer: Tokenizer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services_module, "Tokenizer", Tokenizer)  # not `shared_models`' one
    lent = AnalyserProcess.start()
    services = services_module.Services.build(Settings(data_dir=tmp_path / "lent"), embedder,
                                              lent)
    try:
        borrowed = services.lexical.tokenizer
        question = "간사이 국제공항의 활주로는 몇 개인가?"
        assert borrowed.tokens(question) == tokenizer.tokens(question)
        assert not borrowed.loaded and lent.alive  # the child analysed it
    finally:
        services.close()
    assert not lent.alive  # the server's end ends the loan


def test_the_app_ends_the_loan_when_it_stops(tmp_path: Path, embedder: Embedder,
                                             shared_models: None) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys\nfor line in sys.stdin: pass"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    lent = AnalyserProcess(child)
    app = create_app(Settings(data_dir=tmp_path / "data", admin_key=ADMIN_KEY), embedder, lent)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        assert lent.alive
    assert not lent.alive and child.wait(5) == 0
