"""The blank enterprise list of a round (``sdbatch template``): one row per firm, the list fields
of ``[evidence.fields]`` with their units, 是/否 lists, and a sheet saying which declared figure
each column recomputes.  A filled template is read back as a list (tests hold it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdbatch.catalogue import join, text, words
from sdbatch.evidence.spec import EvidenceSpec
from sdbatch.rules import FieldRule

DATA_ROWS = 500  # rows prepared with their validation (a list may run longer: Excel adds rows)


def template_name(spec: EvidenceSpec) -> str:
    return text("evidence.template.file", program=spec.rules.name, title=spec.title)


def columns(spec: EvidenceSpec) -> list[FieldRule]:
    """The roles first (firm, code, application, city), then the fields the figures use, in the
    order of the rules file; split columns (parts) are left to the total."""
    needed = spec.needed()
    parts = {p for f in spec.fields.values() for p in f.parts}
    order = [spec.roles[r] for r in ("firm", "uscc", "application", "city") if r in spec.roles]
    order += [fid for fid in spec.fields if fid in needed and fid not in order and fid not in parts]
    return [spec.fields[fid] for fid in order]


def header_text(field: FieldRule) -> str:
    return text("evidence.template.header_unit", label=field.label, unit=field.unit) if field.unit else field.label


def write_template(spec: EvidenceSpec, folder: Path) -> Path:
    import xlsxwriter

    from sdbatch.template import CREATED

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / template_name(spec)
    fields = columns(spec)
    wb = xlsxwriter.Workbook(str(target), {"strings_to_numbers": False, "strings_to_formulas": False})
    wb.set_properties({"title": spec.title, "subject": spec.rules.notice, "author": spec.rules.jurisdiction.department,
                       "created": CREATED})
    wb.set_custom_property("sdbatch_program", spec.rules.name)
    title = wb.add_format({"bold": True, "font_size": 14, "align": "center", "valign": "vcenter"})
    hint = wb.add_format({"italic": True, "font_color": "#595959"})
    head = wb.add_format({"bold": True, "text_wrap": True, "align": "center", "valign": "vcenter", "border": 1,
                          "bg_color": "#DDEBF7"})
    cell = wb.add_format({"border": 1, "locked": False})
    ws = wb.add_worksheet(text("evidence.template.sheet"))
    last = max(len(fields) - 1, 1)
    ws.merge_range(0, 0, 0, last, text("evidence.template.title", title=spec.title), title)
    ws.write(1, 0, text("evidence.template.hint", entity=spec.rules.entity), hint)
    ws.set_row(2, 36)
    yes_no = list(words("evidence.template.yes_no"))
    for col, f in enumerate(fields):
        ws.write(2, col, header_text(f), head)
        ws.set_column(col, col, max(12, min(40, len(header_text(f)) * 2)))
        for row in range(3, 3 + DATA_ROWS):
            ws.write_blank(row, col, None, cell)
        if f.type == "bool":
            ws.data_validation(3, col, 2 + DATA_ROWS, col, {"validate": "list", "source": yes_no})
        elif f.type in ("amount", "count", "int", "number"):
            ws.data_validation(3, col, 2 + DATA_ROWS, col, {
                "validate": "decimal", "criteria": ">=", "value": 0, "error_message": text("evidence.template.number")})
    ws.freeze_panes(3, 0)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(2)
    notes = wb.add_worksheet(text("evidence.template.notes_sheet"))
    notes.set_column(0, 0, 100)
    for r, line in enumerate(_instructions(spec)):
        notes.write(r, 0, line)
    wb.close()
    return target


def _instructions(spec: EvidenceSpec) -> list[str]:
    out = [text("evidence.template.intro", title=spec.title, entity=spec.rules.entity,
                clause=spec.table.request_clause or spec.table.clause)]
    for fig in spec.figures:
        used = [fid for fid in _fields_of(fig) if fid in spec.fields]
        out.append(text("evidence.template.figure", label=spec.rules.label(fig.field),
                        columns=join(spec.label(f) for f in used) or text("evidence.template.rows")))
    out.append(text("evidence.template.outro", clause=spec.table.clause))
    return out


def _fields_of(fig: Any) -> list[str]:
    out = [f for f in (fig.of, fig.per) if f]
    for flt in [*fig.where, *fig.base]:
        for test in (list(flt.any_of) or [flt]):
            if test.field and test.field not in out:
                out.append(test.field)
    return out
