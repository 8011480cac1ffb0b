"""OpenDocument spreadsheets (.ods, LibreOffice / WPS) with python-calamine.

Preflight has already refused repeated rows/columns that expand to more than the limits
(``limits._check_ods_grid``), so calamine's dense layout stays bounded.  Time values (which
calamine hands over as ISO text, ``PT36H15M00S``) are read as durations.  calamine does not
report an ODS file's merged cells: they are read here from ``content.xml`` (a cell's
``table:number-rows-spanned`` / ``number-columns-spanned``), so that a record written over two
merged rows is one record in an .ods as in an .xlsx.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any
from xml.parsers import expat

from sdbatch import settings
from sdbatch.model import Finding, RawSheet
from sdbatch.reading import calamine

Box = tuple[int, int, int, int]
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_T = {name: f"{_TABLE} {name}" for name in (
    "table", "table-row", "table-cell", "covered-table-cell", "name", "number-rows-repeated",
    "number-columns-repeated", "number-rows-spanned", "number-columns-spanned")}


def read(path: Path) -> tuple[list[RawSheet], list[Finding]]:
    """The reader of ``ods`` files."""
    spans = merged_ranges(path)
    return calamine.read(path, merged_for=lambda name: spans.get(name, []), ods=True)


def merged_ranges(path: Path) -> dict[str, list[Box]]:
    """Sheet name -> its merged ranges (0-based, inclusive), at most ``MAX_MERGED_RANGES`` a sheet.
    A file whose content cannot be scanned gives none (calamine's reading then says what is wrong)."""
    found: dict[str, list[Box]] = {}
    at = {"row": 0, "col": 0, "rows_rep": 1}
    current: list[Box] = []

    def count(attrs: dict[str, str], key: str) -> int:
        try:
            return max(int(attrs.get(_T[key], "1")), 1)
        except ValueError:
            return 1

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal current
        if tag == _T["table"]:
            current = found.setdefault(attrs.get(_T["name"], ""), [])
            at.update(row=0, col=0)
        elif tag == _T["table-row"]:
            at.update(col=0, rows_rep=count(attrs, "number-rows-repeated"))
        elif tag in (_T["table-cell"], _T["covered-table-cell"]):
            rows, cols = count(attrs, "number-rows-spanned"), count(attrs, "number-columns-spanned")
            if (rows > 1 or cols > 1) and len(current) < settings.MAX_MERGED_RANGES:
                current.append((at["row"], at["col"], at["row"] + rows - 1, at["col"] + cols - 1))
            at["col"] += count(attrs, "number-columns-repeated")

    def end(tag: str) -> None:
        if tag == _T["table-row"]:
            at["row"] += at["rows_rep"]

    def refuse(*_: Any) -> None:
        raise ValueError("entity declaration")  # preflight refuses these first

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.EntityDeclHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        with zipfile.ZipFile(path) as zf, zf.open("content.xml") as member:  # bounded by preflight
            while chunk := member.read(1 << 20):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except Exception:  # noqa: BLE001 - a damaged content.xml: no merges, calamine's reading says why
        return {}
    return found

