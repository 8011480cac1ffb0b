"""Stage 1 — file -> sheets.  Reads every supported format into the same plain grid.

Readers: .xlsx/.xlsm with openpyxl (full mode for ordinary city workbooks, streaming for big
ones), legacy .xls with xlrd (python-calamine as fallback), .ods with python-calamine, .csv
by hand (UTF-8, UTF-8 with BOM, GBK/GB18030), HTML tables saved as .xls via ``safety``.
A file that cannot be read raises :class:`FileRejected`; nothing here raises anything else.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import warnings
from pathlib import Path
from typing import Any

from sdbatch import safety, settings
from sdbatch.model import FileRejected, Finding, RawSheet, RawWorkbook


def read_workbook(path: Path, *, debug: bool = False) -> RawWorkbook:
    """Read ``path`` into a RawWorkbook or raise FileRejected with a catalogue code."""
    kind = safety.preflight(path)
    reader = _READERS.get(kind)
    if reader is None:
        raise FileRejected("not-a-spreadsheet", file=path.name, detail=f"不支持的格式 {kind}")
    try:
        with warnings.catch_warnings():  # openpyxl's notes on odd files are not for staff
            warnings.simplefilter("ignore")
            sheets, notes = reader(path)
    except FileRejected:
        raise
    except Exception as exc:  # noqa: BLE001 - any library failure is a rejected file, not a crash
        if debug:
            raise
        raise safety.rejection_for(exc, path) from None
    notes = safety.workbook_notes(path, kind) + notes
    if not any(any(v is not None for v in row) for s in sheets for row in s.rows):
        raise FileRejected("file-empty", file=path.name)
    return RawWorkbook(path=str(path), kind=kind, sheets=sheets, notes=notes)


# ----------------------------------------------------------------------------- shared helpers
def _plain(value: Any) -> Any:
    """Integral floats become ints (all spreadsheet numbers are floats); text is capped."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    if isinstance(value, str):
        capped, _ = safety.cap_text(value)
        return capped if capped.strip() else None
    return value


def _trim(rows: list[list[Any]]) -> list[list[Any]]:
    """Drop trailing empty cells and trailing empty rows; enforce row/column limits."""
    out = []
    for row in rows[: settings.MAX_ROWS]:
        end = len(row)
        while end and row[end - 1] is None:
            end -= 1
        out.append(row[: min(end, settings.MAX_COLS)])
    while out and not out[-1]:
        out.pop()
    return out


# ----------------------------------------------------------------------------- xlsx / xlsm
def _read_xlsx(path: Path) -> tuple[list[RawSheet], list[Finding]]:
    # Readers lay sheets out densely: a value in XFD1048576 is refused before any reader starts.
    extent_rows, extent_cols = safety.value_extent(path)
    if extent_rows * extent_cols > settings.MAX_CELLS or extent_rows > settings.MAX_ROWS:
        raise FileRejected("file-too-large", file=path.name, detail=f"表格范围达 {extent_rows} 行 × {extent_cols} 列")
    # Full mode holds every cell twice; the sheet XML size (not the file size) says how many.
    if not safety.full_read_ok(path):
        # Big sheets: python-calamine (Rust) reads values an order of magnitude faster than
        # openpyxl's streaming mode; hidden rows and number formats are not available there.
        sheets, notes = _read_calamine(path)
        return sheets, [*notes, Finding("streamed-read", "info")]
    import openpyxl

    values_wb = openpyxl.load_workbook(path, data_only=True, keep_links=False)
    formulas_wb = openpyxl.load_workbook(path, data_only=False, keep_links=False)
    sheets = []  # iterated up to the value extent: styled empty cells far below do not count
    for ws in values_wb.worksheets:
        fws = formulas_wb[ws.title]
        rows: list[list[Any]] = []
        sheet = RawSheet(name=ws.title, rows=rows, hidden=ws.sheet_state != "visible")
        max_row = min(ws.max_row, settings.MAX_ROWS, extent_rows or ws.max_row)
        max_col = min(ws.max_column, settings.MAX_COLS, extent_cols or ws.max_column)
        for r_idx, (vrow, frow) in enumerate(zip(
                ws.iter_rows(max_row=max_row, max_col=max_col),
                fws.iter_rows(max_row=max_row, max_col=max_col), strict=False)):
            row = []
            for c_idx, (cell, fcell) in enumerate(zip(vrow, frow, strict=False)):
                value = _plain(cell.value)
                if fcell.data_type == "f" or (isinstance(fcell.value, str) and fcell.value.startswith("=")):
                    sheet.formula_cells.add((r_idx, c_idx))
                    if value is None:
                        sheet.formula_without_value.add((r_idx, c_idx))
                        value = str(getattr(fcell.value, "text", fcell.value))
                if isinstance(value, (int, float)) and not isinstance(value, bool) and "%" in (cell.number_format or ""):
                    sheet.percent_cells.add((r_idx, c_idx))
                row.append(value)
            rows.append(row)
        for r, dim in ws.row_dimensions.items():
            if dim.hidden and r - 1 < max_row:
                sheet.hidden_rows.add(r - 1)
        sheet.merged = [(m.min_row - 1, m.min_col - 1, m.max_row - 1, m.max_col - 1) for m in ws.merged_cells.ranges]
        sheet.rows = _trim(rows)
        sheets.append(sheet)
    values_wb.close()
    formulas_wb.close()
    return sheets, []


