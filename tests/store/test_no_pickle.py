"""No pickle anywhere in storage: a planted pickle is never loaded, and the code never
imports a deserializer that runs code (RAGFlow CVE-2024-12433, LangChain's
`allow_dangerous_deserialization`)."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pytest

from ingest.chunk import ChunkerConfig
from qa_service.errors import QAError
from qa_service.lexical import LexicalIndex
from qa_service.store.knowledge_base import IndexIdentity
from qa_service.store.registry import KnowledgeBaseRegistry
from tests.fakes import HashEmbedder, make_document, publish

SOURCE = Path(__file__).resolve().parents[2]
RISKY_MODULES = {"pickle", "cPickle", "_pickle", "dill", "joblib", "shelve", "marshal",
                 "cloudpickle"}


def python_files() -> list[Path]:
    return [p for folder in ("qa_service", "ingest") for p in (SOURCE / folder).rglob("*.py")]


def test_no_module_imports_a_code_running_deserializer() -> None:
    for path in python_files():
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not {n.split(".")[0] for n in names} & RISKY_MODULES, (path, names)
            if isinstance(node, ast.keyword) and node.arg == "allow_pickle":
                assert isinstance(node.value, ast.Constant) and node.value.value is False, path
            if isinstance(node, ast.Attribute) and node.attr in ("load", "loads"):
                owner = node.value
                assert not (isinstance(owner, ast.Name) and owner.id in {"torch", "np"}
                            and node.attr == "load"), f"{path}: {ast.unparse(node)}"


class Payload:
    """Unpickling this writes a marker file: proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (str(self.marker), "pwned"))  # type: ignore[return-value]


@pytest.mark.parametrize("target", ["manifest.json", "vectors/manifest.json", "segment"])
def test_a_planted_pickle_is_never_loaded(tmp_path: Path, target: str,
                                          lexical: LexicalIndex) -> None:
    embedder = HashEmbedder()
    data = tmp_path / "data"
    registry = KnowledgeBaseRegistry(data)
    kb = registry.create("kb", IndexIdentity(embedder.name, embedder.dimension,
                                             ChunkerConfig().describe()))
    publish(kb, make_document(tmp_path / "src", "a.pdf", ["The vault code is 4417."],
                              embedder, lexical))
    registry.close()
    marker = tmp_path / "marker"
    folder = data / "kb"
    path = (next((folder / "vectors").glob("seg-*.faiss")) if target == "segment"
            else folder / target)
    path.write_bytes(pickle.dumps(Payload(marker)))
    registry = KnowledgeBaseRegistry(data)
    try:
        with pytest.raises(QAError):
            kb = registry.open("kb")
            kb.index.store.search(embedder.embed_queries(["x"])[0], 5)
    finally:
        registry.close()
    assert not marker.exists()
