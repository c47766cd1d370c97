"""The layering the conventions draw, checked on the source: data flows one way.

- The library (`qa_service` but its composition roots) never imports `ingest`: producing
  an index and using one are separate; only the roots (the API, the CLI, `services.py`,
  the evaluation commands) put them together.
- `ingest` never imports the API, the CLI or the composition roots.
- Only `ingest`'s parsing modules import a PDF library.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPOSITION_ROOTS = ("qa_service/api/", "qa_service/cli.py", "qa_service/services.py",
                     "qa_service/eval/")
PDF_LIBRARIES = ("pypdf", "pypdfium2", "pdfplumber", "pdfminer", "fitz")
PARSING_MODULES = ("ingest/parse.py", "ingest/positions.py", "ingest/render.py",
                   "qa_service/eval/render.py")  # the last turns PDFs into scans for evals


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", modules("qa_service"), ids=relative)
def test_the_library_never_imports_ingest(path: Path) -> None:
    if relative(path).startswith(COMPOSITION_ROOTS):
        return
    assert not {n for n in imported(path) if n == "ingest" or n.startswith("ingest.")}


@pytest.mark.parametrize("path", modules("ingest"), ids=relative)
def test_ingest_never_imports_the_service_s_roots(path: Path) -> None:
    roots = ("qa_service.api", "qa_service.cli", "qa_service.services", "qa_service.eval")
    assert not {n for n in imported(path) if n.startswith(roots)}


@pytest.mark.parametrize("path", modules("qa_service") + modules("ingest"), ids=relative)
def test_only_the_parsers_import_a_pdf_library(path: Path) -> None:
    if relative(path) in PARSING_MODULES:
        return
    assert not {n for n in imported(path) if n.split(".")[0] in PDF_LIBRARIES}



STORAGE_INSIDES = {"catalog", "vectors", "manifest", "root"}


def storage_reached(source: str) -> list[tuple[int, str]]:
    """(line, attribute) of each `kb.catalog`, `self.kb.vectors`,
    `registry.open(name).manifest` ... in `source`: a knowledge base's insides reached (by
    the names the code gives knowledge bases)."""
    def is_knowledge_base(node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in ("kb", "knowledge_base")
        if isinstance(node, ast.Attribute):
            return node.attr in ("kb", "knowledge_base")
        return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "open")
    return sorted((node.lineno, node.attr) for node in ast.walk(ast.parse(source))
                  if isinstance(node, ast.Attribute) and node.attr in STORAGE_INSIDES
                  and is_knowledge_base(node.value))


@pytest.mark.parametrize("path", modules("qa_service") + modules("ingest"), ids=relative)
def test_only_the_store_reaches_into_a_knowledge_base(path: Path) -> None:
    """Callers use the knowledge base's methods and its snapshots, so that another storage
    backend can stand behind them."""
    if relative(path).startswith("qa_service/store/"):
        return
    assert storage_reached(path.read_text("utf-8")) == []


def test_the_storage_check_finds_what_it_looks_for() -> None:
    source = ("kb.catalog.job(1)\nself.kb.vectors\nregistry.open(n).manifest\n"
              "side.vectors\nkb.name\nsettings.vectors\n")
    assert storage_reached(source) == [(1, "catalog"), (2, "vectors"), (3, "manifest")]
