"""FAISS vector store on local disk: immutable segments listed by an atomic manifest.

Layout under the store's folder:
    manifest.json          {"format", "dimension", "generation", "segments", "removed"}
    seg-<gen>-<rand>.faiss one IndexIDMap(IndexFlatIP) each, written once, never modified

An id may own several vectors (the service stores one per sentence of a chunk, under the
chunk's id): search scores an id by its best vector and returns distinct ids.

    ann-<rand>.faiss       the approximate index of a large knowledge base (approximate.py),
                           listed in the manifest as {"file", "covers", "count", ...}

Adding vectors writes a new segment (fsync) and then a new manifest (atomic replace), so
the cost of an add is proportional to what is added. Removal records ids in the manifest.
`compact` merges segments by size tier, as log-structured stores do: once `MERGE_FACTOR`
segments share a tier (sizes within a factor of `MERGE_FACTOR`), they become one segment of
the next tier, so a vector is rewritten about log8(store / segment) times over its life,
never once per add, and the segment count stays near `MERGE_FACTOR - 1` per tier (no merge
writes more than `MAX_MERGED_VECTORS`: larger stores keep more segments of that size). Once
removed ids reach `DEAD_SHARE` of the live ones, the segments holding them are rewritten
without them, one by one. Segments that the approximate index covers are merged only with
each other, and what they become stays covered.

Search is exact inner product over all segments (an `allowed_ids` filter runs inside FAISS
with an id selector) until the knowledge base has an approximate index; then the index's
candidates and the exact best of the segments it does not cover are scored exactly by
their best vector. Segments and the index are read memory-mapped: one copy in the page
cache, shared by every process. No pickle: FAISS's own format.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa_service.errors import StorageError, describe
from qa_service.store.approximate import (
    INDEX_KIND,
    MAX_TRAINING,
    TRAINING_PER_LIST,
    ApproximateIndex,
    ApproximateSettings,
    BuiltIndex,
    build_index,
    list_count,
)
from qa_service.store.atomic import write_file_atomic, write_json_atomic
from qa_service.store.faiss_io import write_index
from qa_service.store.prefetch import will_need
from qa_service.store.vectors import Hits

__all__ = ["FaissSegmentStore"]

log = logging.getLogger(__name__)

FORMAT = 1
MERGE_FACTOR = 8  # segments of one size tier merged into one
# the most vectors a merge writes into one segment (2 GB at 512 dimensions): merges build
# the segment in memory, and on a 24 GiB machine the server and its searches come first
MAX_MERGED_VECTORS = 1 << 20
DEAD_SHARE = 0.2  # removed ids, as a share of the live ones, that ask for a rewrite
VECTORS_PER_ID = 12  # first guess of search depth per wanted id; deepened when short
EXACT_ALLOWED = 20_000  # an `allowed_ids` filter up to this many ids is scored exactly
GATHER_BLOCK = 65_536  # vectors read at once (building the index, scoring candidates)
IdArray = npt.NDArray[np.int64]
Segment = tuple[str, Any]  # file name, FAISS index (memory-mapped)
Liveness = Callable[[IdArray], npt.NDArray[np.bool_]]  # which of these (unique) ids live


def size_tier(count: int) -> int:
    """A segment's size tier: 0 below `MERGE_FACTOR` vectors, then one per factor."""
    tier = 0
    while count >= MERGE_FACTOR:
        count //= MERGE_FACTOR
        tier += 1
    return tier


