"""`qa kb rebuild`'s library side (`ingest.rebuild`): documents built by an older pipeline
are parsed again from their stored originals and replaced one at a time, each switching
from one complete version to the other; nothing is lost when a document no longer
parses, and an interrupted rebuild finishes when run again.

The "older pipeline" is the light crash-test pipeline with two differences, as an
upgrade's would be: its parser read "hoops" where the current one reads "rings", and it
recorded no pipeline version (chunk ids without one), as releases before versions did.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.chunk import ChunkerConfig
from ingest.jobs import run_job
from ingest.parse import ParseResult, parse_pdf
from ingest.pipeline import IngestPipeline, Progress
from ingest.prepare import DocumentSource, prepare_document
from ingest.rebuild import RebuildOutcome, RebuildReport, RebuildStatus, rebuild_knowledge_base
from qa_service.config import RetrievalSettings
from qa_service.lexical import LexicalIndex
from qa_service.retrieval import HybridRetriever
from qa_service.schemas import DocumentStatus, Page, PreparedDocument
from qa_service.store.knowledge_base import IndexIdentity, KnowledgeBase
from qa_service.store.registry import KnowledgeBaseRegistry
from qa_service.tokens import Tokenizer
from tests.crash_child import embedder, identity, inject, light_pipeline, raise_at
from tests.store.crash_support import KB, Source, assert_consistent, make_source, upload

OLD_PARSER = {"name": "pypdf", "text": "nfc-v1"}  # before "tables": "layout-rows-v1"
OLD_LEXICAL = {"name": "sqlite-fts5-bm25", "tokens": "kiwi-words-v1"}
RINGS = ["Saturn's rings are made of ice and rock. The rings are thin and wide. " * 3,
         "Mercury is the smallest planet and the closest to the Sun. " * 3]


class OldParser:
    """The parser pool's interface, reading page text as an older parser did."""

    size = 1

    def __init__(self, max_pages: int = 50) -> None:
        self.max_pages = max_pages

    def parse(self, path: Path) -> ParseResult:
        result = parse_pdf(path.read_bytes(), max_pages=self.max_pages)
        pages = [Page(p.number, p.text.replace("rings", "hoops")) for p in result.pages]
        return dataclasses.replace(result, pages=pages)


class CurrentParser(OldParser):
    def parse(self, path: Path) -> ParseResult:
        return parse_pdf(path.read_bytes(), max_pages=self.max_pages)


class OldPipeline(IngestPipeline):
    """What a release before pipeline versions built: no version, unversioned chunk ids."""

    def prepare(self, kb: KnowledgeBase, source: DocumentSource, parsed: ParseResult,
                report: Progress) -> PreparedDocument:
        chunker = ChunkerConfig.from_description(kb.manifest["chunker"])
        return prepare_document(source, parsed, chunker, self.embedder, self.lexical)


@pytest.fixture(scope="module")
def lexical() -> LexicalIndex:
    return LexicalIndex(Tokenizer())  # English only: the Korean analyser never loads


@pytest.fixture
def pipeline(lexical: LexicalIndex) -> IngestPipeline:
    return dataclasses.replace(light_pipeline(lexical), parsers=CurrentParser())


@pytest.fixture
def old_pipeline(pipeline: IngestPipeline) -> IngestPipeline:
    fields = {f.name: getattr(pipeline, f.name) for f in dataclasses.fields(pipeline)}
    return OldPipeline(**{**fields, "parsers": OldParser()})


@pytest.fixture
def searcher(lexical: LexicalIndex) -> HybridRetriever:
    return HybridRetriever(embedder(), lexical, RetrievalSettings(lexical_weight=1,
                                                                  dense_weight=0))


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[KnowledgeBaseRegistry]:
    opened = KnowledgeBaseRegistry(tmp_path / "data")
    yield opened
    opened.close()


@pytest.fixture
def sources() -> list[Source]:
    rng = random.Random(7)
    return [Source("planets.pdf", _pdf(RINGS)), make_source(rng, "minutes.pdf", pages=3)]


