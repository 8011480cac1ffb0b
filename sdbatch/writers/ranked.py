"""The province list ``<rules.list_title>.xlsx`` (推荐名单.xlsx / 认定名单.xlsx) for the experts.

Sheets: 排名 (eligible + needs_review in rank order), 全部申报, 各市汇总 (every city, with a
stacked column chart), 按产业 (or the program's own grouping), the sheets the program and the
shared stages declare (e.g. 资金分配意见), 变更情况 when given, and 说明 (the run, the colour
legend, the program's notes).  Ranks, scores and statuses are read from the result, never
recomputed.  Written as XML, sheet by sheet (:mod:`sdbatch.writers.xlsxpatch`, issue 16): text from a
city is written as text, never as a formula.

Every sheet is print-ready (issue 14): A4, a readable scale or the table split into blocks of
columns (:mod:`sdbatch.writers.printing`), repeated header rows, a page header with the list's
title and the run time (China time), page x/y in the footer, widths set by content, row heights
for wrapped text, and numbers formatted by unit.  Every word comes from ``ui.toml`` ``[lists]``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdbatch import provenance, settings
from sdbatch.catalogue import join, text
from sdbatch.jurisdiction import jurisdiction_of
from sdbatch.model import STATUSES, Application, RunResult
from sdbatch.writers import charts, printing
from sdbatch.writers import xlsxpatch as xp
from sdbatch.writers._common import (
    COLOURS,
    NEUTRAL_FILL,
    UNKNOWN_CITY,
    Mapped,
    city_key,
    colour_legend,
    header_with_unit,
    number_format,
    outcome_columns,
    plain,
    program_of,
    programs_of,
    reason,
    status_colour,
    status_label,
    time_text,
)

RANKED_STATUSES = ("eligible", "needs_review")
CHANGE_KEYS = ("kind", "city", "name", "old_status", "new_status", "note")
# Chart series per status: the legend's red in three shades for the three failing statuses.
_CHART_COLOURS = {"eligible": "#70AD47", "needs_review": "#FFC000", "incomplete": "#F4B183",
                  "ineligible": "#C00000", "over_quota": "#FF7C80"}
SCORE_FORMAT = "0.00"
WHOLE_FORMAT = "0"
DATA_CAP = 20  # a column grows with its content up to this width, then wraps
MIN_WIDTH = 5
CHART_SIZE = (900, 420)  # pixels; narrower when the printed page is
CHART_ROWS = 22  # rows the chart covers below the city summary (420 px at 20 px a row)
WIDTH_MEMO = 200_000  # distinct texts whose widths a list remembers
WIDTH_UNIT_FONT_PT = 11  # the workbook's own font size: Calibri 11 has the 7-pixel digit widths count in


def _t(key: str, /, **params: Any) -> str:
    return text(f"lists.{key}", **params)


def write_ranked_list(result: RunResult, run_dir: Path, changes: list[dict[str, Any]] | None = None) -> list[Path]:
    """Write one list workbook per program of the run; return their paths.

    ``changes`` (rows with keys kind, city, name, old_status, new_status, note — or the Chinese
    column titles) adds a 变更情况 sheet.  The program adds its declared columns
    (``Program.outcome_columns``), sheets (``list_sheets``) and notes (``notes``).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    programs = programs_of(result)
    for name, rules in programs.items():
        title = getattr(rules, "list_title", None) or _t("default_title")
        path = run_dir / f"{title}.xlsx"
        if path in paths:
            path = run_dir / f"{title}-{name}.xlsx"
        apps = [a for a in result.applications if a.program == name or len(programs) == 1 and not a.program]
        tmp = path.with_name(path.name + ".tmp")
        _write_program(tmp, result, name, rules, apps, changes if _changes_for(changes, name) else None,
                       single=len(programs) == 1)
        os.replace(tmp, path)
        paths.append(path)
    return paths


def _changes_for(changes: list[dict[str, Any]] | None, program: str) -> bool:
    if changes is None:
        return False
    return True if not changes else any(c.get("program") in (None, program) for c in changes)


# ----------------------------------------------------------------------------- workbook and sheets
def _look(style: str) -> xp.Look:
    """The cell format of each style the list uses (fills from the colour legend)."""
    size = settings.PRINT_FONT_PT  # the tables' text; the workbook's own font stays the width unit's
    cell = xp.Look(border=True, wrap=True, vertical="top", size=size)
    looks = {
        "cell": cell,
        "header": xp.Look(bold=True, fill=NEUTRAL_FILL, border=True, wrap=True, horizontal="center",
                          vertical="center", size=size),
        "total": xp.Look(bold=True, fill=NEUTRAL_FILL, border=True, wrap=True, vertical="top", size=size),
        "title": xp.Look(bold=True, size=14),
        "label": xp.Look(bold=True, vertical="top", wrap=True),
        "wrap": xp.Look(wrap=True, vertical="top"),
        # A caveat every reader must see: bold in a box, in no colour of the legend.
        "note": xp.Look(bold=True, wrap=True, vertical="top", frame=True),
    }
    if style in COLOURS:
        return xp.Look(border=True, wrap=True, vertical="top", fill=COLOURS[style], size=size)
    return looks[style]


