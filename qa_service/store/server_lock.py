"""One server per data directory: an exclusive lock held for the server's lifetime.

Two servers on one data directory would both resume the same unfinished jobs and keep
separate rate limits, so the second one refuses to start, naming the first. The lock is
an `flock` on `<data_dir>/server.lock`: the kernel releases it when the process ends, even
by SIGKILL, so a crashed server never blocks the next one. `qa` CLI commands do not take
it: they work safely alongside a running server (publishing has its own lock).
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import IO

from qa_service.errors import ConfigurationError
from qa_service.store.catalog import now

__all__ = ["ServerLock"]


class ServerLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "server.lock"
        self._handle: IO[str] | None = None

    def acquire(self, address: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConfigurationError(
                f"another qa server is already serving the data directory {self.path.parent} "
                f"({holder}); use that server, stop it first, or give this one its own "
                "QA_DATA_DIR (`qa` CLI commands work alongside a running server)") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "address": address, "since": now()}))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.truncate(0)
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
