"""Excel 2007+ workbooks (.xlsx, .xlsm): openpyxl's full mode for ordinary city workbooks,
python-calamine for big ones.

Full mode (file up to ``FULL_READ_MAX_BYTES``, largest sheet XML up to
``FULL_READ_MAX_SHEET_XML_BYTES``) loads the workbook twice (cached values, formulas).  The
calamine path finds hidden rows, percent formats and formulas without a cached value by the sheet
scan (:mod:`sdbatch.reading.limits`).
Only the cells the file holds are visited (openpyxl's cell store), never the rectangle up to
the farthest one: a single value in B99999 costs one cell and 99,998 empty rows, not two
million cells.  A sheet whose declared merged ranges openpyxl must not see
(``limits.merges_fit``: too costly, or reaching far past the values) is loaded from an
in-memory copy without them, and its ranges come from the scan, settled against the values
like every other sheet's (:mod:`sdbatch.reading.merges`).

Bigger files are read by :mod:`sdbatch.reading.calamine` with a ``streamed-read`` note, and so
is a workbook openpyxl refuses for a format it cannot type (a column width of "abc"), with a
``formats-not-read`` note: its values are plain, and its review copy is rebuilt from them.
Before either, ``limits.check_extent`` refuses a sheet whose values span more than the limits.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

from sdbatch import errors, settings
from sdbatch.catalogue import default_severity, text
from sdbatch.model import CellKeys, FileRejected, Finding, RawSheet
from sdbatch.reading import calamine, limits, merges
from sdbatch.reading.cells import CellCleaner, check_position, trim_rows
from sdbatch.reading.sniff import reject
from sdbatch.text import display_name

Box = tuple[int, int, int, int]
FORMATS_NOT_READ = "formats-not-read"  # the note on a workbook whose values alone were read
# The mergeCells element: its tag ends at the next "<" or ">" and holds only text and mergeCell tags
# (taken possessively), so a part of unclosed tags costs its length, not its length squared.
_MERGE_CELLS = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?mergeCells\b[^<>]*(?:(?<=/)>|>(?:[^<]|<(?:[A-Za-z_][\w.-]*:)?mergeCell\b[^<>]*>"
    rb"|</(?:[A-Za-z_][\w.-]*:)?mergeCell\s*>)*+</(?:[A-Za-z_][\w.-]*:)?mergeCells\s*>)")


def read(path: Path) -> tuple[list[RawSheet], list[Finding]]:
    """The reader of ``xlsx`` and ``xlsm`` files."""
    path = Path(path)
    _check_sheets(path)
    scans = limits.scan_workbook(path)
    for scan in scans.values():
        limits.check_extent(path, scan)
    if not _full_mode(path):
        return _read_values(path, scans, _note("streamed-read"))
    try:
        return _read_full(path, scans)
    except Exception as exc:  # noqa: BLE001 - openpyxl refusing what it cannot type: the values may still be read
        if not _values_may_be_read(exc):
            raise
        try:
            return _read_values(path, scans, _note(FORMATS_NOT_READ))
        except Exception:  # noqa: BLE001 - calamine cannot either: the file is rejected for openpyxl's reason
            raise exc from None


def _read_values(path: Path, scans: dict[str, limits.PartScan], note: Finding) -> tuple[list[RawSheet], list[Finding]]:
    """The values of every sheet by python-calamine, merged ranges from the scan; ``note`` says
    what this reading does not look at."""
    parts = sheet_parts(path)
    sheets, notes = calamine.read(path, merged_for=lambda name: _declared(scans, parts.get(name)))
    for sheet in sheets:
        scan = scans.get(parts.get(sheet.name, ""))
        notes += _settle(path, sheet, scan)
        if scan is None:
            continue
        # what full mode finds by openpyxl, from the scan: hidden rows (0-based, rows that were read),
        # numbers shown as percentages, formulas without a value
        sheet.hidden_rows = {r - 1 for r in scan.hidden_rows if r - 1 < len(sheet.rows)}
        sheet.hidden_cols = {c - 1 for c in scan.hidden_cols}
        if scan.percent:
            sheet.percent_cells = CellKeys(k for k in scan.percent if _is_number(_value_at(sheet.rows, k)))
        if scan.formulas:
            notes += _formulas_without_value(path, sheet, scan.formulas)
    return sheets, [*notes, note]


def _note(code: str) -> Finding:
    return Finding(code, default_severity(code))


def _formulas_without_value(path: Path, sheet: RawSheet, formulas: list[tuple[int, str]]) -> list[Finding]:
    """Formula cells the file holds no result for (python-calamine reads them as empty), put into
    the sheet as full mode puts them: the formula's text, marked ``formula_without_value``; the
    review then says the cell is a formula without a result, never that it was left empty."""
    clean = CellCleaner(display_name(path.name), sheet.name)
    rows = sheet.rows
    for key, formula in formulas:
        r, c = divmod(key, limits.COLUMNS)
        if r >= settings.MAX_ROWS or _value_at(rows, key) is not None:
            continue  # past what is read, or a value calamine has for it after all
        _put(path, rows, r, c, clean("=" + formula, r, c))
        sheet.formula_cells.add((r, c))
        sheet.formula_without_value.add((r, c))
    return clean.notes()


def _put(path: Path, rows: list[list[Any]], r: int, c: int, value: Any) -> None:
    """``value`` at 0-based (r, c) of a grid of ragged rows, grown as needed (within the limits)."""
    check_position(path, r, c)
    while len(rows) <= r:
        rows.append([])
    line = rows[r]
    if c >= len(line):
        line.extend([None] * (c + 1 - len(line)))
    line[c] = value


def _value_at(rows: list[list[Any]], key: int) -> Any:
    """The value read at the cell ``key`` (``row * COLUMNS + column``), None past the rows read."""
    r, c = divmod(key, limits.COLUMNS)
    return rows[r][c] if r < len(rows) and c < len(rows[r]) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _values_may_be_read(exc: Exception) -> bool:
    """Whether a workbook openpyxl's full mode failed on is read again for its values alone.

    openpyxl types every attribute of every part it loads: a column width that is not a number,
    a style index or a number format it does not know, a date out of its range written by some
    other program, and the whole workbook is refused although its cells are plain (a column of
    ``width="abc"``).  Not when the failure is the file's safety (unsafe
    XML: rejected as such) or the machine's (a disk error stops the run)."""
    from defusedxml import DefusedXmlException

    if any(isinstance(e, (DefusedXmlException, FileRejected)) for e in errors.causes(exc)):
        return False
    return errors.os_error_in(exc) is None