def xlsx_width(width: float) -> float:
    """A column width in characters as a file stores it: with the cell's padding of 5 pixels, in
    1/256 of a character, as Excel (and xlsxwriter) write it."""
    if width <= 0:
        return 0.0
    digit, padding = 7, 5
    pixels = int(width * (digit + padding) + 0.5) if width < 1 else int(width * digit + 0.5) + padding
    return int(pixels / digit * 256) / 256


class _Book:
    """The workbook being written (:class:`~sdbatch.writers.xlsxpatch.OutputPackage`: each sheet
    streamed as XML when finished, issue 16), its cell formats and the page header."""

    def __init__(self, path: Path, heading: str, run_time: str) -> None:
        # The workbook's font is the unit of its column widths (xlsx_width: a 7-pixel digit)
        self.out = xp.OutputPackage(path, None, _t("font"), WIDTH_UNIT_FONT_PT)
        self.heading = heading
        self.run_time = run_time
        self._formats: dict[tuple[str, str | None], int] = {}
        self.titles: set[str] = set()  # the sheets' titles so far (a program's sheet may repeat one)
        self._reasons: dict[int, str] = {}
        self._reason_texts: dict[str, str] = {}  # each distinct reason line once (most lines repeat)
        # Text widths measured once per text: a list of 100,000 rows repeats cities, statuses and
        # reasons in every row and measures each text again for its row's height (issue 16).
        self._widths: dict[str, float] = {}

    def reason(self, app: Application, rules: Any) -> str:
        """The application's reason line (written on several sheets), made once."""
        key = id(app)
        found = self._reasons.get(key)
        if found is None:
            made = reason(app, rules)
            found = self._reasons[key] = self._reason_texts.setdefault(made, made)
        return found

    def width(self, shown: str) -> float:
        """``printing.text_width(shown)``, measured once per distinct text."""
        found = self._widths.get(shown)
        if found is None:
            found = printing.text_width(shown)
            # An ASCII text (a number as shown, a code) is counted again rather than remembered.
            if len(self._widths) < WIDTH_MEMO and not shown.isascii():
                self._widths[shown] = found
        return found

    def fmt(self, style: str = "cell", num: str | None = None) -> int:
        """The style id of a cell of ``style`` with number format ``num``."""
        key = (style, num)
        found = self._formats.get(key)
        if found is None:
            look = _look(style)
            if num:
                look = dataclasses.replace(look, number_format=num)
            found = self._formats[key] = self.out.styles.look(look)
        return found

    def close(self) -> None:
        self.out.close()

    def abandon(self) -> None:
        self.out.abandon()


@dataclass
class _Chart:
    """A chart placed below a sheet's table (0-based row), drawn when the sheet is finished."""

    row: int
    chart: charts.ColumnChart


