"""The real app under uvicorn on 127.0.0.1 (a free port), in a thread: for what a
TestClient cannot show, such as a client still sending when the server answers 413.
`LiveServer.bytes_read` counts every byte the server read from its sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from qa_service.api import create_app
from qa_service.api.server import BoundedReadProtocol
from qa_service.config import Settings
from qa_service.embedding import Embedder
from tests.api.helpers import ADMIN_KEY

__all__ = ["LiveServer", "live_server"]


class LiveServer:
    def __init__(self, port: int, settings: Settings) -> None:
        self.host, self.port, self.settings = "127.0.0.1", port, settings
        self.url = f"http://127.0.0.1:{port}"
        self.bytes_read = 0  # from all connections' sockets, headers included


def _counting_protocol(server: LiveServer) -> type[BoundedReadProtocol]:
    """The server's own protocol, counting what it reads."""

    class CountingProtocol(BoundedReadProtocol):
        def data_received(self, data: bytes) -> None:
            server.bytes_read += len(data)
            super().data_received(data)

    return CountingProtocol


@contextmanager
def live_server(data_dir: Path, embedder: Embedder, **settings: Any) -> Iterator[LiveServer]:
    settings.setdefault("admin_key", ADMIN_KEY)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = Settings(data_dir=data_dir, port=port, **settings)
    live = LiveServer(port, config)
    server = uvicorn.Server(uvicorn.Config(create_app(config, embedder=embedder),
                                           host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on", http=_counting_protocol(live)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield live
    finally:
        server.should_exit = True
        thread.join(timeout=30)
