"""The parser worker process: `python -m ingest.parse_worker --memory-mb N`.

It limits its own address space, then answers requests on stdin/stdout, one at a time.
Frames are a 4-byte big-endian length followed by UTF-8 JSON (no pickle):

    request   {"path": "...", "max_pages": 2000, "max_chars": 20000000, "positions": true,
               "parser": "ocr", "ocr": {"languages": "kor+eng", ...},
               "text_layer": "pdfium"}             (or "pypdf": `ingest.parse.TEXT_LAYERS`)
    progress  {"type": "pages", "count": 12}          (once the page count is known)
              {"type": "ocr", "page": 3}              (as OCR starts on a page)
    answer    {"type": "result", "status": "indexed", "reason": "", "page_count": 12,
               "pages": ["text of page 1", ...], "ocr_pages": 1, "positions": "next"}
    then      {"type": "positions", "pages": [{...PagePositions.to_json()}, null, ...]}

A request `{"type": "render", ...}` asks for one page drawn as PNG instead; its frames are
described in `ingest.page_image`.

The text is sent first and where each character is drawn (`ingest.positions`; for an OCR'd
page, its OCR boxes) after it, only for an indexed document when the request asks: if that
second step crashes the worker or runs past the budget, the pool keeps the text and the
pages have no positions.
"""

from __future__ import annotations

import argparse
import json
import resource
import struct
import sys
from typing import IO, Any

__all__ = ["FRAME_HEADER", "positions_of", "read_frame", "write_frame"]

FRAME_HEADER = struct.Struct(">I")


def write_frame(stream: IO[bytes], message: dict[str, Any]) -> None:
    payload = json.dumps(message, ensure_ascii=False).encode("utf-8")
    stream.write(FRAME_HEADER.pack(len(payload)) + payload)
    stream.flush()


def read_frame(stream: IO[bytes]) -> dict[str, Any] | None:
    """The next message, or None at end of stream."""
    header = stream.read(FRAME_HEADER.size)
    if len(header) < FRAME_HEADER.size:
        return None
    (size,) = FRAME_HEADER.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        return None
    message: dict[str, Any] = json.loads(payload.decode("utf-8"))
    return message


def _limit_memory(megabytes: int) -> None:
    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _serve(memory_mb: int) -> None:
    from ingest.page_image import render_request
    from ingest.parse import TEXT_LAYERS, parser_named
    from qa_service.errors import describe
    from qa_service.schemas import DocumentStatus

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while (request := read_frame(stdin)) is not None:
        if request.get("type") == "render":  # a page for display (`ingest.page_image`)
            write_frame(stdout, render_request(request))
            continue
        try:
            with open(request["path"], "rb") as handle:
                data = handle.read()
            parser = parser_named(str(request.get("parser", "pypdf")), request.get("ocr"),
                                  str(request.get("text_layer", TEXT_LAYERS[0])))
            result = parser.parse(
                data,
                max_pages=int(request["max_pages"]),
                max_chars=int(request["max_chars"]) if "max_chars" in request else None,
                on_page_count=lambda n: write_frame(stdout, {"type": "pages", "count": n}),
                on_ocr_page=lambda n: write_frame(stdout, {"type": "ocr", "page": n}),
            )
            answer: dict[str, Any] = {
                "type": "result",
                "status": result.status.value,
                "reason": result.reason,
                "page_count": result.page_count,
                "title": result.title,
                "pages": [page.text for page in result.pages],
                "ocr_pages": result.ocr_pages,
            }
            if request.get("positions") and result.status is DocumentStatus.INDEXED:
                write_frame(stdout, {**answer, "positions": "next"})
                answer = {"type": "positions", "pages": _positions(data, result.pages)}
        except MemoryError:
            answer = _failure(
                DocumentStatus.FAILED,
                f"parsing needed more than the worker's memory limit of {memory_mb} MiB",
            )
        except Exception as exc:  # noqa: BLE001 - report every failure, never die silently
            answer = _failure(DocumentStatus.FAILED, f"parser error: {describe(exc)}")
        write_frame(stdout, answer)


def _positions(data: bytes, pages: list[Any]) -> list[dict[str, Any] | None]:
    """Each page's positions: an OCR'd page's own boxes, pdfium's glyphs for the others."""
    located = positions_of(data, ["" if page.positions is not None else page.text
                                  for page in pages])
    return [page.positions.to_json() if page.positions is not None else found
            for page, found in zip(pages, located, strict=True)]


def positions_of(data: bytes, texts: list[str]) -> list[dict[str, Any] | None]:
    """Each page's positions, JSON-safe; None for every page when they cannot be had."""
    from ingest.parse import find_pdf_header
    from ingest.positions import locate_pages

    try:
        located = locate_pages(data[max(0, find_pdf_header(data)):], texts)
    except Exception:  # noqa: BLE001 - MemoryError included: the text stands without them
        return [None] * len(texts)
    return [None if p is None else p.to_json() for p in located]


def _failure(status: Any, reason: str) -> dict[str, Any]:
    return {"type": "result", "status": status.value, "reason": reason, "page_count": 0,
            "pages": []}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memory-mb", type=int, required=True)
    args = parser.parse_args()
    _limit_memory(args.memory_mb)
    sys.setrecursionlimit(5000)
    _serve(args.memory_mb)


if __name__ == "__main__":
    main()
