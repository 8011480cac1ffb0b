"""Bounded work for any input, on the reading side (issue 15 item 2).

Each test writes its hostile file itself: a merged range over a whole sheet, a single value far
away, a declared dimension over the whole sheet, duration and time cells, characters an Excel
cell cannot hold, numbers that are not finite.  Reading must cost in proportion to the cells
that hold something (asserted on the structures built, never on time), keep what the later
stages and ``json.dumps`` can carry, and say what it changed with a finding.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from sdbatch import settings
from sdbatch.batch import RunOptions, run_batch
from sdbatch.catalogue import text
from sdbatch.model import FileRejected, RawSheet, RawWorkbook
from sdbatch.reading import read_workbook
from sdbatch.reading.cells import duration_text
from sdbatch.reading.limits import full_read_ok, parse_range
from tests.decision_builders import COLUMNS, NOW, city_file, header_label, row, write_workbook
from tests.test_hostile import replace_members, zipfile_members

SHEET = "xl/worksheets/sheet1.xml"


# ----------------------------------------------------------------------------- builders
def city_xlsx(path: Path, city: str = "济南市") -> Path:
    """An ordinary city workbook: a title row, the header row, two applications (4 rows x 22 columns)."""
    return write_workbook(path, [row(city=city, name=f"{city}甲产业集群"), row(city=city, name=f"{city}乙产业集群")])


def patch_sheet(path: Path, change: Any) -> Path:
    """Rewrite the first worksheet's XML of ``path`` with ``change(bytes) -> bytes``."""
    data = path.read_bytes()
    path.write_bytes(replace_members(data, {SHEET: change(zipfile_members(data)[SHEET])}))
    return path


def with_merges(*refs: str) -> Any:
    merges = "".join(f'<mergeCell ref="{ref}"/>' for ref in refs)
    block = f'</sheetData><mergeCells count="{len(refs)}">{merges}</mergeCells>'.encode()
    return lambda xml: xml.replace(b"</sheetData>", block)


def with_far_cell(cell: bytes) -> Any:
    """Append ``cell`` (a whole ``<c …>…</c>`` element) in its own row, after the content."""
    found = re.search(rb'r="[A-Z]+([0-9]+)"', cell)
    assert found
    return lambda xml: xml.replace(b"</sheetData>", b'<row r="' + found.group(1) + b'">' + cell + b"</row></sheetData>")


def prefixed(xml: bytes) -> bytes:
    """The same sheet with every element in a prefixed namespace (x:), as some tools write it."""
    xml = xml.replace(b'xmlns="http://schemas.openxmlformats.org', b'xmlns:x="http://schemas.openxmlformats.org', 1)
    return re.sub(rb"<(/?)(?=[A-Za-z])", rb"<\1x:", xml)


def cells_held(sheet: RawSheet) -> int:
    """What a sheet costs: every cell slot of its rows."""
    return sum(len(r) for r in sheet.rows)


def only_sheet(raw: RawWorkbook) -> RawSheet:
    assert len(raw.sheets) == 1
    return raw.sheets[0]


def codes(raw: RawWorkbook) -> list[str]:
    return [n.code for n in raw.notes]


def strict_json(path: Path) -> Any:
    """results.json as strict JSON: NaN, Infinity and -Infinity are refused."""
    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


