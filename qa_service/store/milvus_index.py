"""The Milvus index (`QA_INDEX=milvus`): a knowledge base's dense vectors and BM25 in Milvus,
for knowledge bases that outgrow one machine (Milvus standalone or cluster, over the
network) or to try that set-up on one machine (Milvus Lite, embedded: a `.db` path).

Per knowledge base (its manifest's `uid`), three collections:
- `qa_<uid>_<vectors folder>`: one row a sentence vector; primary key `<chunk id>.<n>` (a
  chunk owns several sentence vectors), with the chunk's and its document's id as scalar
  fields. A search groups by chunk, so it returns the `k` best chunks by their best
  sentence. `qa kb reindex` writes a new one and drops the old.
- `qa_<uid>_lexical`: one row a chunk, its BM25 terms as a sparse vector
  (`qa_service.store.term_table`: our own tokens, never Milvus's analyzers, which have no
  Korean morphemes; a question's vector holds the IDFs computed from the catalog's counts).
- `qa_<uid>_documents`: one row a document identity, likewise, for `bm25_documents`.
No FAISS segment and no FTS5 posting is written; the catalog (SQLite) keeps the documents,
chunks and term counts, and decides what is visible, as with the default index:
- `add` writes a document's sentence vectors before the catalog commits it, and `write`
  its sparse vectors inside that transaction (the term ids are assigned there); rows of a
  document never committed are never returned as passages (`Snapshot.passages`);
- after the commit, `forget` deletes the rows of the chunks and documents it replaced;
- every id a write may leave behind is first recorded in `milvus.pending` (atomically, in
  the knowledge base's folder), so after a crash `collect_garbage` deletes exactly those
  not committed, without scanning the collections.

Collections are created with strong consistency, so a search sees every write acknowledged
before it. Durability is Milvus's: a server's writes are durable once acknowledged; Milvus
Lite writes to its write-ahead log without an fsync per write, so a process crash loses
nothing but a power loss may lose the last writes (the catalog's commit would then name
vectors that are gone; `qa kb reindex` rewrites them).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa_service.errors import ConfigurationError, StorageError, describe
from qa_service.schemas import Chunk, PreparedDocument
from qa_service.store.atomic import write_json_atomic
from qa_service.store.catalog import Catalog
from qa_service.store.index import IdArray, Vectors
from qa_service.store.term_table import SparseRow, TermTable, candidates, ranked

__all__ = ["MilvusBackend", "MilvusConnection", "MilvusIndex", "MilvusReader"]

log = logging.getLogger(__name__)

PENDING = "milvus.pending"
_BATCH_ROWS = 1000          # rows a request (a 512-dimension vector is 2 KB)
_BATCH_IDS = 1000           # ids in one filter expression
_MAX_TOPK = 16_384          # Milvus's largest search limit
_NAME = re.compile(r"[^A-Za-z0-9_]")
CONNECT_TIMEOUT_S = 10.0
# dense indexes whose distances are exact; another's hits are candidates, scored again
# from their stored vectors, APPROXIMATE_CANDIDATES times as many as wanted
EXACT_INDEXES = frozenset({"FLAT", "BRUTE_FORCE", "BIN_FLAT"})
APPROXIMATE_CANDIDATES = 2
# what a dense search passes each index by default: the lists an IVF search reads (Milvus
# reads 8 unless told), HNSW's breadth (FAISS's, in Milvus Lite, is 64)
DEFAULT_SEARCH: dict[str, tuple[tuple[str, Any], ...]] = {
    "IVF_FLAT": (("nprobe", 32),), "IVF_SQ8": (("nprobe", 32),), "IVF_PQ": (("nprobe", 32),),
    "HNSW": (("ef", 1024),), "HNSW_SQ": (("ef", 1024),)}


@dataclass(frozen=True)
class MilvusConnection:
    """Where Milvus is and how to sign in (`QA_MILVUS_*`). `uri`: a path ending `.db` runs
    Milvus Lite embedded (one process per file), `http(s)://host:19530` a Milvus server or
    cluster. `index_type`: the dense vectors' index (empty: `dense_index()` chooses),
    `search_params` what a dense search passes it (e.g. `{"nprobe": 64}`; none given: those
    of `dense_index()`'s choice)."""

    uri: str
    token: str = ""
    user: str = ""
    password: str = ""
    db_name: str = ""
    index_type: str = ""
    search_params: tuple[tuple[str, Any], ...] = ()

    @property
    def lite(self) -> bool:
        return self.uri.endswith(".db")

    def dense_index(self) -> str:
        """The dense vectors' index: the one set, else FLAT (exact) on Milvus Lite and
        IVF_SQ8 on a server. Not HNSW: it prunes a graph edge to a vector identical to one
        already linked, and chunks share identical vectors (the sentence two overlapping
        chunks hold, the context of a page's chunks), so some become unreachable: on
        FinanceBench dev, Milvus Lite's HNSW (FAISS's) could not find a chunk's best sentence
        even searching for that sentence's own vector, and page_hit@5 fell from 0.780 to 0.756;
        with FLAT every ranking equalled FAISS's."""
        if self.index_type:
            return self.index_type.upper()
        return "FLAT" if self.lite else "IVF_SQ8"

    def dense_search_params(self) -> dict[str, Any]:
        """What a dense search passes the index (see the class)."""
        if self.search_params:
            return dict(self.search_params)
        return dict(DEFAULT_SEARCH.get(self.dense_index(), ()))

    def validate(self) -> None:
        if not (self.lite or self.uri.startswith(("http://", "https://", "tcp://"))):
            raise ConfigurationError(
                "QA_MILVUS_URI must be a Milvus Lite file ending in .db or a Milvus server's "
                f"http(s)://host:port address, not '{self.uri}'")


def _in(field: str, values: Sequence[int] | Sequence[str]) -> str:
    """A filter expression: `field` is one of `values` (ids and hex digests only)."""
    return f"{field} in {json.dumps(list(values))}"


def _batches(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _upsert(collection: str, rows: list[dict[str, Any]], client: Any) -> Any:
    return client.upsert(collection, rows)


def _delete(collection: str, expression: str, client: Any) -> Any:
    return client.delete(collection, filter=expression)


def _flush(collection: str, client: Any) -> Any:
    return client.flush(collection)


class MilvusBackend:
    """Opens knowledge bases' indexes in one Milvus (one client, shared by all of them)."""

    name = "milvus"

    def __init__(self, connection: MilvusConnection) -> None:
        connection.validate()
        self.connection = connection
        self._client: Any = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        """The Milvus client, connected on first use (pymilvus is imported only here)."""
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> Any:
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:
            raise ConfigurationError(
                "QA_INDEX=milvus needs pymilvus (and milvus-lite for a .db file): install "
                "the service with its `milvus` extra (pip install 'qa-service[milvus]')"
            ) from exc
        settings = self.connection
        if settings.lite:
            Path(settings.uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            return MilvusClient(uri=settings.uri, token=settings.token, user=settings.user,
                                password=settings.password, db_name=settings.db_name,
                                timeout=CONNECT_TIMEOUT_S)
        except Exception as exc:
            hint = ("Milvus Lite serves one process per file: another process (a `qa serve`?) "
                    "may hold it; stop it, or use a Milvus server" if settings.lite else
                    "check QA_MILVUS_URI and the credentials, and that the server is up")
            raise StorageError(f"cannot connect to Milvus ({hint})",
                               detail=f"{settings.uri}: {describe(exc)}") from exc

    def initialize(self, conn: Any) -> None:
        TermTable.create(conn)

    def open(self, root: Path, manifest: Mapping[str, Any], dimension: int,
             vectors_folder: str) -> MilvusIndex:
        return MilvusIndex(self, root, str(manifest["uid"]), dimension, vectors_folder)

    def remove(self, manifest: Mapping[str, Any]) -> None:
        """Drop every collection of the knowledge base `manifest` describes (deleted)."""
        client = self.client()
        prefix = f"qa_{_NAME.sub('_', str(manifest['uid']))}_"
        for name in client.list_collections():
            if name.startswith(prefix):
                client.drop_collection(name)

    def close(self) -> None:
        """Disconnect; with Milvus Lite, also stop its server in this process, which holds
        the file until then (another process can open it once this one closed)."""
        with self._lock:
            client, self._client = self._client, None
        if client is None:
            return
        client.close()
        if self.connection.lite:
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(self.connection.uri)


class MilvusIndex:
    """A knowledge base's `ChunkIndex` in Milvus (see the module)."""

    def __init__(self, backend: MilvusBackend, root: Path, uid: str, dimension: int,
                 vectors_folder: str) -> None:
        self._backend = backend
        self._root = root
        self.dimension = dimension
        prefix = f"qa_{_NAME.sub('_', uid)}_"
        self.dense = prefix + _NAME.sub("_", vectors_folder)
        self.lexical = prefix + "lexical"
        self.documents = prefix + "documents"
        # connect and create the collections now: a wrong setting shows at once
        self._create(backend.client())
        # whether the dense index's distances are exact (`MilvusReader.nearest`)
        self.exact = self._call("describe the vector index", lambda client: client.describe_index(
            self.dense, "vector"))["index_type"] in EXACT_INDEXES

    # --- collections ----------------------------------------------------------------------

    def _client(self) -> Any:
        return self._backend.client()

    def _create(self, client: Any) -> None:
        from pymilvus import DataType, MilvusClient

        wanted = {self.dense: "dense", self.lexical: "lexical", self.documents: "documents"}
        for name, kind in wanted.items():
            if client.has_collection(name):
                client.load_collection(name)
                continue
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            index = client.prepare_index_params()
            if kind == "dense":
                schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=32)
                schema.add_field("chunk_id", DataType.INT64)
                schema.add_field("document_id", DataType.VARCHAR, max_length=64)
                schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
                index.add_index("vector", index_type=self._backend.connection.dense_index(),
                                metric_type="IP")
                index.add_index("chunk_id", index_type="INVERTED")
            elif kind == "lexical":
                schema.add_field("chunk_id", DataType.INT64, is_primary=True)
                schema.add_field("document_id", DataType.VARCHAR, max_length=64)
                schema.add_field("terms", DataType.SPARSE_FLOAT_VECTOR)
                index.add_index("terms", index_type="SPARSE_INVERTED_INDEX",
                                metric_type="IP")
            else:
                schema.add_field("document_id", DataType.VARCHAR, is_primary=True,
                                 max_length=64)
                schema.add_field("terms", DataType.SPARSE_FLOAT_VECTOR)
                index.add_index("terms", index_type="SPARSE_INVERTED_INDEX",
                                metric_type="IP")
            if kind != "documents":
                index.add_index("document_id", index_type="INVERTED")
            client.create_collection(name, schema=schema, index_params=index,
                                     consistency_level="Strong")

    def _call(self, what: str, call: Callable[[Any], Any]) -> Any:
        """`call(client)`, its failure worded as a storage error."""
        try:
            return call(self._client())
        except (StorageError, ConfigurationError):
            raise
        except Exception as exc:
            raise StorageError(f"Milvus failed to {what}",
                               detail=f"{self._backend.connection.uri}: {describe(exc)}"
                               ) from exc

    def _upsert(self, collection: str, rows: list[dict[str, Any]]) -> None:
        for batch in _batches(rows, _BATCH_ROWS):
            self._call("store vectors", partial(_upsert, collection, list(batch)))

    def _delete(self, collection: str, field: str, values: Sequence[Any]) -> None:
        for batch in _batches(values, _BATCH_IDS):
            self._call("delete vectors", partial(_delete, collection, _in(field, batch)))

    # --- the pending ids: what a write may leave behind -----------------------------------

    def _pending(self) -> dict[str, list[Any]]:
        try:
            recorded = json.loads((self._root / PENDING).read_text("utf-8"))
        except FileNotFoundError:
            return {"chunks": [], "documents": []}
        except (OSError, ValueError) as exc:
            raise StorageError("the list of Milvus rows an interrupted write left is "
                               "unreadable", detail=f"{self._root / PENDING}: {exc}") from exc
        return {"chunks": list(recorded.get("chunks", [])),
                "documents": list(recorded.get("documents", []))}

    def _expect(self, chunks: Collection[int], documents: Collection[str]) -> None:
        """Record, durably and before writing them, ids whose rows may become garbage."""
        pending = self._pending()
        write_json_atomic(self._root / PENDING, {
            "chunks": sorted({*pending["chunks"], *(int(c) for c in chunks)}),
            "documents": sorted({*pending["documents"], *documents})})

    # --- ChunkIndex -----------------------------------------------------------------------

    def add(self, document: PreparedDocument) -> None:
        self._expect(document.chunk_ids, [document.info.id])
        self._add_dense(document.vector_ids, document.vectors, document.info.id,
                        {c.id: c.document_id for c in document.chunks})

    def add_vectors(self, chunks: Sequence[Chunk], ids: IdArray, vectors: Vectors) -> None:
        self._add_dense(ids, vectors, "", {c.id: c.document_id for c in chunks})
        self._seal()

    def _add_dense(self, ids: IdArray, vectors: Vectors, document_id: str,
                   owners: Mapping[int, str]) -> None:
        counts: dict[int, int] = {}
        rows: list[dict[str, Any]] = []
        for chunk_id, vector in zip(ids.tolist(), np.asarray(vectors, dtype=np.float32),
                                    strict=True):
            n = counts.get(chunk_id, 0)
            counts[chunk_id] = n + 1
            rows.append({"pk": f"{chunk_id}.{n}", "chunk_id": chunk_id,
                         "document_id": owners.get(chunk_id, document_id),
                         "vector": vector.tolist()})
        self._upsert(self.dense, rows)

    def write(self, conn: Any, document: PreparedDocument) -> None:
        chunks, identity = TermTable.write(conn, document.info.id,
                                           [c.id for c in document.chunks], document.tokens,
                                           document.identity_tokens)
        self._write_sparse(document.info.id, chunks, identity)

    def _write_sparse(self, document_id: str, chunks: list[SparseRow],
                      identity: SparseRow | None) -> None:
        self._upsert(self.lexical, [
            {"chunk_id": row.key, "document_id": document_id, "terms": row.weights}
            for row in chunks if row.weights])
        if identity is not None:
            self._upsert(self.documents, [{"document_id": document_id,
                                           "terms": identity.weights}])

    def erase(self, conn: Any, doc_ids: Sequence[str], chunk_ids: Sequence[int]) -> None:
        self._expect(chunk_ids, doc_ids)
        TermTable.erase(conn, doc_ids, chunk_ids)

    def forget(self, chunk_ids: IdArray, document_ids: Sequence[str]) -> None:
        ids = [int(c) for c in chunk_ids]
        self._delete(self.dense, "chunk_id", ids)
        self._delete(self.lexical, "chunk_id", ids)
        self._delete(self.documents, "document_id", list(document_ids))
        (self._root / PENDING).unlink(missing_ok=True)
        self._seal()

    def _seal(self) -> None:
        """Milvus Lite: move what was written into indexed segments. Lite searches its
        in-memory table by building an index over all of it for every search, so each
        commit seals it; a Milvus server seals and indexes its segments itself, and is
        not asked to (its flush is rate-limited and meant for bulk loads)."""
        if not self._backend.connection.lite:
            return
        for collection in (self.dense, self.lexical, self.documents):
            self._call("seal written rows", partial(_flush, collection))

    def collect_garbage(self, live_ids: IdArray, live_documents: Collection[str]) -> None:
        pending = self._pending()
        live = set(live_ids.tolist())
        documents = set(live_documents)
        self.forget(np.asarray([c for c in pending["chunks"] if c not in live],
                               dtype=np.int64),
                    [d for d in pending["documents"] if d not in documents])

    def needs_compaction(self) -> bool:
        return False  # Milvus compacts its own segments

    def compact(self, live: Callable[[IdArray], npt.NDArray[np.bool_]]) -> None:
        del live

    def reader(self, conn: Any) -> MilvusReader:
        return MilvusReader(conn, self)

    def approximate_due(self) -> bool:
        return False  # Milvus builds its vector indexes itself (`index_type`)

    def build_approximate(self) -> Any:
        raise StorageError("the Milvus index builds its own approximate index")

    def publish_approximate(self, built: Any) -> None:
        del built

    def discard(self, built: Any) -> None:
        del built

    def close(self) -> None:
        """Nothing to release: the client is the backend's, shared."""

    def destroy_vectors(self) -> None:
        self._call("drop replaced vectors",
                   lambda client: client.drop_collection(self.dense))

    # --- reads ------------------------------------------------------------------------------

    def search(self, collection: str, field: str, data: list[Any], limit: int,
               expression: str, group_by: str | None = None,
               output: Sequence[str] = ()) -> list[Any]:
        """The hits of one query (pymilvus `Hit`s: `.id`, `.distance`, `hit[field]`)."""
        params: dict[str, Any] = {"metric_type": "IP"}
        if field == "vector" and (dense := self._backend.connection.dense_search_params()):
            params["params"] = dense
        extra: dict[str, Any] = {"group_by_field": group_by} if group_by else {}
        found = self._call("search", lambda client: client.search(
            collection, data=data, anns_field=field, limit=min(limit, _MAX_TOPK),
            filter=expression, search_params=params, output_fields=list(output), **extra))
        return list(found[0]) if found else []

    def query(self, collection: str, expression: str, output: Sequence[str]
              ) -> list[dict[str, Any]]:
        return list(self._call("read vectors", lambda client: client.query(
            collection, filter=expression, output_fields=list(output))))


class MilvusReader:
    """Reads of one catalog snapshot: term statistics from the catalog, the rest from
    Milvus."""

    def __init__(self, conn: Any, index: MilvusIndex) -> None:
        self._conn = conn
        self._index = index

    def bm25(self, terms: Sequence[str], limit: int,
             document_ids: Sequence[str] | None = None) -> list[tuple[int, float]]:
        if not terms or limit <= 0 or document_ids == []:
            return []
        query = TermTable.chunk_query(self._conn, terms)
        if not query:
            return []
        expression = "" if document_ids is None else _in("document_id", list(document_ids))
        return self._bm25(self._index.lexical, query, limit, expression, int, documents=False)

    def bm25_documents(self, terms: Sequence[str], limit: int) -> list[tuple[str, float]]:
        if not terms or limit <= 0:
            return []
        query = TermTable.document_query(self._conn, terms)
        if not query:
            return []
        return self._bm25(self._index.documents, query, limit, "", str, documents=True)

    def _bm25(self, collection: str, query: dict[int, float], limit: int, expression: str,
              key: Callable[[Any], Any], documents: bool) -> list[tuple[Any, float]]:
        """The best `limit` rows of `collection` for `query` as FTS5 would score and order
        them (`TermTable.rescored`, `ranked`) among Milvus's best candidates, fetched deeper
        while a row kept has a Milvus score no better than the last fetched (rows beyond it
        could tie or, weighed at another average length, score better)."""
        wanted = candidates(limit)
        while True:
            hits = [(key(hit.id), float(hit.distance)) for hit in self._index.search(
                collection, "terms", [query], wanted, expression)]
            fetched, cut = len(hits), hits[-1][1] if hits else 0.0
            if documents:  # identities of documents committed (chunks not committed never
                # become passages: `Snapshot.passages`)
                committed = TermTable.identities(self._conn, [d for d, _ in hits])
                hits = [(d, score) for d, score in hits if d in committed]
            best = ranked(TermTable.rescored(self._conn, query, hits, documents))[:limit]
            engine = dict(hits)
            if (fetched < wanted or wanted >= _MAX_TOPK or not best
                    or min(engine[k] for k, _ in best) > cut):
                return best
            wanted = min(4 * wanted, _MAX_TOPK)

    def term_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        return TermTable.frequencies(self._conn, terms)

    def chunk_count(self) -> int:
        return Catalog.chunk_count(self._conn)

    def indexed_terms(self) -> list[str]:
        return TermTable.terms(self._conn)

    def nearest(self, query_vector: Vectors, k: int,
                document_ids: Sequence[str] | None = None) -> list[tuple[int, float]]:
        if k <= 0 or document_ids == []:
            return []
        expression = "" if document_ids is None else _in("document_id", list(document_ids))
        vector = np.asarray(query_vector, dtype=np.float32).reshape(-1)
        # one more than asked (is the k-th best tied with chunks not returned?); from an
        # approximate index, candidates to score exactly, as FAISS's approximate index does
        limit = k + 1 if self._index.exact else max(k + 1, APPROXIMATE_CANDIDATES * k)
        while True:
            hits = [(int(hit["chunk_id"]), float(hit.distance)) for hit in self._index.search(
                self._index.dense, "vector", [vector.tolist()], limit, expression,
                group_by="chunk_id", output=["chunk_id"])]
            if not self._index.exact:
                hits = self._exactly(hits, vector)
            if (len(hits) < limit or limit >= _MAX_TOPK
                    or min(s for _, s in hits) != ranked(hits)[k - 1][1]):
                return ranked(hits)[:k]
            limit = min(4 * limit, _MAX_TOPK)  # chunks sharing a vector (their context)

    def _exactly(self, hits: list[tuple[int, float]], vector: npt.NDArray[np.float32]
                 ) -> list[tuple[int, float]]:
        """`hits` scored by their best stored vector's inner product with `vector`."""
        stored = self.vectors_of([c for c, _ in hits])
        return [(c, float(np.max(stored[c] @ vector)) if c in stored else score)
                for c, score in hits]

    def vectors_of(self, ids: Sequence[int]) -> dict[int, Vectors]:
        rows: list[dict[str, Any]] = []
        unique = sorted({int(i) for i in ids})
        for batch in _batches(unique, _BATCH_IDS):
            rows += self._index.query(self._index.dense, _in("chunk_id", list(batch)),
                                      ["pk", "chunk_id", "vector"])
        grouped: dict[int, list[tuple[int, list[float]]]] = {}
        for row in rows:
            number = int(str(row["pk"]).rpartition(".")[2])
            grouped.setdefault(int(row["chunk_id"]), []).append((number, row["vector"]))
        return {chunk: np.asarray([v for _, v in sorted(parts)], dtype=np.float32)
                for chunk, parts in grouped.items()}
