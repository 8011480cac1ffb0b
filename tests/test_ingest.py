"""Reading city summary workbooks (issue 2, SPEC §2.1): one test per quirk family.

Every test writes a real file with ``tests.builders`` and reads it through ``check_file``
(ingest -> header -> normalise -> checks); assertions are on canonical values, finding codes,
fields and cell addresses, never on the Chinese prose.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from sdbatch import batch
from sdbatch.batch import check_file
from sdbatch.model import Application, FileRecord, Finding
from tests.builders import TITLE, TYPICAL_COLUMNS, Layout, Sheet, address, summary_sheet, valid_row, write

JINAN_FILE = "济南市数字产业集群申报信息汇总表.xlsx"


# ----------------------------------------------------------------------------- helpers
@pytest.fixture(autouse=True, scope="module")
def _rules_loaded_once() -> Any:
    """check_file loads the rules files on every call, and header matching caches per Rules
    object; loading them once per module keeps these ~200 reads fast (same rules, same result)."""
    cached = functools.cache(batch.load_programs)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(batch, "load_programs", lambda programs=(), rules_files=(): cached(programs, rules_files))
        yield


def read(tmp_path: Path, sheets: list[Sheet] | Sheet | Layout, name: str = JINAN_FILE, **kw: Any) -> FileRecord:
    if isinstance(sheets, Layout):
        sheets = sheets.sheet
    path = write(tmp_path / name, sheets, **kw)
    report = check_file(path)
    assert report.exit_code == 0, report.text
    assert report.record.status == "processed", report.text
    return report.record


def only_app(record: FileRecord) -> Application:
    assert len(record.applications) == 1, [a.name for a in record.applications]
    return record.applications[0]


def found(findings: list[Finding], code: str, field: str | None = None) -> list[Finding]:
    return [f for f in findings if f.code == code and (field is None or f.field == field)]


def cell_of(f: Finding) -> str | None:
    return f.source.cell if f.source else None


def bare(columns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers without their unit brackets (for a units row)."""
    out = []
    for key, text in columns:
        for unit in ("（亿元）", "（家）", "（个）", "（项）", "（%）"):
            text = text.replace(unit, "")
        out.append((key, text))
    return out


def replace_header(fid: str, text: str) -> list[tuple[str, str]]:
    return [(k, text if k == fid else t) for k, t in TYPICAL_COLUMNS]


EXPECTED_VALID = {
    "city": "济南市",
    "name": "示例1号数字产业集群",
    "applicant": "示例1号集群发展促进会",
    "industry": "高端软件",
    "revenue_total": 120.5,
    "leading_firms": 35,
    "leader_firms": 2,
    "backbone_firms": 8,
    "national_platforms": 2,
    "provincial_platforms": 5,
    "ip_total": 1500,
    "rd_expense": 6,
    "sales_revenue": 150,
    "rd_ratio": 4,
    "legal_person": True,
    "bad_credit": False,
    "major_incident": False,
    "contact": "张示例",
    "phone": "0531-88886666",
    "email": "cluster@example.cn",
}


def assert_valid_values(app: Application) -> None:
    actual = {fid: app.values.get(fid) for fid in EXPECTED_VALID}
    assert actual == pytest.approx(EXPECTED_VALID)
    assert app.values["applicant_uscc"] == valid_row(1)["applicant_uscc"]


# ----------------------------------------------------------------------------- layout
def test_typical_table_is_read_eligible(tmp_path: Path) -> None:
    record = read(tmp_path, summary_sheet([valid_row(1)]))
    app = only_app(record)
    assert_valid_values(app)
    assert app.status == "eligible"
    assert app.cells["revenue_total"] == "H3"  # title row 1, header row 2, data row 3
    assert not [f for f in app.findings if f.severity == "error"]


@pytest.mark.parametrize("blank_rows,preamble", [
    (0, []),
    (1, ["填报单位：济南市工业和信息化局（盖章）"]),
    (3, ["填报单位：济南市工业和信息化局", "填报日期：2024年6月20日"]),  # title + 5 rows: header on row 7
])
def test_title_rows_above_header(tmp_path: Path, blank_rows: int, preamble: list[str]) -> None:
    layout = summary_sheet([valid_row(1), valid_row(2)], preamble=preamble, blank_rows_above=blank_rows)
    layout.sheet.merges.append((0, 0, 0, len(TYPICAL_COLUMNS) - 1))  # a title merged across the table
    record = read(tmp_path, layout)
    assert [a.name for a in record.applications] == ["示例1号数字产业集群", "示例2号数字产业集群"]
    assert [a.source.row for a in record.applications] == [r + 1 for r in layout.data_rows]
    assert record.applications[0].cells["revenue_total"] == layout.cell("revenue_total", 0)


def test_header_on_row_7(tmp_path: Path) -> None:
    layout = summary_sheet([valid_row(1)], preamble=["填报单位：济南市工业和信息化局", "", "", "", ""])
    assert layout.header_rows == [6]
    record = read(tmp_path, layout)
    app = only_app(record)
    assert app.source.row == 8
    assert app.cells["name"] == "D8"
    assert_valid_values(app)