@pytest.fixture(params=["full", "streamed"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both xlsx paths: openpyxl's full mode, and python-calamine for files above the size rule."""
    if request.param == "streamed":
        monkeypatch.setattr(settings, "FULL_READ_MAX_BYTES", 0)
    return str(request.param)


# ----------------------------------------------------------------------------- merged ranges
@pytest.mark.parametrize(("ref", "declared", "outcome"), [
    ("A1:XFD1048576", (0, 0, 1048575, 16383), "merged-range-ignored"),     # the whole sheet, over the table
    ("A3:V1048576", (2, 0, 1048575, 21), "merged-range-ignored"),          # the data rows, to the bottom
    ("A1:A1048576", (0, 0, 1048575, 0), "merged-range-ignored"),           # the first column, to the bottom
    ("A1:XFD1", (0, 0, 0, 16383), "merged-range-clipped"),                 # the title, across every column
    ("Z5000:XFD1048576", (4999, 25, 1048575, 16383), "merged-range-ignored"),  # nothing read is under it
])
def test_a_merged_range_reaching_far_costs_what_the_values_cost(
        tmp_path: Path, mode: str, ref: str, declared: tuple[int, int, int, int], outcome: str) -> None:
    plain = city_xlsx(tmp_path / "plain.xlsx")
    expected = only_sheet(read_workbook(plain))
    path = tmp_path / "merged.xlsx"
    path.write_bytes(plain.read_bytes())
    patch_sheet(path, with_merges(ref))
    assert parse_range(ref) == declared
    sheet = only_sheet(raw := read_workbook(path))
    assert sheet.rows == expected.rows  # the values are what they are without the range
    assert len(sheet.rows) == 4 and cells_held(sheet) <= 4 * 22
    assert all(r1 < 4 and c1 < 22 for _, _, r1, c1 in sheet.merged)
    notes = [n for n in raw.notes if n.code.startswith("merged-range")]
    assert [n.code for n in notes] == [outcome]
    r0, c0, r1, c1 = declared
    assert notes[0].params["sheet"] == "汇总表"
    assert notes[0].params["range"] == ref.replace("$", "")
    first = f"{openpyxl.utils.get_column_letter(c0 + 1)}{r0 + 1}"
    assert notes[0].source is not None
    if outcome == "merged-range-clipped":  # clipped to the values: the city sees the range at its first cell
        assert sheet.merged == [(r0, c0, min(r1, 3), min(c1, 21))] and notes[0].source.cell == first
    else:  # drawn over the table (shown at its first cell), or past everything read
        assert sheet.merged == []
        assert notes[0].source.cell == (None if r0 >= 4 else first)
    assert ("streamed-read" in codes(raw)) == (mode == "streamed")


@pytest.mark.parametrize("refs", [("A1:XFD1048576",), ("$A$1:$XFD$1048576",), ("A1:XFD1", "A2:XFD2", "C3:C99999")])
def test_far_merges_in_other_spellings(tmp_path: Path, refs: tuple[str, ...]) -> None:
    # every element in a prefixed namespace; absolute references; several far ranges
    path = patch_sheet(city_xlsx(tmp_path / "prefixed.xlsx"), lambda xml: prefixed(with_merges(*refs)(xml)))
    sheet = only_sheet(raw := read_workbook(path))
    assert len(sheet.rows) == 4 and cells_held(sheet) <= 4 * 22
    assert all(r1 < 4 and c1 < 22 for _, _, r1, c1 in sheet.merged)
    assert len([c for c in codes(raw) if c.startswith("merged-range")]) == len(refs)


def test_an_ordinary_merge_near_the_values_is_kept_without_a_finding(tmp_path: Path) -> None:
    # a notes block merged a few rows below its text, a title over the table: nothing to say
    path = patch_sheet(city_xlsx(tmp_path / "ordinary.xlsx"), with_merges("A1:V1", "A6:V9"))
    sheet = only_sheet(raw := read_workbook(path))
    assert sorted(sheet.merged) == [(0, 0, 0, 21), (5, 0, 8, 21)]
    assert not [c for c in codes(raw) if c.startswith("merged-range")]
    assert full_read_ok(path)


def test_too_many_merged_ranges_are_ignored_past_the_limit(tmp_path: Path, mode: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "MAX_MERGED_RANGES", 50)
    refs = [f"{openpyxl.utils.get_column_letter(c + 1)}{r + 1}" for r in range(3, 4) for c in range(22)] * 6
    path = patch_sheet(city_xlsx(tmp_path / "many.xlsx"), with_merges(*refs))  # 132 one-cell ranges
    sheet = only_sheet(raw := read_workbook(path))
    assert len(sheet.merged) == 50
    [over] = [n for n in raw.notes if n.code == "merged-range-ignored"]
    assert over.params["range"] == text("reading.more_ranges", count=132 - 50)


def test_merged_cells_beyond_the_cell_budget_are_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "MAX_MERGED_CELLS", 30)
    path = patch_sheet(city_xlsx(tmp_path / "budget.xlsx"), with_merges("A1:V1", "A3:V3", "A4:B4"))
    sheet = only_sheet(raw := read_workbook(path))
    assert sheet.merged == [(0, 0, 0, 21), (3, 0, 3, 1)]  # 22 + 2 cells; the third range would pass 30
    assert [n.code for n in raw.notes] == ["merged-range-ignored"]


def test_review_writer_does_not_load_a_file_whose_merges_are_too_costly(tmp_path: Path) -> None:
    plain = city_xlsx(tmp_path / "plain.xlsx")
    assert full_read_ok(plain)
    assert not full_read_ok(patch_sheet(city_xlsx(tmp_path / "merged.xlsx"), with_merges("A1:XFD1048576")))


@pytest.mark.parametrize(("rows", "cols", "outcome", "kept"), [
    (65535, 255, "merged-range-ignored", []),                   # the whole sheet, over the table
    (0, 255, "merged-range-clipped", [(0, 0, 0, 1)]),           # the title, across every column
])
def test_a_far_merge_in_an_xls(tmp_path: Path, rows: int, cols: int, outcome: str,
                               kept: list[tuple[int, int, int, int]]) -> None:
    import struct

    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("汇总表")
    sheet.write_merge(0, 0, 0, 1, "济南市汇总表")
    for r, line in enumerate([["所在市", "集群名称"], ["济南市", "某集群"]], start=1):
        for c, value in enumerate(line):
            sheet.write(r, c, value)
    book.save(str(tmp_path / "m.xls"))
    record = struct.pack("<HHHHHHH", 0xE5, 10, 1, 0, 0, 0, 1)  # MERGEDCELLS: one range, A1:B1
    data = (tmp_path / "m.xls").read_bytes()
    assert data.count(record) == 1
    (tmp_path / "m.xls").write_bytes(data.replace(record, struct.pack("<HHHHHHH", 0xE5, 10, 1, 0, rows, 0, cols)))
    sheet_read = only_sheet(raw := read_workbook(tmp_path / "m.xls"))
    assert sheet_read.rows == [["济南市汇总表"], ["所在市", "集群名称"], ["济南市", "某集群"]]
    assert sheet_read.merged == kept
    assert codes(raw) == [outcome]


def test_an_html_table_with_huge_spans_fills_only_the_values_rectangle(tmp_path: Path) -> None:
    path = tmp_path / "网页.xls"
    path.write_text(
        "<table><tr><td colspan=500>济南市汇总表</td></tr><tr><td>所在市</td><td rowspan=150000>集群名称</td></tr>"
        "<tr><td>济南市</td></tr></table>", encoding="utf-8")
    sheet = only_sheet(raw := read_workbook(path))
    assert sheet.rows == [["济南市汇总表"] * 2, ["所在市", "集群名称"], ["济南市", "集群名称"]]
    assert codes(raw) == ["merged-range-clipped"]  # the title; a rowspan past the last row is cut as browsers do


# ----------------------------------------------------------------------------- far-away cells
FAR = [
    b'<c r="B99999" t="inlineStr"><is><t>x</t></is></c>',
    b'<c t="inlineStr" s="0" r="B99999"><is><t>x</t></is></c>',  # the reference not first
    b'<c r="B99999"><v>5</v></c>',
]


@pytest.mark.parametrize("cell", FAR, ids=["text", "reference-last", "number"])
def test_a_single_far_cell_costs_one_cell(tmp_path: Path, mode: str, cell: bytes) -> None:
    path = patch_sheet(city_xlsx(tmp_path / "far.xlsx"), with_far_cell(cell))
    sheet = only_sheet(read_workbook(path))
    assert len(sheet.rows) == 99999
    assert sum(1 for r in sheet.rows if r) == 5  # the four rows of the table and the far one
    assert cells_held(sheet) <= 4 * 22 + 2  # B99999 holds A99999 (empty) and itself
    assert sheet.rows[-1][1] in ("x", 5)
    assert not full_read_ok(path)  # the review writer rebuilds the sheet from the values


@pytest.mark.parametrize("cell", [
    b'<c r="W1048576" t="inlineStr"><is><t>x</t></is></c>',
    b'<c t="inlineStr" r="W1048576"><is><t>x</t></is></c>',  # seen by the scan whatever the attribute order
    b'<x:c xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" r="W1048576"><x:v>1</x:v></x:c>',
])
def test_values_past_the_row_limit_are_refused_before_reading(tmp_path: Path, cell: bytes) -> None:
    path = patch_sheet(city_xlsx(tmp_path / "far.xlsx"), with_far_cell(cell))
    with pytest.raises(FileRejected) as caught:
        read_workbook(path)
    assert caught.value.code == "file-too-large"
    assert "1048576" in caught.value.params["detail"]


def test_a_value_past_the_column_limit_is_refused_not_cut(tmp_path: Path) -> None:
    path = patch_sheet(city_xlsx(tmp_path / "wide.xlsx"), with_far_cell(b'<c r="ZZ9"><v>1</v></c>'))
    with pytest.raises(FileRejected) as caught:
        read_workbook(path)
    assert caught.value.code == "file-too-large"


def test_a_declared_dimension_over_the_whole_sheet_costs_nothing(tmp_path: Path, mode: str) -> None:
    def declare(xml: bytes) -> bytes:
        return re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="A1:XFD1048576"/>', xml)

    path = patch_sheet(city_xlsx(tmp_path / "dimension.xlsx"), declare)
    assert b"XFD1048576" in zipfile_members(path.read_bytes())[SHEET]
    sheet = only_sheet(read_workbook(path))
    assert len(sheet.rows) == 4 and cells_held(sheet) <= 4 * 22
    assert full_read_ok(path) == (mode == "full")


def test_a_styled_empty_cell_far_away_keeps_the_review_from_loading_the_file(tmp_path: Path) -> None:
    path = patch_sheet(city_xlsx(tmp_path / "styled.xlsx"), with_far_cell(b'<c r="V99999" s="0"/>'))
    assert len(only_sheet(read_workbook(path)).rows) == 4
    assert not full_read_ok(path)  # openpyxl would walk 99,999 x 22 cells to copy it


def test_a_far_cell_in_a_csv_costs_its_rows_only(tmp_path: Path) -> None:
    path = tmp_path / "济南市汇总表.csv"
    path.write_text("所在市,集群名称\n济南市,某集群\n" + "\n" * 99990 + ",x\n", encoding="utf-8")
    sheet = only_sheet(read_workbook(path))
    assert sum(1 for r in sheet.rows if r) == 3 and cells_held(sheet) <= 6


def test_a_csv_longer_than_the_row_limit_is_refused_not_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "MAX_ROWS", 100)
    path = tmp_path / "长表.csv"
    path.write_text("所在市,集群名称\n" + "济南市,某集群\n" * 150, encoding="utf-8")
    with pytest.raises(FileRejected) as caught:
        read_workbook(path)
    assert caught.value.code == "file-too-large"
    path.write_text("所在市,集群名称\n济南市,某集群\n" + "\n" * 500, encoding="utf-8")  # blank lines are fine
    assert len(only_sheet(read_workbook(path)).rows) == 2