def _pdf(pages: list[str]) -> bytes:
    from tests.pdfs import text_pdf

    return text_pdf(pages)


@pytest.fixture
def kb(registry: KnowledgeBaseRegistry, old_pipeline: IngestPipeline, sources: list[Source]
       ) -> KnowledgeBase:
    """A knowledge base an older release built: its manifest, page text and chunk ids."""
    base = registry.create(KB, dataclasses.replace(identity(), parser=OLD_PARSER,
                                                   lexical=OLD_LEXICAL))
    job = run_job(old_pipeline, base, upload(base, sources))
    assert job is not None and {f.status for f in job.files} == {DocumentStatus.INDEXED}
    return base


def chunk_ids(kb: KnowledgeBase, doc_id: str) -> set[int]:
    return set(kb.catalog.chunk_ids_of(kb.catalog.connection(), [doc_id]))


def found(searcher: HybridRetriever, kb: KnowledgeBase, query: str) -> list[str]:
    return [p.text for p in searcher.search(kb, query, 5)]


def by_name(report: RebuildReport) -> dict[str, RebuildStatus]:
    return {outcome.filename: outcome.status for outcome in report.documents}


def test_a_rebuild_reparses_every_document_and_keeps_ids_names_and_counts(
        kb: KnowledgeBase, pipeline: IngestPipeline, searcher: HybridRetriever,
        sources: list[Source]) -> None:
    before = kb.catalog.documents()
    old_ids = {d.id: chunk_ids(kb, d.id) for d in before}
    planets = sources[0].doc_id
    assert "hoops" in (kb.catalog.page_text(planets, 1) or "")
    assert found(searcher, kb, "hoops") and not found(searcher, kb, "rings")
    assert kb.rebuild_needed and kb.info().rebuild_needed

    heard = []
    report = rebuild_knowledge_base(pipeline, kb, on_document=heard.append)

    assert [o.status for o in report.documents] == [RebuildStatus.REBUILT] * 2
    assert heard == report.documents and report.identity_recorded
    after = kb.catalog.documents()
    same = ("id", "filename", "status", "pages", "chunks", "size_bytes", "created_at")
    assert [[getattr(d, f) for f in same] for d in after] == \
        [[getattr(d, f) for f in same] for d in before]
    assert [(o.document_id, o.pages, o.chunks) for o in report.documents] == [
        (d.id, d.pages, d.chunks) for d in after]
    page = kb.catalog.page_text(planets, 1) or ""
    assert "rings" in page and "hoops" not in page
    assert found(searcher, kb, "hoops") == []
    assert "rings" in found(searcher, kb, "Saturn rings")[0]
    for doc_id, old in old_ids.items():
        assert chunk_ids(kb, doc_id).isdisjoint(old)  # two versions never share a vector id
    state = assert_consistent(kb)
    assert not state.interrupted and state.leftovers == []
    assert kb.manifest["parser"] == IndexIdentity("x", 1).parser
    assert kb.manifest["lexical"] == IndexIdentity("x", 1).lexical
    assert kb.manifest["chunker"] == pipeline.identity_for(kb).chunker
    assert not kb.rebuild_needed and not kb.info().rebuild_needed

    again = rebuild_knowledge_base(pipeline, kb)
    assert [o.status for o in again.documents] == [RebuildStatus.UNCHANGED] * 2
    assert kb.catalog.documents() == after


