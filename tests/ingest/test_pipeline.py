"""One file into one knowledge base: every file ends with a status and a reason."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ingest.chunk import ChunkerConfig
from ingest.embed import embed_chunks
from ingest.parser_pool import ParserPool
from ingest.pipeline import IngestPipeline, file_sha256
from qa_service.embedding import Embedder
from qa_service.lexical import LexicalIndex
from qa_service.schemas import DocumentStatus
from qa_service.store.knowledge_base import IndexIdentity, JobFile, KnowledgeBase
from tests.fakes import HashEmbedder
from tests.pdfs import encrypted, image_only_pdf, text_pdf, with_junk_prefix, with_title

PAGES = [
    "Otters hold hands while they sleep so they do not drift apart. " * 6,
    "Beavers build dams from branches and mud. They work mostly at night. " * 5,
]


@pytest.fixture
def pipeline(pool: ParserPool, embedder: Embedder, lexical: LexicalIndex) -> IngestPipeline:
    return IngestPipeline(parsers=pool, embedder=embedder, lexical=lexical,
                          chunker=ChunkerConfig(target_chars=200, overlap_sentences=1,
                                                min_chars=50),
                          max_file_bytes=200_000, embed_batch_size=2)


@pytest.fixture
def kb(tmp_path: Path, pipeline: IngestPipeline):  # type: ignore[no-untyped-def]
    identity = IndexIdentity(pipeline.embedder.name, pipeline.embedder.dimension,
                             pipeline.chunker.describe())
    base = KnowledgeBase.create(tmp_path / "kb", "kb", identity)
    yield base
    base.close()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_text_pdf_is_indexed(pipeline: IngestPipeline, kb: KnowledgeBase, tmp_path: Path
                               ) -> None:
    path = write(tmp_path, "animals.pdf", text_pdf(PAGES))
    progress: list[tuple[str, int]] = []
    outcome = pipeline.ingest_file(kb, path, "animals.pdf",
                                   progress=lambda kind, n: progress.append((kind, n)))
    doc_id = hashlib.sha256(path.read_bytes()).hexdigest()
    assert outcome.status is DocumentStatus.INDEXED, outcome.reason
    assert (outcome.document_id, outcome.pages, outcome.filename) == (doc_id, 2, "animals.pdf")
    assert outcome.chunks == kb.info().chunks > 2
    assert progress[0] == ("pages", 2)
    assert sum(n for kind, n in progress if kind == "chunks") == outcome.chunks
    assert all(n <= 2 for kind, n in progress if kind == "chunks")  # embed batches
    for chunk in kb.catalog.all_chunks():
        page = kb.catalog.page_text(doc_id, chunk.page)
        assert page is not None and page[chunk.char_start:chunk.char_end] == chunk.text
    assert kb.file_path(doc_id).read_bytes() == path.read_bytes()
    assert len(kb.index.store.ids()) == outcome.chunks


def test_the_same_bytes_again_are_unchanged(pipeline: IngestPipeline, kb: KnowledgeBase,
                                            tmp_path: Path) -> None:
    path = write(tmp_path, "animals.pdf", text_pdf(PAGES))
    first = pipeline.ingest_file(kb, path, "animals.pdf")
    chunks = kb.info().chunks
    again = pipeline.ingest_file(kb, path, "animals.pdf")
    renamed = pipeline.ingest_file(kb, write(tmp_path, "copy.pdf", path.read_bytes()),
                                   "copy.pdf")
    for outcome in (again, renamed):
        assert outcome.status is DocumentStatus.UNCHANGED
        assert outcome.document_id == first.document_id
        assert "already indexed" in outcome.reason
    assert kb.info().chunks == chunks
    assert [d.filename for d in kb.catalog.documents()] == ["animals.pdf"]


def test_a_new_version_under_the_same_name_replaces_the_old(pipeline: IngestPipeline,
                                                            kb: KnowledgeBase,
                                                            tmp_path: Path) -> None:
    first = pipeline.ingest_file(kb, write(tmp_path, "v1.pdf", text_pdf(PAGES)), "animals.pdf")
    second = pipeline.ingest_file(kb, write(tmp_path, "v2.pdf", text_pdf(PAGES[:1])),
                                  "animals.pdf")
    assert second.status is DocumentStatus.INDEXED
    assert [d.id for d in kb.catalog.documents()] == [second.document_id]
    assert first.document_id is not None and kb.status_of(first.document_id) is None
    assert kb.info().chunks == second.chunks


@pytest.mark.parametrize(
    ("data", "status", "reason"),
    [
        (b"", DocumentStatus.INVALID, "empty"),
        (b"just some text, saved as .pdf\n" * 10, DocumentStatus.INVALID, "not a PDF"),
        (with_junk_prefix(text_pdf(PAGES), 1100), DocumentStatus.INVALID, "1,024"),
        (b"%PDF-1.4\n" + b"0" * 250_000, DocumentStatus.TOO_LARGE, "over the limit"),
    ],
    ids=["empty", "not-a-pdf", "junk-over-1024", "over-max-file-size"],
)
def test_precheck_rejects_without_parsing(pipeline: IngestPipeline, kb: KnowledgeBase,
                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          data: bytes, status: DocumentStatus,
                                          reason: str) -> None:
    def no_parsing(_path: Path) -> None:
        raise AssertionError("the precheck should have decided")

    monkeypatch.setattr(pipeline.parsers, "parse", no_parsing)
    path = write(tmp_path, "file.pdf", data)
    outcome = pipeline.ingest_file(kb, path, "file.pdf")
    assert outcome.status is status
    assert reason in outcome.reason
    recorded = kb.catalog.document(file_sha256(path))
    assert recorded is not None
    assert (recorded.status, recorded.chunks) == (status, 0)
    assert kb.info().chunks == 0


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (encrypted(text_pdf(PAGES), "secret", "owner"), DocumentStatus.ENCRYPTED),
        (image_only_pdf(), DocumentStatus.NO_TEXT),
        (text_pdf(["Page."] * 6), DocumentStatus.TOO_LARGE),
    ],
    ids=["encrypted", "image-only", "too-many-pages"],
)
def test_parse_outcomes_are_recorded_with_their_reason(pipeline: IngestPipeline,
                                                       kb: KnowledgeBase, tmp_path: Path,
                                                       data: bytes, status: DocumentStatus
                                                       ) -> None:
    path = write(tmp_path, "file.pdf", data)
    outcome = pipeline.ingest_file(kb, path, "file.pdf")
    assert outcome.status is status
    assert outcome.reason
    recorded = kb.catalog.document(file_sha256(path))
    assert recorded is not None and recorded.status is status
    assert recorded.reason == outcome.reason
    assert kb.info().chunks == 0


@pytest.mark.parametrize(
    "data",
    [encrypted(text_pdf(PAGES), "", "owner"), with_junk_prefix(text_pdf(PAGES), 700)],
    ids=["owner-password-only", "junk-under-1024"],
)
def test_readable_oddities_are_indexed(pipeline: IngestPipeline, kb: KnowledgeBase,
                                       tmp_path: Path, data: bytes) -> None:
    outcome = pipeline.ingest_file(kb, write(tmp_path, "odd.pdf", data), "odd.pdf")
    assert outcome.status is DocumentStatus.INDEXED, outcome.reason
    assert outcome.pages == 2 and outcome.chunks > 0


def test_a_file_that_ended_no_text_is_tried_again(pipeline: IngestPipeline, kb: KnowledgeBase,
                                                  tmp_path: Path) -> None:
    path = write(tmp_path, "scan.pdf", image_only_pdf())
    assert pipeline.ingest_file(kb, path, "scan.pdf").status is DocumentStatus.NO_TEXT
    progress: list[tuple[str, int]] = []
    again = pipeline.ingest_file(kb, path, "scan.pdf",
                                 progress=lambda kind, n: progress.append((kind, n)))
    assert again.status is DocumentStatus.NO_TEXT
    assert progress == [("pages", 1)]  # parsed again, not skipped as unchanged


def test_a_missing_file_fails_with_a_reason(pipeline: IngestPipeline, kb: KnowledgeBase,
                                            tmp_path: Path) -> None:
    outcome = pipeline.ingest_file(kb, tmp_path / "gone.pdf", "gone.pdf")
    assert outcome.status is DocumentStatus.FAILED
    assert "cannot read" in outcome.reason


def test_a_job_s_file_records_every_outcome(pipeline: IngestPipeline, kb: KnowledgeBase,
                                            tmp_path: Path) -> None:
    good = write(tmp_path, "good.pdf", text_pdf(PAGES))
    bad = write(tmp_path, "bad.pdf", b"nope")
    kb.create_job("job", [("good.pdf", str(good), None), ("again.pdf", str(good), None),
                          ("bad.pdf", str(bad), None)])
    for position, (path, name) in enumerate([(good, "good.pdf"), (good, "again.pdf"),
                                             (bad, "bad.pdf")]):
        pipeline.ingest_file(kb, path, name, job_file=JobFile("job", position))
    job = kb.job("job")
    assert job is not None and job.files_done == 3
    assert [f.status for f in job.files] == [DocumentStatus.INDEXED, DocumentStatus.UNCHANGED,
                                             DocumentStatus.INVALID]


def _titled_pdf(tmp_path: Path) -> Path:
    """The title (metadata only) names what the pages never do."""
    path = tmp_path / "titled.pdf"
    path.write_bytes(with_title(text_pdf(["Cloves are dried in the sun for several days.",
                                          "Nutmeg trees need shade and plenty of rain."]),
                                "Zanzibar Spice Handbook"))
    return path


@pytest.fixture
def hashed(pool: ParserPool, lexical: LexicalIndex,
           tmp_path: Path):  # type: ignore[no-untyped-def]
    """A default-chunker pipeline with the fast fake embedder, and a knowledge base for it."""
    fake = HashEmbedder()
    pipeline = IngestPipeline(parsers=pool, embedder=fake, lexical=lexical,
                              chunker=ChunkerConfig(), max_file_bytes=10_000_000)
    kb = KnowledgeBase.create(tmp_path / "hashed-kb", "kb",
                              IndexIdentity(fake.name, fake.dimension))
    yield fake, pipeline, kb
    kb.close()


def test_the_title_makes_chunks_findable_but_is_not_in_passages(
        hashed: tuple[HashEmbedder, IngestPipeline, KnowledgeBase], lexical: LexicalIndex,
        tmp_path: Path) -> None:
    _fake, pipeline, kb = hashed
    outcome = pipeline.ingest_file(kb, _titled_pdf(tmp_path), "titled.pdf")
    assert outcome.status is DocumentStatus.INDEXED
    with kb.snapshot() as snapshot:
        hits = lexical.search(snapshot, "zanzibar", 10)
    assert {i for i, _ in hits} == {c.id for c in kb.catalog.all_chunks()}
    for chunk in kb.catalog.all_chunks():
        assert "Zanzibar" not in chunk.text
        page = kb.catalog.page_text(chunk.document_id, chunk.page)
        assert page is not None and page[chunk.char_start:chunk.char_end] == chunk.text


def test_reindexing_with_the_same_model_reproduces_the_vectors(
        hashed: tuple[HashEmbedder, IngestPipeline, KnowledgeBase], tmp_path: Path) -> None:
    fake, pipeline, kb = hashed
    pipeline.ingest_file(kb, _titled_pdf(tmp_path), "titled.pdf")
    queries = fake.embed_queries(["Zanzibar cloves", "nutmeg shade rain", "spice"])
    before = kb.index.store.search(queries, 5)
    kb.replace_vectors(lambda chunks: embed_chunks(fake, chunks),
                       IndexIdentity(fake.name, fake.dimension))
    after = kb.index.store.search(queries, 5)
    for b, a in zip(before, after, strict=True):
        assert dict(a) == pytest.approx(dict(b), abs=1e-6)  # ties may swap places
