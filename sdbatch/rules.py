"""Load and validate the rules file of a program round (SPEC §4).

A rules file is TOML, validated by the schema in :mod:`sdbatch.rules_schema` (pydantic, strict):
every problem of the file is collected with its place and raised together as
:class:`~sdbatch.model.RulesInvalid`, so that ``sdbatch rules check`` lists them all and
``sdbatch run`` stops before any work.

The result is a :class:`Rules` object, what the stages read:

- ``rules.fields``, ``rules.conditions``, ``rules.choices`` (``[choices.<name>]``), quotas, deadline,
  score, wording — as before;
- ``rules.role("order")`` — the field id playing a role (``[program.roles]``), e.g. the city's own
  order; ``rules.group_field`` and ``rules.type_field`` are the ``group`` and ``type`` roles;
- ``rules.jurisdiction`` — the province's cities, former cities and issuing department;
- ``rules.section`` — the program's own table (``[park]``) as validated by its program's model;
- ``rules.spec`` — the whole validated file (:class:`~sdbatch.rules_schema.RulesFile`).
"""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sdbatch.catalogue import text
from sdbatch.model import RulesInvalid

if TYPE_CHECKING:  # the schema (pydantic) is imported when a rules file is loaded, not by `sdbatch --help`
    from sdbatch.jurisdiction import Jurisdiction
    from sdbatch.rules_schema import RelaxationTable, RulesFile
    from sdbatch.tomlschema import Problem

NUMERIC_TYPES = frozenset({"int", "count", "amount", "ratio", "number"})


@dataclass(frozen=True, eq=False)  # identity equality: a FieldRule can key caches
class FieldRule:
    id: str
    label: str
    type: str
    unit: str | None = None
    aliases: tuple[str, ...] = ()
    keywords: tuple[tuple[str, ...], ...] = ()
    exclude: tuple[str, ...] = ()
    concepts: tuple[tuple[str, ...], ...] = ()  # groups of key concepts: one group present identifies it
    qualifiers: tuple[str, ...] = ()  # concepts that support it (scope, period, subject)
    required: bool = False
    clause: str | None = None
    parts: tuple[str, ...] = ()
    derive: dict[str, str] | None = None
    choices: str | None = None
    applies_to: tuple[str, ...] = ()  # types (values of the type role) a field applies to (empty: all)
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
    unknown_code: str = "unknown-choice"  # the finding code of a value outside the list


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
    #: role -> field id (``[program.roles]`` with its defaults), see :mod:`sdbatch.rules_schema`
    roles: Mapping[str, str] = dc_field(default_factory=dict)
    jurisdiction: Jurisdiction = dc_field(default_factory=lambda: _default_jurisdiction())
    #: the summary form cities fill (附件2 申报信息汇总表), for messages
    form: str = ""
    #: ``[program].module``: "package.module:Class" of a program that lives outside sdbatch
    module: str | None = None
    relaxation: RelaxationTable | None = None
    #: the program's own table (``[park]``), validated by its program's ``section_model``
    section: Any = None
    spec: RulesFile | None = dc_field(default=None, repr=False)

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

    def adverse(self, field_id: str) -> bool:
        """Whether a yes/no field names something adverse: some condition requires it to be 否
        (不良信用, 重大事故), so an answer of how things stand (良好, 不良) says whether it is present."""
        return any(c.field == field_id and c.op == "==" and c.value is False for c in self.conditions)

    def role(self, name: str) -> str | None:
        """The field id playing role ``name`` (``name``, ``city``, ``order``, ``seq``, ``group``,
        ``type``, ``city_score``), or None when the round has no such field."""
        return self.roles.get(name)

    @property
    def role_fields(self) -> frozenset[str]:
        """Every field id that plays a role."""
        return frozenset(self.roles.values())

    @property
    def history(self) -> Any:
        """``[history]`` (:class:`~sdbatch.rules_schema.HistoryTable`): what the rules do across
        rounds, or None when the round keeps no history."""
        return self.spec.history if self.spec is not None else None

    @property
    def group_field(self) -> str:
        """The field applications are grouped and ranked by within the province list (industry)."""
        return self.roles.get("group", "")

    @property
    def type_field(self) -> str | None:
        """The field holding an application's type, matched by conditions' ``applies_to``."""
        return self.roles.get("type")

    def quota_for(self, city: str) -> int | None:
        return self.quota_cities.get(city, self.quota_default)

    def label(self, field_id: str | None) -> str:
        if field_id and field_id in self.fields:
            return self.fields[field_id].label
        return field_id or ""


