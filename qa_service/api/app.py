"""The FastAPI application factory. Models load in the lifespan, not at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from qa_service import __version__
from qa_service.api.errors import install_error_handlers
from qa_service.api.routes import router
from qa_service.config import Settings
from qa_service.embedding import Embedder
from qa_service.services import Services

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, embedder: Embedder | None = None) -> FastAPI:
    """Build the app. `embedder` lets tests share one loaded model between apps."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.build(settings or Settings(), embedder)
        services.warm_up()
        services.runner.start()
        resumed = services.runner.resume_unfinished()
        if resumed:
            log.info("resumed %d unfinished ingestion job(s)", resumed)
        app.state.services = services
        try:
            yield
        finally:
            services.close()

    app = FastAPI(
        title="Document Q&A service",
        version=__version__,
        description=(
            "Knowledge bases of PDFs: upload documents, follow their ingestion, and search "
            "them with hybrid (BM25 + dense) retrieval. Every error has the shape "
            '`{"error": {"code": ..., "message": ...}}`.'
        ),
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(router)
    return app