def test_a_document_that_no_longer_parses_keeps_its_indexed_version(
        kb: KnowledgeBase, pipeline: IngestPipeline, searcher: HybridRetriever,
        sources: list[Source]) -> None:
    strict = dataclasses.replace(pipeline, parsers=CurrentParser(max_pages=2))
    report = rebuild_knowledge_base(strict, kb)

    assert by_name(report) == {"planets.pdf": RebuildStatus.REBUILT,
                               "minutes.pdf": RebuildStatus.FAILED}
    (minutes,) = [o for o in report.documents if o.status is RebuildStatus.FAILED]
    assert minutes.reason.startswith("too_large: 3 pages is over the limit of 2")
    assert "stays searchable" in minutes.reason
    kept = kb.catalog.document(minutes.document_id)
    assert kept is not None and kept.status is DocumentStatus.INDEXED
    assert (minutes.pages, minutes.chunks) == (kept.pages, kept.chunks) == (3, kept.chunks)
    assert searcher.search(kb, sources[1].probe, 3)[0].document_id == sources[1].doc_id
    assert not report.identity_recorded and kb.rebuild_needed  # one is still old
    assert_consistent(kb)

    finished = rebuild_knowledge_base(pipeline, kb)
    assert by_name(finished) == {"planets.pdf": RebuildStatus.UNCHANGED,
                                 "minutes.pdf": RebuildStatus.REBUILT}
    assert finished.identity_recorded and not kb.rebuild_needed


def test_a_missing_or_damaged_original_is_reported_and_the_document_kept(
        kb: KnowledgeBase, pipeline: IngestPipeline, sources: list[Source]) -> None:
    kb.file_path(sources[0].doc_id).unlink()
    kb.file_path(sources[1].doc_id).write_bytes(_pdf(["Something else entirely."]))
    report = rebuild_knowledge_base(pipeline, kb)
    outcomes = {o.filename: o for o in report.documents}
    missing, damaged = outcomes["planets.pdf"], outcomes["minutes.pdf"]
    assert missing.status is damaged.status is RebuildStatus.FAILED
    assert "stored original PDF is missing" in missing.reason
    assert "damaged" in damaged.reason and str(kb.root) not in damaged.reason
    assert {d.status for d in kb.catalog.documents()} == {DocumentStatus.INDEXED}


REPUBLISH_STEPS = ("segment-write", "segment-fsync", "manifest-rename", "catalog-commit",
                   "after-commit")


@pytest.mark.parametrize("step", REPUBLISH_STEPS)
def test_a_fault_mid_rebuild_leaves_each_document_complete_and_a_rerun_finishes(
        step: str, kb: KnowledgeBase, pipeline: IngestPipeline, searcher: HybridRetriever,
        sources: list[Source]) -> None:
    committed = step == "after-commit"  # the clean-up after the commit failed, not the commit
    seen: list[tuple[bool, bool]] = []
    old = {d.id: chunk_ids(kb, d.id) for d in kb.catalog.documents()}

    def check(outcome: RebuildOutcome) -> None:
        """Right after the faulty write: every visible chunk complete, in SQLite, FTS5 and
        FAISS; the document holds one version, whole; leftovers wait for the next write."""
        state = assert_consistent(kb)
        now = chunk_ids(kb, outcome.document_id)
        assert now == old[outcome.document_id] or now.isdisjoint(old[outcome.document_id])
        seen.append((state.interrupted, now == old[outcome.document_id]))

    with inject(step, raise_at) as fault:
        report = rebuild_knowledge_base(pipeline, kb, on_document=check)
    assert fault.fired
    first = report.documents[0]
    assert first.status is (RebuildStatus.REBUILT if committed else RebuildStatus.FAILED)
    assert committed or f"at {step}" in first.reason
    assert report.documents[1].status is RebuildStatus.REBUILT
    assert seen[0] == (True, not committed) and seen[1] == (False, False)
    assert not report.identity_recorded if not committed else report.identity_recorded
    assert bool(found(searcher, kb, "hoops")) is (not committed and first.filename
                                                  == "planets.pdf")

    rerun = rebuild_knowledge_base(pipeline, kb)
    expected = {first.filename: RebuildStatus.UNCHANGED if committed else RebuildStatus.REBUILT,
                report.documents[1].filename: RebuildStatus.UNCHANGED}
    assert by_name(rerun) == expected
    assert rerun.identity_recorded and found(searcher, kb, "hoops") == []
    state = assert_consistent(kb)
    assert not state.interrupted and state.leftovers == []


