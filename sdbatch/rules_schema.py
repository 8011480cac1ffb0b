"""The schema of a rules file (one program round), and the checks across its tables.

:class:`RulesFile` and the models under it say what each table may hold, its types and defaults
(pydantic, strict: see :mod:`sdbatch.tomlschema`).  :func:`check` runs after parsing and checks
what types alone cannot: a condition's field exists and is numeric for ``>=``, a choice field
names a ``[choices.<name>]`` table, quota cities belong to the jurisdiction, roles point to fields
of the right type, and so on.  A program's own table (``[park]``) is validated by the model its
:class:`~sdbatch.programs.base.Program` class declares (``section``/``section_model``); a model
may add checks of its own by defining ``check_references(context) -> list[Problem]``.

Field roles (``[program.roles]``) tell the shared stages which field plays which part:

======== ============================================= ============== =================
role     used for                                       field type     default field id
======== ============================================= ============== =================
name     the application's name (results.json ``name``) text           ``name``
city     the city it belongs to                         city           ``city``
order    the city's own order, counted by the quota     int            ``city_order``
seq      the printed row number (序号), not checked      int            ``seq``
group    grouped and ranked by in the province list     choice, text   ``industry``, else the type role
type     matched by ``applies_to`` of fields/conditions choice         (none)
city_score the city's own preliminary score             number types   ``city_score``
======== ============================================= ============== =================

A default applies only when a field of that id exists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from sdbatch.catalogue import join
from sdbatch.tomlschema import (
    Date,
    Loc,
    Problem,
    Scalar,
    Strict,
    Text,
    is_model,
    problems_of,
    root_of,
    strip_annotation,
)

FieldType = Literal["int", "count", "amount", "ratio", "number", "bool", "text", "city", "choice", "uscc",
                    "phone", "email", "date"]
Severity = Literal["hard", "soft", "relaxable", "warning"]
Op = Literal[">=", ">", "<=", "<", "==", "present", "valid", "in_scope"]
NUMERIC_TYPES = frozenset({"int", "count", "amount", "ratio", "number"})
COMPARISONS = frozenset({">=", ">", "<=", "<"})

ROLE_TYPES: dict[str, frozenset[str]] = {
    "name": frozenset({"text"}),
    "city": frozenset({"city"}),
    "order": frozenset({"int"}),
    "seq": frozenset({"int"}),
    "group": frozenset({"choice", "text"}),
    "type": frozenset({"choice"}),
    "city_score": NUMERIC_TYPES,
}
ROLE_DEFAULTS = {"name": "name", "city": "city", "order": "city_order", "seq": "seq", "group": "industry",
                 "city_score": "city_score"}
REQUIRED_ROLES = ("name", "city")
_MODULE = r"^[A-Za-z_][A-Za-z0-9_.]*(:[A-Za-z_][A-Za-z0-9_]*)?$"


# ----------------------------------------------------------------------------- tables
class Roles(Strict):
    """``[program.roles]``: role -> field id (see the module's table)."""

    name: Text | None = None
    city: Text | None = None
    order: Text | None = None
    seq: Text | None = None
    group: Text | None = None
    type: Text | None = None
    city_score: Text | None = None


class ProgramTable(Strict):
    """``[program]``: what the round is and how it is found."""

    name: Text
    kind: Text
    title: Text
    version: Text
    notice: str = ""
    entity: Text | None = None  # what one application is called (集群, 园区); default: ui.toml
    list_title: Text | None = None  # the province list's file name (推荐名单); default: ui.toml
    form: Text | None = None  # the summary form cities fill (附件2 申报信息汇总表); default: ui.toml
    module: str | None = Field(default=None, pattern=_MODULE)  # "package.module:Class" of a program outside sdbatch
    jurisdiction: Text | None = None  # a jurisdiction name (sdbatch/jurisdictions/) or a .toml path
    detect_fields: list[str] = []
    roles: Roles = Roles()


class DeadlineTable(Strict):
    date: Date
    clause: Text


class QuotaTable(Strict):
    clause: Text
    default: int = Field(ge=0)
    cities: dict[str, int] = {}

    @field_validator("cities")
    @classmethod
    def _non_negative(cls, value: dict[str, int]) -> dict[str, int]:
        for city, n in value.items():
            if n < 0:
                raise PydanticCustomError("quota_negative", "quota", {"city": city, "value": n})
        return value


class RelaxationTable(Strict):
    clause: Text | None = None
    industries: list[str] = []  # values of the group role's choices for which relaxable conditions relax
    field: Text | None = None  # a yes/no field: the application asks for relaxation
    note: str = ""
    remarks_field: Text | None = None  # a request written only in this text field counts too
    remarks_words: list[str] = []


class WordingTable(Strict):
    soft_note: str = ""
    conflict_note: str = ""
    hard_note: str = ""
    fix_below: str = ""
    fix_review: str = ""


class ChoiceTable(Strict):
    """``[choices.<name>]``: the values a choice field may take."""

    clause: Text | None = None
    allowed: list[Text] = Field(min_length=1)
    variants: dict[str, list[str]] = {}
    #: finding code for a value outside the list (default: unknown-choice)
    unknown_code: Text | None = None


class Derive(Strict):
    numerator: Text
    denominator: Text


class FieldSpec(Strict):
    """``[fields.<id>]``: one canonical field and how its header is recognised."""

    label: Text
    type: FieldType
    unit: Text | None = None
    aliases: list[str] = []
    keywords: list[list[str]] = []
    exclude: list[str] = []
    required: bool = False
    clause: Text | None = None
    parts: list[str] = []
    derive: Derive | None = None
    choices: Text | None = None
    applies_to: list[str] = []
    plausible_max: float | None = Field(default=None, gt=0)


class AlternativeSpec(Strict):
    field: Text
    op: Op
    threshold: float | None = None
    value: Scalar | None = None


class ConditionSpec(Strict):
    """``[[conditions]]``: one rule of the round."""

    id: Text
    severity: Severity
    clause: Text
    text: Text
    field: Text | None = None
    op: Op | None = None
    threshold: float | None = None
    value: Scalar | None = None
    any_of: list[AlternativeSpec] = []
    applies_to: list[str] = []
    fix: str | None = None


class ExpertItem(Strict):
    clause: Text
    text: Text


class ScoreIndicator(Strict):
    field: Text
    weight: float = Field(gt=0)
    ref: float = Field(gt=0)


class ScoreTable(Strict):
    """``[score]``: score = 100 × Σ weight × min(value / ref, cap) / (cap × Σ weight)."""

    cap: float = Field(default=1.0, gt=0)
    tie_break: list[str] = []
    indicators: list[ScoreIndicator] = []


class ReportTable(Strict):
    key_fields: list[str] = []


class RulesFile(Strict):
    """A whole rules file (a program's own table is validated apart, by its program's model)."""

    program: ProgramTable
    deadline: DeadlineTable | None = None
    quota: QuotaTable | None = None
    relaxation: RelaxationTable | None = None
    wording: WordingTable = WordingTable()
    choices: dict[str, ChoiceTable] = {}
    fields: dict[str, FieldSpec] = Field(min_length=1)
    conditions: list[ConditionSpec] = []
    expert_items: list[ExpertItem] = []
    score: ScoreTable | None = None
    report: ReportTable = ReportTable()


ROOT = root_of(RulesFile)


# ----------------------------------------------------------------------------- parsing in parts
_INVALID = object()


@dataclass
class Parts:
    """The tables of a file that parsed, each on its own, for the checks across tables (a table
    with a type error is left out, so that one mistake is not reported twice)."""

    raw: Mapping[str, Any]
    tables: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, FieldSpec] = field(default_factory=dict)  # the fields that parsed
    field_ids: set[str] = field(default_factory=set)  # every field named, parsed or not
    conditions: list[tuple[int, ConditionSpec]] = field(default_factory=list)

    def get(self, name: str) -> Any:
        value = self.tables.get(name, _INVALID)
        return None if value is _INVALID else value

    def valid(self, name: str) -> bool:
        return self.tables.get(name, _INVALID) is not _INVALID