# ----------------------------------------------------------------------------- durations, times, dates
def timed_xlsx(path: Path, engine: str) -> Path:
    """A sheet with a duration (36:15:00), a time of day, a date and a date-time."""
    values = [dt.timedelta(hours=36, minutes=15), dt.time(12, 30), dt.date(2024, 1, 5), dt.datetime(2024, 1, 5, 10, 0)]
    formats = ["[h]:mm:ss", "h:mm", "yyyy-mm-dd", "yyyy-mm-dd hh:mm"]
    if engine == "openpyxl":
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(["耗时", "时间", "日期", "时刻"])
        ws.append(values)
        for col, fmt in enumerate(formats, start=1):
            ws.cell(row=2, column=col).number_format = fmt
        wb.save(path)
    else:
        import xlsxwriter

        book = xlsxwriter.Workbook(str(path))
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, ["耗时", "时间", "日期", "时刻"])
        serials = [1.5104166666666667, 0.5208333333333334]  # xlsxwriter writes durations as day fractions
        for col, (serial, fmt) in enumerate(zip(serials, formats[:2], strict=True)):
            sheet.write_number(1, col, serial, book.add_format({"num_format": fmt}))
        for col, (value, fmt) in enumerate(zip(values[2:], formats[2:], strict=True), start=2):
            sheet.write_datetime(1, col, value, book.add_format({"num_format": fmt}))
        book.close()
    return path


