"""A city's review workbook written from its :class:`~.content.Review` with :mod:`..xlsxpatch`.

The city's own .xlsx/.xlsm sheets are copied from their packages (the first one is the base of
the review: its styles, theme and shared strings are kept; a sheet from another package comes
with its formats appended and its strings written inline); .xls/.csv/.ods sheets, sheets of a
workbook holding rows of other cities, and any sheet whose copy fails are rebuilt from the
values read.  The review's own sheets (审核结论, 问题清单, 数据处理说明, a program's sheets, 说明)
are written by one table writer, whatever the city sent.

A copy that fails (odd XML, a damaged part, a file changed since it was read) is not an error
of the run: the sheet is rebuilt and a ``review-copy-rebuilt`` note says so.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import math
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sdbatch import provenance, settings
from sdbatch.catalogue import text
from sdbatch.model import FileRecord, RunResult
from sdbatch.writers import printing
from sdbatch.writers import xlsxpatch as xp
from sdbatch.writers._common import COLOURS, HEADER_FILL, plain
from sdbatch.writers.review import content, layout

log = logging.getLogger("sdbatch")

ELIGIBLE_FILL = "C6EFCE"
FILLS = {**COLOURS, "green": ELIGIBLE_FILL}
REBUILT = content.REBUILT


class _CopyFailed(Exception):
    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


def write_review(result: RunResult, city: str, path: Path) -> None:
    """Write ``city``'s review to ``path`` (atomically: a temporary name, then renamed).

    A copy that fails is given up and the review written again with that sheet rebuilt; each
    attempt gives up one more copy, so this ends after at most one attempt per copied sheet."""
    rebuild: set[int] = set()
    tmp = path.with_name(path.name + ".tmp")
    while True:
        review = content.build(result, city)
        try:
            _write(review, tmp, rebuild, result.run_id)
        except _CopyFailed as failed:
            tmp.unlink(missing_ok=True)
            if failed.index in rebuild:  # cannot happen: a rebuilt sheet is not copied
                raise RuntimeError(failed.reason) from None
            sheet = review.sheets[failed.index]
            log.info(text("review.log.rebuilt", file=sheet.record.file))
            log.debug("%s: %s", sheet.record.file, failed.reason)
            content.note_rebuilt(sheet.record, sheet.sheet_name)
            rebuild.add(failed.index)
            continue
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
        return


def _unchanged(record: FileRecord) -> bool:
    """Whether the file is still the one that was read (its findings point into it): same size
    (a cheap check; the inbox is not written to during a run)."""
    try:
        return os.stat(record.path).st_size == record.size
    except OSError:
        return False


def _open(sheet: content.CitySheet) -> xp.SourcePackage:
    if not _unchanged(sheet.record):
        raise xp.PatchError("file changed since it was read")
    return xp.SourcePackage(sheet.record.path)


def _write(review: content.Review, tmp: Path, rebuild: set[int], run_id: str) -> None:
    copies = [i for i, s in enumerate(review.sheets) if s.copy and i not in rebuild]
    base: xp.SourcePackage | None = None
    base_index = -1
    if copies:
        base_index = copies[0]
        try:
            base = _open(review.sheets[base_index])
        except xp.PatchError as exc:
            raise _CopyFailed(base_index, str(exc)) from None
    try:
        try:
            out = xp.OutputPackage(tmp, base, text("review.font"))
        except xp.PatchError as exc:
            if base is None:
                raise
            raise _CopyFailed(base_index, str(exc)) from None
        out.custom_properties = provenance.custom_part("review", run_id)  # never read back as a submission
        try:
            writer = _BookWriter(out, review)
            for i, sheet in enumerate(review.sheets):
                if i not in copies:
                    writer.rebuilt_sheet(sheet)
                    continue
                try:
                    src = base if i == base_index else _open(sheet)
                    assert src is not None
                    try:
                        writer.copied_sheet(sheet, src, is_base=i == base_index)
                    finally:
                        if src is not base:
                            src.close()
                except xp.PatchError as exc:
                    raise _CopyFailed(i, str(exc)) from None
            for table in review.summaries:
                writer.table(table)
            writer.table(review.problems)
            writer.table(review.notes, skip_empty=True)
            for spec in review.specs:
                writer.spec_sheet(spec)
            writer.about(review.about)
            out.close()
        except BaseException:
            out.abandon()
            raise
    finally:
        if base is not None:
            base.close()


class _BookWriter:
    def __init__(self, out: xp.OutputPackage, review: content.Review) -> None:
        self.out = out
        self.review = review
        self.styles = out.styles
        self.font = out.styles.font_size
        self.titles: set[str] = {s.title for s in review.sheets}
        self.author = text("review.comment_author")
        self.vml_serial = 0
        self.packages = 0  # packages copied from, so far (their tables need ids of their own)

    # ------------------------------------------------------------------ shared
    def page(self, title: str, choice: printing.PrintPlan) -> xp.PageSetup:
        header = "&C" + layout.amp(text("review.print.header", city=self.review.city, sheet=title))
        footer = ("&L" + layout.amp(text("review.print.time", time=self.review.run_time))
                  + "&R" + text("review.print.page", page="&P", pages="&N"))
        return xp.PageSetup(landscape=choice.landscape, fit_width=choice.fit_width, scale=choice.scale,
                            header=header, footer=footer)

    def _comments(self, marks: content.RowMarks,
                  earlier: dict[tuple[int, int], tuple[str, str]]) -> tuple[str, str] | None:
        """The comments of a city's sheet: one per marked cell (the city's own comment on it
        kept below ours), and the city's other comments as they were."""
        author = self.author

        def notes() -> Iterator[xp.Note]:
            before = sorted(earlier)
            at = 0
            for r, cols in marks:
                while at < len(before) and before[at][0] < r:
                    yield self._earlier(before[at], earlier)
                    at += 1
                for c in sorted(cols):
                    while at < len(before) and before[at] < (r, c):
                        yield self._earlier(before[at], earlier)
                        at += 1
                    old = earlier.get((r, c))
                    if old is not None and at < len(before) and before[at] == (r, c):
                        at += 1
                    body = content.comment_text(cols[c], old[1] if old and old[0] != author else None)
                    lines = sum(1 + len(line) // 22 for line in body.split("\n"))
                    yield xp.Note(r, c, body, author, lines=lines)
            for where in before[at:]:
                yield self._earlier(where, earlier)

        self.vml_serial += 1
        authors = [author, *dict.fromkeys(a for a, _ in earlier.values() if a and a != author)]
        return xp.write_comments(self.out, notes(), self.vml_serial, authors)

    def _earlier(self, where: tuple[int, int], earlier: dict[tuple[int, int], tuple[str, str]]) -> xp.Note:
        author, body = earlier[where]
        return xp.Note(where[0], where[1], body, author or self.author)

    def _add_rels(self, part: str, rels: list[tuple[str, str, str, bool]], comments: tuple[str, str] | None,
                  taken_ids: set[str]) -> str | None:
        vml_id = None
        if comments is not None:
            comment_id, vml_id = _free_id(taken_ids, "rIdRc"), _free_id(taken_ids, "rIdRv")
            rels = [*rels, (comment_id, f"{xp.RELS}/comments", comments[0], False),
                    (vml_id, f"{xp.RELS}/vmlDrawing", comments[1], False)]
        if rels:
            self.out.write_rels(part, rels)
        return vml_id

    # ------------------------------------------------------------------ the city's sheets
    def copied_sheet(self, sheet: content.CitySheet, src: xp.SourcePackage, is_base: bool) -> None:
        """Copy the city's sheet from its package, marked."""
        out = self.out
        name = sheet.sheet_name
        part = src.sheets.get(name or "") if name is not None else next(iter(src.sheets.values()), None)
        if part is None or not src.has(part):
            raise xp.PatchError("sheet not found in the package")
        edit = xp.SheetEdit()
        font = self.font
        rename: Callable[[str], str] = lambda p: p  # noqa: E731 - the base's parts keep their names
        if not is_base:
            if src.date1904 != out.date1904:
                raise xp.PatchError("another date system")
            styles_part = src.workbook_part("styles")
            other = xp.Styles(src.read(styles_part) if styles_part else None, text("review.font"), 11)
            font = other.font_size
            edit.styles_from = self.styles.import_styles(other)
            edit.shared_strings = src.shared_strings()
            rename = out.reserve
        rels: list[tuple[str, str, str, bool]] = []
        dropped: set[str] = set()
        element_of = {"drawing": "drawing", "image": "picture", "table": "tableParts", "hyperlink": "hyperlinks"}
        source_rels = src.rels(part)
        self.packages += 1
        tables = _TableRenamer(not is_base, self.packages)
        for rel in source_rels:
            if rel.type not in xp.SHEET_RELS_KEPT:
                continue
            if rel.external:  # a hyperlink is followed on a click; anything else Excel fetches on opening
                if rel.type == "hyperlink":
                    rels.append((rel.id, rel.type_uri, rel.target, True))
                else:
                    dropped.add(element_of[rel.type])
                continue
            if rel.type == "hyperlink":
                dropped.add("hyperlinks")
                continue
            try:
                target = out.copy_closure(src, rel.target, rel.type, xp.DRAWING_RELS_KEPT, rename, tables)
            except xp.PatchError:
                dropped.add(element_of[rel.type])
                continue
            rels.append((rel.id, rel.type_uri, target, False))
        try:
            earlier = xp.read_comments(src, part)
        except xp.PatchError:
            earlier = {}
        comments = self._comments(sheet.marks(), earlier)
        new_part = out.name("xl/worksheets/sheet", ".xml")
        vml_id = self._add_rels(new_part, rels, comments, {r.id for r in source_rels})
        raw = sheet.record.table.sheet if sheet.record.table is not None else None
        edit.marks = _fills(sheet.marks())
        last_row, last_col = _extent(raw)
        edit.merge_extent = (last_row, last_col)
        edit.legacy_drawing = vml_id
        edit.drop_elements = frozenset(dropped)
        edit.rel_types = {rid: uri.rsplit("/", 1)[-1] for rid, uri, _, _ in rels}
        chosen: list[printing.PrintPlan] = []

        def choose(widths: dict[int, float], default: float) -> xp.PageSetup:
            choice = layout.choose_page([widths.get(c, default) for c in range(1, last_col + 1)], font)
            chosen.append(choice)
            return self.page(sheet.title, choice)

        edit.layout = choose
        edit.selected = not out.sheets  # the first tab of the workbook
        with out.stream(new_part, xp.CT_SHEET) as fh:
            report = xp.patch_sheet(src, part, fh, self.styles, edit)
        if report.dropped:
            log.debug("%s: %s", sheet.record.file, ",".join(sorted(set(report.dropped))))
        fit = chosen[0].fit_width if chosen else True
        out.add_sheet(xp.SheetEntry(
            sheet.title, new_part, print_titles=_city_titles(sheet.record, fit), print_area=_area(last_row, last_col),
            filter_range=_absolute(report.auto_filter)))

    def rebuilt_sheet(self, sheet: content.CitySheet) -> None:
        """The city's sheet from the values read (.xls/.csv/.ods, rows of several cities, a failed copy)."""
        record = sheet.record
        out = self.out
        part = out.name("xl/worksheets/sheet", ".xml")
        raw = record.table.sheet if record.table is not None else None
        rows: list[list[Any]] = raw.rows if raw is not None else [[text("review.copy_failed", file=record.file)]]
        hidden = sheet.hidden_rows
        header_rows = {r + 1 for r in record.table.header_rows} if record.table is not None else set()
        sample = list(itertools.islice((row for r, row in enumerate(rows, start=1) if r not in hidden),
                                       settings.REVIEW_WIDTH_SAMPLE_ROWS))
        width_count = max((len(r) for r in sample), default=1)
        widths = [min(max(6.0, float(max((printing.text_width(r[c]) for r in sample if c < len(r)), default=0)
                                     + 2)), float(settings.REVIEW_WRAP_WIDTH)) for c in range(width_count)]
        header = self.styles.look(xp.Look(bold=True, wrap=True, horizontal="center", vertical="center"))
        percent = self.styles.look(xp.Look(number_format="0.00%"))
        dates = {dt.datetime: self.styles.look(xp.Look(number_format="yyyy-mm-dd hh:mm")),
                 dt.date: self.styles.look(xp.Look(number_format="yyyy-mm-dd")),
                 dt.time: self.styles.look(xp.Look(number_format="hh:mm:ss"))}
        percents = raw.percent_cells if raw is not None else set()
        sheet_hidden = {r + 1 for r in raw.hidden_rows} if raw is not None else set()
        comments = self._comments(sheet.marks(), {})
        vml_id = self._add_rels(part, [], comments, set())
        last_row, last_col = _extent(raw)
        fills = _fills(sheet.marks())
        next_fill = next(fills, None)
        choice = layout.choose_page(widths, self.font)
        with out.stream(part, xp.CT_SHEET) as fh:
            view = xp.SheetView(widths={c + 1: w for c, w in enumerate(widths)}, fit_to_page=choice.fit_width,
                                selected=not out.sheets)
            writer = xp.SheetWriter(fh, view, date1904=out.date1904)
            r = 0
            while r < last_row or next_fill is not None:
                r += 1
                marks = None
                if next_fill is not None and next_fill[0] == r:
                    marks = next_fill[1]
                    next_fill = next(fills, None)
                if r > last_row and not marks:
                    if next_fill is not None:  # jump to the next marked row past the values
                        r = next_fill[0] - 1
                    continue
                last_col = max([last_col, *(marks or ())])
                if r in hidden and not marks:
                    writer.raw_row(r, "", hidden=True)
                    continue
                values = rows[r - 1] if r <= len(rows) else []
                cells = []
                for c in range(1, max(len(values), max(marks) if marks else 0) + 1):
                    value = plain(values[c - 1]) if c <= len(values) else None
                    style = header if r in header_rows else 0
                    if (r - 1, c - 1) in percents and isinstance(value, int | float):
                        style = percent
                    elif type(value) in dates:
                        style = dates[type(value)]  # type: ignore[index]
                    if marks and c in marks:
                        style = self.styles.with_fill(style, marks[c])
                    if value is None and not style:
                        continue
                    cells.append(xp.cell_xml(xp.ref(r, c), value, style, out.date1904))
                writer.raw_row(r, "".join(cells), hidden=r in sheet_hidden and not marks)
            last_row = max(last_row, r)
            merges = [(r0 + 1, c0 + 1, r1 + 1, c1 + 1) for r0, c0, r1, c1 in (raw.merged if raw else [])
                      if not any(r in hidden for r in range(r0 + 1, r1 + 2))]
            writer.close(merges=merges, page=self.page(sheet.title, choice), legacy_drawing=vml_id)
        out.add_sheet(xp.SheetEntry(sheet.title, part, print_titles=_city_titles(record, choice.fit_width),
                                    print_area=_area(last_row, last_col)))

    # ------------------------------------------------------------------ the review's tables
    def table(self, table: content.Table, skip_empty: bool = False) -> None:
        """A table of the review: header row 1, frozen, filtered, wrapped, printable; its rows made
        as they are written, column widths measured on the first of them."""
        rows = table.rows()
        sample = list(itertools.islice(rows, settings.REVIEW_WIDTH_SAMPLE_ROWS))
        if skip_empty and not sample:
            return
        title = content.sheet_title(self.titles, table.name, city_sheet=False)
        titles = [c.title for c in table.columns]
        widths = layout.widths_by_content(titles, [row.values for row in sample], [c.width for c in table.columns],
                                          [c.min_width for c in table.columns], [c.wrap for c in table.columns])
        choice = layout.choose_page(widths, self.font)
        head = self.styles.look(xp.Look(bold=True, fill=HEADER_FILL, border=True, wrap=True, horizontal="center",
                                        vertical="center"))
        looks = [xp.Look(border=True, wrap=c.wrap, vertical="top", number_format=c.number_format)
                 for c in table.columns]
        styles = [self.styles.look(look) for look in looks]
        coloured: dict[str, list[int]] = {}
        if table.colour_column is not None:
            base = looks[table.colour_column]
            for colour, rgb in FILLS.items():
                coloured[colour] = list(styles)
                coloured[colour][table.colour_column] = self.styles.look(xp.Look(
                    border=True, wrap=base.wrap, vertical="top", number_format=base.number_format, fill=rgb))
        wrapped = [c for c, col in enumerate(table.columns) if col.wrap]
        part = self.out.name("xl/worksheets/sheet", ".xml")
        last = xp.column_letters(len(titles))
        n = 1
        with self.out.stream(part, xp.CT_SHEET) as fh:
            writer = xp.SheetWriter(fh, xp.SheetView(freeze=(1, 1), fit_to_page=choice.fit_width,
                                                     widths={c + 1: w for c, w in enumerate(widths)},
                                                     selected=not self.out.sheets),
                                    share=self.out.share, date1904=self.out.date1904)
            shared = [c.shared for c in table.columns]
            lines = max((layout.lines_needed(t, widths[c]) for c, t in enumerate(titles)), default=1)
            writer.row(1, titles, head, height=layout.row_height(lines, self.font))
            per_line = [max(w - 1.5, 1.0) for w in widths]
            for row in itertools.chain(sample, rows):
                n += 1
                values = row.values
                lines = 1
                for c in wrapped:  # a text that may not fit on one line: how many lines it needs
                    value = values[c] if c < len(values) else None
                    if type(value) is str and 2 * len(value) > per_line[c]:
                        size = len(value)
                        wide = size if value.isascii() else (len(value.encode("utf-8", "replace")) + size) >> 1
                        lines = max(lines, math.ceil(wide / per_line[c]) + value.count("\n"))
                writer.row(n, [plain(v) for v in values], coloured.get(row.colour or "", styles),
                           height=layout.row_height(lines, self.font) if lines > 1 else None, shared=shared)
            if n == 1 and table.empty_text:
                widest = max(range(len(widths)), key=lambda c: widths[c])
                writer.row(2, [table.empty_text], first_col=widest + 1)
                n = 2
            writer.close(auto_filter=f"A1:{last}{n}", page=self.page(title, choice))
        titles_ref = "$1:$1" if choice.fit_width else f"$A:${xp.column_letters(max(table.title_columns, 1))},$1:$1"
        self.out.add_sheet(xp.SheetEntry(title, part, print_titles=titles_ref, print_area=f"$A$1:${last}${n}",
                                         filter_range=f"$A$1:${last}${n}"))

    def spec_sheet(self, spec: Any) -> None:
        """A sheet a program or a shared stage declares for the city (programs.base.SheetSpec)."""
        title = content.sheet_title(self.titles, spec.name, city_sheet=False)
        first = 3 if spec.title else 1
        rows = [list(r) for r in spec.rows]
        ncols = max([len(spec.headers), *(len(r) for r in rows)], default=1)
        widths = layout.widths_by_content(
            list(spec.headers) + [""] * (ncols - len(spec.headers)), rows, [None] * ncols, [6.0] * ncols,
            [True] * ncols)
        choice = layout.choose_page(widths, self.font)
        head = self.styles.look(xp.Look(bold=True, fill=HEADER_FILL, border=True, wrap=True, vertical="center"))
        plain_style = self.styles.look(xp.Look(border=True, wrap=True, vertical="top"))
        formats = {c: self.styles.look(xp.Look(border=True, wrap=True, vertical="top", number_format=code))
                   for c, code in spec.number_formats.items()}
        part = self.out.name("xl/worksheets/sheet", ".xml")
        with self.out.stream(part, xp.CT_SHEET) as fh:
            view = xp.SheetView(freeze=(first, 0), fit_to_page=choice.fit_width,
                                widths={c + 1: w for c, w in enumerate(widths)}, selected=not self.out.sheets)
            writer = xp.SheetWriter(fh, view, date1904=self.out.date1904)
            if spec.title:
                writer.row(1, [spec.title], self.styles.look(xp.Look(bold=True, size=self.font + 3)))
            writer.row(first, list(spec.headers), head)
            r = first
            for r, row in enumerate(rows, start=first + 1):
                writer.row(r, [plain(v) for v in row], [formats.get(c, plain_style) for c in range(len(row))])
            for i, line in enumerate(spec.notes):
                writer.row(r + 2 + i, [plain(line)])
            last = max(r + 1 + len(spec.notes), first)
            writer.close(page=self.page(title, choice))
        # too wide for one page: the first columns (the application's name) repeat on every page
        titles = f"${first}:${first}" if choice.fit_width else f"$A:$B,${first}:${first}"
        self.out.add_sheet(xp.SheetEntry(title, part, print_titles=titles,
                                         print_area=f"$A$1:${xp.column_letters(ncols)}${last}"))

    def about(self, lines: list[content.AboutLine]) -> None:
        title = content.sheet_title(self.titles, text("review.sheets.notes"), city_sheet=False)
        widths = [16.0, 80.0]
        choice = layout.choose_page(widths, self.font)
        key = self.styles.look(xp.Look(bold=True, vertical="top"))
        value = self.styles.look(xp.Look(wrap=True, vertical="top"))
        fills = {c: self.styles.look(xp.Look(wrap=True, vertical="top", fill=rgb)) for c, rgb in FILLS.items()}
        part = self.out.name("xl/worksheets/sheet", ".xml")
        with self.out.stream(part, xp.CT_SHEET) as fh:
            view = xp.SheetView(fit_to_page=choice.fit_width, widths={1: 16, 2: 80}, selected=not self.out.sheets)
            writer = xp.SheetWriter(fh, view, date1904=self.out.date1904)
            for r, line in enumerate(lines, start=1):
                shown = plain(line.value)
                height = layout.row_height(layout.lines_needed(shown, 80), self.font) if isinstance(shown, str) \
                    else None
                writer.row(r, [line.key or None, shown], [key, fills.get(line.colour or "", value)], height=height)
            writer.close(page=self.page(title, choice))
        self.out.add_sheet(xp.SheetEntry(title, part, print_area=f"$A$1:$B${max(len(lines), 1)}"))


# ============================================================================ helpers
def _fills(marks: content.RowMarks) -> Iterator[tuple[int, dict[int, str]]]:
    """(row, {column: fill RGB}) of the marked rows, in order (marks without a colour: a comment only)."""
    for r, cols in marks:
        fills = {c: FILLS[m.colour] for c, m in cols.items() if m.colour}
        if fills:
            yield r, fills


def _extent(raw: Any) -> tuple[int, int]:
    """Rows and columns of the values read (at least one)."""
    if raw is None:
        return 1, 1
    return max(len(raw.rows), 1), max(min(max((len(r) for r in raw.rows), default=1), 16384), 1)


def _area(rows: int, cols: int) -> str:
    return f"$A$1:${xp.column_letters(cols)}${rows}"


def _absolute(ref: str | None) -> str | None:
    if not ref:
        return None
    parts = ref.replace("$", "").split(":")
    out = []
    for part in parts:
        letters = "".join(ch for ch in part if ch.isalpha())
        digits = "".join(ch for ch in part if ch.isdigit())
        if not letters or not digits:
            return None
        out.append(f"${letters}${digits}")
    return ":".join(out)


def _city_titles(record: FileRecord, fit: bool) -> str | None:
    """The city's header rows repeated on every printed page (and its first columns, up to the
    name, when the sheet is split over pages)."""
    table = record.table
    if table is None or not table.header_rows:
        return None
    rows = f"${min(table.header_rows) + 1}:${max(table.header_rows) + 1}"
    if fit:
        return rows
    name = next((c.index for c in table.columns if c.field == "name"), None)
    if name is None or name > 3:
        return rows
    return f"$A:${xp.column_letters(name + 1)},{rows}"


def _free_id(taken: set[str], stem: str) -> str:
    n = 1
    while f"{stem}{n}" in taken:
        n += 1
    taken.add(f"{stem}{n}")
    return f"{stem}{n}"


_TABLE_FORMULA = re.compile(b"|".join(b"<" + xp.ANY_PREFIX + name + xp.element_rest(xp.ANY_PREFIX, name)
                                      for name in (b"calculatedColumnFormula", b"totalsRowFormula")))


class _TableRenamer:
    """Table parts copied with their formulas removed (no formula from a city survives); a table
    from a second package gets a new id and name (ids and names are unique in a workbook)."""

    def __init__(self, rename: bool, serial: int) -> None:
        self.rename = rename
        self.serial = serial

    def __call__(self, data: bytes) -> bytes:
        data = _TABLE_FORMULA.sub(b"", data)
        if self.rename:
            start = data.find(b"<", data.find(b"?>") + 1 if data.startswith(b"<?") else 0)
            end = data.find(b">", start)
            tag = data[start:end]
            tag = re.sub(rb'(\sid\s*=\s*["\'])(\d+)', lambda m: m.group(1) + str(
                int(m.group(2)) + 10000 * (self.serial + 1)).encode(), tag, count=1)
            tag = re.sub(rb'(\s(?:name|displayName)\s*=\s*["\'])([^"\']*)', lambda m: m.group(1) + m.group(2)
                         + b"_" + str(self.serial + 1).encode(), tag)
            data = data[:start] + tag + data[end:]
        return data