class FaissSegmentStore:
    def __init__(self, folder: Path, dimension: int,
                 approximate: ApproximateSettings | None = None) -> None:
        import faiss  # lazy: keeps `import qa_service` light

        self._faiss: Any = faiss
        self.folder = folder
        self._where = f"knowledge base '{folder.parent.name}'"  # messages name no path
        self._dimension = dimension
        self.approximate = approximate or ApproximateSettings()
        self._lock = threading.RLock()
        self._manifest: dict[str, Any] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._loaded: dict[str, Any] = {}
        self._owner_index: dict[str, tuple[IdArray, IdArray]] = {}
        self._removed: IdArray = np.zeros(0, dtype=np.int64)
        self._ann: ApproximateIndex | None = None
        self._unreadable: str | None = None  # an index file that failed to load
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
            listed = (manifest.get("approximate") or {}).get("file")
            if self._ann is not None and self._ann.file != listed:
                self._ann = None  # replaced or dropped: the listed one loads when needed

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
        if index is None:  # memory-mapped: the page cache holds the one copy
            index = self._faiss.read_index(str(self.folder / name), self._faiss.IO_FLAG_MMAP_IFC)
            self._loaded[name] = index
        return index

    def _named_segments(self) -> list[Segment]:
        with self._lock:
            self._refresh_if_changed()
            for _attempt in range(3):
                try:
                    return [(s["file"], self._segment(s["file"]))
                            for s in self._manifest["segments"]]
                except RuntimeError:
                    self.refresh()  # a concurrent compaction replaced a segment: reread
            raise StorageError(f"the vector segments of {self._where} keep changing or are "
                               "missing", detail=str(self.folder))

    def _segments(self) -> list[Any]:
        return [index for _, index in self._named_segments()]

    def _approximate_index(self) -> ApproximateIndex | None:
        """The published approximate index, loaded when first needed (callers hold the lock
        and have refreshed)."""
        listed = self._manifest.get("approximate")
        if not listed or listed.get("kind") != INDEX_KIND:
            return None  # none, or of a kind this version does not read: exact until rebuilt
        if self._ann is None and self._unreadable != listed["file"]:
            try:
                self._ann = ApproximateIndex(self.folder / listed["file"],
                                             self.approximate.nprobe,
                                             self.approximate.probe_vectors)
            except RuntimeError as exc:  # exact search is still right, only slower
                self._unreadable = listed["file"]
                log.warning("the approximate index of %s is unreadable (%s): searching "
                            "exactly until it is rebuilt", self._where, describe(exc))
        return self._ann

    def search(self, queries: npt.NDArray[np.float32], k: int,
               allowed_ids: IdArray | None = None) -> Hits:
        """The `k` best distinct ids per query; an id's score is its best vector's."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self._dimension)
        if k <= 0 or (allowed_ids is not None and len(allowed_ids) == 0):
            return [[] for _ in range(len(queries))]
        if allowed_ids is not None:  # no more distinct ids can come back than are allowed
            allowed_ids = np.unique(np.asarray(allowed_ids, dtype=np.int64))
            k = min(k, len(allowed_ids))
        with self._lock:
            segments = self._named_segments()
            removed, ann, covered = self._removed, self._approximate_index(), self._covered()
        if ann is None:
            return self._exact(queries, k, allowed_ids, [ix for _, ix in segments], removed)
        if allowed_ids is not None and len(allowed_ids) <= EXACT_ALLOWED:
            wanted = allowed_ids[~np.isin(allowed_ids, removed)]
            return [self._best(query, wanted, segments, k) for query in queries]
        return self._approximate(queries, k, allowed_ids, segments, removed, ann, covered)

    def _approximate(self, queries: npt.NDArray[np.float32], k: int,
                     allowed_ids: IdArray | None, segments: list[Segment], removed: IdArray,
                     ann: ApproximateIndex, covered: set[str]) -> Hits:
        """The index's candidates and the exact best of the segments it does not cover
        (`covered`: those it does), scored exactly by their best vector."""
        depth = max(self.approximate.candidates, VECTORS_PER_ID * k)
        found = ann.candidates(queries, depth, removed, allowed_ids)
        while depth < ann.count and any(len(row) < k for row in found):
            depth *= 4  # many vectors of the same ids: look deeper
            found = ann.candidates(queries, depth, removed, allowed_ids)
        newer = [index for name, index in segments if name not in covered]
        recent = (self._exact(queries, depth, allowed_ids, newer, removed) if newer
                  else [[] for _ in range(len(queries))])
        hits = []
        for query, candidates, extra in zip(queries, found, recent, strict=True):
            ids = np.union1d(candidates, np.asarray([i for i, _ in extra], dtype=np.int64))
            hits.append(self._best(query, ids[~np.isin(ids, removed)], segments, k))
        return hits

    def _best(self, query: npt.NDArray[np.float32], ids: IdArray, segments: list[Segment],
              k: int) -> list[tuple[int, float]]:
        """The `k` best of `ids`, each scored exactly by its best vector."""
        scores: list[npt.NDArray[np.float32]] = []
        owners: list[IdArray] = []
        for start in range(0, len(ids), GATHER_BLOCK // VECTORS_PER_ID):
            row_owners, rows = self._gather(ids[start:start + GATHER_BLOCK // VECTORS_PER_ID],
                                            segments)
            scores.append(rows @ query)
            owners.append(row_owners)
        if not owners:
            return []
        row_owners, row_scores = np.concatenate(owners), np.concatenate(scores)
        order = np.lexsort((row_owners, -row_scores))  # best first; ties by id
        row_owners, row_scores = row_owners[order], row_scores[order]
        _, first = np.unique(row_owners, return_index=True)
        best = np.sort(first)[:k]
        return [(int(row_owners[i]), float(row_scores[i])) for i in best]

    def _gather(self, ids: IdArray, segments: list[Segment]
                ) -> tuple[IdArray, npt.NDArray[np.float32]]:
        """Every stored vector of `ids` (sorted, unique): each row's owner and the rows, in
        the order they were added within each id."""
        wanted = []
        for (order, owners), (_, index) in zip(self._sorted_owners(segments), segments,
                                               strict=True):
            low = np.searchsorted(owners, ids, side="left")
            high = np.searchsorted(owners, ids, side="right")
            spans = _ranges(low, high)
            if len(spans):
                stored, rows = self._stored(index), order[spans]
                will_need(stored, rows)  # every segment's reads queued at once
                wanted.append((owners[spans], stored, rows))
        owner_blocks = [owners for owners, _, _ in wanted]
        row_blocks = [stored[rows] for _, stored, rows in wanted]
        if not row_blocks:
            return np.zeros(0, np.int64), np.zeros((0, self._dimension), np.float32)
        return np.concatenate(owner_blocks), np.concatenate(row_blocks)

    def _stored(self, index: Any) -> npt.NDArray[np.float32]:
        """A segment's vectors as a read-only array over FAISS's (memory-mapped) storage;
        valid while `index` is alive."""
        flat = self._faiss.downcast_index(index.index)
        array = self._faiss.rev_swig_ptr(flat.get_xb(), index.ntotal * self._dimension)
        stored: npt.NDArray[np.float32] = array.reshape(index.ntotal, self._dimension)
        return stored

    def _exact(self, queries: npt.NDArray[np.float32], k: int, allowed_ids: IdArray | None,
               segments: list[Any], removed: IdArray) -> Hits:
        total = sum(index.ntotal for index in segments)
        params, keep_alive = self._params(allowed_ids)
        depth = k * VECTORS_PER_ID + len(removed)
        while True:
            found = [(*index.search(queries, min(index.ntotal, depth), params=params),
                      index.ntotal <= depth) for index in segments if index.ntotal]
            hits = [self._top(q, found, removed, k) for q in range(len(queries))]
            if depth >= total or all(self._settled(row, q, found, k)
                                     for q, row in enumerate(hits)):
                break
            # many vectors of the same ids, removed ones, or vectors tied with the k-th
            # best beyond the depth (chunks sharing their context's vector): look deeper
            depth *= 4
        del keep_alive
        return hits

    @staticmethod
    def _settled(row: list[tuple[int, float]], q: int, found: list[tuple[Any, Any, bool]],
                 k: int) -> bool:
        """Whether `row`, the `k` best of query `q`, is final: each segment's list either
        holds all it has for the query or ends below the k-th best score, so no vector
        beyond the depth could enter `row` or tie with its last."""
        if len(row) < k:
            return False
        floor = row[-1][1]
        return all(ended or ids[q][-1] < 0 or scores[q][-1] < floor
                   for scores, ids, ended in found)

    def _params(self, allowed_ids: IdArray | None) -> tuple[Any, Any]:
        if allowed_ids is None:
            return None, None
        allowed = np.ascontiguousarray(allowed_ids, dtype=np.int64)
        selector = self._faiss.IDSelectorBatch(len(allowed), self._faiss.swig_ptr(allowed))
        return self._faiss.SearchParameters(sel=selector), (selector, allowed)

    @staticmethod
    def _top(q: int, found: list[tuple[Any, Any, bool]], removed: IdArray, k: int
             ) -> list[tuple[int, float]]:
        if not found:
            return []
        row_ids = np.concatenate([ids[q] for _, ids, _ in found])
        row_scores = np.concatenate([scores[q] for scores, _, _ in found])
        keep = (row_ids >= 0) & ~np.isin(row_ids, removed)
        row_ids, row_scores = row_ids[keep], row_scores[keep]
        order = np.lexsort((row_ids, -row_scores))  # best first; ties by id
        row_ids, row_scores = row_ids[order], row_scores[order]
        _, first = np.unique(row_ids, return_index=True)  # an id's best vector comes first
        best = np.sort(first)[:k]
        return [(int(row_ids[i]), float(row_scores[i])) for i in best]

    def vectors_of(self, ids: IdArray) -> dict[int, npt.NDArray[np.float32]]:
        """Every live vector of each of `ids`, in the order they were added."""
        with self._lock:  # one manifest for the segments and their owner indexes
            segments = self._named_segments()
            removed = self._removed
        wanted = np.unique(np.asarray(ids, dtype=np.int64))
        wanted = wanted[~np.isin(wanted, removed)]
        owners, rows = self._gather(wanted, segments)
        order = np.argsort(owners, kind="stable")  # an id lives in one segment: order kept
        owners, rows = owners[order], rows[order]
        starts: list[int] = (np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]]).tolist()
                             if len(owners) else [])
        return {int(owners[a]): np.array(rows[a:b], dtype=np.float32)
                for a, b in itertools.pairwise([*starts, len(owners)])}

    def _sorted_owners(self, segments: list[Segment]) -> list[tuple[IdArray, IdArray]]:
        """Per segment: the storage positions sorted by owner id, and those owners.
        Segments never change, so this is computed once per segment file."""
        result = []
        for name, index in segments:
            with self._lock:
                cached = self._owner_index.get(name)
            if cached is None:
                owners = self._owners(index)
                order = np.argsort(owners, kind="stable")
                cached = (order, owners[order])
                with self._lock:
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
            manifest["segments"] = [*manifest["segments"], {"file": name, "count": len(ids),
                                                             "ids": len(np.unique(ids))}]
            self._publish(manifest)

    def _purge(self, ids: IdArray) -> None:
        """Rewrite the segments holding `ids` without any removed id; `ids` (all removed)
        then leave `removed`, since no segment holds them any more."""
        self._rewrite_holding(ids, lambda owners: ~np.isin(owners, self._removed))

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
        """Whether `compact` has work: a full size tier, or removed ids past `DEAD_SHARE`
        (read from the manifest alone: it is asked after every write)."""
        with self._lock:
            self._refresh_if_changed()
            return bool(self._full_tier()) or self._mostly_removed()

    def _full_tier(self) -> list[dict[str, Any]]:
        """What to merge next: of the smallest size tier holding `MERGE_FACTOR` segments
        that the approximate index either all covers or all does not, its smallest ones
        while together they hold at most `MAX_MERGED_VECTORS` (two at least); none if no
        tier is full or none has two that fit."""
        covered = self._covered()
        tiers: dict[tuple[int, bool], list[dict[str, Any]]] = {}
        for segment in self._manifest["segments"]:
            key = (size_tier(int(segment["count"])), segment["file"] in covered)
            tiers.setdefault(key, []).append(segment)
        for _, group in sorted(tiers.items()):
            if len(group) < MERGE_FACTOR:
                continue
            chosen, total = [], 0
            for segment in sorted(group, key=lambda s: int(s["count"])):
                if total + int(segment["count"]) > MAX_MERGED_VECTORS:
                    break
                chosen.append(segment)
                total += int(segment["count"])
            if len(chosen) >= 2:
                return chosen
        return []

    def _mostly_removed(self) -> bool:
        listed = sum(int(s.get("ids", s["count"])) for s in self._manifest["segments"])
        return len(self._removed) > DEAD_SHARE * max(listed - len(self._removed), 1)

    def _covered(self) -> set[str]:
        """The segments whose vectors the approximate index holds."""
        return set((self._manifest.get("approximate") or {}).get("covers", ()))

    def compact(self, live: Liveness) -> None:
        """Merge full size tiers (cascading); rewrite the segments holding removed ids once
        they pass `DEAD_SHARE`. Rewritten segments keep only vectors of ids that `live`
        accepts and that were not removed; `live` is asked only about those segments."""
        with self._lock:
            self.refresh()
            if self._mostly_removed():
                self._rewrite_holding(self._removed, lambda owners: self._kept(owners, live))
                self._prune_removed()
            while chosen := self._full_tier():
                masks = {s["file"]: self._kept(self._owners(self._segment(s["file"])), live)
                         for s in chosen}
                self._rewrite(chosen, masks)

    def _rewrite_holding(self, ids: IdArray,
                         keep: Callable[[IdArray], npt.NDArray[np.bool_]]) -> None:
        """Rewrite, one by one, the segments holding any of `ids`, each keeping the vectors
        `keep(its owners)` selects."""
        for segment in list(self._manifest["segments"]):
            owners = self._owners(self._segment(segment["file"]))
            if np.isin(owners, ids).any():
                self._rewrite([segment], {segment["file"]: keep(owners)})

    def _kept(self, owners: IdArray, live: Liveness) -> npt.NDArray[np.bool_]:
        """Which of a segment's vectors (their `owners`) a rewrite keeps."""
        unique, position = np.unique(owners, return_inverse=True)
        wanted = np.asarray(live(unique), dtype=bool) & ~np.isin(unique, self._removed)
        kept: npt.NDArray[np.bool_] = wanted[position]
        return kept

    def _rewrite(self, chosen: list[dict[str, Any]], masks: dict[str, Any]) -> None:
        """Replace the `chosen` segments by one holding the vectors their masks keep; it is
        covered by the approximate index if they all were. Removed ids that no segment
        holds any more leave `removed` (counted as stale in the approximate index, which
        may still hold them)."""
        merged = self._faiss.IndexIDMap(self._faiss.IndexFlatIP(self._dimension))
        id_blocks, held = [], []
        for segment in chosen:  # block by block from the mapped files: one copy in memory
            index = self._segment(segment["file"])
            owners, stored, mask = self._owners(index), self._stored(index), masks[segment["file"]]
            held.append(owners)
            for start in range(0, len(owners), GATHER_BLOCK):
                keep = mask[start:start + GATHER_BLOCK]
                block = owners[start:start + GATHER_BLOCK][keep]
                if len(block):
                    merged.add_with_ids(np.ascontiguousarray(
                        stored[start:start + GATHER_BLOCK][keep]), block)
                    id_blocks.append(block)
        names = {s["file"] for s in chosen}
        covered = self._covered()
        kept = [s for s in self._manifest["segments"] if s["file"] not in names]
        # removed ids the chosen segments held and no other segment holds leave `removed`
        # (looked up in the other segments' sorted owners: no pass over the whole store)
        dropped = self._removed[np.isin(self._removed, np.concatenate(held))] if held \
            else np.zeros(0, np.int64)
        if len(dropped):
            others = [(s["file"], self._segment(s["file"])) for s in kept]
            for _, owners in self._sorted_owners(others):
                dropped = dropped[~_holds(owners, dropped)]
        manifest = dict(self._manifest)
        new_ids = np.concatenate(id_blocks) if id_blocks else np.zeros(0, np.int64)
        name = None
        if len(new_ids):
            name = self._write_index(merged)
            kept.append({"file": name, "count": len(new_ids), "ids": len(np.unique(new_ids))})
        manifest["segments"] = kept
        listed = manifest.get("approximate")
        if listed:
            stays_covered = names <= covered and name is not None
            covers = [c for c in listed["covers"] if c not in names]
            manifest["approximate"] = {**listed,
                                       "covers": [*covers, name] if stays_covered else covers}
        self._publish(self._without_removed(manifest, dropped))
        for segment in chosen:
            (self.folder / segment["file"]).unlink(missing_ok=True)

    def _without_removed(self, manifest: dict[str, Any], dropped: Any) -> dict[str, Any]:
        """`manifest` without the `dropped` removed ids (no segment holds them any more),
        counted as stale in the approximate index, which may still hold them."""
        if not len(dropped):
            return manifest
        manifest["removed"] = [int(i) for i in np.setdiff1d(self._removed, dropped)]
        listed = manifest.get("approximate")
        if listed:
            manifest["approximate"] = {**listed,
                                       "stale": int(listed.get("stale", 0)) + len(dropped)}
        return manifest

    def _prune_removed(self) -> None:
        """Drop removed ids that no segment holds (a pass over every segment's ids: only
        when removed ids pass `DEAD_SHARE`)."""
        every = [self._owners(self._segment(s["file"])) for s in self._manifest["segments"]]
        held = np.concatenate(every) if every else np.zeros(0, np.int64)
        dropped = self._removed[~np.isin(self._removed, held)]
        if len(dropped):
            self._publish(self._without_removed(dict(self._manifest), dropped))

    def _owners(self, index: Any) -> IdArray:
        """The id of each vector of a segment, in storage order."""
        owners: IdArray = self._faiss.vector_to_array(index.id_map).astype(np.int64)
        return owners

    def _write_segment(self, ids: IdArray, vectors: npt.NDArray[np.float32]) -> str:
        index = self._faiss.IndexIDMap(self._faiss.IndexFlatIP(self._dimension))
        index.add_with_ids(vectors, ids)
        return self._write_index(index)

    def _write_index(self, index: Any) -> str:
        """Write a segment's file (streamed by FAISS, fsync, rename); its name."""
        generation = int(self._manifest["generation"]) + 1
        name = f"seg-{generation:06d}-{uuid.uuid4().hex[:8]}.faiss"
        write_file_atomic(self.folder / name, lambda handle: write_index(index, handle))
        return name  # read back memory-mapped when first searched

    # --- the approximate index (approximate.py) ------------------------------------------

    def approximate_due(self) -> bool:
        """Whether the approximate index should be (re)built: the store holds at least
        `approximate_from` ids and has no index, or a `rebuild_fraction` of its ids are
        outside the index or removed from it."""
        settings = self.approximate
        with self._lock:
            self._refresh_if_changed()
            segments = list(self._manifest["segments"])
            listed = self._manifest.get("approximate")
            removed = len(self._removed)
        older = [s for s in segments if "ids" not in s]  # listed before ids were counted
        indexes = dict(self._named_segments()) if older else {}
        counts = {s["file"]: int(s["ids"]) if "ids" in s else self._distinct(indexes.get(s["file"]))
                  for s in segments}
        live = sum(counts.values()) - removed
        if live < max(settings.approximate_from, 1):
            return False
        if not listed or listed.get("kind") != INDEX_KIND or listed["file"] == self._unreadable:
            return True
        covered = set(listed["covers"])
        outside = sum(n for name, n in counts.items() if name not in covered)
        stale = int(listed.get("stale", 0))
        return outside + removed + stale > settings.rebuild_fraction * max(live, 1)

    def _distinct(self, index: Any) -> int:
        """How many ids a segment holds (0 for one compacted away meanwhile)."""
        return 0 if index is None else len(np.unique(self._owners(index)))

    def build_approximate(self) -> BuiltIndex:
        """Write a new approximate index over the live vectors of the segments listed now.
        Runs without any lock (segments never change; one compacted away meanwhile stays
        readable through its mapping); `publish_approximate` makes it the store's."""
        with self._lock:
            segments = self._named_segments()
            removed = self._removed
        total = sum(int(index.ntotal) for _, index in segments)
        lists = list_count(total, self.approximate.max_lists)
        size = min(total, MAX_TRAINING, TRAINING_PER_LIST * lists)
        picks = np.sort(np.random.default_rng(0).choice(total, size, replace=False))
        sample, offset = [], 0
        for _, index in segments:  # a uniform sample of every vector, to train on
            mine = picks[(picks >= offset) & (picks < offset + index.ntotal)] - offset
            sample.append(self._stored(index)[mine])
            offset += int(index.ntotal)

        def rows() -> Iterator[tuple[IdArray, npt.NDArray[np.float32]]]:
            for _, index in segments:
                owners, stored = self._owners(index), self._stored(index)
                for start in range(0, len(owners), GATHER_BLOCK):
                    block = owners[start:start + GATHER_BLOCK]
                    live = ~np.isin(block, removed)
                    yield block[live], stored[start:start + GATHER_BLOCK][live]

        return build_index(self.folder, self._dimension, total,
                           np.concatenate(sample) if sample else np.zeros((0, self._dimension),
                                                                          np.float32),
                           rows(), tuple(name for name, _ in segments), self.approximate)

    def publish_approximate(self, built: BuiltIndex) -> None:
        """Make `built` the store's approximate index (callers hold the knowledge base's
        write lock); the one it replaces is deleted (readers keep their mapping)."""
        with self._lock:
            self.refresh()
            manifest = dict(self._manifest)
            old = manifest.get("approximate")
            manifest["approximate"] = {"file": built.file, "kind": INDEX_KIND,
                                       "covers": list(built.covers), "count": built.count,
                                       "lists": built.lists}
            self._publish(manifest)
        if old and old["file"] != built.file:
            (self.folder / old["file"]).unlink(missing_ok=True)

    def _publish(self, manifest: dict[str, Any]) -> None:
        manifest["generation"] = int(self._manifest["generation"]) + 1
        write_json_atomic(self._manifest_path, manifest)
        self.refresh()

    def remove_orphans(self) -> None:
        """Delete segment files no manifest refers to (left by a crash mid-publish)."""
        with self._lock:
            self.refresh()
            listed = {s["file"] for s in self._manifest["segments"]}
            ann = (self._manifest.get("approximate") or {}).get("file")
            for path in [*self.folder.glob("seg-*.faiss"), *self.folder.glob("ann-*.faiss")]:
                if path.name not in listed and path.name != ann:
                    path.unlink(missing_ok=True)
            for path in self.folder.glob(".*.tmp"):
                path.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            self._loaded.clear()
            self._owner_index.clear()
            self._ann = None


def _holds(sorted_ids: IdArray, ids: IdArray) -> npt.NDArray[np.bool_]:
    """Which of `ids` are in `sorted_ids` (sorted ascending)."""
    at = np.searchsorted(sorted_ids, ids)
    found = at < len(sorted_ids)
    found[found] = sorted_ids[at[found]] == ids[found]
    return found


def _ranges(low: IdArray, high: IdArray) -> IdArray:
    """The concatenation of `range(low[i], high[i])` for every i, as one array."""
    lengths = high - low
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ends = np.cumsum(lengths)
    spans: IdArray = np.arange(total, dtype=np.int64) + np.repeat(low - (ends - lengths),
                                                                  lengths)
    return spans
