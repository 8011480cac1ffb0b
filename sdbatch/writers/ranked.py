"""The province list ``<rules.list_title>.xlsx`` (推荐名单.xlsx / 认定名单.xlsx) for the experts.

Sheets: 排名 (eligible + needs_review in rank order), 全部申报, 各市汇总 (all 16 cities, with a
stacked column chart), 按产业, and when present 资金分配意见 and 变更情况. Ranks, scores and
statuses are read from the result, never recomputed. Written with xlsxwriter with
``strings_to_formulas`` off: text from a city stays text.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import xlsxwriter

from sdbatch.model import STATUSES, Application, RunResult
from sdbatch.rules import cities as all_cities
from sdbatch.writers._common import (
    COLOURS,
    HEADER_FILL,
    city_key,
    header_with_unit,
    plain,
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
_EXTRA_COLUMNS = {"park_type": "园区类型", "tier": "认定档次", "subsidy": "奖补资金（万元）",
                  "subsidy_proposed": "建议分配（万元）"}
_STATUS_COLOUR = {"over_quota": "red", "ineligible": "red", "incomplete": "red", "needs_review": "amber"}
_ALLOCATION_LABELS = {
    "id": "编号", "city": "城市", "name": "园区名称", "park_type": "园区类型", "tier": "认定档次",
    "score": "得分", "rank": "排名", "cap": "奖补上限（万元）", "requested": "申请额（万元）",
    "subsidy": "建议奖补（万元）", "proposed": "建议奖补（万元）", "amount": "建议奖补（万元）",
    "green": "绿色门槛", "method": "分配方法", "note": "说明", "reason": "说明", "program": "批次",
    "status": "审核结论", "provisional": "待专家认定", "ceiling": "奖补上限（万元）",
}

ExtraSheet = Callable[[Any, RunResult, str, Any], None]  # (workbook, result, program, rules)


def write_ranked_list(result: RunResult, run_dir: Path, changes: list[dict[str, Any]] | None = None,
                      extra_sheets: Sequence[ExtraSheet] = ()) -> list[Path]:
    """Write one list workbook per program of the run; return their paths.

    ``changes`` (rows with keys kind, city, name, old_status, new_status, note — or the Chinese
    column titles) adds a 变更情况 sheet; ``extra_sheets`` are called with the open xlsxwriter
    workbook to add more sheets.
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
                       extra_sheets, single=len(programs) == 1)
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
        self.widths[col] = max(self.widths.get(col, 0), min(width, 50))

    def table(self, headers: list[str], rows: list[list[Any]], first_row: int = 0,
              fmts: list[Any] | None = None) -> int:
        for c, h in enumerate(headers):
            self.ws.write_string(first_row, c, h, self.f["header"])
            self.widths[c] = max(self.widths.get(c, 0), min(sum(2 if ord(ch) > 0x2E80 else 1 for ch in h), 24))
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
    }
    for key, rgb in COLOURS.items():
        f[key] = wb.add_format({**base, "bg_color": "#" + rgb})
    f["eligible"] = wb.add_format({**base, "bg_color": "#C6EFCE"})
    return f


def _status_fmt(f: dict[str, Any], status: str) -> Any:
    return f[_STATUS_COLOUR.get(status, "eligible")]


def _write_program(path: Path, result: RunResult, program: str, rules: Any, apps: list[Application],
                   changes: list[dict[str, Any]] | None, extra_sheets: Sequence[ExtraSheet],
                   single: bool) -> None:
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False})
    wb.set_properties({"title": getattr(rules, "title", program), "comments": f"运行编号 {result.run_id}"})
    f = _formats(wb)
    extras = [k for k in _EXTRA_COLUMNS if any(k in a.extra for a in apps)]
    name_label = rules.label("name") if rules is not None else "名称"
    _rank_sheet(wb, f, apps, rules, extras, name_label)
    _all_sheet(wb, f, apps, rules, extras, name_label)
    _city_sheet(wb, f, result, program, rules, apps, single)
    _industry_sheet(wb, f, apps, rules, name_label)
    allocation = result.extra.get("allocation")
    if allocation and (single or getattr(rules, "kind", "") == "park"
                       or any(isinstance(r, dict) and r.get("program") == program for r in allocation)):
        _allocation_sheet(wb, f, [r for r in allocation if isinstance(r, dict)
                                  and r.get("program") in (None, program)])
    if changes is not None:
        _changes_sheet(wb, f, [c for c in changes if c.get("program") in (None, program)])
    for hook in extra_sheets:
        hook(wb, result, program, rules)
    _notes(wb, f, result, program, rules)
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


