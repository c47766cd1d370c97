"""Request and response bodies, as they appear in the OpenAPI schema."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from qa_service.answer.conversation import Turn
from qa_service.answer.service import MAX_QUESTION_CHARS
from qa_service.schemas import JOB_SUMMARY_FILENAMES, DocumentStatus, JobState

__all__ = [
    "AskRequest",
    "AskResponse",
    "BoxOut",
    "ChatMessage",
    "CreateKey",
    "CreateKnowledgeBase",
    "DocumentList",
    "DocumentOut",
    "ErrorOut",
    "Health",
    "JobAccepted",
    "JobList",
    "JobOut",
    "JobProgress",
    "JobSummaryOut",
    "KeyCreated",
    "KeyList",
    "KeyOut",
    "KeyWho",
    "KnowledgeBaseList",
    "KnowledgeBaseOut",
    "PageBoxesOut",
    "PageOut",
    "PassageOut",
    "SearchRequest",
    "SearchResponse",
]


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable error code")
    message: str = Field(description="What happened and what to do about it")


class ErrorOut(BaseModel):
    error: ErrorDetail


class CreateKnowledgeBase(BaseModel):
    name: str = Field(description="1-64 of a-z 0-9 _ -, starting with a letter or digit",
                      examples=["handbook"])


class KnowledgeBaseOut(BaseModel):
    name: str
    documents: int = Field(description="Indexed documents")
    chunks: int = Field(description="Searchable passages")
    embedding_model: str
    dimension: int
    created_at: str
    rebuild_needed: bool = Field(
        False, description="Built with an older parser or lexical analyser than the server's: "
        "`qa kb rebuild NAME` re-parses its documents (search works meanwhile)")


class KnowledgeBaseList(BaseModel):
    knowledge_bases: list[KnowledgeBaseOut]


class DocumentOut(BaseModel):
    document_id: str = Field(description="sha256 of the file's bytes")
    id: str = Field(deprecated=True, description="Same as document_id (its older name)")
    filename: str = Field(description="Source name: the upload's filename or the ingested path")
    status: DocumentStatus
    reason: str = Field(description="Why it ended this way, when that needs saying")
    pages: int
    chunks: int
    ocr_pages: int = Field(description="Pages whose text was read by OCR (scanned pages)")
    size_bytes: int
    created_at: str
    updated_at: str


class DocumentList(BaseModel):
    documents: list[DocumentOut]


class PageOut(BaseModel):
    document_id: str
    page: int = Field(description="1-based page number")
    text: str = Field(description="The page's extracted text; passages' offsets refer to it")


class BoxOut(BaseModel):
    """A rectangle on the page: PDF points (1/72 inch) of the page as displayed (its crop
    box, rotation applied), origin at the top-left corner, y growing downward. On an image
    of the page W pixels wide, multiply every coordinate by W / width."""

    x0: float = Field(description="Left edge, points from the page's left edge")
    y0: float = Field(description="Top edge, points from the page's top edge")
    x1: float = Field(description="Right edge")
    y1: float = Field(description="Bottom edge")


class PageBoxesOut(BaseModel):
    document_id: str
    page: int = Field(description="1-based page number")
    start: int = Field(description="First character of the range in the page's text")
    end: int = Field(description="End of the range (exclusive)")
    positions: bool = Field(description="False when positions are unavailable for this "
                            "page (a knowledge base indexed before they were kept, or a page "
                            "whose glyphs could not be read): then width, height and coverage "
                            "are null and boxes is empty")
    width: float | None = Field(description="Page width in points, as displayed")
    height: float | None = Field(description="Page height in points, as displayed")
    boxes: list[BoxOut] = Field(description="One rectangle per run of the range's "
                                "characters on a line (a table row gives one per cell), in "
                                "text order")
    coverage: float | None = Field(
        description="Fraction of the range's non-whitespace characters that have a box (the "
        "| that joins table cells is not counted); a character without one, which could not "
        "be found on the page, is left out of the boxes rather than guessed")


class FileOutcomeOut(BaseModel):
    filename: str
    status: DocumentStatus
    reason: str
    document_id: str | None = Field(
        description="sha256 of the file's bytes, the `document_id` of GET /kbs/{kb}/documents; "
        "null while the file is queued, or when it failed before it could be read")
    pages: int
    chunks: int
    ocr_pages: int = Field(default=0, description="Pages whose text was read by OCR")


class JobAccepted(BaseModel):
    job_id: str
    state: JobState
    files_total: int


class JobProgress(BaseModel):
    files_done: int = Field(description="Files that have an outcome (any status)")
    files_total: int = Field(description="Files in the job")
    pages_parsed: int = Field(description="Pages parsed so far (a file whose bytes are "
                              "already indexed is not parsed again)")
    chunks_embedded: int = Field(description="Passages embedded so far")
    ocr_pages: int = Field(description="Pages read by OCR in the files done so far")


class JobSummaryOut(BaseModel):
    job_id: str
    state: JobState
    created_at: str
    updated_at: str
    finished_at: str | None = Field(description="When it ended (state done or failed); null "
                                    "while queued or running")
    error: str = Field(description="Why the job failed (state failed); '' otherwise. A file "
                       "that failed says why in its own `reason`")
    progress: JobProgress
    files_by_status: dict[DocumentStatus, int] = Field(
        description="Its files counted by status; `queued`: not done yet")
    filenames: list[str] = Field(
        description=f"The first {JOB_SUMMARY_FILENAMES} files' names, in upload order "
        "(all of them when files_total is no more)")
    files_total: int = Field(description="Same as progress.files_total")
    files_done: int = Field(description="Same as progress.files_done")
    pages_parsed: int = Field(description="Same as progress.pages_parsed")
    chunks_embedded: int = Field(description="Same as progress.chunks_embedded")


class JobOut(JobSummaryOut):
    files: list[FileOutcomeOut] = Field(description="Every file's outcome, in upload order")


class JobList(BaseModel):
    jobs: list[JobSummaryOut] = Field(description="Newest first")


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(default=5, ge=1, description="How many passages to return "
                   "(at most QA_RETRIEVAL__MAX_K, default 100)")
    document_ids: list[str] | None = Field(
        default=None, description="Search only these documents", max_length=1000
    )


class PassageOut(BaseModel):
    chunk_id: int
    document_id: str
    filename: str
    page: int = Field(description="1-based page where the passage starts")
    char_start: int = Field(description="Offset of the passage in that page's text")
    char_end: int
    text: str
    score: float


class SearchResponse(BaseModel):
    passages: list[PassageOut]


MAX_MESSAGES = 100
MAX_MESSAGE_CHARS = 20_000


class ChatMessage(BaseModel):
    """One message of the conversation, as in OpenAI's chat completions API."""

    role: Literal["user", "assistant", "system"] = Field(
        description="`system` messages are accepted and ignored")
    content: str = Field(max_length=MAX_MESSAGE_CHARS, description="The message's text")


