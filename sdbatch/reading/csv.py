"""Text tables (.csv, .txt, .tsv): UTF-8 with or without BOM, GBK/GB18030, UTF-16 as Excel
saves "Unicode text"; the separator is the one used most in the first lines (comma, tab,
semicolon, bar, full-width comma).  No line may be longer than ``MAX_CSV_LINE_BYTES`` (a
95 MB line of commas would become 100 million cells); a table beyond ``MAX_ROWS`` rows or
``MAX_COLS`` columns is refused, never cut.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from sdbatch import settings
from sdbatch.catalogue import text
from sdbatch.model import FileRejected, Finding, RawSheet
from sdbatch.reading.cells import CellCleaner, check_position, strip_illegal, trim_rows
from sdbatch.reading.sniff import reject, separators
from sdbatch.text import display_name


def read(path: Path) -> tuple[list[RawSheet], list[Finding]]:
    """The reader of ``csv`` files: one sheet named after the file."""
    path = Path(path)
    file = display_name(path.name)
    data = path.read_bytes()
    _check_lines(path, data)
    decoded = None
    encodings: tuple[str, ...] = settings.CSV_ENCODINGS
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)  # "Unicode text" as Excel saves it
    elif len(data) >= 4 and data[1:4:2] == b"\x00\x00" and data[0:4:2] != b"\x00\x00":
        encodings = ("utf-16-le",)  # the same without its byte-order mark
    for encoding in encodings:
        try:
            decoded = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if decoded is None:
        raise reject("file-unreadable", path, text("reading.csv_encoding"))
    if "\x00" in decoded:
        raise reject("not-a-spreadsheet", path, text("reading.csv_binary"))
    delimiter = _delimiter(decoded[:16384])
    csv.field_size_limit(settings.MAX_CELL_CHARS * 4 + 1)
    sheet_name = strip_illegal(display_name(path.stem))[:31]
    clean = CellCleaner(file, sheet_name)
    rows: list[list[Any]] = []
    try:
        # newline="": a line ending in \r alone (old Mac, or a \r typed into a cell) ends a row as
        # \r\n and \n do, and line breaks inside quoted fields stay in their cell.
        for r, row in enumerate(csv.reader(io.StringIO(decoded, newline=""), delimiter=delimiter)):
            line = [clean(v, r, c) for c, v in enumerate(row)]
            end = len(line)
            while end and line[end - 1] is None:
                end -= 1
            if end:
                check_position(path, r, end - 1)
            elif r >= settings.MAX_ROWS:
                continue  # empty lines past the limit cost nothing; a value there is refused
            rows.append(line[:end])
    except csv.Error as exc:  # the csv module's own words are English: said in Chinese
        too_long = "field larger than field limit" in str(exc)
        detail = text("reading.csv_cell_too_long", limit=settings.MAX_CELL_CHARS * 4) if too_long \
            else text("reading.csv_malformed")
        raise FileRejected("file-unreadable", file=file, detail=detail) from None
    return [RawSheet(name=sheet_name, rows=trim_rows(rows))], clean.notes()


def _check_lines(path: Path, data: bytes) -> None:
    """No line longer than the limit (a 95 MB line of commas would become 100 million cells)."""
    start = 0
    newline = b"\n" if b"\n" in data or b"\r" not in data else b"\r"  # lines ended by \r alone too
    while start < len(data):
        end = data.find(newline, start)
        end = len(data) if end < 0 else end
        if end - start > settings.MAX_CSV_LINE_BYTES:
            line_no = data.count(newline, 0, start) + 1
            raise reject("file-too-large", path, text(
                "reading.csv_line_too_long", line=line_no, limit=settings.MAX_CSV_LINE_BYTES // 1024))
        start = end + 1


def _delimiter(sample: str) -> str:
    """The separator used most in the first lines (a title line has none, so no Sniffer)."""
    lines = [line for line in sample.splitlines()[:50] if line.strip()]
    candidates = separators()
    counts = {d: sum(line.count(d) for line in lines) for d in candidates}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","
