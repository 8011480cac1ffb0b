"""Header matching and table location (issue 2, SPEC §2.1): typical and variant headers."""

from __future__ import annotations

from typing import Any

import pytest

from sdbatch import rules as rules_mod
from sdbatch.header import classify_rows, find_table, locate, match_header
from sdbatch.model import RawSheet, RawWorkbook
from tests.builders import TYPICAL_COLUMNS, valid_row

RULES = rules_mod.load("cluster_2024")
ORDER_FIELDS = {RULES.role("order"), RULES.role("seq")}


def sheet_of(rows: list[list[Any]], **kw: Any) -> RawSheet:
    return RawSheet(name=kw.pop("name", "汇总表"), rows=rows, **kw)


def mapped(table: Any) -> dict[int, str]:
    return {c.index: c.field for c in table.columns if c.field}


# ----------------------------------------------------------------------------- match_header
@pytest.mark.parametrize("fid,header", [c for c in TYPICAL_COLUMNS])
def test_typical_headers(fid: str, header: str) -> None:
    assert match_header(header, RULES)[0] == fid


@pytest.mark.parametrize("header,fid", [
    ("集群数字产业相关规上企业年营业收入总额（亿元）", "revenue_total"),
    ("集群数字产业相关规上企业年营业收入总额(万元)", "revenue_total"),
    ("营业收入（亿元）", "revenue_total"),
    ("年营业收入10亿元以上领军企业数量", "leader_firms"),
    ("年营业收入10亿元以上领军企业数量（家）", "leader_firms"),
    ("领军企业（年营收10亿元以上）数量", "leader_firms"),
    ("营业收入亿元以上骨干企业数量", "backbone_firms"),
    ("骨干企业数（营收超1亿元）", "backbone_firms"),
    ("主导产业相关规上企业数量（家）", "leading_firms"),
    ("规上企业数量", "leading_firms"),
    ("研发投入占销售收入比重", "rd_ratio"),
    ("研发投入占销售收入比重（%）", "rd_ratio"),
    ("研发投入强度(%)", "rd_ratio"),
    ("研发投入占比", "rd_ratio"),
    ("规上企业上年度研发投入总额", "rd_expense"),
    ("研发经费投入（亿元）", "rd_expense"),
    ("规上企业上年度销售收入总额", "sales_revenue"),
    ("年销售收入（亿元）", "sales_revenue"),
    ("申报主体（集群管理运营机构/发展促进组织）", "applicant"),
    ("申报主体(集群管理运营机构／发展促进组织)", "applicant"),
    ("申报主体名称", "applicant"),
    ("集群管理运营机构", "applicant"),
    ("申报主体统一社会信用代码", "applicant_uscc"),
    ("运营机构统一社会信用代码", "applicant_uscc"),
    ("国家级平台（个）", "national_platforms"),
    ("省级创新平台数量", "provincial_platforms"),
    ("近三年科技奖励及知识产权（专利、软件著作权）总数", "ip_total"),
    ("科技奖励", "ip_awards"),
    ("专利数量", "ip_patents"),
    ("软件著作权数", "ip_software"),
    ("联系方式/联系人", "contact"),
    ("联系人姓名", "contact"),
    ("联系方式", "phone"),
    ("手机", "phone"),
    ("E-mail", "email"),
    ("电子邮箱", "email"),
    ("推荐单位", "city"),
    ("所属地市", "city"),
    ("集 群 名 称", "name"),
    ("集群名称\n（全称）", "name"),
    ("统一社会\n信用代码", "applicant_uscc"),
    ("主导产业（主要申报方向）", "industry"),
    ("申报方向", "industry"),
    ("推荐排序", "city_order"),
    ("序号", "seq"),
])
def test_variant_headers(header: str, fid: str) -> None:
    assert match_header(header, RULES)[0] == fid


