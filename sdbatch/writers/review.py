"""Per-city review workbooks ``<city>_审核意见.xlsx`` (SPEC §5, issue 4).

Each workbook holds, for every file the city sent and that was read:

- the city's own sheet as sent (a copy of the .xlsx/.xlsm sheet with its layout, or the grid
  rebuilt for .xls/.csv/.ods), each cell with a finding coloured at its original position
  and carrying a comment (批注) with the clause, the original value and the fix;
- ``审核结论``: every application of the city, normalised values, status and a one-line reason;
- ``问题清单``: one row per finding (file-level findings and rejected files included);
- ``说明``: rules version, run, colour and status legend, the items left to the experts.

Everything that came from a city is written as text or a number, never as a formula.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from copy import copy
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, MergedCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from sdbatch import provenance, settings
from sdbatch.catalogue import label, render
from sdbatch.jurisdiction import jurisdiction_of
from sdbatch.model import STATUSES, Application, FileRecord, Finding, RunResult
from sdbatch.reading import limits as safety  # full_read_ok: the reading stage's rule
from sdbatch.rules_schema import ROLE_DEFAULTS
from sdbatch.writers._common import (
    COLOURS,
    HEADER_FILL,
    UNKNOWN_CITY,
    city_key,
    colour_of,
    finding_rank,
    header_with_unit,
    outcome_columns,
    plain,
    program_of,
    programs_of,
    reason,
    rules_for,
    severity_label,
    show,
    status_label,
    strongest_colour,
    time_text,
)

SUMMARY_SHEET = "审核结论"
PROBLEMS_SHEET = "问题清单"
NOTES_SHEET = "说明"
RESERVED_SHEETS = {SUMMARY_SHEET, PROBLEMS_SHEET, NOTES_SHEET}
COMMENT_AUTHOR = "审核意见"

# Fields shown in their own leading columns of 审核结论, not again among the values.
_LEADING_ROLES = ("order", "name", "group", "city", "seq")  # fields shown in columns of their own
_STATUS_COLOUR = {"over_quota": "red", "ineligible": "red", "incomplete": "red", "needs_review": "amber"}
_ELIGIBLE_FILL = "C6EFCE"

_THIN = Side(style="thin", color="BFBFBF")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP = Alignment(wrap_text=True, vertical="top")
_HEADER_FONT = Font(bold=True)


def review_file_name(city: str) -> str:
    """``济南市_审核意见.xlsx``: built only from the canonical city name."""
    return f"{city}_审核意见.xlsx"


def write_city_reviews(result: RunResult, run_dir: Path) -> dict[str, Path]:
    """Write one review workbook per city; return city -> path.

    A city gets a workbook when it has a processed file or an application (a city whose only
    file was rejected gets one too, so that the reason can be sent back). Applications and
    files whose city could not be determined go to ``未识别城市_审核意见.xlsx``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for city in _review_cities(result):
        path = run_dir / review_file_name(city)
        _write_one(result, city, path)
        out[city] = path
    return out


# ----------------------------------------------------------------------------- selection
def _review_cities(result: RunResult) -> list[str]:
    wanted: set[str] = set()
    for record in result.files:
        # Expert score sheets (claimed by a program, no applications, no city) are not a city's.
        if (record.status == "processed" and (record.applications or record.city)) or \
                (record.status == "rejected" and record.city):
            wanted.add(city_key(record.city))
    for app in result.applications:
        wanted.add(city_key(app.city))
    order = [c for c in jurisdiction_of(result).cities if c in wanted]
    order += sorted(c for c in wanted if c not in order and c != UNKNOWN_CITY)
    if UNKNOWN_CITY in wanted:
        order.append(UNKNOWN_CITY)
    return order


def _city_apps(result: RunResult, city: str) -> list[Application]:
    return [a for a in result.applications if city_key(a.city) == city]


def _city_records(result: RunResult, city: str, apps: list[Application]) -> list[FileRecord]:
    """Processed files of the city, plus any processed file holding one of its applications."""
    ids = {a.id for a in apps}
    return [
        r for r in result.files
        if r.status == "processed"
        and (city_key(r.city) == city or any(a.id in ids for a in r.applications))
    ]


def _other_records(result: RunResult, city: str) -> list[FileRecord]:
    return [r for r in result.files if r.status != "processed" and city_key(r.city) == city]