def _default_jurisdiction() -> Jurisdiction:
    from sdbatch.jurisdiction import default

    return default()


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
            raise RulesInvalid([text("rules_check.unknown_name", name=name_or_path, known=", ".join(programs))],
                               str(name_or_path))
        path = programs[str(name_or_path)]
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesInvalid([text("rules_check.unreadable", detail=exc.strerror or exc)], str(path)) from None
    except UnicodeDecodeError as exc:
        raise RulesInvalid([text("rules_check.encoding", detail=exc.reason)], str(path)) from None
    try:
        raw = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        from sdbatch.tomlschema import syntax_message

        raise RulesInvalid([syntax_message(exc)], str(path)) from None
    return from_dict(raw, str(path))


# ----------------------------------------------------------------------------- validation
def from_dict(raw: dict[str, Any], path: str = "<rules>") -> Rules:
    """Validate a parsed rules file and build its :class:`Rules`; :class:`RulesInvalid` lists every
    problem with its place."""
    from sdbatch.rules_schema import (
        Context,
        RulesFile,
        check,
        parse_parts,
        resolve_roles,
        section_problems,
        validate,
    )
    from sdbatch.tomlschema import Problem, render_all, root_of

    problems: list[Problem] = []
    program_raw = raw.get("program") if isinstance(raw.get("program"), dict) else {}
    assert isinstance(program_raw, dict)
    cls = _program_class(program_raw, problems)
    section = getattr(cls, "section", None) if cls is not None else None
    section_model = getattr(cls, "section_model", None) if cls is not None else None
    extra_root: dict[str, Any] = {section: section_model or dict} if section else {}
    core = {k: v for k, v in raw.items() if k != section}
    for key in list(core):
        owner = _section_owner(key) if key not in RulesFile.model_fields else None
        if owner is not None:
            problems.append(Problem((key,), "refs.foreign_section", {"owner": owner, "kind": program_raw.get("kind", "")}))
            extra_root[key] = dict
            del core[key]

    model, errors = validate(core, {k: v for k, v in extra_root.items() if k == section})
    problems += errors
    parts = parse_parts(core)
    roles = resolve_roles(parts.get("program"), parts.field_ids)
    jurisdiction = _jurisdiction(parts.get("program"), path, problems)
    ctx = Context(parts, roles, tuple(jurisdiction.cities) if jurisdiction else None,
                  jurisdiction.province if jurisdiction else "", section or "")
    problems += check(ctx)

    section_value: Any = None
    if section and section_model is not None:
        section_value, errors = section_problems(section_model, raw.get(section, {}), section)
        problems += errors
        own_checks = getattr(section_value, "check_references", None)
        if callable(own_checks):
            problems += own_checks(ctx)
    elif section:
        section_value = raw.get(section)

    if problems or model is None or jurisdiction is None:
        root = root_of(RulesFile, extra_root)
        raise RulesInvalid(render_all(problems, raw, root), path)
    return _build(model, raw, path, roles, jurisdiction, section_value)


