"""Serving the app under uvicorn (`qa serve`): logging, and the HTTP protocol with socket
reads bounded.

asyncio reads up to 256 KiB from a socket at a time, so a server that refuses a body at
its cap could already hold a quarter megabyte more of it. `BoundedReadProtocol` (uvicorn's
h11 protocol) reads at most `READ_BYTES` at a time: together with uvicorn's flow control
(it stops reading while 64 KiB wait for the app), what the server reads of a body it
refuses stays within the cap plus about 64 kB. Uploads stream through the same small reads.
"""

from __future__ import annotations

import asyncio

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from qa_service.analyser_process import AnalyserProcess
from qa_service.api.app import create_app
from qa_service.config import Settings
from qa_service.logs import logging_config
from qa_service.store.server_lock import ServerLock

__all__ = ["READ_BYTES", "BoundedReadProtocol", "serve"]

READ_BYTES = 16 * 1024


class BoundedReadProtocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if hasattr(transport, "max_size"):  # asyncio's socket transports read this per recv
            transport.max_size = READ_BYTES
        super().connection_made(transport)


def serve(settings: Settings, analyser: AnalyserProcess | None = None) -> None:
    """Serve until stopped. Raises QAError before listening when the settings cannot be
    served or another server holds the data directory. `analyser`: a Korean analyser
    process lent until the server's own has loaded (`qa_service.analyser_process`)."""
    application = create_app(settings, analyser=analyser)
    probe = ServerLock(settings.data_dir)  # a clear message now, not a startup traceback
    probe.acquire(f"{settings.host}:{settings.port}")
    probe.release()
    # no websockets (no route uses them): uvicorn then never imports a websockets library
    uvicorn.run(application, host=settings.host, port=settings.port, http=BoundedReadProtocol,
                ws="none", log_config=logging_config(settings.log_level, settings.log_format))
