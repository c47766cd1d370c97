"""The server's background builder of approximate vector indexes: one thread that builds a
knowledge base's index when it is due (`KnowledgeBase.build_approximate_index`), after an
ingestion job and once at start-up, so no request and no job waits for a build."""

from __future__ import annotations

import logging
import queue
import threading
import time

from qa_service.errors import KnowledgeBaseNotFound
from qa_service.store.registry import KnowledgeBaseRegistry

__all__ = ["ApproximateIndexBuilder"]

log = logging.getLogger(__name__)


class ApproximateIndexBuilder:
    def __init__(self, registry: KnowledgeBaseRegistry) -> None:
        self.registry = registry
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="vector-index", daemon=True)
        self._thread.start()
        for name in self.registry.names():  # due since the last run (or a `qa` command)
            self.request(name)

    def request(self, kb_name: str) -> None:
        """Build `kb_name`'s index if it is due; a name already waiting is not queued twice."""
        with self._lock:
            if kb_name in self._pending:
                return
            self._pending.add(kb_name)
        self._queue.put(kb_name)

    def _loop(self) -> None:
        while (name := self._queue.get()) is not None:
            with self._lock:
                self._pending.discard(name)
            self._build(name)

    def _build(self, name: str) -> None:
        started = time.monotonic()
        try:
            kb = self.registry.open(name)
            if not kb.build_approximate_index():
                return
        except KnowledgeBaseNotFound:
            return  # deleted meanwhile
        except Exception:  # searches stay exact (or on the previous index); retried later
            log.exception("knowledge base '%s': building the approximate vector index failed",
                          name)
            return
        log.info("knowledge base '%s': approximate vector index built in %.1f s", name,
                 time.monotonic() - started)

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None
