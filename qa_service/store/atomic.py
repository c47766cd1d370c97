"""Durable, atomic file publication: write a temporary file, fsync, rename, fsync the folder.

A reader sees either the old file or the new one, never a torn one, and once these
functions return the new content survives a crash or power loss.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["fsync_directory", "write_bytes_atomic", "write_file_atomic", "write_json_atomic"]


def fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes | memoryview) -> None:
    write_file_atomic(path, lambda handle: handle.write(data))


def write_file_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """`write(handle)` writes the file's content into a temporary file beside `path` (in
    pieces, when a library streams it: nothing need be held in memory whole), which is then
    made durable (fsync) and renamed over `path`."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def write_json_atomic(path: Path, value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    write_bytes_atomic(path, text.encode("utf-8"))