class AskRequest(BaseModel):
    question: str | None = Field(
        default=None, min_length=1, max_length=MAX_QUESTION_CHARS,
        description="The question. May be left out when `messages` ends with a user "
        "message: that message is then the question")
    messages: list[ChatMessage] | None = Field(
        default=None, max_length=MAX_MESSAGES,
        description="The conversation so far, oldest first (OpenAI style): a follow-up "
        "(\"and in 2022?\", \"그럼 보증 기간은?\") is rewritten into a standalone question "
        "from the earlier turns before the search (see `standalone_question`). System "
        "messages are ignored; only the last QA_CONVERSATION__MAX_TURNS user and assistant "
        "messages are read. A last user message equal to `question` is the question itself",
        examples=[[{"role": "user", "content": "What was Netflix's revenue in 2021?"},
                   {"role": "assistant", "content": "29.7 billion dollars [1]"},
                   {"role": "user", "content": "And in 2022?"}]])
    k: int | None = Field(default=None, ge=1, le=50,
                          description="Passages to retrieve (default QA_ANSWER__K, 5)")
    mode: Literal["extractive", "llm"] | None = Field(
        default=None, description="Default: `llm` when QA_LLM_BASE_URL is set, else "
        "`extractive`")
    document_ids: list[str] | None = Field(
        default=None, description="Answer only from these documents", max_length=1000
    )
    stream: bool = Field(
        default=False, description="Send Server-Sent Events: `token` events as the answer "
        "arrives, then one authoritative `result` event (the same JSON as without "
        "streaming), or an `error` event")

    @model_validator(mode="after")
    def _has_a_question(self) -> AskRequest:
        if self.question is not None:
            return self
        last = self.messages[-1] if self.messages else None
        if last is None or last.role != "user" or not last.content.strip():
            raise ValueError("no question: give `question`, or `messages` whose last "
                             "message is the user's question")
        if len(last.content.strip()) > MAX_QUESTION_CHARS:
            raise ValueError(f"the last user message (the question) is longer than "
                             f"{MAX_QUESTION_CHARS} characters")
        return self

    def asked(self) -> str:
        """The question: `question`, else the last (user) message."""
        if self.question is not None:
            return self.question
        assert self.messages  # the validator made sure of it
        return self.messages[-1].content

    def history(self) -> list[Turn]:
        """The earlier turns: the messages but the system ones and the question itself."""
        messages = list(self.messages or [])
        if messages and messages[-1].role == "user" and (
                self.question is None or messages[-1].content.strip() == self.question.strip()):
            messages.pop()
        return [Turn(m.role, m.content) for m in messages if m.role != "system"]


