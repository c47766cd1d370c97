"""A server builds a knowledge base's approximate vector index in the background once it
is large enough (here: from the first chunk), and answers as it did with exact search."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from qa_service.config import VectorSettings
from qa_service.embedding import Embedder
from tests.api.helpers import create_kb, ingest, running_app
from tests.pdfs import text_pdf

KB = "atlas"
PAGES = [
    "The Orvik ferry leaves the north harbour at seven every morning and returns at noon. "
    "Tickets are sold on board; bicycles travel free of charge.",
    "The lighthouse museum opens from April to October. Its lamp room holds the original "
    "Fresnel lens, made in Paris in 1887.",
    "Winter storms close the coastal road about twelve days a year. The council clears "
    "fallen rock within a day and posts closures at the town hall.",
]
QUESTIONS = ["When does the Orvik ferry leave?", "Where was the Fresnel lens made?",
             "How many days a year is the coastal road closed?"]


def answers(client: Any) -> list[tuple[str, list[tuple[int, str]]]]:
    replies = [client.post(f"/kbs/{KB}/ask", json={"question": q, "mode": "extractive"}).json()
               for q in QUESTIONS]
    return [(r["answer"], [(c["page"], c["quote"]) for c in r["citations"]]) for r in replies]


def test_the_index_is_built_in_the_background_and_answers_stay_the_same(
        tmp_path: Path, embedder: Embedder, shared_models: None) -> None:
    pdf = text_pdf(PAGES)
    with running_app(tmp_path / "exact", embedder) as client:
        create_kb(client, KB)
        ingest(client, KB, [("coast.pdf", pdf)])
        expected = answers(client)
        assert not (tmp_path / "exact" / KB / "vectors" / "manifest.json").read_text().count(
            "approximate")
    vectors = VectorSettings(approximate_from=0, nprobe=64)
    with running_app(tmp_path / "approximate", embedder, vectors=vectors) as client:
        create_kb(client, KB)
        ingest(client, KB, [("coast.pdf", pdf)])
        folder = tmp_path / "approximate" / KB / "vectors"
        listed = None
        deadline = time.monotonic() + 60  # requested after the job is recorded done
        while listed is None and time.monotonic() < deadline:
            listed = json.loads((folder / "manifest.json").read_text("utf-8")).get("approximate")
            time.sleep(0.05)
        assert listed is not None, "no approximate index was built"
        assert (folder / listed["file"]).is_file() and listed["kind"] == "ivf-sq8"
        assert answers(client) == expected
