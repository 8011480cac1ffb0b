"""What a city's review says, as plain data: which sheets, which cells are marked and why, the
rows of 审核结论, 问题清单 and 数据处理说明, the lines of 说明.

Nothing here writes a spreadsheet (see :mod:`.book`), and nothing is recomputed: statuses,
scores and outcomes come decided in the :class:`~sdbatch.model.RunResult`.

What a city may see (SPEC §5 Audiences): its own rows (a workbook holding rows of several
cities gives each city its header and its own rows only), findings whose catalogue audience is
``city``, outcome columns, notes and sheets a program declares for the city.  Expert names,
per-expert scores and score-sheet references only reach the department (those findings are
``audience = "department"`` in the catalogue).
"""

from __future__ import annotations

import functools
import heapq
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdbatch import settings
from sdbatch.catalogue import join, label, lookup, render, text
from sdbatch.model import STATUSES, Application, FileRecord, Finding, RunResult, Source
from sdbatch.reading.xlsx import FORMATS_NOT_READ
from sdbatch.rules_schema import ROLE_DEFAULTS
from sdbatch.writers._common import (
    COLOUR_STRENGTH,
    UNKNOWN_CITY,
    answer_words,
    city_key,
    colour_of,
    finding_rank,
    for_audience,
    header_with_unit,
    legend,
    outcome_columns,
    program_of,
    programs_of,
    reason,
    rules_for,
    show,
    status_label,
    time_text,
)
from sdbatch.writers.xlsxpatch import column_number
from sdbatch.writers.xlsxpatch import sheet_title as valid_title

REBUILT = "review-copy-rebuilt"  # the note on a city sheet shown rebuilt from its values
READER = "city"
STATUS_COLOUR = {"over_quota": "red", "ineligible": "red", "incomplete": "red", "needs_review": "amber",
                 "eligible": "green"}
_COLOUR_ORDER = {"red": 0, "amber": 1}
_ADDRESS = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")
# Leading columns of 审核结论 that are not repeated among the values.
_LEADING_ROLES = ("order", "name", "group", "city", "seq")  # fields shown in columns of their own
_CHOICE_TYPES = ("bool", "city", "choice")  # field types whose values repeat


# ============================================================================ cities
def review_cities(result: RunResult) -> list[str]:
    """The cities that get a review, in the province's order: a city with a processed file or
    an application, a city whose only file was rejected (so that the reason can be sent back),
    and 未识别城市 for what could not be placed."""
    from sdbatch.jurisdiction import jurisdiction_of

    cities = jurisdiction_of(result).cities  # the one place the review asks for the province's cities

    wanted: set[str] = set()
    for record in result.files:
        # Expert score sheets (claimed by a program, no applications, no city) are not a city's.
        if (record.status == "processed" and (record.applications or record.city)) or \
                (record.status == "rejected" and record.city):
            wanted.add(city_key(record.city))
    for app in result.applications:
        wanted.add(city_key(app.city))
    order = [c for c in cities if c in wanted]
    order += sorted(c for c in wanted if c not in order and c != UNKNOWN_CITY)
    if UNKNOWN_CITY in wanted:
        order.append(UNKNOWN_CITY)
    return order


# ============================================================================ data
class Mark:
    """A cell of a city's sheet with findings: its fill and what its comment says."""

    __slots__ = ("colour", "findings", "computed")

    def __init__(self) -> None:
        self.colour: str | None = None
        self.findings: list[Finding] = []
        self.computed: list[str] | None = None  # "this value went into …" lines

    def add(self, finding: Finding, computed: str | None = None) -> None:
        if finding not in self.findings:
            self.findings.append(finding)
        if computed:
            if self.computed is None:
                self.computed = [computed]
            elif computed not in self.computed:
                self.computed.append(computed)
        colour = colour_of(finding)
        if colour and (self.colour is None or COLOUR_STRENGTH[colour] > COLOUR_STRENGTH[self.colour]):
            self.colour = colour


RowMarks = Iterator[tuple[int, dict[int, Mark]]]


