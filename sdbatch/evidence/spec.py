"""A round's ``[evidence]`` table as the evidence stage reads it.

:func:`spec_of` turns the validated table (:class:`~sdbatch.rules_schema.EvidenceTable`) into an
:class:`EvidenceSpec`: the list fields as :class:`~sdbatch.rules.FieldRule` objects (so that the
summary's header recognition reads a list's header too), their roles and the figures.
``view`` is the round's :class:`~sdbatch.rules.Rules` with the list fields in place of the
summary's: what :func:`sdbatch.header.find_table` and :func:`sdbatch.header.match_header` take.
"""

from __future__ import annotations

import dataclasses
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sdbatch.rules import FieldRule, Rules

if TYPE_CHECKING:
    from sdbatch.rules_schema import EvidenceFigure, EvidenceTable


@dataclass(frozen=True, eq=False)
class EvidenceSpec:
    rules: Rules  # the round
    table: EvidenceTable
    fields: dict[str, FieldRule]  # list field id -> rule
    roles: dict[str, str]  # role (firm, uscc, application, city) -> list field id
    view: Rules  # the round with the list fields in place of the summary's (header recognition)

    @property
    def title(self) -> str:
        return self.table.title

    @property
    def figures(self) -> list[EvidenceFigure]:
        return list(self.table.figures)

    def role(self, name: str) -> str | None:
        return self.roles.get(name)

    @property
    def detect_fields(self) -> tuple[str, ...]:
        """Fields a header must name, besides the firm, to be taken for a list."""
        if self.table.detect_fields:
            return tuple(self.table.detect_fields)
        uscc = self.roles.get("uscc")
        return (uscc,) if uscc else ()

    def label(self, field_id: str | None) -> str:
        rule = self.fields.get(field_id or "")
        return rule.label if rule else (field_id or "")

    def needed(self) -> list[str]:
        """The list fields read from a list: roles, and every field a figure uses (with parts)."""
        out = dict.fromkeys(self.roles.values())
        for fig in self.table.figures:
            for fid in (fig.of, fig.per):
                if fid:
                    out[fid] = None
            for flt in [*fig.where, *fig.base]:
                tests: list[Any] = list(flt.any_of) or [flt]
                for test in tests:
                    if test.field:
                        out[test.field] = None
        for fid in list(out):
            rule = self.fields.get(fid)
            if rule is not None:
                for part in rule.parts:
                    out[part] = None
        return [f for f in out if f in self.fields]


_SPECS: weakref.WeakKeyDictionary[Rules, EvidenceSpec | None] = weakref.WeakKeyDictionary()


def spec_of(rules: Rules) -> EvidenceSpec | None:
    """The round's evidence lists, or None when its rules file has no ``[evidence]`` table."""
    if rules in _SPECS:
        return _SPECS[rules]
    table = rules.spec.evidence if rules.spec is not None else None
    spec = None if table is None else _build(rules, table)
    _SPECS[rules] = spec
    return spec


def _build(rules: Rules, table: EvidenceTable) -> EvidenceSpec:
    from sdbatch.rules_schema import resolve_evidence_roles

    fields = {fid: FieldRule(
        id=fid, label=f.label, type=f.type, unit=f.unit, aliases=tuple(f.aliases),
        keywords=tuple(tuple(group) for group in f.keywords), exclude=tuple(f.exclude), clause=f.clause,
        parts=tuple(f.parts), choices=f.choices, plausible_max=f.plausible_max,
    ) for fid, f in table.fields.items()}
    roles = resolve_evidence_roles(table)
    view = dataclasses.replace(rules, fields=fields, conditions=(), detect_fields=(), roles=_view_roles(roles))
    return EvidenceSpec(rules=rules, table=table, fields=fields, roles=roles, view=view)


def _view_roles(roles: dict[str, str]) -> dict[str, Any]:
    # The summary stages know roles by their own names: the firm is the list's "name".
    out: dict[str, Any] = {}
    if "firm" in roles:
        out["name"] = roles["firm"]
    if "city" in roles:
        out["city"] = roles["city"]
    return out
