"""One knowledge base under load: the HTTP requests, checked and timed, and the books.

`LoadRun` sends every request of a load run (each one timed and counted; any non-2xx
status or exception is recorded as an error, by phase) and keeps the books: which
documents exist, where they came from, in which phase each was ingested, when its job
reported it indexed, when the document list first showed it and when a search or ask
first returned it. `report()` sums it up per phase. The threads that use it are in
`bench/concurrent_load.py`; the checks of every response in `bench/consistency.py`.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from bench.consistency import ConsistencyChecker
from bench.fact_corpus import FactDocument

__all__ = ["REQUEST_TIMEOUT_S", "DocumentState", "LoadRun"]

REQUEST_TIMEOUT_S = 60.0
KEEP_MESSAGES = 8  # errors and violations listed in a report, per phase
RECENT_S = 5.0  # clients favour documents queued or indexed this recently (or not yet seen)


@dataclass
class DocumentState:
    doc: FactDocument
    source: str  # "seed", "api" or "cli"
    display_name: str  # the filename the service shows
    queued_at: float
    job_id: str | None = None
    phase: str = ""  # the phase in which its job reported it indexed
    reported_at: float | None = None  # its job (or `qa ingest`) reported it indexed
    listed_at: float | None = None  # the document list first showed it indexed
    first_result_at: float | None = None  # a search or ask first returned it


class LoadRun:
    """Requests and bookkeeping for one knowledge base under load (thread-safe)."""

    def __init__(self, url: str, key: str, kb: str) -> None:
        self.url, self.key, self.kb = url, key, kb
        self.started = time.monotonic()
        self.phase = "setup"
        self.phases: dict[str, tuple[float, float | None]] = {}
        self.checker = ConsistencyChecker(self)
        self._lock = threading.Lock()
        self._docs: dict[str, DocumentState] = {}
        self._latency: dict[tuple[str, str], list[float]] = defaultdict(list)
        self._requests: Counter[str] = Counter()
        self._problems: dict[str, dict[str, list[str]]] = defaultdict(
            lambda: {"errors": [], "violations": []})
        self._recall: Counter[tuple[str, bool]] = Counter()

    def now(self) -> float:
        return time.monotonic() - self.started

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=REQUEST_TIMEOUT_S,
                            headers={"Authorization": f"Bearer {self.key}"})

    def begin_phase(self, name: str) -> None:
        with self._lock:
            if self.phase in self.phases:
                self.phases[self.phase] = (self.phases[self.phase][0], self.now())
            self.phase = name
            self.phases[name] = (self.now(), None)

    def end_phase(self) -> None:
        self.begin_phase("teardown")

    # --- requests ------------------------------------------------------------------------

    def call(self, api: httpx.Client, kind: str, method: str, path: str, expect: int = 200,
             **request: Any) -> Any:
        """The JSON of a response with status `expect`; anything else is an error (None)."""
        phase = self.phase
        started = time.perf_counter()
        try:
            response = api.request(method, path, **request)
        except httpx.HTTPError as exc:
            self.error(f"{method} {path}: {type(exc).__name__}: {exc}", phase)
            return None
        elapsed_ms = (time.perf_counter() - started) * 1000
        with self._lock:
            self._requests[phase] += 1
            self._latency[(phase, kind)].append(elapsed_ms)
        if response.status_code != expect:
            self.error(f"{method} {path}: HTTP {response.status_code}: {response.text[:300]}",
                       phase)
            return None
        try:
            return response.json()
        except ValueError:
            self.error(f"{method} {path}: not JSON: {response.text[:200]}", phase)
            return None

    def error(self, message: str, phase: str | None = None) -> None:
        self._problem("errors", message, phase)

    def violation(self, message: str, phase: str | None = None) -> None:
        self._problem("violations", message, phase)

    def _problem(self, kind: str, message: str, phase: str | None) -> None:
        with self._lock:
            self._problems[phase or self.phase][kind].append(message)

    def problems(self, phase: str | None = None) -> list[str]:
        """Every error and violation (of one phase, or of the whole run)."""
        with self._lock:
            chosen = [self._problems[phase]] if phase else list(self._problems.values())
            return [m for found in chosen for kind in ("errors", "violations")
                    for m in found[kind]]

    # --- documents -----------------------------------------------------------------------

    def add_documents(self, docs: Sequence[FactDocument], source: str,
                      names: Sequence[str] | None = None, job_id: str | None = None) -> None:
        at = self.now()
        with self._lock:
            for doc, name in zip(docs, names or [d.filename for d in docs], strict=True):
                self._docs[doc.id] = DocumentState(doc, source, name, at, job_id)

    def set_job(self, docs: Sequence[FactDocument], job_id: str) -> None:
        with self._lock:
            for doc in docs:
                self._docs[doc.id].job_id = job_id

    def document(self, doc_id: str) -> DocumentState | None:
        with self._lock:
            return self._docs.get(doc_id)

    def documents(self) -> list[DocumentState]:
        with self._lock:
            return list(self._docs.values())

    def reported(self, doc_id: str) -> None:
        with self._lock:
            state = self._docs[doc_id]
            if state.reported_at is None:
                state.reported_at, state.phase = self.now(), self.phase

    def listed(self, doc_id: str) -> None:
        with self._lock:
            state = self._docs[doc_id]
            if state.listed_at is None:
                state.listed_at = self.now()

    def first_result(self, doc_id: str, at: float) -> bool:
        """Record that a result returned this document; True the first time."""
        with self._lock:
            state = self._docs[doc_id]
            if state.first_result_at is not None:
                return False
            state.first_result_at = at
            return True

    def recall(self, found: bool) -> None:
        with self._lock:
            self._recall[(self.phase, found)] += 1

    def pick(self, rng: random.Random) -> DocumentState:
        """A document to ask about: half the time one queued or indexed just now, or not
        returned by any result yet."""
        now = self.now()
        with self._lock:
            every = list(self._docs.values())
        recent = [d for d in every if d.source != "seed" and (
            d.reported_at is None or d.first_result_at is None or now - d.reported_at < RECENT_S)]
        return rng.choice(recent if recent and rng.random() < 0.5 else every)

    # --- report --------------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        with self._lock:
            phases = {name: span for name, span in self.phases.items() if name != "teardown"}
            return {"phases": [self._phase_report(name, *span) for name, span in phases.items()],
                    "documents": [_document_row(d) for d in self._docs.values()]}

    def _phase_report(self, name: str, start: float, end: float | None) -> dict[str, Any]:
        problems = self._problems[name]
        ingested = Counter(d.source for d in self._docs.values() if d.phase == name)
        found, missed = self._recall[(name, True)], self._recall[(name, False)]
        return {
            "phase": name,
            "seconds": round((end or self.now()) - start, 1),
            "requests": self._requests[name],
            "errors": len(problems["errors"]),
            "violations": len(problems["violations"]),
            "search_ms": _latency(self._latency[(name, "search")]),
            "ask_ms": _latency(self._latency[(name, "ask")]),
            "documents_ingested": dict(ingested),
            "visibility": {source: _visibility([d for d in self._docs.values()
                                                if d.phase == name and d.source == source])
                           for source in sorted(ingested)},
            "search_found_after_indexed": f"{found}/{found + missed}",
            "first_errors": problems["errors"][:KEEP_MESSAGES],
            "first_violations": problems["violations"][:KEEP_MESSAGES],
        }


def _latency(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    return {"count": len(values), "p50": round(float(np.percentile(values, 50)), 1),
            "p95": round(float(np.percentile(values, 95)), 1), "max": round(max(values), 1)}


def _visibility(docs: list[DocumentState]) -> dict[str, Any]:
    """Seconds from the job's report (for `qa ingest`: its exit) to the document list
    showing the document, and to a first search or ask returning it."""
    def spread(values: list[float]) -> dict[str, float]:
        if not values:
            return {}
        return {"median": round(float(np.median(values)), 3), "min": round(min(values), 3),
                "max": round(max(values), 3)}

    listed = [d.listed_at - d.reported_at for d in docs
              if d.listed_at is not None and d.reported_at is not None]
    first = [d.first_result_at - d.reported_at for d in docs
             if d.first_result_at is not None and d.reported_at is not None]
    return {"documents": len(docs), "listed_minus_reported_s": spread(listed),
            "first_result_minus_reported_s": spread(first),
            "never_returned": sum(d.first_result_at is None for d in docs)}


def _document_row(d: DocumentState) -> dict[str, Any]:
    def at(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return {"filename": d.doc.filename, "source": d.source, "phase": d.phase,
            "language": d.doc.language, "pages": len(d.doc.pages), "chunks": len(d.doc.chunks),
            "queued_s": at(d.queued_at), "reported_s": at(d.reported_at),
            "listed_s": at(d.listed_at), "first_result_s": at(d.first_result_at)}
