"""The province list 推荐名单.xlsx: sheets, rank order, labels, city summary, chart, safety."""

from __future__ import annotations

import zipfile

import openpyxl
import pytest

from sdbatch.jurisdiction import default as _jurisdiction
from sdbatch.writers import write_ranked_list
from tests.test_writers_review import EVIL_NAME, build_result


def cities() -> list[str]:
    return list(_jurisdiction().cities)


@pytest.fixture()
def ranked(tmp_path):
    result = build_result(tmp_path)
    paths = write_ranked_list(result, tmp_path / "run")
    return result, paths


def _rows(ws):
    return [[c.value for c in row] for row in ws.iter_rows(min_row=2)]


def test_one_list_per_program_named_from_the_rules(ranked, tmp_path):
    _, paths = ranked
    assert paths == [tmp_path / "run" / "推荐名单.xlsx"]
    wb = openpyxl.load_workbook(paths[0])
    assert wb.sheetnames[:4] == ["排名", "全部申报", "各市汇总", "按产业"]
    assert "说明" in wb.sheetnames and "变更情况" not in wb.sheetnames and "资金分配意见" not in wb.sheetnames


def test_rank_sheet_holds_eligible_and_needs_review_in_rank_order(ranked):
    _, paths = ranked
    ws = openpyxl.load_workbook(paths[0])["排名"]
    headers = [c.value for c in ws[1]]
    assert headers[:4] == ["全省排名", "所在市", "集群名称", "综合得分"]
    assert "主导产业" in headers and "年营业收入10亿元以上领军企业数量（家）" in headers
    assert headers[-2:] == ["审核结论", "主要原因"]
    rows = _rows(ws)
    assert [r[0] for r in rows] == [1, 2, 3]
    assert [r[2] for r in rows] == [EVIL_NAME.replace("\r", ""), "济南AI集群", "青岛虚拟现实集群"]
    assert [r[-2] for r in rows] == ["符合条件", "需专家研判", "符合条件"]
    assert rows[0][3] == 88.25
    assert rows[1][headers.index("主导产业")] == "人工智能"
    assert rows[1][headers.index("集群数字产业相关规上企业年营业收入总额（亿元）")] == 50
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref


def test_all_applications_sheet_has_every_status_in_chinese(ranked):
    _, paths = ranked
    ws = openpyxl.load_workbook(paths[0])["全部申报"]
    rows = _rows(ws)
    assert len(rows) == 6
    assert {r[4] for r in rows} == {"不符合条件", "需专家研判", "符合条件", "超出推荐名额", "材料不完整"}
    assert rows[0][:3] == ["济南市", 1, "济南软件集群"]
    assert rows[-1][0] == "未识别城市"


def test_city_summary_covers_all_sixteen_cities(ranked):
    _, paths = ranked
    ws = openpyxl.load_workbook(paths[0])["各市汇总"]
    headers = [c.value for c in ws[1]]
    assert headers[:8] == ["城市", "推荐名额", "报送数", "符合条件", "需专家研判", "材料不完整", "不符合条件",
                           "超出推荐名额"]
    rows = {r[0]: dict(zip(headers, r, strict=False)) for r in _rows(ws) if r[0]}
    for city in cities():
        assert city in rows
    jn, qd, zb, hz = rows["济南市"], rows["青岛市"], rows["淄博市"], rows["菏泽市"]
    assert (jn["推荐名额"], jn["报送数"], jn["符合条件"], jn["超出推荐名额"]) == (3, 4, 1, 1)
    assert (qd["推荐名额"], qd["是否逾期"], jn["是否逾期"]) == (3, "是", "否")
    assert (zb["推荐名额"], zb["收到文件数"], zb["退回文件数"], zb["备注"]) == (2, 1, 1, "文件均被退回")
    assert (hz["报送数"], hz["收到文件数"], hz["备注"]) == (0, 0, "未报送")
    assert rows["合计"]["报送数"] == 6


def test_chart_of_applications_by_city_and_status(ranked):
    _, paths = ranked
    with zipfile.ZipFile(paths[0]) as zf:
        charts = [n for n in zf.namelist() if n.startswith("xl/charts/chart")]
        assert len(charts) == 1
        xml = zf.read(charts[0]).decode("utf-8")
    assert "<c:barChart>" in xml and '<c:grouping val="stacked"/>' in xml
    assert xml.count("<c:ser>") == 5


