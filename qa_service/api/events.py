"""Server-Sent Events for a streamed answer: `token` events, then `result` or `error`."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from qa_service.answer.models import Answer
from qa_service.errors import QAError

__all__ = ["server_sent_events"]

logger = logging.getLogger(__name__)
AUTHORITATIVE = ": the result below is authoritative: it replaces the streamed text\n"


def event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def server_sent_events(first: str | Answer, rest: Iterator[str | Answer]) -> Iterator[str]:
    """Encode an ask stream; an error after the stream began becomes an `error` event."""
    try:
        for item in _chain(first, rest):
            if isinstance(item, Answer):
                yield AUTHORITATIVE + event("result", item.to_json())
            else:
                yield event("token", {"text": item})
    except QAError as exc:
        yield event("error", {"error": {"code": exc.code, "message": exc.message}})
    except Exception:  # the HTTP status is sent already: report in the stream
        logger.exception("streamed answer failed")
        yield event("error", {"error": {"code": "internal",
                                        "message": "internal error; see the server log"}})


def _chain(first: str | Answer, rest: Iterator[str | Answer]) -> Iterator[str | Answer]:
    yield first
    yield from rest