def merged_header_sheet() -> tuple[Sheet, dict[str, int]]:
    """A two-row header: grouped columns under merged parents, the others merged vertically."""
    top = ["序号", "所在市", "集群名称", "申报主体（集群管理运营机构/发展促进组织）", "统一社会信用代码",
           "主导产业（主要申报方向）", "集群数字产业相关规上企业年营业收入总额（亿元）",
           "企业数量（家）", None, None, "创新平台数量（个）", None,
           "近三年科技奖励及知识产权（专利、软件著作权）总数（项）",
           "研发情况", None, None, "是否具有独立法人资格", "有无不良信用记录",
           "近三年是否发生特别重大、重大生产安全事故或突发环境事件", "联系方式", None, None]
    sub = [None] * 7 + ["主导产业相关规上企业数量", "年营业收入10亿元以上领军企业数量", "营业收入亿元以上骨干企业数量",
                        "国家级", "省级", None, "研发投入总额（亿元）", "销售收入总额（万元）", "研发投入占比（%）",
                        None, None, None, "联系人", "电话", "邮箱"]
    fields = ["seq", "city", "name", "applicant", "applicant_uscc", "industry", "revenue_total", "leading_firms",
              "leader_firms", "backbone_firms", "national_platforms", "provincial_platforms", "ip_total",
              "rd_expense", "sales_revenue", "rd_ratio", "legal_person", "bad_credit", "major_incident",
              "contact", "phone", "email"]
    row = valid_row(1, sales_revenue=1500000)  # 150 亿元 written in 万元
    data = [row[f] for f in fields]
    rows = [["济南市" + TITLE], top, sub, data]
    merges = [(0, 0, 0, len(top) - 1), (1, 7, 1, 9), (1, 10, 1, 11), (1, 13, 1, 15), (1, 19, 1, 21)]
    merges += [(1, c, 2, c) for c in (0, 1, 2, 3, 4, 5, 6, 12, 16, 17, 18)]
    return Sheet("汇总表", rows, merges=merges), {f: i for i, f in enumerate(fields)}


@pytest.mark.parametrize("suffix", [".xlsx", ".xls"])
def test_two_row_merged_header(tmp_path: Path, suffix: str) -> None:
    sheet, cols = merged_header_sheet()
    record = read(tmp_path, sheet, name="济南市汇总表" + suffix)
    app = only_app(record)
    assert record.table is not None and record.table.header_rows[:2] == [1, 2]
    mapped = {c.field: c.index for c in record.table.columns if c.field}
    assert mapped == cols
    assert app.source.row == 4
    assert_valid_values(app)
    converted = found(app.findings, "value-converted", "sales_revenue")
    assert [cell_of(f) for f in converted] == [address(3, cols["sales_revenue"])]
    assert not found(record.findings, "unknown-column")


def test_units_row_below_header(tmp_path: Path) -> None:
    units = {"revenue_total": "万元", "leading_firms": "家", "leader_firms": "家", "backbone_firms": "家",
             "national_platforms": "个", "provincial_platforms": "个", "ip_total": "项", "rd_expense": "亿元",
             "sales_revenue": "亿元", "rd_ratio": "%"}
    layout = summary_sheet([valid_row(1, revenue_total=1205000)], columns=bare(TYPICAL_COLUMNS), units_row=units)
    record = read(tmp_path, layout)
    app = only_app(record)
    assert record.table is not None and layout.header_rows[-1] in record.table.header_rows
    assert app.source.row == layout.data_rows[0] + 1
    assert app.values["revenue_total"] == pytest.approx(120.5)
    assert [cell_of(f) for f in found(app.findings, "value-converted", "revenue_total")] == \
        [layout.cell("revenue_total")]
    assert app.values["rd_ratio"] == 4


@pytest.mark.parametrize("header,written,expected", [
    ("集群数字产业相关规上企业年营业收入总额（亿元）", 120.5, 120.5),
    ("集群数字产业相关规上企业年营业收入总额(万元)", 1205000, 120.5),
    ("集群数字产业相关规上企业年营业收入总额 （万元）", "1205000", 120.5),
    ("集群数字产业相关规上企业年营业收入总额（单位：万元）", 1205000, 120.5),
    ("集群数字产业相关规上企业年营业收入总额（元）", 12050000000, 120.5),
    ("集群数字产业相关规上企业年营业收入总额", "1205000万元", 120.5),  # unit in the cell
])
def test_units_inside_header_text(tmp_path: Path, header: str, written: Any, expected: float) -> None:
    layout = summary_sheet([valid_row(1, revenue_total=written)], columns=replace_header("revenue_total", header))
    app = only_app(read(tmp_path, layout))
    assert app.values["revenue_total"] == pytest.approx(expected)
    assert app.originals["revenue_total"] == written


@pytest.mark.parametrize("header", ["研发投入占销售收入比重（%）", "研发投入占销售收入比重(%)", "研发投入占销售收入比重%",
                                    "研发投入占销售收入比重（％）"])
