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

Both sheets are print-ready (issue 14): A4, the data sheet at a readable scale or split into
blocks of columns with the order, city and name repeated, the 填表说明 on one or two portrait
pages (text wrapped in four columns, row heights set), title and page x/y in the page header and
footer.  Every word comes from ``ui.toml`` ``[template]`` or the rules file.

The output is deterministic (fixed document properties and created date; xlsxwriter already
stamps every zip member with a fixed date), so ``templates/xlsx/`` can be checked for drift.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sdbatch.catalogue import join, lookup, text
from sdbatch.model import column_letter
from sdbatch.rules import NUMERIC_TYPES, FieldRule, Rules, bundled, load
from sdbatch.writers import printing
from sdbatch.writers._common import NEUTRAL_FILL, answer_words, department

# Fixed so that two runs of the generator give the same file.
CREATED = dt.datetime(2024, 1, 1, 0, 0, 0)
TITLE_ROW, UNIT_ROW, HEADER_ROW, FIRST_DATA_ROW = 0, 1, 2, 3  # 0-based rows of the first sheet
ROWS_WITHOUT_QUOTA = 20  # data rows prepared when a round has no quota
INLINE_LIST_MAX = 255  # Excel's limit for a list written into the validation itself

INTEGER_TYPES = {"int", "count"}
TEXT_TYPES = {"text", "uscc", "phone", "email"}
# 填表说明: four columns that print on portrait A4 (clause or number; condition or field;
# nature or required; how to fill).
NOTES_WIDTHS = (12.0, 42.0, 8.0, 28.0)
HINT_ITEMS_MAX = 10  # a dropdown of more items is summarised by its count in 填表说明
DATA_ROW_HEIGHT = 20  # points: room to write by hand on a printed blank
NOTES_PAGES = 2  # 填表说明 prints on at most this many pages (while the scale stays readable)


def _t(key: str, /, **params: Any) -> str:
    return text(f"template.{key}", **params)


DATA_SHEET = _t("data_sheet")
NOTES_SHEET = _t("notes_sheet")


def type_hint(field_type: str) -> str:
    hints = lookup("template.type_hints")
    return str(hints.get(field_type, ""))


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
        raise ValueError(_t("one_program", output=output))
    written = []
    for rules in loaded:
        target = output if to_file else output / template_name(rules)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_template(rules, target)
        written.append(target)
    return written


def template_name(rules: Rules) -> str:
    return _t("file_name", program=rules.name)


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
    return _t("header_unit", label=field.label, unit=field.unit) if field.unit else field.label


def title_text(rules: Rules) -> str:
    """``山东省数字产业集群（首批）申报信息汇总表`` from the title ``山东省数字产业集群申报（首批）``."""
    return _t("title", title=rules.title.replace(_t("title_drop"), ""))


def data_rows(rules: Rules) -> int:
    quotas = [q for q in (rules.quota_default, *rules.quota_cities.values()) if q]
    return max(quotas) if quotas else ROWS_WITHOUT_QUOTA


