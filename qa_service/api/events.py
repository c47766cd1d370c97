"""Server-Sent Events for a streamed `/kbs/{kb}/ask`: `token` events, then `result` or
`error` (the encoder of `qa_service.api.stream`'s events for that route)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from qa_service.api.stream import AskEvent, Completed, Failed, TextDelta

__all__ = ["server_sent_events"]

AUTHORITATIVE = ": the result below is authoritative: it replaces the streamed text\n"


def event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def server_sent_events(events: Iterable[AskEvent]) -> Iterator[str]:
    """`token` (`{"text"}`) per delta, then `result` (the answer's JSON), or `error`
    (`{"error": {"code", "message"}}`) when the ask failed after the stream began."""
    for item in events:
        if isinstance(item, TextDelta):
            yield event("token", {"text": item.text})
        elif isinstance(item, Completed):
            yield AUTHORITATIVE + event("result", item.answer.to_json())
        elif isinstance(item, Failed):
            yield event("error", {"error": {"code": item.error.code,
                                            "message": item.error.message}})
