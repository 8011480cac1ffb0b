"""The blank city workbook (汇总表模板), generated from a program's rules file (issue 6).

Nothing here names a field of a particular program: the columns, units, dropdowns, number
validation, input prompts and the 填表说明 sheet all come from the rules file, so a new round
(a copied and changed rules file) gets its template without code.

Layout of the first sheet (what ``sdbatch run`` expects of a city workbook, SPEC §2.1):

* row 1: the city to fill in (a dropdown) and the title ``<title>申报信息汇总表``;
* row 2: ``填报单位：`` and a cell to fill;
* row 3: the header, one column per field, units in the header text (``（亿元）``);
* rows 4…: one row per application, cells unlocked, each column with its data validation.

The header rows are protected (sheet protection without a password, data cells unlocked), so a
city cannot break the header by accident but staff can still unprotect it.

The output is deterministic (fixed document properties and created date; xlsxwriter already
stamps every zip member with a fixed date), so ``templates/xlsx/`` can be checked for drift.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sdbatch.catalogue import text as ui_text
from sdbatch.model import column_letter
from sdbatch.rules import NUMERIC_TYPES, FieldRule, Rules, bundled, load

# Fixed so that two runs of the generator give the same file.
CREATED = dt.datetime(2024, 1, 1, 0, 0, 0)
TITLE_ROW, UNIT_ROW, HEADER_ROW, FIRST_DATA_ROW = 0, 1, 2, 3  # 0-based rows of the first sheet
ROWS_WITHOUT_QUOTA = 20  # data rows prepared when a round has no quota
DATA_SHEET = "汇总表"
NOTES_SHEET = "填表说明"
INLINE_LIST_MAX = 255  # Excel's limit for a list written into the validation itself

INTEGER_TYPES = {"int", "count"}
TEXT_TYPES = {"text", "uscc", "phone", "email"}
TYPE_HINTS = {
    "amount": "请填写数字",
    "ratio": "请填写百分数的数值（如 3.5 表示 3.5%）",
    "number": "请填写数字",
    "int": "请填写整数",
    "count": "请填写整数",
    "bool": "请从下拉列表中选择",
    "city": "请从下拉列表中选择",
    "choice": "请从下拉列表中选择",
    "uscc": "请填写18位统一社会信用代码",
    "phone": "请填写手机号或带区号的固定电话",
    "email": "请填写电子邮箱地址",
    "date": "请填写日期（如 2024-06-28）",
    "text": "请填写文字",
}


# ----------------------------------------------------------------------------- public API
def write_templates(program: str | None, output: Path) -> list[Path]:
    """Write the blank workbook of one bundled program (or of every one that has fields).

    ``output`` is a directory (``<output>/<program>_汇总表模板.xlsx``) or, for one program, a
    ``.xlsx`` path. ``program`` may also be the path of a rules file.
    """
    if program is None:
        names: list[str | Path] = list(bundled())
    else:
        names = [program]
    loaded = [load(name) for name in names]
    loaded = [r for r in loaded if r.fields]
    to_file = output.suffix.lower() == ".xlsx"
    if to_file and len(loaded) != 1:
        raise ValueError(f"输出为单个文件 {output} 时只能生成一个批次的模板，请用 --program 指定。")
    written = []
    for rules in loaded:
        target = output if to_file else output / template_name(rules)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_template(rules, target)
        written.append(target)
    return written


def template_name(rules: Rules) -> str:
    return f"{rules.name}_汇总表模板.xlsx"


def template_fields(rules: Rules) -> list[FieldRule]:
    """The columns of the template, in the order of the rules file.

    Left out, decided from the rules data: the split parts of another field (the city fills the
    total, e.g. ``ip_total`` rather than its ``parts``), and numeric helper fields that carry no
    unit, no clause and that nothing in the rules uses (the printed row number 序号). The city's
    own order (the ``order`` role, ``city_order``) comes first, as the quota counts in it.
    """
    order = rules.role("order")
    parts = {p for f in rules.fields.values() for p in f.parts}
    used = _referenced_fields(rules)
    out = []
    for f in rules.fields.values():
        if f.id in parts:
            continue
        if (f.id != order and f.type in NUMERIC_TYPES and not f.unit and not f.clause
                and f.id not in used):
            continue
        out.append(f)
    out.sort(key=lambda f: f.id != order)  # stable: the order column first, the rest as written
    return out


def _referenced_fields(rules: Rules) -> set[str]:
    """Fields that some part of the rules uses (conditions, derivations, score, report, detection)."""
    used: set[str] = set(rules.detect_fields)
    for c in rules.conditions:
        used.update(a.field for a in c.any_of)
        if c.field:
            used.add(c.field)
    for f in rules.fields.values():
        used.update(f.parts)
        if f.derive:
            used.update(str(v) for v in f.derive.values())
    for ind in rules.score.get("indicators", []) or []:
        if isinstance(ind, dict) and ind.get("field"):
            used.add(str(ind["field"]))
    used.update(str(v) for v in rules.score.get("tie_break", []) or [])
    used.update(str(v) for v in rules.report.get("key_fields", []) or [])
    return used


def header_text(field: FieldRule) -> str:
    return f"{field.label}（{field.unit}）" if field.unit else field.label


def title_text(rules: Rules) -> str:
    """``山东省数字产业集群（首批）申报信息汇总表`` from the title ``山东省数字产业集群申报（首批）``."""
    return f"{rules.title.replace('申报', '')}申报信息汇总表"


def data_rows(rules: Rules) -> int:
    quotas = [q for q in (rules.quota_default, *rules.quota_cities.values()) if q]
    return max(quotas) if quotas else ROWS_WITHOUT_QUOTA


def bool_choices(field: FieldRule) -> list[str]:
    """``有/无`` for a field asked as 有无…, ``是/否`` otherwise (SPEC §2.1)."""
    return ["有", "无"] if field.label.startswith("有无") else ["是", "否"]


def choice_list(rules: Rules, field: FieldRule) -> list[str] | None:
    """The dropdown of a field, or None when it has none."""
    if field.type == "city":
        return list(rules.jurisdiction.cities)
    if field.type == "choice" and field.choices in rules.choices:
        return list(rules.choices[field.choices].allowed)
    if field.type == "bool":
        return bool_choices(field)
    return None


def severity_label(severity: str) -> str:
    from sdbatch.rules_report import SEVERITY_LABELS

    return SEVERITY_LABELS.get(severity, severity)


# ----------------------------------------------------------------------------- writing
def write_template(rules: Rules, target: Path) -> Path:
    import xlsxwriter

    fields = template_fields(rules)
    rows = data_rows(rules)
    wb = xlsxwriter.Workbook(str(target), {"strings_to_numbers": False, "strings_to_formulas": False})
    wb.set_properties({
        "title": title_text(rules),
        "subject": rules.notice,
        "author": rules.jurisdiction.department,
        "company": rules.jurisdiction.department,
        "comments": f"由 sdbatch 按规则文件 {rules.name}（版本 {rules.version}）生成",
        "created": CREATED,
    })
    wb.set_custom_property("sdbatch_program", rules.name)
    wb.set_custom_property("sdbatch_rules_version", rules.version)
    fmt = _formats(wb)
    ws = wb.add_worksheet(DATA_SHEET)
    notes = wb.add_worksheet(NOTES_SHEET)
    lists = _ListSource(notes)
    last_col = len(fields) - 1

    # Row 1: the city to fill in, then the title.
    ws.set_row(TITLE_ROW, 36)
    ws.merge_range(TITLE_ROW, 0, TITLE_ROW, 1, "", fmt["city"])
    ws.data_validation(TITLE_ROW, 0, TITLE_ROW, 0, _list_validation(
        lists, "city", list(rules.jurisdiction.cities), "请选择本市", "请先在此选择本市，再逐行填写。",
        ui_text("template.city_error", province=rules.jurisdiction.province, count=len(rules.jurisdiction.cities))))
    if last_col >= 2:
        ws.merge_range(TITLE_ROW, 2, TITLE_ROW, last_col, title_text(rules), fmt["title"])
    else:
        ws.write(TITLE_ROW, 2, title_text(rules), fmt["title"])

    # Row 2: 填报单位.
    ws.write(UNIT_ROW, 0, "填报单位：", fmt["label"])
    ws.merge_range(UNIT_ROW, 1, UNIT_ROW, min(max(last_col, 3), 4), "", fmt["fill_line"])
    ws.write(UNIT_ROW, min(max(last_col, 3), 4) + 1, f"（请先阅读“{NOTES_SHEET}”工作表）", fmt["hint"])

    # Row 3: header; rows 4…: data cells, unlocked, validated.
    ws.set_row(HEADER_ROW, 48)
    first, last = FIRST_DATA_ROW, FIRST_DATA_ROW + rows - 1
    for col, f in enumerate(fields):
        text = header_text(f)
        ws.write(HEADER_ROW, col, text, fmt["header"])
        ws.set_column(col, col, _width(text, f))
        cell_fmt = fmt["int"] if f.type in INTEGER_TYPES else fmt["decimal"] if f.type in NUMERIC_TYPES \
            else fmt["text"] if f.type in TEXT_TYPES else fmt["cell"]
        for row in range(first, last + 1):
            ws.write_blank(row, col, None, cell_fmt)
        validation = _field_validation(rules, f, lists)
        if validation and f.id == rules.role("order"):
            validation["maximum"] = _quota_formula(rules, fields, first) or validation["maximum"]
        if validation:
            ws.data_validation(first, col, last, col, validation)
    ws.freeze_panes(FIRST_DATA_ROW, 0)
    ws.protect("", {
        "select_locked_cells": True, "select_unlocked_cells": True, "format_columns": True,
        "format_rows": True, "insert_rows": True, "delete_rows": True, "sort": True, "autofilter": True,
    })
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(HEADER_ROW)

    _write_notes(notes, rules, fields, fmt, lists)
    wb.close()
    return target


def _formats(wb: Any) -> dict[str, Any]:
    base = {"font_name": "宋体", "font_size": 11, "valign": "vcenter"}
    border = {"border": 1}

    def make(**kw: Any) -> Any:
        return wb.add_format({**base, **kw})

    return {
        "title": make(bold=True, font_size=16, align="left"),
        "city": make(bold=True, font_size=16, align="center", bottom=1, locked=False, bg_color="#FFF2CC"),
        "label": make(bold=True),
        "fill_line": make(bottom=1, locked=False, bg_color="#FFF2CC"),
        "hint": make(font_color="#7F7F7F"),
        "header": make(bold=True, align="center", text_wrap=True, bg_color="#D9E1F2", **border),
        "cell": make(locked=False, text_wrap=True, **border),
        "text": make(locked=False, num_format="@", **border),
        "int": make(locked=False, num_format="0", **border),
        "decimal": make(locked=False, num_format="0.00", **border),
        "notes_title": make(bold=True, font_size=14),
        "notes_head": make(bold=True, bg_color="#D9E1F2", text_wrap=True, **border),
        "notes_cell": make(text_wrap=True, valign="top", **border),
        "notes_text": make(text_wrap=True, valign="top"),
        "notes_section": make(bold=True, font_size=12),
    }


def _width(text: str, field: FieldRule) -> float:
    shown = sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
    wanted = {"uscc": 22, "text": 20, "email": 22, "phone": 16, "choice": 14, "city": 10}.get(field.type, 12)
    return float(max(8, min(max(wanted, shown / 2.5), 24)))


class _ListSource:
    """Where a dropdown's items live: in the validation itself while they fit (Excel: 255
    characters), otherwise in a column of the 填表说明 sheet (to the right of its text)."""

    FIRST_COL = 8

    def __init__(self, sheet: Any) -> None:
        self.sheet = sheet
        self.columns: dict[str, str] = {}

    def source(self, key: str, items: list[str]) -> list[str] | str:
        if len(",".join(items)) <= INLINE_LIST_MAX:
            return items
        if key not in self.columns:
            col = self.FIRST_COL + len(self.columns)
            self.sheet.write(0, col, f"选项：{key}")
            for i, item in enumerate(items, start=1):
                self.sheet.write(i, col, item)
            letter = column_letter(col)
            self.columns[key] = f"='{NOTES_SHEET}'!${letter}$2:${letter}${len(items) + 1}"
        return self.columns[key]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _list_validation(lists: _ListSource, key: str, items: list[str], title: str, message: str,
                     error: str) -> dict[str, Any]:
    return {
        "validate": "list", "source": lists.source(key, items), "ignore_blank": True,
        "input_title": _clip(title, 32), "input_message": _clip(message, 255),
        "error_title": "输入值无效", "error_message": _clip(error, 255), "error_type": "stop",
    }


def _conditions_of(rules: Rules, field: FieldRule) -> list[tuple[str, str, str]]:
    """(clause, text, what is required) of the conditions that test a field."""
    from sdbatch.rules_report import OP_SYMBOLS

    out = []
    for c in rules.conditions:
        tests: list[tuple[str | None, float | None, Any]] = [
            (a.op, a.threshold, a.value) for a in c.any_of if a.field == field.id]
        if not c.any_of and c.field == field.id:
            tests = [(c.op, c.threshold, c.value)]
        for op, threshold, value in tests:
            need = severity_label(c.severity)
            if op in OP_SYMBOLS and threshold is not None:
                shown = int(threshold) if float(threshold).is_integer() else threshold
                need += f"，{OP_SYMBOLS[op]} {shown}{field.unit or ''}"
            elif op == "==" and isinstance(value, bool):
                yes, no = bool_choices(field)
                need += f"，应为“{yes if value else no}”"
            out.append((c.clause, c.text, need))
    return out


def _prompt(rules: Rules, field: FieldRule, hint: str) -> str:
    lines = []
    for clause, text, need in _conditions_of(rules, field):
        lines.append(f"{clause}（{need}）：{text}")
    if not lines and (field.required or field.clause):
        lines.append("：".join(x for x in (field.clause, "必填" if field.required else "") if x))
    if field.applies_to:
        lines.append(f"仅适用于：{'、'.join(field.applies_to)}")
    parts = [rules.fields[p].label for p in field.parts if p in rules.fields]
    if parts:
        lines.append(f"填写{'、'.join(parts)}的合计数")
    if field.derive:
        num = rules.label(field.derive.get("numerator"))
        den = rules.label(field.derive.get("denominator"))
        lines.append(f"可由“{num}”÷“{den}”计算，两者均填写时将相互核对")
    lines.append(hint)
    return "\n".join(lines)


def _field_validation(rules: Rules, field: FieldRule, lists: _ListSource) -> dict[str, Any] | None:
    title = _clip(header_text(field), 32)
    unit = f"，单位：{field.unit}" if field.unit else ""
    items = choice_list(rules, field)
    if items is not None:
        hint = f"{TYPE_HINTS[field.type]}：{'、'.join(items)}。" if len(items) <= 4 else f"{TYPE_HINTS[field.type]}。"
        return _list_validation(lists, field.choices or field.type, items, title, _prompt(rules, field, hint),
                                f"“{field.label}”请从下拉列表中选择。")
    if field.id == rules.role("order"):
        top = data_rows(rules)
        quota = _quota_sentence(rules)
        return {
            "validate": "integer", "criteria": "between", "minimum": 1, "maximum": top, "ignore_blank": True,
            "input_title": title,
            "input_message": _clip(f"填写本市推荐的先后次序（1～{top} 的整数）。{quota}", 255),
            "error_title": "输入值无效", "error_type": "stop",
            "error_message": _clip(f"推荐排序应为 1～{top} 的整数。{quota}", 255),
        }
    if field.type in NUMERIC_TYPES:
        integer = field.type in INTEGER_TYPES
        kind = "integer" if integer else "decimal"
        words = "不小于0的整数" if integer else "不小于0的数字"
        if field.type == "ratio":
            spec: dict[str, Any] = {"criteria": "between", "minimum": 0, "maximum": 100}
            words = "0～100 之间的数字（百分数的数值）"
        else:
            spec = {"criteria": ">=", "value": 0}
        return {
            "validate": kind, **spec, "ignore_blank": True,
            "input_title": title, "input_message": _clip(_prompt(rules, field, f"请填写{words}{unit}。"), 255),
            "error_title": "输入值无效", "error_type": "stop",
            "error_message": _clip(f"“{field.label}”应为{words}{unit}。", 255),
        }
    if field.type == "uscc":
        return {
            "validate": "length", "criteria": "==", "value": 18, "ignore_blank": True,
            "input_title": title, "input_message": _clip(_prompt(rules, field, TYPE_HINTS["uscc"] + "。"), 255),
            "error_title": "输入值无效", "error_type": "stop",
            "error_message": "统一社会信用代码应为18位（数字和大写字母）。",
        }
    # Free text: no restriction, only a prompt (where there is something to say).
    message = _prompt(rules, field, TYPE_HINTS.get(field.type, "") + "。")
    return {"validate": "any", "input_title": title, "input_message": _clip(message, 255)}


def _quota_formula(rules: Rules, fields: list[FieldRule], first_row: int) -> str | None:
    """推荐排序 at most the quota of the row's city (or of the city chosen above the table):
    =IF(OR(city="济南市",city="青岛市"),3,2) built from [quota] of the rules file."""
    city_col = next((i for i, f in enumerate(fields) if f.id == rules.role("city")), None)
    if city_col is None or rules.quota_default is None or not rules.quota_cities:
        return None
    ref = f"${column_letter(city_col)}{first_row + 1}"
    city = f'IF({ref}="",$A${TITLE_ROW + 1},{ref})'
    by_quota: dict[int, list[str]] = {}
    for name, n in rules.quota_cities.items():
        by_quota.setdefault(n, []).append(name)
    formula = str(rules.quota_default)
    for n, names in sorted(by_quota.items()):
        test = ",".join(f'{city}="{name}"' for name in names)
        formula = f"IF(OR({test}),{n},{formula})"
    return "=" + formula


def _quota_sentence(rules: Rules) -> str:
    if rules.quota_default is None and not rules.quota_cities:
        return ""
    groups: dict[int, list[str]] = {}
    for city, n in rules.quota_cities.items():
        groups.setdefault(n, []).append(city)
    parts = [f"{'、'.join(names)}最多推荐{n}个" for n, names in sorted(groups.items(), reverse=True)]
    if rules.quota_default is not None:
        parts.append(f"{'其他市' if rules.quota_cities else '每市'}最多推荐{rules.quota_default}个")
    clause = f"（{rules.quota_clause}）" if rules.quota_clause else ""
    return "，".join(parts) + f"{rules.entity}{clause}。"


def _fill_hint(rules: Rules, field: FieldRule) -> str:
    items = choice_list(rules, field)
    if items is not None:
        return "下拉选择：" + "、".join(items)
    if field.id == rules.role("order"):
        return f"整数 1～{data_rows(rules)}"
    if field.type == "ratio":
        return "数字 0～100（百分数的数值）"
    if field.type in INTEGER_TYPES:
        return "不小于0的整数"
    if field.type in NUMERIC_TYPES:
        return "不小于0的数字"
    return TYPE_HINTS.get(field.type, "")


def _write_notes(ws: Any, rules: Rules, fields: list[FieldRule], fmt: dict[str, Any], lists: _ListSource) -> None:
    ws.set_column(0, 0, 14)
    ws.set_column(1, 1, 60)
    ws.set_column(2, 3, 14)
    ws.set_column(4, 4, 30)
    row = 0
    ws.write(row, 0, f"{NOTES_SHEET}（{rules.notice} {rules.title}，规则版本 {rules.version}）", fmt["notes_title"])
    row += 2

    for i, text in enumerate(_instructions(rules, fields), start=1):
        ws.write(row, 0, f"{i}.", fmt["notes_text"])
        ws.write(row, 1, text, fmt["notes_text"])
        row += 1
    row += 1

    ws.write(row, 0, "申报条件（系统按以下条件审核）", fmt["notes_section"])
    row += 1
    for col, head in enumerate(("条款", "条件", "性质", "", "涉及栏目")):
        if head:
            ws.write(row, col, head, fmt["notes_head"])
    row += 1
    for c in rules.conditions:
        targets = [a.field for a in c.any_of] if c.any_of else [c.field]
        labels = "、".join(rules.label(t) for t in targets if t)
        ws.write(row, 0, c.clause, fmt["notes_cell"])
        ws.write(row, 1, c.text, fmt["notes_cell"])
        ws.write(row, 2, severity_label(c.severity), fmt["notes_cell"])
        ws.write(row, 4, labels, fmt["notes_cell"])
        row += 1
    legend = "性质：硬性＝不满足即不符合条件；原则上＝不满足需专家研判；可放宽＝放宽领域需专家研判，其他领域不符合条件；提示＝不影响审核结论。"
    ws.write(row, 1, legend, fmt["notes_text"])
    row += 1
    if rules.relaxable_industries:
        note = (f"放宽领域（{rules.relaxation_clause or ''}）：{'、'.join(rules.relaxable_industries)}。"
                f"{rules.wording.get('relax_note', '')}")
        ws.write(row, 1, note, fmt["notes_text"])
        row += 1
    row += 1

    if rules.expert_items:
        ws.write(row, 0, "专家评审事项（定性条件，系统不作自动判定，请在申报书中说明）", fmt["notes_section"])
        row += 1
        ws.write(row, 0, "条款", fmt["notes_head"])
        ws.write(row, 1, "内容", fmt["notes_head"])
        row += 1
        for item in rules.expert_items:
            ws.write(row, 0, str(item.get("clause", "")), fmt["notes_cell"])
            ws.write(row, 1, str(item.get("text", "")), fmt["notes_cell"])
            row += 1
        row += 1

    ws.write(row, 0, "栏目填写要求", fmt["notes_section"])
    row += 1
    for col, head in enumerate(("条款", "栏目", "填写方式", "必填")):
        ws.write(row, col, head, fmt["notes_head"])
    row += 1
    for f in fields:
        ws.write(row, 0, f.clause or "", fmt["notes_cell"])
        ws.write(row, 1, header_text(f), fmt["notes_cell"])
        ws.write(row, 2, _fill_hint(rules, f), fmt["notes_cell"])
        ws.write(row, 3, "是" if f.required else "", fmt["notes_cell"])
        row += 1
    del lists  # option columns (if any) were written while validating the data sheet


def _instructions(rules: Rules, fields: list[FieldRule]) -> Iterable[str]:
    yield (f"本表用于报送{rules.title}（{rules.notice}）的市级汇总信息。每行填写一个{rules.entity}，"
           "请勿修改表头、增删列或合并单元格；表头已保护，数据区域可直接填写。")
    yield "请在“汇总表”第1行左侧选择本市，在第2行填写填报单位；所在市、下拉选项及是/否、有/无栏目请从下拉列表中选择。"
    units = sorted({f.unit for f in fields if f.unit})
    if units:
        yield (f"数值按表头所示单位填写（{'、'.join(units)}），只填数字，不要填写单位、千分位或文字；"
               "比重填写百分数的数值（如 3.5 表示 3.5%）。")
    if any(f.id == rules.role("order") for f in fields):
        yield f"推荐排序填写本市推荐的先后次序（1、2、3…）。{_quota_sentence(rules)}超出名额的按推荐排序靠后者不予受理。"
    for f in fields:
        parts = [rules.fields[p].label for p in f.parts if p in rules.fields]
        if parts:
            yield f"“{f.label}”填写{'、'.join(parts)}的合计数。"
        if f.derive:
            num, den = rules.label(f.derive.get("numerator")), rules.label(f.derive.get("denominator"))
            yield f"“{f.label}”＝“{num}”÷“{den}”×100%；两者均填写时系统将相互核对。"
    if rules.deadline:
        d = rules.deadline
        clause = f"（{rules.deadline_clause}）" if rules.deadline_clause else ""
        yield f"请于{d.year}年{d.month}月{d.day}日前报送{clause}。"
    yield "填写完成后请保存为 .xlsx 格式，不要加密码。"
