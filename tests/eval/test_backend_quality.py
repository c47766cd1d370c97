"""`bench.backend_quality`: the default index's and Milvus's reports side by side."""

from __future__ import annotations

import json
from pathlib import Path

from bench.backend_quality import compare


def write(folder: Path, name: str, report: dict[str, object]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(report), "utf-8")


def test_figures_of_reports_in_both_folders_are_compared_within_0_005(tmp_path: Path) -> None:
    default, milvus = tmp_path / "eval", tmp_path / "eval" / "milvus"
    write(default, "squad", {"recall@5": 0.9696, "recall@1": 0.8445, "search_p50_ms": 23.1})
    write(milvus, "squad", {"recall@5": 0.9640, "recall@1": 0.8445, "search_p50_ms": 69.2})
    write(default, "pages-team", {"page_hit@5": 0.9, "answers": {"answer_hit": 0.8,
                                                                   "false_refusals": None}})
    write(milvus, "pages-team", {"page_hit@5": 0.9, "answers": {"answer_hit": 0.805,
                                                                  "false_refusals": None}})
    write(default, "korquad", {"recall@5": 0.99})  # no Milvus report: not compared
    lines, compared, outside = compare(default, milvus)
    assert (compared, outside) == (4, 1)
    rows = {tuple(cell.strip() for cell in line.split("|")[1:3]): line for line in lines}
    assert "**no**" in rows[("squad", "recall@5")] and "-0.0056" in rows[("squad", "recall@5")]
    assert rows[("squad", "recall@1")].endswith("| yes |")
    assert rows[("pages-team", "answers answer_hit")].endswith("| yes |")
    assert not any("korquad" in line for line in lines)
    assert "23.1 / 69.2" in rows[("squad", "speed (default / Milvus)")]
