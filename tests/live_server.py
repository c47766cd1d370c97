"""A real `qa serve` process on 127.0.0.1 for tests that need one (a free port, the admin
key of `tests.api.helpers`, the given data directory and settings)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.concurrent_load import free_port, qa_command, qa_environment
from tests.api.helpers import ADMIN_KEY

__all__ = ["ADMIN", "qa_serve"]

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@contextmanager
def qa_serve(data_dir: Path, log: Path, **variables: str
             ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = qa_environment(data_dir, QA_ADMIN_KEY=ADMIN_KEY, **variables)
    with open(log, "ab") as out:
        process = subprocess.Popen([*qa_command(), "serve", "--port", str(port)], env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text("utf-8", "replace")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, log.read_text("utf-8", "replace")
                time.sleep(0.2)
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(30)
