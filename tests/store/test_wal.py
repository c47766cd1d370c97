"""Switching a new database file to WAL while another connection holds its lock."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from qa_service.store.catalog import use_wal


def test_the_switch_to_wal_waits_for_a_lock_another_connection_holds(tmp_path: Path) -> None:
    """SQLite fails the switch at once ("database is locked") rather than waiting for the
    other connection, as two first starts of the service at the same moment would see."""
    path = tmp_path / "new.sqlite"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    released = threading.Event()

    def release() -> None:
        time.sleep(0.3)
        holder.execute("COMMIT")
        released.set()

    threading.Thread(target=release).start()
    other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    try:
        use_wal(other)
        assert released.is_set()
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()
        released.wait(5)
        holder.close()
