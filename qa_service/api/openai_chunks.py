"""A streamed ask as OpenAI `chat.completion.chunk` frames (`stream: true` on
`/v1/chat/completions`), the second encoder of `qa_service.api.stream`'s events.

Every frame is `data: <chunk>`: first `delta: {"role": "assistant", "content": ""}`, then
content deltas, then a last chunk with `finish_reason: "stop"` whose delta carries the
`annotations` and this service's `references` and `standalone_question`; with
`stream_options.include_usage`, a chunk with `usage` and no choices; then `data: [DONE]`.
An error after the stream began is one `data: {"error": {...}}` frame (the openai client
raises it as an `APIError`), then `data: [DONE]`.

OpenAI content only grows, so what is sent must be the start of the final content (the
answer with its citation markers, `qa_service.api.openai_citations`):

- LLM sentences arrive checked and ending with their markers: they are sent at once.
- Other text (an extractive answer, whole, which the `Answer` follows at once) waits for
  the next event: the answer's markers are added before it is sent.
- When the LLM fails mid-answer and the extractive fallback answers instead, the final
  content does not continue what was sent. It is sent after a blank line, and the last
  delta says where it starts (`answer_offset`); its annotations index the whole streamed
  content, so they point at the final answer's markers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from qa_service.answer.models import Answer
from qa_service.api.openai_chat import ChatAsk
from qa_service.api.openai_citations import cited_text
from qa_service.api.openai_errors import openai_error
from qa_service.api.stream import AskEvent, Completed, TextDelta

__all__ = ["DONE", "ChunkWriter", "frame"]

DONE = "data: [DONE]\n\n"
RESTART = "\n\n"  # between text that was sent and a final answer that replaces it
_ENDS_WITH_MARKER = re.compile(r"\[\d+\]$")


def frame(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


class ChunkWriter:
    """Writes the events of one streamed ask as chunk frames."""

    def __init__(self, chat: ChatAsk, eager: bool) -> None:
        """`eager`: deltas may be LLM sentences, sent as soon as they end with a marker."""
        self._chat = chat
        self._eager = eager
        options = chat.body.stream_options
        self._include_usage = options is not None and options.include_usage
        self._sent = ""  # the content the client has
        self._pending = ""  # text held back until the next event

    def frames(self, events: Iterable[AskEvent]) -> Iterator[str]:
        yield self._chunk({"role": "assistant", "content": ""})
        for event in events:
            if isinstance(event, TextDelta):
                yield from self._delta(event.text)
            elif isinstance(event, Completed):
                yield from self._completed(event.answer)
            else:
                yield from self._flush()
                yield frame({"error": openai_error(event.error)})
        yield DONE

    def _delta(self, text: str) -> Iterator[str]:
        self._pending += text
        if self._eager and _ENDS_WITH_MARKER.search(self._pending):
            yield from self._flush()

    def _flush(self) -> Iterator[str]:
        if self._pending:
            yield self._content(self._pending)
            self._pending = ""

    def _content(self, text: str) -> str:
        self._sent += text
        return self._chunk({"content": text})

    def _completed(self, answer: Answer) -> Iterator[str]:
        cited = cited_text(answer)
        self._pending = ""  # the answer's own text, with its markers, replaces it
        if cited.content.startswith(self._sent):
            rest, offset = cited.content[len(self._sent):], 0
        else:
            rest, offset = RESTART + cited.content, len(self._sent) + len(RESTART)
        if rest:
            yield self._content(rest)
        last: dict[str, Any] = {"annotations": self._chat.links.annotations(cited.markers,
                                                                            offset)}
        if offset:
            last["answer_offset"] = offset
        yield self._chunk(last | self._chat.extensions(answer), finish_reason="stop")
        if self._include_usage:
            yield frame(self._envelope() | {"choices": [], "usage": self._chat.usage(
                cited.content)})

    def _envelope(self) -> dict[str, Any]:
        return {"id": self._chat.id, "object": "chat.completion.chunk",
                "created": self._chat.created, "model": self._chat.body.model,
                "system_fingerprint": None}

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> str:
        chunk = self._envelope() | {"choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                 "finish_reason": finish_reason}]}
        if self._include_usage:
            chunk["usage"] = None
        return frame(chunk)
