"""The parks' own table of a rules file (``[park]``), validated as strictly as the rest.

:class:`ParkSection` is the ``section_model`` of :class:`~sdbatch.programs.park.ParkProgram`: the
loader validates ``[park]`` with it (types, unknown keys, defaults) and then calls
:meth:`ParkSection.check_references` for what spans tables: tier names unique, a tier's aspect
count within the aspects there are, aspects built from groups that exist, indicator codes unique
and matching ``code_pattern``, indicator types among the park types (the values of the type role's
choices), per-type maxima naming those types.

An indicator's maximum is one number for every park type (``max = 5``) or one per type
(``max = { "数字产业化园区" = 2.5, "产业数字化园区" = 2 }``).  Without ``max`` the points the round's
score sheets state (a 分值 / 满分 / 标准分 row or column) apply, and only when nothing states them
``[park.scoring].default_max`` (see ``sdbatch/programs/park_points.py``).  When every indicator of a
type has its ``max``, they must add up to ``[park.scoring].points_total``.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator
from pydantic_core import PydanticCustomError

from sdbatch.catalogue import join
from sdbatch.text import vocabulary
from sdbatch.tomlschema import Loc, Problem, Strict, Text

if TYPE_CHECKING:
    from sdbatch.rules_schema import Context

Status = Literal["eligible", "needs_review", "incomplete", "ineligible", "over_quota"]


def _words(key: str) -> Any:
    """A default list of words from ``[scores]`` of vocabulary.toml."""
    return lambda: list(vocabulary()["scores"][key])


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def _maximum(value: Any) -> Any:
    """``5`` or ``{ "数字产业化园区" = 2.5, "产业数字化园区" = 2 }``: positive finite numbers."""
    if _positive(value):
        return float(value)
    if isinstance(value, dict) and value and all(isinstance(k, str) and _positive(v) for k, v in value.items()):
        return {k: float(v) for k, v in value.items()}
    raise PydanticCustomError("max_type", "maximum")


Maximum = Annotated[float | dict[str, float], BeforeValidator(_maximum)]


class TierSpec(Strict):
    """``[[park.tiers]]``: 第九条 a tier's score line and aspect count; 第十条 its subsidy ceiling."""

    name: Text
    min_score: float = Field(ge=0, le=100)
    """The score line (of 100)."""
    min_aspects: int = Field(default=0, ge=0)
    """How many aspects must be excellent (at most the number of ``[park.aspects]``)."""
    ceiling: float = Field(default=0.0, ge=0)
    """The subsidy ceiling in 10,000 yuan; 0: no subsidy."""


class WholeZone(Strict):
    """``[park.whole_zone]``: 第五条(五) a name that packs a whole 高新区/开发区."""

    clause: str = ""
    severity: Literal["error", "warning", "info"] = "warning"
    effect: Literal["", "needs_review", "ineligible", "incomplete"] = ""
    """The status the finding gives; empty: none (a warning only)."""
    zone_words: list[Text] = []
    """A name ending with one of these (after ``generic_endings`` are removed) packs a whole zone."""
    generic_endings: list[Text] = []


