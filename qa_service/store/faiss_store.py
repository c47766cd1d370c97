"""FAISS vector store on local disk: immutable segments listed by an atomic manifest.

Layout under the store's folder:
    manifest.json          {"format", "dimension", "generation", "segments", "removed"}
    seg-<gen>-<rand>.faiss one IndexIDMap(IndexFlatIP) each, written once, never modified

An id may own several vectors (the service stores one per sentence of a chunk, under the
chunk's id): search scores an id by its best vector and returns distinct ids.

Adding vectors writes a new segment (fsync) and then a new manifest (atomic replace), so
the cost of an add is proportional to what is added. Removal records ids in the manifest;
`compact` rewrites segments that are mostly dead and merges small ones, keeping the
segment count bounded. Exact inner-product search over all segments; an `allowed_ids`
filter runs inside FAISS with an id selector. No pickle: FAISS's own binary format.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa_service.errors import StorageError, describe
from qa_service.store.atomic import write_bytes_atomic, write_json_atomic
from qa_service.store.vectors import Hits

__all__ = ["FaissSegmentStore"]

FORMAT = 1
MAX_SEGMENTS = 12
MIN_LIVE_FRACTION = 0.7
VECTORS_PER_ID = 12  # first guess of search depth per wanted id; deepened when short
IdArray = npt.NDArray[np.int64]


class FaissSegmentStore:
    def __init__(self, folder: Path, dimension: int) -> None:
        import faiss  # lazy: keeps `import qa_service` light

        self._faiss: Any = faiss
        self.folder = folder
        self._where = f"knowledge base '{folder.parent.name}'"  # messages name no path
        self._dimension = dimension
        self._lock = threading.RLock()
        self._manifest: dict[str, Any] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._loaded: dict[str, Any] = {}
        self._owner_index: dict[str, tuple[IdArray, IdArray]] = {}
        self._removed: IdArray = np.zeros(0, dtype=np.int64)
        folder.mkdir(parents=True, exist_ok=True)
        if not self._manifest_path.exists():
            write_json_atomic(self._manifest_path, self._empty_manifest())
        self.refresh()

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def _manifest_path(self) -> Path:
        return self.folder / "manifest.json"

    def _empty_manifest(self) -> dict[str, Any]:
        return {"format": FORMAT, "dimension": self._dimension, "generation": 0,
                "segments": [], "removed": []}

    # --- reading ---------------------------------------------------------------------

    def refresh(self) -> None:
        with self._lock:
            try:
                stat = self._manifest_path.stat()
                manifest = json.loads(self._manifest_path.read_text("utf-8"))
            except (OSError, ValueError) as exc:
                raise StorageError(
                    f"the vector manifest of {self._where} is unreadable ({describe(exc)})",
                    detail=f"{self._manifest_path}: {exc}") from exc
            if manifest.get("format") != FORMAT or manifest.get("dimension") != self._dimension:
                raise StorageError(
                    f"the vector store of {self._where} has format {manifest.get('format')} "
                    f"and dimension {manifest.get('dimension')}; "
                    f"expected {FORMAT} and {self._dimension}", detail=str(self.folder))
            self._manifest = manifest
            self._stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            self._removed = np.asarray(sorted(manifest["removed"]), dtype=np.int64)
            names = {segment["file"] for segment in manifest["segments"]}
            self._loaded = {n: idx for n, idx in self._loaded.items() if n in names}
            self._owner_index = {n: v for n, v in self._owner_index.items() if n in names}

    def _refresh_if_changed(self) -> None:
        try:
            stat = self._manifest_path.stat()
        except OSError as exc:
            raise StorageError(f"the vector manifest of {self._where} is missing",
                               detail=f"{self._manifest_path}: {exc}") from exc
        if (stat.st_ino, stat.st_mtime_ns, stat.st_size) != self._stamp:
            self.refresh()

    def _segment(self, name: str) -> Any:
        index = self._loaded.get(name)
        if index is None:
            index = self._faiss.read_index(str(self.folder / name))
            self._loaded[name] = index
        return index

    def _segments(self) -> list[Any]:
        with self._lock:
            self._refresh_if_changed()
            for _attempt in range(3):
                try:
                    return [self._segment(s["file"]) for s in self._manifest["segments"]]
                except RuntimeError:
                    self.refresh()  # a concurrent compaction replaced a segment: reread
            raise StorageError(f"the vector segments of {self._where} keep changing or are "
                               "missing", detail=str(self.folder))

    def search(self, queries: npt.NDArray[np.float32], k: int,
               allowed_ids: IdArray | None = None) -> Hits:
        """The `k` best distinct ids per query; an id's score is its best vector's."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self._dimension)
        if k <= 0 or (allowed_ids is not None and len(allowed_ids) == 0):
            return [[] for _ in range(len(queries))]
        if allowed_ids is not None:  # no more distinct ids can come back than are allowed
            k = min(k, len(np.unique(allowed_ids)))
        segments, removed = self._segments(), self._removed
        total = sum(index.ntotal for index in segments)
        params, keep_alive = self._params(allowed_ids)
        depth = k * VECTORS_PER_ID + len(removed)
        while True:
            found = [index.search(queries, min(index.ntotal, depth), params=params)
                     for index in segments if index.ntotal]
            hits = [self._top(q, found, removed, k) for q in range(len(queries))]
            if depth >= total or all(len(row) >= k for row in hits):
                break
            depth *= 4  # many vectors of the same ids, or removed ones: look deeper
        del keep_alive
        return hits

    def _params(self, allowed_ids: IdArray | None) -> tuple[Any, Any]:
        if allowed_ids is None:
            return None, None
        allowed = np.ascontiguousarray(allowed_ids, dtype=np.int64)
        selector = self._faiss.IDSelectorBatch(len(allowed), self._faiss.swig_ptr(allowed))
        return self._faiss.SearchParameters(sel=selector), (selector, allowed)

    @staticmethod
    def _top(q: int, found: list[tuple[Any, Any]], removed: IdArray, k: int
             ) -> list[tuple[int, float]]:
        if not found:
            return []
        row_ids = np.concatenate([ids[q] for _, ids in found])
        row_scores = np.concatenate([scores[q] for scores, _ in found])
        keep = (row_ids >= 0) & ~np.isin(row_ids, removed)
        row_ids, row_scores = row_ids[keep], row_scores[keep]
        order = np.argsort(-row_scores, kind="stable")
        row_ids, row_scores = row_ids[order], row_scores[order]
        _, first = np.unique(row_ids, return_index=True)  # an id's best vector comes first
        best = np.sort(first)[:k]
        return [(int(row_ids[i]), float(row_scores[i])) for i in best]

    def vectors_of(self, ids: IdArray) -> dict[int, npt.NDArray[np.float32]]:
        """Every live vector of each of `ids`, in the order they were added."""
        with self._lock:  # one manifest for the segments and their owner indexes
            segments = self._segments()
            names = [segment["file"] for segment in self._manifest["segments"]]
            owner_indexes = self._sorted_owners(names)
            removed = self._removed
        wanted = np.unique(np.asarray(ids, dtype=np.int64))
        wanted = wanted[~np.isin(wanted, removed)]
        found: dict[int, list[npt.NDArray[np.float32]]] = {}
        for index, (order, owners) in zip(segments, owner_indexes, strict=True):
            low = np.searchsorted(owners, wanted, side="left")
            high = np.searchsorted(owners, wanted, side="right")
            for chunk_id, first, last in zip(wanted, low, high, strict=True):
                for position in np.sort(order[first:last]):
                    found.setdefault(int(chunk_id), []).append(
                        index.index.reconstruct(int(position)))
        return {i: np.vstack(rows).astype(np.float32) for i, rows in found.items()}

    def _sorted_owners(self, names: list[str]) -> list[tuple[IdArray, IdArray]]:
        """Per segment: the storage positions sorted by owner id, and those owners.
        Segments never change, so this is computed once per segment file."""
        result = []
        for name in names:
            cached = self._owner_index.get(name)
            if cached is None:
                owners = self._owners(self._segment(name))
                order = np.argsort(owners, kind="stable")
                cached = (order, owners[order])
                self._owner_index[name] = cached
            result.append(cached)
        return result

    def ids(self) -> IdArray:
        segments = self._segments()
        with self._lock:
            removed = self._removed
        every = [self._owners(index) for index in segments]
        if not every:
            return np.zeros(0, np.int64)
        merged = np.unique(np.concatenate(every).astype(np.int64))
        return merged[~np.isin(merged, removed)]

    # --- writing (callers hold the knowledge base's write lock) ------------------------

    def add(self, ids: IdArray, vectors: npt.NDArray[np.float32]) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self._dimension)
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        if len(ids) == 0:
            return
        with self._lock:
            self.refresh()
            readded = self._removed[np.isin(self._removed, ids)]
            if len(readded):
                self._purge(readded)  # old vectors of a removed id must not come back
            name = self._write_segment(ids, vectors)
            manifest = dict(self._manifest)
            manifest["segments"] = [*manifest["segments"], {"file": name, "count": len(ids)}]
            self._publish(manifest)

    def _purge(self, ids: IdArray) -> None:
        """Rewrite the segments holding `ids` without any removed id; `ids` (all removed)
        then leave `removed`, since no segment holds them any more."""
        segments = list(self._manifest["segments"])
        owners = {seg["file"]: self._owners(self._segment(seg["file"])) for seg in segments}
        chosen = [seg for seg in segments if np.isin(owners[seg["file"]], ids).any()]
        self._rewrite(chosen, {name: ~np.isin(o, self._removed) for name, o in owners.items()})

    def remove(self, ids: IdArray) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            self.refresh()
            manifest = dict(self._manifest)
            removed = np.union1d(self._removed, np.asarray(ids, dtype=np.int64))
            manifest["removed"] = [int(i) for i in removed]
            self._publish(manifest)

    def needs_compaction(self) -> bool:
        with self._lock:
            self._refresh_if_changed()
            segments = self._manifest["segments"]
            total = sum(s["count"] for s in segments)
            return len(segments) > MAX_SEGMENTS or len(self._removed) > 0.2 * max(total, 1)

    def compact(self, live_ids: IdArray) -> None:
        """Rewrite mostly-dead segments and merge small ones; drop ids not in `live_ids`."""
        live = np.asarray(live_ids, dtype=np.int64)
        with self._lock:
            self.refresh()
            segments = list(self._manifest["segments"])
            stats = [(s, self._live_mask(self._segment(s["file"]), live)) for s in segments]
            chosen = [s for s, mask in stats if mask.mean() < MIN_LIVE_FRACTION]
            if len(segments) > MAX_SEGMENTS:
                by_size = sorted(segments, key=lambda s: s["count"])
                excess = len(segments) - MAX_SEGMENTS // 2 + 1
                chosen += [s for s in by_size[:excess] if s not in chosen]
            if not chosen:
                return
            self._rewrite(chosen, {s["file"]: mask for s, mask in stats})

    def _rewrite(self, chosen: list[dict[str, Any]], masks: dict[str, Any]) -> None:
        """Merge the `chosen` segments into one, keeping the vectors their mask selects."""
        id_blocks, vector_blocks = [], []
        for segment in chosen:
            index = self._segment(segment["file"])
            mask = masks[segment["file"]]
            id_blocks.append(self._owners(index)[mask])
            vector_blocks.append(index.index.reconstruct_n(0, index.ntotal)[mask])
        kept = [s for s in self._manifest["segments"] if s not in chosen]
        manifest = dict(self._manifest)
        new_ids = np.concatenate(id_blocks) if id_blocks else np.zeros(0, np.int64)
        if len(new_ids):
            name = self._write_segment(new_ids, np.concatenate(vector_blocks))
            kept.append({"file": name, "count": len(new_ids)})
        manifest["segments"] = kept
        still_present = [self._owners(self._segment(s["file"])) for s in kept]
        present = np.concatenate(still_present) if still_present else np.zeros(0, np.int64)
        manifest["removed"] = [int(i) for i in self._removed[np.isin(self._removed, present)]]
        self._publish(manifest)
        for segment in chosen:
            (self.folder / segment["file"]).unlink(missing_ok=True)

    def _owners(self, index: Any) -> IdArray:
        """The id of each vector of a segment, in storage order."""
        owners: IdArray = self._faiss.vector_to_array(index.id_map).astype(np.int64)
        return owners

    def _live_mask(self, index: Any, live: IdArray) -> Any:
        ids = self._owners(index)
        return np.isin(ids, live) & ~np.isin(ids, self._removed)

    def _write_segment(self, ids: IdArray, vectors: npt.NDArray[np.float32]) -> str:
        faiss = self._faiss
        index = faiss.IndexIDMap(faiss.IndexFlatIP(self._dimension))
        index.add_with_ids(vectors, ids)
        generation = int(self._manifest["generation"]) + 1
        name = f"seg-{generation:06d}-{uuid.uuid4().hex[:8]}.faiss"
        write_bytes_atomic(self.folder / name, faiss.serialize_index(index).tobytes())
        self._loaded[name] = index
        return name

    def _publish(self, manifest: dict[str, Any]) -> None:
        manifest["generation"] = int(self._manifest["generation"]) + 1
        write_json_atomic(self._manifest_path, manifest)
        self.refresh()

    def remove_orphans(self) -> None:
        """Delete segment files no manifest refers to (left by a crash mid-publish)."""
        with self._lock:
            self.refresh()
            listed = {s["file"] for s in self._manifest["segments"]}
            for path in self.folder.glob("seg-*.faiss"):
                if path.name not in listed:
                    path.unlink(missing_ok=True)
            for path in self.folder.glob(".*.tmp"):
                path.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            self._loaded.clear()
            self._owner_index.clear()
