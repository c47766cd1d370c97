"""HTTP routes: knowledge bases, documents, jobs, search, health. Each handler is thin."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from ingest.parser_pool import PageRender, RenderBusy
from ingest.render import RenderOverLimit, RenderRefused
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
from qa_service.errors import (
    DocumentNotFound,
    JobNotFound,
    NotFound,
    PageNotFound,
    PayloadTooLarge,
    QAError,
    RateLimited,
)
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
IMAGE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"image/png": {}}, "description": "The page as PNG; `X-Page-Scale` is "
          "the scale it was drawn at (pixels per point), `ETag` and `Cache-Control` are set"},
    304: {"description": "Not modified: `If-None-Match` holds the image's ETag"},
    413: {"model": ErrorOut, "description": "The page is over a drawing limit (decoded "
          "images, pixels even at scale 0.25, the worker's memory or time)"},
    429: {"model": ErrorOut, "description": "The page renderer is busy; see Retry-After"},
}
PAGE_IMAGE_MIN_SCALE, PAGE_IMAGE_MAX_SCALE = 0.25, 4.0
PAGE_IMAGE_CACHE = "private, max-age=604800"  # a document id is its content's hash
PAGE_IMAGE_FORMAT = "png-rgb-1"  # change it when the drawing changes: clients' ETags expire
PageScale = Annotated[float, Query(
    ge=PAGE_IMAGE_MIN_SCALE, le=PAGE_IMAGE_MAX_SCALE,
    description="Pixels per PDF point (1 = 72 dpi, 1.5 = 108 dpi)")]
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
    return {"jobs": [job.to_json() for job in kb.jobs(limit, state)]}


@router.get("/kbs/{kb}/jobs/{job_id}", response_model=JobOut, tags=["documents"])
def get_job(kb: AnyKb, job_id: str) -> dict[str, object]:
    """A job's state, progress and each file's outcome (status, reason, document_id)."""
    job = kb.job(job_id)
    if job is None:
        raise JobNotFound(kb.name, job_id)
    return job.to_json()


@router.get("/kbs/{kb}/documents", response_model=DocumentList, tags=["documents"])
def list_documents(kb: AnyKb) -> dict[str, object]:
    return {"documents": [d.to_json() for d in kb.documents()]}


def _document(kb: KnowledgeBase, doc_id: str) -> DocumentInfo:
    info = kb.document(doc_id)
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
    text = kb.page_text(doc_id, page) if 1 <= page <= info.pages else None
    if text is None:
        raise _no_page(info, page)
    return PageOut(document_id=doc_id, page=page, text=text)


@router.get("/kbs/{kb}/documents/{doc_id}/pages/{page}/boxes", response_model=PageBoxesOut,
            tags=["documents"])
def get_page_boxes(kb: AnyKb, doc_id: str, page: int, start: int | None = None,
                   end: int | None = None) -> dict[str, object]:
    """Where characters [start, end) of the page's text are drawn on the page, to highlight
    a citation (`start` = its `char_start`, `end` = its `char_end`; default: the whole
    page). 422 `invalid_range` unless 0 <= start < end <= the text's length.

    Boxes are in PDF points of the page as displayed, origin at its top-left corner, y
    down. On the page's image (`GET .../pages/{page}/image`) a box is at
    `x_px = x * scale`, `y_px = y * scale`, with `scale` the image's `X-Page-Scale`."""
    info = _document(kb, doc_id)
    found = kb.page_with_positions(doc_id, page) if 1 <= page <= info.pages else None
    if found is None:
        raise _no_page(info, page)
    return {"document_id": doc_id, "page": page,
            **asdict(quote_boxes(found[0], found[1], start, end))}


@router.get("/kbs/{kb}/documents/{doc_id}/pages/{page}/image", response_class=Response,
            tags=["documents"], responses=IMAGE_RESPONSES)
def get_page_image(kb: AnyKb, doc_id: str, page: int, services: ServicesDep,
                   scale: PageScale = 1.5,
                   if_none_match: Annotated[str | None, Header()] = None) -> Response:
    """The page drawn as PNG (RGB) from the stored PDF, `scale` pixels per PDF point of the
    page as displayed (crop box, rotation applied). A page larger than the pixel limit
    (QA_INGEST__OCR_MAX_MEGAPIXELS) at `scale` is drawn smaller, never under 0.25: the
    `X-Page-Scale` header always holds the scale used, so a box of
    `GET .../pages/{page}/boxes` (points, top-left origin) is at `x * X-Page-Scale`,
    `y * X-Page-Scale` pixels. The image of a page never changes for a document id (its
    content's hash): it has an `ETag` (send `If-None-Match` for a 304) and
    `Cache-Control: private`. Drawn in a parser worker within its memory, pixel, image and
    time limits (QA_INGEST__PAGE_IMAGE_TIMEOUT_S); a page over them is refused (413).
    Only indexed documents keep their PDF: another document's pages answer 404."""
    path = _stored_pdf(kb, doc_id, page)
    limit = services.settings.ingest.ocr_max_megapixels
    headers = {"ETag": _image_tag(doc_id, page, scale, limit), "Cache-Control": PAGE_IMAGE_CACHE}
    if if_none_match and _matches(if_none_match, headers["ETag"]):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    drawn = _draw(services.parsers.render, path, page, scale)
    headers["X-Page-Scale"] = f"{drawn.scale:.6g}"
    return Response(drawn.png, media_type="image/png", headers=headers)


def _stored_pdf(kb: KnowledgeBase, doc_id: str, page: int) -> Path:
    info = _document(kb, doc_id)
    if info.status is not DocumentStatus.INDEXED:
        raise NotFound(f"document '{doc_id}' ended {info.status.value}: only indexed "
                       "documents keep their PDF, so its pages cannot be drawn")
    if not 1 <= page <= info.pages:
        raise _no_page(info, page)
    path = kb.file_path(doc_id)
    if not path.is_file():
        raise NotFound(f"the PDF of document '{doc_id}' is not stored (it was deleted "
                       "meanwhile); list the documents again")
    return path


def _image_tag(doc_id: str, page: int, scale: float, max_megapixels: float) -> str:
    key = f"{PAGE_IMAGE_FORMAT}:{doc_id}:{page}:{scale!r}:{max_megapixels!r}"
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


def _matches(if_none_match: str, tag: str) -> bool:
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or tag in tags


def _draw(render: Callable[[Path, int, float, float], PageRender], path: Path, page: int,
          scale: float) -> PageRender:
    """`render(path, page, scale, min_scale)`'s image; its refusals as API errors."""
    try:
        drawn = render(path, page, scale, PAGE_IMAGE_MIN_SCALE)
    except RenderBusy as exc:
        raise RateLimited(f"page {page} cannot be drawn now: {exc}; try again",
                          retry_after=1) from exc
    except RenderOverLimit as exc:
        raise PayloadTooLarge(f"page {page} is not drawn: {exc}") from exc
    except RenderRefused as exc:
        raise QAError(f"page {page} cannot be drawn: {exc}") from exc
    return drawn


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