@dataclass
class CitySheet:
    """One of the city's own sheets in its review.  Its marks are made row by row when they are
    written (:meth:`marks`, in row order): nothing per cell is held for the whole sheet."""

    record: FileRecord
    title: str
    hidden_rows: set[int]  # 1-based rows of other cities: left out and hidden
    copy: bool  # copy the city's .xlsx/.xlsm sheet (else: rebuild it from the values read)
    marker: Callable[[], RowMarks]

    @property
    def sheet_name(self) -> str | None:
        return self.record.sheet or (self.record.table.sheet.name if self.record.table else None)

    def marks(self) -> RowMarks:
        """(row, {column: Mark}) in increasing row order, 1-based."""
        return self.marker()

    def mark_map(self) -> dict[tuple[int, int], Mark]:
        return {(r, c): m for r, cols in self.marks() for c, m in cols.items()}


@dataclass(frozen=True)
class Column:
    title: str
    number_format: str | None = None
    wrap: bool = False
    width: float | None = None  # characters; None: by content
    min_width: float = 6
    shared: bool = False  # its texts repeat (labels, files, fixes): written once as shared strings


@dataclass
class Row:
    values: list[Any]
    colour: str | None = None  # fill of the table's colour column


@dataclass
class Table:
    """A sheet of the review made from rows: header in row 1, frozen, filtered, printable.
    ``rows()`` makes the rows as they are written (a table may have one row per finding)."""

    name: str
    columns: list[Column]
    rows: Callable[[], Iterator[Row]]
    colour_column: int | None = None
    empty_text: str | None = None  # shown under the header when there is no row
    title_columns: int = 1  # columns repeated on each printed page when the table is split


@dataclass
class AboutLine:
    key: str
    value: Any
    colour: str | None = None


@dataclass
class Review:
    city: str
    sheets: list[CitySheet]
    summaries: list[Table]
    problems: Table
    notes: Table
    specs: list[Any]
    about: list[AboutLine]
    run_time: str


# ============================================================================ building
class Visible:
    """The findings a city may see: an application's strongest first, without the expert items
    (三(一)(五)(六) are no problem of the city's; 说明 lists them once).  Made once per review and
    application (the sheets, 问题清单 and 数据处理说明 all walk them)."""

    def __init__(self, city: str | None = None) -> None:
        self.city = city  # a file's finding said to one city of a file of several (for_city)
        # id(app) -> its visible findings, ranked: read by every pass over the city's rows (marks,
        # fills, problem tables); a tuple each, one shared empty one (100,000 rows, issue 16)
        self._apps: dict[int, tuple[Finding, ...]] = {}
        self._codes: dict[str, bool] = {}

    def allowed(self, finding: Finding) -> bool:
        allowed = self._codes.get(finding.code)
        if allowed is None:
            allowed = self._codes[finding.code] = bool(for_audience([finding], READER))
        return allowed

    def of_file(self, record: FileRecord) -> list[Finding]:
        return [f for f in record.findings if self.allowed(f) and f.params.get("for_city") in (None, self.city)]

    def of_app(self, app: Application) -> tuple[Finding, ...]:
        found = self._apps.get(id(app))
        if found is None:
            seen = [f for f in app.findings if f.code != "expert-item" and self.allowed(f)]
            if len(seen) > 1:
                seen.sort(key=finding_rank)
            found = self._apps[id(app)] = tuple(seen) if seen else ()
        return found


def build(result: RunResult, city: str) -> Review:
    apps = [a for a in result.applications if city_key(a.city) == city]
    ids = {a.id for a in apps}
    records = [r for r in result.files if r.status == "processed" and r.table is not None
               and (city_key(r.city) == city or any(a.id in ids for a in r.applications))]
    others = [r for r in result.files if r.status != "processed" and city_key(r.city) == city]
    visible = Visible(city)
    sheets = _city_sheets(result, city, records, visible)
    by_program: dict[str, list[Application]] = {}
    for app in apps:
        by_program.setdefault(app.program, []).append(app)
    if not by_program:
        by_program[result.program] = []
    summaries = []
    for program, program_apps in by_program.items():
        rules = rules_for(result, program)
        name = text("review.sheets.summary") if len(by_program) == 1 else text(
            "review.sheets.summary_of", entity=getattr(rules, "entity", program))
        summaries.append(_summary(result, name, program_apps, rules))
    problems, notes = _finding_tables(result, city, apps, records, others, visible)
    specs = []
    for program, program_apps in by_program.items():
        specs += program_of(result, program).review_sheets(result, city, program_apps)
    specs += result.review_sheets.get(city, [])
    specs = [s for s in specs if getattr(s, "audience", "department") == READER]
    return Review(city=city, sheets=sheets, summaries=summaries, problems=problems, notes=notes, specs=specs,
                  about=_about(result, city, apps), run_time=time_text(result.started))


