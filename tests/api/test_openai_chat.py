"""`/v1/models` and `/v1/chat/completions` through the real app (in process): the
`chat.completion` and its chunks, keys that see only their knowledge bases, OpenAI's
error shape, the shared rate limit, and streams with a scripted LLM (sentences sent as
they pass the checks; an LLM failing mid-answer, with and without the fallback)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa_service.api import create_app
from qa_service.config import Settings
from qa_service.embedding import Embedder
from tests.api.aurora import AURORA, QUESTION, SECRET
from tests.api.helpers import (
    ADMIN_KEY,
    assert_error,
    bearer,
    create_kb,
    ingest,
    page_text_url,
    running_app,
    viewer_link,
)
from tests.llm_server import Reply, ScriptedLLM, sse
from tests.pdfs import text_pdf

KB, OTHER = "docs", "other"
LLM_REPLY = ("The Aurora battery was designed in 1987 by the engineer Ingrid Halvorsen [1]. "
             "It stores energy in sodium cells [1].")
StartApp = Callable[..., AbstractContextManager[TestClient]]


@dataclass
class Library:
    data: Path
    reader: str  # a read key for KB only


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
            shared_models: None) -> Library:
    data = tmp_path_factory.mktemp("openai") / "data"
    with running_app(data, embedder) as client:
        for name, pages in ((KB, AURORA), (OTHER, [SECRET])):
            create_kb(client, name)
            job = ingest(client, name, [(f"{name}.pdf", text_pdf(pages))])
            assert job["files"][0]["status"] == "indexed", job
        key = client.post("/keys", json={"kbs": [KB], "scope": "read"})
        assert key.status_code == 201, key.text
    return Library(data, key.json()["key"])


@pytest.fixture
def app(library: Library, embedder: Embedder) -> StartApp:
    def start(**settings: Any) -> AbstractContextManager[TestClient]:
        return running_app(library.data, embedder, **settings)
    return start


@pytest.fixture
def client(app: StartApp) -> Iterator[TestClient]:
    with app() as started:
        yield started


def chat(client: TestClient, question: str = QUESTION, headers: dict[str, str] | None = None,
         **body: Any) -> Any:
    body = {"model": f"kb:{KB}", "messages": [{"role": "user", "content": question}]} | body
    return client.post("/v1/chat/completions", json=body, headers=headers)


def completion(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()  # type: ignore[no-any-return]


def chunks(response: Any) -> list[dict[str, Any]]:
    """The JSON of every `data:` frame but the last, which must be `[DONE]`."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in response.text.split("\n\n") if f]
    assert frames[-1] == "data: [DONE]", frames[-1]
    assert all(f.startswith("data: ") and "\n" not in f for f in frames), frames
    return [json.loads(f.removeprefix("data: ")) for f in frames[:-1]]


def streamed(parsed: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in parsed
                   if c.get("choices"))


def openai_error(response: Any, status: int, code: str | None = None,
                 kind: str = "invalid_request_error") -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == kind and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]  # type: ignore[no-any-return]


def spans(content: str, annotations: list[dict[str, Any]]) -> list[str]:
    return [content[a["url_citation"]["start_index"]:a["url_citation"]["end_index"]]
            for a in annotations]


def without_markers(content: str, annotations: list[dict[str, Any]]) -> str:
    """`content` without the markers the annotations point at (and the space before)."""
    for a in sorted(annotations, key=lambda a: -a["url_citation"]["start_index"]):
        start, end = a["url_citation"]["start_index"], a["url_citation"]["end_index"]
        cut = start - 1 if content[start - 1:start] == " " else start
        content = content[:cut] + content[end:]
    return content


# --- models ---------------------------------------------------------------------------


def test_models_are_the_knowledge_bases_the_key_covers(client: TestClient,
                                                       library: Library) -> None:
    listed = client.get("/v1/models").json()
    assert listed["object"] == "list"
    assert [m["id"] for m in listed["data"]] == [f"kb:{KB}", f"kb:{OTHER}"]
    for model in listed["data"]:
        assert set(model) == {"id", "object", "created", "owned_by"}
        assert model["object"] == "model" and model["owned_by"] == "qa-service"
        assert isinstance(model["created"], int) and model["created"] > 1_600_000_000
    reader = bearer(library.reader)
    assert [m["id"] for m in client.get("/v1/models", headers=reader).json()["data"]] == [
        f"kb:{KB}"]
    assert client.get(f"/v1/models/kb:{KB}", headers=reader).json() == listed["data"][0]
    openai_error(client.get(f"/v1/models/kb:{OTHER}", headers=reader), 404, "model_not_found")


