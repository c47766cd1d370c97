"""A Ray prepare worker that misbehaves on purpose, for tests of `ingest.ray_prepare` (it
lives in the package so that Ray's worker processes can import it, which a test module
they cannot).

A file whose display name contains `DIE` kills the worker preparing it (the process exits
at once, as one killed by the kernel would); with `once_in` set, only the first time (a
marker file there records it). A file whose name contains `SLOW` is held `slow_s` seconds
before it is prepared, after its name is written to `started` (a test kills the worker
meanwhile).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ingest.ray_prepare import PrepareReply, PrepareRequest, PrepareWorker, WorkerConfig

__all__ = ["MisbehavingWorker"]


class MisbehavingWorker(PrepareWorker):
    def __init__(self, config: WorkerConfig, once_in: str = "", started: str = "",
                 slow_s: float = 0.0) -> None:
        super().__init__(config)
        self._once_in = Path(once_in) if once_in else None
        self._started = Path(started) if started else None
        self._slow_s = slow_s

    def prepare(self, request: PrepareRequest, data: bytes) -> PrepareReply:
        if "DIE" in request.filename:
            marker = self._once_in / request.doc_id if self._once_in else None
            if marker is None or not marker.exists():
                if marker is not None:
                    marker.touch()
                os._exit(1)
        if "SLOW" in request.filename:
            if self._started is not None:
                with open(self._started, "a", encoding="utf-8") as log:
                    log.write(f"{os.getpid()} {request.filename}\n")
            time.sleep(self._slow_s)
        return super().prepare(request, data)