class Scoring(Strict):
    """``[park.scoring]``: reading score sheets and aggregating the raters (第六条、第八条)."""

    default_max: float = Field(default=10.0, gt=0)
    """The points of an indicator neither the rules file nor any score sheet gives points (totals are
    then brought to 100); every output says when it was used."""
    points_total: float = Field(default=100.0, gt=0)
    """What each park type's maxima add up to (the tiers' score lines are out of 100).  Maxima that add
    up to something else are reported; totals are always brought to 100."""
    sheet_points: Literal["use", "check"] = "use"
    """Points the score sheets state (a row or column labelled with one of ``max_words``): "use" them for the
    indicators without ``max`` here; "check": only compare them with the rules file and each other."""
    points_tie: Literal["highest", "lowest"] = "highest"
    """The expert sheets state an indicator's points differently and no value has a majority: the
    highest (no expert's points within one sheet's maximum are cut) or the lowest stated value."""
    decimals: int = Field(default=2, ge=0, le=6)
    """Totals and aspect shares are rounded to this before any comparison."""
    code_pattern: str = "^L([1-9])P([0-9]{1,2})"
    """An indicator code; its first group is the indicator's group number (``L<n>``)."""
    min_codes: int = Field(default=5, ge=1)
    """A sheet naming at least this many codes is a score sheet."""
    trim_min_experts: int = Field(default=5, ge=1)
    """With at least this many experts the highest and lowest ``trim_each`` values are dropped."""
    trim_each: int = Field(default=1, ge=0)
    few_raters_share: float = Field(default=0.5, ge=0, le=1)
    """A park scored by fewer than this share of the round's experts is reported (its score rests on few)."""
    trim_by: Literal["indicator", "total"] = "indicator"
    """What is trimmed: each indicator's highest and lowest values (``indicator``), or the experts
    with the highest and lowest totals, whose points then count for no indicator (``total``)."""
    disagreement_share: float = Field(default=0.5, ge=0)
    """Experts disagree on an indicator when highest − lowest exceeds this share of its maximum."""
    disagreement_total_points: float = Field(default=20.0, ge=0)
    """...or on the totals when they differ by more than this."""
    city_gap_points: float = Field(default=10.0, ge=0)
    """A gap between the experts' total and the city's preliminary score above this is reported."""
    city_markers: list[Text] = Field(default_factory=_words("city_markers"))
    expert_markers: list[Text] = Field(default_factory=_words("expert_markers"))
    max_words: list[Text] = Field(default_factory=_words("max_words"))
    blank_words: list[str] = Field(default_factory=_words("blanks"))
    name_headers: list[Text] = Field(default_factory=_words("name_headers"))
    rater_headers: list[Text] = Field(default_factory=_words("rater_headers"))
    label_headers: list[Text] = Field(default_factory=_words("label_headers"))
    city_headers: list[Text] = Field(default_factory=_words("city_headers"))
    total_words: list[Text] = Field(default_factory=_words("total_words"))
    note_words: list[Text] = Field(default_factory=_words("note_words"))
    """A name cell starting with one of these (then ``:`` or nothing) is a note below the table."""
    name_endings: list[Text] = Field(default_factory=_words("name_endings"))
    """Endings a score sheet may add to or leave out of a park's name (a pilot's ending)."""
    missing_codes: list[Text] = []
    """Codes the scoring standard skips (a score given for one is reported, not counted)."""

    @field_validator("code_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise PydanticCustomError("regex", "regex", {"detail": str(exc)}) from None
        if compiled.groups < 1:
            raise PydanticCustomError("regex_groups", "regex groups")
        return value


class Excellent(Strict):
    """``[park.excellent]``: 第九条 表现优异 = an aspect's points ÷ its maximum at least ``share``."""

    share: float = Field(default=0.75, gt=0, le=1)
    """An aspect is excellent when its points ÷ its maximum reach this."""


class Subsidy(Strict):
    """``[park.subsidy]``: 第十条 ceilings and the 绿色门槛; 第十一条 the allocation method."""

    green_field: Text = "green_threshold"
    """A yes/no field: no subsidy unless it is yes."""
    statuses: list[Status] = ["eligible", "needs_review"]
    """The statuses that are given a tier and a subsidy."""
    method: Literal["proportional"] = "proportional"
    leftover: Literal["largest_remainder", "none"] = "largest_remainder"
    """Whole units lost to rounding: one each to the largest remainders, or left unallocated."""
    method_text: str = ""
    """The method in Chinese, shown with the allocation."""


class Release(Strict):
    """``[park.release]``: what a city receives of the department's decision (第九条、第十条)."""

    results: bool = True
    """The tier (or that the park is not recognised) and the subsidy ceiling go to the city's review
    and e-mail; false: the city gets its status and what it must fix, and is told the result follows."""


class IndicatorSpec(Strict):
    """One indicator of the 评分标准: code, name, the park types it applies to (√), its maximum."""

    code: Text
    name: Text | None = None
    group: Text | None = None
    """Default: ``L<n>`` from the code."""
    types: list[Text] = []
    """The park types it applies to (the √ of the standard); default: every type."""
    max: Maximum | None = None
    """Its points: one number, or one per park type; default ``[park.scoring].default_max``."""


class Standard(Strict):
    indicators: list[IndicatorSpec] = []


class ParkSection(Strict):
    """``[park]``: everything the park program reads from the rules file."""

    clause_scoring: str = ""
    clause_city_score: str = ""
    """The clause of the city's preliminary score."""
    clause_tier: str = ""
    clause_subsidy: str = ""
    clause_allocation: str = ""
    whole_zone: WholeZone | None = None
    scoring: Scoring = Scoring()
    groups: dict[str, Text] = {}
    """Group (``L<n>``) -> its name."""
    aspects: dict[str, list[Text]] = {}
    """Aspect -> the groups it is made of."""
    excellent: Excellent = Excellent()
    tiers: list[TierSpec] = []
    subsidy: Subsidy = Subsidy()
    release: Release = Release()
    standard: Standard = Standard()

    def group_of(self, spec: IndicatorSpec) -> str:
        match = re.match(self.scoring.code_pattern, spec.code.upper())
        return spec.group or (f"L{match.group(1)}" if match else "")

    # ------------------------------------------------------------------ checks across tables
    def check_references(self, ctx: Context) -> list[Problem]:
        out: list[Problem] = []

        def add(loc: Loc, key: str, **params: Any) -> None:
            out.append(Problem((ctx.section, *loc), f"refs.{key}", params))

        names: set[str] = set()
        for i, tier in enumerate(self.tiers):
            if tier.name in names:
                add(("tiers", i, "name"), "duplicate", value=tier.name)
            names.add(tier.name)
            if tier.min_aspects > len(self.aspects):
                add(("tiers", i, "min_aspects"), "min_aspects", value=tier.min_aspects, count=len(self.aspects))
        for aspect, groups in self.aspects.items():
            for j, group in enumerate(groups):
                if group not in self.groups:
                    add(("aspects", aspect, j), "unknown_group", group=group)
        if "type" not in ctx.roles:
            out.append(Problem(("program", "roles"), "refs.applies_to_without_type"))
        types = ctx.role_choices("type")
        codes: set[str] = set()
        pattern = re.compile(self.scoring.code_pattern)
        for i, ind in enumerate(self.standard.indicators):
            where: Loc = ("standard", "indicators", i)
            code = ind.code.upper()
            if code in codes:
                add((*where, "code"), "duplicate", value=ind.code)
            codes.add(code)
            if not pattern.match(code):
                add((*where, "code"), "code_pattern", code=ind.code, pattern=self.scoring.code_pattern)
            elif self.groups and self.group_of(ind) not in self.groups:
                add((*where, "group") if ind.group else (*where, "code"), "unknown_group", group=self.group_of(ind))
            if types is not None:
                for j, ptype in enumerate(ind.types):
                    if ptype not in types:
                        add((*where, "types", j), "not_a_type", value=ptype, types=join(types))
                if isinstance(ind.max, dict):
                    for ptype in ind.max:
                        if ptype not in types:
                            add((*where, "max", ptype), "not_a_type", value=ptype, types=join(types))
                    for ptype in ind.types or types:
                        if ptype in types and ptype not in ind.max:
                            add((*where, "max"), "max_missing_type", type=ptype)
        if types is not None:
            out += self._points_sums(ctx, types)
        history = ctx.parts.get("history")  # [history.upgrade].order names these tiers (issue 19)
        upgrade = getattr(history, "upgrade", None)
        if upgrade is not None and names:
            for i, tier in enumerate(upgrade.order):
                if tier not in names:
                    out.append(Problem(("history", "upgrade", "order", i), "refs.unknown_tier",
                                       {"tier": tier, "tiers": join(t.name for t in self.tiers)}))
        if "green_field" in self.subsidy.model_fields_set:
            out += ctx.field_problems((ctx.section, "subsidy", "green_field"), self.subsidy.green_field,
                                      frozenset({"bool"}))
        return out

    def _points_sums(self, ctx: Context, types: tuple[str, ...] | list[str]) -> list[Problem]:
        """A type whose every indicator has its ``max`` here: the maxima add up to ``points_total``."""
        out: list[Problem] = []
        total = self.scoring.points_total
        for ptype in types:
            applicable = [ind for ind in self.standard.indicators if ptype in (ind.types or types)]
            if not applicable or any(ind.max is None for ind in applicable):
                continue
            points = sum(ind.max.get(ptype, 0.0) if isinstance(ind.max, dict) else float(ind.max)
                         for ind in applicable if ind.max is not None)
            if abs(points - total) > 1e-6:
                out.append(Problem((ctx.section, "standard", "indicators"), "refs.points_sum",
                                   {"type": ptype, "sum": round(points, 4), "total": total,
                                    "count": len(applicable)}))
        return out