def test_a_model_the_key_does_not_cover_answers_as_one_that_does_not_exist(
        client: TestClient, library: Library) -> None:
    reader = bearer(library.reader)
    for stream in (False, True):
        hidden = openai_error(chat(client, headers=reader, model=f"kb:{OTHER}",
                                   stream=stream), 404, "model_not_found")
        missing = openai_error(chat(client, headers=reader, model="kb:ghost", stream=stream),
                               404, "model_not_found")
        assert hidden == {**missing, "message": missing["message"].replace("ghost", OTHER)}
        assert hidden["param"] == "model"
    for model in ("gpt-4o", "kb:", "kb:../docs", f"KB:{KB}", f"kb:{KB}/x", KB):
        openai_error(chat(client, model=model), 404, "model_not_found")
    assert client.get("/v1/models/gpt-4o").status_code == 404


# --- the completion -------------------------------------------------------------------


def test_a_completion_is_the_answer_with_markers_annotations_and_references(
        client: TestClient) -> None:
    body = completion(chat(client))
    assert re.fullmatch(r"chatcmpl-\w+", body["id"]) and body["object"] == "chat.completion"
    assert body["model"] == f"kb:{KB}" and isinstance(body["created"], int)
    (choice,) = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    message = choice["message"]
    assert message["role"] == "assistant" and "1987" in message["content"]
    assert "[1]" in message["content"]
    assert spans(message["content"], message["annotations"]) == [
        f"[{r['number']}]" for r in message["references"]]
    plain = client.post(f"/kbs/{KB}/ask", json={"question": QUESTION}).json()
    assert message["references"] == plain["citations"]
    assert without_markers(message["content"], message["annotations"]) == plain["answer"]
    assert message["standalone_question"] == QUESTION  # no earlier turns: as asked
    for annotation, reference in zip(message["annotations"], message["references"],
                                     strict=True):
        link = annotation["url_citation"]
        assert link["title"] == f"{reference['filename']}, page {reference['page']}"
        assert link["url"] == viewer_link("http://testserver/", KB, reference)
        assert client.get(link["url"]).headers["content-type"].startswith("text/html")
        page = client.get(page_text_url(link["url"]))
        assert page.status_code == 200
        assert page.json()["text"][reference["char_start"]:reference["char_end"]] == \
            reference["quote"]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_an_abstention_is_an_ordinary_message(client: TestClient) -> None:
    message = completion(chat(client, "What is the capital of Mars?"))["choices"][0]["message"]
    assert message["content"].startswith("The documents do not say")
    assert message["annotations"] == [] and message["references"] == []


def test_the_stream_spells_the_same_content_and_ends_with_the_citations(
        client: TestClient) -> None:
    plain = completion(chat(client))["choices"][0]["message"]
    parsed = chunks(chat(client, stream=True, stream_options={"include_usage": True}))
    first, *_, last, usage = parsed
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert re.fullmatch(r"chatcmpl-\w+", first["id"])
    assert {(c["id"], c["object"], c["model"]) for c in parsed} == {
        (first["id"], "chat.completion.chunk", f"kb:{KB}")}
    assert streamed(parsed) == plain["content"]
    assert [c["choices"][0]["finish_reason"] for c in parsed[:-1]][-1] == "stop"
    delta = last["choices"][0]["delta"]
    assert delta["annotations"] == plain["annotations"]
    assert delta["references"] == plain["references"]
    assert "answer_offset" not in delta
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] > 0


def test_earlier_turns_make_a_follow_up_standalone(client: TestClient) -> None:
    turns = [{"role": "user", "content": QUESTION},
             {"role": "assistant", "content": "It was designed in 1987. [1]"},
             {"role": "user", "content": "Who designed it?"}]
    messages = [{"role": "system", "content": "Be brief."}, *turns]
    message = completion(chat(client, messages=messages))["choices"][0]["message"]
    assert "Aurora" in message["standalone_question"]
    assert "Halvorsen" in message["content"]
    asked = client.post(f"/kbs/{KB}/ask", json={"messages": turns})  # the same pipeline
    assert asked.status_code == 200, asked.text
    assert asked.json()["standalone_question"] == message["standalone_question"]
    assert asked.json()["citations"] == message["references"]
    assert streamed(chunks(chat(client, messages=messages, stream=True))) == message["content"]


