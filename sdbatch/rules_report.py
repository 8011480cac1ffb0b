"""``sdbatch rules list`` and ``sdbatch rules show``: the rules of a round as plain-text tables.

Staff trust a batch whose rules they can read (issue 6), so ``show`` prints every rule the batch
applies — fields, conditions with their thresholds, severities, clauses and Chinese wording,
relaxable industries, quotas, deadline, score weights and expert items — straight from the
rules file. Columns are aligned by display width (a Chinese character takes two columns).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sdbatch.rules import Condition, Rules, bundled, load

SEVERITY_LABELS = {"hard": "硬性", "soft": "原则上", "relaxable": "可放宽", "warning": "提示"}
TYPE_LABELS = {
    "int": "整数", "count": "数量", "amount": "金额", "ratio": "比重", "number": "数值", "bool": "是/否",
    "text": "文字", "city": "城市", "choice": "选项", "uscc": "信用代码", "phone": "电话", "email": "邮箱",
    "date": "日期",
}
OP_SYMBOLS = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}
SHOWN_TOP = {"program", "deadline", "quota", "relaxation", "wording", "industries", "park_types", "fields",
             "conditions", "expert_items", "score", "report", "choices"}


# ----------------------------------------------------------------------------- text tables
def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


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


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return "、".join(_cell(v) for v in value)
    return str(value)


# ----------------------------------------------------------------------------- list
def list_text() -> str:
    rows = []
    for name, path in bundled().items():
        try:
            r = load(path)
        except Exception as exc:  # noqa: BLE001 - a broken bundled file is listed, not fatal
            rows.append((name, f"（无法加载：{exc}）", "", "", _short(path)))
            continue
        rows.append((r.name, r.title, r.version, r.notice, _short(path)))
    if not rows:
        return "没有内置的规则文件。"
    return "内置规则文件：\n" + table(("名称", "标题", "版本", "文件依据", "规则文件"), rows) + (
        "\n\n查看某一批次的全部规则：sdbatch rules show 名称")


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
                             _score(rules), _expert_items(rules), _other(rules)) if s]
    return "\n\n".join(sections)


def _program(rules: Rules) -> str:
    lines = [f"{rules.title}（{rules.name}）", f"  文件依据：{rules.notice}", f"  规则版本：{rules.version}",
             f"  申报对象：{rules.entity}", f"  规则文件：{_short(rules.path)}"]
    return "\n".join(lines)


def _fields(rules: Rules) -> str:
    parts_of = {p: f.id for f in rules.fields.values() for p in f.parts}
    rows = []
    for f in rules.fields.values():
        note = []
        if f.id in parts_of:
            note.append(f"计入 {parts_of[f.id]}")
        if f.parts:
            note.append("＝" + "＋".join(f.parts))
        if f.derive:
            note.append(f"可由 {f.derive.get('numerator')}÷{f.derive.get('denominator')} 推算")
        if f.choices:
            note.append(f"选项见 [{f.choices}]")
        if f.applies_to:
            note.append("仅适用于 " + "、".join(f.applies_to))
        rows.append((f.id, f.label, TYPE_LABELS.get(f.type, f.type), f.unit or "", "是" if f.required else "",
                     f.clause or "", "；".join(note)))
    return f"字段（{len(rows)}）\n" + table(("字段", "名称", "类型", "单位", "必填", "条款", "说明"), rows)


def _op_text(rules: Rules, field: str | None, op: str | None, threshold: Any, value: Any) -> tuple[str, str]:
    """(运算和门槛, 单位) of one test."""
    f = rules.fields.get(field or "")
    unit = (f.unit or "") if f else ""
    if op in OP_SYMBOLS:
        return f"{OP_SYMBOLS[op]} {_cell(threshold)}", unit
    if op == "==":
        if isinstance(value, bool) and f is not None and f.label.startswith("有无"):
            return f"＝ {'有' if value else '无'}", ""
        return f"＝ {_cell(value)}", ""
    if op == "present":
        return "应填写", ""
    if op == "valid":
        return "格式有效", ""
    if op == "in_scope":
        table_name = f.choices if f and f.choices else "选项"
        return f"属于 [{table_name}] 范围", ""
    return str(op or ""), unit


def condition_rows(rules: Rules, c: Condition) -> list[tuple[Any, ...]]:
    severity = SEVERITY_LABELS.get(c.severity, c.severity)
    applies = f"（仅{'、'.join(c.applies_to)}）" if c.applies_to else ""
    if not c.any_of:
        test, unit = _op_text(rules, c.field, c.op, c.threshold, c.value)
        return [(c.id, c.field or "", test, unit, severity, c.clause, c.text + applies)]
    rows: list[tuple[Any, ...]] = []
    for i, alt in enumerate(c.any_of):
        test, unit = _op_text(rules, alt.field, alt.op, alt.threshold, alt.value)
        if i == 0:
            rows.append((c.id, alt.field, test, unit, severity, c.clause, c.text + applies))
        else:
            rows.append(("", f"或 {alt.field}", test, unit, "", "", ""))
    return rows


def _conditions(rules: Rules) -> str:
    rows = [row for c in rules.conditions for row in condition_rows(rules, c)]
    legend = ("  性质：硬性＝不满足即不符合条件；原则上＝不满足需专家研判；"
              "可放宽＝放宽领域需专家研判，其他领域不符合条件；提示＝不影响结论。")
    return (f"审核条件（{len(rules.conditions)}）\n"
            + table(("编号", "字段", "运算和门槛", "单位", "性质", "条款", "表述"), rows) + "\n" + legend)


def _choices(rules: Rules) -> str:
    out = []
    titles = {"industries": "可选产业", "park_types": "园区类型"}
    for name, ch in rules.choices.items():
        clause = f"（{ch.clause}）" if ch.clause else ""
        rows = [(a, "、".join(ch.variants.get(a, ()))) for a in ch.allowed]
        out.append(f"{titles.get(name, name)} [{name}]{clause}\n" + table(("名称", "也接受的写法"), rows))
    return "\n\n".join(out)


def _relaxation(rules: Rules) -> str:
    if not rules.relaxable_industries:
        return ""
    clause = f"（{rules.relaxation_clause}）" if rules.relaxation_clause else ""
    lines = [f"可放宽的领域{clause}：{'、'.join(rules.relaxable_industries)}"]
    if rules.wording.get("relax_note"):
        lines.append(f"  {rules.wording['relax_note']}")
    return "\n".join(lines)


def _quota(rules: Rules) -> str:
    if rules.quota_default is None and not rules.quota_cities:
        return ""
    clause = f"（{rules.quota_clause}）" if rules.quota_clause else ""
    rows = [(city, n) for city, n in rules.quota_cities.items()]
    if rules.quota_default is not None:
        rows.append(("其他市" if rules.quota_cities else "每市", rules.quota_default))
    return f"推荐名额{clause}\n" + table(("城市", "最多推荐数"), rows)


def _deadline(rules: Rules) -> str:
    if not rules.deadline:
        return ""
    d = rules.deadline
    clause = f"（{rules.deadline_clause}）" if rules.deadline_clause else ""
    return f"报送截止：{d.year}年{d.month}月{d.day}日{clause}（逾期报送的文件会被标注，不会被丢弃）"


def _score(rules: Rules) -> str:
    score = rules.score
    if not score:
        return ""
    out = ["评分权重"]
    indicators = score.get("indicators")
    if isinstance(indicators, list) and indicators and all(isinstance(i, dict) for i in indicators):
        keys: list[str] = []
        for ind in indicators:
            keys += [k for k in ind if k not in keys]
        headers = [{"field": "字段", "weight": "权重", "ref": "参照值"}.get(k, k) for k in keys]
        rows = []
        for ind in indicators:
            rows.append(tuple(ind.get(k, "") for k in keys))
        if "field" in keys:
            headers.insert(keys.index("field") + 1, "名称")
            at = keys.index("field") + 1
            rows = [r[:at] + (rules.label(str(r[at - 1])),) + r[at:] for r in rows]
        out.append(table(headers, rows))
    for key, value in score.items():
        if key == "indicators":
            continue
        label = {"cap": "封顶倍数", "tie_break": "同分依次比较"}.get(key, key)
        out.append(f"  {label}：{_plain(value)}")
    return "\n".join(out)


def _expert_items(rules: Rules) -> str:
    if not rules.expert_items:
        return ""
    rows = [(item.get("clause", ""), item.get("text", "")) for item in rules.expert_items]
    return "专家评审事项（定性条件，不作自动判定）\n" + table(("条款", "内容"), rows)


def _other(rules: Rules) -> str:
    """Tables the report does not know (a program's own settings, e.g. [park]) shown as they are;
    a list of tables (e.g. tiers, indicators) as a text table."""
    blocks = []
    for key, value in rules.raw.items():
        if key not in SHOWN_TOP:
            blocks.append(f"其他设置 [{key}]\n" + "\n".join(_flatten(value)))
    if rules.report:
        blocks.append("其他设置 [report]\n" + "\n".join(_flatten(rules.report)))
    return "\n\n".join(blocks)


def _flatten(value: Any, prefix: str = "") -> list[str]:
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
        return [f"  {prefix or '值'}："] + [f"  {line}" for line in table(keys, rows).splitlines()]
    return [f"  {prefix or '值'} = {_plain(value)}".rstrip()]


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_plain(v)}" for k, v in value.items()) + "}"
    return _cell(value)
