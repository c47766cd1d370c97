"""A data directory on a network file system is refused before anything opens it."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_service.config import Settings
from qa_service.errors import ConfigurationError
from qa_service.services import Services
from qa_service.store import local_disk
from qa_service.store.local_disk import network_file_system

MOUNTS = """\
/dev/vda / ext4 rw,relatime 0 0
proc /proc proc rw,nosuid 0 0
server:/export /srv/shared nfs4 rw,relatime,vers=4.2 0 0
//nas/team /mnt/team\\040drive cifs rw 0 0
/dev/vdb /srv/shared/local ext4 rw 0 0
"""


def test_the_deepest_mount_holding_the_path_decides() -> None:
    assert network_file_system(Path("/srv/shared/kbs/handbook"), MOUNTS) == "nfs4"
    assert network_file_system(Path("/srv/shared/local/kbs"), MOUNTS) is None
    assert network_file_system(Path("/mnt/team drive/qa"), MOUNTS) == "cifs"
    assert network_file_system(Path("/mnt/team"), MOUNTS) is None  # not "/mnt/team drive"
    assert network_file_system(Path("/home/me/indexes"), MOUNTS) is None


def test_this_machine_s_temporary_folder_is_local(tmp_path: Path) -> None:
    assert network_file_system(tmp_path / "not-yet" / "created") is None


def test_services_refuse_a_data_directory_on_a_network_file_system(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_disk.Path, "read_text",
                        lambda self, *a, **k: f"nas:/x {tmp_path} nfs rw 0 0\n"
                        if str(self) == "/proc/mounts" else Path.read_text(self, *a, **k))
    with pytest.raises(ConfigurationError, match="network file system \\(nfs\\)") as refused:
        Services.build(Settings(data_dir=tmp_path / "data"))
    assert str(tmp_path) not in refused.value.message
    assert not (tmp_path / "data").exists()
