"""Excel 2003 XML spreadsheets (SpreadsheetML) saved as .xls.

Parsed with defusedxml (no DTD, no entities) as a stream; cells are text or numbers; spans
(``ss:MergeAcross`` / ``ss:MergeDown``) become merged ranges; hidden rows and sheets are kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdbatch import settings
from sdbatch.catalogue import text
from sdbatch.model import FileRejected, Finding, RawSheet
from sdbatch.reading.cells import CellCleaner, cap_text, trim_rows
from sdbatch.reading.grid import Grid, span
from sdbatch.reading.sniff import SPREADSHEETML_NS, reject
from sdbatch.text import display_name


def read_xml2003_sheets(path: Path) -> list[RawSheet]:
    """Worksheets of an Excel 2003 XML spreadsheet, as declared: cells are text or numbers,
    empty cells None, spans listed in ``merged``."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import iterparse

    path = Path(path)
    ns = "{" + SPREADSHEETML_NS + "}"
    sheets: list[RawSheet] = []
    grid: Grid | None = None
    hidden_rows: set[int] = set()
    sheet_name = ""
    row = col = -1
    n_rows = 0
    numbers: dict[tuple[int, int], float] = {}
    try:
        for event, elem in iterparse(str(path), events=("start", "end"), forbid_dtd=True):
            tag = elem.tag
            if event == "start":
                if tag == ns + "Worksheet":
                    grid, hidden_rows, numbers = Grid(path), set(), {}
                    sheet_name = elem.get(ns + "Name") or f"Sheet{len(sheets) + 1}"
                    row, n_rows = -1, 0
                elif tag == ns + "Row" and grid is not None:
                    index = elem.get(ns + "Index")
                    row = span(index) - 1 if index else row + 1
                    col = -1
                    if elem.get(ns + "Hidden") == "1":
                        hidden_rows.add(row)
                    n_rows = max(n_rows, row + 1)
                    if n_rows > settings.MAX_ROWS:
                        raise reject("file-too-large", path, text("reading.too_many_rows", limit=settings.MAX_ROWS))
                continue
            if tag == ns + "Cell" and grid is not None:
                index = elem.get(ns + "Index")
                col = span(index) - 1 if index else col + 1
                across = span(str(int(elem.get(ns + "MergeAcross") or 0) + 1))
                down = span(str(int(elem.get(ns + "MergeDown") or 0) + 1))
                data = elem.find(ns + "Data")
                value = "".join(data.itertext()) if data is not None else ""
                value, _ = cap_text(value) if len(value) > settings.MAX_CELL_CHARS + 1 else (value, False)
                grid.put(row, col, value, down, across)
                if data is not None and data.get(ns + "Type") == "Number":
                    try:
                        numbers[(row, col)] = float(value)
                    except ValueError:
                        pass
                col += across - 1
                elem.clear()
            elif tag == ns + "Row":
                elem.clear()
            elif tag == ns + "Worksheet" and grid is not None:
                rows = grid.rows(n_rows)
                for (r, c), number in numbers.items():
                    if r < len(rows):
                        rows[r][c] = int(number) if number.is_integer() else number
                excel = "{urn:schemas-microsoft-com:office:excel}"
                visible = elem.findtext(f"{excel}WorksheetOptions/{excel}Visible") or ""
                hidden = visible.strip() in ("SheetHidden", "SheetVeryHidden")
                sheets.append(RawSheet(name=sheet_name, rows=rows, hidden=hidden, hidden_rows=hidden_rows,
                                       merged=grid.merged))
                grid = None
                elem.clear()
    except FileRejected:
        raise
    except DefusedXmlException:
        raise reject("unsafe-xml", path, text("reading.xml_dtd_or_entities")) from None
    except Exception as exc:  # noqa: BLE001 - ParseError, ValueError on bad attributes…
        raise reject("file-unreadable", path, text("reading.xml_unparseable", error=type(exc).__name__)) from None
    if not sheets:
        raise reject("not-a-spreadsheet", path, text("reading.xml_without_sheets"))
    return sheets


def read(path: Path) -> tuple[list[RawSheet], list[Finding]]:
    """The reader of ``xml2003`` files."""
    path = Path(path)
    file = display_name(path.name)
    sheets = read_xml2003_sheets(path)
    notes: list[Finding] = []
    for sheet in sheets:
        clean = CellCleaner(file, sheet.name)
        rows: list[list[Any]] = [[clean(v, r, c) for c, v in enumerate(line)] for r, line in enumerate(sheet.rows)]
        sheet.rows = trim_rows(rows)
        notes += clean.notes()
    return sheets, notes
