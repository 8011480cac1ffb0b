"""Review workbooks <city>_审核意见.xlsx: fills and comments on exact cells, sheets, labels, safety."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest

from sdbatch.model import Application, FileRecord, Finding, RawSheet, RunResult, Source, Table
from sdbatch.rules import load
from sdbatch.writers import write_city_reviews
from sdbatch.writers._common import COLOURS

RUN_ID = "20240629-2200"
EVIL_NAME = "济南算力集群\r\nBcc: x@y"


def _finding(code, severity, file, sheet, row, cell, *, field=None, clause=None, effect=None, original=None,
             **params):
    return Finding(code, severity, field=field, clause=clause, params=params,
                   source=Source(file=file, sheet=sheet, row=row, cell=cell), effect=effect, original=original)


def _below(file, sheet, row, cell, field, actual, unit, clause, text, effect):
    return _finding("below-threshold", "error" if effect == "ineligible" else "warning", file, sheet, row, cell,
                    field=field, clause=clause, effect=effect, original=actual, rule_text=text, actual=actual,
                    unit=unit, fix_text="请核实填报数据。")


def _app(app_id, city, name, industry, order, status, source, cells, values, findings=(), score=None, rank=None,
         industry_rank=None, **extra):
    return Application(id=app_id, program="cluster_2024", city=city, name=name, industry=industry,
                       city_order=order, values=values, source=source, findings=list(findings), cells=cells,
                       originals={}, unknown={}, status=status, score=score, rank=rank,
                       industry_rank=industry_rank, extra=extra)


def write_jinan_xlsx(path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "汇总表"
    ws["A1"] = "济南市数字产业集群申报信息汇总表"
    ws.merge_cells("A1:G1")
    ws.append(["推荐排序", "集群名称", "所在市", "主导产业", "营业收入总额（亿元）", "领军企业数量（家）", "备注"])
    ws.append([1, "济南软件集群", "济南市", "高端软件", 30, 2, "=1+1"])
    ws.append([2, "济南AI集群", "济南市", "人工智能", "50亿", 0, None])
    ws.append([3, EVIL_NAME, "济南市", "先进计算", 80, 3, None])
    ws.append([4, "济南第四集群", "济南市", "高端软件", 90, 5, None])
    ws["G3"].data_type = "s"  # the city typed the text "=1+1" (stored as text, not a formula)
    ws["G6"] = "=SUM(1,2)"  # a formula of the city's own: no cached value, must not come back as a formula
    ws.column_dimensions["B"].width = 33
    ws.row_dimensions[3].height = 30
    other = wb.create_sheet("填表说明")
    other["A1"] = "请按模板填写"
    wb.save(path)


def build_result(tmp: Path) -> RunResult:
    """Three cities: 济南 (.xlsx, four applications), 青岛 (.csv), 淄博 (rejected), plus one unknown city."""
    rules = load("cluster_2024")
    inbox = tmp / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)

    jn_path = inbox / "济南市汇总表.xlsx"
    write_jinan_xlsx(jn_path)
    jn_file, jn_sheet = "济南市汇总表.xlsx", "汇总表"
    cells = lambda r: {"name": f"B{r}", "industry": f"D{r}", "revenue_total": f"E{r}", "leader_firms": f"F{r}"}  # noqa: E731
    src = lambda r: Source(file=jn_file, sheet=jn_sheet, row=r)  # noqa: E731
    jn1 = _app("jn-1", "济南市", "济南软件集群", "高端软件", 1, "ineligible", src(3), cells(3),
               {"revenue_total": 30.0, "leader_firms": 2, "remarks": "=1+1"},
               [_below(jn_file, jn_sheet, 3, "E3", "revenue_total", 30, "亿元", "三(二)",
                       "集群数字产业相关规上企业年营业收入总额应在50亿元以上", "ineligible")])
    jn2 = _app("jn-2", "济南市", "济南AI集群", "人工智能", 2, "needs_review", src(4), cells(4),
               {"revenue_total": 50.0, "leader_firms": 0},
               [_finding("value-converted", "info", jn_file, jn_sheet, 4, "E4", field="revenue_total",
                         original="50亿", label="集群数字产业相关规上企业年营业收入总额", value=50, unit="亿元",
                         how="去掉单位文字"),
                _below(jn_file, jn_sheet, 4, "F4", "leader_firms", 0, "家", "三(三)",
                       "集群应至少培育1家年营业收入10亿元以上领军企业", "needs_review")],
               score=61.5, rank=2, industry_rank=1)
    jn3 = _app("jn-3", "济南市", EVIL_NAME, "先进计算", 3, "eligible", src(5), cells(5),
               {"revenue_total": 80.0, "leader_firms": 3}, score=88.25, rank=1, industry_rank=1)
    jn4 = _app("jn-4", "济南市", "济南第四集群", "高端软件", 4, "over_quota", src(6), cells(6),
               {"revenue_total": 90.0, "leader_firms": 5},
               [Finding("over-quota", "error", clause="四(二)", effect="over_quota",
                        params={"city": "济南市", "quota": 3, "position": 4},
                        source=Source(file=jn_file, sheet=jn_sheet, row=6))])
    jn_table = Table(sheet=RawSheet(jn_sheet, []), header_rows=[1], data_start=2, columns=[])
    jn_rec = FileRecord(file=jn_file, path=str(jn_path), sha256="a" * 64, size=jn_path.stat().st_size,
                        mtime=0.0, city="济南市", kind="xlsx", sheet=jn_sheet, table=jn_table,
                        applications=[jn1, jn2, jn3, jn4], program="cluster_2024",
                        findings=[Finding("other-sheet-skipped", "info", params={"sheet": "填表说明"},
                                          source=Source(jn_file, "填表说明"))])

    qd_path = inbox / "青岛.csv"
    grid = [["青岛市数字产业集群申报信息汇总表", None, None, None],
            ["推荐排序", "集群名称", "主导产业", "联系电话"],
            [1, "青岛虚拟现实集群", "虚拟现实", "12345"]]
    with qd_path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(grid)
    qd_sheet = RawSheet("青岛", grid, merged=[(0, 0, 0, 3)])
    qd_file = "青岛.csv"
    qd1 = _app("qd-1", "青岛市", "青岛虚拟现实集群", "虚拟现实", 1, "eligible", Source(qd_file, "青岛", 3),
               {"name": "B3", "industry": "C3", "phone": "D3"}, {"phone": "12345"},
               [_finding("invalid-phone", "warning", qd_file, "青岛", 3, "D3", field="phone", clause="附件2",
                         original="12345")], score=70.0, rank=3, industry_rank=1)
    qd_rec = FileRecord(file=qd_file, path=str(qd_path), sha256="b" * 64, size=1, mtime=0.0, city="青岛市",
                        kind="csv", sheet="青岛", applications=[qd1], program="cluster_2024",
                        table=Table(sheet=qd_sheet, header_rows=[1], data_start=2, columns=[]), late=True)

    zb_rec = FileRecord(file="淄博市.xlsx", path=str(inbox / "淄博市.xlsx"), sha256="c" * 64, size=10, mtime=0.0,
                        city="淄博市", status="rejected", error_code="file-encrypted",
                        error_params={"file": "淄博市.xlsx"})

    unknown = _app("x-1", None, "无主集群", "高端软件", 1, "incomplete", Source(jn_file, jn_sheet, 9), {}, {},
                   [Finding("city-not-found", "error", field="city", effect="incomplete",
                            source=Source(jn_file, jn_sheet, 9))])
    apps = [jn1, jn2, jn3, jn4, qd1, unknown]
    return RunResult(program="cluster_2024", rules_version=rules.version, run_id=RUN_ID,
                     started="2024-06-29T22:00:00", finished="2024-06-29T22:00:05", applications=apps,
                     files=[jn_rec, qd_rec, zb_rec], rules=rules, programs={"cluster_2024": rules})


def _fill(cell) -> str:
    return (cell.fill.fgColor.rgb or "")[-6:].upper() if cell.fill and cell.fill.fill_type == "solid" else ""


def _assert_no_formulas(wb) -> None:
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula"


@pytest.fixture()
def reviews(tmp_path):
    result = build_result(tmp_path)
    return result, write_city_reviews(result, tmp_path / "run")


def test_one_workbook_per_city_named_from_the_canonical_city(reviews, tmp_path):
    _, paths = reviews
    assert set(paths) == {"济南市", "青岛市", "淄博市", "未识别城市"}
    for city, path in paths.items():
        assert path == tmp_path / "run" / f"{city}_审核意见.xlsx"
        assert path.exists()
    assert not list((tmp_path / "run").glob("*.tmp"))


def test_xlsx_sheet_is_copied_with_layout_and_only_the_data_sheet(reviews):
    _, paths = reviews
    wb = openpyxl.load_workbook(paths["济南市"])
    # notes (values converted, other sheets not read) have their own sheet after 问题清单 (issue 14)
    assert wb.sheetnames == ["汇总表", "审核结论", "问题清单", "数据处理说明", "说明"]
    ws = wb["汇总表"]
    assert ws["A1"].value == "济南市数字产业集群申报信息汇总表"
    assert "A1:G1" in {str(r) for r in ws.merged_cells.ranges}
    assert ws["B5"].value.startswith("济南算力集群")
    assert ws.column_dimensions["B"].width == pytest.approx(33, abs=1)
    assert ws.row_dimensions[3].height == 30


def test_fills_and_comments_on_the_exact_cells(reviews):
    _, paths = reviews
    ws = openpyxl.load_workbook(paths["济南市"])["汇总表"]
    # revenue of the ineligible application: red, clause, original value and fix in the comment
    assert _fill(ws["E3"]) == COLOURS["red"]
    comment = ws["E3"].comment.text
    assert "三(二)" in comment and "原填报值：30" in comment and "请核实填报数据" in comment
    # converted amount (blue) and relaxable condition (amber) on the same row
    assert _fill(ws["E4"]) == COLOURS["blue"]
    assert "50亿" in ws["E4"].comment.text
    assert _fill(ws["F4"]) == COLOURS["amber"]
    assert "三(三)" in ws["F4"].comment.text
    # over quota has no cell of its own: the name cell is marked
    assert _fill(ws["B6"]) == COLOURS["red"]
    assert "超出推荐名额" in ws["B6"].comment.text
    # cells without findings keep no colour and no comment
    assert _fill(ws["E5"]) == "" and ws["E5"].comment is None


def test_strongest_colour_wins_and_comments_join(tmp_path):
    result = build_result(tmp_path)
    jn2 = result.applications[1]
    jn2.findings.append(_below("济南市汇总表.xlsx", "汇总表", 4, "E4", "revenue_total", 50, "亿元", "三(二)",
                               "营业收入应在50亿元以上", "ineligible"))
    ws = openpyxl.load_workbook(write_city_reviews(result, tmp_path / "run")["济南市"])["汇总表"]
    assert _fill(ws["E4"]) == COLOURS["red"]
    text = ws["E4"].comment.text
    assert "未达到申报条件" in text and "数值已换算" in text
    assert text.index("未达到申报条件") < text.index("数值已换算")


def test_city_text_starting_with_equals_stays_a_string_and_nothing_is_a_formula(reviews):
    _, paths = reviews
    wb = openpyxl.load_workbook(paths["济南市"])
    assert wb["汇总表"]["G3"].value == "=1+1"
    assert wb["汇总表"]["G3"].data_type == "s"
    assert wb["汇总表"]["G6"].value is None  # the city's formula had no cached value
    summary = wb["审核结论"]
    remarks = [c for c in summary[1] if c.value and "备注" in str(c.value)][0].column
    assert summary.cell(row=2, column=remarks).value == "=1+1"
    assert summary.cell(row=2, column=remarks).data_type == "s"
    for path in paths.values():
        _assert_no_formulas(openpyxl.load_workbook(path))


def test_summary_sheet_lists_every_application_with_chinese_status_and_reason(reviews):
    _, paths = reviews
    ws = openpyxl.load_workbook(paths["济南市"])["审核结论"]
    headers = [c.value for c in ws[1]]
    assert headers[:6] == ["序号", "推荐排序", "集群名称", "主导产业", "审核结论", "主要原因"]
    assert "集群数字产业相关规上企业年营业收入总额（亿元）" in headers
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    # XML keeps no bare CR: the line break survives as LF
    assert [r[2] for r in rows] == ["济南软件集群", "济南AI集群", EVIL_NAME.replace("\r", ""), "济南第四集群"]
    assert [r[4] for r in rows] == ["不符合条件", "需专家研判", "符合条件", "超出推荐名额"]
    assert "未达到申报条件" in rows[0][5] and "营业收入" in rows[0][5]
    assert rows[3][5].startswith("超出推荐名额")
    revenue = headers.index("集群数字产业相关规上企业年营业收入总额（亿元）")
    assert rows[0][revenue] == 30
    assert ws.freeze_panes == "B2"
    assert ws.auto_filter.ref.startswith("A1:")
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == 9  # A4
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth == 1


def test_problem_list_has_one_row_per_finding_with_cell_field_and_fix(reviews):
    _, paths = reviews
    ws = openpyxl.load_workbook(paths["济南市"])["问题清单"]
    headers = [c.value for c in ws[1]]
    assert headers == ["序号", "文件", "申报项目", "单元格", "指标", "原填报值", "问题", "条款", "处理意见",
                       "类别", "影响"]
    rows = [dict(zip(headers, [c.value for c in row], strict=True)) for row in ws.iter_rows(min_row=2)]
    # actions only (issue 14): the two red ones (E3 below threshold, B6 over quota), then the amber F4;
    # the file-level note and the converted value are on 数据处理说明
    assert [(r["序号"], r["单元格"], r["类别"]) for r in rows] == [(1, "E3", "需更正"), (2, "B6", "需更正"),
                                                                  (3, "F4", "请核实/专家研判")]
    revenue = rows[0]
    assert revenue["申报项目"] == "济南软件集群"
    assert revenue["指标"] == "集群数字产业相关规上企业年营业收入总额"
    assert revenue["原填报值"] == 30 and revenue["条款"] == "三(二)"
    assert revenue["处理意见"] == "请核实填报数据。" and revenue["影响"] == "不符合条件"
    notes = [[c.value for c in row] for row in ws.parent["数据处理说明"].iter_rows(min_row=2)]
    assert [(n[2], n[3]) for n in notes] == [("（文件）", None), ("济南AI集群", "E4")]


def test_rejected_file_is_reported_to_its_city(reviews):
    _, paths = reviews
    wb = openpyxl.load_workbook(paths["淄博市"])
    assert "审核结论" in wb.sheetnames
    rows = [[c.value for c in row] for row in wb["问题清单"].iter_rows(min_row=2)]
    assert rows[0][1] == "淄博市.xlsx" and "密码" in rows[0][6] and rows[0][9] == "已退回"


def test_csv_grid_is_rebuilt_and_marked(reviews):
    _, paths = reviews
    wb = openpyxl.load_workbook(paths["青岛市"])
    ws = wb["青岛"]
    assert ws["B3"].value == "青岛虚拟现实集群"
    assert ws["A3"].value == 1
    assert "A1:D1" in {str(r) for r in ws.merged_cells.ranges}
    assert _fill(ws["D3"]) == COLOURS["amber"]
    assert "12345" in ws["D3"].comment.text


def test_notes_sheet_has_version_run_legend_and_expert_items(reviews):
    _, paths = reviews
    ws = openpyxl.load_workbook(paths["济南市"])["说明"]
    text = "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)
    for needle in ("2024.1", RUN_ID, "2024-06-29 22:00", "红色", "黄色", "蓝色", "符合条件", "需专家研判",
                   "材料不完整", "不符合条件", "超出推荐名额", "三(一)", "三(五)", "三(六)", "鲁工信电子〔2024〕122号"):
        assert needle in text, needle


def test_unknown_city_applications_get_their_own_workbook(reviews):
    _, paths = reviews
    ws = openpyxl.load_workbook(paths["未识别城市"])["审核结论"]
    assert ws["C2"].value == "无主集群" and ws["E2"].value == "材料不完整"


def test_park_summary_sheet_uses_the_group_label_with_score_tier_and_subsidy(tmp_path):
    from tests.test_parks_pipeline import park_run

    run_dir = park_run(tmp_path, budget=300)
    wb = openpyxl.load_workbook(run_dir / "济南市_审核意见.xlsx")
    ws = wb["审核结论"]
    headers = [c.value for c in ws[1]]
    assert headers[:8] == ["序号", "园区名称", "园区类型", "审核结论", "主要原因", "综合得分", "认定结果",
                           "奖补上限（万元）"]
    assert "建议分配（万元）" not in headers  # the allocation proposal is the department's
    assert "industry" not in headers and "推荐排序" not in headers and headers.count("园区类型") == 1
    rows = {r[1]: dict(zip(headers, r, strict=False)) for r in ws.iter_rows(min_row=2, values_only=True)}
    top = rows["示范园区"]
    assert (top["园区类型"], top["综合得分"], top["认定结果"], top["奖补上限（万元）"]) == ("数字产业化园区", 95, "示范型", 200)
    assert rows["入库园区"]["认定结果"] == "入库型" and rows["入库园区"]["奖补上限（万元）"] is None
    assert _fill(ws.cell(row=2, column=4)) == "C6EFCE"  # the status column (审核结论) is still coloured
    notes = {r[0]: r[1] for r in wb["说明"].iter_rows(values_only=True) if r[0]}
    assert notes["指标分值"].startswith("【使用默认分值】")
    assert not any("超出推荐名额" in str(r[1]) for r in wb["说明"].iter_rows(values_only=True))