# ----------------------------------------------------------------------------- the workbook
def _write_one(result: RunResult, city: str, path: Path) -> None:
    apps = _city_apps(result, city)
    records = _city_records(result, city, apps)
    others = _other_records(result, city)

    wb = Workbook()
    wb.remove(wb.active)
    for record in records:
        # Several files from one city: name each copy after its file, not Sheet1 / Sheet1(2).
        _add_city_sheet(wb, record, by_file=len(records) > 1)
    by_program: dict[str, list[Application]] = {}
    for app in apps:
        by_program.setdefault(app.program, []).append(app)
    if not by_program:
        by_program[result.program] = []
    for program, program_apps in by_program.items():
        rules = rules_for(result, program)
        title = SUMMARY_SHEET if len(by_program) == 1 else f"{SUMMARY_SHEET}-{getattr(rules, 'entity', program)}"
        _add_summary_sheet(wb, title[:31], program_apps, rules, result)
    _add_problems_sheet(wb, result, city, apps, records, others)
    for program, program_apps in by_program.items():
        for spec in program_of(result, program).review_sheets(result, city, program_apps):
            _add_spec_sheet(wb, spec)
    for spec in result.review_sheets.get(city, []):
        _add_spec_sheet(wb, spec)
    _add_notes_sheet(wb, result, city, apps)
    wb.active = 0
    provenance.mark_openpyxl(wb, "review", result.run_id)  # never read back as a submission
    tmp = path.with_name(path.name + ".tmp")
    wb.save(tmp)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- safe values
def set_value(cell: Any, value: Any) -> None:
    """Write a value from a city as text or number, never as a formula."""
    value = plain(value)
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)[: settings.MAX_CELL_CHARS]
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # "=1+1" or "#N/A" from a city stays text


# ----------------------------------------------------------------------------- city sheet
def _sheet_title(wb: Workbook, base: str | None) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", (base or "原表").strip()) or "原表"
    if base in RESERVED_SHEETS:
        base = f"{base}（原表）"
    base = base[:31]
    title, n = base, 2
    existing = set(wb.sheetnames)
    while title in existing:
        suffix = f"({n})"
        title = base[: 31 - len(suffix)] + suffix
        n += 1
    return title


def _add_city_sheet(wb: Workbook, record: FileRecord, by_file: bool = False) -> None:
    sheet_name = record.sheet or (record.table.sheet.name if record.table else None)
    ws = wb.create_sheet(_sheet_title(wb, Path(record.file).stem if by_file else sheet_name))
    copied = False
    if record.kind in ("xlsx", "xlsm"):
        copied = _copy_xlsx_sheet(record, sheet_name, ws)
    if not copied:
        if record.table is not None:
            _rebuild_grid(record, ws)
        else:
            set_value(ws.cell(row=1, column=1), f"未能复制“{record.file}”的原表，请参见问题清单。")
    _mark_findings(ws, record, sheet_name)
    page_setup(ws)  # the city's own sheet prints on A4 landscape too


def _copy_xlsx_sheet(record: FileRecord, sheet_name: str | None, ws: Worksheet) -> bool:
    """Copy the city's data sheet (cached values, styles, merges, sizes). False when not possible."""
    try:
        if not safety.full_read_ok(Path(record.path)):
            return False  # large files were streamed; rebuild the grid instead of a full load
        src_wb = load_workbook(record.path, data_only=True, keep_vba=False, keep_links=False)
    except Exception:  # noqa: BLE001 - the file was read before; fall back to the grid
        return False
    try:
        if sheet_name and sheet_name in src_wb.sheetnames:
            src = src_wb[sheet_name]
        else:
            src = src_wb.worksheets[0]
        for row in src.iter_rows():
            for cell in row:
                if isinstance(cell, MergedCell):
                    continue
                target = ws.cell(row=cell.row, column=cell.column)
                set_value(target, cell.value)
                if cell.has_style:
                    target.font = copy(cell.font)
                    target.fill = copy(cell.fill)
                    target.border = copy(cell.border)
                    target.alignment = copy(cell.alignment)
                    target.protection = copy(cell.protection)
                    target.number_format = cell.number_format
                if cell.comment is not None:
                    target.comment = Comment(ILLEGAL_CHARACTERS_RE.sub("", cell.comment.text or ""),
                                             cell.comment.author or "")
        for rng in src.merged_cells.ranges:
            ws.merge_cells(str(rng))
        for key, dim in src.column_dimensions.items():
            if dim.width:
                ws.column_dimensions[key].width = dim.width
            ws.column_dimensions[key].hidden = dim.hidden
        for idx, dim in src.row_dimensions.items():
            if dim.height:
                ws.row_dimensions[idx].height = dim.height
            ws.row_dimensions[idx].hidden = dim.hidden
        ws.freeze_panes = src.freeze_panes
        ws.page_setup.orientation = src.page_setup.orientation
        ws.page_setup.paperSize = src.page_setup.paperSize
        ws.sheet_view.zoomScale = src.sheet_view.zoomScale
    finally:
        src_wb.close()
    return True


