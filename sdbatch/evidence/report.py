"""What the evidence stage adds to the outputs: the 佐证核对 sheet of each city's review (declared
vs recomputed, with the list's file and rows behind each figure) and the department's sheet of
firms counted twice.  Delivered as :class:`~sdbatch.programs.base.SheetSpec` objects that the
writers render; wording from ui.toml ``[evidence]``."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sdbatch import settings
from sdbatch.catalogue import join, label, text, words
from sdbatch.evidence.match import Part
from sdbatch.evidence.recompute import FigureResult
from sdbatch.evidence.stage import AppEvidence, EvidenceRun
from sdbatch.model import Application, RunResult
from sdbatch.programs.base import SheetSpec


def publish(run: EvidenceRun, result: RunResult) -> None:
    """Add the stage's sheets to ``result`` (review sheets per city, list sheets per program)."""
    by_city: dict[str, list[list[Any]]] = defaultdict(list)
    for name, apps in run.apps.items():
        spec = run.specs[name]
        for app in apps:
            if app.city:
                by_city[app.city].extend(_app_rows(app, spec))
        for program, part in run.unmatched:
            if program == name and part.city:
                by_city[part.city].append(_unmatched_row(part, spec))
    for city, rows in by_city.items():
        if not rows:
            continue
        result.review_sheets.setdefault(city, []).append(SheetSpec(
            name=text("evidence.sheet.review"), headers=list(words("evidence.review_headers")), rows=rows,
            audience="city", title=text("evidence.sheet.review_title", city=city),
            notes=[text("evidence.sheet.review_note")]))
    for name in run.specs:
        rows = []
        for shared in run.shared:
            if shared.program != name:
                continue
            for app, part, row in shared.apps:
                rows.append([shared.code, shared.firm, app.city, app.name, part.sheet.file, part.sheet.sheet, row,
                             len(shared.apps)])
        if rows:
            result.list_sheets.setdefault(name, []).append(SheetSpec(
                name=text("evidence.sheet.shared"), headers=list(words("evidence.shared_headers")), rows=rows,
                audience="department", title=text("evidence.sheet.shared_title", list=run.specs[name].title),
                notes=[text("evidence.sheet.shared_note")]))


def _app_rows(app: Application, spec: Any) -> list[list[Any]]:
    evidence = app.evidence
    if not isinstance(evidence, AppEvidence):
        return [[app.name, "", None, None, None, "", None, text("evidence.result.no_list", list=spec.title),
                 "", "", "", None, ""]]
    rows = []
    first = evidence.parts[0]
    files = join(dict.fromkeys(p.sheet.file for p in evidence.parts))
    sheets = join(dict.fromkeys(p.sheet.sheet for p in evidence.parts))
    span = join(_span(p) for p in evidence.parts)
    for fig in evidence.figures:
        summary = spec.rules.fields.get(fig.field)
        rows.append([app.name, spec.rules.label(fig.field), fig.declared, fig.recomputed, fig.difference,
                     summary.unit or "" if summary else "", round(fig.allowance, 4), _result(fig, spec),
                     files, sheets, _behind(fig, evidence, span), _counted(fig), _why(fig, spec)])
    problems = [
        (evidence.invalid_codes and text("evidence.problem.invalid", count=len(evidence.invalid_codes)),
         [_row(p, i) for p, i in evidence.invalid_codes]),
        (evidence.duplicates and text("evidence.problem.duplicate", count=len(evidence.duplicates)),
         [_row(p, i) for p, i, _ in evidence.duplicates]),
    ]
    for other, firms in evidence.shared.items():
        problems.append((text("evidence.problem.shared", count=len(firms), other=other,
                              firms=join(f for _, f in firms[:5])), []))
    for what, rows_of in problems:
        if what:
            rows.append([app.name, what, None, None, None, "", None, text("evidence.result.problem"), first.sheet.file,
                         first.sheet.sheet, _rows(rows_of), len(rows_of) or None, ""])
    return rows


def _unmatched_row(part: Part, spec: Any) -> list[Any]:
    return [part.text, "", None, None, None, "", None, text("evidence.result.unmatched", entity=spec.rules.entity),
            part.sheet.file, part.sheet.sheet, _span(part), len(part.rows), text("evidence.why.unmatched")]


def _result(fig: FigureResult, spec: Any) -> str:
    if fig.result == "mismatch" and fig.threshold_failed:
        return text("evidence.result.fails_threshold", status=label("status", "needs_review"))
    return text(f"evidence.result.{fig.result}")


def _why(fig: FigureResult, spec: Any) -> str:
    if fig.missing:
        return text("evidence.why.missing", columns=join(spec.label(f) for f in fig.missing))
    if fig.threshold_failed:
        return text("evidence.why.threshold", rule=fig.threshold_failed["rule_text"],
                    clause=fig.threshold_failed["clause"])
    return ""


def _counted(fig: FigureResult) -> int | None:
    return int(len(fig.counted)) if fig.counted is not None else None


def _behind(fig: FigureResult, evidence: AppEvidence, span: str) -> str:
    """The rows behind a figure: few rows by number, many by the list's span."""
    if fig.counted is None or fig.result not in ("mismatch", "not_declared"):
        return span
    if len(fig.counted) > settings.LIST_SHOWN_ROWS:
        return span
    rows = []
    offset = 0
    for part in evidence.parts:  # counted positions run over the parts in order
        n = len(part.rows)
        mine = fig.counted[(fig.counted >= offset) & (fig.counted < offset + n)] - offset
        rows += [int(part.sheet.frame.index[part.rows[i]]) for i in mine]
        offset += n
    return _rows(rows) if rows else text("evidence.none")


def _span(part: Part) -> str:
    index = part.sheet.frame.index
    if not len(part.rows):
        return ""
    first, last = int(index[part.rows[0]]), int(index[part.rows[-1]])
    return text("evidence.span", first=first, last=last, count=len(part.rows))


def _row(part: Part, pos: int) -> int:
    return int(part.sheet.frame.index[pos])


def _rows(rows: list[int]) -> str:
    if not rows:
        return ""
    shown = join(rows[: settings.LIST_SHOWN_ROWS])
    if len(rows) > settings.LIST_SHOWN_ROWS:
        return text("evidence.rows_more", rows=shown, count=len(rows))
    return text("evidence.rows", rows=shown)