# ----------------------------------------------------------------------------- the city's sheets
def sheet_title(taken: set[str], base: str | None, *, city_sheet: bool = True) -> str:
    """A valid, unused sheet title from ``base`` (a sheet's or file's name); a city's sheet
    named like one of the review's own sheets is renamed (``审核结论（原表）``)."""
    fallback = text("review.sheets.original")
    base = valid_title(set(), base or fallback, fallback)  # what Excel accepts, before comparing
    if city_sheet and base in reserved_titles():
        base = text("review.sheets.original_of", name=base)
    return valid_title(taken, base, fallback)


def reserved_titles() -> set[str]:
    return {text("review.sheets.summary"), text("review.sheets.problems"), text("review.sheets.processing"),
            text("review.sheets.notes")}


def _city_sheets(result: RunResult, city: str, records: list[FileRecord], visible: Visible) -> list[CitySheet]:
    taken: set[str] = set()
    out = []
    for record in records:
        sheet_name = record.sheet or (record.table.sheet.name if record.table else None)
        # Several files from one city: each copy named after its file, not Sheet1 / Sheet1(2); several
        # sheets of one file: after their sheets.
        several_files = len({r.path for r in records}) > 1
        title = sheet_title(taken, Path(record.file).stem if several_files and not _shares_file(record, records)
                            else sheet_name)
        hidden = _other_cities_rows(record, city)
        copy = record.kind in ("xlsx", "xlsm") and not hidden
        if copy and not _formats_read(record):
            copy = False
            note_rebuilt(record, sheet_name)
        out.append(CitySheet(record=record, title=title, hidden_rows=hidden, copy=copy,
                             marker=functools.partial(_row_marks, result, record, sheet_name, hidden, visible)))
    return out


def note_rebuilt(record: FileRecord, sheet: str | None) -> None:
    """Tell the city that its sheet is shown rebuilt from the values read, not copied (once)."""
    if not any(f.code == REBUILT for f in record.findings):
        record.findings.append(Finding(REBUILT, "info", params={"file": record.file, "sheet": sheet or ""},
                                       source=Source(record.file, sheet)))


def _formats_read(record: FileRecord) -> bool:
    """Whether the workbook's formats were read with its values: formats openpyxl could not type
    (``formats-not-read``) would be copied into the city's review as they are, for Excel to repair
    or refuse; that sheet is rebuilt from its values instead (``review-copy-rebuilt`` says so)."""
    return not any(f.code == FORMATS_NOT_READ for f in record.findings)


def _shares_file(record: FileRecord, records: list[FileRecord]) -> bool:
    return sum(1 for r in records if r.path == record.path) > 1


def _other_cities_rows(record: FileRecord, city: str) -> set[int]:
    """Rows (1-based) of ``record``'s sheet the city must not see: when the sheet holds rows of
    other cities, everything below its header that is not one of the city's own rows."""
    own_file = city_key(record.city) == city
    mine: set[int] = set()
    foreign = False
    for app in record.applications:
        row = app.source.row
        if row is None:
            continue
        if city_key(app.city) == city or (app.city is None and own_file):
            mine.add(row)
        else:
            foreign = True
    if not foreign or record.table is None:
        return set()
    first_data = record.table.data_start + 1
    last = len(record.table.sheet.rows)
    return {r for r in range(first_data, last + 1) if r not in mine}


def _address(cell: str | None) -> tuple[int, int] | None:
    if not cell:
        return None
    found = _ADDRESS.fullmatch(cell.strip())
    if found is None:
        return None
    row, col = int(found.group(2)), column_number(found.group(1).upper().encode("ascii"))
    return (row, col) if 1 <= row <= 1_048_576 and 1 <= col <= 16_384 else None