def test_percent_unit_in_header(tmp_path: Path, header: str) -> None:
    layout = summary_sheet([valid_row(1, rd_ratio=4)], columns=replace_header("rd_ratio", header))
    record = read(tmp_path, layout)
    assert [c.unit for c in record.table.columns if c.field == "rd_ratio"] == ["%"]
    assert only_app(record).values["rd_ratio"] == 4


def test_wan_yuan_converted_to_yi_yuan_with_finding_at_cell(tmp_path: Path) -> None:
    columns = replace_header("revenue_total", "集群数字产业相关规上企业年营业收入总额（万元）")
    layout = summary_sheet([valid_row(1, revenue_total=325000), valid_row(2, revenue_total=1205000)],
                           columns=columns, preamble=["填报单位：济南市工业和信息化局"], blank_rows_above=1)
    record = read(tmp_path, layout)
    assert record.applications[1].values["revenue_total"] == pytest.approx(120.5)
    app = record.applications[0]
    assert app.values["revenue_total"] == pytest.approx(32.5)
    conv = found(app.findings, "value-converted", "revenue_total")
    assert len(conv) == 1 and cell_of(conv[0]) == "H5" == layout.cell("revenue_total", 0)
    assert conv[0].original == 325000
    assert app.originals["revenue_total"] == 325000
    # 32.5 亿元 is below the 50 亿元 threshold: the condition sees the converted value.
    assert [cell_of(f) for f in found(app.findings, "below-threshold", "revenue_total")] == ["H5"]


def test_amounts_in_yuan(tmp_path: Path) -> None:
    columns = replace_header("rd_expense", "规上企业上年度研发投入总额（元）")
    columns = [(k, "规上企业上年度销售收入总额（元）" if k == "sales_revenue" else t) for k, t in columns]
    layout = summary_sheet([valid_row(1, rd_expense=600000000, sales_revenue="15,000,000,000")], columns=columns)
    app = only_app(read(tmp_path, layout))
    assert app.values["rd_expense"] == pytest.approx(6)
    assert app.values["sales_revenue"] == pytest.approx(150)
    assert {cell_of(f) for f in found(app.findings, "value-converted")} >= {layout.cell("rd_expense"),
                                                                             layout.cell("sales_revenue")}


# ----------------------------------------------------------------------------- values as written
@pytest.mark.parametrize("fid,written,expected", [
    ("rd_ratio", "３．５％", 3.5),
    ("revenue_total", "１２０．５", 120.5),
    ("ip_total", "１，５００", 1500),
    ("leader_firms", "２", 2),
])
def test_full_width_digits_and_punctuation(tmp_path: Path, fid: str, written: str, expected: float) -> None:
    row = valid_row(1, rd_expense=5.25, **{fid: written})
    app = only_app(read(tmp_path, summary_sheet([row])))
    assert app.values[fid] == pytest.approx(expected)
    assert not found(app.findings, "unparseable-value")


@pytest.mark.parametrize("fid,written,expected", [
    ("ip_total", "2,380", 2380),
    ("revenue_total", "1,205.5", 1205.5),
    ("ip_total", "2，380", 2380),
])
def test_thousands_separators(tmp_path: Path, fid: str, written: str, expected: float) -> None:
    app = only_app(read(tmp_path, summary_sheet([valid_row(1, **{fid: written})])))
    assert app.values[fid] == pytest.approx(expected)


def test_numbers_stored_as_text(tmp_path: Path) -> None:
    row = valid_row(1, revenue_total="120.5", leading_firms="35", leader_firms=" 2 ", ip_total="1500",
                    rd_expense="6", sales_revenue="150", rd_ratio="4")
    app = only_app(read(tmp_path, summary_sheet([row])))
    assert_valid_values(app)
    assert isinstance(app.values["leading_firms"], int)


@pytest.mark.parametrize("suffix", [".xlsx", ".xls"])
@pytest.mark.parametrize("written,fmt", [
    ("3.5%", None),
    (0.035, "0.0%"),
    (0.035, "0.00%"),
    (3.5, None),
    ("3.5", None),
])
def test_same_ratio_three_ways(tmp_path: Path, suffix: str, written: Any, fmt: str | None) -> None:
    layout = summary_sheet([valid_row(1, rd_expense=5.25, rd_ratio=written)])
    if fmt:
        layout.sheet.formats[(layout.data_rows[0], layout.col("rd_ratio"))] = fmt
    record = read(tmp_path, layout, name="济南市汇总表" + suffix)
    app = only_app(record)
    assert app.values["rd_ratio"] == pytest.approx(3.5)
    assert not found(app.findings, "ratio-mismatch")
    if fmt:  # the cell's percent number format was seen by the reader
        assert (layout.data_rows[0], layout.col("rd_ratio")) in record.table.sheet.percent_cells


