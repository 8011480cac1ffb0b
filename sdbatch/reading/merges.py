"""Merged ranges in proportion to the content they merge.

A merged range costs as many cells as it covers, in the readers (openpyxl makes an object per
covered cell), in ``RawSheet.merged_value`` lookups and in the review writer, which merges
the same range again.  A file may declare a range over a whole sheet (A1:XFD1048576, 17
billion cells) in 30 bytes.  :func:`settle` keeps each sheet's ranges in proportion to its
values:

- a range within ``MERGED_RANGE_SLACK`` rows and columns of the last value is kept as it is
  (a notes block merged a few rows below its text is ordinary);
- a range reaching farther is clipped to the last row and column holding a value
  (``merged-range-clipped``); one that starts beyond them merges nothing that was read, and one
  drawn over other values (A1:XFD1048576 over a filled table: as merged it would hide the table
  behind its first cell, and Excel never merges over values) is not meant: both are ignored
  (``merged-range-ignored``);
- past ``MAX_MERGED_RANGES`` ranges or ``MAX_MERGED_CELLS`` covered cells in one sheet, the
  remaining ranges are ignored (``merged-range-ignored``).

What a later stage sees through ``merged_value`` inside the values' rectangle is unchanged by
clipping: a clipped range still covers every cell that holds or may show a value.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sdbatch import settings
from sdbatch.catalogue import default_severity, text
from sdbatch.model import Finding, RawSheet, Source, cell_address

Box = tuple[int, int, int, int]  # r0, c0, r1, c1, 0-based and inclusive


def range_ref(box: Box) -> str:
    r0, c0, r1, c1 = box
    return f"{cell_address(r0, c0)}:{cell_address(r1, c1)}"


def extent(rows: list[list[Any]]) -> tuple[int, int]:
    """(rows, columns) up to the last cell holding a value."""
    n_rows = n_cols = 0
    for r, row in enumerate(rows):
        end = len(row)
        while end and row[end - 1] is None:
            end -= 1
        if end:
            n_rows = r + 1
            n_cols = max(n_cols, end)
    return n_rows, n_cols


def settle(ranges: Iterable[Box], rows: list[list[Any]], *,
           extra: int = 0) -> tuple[list[Box], list[Box], list[Box], list[Box], int]:
    """(kept, clipped, ignored as outside the values, ignored as covering other values, ranges
    ignored over the limits) for the ranges of a sheet holding ``rows``; clipped and ignored
    ranges as declared.  ``extra``: ranges declared beyond those passed (counted, never seen)."""
    slack = settings.MERGED_RANGE_SLACK
    n_rows, n_cols = extent(rows)
    kept: list[Box] = []
    clipped: list[Box] = []
    outside: list[Box] = []
    hiding: list[Box] = []
    over = extra
    covered = 0
    budget = settings.MAX_CELLS  # cells examined for values under far-reaching ranges
    for declared in ranges:
        r0, c0, r1, c1 = declared
        if r1 >= n_rows + slack or c1 >= n_cols + slack:
            if r0 >= n_rows or c0 >= n_cols:
                outside.append(declared)
                continue
            r1, c1 = min(r1, n_rows - 1), min(c1, n_cols - 1)
            budget -= (r1 - r0 + 1) * (c1 - c0 + 1)
            if budget < 0:
                over += 1
                continue
            if _hides_values(rows, (r0, c0, r1, c1)):
                # A range drawn over a filled table (A1:XFD1048576): as merged it would hide the
                # table behind its first cell; Excel never merges over values, so it is not meant.
                hiding.append(declared)
                continue
            clipped.append(declared)
        cells = (r1 - r0 + 1) * (c1 - c0 + 1)
        if len(kept) >= settings.MAX_MERGED_RANGES or covered + cells > settings.MAX_MERGED_CELLS:
            over += 1
            continue
        covered += cells
        kept.append((r0, c0, r1, c1))
    return kept, clipped, outside, hiding, over


def _hides_values(rows: list[list[Any]], box: Box) -> bool:
    """Whether a cell of ``box`` other than its first holds a value."""
    r0, c0, r1, c1 = box
    for r in range(r0, min(r1, len(rows) - 1) + 1):
        part = rows[r][c0 : c1 + 1]
        held = len(part) - part.count(None)
        if r == r0 and part and part[0] is not None:
            held -= 1
        if held:
            return True
    return False


def settle_sheet(sheet: RawSheet, file: str, *, extra: int = 0) -> list[Finding]:
    """Settle ``sheet.merged`` in place against the sheet's values; the findings to report."""
    if not sheet.merged and not extra:
        return []
    kept, clipped, outside, hiding, over = settle(sheet.merged, sheet.rows, extra=extra)
    sheet.merged = kept
    return notes_for(file, sheet.name, clipped, outside, hiding, over)


def notes_for(file: str, sheet: str, clipped: list[Box], outside: list[Box], hiding: list[Box],
              over: int) -> list[Finding]:
    notes = _per_range("merged-range-clipped", file, sheet, clipped, at_cell=True)
    notes += _per_range("merged-range-ignored", file, sheet, outside, at_cell=False,
                        reason=text("reading.merged_outside"))
    notes += _per_range("merged-range-ignored", file, sheet, hiding, at_cell=True,
                        reason=text("reading.merged_hides_values"))
    if over:
        code = "merged-range-ignored"
        notes.append(Finding(code, default_severity(code), source=Source(file, sheet), params={
            "sheet": sheet, "range": text("reading.more_ranges", count=over),
            "reason": text("reading.merged_over_limit", ranges=settings.MAX_MERGED_RANGES,
                           cells=settings.MAX_MERGED_CELLS)}))
    return notes


def _per_range(code: str, file: str, sheet: str, boxes: list[Box], *, at_cell: bool,
               **params: Any) -> list[Finding]:
    """One finding per range, at most MAX_CELL_NOTES, then one for the rest."""
    notes = []
    limit = settings.MAX_CELL_NOTES
    for box in boxes[:limit]:
        where = Source(file, sheet, box[0] + 1, cell_address(box[0], box[1])) if at_cell else Source(file, sheet)
        notes.append(Finding(code, default_severity(code), source=where,
                             params={"sheet": sheet, "range": range_ref(box), **params}))
    if len(boxes) > limit:
        notes.append(Finding(code, default_severity(code), source=Source(file, sheet), params={
            "sheet": sheet, "range": text("reading.more_ranges", count=len(boxes) - limit), **params}))
    return notes