def finding_cells(finding: Finding, app: Application | None, rules: Any) -> tuple[list[str], list[str]]:
    """Where a finding is shown, and the labels of the fields its value was computed from.

    Its own cell when it has one; a value computed from other cells (a ratio from its two
    amounts, a total from its parts) is also shown on the cells it came from; a finding about
    a whole application without a cell of its own goes to the name cell.
    """
    own = finding.source.cell if finding.source is not None and finding.source.cell else None
    if app is None:
        return ([own] if own else []), []
    fid = finding.field
    if own is None and fid:
        own = app.cells.get(fid)
    sources: list[str] = []
    labels: list[str] = []
    spec = (getattr(rules, "fields", {}) or {}).get(fid) if fid else None
    if spec is not None and fid is not None and app.originals.get(fid) is None:
        parts = list(spec.parts or ())
        if spec.derive:
            parts = [spec.derive.get("numerator", ""), spec.derive.get("denominator", "")]
        for part in parts:
            if app.cells.get(part):
                sources.append(app.cells[part])
                labels.append(rules.label(part))
    cells = ([own] if own else []) + [c for c in sources if c != own]
    if not cells and (finding.effect or finding.severity in ("error", "warning")):
        name_cell = app.cells.get((getattr(rules, "roles", None) or ROLE_DEFAULTS).get("name", ""))
        cells = [name_cell] if name_cell else []
    return cells, labels if sources else []


def _row_marks(result: RunResult, record: FileRecord, sheet_name: str | None, hidden: set[int],
               visible: Visible) -> RowMarks:
    """The marked cells of a city's sheet, row by row in order: made from the applications in
    row order, so that at most the rows a merged range spans are held at once."""
    pending: dict[int, dict[int, Mark]] = {}
    waiting: list[int] = []  # rows of ``pending``, a heap
    merged = _merged_lookup(record)
    span = max((r1 - r0 for r0, _c0, r1, _c1 in record.table.sheet.merged), default=0) if record.table else 0

    def add(finding: Finding, app: Application | None) -> None:
        src = finding.source
        if src is not None and src.sheet and sheet_name and src.sheet != sheet_name:
            return  # a finding about another sheet of the workbook
        rules = rules_for(result, app.program if app else record.program)
        cells, parts = finding_cells(finding, app, rules)
        if not cells:
            return
        computed = None
        if parts and finding.field and rules is not None:
            computed = text("review.comment.computed", field=rules.label(finding.field), parts=join(
                text("review.comment.quoted", name=p) for p in parts))
        own = (src.cell if src is not None and src.cell else
               (app.cells.get(finding.field or "") if app else None))
        for cell in cells:
            where = _address(cell)
            if where is None or where[0] in hidden:
                continue
            r, c = merged(where)
            row = pending.get(r)
            if row is None:
                row = pending[r] = {}
                heapq.heappush(waiting, r)
            mark = row.get(c)
            if mark is None:
                mark = row[c] = Mark()
            mark.add(finding, computed if cell != own else None)

    def ready(before: int | None) -> RowMarks:
        while waiting and (before is None or waiting[0] < before):
            r = heapq.heappop(waiting)
            yield r, pending.pop(r)

    for finding in visible.of_file(record):
        add(finding, None)
    for app in sorted(record.applications, key=lambda a: a.source.row or 0):
        row = app.source.row or 0
        if row in hidden:
            continue
        yield from ready(row - span)
        for finding in visible.of_app(app):
            add(finding, app)
    yield from ready(None)


def _merged_lookup(record: FileRecord) -> Callable[[tuple[int, int]], tuple[int, int]]:
    """(row, col) -> the top-left cell of the merged range holding it (1-based)."""
    sheet = record.table.sheet if record.table is not None else None

    def top_left(where: tuple[int, int]) -> tuple[int, int]:
        if sheet is None or not sheet.merged:
            return where
        r, c = where[0] - 1, where[1] - 1
        for r0, c0, _r1, c1 in sheet._ranges_in_row(r):
            if c0 <= c <= c1:
                return r0 + 1, c0 + 1
        return where

    return top_left


