"""Per-key rate limits: a token bucket per (key, action), in this process's memory."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from qa_service.errors import RateLimited

__all__ = ["RateLimiter"]


class RateLimiter:
    """Allows `per_minute` requests per key in a burst, refilled continuously.

    `per_minute=0` means unlimited. Buckets of keys idle for a while are forgotten, so
    memory stays bounded by the keys active in the last few minutes."""

    def __init__(self, action: str, per_minute: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.action = action
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key_id: str) -> None:
        """Spend one request of this key, or raise RateLimited with the wait in seconds."""
        if self.per_minute <= 0:
            return
        rate = self.per_minute / 60.0
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(key_id, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - at) * rate)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                raise RateLimited(
                    f"too many {self.action} for this key: the limit is {self.per_minute} "
                    f"per minute; retry in {(1.0 - tokens) / rate:.1f} s",
                    retry_after=(1.0 - tokens) / rate)
            self._buckets[key_id] = (tokens - 1.0, now)
            if len(self._buckets) > 10_000:
                self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        full_after = 60.0  # an idle bucket is full again after a minute: same as no bucket
        for key_id, (_, at) in list(self._buckets.items()):
            if now - at > full_after:
                del self._buckets[key_id]