class _Sheet:
    """A worksheet with safe writes that remembers what it needs to lay itself out for print.

    Cells are measured when given (column widths, the last row and column) and written in
    :meth:`finish`, row by row, as XML (rows must be given in order; a table's rows are kept as
    the caller gave them: a list of applications gives a :class:`~sdbatch.writers._common.Mapped`,
    made again when written).  Text is written as text, never as a formula."""

    def __init__(self, book: _Book, name: str) -> None:
        self.book = book
        self.name = xp.sheet_title(book.titles, name, _t("sheets.fallback"))
        self.widths: dict[int, float] = {}
        self.fixed_rows: set[int] = set()
        self.last_row = 0
        self.last_col = 0
        self.header_row: int | None = None
        self.key_columns = 0
        self.chart: _Chart | None = None
        self.filter: tuple[int, int, int] | None = None  # (first row, last row, last column), 0-based
        self.freeze_row = 0  # rows frozen at the top
        self._ops: list[tuple[Any, ...]] = []  # what finish() writes, in row order
        self._row_at = 0  # the first row the next write may use

    def _add(self, first: int, last: int, op: tuple[Any, ...]) -> None:
        if first < self._row_at:  # a programming error: rows are written in order
            raise ValueError(f"sheet {self.name!r}: row {first + 1} written after row {self._row_at + 1}")
        self._row_at = last
        self._ops.append(op)

    def _seen(self, row: int, col: int, shown: str, cap: float) -> None:
        if row > self.last_row:
            self.last_row = row
        if col > self.last_col:
            self.last_col = col
        current = self.widths.get(col, MIN_WIDTH)
        if current < cap:  # a column already as wide as it may grow stays so whatever the text
            self.widths[col] = max(current, min(self.book.width(shown) + 1, cap))
        elif col not in self.widths:
            self.widths[col] = current

    def put(self, row: int, col: int, value: Any, style: str = "cell", num: str | None = None) -> None:
        self._seen(row, col, _cell(value, num)[3], DATA_CAP)
        self._add(row, row, ("put", row, col, value, style, num))

    def raw(self, row: int, col: int, line: str, style: str, wraps: bool = False) -> None:
        """A text written as it is, without measuring its column (a title, the notes sheet);
        ``wraps``: its row is as tall as the text needs."""
        self._add(row, row, ("raw", row, col, line, style, wraps))

    def header(self, row: int, headers: Sequence[str]) -> None:
        for c, h in enumerate(headers):
            self._seen(row, c, h, printing.header_width(h))
        self._add(row, row, ("header", row, list(headers)))
        self.header_row = row if self.header_row is None else self.header_row

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]], first_row: int = 0,
              styles: Sequence[str] | None = None, styled_col: int = -1,
              formats: Sequence[str | None] = (), key_columns: int = 0) -> int:
        """Header at ``first_row``, one row per item; ``styles[i]`` colours column ``styled_col``
        of row i; ``formats[c]`` is column c's number format.  Returns the last row written."""
        self.header(first_row, headers)
        nums = list(formats)
        n_nums = len(nums)
        widths, width = self.widths, self.book.width
        for r, values in enumerate(rows, start=first_row + 1):
            if values:  # what _seen() does for each cell, without measuring a column at its cap
                self.last_row = max(self.last_row, r)
                self.last_col = max(self.last_col, len(values) - 1)
            for c, value in enumerate(values):
                current = widths.get(c, MIN_WIDTH)
                if current >= DATA_CAP:
                    widths.setdefault(c, current)
                    continue
                shown = _cell(value, nums[c] if c < n_nums else None)[3]
                widths[c] = max(current, min(width(shown) + 1, DATA_CAP))
        if rows:
            self._add(first_row + 1, first_row + len(rows), ("rows", first_row + 1, rows, styles, styled_col, nums))
            self._row_at = first_row + len(rows) + 1  # a table's rows are written whole: nothing joins its last
        last_row = first_row + max(len(rows), 1)
        self.filter = (first_row, last_row, max(len(headers) - 1, 0))
        self.freeze_row = first_row + 1
        self.key_columns = key_columns
        return last_row

    def note(self, row: int, line: str, span: int, style: str = "wrap") -> None:
        """A line of text below a table, merged over ``span`` columns."""
        last = max(span - 1, 1)
        self._add(row, row, ("note", row, last, line, style))
        self.last_row = max(self.last_row, row)

    # ------------------------------------------------------------------ writing, row by row
    def _rows(self) -> Iterator[tuple[int, list[Any], list[int], dict[int, str], tuple[int, str] | None]]:
        """(row, values, style ids, wrapping texts by column, merged note) for every row given, in
        order; the values and styles start at column A."""
        fmt = self.book.fmt
        row: int | None = None
        cells: dict[int, tuple[Any, int, str | None]] = {}
        note: tuple[int, str] | None = None
        for op in self._ops:
            kind = op[0]
            if kind == "rows":
                if row is not None:
                    yield self._row_of(row, cells, note)
                    row, cells, note = None, {}, None
                _, first, rows, styles, styled_col, nums = op
                n_nums = len(nums)
                for i, values in enumerate(rows):
                    coloured = styles[i] if styles else "cell"
                    out_values: list[Any] = []
                    out_styles: list[int] = []
                    texts: dict[int, str] = {}
                    for c, value in enumerate(values):
                        _kind, shown_value, num, shown, wraps = _cell(value, nums[c] if c < n_nums else None)
                        out_values.append(shown_value)
                        out_styles.append(fmt(coloured if c == styled_col else "cell", num))
                        if wraps and shown:
                            texts[c] = shown
                    yield first + i, out_values, out_styles, texts, None
                continue
            r = op[1]
            if r != row:
                if row is not None:
                    yield self._row_of(row, cells, note)
                row, cells, note = r, {}, None
            if kind == "put":
                _, _, c, value, style, num = op
                _kind, shown_value, num, shown, wraps = _cell(value, num)
                cells[c] = (shown_value, fmt(style, num), shown if wraps else None)
            elif kind == "header":
                for c, h in enumerate(op[2]):
                    cells[c] = (h, fmt("header"), h)
            elif kind == "raw":
                _, _, c, line, style, wraps = op
                cells[c] = (line, fmt(style), line if wraps else None)
            else:  # a note merged over columns 0..last
                _, _, last, line, style = op
                style_id = fmt(style)
                cells[0] = (line, style_id, None)
                for c in range(1, last + 1):
                    cells.setdefault(c, (None, style_id, None))
                note = (last, line)
        if row is not None:
            yield self._row_of(row, cells, note)

    @staticmethod
    def _row_of(row: int, cells: dict[int, tuple[Any, int, str | None]], note: tuple[int, str] | None
                ) -> tuple[int, list[Any], list[int], dict[int, str], tuple[int, str] | None]:
        width = max(cells) + 1 if cells else 0
        values: list[Any] = [None] * width
        styles = [0] * width
        texts: dict[int, str] = {}
        for c, (value, style, shown) in cells.items():
            values[c], styles[c] = value, style
            if shown:
                texts[c] = shown
        return row, values, styles, texts, note

    def _height(self, row: int, texts: dict[int, str], note: tuple[int, str] | None) -> float | None:
        """The row's height when its texts wrap onto more lines than one (None: the default)."""
        if note is not None:
            last, line = note
            width = sum(self.widths.get(c, MIN_WIDTH) for c in range(0, last + 1))
            return printing.row_height([(line, width)])
        if row in self.fixed_rows or not texts or self._one_line(texts):
            return None
        height = self._row_height(texts)
        return height if height > printing.LINE_HEIGHT_PT else None

    def _one_line(self, cells: dict[int, str]) -> bool:
        """Whether every text of a row fits on one line (``printing.row_height`` would give one
        line's height: the row keeps the default), measured without splitting or dividing."""
        for c, shown in cells.items():
            if "\n" in shown or self.book.width(shown) > max(self.widths.get(c, MIN_WIDTH) - 0.5, 1):
                return False
        return True

    def _row_height(self, cells: dict[int, str]) -> float:
        """``printing.row_height`` of the row's texts, with the widths measured once per text."""
        lines = 1
        for c, shown in cells.items():
            usable = max(self.widths.get(c, MIN_WIDTH) - 0.5, 1)
            count = sum(max(1, math.ceil(self.book.width(part) / usable)) for part in shown.split("\n"))
            lines = max(lines, count)
        return max(printing.LINE_HEIGHT_PT, lines * printing.LINE_HEIGHT_PT)

    def finish(self) -> None:
        """Write the sheet: its rows, widths, frozen header, filter, merged notes, chart and how it
        prints (A4, a readable scale or blocks of columns, repeated header rows, page header)."""
        out = self.book.out
        cols = range(self.last_col + 1)
        widths = [self.widths.get(c, MIN_WIDTH) for c in cols]
        layout = printing.plan(widths, self.key_columns)
        header, footer = printing.header_footer(
            _t("page_header", heading=self.book.heading, sheet=self.name),
            _t("page_time", time=self.book.run_time), _t("page_footer"))
        last_row = self.last_row
        breaks: tuple[int, ...] = ()
        chart_size = CHART_SIZE
        if self.chart is not None:
            # The chart starts a page of its own and is no wider than one printed page.
            first_block = layout.breaks[0] if layout.breaks else len(widths)
            room = min(printing.room_pixels(layout),
                       sum(printing.column_pixels(w) for w in widths[:first_block]))
            chart_size = (min(CHART_SIZE[0], int(room)), CHART_SIZE[1])
            breaks = (self.chart.row + 1,)
            last_row = self.chart.row + CHART_ROWS
        page = xp.PageSetup(landscape=layout.landscape, fit_width=layout.fit_width, scale=layout.scale,
                            pages_tall=layout.pages_tall, row_breaks=breaks,
                            col_breaks=tuple(b + 1 for b in layout.breaks), header=header, footer=footer)
        part = out.name("xl/worksheets/sheet", ".xml")
        merges: list[tuple[int, int, int, int]] = []
        last_col = min(self.last_col + 1, xp.MAX_COLUMNS)  # 1-based, as the references count
        table = None  # the filtered table's corners, 1-based
        if self.filter is not None:
            first, last, filter_col = self.filter
            table = (first + 1, 1, last + 1, min(filter_col + 1, xp.MAX_COLUMNS))
        with out.stream(part, xp.CT_SHEET) as fh:
            view = xp.SheetView(freeze=(self.freeze_row, 0) if self.freeze_row else None, selected=not out.sheets,
                                fit_to_page=page.fits, widths={c + 1: xlsx_width(w) for c, w in enumerate(widths)},
                                dimension=xp.range_ref(1, 1, self.last_row + 1, last_col))
            writer = xp.SheetWriter(fh, view)
            for row, values, styles, texts, note in self._rows():
                writer.row(row + 1, values, styles, height=self._height(row, texts, note))
                if note is not None:
                    merges.append((row + 1, 1, row + 1, note[0] + 1))
            self._ops = []
            writer.close(merges=merges, auto_filter=xp.range_ref(*table) if table else None, page=page,
                         drawing=charts.SHEET_DRAWING_ID if self.chart is not None else None)
        if self.chart is not None:
            charts.add_chart(out, part, self.chart.chart, self.chart.row, 0, chart_size)
        titles = []
        if layout.breaks and layout.repeat_columns:
            titles.append(f"$A:${xp.column_letters(layout.repeat_columns)}")
        if self.header_row is not None:
            titles.append(f"$1:${self.header_row + 1}")
        out.add_sheet(xp.SheetEntry(self.name, part, print_titles=",".join(titles) or None,
                                    print_area=xp.range_ref(1, 1, max(last_row, 0) + 1, last_col, absolute=True),
                                    filter_range=xp.range_ref(*table, absolute=True) if table else None))