@functools.cache
def _template(key: str) -> str:
    """A ui.toml text, looked up once (for the lines written once per finding)."""
    return str(lookup(key))


def comment_lines(finding: Finding) -> str:
    """A finding as its comment says it: title and message, clause, what was written, the fix."""
    t = render(finding)
    lines = [_template("review.comment.title").format(title=t.title, message=t.message)]
    if finding.clause:
        lines.append(_template("review.comment.clause").format(clause=finding.clause))
    if finding.original is not None:
        lines.append(_template("review.comment.original").format(value=show(finding.original)))
    if t.fix:
        lines.append(_template("review.comment.fix").format(fix=t.fix))
    return "\n".join(lines)


def comment_text(mark: Mark, earlier: str | None = None) -> str:
    findings = mark.findings if len(mark.findings) < 2 else sorted(mark.findings, key=finding_rank)
    parts = [comment_lines(f) for f in findings]
    parts += mark.computed or []
    if earlier:
        parts.append(text("review.comment.earlier", text=earlier))
    return "\n\n".join(parts)


# ----------------------------------------------------------------------------- 审核结论
def _value_fields(apps: list[Application], rules: Any, skip: Iterable[str]) -> list[tuple[str, Column]]:
    present: set[str] = set()
    for app in apps:
        present.update(k for k, v in app.values.items() if v is not None)
    leading = {rules.role(r) for r in _LEADING_ROLES} | set(skip) if rules is not None else set(skip)
    out: list[tuple[str, Column]] = []
    fields = getattr(rules, "fields", {}) or {}
    for fid, spec in fields.items():
        if fid in leading or fid not in present:
            continue
        numeric = spec.type in settings.REVIEW_NUMBER_FORMATS
        out.append((fid, Column(header_with_unit(spec.label, spec.unit if spec.type in ("amount", "ratio", "count")
                                                  else None),
                                number_format=settings.REVIEW_NUMBER_FORMATS.get(spec.type), wrap=not numeric,
                                shared=spec.type in _CHOICE_TYPES)))
    for fid in sorted(present - set(fields) - leading):
        out.append((fid, Column(fid, wrap=True)))
    return out


def _group_field(rules: Any) -> str:
    return str(getattr(rules, "group_field", "industry") or "industry") if rules is not None else "industry"


def _group_value(app: Application, group_field: str) -> Any:
    """The application's group (主导产业 / 园区类型): the canonical one, else what was written."""
    if app.industry or group_field == "industry":
        return app.industry
    return app.values.get(group_field)


def _summary(result: RunResult, name: str, apps: list[Application], rules: Any) -> Table:
    name_label = rules.label("name") if rules is not None else text("review.summary.name")
    group_field = _group_field(rules)
    group_label = rules.label(group_field) if rules is not None else text("review.summary.group")
    program = program_of(result, rules.name if rules is not None else None)
    outcome = outcome_columns(program, apps, "review", READER)
    values = _value_fields(apps, rules, skip=[group_field])
    with_order = any(a.city_order is not None for a in apps) or not apps
    # the experts' score only once released; asked again per row rather than held for every row
    with_score = any(program.score_for_city(a) is not None for a in apps)
    unknown: list[str] = []
    for app in apps:
        unknown += [h for h in app.unknown if h not in unknown]
    integer = settings.REVIEW_NUMBER_FORMATS.get("count", "0")
    columns = [Column(text("review.summary.seq"), number_format=integer)]
    columns += [Column(text("review.summary.order"), number_format=integer)] if with_order else []
    columns += [Column(name_label, wrap=True, min_width=16), Column(group_label, wrap=True, shared=True),
                Column(text("review.summary.status"), shared=True),
                Column(text("review.summary.reason"), wrap=True, width=36, shared=True)]
    columns += [Column(text("review.summary.score"), number_format=settings.REVIEW_NUMBER_FORMATS.get(
        "score", "0.00"))] if with_score else []
    columns += [Column(c.label, number_format=c.number_format, wrap=True, shared=True) for c in outcome]
    columns += [c for _, c in values]
    columns += [Column(text("review.summary.unknown_column", header=h), wrap=True) for h in unknown]
    columns += [Column(text("review.summary.file"), wrap=True, shared=True),
                Column(text("review.summary.row"), number_format=integer)]

    # yes/no fields in the words they are asked in (有无不良信用记录: 无), at their place in ``values``
    asked = [(i, answer_words(f)) for i, (fid, _) in enumerate(values)
             if (f := rules.fields.get(fid) if rules else None) is not None and f.type == "bool"]

    def rows() -> Iterator[Row]:
        for i, app in enumerate(apps, start=1):
            line: list[Any] = [i] + ([app.city_order] if with_order else [])
            line += [app.name, _group_value(app, group_field), status_label(app.status),
                     reason(app, rules, reader=READER)]
            line += [program.score_for_city(app)] if with_score else []
            line += [c.value(app) for c in outcome]
            shown = [app.values.get(fid) for fid, _ in values]
            for at, (yes, no) in asked:
                if isinstance(shown[at], bool):
                    shown[at] = yes if shown[at] else no
            line += shown
            line += [app.unknown.get(h) for h in unknown]
            line += [app.source.file, app.source.row]
            yield Row(line, STATUS_COLOUR.get(app.status))

    status_col = 4 if with_order else 3
    return Table(name=name, columns=columns, rows=rows, colour_column=status_col, title_columns=status_col - 1)


