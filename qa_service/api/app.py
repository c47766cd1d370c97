"""The FastAPI application factory. Models load in the lifespan, not at import."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from qa_service import __version__
from qa_service.access.control import AccessControl
from qa_service.analyser_process import AnalyserProcess
from qa_service.api.activity import Activity, CountRequests, warm_up_when_idle
from qa_service.api.authenticate import Authenticate
from qa_service.api.body_limit import BodyLimit
from qa_service.api.docs import install_docs
from qa_service.api.errors import install_error_handlers
from qa_service.api.key_routes import router as key_router
from qa_service.api.openai_errors import error_sender, install_openai_errors
from qa_service.api.openai_routes import router as openai_router
from qa_service.api.routes import UPLOAD_PATH, router
from qa_service.config import Settings
from qa_service.embedding import Embedder
from qa_service.services import Services
from qa_service.store.server_lock import ServerLock
from qa_service.web import install_web

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, embedder: Embedder | None = None,
               analyser: AnalyserProcess | None = None) -> FastAPI:
    """Build the app. `embedder` lets tests share one loaded model between apps; `analyser`
    is a Korean analyser process lent until the server's own loads (`qa serve` starts one:
    `qa_service.analyser_process`), which the app closes when it stops.

    Raises ConfigurationError when the settings cannot be served (auth off on a
    non-loopback address)."""
    config = settings or Settings()
    AccessControl.check_bind(config)
    activity = Activity()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        lock = ServerLock(config.data_dir)
        lock.acquire(f"{config.host}:{config.port}")
        try:
            services = Services.build(config, embedder, analyser)
            stop_warming = threading.Event()
            try:
                _announce_access(services)
                services.warm_up()
                # the Korean analyser once no request is in flight (`api.activity`)
                warm_up_when_idle(activity, services.lexical.tokenizer.load, stop_warming)
                services.runner.remove_leftovers()
                services.runner.start()
                services.indexer.start()
                resumed = services.runner.resume_unfinished()
                if resumed:
                    log.info("resumed %d unfinished ingestion job(s)", resumed)
                app.state.services = services
                yield
            finally:
                stop_warming.set()
                services.close()
        finally:
            lock.release()
            if analyser is not None:  # Services.close ended it, unless building them failed
                analyser.close()

    app = FastAPI(
        title="Document Q&A service",
        version=__version__,
        description=(
            "Knowledge bases of PDFs: upload documents, follow their ingestion, search them "
            "with hybrid (BM25 + dense) retrieval and ask questions answered with citations. "
            "Every route but `GET /health` needs `Authorization: Bearer <key>`: the admin "
            "key, or a key from `POST /keys` scoped to knowledge bases (`read`: search, ask "
            "and read; `write`: also upload and delete). Every error has the shape "
            '`{"error": {"code": ..., "message": ...}}`.'
        ),
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load their assets from a CDN: see install_docs
        redoc_url=None,
    )
    install_error_handlers(app)
    install_openai_errors(app)  # /v1/: OpenAI's error shape
    install_docs(app)
    install_web(app)  # the web page at `/`
    app.include_router(router)
    app.include_router(key_router)
    app.include_router(openai_router)
    # inside BodyLimit: a declared oversize is refused first
    app.add_middleware(Authenticate, error_sender=error_sender)
    app.add_middleware(BodyLimit, upload_bytes=int(config.limits.max_request_mb * 1_000_000),
                       other_bytes=int(config.limits.max_body_kb * 1000),
                       upload_routes=[("POST", UPLOAD_PATH)])
    app.add_middleware(CountRequests, activity=activity)  # outermost: every request counts
    return app


def _announce_access(services: Services) -> None:
    """Show a newly generated admin key once; warn when auth is off."""
    if not services.access.enabled:
        log.warning("QA_AUTH=off: every request is admin; allowed only on a loopback address")
        return
    key = services.access.keys.ensure_admin()
    if key is not None:
        sys.stderr.write(
            "\n  A new admin key was generated for this data directory. It is shown only "
            f"now;\n  store it somewhere safe (only its hash is kept):\n\n    {key}\n\n"
            "  Lost it? `qa keys rotate-admin` prints a new one. Set QA_ADMIN_KEY to use "
            "your own.\n\n")
        sys.stderr.flush()
