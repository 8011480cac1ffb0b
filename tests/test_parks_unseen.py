"""Park workbooks in styles found by reading unseen files: the type only in the title, a
relaxation request only in 备注, 已全覆盖, a units row with 是/否 hints, a workbook holding a park
sheet beside a cluster sheet, and expert rows whose park name carries another city."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook

from tests.test_parks_pipeline import (
    AT_INDUSTRIAL,
    HEADERS,
    INDUSTRIAL,
    by_name,
    run,
    write_scores,
    write_summary,
)


def test_type_written_once_in_the_title(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    headers = {k: v for k, v in HEADERS.items() if k != "park_type"}
    wb = Workbook()
    ws = wb.active
    ws.append(["泰安市省级数字经济园区申报汇总表（产业数字化园区）"])
    ws.append(list(headers.values()))
    ws.append([dict(AT_INDUSTRIAL, name="泰安标题类型园区", city="泰安市").get(k) for k in headers])
    wb.save(inbox / "泰安市园区汇总表.xlsx")
    app = by_name(run(inbox, tmp_path / "out"))["泰安标题类型园区"]
    assert app["values"]["park_type"] == INDUSTRIAL
    assert "value-from-title" in {f["code"] for f in app["findings"]}
    assert app["status"] == "eligible"


def test_relaxation_asked_in_remarks_and_coverage_in_words(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    headers = dict(HEADERS, remarks="备注")
    wb = Workbook()
    ws = wb.active
    ws.append(["济南市省级数字经济园区申报汇总表"])
    ws.append(list(headers.values()))
    park = dict(AT_INDUSTRIAL, name="备注放宽园区", leader_firms=1, full_coverage="已全覆盖",
                remarks="申请按第五条（五）特色功能适当放宽")
    ws.append([park.get(k) for k in headers])
    wb.save(inbox / "济南市园区汇总表.xlsx")
    app = by_name(run(inbox, tmp_path / "out"))["备注放宽园区"]
    assert app["values"]["full_coverage"] is True
    assert "relaxation-from-remarks" in {f["code"] for f in app["findings"]}
    assert app["status"] == "needs_review"


def test_units_row_with_yes_no_hints_is_not_a_park(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    wb = Workbook()
    ws = wb.active
    ws.append(["济南市省级数字经济园区申报汇总表"])
    ws.append([v.replace("（亿元）", "") for v in HEADERS.values()])  # the units are in the row below
    hints: list[Any] = []
    for k in HEADERS:
        hints.append("是/否" if k in ("full_coverage", "relax_request", "green_threshold") else
                     "万元" if k in ("hitech_revenue", "main_revenue", "rd_expense", "sales_revenue") else
                     "家" if k.endswith("firms") else None)
    ws.append(hints)
    park = dict(AT_INDUSTRIAL, name="单位行园区", hitech_revenue=100000, main_revenue=1000000, rd_expense=30000,
                sales_revenue=1000000)
    ws.append([park.get(k) for k in HEADERS])
    wb.save(inbox / "济南市园区汇总表.xlsx")
    apps = by_name(run(inbox, tmp_path / "out"))
    assert list(apps) == ["单位行园区"]
    assert apps["单位行园区"]["values"]["main_revenue"] == 100


def test_a_cluster_sheet_beside_the_park_sheet_is_named(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = inbox / "滨州市园区汇总表.xlsx"
    write_summary(path, [dict(AT_INDUSTRIAL, name="滨州两表园区", city="滨州市")], title="滨州市省级数字经济园区申报汇总表")
    from openpyxl import load_workbook

    from tests.decision_builders import COLUMNS, header_label, row

    wb = load_workbook(path)
    ws = wb.create_sheet("集群")
    ws.append([header_label(c) for c in COLUMNS])
    ws.append([row(name="滨州两表集群", city="滨州市").get(c) for c in COLUMNS])
    wb.save(path)
    results = run(inbox, tmp_path / "out")
    codes = {f["code"] for f in results["files"][0]["findings"]}
    assert "other-program-sheet" in codes


def test_expert_row_naming_another_city_is_not_matched(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_summary(inbox / "菏泽市园区汇总表.xlsx", [dict(AT_INDUSTRIAL, name="菏泽数字经济产业园", city="菏泽市")],
                  title="菏泽市省级数字经济园区申报汇总表")
    write_scores(inbox / "专家评分_甲.xlsx", {"滨州数字经济产业园": {"L1P1": 9, "L1P2": 9, "L1P3": 9}}, "甲")
    app = by_name(run(inbox, tmp_path / "out"))["菏泽数字经济产业园"]
    assert not app.get("score_detail") or app["score_detail"].get("basis") != "expert"


def test_one_program_run_ignores_the_other_programs_files(tmp_path: Path) -> None:
    import shutil

    from sdbatch.batch import RunOptions, evaluate

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    root = Path(__file__).resolve().parents[1] / "samples" / "inbox"
    for name in ("园区_济南市_数字经济园区申报汇总表.xlsx", "园区_专家评分表_专家丙.xlsx", "济南市数字产业集群申报信息汇总表.xlsx"):
        shutil.copy(root / name, inbox / name)
    result = evaluate(inbox, RunOptions(out_dir=tmp_path / "out", programs=("cluster_2024",)))
    files = {f.file: f for f in result.files}
    for name in ("园区_济南市_数字经济园区申报汇总表.xlsx", "园区_专家评分表_专家丙.xlsx"):
        assert files[name].status == "ignored"  # a park file is never read as a cluster table
        assert "other-program-file" in [f.code for f in files[name].findings]
    assert files["济南市数字产业集群申报信息汇总表.xlsx"].status == "processed"
    assert {a.program for a in result.applications} == {"cluster_2024"}


def test_two_experts_stacked_in_one_sheet(tmp_path: Path) -> None:
    from sdbatch.model import RawSheet
    from sdbatch.programs.park import parse_score_sheets, settings_of
    from sdbatch.rules import load

    codes = ["L1P1", "L1P2", "L1P3", "L1P4", "L1P5", "L1P6"]
    rows: list[list[Any]] = []
    for expert, points in (("赵华", 8), ("钱进", 6)):
        rows += [[f"专家复核评分表  评审专家：{expert}"], ["序号", "园区名称", *codes],
                 [1, "甲园区", *[points] * 6], [2, "乙园区", *[points] * 6], []]
    sheets = parse_score_sheets(RawSheet(name="专家评分", rows=rows), "评分.xlsx", settings_of(load("park_2024")))
    assert [s.rater_label for s in sheets] == ["赵华", "钱进"]
    assert [[r.park for r in s.rows] for s in sheets] == [["甲园区", "乙园区"], ["甲园区", "乙园区"]]
    assert sheets[0].rows[0].rater != sheets[1].rows[0].rater