def test_content_parts_system_messages_and_stock_parameters(client: TestClient) -> None:
    plain = completion(chat(client))["choices"][0]["message"]["content"]
    body = completion(chat(
        client, messages=[
            {"role": "system", "content": "Answer like a pirate, without citations."},
            {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
            {"role": "user", "content": [{"type": "text", "text": QUESTION}]}],
        temperature=0.2, top_p=0.9, max_tokens=50, max_completion_tokens=50, user="u-1",
        n=1, seed=7, presence_penalty=0.5, frequency_penalty=0.1, logprobs=False,
        stop=["\n\n\n"], response_format={"type": "text"}, parallel_tool_calls=False,
        tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
        tool_choice="none", metadata={"a": "b"}, store=False))
    assert body["choices"][0]["message"]["content"] == plain


def test_our_own_options_at_the_top_level(client: TestClient) -> None:
    message = completion(chat(client, mode="extractive", k=1))["choices"][0]["message"]
    assert {r["page"] for r in message["references"]} == {1}
    error = openai_error(chat(client, mode="llm"), 400, "invalid_request")
    assert "QA_LLM_BASE_URL" in error["message"]
    openai_error(chat(client, document_ids=["0" * 64]), 404, "document_not_found")


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "param"), [
    ({"model": f"kb:{KB}"}, "messages"),
    ({"messages": [{"role": "user", "content": QUESTION}]}, "model"),
    ({"model": f"kb:{KB}", "messages": []}, "messages"),
    ({"model": f"kb:{KB}", "messages": [{"role": "user", "content": QUESTION}], "n": 2}, "n"),
    ({"model": f"kb:{KB}", "messages": [{"role": "user", "content": QUESTION}],
      "stream": "maybe"}, "stream"),
    ({"model": f"kb:{KB}", "messages": [{"role": "user", "content": QUESTION}], "k": 0}, "k"),
    ({"model": f"kb:{KB}", "messages": [{"role": "user", "content": QUESTION}],
      "mode": "generative"}, "mode"),
    ({"model": f"kb:{KB}", "messages": [{"role": "robot", "content": QUESTION}]},
     "messages[0].role"),
])
def test_invalid_bodies_are_openai_400s(client: TestClient, body: dict[str, Any],
                                        param: str) -> None:
    error = openai_error(client.post("/v1/chat/completions", json=body), 400)
    assert error["param"] == param, error
    assert error["message"].startswith(param), error


def test_a_body_that_is_not_json_is_a_400(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", content=b"{not json",
                           headers={"Content-Type": "application/json"})
    openai_error(response, 400)


@pytest.mark.parametrize("messages", [
    [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "1987. [1]"}],
    [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}],
    [{"role": "user", "content": "   "}],
    [{"role": "user", "content": "x" * 2001}],
])
def test_a_question_that_cannot_be_asked_is_a_400(client: TestClient,
                                                  messages: list[dict[str, Any]]) -> None:
    for stream in (False, True):
        openai_error(chat(client, messages=messages, stream=stream), 400, "invalid_request")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer qa_nope_not-a-key"},
                                     {"Authorization": "Basic dXNlcjpwYXNz"}])
def test_a_missing_or_invalid_key_is_an_openai_401(app: StartApp,
                                                   headers: dict[str, str]) -> None:
    with app() as client:
        client.headers.pop("Authorization")
        for method, path in (("GET", "/v1/models"), ("POST", "/v1/chat/completions"),
                             ("GET", "/v1/nope")):
            response = client.request(method, path, headers=headers, json={})
            openai_error(response, 401, "invalid_api_key")
            assert response.headers["www-authenticate"] == "Bearer"
        assert_error(client.get("/kbs", headers=headers), 401, "unauthorized")  # unchanged


def test_unknown_v1_routes_and_methods(client: TestClient) -> None:
    error = openai_error(client.get("/v1/embeddings"), 404, "unknown_url")
    assert "/v1/embeddings" in error["message"]
    openai_error(client.post("/v1/models"), 405, "method_not_allowed")
    assert_error(client.get("/nope"), 404, "not_found")  # the API's own shape elsewhere


