"""One streamed ask as typed events, for every encoder of a streamed answer.

`AskService.ask_stream` yields answer text as it arrives, then the authoritative `Answer`.
`ask_events` turns that into `TextDelta`s, then one `Completed`, or a `Failed` when an
error happens after the stream began (the HTTP status is sent by then). Two encoders
write them on the wire: `qa_service.api.events` (the `/kbs/{kb}/ask` Server-Sent Events)
and `qa_service.api.openai_chunks` (OpenAI `chat.completion.chunk` frames).

What the deltas spell is not always the start of the final answer: when the LLM fails in
the middle of its answer and the configuration allows the fallback, the stream goes on
with the whole extractive answer, and the `Answer` is that one alone. Each encoder
decides what its clients see then; the `Completed` answer is authoritative.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi.responses import StreamingResponse

from qa_service.answer.models import Answer
from qa_service.errors import QAError

__all__ = ["AskEvent", "Completed", "Failed", "TextDelta", "ask_events", "event_stream"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextDelta:
    """More answer text, in order."""

    text: str


@dataclass(frozen=True)
class Completed:
    """The checked answer: authoritative, whatever the deltas said."""

    answer: Answer


@dataclass(frozen=True)
class Failed:
    """The ask failed after the stream began; the last event."""

    error: QAError


AskEvent = TextDelta | Completed | Failed
INTERNAL = "internal error; see the server log"


def ask_events(items: Iterator[str | Answer]) -> Iterator[AskEvent]:
    """The events of an ask stream. Its first item is taken now, so an error before
    anything could be sent raises here and keeps its HTTP status; later errors become
    a `Failed` event."""
    first = next(items)
    return _events(itertools.chain((first,), items))


def _events(items: Iterator[str | Answer]) -> Iterator[AskEvent]:
    try:
        for item in items:
            yield Completed(item) if isinstance(item, Answer) else TextDelta(item)
    except QAError as exc:
        yield Failed(exc)
    except Exception:  # the HTTP status is sent already: report in the stream
        logger.exception("streamed answer failed")
        yield Failed(QAError(INTERNAL))


def event_stream(body: Iterator[str]) -> StreamingResponse:
    """A `text/event-stream` response that proxies pass on as it is written."""
    return StreamingResponse(body, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
