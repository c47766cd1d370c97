"""Logging for `qa serve`: one format for the service's records and uvicorn's.

Every record carries a timestamp, its level and its logger; `QA_LOG_LEVEL` sets the level
(INFO by default: job starts and finishes, resumed jobs, the access log) and
`QA_LOG_FORMAT=json` writes one JSON object per line for log collectors. Tracebacks are
kept for unexpected errors; expected conditions log one line.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

__all__ = ["JsonFormatter", "logging_config"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message"}` (and `"traceback"`) on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def logging_config(level: str, fmt: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` dictionary (also uvicorn's `log_config`): one handler on
    stderr at the root; uvicorn's loggers hand their records to it."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if fmt == "json"
        else {"format": TEXT_FORMAT, "datefmt": "%Y-%m-%dT%H:%M:%S%z"})
    uvicorn = {"level": level.upper(), "handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"service": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "service",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            **{name: dict(uvicorn) for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
            # faiss narrates its CPU-feature probing at INFO, tracebacks-like lines included
            "faiss": {"level": "WARNING"},
        },
    }