# ----------------------------------------------------------------------------- 问题清单, 数据处理说明
def _finding_tables(result: RunResult, city: str, apps: list[Application], records: list[FileRecord],
                    others: list[FileRecord], visible: Visible) -> tuple[Table, Table]:
    """问题清单: what the city must fix (red) first, then what to check or leave to the experts
    (amber); 数据处理说明: every other note (converted values, rows not counted…).  Rows are made
    as they are written, one pass over the findings per colour."""

    def findings() -> Iterator[tuple[str, Finding | None, Application | None, FileRecord | None]]:
        """(file, finding, application, rejected record) in the order of the files and rows."""
        seen: set[str] = set()
        for record in records:
            for finding in visible.of_file(record):
                yield record.file, finding, None, None
            for app in record.applications:
                if city_key(app.city) != city:
                    continue
                seen.add(app.id)
                for finding in visible.of_app(app):
                    yield record.file, finding, app, None
        for app in apps:
            if app.id not in seen:
                for finding in visible.of_app(app):
                    yield app.source.file, finding, app, None
        for record in others:
            if record.status == "rejected":
                yield record.file, None, None, record
            for finding in visible.of_file(record):
                yield record.file, finding, None, None

    def where(finding: Finding, app: Application | None) -> tuple[Any, str, str, str]:
        rules = rules_for(result, app.program if app else None)
        field_label = rules.label(finding.field) if (rules is not None and finding.field) else (finding.field or "")
        cells, _ = finding_cells(finding, app, rules)
        name = (app.name if app else None) or (_template("review.problems.file_level") if app is None else "")
        return name, _template("punct.list").join(cells), field_label, ""

    def problem_rows() -> Iterator[Row]:
        n = 0
        for wanted in ("red", "amber"):
            for file, finding, app, rejected in findings():
                if rejected is not None:
                    if wanted == "red":
                        n += 1
                        yield Row([n, file, _template("review.problems.file_level"), "", "", None,
                                   rejected.error or text("review.problems.rejected"), "",
                                   text("review.problems.rejected_fix"), label("file_status", "rejected"), ""],
                                  "red")
                    continue
                assert finding is not None
                if colour_of(finding) != wanted:
                    continue
                n += 1
                t = render(finding)
                name, cells, field_label, _ = where(finding, app)
                yield Row([n, file, name, cells, field_label, finding.original, t.message, finding.clause or "",
                           t.fix, _template(f"review.classes.{wanted}"),
                           status_label(finding.effect) if finding.effect else ""], wanted)

    def note_rows() -> Iterator[Row]:
        n = 0
        for file, finding, app, _rejected in findings():
            if finding is None or colour_of(finding) in _COLOUR_ORDER:
                continue
            n += 1
            name, cells, field_label, _ = where(finding, app)
            yield Row([n, file, name, cells, field_label, finding.original, render(finding).message],
                      colour_of(finding))

    problems = Table(
        name=text("review.sheets.problems"),
        columns=[Column(text("review.problems.seq"), width=5),
                 Column(text("review.problems.file"), wrap=True, width=18, shared=True),
                 Column(text("review.problems.application"), wrap=True, width=20),
                 Column(text("review.problems.cell"), wrap=True, width=8),
                 Column(text("review.problems.field"), wrap=True, width=16, shared=True),
                 Column(text("review.problems.original"), wrap=True, width=12),
                 Column(text("review.problems.problem"), wrap=True, width=40),
                 Column(text("review.problems.clause"), wrap=True, width=8, shared=True),
                 Column(text("review.problems.fix"), wrap=True, width=30, shared=True),
                 Column(text("review.problems.category"), wrap=True, width=10, shared=True),
                 Column(text("review.problems.effect"), wrap=True, width=10, shared=True)],
        rows=problem_rows, colour_column=9, empty_text=text("review.problems.none"), title_columns=1)
    processing = Table(
        name=text("review.sheets.processing"),
        columns=[Column(text("review.problems.seq"), width=5),
                 Column(text("review.problems.file"), wrap=True, width=18, shared=True),
                 Column(text("review.problems.application"), wrap=True, width=20),
                 Column(text("review.problems.cell"), wrap=True, width=8),
                 Column(text("review.problems.field"), wrap=True, width=16, shared=True),
                 Column(text("review.problems.original"), wrap=True, width=14),
                 Column(text("review.problems.note"), wrap=True, width=60)],
        rows=note_rows, colour_column=6, empty_text=text("review.problems.no_notes"), title_columns=1)
    return problems, processing