def _cell(value: Any, num: str | None) -> tuple[str, Any, str | None, str, bool]:
    """How a value is written: (kind ``s``/``n``/``b``, the value written, its number format, the
    text it shows (for widths and heights), whether it wraps)."""
    if type(value) is str and "\r" not in value:  # the common case first (what plain() leaves as it is)
        return "s", value, num, value, True
    value = plain(value)
    if isinstance(value, bool):
        value = str(value)
    if value is None:
        return "b", None, num, "", False
    if isinstance(value, (int, float)):
        num = num or (WHOLE_FORMAT if isinstance(value, int) else SCORE_FORMAT)
        shown = f"{value:,.2f}" if num == SCORE_FORMAT else f"{value:,.0f}" if num == WHOLE_FORMAT else str(value)
        return "n", value, num, shown, False
    shown = str(value)
    return "s", shown, num, shown, True


# ----------------------------------------------------------------------------- the list of one program
def _write_program(path: Path, result: RunResult, program: str, rules: Any, apps: list[Application],
                   changes: list[dict[str, Any]] | None, single: bool) -> None:
    list_name = getattr(rules, "list_title", None) or _t("default_title")
    heading = f"{getattr(rules, 'title', program)}{list_name}"
    book = _Book(path, heading, time_text(result.started))
    try:
        _write_sheets(book, result, program, rules, apps, changes, single, heading)
    except BaseException:
        book.abandon()
        raise
    book.close()


