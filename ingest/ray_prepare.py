"""The prepare stage on a Ray cluster (`qa ingest --ray`, `QA_INGEST__RAY=true`).

Ingestion is two stages (`ingest.pipeline`): prepare (parse, OCR, chunk, tokenize, embed),
which reads no knowledge base, and publish (`KnowledgeBase.publish`), the single writer.
With Ray, the job (`ingest.jobs`) sends each file's bytes to a pool of Ray actors
(`PrepareWorker`, one CPU each), several files ahead, and publishes what they return in the
job's order, through the same writer, with the same per-file outcomes, progress, limits
and resume-after-crash as without Ray:
- an actor parses in a parser worker process of its own (`ingest.parser_pool`, the same
  memory and time limits), so a hostile PDF costs that process, not the actor;
- an actor holds one file at a time (a file waits here for a free actor, not in an actor's
  queue), so an actor's death is blamed on the one file it was preparing, never on files
  queued behind it;
- an actor that dies (its machine, a kill, out of memory) fails the call: the file is sent
  again, to another actor when one is free; a file that an actor dies on twice ends
  `failed`, saying so; nothing of it was published. Ray restarts the dead actor, and it
  takes files again only once it answers (`REVIVE_S`): a file sent to an actor still
  restarting would fail as if it had killed it;
- files without an outcome when the job stops (the server stops) stay queued and resume.

`ray_address` empty starts a local Ray (`workers` CPUs) and stops it at the end;
`auto` or `ray://host:10001` / `host:6379` joins an existing cluster, whose nodes must
have this package installed (the actors import `ingest`, and load the embedding model by
its configured name or path). Nothing imports Ray unless this module's `RayPreparer`
starts.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ingest.chunk import ChunkerConfig
from ingest.parse import ParseResult
from ingest.parser_pool import ParserLimits, ParserPool, ParserPoolClosed
from ingest.prepare import DocumentSource, prepare_document
from qa_service.errors import ConfigurationError, describe
from qa_service.schemas import DocumentStatus, PreparedDocument

__all__ = ["PrepareReply", "PrepareRequest", "PrepareWorker", "RayPreparer", "WorkerConfig",
           "WorkerDied"]

log = logging.getLogger(__name__)

ATTEMPTS = 2  # a file is sent to an actor at most this many times
REVIVE_S = 300.0  # how long a dead actor is waited for to come back
REVIVE_PAUSE_S = 0.2  # between calls to an actor that has not come back yet
REVIVE_CALL_S = 2.0  # how long one of those calls is waited for


@dataclass(frozen=True)
class WorkerConfig:
    """What an actor builds its parser, embedder and tokenizer from."""

    limits: ParserLimits
    embedding_model: str
    embedding_threads: int = 1
    embed_batch_size: int = 64


@dataclass(frozen=True)
class PrepareRequest:
    """One file to prepare: its id (hash), display name, size; the knowledge base's chunker
    (`ChunkerConfig.describe`) and pipeline version."""

    doc_id: str
    filename: str
    size: int
    chunker: dict[str, Any]
    version: str
    rebuilt: bool = False


@dataclass(frozen=True)
class PrepareReply:
    """What an actor made of a file: its parse's outcome and, when `indexed`, the prepared
    document (its `source` a path on the actor's machine, replaced by the caller's)."""

    status: DocumentStatus
    reason: str
    page_count: int
    ocr_pages: int = 0
    document: PreparedDocument | None = None
    pid: int = field(default=0, compare=False)  # the actor's process (tests kill it)


class WorkerDied(Exception):
    """The actor preparing a file died, each time it was sent (`ATTEMPTS`)."""


class PrepareWorker:
    """The prepare stage in one Ray actor (a plain class: `RayPreparer` makes it remote)."""

    def __init__(self, config: WorkerConfig) -> None:
        from qa_service.embedding import load_embedder
        from qa_service.lexical import LexicalIndex
        from qa_service.tokens import Tokenizer

        self._config = config
        self._parsers = ParserPool(config.limits, size=1)
        self._embedder = load_embedder(config.embedding_model, config.embedding_threads)
        self._lexical = LexicalIndex(Tokenizer())

    def pid(self) -> int:
        return os.getpid()

    def prepare(self, request: PrepareRequest, data: bytes) -> PrepareReply:
        with tempfile.TemporaryDirectory(prefix="qa-prepare-") as folder:
            path = Path(folder) / "document.pdf"
            path.write_bytes(data)
            parsed: ParseResult = self._parsers.parse(path)
            if parsed.status is not DocumentStatus.INDEXED:
                return PrepareReply(parsed.status, parsed.reason, parsed.page_count,
                                    parsed.ocr_pages, pid=os.getpid())
            source = DocumentSource(request.doc_id, request.filename, path, request.size)
            document = prepare_document(
                source, parsed, ChunkerConfig.from_description(request.chunker),
                self._embedder, self._lexical, self._config.embed_batch_size, None,
                request.version, request.rebuilt)
        return PrepareReply(parsed.status, parsed.reason, parsed.page_count,
                            parsed.ocr_pages, document, os.getpid())


class RayPreparer:
    """A pool of `PrepareWorker` actors on a Ray cluster (see the module). `prepare` is
    called from several threads at once (a job's files ahead), each waiting for its file."""

    def __init__(self, config: WorkerConfig, address: str = "", workers: int = 2,
                 worker: type[PrepareWorker] = PrepareWorker, *worker_args: Any) -> None:
        """`worker` (and `worker_args` after the config): the actors' class, a
        `PrepareWorker` (tests give one that misbehaves: `ingest.misbehaving_workers`)."""
        self.config = config
        self.address = address
        self.size = workers
        self._worker = worker
        self._worker_args = worker_args
        self._actors: list[Any] = []
        self._free: list[Any] = []  # actors holding no file, longest idle first
        self._lost = 0  # actors that died and did not come back within REVIVE_S
        self._changed = threading.Condition()
        self._started_ray = False
        self._closed = False

    def start(self) -> RayPreparer:
        try:
            import ray
        except ImportError as exc:
            raise ConfigurationError(
                "--ray needs Ray: install the service with its `ray` extra "
                "(pip install 'qa-service[ray]')") from exc
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                       "configure_logging": False}
            if self.address:
                ray.init(address=self.address, **options)
            else:
                ray.init(num_cpus=self.size, **options)
            self._started_ray = True
        remote = ray.remote(num_cpus=1, max_restarts=-1)(self._worker)
        self._actors = [remote.remote(self.config, *self._worker_args)
                        for _ in range(self.size)]
        self._free = list(self._actors)
        return self

    def _lease(self, avoid: Any = None) -> Any:
        """A free actor, waiting for one; one other than `avoid` (the actor that died on
        this file) when one is free."""
        with self._changed:
            while not self._closed and not self._free and self._lost < len(self._actors):
                self._changed.wait()
            if self._closed:
                raise ParserPoolClosed("the Ray workers were stopped")
            if not self._free:
                raise WorkerDied(f"every Ray worker died and none came back within "
                                 f"{REVIVE_S:g} s")
            others = [actor for actor in self._free if actor is not avoid]
            actor = (others or self._free)[0]
            self._free.remove(actor)
            return actor

    def _give_back(self, actor: Any) -> None:
        with self._changed:
            if not self._closed:
                self._free.append(actor)
            self._changed.notify()

    def _revive(self, actor: Any) -> None:
        """Take `actor`, which died, back once Ray has restarted it (it answers a call),
        waiting in a thread of its own; after `REVIVE_S` it counts as lost."""
        import ray

        def wait() -> None:
            deadline = time.monotonic() + REVIVE_S
            while not self._closed and time.monotonic() < deadline:
                try:
                    ray.get(actor.pid.remote(), timeout=REVIVE_CALL_S)
                except Exception:  # noqa: BLE001 - dead, restarting, timed out, shut down
                    time.sleep(REVIVE_PAUSE_S)
                    continue
                self._give_back(actor)
                return
            with self._changed:
                self._lost += 1
                self._changed.notify_all()
            if not self._closed:
                log.warning("a Ray worker did not come back within %g s", REVIVE_S)

        threading.Thread(target=wait, name="ray-revive", daemon=True).start()

    def prepare(self, path: Path, request: PrepareRequest) -> PrepareReply:
        """`path` prepared by an actor; `WorkerDied` when actors died on it `ATTEMPTS`
        times; `ParserPoolClosed` once `close` was called (the file stays queued)."""
        import ray
        from ray.exceptions import RayActorError, WorkerCrashedError

        data = path.read_bytes()
        failures: list[str] = []
        actor = None
        for _ in range(ATTEMPTS):
            actor = self._lease(avoid=actor)
            try:
                reply: PrepareReply = ray.get(actor.prepare.remote(request, data))
            except (RayActorError, WorkerCrashedError) as exc:
                self._revive(actor)
                if self._closed:
                    raise ParserPoolClosed("the Ray workers were stopped") from exc
                log.warning("a Ray worker died preparing %s; %s", request.filename,
                            "sending it again" if len(failures) + 1 < ATTEMPTS
                            else "giving up on it")
                failures.append(describe(exc).splitlines()[0][:200])
                continue
            except BaseException:
                self._give_back(actor)
                raise
            self._give_back(actor)
            if reply.document is not None:
                reply = replace(reply, document=replace(reply.document, source=path))
            return reply
        raise WorkerDied(f"the Ray worker preparing it died {len(failures)} times "
                         f"({failures[-1]})")

    def close(self) -> None:
        with self._changed:
            self._closed = True
            actors, self._actors, self._free = self._actors, [], []
            self._changed.notify_all()
        if not actors and not self._started_ray:
            return
        import ray

        for actor in actors:
            ray.kill(actor, no_restart=True)
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False