def _full_mode(path: Path) -> bool:
    """Full mode holds every cell twice: the sheet XML size (not the file size) says how many."""
    return (path.stat().st_size <= settings.FULL_READ_MAX_BYTES
            and limits.sheet_xml_bytes(path) <= settings.FULL_READ_MAX_SHEET_XML_BYTES)


def _declared(scans: dict[str, limits.PartScan], part: str | None) -> list[Box] | None:
    scan = scans.get(part or "")
    return None if scan is None else list(scan.merged)


def _settle(path: Path, sheet: RawSheet, scan: limits.PartScan | None) -> list[Finding]:
    extra = max(scan.merged_count - len(scan.merged), 0) if scan is not None else 0
    return merges.settle_sheet(sheet, display_name(path.name), extra=extra)


def sheet_parts(source: Path | io.BytesIO) -> dict[str, str]:
    """Sheet title -> worksheet part name, as openpyxl resolves them ({} when it cannot)."""
    try:
        if isinstance(source, Path):
            with source.open("rb") as fh:
                return _parts_of(fh)
        return _parts_of(source)
    except Exception:  # noqa: BLE001 - the load itself will report what is wrong
        return {}


def _parts_of(fh: Any) -> dict[str, str]:
    return dict(_sheet_list(fh))


def _sheet_list(fh: Any) -> list[tuple[str, str]]:
    """(sheet title, worksheet part) of every sheet the workbook part declares, in order."""
    from openpyxl.reader.excel import ExcelReader

    reader = ExcelReader(fh, read_only=True, keep_links=False)
    try:
        reader.read_manifest()
        reader.read_workbook()
        return [(sheet.name, rel.target) for sheet, rel in reader.parser.find_sheets()]
    finally:
        reader.archive.close()


def _check_sheets(path: Path) -> None:
    """Refuse a workbook declaring more sheets than ``MAX_SHEETS``, or several sheets on one
    worksheet part (a damaged workbook part: 200 copies of one ``<sheet>`` element made openpyxl
    load, and the review copy, the same sheet 200 times).  Each is work out of proportion to what
    the file holds; what else is wrong with the workbook part the readers report."""
    try:
        with path.open("rb") as fh:
            sheets = _sheet_list(fh)
    except Exception:  # noqa: BLE001 - the reader itself says what is wrong
        return
    parts = [part for _, part in sheets]
    if len(set(parts)) < len(parts):
        raise reject("file-unreadable", path, text("reading.sheets_share_a_part"))
    limits.check_sheet_count(path, len(sheets))


