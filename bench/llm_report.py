"""The LLM path next to the extractive mode on the same questions: `make eval-llm`'s table.

Reads the reports `make eval-llm` writes in `--eval` (`<set>-extractive.json` and
`<set>-llm.json` for `squad`, `korquad` (`qa eval answers`) and `team` (`qa eval pages
--answers`)), prints one table (figures and the LLM's targets: answer hit at least the
extractive mode's on the team's documents and within 0.05 of it on SQuAD and KorQuAD,
refusals at most its rate + 0.10, every citation valid, no context overflow) and writes
`llm.md` and `llm.json` there.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

SETS = {"squad": "SQuAD dev (EN)", "korquad": "KorQuAD dev (KO)", "team": "team real PDFs"}
HIT_MARGIN = {"squad": 0.05, "korquad": 0.05, "team": 0.0}
REFUSAL_MARGIN = 0.10


def _row(report: dict[str, Any]) -> dict[str, Any]:
    """The figures of one report, whichever command wrote it."""
    answers = report.get("answers", report)  # `eval pages` nests its answers
    refusals = answers.get("false_refusals", answers.get("abstained_answerable"))
    config = answers.get("config", answers)  # `eval answers` says its mode in its config
    return {
        "questions": answers["questions"], "mode": config["mode"],
        "model": config.get("llm_model", ""), "answer_hit": answers["answer_hit"],
        "refusals": refusals,
        "citation_valid": answers["citation_valid"],
        "removed_citations": answers["removed_citations"],
        "unsupported_sentences": answers["unsupported_sentences"],
        "fallbacks": answers["fallbacks"], "context_overflows": answers["context_overflows"],
        "first_text_p50_ms": answers["first_text_p50_ms"],
        "held_back_p50_ms": answers["held_back_p50_ms"],
        "ask_p50_ms": answers["ask_p50_ms"], "ask_p95_ms": answers["ask_p95_ms"],
    }


def _targets(name: str, extractive: dict[str, Any], llm: dict[str, Any]) -> dict[str, bool]:
    hit_floor = (extractive["answer_hit"] or 0.0) - HIT_MARGIN[name]
    return {
        "answer_hit": (llm["answer_hit"] or 0.0) >= round(hit_floor, 4),
        "refusals": (llm["refusals"] or 0.0) <= (extractive["refusals"] or 0.0)
        + REFUSAL_MARGIN + 1e-9,
        "citation_valid": llm["citation_valid"] in (None, 1.0),
        "context_overflows": llm["context_overflows"] == 0,
    }


def report(folder: Path) -> dict[str, Any]:
    sets = {}
    for name in SETS:
        rows = {mode: _row(json.loads((folder / f"{name}-{mode}.json").read_text("utf-8")))
                for mode in ("extractive", "llm")}
        sets[name] = {**rows, "targets": _targets(name, rows["extractive"], rows["llm"])}
    return {"sets": sets, "met": all(all(s["targets"].values()) for s in sets.values())}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if value <= 1 else f"{value / 1000:.1f} s"
    return str(value)


def markdown(result: dict[str, Any]) -> str:
    lines = ["| set | mode | n | answer hit | refusals | citations valid | removed citations "
             "| removed sentences | fallbacks | overflows | first text p50 | held back p50 "
             "| ask p50 | ask p95 |", "|" + "---|" * 14]
    for name, rows in result["sets"].items():
        for mode in ("extractive", "llm"):
            row = rows[mode]
            label = f"{mode} ({row['model']})" if row["model"] else mode
            lines.append("| " + " | ".join([SETS[name], label] + [_cell(row[key]) for key in (
                "questions", "answer_hit", "refusals", "citation_valid", "removed_citations",
                "unsupported_sentences", "fallbacks", "context_overflows",
                "first_text_p50_ms", "held_back_p50_ms", "ask_p50_ms", "ask_p95_ms")]) + " |")
    lines.append("")
    for name, rows in result["sets"].items():
        missed = [k for k, ok in rows["targets"].items() if not ok]
        lines.append(f"- {SETS[name]}: " + ("all targets met" if not missed
                                           else "not met: " + ", ".join(missed)))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, default=Path(".eval/llm"))
    args = parser.parse_args()
    result = report(args.eval)
    text = markdown(result)
    (args.eval / "llm.md").write_text(text, "utf-8")
    (args.eval / "llm.json").write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    print(text, end="")


if __name__ == "__main__":
    main()
