"""Excel 97-2003 workbooks (.xls, BIFF8; BIFF5 from Excel 5.0/95) with xlrd.

xlrd gives number formats (percent cells, date and duration cells), hidden rows and sheets,
and merged cells.  Rows are ragged (only as long as their last cell): a value in IV65536
costs one cell, not sixteen million.  A file xlrd cannot open (but that is not encrypted)
is read by python-calamine, values only.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from sdbatch.model import FileRejected, Finding, RawSheet
from sdbatch.reading import calamine
from sdbatch.reading.cells import CellCleaner, check_position, duration_text, trim_rows
from sdbatch.reading.limits import check_sheet_count
from sdbatch.text import display_name

_DURATION_FORMAT = re.compile(r"\[(?:h+|m+|s+)\]", re.I)  # [h]:mm:ss, [mm]:ss: elapsed time


def read(path: Path) -> tuple[list[RawSheet], list[Finding]]:
    """The reader of ``xls`` files."""

    import xlrd

    path = Path(path)
    file = display_name(path.name)
    try:
        # xlrd writes its notes on odd files (in English) to stdout unless given a log of its own
        book = xlrd.open_workbook(str(path), formatting_info=True, on_demand=True, ragged_rows=True,
                                  logfile=io.StringIO())
    except xlrd.XLRDError as exc:
        if "encrypt" in str(exc).lower():
            raise FileRejected("file-encrypted", file=file) from None
        return calamine.read_apart(path)  # damaged, or a variant xlrd does not know: calamine, apart
    except NotImplementedError:  # formatting_info unsupported for this file: values only
        return calamine.read_apart(path)
    try:  # on_demand keeps the file open until released: released here, whatever happens
        return _sheets(path, book)
    finally:
        book.release_resources()


def _sheets(path: Path, book: Any) -> tuple[list[RawSheet], list[Finding]]:
    import datetime as dt

    import xlrd

    file = display_name(path.name)
    check_sheet_count(path, book.nsheets)
    sheets = []
    notes: list[Finding] = []
    for index in range(book.nsheets):
        xs = book.sheet_by_index(index)
        clean = CellCleaner(file, xs.name)
        percent: set[tuple[int, int]] = set()
        sheet = RawSheet(name=xs.name, rows=[], hidden=bool(getattr(xs, "visibility", 0)), percent_cells=percent)
        for r in range(xs.nrows):
            row: list[Any] = []
            for c in range(xs.row_len(r)):
                cell = xs.cell(r, c)
                value: Any
                fmt = None
                if cell.ctype in (xlrd.XL_CELL_NUMBER, xlrd.XL_CELL_DATE):
                    fmt = book.format_map.get(book.xf_list[cell.xf_index].format_key)
                if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
                    value = None
                elif cell.ctype == xlrd.XL_CELL_DATE:
                    try:
                        if fmt is not None and _DURATION_FORMAT.search(fmt.format_str):
                            value = duration_text(dt.timedelta(days=cell.value))
                        else:
                            value = xlrd.xldate_as_datetime(cell.value, book.datemode)
                    except (ValueError, OverflowError):
                        value = cell.value
                elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                    value = bool(cell.value)
                else:
                    value = cell.value
                value = clean(value, r, c)
                if value is not None:
                    check_position(path, r, c)
                if cell.ctype == xlrd.XL_CELL_NUMBER and fmt is not None and "%" in fmt.format_str:
                    percent.add((r, c))
                row.append(value)
            sheet.rows.append(row)
        for r, info in getattr(xs, "rowinfo_map", {}).items():
            if getattr(info, "hidden", 0):
                sheet.hidden_rows.add(r)
        sheet.hidden_cols = {c for c, info in getattr(xs, "colinfo_map", {}).items() if getattr(info, "hidden", 0)}
        sheet.merged = [(rlo, clo, rhi - 1, chi - 1) for rlo, rhi, clo, chi in xs.merged_cells]
        sheet.rows = trim_rows(sheet.rows)
        sheets.append(sheet)
        notes += clean.notes()
        book.unload_sheet(index)
    return sheets, notes
