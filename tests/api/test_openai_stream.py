"""The OpenAI encoders without an app: citation markers placed from the citations'
offsets, and a streamed ask's events as `chat.completion.chunk` frames (including a final
answer that does not continue what was streamed, and an error mid-stream)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, cast

import pytest

from qa_service.answer.models import Answer, AnswerMode, Citation
from qa_service.answer.service import AskService
from qa_service.api.openai_chat import ChatAsk, conversation
from qa_service.api.openai_chunks import ChunkWriter
from qa_service.api.openai_citations import cited_text
from qa_service.api.openai_models import ChatCompletionRequest
from qa_service.api.stream import AskEvent, Completed, Failed, TextDelta, ask_events
from qa_service.errors import InvalidRequest, LLMTimeout
from qa_service.store.knowledge_base import KnowledgeBase

DOC = "d" * 64
BASE = "http://testserver/proxy/"


def cite(number: int, start: int, end: int, page: int = 1) -> Citation:
    return Citation(number=number, document_id=DOC, filename="manual.pdf", page=page,
                    quote="...", chunk_id=0, char_start=0, char_end=3,
                    answer_start=start, answer_end=end)


def answer(text: str, citations: Sequence[Citation],
           mode: AnswerMode = AnswerMode.EXTRACTIVE) -> Answer:
    return Answer(question="q?", answer=text, abstained=not citations, mode=mode,
                  citations=list(citations), passages=[])


def labels(text: str, answer_: Answer) -> list[tuple[str, int]]:
    cited = cited_text(answer_)
    assert cited.content == text
    return [(cited.content[m.start:m.end], m.citation.number) for m in cited.markers]


# --- markers -------------------------------------------------------------------------


def test_an_llm_answer_keeps_its_markers_where_they_are() -> None:
    text = "The pack weighs 2 kg. [1] It is made in Bodo. [1][2]"
    llm = answer(text, [cite(1, 0, 21), cite(1, 26, 45), cite(2, 26, 45)], AnswerMode.LLM)
    assert labels(text, llm) == [("[1]", 1), ("[1]", 1), ("[2]", 2)]
    assert [m.start for m in cited_text(llm).markers] == [22, 46, 49]


def test_an_extractive_answer_gets_a_marker_after_each_quote() -> None:
    text = "15 days\n\n…annual leave is 15 days… Leave carries over."
    head = len("15 days\n\n")
    first = (head + 1, head + 1 + len("annual leave is 15 days"))
    second = (text.index("Leave carries"), len(text))
    quoted = answer(text, [cite(1, *first), cite(2, *second, page=3)])
    expected = "15 days\n\n…annual leave is 15 days… [1] Leave carries over. [2]"
    assert labels(expected, quoted) == [("[1]", 1), ("[2]", 2)]


def test_a_documents_own_bracketed_number_is_not_a_marker() -> None:
    text = "As shown in [3]. Results follow [1] here."
    quoted = answer(text, [cite(1, 0, 16)])
    assert labels("As shown in [3]. [1] Results follow [1] here.", quoted) == [("[1]", 1)]
    assert cited_text(quoted).markers[0].start == 17


def test_an_abstention_has_no_markers() -> None:
    text = "The documents do not say. The closest passages are listed below."
    assert labels(text, answer(text, [])) == []


# --- the conversation -------------------------------------------------------------------


def request(**body: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "kb:docs", "messages": [{"role": "user", "content": "Why?"}]} | body)


def test_the_question_is_the_last_message_and_system_messages_are_not_turns() -> None:
    body = request(messages=[
        {"role": "system", "content": "You are a pirate."},
        {"role": "user", "content": [{"type": "text", "text": "Who made "},
                                     {"type": "text", "text": "the Aurora?"}]},
        {"role": "assistant", "content": "Ingrid Halvorsen. [1]"},
        {"role": "tool", "content": "{}", "tool_call_id": "x"},
        {"role": "user", "content": [{"type": "text", "text": "When?"}]}])
    question, history = conversation(body.messages)
    assert question == "When?"
    assert [(t.role, t.content) for t in history] == [
        ("user", "Who made the Aurora?"), ("assistant", "Ingrid Halvorsen. [1]")]


@pytest.mark.parametrize("messages", [
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
    [{"role": "system", "content": "Be brief."}],
    [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
])
def test_a_last_message_that_is_not_a_text_question_is_refused(
        messages: list[dict[str, Any]]) -> None:
    with pytest.raises(InvalidRequest):
        conversation(request(messages=messages).messages)


class RecordingAsker:
    """Stands in for `AskService`: records how it was called."""

    default_mode = "extractive"

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def ask(self, *args: Any, **kwargs: Any) -> Answer:
        self.calls.append((args, kwargs))
        return answer("Quote.", [cite(1, 0, 6)])


def test_the_conversation_is_passed_to_the_pipeline_as_history() -> None:
    asker, kb = RecordingAsker(), cast(KnowledgeBase, object())
    single = ChatAsk.read(request(k=3, document_ids=["a"]), "docs", BASE)
    single.ask(cast(AskService, asker), kb)
    args, kwargs = asker.calls[-1]
    assert args == (kb, "Why?", 3, None, ["a"]) and kwargs == {"history": ()}
    turns = [{"role": "user", "content": "Who made the Aurora?"},
             {"role": "assistant", "content": "Ingrid Halvorsen. [1]"},
             {"role": "user", "content": "When?"}]
    ChatAsk.read(request(messages=turns), "docs", BASE).ask(cast(AskService, asker), kb)
    args, kwargs = asker.calls[-1]
    assert args[1] == "When?"
    assert [(t.role, t.content) for t in kwargs["history"]] == [
        ("user", "Who made the Aurora?"), ("assistant", "Ingrid Halvorsen. [1]")]


# --- chunks ------------------------------------------------------------------------------


def chunks(events: Sequence[AskEvent], eager: bool, **body: Any) -> list[dict[str, Any]]:
    """The frames as JSON objects; asserts the framing and the `[DONE]` end."""
    chat = ChatAsk.read(request(stream=True, **body), "docs", BASE)
    frames = list(ChunkWriter(chat, eager).frames(events))
    assert frames[-1] == "data: [DONE]\n\n"
    parsed = []
    for text in frames[:-1]:
        assert text.startswith("data: ") and text.endswith("\n\n") and "\n" not in text[:-2]
        parsed.append(json.loads(text.removeprefix("data: ")))
    return parsed


def content(parsed: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in parsed
                   if c.get("choices"))


def test_an_extractive_stream_sends_the_answer_with_its_markers() -> None:
    text = "Quote one. Quote two."
    final = answer(text, [cite(1, 0, 10), cite(2, 11, 21)])
    parsed = chunks([TextDelta(text), Completed(final)], eager=False)
    first, *_, last = parsed
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == first["id"] and
               c["model"] == "kb:docs" for c in parsed)
    assert content(parsed) == "Quote one. [1] Quote two. [2]"
    assert [c["choices"][0]["finish_reason"] for c in parsed] == [None, None, "stop"]
    delta = last["choices"][0]["delta"]
    assert set(delta) == {"annotations", "references", "standalone_question"}
    spans = [(a["url_citation"]["start_index"], a["url_citation"]["end_index"])
             for a in delta["annotations"]]
    assert [content(parsed)[s:e] for s, e in spans] == ["[1]", "[2]"]
    assert delta["annotations"][0]["url_citation"]["url"] == (
        f"{BASE}#kb=docs&document={DOC}&page=1&start={final.citations[0].char_start}"
        f"&end={final.citations[0].char_end}")
    assert delta["annotations"][0]["url_citation"]["title"] == "manual.pdf, page 1"
    assert delta["references"] == [c.to_json() for c in final.citations]
    assert delta["standalone_question"] == "q?"  # the question: the answer names no other


def test_llm_sentences_are_sent_as_they_arrive() -> None:
    pieces = ["It weighs 2 kg. [1]", " It is made in Bodo. [2]"]
    final = answer("".join(pieces), [cite(1, 0, 15), cite(2, 20, 39)], AnswerMode.LLM)
    parsed = chunks([TextDelta(p) for p in pieces] + [Completed(final)], eager=True)
    assert [c["choices"][0]["delta"].get("content") for c in parsed[1:3]] == pieces
    assert len(parsed) == 4  # nothing left to send before the last chunk
    assert content(parsed) == final.answer


def test_an_answer_that_replaces_the_streamed_text_follows_it_after_a_blank_line() -> None:
    """The LLM failed after one sentence; the extractive fallback answered instead."""
    sentence = "The LLM's first sentence. [1]"
    quotes = "A quote from page two."
    final = answer(quotes, [cite(1, 0, len(quotes), page=2)], AnswerMode.EXTRACTIVE_FALLBACK)
    parsed = chunks([TextDelta(sentence), TextDelta(quotes), Completed(final)], eager=True)
    streamed = content(parsed)
    assert streamed == f"{sentence}\n\n{quotes} [1]"
    delta = parsed[-1]["choices"][0]["delta"]
    assert delta["answer_offset"] == len(sentence) + 2
    assert streamed[delta["answer_offset"]:] == cited_text(final).content
    (annotation,) = delta["annotations"]
    span = annotation["url_citation"]
    assert streamed[span["start_index"]:span["end_index"]] == "[1]"
    assert span["start_index"] > len(sentence)  # the final answer's marker, not the LLM's
    assert "&page=2&" in span["url"]


def test_an_answer_longer_than_what_streamed_sends_the_rest() -> None:
    """An abstention arrives whole in the `Answer`, without text before it."""
    text = "The documents do not say."
    parsed = chunks([Completed(answer(text, []))], eager=True)
    assert content(parsed) == text
    assert parsed[-1]["choices"][0]["delta"]["annotations"] == []


def test_usage_comes_last_when_asked_for() -> None:
    final = answer("Quote.", [cite(1, 0, 6)])
    parsed = chunks([TextDelta("Quote."), Completed(final)], eager=False,
                    stream_options={"include_usage": True})
    *rest, usage = parsed
    assert usage["choices"] == [] and usage["usage"]["total_tokens"] > 0
    assert usage["usage"]["total_tokens"] == (usage["usage"]["prompt_tokens"]
                                              + usage["usage"]["completion_tokens"])
    assert all(c["usage"] is None for c in rest)
    assert "usage" not in chunks([TextDelta("Quote."), Completed(final)], eager=False)[0]


def test_an_error_after_the_stream_began_is_an_error_frame() -> None:
    error = LLMTimeout("the LLM did not answer within 5 s")
    parsed = chunks([TextDelta("A sentence. [1]"), Failed(error)], eager=True)
    assert content(parsed[:-1]) == "A sentence. [1]"
    assert parsed[-1] == {"error": {"message": error.message, "type": "server_error",
                                    "param": None, "code": "llm_timeout"}}


def test_ask_events_raise_early_errors_and_report_later_ones() -> None:
    def failing(after: list[str | Answer], error: Exception) -> Iterator[str | Answer]:
        yield from after
        raise error

    with pytest.raises(InvalidRequest):
        ask_events(failing([], InvalidRequest("the question is empty")))
    events = list(ask_events(failing(["Some text. [1]"], LLMTimeout("too slow"))))
    assert events[0] == TextDelta("Some text. [1]")
    assert isinstance(events[1], Failed) and events[1].error.code == "llm_timeout"
    crashed = list(ask_events(failing(["x"], RuntimeError("bug"))))
    assert isinstance(crashed[1], Failed) and crashed[1].error.code == "internal"
    assert "bug" not in crashed[1].error.message
