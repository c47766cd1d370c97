"""OpenAI-compatible routes: each knowledge base is a model, `kb:<name>`, that a chat
client lists (`GET /v1/models`) and talks to (`POST /v1/chat/completions`), with the
service's API keys as OpenAI API keys. A key sees exactly the knowledge bases it covers;
a model it does not cover answers 404 `model_not_found`, as one that does not exist."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request

from qa_service.access import Principal
from qa_service.api.deps import Caller, ServicesDep
from qa_service.api.openai_chat import ChatAsk
from qa_service.api.openai_chunks import ChunkWriter
from qa_service.api.openai_models import (
    MODEL_PREFIX,
    OWNER,
    ChatCompletionOut,
    ChatCompletionRequest,
    ModelList,
    ModelOut,
    OpenAIErrorOut,
)
from qa_service.api.stream import ask_events, event_stream
from qa_service.errors import InvalidName, KnowledgeBaseNotFound
from qa_service.services import Services
from qa_service.store.knowledge_base import KnowledgeBase
from qa_service.store.registry import validate_name

__all__ = ["router"]

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": OpenAIErrorOut} for code in (400, 401, 404, 409, 429, 500, 502, 504)}
CHAT_RESPONSES: dict[int | str, dict[str, Any]] = {200: {
    "content": {"text/event-stream": {}},
    "description": "A `chat.completion`; with `stream: true`, `chat.completion.chunk` "
                   "Server-Sent Events ending with `data: [DONE]`"}}
router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"], responses=ERRORS)


def _no_such_model(name: str) -> KnowledgeBaseNotFound:
    return KnowledgeBaseNotFound(name, "does not exist or this key cannot use it; models are "
                                 "knowledge bases named kb:<name>: GET /v1/models lists them")


def model_kb(model: str, services: Services, caller: Principal) -> KnowledgeBase:
    """The knowledge base that `model` names, when the caller may use it; one that does not
    exist and one the key does not cover fail alike."""
    name = model.removeprefix(MODEL_PREFIX)
    if name == model or not _valid(name) or not caller.can_see(name):
        raise _no_such_model(name)
    try:
        return services.open_kb(name)
    except KnowledgeBaseNotFound:
        raise _no_such_model(name) from None


def _valid(name: str) -> bool:
    try:
        validate_name(name)
    except InvalidName:
        return False
    return True


def _card(kb: KnowledgeBase) -> dict[str, Any]:
    try:
        created = int(datetime.fromisoformat(kb.created_at).timestamp())
    except (KeyError, ValueError):
        created = 0
    return {"id": f"{MODEL_PREFIX}{kb.name}", "object": "model", "created": created,
            "owned_by": OWNER}


def _cards(services: Services, caller: Principal) -> list[dict[str, Any]]:
    cards = []
    for name in services.registry.names():
        if caller.can_see(name):
            try:
                cards.append(_card(services.registry.open(name)))
            except KnowledgeBaseNotFound:  # deleted since it was listed
                continue
    return cards


@router.get("/models", response_model=ModelList)
def list_models(services: ServicesDep, caller: Caller) -> dict[str, Any]:
    """The knowledge bases this key may ask, as models `kb:<name>`."""
    return {"object": "list", "data": _cards(services, caller)}


@router.get("/models/{model}", response_model=ModelOut)
def get_model(model: str, services: ServicesDep, caller: Caller) -> dict[str, Any]:
    return _card(model_kb(model, services, caller))


@router.post("/chat/completions", response_model=ChatCompletionOut, responses=CHAT_RESPONSES)
def chat_completions(body: ChatCompletionRequest, request: Request, services: ServicesDep,
                     caller: Caller) -> Any:
    """Ask the knowledge base `model` in OpenAI's chat format (rate-limited with
    `/kbs/{kb}/ask`, per key). The content keeps the answer's `[n]` markers; the
    `annotations` link each to its page's text; `references` (an extension) holds the
    checked citations with their quotes."""
    kb = model_kb(body.model, services, caller)
    services.access.asks.take(caller.key_id)
    chat = ChatAsk.read(body, kb.name, str(request.base_url))
    if not body.stream:
        return chat.completion(chat.ask(services.asker, kb))
    events = ask_events(chat.ask_stream(services.asker, kb))
    writer = ChunkWriter(chat, eager=chat.may_stream_llm_text(services.asker))
    return event_stream(writer.frames(events))