def bool_choices(field: FieldRule) -> list[str]:
    """``有/无`` for a field asked as 有无…, ``是/否`` otherwise (SPEC §2.1)."""
    return list(answer_words(field))


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
    issuer = department([rules])
    wb.set_properties({
        "title": title_text(rules),
        "subject": rules.notice,
        "author": issuer,
        "company": issuer,
        "comments": _t("comments", program=rules.name, version=rules.version),
        "created": CREATED,
    })
    wb.set_custom_property("sdbatch_program", rules.name)
    wb.set_custom_property("sdbatch_rules_version", rules.version)
    fmt = _formats(wb)
    ws = wb.add_worksheet(DATA_SHEET)
    notes = wb.add_worksheet(NOTES_SHEET)
    lists = _ListSource(notes)
    last_col = len(fields) - 1

    widths = [_width(header_text(f), f) for f in fields]
    ids = [f.id for f in fields]
    name_field = rules.role("name")
    key = ids.index(name_field) + 1 if name_field in ids and ids.index(name_field) < 3 else 1
    layout = printing.plan(widths, key)

    # Row 1: the city to fill in, then the title over the first printed block, right of the
    # columns repeated on every block (so that no block shows a clipped piece of it).
    ws.set_row(TITLE_ROW, 36)
    ws.merge_range(TITLE_ROW, 0, TITLE_ROW, 1, "", fmt["city"])
    ws.data_validation(TITLE_ROW, 0, TITLE_ROW, 0, _list_validation(
        lists, "city", list(rules.jurisdiction.cities), _t("city_title"), _t("city_prompt"),
        _t("city_error", province=rules.jurisdiction.province, count=len(rules.jurisdiction.cities))))
    title_col = max(2, layout.repeat_columns) if layout.breaks else 2
    title_end = max(layout.breaks[0] - 1 if layout.breaks else last_col, title_col)
    if title_end > title_col:
        ws.merge_range(TITLE_ROW, title_col, TITLE_ROW, title_end, title_text(rules), fmt["title"])
    else:
        ws.write(TITLE_ROW, title_col, title_text(rules), fmt["title"])

    # Row 2: 填报单位.
    ws.write(UNIT_ROW, 0, _t("unit_label"), fmt["label"])
    ws.merge_range(UNIT_ROW, 1, UNIT_ROW, min(max(last_col, 3), 4), "", fmt["fill_line"])
    ws.write(UNIT_ROW, min(max(last_col, 3), 4) + 1, _t("read_notes", notes=NOTES_SHEET), fmt["hint"])

    # Row 3: header; rows 4…: data cells, unlocked, validated.
    first, last = FIRST_DATA_ROW, FIRST_DATA_ROW + rows - 1
    for col, f in enumerate(fields):
        ws.write(HEADER_ROW, col, header_text(f), fmt["header"])
        ws.set_column(col, col, widths[col])
        cell_fmt = fmt["int"] if f.type in INTEGER_TYPES else fmt["decimal"] if f.type in NUMERIC_TYPES \
            else fmt["text"] if f.type in TEXT_TYPES else fmt["cell"]
        for row in range(first, last + 1):
            ws.write_blank(row, col, None, cell_fmt)
        validation = _field_validation(rules, f, lists)
        if validation and f.id == rules.role("order"):
            validation["maximum"] = _quota_formula(rules, fields, first) or validation["maximum"]
        if validation:
            ws.data_validation(first, col, last, col, validation)
    ws.set_row(HEADER_ROW, printing.row_height(
        ((header_text(f), w) for f, w in zip(fields, widths, strict=True)), minimum=30))
    for row in range(first, last + 1):
        ws.set_row(row, DATA_ROW_HEIGHT)
    ws.freeze_panes(FIRST_DATA_ROW, 0)
    ws.protect("", {
        "select_locked_cells": True, "select_unlocked_cells": True, "format_columns": True,
        "format_rows": True, "insert_rows": True, "delete_rows": True, "sort": True, "autofilter": True,
    })
    _print(ws, rules, layout, last, last_col, (HEADER_ROW, HEADER_ROW))

    notes_last, notes_height = _write_notes(notes, rules, fields, fmt)
    notes_layout = printing.fit_pages(printing.plan(list(NOTES_WIDTHS)), notes_height, NOTES_PAGES)
    _print(notes, rules, notes_layout, notes_last, len(NOTES_WIDTHS) - 1, None)
    wb.close()
    return target


def _print(ws: Any, rules: Rules, layout: printing.PrintPlan, last_row: int, last_col: int,
           title_rows: tuple[int, int] | None) -> None:
    header, footer = printing.header_footer(title_text(rules), _t("page_version", version=rules.version),
                                            _t("page_footer"))
    printing.apply_xlsxwriter(ws, layout, last_row=last_row, last_col=last_col, title_rows=title_rows,
                              header=header, footer=footer)


