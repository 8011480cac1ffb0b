"""The schema of a rules file (one program round), and the checks across its tables.

:class:`RulesFile` and the models under it say what each table may hold, its types and defaults
(pydantic, strict: see :mod:`sdbatch.tomlschema`).  :func:`check` runs after parsing and checks
what types alone cannot: a condition's field exists and is numeric for ``>=``, a choice field
names a ``[choices.<name>]`` table, quota cities belong to the jurisdiction, roles point to fields
of the right type, and so on.  A program's own table (``[park]``) is validated by the model its
:class:`~sdbatch.programs.base.Program` class declares (``section``/``section_model``); a model
may add checks of its own by defining ``check_references(context) -> list[Problem]``.

Field roles (``[program.roles]``) tell the shared stages which field plays which part:

============ ============================================= ============== =================
role         used for                                       field type     default field id
============ ============================================= ============== =================
name         the application's name (results.json ``name``) text           ``name``
city         the city it belongs to                         city           ``city``
order        the city's own order, counted by the quota     int            ``city_order``
seq          the printed row number (序号), not checked      int            ``seq``
group        grouped and ranked by in the province list     choice, text   ``industry``, else the type role
type         matched by ``applies_to`` of fields/conditions choice         (none)
city_score   the city's own preliminary score               number types   ``city_score``
applicant    who applies (申报主体, a park's 运营管理机构)      text           ``applicant``
applicant_id its 统一社会信用代码: the same applicant in a     uscc           ``applicant_uscc``
             later round (``[history]``)
============ ============================================= ============== =================

A default applies only when a field of that id exists.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from sdbatch.catalogue import join
from sdbatch.rules import NUMERIC_TYPES
from sdbatch.tomlschema import (
    Date,
    Loc,
    Problem,
    Scalar,
    Strict,
    Text,
    problems_of,
    root_of,
    strip_annotation,
)

FieldType = Literal["int", "count", "amount", "ratio", "number", "bool", "text", "city", "choice", "uscc",
                    "phone", "email", "date"]
Severity = Literal["hard", "soft", "relaxable", "warning"]
Op = Literal[">=", ">", "<=", "<", "==", "present", "valid", "in_scope"]
COMPARISONS = frozenset({">=", ">", "<=", "<"})

ROLE_TYPES: dict[str, frozenset[str]] = {
    "name": frozenset({"text"}),
    "city": frozenset({"city"}),
    "order": frozenset({"int"}),
    "seq": frozenset({"int"}),
    "group": frozenset({"choice", "text"}),
    "type": frozenset({"choice"}),
    "city_score": NUMERIC_TYPES,
    "applicant": frozenset({"text"}),
    "applicant_id": frozenset({"uscc"}),
}
ROLE_DEFAULTS = {"name": "name", "city": "city", "order": "city_order", "seq": "seq", "group": "industry",
                 "city_score": "city_score", "applicant": "applicant", "applicant_id": "applicant_uscc"}
REQUIRED_ROLES = ("name", "city")
_MODULE = r"^[A-Za-z_][A-Za-z0-9_.]*(:[A-Za-z_][A-Za-z0-9_]*)?$"


# ----------------------------------------------------------------------------- tables
class Roles(Strict):
    """``[program.roles]``: which field plays which part in the shared stages (role -> field id).
    A role left out takes the field of its default id when there is one (see the module's table)."""

    name: Text | None = None
    """The application's name (results.json ``name``); findings without a cell of their own are
    shown on its cell.  Default ``name``; required."""
    city: Text | None = None
    """The city an application belongs to (a ``city`` field); the file's city when the column is
    absent.  Default ``city``; required."""
    order: Text | None = None
    """The city's own order (an ``int`` field), counted by the quota.  Default ``city_order``."""
    seq: Text | None = None
    """The printed row number (an ``int`` field): kept, not checked.  Default ``seq``."""
    group: Text | None = None
    """Applications are grouped and ranked by it in the province list (a ``choice`` or ``text``
    field); relaxable industries are its values.  Default ``industry``, else the type role."""
    type: Text | None = None
    """The application's type (a ``choice`` field), matched by ``applies_to``.  No default."""
    city_score: Text | None = None
    """The city's own preliminary score (a number field).  Default ``city_score``."""
    applicant: Text | None = None
    """Who applies (a ``text`` field: the applicant, a park's operator): the name the history across
    rounds falls back to.  Default ``applicant``."""
    applicant_id: Text | None = None
    """The applicant's unified social credit code (a ``uscc`` field): the same applicant in a later
    round is known by it (``[history]``).  Default ``applicant_uscc``."""


class ProgramTable(Strict):
    """``[program]``: what the round is, how its workbooks are recognised and where it applies."""

    name: Text
    """The round's name, e.g. ``cluster_2025`` (the rules file's name)."""
    kind: Text
    """The program: a built-in kind (``park``) brings its own steps; any other kind is generic."""
    title: Text
    """The round's title in Chinese, used in every output."""
    version: Text
    """The rules' version, recorded with every result."""
    notice: str = ""
    """The reference of the notice the round applies."""
    entity: Text | None = None
    """What one application is called in messages (a cluster, a park); default from ui.toml."""
    list_title: Text | None = None
    """The province list's title and file name; default from ui.toml."""
    form: Text | None = None
    """The summary form the cities fill, named in messages (the notice's attachment); default
    from ui.toml."""
    module: str | None = Field(default=None, pattern=_MODULE)
    """``package.module:Class`` of a Program that lives outside sdbatch."""
    jurisdiction: Text | None = None
    """A bundled jurisdiction (``sdbatch/jurisdictions/<name>.toml``) or the path of a jurisdiction
    file, relative to the rules file; default :data:`sdbatch.settings.JURISDICTION`."""
    detect_fields: list[str] = []
    """Fields only this round has: a table naming them is this round's."""
    roles: Roles = Roles()
    """See ``[program.roles]``."""


class DeadlineTable(Strict):
    """``[deadline]``: a file received later is flagged, not dropped."""

    date: Date
    """The last day (``2024-06-28``, as a TOML date or as text)."""
    clause: Text


class QuotaTable(Strict):
    """``[quota]``: how many applications a city may recommend, counted in its own order."""

    clause: Text
    default: int = Field(ge=0)
    """Every city not listed in ``cities``."""
    cities: dict[str, int] = {}
    """City -> its quota (cities of the jurisdiction)."""

    @field_validator("cities")
    @classmethod
    def _non_negative(cls, value: dict[str, int]) -> dict[str, int]:
        for city, n in value.items():
            if n < 0:
                raise PydanticCustomError("quota_negative", "quota", {"city": city, "value": n})
        return value


class RelaxationTable(Strict):
    """``[relaxation]``: when a *relaxable* condition that fails needs expert judgement instead."""

    clause: Text | None = None
    """Required when ``industries`` or ``field`` is given."""
    industries: list[str] = []
    """Values of the group role's choices (core and frontier industries)."""
    field: Text | None = None
    """A yes/no field: the application asks for relaxation."""
    note: str = ""
    """Said with each relaxed condition."""
    remarks_field: Text | None = None
    """A text field: a request written there (one of ``remarks_words``) counts too, with a warning."""
    remarks_words: list[str] = []


class WordingTable(Strict):
    """``[wording]``: sentences the findings of conditions carry."""

    soft_note: str = ""
    conflict_note: str = ""
    hard_note: str = ""
    fix_below: str = ""
    fix_review: str = ""


class ChoiceTable(Strict):
    """``[choices.<name>]``: the values a choice field (``choices = "<name>"``) may take."""

    clause: Text | None = None
    """Cited when a value is outside the list and the field has no clause of its own."""
    allowed: list[Text] = Field(min_length=1)
    """The canonical values."""
    variants: dict[str, list[str]] = {}
    """Canonical value -> other ways cities write it."""
    unknown_code: Text | None = None
    """The finding code of a value outside the list (default ``unknown-choice``)."""


class Derive(Strict):
    """A ratio computed from two amounts, cross-checked when both are written."""

    numerator: Text
    denominator: Text


class FieldSpec(Strict):
    """``[fields.<id>]``: one canonical field (the id is the results.json key) and how its column
    is recognised."""

    label: Text
    """The field's name in every output."""
    type: FieldType
    """How its cells are read.  A ``bool`` field that a condition requires to be false names
    something adverse (bad credit, a major incident): a cell saying how things stand answers it
    too (a good state: no; a bad state: yes; vocabulary.toml ``[values]`` good_state / bad_state)."""
    unit: Text | None = None
    """Amounts: the canonical unit (a unit of vocabulary.toml [units.amounts]); ratios: %."""
    aliases: list[str] = []
    """Header texts that name the field for sure, besides its label (compared after NFKC, without
    spaces, brackets or units)."""
    concepts: list[list[str]] = []
    """What identifies the field in a header: groups of concepts (vocabulary.toml
    ``[header.concepts]``, named by any written form of them), one group all present identifies
    it — the group of the concepts "R&D" and "ratio" recognises every wording of an R&D ratio the
    vocabulary knows.  A word no concept knows stands for itself.  Headers are matched by meaning:
    the columns of a table are assigned to the fields together, each to the field whose concepts it
    carries best."""
    qualifiers: list[str] = []
    """Concepts that support the field when a header has them too (its scope, its period such as
    the last three years, its subject)."""
    keywords: list[list[str]] = []
    """Older name of ``concepts`` (read the same way)."""
    exclude: list[str] = []
    """Concepts (or words) that rule the field out when a header has them."""
    required: bool = False
    clause: Text | None = None
    parts: list[str] = []
    """Numeric fields whose sum is this field when it is missing (split columns)."""
    derive: Derive | None = None
    choices: Text | None = None
    """For ``type = "choice"``: the name of a ``[choices.<name>]`` table."""
    applies_to: list[str] = []
    """Types (values of the type role) the field applies to; empty: all."""
    plausible_max: float | None = Field(default=None, gt=0)
    """Above this (in the field's unit) a value is queried."""


class AlternativeSpec(Strict):
    """One alternative of a condition's ``any_of``."""

    field: Text
    op: Op
    threshold: float | None = None
    value: Scalar | None = None


class ConditionSpec(Strict):
    """``[[conditions]]``: one rule of the round, with its clause and wording."""

    id: Text
    """Unique in the file; cited by findings (``rule``)."""
    severity: Severity
    """hard: fails -> ineligible; soft ("in principle"): needs review; relaxable: needs review where
    ``[relaxation]`` applies, else ineligible; warning: no effect on the status."""
    clause: Text
    text: Text
    """The rule in the notice's words."""
    field: Text | None = None
    op: Op | None = None
    """``>=``, ``>``, ``<=``, ``<`` (with ``threshold``), ``==`` (with ``value``), ``present``,
    ``valid`` (a well-formed credit code, phone, e-mail), ``in_scope`` (a value of the list)."""
    threshold: float | None = None
    value: Scalar | None = None
    any_of: list[AlternativeSpec] = []
    """Instead of field/op: the condition holds when one alternative holds."""
    applies_to: list[str] = []
    """Types (values of the type role) the condition applies to; empty: all."""
    fix: str | None = None
    """What to do when it fails (default: ``[wording]``)."""


class ExpertItem(Strict):
    """``[[expert_items]]``: a qualitative condition listed for the experts, no automatic verdict."""

    clause: Text
    text: Text


class ScoreIndicator(Strict):
    """One indicator of the composite score."""

    field: Text
    weight: float = Field(gt=0)
    ref: float = Field(gt=0)
    """The value that earns the indicator's full weight ÷ ``cap``."""


class ScoreTable(Strict):
    """``[score]``: score = 100 × Σ weight × min(value / ref, cap) / (cap × Σ weight)."""

    cap: float = Field(default=1.0, gt=0)
    tie_break: list[str] = []
    """Numeric fields compared (higher first) when scores are equal."""
    indicators: list[ScoreIndicator] = []


class ReportTable(Strict):
    """``[report]``: what the province list shows."""

    key_fields: list[str] = []
    """Fields shown beside the score."""


# ----------------------------------------------------------------------------- evidence lists
EvidenceOp = Literal["==", ">=", ">", "<=", "<", "present", "same_as"]
EVIDENCE_ROLE_TYPES: dict[str, frozenset[str]] = {
    "firm": frozenset({"text"}),
    "uscc": frozenset({"uscc"}),
    "application": frozenset({"text"}),
    "city": frozenset({"city"}),
}
EVIDENCE_ROLE_DEFAULTS = {"firm": "firm", "uscc": "uscc", "application": "application", "city": "city"}


class EvidenceRoles(Strict):
    """``[evidence.roles]``: which list field plays which part (role -> field id of
    ``[evidence.fields]``).  A role left out takes the field of its default id when there is one."""

    firm: Text | None = None
    """The firm's name (a ``text`` field).  Default ``firm``; required."""
    uscc: Text | None = None
    """The firm's unified social credit code (a ``uscc`` field): duplicates and firms counted twice
    are found by it.  Default ``uscc``."""
    application: Text | None = None
    """A column naming the application (the cluster or park) in a list that holds several
    (a ``text`` field).  Default ``application``."""
    city: Text | None = None
    """A column naming the city (a ``city`` field).  Default ``city``."""


class EvidenceTest(Strict):
    """One test on a list row: ``field`` (a list field) ``op`` ``value``/``threshold``.

    ``==`` compares with ``value`` (true/false for a yes/no field); ``>=``, ``>``, ``<=``, ``<``
    with ``threshold`` in the list field's unit; ``present``: the cell holds a value;
    ``same_as``: a choice equal to the application's value of the summary field named by
    ``value`` (the firm's industry is the cluster's 主导产业)."""

    field: Text
    op: EvidenceOp
    value: Scalar | None = None
    threshold: float | None = None


class EvidenceFilter(Strict):
    """A test on a list row (see :class:`EvidenceTest`), or ``any_of``: the row passes when one of
    the alternatives whose column the list has passes."""

    field: Text | None = None
    op: EvidenceOp | None = None
    value: Scalar | None = None
    threshold: float | None = None
    any_of: list[EvidenceTest] = []
    if_absent: Literal["pass", "unknown"] = "unknown"
    """When the list has no column for the test: ``pass`` (a list of large firms only needs no
    column saying they are large) or ``unknown`` (the figure is not recomputed, and the review
    says so)."""


class EvidenceFigure(Strict):
    """``[[evidence.figures]]``: how one declared figure of the summary is recomputed from a list.

    ``count``: the rows passing ``where``; ``sum``: the sum of ``of`` over them; ``share``:
    100 × the rows passing ``where`` ÷ the rows passing ``base``; ``ratio``: 100 × the sum of
    ``of`` over ``where`` ÷ the sum of ``per`` over ``base``.  An empty filter list takes
    every row."""

    field: Text
    """The summary field (``[fields.<id>]``) whose declared value is checked."""
    aggregate: Literal["count", "sum", "share", "ratio"]
    of: Text | None = None
    """``sum``, ``ratio``: the list field summed (the numerator of a ratio)."""
    per: Text | None = None
    """``ratio``: the list field summed for the denominator."""
    where: list[EvidenceFilter] = []
    """The rows counted or summed (the numerator of a share or ratio)."""
    base: list[EvidenceFilter] = []
    """``share``, ``ratio``: the rows of the denominator (empty: every row)."""
    tolerance: float | None = Field(default=None, ge=0)
    """The difference allowed, in the summary field's unit (default ``[evidence].tolerance``)."""
    relative: float | None = Field(default=None, ge=0, le=1)
    """The difference allowed as a share of the recomputed figure (default ``[evidence].relative``);
    the larger of the two allowances applies."""
    clause: Text | None = None
    """Cited by the findings (default ``[evidence].clause``)."""
    applies_to: list[str] = []
    """Types (values of the type role) the figure applies to; empty: all."""


class EvidenceTable(Strict):
    """``[evidence]``: the enterprise lists behind the declared figures (据实填报), how they are
    recognised and how each declared figure is recomputed from them."""

    title: Text
    """What a list is called in every output (the cluster's list of its large firms)."""
    clause: Text
    """The clause a declared figure that differs from its list is cited under (truthful reporting)."""
    request_clause: Text | None = None
    """The clause asking for the lists (supporting material), cited with lists that cannot be used."""
    tolerance: float = Field(default=0, ge=0)
    """The difference allowed by default, in each summary field's unit."""
    relative: float = Field(default=0, ge=0, le=1)
    """The difference allowed by default as a share of the recomputed figure."""
    exclusive: Literal["none", "applications", "cities"] = "applications"
    """Whether a firm (by credit code) may be counted by two applications: ``applications``
    never, ``cities`` not by applications of two cities, ``none`` no rule."""
    exclusive_clause: Text | None = None
    """Cited with a firm counted twice (default ``clause``)."""
    detect_fields: list[str] = []
    """List fields a header must name, besides the firm role, to be taken for a list (default:
    the credit-code role)."""
    roles: EvidenceRoles = EvidenceRoles()
    fields: dict[str, FieldSpec] = Field(min_length=1)
    """``[evidence.fields.<id>]``: the columns of a list, recognised like the summary's fields."""
    figures: list[EvidenceFigure] = Field(min_length=1)
DecisionKind = Literal["false_material", "revoked", "evaluation", "title", "subsidy_paid", "recognised",
                       "downgraded"]
Status = Literal["eligible", "needs_review", "incomplete", "ineligible", "over_quota"]


class DecisionClauses(Strict):
    """``[history.decisions]``: the decisions staff may record for this program (``sdbatch decide``),
    each with the clause it cites unless the entry names another.  A kind left out cannot be
    recorded for the program."""

    false_material: Text | None = None
    """False material found (the cluster notice's clause on truthful material; the parks' revocation
    clause, item 3)."""
    revoked: Text | None = None
    """Recognition or title revoked, with its reason (parks: three years without passing, or one of
    the revocation clause's items)."""
    evaluation: Text | None = None
    """The performance evaluation's result, pass or fail (parks)."""
    title: Text | None = None
    """A title granted after passing the evaluation (parks)."""
    subsidy_paid: Text | None = None
    """A subsidy paid: amount (in 10,000 yuan) and date (parks)."""
    recognised: Text | None = None
    """The tier the department recognised in a round, when it differs from the run's result (parks);
    without one, a round's result counts (see ``[history.evaluation].statuses``)."""
    downgraded: Text | None = None
    """Downgraded to a lower tier (parks): the new tier counts from the decision's date."""


class BanRule(Strict):
    """``[[history.bans]]``: a decision that bars the applicant from the program for some years."""

    decision: Literal["false_material", "revoked"]
    """The kind of decision that brings the ban."""
    years: int = Field(ge=1)
    """How long, from the decision's date (clusters: 3; parks: 2)."""
    clause: Text
    """The clause the ban cites."""
    text: Text
    """The ban's origin in general terms, in Chinese (a city may read it)."""
    clauses: list[Text] = []
    """Only decisions citing one of these clauses (or a sub-item of one) bring the ban; empty: every
    decision of the kind (parks: a revocation for three years without passing brings none)."""


class EvaluationTable(Strict):
    """``[history.evaluation]``: the construction period and the performance evaluation (parks
    第十四条、第十五条)."""

    clause: Text
    """The evaluation's clause."""
    due_years: int = Field(default=2, ge=1)
    """Years after recognition when the evaluation is due (the construction period)."""
    deadline_years: int = Field(default=3, ge=1)
    """Years after recognition without a passed evaluation after which downgrade or revocation is
    proposed, with the subsidy paid to recover."""
    deadline_clause: Text
    """The clause of that proposal."""
    statuses: list[Status] = ["eligible"]
    """A round's result with a tier counts as recognition for these statuses (a ``recognised``
    decision overrides it)."""


class UpgradeTable(Strict):
    """``[history.upgrade]``: applying for a higher tier (parks 第十六条)."""

    clause: Text
    order: list[Text] = Field(min_length=2)
    """The tiers, lowest first."""
    from_tiers: list[Text] = Field(min_length=1)
    """The tiers whose holders may apply for a higher one."""
    declared_field: Text | None = None
    """A field where the city states the tier the applicant holds (checked against the ledger)."""


class YearOverYear(Strict):
    """``[history.yoy]``: a declared figure that jumps from the same applicant's previous round."""

    factor: float = Field(gt=1)
    """A finding when new ÷ old or old ÷ new exceeds this."""
    clause: Text
    fields: list[Text] = []
    """The numeric fields compared; empty: every numeric field that plays no role."""
    min_value: float = Field(default=0.0, ge=0)
    """Values at or below this (in the field's unit) are not compared."""
    effect: Literal["", "needs_review"] = "needs_review"
    """The status the finding gives; empty: none (a warning only)."""


class HistoryTable(Strict):
    """``[history]``: what the ledger keeps across the rounds of a program and what the rules do with
    it (issue 19, :mod:`sdbatch.history`)."""

    family: Text
    """Rounds with the same family share their history (bans, evaluations, previous figures):
    next year's rules file keeps this value."""
    title: Text
    """The program across its rounds, as people name it (in Chinese)."""
    decisions: DecisionClauses = DecisionClauses()
    bans: list[BanRule] = []
    evaluation: EvaluationTable | None = None
    upgrade: UpgradeTable | None = None
    yoy: YearOverYear | None = None


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
    evidence: EvidenceTable | None = None
    history: HistoryTable | None = None


ROOT = root_of(RulesFile)


# ----------------------------------------------------------------------------- parsing in parts
@dataclass
class Parts:
    """The tables of a file that parsed, each on its own (a mapping or array of tables entry by
    entry), for the checks across tables: a table with a type error is left out, so that one
    mistake is reported once, at its place, and does not hide the other problems."""

    raw: Mapping[str, Any]
    tables: dict[str, Any] = field(default_factory=dict)  # name -> parsed table (None: it did not parse)
    items: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)  # arrays: (index, parsed item)
    field_ids: set[str] = field(default_factory=set)  # every field named, parsed or not

    def get(self, name: str) -> Any:
        return self.tables.get(name)

    @property
    def fields(self) -> dict[str, FieldSpec]:
        return self.tables.get("fields") or {}

    @property
    def conditions(self) -> list[tuple[int, ConditionSpec]]:
        return self.items.get("conditions", [])