def _without_merges(path: Path, parts: set[str]) -> io.BytesIO:
    """An in-memory copy of the package whose ``parts`` declare no merged ranges."""
    buf = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for info in src.infolist():
            if info.filename in parts:
                out.writestr(info.filename, _MERGE_CELLS.sub(b"", src.read(info)))
            else:
                with src.open(info) as fin, out.open(info.filename, "w") as fout:
                    shutil.copyfileobj(fin, fout, 1 << 20)
    buf.seek(0)
    return buf


def _read_full(path: Path, scans: dict[str, limits.PartScan]) -> tuple[list[RawSheet], list[Finding]]:
    costly = {part for part, scan in scans.items() if not limits.merges_fit(scan)}
    source: Any = path
    parts: dict[str, str] = {}
    if costly:
        source = _without_merges(path, costly)
        parts = sheet_parts(source)
    with contextlib.ExitStack() as stack:
        values_wb = _load(stack, source, data_only=True)
        formulas_wb = _load(stack, source, data_only=False)
        return _sheets_of(path, values_wb, formulas_wb, parts, costly, scans)


def _load(stack: contextlib.ExitStack, source: Path | io.BytesIO, *, data_only: bool) -> Any:
    """openpyxl's full load from a file opened here: a load that fails on a damaged package closes it
    at once (openpyxl leaves its own archive open until the garbage collector finds it, whose warning
    then lands in whatever code runs at that moment: a module being imported broke on it)."""
    import openpyxl

    if isinstance(source, io.BytesIO):
        source.seek(0)
        fh: Any = source
    else:
        fh = stack.enter_context(source.open("rb"))
    with contextlib.redirect_stdout(io.StringIO()):  # openpyxl prints "0 is out of range" for a bad style index
        wb = openpyxl.load_workbook(fh, data_only=data_only, keep_links=False)
    stack.callback(wb.close)
    return wb


def _sheets_of(path: Path, values_wb: Any, formulas_wb: Any, parts: dict[str, str], costly: set[str],
               scans: dict[str, limits.PartScan]) -> tuple[list[RawSheet], list[Finding]]:
    file = display_name(path.name)
    sheets = []
    notes: list[Finding] = []
    for ws in values_wb.worksheets:
        clean = CellCleaner(file, ws.title)
        sheet = _sheet(path, ws, formulas_wb[ws.title], clean)
        part = parts.get(ws.title)
        if part in costly:
            sheet.merged = list(scans[part].merged)
        else:
            sheet.merged = [(m.min_row - 1, m.min_col - 1, m.max_row - 1, m.max_col - 1)
                            for m in ws.merged_cells.ranges]
        notes += clean.notes()
        notes += _settle(path, sheet, scans.get(part or "") if part in costly else None)
        sheets.append(sheet)
    return sheets, notes


def _sheet(path: Path, ws: Any, fws: Any, clean: CellCleaner) -> RawSheet:
    """One sheet from the cells openpyxl holds (``_cells``: only those in the file)."""
    rows: list[list[Any]] = []
    percent: set[tuple[int, int]] = set()
    sheet = RawSheet(name=ws.title, rows=rows, hidden=ws.sheet_state != "visible", percent_cells=percent)
    formulas = fws._cells
    for (r1, c1), cell in ws._cells.items():
        fcell = formulas.get((r1, c1))
        raw = cell.value
        if raw is None and (fcell is None or fcell.value is None):
            continue  # styled empty cells and merged cells hold nothing
        r, c = r1 - 1, c1 - 1
        value = clean(raw, r, c)
        if fcell is not None and (fcell.data_type == "f" or (isinstance(fcell.value, str)
                                                            and fcell.value.startswith("="))):
            sheet.formula_cells.add((r, c))
            if value is None:
                sheet.formula_without_value.add((r, c))
                value = clean(str(getattr(fcell.value, "text", fcell.value)), r, c)
        if value is None:
            continue
        if _is_number(value) and "%" in (cell.number_format or ""):
            percent.add((r, c))
        _put(path, rows, r, c, value)
    for r1, dim in ws.row_dimensions.items():
        if dim.hidden and r1 - 1 < len(rows):
            sheet.hidden_rows.add(r1 - 1)
    for cdim in ws.column_dimensions.values():
        if cdim.hidden and cdim.min:
            sheet.hidden_cols.update(range(cdim.min - 1, min(cdim.max or cdim.min, settings.MAX_COLS)))
    sheet.rows = trim_rows(rows)
    return sheet