def test_ctrl_c_mid_publish_keeps_the_old_version_and_a_rerun_finishes(
        kb: KnowledgeBase, pipeline: IngestPipeline, searcher: HybridRetriever) -> None:
    def interrupt(_step: str) -> None:
        raise KeyboardInterrupt

    with inject("catalog-commit", interrupt), pytest.raises(KeyboardInterrupt):
        rebuild_knowledge_base(pipeline, kb)
    assert_consistent(kb)
    assert found(searcher, kb, "hoops") and kb.rebuild_needed
    assert [o.status for o in rebuild_knowledge_base(pipeline, kb).documents] == [
        RebuildStatus.REBUILT] * 2
    assert found(searcher, kb, "hoops") == []


def test_a_document_deleted_while_it_is_rebuilt_is_not_brought_back(
        kb: KnowledgeBase, pipeline: IngestPipeline, sources: list[Source],
        monkeypatch: pytest.MonkeyPatch) -> None:
    prepare = pipeline.prepare

    def prepare_then_delete(kb: KnowledgeBase, source: DocumentSource, *args: object,
                            **kwargs: object) -> PreparedDocument:
        prepared = prepare(kb, source, *args, **kwargs)  # type: ignore[arg-type]
        if source.filename == "planets.pdf":
            assert kb.delete_document(source.doc_id)  # as another process would, meanwhile
        return prepared

    monkeypatch.setattr(pipeline, "prepare", prepare_then_delete)
    report = rebuild_knowledge_base(pipeline, kb)
    assert by_name(report) == {"planets.pdf": RebuildStatus.DELETED,
                               "minutes.pdf": RebuildStatus.REBUILT}
    assert kb.status_of(sources[0].doc_id) is None
    assert not kb.file_path(sources[0].doc_id).exists()
    assert report.identity_recorded
    assert_consistent(kb)


def test_republishing_the_version_a_document_holds_changes_nothing(
        kb: KnowledgeBase, pipeline: IngestPipeline, sources: list[Source]) -> None:
    rebuild_knowledge_base(pipeline, kb)
    doc = kb.catalog.document(sources[0].doc_id)
    assert doc is not None
    path = kb.file_path(doc.id)
    parsed = pipeline.parsers.parse(path)
    source = DocumentSource(doc.id, doc.filename, path, doc.size_bytes)
    again = pipeline.prepare(kb, source, parsed, lambda _kind, _n: None, rebuilt=True)
    assert kb.republish(again) is False
    assert kb.catalog.document(doc.id) == doc


def test_a_server_sees_each_document_switch_without_reopening(
        kb: KnowledgeBase, pipeline: IngestPipeline, searcher: HybridRetriever,
        tmp_path: Path) -> None:
    """Another process's view (a server's cached knowledge base, opened before)."""
    server = KnowledgeBaseRegistry(tmp_path / "data")
    try:
        cached = server.open(KB)
        assert found(searcher, cached, "hoops") and cached.info().rebuild_needed
        rebuild_knowledge_base(pipeline, kb)
        assert found(searcher, cached, "hoops") == []
        assert found(searcher, cached, "Saturn rings")
        reopened = server.open(KB)  # the manifest changed: the registry reopens it
        assert reopened is not cached and not reopened.info().rebuild_needed
    finally:
        server.close()


def test_a_catalog_from_before_pipeline_versions_gets_the_column(
        kb: KnowledgeBase, pipeline: IngestPipeline) -> None:
    with kb.catalog.transaction() as conn:
        conn.execute("ALTER TABLE documents DROP COLUMN pipeline_version")
    kb.close()
    old = KnowledgeBase.open(kb.root, KB)
    try:
        versions = {row[0] for row in old.catalog.connection().execute(
            "SELECT pipeline_version FROM documents")}
        assert versions == {""}
        assert len(old.catalog.outdated_documents(pipeline.identity_for(old).pipeline_version)
                   ) == 2
    finally:
        old.close()