def parse_parts(raw: Mapping[str, Any]) -> Parts:
    parts = Parts(raw)
    for name, info in RulesFile.model_fields.items():
        model = _model_of(name)
        if name not in raw:
            parts.tables[name] = info.get_default(call_default_factory=True) if not info.is_required() else _INVALID
            continue
        value = raw[name]
        if name == "fields":
            if isinstance(value, dict):
                parts.field_ids = {str(k) for k in value}
                for fid, spec in value.items():
                    parsed = _try(FieldSpec, spec)
                    if parsed is not None:
                        parts.fields[str(fid)] = parsed
            parts.tables[name] = parts.fields
        elif name == "conditions":
            if isinstance(value, list):
                for i, spec in enumerate(value):
                    parsed = _try(ConditionSpec, spec)
                    if parsed is not None:
                        parts.conditions.append((i, parsed))
            parts.tables[name] = [c for _, c in parts.conditions]
        elif name == "choices":
            out = {}
            if isinstance(value, dict):
                for key, spec in value.items():
                    parsed = _try(ChoiceTable, spec)
                    if parsed is not None:
                        out[str(key)] = parsed
            parts.tables[name] = out
        elif model is not None:
            parsed = _try(model, value)
            parts.tables[name] = parsed if parsed is not None else _INVALID
        else:
            parts.tables[name] = _INVALID if not isinstance(value, list) else _try_list(name, value)
    return parts


