"""The pipeline users copy from LangChain's documentation, as `make bench` compares it:
PyPDFLoader, RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200),
all-MiniLM-L6-v2 through sentence-transformers (LangChain's HuggingFaceEmbeddings), a
flat FAISS index, similarity search with k results. Needs the `bench` and `models` extras.

`python -m bench.naive --pdfs DIR [DIR ...] --stats FILE --port N` ingests every PDF under
the folders (timed: wall, CPU seconds, peak memory, pages and chunks; written to FILE),
then serves `POST /search {"query", "k"}` on 127.0.0.1:N (uvicorn, one worker) until
stopped, answering `{"passages": [{"source", "page", "text"}]}` (`page` 1-based).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import warnings
from pathlib import Path
from typing import Any

from pydantic import BaseModel

CHUNK_SIZE, CHUNK_OVERLAP = 1000, 200


def load_model() -> Any:
    from langchain_community.embeddings import HuggingFaceEmbeddings

    from qa_service.embedding import packaged_minilm_path

    with warnings.catch_warnings():  # HuggingFaceEmbeddings is deprecated: still what users copy
        warnings.simplefilter("ignore")
        return HuggingFaceEmbeddings(model_name=str(packaged_minilm_path()),
                                     model_kwargs={"device": "cpu"})


def ingest(folders: list[Path]) -> tuple[Any, dict[str, Any]]:
    """The vector store of every PDF under `folders`, and what it cost."""
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    started, cpu = time.perf_counter(), time.process_time()
    embeddings = load_model()
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    pages, chunks, failed = 0, [], []
    for path in sorted(p for folder in folders for p in folder.rglob("*.pdf")):
        try:
            loaded = PyPDFLoader(str(path)).load()
        except Exception as exc:  # noqa: BLE001 - a PDF it cannot read is counted, as users see
            failed.append(f"{path.name}: {type(exc).__name__}")
            continue
        pages += len(loaded)
        chunks += splitter.split_documents(loaded)
    store = FAISS.from_documents(chunks, embeddings)
    stats = {"pages": pages, "chunks": len(chunks), "failed": failed,
             "seconds": time.perf_counter() - started,
             "cpu_seconds": time.process_time() - cpu,
             "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    return store, stats


class Query(BaseModel):
    query: str
    k: int = 5


def serve(store: Any, port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/search")
    def search(body: Query) -> dict[str, Any]:
        found = store.similarity_search(body.query, k=body.k)
        return {"passages": [{"source": Path(d.metadata.get("source", "")).name,
                              "page": int(d.metadata.get("page", 0)) + 1,
                              "text": d.page_content} for d in found]}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pdfs", type=Path, nargs="+", required=True)
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    store, stats = ingest(args.pdfs)
    args.stats.write_text(json.dumps(stats), "utf-8")
    serve(store, args.port)


if __name__ == "__main__":
    main()
