"""The composition root's toolbox: builds every collaborator once from `Settings`.

The API app factory and the CLI both call `Services.build(settings)`; nothing else
constructs models, pools or registries. Heavy objects load lazily or in `warm_up()`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from ingest.chunk import ChunkerConfig
from ingest.jobs import JobRunner
from ingest.ocr import OcrOptions, OcrStatus, ocr_status
from ingest.parser_pool import ParserLimits, ParserPool
from ingest.pipeline import IngestPipeline
from ingest.ray_prepare import RayPreparer, WorkerConfig
from qa_service.access.control import AccessControl
from qa_service.access.keys import KeyInfo, KeyStore, Scope
from qa_service.analyser_process import AnalyserProcess
from qa_service.answer.conversation import build_condenser
from qa_service.answer.extractive import ExtractiveAnswerer
from qa_service.answer.llm import LLMAnswerer
from qa_service.answer.service import AskService
from qa_service.config import Settings
from qa_service.embedding import Embedder, load_embedder
from qa_service.errors import ConfigurationError
from qa_service.lexical import LexicalIndex
from qa_service.retrieval import HybridRetriever
from qa_service.store.approximate import ApproximateSettings
from qa_service.store.faiss_index import FaissBackend
from qa_service.store.index import IndexBackend
from qa_service.store.index_builder import ApproximateIndexBuilder
from qa_service.store.knowledge_base import IndexIdentity, KnowledgeBase
from qa_service.store.local_disk import network_file_system
from qa_service.store.milvus_index import MilvusBackend, MilvusConnection
from qa_service.store.registry import KnowledgeBaseRegistry
from qa_service.tokens import Tokenizer

__all__ = ["Services", "index_backend"]

log = logging.getLogger(__name__)

OCR_DRAW_BUDGET_S = 30.0  # drawing one page for OCR, on top of Tesseract's own limit


def index_backend(settings: Settings) -> IndexBackend:
    """The engine of the knowledge bases' indexes (`QA_INDEX`)."""
    if settings.index == "milvus":
        return MilvusBackend(MilvusConnection(
            uri=settings.milvus_uri or str(settings.data_dir / "milvus.db"),
            token=settings.milvus_token.get_secret_value() if settings.milvus_token else "",
            user=settings.milvus_user,
            password=(settings.milvus_password.get_secret_value()
                      if settings.milvus_password else ""),
            db_name=settings.milvus_db, index_type=settings.milvus_index_type,
            search_params=tuple(sorted(settings.milvus_search_params.items()))))
    return FaissBackend(ApproximateSettings(**settings.vectors.model_dump()))