def test_industry_sheet_ranks_within_each_industry(ranked):
    _, paths = ranked
    ws = openpyxl.load_workbook(paths[0])["按产业"]
    headers = [c.value for c in ws[1]][:8]
    assert headers == ["主导产业", "产业内排名", "全省排名", "所在市", "集群名称", "综合得分", "审核结论", "主要原因"]
    rows = [r[:8] for r in _rows(ws) if r[0]]
    ai = [r for r in rows if r[0] == "人工智能"][0]
    assert (ai[1], ai[2], ai[4]) == (1, 2, "济南AI集群")
    # industries in the rules' order
    order = [r[0] for r in rows]
    assert order.index("高端软件") < order.index("先进计算") < order.index("人工智能") < order.index("虚拟现实")


def test_no_formulas_and_city_text_stays_text(tmp_path):
    result = build_result(tmp_path)
    result.applications[0].name = "=HYPERLINK(\"http://x\",\"点我\")"
    result.applications[0].status = "eligible"
    result.applications[0].rank = 4
    path = write_ranked_list(result, tmp_path / "run")[0]
    wb = openpyxl.load_workbook(path)
    names = [r[2] for r in _rows(wb["排名"])]
    assert "=HYPERLINK(\"http://x\",\"点我\")" in names
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate}"


def test_changes_sheet(tmp_path):
    result = build_result(tmp_path)
    changes = [{"kind": "新增", "city": "济南市", "name": "济南AI集群", "old_status": None,
                "new_status": "needs_review", "note": "更正报送"}]
    path = write_ranked_list(result, tmp_path / "run", changes=changes)[0]
    wb = openpyxl.load_workbook(path)
    ch = wb["变更情况"]
    assert [c.value for c in ch[1]] == ["变更类型", "城市", "名称", "原状态", "新状态", "说明"]
    assert _rows(ch) == [["新增", "济南市", "济南AI集群", None, "需专家研判", "更正报送"]]


def test_list_title_of_the_rules_names_the_file(tmp_path):
    import dataclasses

    result = build_result(tmp_path)
    park = dataclasses.replace(result.rules, list_title="认定名单")
    result.programs = {"cluster_2024": park}
    assert [p.name for p in write_ranked_list(result, tmp_path / "run")] == ["认定名单.xlsx"]


# ---------------------------------------------------------------------------------------- parks (认定名单)
@pytest.fixture(scope="module")
def park_list(tmp_path_factory):
    from tests.test_parks_pipeline import park_run

    run_dir = park_run(tmp_path_factory.mktemp("park"), budget=300)
    return openpyxl.load_workbook(run_dir / "认定名单.xlsx")


def _cells(ws):
    return [c.value for row in ws.iter_rows() for c in row if c.value is not None]


def test_park_list_uses_the_group_wording_and_no_quota(park_list):
    wb = park_list
    assert wb.sheetnames[:4] == ["排名", "全部申报", "各市汇总", "按园区类型"]
    assert "按产业" not in wb.sheetnames
    assert [c.value for c in wb["按园区类型"][1]][:2] == ["园区类型", "园区类型内排名"]
    all_headers = [c.value for c in wb["全部申报"][1]]
    assert "园区类型内排名" in all_headers and "产业内排名" not in all_headers
    assert "推荐排序" not in all_headers  # parks have no city order
    city = [c.value for c in wb["各市汇总"][1]]
    assert "推荐名额" not in city and "超出推荐名额" not in city
    assert {"认定示范型", "认定成长型", "认定入库型", "奖补上限合计（万元）", "建议分配合计（万元）"} <= set(city)
    rows = {r[0]: dict(zip(city, r, strict=False)) for r in _rows(wb["各市汇总"]) if r[0]}
    jn = rows["济南市"]
    assert (jn["报送数"], jn["认定示范型"], jn["认定成长型"], jn["认定入库型"]) == (3, 1, 1, 1)
    assert jn["奖补上限合计（万元）"] == 350 and jn["建议分配合计（万元）"] == 300
    assert rows["合计"]["奖补上限合计（万元）"] == 350


def test_park_type_column_is_not_repeated(park_list):
    for sheet in ("排名", "全部申报"):
        headers = [c.value for c in park_list[sheet][1]]
        assert headers.count("园区类型") == 1, sheet


def test_park_rank_sheet_explains_excellent_aspects_and_default_points(park_list):
    ws = park_list["排名"]
    headers = [c.value for c in ws[1]]
    col = headers.index("表现优异方面（第九条）")
    rows = {r[2]: r for r in _rows(ws) if r[2]}
    assert rows["示范园区"][col].endswith("（4项）")
    assert rows["入库园区"][col] == "聚集水平、创新能力（2项）"
    assert rows["示范园区"][headers.index("认定档次")] == "示范型"
    # the default-points note below the table
    notes = [v for v in _cells(ws) if isinstance(v, str) and v.startswith("指标分值：")]
    assert notes and "默认" in notes[0]
    info = dict(r[:2] for r in park_list["说明"].iter_rows(values_only=True))
    assert info["指标分值"].startswith("【使用默认分值】")
    assert "等比例" in info["资金分配方法"] and info["资金预算"] == "300万元"