# ----------------------------------------------------------------------------- xls
def _read_xls(path: Path) -> tuple[list[RawSheet], list[Finding]]:
    import xlrd

    try:
        book = xlrd.open_workbook(str(path), formatting_info=True, on_demand=True)
    except xlrd.XLRDError as exc:
        if "encrypt" in str(exc).lower():
            raise FileRejected("file-encrypted", file=path.name) from None
        return _read_calamine(path)
    except NotImplementedError:  # formatting_info unsupported for this file: values only
        return _read_calamine(path)
    sheets = []
    for index in range(book.nsheets):
        xs = book.sheet_by_index(index)
        sheet = RawSheet(name=xs.name, rows=[], hidden=bool(getattr(xs, "visibility", 0)))
        for r in range(min(xs.nrows, settings.MAX_ROWS)):
            row = []
            for c in range(min(xs.row_len(r), settings.MAX_COLS)):
                cell = xs.cell(r, c)
                value: Any
                if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
                    value = None
                elif cell.ctype == xlrd.XL_CELL_DATE:
                    try:
                        value = xlrd.xldate_as_datetime(cell.value, book.datemode)
                    except (ValueError, OverflowError):
                        value = cell.value
                elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                    value = bool(cell.value)
                else:
                    value = cell.value
                value = _plain(value)
                if cell.ctype == xlrd.XL_CELL_NUMBER:
                    fmt = book.format_map.get(book.xf_list[cell.xf_index].format_key)
                    if fmt is not None and "%" in fmt.format_str:
                        sheet.percent_cells.add((r, c))
                row.append(value)
            sheet.rows.append(row)
        for r, info in getattr(xs, "rowinfo_map", {}).items():
            if getattr(info, "hidden", 0):
                sheet.hidden_rows.add(r)
        sheet.merged = [(rlo, clo, rhi - 1, chi - 1) for rlo, rhi, clo, chi in xs.merged_cells]
        sheet.rows = _trim(sheet.rows)
        sheets.append(sheet)
        book.unload_sheet(index)
    return sheets, []