@pytest.mark.parametrize(("ratio", "fmt", "others"), [
    (0.035, "0.0%", {}),
    (0.035, "0.00%", {}),
    (0.09, "0.0%", {}),  # 9 % shown, 3.5 % by the amounts: a mismatch to check, not a ratio of 0.09 %
    (0.012, '0.0"%"', {}),  # a custom format with the sign in quotes: a percent format to openpyxl too
    (0.035, "0.0%", {"rd_expense": None}),  # nothing to check the ratio against
])
def test_a_big_workbook_reads_percent_formats_as_full_mode_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  ratio: float, fmt: str, others: dict[str, Any]) -> None:
    """python-calamine gives no number formats: a ratio typed into a percent cell (shown 9.0 %, held
    0.09) was read by its size alone, and when the amounts said otherwise it stayed 0.09 %, below
    every threshold.  The sheet scan finds the cells of the workbook's percent formats, so a big
    workbook reads them as the same workbook read whole does."""
    from sdbatch import settings

    layout = summary_sheet([valid_row(1, rd_ratio=ratio, **{"rd_expense": 5.25, **others}), valid_row(2)])
    layout.sheet.formats[(layout.data_rows[0], layout.col("rd_ratio"))] = fmt
    for folder in ("whole", "streamed"):
        (tmp_path / folder).mkdir()
    whole = read(tmp_path / "whole", layout, name="济南市汇总表.xlsx")
    monkeypatch.setattr(settings, "FULL_READ_MAX_BYTES", 0)
    streamed = read(tmp_path / "streamed", layout, name="济南市汇总表.xlsx")
    assert found(streamed.findings, "streamed-read") and not found(whole.findings, "streamed-read")
    cell = (layout.data_rows[0], layout.col("rd_ratio"))
    assert cell in whole.table.sheet.percent_cells and cell in streamed.table.sheet.percent_cells
    for full, fast in zip(whole.applications, streamed.applications, strict=True):
        assert fast.values == full.values
        assert sorted((f.code, f.field or "") for f in fast.findings) == sorted((f.code, f.field or "")
                                                                               for f in full.findings)
    assert whole.applications[0].values["rd_ratio"] == pytest.approx(ratio * 100)


def test_cell_keys_is_a_set_of_cells_at_8_bytes_a_cell() -> None:
    """The percent cells of a big sheet (90,000 at 100,000 rows) as sorted keys, not tuples."""
    from sdbatch.model import CellKeys

    cells = {(0, 0), (2, 15), (99_999, 21), (7, CellKeys.WIDTH - 1)}
    keys = CellKeys(r * CellKeys.WIDTH + c for r, c in reversed(sorted(cells)))
    assert len(keys) == 4 and set(keys) == cells and keys == cells
    assert all(cell in keys for cell in cells)
    assert (2, 14) not in keys and (1, 15) not in keys and (8, -1) not in keys and (7, CellKeys.WIDTH) not in keys
    assert "A1" not in keys and (0,) not in keys and not CellKeys([])


def test_the_sheet_scan_finds_percent_cells_in_any_spelling() -> None:
    """Excel's spelling (the reference, the style, the type) and any other: attributes in another
    order, a namespace prefix, single quotes; a cell of another format is not one."""
    from sdbatch.model import CellKeys
    from sdbatch.reading import limits

    percent = limits._PercentCells.of(frozenset({2, 11}))
    assert percent is not None
    for cells, expected in [
        (b'<c r="B3" s="2" t="n"><v>0.1</v></c><c r="C3" s="1"><v>5</v></c><c r="D3" t="n" s="11"><v>1</v></c>',
         {(2, 1), (2, 3)}),
        (b"<x:c s='11' r='AA10'><x:v>0.2</x:v></x:c><x:c r='B10' s='12'><x:v>3</x:v></x:c>", {(9, 26)}),
    ]:
        scan = limits.PartScan()
        limits._scan_chunk(b"<sheetData><row r=\"1\">" + cells + b"</row></sheetData>", scan, True, percent)
        assert set(CellKeys(scan.percent)) == expected


@pytest.mark.parametrize("legal,credit,incident,expected", [
    ("是", "无", "否", (True, False, False)),
    ("√", "×", "×", (True, False, False)),
    ("是", "有", "是", (True, True, True)),
    ("否", "无", "无", (False, False, False)),
    ("×", "√", "√", (False, True, True)),
    ("有", "没有", "未发生", (True, False, False)),
])
def test_yes_no_written_forms(tmp_path: Path, legal: str, credit: str, incident: str,
                              expected: tuple[bool, bool, bool]) -> None:
    row = valid_row(1, legal_person=legal, bad_credit=credit, major_incident=incident)
    app = only_app(read(tmp_path, summary_sheet([row])))
    assert (app.values["legal_person"], app.values["bad_credit"], app.values["major_incident"]) == expected


@pytest.mark.parametrize("marker", ["/", "—", "无", "空", "——", " / "])
@pytest.mark.parametrize("fid", ["revenue_total", "leader_firms", "applicant"])
def test_blank_markers_are_missing_values(tmp_path: Path, marker: str, fid: str) -> None:
    layout = summary_sheet([valid_row(1, **{fid: marker})])
    app = only_app(read(tmp_path, layout))
    assert app.values.get(fid) is None
    missing = found(app.findings, "missing-value", fid)
    assert len(missing) == 1
    assert cell_of(missing[0]) == layout.cell(fid)
    assert missing[0].effect == "incomplete"
    assert app.status == "incomplete"
    assert not found(app.findings, "unparseable-value")


