"""The data directory must be on a local disk: refuse a network file system clearly.

A knowledge base's catalog is SQLite in WAL mode, whose readers and writer share memory
through a `-shm` file, and its publisher holds an `flock`; neither works across machines
over NFS, SMB/CIFS or similar (SQLite's documentation: WAL "does not work over a network
filesystem"). Several API servers therefore cannot share one data directory on shared
storage: the README's "More than one API server" says what that deployment needs instead.
`network_file_system` finds the file system a path lives on in the mount table, and
`Services.build` refuses one of these types for the data directory before opening anything.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["NETWORK_TYPES", "network_file_system"]

NETWORK_TYPES = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "ceph", "glusterfs", "lustre",
    "gpfs", "beegfs", "9p", "fuse.sshfs", "fuse.glusterfs", "fuse.cephfs", "fuse.s3fs",
    "fuse.gcsfuse", "fuse.juicefs", "davfs", "fuse.rclone",
})


def _unescape(field: str) -> str:
    """A mount table field with its octal escapes (`\\040` for a space) decoded."""
    out, index = [], 0
    while index < len(field):
        if field[index] == "\\" and field[index + 1:index + 4].isdigit():
            out.append(chr(int(field[index + 1:index + 4], 8)))
            index += 4
        else:
            out.append(field[index])
            index += 1
    return "".join(out)


def network_file_system(path: Path, mounts: str | None = None) -> str | None:
    """The type of the network file system `path` (or its nearest existing parent) is on,
    or None for a local one. `mounts`: the mount table's text (`/proc/mounts` by default;
    unreadable: None, as on systems without one)."""
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text("utf-8")
        except OSError:
            return None
    target, missing = Path(os.path.abspath(path)), []
    while not target.exists() and target != target.parent:  # links resolved where they exist
        missing.append(target.name)
        target = target.parent
    target = target.resolve().joinpath(*reversed(missing))
    best, kind = "", ""
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point, fs_type = _unescape(fields[1]), fields[2]
        inside = target == Path(point) or Path(point) in target.parents
        if inside and len(point) >= len(best):
            best, kind = point, fs_type
    return kind if kind in NETWORK_TYPES else None