def parse_parts(raw: Mapping[str, Any]) -> Parts:
    parts = Parts(raw)
    fields = raw.get("fields")
    parts.field_ids = {str(k) for k in fields} if isinstance(fields, dict) else set()
    for name, info in RulesFile.model_fields.items():
        if name not in raw:
            parts.tables[name] = None if info.is_required() else info.get_default(call_default_factory=True)
            continue
        value, annotation = raw[name], strip_annotation(info.annotation)
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is dict:
            entries = value.items() if isinstance(value, dict) else ()
            parsed = {str(k): _try(args[1], v) for k, v in entries}
            parts.tables[name] = {k: v for k, v in parsed.items() if v is not None}
        elif origin is list:
            items = [(i, _try(args[0], v)) for i, v in enumerate(value)] if isinstance(value, list) else []
            parts.items[name] = [(i, v) for i, v in items if v is not None]
            parts.tables[name] = [v for _, v in parts.items[name]]
        else:
            parts.tables[name] = _try(annotation, value)
    return parts


def _try(model: Any, value: Any) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError:
        return None


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
    section: str = ""  # the program's own table, for its checks' places
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


def resolve_evidence_roles(table: EvidenceTable) -> dict[str, str]:
    """role -> list field id: as written in ``[evidence.roles]``, else the default id when it is a
    list field."""
    out: dict[str, str] = {}
    for role in EVIDENCE_ROLE_TYPES:
        explicit = getattr(table.roles, role)
        if explicit:
            out[role] = explicit
        elif EVIDENCE_ROLE_DEFAULTS[role] in table.fields:
            out[role] = EVIDENCE_ROLE_DEFAULTS[role]
    return out


