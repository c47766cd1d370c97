"""The real app under uvicorn on 127.0.0.1 (a free port), in a thread: for what a
TestClient cannot show, such as a client still sending when the server answers 413."""

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
from qa_service.config import Settings
from qa_service.embedding import Embedder
from tests.api.helpers import ADMIN_KEY

__all__ = ["LiveServer", "live_server"]


class LiveServer:
    def __init__(self, port: int, settings: Settings) -> None:
        self.host, self.port, self.settings = "127.0.0.1", port, settings
        self.url = f"http://127.0.0.1:{port}"


@contextmanager
def live_server(data_dir: Path, embedder: Embedder, **settings: Any) -> Iterator[LiveServer]:
    settings.setdefault("admin_key", ADMIN_KEY)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = Settings(data_dir=data_dir, port=port, **settings)
    server = uvicorn.Server(uvicorn.Config(create_app(config, embedder=embedder),
                                           host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(port, config)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