def test_summary_rows_not_read(tmp_path: Path) -> None:
    width = len(TYPICAL_COLUMNS)
    subtotal = ["小计"] + [None] * (width - 1)
    total = [None] * width
    total[0] = "合  计"
    total[7] = 241
    layout = summary_sheet([valid_row(1), valid_row(2)], extra_rows=[(1, subtotal), (2, total)])
    record = read(tmp_path, layout)
    assert [a.name for a in record.applications] == ["示例1号数字产业集群", "示例2号数字产业集群"]
    skipped = found(record.findings, "summary-row-skipped")
    assert sorted(f.source.row for f in skipped) == [layout.data_rows[0] + 2, layout.data_rows[1] + 2]
    assert {f.severity for f in skipped} == {"info"}


def test_notes_below_table_not_read(tmp_path: Path) -> None:
    notes = ["填表说明：1.金额单位为亿元；2.比重保留一位小数；3.请按推荐顺序填写。",
             "联系人：王某某        联系电话：0531-12345678"]
    layout = summary_sheet([valid_row(1), valid_row(2)], notes=notes)
    record = read(tmp_path, layout)
    assert len(record.applications) == 2
    note_rows = [f.source.row for f in found(record.findings, "note-row-skipped")]
    assert note_rows == [layout.data_rows[-1] + 2]
    assert not found(record.findings, "row-after-notes")