def _check_evidence(ctx: Context) -> None:
    table: EvidenceTable | None = ctx.parts.get("evidence")
    if table is None:
        return
    here: Loc = ("evidence",)
    lists = table.fields

    def evidence_problem(loc: Loc, what: str, **params: Any) -> None:
        ctx.problems.append(Problem(loc, f"evidence.{what}", params))

    def need_list_field(loc: Loc, fid: str, types: frozenset[str] | None = None) -> FieldSpec | None:
        spec = lists.get(fid)
        if spec is None:
            evidence_problem(loc, "unknown_list_field", field=fid, known=", ".join(lists) or "-")
            return None
        if types is not None and spec.type not in types:
            evidence_problem(loc, "list_field_type", field=fid, type=spec.type, expected=", ".join(sorted(types)))
            return None
        return spec

    roles = resolve_evidence_roles(table)
    for role, fid in table.roles.model_dump(exclude_none=True).items():
        need_list_field((*here, "roles", role), fid, EVIDENCE_ROLE_TYPES[role])
    if "firm" not in roles:
        evidence_problem((*here, "roles"), "firm_missing", default=EVIDENCE_ROLE_DEFAULTS["firm"])
    if table.exclusive != "none" and "uscc" not in roles:
        evidence_problem((*here, "exclusive"), "exclusive_without_uscc")
    for i, fid in enumerate(table.detect_fields):
        need_list_field((*here, "detect_fields", i), fid)
    for fid, spec in lists.items():
        where: Loc = (*here, "fields", fid)
        if spec.type == "choice" and spec.choices not in ctx.choices:
            ctx.add((*where, "choices"), "choices_missing", table=spec.choices or "",
                    known=", ".join(ctx.choices) or "-")
        if spec.type == "amount":
            from sdbatch.text import AMOUNT_UNITS

            if spec.unit not in AMOUNT_UNITS:
                ctx.add((*where, "unit"), "amount_unit", unit=spec.unit or "", units=join(AMOUNT_UNITS))
        for i, part in enumerate(spec.parts):
            need_list_field((*where, "parts", i), part, NUMERIC_TYPES)
        for key in ("derive", "applies_to", "required"):
            if key in (ctx.parts.raw.get("evidence", {}).get("fields", {}).get(fid) or {}):
                evidence_problem((*where, key), "list_field_key", key=key)
    types = ctx.role_choices("type")
    for i, fig in enumerate(table.figures):
        where = (*here, "figures", i)
        ctx.need_field((*where, "field"), fig.field, NUMERIC_TYPES)
        summary = ctx.fields.get(fig.field)
        _check_applies_to(ctx, (*where, "applies_to"), fig.applies_to, types)
        needs_of = fig.aggregate in ("sum", "ratio")
        if needs_of and not fig.of:
            evidence_problem(where, "needs_of", aggregate=fig.aggregate)
        if fig.of and not needs_of:
            evidence_problem((*where, "of"), "unused_key", key="of", aggregate=fig.aggregate)
        if fig.of:
            need_list_field((*where, "of"), fig.of, NUMERIC_TYPES)
        if fig.aggregate == "ratio" and not fig.per:
            evidence_problem(where, "needs_per")
        if fig.per and fig.aggregate != "ratio":
            evidence_problem((*where, "per"), "unused_key", key="per", aggregate=fig.aggregate)
        if fig.per:
            need_list_field((*where, "per"), fig.per, NUMERIC_TYPES)
        if fig.base and fig.aggregate not in ("share", "ratio"):
            evidence_problem((*where, "base"), "unused_key", key="base", aggregate=fig.aggregate)
        if summary is not None and fig.aggregate in ("share", "ratio") and summary.type != "ratio":
            evidence_problem((*where, "field"), "share_not_ratio", field=fig.field, type=summary.type)
        if summary is not None and fig.aggregate == "sum" and fig.of and fig.of in lists:
            of = lists[fig.of]
            if (of.type == "amount") != (summary.type == "amount"):
                evidence_problem((*where, "of"), "sum_type", field=fig.of, type=of.type, summary=summary.type)
        for key in ("where", "base"):
            for j, flt in enumerate(getattr(fig, key)):
                loc: Loc = (*where, key, j)
                if flt.any_of:
                    if flt.field is not None or flt.op is not None:
                        ctx.add(loc, "field_and_any_of")
                    for k, alt in enumerate(flt.any_of):
                        _check_evidence_test(ctx, (*loc, "any_of", k), alt.field, alt.op, alt.value, alt.threshold,
                                             need_list_field, evidence_problem)
                elif flt.field is None:
                    ctx.add(loc, "no_field")
                elif flt.op is None:
                    ctx.add(loc, "no_op", field=flt.field)
                else:
                    _check_evidence_test(ctx, loc, flt.field, flt.op, flt.value, flt.threshold, need_list_field,
                                         evidence_problem)