def _write_sheets(book: _Book, result: RunResult, program: str, rules: Any, apps: list[Application],
                  changes: list[dict[str, Any]] | None, single: bool, heading: str) -> None:
    book.out.core_properties = provenance.core_part(heading, _t("run_comment", run_id=result.run_id))
    book.out.custom_properties = provenance.custom_part("list", result.run_id)  # never read back as a submission
    prog = program_of(result, program)
    key_ids = {fid for fid, _, _ in _key_fields(rules)}
    # A program's column already shown as a key field is not repeated.
    columns = [c for c in outcome_columns(prog, apps, "list", "department") if c.key not in key_ids]
    notes = prog.notes(result, apps, "department")
    name_label = rules.label("name") if rules is not None else _t("name")
    # Each sheet is written as soon as it is built, so the rows of only one are held (issue 16).
    _rank_sheet(book, apps, rules, columns, name_label, [n for n in notes if n.emphasis]).finish()
    _all_sheet(book, apps, rules, columns, name_label).finish()
    _city_sheet(book, result, program, rules, apps, single, columns).finish()
    _group_sheet(book, apps, rules, name_label).finish()
    for spec in [*prog.list_sheets(result, apps), *result.list_sheets.get(program, [])]:
        _spec_sheet(book, spec).finish()
    if changes is not None:
        _changes_sheet(book, [c for c in changes if c.get("program") in (None, program)]).finish()
    _notes(book, result, program, rules, notes).finish()


def _key_fields(rules: Any) -> list[tuple[str, str, str | None]]:
    """(field id, header, number format) of the rules' key fields (report.key_fields)."""
    out: list[tuple[str, str, str | None]] = []
    report = getattr(rules, "report", {}) or {}
    for fid in report.get("key_fields", []):
        spec = rules.fields.get(fid) if rules is not None else None
        if spec is None:
            out.append((fid, fid, None))
        else:
            out.append((fid, header_with_unit(spec.label, spec.unit), number_format(spec.unit, spec.type)))
    return out


def _rank_key(app: Application) -> tuple[Any, ...]:
    return (app.rank is None, app.rank or 0)


