"""Parse PDFs in worker processes, so a hostile or broken file can neither hang nor crash us.

Each worker is `python -m ingest.parse_worker` with an address-space limit. A parse gets a
time budget of `base + per_page * pages` seconds (capped), extended once the worker has
counted the pages, and again for each page OCR starts on. A worker that overruns is killed;
one that dies (out of memory, a crash in a C extension) is replaced. Either way the
document ends `failed` with the reason; unless it happened while pdfium was reading the text
layer (before any OCR), in which case the file is read once more, in a fresh worker, with
pypdf reading every page (`ingest.parse`), as it was read before pdfium read text, within
what is left of its budget: a file pdfium cannot survive is not lost for it.
Pages drawn for display (`render`) go to a worker of their own, with the same memory limit,
the OCR drawing's pixel limits and a time limit (`render_timeout_s`), so that a page view
neither waits for an ingestion nor lets a hostile page exhaust the server.
Once the pool is closed no worker starts again, and a parse it interrupted raises
`ParserPoolClosed`: that file was not judged, and its job resumes on the next start.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import queue
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from ingest.ocr import OcrOptions
from ingest.page_image import refusal
from ingest.parse import PYPDF_TEXT, ParseResult
from ingest.parse_worker import FRAME_HEADER, write_frame
from ingest.render import RenderOverLimit, RenderRefused
from qa_service.page_positions import PagePositions
from qa_service.parser_identity import DEFAULT_PARSER_IDENTITY
from qa_service.schemas import DocumentStatus, Page

__all__ = ["PageRender", "ParserLimits", "ParserPool", "ParserPoolClosed", "RenderBusy",
           "with_positions"]

log = logging.getLogger(__name__)

_PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ParserLimits:
    memory_mb: int = 2048
    timeout_base_s: float = 30.0
    timeout_per_page_s: float = 2.0
    timeout_max_s: float = 600.0
    max_pages: int = 2000
    # Chunking and embedding cost in proportion to the text, outside the parsing budget:
    # 10,000 characters a page over 2,000 pages, where real pages hold a few thousand.
    max_text_chars: int = 20_000_000
    parser: str = "pypdf"  # which of `ingest.parse.PARSERS` the workers run
    # `ingest.ocr.OcrOptions` fields, for the `ocr` parser. Each page OCR starts on gets
    # its own budget (Tesseract's limit and the time to draw the page) on top of the rest.
    ocr: tuple[tuple[str, Any], ...] = ()
    ocr_page_budget_s: float = 90.0
    positions: bool = True  # where each character is drawn (`ingest.positions`), per page
    # pdfium reads a page's text and locates its characters in milliseconds; a page it
    # cannot finish (a form drawn a billion times) costs, after this, its text (pypdf reads
    # the file again, within what is left of its budget) and its positions
    positions_base_s: float = 5.0
    positions_per_page_s: float = 0.5
    render_timeout_s: float = 20.0  # drawing one page for display (`ParserPool.render`)

    def identity(self) -> dict[str, Any]:
        """What the workers read pages with, for `IndexIdentity.parser`: the text layer's
        identity, and OCR's (engine, languages, resolution) where it runs."""
        base = dict(DEFAULT_PARSER_IDENTITY)
        if self.parser != "ocr":
            return base
        options = OcrOptions(**dict(self.ocr))
        return {**base, "ocr": f"tesseract-v1:{options.languages}:{float(options.dpi):g}dpi"}

    def budget(self, pages: int) -> float:
        return min(self.timeout_max_s, self.timeout_base_s + self.timeout_per_page_s * pages)

    def positions_budget(self, pages: int) -> float:
        return self.positions_base_s + self.positions_per_page_s * pages


class ParserPoolClosed(Exception):
    """The pool was closed (the service is stopping) before it could parse the file."""


class RenderBusy(RenderRefused):
    """No page renderer became free within the render time limit: try again shortly."""