def _model_of(name: str) -> Any:
    annotation = RulesFile.model_fields[name].annotation
    return strip_annotation(annotation) if is_model(annotation) else None


def _try(model: Any, value: Any) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError:
        return None


def _try_list(name: str, value: list[Any]) -> Any:
    item = {"expert_items": ExpertItem}.get(name)
    if item is None:
        return _INVALID
    parsed = [_try(item, v) for v in value]
    return _INVALID if any(p is None for p in parsed) else parsed


def validate(raw: Mapping[str, Any], extra_root: Mapping[str, Any]) -> tuple[RulesFile | None, list[Problem]]:
    """The file validated as a whole: the model, or None and pydantic's problems."""
    try:
        return RulesFile.model_validate(raw), []
    except ValidationError as exc:
        return None, problems_of(exc, root_of(RulesFile, extra_root))


# ----------------------------------------------------------------------------- roles
def resolve_roles(program: ProgramTable | None, field_ids: set[str]) -> dict[str, str]:
    """role -> field id: as written in ``[program.roles]``, else the default id when it is a field."""
    out: dict[str, str] = {}
    for role in ROLE_TYPES:
        explicit = getattr(program.roles, role) if program is not None else None
        if explicit:
            out[role] = explicit
        elif role in ROLE_DEFAULTS and ROLE_DEFAULTS[role] in field_ids:
            out[role] = ROLE_DEFAULTS[role]
    if "group" not in out and "type" in out:
        out["group"] = out["type"]
    return out


# ----------------------------------------------------------------------------- checks across tables
@dataclass
class Context:
    """What a check across tables may look at (also given to a program section's own checks)."""

    parts: Parts
    roles: dict[str, str]
    cities: tuple[str, ...] | None  # the jurisdiction's cities (None: the jurisdiction did not load)
    province: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def fields(self) -> dict[str, FieldSpec]:
        return self.parts.fields

    @property
    def field_ids(self) -> set[str]:
        return self.parts.field_ids

    @property
    def choices(self) -> dict[str, ChoiceTable]:
        return self.parts.get("choices") or {}

    def add(self, loc: Loc, key: str, **params: Any) -> None:
        self.problems.append(Problem(loc, f"refs.{key}", params))

    def choices_of(self, field_id: str | None) -> tuple[str, ...] | None:
        """The allowed values of a choice field (None when unknown)."""
        spec = self.fields.get(field_id or "")
        if spec is None or spec.type != "choice" or spec.choices not in self.choices:
            return None
        return tuple(self.choices[spec.choices or ""].allowed)

    def role_choices(self, role: str) -> tuple[str, ...] | None:
        return self.choices_of(self.roles.get(role))

    def field_problems(self, loc: Loc, field_id: str, types: frozenset[str] | None = None) -> list[Problem]:
        """``field_id`` must be a field (of one of ``types``)."""
        if field_id not in self.field_ids:
            return [Problem(loc, "refs.unknown_field", {"field": field_id})]
        spec = self.fields.get(field_id)
        if types is not None and spec is not None and spec.type not in types:
            return [Problem(loc, "refs.field_type", {"field": field_id, "type": spec.type,
                                                     "expected": ", ".join(sorted(types))})]
        return []

    def need_field(self, loc: Loc, field_id: str, types: frozenset[str] | None = None) -> None:
        self.problems += self.field_problems(loc, field_id, types)


