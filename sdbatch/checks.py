"""Stage 4 — the conditions of a program round, applied to one application.

Every condition comes from the rules file (threshold, severity, clause, wording); this
module only knows the operators.  Severity -> effect on the status (SPEC §2.2):

- hard: a failure makes the application ``ineligible``;
- soft (原则上): a failure needs expert judgement, ``needs_review``;
- relaxable: ``needs_review`` when relaxation applies (core/frontier industry, or a park that
  asked for 第五条(五)), ``ineligible`` otherwise;
- warning: reported, no effect on the status.

A value the check needs that is missing gives ``missing-value`` -> ``incomplete``.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping, Set
from typing import Any

from sdbatch.catalogue import text as ui_text
from sdbatch.model import Application, Finding, Source
from sdbatch.rules import Alternative, Condition, Rules
from sdbatch.text import cell_text, nfkc

_COMPARE = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
_FAIL_CODE = {">=": "below-threshold", ">": "below-threshold", "<=": "above-threshold", "<": "above-threshold"}


_NONE_INVALID: frozenset[str] = frozenset()


def check_application(app: Application, rules: Rules) -> list[Finding]:
    """All condition findings for ``app`` (field-level findings came from normalising)."""
    out: list[Finding] = []
    out.extend(_relaxation_from_remarks(app, rules))
    values = app.values
    app_type = values.get(rules.type_field) if rules.type_field else None
    covered: set[str] = set()
    invalid = app.extra.get("_invalid", _NONE_INVALID)
    for cond in rules.conditions:
        if cond.applies_to and app_type not in cond.applies_to:
            continue
        fid = cond.field
        if fid:
            covered.add(fid)
        else:
            covered.update(a.field for a in cond.any_of)
        if _meets(cond, values, invalid):
            continue  # the usual case, without starting the condition's evaluation (issue 16)
        out.extend(_evaluate(cond, app, rules))
    for f in rules.fields.values():
        if f.required and f.id not in covered and app.values.get(f.id) is None and f.id not in invalid:
            if f.id == rules.role("city"):
                out.append(Finding("city-not-found", "error", field=f.id, clause=f.clause, source=app.source,
                                   effect="incomplete"))
            else:
                out.append(_missing(app, rules, f.id, f.clause, "incomplete"))
    for clause, params in _expert_items(rules):
        out.append(Finding("expert-item", "info", clause=clause, params=params, source=app.source))
    return out


_EXPERT: dict[int, tuple[Rules, Any, int, tuple[tuple[Any, dict[str, Any]], ...]]] = {}


def _expert_items(rules: Rules) -> tuple[tuple[Any, dict[str, Any]], ...]:
    """(clause, parameters) of each item left to the experts, made once per rules object: every
    application carries the same findings, which share their (never changed) parameters
    (issue 16: 100,000 rows held 300,000 copies)."""
    listed = rules.expert_items
    cached = _EXPERT.get(id(rules))
    if cached is None or cached[0] is not rules or cached[1] is not listed or cached[2] != len(listed):
        items = tuple((item.get("clause"), {"rule_text": item.get("text", "")}) for item in listed)
        if len(_EXPERT) > 64:
            _EXPERT.clear()
        cached = _EXPERT[id(rules)] = (rules, listed, len(listed), items)
    return cached[3]


def relaxed(app: Application, rules: Rules) -> bool:
    """Whether relaxable conditions are relaxed for this application."""
    if app.industry and app.industry in rules.relaxable_industries:
        return True
    flag = rules.relaxation.field if rules.relaxation else None
    return bool(flag and app.values.get(flag) is True) or bool(app.extra.get("_relaxed_by_remarks"))


def _relaxation_from_remarks(app: Application, rules: Rules) -> list[Finding]:
    """A relaxation request written only in 备注 (第五条(五)) counts, and the city is told so."""
    spec = rules.relaxation
    if spec is None:
        return []
    flag, remarks_field = spec.field, spec.remarks_field
    text = app.values.get(remarks_field) if remarks_field else None
    if not flag or app.values.get(flag) is True or not isinstance(text, str):
        return []
    written = nfkc(text)
    if not any(nfkc(word) in written for word in spec.remarks_words):
        return []
    app.extra["_relaxed_by_remarks"] = True
    return [Finding("relaxation-from-remarks", "warning", field=flag, clause=spec.clause,
                    params={"text": text[:40], "label": rules.label(flag)}, source=_source(app, remarks_field))]


def effect_of(cond: Condition, app: Application, rules: Rules) -> str | None:
    if cond.severity == "hard":
        return "ineligible"
    if cond.severity == "soft":
        return "needs_review"
    if cond.severity == "relaxable":
        return "needs_review" if relaxed(app, rules) else "ineligible"
    return None


def _severity(effect: str | None, default: str) -> str:
    if effect in ("ineligible", "incomplete", "over_quota"):
        return "error"
    if effect == "needs_review":
        return "warning"
    return default


def _note(cond: Condition, effect: str | None, rules: Rules) -> str:
    if cond.severity == "relaxable" and effect == "needs_review":
        return rules.wording.get("relax_note", "")
    if cond.severity == "soft":
        return rules.wording.get("soft_note", "")
    return ""


def _source(app: Application, field_id: str | None) -> Source:
    return Source(app.source.file, app.source.sheet, app.source.row, app.cells.get(field_id or ""))


def _missing(app: Application, rules: Rules, field_id: str, clause: str | None, effect: str | None) -> Finding:
    candidates = app.extra.get("_candidates", {}).get(field_id)
    if candidates and effect == "incomplete":
        # No column surely carries it, but one may: never say "not filled in" about a filled column.
        column, header, value, cell = candidates[0]
        return Finding("uncertain-value", "warning", field=field_id, clause=clause, params={
            "label": rules.label(field_id), "column": column, "header": header, "value": value},
            source=Source(app.source.file, app.source.sheet, app.source.row, cell), effect="needs_review",
            original=value or None)
    return Finding("missing-value", _severity(effect, "warning"), field=field_id, clause=clause,
                   params={"label": rules.label(field_id)}, source=_source(app, field_id), effect=effect,
                   original=app.originals.get(field_id))


def _base(cond: Condition, effect: str | None, rules: Rules) -> dict[str, Any]:
    """The parameters every finding of a condition carries."""
    return {"rule": cond.id, "rule_text": cond.text, "note": _note(cond, effect, rules),
            "fix_text": cond.fix or rules.wording.get("fix_review" if effect == "needs_review" else "fix_below", "")}


_NOT_COMPARED = ("valid", "present", "in_scope")


def _meets(cond: Condition, values: Mapping[str, Any], invalid: Set[str]) -> bool:
    """Whether a single-field condition holds for a readable value: nothing to say then."""
    fid = cond.field
    if not fid or cond.any_of or fid in invalid or cond.op in _NOT_COMPARED:
        return False
    value = values.get(fid)
    return value is not None and _holds(cond.op or "", value, cond.threshold, cond.value)


def _evaluate(cond: Condition, app: Application, rules: Rules) -> Iterator[Finding]:
    invalid = app.extra.get("_invalid", _NONE_INVALID)
    if _meets(cond, app.values, invalid):
        return  # a value that meets its condition has nothing to say (issue 16)
    fid = cond.field or ""
    value = app.values.get(fid)
    effect = effect_of(cond, app, rules)
    base = _base(cond, effect, rules)
    if cond.any_of:
        yield from _any_of(cond, app, rules, effect, base, invalid)
        return
    f = rules.fields[fid]
    if cond.op == "valid":
        # Format problems were found while normalising; the condition decides their weight.
        for i, finding in enumerate(app.findings):
            if finding.field == fid and finding.code in ("invalid-credit-code", "invalid-phone", "invalid-email"):
                weight = effect  # 二: an invalid credit code fails the hard condition itself
                app.findings[i] = Finding(finding.code, _severity(weight, finding.severity), field=fid,
                                          clause=cond.clause, params=finding.params, source=finding.source,
                                          effect=weight, original=finding.original)
        if value is None and fid not in invalid and cond.severity != "warning":
            yield _missing(app, rules, fid, cond.clause, "incomplete")
        return
    if fid in invalid:
        if cond.op == "in_scope" and app.originals.get(fid) is not None:
            # Written but not among the allowed choices: out of scope.
            for i, finding in enumerate(app.findings):
                if finding.field == fid and finding.code == _unknown_code(rules, f):
                    app.findings[i] = Finding(finding.code, _severity(effect, "error"), field=fid,
                                              clause=cond.clause, params={**finding.params, **base},
                                              source=finding.source, effect=effect, original=finding.original)
        return  # already reported while normalising (unparseable, formula without value…)
    if value is None:
        if cond.severity != "warning":
            yield _missing(app, rules, fid, cond.clause, "incomplete")
        return
    if cond.op in ("present", "in_scope"):
        return
    ok = _holds(cond.op or "", value, cond.threshold, cond.value)
    if ok:
        return
    derived = app.extra.get("_derived", {}).get(fid)
    if derived is not None and effect == "ineligible" and _holds(cond.op or "", derived, cond.threshold, cond.value):
        # The declared ratio fails but the amounts pass: the figures conflict, experts decide.
        effect = "needs_review"
        base = {**base, "note": rules.wording.get("conflict_note", ""),
                "fix_text": rules.wording.get("fix_review", "")}
    code = _FAIL_CODE.get(cond.op or "", "wrong-value")
    written = app.originals.get(fid)
    # A yes/no answer is quoted as the city wrote it (有, √), not as our 是.
    actual = cell_text(written) if code == "wrong-value" and written is not None else value
    params = {**base, "label": f.label, "actual": actual, "threshold": cond.threshold if cond.threshold is not None
              else cond.value, "unit": _unit(f.unit)}
    yield Finding(code, _severity(effect, "warning"), field=fid, clause=cond.clause, params=params,
                  source=_source(app, fid), effect=effect, original=app.originals.get(fid))


def _any_of(cond: Condition, app: Application, rules: Rules, effect: str | None, base: dict[str, Any],
            invalid: set[str]) -> Iterator[Finding]:
    missing: list[Alternative] = []
    shown = []
    if any(app.values.get(a.field) is not None and _holds(a.op, app.values[a.field], a.threshold, a.value)
           for a in cond.any_of):
        # One alternative holds (国家级平台 1): an unreadable other one does not matter for this check.
        for a in cond.any_of:
            if a.field in invalid and not _needed_elsewhere(a.field, cond, rules):
                _soften(app, a.field)
        return
    for alt in cond.any_of:
        value = app.values.get(alt.field)
        if alt.field in invalid:
            return  # already reported; the condition cannot be decided
        if value is None:
            missing.append(alt)
            continue
        shown.append(f"{rules.label(alt.field)}{value}{_unit(rules.fields[alt.field].unit)}")
    if missing:
        for alt in missing:
            yield _missing(app, rules, alt.field, cond.clause, "incomplete")
        return
    first = cond.any_of[0].field
    yield Finding("none-of-met", _severity(effect, "warning"), field=first, clause=cond.clause,
                  params={**base, "actual": ui_text("checks.alternatives_separator").join(shown),
                          "fields": [a.field for a in cond.any_of]},
                  source=_source(app, first), effect=effect, original=app.originals.get(first))


def _needed_elsewhere(field_id: str, cond: Condition, rules: Rules) -> bool:
    return rules.fields[field_id].required or any(
        c is not cond and (c.field == field_id or any(a.field == field_id for a in c.any_of))
        for c in rules.conditions)


def _soften(app: Application, field_id: str) -> None:
    """A value no check needs after all: its reading problem stays, as a warning without effect."""
    for i, finding in enumerate(app.findings):
        if finding.field == field_id and finding.effect == "incomplete":
            app.findings[i] = Finding(finding.code, "warning", field=finding.field, clause=finding.clause,
                                      params=finding.params, source=finding.source, effect=None,
                                      original=finding.original)


def _unknown_code(rules: Rules, f: Any) -> str:
    """The finding code of a value outside a choice field's list (``[choices.<name>].unknown_code``)."""
    choices = rules.choices.get(f.choices or "")
    return choices.unknown_code if choices is not None else "unknown-choice"


def _holds(op: str, value: Any, threshold: float | None, expected: Any) -> bool:
    if op == "==":
        return bool(value == expected)
    compare = _COMPARE.get(op)
    if compare is None or not isinstance(value, (int, float)) or threshold is None:
        return True
    return bool(compare(value, threshold))


def _unit(unit: str | None) -> str:
    return unit or ""
