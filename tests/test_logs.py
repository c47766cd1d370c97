"""`qa serve`'s logging: one format for every record, JSON on request."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import re
from collections.abc import Iterator

import pytest

from qa_service.config import Settings
from qa_service.logs import JsonFormatter, logging_config


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]


def formatted(fmt: str) -> logging.Formatter:
    config = logging_config("INFO", fmt)["formatters"]["service"]
    if "()" in config:
        return JsonFormatter()
    return logging.Formatter(config["format"], config["datefmt"])


def record(message: str, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("ingest.jobs", logging.INFO, __file__, 1, message, None, info)


def test_text_lines_have_a_timestamp_a_level_and_a_logger() -> None:
    line = formatted("text").format(record("job x of 'kb' started"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} INFO ingest\.jobs: "
                        r"job x of 'kb' started", line), line


def test_json_lines_are_one_object_each_with_the_traceback_inside() -> None:
    try:
        raise ValueError("boom")
    except ValueError as exc:
        line = formatted("json").format(record("failed: 한국어", exc))
    assert "\n" not in line
    entry = json.loads(line)
    assert (entry["level"], entry["logger"], entry["message"]) == ("INFO", "ingest.jobs",
                                                                   "failed: 한국어")
    assert "ValueError: boom" in entry["traceback"]


def test_the_configuration_routes_uvicorn_through_the_root_handler(
        restore_logging: None, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    logging.config.dictConfig(logging_config("INFO", "text"))
    logging.getLogger("uvicorn.error").info("Started server process")
    logging.getLogger("qa_service.api.app").info("resumed 1 unfinished ingestion job(s)")
    logging.getLogger("faiss.loader").info("Loading faiss with AVX512 support.")
    logging.getLogger("ingest.jobs").debug("not at INFO")
    lines = stream.getvalue().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "INFO uvicorn.error: Started server process",
        "INFO qa_service.api.app: resumed 1 unfinished ingestion job(s)"]


def test_level_and_format_settings_ignore_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_LOG_LEVEL", "debug")
    monkeypatch.setenv("QA_LOG_FORMAT", "JSON")
    settings = Settings()
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")
    monkeypatch.setenv("QA_LOG_LEVEL", "loud")
    with pytest.raises(ValueError, match="log_level"):
        Settings()
