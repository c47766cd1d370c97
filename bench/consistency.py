"""No result from a half-written state: the checks made on every search and ask response.

A document becomes visible at one SQLite commit (`indexes/README.md`), so whatever a
response returns must belong to a document in its final state:

- every passage is one of its document's final chunks (id, page, offsets and text, as the
  chunker cuts the pages the parser extracts: `bench/fact_corpus.py` computes them), and
  its text is the page text at its offsets (`GET .../pages/{n}`, itself checked against
  the parsed page);
- every citation cites a passage of the same response, within that passage, and its quote
  is the page text at its offsets;
- every document returned is `indexed` with its final page and chunk counts
  (`GET .../documents/{id}`), and the first time one is returned, its job (when it came
  through the API) already records it indexed, with the same chunk count: the job's
  outcome is written in the same transaction that publishes the document.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from bench.load_run import DocumentState, LoadRun

__all__ = ["ConsistencyChecker"]


class ConsistencyChecker:
    def __init__(self, run: LoadRun) -> None:
        self.run = run
        self._pages: dict[tuple[str, int], str | None] = {}
        self._lock = threading.Lock()

    def check(self, api: httpx.Client, body: dict[str, Any], what: str) -> None:
        """Check one search or ask response (`passages`, and `citations` if any)."""
        at = self.run.now()
        passages = body["passages"]
        for passage in passages:
            self._passage(api, passage, what)
        by_chunk = {p["chunk_id"]: p for p in passages}
        for citation in body.get("citations", []):
            self._citation(api, citation, by_chunk.get(citation["chunk_id"]), what)
        for doc_id in dict.fromkeys(p["document_id"] for p in passages):
            self._document(api, doc_id, at, what)

    def _known(self, doc_id: str, what: str) -> DocumentState | None:
        state = self.run.document(doc_id)
        if state is None:
            self.run.violation(f"{what}: returned an unknown document {doc_id}")
        return state

    def _passage(self, api: httpx.Client, passage: dict[str, Any], what: str) -> None:
        state = self._known(passage["document_id"], what)
        if state is None:
            return
        chunk = state.doc.chunks.get(passage["chunk_id"])
        got = (passage["page"], passage["char_start"], passage["char_end"], passage["text"],
               passage["filename"])
        if chunk is None or got != (chunk.page, chunk.char_start, chunk.char_end, chunk.text,
                                    state.display_name):
            self.run.violation(f"{what}: passage {passage['chunk_id']} of {state.doc.filename} "
                               f"(page {got[0]}, {got[1]}-{got[2]}) is not one of the "
                               "document's final chunks")
        page = self._page(api, state, passage["page"])
        if page is not None and page[passage["char_start"]:passage["char_end"]] != passage["text"]:
            self.run.violation(f"{what}: passage {passage['chunk_id']} of {state.doc.filename} "
                               "differs from its page's text at its offsets")

    def _citation(self, api: httpx.Client, citation: dict[str, Any],
                  passage: dict[str, Any] | None, what: str) -> None:
        start, end = citation["char_start"], citation["char_end"]
        if passage is None or passage["document_id"] != citation["document_id"]:
            self.run.violation(f"{what}: citation [{citation['number']}] cites chunk "
                               f"{citation['chunk_id']}, which is not among the passages")
        elif not passage["char_start"] <= start < end <= passage["char_end"]:
            self.run.violation(f"{what}: citation [{citation['number']}] ({start}-{end}) lies "
                               f"outside its passage ({passage['char_start']}-"
                               f"{passage['char_end']})")
        state = self._known(citation["document_id"], what)
        page = self._page(api, state, citation["page"]) if state is not None else None
        if page is not None and page[start:end] != citation["quote"]:
            self.run.violation(f"{what}: citation [{citation['number']}] quote is not the text "
                               f"of page {citation['page']} at {start}-{end}")

    def _page(self, api: httpx.Client, state: DocumentState, number: int) -> str | None:
        """The served text of a page (read once: a document's pages never change), checked
        against the parsed page. None when it could not be read (already reported)."""
        key = (state.doc.id, number)
        with self._lock:
            if key in self._pages:
                return self._pages[key]
        body = self.run.call(api, "page", "GET",
                             f"/kbs/{self.run.kb}/documents/{state.doc.id}/pages/{number}")
        text = None if body is None else str(body["text"])
        if text is not None and text != state.doc.pages.get(number):
            self.run.violation(f"page {number} of {state.doc.filename} is served with "
                               "different text than the PDF's page")
        with self._lock:
            self._pages[key] = text
        return text

    def _document(self, api: httpx.Client, doc_id: str, at: float, what: str) -> None:
        state = self.run.document(doc_id)
        if state is None:
            return  # reported by _known
        info = self.run.call(api, "document", "GET", f"/kbs/{self.run.kb}/documents/{doc_id}")
        expected = ("indexed", len(state.doc.pages), len(state.doc.chunks))
        if info is not None and (info["status"], info["pages"], info["chunks"]) != expected:
            self.run.violation(f"{what}: returned {state.doc.filename}, which is "
                               f"{info['status']} with {info['pages']} pages and "
                               f"{info['chunks']} chunks; expected {expected}")
        if self.run.first_result(doc_id, at) and state.job_id is not None:
            self._job_agrees(api, state, what)

    def _job_agrees(self, api: httpx.Client, state: DocumentState, what: str) -> None:
        job = self.run.call(api, "job", "GET", f"/kbs/{self.run.kb}/jobs/{state.job_id}")
        if job is None:
            return
        outcome = next((f for f in job["files"] if f["document_id"] == state.doc.id), None)
        if outcome is None or (outcome["status"], outcome["chunks"]) != (
                "indexed", len(state.doc.chunks)):
            self.run.violation(f"{what}: returned {state.doc.filename} before its job recorded "
                               f"it indexed ({outcome})")