@dataclass(frozen=True)
class PageRender:
    """A page drawn for display: PNG bytes, at `scale` pixels per point of the page as
    displayed (`width` x `height` points)."""

    png: bytes
    scale: float
    width: float
    height: float


class _WorkerGone(Exception):
    pass


class _Timeout(Exception):
    pass


class _Worker:
    """One parser process and the framed pipe to it."""

    def __init__(self, memory_mb: int) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
        )
        env.setdefault("OMP_NUM_THREADS", "1")
        self.process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", "ingest.parse_worker", "--memory-mb", str(memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        self._buffer = bytearray()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            write_frame(self.process.stdin, message)
        except (OSError, ValueError) as exc:  # ValueError: the pool closed the pipe
            raise _WorkerGone() from exc

    def receive(self, deadline: float) -> dict[str, Any]:
        header = self._read_exactly(FRAME_HEADER.size, deadline)
        (size,) = FRAME_HEADER.unpack(header)
        message: dict[str, Any] = json.loads(self._read_exactly(size, deadline).decode("utf-8"))
        return message

    def _read_exactly(self, size: int, deadline: float) -> bytes:
        assert self.process.stdout is not None
        while len(self._buffer) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout()
            try:  # the pool's close() may kill the worker and close its pipe meanwhile
                fd = self.process.stdout.fileno()
                ready, _, _ = select.select([fd], [], [], remaining)
                chunk = os.read(fd, max(65536, size - len(self._buffer))) if ready else None
            except (OSError, ValueError) as exc:
                raise _WorkerGone() from exc
            if chunk is None:
                raise _Timeout()
            if not chunk:
                raise _WorkerGone()
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()

    def exit_description(self) -> str:
        code = self.process.wait()
        if code < 0:
            return f"killed by signal {-code} (often: out of memory)"
        return f"exited with code {code}"