@pytest.mark.parametrize("engine", ["openpyxl", "xlsxwriter"])
def test_durations_times_and_dates_are_plain_values(tmp_path: Path, mode: str, engine: str) -> None:
    sheet = only_sheet(read_workbook(timed_xlsx(tmp_path / "时间.xlsx", engine)))
    duration, clock, day, moment = sheet.rows[1]
    assert duration == "36:15:00"  # as Excel shows [h]:mm:ss, not a timedelta
    assert clock in (dt.time(12, 30), "12:30:00")
    assert day in (dt.datetime(2024, 1, 5), dt.date(2024, 1, 5))  # openpyxl: a datetime; calamine: a date
    assert moment == dt.datetime(2024, 1, 5, 10, 0)
    json.dumps(sheet.rows, default=lambda v: v.isoformat())  # nothing but dates needs help


def test_durations_in_xls_and_ods(tmp_path: Path) -> None:
    import xlwt
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet("S")
    ws.write(0, 0, "耗时")
    ws.write(1, 0, 1.5104166666666667, xlwt.easyxf(num_format_str="[h]:mm:ss"))
    ws.write(2, 0, -0.0208333333333333, xlwt.easyxf(num_format_str="[mm]:ss"))
    book.save(str(tmp_path / "t.xls"))
    assert [r[0] for r in only_sheet(read_workbook(tmp_path / "t.xls")).rows] == ["耗时", "36:15:00", "-0:30:00"]

    doc = OpenDocumentSpreadsheet()
    table = Table(name="S")
    for cell in (TableCell(valuetype="string"), TableCell(valuetype="time", timevalue="PT36H15M00S")):
        cell.addElement(P(text="x"))
        line = TableRow()
        line.addElement(cell)
        table.addElement(line)
    doc.spreadsheet.addElement(table)
    doc.save(str(tmp_path / "t.ods"))
    assert only_sheet(read_workbook(tmp_path / "t.ods")).rows == [["x"], ["36:15:00"]]


@pytest.mark.parametrize(("delta", "shown"), [
    (dt.timedelta(hours=36, minutes=15), "36:15:00"),
    (dt.timedelta(seconds=59.6), "0:01:00"),
    (dt.timedelta(days=400), "9600:00:00"),
    (-dt.timedelta(minutes=30), "-0:30:00"),
])
def test_duration_text(delta: dt.timedelta, shown: str) -> None:
    assert duration_text(delta) == shown