@pytest.mark.parametrize("header,not_fid", [
    ("年营业收入10亿元以上领军企业数量", "revenue_total"),
    ("营业收入亿元以上骨干企业数量", "revenue_total"),
    ("研发投入占销售收入比重", "sales_revenue"),
    ("研发投入占销售收入比重", "rd_expense"),
    ("主导产业相关规上企业数量", "industry"),
    ("申报主体统一社会信用代码", "applicant"),
    ("省级创新平台数量", "national_platforms"),
    ("国家级创新平台数量", "provincial_platforms"),
])
def test_near_miss_headers_go_to_the_right_field(header: str, not_fid: str) -> None:
    assert match_header(header, RULES)[0] != not_fid


@pytest.mark.parametrize("header", ["所属园区", "推荐意见", "", None, "123", "   "])
def test_unknown_headers(header: Any) -> None:
    assert match_header(header, RULES) == (None, 0)


# ----------------------------------------------------------------------------- find_table
def typical_rows(n_rows: int = 2, above: list[list[Any]] | None = None) -> list[list[Any]]:
    rows = list(above or [])
    rows.append([text for _, text in TYPICAL_COLUMNS])
    for n in range(1, n_rows + 1):
        row = valid_row(n)
        rows.append([row[k] for k, _ in TYPICAL_COLUMNS])
    return rows


def test_find_table_typical_header_below_title() -> None:
    above = [["济南市数字产业集群申报信息汇总表"], ["填报单位：济南市工业和信息化局"], []]
    table = find_table(sheet_of(typical_rows(2, above)), RULES)
    assert table is not None
    assert table.header_rows == [3] and table.data_start == 4
    assert table.title == "济南市数字产业集群申报信息汇总表"
    assert mapped(table) == {i: k for i, (k, _) in enumerate(TYPICAL_COLUMNS)}
    units = {c.field: c.unit for c in table.columns if c.field}
    assert units["revenue_total"] == "亿元"
    assert units["rd_ratio"] == "%"
    assert units["leading_firms"] == "家"


def test_find_table_two_row_header_contact_group() -> None:
    """联系方式 merged over 联系人 / 联系电话 / 邮箱; the other labels merged down two rows."""
    top = ["序号", "所在市", "集群名称", "申报主体", "统一社会信用代码", "主导产业", "联系方式", None, None]
    sub = [None, None, None, None, None, None, "联系人", "联系电话", "邮箱"]
    data = [1, "济南市", "示例集群", "示例促进会", "x", "高端软件", "张示例", "13912345678", "a@example.cn"]
    merges = [(0, 6, 0, 8)] + [(0, c, 1, c) for c in range(6)]
    table = find_table(sheet_of([top, sub, data], merged=merges), RULES)
    assert table is not None
    assert table.header_rows == [0, 1] and table.data_start == 2
    fields = mapped(table)
    assert (fields[6], fields[7], fields[8]) == ("contact", "phone", "email")
    assert fields[3] == "applicant" and fields[5] == "industry"


def test_find_table_two_row_header_platform_group() -> None:
    top = ["集群名称", "申报主体", "主导产业", "创新平台数量（个）", None, "研发情况", None, None]
    sub = [None, None, None, "国家级", "省级", "研发投入（亿元）", "销售收入（万元）", "研发投入占比（%）"]
    data = ["示例集群", "示例促进会", "高端软件", 2, 5, 6, 1500000, 4]
    merges = [(0, 3, 0, 4), (0, 5, 0, 7)] + [(0, c, 1, c) for c in range(3)]
    table = find_table(sheet_of([top, sub, data], merged=merges), RULES)
    assert table is not None and table.header_rows == [0, 1]
    assert [mapped(table).get(c) for c in range(8)] == [
        "name", "applicant", "industry", "national_platforms", "provincial_platforms",
        "rd_expense", "sales_revenue", "rd_ratio"]
    units = {c.field: c.unit for c in table.columns if c.field}
    assert units["national_platforms"] == "个"
    assert units["sales_revenue"] == "万元"


