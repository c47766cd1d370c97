"""API keys: created once, stored as hashes, checked in constant time, revocable.

    <data_dir>/access.sqlite   keys(id, hash, scope, kbs, created_at, revoked_at)
                               admin(hash, created_at)        the generated admin key

A key is `qa_<id>_<secret>`: the id (public, 12 hex digits) finds the row, the whole
key's SHA-256 is compared with `hmac.compare_digest`. Keys are 256-bit random, so a plain
hash is enough (no password stretching needed). Every check reads the database, so a key
revoked by any process (server or CLI) fails on the next request everywhere.

The admin key is `QA_ADMIN_KEY` when set; otherwise the first start generates one,
stores only its hash, and shows it once. It manages knowledge bases and keys and can do
everything a `write` key can, on every knowledge base.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from qa_service.errors import InvalidRequest, NotFound, StorageError
from qa_service.store.catalog import now, use_wal

__all__ = ["ADMIN_ID", "KeyInfo", "KeyStore", "Principal", "Scope"]

ADMIN_ID = "admin"
_KEY = re.compile(r"^qa_([0-9a-f]{12})_[A-Za-z0-9_-]{20,}$")
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


class Scope(StrEnum):
    READ = "read"  # search, ask, read documents and jobs
    WRITE = "write"  # also upload and delete documents


@dataclass(frozen=True)
class Principal:
    """Who is calling: the admin, a scoped key, or anyone (auth off, loopback only)."""

    key_id: str
    admin: bool = False
    scope: Scope = Scope.READ
    kbs: frozenset[str] = frozenset()

    def can_see(self, kb: str) -> bool:
        return self.admin or kb in self.kbs

    def can_write(self, kb: str) -> bool:
        return self.admin or (kb in self.kbs and self.scope is Scope.WRITE)


@dataclass(frozen=True)
class KeyInfo:
    id: str
    scope: Scope
    kbs: tuple[str, ...]
    created_at: str
    revoked_at: str | None

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "scope": self.scope.value, "kbs": list(self.kbs),
                "created_at": self.created_at, "revoked": self.revoked_at is not None,
                "revoked_at": self.revoked_at}


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    def __init__(self, path: Path, admin_key: str | None = None) -> None:
        self.path = path
        self._configured_admin = _hash(admin_key) if admin_key is not None else None
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            use_wal(db)
            db.executescript("""
                CREATE TABLE IF NOT EXISTS keys (
                    id TEXT PRIMARY KEY, hash TEXT NOT NULL, scope TEXT NOT NULL,
                    kbs TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT);
                CREATE TABLE IF NOT EXISTS admin (
                    id INTEGER PRIMARY KEY CHECK (id = 1), hash TEXT NOT NULL,
                    created_at TEXT NOT NULL);
            """)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError("cannot open the key store (access.sqlite in the data "
                               f"directory): {exc}", detail=str(self.path)) from exc
        try:
            db.execute("PRAGMA synchronous=FULL")
            yield db
        except sqlite3.Error as exc:
            raise StorageError(f"the key store (access.sqlite) failed: {exc}",
                               detail=str(self.path)) from exc
        finally:
            db.close()

    # --- the admin key ---------------------------------------------------------------

    def ensure_admin(self) -> str | None:
        """Make sure an admin key exists; return it when it was just generated (show it
        once), None when `QA_ADMIN_KEY` is set or one was generated before."""
        if self._configured_admin is not None:
            return None
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            if db.execute("SELECT 1 FROM admin").fetchone() is not None:
                db.execute("COMMIT")
                return None
            key = self._new_admin_key()
            db.execute("INSERT INTO admin (id, hash, created_at) VALUES (1, ?, ?)",
                       (_hash(key), now()))
            db.execute("COMMIT")
        return key

    def rotate_admin(self) -> str:
        """Replace the generated admin key (the old one stops working at once)."""
        key = self._new_admin_key()
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO admin (id, hash, created_at) VALUES (1, ?, ?)",
                       (_hash(key), now()))
        return key

    @staticmethod
    def _new_admin_key() -> str:
        return f"qa_admin_{secrets.token_urlsafe(32)}"

    # --- scoped keys -----------------------------------------------------------------

    def forget_kb(self, name: str) -> None:
        """Take a deleted knowledge base out of every key, so that a new knowledge base
        with the same name is not readable with the old keys."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            for key_id, kbs in db.execute("SELECT id, kbs FROM keys").fetchall():
                names = json.loads(kbs)
                if name in names:
                    db.execute("UPDATE keys SET kbs = ? WHERE id = ?",
                               (json.dumps([n for n in names if n != name]), key_id))
            db.execute("COMMIT")

    def create(self, kbs: Sequence[str], scope: Scope) -> tuple[KeyInfo, str]:
        """A new key for these knowledge bases; the key itself is returned only here."""
        if not kbs:
            raise InvalidRequest("a key needs at least one knowledge base in 'kbs'")
        key_id = secrets.token_hex(6)
        key = f"qa_{key_id}_{secrets.token_urlsafe(32)}"
        names = tuple(dict.fromkeys(kbs))
        info = KeyInfo(id=key_id, scope=scope, kbs=names, created_at=now(), revoked_at=None)
        with self._connect() as db:
            db.execute("INSERT INTO keys (id, hash, scope, kbs, created_at) VALUES (?,?,?,?,?)",
                       (key_id, _hash(key), scope.value, json.dumps(list(names)),
                        info.created_at))
        return info, key

    def infos(self) -> list[KeyInfo]:
        with self._connect() as db:
            rows = db.execute("SELECT id, scope, kbs, created_at, revoked_at FROM keys "
                              "ORDER BY rowid").fetchall()
        return [self._info(row) for row in rows]

    def revoke(self, key_id: str) -> KeyInfo:
        with self._connect() as db:
            db.execute("UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                       (now(), key_id))
            row = db.execute("SELECT id, scope, kbs, created_at, revoked_at FROM keys "
                             "WHERE id = ?", (key_id,)).fetchone()
        if row is None:
            raise NotFound(f"there is no key '{key_id}'", api_hint="GET /keys lists them",
                           cli_hint="`qa keys list` lists them")
        return self._info(row)

    @staticmethod
    def _info(row: tuple[str, str, str, str, str | None]) -> KeyInfo:
        key_id, scope, kbs, created_at, revoked_at = row
        return KeyInfo(id=key_id, scope=Scope(scope), kbs=tuple(json.loads(kbs)),
                       created_at=created_at, revoked_at=revoked_at)

    # --- checking --------------------------------------------------------------------

    def authenticate(self, key: str) -> Principal | None:
        """The principal this key stands for, or None (unknown, malformed or revoked)."""
        given = _hash(key)
        match = _KEY.match(key)
        with self._connect() as db:
            admin = (self._configured_admin if self._configured_admin is not None else
                     self._stored_admin(db))
            row = (db.execute("SELECT hash, scope, kbs, revoked_at FROM keys WHERE id = ?",
                              (match.group(1),)).fetchone() if match else None)
        if hmac.compare_digest(given, admin or _DUMMY_HASH) and admin is not None:
            return Principal(key_id=ADMIN_ID, admin=True, scope=Scope.WRITE)
        stored, scope, kbs, revoked_at = row or (_DUMMY_HASH, "read", "[]", "never")
        if not hmac.compare_digest(given, stored) or revoked_at is not None or match is None:
            return None
        return Principal(key_id=match.group(1), scope=Scope(scope), kbs=frozenset(json.loads(kbs)))

    @staticmethod
    def _stored_admin(db: sqlite3.Connection) -> str | None:
        row = db.execute("SELECT hash FROM admin").fetchone()
        return str(row[0]) if row else None
