"""Listing a knowledge base's ingestion jobs from its catalog (`Catalog.jobs`): newest
first, each summed up without its files' outcomes (`JobSummary`).

Three queries, however many jobs: the jobs, their files counted by status (with the pages
read by OCR), and the first few file names of each. Newest means latest `created_at`,
then the row inserted last (two jobs created within the same second).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Sequence

from qa_service.schemas import JOB_SUMMARY_FILENAMES, JobState, JobSummary

__all__ = ["job_summaries"]


def job_summaries(conn: sqlite3.Connection, limit: int, state: JobState | None = None
                  ) -> list[JobSummary]:
    """The `limit` newest jobs (of that `state`, when given), newest first; read inside
    one snapshot (`Catalog.snapshot`) so that the three queries agree."""
    wanted = None if state is None else state.value
    rows = conn.execute(
        "SELECT id, state, files_total, files_done, pages_parsed, chunks_embedded,"
        " created_at, updated_at, error FROM jobs WHERE ?1 IS NULL OR state = ?1"
        " ORDER BY created_at DESC, rowid DESC LIMIT ?2", (wanted, limit)).fetchall()
    ids = [str(row[0]) for row in rows]
    statuses, ocr_pages = _files_by_status(conn, ids)
    names = _first_filenames(conn, ids)
    return [JobSummary(id=str(r[0]), state=JobState(r[1]), files_total=int(r[2]),
                       files_done=int(r[3]), pages_parsed=int(r[4]), chunks_embedded=int(r[5]),
                       created_at=str(r[6]), updated_at=str(r[7]), error=str(r[8]),
                       ocr_pages=ocr_pages[str(r[0])], files_by_status=statuses[str(r[0])],
                       filenames=tuple(names[str(r[0])]))
            for r in rows]


def _marks(ids: Sequence[str]) -> str:
    return ",".join("?" * len(ids))


def _files_by_status(conn: sqlite3.Connection, ids: Sequence[str]
                     ) -> tuple[defaultdict[str, dict[str, int]], defaultdict[str, int]]:
    """Each job's files counted by status, and the pages its files read by OCR."""
    statuses: defaultdict[str, dict[str, int]] = defaultdict(dict)
    ocr_pages: defaultdict[str, int] = defaultdict(int)
    if not ids:
        return statuses, ocr_pages
    rows = conn.execute(
        "SELECT job_id, status, COUNT(*), COALESCE(SUM(ocr_pages), 0) FROM job_files"
        f" WHERE job_id IN ({_marks(ids)}) GROUP BY job_id, status ORDER BY job_id, status",
        tuple(ids)).fetchall()
    for job_id, status, count, ocr in rows:
        statuses[str(job_id)][str(status)] = int(count)
        ocr_pages[str(job_id)] += int(ocr)
    return statuses, ocr_pages


def _first_filenames(conn: sqlite3.Connection, ids: Sequence[str]
                     ) -> defaultdict[str, list[str]]:
    names: defaultdict[str, list[str]] = defaultdict(list)
    if not ids:
        return names
    rows = conn.execute(
        f"SELECT job_id, filename FROM job_files WHERE job_id IN ({_marks(ids)})"
        " AND position < ? ORDER BY job_id, position", (*ids, JOB_SUMMARY_FILENAMES)).fetchall()
    for job_id, filename in rows:
        names[str(job_id)].append(str(filename))
    return names