def test_chat_and_ask_share_the_per_key_ask_limit(app: StartApp) -> None:
    with app(limits={"asks_per_minute": 2}) as client:
        completion(chat(client))
        assert client.post(f"/kbs/{KB}/ask", json={"question": QUESTION}).status_code == 200
        response = chat(client)
        error = openai_error(response, 429, "rate_limit_exceeded", kind="requests")
        assert "per minute" in error["message"] and int(response.headers["retry-after"]) >= 1
        assert_error(client.post(f"/kbs/{KB}/ask", json={"question": QUESTION}), 429,
                     "rate_limited")


def test_page_links_keep_the_proxy_s_root_path(library: Library, embedder: Embedder) -> None:
    app = create_app(Settings(data_dir=library.data, admin_key=ADMIN_KEY), embedder=embedder)
    with TestClient(app, headers=bearer(ADMIN_KEY), root_path="/qa") as client:
        message = completion(chat(client))["choices"][0]["message"]
        url = message["annotations"][0]["url_citation"]["url"]
        assert url.startswith(f"http://testserver/qa/#kb={KB}&document="), url
        assert client.get(page_text_url(url)).status_code == 200
        openai_error(chat(client, model="kb:ghost"), 404, "model_not_found")


# --- with an LLM ------------------------------------------------------------------------


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


@pytest.fixture
def llm_app(app: StartApp, llm: ScriptedLLM) -> StartApp:
    def start(**settings: Any) -> AbstractContextManager[TestClient]:
        values = {"llm_base_url": llm.base_url, "llm_model": "scripted", "llm_timeout": 10.0}
        return app(**(values | settings))
    return start


def broken_stream(text: str) -> Reply:
    """An LLM stream that says `text`, then fails (an error event, as OpenAI's)."""
    body = sse(text, 12).removesuffix(b"data: [DONE]\n\n")
    return Reply(raw=body + b'data: {"error": {"message": "scripted failure"}}\n\n')


def test_llm_sentences_stream_as_they_pass_the_checks(llm_app: StartApp,
                                                      llm: ScriptedLLM) -> None:
    with llm_app() as client:
        llm.reply(LLM_REPLY, chunk_delay=0.005)
        parsed = chunks(chat(client, k=1, stream=True))
        llm.reply(LLM_REPLY)
        plain = completion(chat(client, k=1))["choices"][0]["message"]
    contents = [c["choices"][0]["delta"].get("content") for c in parsed[1:-1]]
    assert contents == ["The Aurora battery was designed in 1987 by the engineer Ingrid "
                        "Halvorsen. [1]", " It stores energy in sodium cells. [1]"]
    assert streamed(parsed) == plain["content"]
    assert parsed[-1]["choices"][0]["delta"]["annotations"] == plain["annotations"]
    assert spans(plain["content"], plain["annotations"]) == ["[1]", "[1]"]


def test_an_llm_failing_mid_answer_restarts_with_the_extractive_answer(
        llm_app: StartApp, llm: ScriptedLLM) -> None:
    with llm_app() as client:
        llm.enqueue(broken_stream(LLM_REPLY + " Each cell weighs about two kilograms [1]."))
        parsed = chunks(chat(client, k=1, stream=True))
        extractive = completion(chat(client, k=1, mode="extractive"))["choices"][0]["message"]
    content = streamed(parsed)
    delta = parsed[-1]["choices"][0]["delta"]
    offset = delta["answer_offset"]
    shown = content[:offset]
    assert shown.startswith("The Aurora battery was designed in 1987") and shown.endswith(
        "[1]\n\n")
    assert content[offset:] == extractive["content"]
    assert [a["url_citation"]["start_index"] for a in delta["annotations"]] == [
        a["url_citation"]["start_index"] + offset for a in extractive["annotations"]]
    assert spans(content, delta["annotations"]) == spans(extractive["content"],
                                                         extractive["annotations"])
    assert [r["quote"] for r in delta["references"]] == [
        r["quote"] for r in extractive["references"]]


def test_an_llm_failing_mid_answer_without_fallback_ends_with_an_error_frame(
        llm_app: StartApp, llm: ScriptedLLM) -> None:
    with llm_app(llm_fallback=False) as client:
        llm.enqueue(broken_stream(LLM_REPLY + " Each cell weighs about two kilograms [1]."))
        parsed = chunks(chat(client, k=1, stream=True))
    assert streamed(parsed[:-1]).startswith("The Aurora battery was designed in 1987")
    error = parsed[-1]["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"]) == ("server_error", "llm_unavailable")
    assert all(c["choices"][0]["finish_reason"] is None for c in parsed[:-1])