def _display_width(value: Any) -> int:
    text = show(value) if value is not None else ""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _rebuild_grid(record: FileRecord, ws: Worksheet) -> None:
    assert record.table is not None
    sheet = record.table.sheet
    widths: dict[int, int] = {}
    for r, row in enumerate(sheet.rows):
        for c, value in enumerate(row):
            if value is None or value == "":
                continue
            cell = ws.cell(row=r + 1, column=c + 1)
            set_value(cell, value)
            if (r, c) in sheet.percent_cells and isinstance(value, (int, float)):
                cell.number_format = "0.00%"
            widths[c] = max(widths.get(c, 0), min(_display_width(value), 40))
    for r0, c0, r1, c1 in sheet.merged:
        if (r0, c0) != (r1, c1):
            ws.merge_cells(start_row=r0 + 1, start_column=c0 + 1, end_row=r1 + 1, end_column=c1 + 1)
    for r in sheet.hidden_rows:
        ws.row_dimensions[r + 1].hidden = True
    for c, w in widths.items():
        ws.column_dimensions[get_column_letter(c + 1)].width = max(8, w + 2)
    for r in record.table.header_rows:
        for c in range(len(sheet.rows[r]) if r < len(sheet.rows) else 0):
            cell = ws.cell(row=r + 1, column=c + 1)
            if not isinstance(cell, MergedCell):
                cell.font = _HEADER_FONT
                cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")


def _finding_cell(finding: Finding, app: Application | None) -> str | None:
    """Where a finding is shown: its own cell, else its field's cell, else the name cell."""
    if finding.source is not None and finding.source.cell:
        return finding.source.cell
    if app is None:
        return None
    if finding.field and app.cells.get(finding.field):
        return app.cells[finding.field]
    if finding.effect or finding.severity in ("error", "warning"):
        return app.cells.get(app.extra.get("_roles", ROLE_DEFAULTS).get("name", ""))
    return None


def _comment_text(finding: Finding) -> str:
    text = render(finding)
    lines = [f"【{text.title}】{text.message}"]
    if finding.clause:
        lines.append(f"条款：{finding.clause}")
    if finding.original is not None:
        lines.append(f"原填报值：{show(finding.original)}")
    if text.fix:
        lines.append(f"处理意见：{text.fix}")
    return "\n".join(lines)


def _cell_findings(record: FileRecord, sheet_name: str | None) -> dict[str, list[Finding]]:
    marks: dict[str, list[Finding]] = {}

    def add(finding: Finding, app: Application | None) -> None:
        src = finding.source
        if src is not None and src.sheet and sheet_name and src.sheet != sheet_name:
            return  # a finding about another sheet of the workbook
        address = _finding_cell(finding, app)
        if address:
            marks.setdefault(address.replace("$", "").upper(), []).append(finding)

    for finding in record.findings:
        add(finding, None)
    for app in record.applications:
        for finding in app.findings:
            add(finding, app)
    return marks


