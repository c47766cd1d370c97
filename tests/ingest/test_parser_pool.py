"""The parser pool's promises: a hung parse is killed at its budget, a dead worker is
replaced, and no worker outlives `close()`."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from ingest.parse import ParseResult
from ingest.parser_pool import ParserLimits, ParserPool, ParserPoolClosed
from qa_service.schemas import DocumentStatus
from tests.pdfs import text_pdf


def hanging_file(tmp_path: Path) -> Path:
    """A named pipe nobody writes to: the worker blocks opening it, like a parse that hangs."""
    path = tmp_path / "hangs.pdf"
    os.mkfifo(path)
    return path


def good_file(tmp_path: Path, name: str = "good.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(text_pdf(["A page about parsing workers.", "And a second page."]))
    return path


def process_state(pid: int) -> str | None:
    """The state letter of a process (R, S, Z ...), None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def is_dead(pid: int) -> bool:
    return process_state(pid) in (None, "Z", "X")


def is_parser_worker(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return b"ingest.parse_worker" in cmdline and not is_dead(pid)


def wait_for(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def test_budget() -> None:
    limits = ParserLimits(timeout_base_s=10, timeout_per_page_s=0.5, timeout_max_s=60)
    assert limits.budget(0) == 10
    assert limits.budget(20) == 20
    assert limits.budget(1000) == 60


def test_a_parse_over_its_budget_is_killed_and_reported(tmp_path: Path) -> None:
    with ParserPool(ParserLimits(timeout_base_s=2.0), size=1) as pool:
        started = time.monotonic()
        result = pool.parse(hanging_file(tmp_path))
        elapsed = time.monotonic() - started
        assert result.status is DocumentStatus.FAILED
        assert "budget of 2 s" in result.reason
        assert 1.5 <= elapsed < 20
        assert pool.worker_pids() == []


def test_a_worker_that_dies_is_replaced(tmp_path: Path) -> None:
    with ParserPool(ParserLimits(), size=1) as pool:
        outcome: list[ParseResult] = []
        parsing = threading.Thread(target=lambda: outcome.append(
            pool.parse(hanging_file(tmp_path))))
        parsing.start()
        wait_for(lambda: pool.worker_pids() != [])
        (victim,) = pool.worker_pids()
        os.kill(victim, signal.SIGKILL)
        # it died reading the text with pdfium: a fresh worker reads it with pypdf; that
        # one dies too, and the file ends failed
        wait_for(lambda: pool.worker_pids() not in ([], [victim]))
        (second,) = pool.worker_pids()
        os.kill(second, signal.SIGKILL)
        parsing.join(30)
        assert not parsing.is_alive()
        (result,) = outcome
        assert result.status is DocumentStatus.FAILED
        assert "killed by signal 9" in result.reason
        assert "memory limit" in result.reason

        after = pool.parse(good_file(tmp_path))
        assert after.status is DocumentStatus.INDEXED, after.reason
        assert after.page_count == 2
        assert not {victim, second} & set(pool.worker_pids())
        assert len(pool.worker_pids()) == 1


def test_a_worker_that_died_while_idle_is_replaced(tmp_path: Path) -> None:
    with ParserPool(ParserLimits(), size=1) as pool:
        assert pool.parse(good_file(tmp_path)).status is DocumentStatus.INDEXED
        (victim,) = pool.worker_pids()
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: is_dead(victim))
        result = pool.parse(good_file(tmp_path, "again.pdf"))
        assert result.status is DocumentStatus.INDEXED, result.reason


def test_workers_are_reused_and_none_outlive_close(tmp_path: Path) -> None:
    pool = ParserPool(ParserLimits(), size=2)
    paths = [good_file(tmp_path, f"doc{n}.pdf") for n in range(4)]
    results: list[ParseResult] = []
    seen: set[int] = set()

    def work(path: Path) -> None:
        results.append(pool.parse(path))
        seen.update(pool.worker_pids())

    threads = [threading.Thread(target=work, args=(p,)) for p in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [r.status for r in results] == [DocumentStatus.INDEXED] * 4
    assert 1 <= len(seen) <= 2
    assert all(is_parser_worker(pid) for pid in pool.worker_pids())
    pool.close()
    assert pool.worker_pids() == []
    assert [process_state(pid) for pid in seen] == [None] * len(seen)


def test_close_kills_a_worker_in_the_middle_of_a_parse(tmp_path: Path) -> None:
    pool = ParserPool(ParserLimits(), size=1)
    raised: list[ParserPoolClosed] = []

    def parse() -> None:
        try:
            pool.parse(hanging_file(tmp_path))
        except ParserPoolClosed as exc:  # not the file's fault: it gets no outcome
            raised.append(exc)

    parsing = threading.Thread(target=parse)
    parsing.start()
    wait_for(lambda: pool.worker_pids() != [])
    (pid,) = pool.worker_pids()
    pool.close()
    parsing.join(30)
    assert not parsing.is_alive()
    assert process_state(pid) is None  # killed and reaped, no zombie
    assert len(raised) == 1


def test_no_worker_starts_after_close(tmp_path: Path) -> None:
    """A thread still holding the pool (the job runner at shutdown) cannot leave an
    orphan worker behind by starting the next parse."""
    pool = ParserPool(ParserLimits(), size=2)
    assert pool.parse(good_file(tmp_path)).status is DocumentStatus.INDEXED
    pool.close()
    for _ in range(2):
        with pytest.raises(ParserPoolClosed):
            pool.parse(good_file(tmp_path))
    assert pool.worker_pids() == []


@pytest.mark.parametrize("size", [1, 3])
def test_workers_start_lazily(size: int) -> None:
    with ParserPool(ParserLimits(), size=size) as pool:
        assert pool.worker_pids() == []