def check(ctx: Context) -> list[Problem]:
    """Every check across tables, on the tables that parsed."""
    for step in _CHECKS:
        step(ctx)
    return ctx.problems


def _check_program(ctx: Context) -> None:
    program: ProgramTable | None = ctx.parts.get("program")
    if program is None or not ctx.parts.field_ids:
        return
    for i, fid in enumerate(program.detect_fields):
        ctx.need_field(("program", "detect_fields", i), fid)
    for role, fid in program.roles.model_dump(exclude_none=True).items():
        ctx.need_field(("program", "roles", role), fid, ROLE_TYPES[role])
    for role in REQUIRED_ROLES:
        if role not in ctx.roles:
            ctx.add(("program", "roles"), "role_missing", role=role, default=ROLE_DEFAULTS[role])
    type_field = ctx.roles.get("type")
    if type_field and type_field in ctx.fields and ctx.choices_of(type_field) is None:
        ctx.add(("program", "roles", "type"), "type_without_choices", field=type_field)


def _check_choices(ctx: Context) -> None:
    from sdbatch.catalogue import codes

    known = set(codes())
    for name, table in ctx.choices.items():
        seen: set[str] = set()
        for i, value in enumerate(table.allowed):
            if value in seen:
                ctx.add(("choices", name, "allowed", i), "duplicate", value=value)
            seen.add(value)
        for canon in table.variants:
            if canon not in table.allowed:
                ctx.add(("choices", name, "variants", canon), "variant_not_allowed", value=canon, table=name)
        if table.unknown_code and table.unknown_code not in known:
            ctx.add(("choices", name, "unknown_code"), "unknown_code", code=table.unknown_code)


def _check_fields(ctx: Context) -> None:
    from sdbatch.text import AMOUNT_UNITS

    types = ctx.role_choices("type")
    for fid, spec in ctx.fields.items():
        where: Loc = ("fields", fid)
        if spec.type == "choice" and spec.choices not in ctx.choices:
            ctx.add((*where, "choices"), "choices_missing", table=spec.choices or "",
                    known=", ".join(ctx.choices) or "-")
        if spec.type == "amount" and spec.unit not in AMOUNT_UNITS:
            ctx.add((*where, "unit"), "amount_unit", unit=spec.unit or "", units=join(AMOUNT_UNITS))
        if spec.type == "ratio" and spec.unit not in (None, "%"):
            ctx.add((*where, "unit"), "ratio_unit", unit=spec.unit)
        for i, part in enumerate(spec.parts):
            ctx.need_field((*where, "parts", i), part, NUMERIC_TYPES)
        if spec.parts and spec.type not in NUMERIC_TYPES:
            ctx.add((*where, "parts"), "parts_not_numeric", type=spec.type)
        if spec.derive is not None:
            for key in ("numerator", "denominator"):
                ctx.need_field((*where, "derive", key), getattr(spec.derive, key), NUMERIC_TYPES)
            if spec.type != "ratio":
                ctx.add((*where, "derive"), "derive_not_ratio", type=spec.type)
        _check_applies_to(ctx, (*where, "applies_to"), spec.applies_to, types)


def _check_applies_to(ctx: Context, loc: Loc, values: list[str], types: tuple[str, ...] | None) -> None:
    if not values:
        return
    if "type" not in ctx.roles:
        ctx.add(loc, "applies_to_without_type")
        return
    if types is None:
        return  # the type role's own problem is reported there
    for i, value in enumerate(values):
        if value not in types:
            ctx.add((*loc, i), "not_a_type", value=value, types=join(types))


def _check_conditions(ctx: Context) -> None:
    types = ctx.role_choices("type")
    seen: set[str] = set()
    for i, cond in ctx.parts.conditions:
        where: Loc = ("conditions", i)
        if cond.id in seen:
            ctx.add((*where, "id"), "duplicate", value=cond.id)
        seen.add(cond.id)
        _check_applies_to(ctx, (*where, "applies_to"), cond.applies_to, types)
        if cond.any_of:
            if cond.field is not None or cond.op is not None:
                ctx.add(where, "field_and_any_of")
            for j, alt in enumerate(cond.any_of):
                _check_test(ctx, (*where, "any_of", j), alt.field, alt.op, alt.threshold, alt.value)
            continue
        if cond.field is None:
            ctx.add(where, "no_field")
            continue
        if cond.op is None:
            ctx.add(where, "no_op", field=cond.field)
            continue
        _check_test(ctx, where, cond.field, cond.op, cond.threshold, cond.value)