@dataclass
class Services:
    settings: Settings
    registry: KnowledgeBaseRegistry
    embedder: Embedder
    lexical: LexicalIndex
    retriever: HybridRetriever
    parsers: ParserPool
    pipeline: IngestPipeline
    runner: JobRunner
    indexer: ApproximateIndexBuilder
    asker: AskService
    access: AccessControl
    ocr: OcrStatus

    @classmethod
    def build(cls, settings: Settings, embedder: Embedder | None = None,
              analyser: AnalyserProcess | None = None) -> Services:
        """`analyser`: a Korean analyser process lent until the tokenizer's own analyser
        loads (`qa_service.analyser_process`; `qa serve` starts one first thing). Refuses a
        data directory on a network file system (`qa_service.store.local_disk`)."""
        shared = network_file_system(settings.data_dir)
        if shared is not None:
            raise ConfigurationError(
                f"the data directory is on a network file system ({shared}): knowledge bases' "
                "catalogs (SQLite in WAL mode) and their publishing lock need a local disk; "
                "set QA_DATA_DIR to a local folder (README: More than one API server)",
                detail=str(settings.data_dir))
        embedder = embedder or load_embedder(settings.embedding_model, settings.embedding_threads)
        lexical = LexicalIndex(Tokenizer(analyser))
        ingest = settings.ingest
        ocr = ocr_status(ingest.ocr, ingest.ocr_languages)
        if not ocr.enabled and ingest.ocr != "off":
            log.warning("OCR is off: %s; scanned pages end without text", ocr.reason)
        parsers = ParserPool(
            ParserLimits(
                memory_mb=ingest.worker_memory_mb,
                timeout_base_s=ingest.parse_timeout_base_s,
                timeout_per_page_s=ingest.parse_timeout_per_page_s,
                timeout_max_s=ingest.parse_timeout_max_s,
                max_pages=ingest.max_pages,
                max_text_chars=ingest.max_text_chars,
                positions=ingest.page_positions,
                render_timeout_s=ingest.page_image_timeout_s,
                parser="ocr" if ocr.enabled else "pypdf",
                ocr=tuple(asdict(OcrOptions(
                    languages=ingest.ocr_languages, dpi=ingest.ocr_dpi,
                    page_timeout_s=ingest.ocr_page_timeout_s,
                    max_megapixels=ingest.ocr_max_megapixels,
                    max_image_mb=ingest.ocr_max_image_mb,
                    threads=ingest.ocr_threads)).items()),
                ocr_page_budget_s=ingest.ocr_page_timeout_s + OCR_DRAW_BUDGET_S,
            ),
            size=ingest.workers,
        )
        remote = None
        if ingest.ray:  # RayPreparer.start imports Ray: only when asked for
            remote = RayPreparer(WorkerConfig(parsers.limits, settings.embedding_model, 1,
                                              ingest.embed_batch_size),
                                 ingest.ray_address, ingest.ray_workers).start()
        pipeline = IngestPipeline(
            remote=remote,
            parsers=parsers,
            embedder=embedder,
            lexical=lexical,
            chunker=ChunkerConfig(**settings.chunking.model_dump()),
            max_file_bytes=ingest.max_file_bytes,
            embed_batch_size=ingest.embed_batch_size,
            parser_identity=parsers.limits.identity(),
        )
        backend = index_backend(settings)
        registry = KnowledgeBaseRegistry(settings.data_dir, parsers.limits.identity(), backend)
        retriever = HybridRetriever(embedder, lexical, settings.retrieval)
        indexer = ApproximateIndexBuilder(registry)

        def after_job(kb: KnowledgeBase) -> None:  # in the job thread, its outcome recorded
            retriever.prepare(kb)
            indexer.request(kb.name)

        extractive = ExtractiveAnswerer(lexical.tokenizer, settings.answer)
        llm = (LLMAnswerer(settings, lexical.tokenizer, ranker=extractive)
               if settings.llm_base_url else None)
        admin_key = settings.admin_key.get_secret_value() if settings.admin_key else None
        keys = KeyStore(settings.data_dir / "access.sqlite", admin_key)
        return cls(
            settings=settings,
            registry=registry,
            embedder=embedder,
            lexical=lexical,
            retriever=retriever,
            parsers=parsers,
            pipeline=pipeline,
            runner=JobRunner(registry, pipeline, after_job),
            indexer=indexer,
            asker=AskService(settings, retriever, extractive, llm,
                             condenser=build_condenser(settings, lexical.tokenizer, llm)),
            access=AccessControl(keys, settings),
            ocr=ocr,
        )

    def identity(self) -> IndexIdentity:
        return IndexIdentity(
            embedding_model=self.embedder.name,
            dimension=self.embedder.dimension,
            chunker=self.pipeline.chunker.describe(),
            parser=dict(self.pipeline.parser_identity),
        )

    def create_kb(self, name: str) -> KnowledgeBase:
        return self.registry.create(name, self.identity())

    def create_key(self, kbs: Sequence[str], scope: Scope) -> tuple[KeyInfo, str]:
        """An API key for existing knowledge bases (KnowledgeBaseNotFound otherwise)."""
        for name in kbs:
            self.registry.open(name)
        return self.access.keys.create(kbs, scope)

    def delete_kb(self, name: str) -> None:
        """Delete a knowledge base and take it out of every API key."""
        self.registry.delete(name)
        self.access.keys.forget_kb(name)

    def open_kb(self, name: str) -> KnowledgeBase:
        """Open a knowledge base that this service's embedder can search and extend."""
        kb = self.registry.open(name)
        kb.check_embedder(self.embedder.name, self.embedder.dimension)
        return kb

    def after_ingest(self, kb: KnowledgeBase) -> None:
        """What a `qa` command does after it wrote documents (the server does it in the
        background): prepare the terms a question in the other language will need, and
        build the approximate vector index if it is due."""
        self.retriever.prepare(kb)
        kb.build_approximate_index()

    def warm_up(self) -> None:
        """Load the embedding model now rather than on the first request. The Korean
        analyser is left to `lexical.tokenizer.load()`: the server runs it once idle
        (`qa_service.api.activity`), as it holds the interpreter lock for seconds."""
        self.embedder.embed_queries(["warm up"])

    def close(self) -> None:
        self.asker.close()
        self.parsers.close()  # first: a parse under way stops now, its file stays queued
        if self.pipeline.remote is not None:
            self.pipeline.remote.close()  # likewise on the Ray workers
        self.runner.stop()
        self.indexer.stop()
        self.registry.close()
        self.lexical.tokenizer.close()
