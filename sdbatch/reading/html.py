"""HTML tables saved as .xls (“网页格式”, what many systems export): the first ``<table>``.

Parsed with the standard library's tolerant HTMLParser, in 1 MB pieces, in the encoding the
page declares or its bytes show (:func:`sniff.detect_encoding`).  Spans are placed as a
browser would; a cell spanning several rows or columns has its text repeated in every cell it
covers (so a two-row merged header or a city written once for three rows reads naturally).
Excel's full-precision ``x:num`` attribute is preferred over the shown text, except for
percentages, whose shown text keeps the "%".
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from sdbatch import settings
from sdbatch.catalogue import text
from sdbatch.model import FileRejected, Finding, RawSheet
from sdbatch.reading import merges
from sdbatch.reading.cells import CellCleaner, strip_illegal, trim_rows
from sdbatch.reading.grid import Grid, fill, span
from sdbatch.reading.sniff import SNIFF_BYTES, detect_encoding, iter_text, reject
from sdbatch.text import display_name


class _TableParser(HTMLParser):
    """The first <table> of a page: text of each td/th, with rowspan/colspan placement."""

    _BLOCK_BREAKS = ("br", "p", "div", "li")

    def __init__(self, grid: Grid) -> None:
        super().__init__(convert_charrefs=True)
        self.grid = grid
        self.depth = 0  # <table> nesting; we read the outermost first table only
        self.done = False
        self.found = False
        self.row = -1
        self.col = 0
        self.active: list[tuple[int, int, int, int]] = []  # rowspans still open: (r0, c0, c1, r1)
        self.cell: list[str] | None = None
        self.cell_len = 0
        self.cell_span = (1, 1)
        self.cell_value: str | None = None  # Excel's x:num / x:str attribute
        self.skip = 0  # inside <script>/<style>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if tag in ("script", "style"):
            self.skip += 1
            return
        if tag == "table":
            self.depth += 1
            self.found = True
            return
        if self.depth != 1:
            if self.depth > 1 and tag in self._BLOCK_BREAKS:
                self._text("\n")
            return
        if tag == "tr":
            self._end_cell()
            self.row += 1
            self.col = 0
        elif tag in ("td", "th"):
            self._end_cell()
            if self.row < 0:
                self.row, self.col = 0, 0
            a = {k.lower(): v for k, v in attrs}
            self.cell = []
            self.cell_len = 0
            self.cell_span = (span(a.get("rowspan")), span(a.get("colspan")))
            # Excel's full-precision number; not for percentages, whose shown text keeps the "%"
            raw = a.get("x:num")
            self.cell_value = raw.strip() if raw and raw.strip() else None
        elif tag in self._BLOCK_BREAKS and self.cell is not None:
            self._text("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" and self.cell is not None and not self.done:
            self._text("\n")
        elif tag not in ("table", "tr", "td", "th"):
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self.done:
            return
        if tag in ("script", "style"):
            self.skip = max(self.skip - 1, 0)
        elif tag == "table" and self.depth:
            self.depth -= 1
            if self.depth == 0:
                self._end_cell()
                self.done = True
        elif self.depth == 1 and tag in ("td", "th", "tr"):
            self._end_cell()

    def handle_data(self, data: str) -> None:
        if self.cell is not None and not self.skip and not self.done:
            self._text(data)

    def _text(self, data: str) -> None:
        assert self.cell is not None
        room = settings.MAX_CELL_CHARS + 1 - self.cell_len  # one over, so cap_text still sees it
        if room > 0:
            piece = data[:room]
            self.cell.append(piece)
            self.cell_len += len(piece)

    def _end_cell(self) -> None:
        if self.cell is None:
            return
        value = _tidy("".join(self.cell))
        if self.cell_value is not None and not value.endswith("%"):
            value = self.cell_value
        self.cell = None
        self.active = [s for s in self.active if s[3] >= self.row]
        col = self.col
        moved = True
        while moved:  # skip the columns covered by rowspans from the rows above
            moved = False
            for r0, c0, c1, _r1 in self.active:
                if r0 < self.row and c0 <= col <= c1:
                    col, moved = c1 + 1, True
        rowspan, colspan = self.cell_span
        colspan = min(colspan, settings.MAX_COLS)
        rowspan = min(rowspan, settings.MAX_ROWS)
        self.grid.put(self.row, col, value, rowspan, colspan)
        if rowspan > 1 and col < settings.MAX_COLS:
            self.active.append((self.row, col, col + colspan - 1, self.row + rowspan - 1))
        self.col = col + colspan


def _tidy(value: str) -> str:
    """HTML whitespace rules: runs collapse to one space; <br> line breaks are kept."""
    lines = [" ".join(part.replace("\xa0", " ").split()) for part in value.split("\n")]
    return "\n".join(line for line in lines).strip("\n ")


def _parse(path: Path) -> tuple[Grid, int]:
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    encoding = detect_encoding(head)
    grid = Grid(path)
    parser = _TableParser(grid)
    try:
        for piece in iter_text(path, encoding):
            parser.feed(piece)
            if parser.done:
                break
        parser.close()
    except FileRejected:
        raise
    except Exception as exc:  # noqa: BLE001 - html.parser on hostile markup
        raise reject("file-unreadable", path, text("reading.html_unparseable", error=type(exc).__name__)) from None
    parser._end_cell()
    if not parser.found:
        raise reject("not-a-spreadsheet", path, text("reading.html_without_table"))
    return grid, parser.row + 1


def read_html_sheet(path: Path, name: str | None = None) -> RawSheet:
    """The first <table> as a RawSheet: spanned cells are None and listed in ``merged``
    (as declared, before :func:`merges.settle`)."""
    path = Path(path)
    grid, n_rows = _parse(path)
    rows = grid.rows(n_rows)
    return RawSheet(name=name or path.stem, rows=rows, merged=grid.merged)


def _settled(path: Path, file: str) -> tuple[RawSheet, list[Finding]]:
    sheet = read_html_sheet(path, strip_illegal(display_name(path.stem))[:31])
    notes = merges.settle_sheet(sheet, file)
    fill(path, sheet.rows, sheet.merged)
    return sheet, notes


def read_html_table(path: Path) -> list[list[str]]:
    """Rows of the first <table> of an HTML page saved as .xls, as text ("" when empty).

    A cell spanning several rows or columns has its text repeated in every cell it covers.
    Raises FileRejected (not-a-spreadsheet when there is no table).
    """
    path = Path(path)
    sheet, _ = _settled(path, display_name(path.name))
    return [["" if v is None else v for v in row] for row in sheet.rows]


def read(path: Path) -> tuple[list[RawSheet], list[Finding]]:
    """The reader of ``html`` files: one sheet named after the file, spans filled in."""
    path = Path(path)
    file = display_name(path.name)
    sheet, notes = _settled(path, file)
    clean = CellCleaner(file, sheet.name)
    rows: list[list[Any]] = [[clean(v, r, c) for c, v in enumerate(row)] for r, row in enumerate(sheet.rows)]
    return [RawSheet(name=sheet.name, rows=trim_rows(rows))], [*notes, *clean.notes()]