def _check_test(ctx: Context, where: Loc, fid: str, op: str, threshold: float | None, value: Any) -> None:
    ctx.need_field((*where, "field"), fid)
    spec = ctx.fields.get(fid)
    if spec is None:
        return
    if op in COMPARISONS:
        if threshold is None:
            ctx.add(where, "no_threshold", field=fid, op=op)
        elif spec.type not in NUMERIC_TYPES:
            ctx.add((*where, "op"), "not_numeric", field=fid, type=spec.type)
        elif threshold < 0:
            ctx.add((*where, "threshold"), "negative_threshold", threshold=_num(threshold))
        elif spec.type == "ratio" and threshold > 100:
            ctx.add((*where, "threshold"), "ratio_over_100", threshold=_num(threshold))
        elif op == "<" and threshold == 0:
            ctx.add((*where, "threshold"), "below_zero")
        elif spec.type == "ratio" and op == ">" and threshold >= 100:
            ctx.add((*where, "threshold"), "ratio_unreachable", threshold=_num(threshold))
    elif op == "==":
        if value is None:
            ctx.add(where, "no_value", field=fid)
        elif spec.type == "bool" and not isinstance(value, bool):
            ctx.add((*where, "value"), "bool_value", field=fid)
        elif spec.type in NUMERIC_TYPES and (isinstance(value, bool) or not isinstance(value, (int, float))):
            ctx.add((*where, "value"), "number_value", field=fid)
    elif op == "in_scope" and spec.type not in ("choice", "city"):
        ctx.add((*where, "op"), "in_scope_type", field=fid, type=spec.type)


def _check_quota(ctx: Context) -> None:
    quota: QuotaTable | None = ctx.parts.get("quota")
    if quota is None or ctx.cities is None:
        return
    for city in quota.cities:
        if city not in ctx.cities:
            ctx.add(("quota", "cities", city), "unknown_city", city=city, province=ctx.province,
                    count=len(ctx.cities))


def _check_relaxation(ctx: Context) -> None:
    relax: RelaxationTable | None = ctx.parts.get("relaxation")
    if relax is None:
        return
    if (relax.industries or relax.field) and not relax.clause:
        ctx.add(("relaxation",), "missing_clause")
    if relax.industries:
        group = ctx.roles.get("group")
        allowed = ctx.choices_of(group)
        if allowed is None and ctx.parts.field_ids:
            ctx.add(("relaxation", "industries"), "group_without_choices", field=group or "")
        for i, value in enumerate(relax.industries):
            if allowed is not None and value not in allowed:
                ctx.add(("relaxation", "industries", i), "not_in_group", value=value, field=group or "")
    if relax.field:
        ctx.need_field(("relaxation", "field"), relax.field, frozenset({"bool"}))
    if relax.remarks_field:
        ctx.need_field(("relaxation", "remarks_field"), relax.remarks_field, frozenset({"text"}))
    if relax.remarks_field and not relax.field:
        ctx.add(("relaxation", "remarks_field"), "remarks_without_field")


def _check_score(ctx: Context) -> None:
    score: ScoreTable | None = ctx.parts.get("score")
    if score is not None:
        for i, ind in enumerate(score.indicators):
            ctx.need_field(("score", "indicators", i, "field"), ind.field, NUMERIC_TYPES)
        for i, fid in enumerate(score.tie_break):
            ctx.need_field(("score", "tie_break", i), fid, NUMERIC_TYPES)
    report: ReportTable | None = ctx.parts.get("report")
    if report is not None:
        for i, fid in enumerate(report.key_fields):
            ctx.need_field(("report", "key_fields", i), fid)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


_CHECKS: list[Callable[[Context], None]] = [_check_program, _check_choices, _check_fields, _check_conditions,
                                            _check_quota, _check_relaxation, _check_score]


def section_problems(model: Any, value: Any, section: str) -> tuple[Any, list[Problem]]:
    """A program's own table validated by its model: (the instance or None, problems)."""
    try:
        return model.model_validate(value), []
    except ValidationError as exc:
        return None, problems_of(exc, root_of(model), prefix=(section,))