def _program_class(program: dict[str, Any], problems: list[Problem]) -> Any:
    from sdbatch.programs import ProgramNotFound, program_class
    from sdbatch.tomlschema import Problem

    kind, module = program.get("kind"), program.get("module")
    try:
        return program_class(kind if isinstance(kind, str) else "", module if isinstance(module, str) else None)
    except ProgramNotFound as exc:
        where = "module" if isinstance(module, str) else "kind"
        problems.append(Problem(("program", where), "refs.program_not_found", {"target": exc.target}))
        return None


def _section_owner(key: str) -> str | None:
    """The kind of the built-in program whose own table is ``[key]``, if any."""
    from sdbatch.programs import BUILTIN, ProgramNotFound, program_class

    for kind in BUILTIN:
        try:
            if program_class(kind).section == key:
                return kind
        except ProgramNotFound:
            continue
    return None


def _jurisdiction(program: Any, path: str, problems: list[Problem]) -> Jurisdiction | None:
    from sdbatch import settings
    from sdbatch.jurisdiction import load as load_jurisdiction
    from sdbatch.tomlschema import FileInvalid, Problem

    name = getattr(program, "jurisdiction", None) or settings.JURISDICTION
    try:
        return load_jurisdiction(name, relative_to=Path(path).parent)
    except FileInvalid as exc:
        problems += [Problem(("program", "jurisdiction"), "refs.jurisdiction_invalid", {"name": name, "detail": p})
                     for p in exc.problems]
        return None


def _build(model: RulesFile, raw: dict[str, Any], path: str, roles: dict[str, str], jurisdiction: Jurisdiction,
           section: Any) -> Rules:
    program = model.program
    choices = {name: Choices(name, c.clause, tuple(c.allowed), {k: tuple(v) for k, v in c.variants.items()},
                             c.unknown_code or "unknown-choice")
               for name, c in model.choices.items()}
    fields = {fid: FieldRule(
        id=fid, label=f.label, type=f.type, unit=f.unit, aliases=tuple(f.aliases),
        keywords=tuple(tuple(group) for group in f.keywords), exclude=tuple(f.exclude), required=f.required,
        concepts=tuple(tuple(group) for group in f.concepts), qualifiers=tuple(f.qualifiers),
        clause=f.clause, parts=tuple(f.parts), derive=f.derive.model_dump() if f.derive else None,
        choices=f.choices, applies_to=tuple(f.applies_to), plausible_max=f.plausible_max,
    ) for fid, f in model.fields.items()}
    conditions = tuple(Condition(
        id=c.id, severity=c.severity, clause=c.clause, text=c.text, field=c.field, op=c.op, threshold=c.threshold,
        value=c.value, any_of=tuple(Alternative(a.field, a.op, a.threshold, a.value) for a in c.any_of),
        applies_to=tuple(c.applies_to), fix=c.fix,
    ) for c in model.conditions)
    relax = model.relaxation
    quota = model.quota
    return Rules(
        name=program.name, kind=program.kind, title=program.title, version=program.version, notice=program.notice,
        entity=program.entity or text("rules_check.defaults.entity"),
        list_title=program.list_title or text("rules_check.defaults.list_title"),
        path=path, fields=fields, conditions=conditions,
        expert_items=tuple(item.model_dump() for item in model.expert_items), choices=choices,
        quota_default=quota.default if quota else None, quota_cities=dict(quota.cities) if quota else {},
        quota_clause=quota.clause if quota else None,
        deadline=model.deadline.date if model.deadline else None,
        deadline_clause=model.deadline.clause if model.deadline else None,
        relaxable_industries=tuple(relax.industries) if relax else (),
        relaxation_clause=relax.clause if relax else None,
        wording={**model.wording.model_dump(), "relax_note": relax.note if relax else ""},
        score=model.score.model_dump() if model.score else {},
        report=model.report.model_dump() if "report" in raw else {},
        detect_fields=tuple(program.detect_fields), raw=raw,
        roles=roles, jurisdiction=jurisdiction, form=program.form or text("rules_check.defaults.form"),
        module=program.module, relaxation=relax, section=section, spec=model,
    )
