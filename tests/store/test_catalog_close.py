"""Closing a catalog while other threads use it (a knowledge base deleted during a search
or a job) must not crash the process: SQLite frees a connection closed under a running
statement. The race runs in a child process, so a crash fails this test, not the suite."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

RACE = textwrap.dedent("""
    import sys, threading
    from pathlib import Path
    from qa_service.store.catalog import Catalog

    catalog = Catalog(Path(sys.argv[1]) / "catalog.sqlite")
    catalog.initialize()
    stop = threading.Event()
    errors = []

    def query() -> None:
        while not stop.is_set():
            try:
                catalog.connection().execute(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                    "WHERE i < 20000) SELECT count(*) FROM n").fetchone()
                catalog.document("0" * 64)
            except Exception as exc:  # a clean error is fine; a crash is not
                errors.append(type(exc).__name__)

    threads = [threading.Thread(target=query) for _ in range(3)]
    for thread in threads:
        thread.start()
    for _ in range(300):
        catalog.close()
    stop.set()
    for thread in threads:
        thread.join()
    catalog.close()
    print("survived", len(errors))
""")


def test_closing_a_catalog_in_use_by_other_threads_does_not_crash(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", RACE, str(tmp_path)], capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.startswith("survived")