# ----------------------------------------------------------------------------- ods (and fallback)
def _read_calamine(path: Path) -> tuple[list[RawSheet], list[Finding]]:
    import python_calamine

    wb = python_calamine.CalamineWorkbook.from_path(str(path))
    hidden_names = {m.name for m in wb.sheets_metadata if str(m.visible).lower().rsplit(".", 1)[-1] != "visible"}
    sheets = []
    cells_read = 0
    for name in wb.sheet_names:
        cs = wb.get_sheet_by_name(name)
        rows: list[list[Any]] = []
        for row in cs.iter_rows():
            if len(rows) >= settings.MAX_ROWS:
                break
            cells_read += len(row)
            if cells_read > settings.MAX_CELLS:
                raise FileRejected("file-too-large", file=path.name, detail=f"单元格超过{settings.MAX_CELLS:,}个")
            rows.append([_plain(_calamine_value(v)) for v in row[: settings.MAX_COLS]])
        start_col = (cs.start or (0, 0))[1]
        if start_col:  # calamine's rows start at the first used column: put the cells back in place
            rows = [[None] * start_col + r for r in rows]
        sheet = RawSheet(name=name, rows=_trim(rows), hidden=name in hidden_names)
        try:
            ranges = cs.merged_cell_ranges or []
        except Exception:  # noqa: BLE001 - not every format carries merges
            ranges = []
        sheet.merged = [(a[0], a[1], b[0], b[1]) for a, b in ranges]
        sheets.append(sheet)
    wb.close()
    return sheets, []


def _calamine_value(value: Any) -> Any:
    if value == "":
        return None
    if isinstance(value, dt.time):
        return value.isoformat()
    return value


# ----------------------------------------------------------------------------- csv
def _read_csv(path: Path) -> tuple[list[RawSheet], list[Finding]]:
    data = path.read_bytes()
    _check_csv_lines(path, data)
    text = None
    encodings: tuple[str, ...] = settings.CSV_ENCODINGS
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)  # "Unicode text" as Excel saves it
    elif len(data) >= 4 and data[1:4:2] == b"\x00\x00" and data[0:4:2] != b"\x00\x00":
        encodings = ("utf-16-le",)  # the same without its byte-order mark
    for encoding in encodings:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise FileRejected("file-unreadable", file=path.name, detail="无法识别文字编码，请另存为 UTF-8 或 GBK")
    if "\x00" in text:
        raise FileRejected("not-a-spreadsheet", file=path.name, detail="含有二进制内容")
    delimiter = _delimiter(text[:16384])
    csv.field_size_limit(settings.MAX_CELL_CHARS * 4 + 1)
    rows = []
    try:
        for i, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter)):
            if i >= settings.MAX_ROWS:
                break
            rows.append([_plain(v) for v in row[: settings.MAX_COLS]])
    except csv.Error as exc:
        raise FileRejected("file-unreadable", file=path.name, detail=str(exc)[:80]) from None
    sheet_name = path.stem[:31]
    return [RawSheet(name=sheet_name, rows=_trim(rows))], []


def _check_csv_lines(path: Path, data: bytes) -> None:
    """No line longer than the limit (a 95 MB line of commas would become 100 million cells)."""
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        if end - start > settings.MAX_CSV_LINE_BYTES:
            line_no = data.count(b"\n", 0, start) + 1
            raise FileRejected("file-too-large", file=path.name,
                               detail=f"第{line_no}行超过{settings.MAX_CSV_LINE_BYTES // 1024} KB")
        start = end + 1


def _delimiter(sample: str) -> str:
    """The separator used most in the first lines (a title line has none, so no Sniffer)."""
    lines = [line for line in sample.splitlines()[:50] if line.strip()]
    counts = {d: sum(line.count(d) for line in lines) for d in (",", "\t", ";", "|", "，")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_html(path: Path) -> tuple[list[RawSheet], list[Finding]]:
    grid = safety.read_html_table(path)
    rows = [[_plain(v) for v in row] for row in grid]
    return [RawSheet(name=path.stem[:31], rows=_trim(rows))], []


def _read_xml2003(path: Path) -> tuple[list[RawSheet], list[Finding]]:
    sheets = safety.read_xml2003_sheets(path)
    for sheet in sheets:
        sheet.rows = _trim([[_plain(v) for v in row] for row in sheet.rows])
    return sheets, []


_READERS = {
    "xlsx": _read_xlsx,
    "xlsm": _read_xlsx,
    "xls": _read_xls,
    "ods": _read_calamine,
    "csv": _read_csv,
    "html": _read_html,
    "xml2003": _read_xml2003,
}