def test_find_table_units_row() -> None:
    header = ["序号", "集群名称", "申报主体", "营业收入总额", "规上企业数量", "领军企业数量", "研发投入占比"]
    units = [None, None, None, "万元", "家", "家", "%"]
    data = [1, "示例集群", "示例促进会", 1205000, 35, 2, 4]
    table = find_table(sheet_of([header, units, data]), RULES)
    assert table is not None
    assert table.data_start == 2 and 1 in table.header_rows
    by_field = {c.field: c.unit for c in table.columns if c.field}
    assert by_field["revenue_total"] == "万元"
    assert by_field["rd_ratio"] == "%"


def test_find_table_none_without_header() -> None:
    rows = [["关于推荐数字产业集群的函"], ["省工业和信息化厅："], ["现将我市推荐名单报送如下。"], [1, 2, 3]]
    assert find_table(sheet_of(rows), RULES) is None


def test_find_table_header_beyond_search_window_not_found() -> None:
    assert find_table(sheet_of([["说明"]] * 40 + typical_rows(1)), RULES) is None


# ----------------------------------------------------------------------------- classify_rows
def test_classify_rows_skips_summary_notes_blank_template_and_repeated_header() -> None:
    rows = typical_rows(2)
    width = len(TYPICAL_COLUMNS)
    rows.insert(2, [None] * width)  # a blank row between applications
    rows.append([3] + [None] * (width - 1))  # a numbered template row left empty
    rows.append([text for _, text in TYPICAL_COLUMNS])  # the header repeated (page break)
    rows.append(["合计", None, None, None, None, None, None, 241])
    rows.append(["填表说明：金额单位为亿元。"])
    rows.append(["联系人：王某某", "电话：0531-12345678"])
    table = find_table(sheet_of(rows), RULES)
    assert table is not None
    data, notes = classify_rows(table, "f.xlsx", ORDER_FIELDS)
    assert data == [1, 3]
    codes = {(f.code, f.source.row) for f in notes}
    assert ("blank-template-row", 5) in codes
    assert ("summary-row-skipped", 7) in codes
    assert ("note-row-skipped", 8) in codes
    assert not [f for f in notes if f.code == "row-after-notes"]


def test_classify_rows_data_after_notes_is_read_and_reported() -> None:
    rows = typical_rows(1)
    rows.append(["填表说明：金额单位为亿元。"])
    row = valid_row(2)
    rows.append([row[k] for k, _ in TYPICAL_COLUMNS])
    table = find_table(sheet_of(rows), RULES)
    data, notes = classify_rows(table, "f.xlsx", ORDER_FIELDS)
    assert data == [1, 3]  # a 说明 row between applications does not end the table
    assert [(f.code, f.source.row) for f in notes if f.code == "row-after-notes"] == [("row-after-notes", 4)]


# ----------------------------------------------------------------------------- locate
def test_locate_skips_hidden_and_instruction_sheets() -> None:
    hidden = sheet_of(typical_rows(3), name="旧版", hidden=True)
    instructions = sheet_of([["填表说明"], ["1. 每个集群填写一行。"]], name="填表说明")
    data = sheet_of(typical_rows(2), name="汇总表")
    raw = RawWorkbook(path="/in/济南市.xlsx", kind="xlsx", sheets=[hidden, instructions, data])
    located, notes = locate(raw, [RULES])
    assert located is not None
    assert located.table.sheet.name == "汇总表"
    assert located.rules.name == "cluster_2024"
    codes = {(f.code, f.params.get("sheet")) for f in notes}
    assert codes == {("hidden-sheet-skipped", "旧版"), ("other-sheet-skipped", "填表说明")}


def test_locate_nothing_found() -> None:
    raw = RawWorkbook(path="x.xlsx", kind="xlsx", sheets=[sheet_of([["你好"]])])
    located, notes = locate(raw, [RULES])
    assert located is None
    assert [f.code for f in notes] == ["other-sheet-skipped"]