# ----------------------------------------------------------------------------- characters Excel cannot hold
def test_control_characters_are_removed_with_a_finding_at_the_cell(tmp_path: Path) -> None:
    path = tmp_path / "济南市汇总表.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([header_label(c) + ("\x01" if c == "name" else "") for c in COLUMNS])
        writer.writerow([row(city="济南市", name="济南\x02控制\x1f字符集群").get(c) for c in COLUMNS])
    raw = read_workbook(path)
    sheet = only_sheet(raw)
    name_col = COLUMNS.index("name")
    assert sheet.rows[0][name_col] == header_label("name") and sheet.rows[1][name_col] == "济南控制字符集群"
    found = [(n.code, n.source.cell if n.source else None) for n in raw.notes]
    cell = openpyxl.utils.get_column_letter(name_col + 1)
    assert found == [("illegal-characters-removed", f"{cell}1"), ("illegal-characters-removed", f"{cell}2")]
    assert not any(re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", str(v)) for line in sheet.rows for v in line)


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "html"])
def test_control_characters_in_every_format(tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if fmt == "xlsx":  # Excel escapes them as _x0001_; python-calamine gives the character back
        path = tmp_path / "c.xlsx"
        wb = openpyxl.Workbook()
        wb.active.append(["所在市", "placeholder"])
        wb.save(path)
        patch_sheet(path, lambda xml: xml.replace(b"placeholder", b"a_x0001_b"))
        monkeypatch.setattr(settings, "FULL_READ_MAX_BYTES", 0)
    elif fmt == "xls":
        import xlwt

        path = tmp_path / "c.xls"
        book = xlwt.Workbook(encoding="utf-8")
        sheet = book.add_sheet("S")
        sheet.write(0, 0, "所在市")
        sheet.write(0, 1, "a\x01b")
        book.save(str(path))
    else:
        path = tmp_path / "c.xls"
        path.write_text("<table><tr><td>所在市</td><td>a\x01b</td></tr></table>", encoding="utf-8")
    raw = read_workbook(path)
    assert only_sheet(raw).rows[0] == ["所在市", "ab"]
    found = [(n.code, n.source.cell if n.source else None) for n in raw.notes if n.code != "streamed-read"]
    assert found == [("illegal-characters-removed", "B1")]


def test_findings_about_control_characters_stop_at_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "许多.csv"
    note = "说明" * 60  # a control character now and then: still text, not a binary file
    path.write_text("所在市,备注\n" + "".join(f"济南市,第{i}\x07行{note}\n" for i in range(30)), encoding="utf-8")
    notes = read_workbook(path).notes
    assert len(notes) == settings.MAX_CELL_NOTES + 1
    assert [n.source.cell for n in notes[:3] if n.source] == ["B2", "B3", "B4"]
    assert notes[-1].params["cell"] == text("reading.more_cells", count=30 - settings.MAX_CELL_NOTES)


# ----------------------------------------------------------------------------- numbers that are not finite
def numeric_xlsx(path: Path, written: bytes) -> Path:
    wb = openpyxl.Workbook()
    wb.active.append(["所在市", "数值"])
    wb.active.append(["济南市", 2])
    wb.save(path)
    return patch_sheet(path, lambda xml: xml.replace(b"<v>2</v>", b"<v>" + written + b"</v>"))


@pytest.mark.parametrize("written", [b"1E999", b"-1e400"])
def test_overflowing_numbers_read_as_an_error_value(tmp_path: Path, mode: str, written: bytes) -> None:
    assert only_sheet(read_workbook(numeric_xlsx(tmp_path / "n.xlsx", written))).rows[1] == ["济南市", "#NUM!"]


@pytest.mark.parametrize("written", [b"NaN", b"inf", b"-Infinity"])
def test_nan_and_infinity_cells(tmp_path: Path, written: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    path = numeric_xlsx(tmp_path / "n.xlsx", written)
    raw = read_workbook(path)  # openpyxl refuses the workbook; its values are read by python-calamine
    assert only_sheet(raw).rows[1] == ["济南市", "#NUM!"]
    assert [n.code for n in raw.notes if n.code == "formats-not-read"] == ["formats-not-read"]
    monkeypatch.setattr(settings, "FULL_READ_MAX_BYTES", 0)  # python-calamine reads them as floats
    assert only_sheet(read_workbook(path)).rows[1] == ["济南市", "#NUM!"]


def test_nan_in_xls_and_xml2003(tmp_path: Path) -> None:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("S")
    for col, value in enumerate(["所在市", float("nan"), float("inf"), float("-inf")]):
        sheet.write(0, col, value)
    book.save(str(tmp_path / "n.xls"))
    assert only_sheet(read_workbook(tmp_path / "n.xls")).rows == [["所在市", "#NUM!", "#NUM!", "#NUM!"]]
    xml = (
        '<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
        'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="S"><Table><Row>'
        '<Cell><Data ss:Type="String">所在市</Data></Cell><Cell><Data ss:Type="Number">INF</Data></Cell>'
        '<Cell><Data ss:Type="Number">nan</Data></Cell></Row></Table></Worksheet></Workbook>'
    )
    (tmp_path / "n2.xls").write_text(xml, encoding="utf-8")
    assert only_sheet(read_workbook(tmp_path / "n2.xls")).rows == [["所在市", "#NUM!", "#NUM!"]]


# ----------------------------------------------------------------------------- the whole run
def test_an_inbox_of_hostile_files_publishes_every_city(tmp_path: Path) -> None:
    """One good city and one file per hostile kind: each read (or rejected) with its reason, the
    review workbooks written, results.json strict JSON."""
    inbox = tmp_path / "inbox"
    city_file(inbox, "青岛市", [row(name="青岛正常测试集群")])
    patch_sheet(city_xlsx(inbox / "济南市数字产业集群申报信息汇总表.xlsx", "济南市"), with_merges("A1:XFD1048576"))
    patch_sheet(city_xlsx(inbox / "淄博市数字产业集群申报信息汇总表.xlsx", "淄博市"),
                with_far_cell(b'<c r="B99999" t="inlineStr"><is><t>x</t></is></c>'))
    timed = city_xlsx(inbox / "烟台市数字产业集群申报信息汇总表.xlsx", "烟台市")
    wb = openpyxl.load_workbook(timed)
    ws = wb.active
    ws.cell(row=2, column=23, value="填报耗时")
    ws.cell(row=3, column=23, value=dt.timedelta(hours=36, minutes=15)).number_format = "[h]:mm:ss"
    ws.cell(row=4, column=23, value=dt.time(9, 30)).number_format = "h:mm"
    wb.save(timed)
    with (inbox / "潍坊市数字产业集群申报信息汇总表.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([header_label(c) + ("\x01" if c == "name" else "") for c in COLUMNS] + ["备用\x02"])
        writer.writerow([row(city="潍坊市", name="潍坊\x03控制集群", revenue_total="inf").get(c) for c in COLUMNS] + ["nan"])
    outcome = run_batch(inbox, RunOptions(out_dir=tmp_path / "out", now=NOW, run_id="t1", mail_mode="none"))
    assert outcome.exit_code == 0 and outcome.run_dir is not None
    results = strict_json(outcome.run_dir / "results.json")
    assert {f["file"]: f["status"] for f in results["files"]} == {
        "青岛市数字产业集群申报信息汇总表.xlsx": "processed",
        "济南市数字产业集群申报信息汇总表.xlsx": "processed",
        "淄博市数字产业集群申报信息汇总表.xlsx": "processed",
        "烟台市数字产业集群申报信息汇总表.xlsx": "processed",
        "潍坊市数字产业集群申报信息汇总表.csv": "processed",
    }
    names = {a["name"] for a in results["applications"]}
    assert {"青岛正常测试集群", "潍坊控制集群", "济南市甲产业集群", "淄博市甲产业集群", "烟台市甲产业集群"} <= names
    blob = json.dumps(results, ensure_ascii=False)
    assert "36:15:00" in blob
    for city in ("青岛市", "济南市", "淄博市", "烟台市", "潍坊市"):
        [review] = list(outcome.run_dir.rglob(f"{city}*审核*.xlsx"))
        book = openpyxl.load_workbook(review)  # written at all: no IllegalCharacterError, no blow-up
        assert book.sheetnames
        for ws in book.worksheets:
            assert ws.max_row <= 100_000 and ws.max_column <= 200
            assert all(rng.size["rows"] * rng.size["columns"] <= 200 for rng in ws.merged_cells.ranges)
    weifang = [a for a in results["applications"] if a["name"] == "潍坊控制集群"][0]
    assert any(f["code"] == "unparseable-value" and f["field"] == "revenue_total" for f in weifang["findings"])


def test_scan_of_a_damaged_member_leaves_the_verdict_to_the_reader(tmp_path: Path) -> None:
    path = city_xlsx(tmp_path / "ok.xlsx")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo(SHEET)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 10, start + 40):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises(FileRejected):
        read_workbook(path)


# ----------------------------------------------------------------------------- merged_value by row
boxes = st.tuples(st.integers(0, 8), st.integers(0, 8), st.integers(0, 8), st.integers(0, 8))


@hyp_settings(max_examples=200, deadline=None)
@given(merged=st.lists(boxes, max_size=12), filled=st.sets(st.tuples(st.integers(0, 9), st.integers(0, 9))),
       grow=st.lists(boxes, max_size=3))
def test_merged_value_by_row_answers_as_walking_every_range(
        merged: list[tuple[int, int, int, int]], filled: set[tuple[int, int]],
        grow: list[tuple[int, int, int, int]]) -> None:
    rows: list[list[Any]] = [[f"{r},{c}" if (r, c) in filled else None for c in range(10)] for r in range(10)]
    sheet = RawSheet(name="S", rows=rows, merged=list(merged))

    def walked(row: int, col: int) -> Any:  # the lookup as it was: every range, in order
        value = sheet.value(row, col)
        if value is None:
            for r0, c0, r1, c1 in sheet.merged:
                if r0 <= row <= r1 and c0 <= col <= c1:
                    return sheet.value(r0, c0)
        return value

    cells = [(r, c) for r in range(12) for c in range(12)]
    assert [sheet.merged_value(r, c) for r, c in cells] == [walked(r, c) for r, c in cells]
    sheet.merged.extend(grow)  # a list that grows, or is replaced, is looked at again
    assert [sheet.merged_value(r, c) for r, c in cells] == [walked(r, c) for r, c in cells]
    sheet.merged = list(reversed(sheet.merged))
    assert [sheet.merged_value(r, c) for r, c in cells] == [walked(r, c) for r, c in cells]


# ----------------------------------------------------------------------------- the worksheet scan
SPELLINGS = {
    "excel": b'<row r="7"><c r="B7" s="1"><v>1</v></c><c r="AB7" t="s"><v>0</v></c><c r="AC9" s="2"/></row>',
    "reference-last": b'<row r="7"><c s="1" r="B7"><v>1</v></c><c t="s" r="AB7"><v>0</v></c><c s="2" r="AC9"/></row>',
    "prefixed": b'<x:row r="7"><x:c r="B7"><x:v>1</x:v></x:c><x:c r="AB7" t="s"><x:v>0</x:v></x:c>'
                b'<x:c r="AC9" s="2"/></x:row>',
    "lower-case": b'<row r="7"><c r="b7"><v>1</v></c><c r="ab7" t="s"><v>0</v></c><c r="ac9" s="2"/></row>',
    "line-breaks": b'<row r="7"><c\nr="B7"><v>1</v></c><c\tt="s" r="AB7"><v>0</v></c><c r="AC9"\n/></row>',
}


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("every_cell", [True, False], ids=["small-part", "big-part"])
@pytest.mark.parametrize("chunk", [1 << 22, 64, 7])
def test_the_scan_finds_the_value_extent_in_any_spelling_and_any_chunking(
        spelling: str, every_cell: bool, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from sdbatch.reading import limits

    monkeypatch.setattr(limits, "_CHUNK", chunk)
    xml = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
           + SPELLINGS[spelling] * 50 + b'</sheetData><mergeCells count="2"><mergeCell ref="A1:AB1"/>'
           b'<mergeCell ref="$C$3:$XFD$9"/></mergeCells></worksheet>')
    scan = limits._scan_part(io.BytesIO(xml), every_cell)
    assert (scan.value_rows, scan.value_cols) == (7, 28)  # AB7 holds something; AC9 is styled and empty
    if every_cell:
        assert (scan.cell_rows, scan.cell_cols) == (9, 29)
    assert scan.merged == [(0, 0, 0, 27), (2, 2, 8, 16383)] and scan.merged_count == 2
    assert scan.merged_cells == 28 + 7 * 16382


def test_the_characters_removed_are_those_openpyxl_refuses() -> None:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE as OPENPYXL

    from sdbatch.reading.cells import ILLEGAL_CHARACTERS_RE as OURS

    every = "".join(chr(i) for i in range(0x3000))
    assert OURS.sub("", every) == OPENPYXL.sub("", every)


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_a_short_text_repeated_down_a_sheet_is_read_once(tmp_path: Path, suffix: str) -> None:
    """A city, 是/否 or an industry written on every row is held as one text, whatever the
    reader (issue 16: 100,000 rows held 100,000 copies); every value reads as before."""
    rows = [["所在市", "集群名称", "是否独立法人"]] + [
        ["济南市", f"泉城第{n:04d}号数字产业集群" + "（含软件、信息技术服务、集成电路设计等）", "是"] for n in range(60)]
    path = tmp_path / f"汇总{suffix}"
    if suffix == ".xlsx":
        wb = openpyxl.Workbook()
        for row in rows:
            wb.active.append(row)
        wb.save(path)
    else:
        with open(path, "w", encoding="utf-8-sig", newline="") as fh:
            csv.writer(fh).writerows(rows)
    sheet = only_sheet(read_workbook(path))
    data = [r for r in sheet.rows[1:] if r]
    assert [r[:3] for r in data] == [r for r in rows[1:]]
    assert len({id(r[0]) for r in data}) == 1 and len({id(r[2]) for r in data}) == 1


# ----------------------------------------------------------------------------- one parse a file
def test_a_summary_read_by_calamine_is_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The evidence stage looks at each file's sheets for an enterprise list, then the summary
    reader reads them: one calamine parse for both (issue 16), the same applications as two."""
    import contextlib

    from sdbatch import batch
    from sdbatch.reading import calamine

    monkeypatch.setattr(settings, "FULL_READ_MAX_BYTES", 0)  # python-calamine reads the summaries
    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(name=f"济南测试集群{i}") for i in range(4)])
    city_file(inbox, "青岛市", [row(name="青岛测试集群")])
    opened: list[str] = []
    real_open = calamine._open_file

    def counted(python_calamine: Any, path: Path) -> Any:
        opened.append(Path(path).name)
        return real_open(python_calamine, path)

    monkeypatch.setattr(calamine, "_open_file", counted)

    def applications(run_id: str) -> list[tuple[Any, ...]]:
        outcome = run_batch(inbox, RunOptions(out_dir=tmp_path / run_id, now=NOW, run_id=run_id, mail_mode="none"))
        return sorted((a.city, a.name, a.status, tuple(sorted(a.values.items(), key=str)),
                       tuple(sorted((f.code, f.field or "") for f in a.findings))) for a in outcome.result.applications)

    shared = applications("shared")
    assert sorted(opened) == sorted(p.name for p in inbox.iterdir())  # each file parsed once
    assert len(shared) == 5
    opened.clear()
    monkeypatch.setattr(batch.calamine, "shared_books", contextlib.nullcontext)
    assert applications("apart") == shared
    assert sorted(opened) == sorted(2 * [p.name for p in inbox.iterdir()])  # what sharing saves


# ----------------------------------------------------------------------------- formats openpyxl refuses
REFUSED_FORMATS = {  # variant -> (part, what is written, what it becomes): openpyxl's full load fails on each
    "column-width": ("xl/worksheets/sheet1.xml", rb'width="[0-9.]+"', b'width="abc"'),
    "default-row-height": ("xl/worksheets/sheet1.xml", rb'defaultRowHeight="[0-9.]+"', b'defaultRowHeight="x"'),
    "zoom": ("xl/worksheets/sheet1.xml", rb"<sheetView ", b'<sheetView zoomScale="huge" '),
    "font-size": ("xl/styles.xml", rb'<sz val="[0-9.]+"', b'<sz val="big"'),
}


@pytest.mark.parametrize("variant", sorted(REFUSED_FORMATS))
def test_a_workbook_whose_formats_openpyxl_refuses_is_read_for_its_values(tmp_path: Path, variant: str) -> None:
    """openpyxl types every attribute it loads, and refused the whole workbook for one format it
    could not type: the city's applications were lost to "file-unreadable".  Its values are read by
    python-calamine instead, the same as the sound workbook's, with a note telling the city what
    was not looked at; the review copy is written and opens."""
    import openpyxl

    from sdbatch.reading import xlsx

    name = "济南市数字产业集群申报信息汇总表.xlsx"
    sound = city_xlsx(tmp_path / "sound" / name)
    book = openpyxl.load_workbook(sound)
    book.active.column_dimensions["C"].width = 30
    book.save(sound)
    part, pattern, replacement = REFUSED_FORMATS[variant]
    members = zipfile_members(sound.read_bytes())
    broken = re.sub(pattern, replacement, members[part], count=1)
    assert broken != members[part]
    (tmp_path / "broken").mkdir()
    damaged = tmp_path / "broken" / name
    damaged.write_bytes(replace_members(sound.read_bytes(), {part: broken}))
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever openpyxl raises: the point is that it does
        xlsx._read_full(damaged, {})

    def outcome(inbox: Path) -> tuple[Any, list[tuple[Any, ...]]]:
        done = run_batch(inbox, RunOptions(out_dir=tmp_path / f"{inbox.name}-out", now=NOW, run_id="t1",
                                           mail_mode="none"))
        assert done.run_dir is not None and done.result is not None
        return done, sorted((a.name, a.status, tuple(sorted(a.values.items(), key=str)))
                            for a in done.result.applications)

    expected_run, expected = outcome(sound.parent)
    run, got = outcome(damaged.parent)
    assert got == expected and len(got) == 2  # the same applications, the same values and statuses
    results = strict_json(run.run_dir / "results.json")
    [record] = results["files"]
    assert record["status"] == "processed"
    assert {"formats-not-read", "review-copy-rebuilt"} <= {f["code"] for f in record["findings"]}
    [sound_record] = strict_json(expected_run.run_dir / "results.json")["files"]
    assert not {"formats-not-read", "review-copy-rebuilt"} & {f["code"] for f in sound_record["findings"]}
    [review] = list(run.run_dir.glob("济南市*审核*.xlsx"))
    copy = openpyxl.load_workbook(review)  # the copy's widths and formats are ones openpyxl can type
    assert {"济南市甲产业集群", "济南市乙产业集群"} <= {c.value for r in copy["审核结论"].iter_rows() for c in r}


# ----------------------------------------------------------------------------- the scan's own cost
PATHOLOGICAL_SHEETS = {  # a sheet's XML with no ">" for megabytes: the end of a 4 MiB chunk of the scan
    "cells left open": b'<c r="A9" s="1" ' * (1 << 16),
    "cells with noise": b'<c r="A9" s="1" ' + b"x y=z " * (1 << 17),
    "one tag of spaces": b"<x:c " + b" " * (1 << 20),
    "rows left open": b'<row r="1" hidden="1" ' * (1 << 16),
    "merges left open": b"<mergeCell " + b" ref" * (1 << 18),
    "formulas left open": b'<c r="A1"><f ' * (1 << 16),
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL_SHEETS))
def test_the_sheet_scan_is_linear_in_a_sheet_that_never_closes_a_tag(name: str) -> None:
    """Every xlsx is scanned for its extents, merges, hidden rows, percent cells and formulas before
    it is read.  The scan's patterns let a tag run to the next ">": a 2.9 MB workbook whose sheet
    left cell tags open for 4 MiB (noise between them, so that it passed the compression-ratio
    check) kept ``sdbatch run`` busy for hours, the batch with it.  A tag now ends at the next "<"
    too (no "<" stands inside a tag in XML): each of these takes milliseconds.  Were it quadratic
    again, this test would not end."""
    from sdbatch.reading import limits

    data = PATHOLOGICAL_SHEETS[name]
    scan = limits.PartScan()
    limits._scan_chunk(data, scan, True, limits._PercentCells.of(frozenset({1})))
    assert scan.value_rows <= 9 and not scan.merged and not scan.formulas


def test_merged_ranges_are_taken_out_of_a_part_in_its_length() -> None:
    """A sheet whose merged ranges are too costly for openpyxl is loaded without them: the element
    is cut out by a pattern that once let every unclosed ``<mergeCells`` run to the part's end."""
    from sdbatch.reading import xlsx

    assert xlsx._MERGE_CELLS.sub(b"", b'<w><mergeCells count="2"><mergeCell ref="A1:B2"/>'
                                       b'<mergeCell ref="C1:D1"></mergeCell></mergeCells><y/></w>') == b"<w><y/></w>"
    assert xlsx._MERGE_CELLS.sub(b"", b'<w><x:mergeCells/>\n<x:mergeCells count="1">\n <x:mergeCell ref="A1:B2"/>\n'
                                       b"</x:mergeCells></w>") == b"<w>\n</w>"
    unclosed = b"<mergeCells " * (1 << 17)
    assert xlsx._MERGE_CELLS.sub(b"", unclosed) == unclosed  # nothing to cut, and at once
