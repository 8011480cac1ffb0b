"""Cells placed by position with row and column spans: the HTML and Excel 2003 XML readers.

Both formats say where a cell goes by counting (and by spans of the cells above), so a few
bytes may place a cell far away or span a huge area; every placement is bounded by
``MAX_ROWS`` / ``MAX_COLS`` / ``MAX_CELLS`` and refused with a Chinese reason beyond them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdbatch import settings
from sdbatch.catalogue import text
from sdbatch.reading.sniff import reject

Box = tuple[int, int, int, int]


def span(value: str | None) -> int:
    """A rowspan/colspan/index attribute as a positive int (1 when missing or not a number)."""
    try:
        n = int((value or "1").strip().split(".")[0] or 1)
    except ValueError:
        return 1
    return n if n > 0 else 1


class Grid:
    """Cells placed at (row, col) with spans, bounded by MAX_ROWS / MAX_COLS / MAX_CELLS."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cells: dict[int, dict[int, str]] = {}
        self.merged: list[Box] = []
        self.count = 0
        self.last_row = -1  # the last row holding text or starting a span

    def put(self, row: int, col: int, value: str, rowspan: int = 1, colspan: int = 1) -> None:
        if row >= settings.MAX_ROWS or col >= settings.MAX_COLS:
            if value.strip():
                key = "reading.too_many_rows" if row >= settings.MAX_ROWS else "reading.too_many_cols"
                limit = settings.MAX_ROWS if row >= settings.MAX_ROWS else settings.MAX_COLS
                raise reject("file-too-large", self.path, text(key, limit=limit))
            return
        self.count += 1  # empty cells count too: they may carry spans
        if self.count > settings.MAX_CELLS:
            raise reject("file-too-large", self.path, text("reading.too_many_cells", limit=settings.MAX_CELLS))
        if value:
            self.cells.setdefault(row, {})[col] = value
            self.last_row = max(self.last_row, row)
        r1 = min(row + max(rowspan, 1), settings.MAX_ROWS) - 1
        c1 = min(col + max(colspan, 1), settings.MAX_COLS) - 1
        if (r1, c1) != (row, col):
            self.merged.append((row, col, r1, c1))
            self.last_row = max(self.last_row, row)

    def rows(self, n_rows: int) -> list[list[Any]]:
        """The first ``n_rows`` rows (at most up to the last one holding something: empty rows
        after it cost nothing); empty cells are None.  ``merged`` is cut to those rows."""
        n_rows = min(n_rows, self.last_row + 1)
        out: list[list[Any]] = [[] for _ in range(n_rows)]
        for r, cols in self.cells.items():
            if r < n_rows:
                line = out[r]
                for c, value in cols.items():
                    if c >= len(line):
                        line.extend([None] * (c + 1 - len(line)))
                    line[c] = value
        self.merged = [(r0, c0, min(r1, n_rows - 1), c1) for (r0, c0, r1, c1) in self.merged if r0 < n_rows]
        return out


def fill(path: Path, rows: list[list[Any]], merged: list[Box]) -> None:
    """Repeat each merged range's value in every cell it covers (in place)."""
    budget = settings.MAX_CELLS
    for r0, c0, r1, c1 in merged:
        value = rows[r0][c0] if r0 < len(rows) and c0 < len(rows[r0]) else None
        if value is None:
            continue
        budget -= (r1 - r0 + 1) * (c1 - c0 + 1)
        if budget < 0:
            raise reject("file-too-large", path, text("reading.spans_too_large", limit=settings.MAX_CELLS))
        for r in range(r0, min(r1, len(rows) - 1) + 1):
            line = rows[r]
            if c1 >= len(line):
                line.extend([None] * (c1 + 1 - len(line)))
            for c in range(c0, c1 + 1):
                if line[c] is None:
                    line[c] = value
