"""`POST /kbs/{kb}/ask` with `messages`: a follow-up is answered in the context of the
earlier turns (`standalone_question`), and malformed conversations are refused (422)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa_service.api.models import MAX_MESSAGES, AskRequest, AskResponse
from qa_service.embedding import Embedder
from tests.api.helpers import assert_error, create_kb, ingest, running_app
from tests.pdfs import text_pdf

KB = "docs"
AURORA = ["The Aurora battery was designed in 1987 by the engineer Ingrid Halvorsen. "
          "The Aurora battery is covered by a warranty of four years."]
BOREALIS = ["The Borealis lamp was designed in 1995 by the architect Pavel Novak. "
            "The Borealis lamp is covered by a warranty of two years."]
FIRST = "When was the Aurora battery designed?"
CONVERSATION = [{"role": "user", "content": FIRST},
                {"role": "assistant", "content": "It was designed in 1987 [1]."}]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
         shared_models: None) -> Path:
    folder = tmp_path_factory.mktemp("conversation") / "data"
    with running_app(folder, embedder) as client:
        create_kb(client, KB)
        job = ingest(client, KB, [("aurora.pdf", text_pdf(AURORA)),
                                  ("borealis.pdf", text_pdf(BOREALIS))])
    assert [f["status"] for f in job["files"]] == ["indexed"] * 2, job
    return folder


@pytest.fixture
def client(data: Path, embedder: Embedder) -> Iterator[TestClient]:
    with running_app(data, embedder) as started:
        yield started


def ask(client: TestClient, **body: Any) -> Any:
    return client.post(f"/kbs/{KB}/ask", json=body)


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == set(AskResponse.model_fields)
    return body


def test_a_follow_up_is_answered_in_the_context_of_the_conversation(
        client: TestClient) -> None:
    body = ok(ask(client, question="Who designed it?", messages=CONVERSATION))
    assert body["question"] == "Who designed it?"
    assert "Aurora" in body["standalone_question"]
    assert "Halvorsen" in body["answer"]
    assert body["citations"][0]["filename"] == "aurora.pdf"
    assert "condense" in body["timings_ms"]


def test_without_messages_the_standalone_question_is_the_question(client: TestClient) -> None:
    body = ok(ask(client, question=FIRST))
    assert body["standalone_question"] == body["question"] == FIRST
    assert "condense" not in body["timings_ms"]


def test_the_last_user_message_is_the_question_when_question_is_left_out(
        client: TestClient) -> None:
    messages = [*CONVERSATION, {"role": "user", "content": "How long is its warranty?"}]
    body = ok(ask(client, messages=messages))
    assert body["question"] == "How long is its warranty?"
    assert "Aurora" in body["standalone_question"]
    assert body["passages"][0]["filename"] == "aurora.pdf"


def test_a_last_message_equal_to_the_question_is_not_an_earlier_turn(
        client: TestClient) -> None:
    messages = [*CONVERSATION, {"role": "user", "content": " Who designed it? "}]
    request = AskRequest.model_validate({"question": "Who designed it?", "messages": messages})
    assert [(t.role, t.content) for t in request.history()] == [
        (m["role"], m["content"]) for m in CONVERSATION]
    other = AskRequest.model_validate({"question": "And its warranty?", "messages": messages})
    assert len(other.history()) == 3  # a different last message is an earlier turn
    same = ok(ask(client, question="Who designed it?", messages=messages))
    assert same["standalone_question"] == ok(ask(client, question="Who designed it?",
                                                 messages=CONVERSATION))["standalone_question"]


def test_system_messages_are_ignored(client: TestClient) -> None:
    messages = [{"role": "system", "content": "You talk about the Borealis lamp."},
                *CONVERSATION]
    body = ok(ask(client, question="Who designed it?", messages=messages))
    assert "Borealis" not in body["standalone_question"]
    assert "Aurora" in body["standalone_question"]
    only_system = ok(ask(client, question="Who designed it?",
                         messages=[{"role": "system", "content": "Be brief."}]))
    assert only_system["standalone_question"] == "Who designed it?"


def test_a_streamed_follow_up_carries_the_standalone_question(client: TestClient) -> None:
    response = ask(client, question="Who designed it?", messages=CONVERSATION, stream=True)
    assert response.status_code == 200, response.text
    results = []
    for block in response.text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n")
                      if line and not line.startswith(":"))  # comments
        if fields.get("event") == "result":
            results.append(json.loads(fields["data"]))
    assert len(results) == 1 and "Aurora" in results[0]["standalone_question"]


@pytest.mark.parametrize(("body", "says"), [
    ({}, "no question"),
    ({"messages": []}, "no question"),
    ({"messages": CONVERSATION}, "no question"),  # ends with the assistant
    ({"messages": [{"role": "user", "content": "   "}]}, "no question"),
    ({"question": "Who?", "messages": [{"role": "tool", "content": "x"}]}, "role"),
    ({"question": "Who?", "messages": [{"role": "user"}]}, "content"),
    ({"question": "Who?", "messages": [{"role": "user", "content": ["a", "b"]}]}, "content"),
    ({"question": "Who?", "messages": {"role": "user", "content": "x"}}, "messages"),
    ({"question": "Who?", "messages": [{"role": "user", "content": "x"}] * (MAX_MESSAGES + 1)},
     "messages"),
    ({"messages": [{"role": "user", "content": "x" * 2001}]}, "longer than 2000"),
    ({"question": ""}, "question"),
])
def test_malformed_conversations_are_refused(client: TestClient, body: dict[str, Any],
                                             says: str) -> None:
    error = assert_error(ask(client, **body), 422, "validation_error")
    assert says in error["message"]