# ----------------------------------------------------------------------------- 说明
def _about(result: RunResult, city: str, apps: list[Application]) -> list[AboutLine]:
    lines = [AboutLine(text("review.about.title"), text("review.about.title_value", city=city))]
    programs = programs_of(result)
    for name, rules in programs.items():
        if apps and not any(a.program == name for a in apps) and len(programs) > 1:
            continue
        lines.append(AboutLine(text("review.about.batch"), getattr(rules, "title", name)))
        if getattr(rules, "notice", ""):
            lines.append(AboutLine(text("review.about.notice"), rules.notice))
        lines.append(AboutLine(text("review.about.version"),
                               f"{name} {getattr(rules, 'version', result.rules_version)}"))
        if getattr(rules, "deadline", None):
            lines.append(AboutLine(text("review.about.deadline"), rules.deadline.isoformat()))
    for name in programs:
        for note in program_of(result, name).notes(result, [a for a in apps if a.program == name], READER):
            lines.append(AboutLine(note.label, note.text, "amber" if note.emphasis else None))
    lines.append(AboutLine(text("review.about.run"), result.run_id))
    lines.append(AboutLine(text("review.about.time"), text("review.about.time_value",
                                                           time=time_text(result.started))))
    lines.append(AboutLine("", None))
    for i, (colour, meaning) in enumerate(legend()):
        lines.append(AboutLine(text("review.about.legend") if i == 0 else "", meaning, colour))
    lines.append(AboutLine("", text("review.about.uncoloured")))
    lines.append(AboutLine("", text("review.about.comment_hint")))
    lines.append(AboutLine("", None))
    with_quota = any(getattr(r, "quota_default", None) is not None or getattr(r, "quota_cities", None)
                     for r in programs.values()) or not programs
    first = True
    for status in reversed(STATUSES):
        if status == "over_quota" and not with_quota:
            continue  # no program of the run has a quota (e.g. parks)
        lines.append(AboutLine(text("review.about.status_legend") if first else "",
                               text("review.about.status_line", status=status_label(status),
                                    meaning=text(f"review.status_meaning.{status}")), STATUS_COLOUR.get(status)))
        first = False
    lines.append(AboutLine("", None))
    first = True
    for rules in programs.values():
        for item in getattr(rules, "expert_items", ()) or ():
            lines.append(AboutLine(text("review.about.expert_items") if first else "", text(
                "review.about.expert_item", clause=item.get("clause", ""), text=item.get("text", ""))))
            first = False
    lines.append(AboutLine("", None))
    lines.append(AboutLine(text("review.about.explain"), text("review.about.explain_text")))
    return lines
