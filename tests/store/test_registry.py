from __future__ import annotations

from pathlib import Path

import pytest

from qa_service.errors import AlreadyExists, InvalidName, KnowledgeBaseNotFound
from qa_service.store.knowledge_base import IndexIdentity
from qa_service.store.registry import KnowledgeBaseRegistry, validate_name

IDENTITY = IndexIdentity("fake-hash", 64, {"name": "sentence-pack-v1"})
BAD_NAMES = ["../x", "a/b", "UPPER", "", "a" * 65, "A B", "-lead", "_lead", ".hidden",
             "..", "name\n", "tab\tname", "caf\u00e9", "a.b"]


@pytest.fixture
def registry(tmp_path: Path):  # type: ignore[no-untyped-def]
    reg = KnowledgeBaseRegistry(tmp_path / "data")
    yield reg
    reg.close()


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_names_are_refused_everywhere(registry: KnowledgeBaseRegistry, name: str,
                                              tmp_path: Path) -> None:
    with pytest.raises(InvalidName):
        registry.create(name, IDENTITY)
    with pytest.raises(InvalidName):
        registry.open(name)
    with pytest.raises(InvalidName):
        registry.delete(name)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("name", ["a", "0", "kb-1", "my_kb", "a" * 64])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


def test_create_open_list(registry: KnowledgeBaseRegistry) -> None:
    assert registry.names() == []
    kb = registry.create("handbook", IDENTITY)
    assert kb.name == "handbook"
    assert (kb.embedding_model, kb.dimension) == ("fake-hash", 64)
    registry.create("alpha", IDENTITY)
    assert registry.names() == ["alpha", "handbook"]
    assert registry.open("handbook") is registry.open("handbook")


def test_duplicate_create_is_refused(registry: KnowledgeBaseRegistry) -> None:
    registry.create("handbook", IDENTITY)
    with pytest.raises(AlreadyExists, match="handbook"):
        registry.create("handbook", IDENTITY)
    assert registry.names() == ["handbook"]


def test_open_missing(registry: KnowledgeBaseRegistry) -> None:
    with pytest.raises(KnowledgeBaseNotFound):
        registry.open("nothing")


def test_delete_then_open_is_not_found(registry: KnowledgeBaseRegistry) -> None:
    registry.create("handbook", IDENTITY)
    registry.open("handbook")
    registry.delete("handbook")
    with pytest.raises(KnowledgeBaseNotFound):
        registry.open("handbook")
    with pytest.raises(KnowledgeBaseNotFound):
        registry.delete("handbook")
    assert registry.names() == []
    assert list(registry.data_dir.iterdir()) == []
    again = registry.create("handbook", IDENTITY)  # the name is free again
    assert again.info().documents == 0


def test_a_second_registry_sees_creation_and_deletion(registry: KnowledgeBaseRegistry) -> None:
    other = KnowledgeBaseRegistry(registry.data_dir)
    try:
        registry.create("shared", IDENTITY)
        assert other.open("shared").name == "shared"
        registry.delete("shared")
        with pytest.raises(KnowledgeBaseNotFound):
            other.open("shared")
    finally:
        other.close()


def test_nothing_is_created_outside_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "nested" / "data"
    registry = KnowledgeBaseRegistry(data)
    try:
        for name in ("one", "two"):
            registry.create(name, IDENTITY)
        for name in BAD_NAMES:
            with pytest.raises(InvalidName):
                registry.create(name, IDENTITY)
        registry.delete("two")
    finally:
        registry.close()
    outside = [p for p in tmp_path.rglob("*") if data not in (p, *p.parents)]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in outside) == ["nested"]
    assert sorted(p.name for p in data.iterdir()) == ["one"]


def test_half_made_folders_are_not_listed(registry: KnowledgeBaseRegistry) -> None:
    registry.create("real", IDENTITY)
    (registry.data_dir / ".creating-ghost-1234").mkdir()
    (registry.data_dir / "nomanifest").mkdir()
    assert registry.names() == ["real"]
    with pytest.raises(KnowledgeBaseNotFound):
        registry.open("nomanifest")
