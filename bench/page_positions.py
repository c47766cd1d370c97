"""What page positions cost and how much of the text they cover.

Run with `make positions` (or `python -m bench.page_positions PDF_OR_DIR ... [--out FILE]`).

Each PDF is measured in a child process with the parser worker's limits (2 GiB of address
space, a time limit), so a hostile file cannot take the run down: the text extraction
(`ingest.parse.parse_pdf`) and, for an indexed document, locating its characters
(`ingest.parse_worker.positions_of`, what the worker runs: pdfium, alignment, encoding),
each timed (after importing both libraries and starting pdfium, as in a worker that has
parsed a file before).
Reported per file and in total: pages, text ms a page, positions ms a page and their
ratio, and coverage, the fraction of the non-whitespace characters of the stored page
text that got a box (the " | " that joins table cells not counted), over all pages and
over table pages (those rewritten with " | ").
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

MEMORY_BYTES = 2048 * 1024 * 1024
TIMEOUT_S = 300


def _warm_up() -> None:
    """Import both libraries and start pdfium (about 20 ms, once a worker) before timing."""
    import io

    from pypdf import PdfWriter

    from ingest.parse_worker import positions_of

    blank = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.write(blank)
    positions_of(blank.getvalue(), ["x"])


def measure_one(path: Path) -> dict[str, Any]:
    from ingest.parse import parse_pdf
    from ingest.parse_worker import positions_of
    from qa_service.page_positions import PagePositions, coverage

    _warm_up()
    data = path.read_bytes()
    started = time.perf_counter()
    parsed = parse_pdf(data, max_pages=2000, max_chars=20_000_000)
    text_s = time.perf_counter() - started
    row: dict[str, Any] = {"file": str(path), "status": parsed.status.value,
                           "pages": len(parsed.pages), "text_s": text_s}
    if parsed.status.value != "indexed":
        return row
    texts = [page.text for page in parsed.pages]
    started = time.perf_counter()
    located = positions_of(data, texts)
    row["positions_s"] = time.perf_counter() - started
    row["located_pages"] = sum(entry is not None for entry in located)
    for kind in ("all", "table"):
        row[f"{kind}_chars"] = row[f"{kind}_boxed"] = 0
    for text, entry in zip(texts, located, strict=True):
        boxes = PagePositions.from_json(entry).decode(text) if entry else None
        share = coverage(text, boxes) if boxes is not None else 0.0
        counted = sum(not ch.isspace() for ch in text) - text.count(" | ")
        for kind in ("all", "table") if " | " in text else ("all",):
            row[f"{kind}_chars"] += counted
            row[f"{kind}_boxed"] += share * counted
    row["table_pages"] = sum(" | " in text for text in texts)
    return row


def _child(path: Path) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    print(json.dumps(measure_one(path)))


def _run(path: Path) -> dict[str, Any]:
    try:
        done = subprocess.run(  # noqa: S603 - this module, fixed arguments
            [sys.executable, "-m", "bench.page_positions", "--one", str(path)],
            capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return {"file": str(path), "status": "timeout"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"file": str(path), "status": f"crashed ({done.returncode})"}
    row: dict[str, Any] = json.loads(lines[-1])
    return row


def _total(rows: list[dict[str, Any]]) -> dict[str, Any]:
    indexed = [r for r in rows if "positions_s" in r]
    pages = sum(r["pages"] for r in indexed)
    text_s = sum(r["text_s"] for r in indexed)
    positions_s = sum(r["positions_s"] for r in indexed)

    def share(kind: str) -> float:
        chars = sum(r[f"{kind}_chars"] for r in indexed)
        return sum(r[f"{kind}_boxed"] for r in indexed) / chars if chars else 1.0

    return {"files": len(rows), "indexed": len(indexed), "pages": pages,
            "table_pages": sum(r["table_pages"] for r in indexed),
            "located_pages": sum(r["located_pages"] for r in indexed),
            "text_ms_per_page": 1000 * text_s / max(1, pages),
            "positions_ms_per_page": 1000 * positions_s / max(1, pages),
            "positions_over_text": positions_s / text_s if text_s else 0.0,
            "coverage": share("all"), "table_coverage": share("table"),
            "not_measured": [r["file"] for r in rows if r["status"] in ("timeout",)
                             or r["status"].startswith("crashed")]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.one:
        _child(args.one)
        return
    files = sorted(f for p in args.paths for f in ([p] if p.is_file() else p.rglob("*.pdf")))
    rows = []
    for path in files:
        rows.append(_run(path))
        row = rows[-1]
        if "positions_s" in row and row["pages"]:
            print(f"{path.name[:48]:48} {row['pages']:5} p  text "
                  f"{1000 * row['text_s'] / row['pages']:7.1f} ms/p  positions "
                  f"{1000 * row['positions_s'] / row['pages']:6.1f} ms/p  coverage "
                  f"{row['all_boxed'] / max(1, row['all_chars']):.4f}", flush=True)
        else:
            print(f"{path.name[:48]:48} {row['status']}", flush=True)
    total = _total(rows)
    print(json.dumps(total, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"total": total, "files": rows}, indent=2))


if __name__ == "__main__":
    main()