@pytest.mark.parametrize(("suffix", "streamed"), [(".xlsx", False), (".xlsx", True), (".xls", False)])
def test_hidden_row_is_read_with_warning(tmp_path: Path, suffix: str, streamed: bool,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Full mode and python-calamine alike (a big workbook, or one whose formats openpyxl refuses):
    the sheet scan finds the rows declared hidden."""
    if streamed:
        from sdbatch import settings

        monkeypatch.setattr(settings, "FULL_READ_MAX_BYTES", 0)
    layout = summary_sheet([valid_row(1), valid_row(2), valid_row(3)])
    hidden = layout.data_rows[1]
    layout.sheet.hidden_rows.add(hidden)
    record = read(tmp_path, layout, name="济南市汇总表" + suffix)
    assert [a.name for a in record.applications] == [f"示例{n}号数字产业集群" for n in (1, 2, 3)]
    app = record.applications[1]
    warnings = found(app.findings, "hidden-row")
    assert len(warnings) == 1 and warnings[0].severity == "warning"
    assert warnings[0].source.row == hidden + 1
    assert not found(record.applications[0].findings, "hidden-row")
    assert bool(found(record.findings, "streamed-read")) == streamed


@pytest.mark.parametrize("row", [
    b'<row r="7" spans="1:3" hidden="1" customHeight="1">',  # Excel's own
    b"<x:row hidden='true' r='7'>",  # another order, a prefix, single quotes
    b'<row\nr="7"\nhidden="1"/>',  # line breaks, an empty row
])
def test_the_sheet_scan_finds_hidden_rows_in_any_spelling(row: bytes) -> None:
    from sdbatch.reading import limits

    scan = limits.PartScan()
    shown = b'<row r="6" customHidden="1" x:hiddenish="1"><c r="A6"><v>1</v></c></row>'  # not hidden
    limits._scan_chunk(b"<sheetData>" + shown + row + b"</sheetData>", scan, True)
    assert scan.hidden_rows == {7}


@pytest.mark.parametrize("suffix", [".xlsx", ".xls"])
def test_hidden_sheet_not_read(tmp_path: Path, suffix: str) -> None:
    old = summary_sheet([valid_row(1, name="旧版示例集群")], name="旧版").sheet
    old.hidden = True
    current = summary_sheet([valid_row(1)], name="汇总表").sheet
    record = read(tmp_path, [old, current], name="济南市汇总表" + suffix)
    assert record.sheet == "汇总表"
    assert [a.name for a in record.applications] == ["示例1号数字产业集群"]
    skipped = found(record.findings, "hidden-sheet-skipped")
    assert [f.params["sheet"] for f in skipped] == ["旧版"]
    assert skipped[0].severity == "warning"


def test_instruction_sheet_first_data_sheet_second(tmp_path: Path) -> None:
    instructions = Sheet("填表说明", [["填表说明"], ["1. 每个集群填写一行。"], ["2. 金额单位为亿元。"],
                                      ["3. 主导产业从十大工程中选择。"]])
    data = summary_sheet([valid_row(1)], name="汇总表").sheet
    record = read(tmp_path, [instructions, data])
    assert record.sheet == "汇总表"
    assert_valid_values(only_app(record))
    assert [f.params["sheet"] for f in found(record.findings, "other-sheet-skipped")] == ["填表说明"]


def test_several_sheets_fullest_table_wins(tmp_path: Path) -> None:
    empty = Sheet("Sheet1", [])
    data = summary_sheet([valid_row(1), valid_row(2)], name="推荐汇总").sheet
    partial_cols = [c for c in TYPICAL_COLUMNS if c[0] in ("seq", "city", "name", "revenue_total")]
    draft = summary_sheet([valid_row(9)], columns=partial_cols, name="草稿").sheet
    record = read(tmp_path, [empty, draft, data, Sheet("Sheet3", [])])
    assert record.sheet == "推荐汇总"
    assert len(record.applications) == 2
    assert [f.params["sheet"] for f in found(record.findings, "extra-table-sheet")] == ["草稿"]


def test_blank_rows_between_applications_skipped(tmp_path: Path) -> None:
    layout = summary_sheet([valid_row(1), valid_row(2)], extra_rows=[(1, []), (1, [None, None, " "])])
    record = read(tmp_path, layout)
    assert [a.source.row for a in record.applications] == [r + 1 for r in layout.data_rows]


@pytest.mark.parametrize("suffix", [".xlsx", ".xls"])
def test_city_merged_down_data_rows(tmp_path: Path, suffix: str) -> None:
    layout = summary_sheet([valid_row(1), valid_row(2)], title=TITLE)
    col = layout.col("city")
    layout.sheet.rows[layout.data_rows[1]][col] = None
    layout.sheet.merges.append((layout.data_rows[0], col, layout.data_rows[1], col))
    record = read(tmp_path, layout, name="汇总表" + suffix)
    assert [a.city for a in record.applications] == ["济南市", "济南市"]


def test_tab_separated_csv_with_title(tmp_path: Path) -> None:
    layout = summary_sheet([valid_row(1)])
    path = tmp_path / "济南市汇总表.csv"
    path.write_text("\n".join("\t".join("" if v is None else str(v) for v in row) for row in layout.sheet.rows),
                    encoding="gbk")
    report = check_file(path)
    assert report.exit_code == 0
    assert_valid_values(only_app(report.record))


# ----------------------------------------------------------------------------- cities
@pytest.mark.parametrize("written", ["济南", "济南市", "济南市工业和信息化局", " 济南市 ", "济南市工信局"])
def test_city_column_written_forms(tmp_path: Path, written: str) -> None:
    app = only_app(read(tmp_path, summary_sheet([valid_row(1, city=written)])))
    assert app.values["city"] == "济南市" == app.city
    assert not found(app.findings, "unknown-city")


def no_city_columns() -> list[tuple[str, str]]:
    return [c for c in TYPICAL_COLUMNS if c[0] != "city"]


def test_city_only_in_title(tmp_path: Path) -> None:
    layout = summary_sheet([valid_row(1)], columns=no_city_columns(), title="青岛市" + TITLE)
    record = read(tmp_path, layout, name="汇总表.xlsx")
    app = only_app(record)
    assert app.city == "青岛市" == record.city
    assert [f.params["where"] for f in found(app.findings, "city-source")] == ["标题"]
    assert not found(app.findings, "city-not-found")
    assert not found(record.findings, "missing-column", "city")


def test_city_only_in_filler_line(tmp_path: Path) -> None:
    layout = summary_sheet([valid_row(1), valid_row(2)], columns=no_city_columns(), title=TITLE,
                           preamble=["填报单位：临沂市工业和信息化局"])
    record = read(tmp_path, layout, name="附件2 数字产业集群申报信息汇总表.xlsx")
    assert [a.city for a in record.applications] == ["临沂市", "临沂市"]
    assert record.city == "临沂市"
    assert [f.params["where"] for f in found(record.applications[0].findings, "city-source")] == ["填报单位"]


def test_city_only_in_file_name(tmp_path: Path) -> None:
    layout = summary_sheet([valid_row(1)], columns=no_city_columns(), title=None)
    record = read(tmp_path, layout, name="烟台市数字产业集群申报信息汇总表.xlsx")
    app = only_app(record)
    assert app.city == "烟台市"
    assert [f.params["where"] for f in found(app.findings, "city-source")] == ["文件名"]


def test_no_city_anywhere_is_reported(tmp_path: Path) -> None:
    layout = summary_sheet([valid_row(1)], columns=no_city_columns(), title=TITLE)
    app = only_app(read(tmp_path, layout, name="汇总表.xlsx"))
    assert app.city is None
    assert len(found(app.findings, "city-not-found")) == 1
    assert app.status == "incomplete"


def test_laiwu_is_jinan_with_warning(tmp_path: Path) -> None:
    layout = summary_sheet([valid_row(1, city="莱芜市"), valid_row(2, city="莱芜")])
    record = read(tmp_path, layout)
    assert [a.city for a in record.applications] == ["济南市", "济南市"]
    for n, app in enumerate(record.applications):
        legacy = found(app.findings, "legacy-city", "city")
        assert [cell_of(f) for f in legacy] == [layout.cell("city", n)]
        assert legacy[0].severity == "warning"


def test_laiwu_in_title_only(tmp_path: Path) -> None:
    layout = summary_sheet([valid_row(1)], columns=no_city_columns(), title="莱芜市" + TITLE)
    app = only_app(read(tmp_path, layout, name="汇总表.xlsx"))
    assert app.city == "济南市"
    assert len(found(app.findings, "legacy-city")) == 1


# ----------------------------------------------------------------------------- industries, IP, columns
@pytest.mark.parametrize("written,expected", [
    ("云计算与大数据", "云服务大数据"),
    ("集成电路（IC）", "集成电路"),
    ("AI", "人工智能"),
    ("ai", "人工智能"),
    ("VR/AR", "虚拟现实"),
    ("ＡＩ", "人工智能"),
    ("高端软件", "高端软件"),
    (" 新型电子材料 ", "新型电子材料"),
])
def test_industry_variants(tmp_path: Path, written: str, expected: str) -> None:
    layout = summary_sheet([valid_row(1, industry=written)])
    app = only_app(read(tmp_path, layout))
    assert app.values["industry"] == expected == app.industry
    assert not found(app.findings, "unknown-industry")


def test_unknown_industry_is_reported_at_cell(tmp_path: Path) -> None:
    layout = summary_sheet([valid_row(1, industry="现代农业")])
    app = only_app(read(tmp_path, layout))
    assert app.values["industry"] is None
    assert [cell_of(f) for f in found(app.findings, "unknown-industry", "industry")] == [layout.cell("industry")]


def test_split_ip_columns_are_summed(tmp_path: Path) -> None:
    columns: list[tuple[str, str]] = []
    for key, text in TYPICAL_COLUMNS:
        if key == "ip_total":
            columns += [("ip_awards", "近三年科技奖励（项）"), ("ip_patents", "近三年专利（项）"),
                        ("ip_software", "近三年软件著作权（项）")]
        else:
            columns.append((key, text))
    row = valid_row(1, ip_awards=20, ip_patents="900", ip_software=580)
    del row["ip_total"]
    record = read(tmp_path, summary_sheet([row], columns=columns))
    app = only_app(record)
    assert app.values["ip_total"] == 1500
    assert (app.values["ip_awards"], app.values["ip_patents"], app.values["ip_software"]) == (20, 900, 580)
    assert len(found(app.findings, "parts-summed", "ip_total")) == 1
    assert not found(record.findings, "unknown-column")
    assert not found(app.findings, "missing-value", "ip_total")


@pytest.mark.parametrize("header", [
    "所属园区",
    "推荐意见",
    "所在园区名称",
    "集群简介",
])
def test_unknown_column_kept_and_reported(tmp_path: Path, header: str) -> None:
    columns = [*TYPICAL_COLUMNS, ("park", header)]
    layout = summary_sheet([valid_row(1, park="示例软件园")], columns=columns)
    record = read(tmp_path, layout)
    app = only_app(record)
    unknown = found(record.findings, "unknown-column")
    assert len(unknown) == 1 and unknown[0].severity == "warning"
    assert cell_of(unknown[0]) == address(layout.header_rows[0], layout.col("park"))
    assert unknown[0].params["header"] == header
    assert app.unknown == {header: "示例软件园"}
    assert not found(record.findings, "duplicate-column")


@pytest.mark.parametrize("dropped", ["applicant", "name", "applicant_uscc", "industry"])
def test_missing_required_column(tmp_path: Path, dropped: str) -> None:
    columns = [c for c in TYPICAL_COLUMNS if c[0] != dropped]
    record = read(tmp_path, summary_sheet([valid_row(1)], columns=columns))
    missing = found(record.findings, "missing-column")
    assert [f.field for f in missing] == [dropped]
    assert missing[0].severity == "error"


# ----------------------------------------------------------------------------- formulas
def test_formula_with_cached_value_reads_the_value(tmp_path: Path) -> None:
    layout = summary_sheet([valid_row(1)])
    r = layout.data_rows[0]
    layout.sheet.formulas[(r, layout.col("revenue_total"))] = ("=100+20.5", 120.5)
    layout.sheet.formulas[(r, layout.col("rd_ratio"))] = (f"=O{r + 1}/P{r + 1}*100", 4)
    app = only_app(read(tmp_path, layout, engine="xlsxwriter"))
    assert app.values["revenue_total"] == pytest.approx(120.5)
    assert app.values["rd_ratio"] == 4
    assert not found(app.findings, "formula-without-value")
    assert app.status == "eligible"


@pytest.mark.parametrize("streamed", [False, True])
def test_formula_without_cached_value_is_flagged_at_cell(tmp_path: Path, streamed: bool,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Full mode and python-calamine alike (which reads such a cell as empty: the sheet scan finds
    it): the city is told the cell is a formula without a result, never that it left it empty."""
    if streamed:
        from sdbatch import settings

        monkeypatch.setattr(settings, "FULL_READ_MAX_BYTES", 0)
    layout = summary_sheet([valid_row(1)])
    layout.sheet.formulas[(layout.data_rows[0], layout.col("ip_total"))] = ('=SUM(700,800)&"<件>"', None)
    record = read(tmp_path, layout, engine="openpyxl")
    assert bool(found(record.findings, "streamed-read")) == streamed
    app = only_app(record)
    flagged = found(app.findings, "formula-without-value", "ip_total")
    assert [cell_of(f) for f in flagged] == [layout.cell("ip_total")]
    assert flagged[0].effect == "incomplete"
    assert flagged[0].params["formula"] == '=SUM(700,800)&"<件>"'  # the entities of its XML read back
    assert app.values.get("ip_total") is None
    assert app.status == "incomplete"
    assert not found(app.findings, "missing-value", "ip_total")


@pytest.mark.parametrize(("cells", "expected"), [
    (b'<c r="M3" s="2"><f>SUM(700,800)</f><v /></c><c r="N3"><f>1+1</f><v>2</v></c>', [(2, 12, "SUM(700,800)")]),
    (b'<c r="B2" t="str"><f t="shared" ref="B2:B3" si="0">A2&amp;"x"</f></c><c r="B3"><f t="shared" si="0"/></c>',
     [(1, 1, 'A2&"x"'), (2, 1, "")]),
    (b"<x:c t='n' r='C4'><x:f>A4*2</x:f><x:v></x:v></x:c><x:c r='D4'><x:f>1</x:f><x:v>1</x:v></x:c>", [(3, 2, "A4*2")]),
])
def test_the_sheet_scan_finds_formulas_without_a_value_in_any_spelling(cells: bytes,
                                                                        expected: list[tuple[int, int, str]]) -> None:
    from sdbatch.reading import limits

    scan = limits.PartScan()
    limits._scan_chunk(b'<sheetData><row r="1">' + cells + b"</row></sheetData>", scan, True)
    assert [(*divmod(key, limits.COLUMNS), text) for key, text in scan.formulas] == expected


# ----------------------------------------------------------------------------- formats
@pytest.mark.parametrize("suffix,engine,encoding,kinds", [
    (".xlsx", "openpyxl", "utf-8", {"xlsx"}),
    (".xlsx", "xlsxwriter", "utf-8", {"xlsx"}),
    (".xlsm", "openpyxl", "utf-8", {"xlsx", "xlsm"}),
    (".xls", "xlwt", "utf-8", {"xls"}),
    (".ods", "odf", "utf-8", {"ods"}),
    (".csv", "csv", "utf-8", {"csv"}),
    (".csv", "csv", "utf-8-sig", {"csv"}),
    (".csv", "csv", "gbk", {"csv"}),
])
def test_every_format_reads_the_same(tmp_path: Path, suffix: str, engine: str, encoding: str,
                                     kinds: set[str]) -> None:
    layout = summary_sheet([valid_row(1), valid_row(2, revenue_total="2,380")],
                           preamble=["填报单位：济南市工业和信息化局"])
    record = read(tmp_path, layout, name="济南市数字产业集群申报信息汇总表" + suffix, engine=engine, encoding=encoding)
    assert record.kind in kinds
    assert len(record.applications) == 2
    assert_valid_values(record.applications[0])
    assert record.applications[1].values["revenue_total"] == 2380
    assert record.applications[0].cells["revenue_total"] == layout.cell("revenue_total") == "H4"
    assert record.applications[0].status == "eligible"


def test_gbk_csv_with_full_width_values(tmp_path: Path) -> None:
    layout = summary_sheet([valid_row(1, rd_ratio="３．５％", rd_expense=5.25, city="济南")])
    record = read(tmp_path, layout, name="济南市汇总表.csv", encoding="gbk")
    app = only_app(record)
    assert app.values["rd_ratio"] == pytest.approx(3.5)
    assert app.city == "济南市"


# ----------------------------------------------------------------------------- files that cannot be read
LOCK_BYTES = b"\x08" + "张示例".encode("utf-16-le").ljust(53, b" ") + b"\x00" * 111


@pytest.mark.parametrize("name,content,code", [
    ("~$济南市数字产业集群申报信息汇总表.xlsx", LOCK_BYTES, "lock-file"),
    ("济南市数字产业集群申报信息汇总表.xlsx", b"", "file-empty"),
    ("济南市数字产业集群申报信息汇总表.xls", b"", "file-empty"),
    ("济南市数字产业集群申报信息汇总表.xlsx", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "not-a-spreadsheet"),
    ("济南市数字产业集群申报信息汇总表.xlsx", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "not-a-spreadsheet"),
])
def test_unreadable_files_rejected(tmp_path: Path, name: str, content: bytes, code: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    report = check_file(path)
    assert report.exit_code == 1
    assert report.record.status == "rejected"
    assert report.record.error_code == code
    assert not report.record.applications


def test_spreadsheet_without_a_table_rejected(tmp_path: Path) -> None:
    sheet = Sheet("Sheet1", [["关于推荐数字产业集群的函"], ["省工业和信息化厅："], ["现将我市推荐名单报送如下。"]])
    path = write(tmp_path / "济南市推荐函.xlsx", sheet)
    report = check_file(path)
    assert report.exit_code == 1
    assert report.record.error_code == "no-table-found"
