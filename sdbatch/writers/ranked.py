"""The province list ``<rules.list_title>.xlsx`` (推荐名单.xlsx / 认定名单.xlsx) for the experts.

Sheets: 排名 (eligible + needs_review in rank order), 全部申报, 各市汇总 (all 16 cities, with a
stacked column chart), 按产业, and when present 资金分配意见 and 变更情况. Ranks, scores and
statuses are read from the result, never recomputed. Written with xlsxwriter with
``strings_to_formulas`` off: text from a city stays text.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import xlsxwriter

from sdbatch import provenance
from sdbatch.catalogue import text
from sdbatch.model import STATUSES, Application, RunResult
from sdbatch.rules import cities as all_cities
from sdbatch.writers._common import (
    COLOURS,
    HEADER_FILL,
    city_key,
    header_with_unit,
    outcome_columns,
    plain,
    program_of,
    programs_of,
    reason,
    status_label,
    time_text,
)

RANK_SHEET = "排名"
ALL_SHEET = "全部申报"
CITY_SHEET = "各市汇总"
INDUSTRY_SHEET = "按产业"
ALLOCATION_SHEET = "资金分配意见"
CHANGES_SHEET = "变更情况"
RANKED_STATUSES = ("eligible", "needs_review")
CHANGE_COLUMNS = [("kind", "变更类型"), ("city", "城市"), ("name", "名称"), ("old_status", "原状态"),
                  ("new_status", "新状态"), ("note", "说明")]
_STATUS_COLOUR = {"over_quota": "red", "ineligible": "red", "incomplete": "red", "needs_review": "amber"}

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
        title = getattr(rules, "list_title", None) or "推荐名单"
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


class _Sheet:
    """An xlsxwriter worksheet with the house formats and safe writes."""

    def __init__(self, wb: Any, name: str, formats: dict[str, Any]) -> None:
        self.ws = wb.add_worksheet(name)
        self.f = formats
        self.widths: dict[int, int] = {}

    def put(self, row: int, col: int, value: Any, fmt: Any = None) -> None:
        value = plain(value)
        fmt = fmt if fmt is not None else self.f["cell"]
        if value is None:
            self.ws.write_blank(row, col, None, fmt)
        elif isinstance(value, (int, float)):
            self.ws.write_number(row, col, value, fmt)
        elif isinstance(value, str):
            self.ws.write_string(row, col, value, fmt)
        else:
            self.ws.write_string(row, col, str(value), fmt)
        text = "" if value is None else str(value)
        width = sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
        self.widths[col] = max(self.widths.get(col, 0), min(width, 36))

    def table(self, headers: list[str], rows: list[list[Any]], first_row: int = 0,
              fmts: list[Any] | None = None) -> int:
        for c, h in enumerate(headers):
            self.ws.write_string(first_row, c, h, self.f["header"])
            # Long indicator names wrap in a tall header row instead of widening the column.
            self.widths[c] = max(self.widths.get(c, 0), min(sum(2 if ord(ch) > 0x2E80 else 1 for ch in h), 12))
        self.ws.set_row(first_row, 48)
        for r, values in enumerate(rows, start=first_row + 1):
            for c, value in enumerate(values):
                fmt = fmts[r - first_row - 1] if fmts and c == fmts_col(headers) else None
                self.put(r, c, value, fmt)
        last_row = first_row + max(len(rows), 1)
        self.ws.autofilter(first_row, 0, last_row, max(len(headers) - 1, 0))
        self.ws.freeze_panes(first_row + 1, 0)
        self.finish(first_row)
        return last_row

    def finish(self, header_row: int = 0) -> None:
        for c, w in self.widths.items():
            self.ws.set_column(c, c, max(6, min(w + 2, 45)))
        self.ws.set_landscape()
        self.ws.set_paper(9)  # A4
        self.ws.fit_to_pages(1, 0)
        self.ws.repeat_rows(header_row)


def fmts_col(headers: list[str]) -> int:
    """The column coloured by status: the one titled 审核结论 (or -1)."""
    return headers.index("审核结论") if "审核结论" in headers else -1


def _formats(wb: Any) -> dict[str, Any]:
    base = {"text_wrap": True, "valign": "top", "border": 1, "border_color": "#BFBFBF"}
    f = {
        "cell": wb.add_format(base),
        "header": wb.add_format({**base, "bold": True, "bg_color": "#" + HEADER_FILL, "align": "center",
                                 "valign": "vcenter"}),
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "bold": wb.add_format({"bold": True}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
        "note": wb.add_format({"text_wrap": True, "valign": "top", "bold": True, "font_color": "#9C5700",
                               "bg_color": "#" + COLOURS["amber"]}),
    }
    for key, rgb in COLOURS.items():
        f[key] = wb.add_format({**base, "bg_color": "#" + rgb})
    f["eligible"] = wb.add_format({**base, "bg_color": "#C6EFCE"})
    return f


def _status_fmt(f: dict[str, Any], status: str) -> Any:
    return f[_STATUS_COLOUR.get(status, "eligible")]


def _write_program(path: Path, result: RunResult, program: str, rules: Any, apps: list[Application],
                   changes: list[dict[str, Any]] | None, single: bool) -> None:
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False})
    wb.set_properties({"title": getattr(rules, "title", program), "comments": f"运行编号 {result.run_id}"})
    provenance.mark_xlsxwriter(wb, "list", result.run_id)  # never read back as a submission
    f = _formats(wb)
    prog = program_of(result, program)
    key_ids = {fid for fid, _ in _key_fields(rules)}
    # A program's column already shown as a key field is not repeated.
    columns = [c for c in outcome_columns(prog, apps, "list", "department") if c.key not in key_ids]
    notes = prog.notes(result, apps, "department")
    name_label = rules.label("name") if rules is not None else "名称"
    _rank_sheet(wb, f, apps, rules, columns, name_label, [n for n in notes if n.emphasis])
    _all_sheet(wb, f, apps, rules, columns, name_label)
    _city_sheet(wb, f, result, program, rules, apps, single, columns)
    _industry_sheet(wb, f, apps, rules, name_label)
    for spec in [*prog.list_sheets(result, apps), *result.list_sheets.get(program, [])]:
        _spec_sheet(wb, f, spec)
    if changes is not None:
        _changes_sheet(wb, f, [c for c in changes if c.get("program") in (None, program)])
    _notes(wb, f, result, program, rules, notes)
    wb.close()


def _key_fields(rules: Any) -> list[tuple[str, str]]:
    out = []
    report = getattr(rules, "report", {}) or {}
    for fid in report.get("key_fields", []):
        spec = rules.fields.get(fid) if rules is not None else None
        if spec is None:
            out.append((fid, fid))
        else:
            out.append((fid, header_with_unit(spec.label, spec.unit)))
    return out


def _rank_key(app: Application) -> tuple[Any, ...]:
    return (app.rank is None, app.rank or 0)


def _rank_sheet(wb: Any, f: dict[str, Any], apps: list[Application], rules: Any, columns: list[Any],
                name_label: str, caveats: list[Any]) -> None:
    sheet = _Sheet(wb, RANK_SHEET, f)
    ranked = sorted((a for a in apps if a.status in RANKED_STATUSES), key=_rank_key)
    keys = _key_fields(rules)
    headers = (["全省排名", "所在市", name_label, "综合得分"] + [h for _, h in keys]
               + [c.label for c in columns] + ["审核结论", "主要原因"])
    rows = [[a.rank, a.city, a.name, a.score]
            + [(a.industry if fid == "industry" else a.values.get(fid)) for fid, _ in keys]
            + [c.value(a) for c in columns] + [status_label(a.status), reason(a, rules)] for a in ranked]
    last = sheet.table(headers, rows, fmts=[_status_fmt(f, a.status) for a in ranked])
    if not ranked:
        sheet.put(1, 2, "（没有可排名的申报项目）", f["wrap"])
    for i, note in enumerate(caveats):  # below the table, outside the filter range; also in 说明
        row = last + 2 + i
        sheet.ws.merge_range(row, 0, row, min(len(headers) - 1, 11), f"{note.label}：{note.text}", f["note"])
        sheet.ws.set_row(row, 36)


def _all_sheet(wb: Any, f: dict[str, Any], apps: list[Application], rules: Any, columns: list[Any],
               name_label: str) -> None:
    sheet = _Sheet(wb, ALL_SHEET, f)
    order = {c: i for i, c in enumerate(all_cities())}
    rows_apps = sorted(apps, key=lambda a: (order.get(a.city or "", 99), a.city_order is None,
                                            a.city_order or 0, a.source.file, a.source.row or 0))
    with_order = any(a.city_order is not None for a in apps) or not apps
    _, group_rank = _group_words(rules)
    headers = (["所在市"] + (["推荐排序"] if with_order else []) + [name_label, _group_label(rules),
                "审核结论", "主要原因", "综合得分", "全省排名", group_rank]
               + [c.label for c in columns] + ["来源文件", "行号"])
    rows = [[city_key(a.city)] + ([a.city_order] if with_order else [])
            + [a.name, _group_value(a, rules), status_label(a.status), reason(a, rules),
               a.score, a.rank, a.industry_rank] + [c.value(a) for c in columns]
            + [a.source.file, a.source.row] for a in rows_apps]
    sheet.table(headers, rows, fmts=[_status_fmt(f, a.status) for a in rows_apps])


def _has_quota(rules: Any) -> bool:
    return rules is None or getattr(rules, "quota_default", None) is not None or bool(getattr(rules, "quota_cities", None))


def _city_sheet(wb: Any, f: dict[str, Any], result: RunResult, program: str, rules: Any,
                apps: list[Application], single: bool, columns: list[Any]) -> None:
    sheet = _Sheet(wb, CITY_SHEET, f)
    quota = _has_quota(rules)
    statuses = [s for s in reversed(STATUSES) if quota or s != "over_quota"]
    # A program's columns summed (奖补上限合计) or counted per value (认定示范型…) per city.
    counted = [(c, v) for c in columns if c.summary == "count" for v in c.values]
    summed = [c for c in columns if c.summary == "sum"]
    headers = (["城市"] + (["推荐名额"] if quota else []) + ["报送数"] + [status_label(s) for s in statuses]
               + [_summary_label(c, v) for c, v in counted] + [_summary_label(c) for c in summed]
               + ["收到文件数", "退回文件数", "是否逾期", "备注"])
    rows: list[list[Any]] = []
    cities = list(all_cities())
    extra_cities = sorted({city_key(a.city) for a in apps} - set(cities))
    for city in cities + extra_cities:
        city_apps = [a for a in apps if city_key(a.city) == city]
        files = [r for r in result.files if city_key(r.city) == city and r.status != "ignored"
                 and (single or r.program in (None, program))]
        city_quota = rules.quota_for(city) if (rules is not None and city in cities) else None
        late = any(r.late for r in files if r.status in ("processed", "superseded", "duplicate"))
        rejected = sum(1 for r in files if r.status == "rejected")
        note = ""
        if not files and not city_apps:
            note = "未报送"
        elif rejected and not city_apps:
            note = "文件均被退回"
        rows.append([city] + ([city_quota] if quota else []) + [len(city_apps)]
                    + [sum(1 for a in city_apps if a.status == s) for s in statuses]
                    + [sum(1 for a in city_apps if c.value(a) == v) for c, v in counted]
                    + [_money(sum(float(c.value(a) or 0) for a in city_apps)) for c in summed]
                    + [len(files), rejected, "是" if late else "否", note])
    first_count = 2 if quota else 1  # column of 报送数
    n_sum = 1 + len(statuses) + len(counted) + len(summed) + 2  # 报送数 … 退回文件数
    total = (["合计"] + ([None] if quota else [])
             + [_money(sum(r[first_count + i] for r in rows)) for i in range(n_sum)] + [None, None])
    last = sheet.table(headers, rows)
    for c, value in enumerate(total):  # a number, not a SUM formula: nothing in this file is a formula
        sheet.put(last + 1, c, value, f["header"])

    chart = wb.add_chart({"type": "column", "subtype": "stacked"})
    n = len(rows)
    for i, status in enumerate(statuses):
        colour = {"eligible": "#70AD47", "needs_review": "#FFC000", "incomplete": "#A5A5A5",
                  "ineligible": "#C00000", "over_quota": "#7030A0"}[status]
        col = first_count + 1 + i
        chart.add_series({
            "name": [CITY_SHEET, 0, col],
            "categories": [CITY_SHEET, 1, 0, n, 0],
            "values": [CITY_SHEET, 1, col, n, col],
            "fill": {"color": colour},
        })
    entity = getattr(rules, "entity", "") or ""
    entity = entity if entity and entity != "项目" else "项目"
    chart.set_title({"name": f"各市申报{entity}数（按审核结论）"})
    chart.set_x_axis({"name": "城市", "num_font": {"rotation": -45}})
    chart.set_y_axis({"name": f"{entity}数", "major_gridlines": {"visible": True}, "min": 0})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 900, "height": 420})
    sheet.ws.insert_chart(last + 3, 0, chart)


def _summary_label(column: Any, value: str = "") -> str:
    return text(column.summary_label, value=value) if column.summary_label else f"{column.label} {value}".strip()


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
    """(sheet name, within-group rank header): 按产业 / 产业内排名 for industries, else from the group label."""
    if _group_field(rules) == "industry":
        return INDUSTRY_SHEET, "产业内排名"
    label = _group_label(rules)
    return f"按{label}"[:31], f"{label}内排名"


def _group_label(rules: Any) -> str:
    """Header of the grouping column: 主导产业 for clusters, 园区类型 for parks (rules' group_field)."""
    return rules.label(rules.group_field) if rules is not None else "主导产业"


def _group_choices(rules: Any) -> list[str]:
    if rules is None:
        return []
    field = rules.fields.get(rules.group_field)
    choices = rules.choices.get(field.choices) if field is not None and field.choices else None
    return list(choices.allowed) if choices is not None else []


def _industry_sheet(wb: Any, f: dict[str, Any], apps: list[Application], rules: Any, name_label: str) -> None:
    sheet_name, group_rank = _group_words(rules)
    sheet = _Sheet(wb, sheet_name, f)
    allowed = _group_choices(rules)
    order = {ind: i for i, ind in enumerate(allowed)}
    industry_label = _group_label(rules)
    rows_apps = sorted(apps, key=lambda a: (order.get(a.industry or "", len(order)), a.industry or "~",
                                            a.industry_rank is None, a.industry_rank or 0,
                                            a.rank is None, a.rank or 0))
    headers = [industry_label, group_rank, "全省排名", "所在市", name_label, "综合得分", "审核结论", "主要原因"]
    rows = [[a.industry or "（未识别）", a.industry_rank, a.rank, city_key(a.city), a.name, a.score,
             status_label(a.status), reason(a, rules)] for a in rows_apps]
    sheet.table(headers, rows, fmts=[_status_fmt(f, a.status) for a in rows_apps])
    # Per-industry counts beside the list.
    col = len(headers) + 1
    counts_headers = [industry_label, "申报数", "可排名数"]
    for c, h in enumerate(counts_headers):
        sheet.ws.write_string(0, col + c, h, f["header"])
    industries = allowed + sorted({a.industry or "（未识别）" for a in apps} - set(allowed))
    for r, ind in enumerate(industries, start=1):
        ind_apps = [a for a in apps if (a.industry or "（未识别）") == ind]
        sheet.put(r, col, ind)
        sheet.put(r, col + 1, len(ind_apps))
        sheet.put(r, col + 2, sum(1 for a in ind_apps if a.status in RANKED_STATUSES))
    sheet.finish()


def _spec_sheet(wb: Any, f: dict[str, Any], spec: Any) -> None:
    """A sheet a program declared (programs.base.SheetSpec): title, table, notes below."""
    sheet = _Sheet(wb, spec.name[:31], f)
    first = 0
    if spec.title:
        sheet.ws.write_string(0, 0, spec.title, f["title"])
        first = 2
    last = sheet.table(spec.headers, [[c for c in row] for row in spec.rows], first_row=first)
    for i, line in enumerate(spec.notes):
        sheet.ws.merge_range(last + 2 + i, 0, last + 2 + i, max(len(spec.headers) - 1, 1), line, f["wrap"])
        sheet.ws.set_row(last + 2 + i, 15 * (1 + len(line) // 60))


def _changes_sheet(wb: Any, f: dict[str, Any], changes: list[dict[str, Any]]) -> None:
    sheet = _Sheet(wb, CHANGES_SHEET, f)
    rows = []
    for change in changes:
        row = []
        for key, title in CHANGE_COLUMNS:
            value = change.get(key, change.get(title))
            if key in ("old_status", "new_status") and value in STATUSES:
                value = status_label(value)
            row.append(value)
        rows.append(row)
    sheet.table([t for _, t in CHANGE_COLUMNS], rows)
    if not rows:
        sheet.put(1, 0, "（与上次运行相比没有变更）", f["wrap"])


def _notes(wb: Any, f: dict[str, Any], result: RunResult, program: str, rules: Any, notes: list[Any]) -> None:
    ws = wb.add_worksheet("说明")
    lines = [
        ("名单", f"{getattr(rules, 'title', program)}{getattr(rules, 'list_title', '')}"),
        ("依据文件", getattr(rules, "notice", "")),
        ("规则版本", f"{program} {getattr(rules, 'version', result.rules_version)}"),
        ("运行编号", result.run_id),
        ("审核时间", time_text(result.started)),
    ]
    emphasis = set()
    for note in notes:
        if note.emphasis:
            emphasis.add(len(lines))
        lines.append((note.label, note.text))
    for i, item in enumerate(getattr(rules, "expert_items", ()) or ()):
        lines.append(("专家评审事项" if i == 0 else "", f"{item.get('clause', '')} {item.get('text', '')}"))
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 90)
    for r, (k, v) in enumerate(lines):
        ws.write_string(r, 0, k, f["bold"])
        fmt = f["note"] if r in emphasis else f["wrap"]
        ws.write_string(r, 1, str(v or ""), fmt)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
