"""The city's sheet in its review: copied from its package with everything the city made (issue 16),
only its own rows (issue 14), print-ready sheets, one colour legend, audiences (issue 13), and one
city's failure isolated from the others (issue 15).

Workbooks are written with xlsxwriter and openpyxl, read and decided by the real pipeline
(``batch.evaluate``), and the reviews re-opened with openpyxl and as zip packages.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from sdbatch.batch import RunOptions, evaluate
from sdbatch.model import RunResult
from sdbatch.programs.base import SheetSpec
from sdbatch.writers import printing, write_city_reviews
from sdbatch.writers._common import COLOURS
from sdbatch.writers.review import book, layout
from sdbatch.writers.xlsxpatch import PatchError, formula_is_local
from tests.builders import TYPICAL_COLUMNS, summary_sheet, valid_row, write

ROOT = Path(__file__).resolve().parent.parent
KEYS = [key for key, _ in TYPICAL_COLUMNS]
BEFORE_DEADLINE = dt.datetime(2024, 6, 20, 10, 0).timestamp()
GREEN = "C6EFCE"


def col(key: str) -> int:
    return KEYS.index(key)


def letter(key: str) -> str:
    return openpyxl.utils.get_column_letter(col(key) + 1)


def png() -> bytes:
    """A 1x1 PNG (enough for Excel and for the package's image part)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def decided(inbox: Path, programs: tuple[str, ...] = ("cluster_2024",)) -> RunResult:
    for path in inbox.iterdir():
        os.utime(path, (BEFORE_DEADLINE, BEFORE_DEADLINE))  # not late: no late-submission on every row
    return evaluate(inbox, RunOptions(programs=programs), run_id="20240629-220000",
                    started="2024-06-29T22:00:00+08:00")


def fill(cell: Any) -> str:
    return (cell.fill.fgColor.rgb or "")[-6:].upper() if cell.fill and cell.fill.fill_type == "solid" else ""


def sheet_xml(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")}


# ----------------------------------------------------------------------------- a workbook with a layout
LAYOUT_ROWS = [
    # row 3: the ratio is left empty and computed from the amounts: 1.0 % < 3 % (三(四)), marked on the amounts
    valid_row(1, rd_ratio=None, rd_expense=1.5, sales_revenue=150),
    valid_row(2, leader_firms=0),  # row 4: below 三(三)
    valid_row(3, phone="12345"),  # row 5: a warning
]
NOTE_ROW = 7  # hidden in the city's file, no finding: stays hidden
FORMULA_ROW = 5  # ip_total is a formula with a cached value


def layout_workbook(path: Path, image: Path) -> Path:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("汇总表")
    options = wb.add_worksheet("选项")
    options.write_column(0, 0, ["是", "否"])
    title = wb.add_format({"bold": True, "font_size": 16, "align": "center"})
    head = wb.add_format({"bold": True, "text_wrap": True, "border": 1, "bg_color": "#DDDDDD"})
    body = wb.add_format({"border": 1})
    ws.merge_range(0, 0, 0, len(KEYS) - 1, "济南市数字产业集群申报信息汇总表", title)
    for c, (_, text) in enumerate(TYPICAL_COLUMNS):
        ws.write_string(1, c, text, head)
    for r, row in enumerate(LAYOUT_ROWS, start=2):
        for c, key in enumerate(KEYS):
            if row.get(key) is not None:
                ws.write(r, c, row[key], body)
    ws.write_formula(FORMULA_ROW - 1, col("ip_total"), "=1000+600", body, 1600)
    ws.write_string(NOTE_ROW - 1, 0, "内部备注：仅供本市留存")
    ws.set_row(NOTE_ROW - 1, None, None, {"hidden": True})
    ws.set_column(col("name"), col("name"), 30)
    ws.set_row(1, 40)
    ws.freeze_panes(2, 4)
    ws.data_validation(2, col("industry"), 100, col("industry"),
                       {"validate": "list", "source": ["集成电路", "高端软件", "人工智能"]})
    ws.data_validation(2, col("legal_person"), 100, col("legal_person"),
                       {"validate": "list", "source": "=选项!$A$1:$A$2"})
    ws.conditional_format(2, col("revenue_total"), 100, col("revenue_total"),
                          {"type": "cell", "criteria": ">", "value": 100,
                           "format": wb.add_format({"font_color": "#9C0006"})})
    ws.insert_image("Z2", str(image))
    ws.write_comment(f"{letter('contact')}3", "本市联系人已核实", {"author": "济南市工信局"})
    wb.close()
    return path


@pytest.fixture()
def layout_review(tmp_path: Path) -> tuple[RunResult, Path, Path]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (tmp_path / "pixel.png").write_bytes(png())
    source = layout_workbook(inbox / "济南市数字产业集群申报信息汇总表.xlsx", tmp_path / "pixel.png")
    before = source.read_bytes()
    result = decided(inbox)
    paths = write_city_reviews(result, tmp_path / "run")
    assert source.read_bytes() == before  # inputs are never modified
    return result, paths["济南市"], source


def test_the_copy_keeps_merges_widths_heights_and_the_frozen_pane(layout_review):
    _, path, _ = layout_review
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == "汇总表" and "选项" not in wb.sheetnames
    ws = wb["汇总表"]
    assert f"A1:{letter('remarks')}1" in {str(r) for r in ws.merged_cells.ranges}
    assert ws.column_dimensions[letter("name")].width == pytest.approx(30, abs=1)
    assert ws.row_dimensions[2].height == pytest.approx(40, abs=0.5)
    assert ws.freeze_panes == "E3"
    assert ws["D3"].value == "示例1号数字产业集群"
    assert ws["A2"].font.b and fill(ws["A2"]) == "DDDDDD"  # the city's own formats


def test_data_validations_and_conditional_formats_survive_unless_they_point_elsewhere(layout_review):
    _, path, _ = layout_review
    ws = openpyxl.load_workbook(path)["汇总表"]
    formulas = [dv.formula1 for dv in ws.data_validations.dataValidation]
    assert any("集成电路" in (f or "") for f in formulas)
    assert not any("选项" in (f or "") for f in formulas)  # its list lived on a sheet the review leaves out
    ranges = [str(r.sqref) for r in ws.conditional_formatting]
    assert any(r.startswith(f"{letter('revenue_total')}3") for r in ranges)


def test_the_image_and_its_drawing_are_copied(layout_review):
    _, path, _ = layout_review
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert any(n.startswith("xl/media/") and n.endswith(".png") for n in names)
        types = zf.read("[Content_Types].xml").decode()
        sheet_rels = [n for n in names if n.startswith("xl/worksheets/_rels/")]
        drawing_rels = [zf.read(n).decode() for n in sheet_rels]
    assert any("relationships/drawing" in rels for rels in drawing_rels)
    assert "drawing+xml" in types and "vbaProject" not in types


def test_hidden_rows_stay_hidden_unless_a_finding_is_on_them(layout_review):
    _, path, _ = layout_review
    ws = openpyxl.load_workbook(path)["汇总表"]
    assert ws.row_dimensions[NOTE_ROW].hidden
    assert ws.cell(row=NOTE_ROW, column=1).value == "内部备注：仅供本市留存"


def test_no_formula_survives_and_its_cached_value_stays(layout_review):
    _, path, _ = layout_review
    wb = openpyxl.load_workbook(path)
    cell = wb["汇总表"][f"{letter('ip_total')}{FORMULA_ROW}"]
    assert cell.value == 1600 and cell.data_type == "n"
    for ws in wb.worksheets:
        assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row), ws.title
    for name, xml in sheet_xml(path).items():
        assert not re.search(rb"<(?:\w+:)?f[\s>/]", xml), name
    with zipfile.ZipFile(path) as zf:
        assert not any("calcChain" in n for n in zf.namelist())


def test_flagged_cells_have_their_fill_and_comment(layout_review):
    result, path, _ = layout_review
    ws = openpyxl.load_workbook(path)["汇总表"]
    leader = ws[f"{letter('leader_firms')}4"]
    assert fill(leader) == COLOURS["red"]
    assert "三(三)" in leader.comment.text and "原填报值：0" in leader.comment.text
    phone = ws[f"{letter('phone')}5"]
    assert fill(phone) == COLOURS["amber"] and "12345" in phone.comment.text
    assert fill(ws["D5"]) == ""  # the name of a row with a warning elsewhere is not coloured
    # a cell the city had commented on keeps its comment
    assert "本市联系人已核实" in ws[f"{letter('contact')}3"].comment.text
    # the cell format of a flagged cell is its own plus the fill (borders kept)
    assert leader.border.left.style == "thin"


def test_a_computed_failure_is_marked_on_the_cells_it_came_from(layout_review):
    result, path, _ = layout_review
    app = [a for a in result.applications if a.source.row == 3][0]
    assert any(f.field == "rd_ratio" and f.effect == "ineligible" for f in app.findings)
    ws = openpyxl.load_workbook(path)["汇总表"]
    for key in ("rd_expense", "sales_revenue"):
        cell = ws[f"{letter(key)}3"]
        assert fill(cell) == COLOURS["red"], key
        assert "研发投入占销售收入比重" in cell.comment.text and "计算" in cell.comment.text
    assert fill(ws["D3"]) == ""  # never red on the name while the amounts say nothing


def test_blue_only_for_converted_values(tmp_path: Path):
    """A value typed with its unit is blue; names, a 合计 row and a 填表说明 row never are."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    rows = [valid_row(1, revenue_total="1,205,000万元"), valid_row(2)]
    lay = summary_sheet(rows, extra_rows=[(2, ["合计", None, None, None, None, None, None, 240])],
                        notes=["填表说明：金额单位为亿元。"])
    write(inbox / "济南市数字产业集群申报信息汇总表.xlsx", lay.sheet)
    result = decided(inbox)
    path = write_city_reviews(result, tmp_path / "run")["济南市"]
    ws = openpyxl.load_workbook(path)["汇总表"]
    blue = {c.coordinate for row in ws.iter_rows() for c in row if fill(c) == COLOURS["blue"]}
    assert blue == {lay.cell("revenue_total", 0)}
    total_row, notes_row = lay.data_rows[-1] + 2, lay.data_rows[-1] + 3
    for r in (total_row, notes_row):
        assert all(fill(c) == "" for c in ws[r]), r


# ----------------------------------------------------------------------------- a city's own rows
def test_a_workbook_of_several_cities_gives_each_city_its_rows_only(tmp_path: Path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    rows = [valid_row(1, city="济南市", name="济南甲产业集群"), valid_row(2, city="青岛市", name="青岛乙产业集群"),
            valid_row(3, city="济南市", name="济南丙产业集群", leader_firms=0),
            valid_row(4, city="青岛市", name="青岛丁产业集群")]
    lay = summary_sheet(rows, title="山东省" + "数字产业集群申报信息汇总表")
    write(inbox / "省级汇总表.xlsx", lay.sheet)
    result = decided(inbox)
    paths = write_city_reviews(result, tmp_path / "run")
    for city, own, others in (("济南市", ("济南甲产业集群", "济南丙产业集群"), ("青岛乙产业集群", "青岛丁产业集群")),
                              ("青岛市", ("青岛乙产业集群", "青岛丁产业集群"), ("济南甲产业集群", "济南丙产业集群"))):
        wb = openpyxl.load_workbook(paths[city])
        ws = wb.worksheets[0]
        names = [ws.cell(row=r + 1, column=col("name") + 1).value for r in lay.data_rows]
        assert [n for n in names if n] == list(own)
        hidden = [r + 1 for r in lay.data_rows if ws.row_dimensions[r + 1].hidden]
        assert len(hidden) == 2
        assert ws.cell(row=lay.header_rows[0] + 1, column=col("name") + 1).value == "集群名称"
        with zipfile.ZipFile(paths[city]) as zf:  # nowhere in the package: cells, strings, comments
            blob = b"".join(zf.read(n) for n in zf.namelist())
        for name in others:
            assert name.encode() not in blob, (city, name)
    leader = openpyxl.load_workbook(paths["济南市"]).worksheets[0][lay.cell("leader_firms", 2)]
    assert fill(leader) == COLOURS["red"]


# ----------------------------------------------------------------------------- print-ready
def _readable(ws: Any) -> None:
    assert int(ws.page_setup.paperSize) == 9, ws.title
    widths = []
    last = ws.max_column
    for c in range(1, last + 1):
        dim = ws.column_dimensions.get(openpyxl.utils.get_column_letter(c))
        widths.append(dim.width if dim is not None and dim.width else 8.43)
    if ws.sheet_properties.pageSetUpPr is not None and ws.sheet_properties.pageSetUpPr.fitToPage:
        landscape = ws.page_setup.orientation == "landscape"
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0, ws.title
        scale = printing.printable_pixels(landscape) / sum(printing.column_pixels(w) for w in widths)
        font = 11.0
        assert scale >= 0.6 and scale * font >= 8 - 0.01, (ws.title, scale)
    else:
        assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.scale) >= 60, ws.title
        assert ws.print_title_cols, ws.title  # columns over several pages: the first ones repeated
    assert ws.oddHeader.center.text and "&P" in (ws.oddFooter.right.text or ""), ws.title
    assert ws.print_area, ws.title


def test_every_sheet_of_every_review_is_print_ready(layout_review, tmp_path: Path):
    result, path, _ = layout_review
    for sample_path in write_city_reviews(_samples_result(tmp_path), tmp_path / "samples_run").values():
        for ws in openpyxl.load_workbook(sample_path).worksheets:
            _readable(ws)
            if ws.title != "说明":
                assert ws.print_title_rows, (sample_path.name, ws.title)
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        _readable(ws)
    assert wb["汇总表"].print_title_rows == "$2:$2"


def _samples_result(tmp_path: Path) -> RunResult:
    inbox = tmp_path / "samples"
    shutil.copytree(ROOT / "samples" / "inbox", inbox)
    return evaluate(inbox, RunOptions(), run_id="20240629-220000", started="2024-06-29T22:00:00+08:00")


def test_summary_numbers_are_formatted_per_unit(layout_review):
    _, path, _ = layout_review
    ws = openpyxl.load_workbook(path)["审核结论"]
    headers = {c.value: c.column for c in ws[1]}
    formats = {title: ws.cell(row=2, column=column).number_format for title, column in headers.items()}
    assert formats["集群数字产业相关规上企业年营业收入总额（亿元）"] == "0.00"
    assert formats["研发投入占销售收入比重（%）"] == "0.00"
    assert formats["年营业收入10亿元以上领军企业数量（家）"] == "0"
    ratio = ws.cell(row=2, column=headers["研发投入占销售收入比重（%）"]).value
    assert ratio == pytest.approx(1.0)


def test_problem_list_lists_red_then_amber_and_its_rows_are_tall_enough(layout_review):
    _, path, _ = layout_review
    wb = openpyxl.load_workbook(path)
    ws = wb["问题清单"]
    headers = [c.value for c in ws[1]]
    rows = [dict(zip(headers, [c.value for c in row], strict=True)) for row in ws.iter_rows(min_row=2)]
    kinds = [r["类别"] for r in rows]
    assert kinds == sorted(kinds, key=["需更正", "请核实/专家研判"].index) and "需更正" in kinds
    assert "请核实/专家研判" in kinds
    category = headers.index("类别") + 1
    for r, row in enumerate(rows, start=2):
        assert fill(ws.cell(row=r, column=category)) == COLOURS["red" if row["类别"] == "需更正" else "amber"]
        problem = ws.cell(row=r, column=headers.index("问题") + 1)
        width = ws.column_dimensions[problem.column_letter].width
        needed = layout.lines_needed(problem.value, width)
        assert needed == 1 or (ws.row_dimensions[r].height or 15) >= needed * 11 * 1.3
    assert all(r["类别"] not in ("说明", "info") for r in rows)
    notes = wb["数据处理说明"]
    assert notes.max_row >= 2


# ----------------------------------------------------------------------------- formats of other kinds
def test_a_csv_is_rebuilt_with_its_marks_and_a_macro_workbook_leaves_as_xlsx(tmp_path: Path):
    inbox = tmp_path / "inbox"
    shutil.copytree(ROOT / "samples" / "inbox", inbox)
    result = evaluate(inbox, RunOptions(), run_id="20240629-220000", started="2024-06-29T22:00:00+08:00")
    paths = write_city_reviews(result, tmp_path / "run")
    with zipfile.ZipFile(paths["东营市"]) as zf:  # its file was an .xlsm
        names = zf.namelist()
        types = zf.read("[Content_Types].xml").decode()
    assert not any("vbaProject" in n for n in names) and "macroEnabled" not in types
    assert "spreadsheetml.sheet.main+xml" in types
    ws = openpyxl.load_workbook(paths["烟台市"]).worksheets[0]  # a CSV, rebuilt
    record = [r for r in result.files if r.city == "烟台市" and r.status == "processed"][0]
    assert ws.max_row >= len(record.table.sheet.rows)
    app = record.applications[0]
    marked = [f.source.cell for f in app.findings if f.source and f.source.cell and f.severity != "info"]
    for cell in marked:
        assert fill(ws[cell]) in (COLOURS["red"], COLOURS["amber"]) and ws[cell].comment is not None


# ----------------------------------------------------------------------------- degrading, isolation
def test_a_copy_that_fails_is_rebuilt_with_a_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    lay = summary_sheet([valid_row(1, leader_firms=0)])
    write(inbox / "济南市数字产业集群申报信息汇总表.xlsx", lay.sheet)
    result = decided(inbox)

    def broken(*_: Any, **__: Any) -> None:
        raise PatchError("odd XML")

    monkeypatch.setattr(book.xp, "patch_sheet", broken)
    path = write_city_reviews(result, tmp_path / "run")["济南市"]
    record = result.files[0]
    assert [f.code for f in record.findings].count("review-copy-rebuilt") == 1
    wb = openpyxl.load_workbook(path)
    ws = wb["汇总表"]
    assert ws[lay.cell("name")].value == "示例1号数字产业集群"
    assert fill(ws[lay.cell("leader_firms")]) == COLOURS["red"]
    notes = [[c.value for c in row] for row in wb["数据处理说明"].iter_rows(min_row=2)]
    assert any("未能按原格式复制" in str(n[-1]) for n in notes)


def test_a_bad_style_index_in_the_citys_package_is_repaired(tmp_path: Path):
    """A cell format index past the styles part (openpyxl raises IndexError on it) is written
    as the default format; flagged cells still get their fill."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    lay = summary_sheet([valid_row(1, leader_firms=0)])
    path = write(inbox / "济南市数字产业集群申报信息汇总表.xlsx", lay.sheet)
    result = decided(inbox)
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    sheet = next(n for n in parts if n.startswith("xl/worksheets/sheet"))
    for cell in (lay.cell("leader_firms"), lay.cell("city")):
        parts[sheet] = re.sub(rb'(<c r="' + cell.encode() + rb'")', rb'\1 s="999"', parts[sheet], count=1)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    result.files[0].size = path.stat().st_size
    review = write_city_reviews(result, tmp_path / "run")["济南市"]
    assert not result.review_failures
    ws = openpyxl.load_workbook(review)["汇总表"]  # no IndexError
    assert fill(ws[lay.cell("leader_firms")]) == COLOURS["red"]
    assert ws[lay.cell("city")].value == "济南市"
    assert not any(f.code == "review-copy-rebuilt" for f in result.files[0].findings)


def test_one_citys_failure_never_costs_another_city_its_review(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for city in ("济南市", "青岛市", "淄博市"):
        lay = summary_sheet([valid_row(1, city=city, name=f"{city[:2]}甲产业集群")], title=city + "汇总表")
        write(inbox / f"{city}数字产业集群申报信息汇总表.xlsx", lay.sheet)
    result = decided(inbox)
    real = book.write_review

    def failing(result: RunResult, city: str, path: Path) -> None:
        if city == "青岛市":
            raise KeyError("a bug")
        real(result, city, path)

    monkeypatch.setattr(book, "write_review", failing)
    paths = write_city_reviews(result, tmp_path / "run")
    assert set(paths) == {"济南市", "淄博市"}
    assert set(result.review_failures) == {"青岛市"} and "KeyError" in result.review_failures["青岛市"]
    assert not list((tmp_path / "run").glob("青岛市*"))
    for path in paths.values():
        assert openpyxl.load_workbook(path).sheetnames


def test_a_full_disk_stops_the_run_instead_of_costing_one_city_its_review(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch):
    import errno

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for city in ("济南市", "青岛市"):
        lay = summary_sheet([valid_row(1, city=city, name=f"{city[:2]}甲产业集群")], title=city + "汇总表")
        write(inbox / f"{city}数字产业集群申报信息汇总表.xlsx", lay.sheet)
    result = decided(inbox)

    def full(result: RunResult, city: str, path: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(book, "write_review", full)
    with pytest.raises(OSError):
        write_city_reviews(result, tmp_path / "run")
    assert not result.review_failures


def test_the_screen_shows_the_sentence_and_run_log_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from sdbatch.logsetup import attach_run_log, detach_run_log, setup_logging

    logger = setup_logging(None)
    log_path = attach_run_log(logger, tmp_path)
    try:
        raise KeyError("a bug")
    except KeyError:
        logger.exception("审核意见工作簿未能生成")
    detach_run_log(logger)
    screen = capsys.readouterr().err
    assert "审核意见工作簿未能生成" in screen and "Traceback" not in screen
    assert "Traceback" in log_path.read_text(encoding="utf-8")
    setup_logging(None, debug=True)
    try:
        raise KeyError("a bug")
    except KeyError:
        logger.exception("审核意见工作簿未能生成")
    assert "Traceback" in capsys.readouterr().err


# ----------------------------------------------------------------------------- audiences
def test_only_what_the_city_may_see(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from sdbatch import catalogue

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    lay = summary_sheet([valid_row(1, phone="12345", leader_firms=0)])
    write(inbox / "济南市数字产业集群申报信息汇总表.xlsx", lay.sheet)
    result = decided(inbox)
    monkeypatch.setitem(catalogue.entries()["invalid-phone"], "audience", "department")
    result.review_sheets["济南市"] = [
        SheetSpec("专家评分明细", ["专家", "得分"], [["专家甲", 91]], audience="department"),
        SheetSpec("证据核对", ["项目", "结论"], [["示例1号数字产业集群", "一致"]], audience="city")]
    path = write_city_reviews(result, tmp_path / "run")["济南市"]
    wb = openpyxl.load_workbook(path)
    assert "证据核对" in wb.sheetnames and "专家评分明细" not in wb.sheetnames
    shown = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                shown.append(str(cell.value or ""))
                if cell.comment is not None:
                    shown.append(cell.comment.text)
    everything = "\n".join(shown)
    assert "联系电话格式有误" not in everything and "专家甲" not in everything
    assert "三(三)" in everything  # what the city must fix is there
    ws = wb["汇总表"]
    assert fill(ws[lay.cell("phone")]) == "" and ws[lay.cell("phone")].comment is None


# ----------------------------------------------------------------------------- pieces
@pytest.mark.parametrize(("formula", "local"), [
    ('"集成电路,高端软件"', True), ("$A$1:$A$9", True), ("AND(A1>0,B2<5)", True), ("100", True),
    ("选项!$A$1:$A$2", False), ("'Other sheet'!A1", False), ("[1]Sheet1!A1", False), ("CityList", False),
    ("INDIRECT(CityList)", False), ("TRUE", True),
])
def test_rule_formulas_that_point_outside_the_sheet_are_recognised(formula: str, local: bool):
    assert formula_is_local(formula) == local


@pytest.mark.parametrize(("widths", "fit", "landscape"), [
    ([10] * 6, True, False), ([12] * 14, True, True), ([14] * 30, False, True)])
def test_page_choice_keeps_text_readable(widths: list[float], fit: bool, landscape: bool):
    choice = layout.choose_page(widths, 11)
    assert (choice.fit_width, choice.landscape) == (fit, landscape)
    assert choice.scale >= 73 or (choice.fit_width and choice.scale >= 73)


# ----------------------------------------------------------------------------- packages written otherwise
def _rewrite_sheet(path: Path, edit: Any) -> None:
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    sheet = next(n for n in parts if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n))
    parts[sheet] = edit(parts[sheet])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)


def _prefixed(xml: bytes) -> bytes:
    """The main namespace under a prefix (x:row, x:c), as some generators write it."""
    xml = xml.replace(b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
                      b'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"', 1)
    return re.sub(rb"<(/?)(?!\?)([A-Za-z][\w]*)([\s>/])", rb"<\1x:\2\3", xml)


def _without_cell_refs(xml: bytes) -> bytes:
    """Cells without their r attribute (placed one after another, as the schema allows), each row
    written from column A on."""
    def row(found: re.Match[bytes]) -> bytes:
        cells = re.findall(rb'<c r="([A-Z]+)\d+"', found.group(0))
        if cells and cells[0] != b"A":
            return found.group(0)  # a row starting further right keeps its references
        return re.sub(rb'<c r="[A-Z]+\d+"', b"<c", found.group(0))
    return re.sub(rb"<row [^>]*>.*?</row>", row, xml, flags=re.S)


def _single_quotes_and_order(xml: bytes) -> bytes:
    """Attributes in another order and quoted with apostrophes."""
    xml = re.sub(rb'<c r="([A-Z]+\d+)"( t="[a-zA-Z]+")?', lambda m: b"<c" + (m.group(2) or b"").replace(b'"', b"'")
                 + b" r='" + m.group(1) + b"'", xml)
    return re.sub(rb'<row r="(\d+)"', rb"<row spans='1:24' r='\1'", xml)


@pytest.mark.parametrize("variant", [_prefixed, _without_cell_refs, _single_quotes_and_order],
                         ids=["prefixed", "no-cell-refs", "quotes-and-order"])
def test_sheets_written_by_other_generators_are_copied_and_marked(tmp_path: Path, variant: Any):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    lay = summary_sheet([valid_row(1, leader_firms=0), valid_row(2, phone="12345")])
    path = write(inbox / "济南市数字产业集群申报信息汇总表.xlsx", lay.sheet)
    _rewrite_sheet(path, variant)
    result = decided(inbox)
    assert result.applications and result.files[0].status == "processed"
    review = write_city_reviews(result, tmp_path / "run")["济南市"]
    assert not any(f.code == "review-copy-rebuilt" for f in result.files[0].findings)
    ws = openpyxl.load_workbook(review)["汇总表"]
    assert ws[lay.cell("name")].value == "示例1号数字产业集群"
    assert fill(ws[lay.cell("leader_firms")]) == COLOURS["red"] and ws[lay.cell("leader_firms")].comment
    assert fill(ws[lay.cell("phone", 1)]) == COLOURS["amber"]
    assert fill(ws[lay.cell("name", 1)]) == ""


def test_a_citys_second_package_is_copied_with_its_own_formats(tmp_path: Path):
    """济南 sends its park and its cluster summaries: both sheets are copies, the second one with
    its formats, merges and marks (its styles appended to the first one's)."""
    result = _samples_result(tmp_path)
    path = write_city_reviews(result, tmp_path / "run")["济南市"]
    records = [r for r in result.files if r.city == "济南市" and r.status == "processed"]
    assert len(records) == 2 and all(r.kind == "xlsx" for r in records)
    assert not any(f.code == "review-copy-rebuilt" for r in records for f in r.findings)
    wb = openpyxl.load_workbook(path)
    for record, ws in zip(records, wb.worksheets[:2], strict=True):
        source = openpyxl.load_workbook(record.path)[record.sheet]
        assert {str(m) for m in ws.merged_cells.ranges} == {str(m) for m in source.merged_cells.ranges}
        header = record.table.header_rows[0] + 1
        for c in range(1, 6):
            theirs, ours = source.cell(row=header, column=c), ws.cell(row=header, column=c)
            assert (ours.value, ours.font.b, ours.border.left.style) == (theirs.value, theirs.font.b,
                                                                         theirs.border.left.style)
        marked = [c for row in ws.iter_rows() for c in row if fill(c) in (COLOURS["red"], COLOURS["amber"])]
        assert marked and all(c.comment is not None for c in marked)


def test_exactly_one_tab_is_selected(tmp_path: Path):
    """Two selected tabs open as a group in Excel, where one edit changes both sheets."""
    result = _samples_result(tmp_path)
    for path in write_city_reviews(result, tmp_path / "run").values():
        selected = [ws.title for ws in openpyxl.load_workbook(path).worksheets
                    if any(view.tabSelected for view in ws.views.sheetView)]
        assert len(selected) == 1 and selected[0] == openpyxl.load_workbook(path).sheetnames[0], path.name


def test_an_excel_table_is_copied_without_its_formulas(tmp_path: Path):
    import xlsxwriter

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = inbox / "济南市数字产业集群申报信息汇总表.xlsx"
    rows = [valid_row(1, leader_firms=0), valid_row(2)]
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("汇总表")
    ws.write_string(0, 0, "济南市数字产业集群申报信息汇总表")
    columns = [{"header": text} for _, text in TYPICAL_COLUMNS]
    columns[col("remarks")] = {"header": "备注", "formula": '="核实"'}
    ws.add_table(1, 0, 1 + len(rows), len(KEYS) - 1, {
        "columns": columns, "style": "Table Style Medium 2",
        "data": [[row.get(k) for k in KEYS] for row in rows]})
    wb.close()
    result = decided(inbox)
    review = write_city_reviews(result, tmp_path / "run")["济南市"]
    with zipfile.ZipFile(review) as zf:
        tables = [zf.read(n) for n in zf.namelist() if "/tables/" in n]
    assert len(tables) == 1 and b"calculatedColumnFormula" not in tables[0]
    ws = openpyxl.load_workbook(review)["汇总表"]
    assert list(ws.tables) and fill(ws[f"{letter('leader_firms')}3"]) == COLOURS["red"]
    for xml in sheet_xml(review).values():
        assert not re.search(rb"<(?:\w+:)?f[\s>/]", xml)


def test_dates_follow_the_workbooks_date_system():
    from sdbatch.writers.xlsxpatch import serial

    day = dt.date(2024, 1, 1)
    assert serial(day) == 45292 and serial(day, date1904=True) == 45292 - 1462
    assert serial(dt.datetime(2024, 1, 1, 12)) == pytest.approx(45292.5)


@pytest.mark.parametrize("bad", ["NaN", "INF", "-inf", "-3", "1e9"])  # what a reader takes for a number
def test_a_width_that_is_not_one_is_read_and_copied_as_a_width(bad: str, tmp_path: Path) -> None:
    """A column width or default width that is no width (make fuzz seed 26: a bit-flipped
    ``width="NaN"`` left the print plan unable to size the copy, and the city without its review):
    the review is written, and its copy declares real widths, 0 to 255, nowhere ``NaN``."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = inbox / "济南市数字产业集群申报信息汇总表.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "汇总表"
    for c, width in enumerate([6, 30, 12, 18], start=1):
        ws.column_dimensions[openpyxl.utils.get_column_letter(c)].width = width
    layout = summary_sheet([valid_row(1), valid_row(2)])
    for row in layout.sheet.rows:
        ws.append(row)
    wb.save(path)
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"]
    xml, n = re.subn(rb'(<col [^>]*?width=")[^"]*(")', lambda m: m.group(1) + bad.encode() + m.group(2), xml, count=2)
    assert n == 2
    xml, n = re.subn(rb"<sheetFormatPr ", b'<sheetFormatPr defaultColWidth="' + bad.encode() + b'" ', xml)
    assert n == 1
    parts["xl/worksheets/sheet1.xml"] = xml
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)

    result = decided(inbox)
    written = write_city_reviews(result, tmp_path / "out")
    assert not getattr(result, "review_failures", None)
    review = written["济南市"]
    copy = next(x for n, x in sheet_xml(review).items() if b"<cols" in x)
    widths = [float(w) for w in re.findall(rb'<col [^>]*?width="([^"]*)"', copy)]
    default = re.search(rb'defaultColWidth="([^"]*)"', copy)
    assert widths and all(0 <= w <= 255 for w in widths), widths
    assert default is None or 0 <= float(default.group(1)) <= 255
    assert b"NaN" not in copy and b"inf" not in copy.lower()
    assert [r.status for r in result.files] == ["processed"] and len(result.applications) == 2
    assert not any(f.code == book.REBUILT for r in result.files for f in r.findings)  # copied, not rebuilt
    first = openpyxl.load_workbook(review).worksheets[0]
    assert first.column_dimensions["C"].width == 12 and first.column_dimensions["D"].width == 18


# ----------------------------------------------------------------------------- the copy's own patterns
PATHOLOGICAL_ROWS = {  # a row, a cell, a part that leaves elements open for a megabyte
    "cells left open": b'<c r="A9" t="inlineStr"><is><t>1' * (1 << 15),
    "cells never ending their tag": b'<c r="A9" s="1" ' * (1 << 16),
    "formulas left open": b'<f t="shared" ref="A1:A9">1+' * (1 << 15),
    "values left open": b"<v>1" * (1 << 17) + b"<v a" * (1 << 17),
    "prefixed cells left open": b'<x:c r="A9"><x:v>1</x:v>' * (1 << 15),
    "external data left open": b'<c:externalData r:id="rId1">' * (1 << 15),
    "rule formulas left open": b'<formula a="1">A1<b/>' * (1 << 15),
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL_ROWS))
def test_the_copys_patterns_are_linear_in_xml_that_never_closes_an_element(name: str) -> None:
    """The copy finds cells, formulas, cached values and embedded-data links by patterns.  Their
    content ran to the next end tag of their kind: in XML that leaves such elements open every
    attempt ran to the end of the row or part, quadratic in its length (8,000 open cells of one row
    took seconds).  A tag now ends at the next "<" and content stops at the next start of its own
    kind.  Were they quadratic again, this test would not end."""
    from sdbatch.writers import xlsxpatch

    data = PATHOLOGICAL_ROWS[name]
    for p in (b"", rb"x:"):
        cell, formula, value = xlsxpatch._cell_patterns(p)
        assert cell.findall(data) == []  # no cell is ever closed
        assert formula.sub(b"", data) == data and len(value.findall(data)) <= data.count(b"</" + p + b"v>")
    assert xlsxpatch._EXTERNAL_DATA.sub(b"", data) == data
    assert not xlsxpatch._rules_local(data) or b"formula" not in data


def test_the_copys_patterns_read_cells_as_excel_and_other_writers_spell_them() -> None:
    from sdbatch.writers import xlsxpatch

    cell, formula, value = xlsxpatch._cell_patterns(b"")
    row = (b'<c r="A1" s="2"/><c r="B1" t="s"><v>7</v></c><c r="C1"><f>SUM(A1:B1)</f><v>3</v></c>'
           b'<c r="D1" t="inlineStr"><is><r><rPr><color rgb="FF0000"/></rPr><t>x&lt;y</t></r></is></c >')
    found = [(m.group(1), m.group(3)) for m in cell.finditer(row)]
    assert found == [(b' r="A1" s="2"', None), (b' r="B1" t="s"', b"<v>7</v>"),
                     (b' r="C1"', b"<f>SUM(A1:B1)</f><v>3</v>"),
                     (b' r="D1" t="inlineStr"', b'<is><r><rPr><color rgb="FF0000"/></rPr><t>x&lt;y</t></r></is>')]
    assert formula.sub(b"", b'<f t="shared" si="0"/><f>A1</f><v>3</v>') == b"<v>3</v>"
    assert value.search(b'<v xml:space="preserve"> 3 </v>').group(1) == b" 3 "  # type: ignore[union-attr]
    cell_x, _, value_x = xlsxpatch._cell_patterns(b"x:")
    assert cell_x.search(b'<x:c r="A1"><x:v>1</x:v></x:c>').group(3) == b"<x:v>1</x:v>"  # type: ignore[union-attr]
    assert xlsxpatch._EXTERNAL_DATA.sub(b"", b'<c:chart/><c:externalData r:id="rId3"><c:autoUpdate val="0"/>'
                                             b"</c:externalData><c:x/>") == b"<c:chart/><c:x/>"