def _mark_findings(ws: Worksheet, record: FileRecord, sheet_name: str | None) -> None:
    for address, findings in _cell_findings(record, sheet_name).items():
        try:
            cell = ws[address]
        except (ValueError, KeyError):
            continue
        if isinstance(cell, MergedCell):  # colour the top-left cell of the merged range
            for rng in ws.merged_cells.ranges:
                if address in rng:
                    cell = ws.cell(row=rng.min_row, column=rng.min_col)
                    break
        findings = sorted(findings, key=finding_rank)
        colour = strongest_colour(colour_of(f) for f in findings)
        cell.fill = PatternFill("solid", start_color="FF" + COLOURS[colour], end_color="FF" + COLOURS[colour])
        text = "\n\n".join(_comment_text(f) for f in findings)
        if cell.comment is not None and cell.comment.author != COMMENT_AUTHOR:
            text += f"\n\n（原批注）{cell.comment.text}"
        comment = Comment(ILLEGAL_CHARACTERS_RE.sub("", text), COMMENT_AUTHOR)
        lines = sum(1 + len(line) // 22 for line in text.splitlines())
        comment.width = 320
        comment.height = min(600, 20 + 16 * lines)
        cell.comment = comment
        ws.row_dimensions[cell.row].hidden = False  # a finding on a hidden row must be seen


# ----------------------------------------------------------------------------- tables
def _write_table(ws: Worksheet, headers: list[str], rows: Iterable[list[Any]],
                 widths: list[int] | None = None) -> int:
    """Header row 1, data below: frozen, filtered, wrapped, A4 landscape fit to width."""
    for c, text in enumerate(headers, start=1):
        cell = ws.cell(row=1, column=c, value=text)
        cell.font = _HEADER_FONT
        cell.fill = PatternFill("solid", start_color="FF" + HEADER_FILL, end_color="FF" + HEADER_FILL)
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        cell.border = _BORDER
    auto = [_display_width(h) for h in headers]
    n = 1
    for n, values in enumerate(rows, start=2):
        for c, value in enumerate(values, start=1):
            cell = ws.cell(row=n, column=c)
            set_value(cell, value)
            cell.alignment = _WRAP
            cell.border = _BORDER
            if c <= len(auto):
                auto[c - 1] = max(auto[c - 1], min(_display_width(value), 60))
    for c, w in enumerate(widths or auto, start=1):
        ws.column_dimensions[get_column_letter(c)].width = max(6, min(w + 2, 50))
    last = get_column_letter(max(1, len(headers)))
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{last}{max(n, 1)}"
    page_setup(ws)
    ws.print_title_rows = "1:1"
    return n


def _problems(app: Application) -> list[Finding]:
    """An application's findings for 问题清单: the expert items (三(一)(五)(六)) are no problem
    of the city's; the 说明 sheet lists them once."""
    return sorted((f for f in app.findings if f.code != "expert-item"), key=finding_rank)


def page_setup(ws: Worksheet) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0


def _fill(cell: Any, rgb: str) -> None:
    cell.fill = PatternFill("solid", start_color="FF" + rgb, end_color="FF" + rgb)


def _group_field(rules: Any) -> str:
    return str(getattr(rules, "group_field", "industry") or "industry") if rules is not None else "industry"


def _group_value(app: Application, group_field: str) -> Any:
    """The application's group (主导产业 / 园区类型): the canonical one, else what was written."""
    if app.industry or group_field == "industry":
        return app.industry
    return app.values.get(group_field)


def _value_fields(apps: list[Application], rules: Any, skip: Iterable[str] = ()) -> list[tuple[str, str]]:
    present: set[str] = set()
    for app in apps:
        present.update(k for k, v in app.values.items() if v is not None)
    leading = {rules.role(r) for r in _LEADING_ROLES} | set(skip) if rules is not None else set(skip)
    out: list[tuple[str, str]] = []
    fields = getattr(rules, "fields", {}) or {}
    for fid, spec in fields.items():
        if fid in leading or fid not in present:
            continue
        out.append((fid, header_with_unit(spec.label, spec.unit if spec.type in ("amount", "ratio", "count")
                                                           else None)))
    for fid in sorted(present - set(fields) - leading):
        out.append((fid, fid))
    return out


def _add_summary_sheet(wb: Workbook, title: str, apps: list[Application], rules: Any, result: RunResult) -> None:
    ws = wb.create_sheet(title)
    name_label = rules.label("name") if rules is not None else "名称"
    group_field = _group_field(rules)
    group_label = rules.label(group_field) if rules is not None else "主导产业"
    # The group field (园区类型 for parks) has its own leading column: not again as a value.
    columns = outcome_columns(program_of(result, rules.name if rules is not None else None), apps, "review", "city")
    value_fields = _value_fields(apps, rules, skip=[group_field])
    with_order = any(a.city_order is not None for a in apps) or not apps
    with_score = any(a.score is not None for a in apps)
    unknown: list[str] = []
    for app in apps:
        unknown += [h for h in app.unknown if h not in unknown]
    headers = (["序号"] + (["推荐排序"] if with_order else []) + [name_label, group_label, "审核结论", "主要原因"]
               + (["综合得分"] if with_score else [])
               + [c.label for c in columns]
               + [h for _, h in value_fields]
               + [f"{h}（未识别列）" for h in unknown]
               + ["来源文件", "行号"])
    rows = []
    for i, app in enumerate(apps, start=1):
        rows.append([i] + ([app.city_order] if with_order else [])
                    + [app.name, _group_value(app, group_field), status_label(app.status), reason(app, rules)]
                    + ([app.score] if with_score else [])
                    + [c.value(app) for c in columns]
                    + [app.values.get(fid) for fid, _ in value_fields]
                    + [app.unknown.get(h) for h in unknown]
                    + [app.source.file, app.source.row])
    _write_table(ws, headers, rows)
    status_col = headers.index("审核结论") + 1
    for r, app in enumerate(apps, start=2):
        colour = _STATUS_COLOUR.get(app.status)
        _fill(ws.cell(row=r, column=status_col), COLOURS[colour] if colour else _ELIGIBLE_FILL)
    name_col = get_column_letter(headers.index(name_label) + 1)
    ws.column_dimensions[name_col].width = max(ws.column_dimensions[name_col].width or 0, 24)
    ws.column_dimensions[get_column_letter(headers.index("主要原因") + 1)].width = 40


def _add_spec_sheet(wb: Workbook, spec: Any) -> None:
    """A sheet declared by a program or a shared stage (programs.base.SheetSpec); city audience only."""
    if spec.audience != "city":
        return
    ws = wb.create_sheet(_sheet_title(wb, spec.name))
    first = 1
    if spec.title:
        ws.cell(row=1, column=1, value=spec.title).font = _HEADER_FONT
        first = 3
    for c, header in enumerate(spec.headers, start=1):
        cell = ws.cell(row=first, column=c, value=header)
        cell.font = _HEADER_FONT
        _fill(cell, HEADER_FILL)
        cell.border = _BORDER
        cell.alignment = _WRAP
    for r, row in enumerate(spec.rows, start=first + 1):
        for c, value in enumerate(row, start=1):
            cell = ws.cell(row=r, column=c)
            set_value(cell, value)
            cell.border = _BORDER
            cell.alignment = _WRAP
            if (c - 1) in spec.number_formats:
                cell.number_format = spec.number_formats[c - 1]
    for i, line in enumerate(spec.notes):
        set_value(ws.cell(row=first + len(spec.rows) + 2 + i, column=1), line)
    page_setup(ws)


def _problem_rows(result: RunResult, city: str, apps: list[Application], records: list[FileRecord],
                  others: list[FileRecord]) -> list[tuple[list[Any], str]]:
    rows: list[tuple[list[Any], str]] = []

    def finding_row(record_file: str, finding: Finding, app: Application | None) -> None:
        rules = rules_for(result, app.program if app else None)
        text = render(finding)
        field = rules.label(finding.field) if (rules is not None and finding.field) else (finding.field or "")
        cell = _finding_cell(finding, app) or ""
        effect = status_label(finding.effect) if finding.effect else ""
        rows.append(([record_file, app.name if app else "（文件）", cell, field,
                      finding.original, text.message, finding.clause or "", text.fix,
                      severity_label(finding.severity), effect], colour_of(finding)))

    seen: set[str] = set()
    for record in records:
        for finding in record.findings:
            finding_row(record.file, finding, None)
        for app in record.applications:
            if city_key(app.city) != city:
                continue
            seen.add(app.id)
            for finding in _problems(app):
                finding_row(record.file, finding, app)
    for app in apps:
        if app.id not in seen:
            for finding in _problems(app):
                finding_row(app.source.file, finding, app)
    for record in others:
        if record.status == "rejected":
            rows.append(([record.file, "（文件）", "", "", "", record.error or "文件已退回", "",
                          "请按问题说明修改后重新报送。", "已退回", ""], "red"))
        for finding in record.findings:
            finding_row(record.file, finding, None)
    return rows


def _add_problems_sheet(wb: Workbook, result: RunResult, city: str, apps: list[Application],
                        records: list[FileRecord], others: list[FileRecord]) -> None:
    ws = wb.create_sheet(PROBLEMS_SHEET)
    rows = _problem_rows(result, city, apps, records, others)
    headers = ["序号", "文件", "申报项目", "单元格", "指标", "原填报值", "问题", "条款", "处理意见", "类别", "影响"]
    _write_table(ws, headers, ([i, *r] for i, (r, _) in enumerate(rows, start=1)),
                 widths=[4, 20, 24, 6, 20, 14, 50, 8, 36, 6, 10])
    for r, (_, colour) in enumerate(rows, start=2):
        _fill(ws.cell(row=r, column=10), COLOURS[colour])
    if not rows:
        ws.cell(row=2, column=7, value="未发现问题。")


def _add_notes_sheet(wb: Workbook, result: RunResult, city: str, apps: list[Application]) -> None:
    ws = wb.create_sheet(NOTES_SHEET)
    rows: list[tuple[str, Any, str | None]] = []
    rows.append(("审核意见", f"{city}申报材料审核意见", None))
    for name, rules in programs_of(result).items():
        if apps and not any(a.program == name for a in apps) and len(programs_of(result)) > 1:
            continue
        rows.append(("审核批次", getattr(rules, "title", name), None))
        if getattr(rules, "notice", ""):
            rows.append(("依据文件", rules.notice, None))
        rows.append(("规则版本", f"{name} {getattr(rules, 'version', result.rules_version)}", None))
        if getattr(rules, "deadline", None):
            rows.append(("报送截止日期", rules.deadline.isoformat(), None))
    for name in programs_of(result):
        for note in program_of(result, name).notes(result, [a for a in apps if a.program == name], "city"):
            rows.append((note.label, note.text, "amber" if note.emphasis else None))
    rows.append(("运行编号", result.run_id, None))
    rows.append(("审核时间", time_text(result.started), None))
    rows.append(("", None, None))
    for key in ("red", "amber", "blue"):
        rows.append(("颜色说明" if key == "red" else "", label("colour", key), key))
    rows.append(("", "有颜色的单元格带有批注（鼠标移到单元格上查看），说明条款、原填报值和处理意见。", None))
    rows.append(("", None, None))
    with_quota = any(getattr(r, "quota_default", None) is not None or getattr(r, "quota_cities", None)
                     for r in programs_of(result).values()) or not programs_of(result)
    for status in reversed(STATUSES):
        if status == "over_quota" and not with_quota:
            continue  # no program of the run has a quota (e.g. parks)
        meaning = {
            "eligible": "自动审核的各项条件均已满足（定性条件由专家评审）。",
            "needs_review": "有“原则上”条件未满足，或属核心/前沿领域可适当放宽的条件未满足，需专家研判。",
            "incomplete": "审核所需的数据未填写或无法识别，请补充。",
            "ineligible": "不满足申报的基本条件。",
            "over_quota": "超出本市推荐名额（按本市推荐排序计算）。",
        }[status]
        rows.append(("审核结论说明" if status == "eligible" else "", f"{status_label(status)}：{meaning}",
                     _STATUS_COLOUR.get(status) or "eligible"))
    rows.append(("", None, None))
    first = True
    for rules in programs_of(result).values():
        for item in getattr(rules, "expert_items", ()) or ():
            rows.append(("专家评审事项" if first else "",
                         f"{item.get('clause', '')} {item.get('text', '')}（由专家评审判断，不作自动结论）", None))
            first = False
    rows.append(("", None, None))
    rows.append(("说明", "数值已统一换算为“审核结论”表头所示单位（金额为亿元、比重为百分数）；"
                 "各市填报的内容均按文本或数值保存，不含公式。", None))
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 90
    for r, (key, value, colour) in enumerate(rows, start=1):
        a = ws.cell(row=r, column=1, value=key)
        a.font = _HEADER_FONT
        b = ws.cell(row=r, column=2)
        set_value(b, value)
        b.alignment = _WRAP
        if colour == "eligible":
            _fill(b, _ELIGIBLE_FILL)
        elif colour:
            _fill(b, COLOURS[colour])
    page_setup(ws)
