"""Load and validate the rules file of a program round (SPEC §4).

A rules file is TOML. Problems are collected, each with its place in the file, and raised
together as :class:`RulesInvalid`, so that ``sdbatch rules check`` can list them all.
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from dataclasses import dataclass
from dataclasses import field as dc_field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from sdbatch.model import RulesInvalid

FIELD_TYPES = {"int", "count", "amount", "ratio", "number", "bool", "text", "city", "choice", "uscc",
               "phone", "email", "date"}
SEVERITIES = {"hard", "soft", "relaxable", "warning"}
OPS = {">=", ">", "<=", "<", "==", "present", "valid", "in_scope"}
NUMERIC_TYPES = {"int", "count", "amount", "ratio", "number"}
# Keys of the tables whose schema this loader owns; anything else is a typo (issue 6: unknown keys).
PROGRAM_KEYS = {"name", "kind", "title", "notice", "version", "entity", "list_title", "detect_fields", "type_field",
                "group_field"}
QUOTA_KEYS = {"clause", "default", "cities"}
DEADLINE_KEYS = {"date", "clause"}
CHOICES_KEYS = {"clause", "allowed", "variants"}
ALTERNATIVE_KEYS = {"field", "op", "threshold", "value"}
EXPERT_ITEM_KEYS = {"clause", "text"}
KNOWN_TOP = {"program", "deadline", "quota", "relaxation", "wording", "industries", "fields",
             "conditions", "expert_items", "score", "report", "park", "park_types", "choices"}


@dataclass(frozen=True, eq=False)  # identity equality: a FieldRule can key caches
class FieldRule:
    id: str
    label: str
    type: str
    unit: str | None = None
    aliases: tuple[str, ...] = ()
    keywords: tuple[tuple[str, ...], ...] = ()
    exclude: tuple[str, ...] = ()
    required: bool = False
    clause: str | None = None
    parts: tuple[str, ...] = ()
    derive: dict[str, str] | None = None
    choices: str | None = None
    applies_to: tuple[str, ...] = ()  # park types a field applies to (empty: all)
    plausible_max: float | None = None  # above this (in the field's unit) a value is queried


@dataclass(frozen=True)
class Alternative:
    field: str
    op: str
    threshold: float | None = None
    value: Any = None


@dataclass(frozen=True)
class Condition:
    id: str
    severity: str
    clause: str
    text: str
    field: str | None = None
    op: str | None = None
    threshold: float | None = None
    value: Any = None
    any_of: tuple[Alternative, ...] = ()
    applies_to: tuple[str, ...] = ()  # e.g. park types; empty: every application
    fix: str | None = None


@dataclass(frozen=True)
class Choices:
    name: str
    clause: str | None
    allowed: tuple[str, ...]
    variants: dict[str, tuple[str, ...]]


@dataclass(frozen=True, eq=False)  # identity equality: a Rules object can key caches
class Rules:
    name: str
    kind: str
    title: str
    version: str
    notice: str
    entity: str
    list_title: str
    path: str
    fields: dict[str, FieldRule]
    conditions: tuple[Condition, ...]
    expert_items: tuple[dict[str, str], ...]
    choices: dict[str, Choices]
    quota_default: int | None
    quota_cities: dict[str, int]
    quota_clause: str | None
    deadline: dt.date | None
    deadline_clause: str | None
    relaxable_industries: tuple[str, ...]
    relaxation_clause: str | None
    wording: dict[str, str]
    score: dict[str, Any]
    report: dict[str, Any]
    detect_fields: tuple[str, ...]
    raw: dict[str, Any] = dc_field(repr=False, default_factory=dict)

    @functools.cached_property
    def needed_fields(self) -> frozenset[str]:
        """Fields some check needs (conditions, required), with the fields they derive from."""
        needed = {f.id for f in self.fields.values() if f.required}
        for cond in self.conditions:
            needed.update([cond.field] if cond.field else [a.field for a in cond.any_of])
        for fid in list(needed):
            f = self.fields.get(fid)
            if f is not None:
                needed.update(f.parts)
                if f.derive:
                    needed.update((f.derive["numerator"], f.derive["denominator"]))
        return frozenset(needed)

    @property
    def group_field(self) -> str:
        """The field applications are grouped and ranked by within the province list (industry)."""
        return str(self.raw.get("program", {}).get("group_field", "industry"))

    @property
    def type_field(self) -> str | None:
        """The field holding an application's type, matched by conditions' ``applies_to``."""
        value = self.raw.get("program", {}).get("type_field")
        return str(value) if value else None

    def quota_for(self, city: str) -> int | None:
        return self.quota_cities.get(city, self.quota_default)

    def label(self, field_id: str | None) -> str:
        if field_id and field_id in self.fields:
            return self.fields[field_id].label
        return field_id or ""


def _unknown_keys(table: Any, known: set[str], where: str, problems: list[str]) -> None:
    if not isinstance(table, dict):
        return
    for key in sorted(set(table) - known):
        problems.append(f"{where}: 未知的键“{key}”（可用：{', '.join(sorted(known))}）")


def _shape(raw: dict[str, Any], problems: list[str]) -> None:
    """Tables written with the wrong brackets (``[conditions]`` for ``[[conditions]]``…)."""
    for key in ("program", "deadline", "quota", "relaxation", "wording", "industries", "park_types", "fields",
                "score", "report"):
        if key in raw and not isinstance(raw[key], dict):
            problems.append(f"[{key}]: 应为一个表（写作 [{key}]）")
    for key in ("conditions", "expert_items"):
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            problems.append(f"[[{key}]]: 应为表的数组（每一条写作 [[{key}]]）")


@cache
def shandong() -> dict[str, Any]:
    raw = resources.files("sdbatch").joinpath("shandong.toml").read_text(encoding="utf-8")
    return tomllib.loads(raw)


def cities() -> list[str]:
    return list(shandong()["cities"])


def bundled() -> dict[str, Path]:
    """Name -> path of every rules file shipped in the package."""
    folder = resources.files("sdbatch").joinpath("programs")
    out = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".toml") and not entry.name.startswith("_"):
            out[entry.name[:-5]] = Path(str(entry))
    return dict(sorted(out.items()))


def load(name_or_path: str | Path) -> Rules:
    """Load a bundled program by name (``cluster_2024``) or a rules file by path."""
    path = Path(name_or_path)
    if not path.suffix and str(name_or_path) in bundled():
        return _load_bundled(str(name_or_path))  # shipped files do not change while we run
    return _load(path, name_or_path)


@cache
def _load_bundled(name: str) -> Rules:
    return _load(bundled()[name], name)


def _load(path: Path, name_or_path: str | Path) -> Rules:
    if not path.suffix:
        programs = bundled()
        if str(name_or_path) not in programs:
            raise RulesInvalid([f"没有名为“{name_or_path}”的规则文件；可用：{', '.join(programs)}"], str(name_or_path))
        path = programs[str(name_or_path)]
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesInvalid([f"无法读取规则文件：{exc.strerror or exc}"], str(path)) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesInvalid([f"TOML 语法错误：{exc}"], str(path)) from None
    return from_dict(raw, str(path))


def from_dict(raw: dict[str, Any], path: str = "<rules>") -> Rules:
    problems: list[str] = []

    def need(table: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...] = str) -> Any:
        if key not in table:
            problems.append(f"{where}: 缺少“{key}”")
            return None
        value = table[key]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            problems.append(f"{where}.{key}: 类型不对（{type(value).__name__}）")
            return None
        return value

    for key in raw:
        if key not in KNOWN_TOP:
            problems.append(f"顶层: 未知的表“[{key}]”（可用：{', '.join(sorted(KNOWN_TOP))}）")

    program = raw.get("program", {})
    if not isinstance(program, dict):
        raise RulesInvalid(["[program] 必须是一个表"], path)
    _shape(raw, problems)
    if problems:  # tables of the wrong shape: say so before reading them
        raise RulesInvalid(problems, path)
    _unknown_keys(program, PROGRAM_KEYS, "[program]", problems)
    _unknown_keys(raw.get("quota") or {}, QUOTA_KEYS, "[quota]", problems)
    _unknown_keys(raw.get("deadline") or {}, DEADLINE_KEYS, "[deadline]", problems)
    name = need(program, "name", "[program]")
    kind = need(program, "kind", "[program]")
    title = need(program, "title", "[program]")
    version = need(program, "version", "[program]")

    # -------------------------------------------------------------- choices (industries, park types…)
    choices: dict[str, Choices] = {}
    for cname in ("industries", "park_types"):
        table = raw.get(cname)
        if table is None:
            continue
        _unknown_keys(table, CHOICES_KEYS, f"[{cname}]", problems)
        allowed = table.get("allowed")
        if not isinstance(allowed, list) or not allowed or not all(isinstance(a, str) for a in allowed):
            problems.append(f"[{cname}].allowed: 应为非空的文字列表")
            continue
        variants: dict[str, tuple[str, ...]] = {}
        for canon, forms in (table.get("variants") or {}).items():
            if canon not in allowed:
                problems.append(f"[{cname}.variants].{canon}: 不在 allowed 中")
            variants[canon] = tuple(str(f) for f in forms)
        choices[cname] = Choices(cname, table.get("clause"), tuple(allowed), variants)

    # -------------------------------------------------------------- fields
    fields: dict[str, FieldRule] = {}
    for fid, spec in (raw.get("fields") or {}).items():
        where = f"[fields.{fid}]"
        if not isinstance(spec, dict):
            problems.append(f"{where}: 必须是一个表")
            continue
        ftype = spec.get("type")
        if ftype not in FIELD_TYPES:
            problems.append(f"{where}.type: “{ftype}”不是可用类型（{', '.join(sorted(FIELD_TYPES))}）")
            continue
        if "label" not in spec:
            problems.append(f"{where}: 缺少“label”")
        unknown = set(spec) - {"label", "type", "unit", "aliases", "keywords", "exclude", "required", "clause",
                               "parts", "derive", "choices", "applies_to", "plausible_max"}
        for key in sorted(unknown):
            problems.append(f"{where}: 未知的键“{key}”")
        if ftype == "choice" and spec.get("choices") not in choices:
            problems.append(f"{where}.choices: 应指向 [industries] 或 [park_types] 等已定义的选项表")
        if ftype == "amount" and spec.get("unit") not in ("亿元", "万元", "元"):
            problems.append(f"{where}.unit: 金额单位应为 亿元、万元 或 元")
        if ftype == "ratio" and spec.get("unit", "%") != "%":
            problems.append(f"{where}.unit: 比重单位应为 %")
        fields[fid] = FieldRule(
            id=fid,
            label=str(spec.get("label", fid)),
            type=ftype,
            unit=spec.get("unit"),
            aliases=tuple(spec.get("aliases", ())),
            keywords=tuple(tuple(group) for group in spec.get("keywords", ())),
            exclude=tuple(spec.get("exclude", ())),
            required=bool(spec.get("required", False)),
            clause=spec.get("clause"),
            parts=tuple(spec.get("parts", ())),
            derive=spec.get("derive"),
            choices=spec.get("choices"),
            applies_to=tuple(spec.get("applies_to", ())),
            plausible_max=spec.get("plausible_max"),
        )
    if not fields:
        problems.append("[fields]: 至少需要定义一个字段")
    for f in fields.values():
        for part in f.parts:
            if part not in fields:
                problems.append(f"[fields.{f.id}].parts: 字段“{part}”未定义")
        if f.derive:
            for key in ("numerator", "denominator"):
                if f.derive.get(key) not in fields:
                    problems.append(f"[fields.{f.id}].derive.{key}: 字段“{f.derive.get(key)}”未定义")

    # -------------------------------------------------------------- conditions
    conditions: list[Condition] = []
    seen_ids: set[str] = set()
    for i, spec in enumerate(raw.get("conditions") or []):
        where = f"[[conditions]] 第{i + 1}条（{spec.get('id', '?')}）"
        cid = spec.get("id")
        if not cid:
            problems.append(f"{where}: 缺少“id”")
        elif cid in seen_ids:
            problems.append(f"{where}: id 重复")
        seen_ids.add(cid or "")
        if not spec.get("clause"):
            problems.append(f"{where}: 缺少条款引用“clause”（如 \"三(二)\"）")
        if not spec.get("text"):
            problems.append(f"{where}: 缺少中文表述“text”")
        severity = spec.get("severity")
        if severity not in SEVERITIES:
            problems.append(f"{where}.severity: “{severity}”应为 {', '.join(sorted(SEVERITIES))} 之一")
        unknown = set(spec) - {"id", "field", "op", "threshold", "value", "severity", "clause", "text", "any_of",
                               "applies_to", "fix"}
        for key in sorted(unknown):
            problems.append(f"{where}: 未知的键“{key}”")
        alternatives = []
        targets = spec.get("any_of") or [spec]
        if not spec.get("any_of") and "field" not in spec:
            problems.append(f"{where}: 缺少“field”（或用 any_of 列出几个可选条件）")
            targets = []
        for j, alt in enumerate(targets):
            if spec.get("any_of"):
                if not isinstance(alt, dict):
                    problems.append(f"{where}.any_of 第{j + 1}项: 应为 {{ field = …, op = …, threshold = … }}")
                    continue
                _unknown_keys(alt, ALTERNATIVE_KEYS, f"{where}.any_of 第{j + 1}项", problems)
            fid, op = alt.get("field"), alt.get("op")
            if fid not in fields:
                problems.append(f"{where}: 字段“{fid}”未在 [fields] 中定义")
                continue
            if op not in OPS:
                problems.append(f"{where}: 运算“{op}”应为 {', '.join(sorted(OPS))} 之一")
                continue
            if op in (">=", ">", "<=", "<"):
                thr = alt.get("threshold")
                if not isinstance(thr, (int, float)) or isinstance(thr, bool):
                    problems.append(f"{where}: “{fid}”的门槛 threshold 应为数字")
                elif fields[fid].type not in NUMERIC_TYPES:
                    problems.append(f"{where}: “{fid}”不是数值字段，不能比较大小")
                elif thr < 0:
                    problems.append(f"{where}: 门槛 {thr} 不可能（不应为负）")
                elif fields[fid].type == "ratio" and thr > 100:
                    problems.append(f"{where}: 比重门槛 {thr}% 超过100%，不可能达到")
                elif op == "<" and thr == 0:
                    problems.append(f"{where}: 门槛“< 0”不可能达到（数值不应为负）")
                elif fields[fid].type == "ratio" and op == ">" and thr >= 100:
                    problems.append(f"{where}: 比重门槛“> {thr}%”不可能达到")
            if op == "==" and "value" not in alt:
                problems.append(f"{where}: 运算“==”需要“value”")
            elif op == "==" and fields[fid].type == "bool" and not isinstance(alt.get("value"), bool):
                problems.append(f"{where}: “{fid}”是 是/否 字段，value 应为 true 或 false")
            if spec.get("any_of"):
                alternatives.append(Alternative(fid, op, alt.get("threshold"), alt.get("value")))
        conditions.append(Condition(
            id=str(cid), severity=str(severity), clause=str(spec.get("clause", "")), text=str(spec.get("text", "")),
            field=spec.get("field"), op=spec.get("op"), threshold=spec.get("threshold"), value=spec.get("value"),
            any_of=tuple(alternatives), applies_to=tuple(spec.get("applies_to", ())), fix=spec.get("fix"),
        ))

    # -------------------------------------------------------------- quota, deadline, relaxation
    quota = raw.get("quota") or {}
    quota_cities = dict(quota.get("cities") or {})
    known_cities = set(cities())
    for city, n in quota_cities.items():
        if city not in known_cities:
            problems.append(f"[quota].cities: “{city}”不是山东省16市之一")
        if not isinstance(n, int) or n < 0:
            problems.append(f"[quota].cities.{city}: 名额应为非负整数")
    quota_default = quota.get("default")
    if quota and (not isinstance(quota_default, int) or quota_default < 0):
        problems.append("[quota].default: 名额应为非负整数")
    if quota and not quota.get("clause"):
        problems.append("[quota]: 缺少条款引用“clause”")
    for i, item in enumerate(raw.get("expert_items") or []):
        where = f"[[expert_items]] 第{i + 1}条"
        _unknown_keys(item, EXPERT_ITEM_KEYS, where, problems)
        if not item.get("clause"):
            problems.append(f"{where}: 缺少条款引用“clause”")
        if not item.get("text"):
            problems.append(f"{where}: 缺少中文表述“text”")

    deadline = None
    dl = raw.get("deadline") or {}
    if dl:
        value = dl.get("date")
        if isinstance(value, dt.date):
            deadline = value
        else:
            try:
                deadline = dt.date.fromisoformat(str(value))
            except ValueError:
                problems.append(f"[deadline].date: “{value}”不是日期（如 2024-06-28）")
        if not dl.get("clause"):
            problems.append("[deadline]: 缺少条款引用“clause”")

    relax = raw.get("relaxation") or {}
    relaxable = tuple(relax.get("industries", ()))
    allowed_industries = choices["industries"].allowed if "industries" in choices else ()
    for ind in relaxable:
        if allowed_industries and ind not in allowed_industries:
            problems.append(f"[relaxation].industries: “{ind}”不在 [industries].allowed 中")
    if relaxable and not relax.get("clause"):
        problems.append("[relaxation]: 缺少条款引用“clause”")
    if "park_types" in choices:
        park_types = choices["park_types"].allowed
        for f in fields.values():
            for t in f.applies_to:
                if t not in park_types:
                    problems.append(f"[fields.{f.id}].applies_to: “{t}”不在 [park_types].allowed 中")
        for c in conditions:
            for t in c.applies_to:
                if t not in park_types:
                    problems.append(f"[[conditions]]（{c.id}）.applies_to: “{t}”不在 [park_types].allowed 中")

    # -------------------------------------------------------------- score
    score = raw.get("score") or {}
    for i, ind in enumerate(score.get("indicators", [])):
        fid = ind.get("field")
        if fid not in fields:
            problems.append(f"[score].indicators 第{i + 1}项: 字段“{fid}”未定义")
        weight, ref = ind.get("weight"), ind.get("ref")
        if not isinstance(weight, (int, float)) or weight <= 0:
            problems.append(f"[score].indicators 第{i + 1}项: 权重 weight 应为正数")
        if not isinstance(ref, (int, float)) or ref <= 0:
            problems.append(f"[score].indicators 第{i + 1}项: 参照值 ref 应为正数")
    if score.get("indicators") is not None and not isinstance(score.get("cap", 1), (int, float)):
        problems.append("[score].cap: 应为数字")
    for fid in score.get("tie_break", []) or []:
        if fid not in fields:
            problems.append(f"[score].tie_break: 字段“{fid}”未定义")
    report_table = raw.get("report") or {}
    for fid in report_table.get("key_fields", []) if isinstance(report_table, dict) else []:
        if fid not in fields:
            problems.append(f"[report].key_fields: 字段“{fid}”未定义")

    detect = tuple(program.get("detect_fields", ()))
    for fid in detect:
        if fid not in fields:
            problems.append(f"[program].detect_fields: 字段“{fid}”未定义")

    if problems:
        raise RulesInvalid(problems, path)

    return Rules(
        name=name, kind=kind, title=title, version=str(version), notice=str(program.get("notice", "")),
        entity=str(program.get("entity", "项目")), list_title=str(program.get("list_title", "推荐名单")),
        path=path, fields=fields, conditions=tuple(conditions),
        expert_items=tuple(raw.get("expert_items", ())), choices=choices,
        quota_default=quota_default if quota else None, quota_cities=quota_cities,
        quota_clause=quota.get("clause"), deadline=deadline, deadline_clause=dl.get("clause"),
        relaxable_industries=relaxable, relaxation_clause=relax.get("clause"),
        wording={**(raw.get("wording") or {}), "relax_note": relax.get("note", "")},
        score=score, report=raw.get("report") or {}, detect_fields=detect, raw=raw,
    )