def _status_styles(apps: Sequence[Application]) -> list[str]:
    return [status_colour(a.status) or "cell" for a in apps]


def _rank_sheet(book: _Book, apps: list[Application], rules: Any, columns: list[Any], name_label: str,
                caveats: list[Any]) -> _Sheet:
    sheet = _Sheet(book, _t("sheets.rank"))
    ranked = sorted((a for a in apps if a.status in RANKED_STATUSES), key=_rank_key)
    keys = _key_fields(rules)
    headers = ([_t("cols.rank"), _t("cols.city"), name_label, _t("cols.score")] + [h for _, h, _ in keys]
               + [c.label for c in columns] + [_t("cols.status"), _t("cols.reason")])
    formats = ([WHOLE_FORMAT, None, None, SCORE_FORMAT] + [f for _, _, f in keys]
               + [c.number_format for c in columns] + [None, None])
    rows = Mapped(ranked, lambda a: [a.rank, a.city, a.name, a.score]
                 + [(a.industry if fid == "industry" else a.values.get(fid)) for fid, _, _ in keys]
                 + [c.value(a) for c in columns] + [status_label(a.status), book.reason(a, rules)])
    last = sheet.table(headers, rows, styles=_status_styles(ranked), styled_col=len(headers) - 2,
                       formats=formats, key_columns=3)
    if not ranked:
        sheet.put(1, 2, _t("no_ranked"), "wrap")
    for i, note in enumerate(caveats):  # below the table, outside the filter range; also in 说明
        sheet.note(last + 2 + i, text("punct.pair", label=note.label, value=note.text), min(len(headers), 12), "note")
    return sheet


def _all_sheet(book: _Book, apps: list[Application], rules: Any, columns: list[Any], name_label: str) -> _Sheet:
    sheet = _Sheet(book, _t("sheets.all"))
    order = jurisdiction_of(rules).order
    rows_apps = sorted(apps, key=lambda a: (order.get(a.city or "", 99), a.city_order is None,
                                            a.city_order or 0, a.source.file, a.source.row or 0))
    with_order = any(a.city_order is not None for a in apps) or not apps
    _, group_rank = _group_words(rules)
    headers = ([_t("cols.city")] + ([_t("cols.city_order")] if with_order else [])
               + [name_label, _group_label(rules), _t("cols.status"), _t("cols.reason"), _t("cols.score"),
                  _t("cols.rank"), group_rank] + [c.label for c in columns] + [_t("cols.file"), _t("cols.row")])
    formats = ([None] + ([WHOLE_FORMAT] if with_order else [])
               + [None, None, None, None, SCORE_FORMAT, WHOLE_FORMAT, WHOLE_FORMAT]
               + [c.number_format for c in columns] + [None, WHOLE_FORMAT])
    rows = Mapped(rows_apps, lambda a: [city_key(a.city)] + ([a.city_order] if with_order else [])
                 + [a.name, _group_value(a, rules), status_label(a.status), book.reason(a, rules),
                    a.score, a.rank, a.industry_rank] + [c.value(a) for c in columns]
                 + [a.source.file, a.source.row])
    sheet.table(headers, rows, styles=_status_styles(rows_apps), styled_col=headers.index(_t("cols.status")),
                formats=formats, key_columns=3 if with_order else 2)
    return sheet


def _has_quota(rules: Any) -> bool:
    return rules is None or getattr(rules, "quota_default", None) is not None or bool(getattr(rules, "quota_cities", None))