def _check_evidence_test(ctx: Context, loc: Loc, fid: str, op: str, value: Any, threshold: float | None,
                         need_list_field: Callable[..., FieldSpec | None],
                         evidence_problem: Callable[..., None]) -> None:
    spec = need_list_field((*loc, "field"), fid)
    if spec is None:
        return
    if op in COMPARISONS:
        if threshold is None:
            ctx.add(loc, "no_threshold", field=fid, op=op)
        elif spec.type not in NUMERIC_TYPES:
            ctx.add((*loc, "op"), "not_numeric", field=fid, type=spec.type)
    elif op == "==":
        if value is None:
            ctx.add(loc, "no_value", field=fid)
        elif spec.type == "bool" and not isinstance(value, bool):
            ctx.add((*loc, "value"), "bool_value", field=fid)
        elif spec.type in NUMERIC_TYPES and (isinstance(value, bool) or not isinstance(value, (int, float))):
            ctx.add((*loc, "value"), "number_value", field=fid)
    elif op == "same_as":
        summary = ctx.fields.get(value) if isinstance(value, str) else None
        if summary is None:
            evidence_problem((*loc, "value"), "same_as_field", value=show_value(value))
        elif spec.type != "choice" or summary.type != "choice" or spec.choices != summary.choices:
            evidence_problem((*loc, "op"), "same_as_choices", field=fid, summary=str(value))


