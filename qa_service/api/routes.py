"""HTTP routes: knowledge bases, documents, jobs, search, health. Each handler is thin."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from ingest.uploads import StagedUpload, UploadLimits
from qa_service.api.deps import (
    AdminCaller,
    AnyKb,
    Caller,
    ExtensibleKb,
    KbName,
    SearchableKb,
    ServicesDep,
    WritableKb,
)
from qa_service.api.events import server_sent_events
from qa_service.api.models import (
    AskRequest,
    AskResponse,
    CreateKnowledgeBase,
    DocumentList,
    DocumentOut,
    ErrorOut,
    Health,
    JobAccepted,
    JobList,
    JobOut,
    KnowledgeBaseList,
    KnowledgeBaseOut,
    OcrHealth,
    PageBoxesOut,
    PageOut,
    SearchRequest,
    SearchResponse,
)
from qa_service.api.stream import ask_events, event_stream
from qa_service.api.upload_stream import receive_upload
from qa_service.errors import DocumentNotFound, JobNotFound, PageNotFound
from qa_service.page_positions import quote_boxes
from qa_service.schemas import DocumentInfo, DocumentStatus, JobState
from qa_service.store.knowledge_base import KnowledgeBase

__all__ = ["UPLOAD_PATH", "router"]

UPLOAD_PATH = "/kbs/{kb}/documents"  # the one route whose body may be large (see BodyLimit)

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 422, 500)
}
UPLOAD_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {
        "type": "object", "required": ["files"],
        "properties": {"files": {"type": "array", "description": "One or more PDF files",
                                 "items": {"type": "string", "format": "binary"}}}}}}}}
UPLOAD_ERRORS: dict[int | str, dict[str, object]] = {
    413: {"model": ErrorOut, "description": "A file, the request or the file count is over "
          "its limit (counted while the body streams)"},
    415: {"model": ErrorOut, "description": "None of the files is a PDF"},
    429: {"model": ErrorOut, "description": "Too many uploads for this key; see Retry-After"},
}
ASK_ERRORS: dict[int | str, dict[str, object]] = {
    429: {"model": ErrorOut, "description": "Too many asks for this key; see Retry-After"},
    502: {"model": ErrorOut, "description": "The LLM failed and QA_LLM_FALLBACK is off"},
    504: {"model": ErrorOut, "description": "The LLM timed out and QA_LLM_FALLBACK is off"},
    200: {"content": {"text/event-stream": {}},
          "description": "The answer; with `stream: true`, Server-Sent Events"},
}
JobLimit = Annotated[int, Query(ge=1, le=200, description="How many jobs, at most")]
JobStateFilter = Annotated[JobState | None, Query(description="Only the jobs in this state")]
router = APIRouter(responses=ERRORS)


@router.get("/health", response_model=Health, tags=["service"])
def health(services: ServicesDep) -> Health:
    """No key needed; says nothing about the knowledge bases."""
    return Health(status="ok", embedding_model=services.embedder.name,
                  ocr=OcrHealth(**services.ocr.to_json()))


@router.post("/kbs", status_code=status.HTTP_201_CREATED, response_model=KnowledgeBaseOut,
             tags=["knowledge bases"])
def create_kb(body: CreateKnowledgeBase, services: ServicesDep,
              _admin: AdminCaller) -> dict[str, object]:
    """Admin key only."""
    return services.create_kb(body.name).info().to_json()


@router.get("/kbs", response_model=KnowledgeBaseList, tags=["knowledge bases"])
def list_kbs(services: ServicesDep, caller: Caller) -> dict[str, object]:
    """The knowledge bases this key may use (all of them for the admin key)."""
    infos = [services.registry.open(name).info().to_json()
             for name in services.registry.names() if caller.can_see(name)]
    return {"knowledge_bases": infos}


@router.get("/kbs/{kb}", response_model=KnowledgeBaseOut, tags=["knowledge bases"])
def get_kb(kb: AnyKb) -> dict[str, object]:
    return kb.info().to_json()


@router.delete("/kbs/{kb}", status_code=status.HTTP_204_NO_CONTENT, tags=["knowledge bases"])
def delete_kb(kb: KbName, services: ServicesDep, _admin: AdminCaller) -> Response:
    """Admin key only. Keys lose their access to it (a new one with the same name is not
    readable with them)."""
    services.delete_kb(kb)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(UPLOAD_PATH, status_code=status.HTTP_202_ACCEPTED,
             response_model=JobAccepted, tags=["documents"], openapi_extra=UPLOAD_BODY,
             responses=UPLOAD_ERRORS)
async def upload_documents(request: Request, kb: ExtensibleKb, services: ServicesDep,
                           caller: Caller) -> JobAccepted:
    """Queue PDFs (multipart field `files`, repeated) for ingestion; follow progress at
    `GET /kbs/{kb}/jobs/{job_id}`. Needs a `write` key. Files are written only under the
    knowledge base, named by position; the filename sent is display metadata."""
    services.access.uploads.take(caller.key_id)
    limits = UploadLimits(max_file_bytes=services.settings.ingest.max_file_bytes,
                          max_files=services.settings.limits.max_files)
    with StagedUpload(kb, limits) as upload:
        await receive_upload(request, upload)
        job_id = await run_in_threadpool(upload.commit)
    services.runner.submit(kb.name, job_id)
    return JobAccepted(job_id=job_id, state=JobState.QUEUED, files_total=upload.file_count)


@router.get("/kbs/{kb}/jobs", response_model=JobList, tags=["documents"])
def list_jobs(kb: AnyKb, limit: JobLimit = 20, state: JobStateFilter = None
              ) -> dict[str, object]:
    """The knowledge base's recent ingestion jobs, newest first, without each file's
    outcome (`GET /kbs/{kb}/jobs/{job_id}` has them): to find a job id again."""
    return {"jobs": [job.to_json() for job in kb.catalog.jobs(limit, state)]}


@router.get("/kbs/{kb}/jobs/{job_id}", response_model=JobOut, tags=["documents"])
def get_job(kb: AnyKb, job_id: str) -> dict[str, object]:
    """A job's state, progress and each file's outcome (status, reason, document_id)."""
    job = kb.catalog.job(job_id)
    if job is None:
        raise JobNotFound(kb.name, job_id)
    return job.to_json()


@router.get("/kbs/{kb}/documents", response_model=DocumentList, tags=["documents"])
def list_documents(kb: AnyKb) -> dict[str, object]:
    return {"documents": [d.to_json() for d in kb.catalog.documents()]}


def _document(kb: KnowledgeBase, doc_id: str) -> DocumentInfo:
    info = kb.catalog.document(doc_id)
    if info is None:
        raise DocumentNotFound(kb.name, doc_id)
    return info


@router.get("/kbs/{kb}/documents/{doc_id}", response_model=DocumentOut, tags=["documents"])
def get_document(kb: AnyKb, doc_id: str) -> dict[str, object]:
    return _document(kb, doc_id).to_json()


@router.get("/kbs/{kb}/documents/{doc_id}/file", response_class=FileResponse,
            tags=["documents"], responses={200: {"content": {"application/pdf": {}}}})
def get_document_file(kb: AnyKb, doc_id: str) -> FileResponse:
    """The original PDF, as uploaded (kept for indexed documents)."""
    info = _document(kb, doc_id)
    path = kb.file_path(doc_id)
    if info.status is not DocumentStatus.INDEXED or not path.is_file():
        raise DocumentNotFound(kb.name, doc_id)
    return FileResponse(path, media_type="application/pdf", filename=info.filename)


def _no_page(info: DocumentInfo, page: int) -> PageNotFound:
    return PageNotFound(f"document '{info.id}' has no page {page}"
                        + (f"; its pages are 1-{info.pages}" if info.pages else ""))


@router.get("/kbs/{kb}/documents/{doc_id}/pages/{page}", response_model=PageOut,
            tags=["documents"])
def get_page(kb: AnyKb, doc_id: str, page: int) -> PageOut:
    info = _document(kb, doc_id)
    text = kb.catalog.page_text(doc_id, page) if 1 <= page <= info.pages else None
    if text is None:
        raise _no_page(info, page)
    return PageOut(document_id=doc_id, page=page, text=text)


@router.get("/kbs/{kb}/documents/{doc_id}/pages/{page}/boxes", response_model=PageBoxesOut,
            tags=["documents"])
def get_page_boxes(kb: AnyKb, doc_id: str, page: int, start: int | None = None,
                   end: int | None = None) -> dict[str, object]:
    """Where characters [start, end) of the page's text are drawn on the page, to highlight
    a citation (`start` = its `char_start`, `end` = its `char_end`; default: the whole
    page). 422 `invalid_range` unless 0 <= start < end <= the text's length."""
    info = _document(kb, doc_id)
    found = kb.catalog.page_with_positions(doc_id, page) if 1 <= page <= info.pages else None
    if found is None:
        raise _no_page(info, page)
    return {"document_id": doc_id, "page": page,
            **asdict(quote_boxes(found[0], found[1], start, end))}