def _rank_sheet(wb: Any, f: dict[str, Any], apps: list[Application], rules: Any, extras: list[str],
                name_label: str) -> None:
    sheet = _Sheet(wb, RANK_SHEET, f)
    ranked = sorted((a for a in apps if a.status in RANKED_STATUSES), key=_rank_key)
    keys = _key_fields(rules)
    headers = (["全省排名", "所在市", name_label, "综合得分"] + [h for _, h in keys]
               + [_EXTRA_COLUMNS[k] for k in extras] + ["审核结论", "主要原因"])
    rows = [[a.rank, a.city, a.name, a.score]
            + [(a.industry if fid == "industry" else a.values.get(fid)) for fid, _ in keys]
            + [a.extra.get(k) for k in extras] + [status_label(a.status), reason(a, rules)] for a in ranked]
    sheet.table(headers, rows, fmts=[_status_fmt(f, a.status) for a in ranked])
    if not ranked:
        sheet.put(1, 2, "（没有可排名的申报项目）", f["wrap"])


def _all_sheet(wb: Any, f: dict[str, Any], apps: list[Application], rules: Any, extras: list[str],
               name_label: str) -> None:
    sheet = _Sheet(wb, ALL_SHEET, f)
    order = {c: i for i, c in enumerate(all_cities())}
    rows_apps = sorted(apps, key=lambda a: (order.get(a.city or "", 99), a.city_order is None,
                                            a.city_order or 0, a.source.file, a.source.row or 0))
    headers = (["所在市", "推荐排序", name_label, _group_label(rules),
                "审核结论", "主要原因", "综合得分", "全省排名", "产业内排名"]
               + [_EXTRA_COLUMNS[k] for k in extras] + ["来源文件", "行号"])
    rows = [[city_key(a.city), a.city_order, a.name, a.industry, status_label(a.status), reason(a, rules),
             a.score, a.rank, a.industry_rank] + [a.extra.get(k) for k in extras]
            + [a.source.file, a.source.row] for a in rows_apps]
    sheet.table(headers, rows, fmts=[_status_fmt(f, a.status) for a in rows_apps])


