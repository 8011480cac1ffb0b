"""The park samples (samples/inbox/园区_*, samples/PARKS.md) are what tools/make_park_samples.py writes:
same files, same cell values, same document — so that PARKS.md's expected outcomes and its account
of where the points come from cannot drift from the data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parents[1]


def values(path: Path) -> dict[str, list[list[object]]]:
    wb = openpyxl.load_workbook(path)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def test_park_samples_are_a_fresh_generation(tmp_path: Path) -> None:
    doc = tmp_path / "PARKS.md"
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_park_samples.py"), str(tmp_path), "--doc", str(doc)],
                   check=True, capture_output=True)
    fresh = sorted(p.name for p in tmp_path.glob("园区_*.xlsx"))
    committed = sorted(p.name for p in (ROOT / "samples" / "inbox").glob("园区_*.xlsx"))
    assert fresh == committed and len(fresh) == 6
    for name in fresh:
        assert values(tmp_path / name) == values(ROOT / "samples" / "inbox" / name), name
    assert doc.read_text(encoding="utf-8") == (ROOT / "samples" / "PARKS.md").read_text(encoding="utf-8")


def test_parks_md_says_where_the_points_come_from() -> None:
    text = (ROOT / "samples" / "PARKS.md").read_text(encoding="utf-8")
    assert "采用多数专家评分表列明的分值" in text and "使用默认分值" in text and "[park.release]" in text