def _formats(wb: Any) -> dict[str, Any]:
    base = {"font_name": _t("font"), "font_size": 11, "valign": "vcenter"}
    border = {"border": 1}

    def make(**kw: Any) -> Any:
        return wb.add_format({**base, **kw})

    return {
        "title": make(bold=True, font_size=16, align="left"),
        "city": make(bold=True, font_size=16, align="center", bottom=1, locked=False, bg_color="#" + NEUTRAL_FILL),
        "label": make(bold=True),
        "fill_line": make(bottom=1, locked=False, bg_color="#" + NEUTRAL_FILL),
        "hint": make(font_color="#7F7F7F"),
        "header": make(bold=True, align="center", text_wrap=True, bg_color="#" + NEUTRAL_FILL, **border),
        "cell": make(locked=False, text_wrap=True, **border),
        "text": make(locked=False, num_format="@", **border),
        "int": make(locked=False, num_format="0", **border),
        "decimal": make(locked=False, num_format="0.00", **border),
        "notes_title": make(bold=True, font_size=14, text_wrap=True, valign="top"),
        "notes_head": make(bold=True, bg_color="#" + NEUTRAL_FILL, text_wrap=True, **border),
        "notes_cell": make(text_wrap=True, valign="top", **border),
        "notes_text": make(text_wrap=True, valign="top"),
        "notes_section": make(bold=True, font_size=12),
    }


def _width(title: str, field: FieldRule) -> float:
    """A column wide enough for what is written in it (its type) and for its header on at most
    four lines."""
    wanted = {"uscc": 22, "text": 16, "email": 20, "phone": 14, "choice": 12, "city": 9}.get(field.type, 9)
    return float(max(wanted, printing.header_width(title, lines=4)))