class ParserPool:
    """A fixed number of parser workers, used by any number of threads."""

    def __init__(self, limits: ParserLimits, size: int = 1) -> None:
        self.limits = limits
        self.size = size  # worker processes that parse at once
        self._idle: queue.Queue[_Worker | None] = queue.Queue()
        for _ in range(size):
            self._idle.put(None)  # a slot; its worker starts on first use
        self._renderers: queue.Queue[_Worker | None] = queue.Queue()
        self._renderers.put(None)  # one worker draws pages for display; it starts on first use
        self._lock = threading.Lock()
        self._all: set[_Worker] = set()
        self._closed = False

    def parse(self, path: Path) -> ParseResult:
        """The file's result. Raises ParserPoolClosed once `close()` was called."""
        slot = self._idle.get()
        reused = slot is not None and slot.alive
        try:
            worker = slot if slot is not None and reused else self._spawn()
        except ParserPoolClosed:
            self._idle.put(None)
            raise
        began = time.monotonic()
        try:
            result, keep, in_text = self._parse_with(worker, path, may_retry=reused)
            if result is None:  # the reused worker had died while idle: once more, fresh
                self._retire(worker)
                worker = self._spawn()
                result, keep, in_text = self._parse_with(worker, path, may_retry=False)
            assert result is not None
            if in_text and time.monotonic() < began + self.limits.budget(result.page_count):
                # pdfium crashed or hung the worker while reading the text layer: once
                # more, fresh, with pypdf reading every page (`ingest.parse`), within what
                # is left of the file's budget
                log.warning("parsing %s failed with pdfium reading its text (%s); reading "
                            "it with pypdf", path.name, result.reason)
                self._retire(worker)
                worker = self._spawn()
                result, keep, _ = self._parse_with(worker, path, may_retry=False,
                                                   text_layer=PYPDF_TEXT, started=began)
                assert result is not None
        except BaseException:
            self._retire(worker)
            self._idle.put(None)
            raise
        if not keep:
            self._retire(worker)
        self._idle.put(worker if keep else None)
        return result

    def _parse_with(self, worker: _Worker, path: Path, may_retry: bool,
                    text_layer: str = "pdfium", started: float | None = None
                    ) -> tuple[ParseResult | None, bool, bool]:
        """(result, keep the worker, whether pdfium failed reading the text layer: the
        worker died or ran past its budget before sending the text and before OCR started
        on a page); (None, False, False) when a reused worker was already dead. The budget
        counts from `started` (now by default)."""
        started = time.monotonic() if started is None else started
        deadline = started + self.limits.timeout_base_s
        pages, heard, ocr_pages = 0, False, 0
        request = {"path": str(path), "max_pages": self.limits.max_pages,
                   "max_chars": self.limits.max_text_chars, "parser": self.limits.parser,
                   "positions": self.limits.positions, "text_layer": text_layer}
        if self.limits.parser == "ocr":
            request["ocr"] = dict(self.limits.ocr)
        try:
            worker.send(request)
            while True:
                message = worker.receive(deadline)
                heard = True
                if message.get("type") == "pages":
                    pages = int(message["count"])
                    deadline = self._text_deadline(started, pages, text_layer)
                    continue
                if message.get("type") == "ocr":
                    ocr_pages += 1
                    deadline = max(deadline, time.monotonic() + self.limits.ocr_page_budget_s)
                    continue
                if message.get("positions") == "next":
                    result = _result_from(message)
                    deadline = min(deadline, time.monotonic()
                                   + self.limits.positions_budget(len(result.pages)))
                    return (*self._with_positions(worker, result, deadline), False)
                return _result_from(message), True, False
        except _Timeout:
            budget = self.limits.budget(pages)
            return ParseResult(
                DocumentStatus.FAILED,
                f"parsing took longer than its budget of {budget:g} s"
                + (f" for {pages:,} pages" if pages else "")
                + (f" (and {self.limits.ocr_page_budget_s:g} s for each of the {ocr_pages:,}"
                   " pages OCR started on)" if ocr_pages else "")
                + "; the file may be malformed or hostile",
                page_count=pages,
            ), False, text_layer == "pdfium" and not ocr_pages
        except _WorkerGone as exc:
            if self._closed:
                raise ParserPoolClosed("the parser pool was closed during the parse") from exc
            if may_retry and not heard:
                return None, False, False
            return ParseResult(
                DocumentStatus.FAILED,
                f"the parser process {worker.exit_description()} while reading this file "
                f"(memory limit {self.limits.memory_mb} MiB)",
                page_count=pages,
            ), False, text_layer == "pdfium" and not ocr_pages

    def _text_deadline(self, started: float, pages: int, text_layer: str) -> float:
        """When a parse that started at `started` and has counted `pages` must have sent
        its text: within its budget, and when pdfium reads the text, within the time
        pdfium is given (`ParserLimits.positions_budget`), after which pypdf reads it."""
        deadline = started + self.limits.budget(pages)
        if text_layer == "pdfium":
            deadline = min(deadline, time.monotonic() + self.limits.positions_budget(pages))
        return deadline

    def _with_positions(self, worker: _Worker, result: ParseResult, deadline: float
                        ) -> tuple[ParseResult, bool]:
        """The text result with the positions the worker sends next; without them (and
        without the worker) if it dies, runs past `deadline` or sends something else."""
        try:
            message = worker.receive(deadline)
        except (_Timeout, _WorkerGone) as exc:
            if self._closed:
                raise ParserPoolClosed("the parser pool was closed during the parse") from exc
            return result, False
        located = message.get("pages") if message.get("type") == "positions" else None
        return with_positions(result, located), located is not None

    def render(self, path: Path, page: int, scale: float, min_scale: float) -> PageRender:
        """Page `page` (1-based) of the PDF at `path` as PNG at `scale` pixels a point, or
        lower (never under `min_scale`) where the page is over the pixel limit. Raises
        `RenderOverLimit` (a limit: pixels, decoded images, memory, time), `RenderBusy`,
        `RenderRefused` (pdfium cannot draw it) or `ParserPoolClosed`."""
        timeout = self.limits.render_timeout_s
        try:
            slot = self._renderers.get(timeout=timeout)
        except queue.Empty:
            raise RenderBusy(f"the page renderer stayed busy for {timeout:g} s") from None
        worker, keep = None, False
        try:
            worker = slot if slot is not None and slot.alive else self._spawn()
            answer, keep = self._render_with(worker, self._render_request(path, page, scale,
                                                                          min_scale))
        finally:
            if worker is not None and not keep:
                self._retire(worker)
            self._renderers.put(worker if keep else None)
        return _page_render(answer)

    def _render_request(self, path: Path, page: int, scale: float, min_scale: float
                        ) -> dict[str, Any]:
        options = OcrOptions(**dict(self.limits.ocr))
        return {"type": "render", "path": str(path), "page": page, "scale": scale,
                "min_scale": min_scale, "max_pixels": int(options.max_megapixels * 1e6),
                "max_image_bytes": int(options.max_image_mb * 1e6)}

    def _render_with(self, worker: _Worker, request: dict[str, Any]
                     ) -> tuple[dict[str, Any], bool]:
        """(the worker's answer, keep the worker)."""
        timeout = self.limits.render_timeout_s
        try:
            worker.send(request)
            return worker.receive(time.monotonic() + timeout), True
        except _Timeout:
            return refusal(f"drawing it took longer than the limit of {timeout:g} s; the "
                           "file may be malformed or hostile", over_limit=True), False
        except _WorkerGone as exc:
            if self._closed:
                raise ParserPoolClosed("the parser pool was closed while drawing") from exc
            return refusal(f"the page renderer {worker.exit_description()} while drawing it "
                           f"(memory limit {self.limits.memory_mb} MiB)", over_limit=True), False

    def _spawn(self) -> _Worker:
        with self._lock:  # under the lock: close() either sees this worker or stops it
            if self._closed:
                raise ParserPoolClosed("the parser pool is closed: the service is stopping")
            worker = _Worker(self.limits.memory_mb)
            self._all.add(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._all if w.alive]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._all = list(self._all), set()
        for worker in workers:
            worker.kill()

    def __enter__(self) -> ParserPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def with_positions(result: ParseResult, located: Any) -> ParseResult:
    """`result` with each page's positions from a worker's "positions" frame; a page whose
    entry is missing or malformed has none (the text never depends on them)."""
    if not isinstance(located, list) or len(located) != len(result.pages):
        return result
    pages = [Page(page.number, page.text, _positions_from(entry))
             for page, entry in zip(result.pages, located, strict=True)]
    return replace(result, pages=pages)


def _positions_from(entry: Any) -> PagePositions | None:
    if not isinstance(entry, dict):
        return None
    try:
        return PagePositions.from_json(entry)
    except (KeyError, TypeError, ValueError):  # binascii.Error is a ValueError
        return None


def _page_render(answer: dict[str, Any]) -> PageRender:
    if answer.get("type") == "image":
        return PageRender(base64.b64decode(answer["png"]), float(answer["scale"]),
                          float(answer["width"]), float(answer["height"]))
    refused = RenderOverLimit if answer.get("over_limit") else RenderRefused
    raise refused(str(answer.get("reason") or "the page renderer sent no image"))


def _result_from(message: dict[str, Any]) -> ParseResult:
    texts: list[str] = list(message.get("pages", []))
    return ParseResult(
        status=DocumentStatus(message["status"]),
        reason=str(message.get("reason", "")),
        pages=[Page(number=i + 1, text=text) for i, text in enumerate(texts)],
        page_count=int(message.get("page_count", 0)),
        title=str(message.get("title", "")),
        ocr_pages=int(message.get("ocr_pages", 0)),
    )
