"""The ``[park]`` tables of a rules file in the shape the park steps use.

:func:`settings_of` builds a :class:`Settings` from the validated
:class:`~sdbatch.programs.park_rules.ParkSection` and the round's roles (the park type field and its
choices).  Nothing here reads a file or holds a word of its own: numbers, clauses and words come
from the rules file, the vocabulary and ui.toml.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from sdbatch.rules import Rules
from sdbatch.text import cell_text, squash


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    group: str
    types: tuple[str, ...]
    max: float  # the maximum the rules file gives (with one per type: the highest); default_max without
    explicit: bool  # max written in the rules file (False: no points in the rules file)
    max_by_type: Mapping[str, float] = dc_field(default_factory=dict)  # park type -> maximum, when they differ

    def max_for(self, park_type: str | None) -> float:
        """The indicator's maximum in the rules file for a park of ``park_type``."""
        return self.max_by_type.get(park_type or "", self.max)


@dataclass(frozen=True)
class Tier:
    name: str
    min_score: float
    min_aspects: int
    ceiling: float  # 万元; 0 = no subsidy


@dataclass(frozen=True)
class Settings:
    """The ``[park]`` tables of a rules file (:class:`~sdbatch.programs.park_rules.ParkSection`, as
    validated by the loader) with the round's roles, in the shape the steps use."""

    type_field: str
    name_field: str
    city_score_field: str | None
    cities: tuple[str, ...]
    park_types: tuple[str, ...]
    #: park type -> the words that name it in a sheet's title, a label or a header (squashed)
    type_words: Mapping[str, tuple[str, ...]]
    clause_scoring: str
    clause_city_score: str
    clause_tier: str
    clause_subsidy: str
    clause_allocation: str
    indicators: dict[str, Indicator]
    groups: dict[str, str]
    aspects: dict[str, tuple[str, ...]]
    excellent_share: float
    tiers: tuple[Tier, ...]
    default_max: float
    points_total: float
    sheet_points: str
    points_tie: str
    decimals: int
    code_re: re.Pattern[str]
    min_codes: int
    trim_min_experts: int
    trim_each: int
    trim_by: str
    few_raters_share: float
    disagreement_share: float
    disagreement_total_points: float
    city_gap_points: float
    city_markers: tuple[str, ...]
    expert_markers: tuple[str, ...]
    max_words: tuple[str, ...]
    blank_words: frozenset[str]
    name_headers: tuple[str, ...]
    rater_headers: tuple[str, ...]
    label_headers: tuple[str, ...]
    city_headers: tuple[str, ...]
    total_words: tuple[str, ...]
    note_words: tuple[str, ...]
    name_endings: tuple[str, ...]
    missing_codes: tuple[str, ...]
    whole_zone: dict[str, Any]
    green_field: str
    statuses: tuple[str, ...]
    leftover: str
    method_text: str
    release_results: bool

    @property
    def points_defaulted(self) -> bool:
        """Whether the rules file leaves an indicator without points (the sheets or the default then
        give them: see :mod:`sdbatch.programs.park_points`)."""
        return any(not ind.explicit for ind in self.indicators.values())

    def applicable(self, park_type: str) -> list[Indicator]:
        return [ind for ind in self.indicators.values() if park_type in ind.types]

    def type_in(self, value: Any) -> str | None:
        """The one park type a text names (``分值（数字产业化园区）``, a sheet called ``产业数字化``), or
        None when it names none or both."""
        key = squash(cell_text(value))
        if not key:
            return None
        exact = [t for t, words in self.type_words.items() if key in words]
        if len(exact) == 1:
            return exact[0]
        # inside a longer text only words long enough not to occur by chance (数产 would)
        found = {t for t, words in self.type_words.items() if any(len(w) >= 4 and w in key for w in words)}
        return found.pop() if len(found) == 1 else None

    def is_type_word(self, value: Any) -> bool:
        """Whether a cell holds nothing but a park type (a header row of types, not park names)."""
        key = squash(cell_text(value))
        return bool(key) and any(key in words for words in self.type_words.values())


@functools.cache
def settings_of(rules: Rules) -> Settings:
    """The park settings of a loaded rules file (cached per Rules object)."""
    from sdbatch.programs.park_rules import ParkSection

    park = rules.section if isinstance(rules.section, ParkSection) else ParkSection()
    scoring = park.scoring
    choices = None
    if (f := rules.fields.get(rules.type_field or "")) is not None and f.choices in rules.choices:
        choices = rules.choices[f.choices]
    park_types = tuple(choices.allowed) if choices is not None else ()
    type_words = {t: tuple(dict.fromkeys(squash(w) for w in (t, *(choices.variants.get(t, ()) if choices else ()))))
                  for t in park_types}
    indicators: dict[str, Indicator] = {}
    for spec in park.standard.indicators:
        code = spec.code.upper()
        by_type = dict(spec.max) if isinstance(spec.max, dict) else {}
        single = spec.max if isinstance(spec.max, float) else scoring.default_max
        indicators[code] = Indicator(
            code=code, name=spec.name or code, group=park.group_of(spec), types=tuple(spec.types or park_types),
            max=max(by_type.values()) if by_type else single, explicit=spec.max is not None, max_by_type=by_type,
        )
    subsidy = park.subsidy
    return Settings(
        type_field=rules.type_field or "",
        name_field=rules.role("name") or "",
        city_score_field=rules.role("city_score"),
        cities=tuple(rules.jurisdiction.cities),
        park_types=park_types,
        type_words=type_words,
        clause_scoring=park.clause_scoring,
        clause_city_score=park.clause_city_score,
        clause_tier=park.clause_tier,
        clause_subsidy=park.clause_subsidy,
        clause_allocation=park.clause_allocation,
        indicators=indicators,
        groups=dict(park.groups),
        aspects={k: tuple(v) for k, v in park.aspects.items()},
        excellent_share=park.excellent.share,
        tiers=tuple(sorted((Tier(t.name, t.min_score, t.min_aspects, t.ceiling) for t in park.tiers),
                           key=lambda t: -t.min_score)),
        default_max=scoring.default_max,
        points_total=scoring.points_total,
        sheet_points=scoring.sheet_points,
        points_tie=scoring.points_tie,
        decimals=scoring.decimals,
        code_re=re.compile(scoring.code_pattern),
        min_codes=scoring.min_codes,
        trim_min_experts=scoring.trim_min_experts,
        trim_each=scoring.trim_each,
        trim_by=scoring.trim_by,
        few_raters_share=scoring.few_raters_share,
        disagreement_share=scoring.disagreement_share,
        disagreement_total_points=scoring.disagreement_total_points,
        city_gap_points=scoring.city_gap_points,
        city_markers=tuple(scoring.city_markers),
        expert_markers=tuple(scoring.expert_markers),
        max_words=tuple(scoring.max_words),
        blank_words=frozenset(scoring.blank_words),
        name_headers=tuple(scoring.name_headers),
        rater_headers=tuple(scoring.rater_headers),
        label_headers=tuple(scoring.label_headers),
        city_headers=tuple(scoring.city_headers),
        total_words=tuple(scoring.total_words),
        note_words=tuple(scoring.note_words),
        name_endings=tuple(scoring.name_endings),
        missing_codes=tuple(scoring.missing_codes),
        whole_zone=park.whole_zone.model_dump() if park.whole_zone is not None else {},
        green_field=subsidy.green_field,
        statuses=tuple(subsidy.statuses),
        leftover=subsidy.leftover,
        method_text=subsidy.method_text,
        release_results=park.release.results,
    )
