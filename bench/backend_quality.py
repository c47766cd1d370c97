"""`make eval-milvus`'s last step: the same evaluations on the default index and on Milvus,
side by side, each quality figure with its difference and whether it is within the issue's
0.005 (README "When one machine is not enough").

    python -m bench.backend_quality .eval .eval/milvus

reads every report present in both folders (`make eval` and `make eval-real` write the first,
`make eval-milvus` the second), prints a Markdown table and writes it to
`<second folder>/compare.md`. Speed (pages/s, latency) is printed for information; it is
not a quality figure and is never within anything.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

TOLERANCE = 0.005
REPORTS = ("squad", "korquad", "combined", "pages-financebench", "pages-financebench-neutral",
           "pages-team", "pages-team-cross", "pages-team-none")
RETRIEVAL = ("recall@1", "recall@5", "recall@10", "mrr@10")
PAGES = ("page_hit@1", "page_hit@5", "page_hit@10", "doc_hit@5", "mrr@10")
ANSWERS = ("answer_hit", "short_answer_hit", "false_refusals", "first_citation_on_evidence",
           "unanswerable_declined")
SPEED = ("ingest_pages_per_s", "search_p50_ms")


def figures(report: dict[str, Any]) -> dict[str, float]:
    """A report's quality figures (those it has), by name."""
    found = {name: report[name] for name in (*RETRIEVAL, *PAGES) if report.get(name) is not None}
    answers = report.get("answers") or {}
    found.update({f"answers {name}": answers[name] for name in ANSWERS
                  if answers.get(name) is not None})
    return {name: float(value) for name, value in found.items()}


def compare(first: Path, second: Path) -> tuple[list[str], int, int]:
    """(table lines, figures compared, figures outside the tolerance)."""
    lines = ["| report | figure | default index | Milvus | difference | within 0.005 |",
             "|---|---|---|---|---|---|"]
    compared = outside = 0
    for name in REPORTS:
        a, b = first / f"{name}.json", second / f"{name}.json"
        if not (a.exists() and b.exists()):
            continue
        left, right = (json.loads(path.read_text("utf-8")) for path in (a, b))
        ours, theirs = figures(left), figures(right)
        for figure in [f for f in ours if f in theirs]:
            difference = theirs[figure] - ours[figure]
            within = abs(difference) <= TOLERANCE + 1e-9
            compared += 1
            outside += not within
            lines.append(f"| {name} | {figure} | {ours[figure]:.4f} | {theirs[figure]:.4f} | "
                         f"{difference:+.4f} | {'yes' if within else '**no**'} |")
        speed = "; ".join(f"{s} {left.get(s)} / {right.get(s)}" for s in SPEED
                          if s in left and s in right)
        if speed:
            lines.append(f"| {name} | speed (default / Milvus) | {speed} | | | |")
    return lines, compared, outside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("default", type=Path, help="reports of the default index (.eval)")
    parser.add_argument("milvus", type=Path, help="reports with QA_INDEX=milvus")
    args = parser.parse_args()
    lines, compared, outside = compare(args.default, args.milvus)
    summary = (f"{compared} quality figures compared, {outside} outside {TOLERANCE}"
               if compared else "no report is in both folders: run make eval, make eval-real "
               "and make eval-milvus")
    text = "\n".join([*lines, "", summary]) + "\n"
    (args.milvus / "compare.md").write_text(text, "utf-8")
    print(text)


if __name__ == "__main__":
    main()
