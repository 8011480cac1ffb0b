"""The blank city workbook generated from a rules file (issue 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from sdbatch.rules import bundled, load
from sdbatch.template import (
    DATA_SHEET,
    FIRST_DATA_ROW,
    HEADER_ROW,
    NOTES_SHEET,
    header_text,
    template_fields,
    template_name,
    write_templates,
)

ROOT = Path(__file__).resolve().parent.parent
KEPT = ROOT / "templates" / "xlsx"


@pytest.fixture(scope="module")
def cluster_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tpl")
    (path,) = write_templates("cluster_2024", out)
    return path


@pytest.fixture(scope="module")
def cluster_rules():
    return load("cluster_2024")


def _columns(ws) -> dict[str, int]:
    """Header text -> 1-based column."""
    return {c.value: c.column for c in ws[HEADER_ROW + 1] if c.value}


def _validation(ws, col: int) -> Any:
    letter = openpyxl.utils.get_column_letter(col)
    first = f"{letter}{FIRST_DATA_ROW + 1}"
    found = [dv for dv in ws.data_validations.dataValidation if first in dv.sqref]
    assert len(found) == 1, f"{first}: {len(found)} validations"
    return found[0]


def _field_validation(ws, rules, field_id: str) -> Any:
    return _validation(ws, _columns(ws)[header_text(rules.fields[field_id])])


def _inline(items: list[str]) -> str:
    return '"' + ",".join(items) + '"'


def test_file_name_and_sheets(cluster_template: Path, cluster_rules) -> None:
    assert cluster_template.name == "cluster_2024_汇总表模板.xlsx" == template_name(cluster_rules)
    wb = openpyxl.load_workbook(cluster_template)
    assert wb.sheetnames == [DATA_SHEET, NOTES_SHEET]


def test_title_unit_line_and_header(cluster_template: Path, cluster_rules) -> None:
    ws = openpyxl.load_workbook(cluster_template)[DATA_SHEET]
    # the title in row 1, right of the city to fill in (issue 14: right of the columns repeated
    # on every printed block, so it moved from C1 when the table prints in blocks)
    assert [c.value for c in ws[1] if c.value] == ["山东省数字产业集群（首批）申报信息汇总表"]
    assert ws["A1"].value is None  # the city to fill in
    assert ws["A2"].value == "填报单位："
    headers = list(_columns(ws))
    assert headers[0] == "推荐排序"
    assert "集群数字产业相关规上企业年营业收入总额（亿元）" in headers
    assert "研发投入占销售收入比重（%）" in headers
    assert "主导产业相关规上企业数量（家）" in headers
    assert "近三年科技奖励及知识产权总数（项）" in headers


def test_helper_fields_left_out(cluster_template: Path, cluster_rules) -> None:
    ids = [f.id for f in template_fields(cluster_rules)]
    parts = {p for f in cluster_rules.fields.values() for p in f.parts}
    assert parts == {"ip_awards", "ip_patents", "ip_software"}
    assert not parts & set(ids)
    assert "seq" not in ids and "ip_total" in ids
    ws = openpyxl.load_workbook(cluster_template)[DATA_SHEET]
    assert "序号" not in _columns(ws)
    # every other field of the rules file has its column
    assert len(_columns(ws)) == len(cluster_rules.fields) - len(parts) - 1


def test_opens_in_calamine(cluster_template: Path) -> None:
    wb = CalamineWorkbook.from_path(str(cluster_template))
    assert wb.sheet_names == [DATA_SHEET, NOTES_SHEET]
    rows = wb.get_sheet_by_name(DATA_SHEET).to_python()
    assert [c for c in rows[0] if c] == ["山东省数字产业集群（首批）申报信息汇总表"]
    assert rows[HEADER_ROW][0] == "推荐排序"
    notes = wb.get_sheet_by_name(NOTES_SHEET).to_python()
    assert any("三(二)" in str(c) for row in notes for c in row)


def test_city_dropdowns(cluster_template: Path, cluster_rules) -> None:
    ws = openpyxl.load_workbook(cluster_template)[DATA_SHEET]
    dv = _field_validation(ws, cluster_rules, "city")
    assert dv.type == "list" and dv.formula1 == _inline(list(load("cluster_2024").jurisdiction.cities))
    assert len(load("cluster_2024").jurisdiction.cities) == 16
    title_city = [d for d in ws.data_validations.dataValidation if str(d.sqref) == "A1"]
    assert title_city and title_city[0].type == "list" and title_city[0].formula1 == _inline(list(load("cluster_2024").jurisdiction.cities))


def test_industry_and_bool_dropdowns(cluster_template: Path, cluster_rules) -> None:
    ws = openpyxl.load_workbook(cluster_template)[DATA_SHEET]
    dv = _field_validation(ws, cluster_rules, "industry")
    assert dv.type == "list"
    assert dv.formula1 == _inline(list(cluster_rules.choices["industries"].allowed))
    assert "集成电路" in dv.formula1 and "新型电子材料" in dv.formula1
    assert _field_validation(ws, cluster_rules, "legal_person").formula1 == '"是,否"'
    assert _field_validation(ws, cluster_rules, "major_incident").formula1 == '"是,否"'
    assert _field_validation(ws, cluster_rules, "bad_credit").formula1 == '"有,无"'  # 有无不良信用记录


def test_number_validation_and_prompts(cluster_template: Path, cluster_rules) -> None:
    ws = openpyxl.load_workbook(cluster_template)[DATA_SHEET]
    revenue = _field_validation(ws, cluster_rules, "revenue_total")
    assert (revenue.type, revenue.operator, revenue.formula1) == ("decimal", "greaterThanOrEqual", "0")
    assert "三(二)" in revenue.prompt and "50" in revenue.prompt and "亿元" in revenue.prompt
    for fid in ("leading_firms", "leader_firms", "backbone_firms", "national_platforms", "ip_total"):
        dv = _field_validation(ws, cluster_rules, fid)
        assert (dv.type, dv.operator, dv.formula1) == ("whole", "greaterThanOrEqual", "0"), fid
    assert "1000" in _field_validation(ws, cluster_rules, "ip_total").prompt
    ratio = _field_validation(ws, cluster_rules, "rd_ratio")
    assert (ratio.type, ratio.formula1, ratio.formula2) == ("decimal", "0", "100")
    assert "三(四)" in ratio.prompt and "3%" in ratio.prompt
    uscc = _field_validation(ws, cluster_rules, "applicant_uscc")
    assert (uscc.type, uscc.formula1) == ("textLength", "18")
    for dv in ws.data_validations.dataValidation:
        assert dv.showInputMessage and (dv.type is None or dv.showErrorMessage)


def test_order_column_limited_to_quota(cluster_template: Path, cluster_rules) -> None:
    ws = openpyxl.load_workbook(cluster_template)[DATA_SHEET]
    dv = _field_validation(ws, cluster_rules, "city_order")
    # at most the quota of the row's city (or of the city chosen in A1), from [quota] of the rules
    assert (dv.type, dv.formula1) == ("whole", "1")
    assert dv.formula2.startswith("IF(OR(") and '"济南市"' in dv.formula2 and '"青岛市"' in dv.formula2
    assert dv.formula2.endswith(",3,2)")
    assert "四(二)" in dv.prompt
    assert str(dv.sqref) == f"A{FIRST_DATA_ROW + 1}:A{FIRST_DATA_ROW + 3}"


def test_header_protected_data_unlocked(cluster_template: Path) -> None:
    ws = openpyxl.load_workbook(cluster_template)[DATA_SHEET]
    assert ws.protection.sheet is True
    assert not ws.protection.password  # staff can unprotect
    for cell in ws[HEADER_ROW + 1]:
        if cell.value:
            assert cell.protection.locked, cell.coordinate
    assert ws["C1"].protection.locked and ws["A2"].protection.locked
    assert not ws["A1"].protection.locked and not ws["B2"].protection.locked
    for row in ws.iter_rows(min_row=FIRST_DATA_ROW + 1, max_row=FIRST_DATA_ROW + 3):
        for cell in row:
            assert not cell.protection.locked, cell.coordinate


def test_notes_sheet_cites_clauses(cluster_template: Path, cluster_rules) -> None:
    ws = openpyxl.load_workbook(cluster_template)[NOTES_SHEET]
    text = "\n".join(str(c) for row in ws.iter_rows(values_only=True) for c in row if c is not None)
    for c in cluster_rules.conditions:
        assert c.text in text and c.clause in text
    for item in cluster_rules.expert_items:
        assert item["text"] in text and item["clause"] in text
    assert "2024年6月28日" in text and "集成电路、人工智能" in text
    assert "济南市、青岛市最多推荐3个" in text


def test_output_is_deterministic(tmp_path: Path) -> None:
    (a,) = write_templates("cluster_2024", tmp_path / "a.xlsx")
    (b,) = write_templates("cluster_2024", tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()


def test_single_file_needs_one_program(tmp_path: Path) -> None:
    if len(bundled()) > 1:
        with pytest.raises(ValueError):
            write_templates(None, tmp_path / "x.xlsx")


def snapshot(path: Path) -> dict[str, Any]:
    """What a template means (values, merges, validations, protection), independent of bytes."""
    wb = openpyxl.load_workbook(path)
    out: dict[str, Any] = {"sheets": wb.sheetnames}
    for ws in wb.worksheets:
        out[ws.title] = {
            "values": [list(r) for r in ws.iter_rows(values_only=True)],
            "merged": sorted(str(m) for m in ws.merged_cells.ranges),
            "validations": sorted(
                (str(dv.sqref), dv.type, dv.operator, dv.formula1, dv.formula2, dv.promptTitle, dv.prompt,
                 dv.error) for dv in ws.data_validations.dataValidation),
            "protected": ws.protection.sheet,
            "unlocked": sorted(c.coordinate for row in ws.iter_rows() for c in row if not c.protection.locked),
        }
    return out


@pytest.mark.parametrize("program", [n for n, p in bundled().items() if load(p).fields])
def test_kept_templates_match_generator(program: str, tmp_path: Path) -> None:
    (fresh,) = write_templates(program, tmp_path)
    kept = KEPT / fresh.name
    assert kept.exists(), f"{kept} missing: run `make templates`"
    assert snapshot(kept) == snapshot(fresh), f"{kept} is out of date: run `make templates`"


MINIMAL = """
[program]
name = "mini_park"
kind = "park"
title = "测试园区申报"
version = "1"

