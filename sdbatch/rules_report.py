"""``sdbatch rules list`` and ``sdbatch rules show``: the rules of a round as plain-text tables.

Staff trust a batch whose rules they can read (issue 6), so ``show`` prints every rule the batch
applies — fields and their roles, conditions with their thresholds, severities, clauses and
Chinese wording, choice lists, relaxable industries, quotas, deadline, score weights, expert items,
the jurisdiction and the program's own table — straight from the validated rules file. Columns are
aligned by display width (a Chinese character takes two columns).  The words are in
``[rules_show]`` of ``sdbatch/ui.toml``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sdbatch.catalogue import join, lookup, text
from sdbatch.rules import Condition, Rules, bundled, load

#: severity -> people's word (硬性, 原则上…), as the rules file's ``severity`` values
SEVERITY_LABELS: dict[str, str] = {str(k): str(v) for k, v in lookup("rules_show.severity").items()}
TYPE_LABELS: dict[str, str] = {str(k): str(v) for k, v in lookup("rules_show.types").items()}
OP_SYMBOLS = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}


def _t(key: str, **params: Any) -> str:
    return text(f"rules_show.{key}", **params)


# ----------------------------------------------------------------------------- text tables
def display_width(value: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in value)


def _pad(value: str, width: int) -> str:
    return value + " " * (width - display_width(value))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], indent: str = "  ") -> str:
    """A plain-text table; the last column is not padded (it holds the long wording)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [display_width(h) for h in headers]
    for row in cells:
        for i, v in enumerate(row):
            widths[i] = max(widths[i], display_width(v))

    def line(values: Sequence[str]) -> str:
        padded = [_pad(v, widths[i]) if i < len(values) - 1 else v for i, v in enumerate(values)]
        return (indent + "  ".join(padded)).rstrip()

    out = [line(list(headers)), indent + "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    return "\n".join(out)


def _headers(key: str) -> list[str]:
    return [str(h) for h in lookup(f"rules_show.headers.{key}")]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return text("values.yes") if value else text("values.no")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return join(_cell(v) for v in value)
    return str(value)


# ----------------------------------------------------------------------------- list
def list_text() -> str:
    rows = []
    for name, path in bundled().items():
        try:
            r = load(path)
        except Exception as exc:  # noqa: BLE001 - a broken bundled file is listed, not fatal
            rows.append((name, _t("list.broken", error=exc), "", "", _short(path)))
            continue
        rows.append((r.name, r.title, r.version, r.notice, _short(path)))
    if not rows:
        return _t("list.none")
    return _t("list.title") + "\n" + table(_headers("list"), rows) + "\n\n" + _t("list.hint")


def _short(path: Path | str) -> str:
    p = Path(path)
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


# ----------------------------------------------------------------------------- show
def show_text(name_or_path: str | Path) -> str:
    return rules_text(load(name_or_path))


def rules_text(rules: Rules) -> str:
    sections = [_program(rules), _fields(rules), _conditions(rules)]
    sections += [s for s in (_choices(rules), _relaxation(rules), _quota(rules), _deadline(rules),
                             _score(rules), _expert_items(rules), _report(rules), _section(rules),
                             _history(rules)) if s]
    return "\n\n".join(sections)


def _program(rules: Rules) -> str:
    j = rules.jurisdiction
    lines = [_t("program.title", title=rules.title, name=rules.name),
             _t("program.notice", notice=rules.notice), _t("program.version", version=rules.version),
             _t("program.entity", entity=rules.entity), _t("program.form", form=rules.form),
             _t("program.jurisdiction", province=j.province, department=j.department, count=len(j.cities)),
             _t("program.path", path=_short(rules.path))]
    if rules.module:
        lines.append(_t("program.module", module=rules.module))
    return "\n".join(lines)


def _fields(rules: Rules) -> str:
    parts_of = {p: f.id for f in rules.fields.values() for p in f.parts}
    role_of = {fid: role for role, fid in rules.roles.items()}
    rows = []
    for f in rules.fields.values():
        note = []
        if f.id in role_of:
            note.append(_t("fields.role", role=_t(f"roles.{role_of[f.id]}")))
        if f.id in parts_of:
            note.append(_t("fields.part_of", field=parts_of[f.id]))
        if f.parts:
            note.append(_t("fields.parts", parts=_t("fields.plus").join(f.parts)))
        if f.derive:
            note.append(_t("fields.derive", numerator=f.derive.get("numerator"),
                           denominator=f.derive.get("denominator")))
        if f.choices:
            note.append(_t("fields.choices", table=f.choices))
        if f.applies_to:
            note.append(_t("fields.applies_to", types=join(f.applies_to)))
        rows.append((f.id, f.label, TYPE_LABELS.get(f.type, f.type), f.unit or "",
                     text("values.yes") if f.required else "", f.clause or "", _t("fields.sep").join(note)))
    return _t("fields.title", count=len(rows)) + "\n" + table(_headers("fields"), rows)


def _op_text(rules: Rules, field: str | None, op: str | None, threshold: Any, value: Any) -> tuple[str, str]:
    """(运算和门槛, 单位) of one test."""
    f = rules.fields.get(field or "")
    unit = (f.unit or "") if f else ""
    if op in OP_SYMBOLS:
        return f"{OP_SYMBOLS[op]} {_cell(threshold)}", unit
    if op == "==":
        if isinstance(value, bool) and f is not None and f.label.startswith(_t("ops.have_prefix")):
            return _t("ops.equals", value=_t("ops.have") if value else _t("ops.have_not")), ""
        return _t("ops.equals", value=_cell(value)), ""
    if op in ("present", "valid"):
        return _t(f"ops.{op}"), ""
    if op == "in_scope":
        return _t("ops.in_scope", table=f.choices if f and f.choices else _t("ops.choices")), ""
    return str(op or ""), unit


def condition_rows(rules: Rules, c: Condition) -> list[tuple[Any, ...]]:
    severity = SEVERITY_LABELS.get(c.severity, c.severity)
    applies = _t("conditions.only", types=join(c.applies_to)) if c.applies_to else ""
    if not c.any_of:
        test, unit = _op_text(rules, c.field, c.op, c.threshold, c.value)
        return [(c.id, c.field or "", test, unit, severity, c.clause, c.text + applies)]
    rows: list[tuple[Any, ...]] = []
    for i, alt in enumerate(c.any_of):
        test, unit = _op_text(rules, alt.field, alt.op, alt.threshold, alt.value)
        if i == 0:
            rows.append((c.id, alt.field, test, unit, severity, c.clause, c.text + applies))
        else:
            rows.append(("", _t("conditions.or", field=alt.field), test, unit, "", "", ""))
    return rows


def _conditions(rules: Rules) -> str:
    rows = [row for c in rules.conditions for row in condition_rows(rules, c)]
    return (_t("conditions.title", count=len(rules.conditions)) + "\n"
            + table(_headers("conditions"), rows) + "\n  " + _t("conditions.legend"))


def _choices(rules: Rules) -> str:
    out = []
    for name, ch in rules.choices.items():
        clause = _t("clause", clause=ch.clause) if ch.clause else ""
        rows = [(a, join(ch.variants.get(a, ()))) for a in ch.allowed]
        out.append(_t("choices.title", name=name, clause=clause) + "\n" + table(_headers("choices"), rows))
    return "\n\n".join(out)


def _relaxation(rules: Rules) -> str:
    relax = rules.relaxation
    if relax is None:
        return ""
    clause = _t("clause", clause=relax.clause) if relax.clause else ""
    lines = []
    if relax.industries:
        lines.append(_t("relaxation.industries", clause=clause, industries=join(relax.industries)))
    if relax.field:
        lines.append(_t("relaxation.field", clause=clause, label=rules.label(relax.field)))
    if relax.remarks_field:
        lines.append(_t("relaxation.remarks", label=rules.label(relax.remarks_field),
                        words=join(relax.remarks_words)))
    if rules.wording.get("relax_note") and lines:
        lines.append(f"  {rules.wording['relax_note']}")
    return "\n".join(lines)


def _quota(rules: Rules) -> str:
    if rules.quota_default is None and not rules.quota_cities:
        return ""
    clause = _t("clause", clause=rules.quota_clause) if rules.quota_clause else ""
    rows: list[tuple[Any, ...]] = [(city, n) for city, n in rules.quota_cities.items()]
    if rules.quota_default is not None:
        rows.append((_t("quota.others") if rules.quota_cities else _t("quota.each"), rules.quota_default))
    return _t("quota.title", clause=clause) + "\n" + table(_headers("quota"), rows)


def _deadline(rules: Rules) -> str:
    if not rules.deadline:
        return ""
    d = rules.deadline
    clause = _t("clause", clause=rules.deadline_clause) if rules.deadline_clause else ""
    return _t("deadline", year=d.year, month=d.month, day=d.day, clause=clause)


def _score(rules: Rules) -> str:
    spec = rules.spec.score if rules.spec is not None else None
    if spec is None:
        return ""
    out = [_t("score.title")]
    if spec.indicators:
        rows = [(ind.field, rules.label(ind.field), ind.weight, ind.ref) for ind in spec.indicators]
        out.append(table(_headers("score"), rows))
    out.append("  " + _t("score.cap", cap=_cell(spec.cap)))
    if spec.tie_break:
        out.append("  " + _t("score.tie_break", fields=join(spec.tie_break)))
    return "\n".join(out)


def _expert_items(rules: Rules) -> str:
    if not rules.expert_items:
        return ""
    rows = [(item.get("clause", ""), item.get("text", "")) for item in rules.expert_items]
    return _t("expert_items") + "\n" + table(_headers("expert_items"), rows)


def _report(rules: Rules) -> str:
    keys = rules.report.get("key_fields") or []
    if not keys:
        return ""
    return _t("report", fields=join(_t("report_item", field=fid, label=rules.label(fid)) for fid in keys))


def _section(rules: Rules) -> str:
    """The program's own table (e.g. [park]) as validated, defaults included; a list of tables
    (tiers, indicators) as a text table."""
    section = getattr(rules.section, "model_dump", None)
    from sdbatch.programs import program_for

    name = type(program_for(rules)).section
    if not name or rules.section is None:
        return ""
    value = section() if callable(section) else rules.section
    return _t("section", name=name) + "\n" + "\n".join(_flatten(value))


def _history(rules: Rules) -> str:
    """``[history]``: what the rules do across rounds (bans, evaluation, upgrades, year-over-year)."""
    if rules.history is None:
        return ""
    return _t("history") + "\n" + "\n".join(_flatten(rules.history))


def _flatten(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        lines = []
        for k, v in value.items():
            lines += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return lines
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        keys: list[str] = []
        for item in value:
            keys += [k for k in item if k not in keys]
        rows = [tuple(_plain(item.get(k, "")) for k in keys) for item in value]
        return [f"  {prefix}:"] + [f"  {line}" for line in table(keys, rows).splitlines()]
    return [f"  {prefix} = {_plain(value)}".rstrip()]


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_plain(v)}" for k, v in value.items()) + "}"
    return _cell(value)