class CitationOut(BaseModel):
    number: int = Field(description="The citation's label; LLM answers mark it `[n]`")
    document_id: str
    filename: str
    page: int = Field(description="1-based page")
    quote: str = Field(description="Exact text of that page: its text[char_start:char_end]")
    chunk_id: int
    char_start: int = Field(description="Offset of the quote in the page's text; its boxes "
                            "on the page: GET /kbs/{kb}/documents/{document_id}/pages/{page}"
                            "/boxes?start={char_start}&end={char_end}")
    char_end: int
    answer_start: int = Field(description="Start of the part of the answer it supports")
    answer_end: int


class ShortAnswerOut(BaseModel):
    text: str = Field(description="The shortest span that answers: a number with its unit, "
                      "a date, a name, a table cell; the answer starts with it")
    citation: int = Field(description="The number of the citation whose quote holds it")
    quote_start: int = Field(description="Its offset in that citation's quote: "
                             "quote[quote_start:quote_end] == text")
    quote_end: int


class AskResponse(BaseModel):
    question: str = Field(description="The question as asked")
    standalone_question: str = Field(
        description="The question search and the answer used: `question` itself when no "
        "earlier turns were given or it stands alone, else its rewrite from the "
        "conversation (\"And in 2022?\" -> \"What was Netflix's revenue in 2022?\")")
    answer: str
    short_answer: ShortAnswerOut | None = Field(
        description="Null when no short span answers (the answer is then the best sentences)")
    abstained: bool = Field(description="True when the documents do not answer the question")
    mode: Literal["extractive", "llm", "extractive-fallback"]
    citations: list[CitationOut]
    removed_citations: int = Field(description="LLM citations of passages not retrieved")
    unsupported_sentences: int = Field(description="LLM sentences removed as unsupported")
    answerability: float | None = Field(description="Extractive score compared with "
                                        "QA_ANSWER__ABSTAIN_BELOW")
    fallback_reason: str = Field(description="Why the LLM was not used, when it failed")
    fallback_code: str = Field(description="... as an error code: llm_unavailable, llm_timeout "
                               "or llm_context_overflow ('' when the LLM was used)")
    passages: list[PassageOut]
    timings_ms: dict[str, float]


class OcrHealth(BaseModel):
    enabled: bool = Field(description="Whether pages without a usable text layer are OCR'd")
    languages: str = Field(description="Tesseract languages, e.g. kor+eng")
    engine: str = Field(description="The OCR engine and its version, when enabled")
    reason: str = Field(description="Why OCR is off, in words ('' when it is on)")


class Health(BaseModel):
    """Open to anyone (no key): says only that the service runs, with which model, and
    whether it reads scanned pages."""

    status: str
    embedding_model: str
    ocr: OcrHealth


class CreateKey(BaseModel):
    kbs: list[str] = Field(min_length=1, max_length=1000,
                           description="Knowledge bases the key may use", examples=[["handbook"]])
    scope: Literal["read", "write"] = Field(
        default="read", description="`read`: search, ask and read documents; `write`: also "
        "upload and delete documents")


class KeyOut(BaseModel):
    id: str = Field(description="Public key id (the key's second part); used to revoke it")
    scope: Literal["read", "write"]
    kbs: list[str]
    created_at: str
    revoked: bool
    revoked_at: str | None


class KeyCreated(KeyOut):
    key: str = Field(description="The key itself, shown only in this response: store it now")


class KeyWho(BaseModel):
    admin: bool = Field(description="The admin key (or auth off): every knowledge base, "
                        "and knowledge bases and keys managed")
    scope: Literal["read", "write", "admin"] = Field(
        description="read: search, ask and read; write: also upload and delete documents")
    kbs: list[str] | None = Field(description="The knowledge bases the key covers; null for "
                                  "the admin, who sees them all")


class KeyList(BaseModel):
    keys: list[KeyOut] = Field(description="Every key ever created (never the keys themselves)")
