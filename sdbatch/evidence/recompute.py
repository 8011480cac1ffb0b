"""Each declared figure recomputed from an application's list, as the rules file defines it.

``count`` the rows passing ``where``; ``sum`` the sum of ``of`` over them; ``share`` 100 × the
rows passing ``where`` ÷ the rows passing ``base``; ``ratio`` 100 × Σ ``of`` (where) ÷ Σ ``per``
(base).  Work is on the list's columns (numpy): no object per row.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sdbatch.evidence.spec import EvidenceSpec
from sdbatch.model import Application
from sdbatch.text import AMOUNT_UNITS

if TYPE_CHECKING:
    from sdbatch.rules_schema import EvidenceFigure, EvidenceFilter, EvidenceTest

_COMPARE = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


class Unknown(Exception):
    """A figure that cannot be recomputed: the list lacks a column it needs."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__(", ".join(fields))
        self.fields = fields


@dataclass
class FigureResult:
    field: str
    declared: float | None
    recomputed: float | None
    allowance: float
    result: str  # match | mismatch | not_recomputed | not_declared
    counted: np.ndarray | None = None  # positions of the rows counted or summed (numerator)
    missing: list[str] = dc_field(default_factory=list)  # list fields the list lacks
    threshold_failed: dict[str, Any] | None = None  # the condition the recomputed figure fails

    @property
    def difference(self) -> float | None:
        if self.declared is None or self.recomputed is None:
            return None
        return round(self.declared - self.recomputed, 6)

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field, "declared": self.declared, "recomputed": self.recomputed,
            "difference": self.difference, "allowance": round(self.allowance, 6), "result": self.result,
            "rows_counted": int(len(self.counted)) if self.counted is not None else None,
            "missing_columns": list(self.missing),
            "fails_threshold": self.threshold_failed is not None,
        }


def applies(fig: EvidenceFigure, app: Application, spec: EvidenceSpec) -> bool:
    type_field = spec.rules.type_field
    return not fig.applies_to or (type_field is not None and app.values.get(type_field) in fig.applies_to)


def recompute(fig: EvidenceFigure, frame: pd.DataFrame, app: Application, spec: EvidenceSpec,
              once: np.ndarray | None = None) -> FigureResult:
    """``once``: the rows counted (a firm listed twice is counted once); None: every row."""
    declared = app.values.get(fig.field)
    if not isinstance(declared, (int, float)) or isinstance(declared, bool):
        declared = None
    tolerance = fig.tolerance if fig.tolerance is not None else spec.table.tolerance
    relative = fig.relative if fig.relative is not None else spec.table.relative
    try:
        value, counted = _value(fig, frame, app, spec, once)
    except Unknown as exc:
        return FigureResult(fig.field, declared, None, tolerance, "not_recomputed", missing=exc.fields)
    if value is None:
        return FigureResult(fig.field, declared, None, tolerance, "not_recomputed")
    value = round(value, 4)
    summary = spec.rules.fields.get(fig.field)
    if float(value).is_integer() and summary is not None and summary.type in ("count", "int"):
        value = int(value)
    allowance = max(tolerance, relative * abs(value))
    if declared is None:
        return FigureResult(fig.field, None, value, allowance, "not_declared", counted)
    result = "mismatch" if abs(declared - value) > allowance + 1e-9 else "match"
    return FigureResult(fig.field, declared, value, allowance, result, counted)


def _value(fig: EvidenceFigure, frame: pd.DataFrame, app: Application, spec: EvidenceSpec,
           once: np.ndarray | None) -> tuple[float | None, np.ndarray]:
    where = _mask(fig.where, frame, app, spec)
    if once is not None:
        where &= once
    counted = np.flatnonzero(where)
    summary = spec.rules.fields.get(fig.field)
    if fig.aggregate == "count":
        return float(where.sum()), counted
    if fig.aggregate == "sum":
        total = _sum(fig.of or "", where, frame, spec)
        factor = _unit_factor(spec.fields[fig.of or ""].unit, summary.unit if summary else None)
        return total * factor, counted
    base = _mask(fig.base, frame, app, spec)
    if once is not None:
        base &= once
    if fig.aggregate == "share":
        denominator = float(base.sum())
        return (100.0 * float(where.sum()) / denominator if denominator else None), counted
    numerator = _sum(fig.of or "", where, frame, spec) * _in_base(spec, fig.of)
    denominator = _sum(fig.per or "", base, frame, spec) * _in_base(spec, fig.per)
    return (100.0 * numerator / denominator if denominator else None), counted


def _sum(fid: str, mask: np.ndarray, frame: pd.DataFrame, spec: EvidenceSpec) -> float:
    if fid not in frame:
        raise Unknown([fid])
    values = np.asarray(frame[fid].to_numpy(dtype=float, na_value=np.nan))[mask]
    return float(np.nansum(values))


def _in_base(spec: EvidenceSpec, fid: str | None) -> float:
    unit = spec.fields[fid or ""].unit if fid in spec.fields else None
    return float(AMOUNT_UNITS.get(unit or "", 1.0))


def _unit_factor(list_unit: str | None, summary_unit: str | None) -> float:
    if list_unit in AMOUNT_UNITS and summary_unit in AMOUNT_UNITS and list_unit != summary_unit:
        return float(AMOUNT_UNITS[list_unit or ""]) / float(AMOUNT_UNITS[summary_unit or ""])
    return 1.0


def _mask(filters: list[EvidenceFilter], frame: pd.DataFrame, app: Application, spec: EvidenceSpec) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for flt in filters:
        tests: list[EvidenceTest | EvidenceFilter] = list(flt.any_of) if flt.any_of else [flt]
        present = [t for t in tests if t.field in frame]
        if not present:
            if flt.if_absent == "pass":
                continue
            raise Unknown([t.field or "" for t in tests])
        passed = np.zeros(len(frame), dtype=bool)
        for test in present:
            passed |= _test(test, frame, app)
        mask &= passed
    return mask


def _test(test: EvidenceTest | EvidenceFilter, frame: pd.DataFrame, app: Application) -> np.ndarray:
    column = frame[test.field]
    if test.op == "present":
        return column.notna().to_numpy(dtype=bool)
    if test.op == "same_as":
        wanted = app.values.get(str(test.value))
        if wanted is None:
            raise Unknown([str(test.value)])
        return (column == wanted).to_numpy(dtype=bool, na_value=False)
    if test.op == "==":
        if isinstance(test.value, bool):
            return (column == test.value).fillna(False).to_numpy(dtype=bool)
        return (column == test.value).to_numpy(dtype=bool, na_value=False)
    values = column.to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return _COMPARE[test.op or ">="](values, float(test.threshold or 0)) & ~np.isnan(values)


def threshold_failure(result: FigureResult, app: Application, spec: EvidenceSpec) -> dict[str, Any] | None:
    """The condition of the round the recomputed figure fails while the declared one passes."""
    if result.declared is None or result.recomputed is None:
        return None
    rules = spec.rules
    app_type = app.values.get(rules.type_field) if rules.type_field else None
    for cond in rules.conditions:
        if cond.field != result.field or cond.op not in _COMPARE or cond.threshold is None:
            continue
        if cond.applies_to and app_type not in cond.applies_to:
            continue
        compare = _COMPARE[cond.op]
        if compare(result.declared, cond.threshold) and not compare(result.recomputed, cond.threshold):
            return {"rule": cond.id, "rule_text": cond.text, "clause": cond.clause, "op": cond.op,
                    "threshold": cond.threshold}
    return None
