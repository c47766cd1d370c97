"""What the server is doing: how many HTTP requests are in flight, and since when none.

The Korean analyser takes 1.5 s to load and holds the interpreter lock while it does, so
a request arriving meanwhile waits. The server therefore starts answering without it
(English questions never need it) and loads it once no request has been in flight for
`IDLE_S` (`warm_up_when_idle`); until then Korean text goes to the analyser process `qa
serve` started (`qa_service.analyser_process`), or, without one, a Korean request that
comes first loads it itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["IDLE_S", "Activity", "CountRequests", "warm_up_when_idle"]

log = logging.getLogger(__name__)

IDLE_S = 0.5  # no request in flight for this long: the server is idle


class Activity:
    """How many HTTP requests are in flight (`CountRequests` keeps it), and since when
    none is."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._in_flight = 0
        self._quiet_since = clock()

    def begin(self) -> None:
        with self._lock:
            self._in_flight += 1

    def end(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if not self._in_flight:
                self._quiet_since = self.clock()

    def idle_for(self) -> float:
        """Seconds since the last request in flight ended; 0 while one is."""
        with self._lock:
            return 0.0 if self._in_flight else self.clock() - self._quiet_since


class CountRequests:
    """ASGI middleware: every HTTP request is counted in `activity` while it runs."""

    def __init__(self, app: Any, activity: Activity) -> None:
        self.app = app
        self.activity = activity

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.activity.begin()
        try:
            await self.app(scope, receive, send)
        finally:
            self.activity.end()


def warm_up_when_idle(activity: Activity, load: Callable[[], None], stop: threading.Event,
                      idle_s: float = IDLE_S, poll_s: float = 0.1) -> threading.Thread:
    """A daemon thread that runs `load()` once `activity` has been idle for `idle_s` (and
    the thread has waited as long: the server starts listening after it starts), unless
    `stop` is set first; a failure is logged (whatever needs it loads it again)."""
    since = activity.clock()

    def wait_then_load() -> None:
        while not stop.is_set():
            if min(activity.idle_for(), activity.clock() - since) >= idle_s:
                try:
                    load()
                except Exception:
                    log.exception("loading a model in the background failed")
                return
            stop.wait(poll_s)

    thread = threading.Thread(target=wait_then_load, name="warm-up", daemon=True)
    thread.start()
    return thread
