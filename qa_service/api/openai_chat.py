"""One chat completion: an OpenAI chat request read as a question with its conversation,
asked through the one ask pipeline, and its answer written as a `chat.completion`.

The last message is the question and must be the user's; the user and assistant
messages before it are the conversation (`history`); system and developer messages are
ignored (the service's own instructions apply), as are tool messages.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from qa_service.answer.context import estimate_tokens
from qa_service.answer.conversation import Turn
from qa_service.answer.models import Answer
from qa_service.answer.service import AskService
from qa_service.api.openai_citations import CitedText, PageLinks, cited_text, references
from qa_service.api.openai_models import ChatCompletionRequest, ChatMessage
from qa_service.errors import InvalidRequest
from qa_service.store.knowledge_base import KnowledgeBase

__all__ = ["ChatAsk", "conversation", "message_text"]


def message_text(message: ChatMessage) -> str:
    """A message's text: its string content, or its text parts joined."""
    if isinstance(message.content, str):
        return message.content
    return "".join(part.text or "" for part in message.content or () if part.type == "text")


def conversation(messages: Sequence[ChatMessage]) -> tuple[str, tuple[Turn, ...]]:
    """The question (the last message) and the user and assistant turns before it."""
    last = messages[-1]
    if last.role != "user":
        raise InvalidRequest(f"the last message must be the user's question, not a "
                             f"'{last.role}' message")
    if isinstance(last.content, list):
        others = sorted({part.type for part in last.content} - {"text"})
        if others:
            raise InvalidRequest(f"the question can only be text, not {', '.join(others)}")
    history = tuple(Turn("user" if m.role == "user" else "assistant", message_text(m))
                    for m in messages[:-1] if m.role in ("user", "assistant"))
    return message_text(last), history


@dataclass(frozen=True)
class ChatAsk:
    """One chat completion request, read: what to ask, and how to reply."""

    body: ChatCompletionRequest
    question: str
    history: tuple[Turn, ...]
    links: PageLinks
    id: str
    created: int

    @classmethod
    def read(cls, body: ChatCompletionRequest, kb: str, base_url: str) -> ChatAsk:
        """The request to knowledge base `kb`, made to `base_url` (the app's, with the
        proxy's root path)."""
        question, history = conversation(body.messages)
        return cls(body, question, history, PageLinks(base_url, kb),
                   id=f"chatcmpl-{secrets.token_hex(12)}", created=int(time.time()))

    def ask(self, asker: AskService, kb: KnowledgeBase) -> Answer:
        return asker.ask(kb, self.question, self.body.k, self.body.mode,
                         self.body.document_ids, history=self.history)

    def ask_stream(self, asker: AskService, kb: KnowledgeBase) -> Iterator[str | Answer]:
        return asker.ask_stream(kb, self.question, self.body.k, self.body.mode,
                                self.body.document_ids, history=self.history)

    def may_stream_llm_text(self, asker: AskService) -> bool:
        """Whether deltas may be LLM sentences (released with their markers) rather than
        a whole extractive answer followed at once by the `Answer`."""
        return (self.body.mode or asker.default_mode) == "llm"

    def usage(self, content: str) -> dict[str, int]:
        """Rough token counts (the service's upper estimate), never a model's."""
        prompt = estimate_tokens(self.question) + sum(estimate_tokens(t.content)
                                                      for t in self.history)
        completion = estimate_tokens(content)
        return {"prompt_tokens": prompt, "completion_tokens": completion,
                "total_tokens": prompt + completion}

    def extensions(self, answer: Answer) -> dict[str, Any]:
        """This service's fields beside OpenAI's, on the message (or the last delta)."""
        return {"references": references(answer),
                "standalone_question": answer.standalone_question or answer.question}

    def completion(self, answer: Answer) -> dict[str, Any]:
        """The `chat.completion` object for `answer`."""
        cited: CitedText = cited_text(answer)
        message = {"role": "assistant", "content": cited.content, "refusal": None,
                   "annotations": self.links.annotations(cited.markers),
                   **self.extensions(answer)}
        return {"id": self.id, "object": "chat.completion", "created": self.created,
                "model": self.body.model, "system_fingerprint": None,
                "choices": [{"index": 0, "message": message, "logprobs": None,
                             "finish_reason": "stop"}],
                "usage": self.usage(cited.content)}
