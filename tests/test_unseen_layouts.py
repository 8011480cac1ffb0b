"""Workbooks in styles the samples do not cover (found by reading unseen city workbooks):
Chinese ordinal numbers, sub-header rows, merged unit cells, districts under 所在市,
counts in 万, ratios in words or as fractions under (%), numbers in date-formatted cells."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.decision_builders import (
    COLUMNS,
    ON_TIME,
    app_named,
    city_file,
    decide,
    header_label,
    row,
    set_mtime,
)
from tests.decision_builders import triples as finding_triples


def codes_of(app: Any) -> set[str]:
    return {f.code for f in app.findings}


def write_grid(path: Path, grid: list[list[Any]], merges: tuple[str, ...] = (), formats: dict[str, str] | None = None
               ) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "汇总表"
    for r in grid:
        ws.append(r)
    for m in merges:
        ws.merge_cells(m)
    for addr, fmt in (formats or {}).items():
        ws[addr].number_format = fmt
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    set_mtime(path, ON_TIME)
    return path


def grid_row(data: dict[str, Any], columns: tuple[str, ...] = COLUMNS) -> list[Any]:
    return [data.get(c) for c in columns]


@pytest.mark.parametrize("written, order", [("第1", 1), ("三", 3), ("（二）", 2), ("第二名", 2), ("1.", 1)])
def test_city_order_written_in_words(tmp_path: Path, written: str, order: int) -> None:
    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(name="济南受测产业集群", city_order=written)])
    app = app_named(decide(inbox), "济南受测产业集群")
    assert app.city_order == order
    assert app.status == "eligible"


def test_unreadable_row_number_is_only_a_warning(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    columns = ("seq", *COLUMNS)
    header = [header_label(c) for c in columns]
    write_grid(inbox / "济南市汇总表.xlsx", [["济南市数字产业集群申报信息汇总表"], header,
                                            grid_row({**row(name="济南序号集群"), "seq": "甲"}, columns)])
    app = app_named(decide(inbox), "济南序号集群")
    seq = [f for f in app.findings if f.field == "seq"]
    assert [(f.code, f.severity, f.effect) for f in seq] == [("unparseable-value", "warning", None)]
    assert app.status == "eligible"


def test_sub_header_row_of_units_is_not_an_application(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    top = [header_label(c) for c in COLUMNS]
    top[COLUMNS.index("rd_expense")] = "规上企业上年度研发投入总额"
    top[COLUMNS.index("sales_revenue")] = "规上企业上年度销售收入总额"
    sub = [None] * len(COLUMNS)
    sub[COLUMNS.index("rd_expense")] = "金额（万元）"
    sub[COLUMNS.index("sales_revenue")] = "金额（万元）"
    sub[COLUMNS.index("leader_firms")] = "数量（家）"
    data = row(name="日照受测集群", rd_expense=40000, sales_revenue=1000000)
    write_grid(inbox / "日照市汇总表.xlsx", [["日照市数字产业集群申报信息汇总表"], top, sub, grid_row(data)])
    result = decide(inbox)
    assert [a.name for a in result.applications] == ["日照受测集群"]
    app = result.applications[0]
    assert (app.values["rd_expense"], app.values["sales_revenue"]) == (4, 100)


def test_units_cell_merged_over_two_columns_applies_to_both(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    header = [header_label(c) for c in COLUMNS]
    for c in ("rd_expense", "sales_revenue"):
        header[COLUMNS.index(c)] = {"rd_expense": "研发投入总额", "sales_revenue": "销售收入总额"}[c]
    units = ["（家）"] * len(COLUMNS)
    col = COLUMNS.index("rd_expense")
    units[col] = "万元"
    units[col + 1] = None
    letter = openpyxl.utils.get_column_letter
    data = row(name="青岛受测集群", rd_expense=40000, sales_revenue=1000000)
    write_grid(inbox / "青岛市汇总表.xlsx", [["青岛市数字产业集群申报信息汇总表"], header, units, grid_row(data)],
               merges=(f"{letter(col + 1)}3:{letter(col + 2)}3",))
    app = app_named(decide(inbox), "青岛受测集群")
    assert (app.values["rd_expense"], app.values["sales_revenue"]) == (4, 100)
    assert "implausible-value" not in codes_of(app)


def test_district_under_city_takes_the_file_city(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    city_file(inbox, "青岛市", [row(name="青岛甲集群", city_order=1), row(name="青岛乙集群", city_order=2)])
    path = next(inbox.glob("*.xlsx"))
    wb = openpyxl.load_workbook(path)
    wb.active.cell(row=4, column=COLUMNS.index("city") + 1, value="市南区")
    wb.save(path)
    set_mtime(path, ON_TIME)
    app = app_named(decide(inbox), "青岛乙集群")
    assert app.city == "青岛市"
    assert "city-unrecognised" in codes_of(app)
    assert app.status == "eligible"


def test_count_written_with_wan(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(name="济南万项集群", ip_total="1.2万")])
    app = app_named(decide(inbox), "济南万项集群")
    assert app.values["ip_total"] == 12000
    assert app.status == "eligible"


def test_ratio_in_words_is_recomputed_from_the_amounts(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(name="济南文字比重集群", rd_ratio="百分之三点五", rd_expense=3.5,
                                    sales_revenue=100)])
    app = app_named(decide(inbox), "济南文字比重集群")
    assert app.values["rd_ratio"] == 3.5
    assert {"unparseable-value", "ratio-derived"} <= codes_of(app)
    assert app.status == "eligible"


def test_fraction_under_a_percent_header(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    # (%) in the header: 0.8 is 0.8 % (fails 三(四)); 0.035 agreeing with the amounts is 3.5 %.
    city_file(inbox, "济南市", [row(name="济南低研发集群", rd_ratio=0.8, rd_expense=None, sales_revenue=None),
                                row(name="济南小数集群", city_order=2, rd_ratio=0.035, rd_expense=3.5,
                                    sales_revenue=100)])
    result = decide(inbox)
    low = app_named(result, "济南低研发集群")
    assert low.values["rd_ratio"] == 0.8 and low.status == "ineligible"
    frac = app_named(result, "济南小数集群")
    assert frac.values["rd_ratio"] == 3.5 and frac.status == "eligible"


def test_declared_ratio_fails_but_amounts_pass_needs_review(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(name="济南矛盾集群", rd_ratio=2.5, rd_expense=4, sales_revenue=100)])
    app = app_named(decide(inbox), "济南矛盾集群")
    assert {"below-threshold", "ratio-mismatch"} <= codes_of(app)
    assert app.status == "needs_review"


def test_number_in_a_date_formatted_cell(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    path = city_file(inbox, "济南市", [row(name="济南日期格式集群", backbone_firms=5)])
    wb = openpyxl.load_workbook(path)
    cell = wb.active.cell(row=3, column=COLUMNS.index("backbone_firms") + 1)
    cell.number_format = "yyyy-mm-dd"
    wb.save(path)
    set_mtime(path, ON_TIME)
    app = app_named(decide(inbox), "济南日期格式集群")
    assert app.values["backbone_firms"] == 5
    assert app.status == "eligible"


def test_a_real_date_in_a_number_column_is_unreadable(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(name="济南真日期集群", backbone_firms=dt.datetime(2024, 5, 1))])
    app = app_named(decide(inbox), "济南真日期集群")
    assert (3, "backbone_firms", "unparseable-value") in finding_triples(app)
    assert app.status == "incomplete"


def test_one_file_with_several_cities_says_so(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    path = inbox / "全省数字产业集群申报汇总表.xlsx"
    write_grid(path, [["全省数字产业集群申报汇总表"], [header_label(c) for c in COLUMNS],
                      grid_row(row(name="济南全省表集群", city="济南市")),
                      grid_row(row(name="临沂全省表集群", city="临沂市"))])
    result = decide(inbox)
    record = next(f for f in result.files if f.file == path.name)
    assert "several-cities" in {f.code for f in record.findings}
    assert {a.city for a in result.applications} == {"济南市", "临沂市"}


@pytest.mark.parametrize("written, value", [("18①", 18), ("52*", 52), ("86（注2）", 86), ("1家（某某科技有限公司）", 1),
                                            ("≥1", 1)])
def test_footnote_marks_and_remarks_in_numbers(tmp_path: Path, written: str, value: int) -> None:
    inbox = tmp_path / "inbox"
    city_file(inbox, "潍坊市", [row(name="潍坊脚注集群", leading_firms=written)])
    app = app_named(decide(inbox), "潍坊脚注集群")
    assert app.values["leading_firms"] == value
    assert (3, "leading_firms", "value-converted") in finding_triples(app)


def test_explanation_rows_between_applications(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    header = [header_label(c) for c in COLUMNS]
    first, second = row(name="淄博甲集群", city="淄博市"), row(name="淄博乙集群", city="淄博市", city_order=2)
    write_grid(inbox / "淄博市汇总表.xlsx", [
        ["淄博市数字产业集群申报信息汇总表"], header, grid_row(first),
        [None, None, "（含高新区、淄川区两个片区）"],
        ["说明：甲集群营业收入含两个片区。"],
        grid_row(second)])
    result = decide(inbox)
    assert [a.name for a in result.applications] == ["淄博甲集群", "淄博乙集群"]
    notes = {f.code for f in result.files[0].findings}
    assert {"explanation-row-skipped", "note-row-skipped", "row-after-notes"} <= notes


def test_group_titles_in_the_order_column(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    header = [header_label(c) for c in COLUMNS]
    write_grid(inbox / "烟台市汇总表.xlsx", [
        ["烟台市数字产业集群申报信息汇总表"], header, ["一、能源电子"],
        grid_row(row(name="烟台能源电子集群", city="烟台市", industry="能源电子"))])
    result = decide(inbox)
    assert [a.name for a in result.applications] == ["烟台能源电子集群"]
    assert "section-row-skipped" in {f.code for f in result.files[0].findings}


def test_the_industry_marked_main_is_taken(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    city_file(inbox, "济宁市", [row(name="济宁主要方向集群", industry="新型电子材料、集成电路（主要）")])
    assert app_named(decide(inbox), "济宁主要方向集群").industry == "集成电路"


def test_english_and_traditional_headers(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    header = [header_label(c) for c in COLUMNS]
    header[COLUMNS.index("revenue_total")] = "Revenue (100M CNY)"
    header[COLUMNS.index("sales_revenue")] = "Sales Revenue (100M CNY)"
    header[COLUMNS.index("rd_ratio")] = "R&D Ratio (%)"
    header[COLUMNS.index("leading_firms")] = "主導產業相關規上企業數量（家）"
    header[COLUMNS.index("bad_credit")] = "有無不良信用記錄"
    data = row(name="日照英文表头集群", city="日照市", bad_credit="無")
    write_grid(inbox / "日照市汇总表.xlsx", [["日照市数字产业集群申报信息汇总表"], header, grid_row(data)])
    app = app_named(decide(inbox), "日照英文表头集群")
    assert app.values["revenue_total"] == data["revenue_total"]
    assert app.values["sales_revenue"] == data["sales_revenue"]
    assert app.values["leading_firms"] == data["leading_firms"]
    assert app.values["bad_credit"] is False
    assert app.status == "eligible"


def test_unreadable_alternative_does_not_matter_when_the_other_holds(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    # 三(四) 国家级平台 1 is enough; an unreadable 省级平台 count is then only a warning.
    city_file(inbox, "济南市", [row(name="济南平台集群", national_platforms=1, provincial_platforms="若干")])
    app = app_named(decide(inbox), "济南平台集群")
    assert (3, "provincial_platforms", "unparseable-value") in finding_triples(app)
    assert app.status == "eligible"


def test_accounting_negative_is_negative(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(name="济南负数集群", backbone_firms="(5)")])
    app = app_named(decide(inbox), "济南负数集群")
    assert (3, "backbone_firms", "negative-value") in finding_triples(app)
