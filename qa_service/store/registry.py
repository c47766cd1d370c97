"""The data directory: which knowledge bases exist; create, open (cached), delete.

A knowledge base's folder is its validated name (`^[a-z0-9][a-z0-9_-]{0,63}$`), so no name
can reach outside the data directory. Creation builds the knowledge base in a hidden
folder and renames it into place; deletion renames it away first. Both renames are
atomic, so other processes never see a half-made or half-deleted knowledge base.
An opened knowledge base is cached and reopened when another process replaced it.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from qa_service.errors import AlreadyExists, InvalidName, KnowledgeBaseNotFound, StorageError
from qa_service.parser_identity import DEFAULT_PARSER_IDENTITY
from qa_service.store.atomic import fsync_directory
from qa_service.store.faiss_index import FaissBackend
from qa_service.store.index import IndexBackend
from qa_service.store.knowledge_base import IndexIdentity, KnowledgeBase, read_manifest

__all__ = ["NAME_PATTERN", "KnowledgeBaseRegistry", "validate_name"]

log = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def validate_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidName(
            f"invalid knowledge base name {name!r}: use 1-64 lowercase letters, digits, "
            "'-' or '_', starting with a letter or digit"
        )
    return name


class KnowledgeBaseRegistry:
    def __init__(self, data_dir: Path, parser_identity: dict[str, Any] | None = None,
                 backend: IndexBackend | None = None) -> None:
        """`parser_identity`: what this server reads pages with (`IndexIdentity.parser`),
        which decides whether a knowledge base needs `qa kb rebuild`; `backend`: the
        engine of the knowledge bases' indexes (`qa_service.store.index`; FAISS and FTS5
        with the default settings when not given)."""
        self.data_dir = data_dir
        self.parser_identity = dict(parser_identity or DEFAULT_PARSER_IDENTITY)
        self.backend = backend or FaissBackend()
        self._open: dict[str, tuple[KnowledgeBase, tuple[int, int]]] = {}
        self._lock = threading.Lock()

    def _folder(self, name: str) -> Path:
        return self.data_dir / validate_name(name)

    def names(self) -> list[str]:
        if not self.data_dir.is_dir():
            return []
        return sorted(
            p.name for p in self.data_dir.iterdir()
            if NAME_PATTERN.fullmatch(p.name) and (p / "manifest.json").is_file()
        )

    def create(self, name: str, identity: IndexIdentity) -> KnowledgeBase:
        target = self._folder(name)
        if (target / "manifest.json").exists():
            raise AlreadyExists(f"knowledge base '{name}' already exists")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        building = self.data_dir / f".creating-{name}-{uuid.uuid4().hex[:8]}"
        kb = KnowledgeBase.create(building, name, identity, self.backend)
        kb.close()
        try:
            building.rename(target)
        except OSError as exc:
            shutil.rmtree(building, ignore_errors=True)
            raise AlreadyExists(f"knowledge base '{name}' already exists") from exc
        fsync_directory(self.data_dir)
        return self.open(name)

    def open(self, name: str) -> KnowledgeBase:
        folder = self._folder(name)
        try:
            stat = (folder / "manifest.json").stat()
        except FileNotFoundError:
            self._evict(name)
            raise KnowledgeBaseNotFound(name) from None
        stamp = (stat.st_ino, stat.st_mtime_ns)
        with self._lock:
            cached = self._open.get(name)
            if cached is not None and cached[1] == stamp:
                return cached[0]
            if cached is not None:
                cached[0].close()
            kb = KnowledgeBase.open(folder, name, self.parser_identity, self.backend)
            self._open[name] = (kb, stamp)
            return kb

    def delete(self, name: str) -> None:
        folder = self._folder(name)
        if not (folder / "manifest.json").exists():
            raise KnowledgeBaseNotFound(name)
        self._evict(name)
        trash = self.data_dir / f".deleting-{name}-{uuid.uuid4().hex[:8]}"
        try:
            folder.rename(trash)
        except FileNotFoundError:
            raise KnowledgeBaseNotFound(name) from None
        fsync_directory(self.data_dir)
        self._discard(trash)

    def _discard(self, folder: Path) -> None:
        """Remove a knowledge base's folder renamed away (deleted, or a creation that never
        finished), and first what its index keeps elsewhere (`IndexBackend.remove`)."""
        try:
            manifest = read_manifest(folder)
        except (OSError, StorageError):
            manifest = None  # never got one: its index was never opened
        if manifest is not None and manifest.get("uid"):
            try:
                self.backend.remove(manifest)
            except Exception:  # the folder stays, so the next start tries again
                log.warning("%s: what its index keeps outside it could not be removed yet; "
                            "the next start retries", folder.name, exc_info=True)
                return
        shutil.rmtree(folder, ignore_errors=True)

    def remove_leftovers(self) -> None:
        """Finish what crashes interrupted: a deletion renamed its folder away but did not
        remove it all; a creation older than an hour never got renamed into place."""
        if not self.data_dir.is_dir():
            return
        stale = time.time() - 3600
        for path in self.data_dir.iterdir():
            if path.name.startswith(".deleting-") or (
                    path.name.startswith(".creating-") and path.stat().st_mtime < stale):
                log.info("removing %s, left by an interrupted %s", path.name,
                         "deletion" if path.name.startswith(".deleting-") else "creation")
                self._discard(path)

    def _evict(self, name: str) -> None:
        with self._lock:
            cached = self._open.pop(name, None)
        if cached is not None:
            cached[0].close()

    def close(self) -> None:
        with self._lock:
            opened, self._open = list(self._open.values()), {}
        for kb, _ in opened:
            kb.close()
        self.backend.close()
