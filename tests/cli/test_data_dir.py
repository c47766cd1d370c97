"""Where the data directory is when nobody says: never a folder that depends on the
current one (`qa_service.data_dir`). No command runs here; nothing is written."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import platformdirs
import pytest

import qa_service
from qa_service import data_dir as data_dir_module
from qa_service.config import Settings
from qa_service.data_dir import default_data_dir, source_checkout

CHECKOUT = Path(qa_service.__file__).resolve().parent.parent
PYPROJECT = '[project]\nname = "{name}"\nversion = "0"\n'


def fake_checkout(root: Path, name: str = "qa-service") -> Path:
    """A folder shaped like a source checkout: pyproject.toml beside a qa_service package."""
    (root / "qa_service").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT.format(name=name), "utf-8")
    return root / "qa_service"


@pytest.mark.skipif(source_checkout() is None, reason="the package is installed, not checked out")
def test_from_a_checkout_the_default_is_its_indexes_folder_whatever_the_current_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert source_checkout() == CHECKOUT
    for folder in (tmp_path, tmp_path / "deeper", CHECKOUT / "tests"):
        folder.mkdir(exist_ok=True)
        monkeypatch.chdir(folder)
        assert Settings().data_dir == CHECKOUT / "indexes"
    assert not (tmp_path / "indexes").exists() and not (tmp_path / "deeper" / "indexes").exists()


def test_a_checkout_is_recognised_by_this_projects_pyproject(tmp_path: Path) -> None:
    assert source_checkout(fake_checkout(tmp_path / "ours")) == tmp_path / "ours"
    assert source_checkout(fake_checkout(tmp_path / "other", name="other-project")) is None
    bare = tmp_path / "site-packages" / "qa_service"
    bare.mkdir(parents=True)
    assert source_checkout(bare) is None  # installed: no pyproject.toml beside it
    broken = fake_checkout(tmp_path / "broken")
    (broken.parent / "pyproject.toml").write_text("[project\nname = ", "utf-8")
    assert source_checkout(broken) is None


def test_installed_the_default_is_the_per_user_data_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installed = tmp_path / "site-packages" / "qa_service"
    installed.mkdir(parents=True)
    monkeypatch.setattr(data_dir_module, "source_checkout",
                        functools.partial(source_checkout, installed))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    expected = Path(platformdirs.user_data_dir("qa-service"))
    assert Settings().data_dir == default_data_dir() == expected
    if sys.platform.startswith("linux"):
        assert expected == tmp_path / "xdg" / "qa-service"  # XDG_DATA_HOME is honoured
    assert not expected.exists()  # found, never created


def test_a_fake_checkout_is_used_from_anywhere(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    package = fake_checkout(tmp_path / "checkout")
    monkeypatch.setattr(data_dir_module, "source_checkout",
                        functools.partial(source_checkout, package))
    monkeypatch.chdir(tmp_path)
    assert Settings().data_dir == tmp_path / "checkout" / "indexes"


def test_qa_data_dir_wins_and_a_relative_one_becomes_absolute(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QA_DATA_DIR", "kbs")
    assert Settings().data_dir == tmp_path / "kbs"
    monkeypatch.setenv("QA_DATA_DIR", "../elsewhere/./kbs")
    assert Settings().data_dir == tmp_path.parent / "elsewhere" / "kbs"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("QA_DATA_DIR", "~/kbs")
    assert Settings().data_dir == tmp_path / "home" / "kbs"
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "absolute"))
    assert Settings().data_dir == tmp_path / "absolute"
    monkeypatch.delenv("QA_DATA_DIR")
    assert Settings(data_dir=Path("given")).data_dir == tmp_path / "given"
    assert not any(tmp_path.iterdir())  # settings create no folder
