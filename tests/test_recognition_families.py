"""Recognising what a clerk meant (issue 12), family by family.  Each family has independently
written variants, each in another wording, layout and file format (.xlsx, .xls via xlwt, .ods via
odfpy, .csv in UTF-8 or GBK); every test writes the file, reads it as ``sdbatch check`` does and
asserts the canonical values, the statuses and the finding codes with their cells.

Families: headers no alias lists (named by meaning); units stated outside the headers; one
application over several rows; industries read conservatively; yes/no headers that state the
negation; columns that may carry a field but are not sure (never a misleading "not filled in").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sdbatch.batch import check_file
from sdbatch.model import Application, FileRecord, column_letter
from tests.builders import Sheet, make_uscc, write

# One eligible cluster per column key; a variant picks the headers and how values are written.
BASE: dict[str, Any] = {
    "city_order": 1, "city": "济南市", "name": "济南甲数字产业集群", "applicant": "济南甲集群发展促进会",
    "applicant_uscc": make_uscc("91370100MA3C4D5E1"), "industry": "高端软件", "revenue_total": 120.5,
    "leading_firms": 35, "leader_firms": 2, "backbone_firms": 8, "national_platforms": 2, "provincial_platforms": 5,
    "ip_total": 1500, "rd_expense": 6, "sales_revenue": 150, "rd_ratio": 4, "legal_person": "是",
    "bad_credit": "无", "major_incident": "否", "contact": "张示例", "phone": "0531-88886666",
    "email": "cluster@example.cn",
}
CHECKED = ("revenue_total", "leading_firms", "leader_firms", "backbone_firms", "national_platforms",
           "provincial_platforms", "ip_total", "rd_expense", "sales_revenue", "rd_ratio")


def cluster(n: int, **overrides: Any) -> dict[str, Any]:
    row = {**BASE, "city_order": n, "name": f"受测第{n}号数字产业集群", "applicant": f"受测第{n}号集群发展促进会",
           "applicant_uscc": make_uscc(f"91370100MA3C4D5E{n % 10}")}
    row.update(overrides)
    return row


def grid(headers: list[tuple[str, str]], rows: list[dict[str, Any]], *, above: list[list[Any]] = (),  # type: ignore[assignment]
         below: list[list[Any]] = ()) -> tuple[list[list[Any]], int]:  # type: ignore[assignment]
    """Rows of a sheet: ``above`` (title…), the header row, one row per cluster, ``below``; and the
    0-based index of the header row."""
    out = [list(r) for r in above]
    header_row = len(out)
    out.append([text for _, text in headers])
    for r in rows:
        out.append([r.get(key) for key, _ in headers])
    out += [list(r) for r in below]
    return out, header_row


def letter(headers: list[tuple[str, str]], key: str) -> str:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[[k for k, _ in headers].index(key)]


def read(tmp_path: Path, name: str, sheets: list[Sheet] | Sheet, **kw: Any) -> FileRecord:
    path = write(tmp_path / name, sheets, **kw)
    report = check_file(path)
    assert report.record.status == "processed", report.text
    return report.record


def app_named(record: FileRecord, name: str) -> Application:
    found = [a for a in record.applications if a.name == name]
    assert len(found) == 1, [a.name for a in record.applications]
    return found[0]


def cells(findings: list[Any], code: str) -> list[str | None]:
    return [f.source.cell if f.source else None for f in findings if f.code == code]


def assert_values(app: Application, expected: dict[str, Any]) -> None:
    got = {k: app.values.get(k) for k in expected}
    assert got == pytest.approx(expected), got


# ============================================================================ 1. headers by meaning
# Headers written as clerks write them; none is an alias of the rules file.
WORDING_XLSX = [
    ("city_order", "推荐次序"), ("city", "地市"), ("name", "产业集群名称"), ("applicant", "集群发展促进机构"),
    ("applicant_uscc", "社会信用代码"), ("industry", "主攻方向"),
    ("revenue_total", "规模以上企业营业收入合计（亿元）"), ("leading_firms", "主导产业规模以上企业（家）"),
    ("leader_firms", "年营收超10亿元的领军企业（家）"), ("backbone_firms", "营收过亿元的骨干企业（家）"),
    ("national_platforms", "国家级研发平台（个）"), ("provincial_platforms", "省级研发平台（个）"),
    ("ip_total", "知识产权及科技奖励（近三年，项）"), ("rd_expense", "研发经费支出（亿元）"),
    ("sales_revenue", "销售总额（亿元）"), ("rd_ratio", "研发经费占销售额比例（%）"),
    ("legal_person", "是否独立核算法人"), ("bad_credit", "有无失信记录"),
    ("major_incident", "近三年有无重大安全生产或环境事件"), ("contact", "联系人"), ("phone", "手机号"),
    ("email", "电子邮件"),
]
WORDING_CSV = [
    ("city_order", "推荐顺序号"), ("name", "集群全称"), ("applicant", "运营主体"), ("applicant_uscc", "统一信用代码"),
    ("industry", "所属产业领域"), ("revenue_total", "集群内规上企业营收总计（亿元）"),
    ("leading_firms", "其中：主导产业规上企业数（家）"), ("leader_firms", "其中：年营收10亿元及以上企业（家）"),
    ("backbone_firms", "其中：年营收1亿元及以上企业（家）"), ("national_platforms", "国家级平台数"),
    ("provincial_platforms", "省级平台数"), ("ip_total", "近三年知识产权（件）"), ("rd_expense", "上年研发费用（亿元）"),
    ("sales_revenue", "上年销售额（亿元）"), ("rd_ratio", "研发强度"), ("legal_person", "独立法人（是/否）"),
    ("bad_credit", "不良信用（有/无）"), ("major_incident", "重大事故（有/无）"), ("contact", "联系人"),
    ("phone", "联系电话"),
]
WORDING_ODS = [
    ("name", "集群名"), ("applicant", "申报机构"), ("applicant_uscc", "机构信用代码"), ("industry", "申报领域"),
    ("revenue_total", "营业额（规上企业，亿元）"), ("leading_firms", "企业数量（规上，主导产业）"),
    ("leader_firms", "领军企业数（年营收10亿以上）"), ("backbone_firms", "亿元以上骨干企业数"),
    ("national_platforms", "平台（国家级）"), ("provincial_platforms", "平台（省级）"),
    ("ip_total", "奖励+专利+著作权合计（近三年）"), ("rd_expense", "研发投入（亿元）"),
    ("sales_revenue", "销售收入（亿元）"), ("rd_ratio", "研发投入与销售收入之比（%）"),
    ("legal_person", "法人资格（独立）"), ("bad_credit", "信用（有无不良记录）"),
    ("major_incident", "事故（重大安全生产/突发环境，近三年）"), ("contact", "联系人"), ("email", "邮箱"),
]


@pytest.mark.parametrize("name, headers, kw", [
    ("济南市汇总表.xlsx", WORDING_XLSX, {}),
    ("济南市汇总表.csv", WORDING_CSV, {"encoding": "gbk"}),
    ("济南市汇总表.ods", WORDING_ODS, {}),
], ids=["xlsx", "csv-gbk", "ods"])
def test_headers_no_alias_lists_are_read_by_meaning(tmp_path: Path, name: str, headers: list[tuple[str, str]],
                                                     kw: dict[str, Any]) -> None:
    rows, _ = grid(headers, [cluster(1), cluster(2, revenue_total=42.0)], above=[["济南市数字产业集群申报汇总表"]])
    record = read(tmp_path, name, Sheet("汇总表", rows), **kw)
    codes = {f.code for f in record.findings}
    assert not codes & {"unknown-column", "missing-column", "column-uncertain", "column-assumed"}, codes
    first, second = app_named(record, "受测第1号数字产业集群"), app_named(record, "受测第2号数字产业集群")
    assert_values(first, {k: BASE[k] for k in CHECKED if k in dict(headers)})
    assert (first.values["legal_person"], first.values["bad_credit"], first.values["major_incident"]) == (
        True, False, False)
    assert first.status == "eligible", [f.code for f in first.findings]
    assert second.status == "ineligible"
    [below] = [f for f in second.findings if f.code == "below-threshold"]
    assert below.field == "revenue_total" and below.source.cell == f"{letter(headers, 'revenue_total')}4"


def test_two_row_header_with_group_titles_in_english_and_chinese(tmp_path: Path) -> None:
    """.xls: group titles over sub-labels that alone say little (国家级 under 创新平台, 投入 under R&D)."""
    top = ["No.", "City", "Cluster Name 集群名称", "Applicant 申报主体", None, "Industry 主导产业", "规模效益", None,
           "企业梯队", None, "创新平台（个）", None, "IP（件）", "R&D", None, None, "法人 Y/N", "失信 Y/N",
           "事故/事件 Y/N", "Contact", "Tel"]
    sub = [None, None, None, "名称", "信用代码", None, "Revenue 营收（万元）", "规上企业（家）", "领军（≥10亿元）",
           "骨干（≥1亿元）", "国家级", "省级", None, "投入（万元）", "销售收入（万元）", "强度（%）"] + [None] * 5
    keys = ["seq", "city", "name", "applicant", "applicant_uscc", "industry", "revenue_total", "leading_firms",
            "leader_firms", "backbone_firms", "national_platforms", "provincial_platforms", "ip_total", "rd_expense",
            "sales_revenue", "rd_ratio", "legal_person", "bad_credit", "major_incident", "contact", "phone"]
    data = cluster(1, seq=1, revenue_total=1205000, rd_expense=60000, sales_revenue=1500000, legal_person="Y",
                   bad_credit="N", major_incident="N", city="青岛市")
    merges = [(1, 3, 1, 4), (1, 6, 1, 7), (1, 8, 1, 9), (1, 10, 1, 11), (1, 13, 1, 15)] + \
        [(1, c, 2, c) for c in (0, 1, 2, 5, 12, 16, 17, 18, 19, 20)]
    rows = [["青岛市数字产业集群推荐汇总表"], top, sub, [data.get(k) for k in keys]]
    record = read(tmp_path, "青岛市汇总表.xls", Sheet("Sheet1", rows, merges=merges))
    [app] = record.applications
    assert_values(app, {"revenue_total": 120.5, "leading_firms": 35, "leader_firms": 2, "backbone_firms": 8,
                        "national_platforms": 2, "provincial_platforms": 5, "ip_total": 1500, "rd_expense": 6,
                        "sales_revenue": 150, "rd_ratio": 4})
    assert app.values["applicant"] == "受测第1号集群发展促进会" and app.city == "青岛市"
    assert app.status == "eligible", [(f.code, f.field) for f in app.findings]
    assert not {f.code for f in record.findings} & {"unknown-column", "missing-column", "column-uncertain"}


# ============================================================================ 2. units from context
PLAIN = [("city_order", "推荐排序"), ("name", "集群名称"), ("applicant", "申报主体"),
         ("applicant_uscc", "统一社会信用代码"), ("industry", "主导产业"), ("revenue_total", "营业收入总额"),
         ("leading_firms", "主导产业规上企业数量（家）"), ("leader_firms", "领军企业数量（家）"),
         ("backbone_firms", "骨干企业数量（家）"), ("national_platforms", "国家级创新平台（个）"),
         ("provincial_platforms", "省级创新平台（个）"), ("ip_total", "科技奖励及知识产权总数（项）"),
         ("rd_expense", "研发投入总额"), ("sales_revenue", "销售收入总额"), ("legal_person", "独立法人"),
         ("bad_credit", "不良信用记录"), ("major_incident", "重大事故")]
WAN = {"revenue_total": 1205000, "rd_expense": 60000, "sales_revenue": 1500000}


def test_unit_in_the_title_applies_to_every_amount_column(tmp_path: Path) -> None:
    """.xlsx: （金额单位：万元） in the title; a cell that states its own unit keeps it, and says so."""
    rows, header = grid(PLAIN, [cluster(1, **WAN), cluster(2, **{**WAN, "revenue_total": "56.3亿元"})],
                        above=[["淄博市数字产业集群申报信息汇总表（金额单位：万元）"]])
    record = read(tmp_path, "淄博市汇总表.xlsx", Sheet("汇总表", rows))
    app, own = record.applications
    assert_values(app, {"revenue_total": 120.5, "rd_expense": 6, "sales_revenue": 150, "rd_ratio": 4})
    assert app.status == "eligible"
    assert own.values["revenue_total"] == 56.3 and own.status == "eligible"
    [said] = [f for f in own.findings if f.code == "value-converted" and f.field == "revenue_total"]
    assert said.source.cell == f"{letter(PLAIN, 'revenue_total')}{header + 3}" and said.original == "56.3亿元"
    assert sorted(cells(record.findings, "unit-from-context")) == sorted(
        f"{letter(PLAIN, k)}{header + 1}" for k in WAN)
    assert not cells(record.findings, "unit-assumed")
    assert {f.code for f in app.findings} >= {"value-converted"}


def test_unit_at_the_right_end_of_the_line_above(tmp_path: Path) -> None:
    """CSV (UTF-8 with BOM): 单位：万元 in the last cell of the line between title and header."""
    width = len(PLAIN)
    rows, header = grid(PLAIN, [cluster(1, **WAN), cluster(2, revenue_total=420000, rd_expense=15100,
                                                            sales_revenue=410000)],
                        above=[["济宁市数字产业集群申报信息汇总表"], [None] * (width - 1) + ["单位：万元"]])
    record = read(tmp_path, "济宁市汇总表.csv", Sheet("济宁", rows), encoding="utf-8-sig")
    first, second = record.applications
    assert_values(first, {"revenue_total": 120.5, "rd_ratio": 4})
    assert_values(second, {"revenue_total": 42, "rd_expense": 1.51, "sales_revenue": 41})
    assert (first.status, second.status) == ("eligible", "ineligible")
    assert f"{letter(PLAIN, 'revenue_total')}{header + 1}" in cells(record.findings, "unit-from-context")
    assert not [f for f in first.findings + second.findings if f.code == "implausible-value"]


def test_unit_in_a_note_below_and_a_header_stating_another(tmp_path: Path) -> None:
    """.xls: 填表说明 under the table says 万元; the revenue header says 亿元: the header wins, and the
    conflict is a finding at that header."""
    headers = [(k, "营业收入总额（亿元）" if k == "revenue_total" else t) for k, t in PLAIN]
    rows, header = grid(headers, [cluster(1, revenue_total=61.2, rd_expense=26000, sales_revenue=605000)],
                        above=[["德州市数字产业集群申报信息汇总表"]],
                        below=[[], ["填表说明：1.金额单位为万元，企业数量单位为家；2.是否类指标填写“是”或“否”。"]])
    record = read(tmp_path, "德州市汇总表.xls", Sheet("Sheet1", rows))
    [app] = record.applications
    assert_values(app, {"revenue_total": 61.2, "rd_expense": 2.6, "sales_revenue": 60.5})
    assert app.status == "eligible", [f.code for f in app.findings]
    assert cells(record.findings, "unit-context-conflict") == [f"{letter(headers, 'revenue_total')}{header + 1}"]
    assert sorted(cells(record.findings, "unit-from-context")) == sorted(
        f"{letter(headers, k)}{header + 1}" for k in ("rd_expense", "sales_revenue"))


def test_unit_named_for_some_columns_in_an_instructions_sheet(tmp_path: Path) -> None:
    """.ods: a 填表说明 sheet before the table names the columns its unit is for."""
    instructions = Sheet("填表说明", [["填表说明："], ["一、每个集群填写一行。"],
                                    ["二、研发投入、销售收入单位为万元，营业收入单位为亿元。"]])
    rows, header = grid(PLAIN, [cluster(1, revenue_total=120.5, rd_expense=60000, sales_revenue=1500000)],
                        above=[["威海市数字产业集群申报信息汇总表"]])
    record = read(tmp_path, "威海市汇总表.ods", [instructions, Sheet("汇总表", rows)])
    [app] = record.applications
    assert_values(app, {"revenue_total": 120.5, "rd_expense": 6, "sales_revenue": 150, "rd_ratio": 4})
    assert app.status == "eligible"
    units = {f.params["label"]: f.params["unit"] for f in record.findings if f.code == "unit-from-context"}
    assert units == {"集群数字产业相关规上企业年营业收入总额": "亿元", "规上企业上年度研发投入总额": "万元",
                     "规上企业上年度销售收入总额": "万元"}


# ============================================================================ 3. records, not rows
RECORD_HEADERS = [("city_order", "推荐排序"), ("city", "所在市"), ("name", "集群名称"), ("applicant", "申报主体"),
                  ("applicant_uscc", "统一社会信用代码"), ("industry", "主导产业"),
                  ("revenue_total", "营业收入总额（亿元）"), ("leading_firms", "规上企业数量（家）"),
                  ("leader_firms", "领军企业（家）"), ("backbone_firms", "骨干企业（家）"),
                  ("national_platforms", "国家级平台（个）"), ("provincial_platforms", "省级平台（个）"),
                  ("ip_total", "知识产权总数（项）"), ("rd_ratio", "研发投入占比（%）"), ("legal_person", "独立法人"),
                  ("bad_credit", "不良信用"), ("major_incident", "重大事故"), ("contact", "联系人"),
                  ("phone", "联系电话"), ("remarks", "备注")]


def _two_rows(first: dict[str, Any], second: dict[str, Any]) -> list[dict[str, Any]]:
    return [first, second]


def test_one_application_merged_over_two_rows_counts_once_for_the_quota(tmp_path: Path) -> None:
    """.xlsx (xlsxwriter): every cell but the contacts merged over two rows; 淄博 may send 2: the
    third application is over the quota, the second is not."""
    apps = [cluster(1, city="淄博市"), {"contact": "李第二", "phone": "13800000002"},
            cluster(2, city="淄博市"), cluster(3, city="淄博市")]
    rows, header = grid(RECORD_HEADERS, apps, above=[["淄博市数字产业集群申报汇总表"]])
    first_row = header + 1
    merges = [(first_row, c, first_row + 1, c) for c, (k, _) in enumerate(RECORD_HEADERS)
              if k not in ("contact", "phone")]
    record = read(tmp_path, "淄博市汇总表.xlsx", Sheet("Sheet1", rows, merges=merges), engine="xlsxwriter")
    assert [a.name for a in record.applications] == [f"受测第{n}号数字产业集群" for n in (1, 2, 3)]
    one, two, three = record.applications
    assert one.values["contact"] == "张示例、李第二" and one.values["phone"] == "0531-88886666、13800000002"
    assert cells(one.findings, "record-rows") == [f"C{first_row + 1}"]
    assert (one.status, two.status, three.status) == ("eligible", "eligible", "over_quota")
    assert two.quota_position == 2


def test_name_only_in_the_first_row_and_a_second_contact_line(tmp_path: Path) -> None:
    """.xls without merges: the second row holds only a second contact and phone."""
    apps = [cluster(1, city="泰安市"), {"contact": "汤第二", "phone": "15358046840"}, cluster(2, city="泰安市"),
            {"contact": "贺第二", "phone": "13949087914"}, cluster(3, city="泰安市")]
    rows, header = grid(RECORD_HEADERS, apps, above=[["泰安市工业和信息化局数字产业集群推荐汇总表"]])
    record = read(tmp_path, "泰安市汇总表.xls", Sheet("Sheet1", rows))
    assert len(record.applications) == 3
    one, two, three = record.applications
    assert two.values["contact"] == "张示例、贺第二"
    assert cells(two.findings, "record-rows") == [f"C{header + 4}"]
    assert (one.status, two.status, three.status) == ("eligible", "eligible", "over_quota")
    assert not [f for f in record.findings if f.code == "blank-template-row"]


def test_a_cell_the_first_row_left_empty_is_addressed_in_the_row_that_says_it(tmp_path: Path) -> None:
    """.xlsx: the name merged over two rows, 领军企业 empty in the first and written in the second;
    the application's cell for 领军企业 is the second row (where the review's comment goes), every
    other field's is the first row's."""
    apps = [cluster(1, city="临沂市", leader_firms=None), {"leader_firms": 2, "contact": "王第二"},
            cluster(2, city="临沂市")]
    rows, header = grid(RECORD_HEADERS, apps, above=[["临沂市数字产业集群申报信息汇总表"]])
    name_col = [k for k, _ in RECORD_HEADERS].index("name")
    record = read(tmp_path, "临沂市汇总表.xlsx",
                  Sheet("Sheet1", rows, merges=[(header + 1, name_col, header + 2, name_col)]))
    one, two = record.applications
    first = header + 2  # the Excel row of the first record
    assert one.values["leader_firms"] == 2
    assert one.cells["leader_firms"] == f"I{first + 1}"
    assert one.cells["name"] == f"C{first}" and one.cells["city"] == f"B{first}"
    assert dict(one.cells) == {**{k: f"{column_letter(i)}{first}" for i, (k, _) in enumerate(RECORD_HEADERS)},
                               "leader_firms": f"I{first + 1}"}
    assert two.cells["leader_firms"] == f"I{first + 2}" and "leader_firms" in two.cells
    assert "nothing" not in two.cells and len(two.cells) == len(RECORD_HEADERS)
    # the values as written follow the same cells
    assert one.originals["leader_firms"] == 2 and one.originals["name"] == one.name
    assert set(one.originals) == {k for k, _ in RECORD_HEADERS} and one.originals.get("nothing") is None


def test_a_city_merged_down_several_rows_is_each_rows_value_as_written(tmp_path: Path) -> None:
    """.xlsx: 所在市 written once and merged down three applications: each reads it, as its value
    and as its value as written, at its own row."""
    apps = [cluster(1, city="德州市"), cluster(2, city=None), cluster(3, city=None)]
    rows, header = grid(RECORD_HEADERS, apps, above=[["德州市数字产业集群申报信息汇总表"]])
    city_col = [k for k, _ in RECORD_HEADERS].index("city")
    record = read(tmp_path, "德州市汇总表.xlsx",
                  Sheet("Sheet1", rows, merges=[(header + 1, city_col, header + 3, city_col)]))
    assert [a.city for a in record.applications] == ["德州市"] * 3
    assert [a.originals["city"] for a in record.applications] == ["德州市"] * 3
    assert [a.cells["city"] for a in record.applications] == [f"B{header + n}" for n in (2, 3, 4)]
    assert [a.originals["name"] for a in record.applications] == [a.name for a in record.applications]


def test_a_remark_going_on_in_the_row_below(tmp_path: Path) -> None:
    """CSV (UTF-8): 备注 continues on a row that holds nothing else; the remark is joined."""
    apps = [cluster(1, city="烟台市", remarks="集群核心区位于烟台开发区，"), {"remarks": "（续上）拓展区涵盖莱山区、福山区。"},
            cluster(2, city="烟台市")]
    rows, header = grid(RECORD_HEADERS, apps, above=[["烟台市数字产业集群申报信息汇总表"]])
    record = read(tmp_path, "烟台市汇总表.csv", Sheet("烟台", rows))
    one, two = record.applications
    assert one.values["remarks"] == "集群核心区位于烟台开发区，（续上）拓展区涵盖莱山区、福山区。"
    assert (one.status, two.status) == ("eligible", "eligible")
    assert not [f for f in record.findings if f.code == "explanation-row-skipped"]


def test_rows_of_one_application_that_disagree_need_review(tmp_path: Path) -> None:
    """.xls: the name merged over two rows, the national platforms written again, differently, in the
    second row."""
    apps = [cluster(1, city="滨州市"), {"national_platforms": 1, "contact": "陈第二"}]
    rows, header = grid(RECORD_HEADERS, apps, above=[["滨州市数字产业集群申报信息汇总表"]])
    name_col = [k for k, _ in RECORD_HEADERS].index("name")
    record = read(tmp_path, "滨州市汇总表.xls",
                  Sheet("Sheet1", rows, merges=[(header + 1, name_col, header + 2, name_col)]))
    [app] = record.applications
    assert app.values["national_platforms"] == 2  # the first row's value is read
    [differ] = [f for f in app.findings if f.code == "record-values-differ"]
    assert (differ.field, differ.source.cell, differ.effect) == (
        "national_platforms", f"{letter(RECORD_HEADERS, 'national_platforms')}{header + 3}", "needs_review")
    assert app.status == "needs_review"


# ============================================================================ 4. industries
@pytest.mark.parametrize("name, kw, written, expected, status", [
    ("枣庄市汇总表.xlsx", {}, ["智能制造", "AI人工智能"], [None, "人工智能"], ["ineligible", "eligible"]),
    ("菏泽市汇总表.xls", {}, ["智能网联汽车", "云计算、大数据"], [None, "云服务大数据"], ["ineligible", "eligible"]),
    ("日照市汇总表.csv", {"encoding": "gbk"}, ["集成电路、人工智能", "新一代人工智能"], ["集成电路", "人工智能"],
     ["needs_review", "eligible"]),
    ("滨州市汇总表.ods", {}, ["铝基新材料", "芯片"], [None, "集成电路"], ["ineligible", "eligible"]),
], ids=["xlsx", "xls", "csv-gbk", "ods"])
def test_industries_are_read_conservatively(tmp_path: Path, name: str, kw: dict[str, Any], written: list[str],
                                            expected: list[str | None], status: list[str]) -> None:
    rows, header = grid(RECORD_HEADERS, [cluster(1, industry=written[0]), cluster(2, industry=written[1])],
                        above=[["数字产业集群申报信息汇总表"]])
    record = read(tmp_path, name, Sheet("汇总表", rows), **kw)
    col = letter(RECORD_HEADERS, "industry")
    for n, app in enumerate(record.applications):
        assert app.values["industry"] == expected[n], (written[n], app.values["industry"])
        assert app.status == status[n], (written[n], [f.code for f in app.findings])
        if expected[n] is None:
            [scope] = [f for f in app.findings if f.code == "unknown-industry"]
            assert (scope.source.cell, scope.effect, scope.severity) == (f"{col}{header + 2 + n}", "ineligible", "error")
        if status[n] == "needs_review":
            assert cells(app.findings, "several-industries") == [f"{col}{header + 2 + n}"]


# ============================================================================ 5. negated yes/no headers
@pytest.mark.parametrize("name, kw, field, header_text, answers, statuses", [
    ("青岛市汇总表.xlsx", {}, "bad_credit", "无不良信用记录（√／×）", ["√", "×"], ["eligible", "ineligible"]),
    ("东营市汇总表.ods", {}, "major_incident", "近三年未发生重大安全生产事故或突发环境事件（是/否）", ["是", "否"],
     ["eligible", "ineligible"]),
    ("临沂市汇总表.csv", {"encoding": "utf-8-sig"}, "bad_credit", "不存在严重失信行为", ["是", "无"],
     ["eligible", "eligible"]),
    ("潍坊市汇总表.xls", {}, "major_incident", "未发生重大事故", ["√", "发生"], ["eligible", "ineligible"]),
], ids=["xlsx", "ods", "csv", "xls"])
def test_a_header_that_states_the_negation_inverts_the_answer(tmp_path: Path, name: str, kw: dict[str, Any],
                                                              field: str, header_text: str, answers: list[str],
                                                              statuses: list[str]) -> None:
    headers = [(k, header_text if k == field else t) for k, t in RECORD_HEADERS]
    rows, header = grid(headers, [cluster(1, **{field: answers[0]}), cluster(2, **{field: answers[1]})],
                        above=[["数字产业集群申报信息汇总表"]])
    record = read(tmp_path, name, Sheet("汇总表", rows), **kw)
    assert cells(record.findings, "negated-header") == [f"{letter(headers, field)}{header + 1}"]
    for n, app in enumerate(record.applications):
        assert app.status == statuses[n], (answers[n], [f.code for f in app.findings])
        assert app.values[field] is (statuses[n] == "ineligible"), (answers[n], app.values[field])
        if statuses[n] == "ineligible":
            [failed] = [f for f in app.findings if f.code == "wrong-value"]
            assert (failed.field, failed.source.cell) == (field, f"{letter(headers, field)}{header + 2 + n}")


# ============================================================================ 6. never a misleading message
def test_a_column_that_could_be_either_platform_count_needs_review_not_filling_in(tmp_path: Path) -> None:
    """.xlsx: 平台数量 could be the national or the provincial count: not used, and said so."""
    headers = [(k, t) for k, t in RECORD_HEADERS if k not in ("national_platforms", "provincial_platforms")]
    headers.insert(10, ("platforms", "平台数量（个）"))
    rows, header = grid(headers, [cluster(1, platforms=6), cluster(2, platforms=None)],
                        above=[["济南市数字产业集群申报信息汇总表"]])
    record = read(tmp_path, "济南市汇总表.xlsx", Sheet("汇总表", rows))
    col = letter(headers, "platforms")
    [uncertain] = [f for f in record.findings if f.code == "column-uncertain"]
    assert uncertain.source.cell == f"{col}{header + 1}" and "国家级创新平台数量" in uncertain.params["labels"]
    assert not [f for f in record.findings if f.code == "missing-column"]
    app, empty = record.applications
    assert not [f for f in app.findings if f.code == "missing-value"]
    hints = [f for f in app.findings if f.code == "uncertain-value"]
    assert hints and all(f.source.cell == f"{col}{header + 2}" and f.effect == "needs_review" for f in hints)
    assert app.status == "needs_review"
    # Nothing written in that column either: then the value is missing indeed.
    assert {f.code for f in empty.findings if f.field == "national_platforms"} == {"missing-value"}
    assert empty.status == "incomplete"


def test_a_column_that_names_two_fields_at_once_needs_review(tmp_path: Path) -> None:
    """.xls: 骨干/领军企业数 mixes two counts: neither is read from it, neither is "not filled in"."""
    headers = [(k, t) for k, t in RECORD_HEADERS if k not in ("leader_firms", "backbone_firms")]
    headers.insert(8, ("firms", "骨干/领军企业数（家）"))
    rows, header = grid(headers, [cluster(1, firms=10)], above=[["济南市数字产业集群申报信息汇总表"]])
    record = read(tmp_path, "济南市汇总表.xls", Sheet("汇总表", rows))
    [app] = record.applications
    assert {f.field for f in app.findings if f.code == "uncertain-value"} == {"leader_firms", "backbone_firms"}
    assert not [f for f in app.findings if f.code == "missing-value"]
    assert app.status == "needs_review"


@pytest.mark.parametrize("name, kw, key, header_text, value, expected", [
    ("济南市汇总表.csv", {"encoding": "gbk"}, "rd_ratio", "比重（%）", 4, 4),
    ("济南市汇总表.ods", {}, "rd_expense", "研发（亿元）", 6, 6),
], ids=["csv-gbk", "ods"])
def test_a_column_read_as_the_only_plausible_field_says_so(tmp_path: Path, name: str, kw: dict[str, Any], key: str,
                                                           header_text: str, value: Any, expected: Any) -> None:
    headers = [(k, header_text if k == key else t) for k, t in RECORD_HEADERS]
    if key == "rd_expense":
        headers.insert(13, ("rd_expense", header_text))
        headers = [(k, t) for k, t in headers if k != "rd_ratio"] + [("sales_revenue", "销售收入（亿元）")]
    rows, header = grid(headers, [cluster(1, **{key: value})], above=[["济南市数字产业集群申报信息汇总表"]])
    record = read(tmp_path, name, Sheet("汇总表", rows), **kw)
    [assumed] = [f for f in record.findings if f.code == "column-assumed"]
    assert (assumed.field, assumed.source.cell) == (key, f"{letter(headers, key)}{header + 1}")
    [app] = record.applications
    assert app.values[key] == expected
    assert app.status == "eligible", [f.code for f in app.findings]


def test_one_application_merged_over_two_rows_in_an_ods(tmp_path: Path) -> None:
    """.ods (odfpy, LibreOffice's spans): the name and the figures merged over two rows, the second
    row holding a second contact, phone and remark; calamine does not report an ODS file's merged
    cells, the reader finds them in content.xml."""
    apps = [cluster(1, city="德州市"), {"contact": "梁第二", "phone": "13800000003", "remarks": "第二联系人负责统计数据"},
            cluster(2, city="德州市")]
    rows, header = grid(RECORD_HEADERS, apps, above=[["德州市数字产业集群申报汇总表"]])
    first_row = header + 1
    merges = [(first_row, c, first_row + 1, c) for c, (k, _) in enumerate(RECORD_HEADERS)
              if k not in ("contact", "phone", "remarks")]
    record = read(tmp_path, "德州市汇总表.ods", Sheet("Sheet1", rows, merges=merges))
    assert record.table is not None and len(record.table.sheet.merged) == len(merges)
    assert [a.name for a in record.applications] == [f"受测第{n}号数字产业集群" for n in (1, 2)]
    one, two = record.applications
    assert one.values["contact"] == "张示例、梁第二" and one.values["phone"] == "0531-88886666、13800000003"
    assert cells(one.findings, "record-rows") == [f"C{first_row + 1}"]
    assert (one.status, two.status) == ("eligible", "eligible")
