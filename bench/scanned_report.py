"""The scanned-PDF figures of `make eval-scanned`: recall@5 of the same articles as text PDFs
and as scans (page images, no text layer, read by OCR), and how fast OCR ingests.

Reads the `qa eval retrieval` reports that `make eval-scanned` writes (`text-<set>.json`,
`scanned-<set>.json` in `--eval`), prints one row a set and writes `scanned.json`. Exits 1
when a set's scanned recall@5 is more than `--within` below its text recall@5.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

SETS = ("squad-v1.1", "korquad-v1.0")


def report(folder: Path, within: float) -> dict[str, Any]:
    rows = {}
    for name in SETS:
        text = json.loads((folder / f"text-{name}.json").read_text("utf-8"))
        scanned = json.loads((folder / f"scanned-{name}.json").read_text("utf-8"))
        gap = round(text["recall@5"] - scanned["recall@5"], 4)
        rows[name] = {
            "questions": scanned["questions"],
            "text_recall@5": text["recall@5"], "scanned_recall@5": scanned["recall@5"],
            "gap": gap, "within": gap <= within,
            "text_page_hit@5": text["page_hit@5"], "scanned_page_hit@5": scanned["page_hit@5"],
            "pages": sum(f.get("ocr_pages", 0) for f in scanned["per_file"].values()),
            "scanned_dpi": scanned.get("scanned_dpi"),
            "scanned_ingest_pages_per_s": scanned["ingest_pages_per_s"],
            "text_ingest_pages_per_s": text["ingest_pages_per_s"],
            "ingest_failures": scanned["ingest_failures"],
        }
    return {"within": within, "sets": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval", type=Path, default=Path(".eval"))
    parser.add_argument("--within", type=float, default=0.05)
    args = parser.parse_args()
    result = report(args.eval, args.within)
    (args.eval / "scanned.json").write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    print(f"{'set':<14} {'questions':>9} {'text r@5':>9} {'scan r@5':>9} {'gap':>7} "
          f"{'OCR pages':>9} {'scan pages/s':>12} {'text pages/s':>12}")
    for name, row in result["sets"].items():
        print(f"{name:<14} {row['questions']:>9} {row['text_recall@5']:>9.4f} "
              f"{row['scanned_recall@5']:>9.4f} {row['gap']:>7.4f} {row['pages']:>9} "
              f"{row['scanned_ingest_pages_per_s']:>12.2f} {row['text_ingest_pages_per_s']:>12.2f}"
              + ("" if row["within"] else f"  OVER {args.within}"))
    if not all(row["within"] for row in result["sets"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