[program.roles]
type = "park_type"

[choices.park_types]
clause = "第四条"
allowed = ["甲类园区", "乙类园区"]

[fields.city]
label = "所在市"
type = "city"
required = true

[fields.name]
label = "园区名称"
type = "text"
required = true

[fields.park_type]
label = "园区类型"
type = "choice"
choices = "park_types"

[fields.has_plan]
label = "有无建设规划"
type = "bool"
clause = "第五条"

[fields.firms]
label = "企业数"
type = "count"
unit = "家"
applies_to = ["甲类园区"]

[[conditions]]
id = "firms"
field = "firms"
op = ">="
threshold = 7
severity = "soft"
clause = "第五条(二)"
text = "企业数原则上不少于7家"
applies_to = ["甲类园区"]
"""


def test_generic_rules_file_with_park_types(tmp_path: Path) -> None:
    rules_file = tmp_path / "mini_park.toml"
    rules_file.write_text(MINIMAL, encoding="utf-8")
    (path,) = write_templates(str(rules_file), tmp_path / "out")
    assert path.name == "mini_park_汇总表模板.xlsx"
    rules = load(rules_file)
    ws = openpyxl.load_workbook(path)[DATA_SHEET]
    assert ws["C1"].value == "测试园区申报信息汇总表"
    assert list(_columns(ws)) == ["所在市", "园区名称", "园区类型", "有无建设规划", "企业数（家）"]
    assert _field_validation(ws, rules, "park_type").formula1 == '"甲类园区,乙类园区"'
    assert _field_validation(ws, rules, "has_plan").formula1 == '"有,无"'
    firms = _field_validation(ws, rules, "firms")
    assert firms.type == "whole" and "7" in firms.prompt and "甲类园区" in firms.prompt
    assert str(firms.sqref) == "E4:E23"  # no quota: 20 rows