def show_value(value: Any) -> str:
    from sdbatch.tomlschema import show

    return show(value)
def _check_history(ctx: Context) -> None:
    history: HistoryTable | None = ctx.parts.get("history")
    if history is None:
        return
    if ctx.parts.field_ids and "applicant_id" not in ctx.roles:
        ctx.add(("program", "roles"), "history_without_id", default=ROLE_DEFAULTS["applicant_id"])
    enabled = {k for k, v in history.decisions.model_dump().items() if v}
    for i, ban in enumerate(history.bans):
        if ban.decision not in enabled:
            ctx.add(("history", "bans", i, "decision"), "decision_not_enabled", kind=ban.decision)
    evaluation = history.evaluation
    if evaluation is not None:
        if evaluation.deadline_years < evaluation.due_years:
            ctx.add(("history", "evaluation", "deadline_years"), "deadline_before_due",
                    deadline=evaluation.deadline_years, due=evaluation.due_years)
        if "evaluation" not in enabled:
            ctx.add(("history", "evaluation"), "decision_not_enabled", kind="evaluation")
    upgrade = history.upgrade
    if upgrade is not None:
        seen: set[str] = set()
        for i, tier in enumerate(upgrade.order):
            if tier in seen:
                ctx.add(("history", "upgrade", "order", i), "duplicate", value=tier)
            seen.add(tier)
        for i, tier in enumerate(upgrade.from_tiers):
            if tier not in upgrade.order:
                ctx.add(("history", "upgrade", "from_tiers", i), "not_in_order", value=tier,
                        order=join(upgrade.order))
        if upgrade.declared_field:
            ctx.need_field(("history", "upgrade", "declared_field"), upgrade.declared_field,
                           frozenset({"text", "choice"}))
    if history.yoy is not None:
        for i, fid in enumerate(history.yoy.fields):
            ctx.need_field(("history", "yoy", "fields", i), fid, NUMERIC_TYPES)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


_CHECKS: list[Callable[[Context], None]] = [_check_program, _check_choices, _check_fields, _check_conditions,
                                            _check_quota, _check_relaxation, _check_score, _check_evidence,
                                            _check_history]


def section_problems(model: Any, value: Any, section: str) -> tuple[Any, list[Problem]]:
    """A program's own table validated by its model: (the instance or None, problems)."""
    try:
        return model.model_validate(value), []
    except ValidationError as exc:
        return None, problems_of(exc, root_of(model), prefix=(section,))
