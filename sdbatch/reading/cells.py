"""Cell values as every later stage may hold them, whatever the reader.

Each reader passes the values its library gives through one :class:`CellCleaner` per sheet.
What comes out (``RawSheet.rows``) is ``None``, ``str``, ``int``, ``float`` (finite),
``bool``, ``datetime.datetime``, ``datetime.date`` or ``datetime.time`` — values that
normalise understands, that openpyxl can write into a review workbook and that
``json.dumps`` can carry once ``model._jsonable`` has turned dates into ISO text:

- text: characters an Excel cell cannot hold (control characters other than tab and line
  breaks: openpyxl raises IllegalCharacterError on them) are removed, with an
  ``illegal-characters-removed`` finding at the cell; longer than ``MAX_CELL_CHARS`` is cut
  (normalise reports ``text-truncated``); blank text is an empty cell;
- numbers: integral floats become ints; NaN and ±infinity (a damaged cell, ``1E999``) become
  the text ``#NUM!``, Excel's own error for a number it cannot hold, so normalise reports a
  numeric field as unreadable and no non-finite float reaches results.json;
- durations (``[h]:mm:ss`` cells, ``datetime.timedelta``) become the text Excel shows, e.g.
  ``36:15:00`` (hours, minutes, seconds; ``-0:30:00`` below zero): a duration is not an
  amount, and as text a numeric field reports it as unreadable instead of guessing a unit;
- anything else a library may hand over becomes its text.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from sdbatch import settings
from sdbatch.catalogue import default_severity, text
from sdbatch.model import Finding, Source, cell_address
from sdbatch.reading.sniff import reject

NUM_ERROR = "#NUM!"  # what Excel shows for a number it cannot represent
# openpyxl's ILLEGAL_CHARACTERS_RE (what it refuses to write into a cell), without importing
# openpyxl here; a test holds the two equal.
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def cap_text(value: str) -> tuple[str, bool]:
    """``value`` cut to ``MAX_CELL_CHARS`` characters, and whether it was cut."""
    if len(value) > settings.MAX_CELL_CHARS:
        return value[: settings.MAX_CELL_CHARS], True
    return value, False


def duration_text(value: dt.timedelta) -> str:
    """A duration as Excel's ``[h]:mm:ss`` shows it: ``36:15:00``; seconds rounded."""
    seconds = round(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"


def strip_illegal(value: str) -> str:
    """``value`` without the characters an Excel cell cannot hold (for names, not cells)."""
    return ILLEGAL_CHARACTERS_RE.sub("", value)


class CellCleaner:
    """Plain values for one sheet, and a finding for each cell whose text had to change.

    ``clean(value, row, col)`` with 0-based coordinates; ``notes()`` the findings, at most
    ``MAX_CELL_NOTES`` one per cell, then one for the rest.
    """

    def __init__(self, file: str, sheet: str) -> None:
        self.file = file
        self.sheet = sheet
        self.changed: list[tuple[int, int]] = []
        self.changed_count = 0
        self.limit = settings.MAX_CELL_CHARS
        # A short text read again and again down a sheet (a city, 是/否, an industry, a unit) is
        # held once: a reader makes a new string for every cell (issue 16).  Only while reading.
        self._short: dict[str, str] = {}
        self._short_chars, self._short_count = settings.SHARED_TEXT_CHARS, settings.SHARED_TEXTS

    def __call__(self, value: Any, row: int, col: int) -> Any:
        if value is None:
            return None
        if type(value) is str:  # the common case first: most cells are plain text
            if len(value) <= self.limit and value.isprintable():
                if not value or value.isspace():
                    return None
                if len(value) <= self._short_chars and len(self._short) < self._short_count:
                    return self._short.setdefault(value, value)
                return value
            return self._text(value, row, col)
        if isinstance(value, str):
            return self._text(value, row, col)
        if isinstance(value, float):
            if not math.isfinite(value):
                return NUM_ERROR
            if value.is_integer() and abs(value) < 1e15:
                return int(value)
            return value
        if isinstance(value, (bool, int, dt.date, dt.time)):  # datetime is a date
            return value
        if isinstance(value, dt.timedelta):
            return duration_text(value)
        return self._text(str(value), row, col)

    def _text(self, value: str, row: int, col: int) -> str | None:
        if ILLEGAL_CHARACTERS_RE.search(value):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
            self.changed_count += 1
            if len(self.changed) < settings.MAX_CELL_NOTES:
                self.changed.append((row, col))
        capped, _ = cap_text(value)
        return capped if capped.strip() else None

    def notes(self) -> list[Finding]:
        code = "illegal-characters-removed"
        found = []
        for row, col in self.changed:
            address = cell_address(row, col)
            found.append(Finding(code, default_severity(code), params={"sheet": self.sheet, "cell": address},
                                 source=Source(self.file, self.sheet, row + 1, address)))
        rest = self.changed_count - len(self.changed)
        if rest > 0:
            found.append(Finding(code, default_severity(code), params={
                "sheet": self.sheet, "cell": text("reading.more_cells", count=rest)},
                source=Source(self.file, self.sheet)))
        return found


def trim_rows(rows: list[list[Any]]) -> list[list[Any]]:
    """Trailing empty cells and trailing empty rows dropped (in place for the rows)."""
    for i, row in enumerate(rows):
        end = len(row)
        while end and row[end - 1] is None:
            end -= 1
        if end < len(row):
            rows[i] = row[:end]
    while rows and not rows[-1]:
        rows.pop()
    return rows


def check_position(path: Any, row: int, col: int) -> None:
    """Refuse a value beyond ``MAX_ROWS`` rows or ``MAX_COLS`` columns (0-based position):
    never cut a table silently.  A position before the first row or column (a cell ``A0`` in a
    damaged sheet XML, which openpyxl accepts) is a damaged file."""
    if row < 0 or col < 0:
        raise reject("file-unreadable", path, text("reading.cell_before_sheet"))
    if row >= settings.MAX_ROWS:
        raise reject("file-too-large", path, text("reading.too_many_rows", limit=settings.MAX_ROWS))
    if col >= settings.MAX_COLS:
        raise reject("file-too-large", path, text("reading.too_many_cols", limit=settings.MAX_COLS))