@router.delete("/kbs/{kb}/documents/{doc_id}", status_code=status.HTTP_204_NO_CONTENT,
               tags=["documents"])
def delete_document(kb: WritableKb, doc_id: str) -> Response:
    """Needs a `write` key."""
    if not kb.delete_document(doc_id):
        raise DocumentNotFound(kb.name, doc_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/kbs/{kb}/search", response_model=SearchResponse, tags=["search"])
def search(kb: SearchableKb, body: SearchRequest, services: ServicesDep) -> dict[str, object]:
    passages = services.retriever.search(kb, body.query, body.k, body.document_ids)
    return {"passages": [p.to_json() for p in passages]}


@router.post("/kbs/{kb}/ask", response_model=AskResponse, tags=["ask"], responses=ASK_ERRORS)
def ask(kb: SearchableKb, body: AskRequest, services: ServicesDep, caller: Caller) -> Any:
    """Answer from the knowledge base's documents, with citations, or abstain.

    With `stream: true` the reply is `text/event-stream`: `event: token` (`{"text"}`)
    as the answer arrives, then `event: result` with the full checked answer. Checking
    can remove text that was already streamed: the `result` is authoritative. A failure
    after streaming began arrives as `event: error` (`{"error": {"code", "message"}}`).
    With `messages` (the conversation so far), a follow-up question is first rewritten into
    a standalone one (`standalone_question`), which the search and the answer use.
    Asks are rate-limited per key (QA_LIMITS__ASKS_PER_MINUTE)."""
    services.access.asks.take(caller.key_id)
    if not body.stream:
        return services.asker.ask(kb, body.asked(), body.k, body.mode, body.document_ids,
                                  history=body.history()).to_json()
    items = services.asker.ask_stream(kb, body.asked(), body.k, body.mode, body.document_ids,
                                      history=body.history())
    events = ask_events(items)  # errors before anything was sent keep their HTTP status
    return event_stream(server_sent_events(events))
