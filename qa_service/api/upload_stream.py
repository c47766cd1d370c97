"""Reading a multipart upload as it streams: each file part goes straight to its staged
file under the knowledge base (nothing is spooled elsewhere), with limits counted on the
way (see `ingest.uploads.StagedUpload`)."""

from __future__ import annotations

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from ingest.uploads import StagedUpload
from qa_service.errors import InvalidRequest

__all__ = ["FILES_FIELD", "receive_upload"]

FILES_FIELD = "files"


class _PartReader:
    """Callbacks for python-multipart's streaming parser."""

    def __init__(self, upload: StagedUpload) -> None:
        self.upload = upload
        self._field, self._value = b"", b""
        self._disposition = b""
        self._is_file = False

    def on_part_begin(self) -> None:
        self._disposition, self._is_file = b"", False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        if self._field.lower() == b"content-disposition":
            self._disposition = self._value
        self._field, self._value = b"", b""

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self._disposition)
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if name != FILES_FIELD:
            return  # other form fields are ignored (their bytes still count to the limit)
        filename = params.get(b"filename")
        self._is_file = True
        self.upload.begin_file(filename.decode("utf-8", "replace") if filename else None)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.upload.write(data[start:end])


async def receive_upload(request: Request, upload: StagedUpload) -> None:
    """Stream the request's multipart body into `upload`. The body's total size is
    limited by the app's body-limit middleware; per-file size and file count here."""
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidRequest("send the PDFs as multipart/form-data, one or more parts named "
                             f"'{FILES_FIELD}'")
    reader = _PartReader(upload)
    parser = MultipartParser(boundary, {
        "on_part_begin": reader.on_part_begin,
        "on_header_field": reader.on_header_field,
        "on_header_value": reader.on_header_value,
        "on_header_end": reader.on_header_end,
        "on_headers_finished": reader.on_headers_finished,
        "on_part_data": reader.on_part_data,
    })
    try:
        async for chunk in request.stream():
            await run_in_threadpool(parser.write, chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise InvalidRequest(f"malformed multipart body: {exc}") from exc