def _city_sheet(book: _Book, result: RunResult, program: str, rules: Any, apps: list[Application], single: bool,
                columns: list[Any]) -> _Sheet:
    sheet = _Sheet(book, _t("sheets.cities"))
    quota = _has_quota(rules)
    statuses = [s for s in reversed(STATUSES) if quota or s != "over_quota"]
    # A program's columns summed (奖补上限合计) or counted per value (认定示范型…) per city.
    counted = [(c, v) for c in columns if c.summary == "count" for v in c.values]
    summed = [c for c in columns if c.summary == "sum"]
    headers = ([_t("cols.city_plain")] + ([_t("cols.quota")] if quota else []) + [_t("cols.submitted")]
               + [status_label(s) for s in statuses]
               + [_summary_label(c, v) for c, v in counted] + [_summary_label(c) for c in summed]
               + [_t("cols.files"), _t("cols.rejected"), _t("cols.late"), _t("cols.remark")])
    n_counts = 1 + len(statuses) + len(counted)
    formats = ([None] + ([WHOLE_FORMAT] if quota else []) + [WHOLE_FORMAT] * n_counts
               + [c.number_format or SCORE_FORMAT for c in summed] + [WHOLE_FORMAT, WHOLE_FORMAT, None, None])
    rows: list[list[Any]] = []
    cities = list(jurisdiction_of(rules).cities)
    # a file no city could be given (an expert's that cannot be read) is counted in a row of its own
    extra_cities = sorted(({city_key(a.city) for a in apps} | {city_key(r.city) for r in result.files
                                                               if r.status == "rejected"}) - set(cities))
    for city in cities + extra_cities:
        city_apps = [a for a in apps if city_key(a.city) == city]
        files = [r for r in result.files if city_key(r.city) == city and r.status != "ignored"
                 and (single or r.program in (None, program))]
        city_quota = rules.quota_for(city) if (rules is not None and city in cities) else None
        late = any(r.late for r in files if r.status in ("processed", "superseded", "duplicate"))
        rejected = sum(1 for r in files if r.status == "rejected")
        note = ""
        if not files and not city_apps:
            note = _t("not_submitted")
        elif city == UNKNOWN_CITY and rejected:
            note = _t("rejected_files", files=join([r.file for r in files if r.status == "rejected"]))
        elif rejected and not city_apps:
            note = _t("all_rejected")
        rows.append([city] + ([city_quota] if quota else []) + [len(city_apps)]
                    + [sum(1 for a in city_apps if a.status == s) for s in statuses]
                    + [sum(1 for a in city_apps if c.value(a) == v) for c, v in counted]
                    + [_money(sum(float(c.value(a) or 0) for a in city_apps)) for c in summed]
                    + [len(files), rejected, text("values.yes") if late else text("values.no"), note])
    first_count = 2 if quota else 1  # column of 报送数
    n_sum = n_counts + len(summed) + 2  # 报送数 … 退回文件数
    total = ([_t("total")] + ([None] if quota else [])
             + [_money(sum(r[first_count + i] for r in rows)) for i in range(n_sum)] + [None, None])
    last = sheet.table(headers, rows, formats=formats, key_columns=1)
    for c, value in enumerate(total):  # a number, not a SUM formula: nothing in this file is a formula
        sheet.put(last + 1, c, value, "total", formats[c] if c < len(formats) else None)

    n = len(rows)
    name = xp.quote_sheet(sheet.name)
    categories = [r[0] for r in rows]
    series = []
    for i, status in enumerate(statuses):
        col = first_count + 1 + i  # 0-based
        letter = xp.column_letters(col + 1)
        series.append(charts.Series(
            name=headers[col], name_ref=f"{name}!${letter}$1", categories=categories,
            categories_ref=f"{name}!$A$2:$A${n + 1}", values=[r[col] for r in rows],
            values_ref=f"{name}!${letter}$2:${letter}${n + 1}", colour=_CHART_COLOURS[status].lstrip("#")))
    entity = getattr(rules, "entity", "") or _t("entity")
    tallest = max((r[first_count] for r in rows), default=0)  # 报送数: the height of a city's column
    chart = charts.ColumnChart(title=_t("chart.title", entity=entity), x_title=_t("chart.x"),
                               y_title=_t("chart.y", entity=entity), series=series,
                               major_unit=max(1, math.ceil(tallest / 10)))
    sheet.chart = _Chart(last + 3, chart)
    return sheet


def _summary_label(column: Any, value: str = "") -> str:
    if column.summary_label:
        return text(column.summary_label, value=value)
    return f"{column.label} {value}".strip()


def _money(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 4)


def _group_field(rules: Any) -> str:
    return str(getattr(rules, "group_field", "industry") or "industry") if rules is not None else "industry"


def _group_value(app: Application, rules: Any) -> Any:
    field = _group_field(rules)
    if app.industry or field == "industry":
        return app.industry
    return app.values.get(field)


def _group_words(rules: Any) -> tuple[str, str]:
    """(sheet name, within-group rank header), from the group label: 按产业 / 产业内排名 for
    industries (the sheet named by ``lists.sheets.industry``), else 按园区类型 / 园区类型内排名."""
    if _group_field(rules) == "industry":
        return _t("sheets.industry"), _t("cols.industry_rank")
    label = _group_label(rules)
    return _t("sheets.group", group=label)[:31], _t("cols.group_rank", group=label)


def _group_label(rules: Any) -> str:
    """Header of the grouping column: 主导产业 for clusters, 园区类型 for parks (rules' group_field)."""
    return rules.label(rules.group_field) if rules is not None else _t("cols.industry")


def _group_choices(rules: Any) -> list[str]:
    if rules is None:
        return []
    field = rules.fields.get(rules.group_field)
    choices = rules.choices.get(field.choices) if field is not None and field.choices else None
    return list(choices.allowed) if choices is not None else []


