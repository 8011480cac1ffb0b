"""Finding enterprise lists: a sheet's first rows recognised as a list, and the sheets of a list file.

What :func:`sdbatch.evidence.claim` asks of every spreadsheet of the inbox, so it costs what a
look at the first rows costs: no numpy or pandas here (a summary, which is nearly every file, never
loads them); :mod:`.read` then reads the columns of the lists found.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sdbatch import header, settings
from sdbatch.catalogue import text
from sdbatch.evidence.spec import EvidenceSpec
from sdbatch.model import Finding, RawSheet, Source, Table
from sdbatch.text import display_name

if TYPE_CHECKING:
    import numpy as np

_HEAD_ROWS = settings.HEADER_SEARCH_ROWS + settings.MAX_HEADER_DEPTH + 2

# ----------------------------------------------------------------------------- recognising
@dataclass
class _Found:
    spec: EvidenceSpec
    table: Table
    head: RawSheet


def recognise(head: RawSheet, specs: list[tuple[EvidenceSpec, Any]]) -> _Found | None:
    """The round whose list ``head`` (a sheet's first rows) holds, or None.

    A list names the firm (企业名称) and the detect fields (the credit code) in its header, and at
    least as many fields as the round's summary table would find there."""
    head = above_data(head)
    best: tuple[int, _Found] | None = None
    for spec, rules in specs:
        table = header.find_table(head, spec.view)
        if table is None:
            continue
        strong = {c.field for c in table.columns if c.field and c.score >= header.STRONG_MATCH}
        if spec.role("firm") not in strong or not set(spec.detect_fields) <= strong:
            continue
        summary = header.find_table(head, rules)
        if summary is not None:
            summary_strong = {c.field for c in summary.columns if c.field and c.score >= header.STRONG_MATCH}
            if len(summary_strong) > len(strong):
                continue
        score = len({c.field for c in table.columns if c.field})
        if best is None or score > best[0]:
            best = (score, _Found(spec, table, head))
    return best[1] if best else None


_NUMERIC_TEXT = re.compile(r"^\s*[+-]?[\d,]*\.?\d+\s*$")


def above_data(head: RawSheet) -> RawSheet:
    """The rows of ``head`` down to its first row of data (two numbers or more): the header is
    above it, and a search among a list's first rows of firms would only cost time."""
    for r, row in enumerate(head.rows):
        numbers = sum(1 for v in row if (isinstance(v, (int, float)) and not isinstance(v, bool))
                      or (isinstance(v, str) and _NUMERIC_TEXT.match(v)))
        if r and numbers >= 2 and any(isinstance(v, str) and not _NUMERIC_TEXT.match(v) for v in row):
            keep = r + 1  # the first data row stays: the header stage sees where data begins
            return RawSheet(name=head.name, rows=head.rows[:keep],
                            merged=[(r0, c0, min(r1, keep - 1), c1) for r0, c0, r1, c1 in head.merged if r0 < keep])
    return head


# ----------------------------------------------------------------------------- reading
class ListSource:
    """A sheet of a list file: its first rows, and its cells below the header by columns."""

    name: str
    hidden: bool

    def head(self) -> RawSheet:
        raise NotImplementedError

    def chunks(self, start: int, wanted: list[int]) -> Iterator[tuple[list[Any], np.ndarray]]:
        """Cells of the columns ``wanted`` (0-based) from row ``start`` (0-based) on, a chunk of
        rows at a time: one sequence per column, and the 1-based row numbers."""
        raise NotImplementedError


class _CalamineSheet(ListSource):
    def __init__(self, path: Path, sheet: Any, name: str, hidden: bool) -> None:
        self.path, self.sheet, self.name, self.hidden = path, sheet, name, hidden

    def head(self) -> RawSheet:
        from sdbatch.reading.calamine import native

        with native():
            rows = self.sheet.to_python(skip_empty_area=False, nrows=_HEAD_ROWS)
        grid = [[None if v == "" else v for v in row] for row in rows]
        try:
            merged = [(a[0], a[1], b[0], b[1]) for a, b in (self.sheet.merged_cell_ranges or [])
                      if a[0] < _HEAD_ROWS]
        except Exception:  # noqa: BLE001 - not every format carries merges
            merged = []
        return RawSheet(name=self.name, rows=grid, merged=[(r0, c0, min(r1, _HEAD_ROWS - 1), c1)
                                                           for r0, c0, r1, c1 in merged])

    def chunks(self, start: int, wanted: list[int]) -> Iterator[tuple[list[Any], np.ndarray]]:
        first_col = (self.sheet.start or (0, 0))[1]
        rows = itertools.islice(self.sheet.iter_rows(), start, None)
        return gather(rows, [c - first_col for c in wanted], start)


def gather(rows: Any, wanted: list[int], start: int) -> Iterator[tuple[list[Any], np.ndarray]]:
    """Columns ``wanted`` of an iterator of rows (lists), transposed a chunk of rows at a time:
    each row is looked at once and dropped; only the wanted columns of one chunk are held."""
    inside = [(i, c) for i, c in enumerate(wanted) if c >= 0]
    width = max((c for _, c in inside), default=-1) + 1
    pick = operator.itemgetter(*[c for _, c in inside]) if inside else None
    first = start + 1
    while True:
        chunk = list(itertools.islice(rows, settings.LIST_READ_CHUNK))
        if not chunk:
            return
        n = len(chunk)
        out: list[Any] = [None] * len(wanted)
        if pick is not None:
            if any(len(row) < width for row in chunk):  # ragged rows (text files): padded
                chunk = [row if len(row) >= width else [*row, *([None] * (width - len(row)))] for row in chunk]
            picked = map(pick, chunk)
            cols: Any = zip(*picked, strict=True) if len(inside) > 1 else [tuple(picked)]
            for (i, _), col in zip(inside, cols, strict=True):
                out[i] = col
        del chunk
        yield [col if col is not None else (None,) * n for col in out], _arange(first, first + n)
        first += n


class _GridSheet(ListSource):
    """A sheet already read whole by the reading package (HTML, Excel 2003 XML: small files)."""

    def __init__(self, sheet: RawSheet) -> None:
        self.raw, self.name, self.hidden = sheet, sheet.name, sheet.hidden

    def head(self) -> RawSheet:
        return RawSheet(name=self.raw.name, rows=self.raw.rows[:_HEAD_ROWS],
                        merged=[m for m in self.raw.merged if m[0] < _HEAD_ROWS])

    def chunks(self, start: int, wanted: list[int]) -> Iterator[tuple[list[Any], np.ndarray]]:
        rows = self.raw.rows[start:]
        yield ([[row[c] if c < len(row) else None for row in rows] for c in wanted],
               _arange(start + 1, start + 1 + len(rows)))


class _CsvSheet(ListSource):
    """A text table: decoded as the summary reader decodes it, read by Python's csv module (C)."""

    def __init__(self, path: Path, name: str) -> None:
        self.path, self.name, self.hidden = path, name, False
        self.encoding, self.sep = _csv_format(path)

    def _rows(self, limit: int | None = None) -> Any:
        import csv
        import io

        with self.path.open("rb") as fh:
            data = fh.read() if limit is None else fh.read(limit)
        decoded = data.decode(self.encoding, errors="replace")
        csv.field_size_limit(settings.MAX_CELL_CHARS * 4 + 1)
        return csv.reader(io.StringIO(decoded), delimiter=self.sep)

    def head(self) -> RawSheet:
        rows = [[v.strip() or None for v in row] for row in itertools.islice(self._rows(1 << 20), _HEAD_ROWS)]
        return RawSheet(name=self.name, rows=rows)

    def chunks(self, start: int, wanted: list[int]) -> Iterator[tuple[list[Any], np.ndarray]]:
        return gather(itertools.islice(self._rows(), start, None), wanted, start)


def _csv_format(path: Path) -> tuple[str, str]:
    from sdbatch.reading.sniff import separators

    with path.open("rb") as fh:
        sample = fh.read(1 << 16)
    encoding = "utf-8"
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        for candidate in settings.CSV_ENCODINGS:
            try:
                sample.decode(candidate)
            except UnicodeDecodeError as exc:
                if exc.start < len(sample) - 4:  # a character cut at the end of the sample is fine
                    continue
            encoding = candidate
            break
    decoded = sample.decode(encoding, errors="replace")
    lines = [line for line in decoded.splitlines()[:50] if line.strip()]
    counts = {d: sum(line.count(d) for line in lines) for d in separators()}
    sep = max(counts, key=lambda d: counts[d])
    return encoding, sep if counts[sep] else ","


def sources(path: Path, kind: str) -> tuple[list[ListSource], Any]:
    """The sheets of a list file (and the workbook to close)."""
    if kind in ("xlsx", "xlsm"):
        for rows, cols in extents(path):
            _check_extent(path, rows, cols)
    if kind in ("xlsx", "xlsm", "ods"):  # bounded by preflight; an .xls goes through xlrd (below)
        from sdbatch.reading.calamine import native, open_book

        with native():
            wb = open_book(path)  # a name in GBK bytes too
            hidden = {m.name for m in wb.sheets_metadata if str(m.visible).lower().rsplit(".", 1)[-1] != "visible"}
            out: list[ListSource] = []
            from sdbatch.reading.limits import check_sheet_count

            check_sheet_count(path, len(wb.sheet_names))
            laid_out = 0  # cells of every sheet laid out so far: one worksheet named 200 times is 200 grids
            for name in wb.sheet_names:
                sheet = wb.get_sheet_by_name(name)
                rows, cols = sheet.height + (sheet.start or (0, 0))[0], sheet.width
                laid_out += rows * cols
                _check_extent(path, rows, cols)
                if laid_out > settings.MAX_LIST_CELLS:
                    _check_extent(path, laid_out // max(cols, 1), cols)  # refused for the whole workbook
                out.append(_CalamineSheet(path, sheet, name, name in hidden))
        return out, wb
    if kind == "csv":
        return [_CsvSheet(path, display_name(path.stem)[:31])], None
    from sdbatch import reading

    raw = reading.read_workbook(path)
    return [_GridSheet(s) for s in raw.sheets], None


_ROW = re.compile(rb'<row r="([0-9]{1,9})"')
_BEYOND_Z = re.compile(rb'<c r="[A-Za-z]{2,}[0-9]')  # any column past Z, XFD or a damaged ZZZZ alike
_UNUSUAL = re.compile(rb'<c\s(?!r=")|<[A-Za-z_][\w.-]*:c\s|<row\s(?!r=")')
_CHUNK = 1 << 22


def extents(path: Path) -> list[tuple[int, int]]:
    """(rows, columns) each worksheet of an .xlsx may lay out, before calamine lays it out densely.

    A list of 10^5 rows holds 10^6 cells: scanning every cell reference (what
    :func:`sdbatch.reading.limits.scan_workbook` does for summaries) costs more than reading them.
    Here the row elements bound the rows, and a cell reference is looked at only if it names a
    column beyond Z or a row below the last row element (a far cell): bounds within
    the real extent (a cell further down than the last row element is found by its number).  A
    sheet spelt otherwise than Excel spells it (prefixes, attributes
    in another order, rows without numbers) gets the full scan."""
    import zipfile

    from sdbatch.reading import limits

    out: list[tuple[int, int]] = []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not re.fullmatch(r"xl/worksheets/[^/]+\.xml", info.filename, re.I):
                continue
            rows, wide, unusual = 0, False, False
            tail = b""
            with zf.open(info) as fh:
                while chunk := fh.read(_CHUNK):
                    data = tail + chunk
                    found = _ROW.findall(data)
                    if found:
                        rows = max(rows, max(map(int, found)))
                    # a cell below every row element so far (rows only grow: a false alarm costs the
                    # full scan, never a wrong answer)
                    far = re.compile(rb'<c r="[A-Za-z]+(?:' + _greater_than(rows).encode() + rb')"')
                    wide = bool(_BEYOND_Z.search(data)) or bool(far.search(data))
                    unusual = bool(_UNUSUAL.search(data))
                    if unusual or wide:
                        break
                    tail = data[-64:]
            if unusual or wide:
                scan = limits.scan_workbook(path).get(info.filename)
                out.append((scan.value_rows, scan.value_cols) if scan else (0, 0))
            else:
                out.append((rows, 26))
    return out


def _greater_than(n: int) -> str:
    """A regular expression matching exactly the decimal numbers above ``n`` (no leading zeros)."""
    digits = str(n)
    k = len(digits)
    options = [f"[1-9][0-9]{{{k},}}"]  # more digits
    for i, d in enumerate(digits):
        if d != "9":
            options.append(f"{digits[:i]}[{int(d) + 1}-9][0-9]{{{k - i - 1}}}")
    return "|".join(options)


def _check_extent(path: Path, rows: int, cols: int) -> None:
    from sdbatch.reading.sniff import reject

    if rows > settings.MAX_LIST_ROWS or cols > settings.MAX_COLS or rows * cols > settings.MAX_LIST_CELLS:
        raise reject("file-too-large", path, text("reading.extent_too_large", rows=rows, cols=cols))


def _arange(start: int, stop: int) -> np.ndarray:
    import numpy as np

    return np.arange(start, stop)


def find_lists(srcs: list[ListSource], file: str, specs: list[tuple[EvidenceSpec, Any]]
               ) -> tuple[list[tuple[ListSource, _Found]], list[Finding]] | None:
    """The sheets of ``srcs`` that are lists (with the notes on the others) when every sheet holding
    something is a list or nothing the batch reads; None otherwise (a summary, a score sheet: the
    batch reads the file as before)."""
    found_sheets: list[tuple[ListSource, _Found]] = []
    notes: list[Finding] = []
    for src in srcs:
        head = src.head()
        if not any(any(v is not None for v in row) for row in head.rows):
            continue
        if src.hidden:
            notes.append(Finding("hidden-sheet-skipped", "warning", params={"sheet": src.name},
                                 source=Source(file, src.name)))
            continue
        found = recognise(head, specs)
        if found is None:
            if any(header.find_table(head, rules) is not None for _, rules in specs):
                return None  # a summary table (beside lists or not): read as a summary
            notes.append(Finding("other-sheet-skipped", "info", params={
                "sheet": src.name, "detail": text("evidence.not_a_list")}, source=Source(file, src.name)))
            continue
        found_sheets.append((src, found))
    return (found_sheets, notes) if found_sheets else None