def _city_sheet(wb: Any, f: dict[str, Any], result: RunResult, program: str, rules: Any,
                apps: list[Application], single: bool) -> None:
    sheet = _Sheet(wb, CITY_SHEET, f)
    headers = (["城市", "推荐名额", "报送数"] + [status_label(s) for s in reversed(STATUSES)]
               + ["收到文件数", "退回文件数", "是否逾期", "备注"])
    rows: list[list[Any]] = []
    cities = list(all_cities())
    extra_cities = sorted({city_key(a.city) for a in apps} - set(cities))
    for city in cities + extra_cities:
        city_apps = [a for a in apps if city_key(a.city) == city]
        files = [r for r in result.files if city_key(r.city) == city and r.status != "ignored"
                 and (single or r.program in (None, program))]
        quota = rules.quota_for(city) if (rules is not None and city in cities) else None
        late = any(r.late for r in files if r.status in ("processed", "superseded", "duplicate"))
        rejected = sum(1 for r in files if r.status == "rejected")
        note = ""
        if not files and not city_apps:
            note = "未报送"
        elif rejected and not city_apps:
            note = "文件均被退回"
        rows.append([city, quota, len(city_apps)]
                    + [sum(1 for a in city_apps if a.status == s) for s in reversed(STATUSES)]
                    + [len(files), rejected, "是" if late else "否", note])
    total = ["合计", None, sum(r[2] for r in rows)] + [sum(r[3 + i] for r in rows) for i in range(len(STATUSES))]
    total += [sum(r[3 + len(STATUSES)] for r in rows), sum(r[4 + len(STATUSES)] for r in rows), None, None]
    last = sheet.table(headers, rows)
    for c, value in enumerate(total):  # a number, not a SUM formula: nothing in this file is a formula
        sheet.put(last + 1, c, value, f["header"])

    chart = wb.add_chart({"type": "column", "subtype": "stacked"})
    n = len(rows)
    for i, status in enumerate(reversed(STATUSES)):
        colour = {"eligible": "#70AD47", "needs_review": "#FFC000", "incomplete": "#A5A5A5",
                  "ineligible": "#C00000", "over_quota": "#7030A0"}[status]
        chart.add_series({
            "name": [CITY_SHEET, 0, 3 + i],
            "categories": [CITY_SHEET, 1, 0, n, 0],
            "values": [CITY_SHEET, 1, 3 + i, n, 3 + i],
            "fill": {"color": colour},
        })
    chart.set_title({"name": "各市申报项目数（按审核结论）"})
    chart.set_x_axis({"name": "城市", "num_font": {"rotation": -45}})
    chart.set_y_axis({"name": "项目数", "major_gridlines": {"visible": True}, "min": 0})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 900, "height": 420})
    sheet.ws.insert_chart(last + 3, 0, chart)


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
    sheet = _Sheet(wb, INDUSTRY_SHEET, f)
    allowed = _group_choices(rules)
    order = {ind: i for i, ind in enumerate(allowed)}
    industry_label = _group_label(rules)
    rows_apps = sorted(apps, key=lambda a: (order.get(a.industry or "", len(order)), a.industry or "~",
                                            a.industry_rank is None, a.industry_rank or 0,
                                            a.rank is None, a.rank or 0))
    headers = [industry_label, "产业内排名", "全省排名", "所在市", name_label, "综合得分", "审核结论", "主要原因"]
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


def _allocation_sheet(wb: Any, f: dict[str, Any], allocation: list[dict[str, Any]]) -> None:
    sheet = _Sheet(wb, ALLOCATION_SHEET, f)
    keys: list[str] = []
    for row in allocation:
        keys += [k for k in row if k not in keys and k != "program"]
    headers = [_ALLOCATION_LABELS.get(k, k) for k in keys]

    def shown(key: str, value: Any) -> Any:
        if key == "status":
            return status_label(value)
        if isinstance(value, bool):
            return "是" if value else "否"
        return value

    sheet.table(headers, [[shown(k, row.get(k)) for k in keys] for row in allocation])


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


def _notes(wb: Any, f: dict[str, Any], result: RunResult, program: str, rules: Any) -> None:
    ws = wb.add_worksheet("说明")
    lines = [
        ("名单", f"{getattr(rules, 'title', program)}{getattr(rules, 'list_title', '')}"),
        ("依据文件", getattr(rules, "notice", "")),
        ("规则版本", f"{program} {getattr(rules, 'version', result.rules_version)}"),
        ("运行编号", result.run_id),
        ("审核时间", time_text(result.started)),
        ("排名说明", "“排名”表只列审核结论为“符合条件”或“需专家研判”的项目，按综合得分排序；"
                 "综合得分由规则文件中的指标权重计算，并列时按规则文件规定的次序确定。"),
    ]
    for i, item in enumerate(getattr(rules, "expert_items", ()) or ()):
        lines.append(("专家评审事项" if i == 0 else "", f"{item.get('clause', '')} {item.get('text', '')}"))
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 90)
    for r, (k, v) in enumerate(lines):
        ws.write_string(r, 0, k, f["bold"])
        ws.write_string(r, 1, str(v or ""), f["wrap"])
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