def test_park_allocation_sheet_has_total_budget_and_method(park_list):
    ws = park_list["资金分配意见"]
    headers = [c.value for c in ws[1]]
    rows = _rows(ws)
    total = next(r for r in rows if r[0] == "合计")
    assert total[headers.index("奖补上限（万元）")] == 350
    assert total[headers.index("建议奖补（万元）")] == 300
    labels = dict(str(r[0]).split("：", 1) for r in rows if r[0] and "：" in str(r[0]))
    assert labels["资金预算（万元）"] == "300" and labels["建议分配合计（万元）"] == "300"
    assert "等比例" in labels["分配方法"]


def test_a_long_list_is_written_as_xml_with_its_row_heights_chart_and_print_names(tmp_path):
    """The list is streamed sheet by sheet as XML (issue 16): tall rows far down keep their
    heights, the chart carries the city summary's values, every part is well-formed XML, and the
    print areas, titles and filters are named in the workbook."""
    import xml.dom.minidom

    from tests.decision_builders import city_file, decide, row

    inbox = tmp_path / "inbox"
    rows = [row(city_order=i, revenue_total=30.0 if i % 3 else 120.0, leader_firms=0 if i % 5 == 0 else 3,
                phone="1234" if i % 7 == 0 else "0531-86123456") for i in range(1, 121)]
    city_file(inbox, "济南市", rows)
    result = decide(inbox)
    (path,) = write_ranked_list(result, tmp_path / "run")
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.endswith((".xml", ".rels")):
                xml.dom.minidom.parseString(zf.read(name))  # raises on a part that is not XML
        chart = zf.read("xl/charts/chart1.xml").decode("utf-8")
        assert "xl/drawings/drawing1.xml" in zf.namelist()
    wb = openpyxl.load_workbook(path)
    ws = wb["全部申报"]
    tall = [r for r in range(60, ws.max_row + 1) if (ws.row_dimensions[r].height or 0) > 20]
    assert tall  # rows far down the sheet kept their heights
    assert ws.print_title_rows == "$1:$1" and ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}121"
    cities_ws = wb["各市汇总"]
    jinan = next(r for r in cities_ws.iter_rows(min_row=2) if r[0].value == "济南市")
    submitted = jinan[2].value
    assert submitted == 120
    # the chart's cached categories are the cities, its first series the eligible count of each
    assert "<c:v>济南市</c:v>" in chart and f"<c:v>{jinan[3].value}</c:v>" in chart
    assert len(cities_ws.row_breaks.brk) == 1 and cities_ws._charts
    assert wb.properties.title and result.run_id in (wb.properties.description or "")


def test_sheets_named_as_excel_refuses_are_renamed_not_written_broken(tmp_path):
    """A sheet a stage declares may repeat a sheet's name or hold characters Excel refuses in one
    (xlsxwriter refused such a list; the XML writer renames the sheet): every title is valid and
    unique, and the workbook opens with the sheet's rows."""
    from sdbatch.programs.base import SheetSpec

    result = build_result(tmp_path)
    result.list_sheets[result.program] = [
        SheetSpec(name="排名", headers=["甲"], rows=[["重名"]]),
        SheetSpec(name="园区/类型:[一]*?'", headers=["乙"], rows=[["怪名"]]),
        SheetSpec(name="'''", headers=["丙"], rows=[["空名"]]),
        SheetSpec(name="很长的名字" * 10, headers=["丁"], rows=[["长名"]]),
        SheetSpec(name="名" * 30 + "'尾巴", headers=["戊"], rows=[["撇号"]]),  # the 31st character an apostrophe
        SheetSpec(name="\U00020000" * 20, headers=["己"], rows=[["宽字"]]),  # two UTF-16 units each
    ]
    (path,) = write_ranked_list(result, tmp_path / "run")
    wb = openpyxl.load_workbook(path)
    names = wb.sheetnames
    assert len({n.lower() for n in names}) == len(names)
    for name in names:
        assert len(name.encode("utf-16-le")) // 2 <= 31 and not set(name) & set("[]:*?/\\")
        assert not name.startswith("'") and not name.endswith("'")
    cells = {ws.title: [c.value for row in ws.iter_rows() for c in row] for ws in wb.worksheets}
    for marker in ("重名", "怪名", "空名", "长名", "撇号", "宽字"):
        assert sum(marker in values for values in cells.values()) == 1, marker
    assert "排名(2)" in names
