"""Request and response bodies of the OpenAI-compatible routes (`/v1/models`,
`/v1/chat/completions`): the subset of OpenAI's chat format this service reads, and what
it writes, with its own extensions (`references`, `standalone_question`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from qa_service.api.models import CitationOut

__all__ = [
    "MODEL_PREFIX",
    "OWNER",
    "ChatCompletionOut",
    "ChatCompletionRequest",
    "ChatMessage",
    "ContentPart",
    "ModelList",
    "ModelOut",
    "OpenAIErrorOut",
    "StreamOptions",
]

MODEL_PREFIX = "kb:"  # a knowledge base `handbook` is the model `kb:handbook`
OWNER = "qa-service"
Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class ModelOut(BaseModel):
    id: str = Field(description="`kb:<knowledge base>`", examples=["kb:handbook"])
    object: Literal["model"] = "model"
    created: int = Field(description="When the knowledge base was created (Unix seconds)")
    owned_by: str = OWNER


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


class ContentPart(BaseModel):
    """One part of a message's content; only `text` parts are read."""

    model_config = ConfigDict(extra="ignore")
    type: str = Field(max_length=100)
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")  # name, tool_calls, refusal, ...
    role: Role
    content: str | list[ContentPart] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = Field(default=False, description="Send a last chunk with `usage`")


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat completion request. The last message is the question (from the
    user); earlier user and assistant messages are the conversation; system messages are
    ignored. OpenAI's other parameters (`temperature`, `top_p`, `max_tokens`, `seed`,
    `user`, `tools`, ...) are accepted and ignored: answers are quoted or checked against
    the documents either way. `mode`, `k` and `document_ids` are this service's own (the
    openai client sends them with `extra_body`)."""

    model_config = ConfigDict(extra="ignore")
    model: str = Field(max_length=300, description="`kb:<knowledge base>` (GET /v1/models)",
                       examples=["kb:handbook"])
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    stream: bool | None = Field(default=False, description="Send `chat.completion.chunk` "
                                "Server-Sent Events, then `data: [DONE]`")
    stream_options: StreamOptions | None = None
    n: int | None = Field(default=None, ge=1, le=1, description="Only one choice: 1")
    mode: Literal["extractive", "llm"] | None = Field(
        default=None, description="Default: `llm` when QA_LLM_BASE_URL is set, else "
        "`extractive`")
    k: int | None = Field(default=None, ge=1, le=50,
                          description="Passages to retrieve (default QA_ANSWER__K, 5)")
    document_ids: list[str] | None = Field(
        default=None, description="Answer only from these documents", max_length=1000)


class UrlCitationOut(BaseModel):
    start_index: int = Field(description="Where the `[n]` marker starts in `content`")
    end_index: int = Field(description="Where it ends (exclusive)")
    title: str = Field(description="`<filename>, page <n>`")
    url: str = Field(description="The cited page's text: GET with the same key")


class AnnotationOut(BaseModel):
    type: Literal["url_citation"] = "url_citation"
    url_citation: UrlCitationOut


class ReferenceOut(CitationOut):
    """A citation as `POST /kbs/{kb}/ask` gives it; `answer_start`/`answer_end` index
    the plain answer (without the markers `content` may add), not `content`."""


class MessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str = Field(description="The answer, with a `[n]` marker after each cited "
                         "part (an abstention is an ordinary answer)")
    refusal: None = None
    annotations: list[AnnotationOut] = Field(description="One per marker in `content`")
    references: list[ReferenceOut] = Field(description="Extension: the checked citations")
    standalone_question: str = Field(
        description="Extension: the question that retrieval and the answer used: the "
        "question itself, or its standalone rewrite when earlier turns complete it")


class ChoiceOut(BaseModel):
    index: int = 0
    message: MessageOut
    logprobs: None = None
    finish_reason: Literal["stop"] = "stop"


class UsageOut(BaseModel):
    """Rough estimates (the service's token estimate), not any model's count."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletionOut(BaseModel):
    id: str = Field(examples=["chatcmpl-5f0e8c1d2b3a4c5d6e7f8a9b"])
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    system_fingerprint: None = None
    choices: list[ChoiceOut]
    usage: UsageOut


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, requests (429) or server_error")
    param: str | None = Field(description="The request field at fault, when one is")
    code: str | None = Field(description="invalid_api_key, model_not_found, "
                             "rate_limit_exceeded, or this service's error code")


class OpenAIErrorOut(BaseModel):
    error: OpenAIErrorDetail
