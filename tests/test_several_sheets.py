"""A workbook whose applications are spread over several sheets (parks split by type, clusters by
batch) is read whole: each sheet's table is read, none is lost; a sheet that repeats another's
applications (a 打印版 copy) is not read twice.  Sheets of one workbook never replace each other as
resubmissions, and a newer workbook replaces every sheet of the older one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl

from sdbatch.batch import RunOptions, run_batch
from tests.contract import check_contract
from tests.decision_builders import CHINA, COLUMNS, NOW, decide, header_label, row, set_mtime


def workbook(path: Path, sheets: dict[str, list[dict[str, Any]]], *, when: dt.datetime | None = None) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        ws.append([f"济南市数字产业集群申报信息汇总表（{title}）"])
        ws.append([header_label(c) for c in COLUMNS])
        for r in rows:
            ws.append([r.get(c) for c in COLUMNS])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    set_mtime(path, when or dt.datetime(2024, 6, 20, 10, 0, tzinfo=CHINA))
    return path


def jinan(n: int, **kw: Any) -> dict[str, Any]:
    return row(city="济南市", city_order=n, name=f"济南分表第{n}集群", **kw)


def test_every_sheet_with_other_applications_is_read(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    workbook(inbox / "济南市汇总表.xlsx", {"第一批": [jinan(1), jinan(2)], "第二批": [jinan(3)]})
    result = decide(inbox)
    assert sorted(a.name for a in result.applications) == ["济南分表第1集群", "济南分表第2集群", "济南分表第3集群"]
    sheets = {f.sheet: f for f in result.files}
    assert set(sheets) == {"第一批", "第二批"} and all(f.status == "processed" for f in sheets.values())
    assert "more-table-sheet" in {f.code for f in sheets["第一批"].findings}
    # 济南's quota is three: all three applications of its two sheets are within it
    assert {a.status for a in result.applications} == {"eligible"}


def test_a_copy_sheet_is_not_read_twice(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    rows = [jinan(1), jinan(2)]
    workbook(inbox / "济南市汇总表.xlsx", {"汇总表": rows, "打印版": rows})
    result = decide(inbox)
    assert len(result.applications) == 2
    [record] = result.files
    assert "extra-table-sheet" in {f.code for f in record.findings}


def test_the_quota_counts_the_applications_of_every_sheet(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    workbook(inbox / "济南市汇总表.xlsx", {"第一批": [jinan(1), jinan(2)], "第二批": [jinan(3), jinan(4)]})
    result = decide(inbox)
    over = [a.name for a in result.applications if a.status == "over_quota"]
    assert over == ["济南分表第4集群"]


def test_a_newer_workbook_replaces_every_sheet_of_the_older(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    workbook(inbox / "济南市汇总表.xlsx", {"第一批": [jinan(1)], "第二批": [jinan(2)]})
    workbook(inbox / "济南市汇总表（更正）.xlsx", {"汇总表": [jinan(1), jinan(2, revenue_total=88)]},
             when=dt.datetime(2024, 6, 25, 10, 0, tzinfo=CHINA))
    result = decide(inbox)
    status = {(f.file, f.sheet): f.status for f in result.files}
    assert status[("济南市汇总表.xlsx", "第一批")] == status[("济南市汇总表.xlsx", "第二批")] == "superseded"
    assert status[("济南市汇总表（更正）.xlsx", "汇总表")] == "processed"
    [second] = [a for a in result.applications if a.name == "济南分表第2集群"]
    assert "changed-since-previous" in {f.code for f in second.findings}


def test_the_review_shows_each_sheet_and_results_json_keeps_both(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    workbook(inbox / "济南市汇总表.xlsx", {"第一批": [jinan(1), jinan(2, leader_firms=0)], "第二批": [jinan(3)]})
    outcome = run_batch(inbox, RunOptions(out_dir=tmp_path / "out", run_id="t", now=NOW, mail_mode="none",
                                          quiet=True))
    assert outcome.run_dir is not None
    doc = check_contract(outcome.run_dir / "results.json")
    assert [f["sheet"] for f in doc["files"]] == ["第一批", "第二批"]
    review = openpyxl.load_workbook(outcome.run_dir / "济南市_审核意见.xlsx")
    assert {"第一批", "第二批"} <= set(review.sheetnames)
    flagged = review["第一批"]["I4"]  # leader_firms of the second cluster (row 4)
    assert flagged.comment is not None and flagged.fill.fgColor.rgb.endswith(("FFC7CE", "FFEB9C"))