def _group_sheet(book: _Book, apps: list[Application], rules: Any, name_label: str) -> _Sheet:
    sheet_name, group_rank = _group_words(rules)
    sheet = _Sheet(book, sheet_name)
    allowed = _group_choices(rules)
    order = {ind: i for i, ind in enumerate(allowed)}
    group_label = _group_label(rules)
    unknown = _t("unrecognised")
    rows_apps = sorted(apps, key=lambda a: (order.get(a.industry or "", len(order)), a.industry or "~",
                                            a.industry_rank is None, a.industry_rank or 0,
                                            a.rank is None, a.rank or 0))
    headers = [group_label, group_rank, _t("cols.rank"), _t("cols.city"), name_label, _t("cols.score"),
               _t("cols.status"), _t("cols.reason")]
    formats = [None, WHOLE_FORMAT, WHOLE_FORMAT, None, None, SCORE_FORMAT, None, None]
    rows = Mapped(rows_apps, lambda a: [a.industry or unknown, a.industry_rank, a.rank, city_key(a.city), a.name,
                                       a.score, status_label(a.status), book.reason(a, rules)])
    last = sheet.table(headers, rows, styles=_status_styles(rows_apps), styled_col=6, formats=formats,
                       key_columns=1)
    # Per-group counts below the list (beside it, they would widen every printed page).
    first = last + 2
    sheet.header(first, [group_label, _t("cols.group_count"), _t("cols.group_ranked")])
    groups = allowed + sorted({a.industry or unknown for a in apps} - set(allowed))
    for r, group in enumerate(groups, start=first + 1):
        group_apps = [a for a in apps if (a.industry or unknown) == group]
        sheet.put(r, 0, group)
        sheet.put(r, 1, len(group_apps), num=WHOLE_FORMAT)
        sheet.put(r, 2, sum(1 for a in group_apps if a.status in RANKED_STATUSES), num=WHOLE_FORMAT)
    return sheet


def _spec_sheet(book: _Book, spec: Any) -> _Sheet:
    """A sheet a program declared (programs.base.SheetSpec): title, table, notes below."""
    sheet = _Sheet(book, spec.name)
    first = 0
    if spec.title:
        sheet.raw(0, 0, spec.title, "title")
        sheet.fixed_rows.add(0)
        first = 2
    formats = [spec.number_formats.get(c) for c in range(len(spec.headers))]
    last = sheet.table(spec.headers, [list(row) for row in spec.rows], first_row=first, formats=formats,
                       key_columns=min(2, len(spec.headers)))
    for i, line in enumerate(spec.notes):
        sheet.note(last + 2 + i, line, len(spec.headers))
    return sheet


def _changes_sheet(book: _Book, changes: list[dict[str, Any]]) -> _Sheet:
    sheet = _Sheet(book, _t("sheets.changes"))
    titles = [_t(f"changes.{key}") for key in CHANGE_KEYS]
    rows = []
    for change in changes:
        row = []
        for key, title in zip(CHANGE_KEYS, titles, strict=True):
            value = change.get(key, change.get(title))
            if key in ("old_status", "new_status") and value in STATUSES:
                value = status_label(value)
            row.append(value)
        rows.append(row)
    sheet.table(titles, rows, key_columns=2)
    if not rows:
        sheet.put(1, 0, _t("no_changes"), "wrap")
    return sheet


def _notes(book: _Book, result: RunResult, program: str, rules: Any, notes: list[Any]) -> _Sheet:
    """说明: what the list is, the run, the colour legend (once), the program's notes, the items
    left to the experts."""
    sheet = _Sheet(book, _t("sheets.notes"))
    lines: list[tuple[str, str, str]] = [
        (_t("info.list"), book.heading, "wrap"),
        (_t("info.notice"), getattr(rules, "notice", ""), "wrap"),
        (_t("info.rules"), f"{program} {getattr(rules, 'version', result.rules_version)}", "wrap"),
        (_t("info.run_id"), result.run_id, "wrap"),
        (_t("info.run_time"), book.run_time, "wrap"),
    ]
    for i, (colour, line) in enumerate(colour_legend()):
        lines.append((text("legend.title") if i == 0 else "", line, colour))
    for note in notes:
        lines.append((note.label, note.text, "note" if note.emphasis else "wrap"))
    for i, item in enumerate(getattr(rules, "expert_items", ()) or ()):
        lines.append((_t("info.expert_items") if i == 0 else "", f"{item.get('clause', '')} {item.get('text', '')}",
                      "wrap"))
    for r, (label, value, style) in enumerate(lines):
        sheet.raw(r, 0, label, "label")
        sheet.raw(r, 1, str(value or ""), style, wraps=True)
        sheet.last_row, sheet.last_col = r, 1
    sheet.widths = {0: 16, 1: 72}
    return sheet