class _ListSource:
    """Where a dropdown's items live: in the validation itself while they fit (Excel: 255
    characters), otherwise in a column of the 填表说明 sheet (right of its text, outside the
    print area)."""

    FIRST_COL = 8

    def __init__(self, sheet: Any) -> None:
        self.sheet = sheet
        self.columns: dict[str, str] = {}

    def source(self, key: str, items: list[str]) -> list[str] | str:
        if len(",".join(items)) <= INLINE_LIST_MAX:
            return items
        if key not in self.columns:
            col = self.FIRST_COL + len(self.columns)
            self.sheet.write(0, col, _t("options_head", key=key))
            for i, item in enumerate(items, start=1):
                self.sheet.write(i, col, item)
            letter = column_letter(col)
            self.columns[key] = f"='{NOTES_SHEET}'!${letter}$2:${letter}${len(items) + 1}"
        return self.columns[key]


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _list_validation(lists: _ListSource, key: str, items: list[str], title: str, message: str,
                     error: str) -> dict[str, Any]:
    return {
        "validate": "list", "source": lists.source(key, items), "ignore_blank": True,
        "input_title": _clip(title, 32), "input_message": _clip(message, 255),
        "error_title": _t("invalid"), "error_message": _clip(error, 255), "error_type": "stop",
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
                need = _t("need_threshold", nature=need, op=OP_SYMBOLS[op], value=shown, unit=field.unit or "")
            elif op == "==" and isinstance(value, bool):
                yes, no = bool_choices(field)
                need = _t("need_value", nature=need, value=yes if value else no)
            out.append((c.clause, c.text, need))
    return out


def _prompt(rules: Rules, field: FieldRule, hint: str) -> str:
    lines = []
    for clause, condition, need in _conditions_of(rules, field):
        lines.append(_t("prompt_condition", clause=clause, need=need, text=condition))
    if not lines and (field.required or field.clause):
        lines.append(text("punct.pair", label=field.clause, value=_t("required")) if field.clause and field.required
                     else field.clause or _t("required"))
    if field.applies_to:
        lines.append(_t("prompt_applies", types=join(field.applies_to)))
    parts = [rules.fields[p].label for p in field.parts if p in rules.fields]
    if parts:
        lines.append(_t("prompt_parts", parts=join(parts)))
    if field.derive:
        num = rules.label(field.derive.get("numerator"))
        den = rules.label(field.derive.get("denominator"))
        lines.append(_t("prompt_derive", numerator=num, denominator=den))
    lines.append(hint)
    return "\n".join(lines)


def _numeric_words(field: FieldRule) -> str:
    if field.type == "ratio":
        return _t("numbers.ratio")
    return _t("numbers.integer") if field.type in INTEGER_TYPES else _t("numbers.decimal")


def _field_validation(rules: Rules, field: FieldRule, lists: _ListSource) -> dict[str, Any] | None:
    title = _clip(header_text(field), 32)
    unit = _t("unit_suffix", unit=field.unit) if field.unit else ""
    items = choice_list(rules, field)
    if items is not None:
        shown = _t("hint_items", hint=type_hint(field.type), items=join(items)) if len(items) <= 4 \
            else _t("hint_end", hint=type_hint(field.type))
        return _list_validation(lists, field.choices or field.type, items, title, _prompt(rules, field, shown),
                                _t("choose_error", label=field.label))
    if field.id == rules.role("order"):
        top = data_rows(rules)
        quota = _quota_sentence(rules)
        return {
            "validate": "integer", "criteria": "between", "minimum": 1, "maximum": top, "ignore_blank": True,
            "input_title": title,
            "input_message": _clip(_t("order_prompt", top=top, quota=quota), 255),
            "error_title": _t("invalid"), "error_type": "stop",
            "error_message": _clip(_t("order_error", label=field.label, top=top, quota=quota), 255),
        }
    if field.type in NUMERIC_TYPES:
        kind = "integer" if field.type in INTEGER_TYPES else "decimal"
        numbers = _numeric_words(field)
        spec: dict[str, Any] = ({"criteria": "between", "minimum": 0, "maximum": 100} if field.type == "ratio"
                                else {"criteria": ">=", "value": 0})
        return {
            "validate": kind, **spec, "ignore_blank": True, "input_title": title,
            "input_message": _clip(_prompt(rules, field, _t("number_prompt", numbers=numbers, unit=unit)), 255),
            "error_title": _t("invalid"), "error_type": "stop",
            "error_message": _clip(_t("number_error", label=field.label, numbers=numbers, unit=unit), 255),
        }
    if field.type == "uscc":
        return {
            "validate": "length", "criteria": "==", "value": 18, "ignore_blank": True,
            "input_title": title,
            "input_message": _clip(_prompt(rules, field, _t("hint_end", hint=type_hint("uscc"))), 255),
            "error_title": _t("invalid"), "error_type": "stop",
            "error_message": _t("uscc_error", label=field.label),
        }
    # Free text: no restriction, only a prompt (where there is something to say).
    message = _prompt(rules, field, _t("hint_end", hint=type_hint(field.type)))
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
    parts = [_t("quota_part", cities=join(names), count=n) for n, names in sorted(groups.items(), reverse=True)]
    if rules.quota_default is not None:
        others = _t("quota_others") if rules.quota_cities else _t("quota_each")
        parts.append(_t("quota_part", cities=others, count=rules.quota_default))
    clause = _t("clause", clause=rules.quota_clause) if rules.quota_clause else ""
    return _t("quota_sentence", parts=_t("comma").join(parts), entity=rules.entity, clause=clause)


def _fill_hint(rules: Rules, field: FieldRule) -> str:
    items = choice_list(rules, field)
    if items is not None:
        return _t("fill.choose", items=join(items)) if len(items) <= HINT_ITEMS_MAX \
            else _t("fill.choose_count", count=len(items))
    if field.id == rules.role("order"):
        return _t("fill.order", top=data_rows(rules))
    if field.type in NUMERIC_TYPES:
        return _numeric_words(field)
    return type_hint(field.type)


class _Notes:
    """The 填表说明 sheet, written row by row in four print-width columns; each row's height is
    set from its wrapped text so that nothing prints over the next row."""

    def __init__(self, ws: Any, fmt: dict[str, Any]) -> None:
        self.ws = ws
        self.fmt = fmt
        self.row = 0
        self.height = 0.0  # points, all rows

    def _height(self, cells: list[tuple[str, float]], minimum: float = printing.LINE_HEIGHT_PT) -> None:
        height = printing.row_height(cells, minimum)
        self.ws.set_row(self.row, height)
        self.height += height

    def line(self, label: str, body: str, style: str = "notes_text") -> None:
        """A label in the first column, text over the other three."""
        if label:
            self.ws.write(self.row, 0, label, self.fmt[style])
        self.ws.merge_range(self.row, 1, self.row, 3, body, self.fmt[style])
        self._height([(body, sum(NOTES_WIDTHS[1:]))])
        self.row += 1

    def heading(self, value: str, style: str = "notes_section") -> None:
        self.ws.merge_range(self.row, 0, self.row, 3, value, self.fmt[style])
        self._height([(value, sum(NOTES_WIDTHS) * 0.6)], minimum=20)  # larger font: fewer characters a line
        self.row += 1

    def cells(self, values: list[str], style: str = "notes_cell", spans: tuple[int, ...] = (1, 1, 1, 1)) -> None:
        """One table row: ``spans`` says how many of the four columns each value covers."""
        col, wrapped = 0, []
        for value, span in zip(values, spans, strict=True):
            if span > 1:
                self.ws.merge_range(self.row, col, self.row, col + span - 1, value, self.fmt[style])
            else:
                self.ws.write(self.row, col, value, self.fmt[style])
            wrapped.append((value, sum(NOTES_WIDTHS[col:col + span])))
            col += span
        self._height(wrapped)
        self.row += 1

    def gap(self) -> None:
        self.ws.set_row(self.row, 8)
        self.height += 8
        self.row += 1


def _write_notes(ws: Any, rules: Rules, fields: list[FieldRule], fmt: dict[str, Any]) -> tuple[int, float]:
    """Write 填表说明; return its last row and its height in points."""
    for col, width in enumerate(NOTES_WIDTHS):
        ws.set_column(col, col, width)
    notes = _Notes(ws, fmt)
    notes.heading(_t("notes.title", notes=NOTES_SHEET, notice=rules.notice, title=rules.title, version=rules.version),
                  "notes_title")
    notes.gap()
    for i, line in enumerate(_instructions(rules, fields), start=1):
        notes.line(_t("notes.number", n=i), line)
    notes.gap()

    notes.heading(_t("notes.conditions"))
    notes.cells([_t("notes.head_clause"), _t("notes.head_condition"), _t("notes.head_nature")], "notes_head",
                spans=(1, 2, 1))
    for c in rules.conditions:
        notes.cells([c.clause, c.text, severity_label(c.severity)], spans=(1, 2, 1))
    notes.line("", _t("notes.natures"))
    if rules.relaxable_industries:
        notes.line("", _t("notes.relaxed", clause=rules.relaxation_clause or "",
                          industries=join(rules.relaxable_industries), note=rules.wording.get("relax_note", "")))
    notes.gap()

    if rules.expert_items:
        notes.heading(_t("notes.expert_items"))
        notes.cells([_t("notes.head_clause"), _t("notes.head_content")], "notes_head", spans=(1, 3))
        for item in rules.expert_items:
            notes.cells([str(item.get("clause", "")), str(item.get("text", ""))], spans=(1, 3))
        notes.gap()

    notes.heading(_t("notes.fields"))
    notes.cells([_t("notes.head_clause"), _t("notes.head_field"), _t("notes.head_required"),
                 _t("notes.head_how")], "notes_head")
    for f in fields:
        notes.cells([f.clause or "", header_text(f), text("values.yes") if f.required else "", _fill_hint(rules, f)])
    return notes.row - 1, notes.height


def _instructions(rules: Rules, fields: list[FieldRule]) -> Iterable[str]:
    yield _t("steps.purpose", title=rules.title, notice=rules.notice, entity=rules.entity)
    yield _t("steps.city", data=DATA_SHEET)
    units = sorted({f.unit for f in fields if f.unit})
    if units:
        yield _t("steps.units", units=join(units))
    if any(f.id == rules.role("order") for f in fields):
        yield _t("steps.order", quota=_quota_sentence(rules))
    for f in fields:
        parts = [rules.fields[p].label for p in f.parts if p in rules.fields]
        if parts:
            yield _t("steps.parts", label=f.label, parts=join(parts))
        if f.derive:
            num, den = rules.label(f.derive.get("numerator")), rules.label(f.derive.get("denominator"))
            yield _t("steps.derive", label=f.label, numerator=num, denominator=den)
    if rules.deadline:
        d = rules.deadline
        clause = _t("clause", clause=rules.deadline_clause) if rules.deadline_clause else ""
        yield _t("steps.deadline", year=d.year, month=d.month, day=d.day, clause=clause)
    yield _t("steps.save")
