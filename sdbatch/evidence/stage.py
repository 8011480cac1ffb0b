"""The evidence stage over a run: lists matched to applications, figures recomputed, cross-checks.

:func:`apply` runs after every file is read (and resubmissions settled) and before the
decisions: its findings carry their effect (``needs_review``) into each status.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sdbatch import settings
from sdbatch.catalogue import join, text
from sdbatch.evidence.match import Matcher, Part, split_sheet
from sdbatch.evidence.read import ListFile
from sdbatch.evidence.recompute import FigureResult, applies, recompute, threshold_failure
from sdbatch.evidence.spec import EvidenceSpec, spec_of
from sdbatch.model import Application, FileRecord, Finding, Source, cell_address
from sdbatch.rules import Rules
from sdbatch.text import squash


@dataclass
class AppEvidence:
    """What the lists say about one application: results.json's ``evidence`` block."""

    title: str
    parts: list[Part]
    figures: list[FigureResult] = field(default_factory=list)
    invalid_codes: list[tuple[Part, int]] = field(default_factory=list)  # (part, frame position)
    duplicates: list[tuple[Part, int, str]] = field(default_factory=list)  # (part, position, first row)
    shared: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # other app -> [(code, firm)]
    unreadable: dict[str, int] = field(default_factory=dict)  # list field label -> cells

    @property
    def firms(self) -> int:
        return int(sum(len(p.rows) for p in self.parts))

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "lists": [{"file": p.sheet.file, "sheet": p.sheet.sheet, "matched_by": p.how, "named": p.text,
                       "firms": int(len(p.rows)), "rows": _row_span(p)} for p in self.parts],
            "firms": self.firms,
            "figures": [f.to_dict() for f in self.figures],
            "invalid_credit_codes": len(self.invalid_codes),
            "duplicate_firms": len(self.duplicates),
            "shared_firms": sum(len(v) for v in self.shared.values()),
            "unreadable_cells": dict(self.unreadable),
        }


def _row_span(part: Part) -> list[int] | None:
    index = part.sheet.frame.index
    if not len(part.rows):
        return None
    return [int(index[part.rows[0]]), int(index[part.rows[-1]])]


@dataclass
class Shared:
    """A firm (by credit code) counted by two applications where the round forbids it."""

    program: str
    code: str
    firm: str
    apps: list[tuple[Application, Part, int]]  # (application, part, Excel row)


@dataclass
class EvidenceRun:
    """Everything the stage found, for the outputs."""

    specs: dict[str, EvidenceSpec] = field(default_factory=dict)
    unmatched: list[tuple[str, Part]] = field(default_factory=list)  # (program, part)
    shared: list[Shared] = field(default_factory=list)
    apps: dict[str, list[Application]] = field(default_factory=dict)  # program -> applications


def apply(records: list[FileRecord], programs: dict[str, Rules]) -> EvidenceRun:
    run = EvidenceRun()
    for name, rules in programs.items():
        spec = spec_of(rules)
        if spec is None:
            continue
        lists = [r for r in records if r.status == "processed" and r.program == name and r.evidence is not None]
        apps = [a for r in records if r.status == "processed" and r.program == name for a in r.applications]
        if not lists:
            continue
        run.specs[name] = spec
        run.apps[name] = apps
        _program(spec, lists, apps, run)
    return run


def _program(spec: EvidenceSpec, lists: list[FileRecord], apps: list[Application], run: EvidenceRun) -> None:
    matcher = Matcher(apps, spec.rules.jurisdiction)
    by_app: dict[int, list[tuple[FileRecord, Part]]] = defaultdict(list)
    for record in lists:
        listed: ListFile = record.evidence
        for sheet in listed.sheets:
            matched, unmatched = split_sheet(sheet, matcher, spec.role("application"), spec.role("city"))
            for part, app in matched:
                by_app[id(app)].append((record, part))
            for part in unmatched:
                run.unmatched.append((spec.rules.name, part))
                record.findings.append(Finding("evidence-list-unmatched", "warning", clause=spec.table.request_clause,
                                               params={"list": spec.title, "named": part.text, "firms": len(part.rows),
                                                       "sheet": sheet.sheet, "entity": spec.rules.entity},
                                               source=Source(record.file, sheet.sheet, _first_row(part))))
    for app in apps:
        pairs = by_app.get(id(app))
        if not pairs:
            continue
        pairs = _newest(pairs, spec)
        evidence = AppEvidence(spec.title, [p for _, p in pairs])
        app.evidence = evidence
        _recompute(app, evidence, spec)
        _within(app, evidence, spec)
    _shared(spec, apps, run)


def _newest(pairs: list[tuple[FileRecord, Part]], spec: EvidenceSpec) -> list[tuple[FileRecord, Part]]:
    """Lists of one application from several files: the newest file's (a resubmission)."""
    files = {r.file: r for r, _ in pairs}
    if len(files) == 1:
        return pairs
    newest = max(files.values(), key=lambda r: (r.mtime, r.file))
    for record in files.values():
        if record is not newest:
            record.findings.append(Finding("evidence-list-replaced", "info", params={
                "list": spec.title, "newer": newest.file}, source=Source(record.file)))
    return [(r, p) for r, p in pairs if r is newest]


def _frame(evidence: AppEvidence) -> pd.DataFrame:
    frames = [p.frame for p in evidence.parts]
    return frames[0] if len(frames) == 1 else pd.concat(frames)


def _recompute(app: Application, evidence: AppEvidence, spec: EvidenceSpec) -> None:
    frame = _frame(evidence)
    table = spec.table
    once = None
    codes = _codes(evidence)
    if codes is not None:  # a firm listed twice (same credit code) is counted once
        once = ~_repeated(codes)
    for fig in spec.figures:
        if not applies(fig, app, spec):
            continue
        result = recompute(fig, frame, app, spec, once)
        evidence.figures.append(result)
        label = spec.rules.label(fig.field)
        summary = spec.rules.fields.get(fig.field)
        unit = summary.unit or "" if summary else ""
        src = Source(app.source.file, app.source.sheet, app.source.row, app.cells.get(fig.field))
        clause = fig.clause or table.clause
        if result.result == "not_recomputed" and result.missing:
            app.findings.append(Finding("evidence-not-recomputed", "info", field=fig.field, clause=table.request_clause,
                                        params={"label": label, "list": spec.title,
                                                "columns": join(spec.label(f) for f in result.missing)},
                                        source=src))
        if result.result != "mismatch":
            continue
        first = evidence.parts[0]
        counted = int(len(result.counted)) if result.counted is not None else None
        basis = text("evidence.basis_all", firms=evidence.firms) if counted in (None, evidence.firms) else \
            text("evidence.basis_counted", firms=evidence.firms, counted=counted)  # 30家企业，其中27家计入
        app.findings.append(Finding("evidence-mismatch", "warning", field=fig.field, clause=clause, params={
            "label": label, "declared": result.declared, "recomputed": result.recomputed,
            "difference": result.difference, "allowance": round(result.allowance, 4), "unit": unit,
            "list": spec.title, "file": first.sheet.file, "firms": evidence.firms, "counted": counted, "basis": basis},
            source=src, effect="needs_review", original=app.originals.get(fig.field)))
        failed = threshold_failure(result, app, spec)
        if failed is not None:
            result.threshold_failed = failed
            app.findings.append(Finding("evidence-fails-threshold", "warning", field=fig.field,
                                        clause=failed["clause"], params={
                                            "label": label, "declared": result.declared,
                                            "recomputed": result.recomputed, "unit": unit,
                                            "rule_text": failed["rule_text"], "list": spec.title,
                                            "rule": failed["rule"], "threshold": failed["threshold"]},
                                        source=src, effect="needs_review"))


def _within(app: Application, evidence: AppEvidence, spec: EvidenceSpec) -> None:
    """Problems inside the application's own list: bad credit codes, a firm twice, unreadable cells."""
    code_field = spec.role("uscc")
    for part in evidence.parts:
        sheet = part.sheet
        if sheet.invalid_uscc is not None:
            for hit in np.flatnonzero(sheet.invalid_uscc[part.rows]):
                evidence.invalid_codes.append((part, int(part.rows[hit])))
        for fid, mask in sheet.unreadable.items():
            count = int(mask[part.rows].sum())
            if count:
                evidence.unreadable[spec.label(fid)] = evidence.unreadable.get(spec.label(fid), 0) + count
    if evidence.invalid_codes:
        part, first = evidence.invalid_codes[0]
        rows = [_excel_row(p, i) for p, i in evidence.invalid_codes]
        app.findings.append(Finding("evidence-invalid-credit-code", "warning", field=code_field,
                                    clause=spec.table.request_clause, params={
                                        "list": spec.title, "count": len(rows), "rows": _rows_text(rows),
                                        "file": part.sheet.file},
                                    source=_list_source(part, first, code_field)))
    _duplicates(app, evidence, spec)
    if evidence.unreadable:
        part = evidence.parts[0]
        app.findings.append(Finding("evidence-unreadable-values", "warning", clause=spec.table.request_clause, params={
            "list": spec.title, "file": part.sheet.file,
            "detail": join(f"{label} {n}" for label, n in evidence.unreadable.items()),
            "count": sum(evidence.unreadable.values())}, source=Source(part.sheet.file, part.sheet.sheet)))


def _codes(evidence: AppEvidence) -> np.ndarray | None:
    """The valid credit codes of the application's rows (its parts in order), b"" where none."""
    if any(p.sheet.codes is None for p in evidence.parts):
        return None
    arrays = [p.sheet.codes[p.rows] for p in evidence.parts if p.sheet.codes is not None]
    return np.concatenate(arrays) if len(arrays) > 1 else arrays[0]


def _repeated(keys: np.ndarray, first: np.ndarray | None = None) -> np.ndarray:
    """Rows whose key (not empty) appeared on an earlier row; ``first`` receives, per row, the
    position of the first row with its key."""
    _, index, inverse = np.unique(keys, return_index=True, return_inverse=True)
    firsts = index[inverse]
    if first is not None:
        first[:] = firsts
    return (firsts != np.arange(len(keys))) & (keys != keys[:0].dtype.type())


def _duplicates(app: Application, evidence: AppEvidence, spec: EvidenceSpec) -> None:
    """The same firm twice in the application's list (its parts together): by credit code, else
    by name."""
    code_field, firm_field = spec.role("uscc"), spec.role("firm")
    part_of = np.concatenate([np.full(len(p.rows), i, dtype=np.int32) for i, p in enumerate(evidence.parts)])
    pos_of = np.concatenate([p.rows for p in evidence.parts])
    n = len(pos_of)

    def where(i: int) -> tuple[Part, int]:
        return evidence.parts[int(part_of[i])], int(pos_of[i])

    codes = _codes(evidence)
    codes = codes if codes is not None else np.full(n, b"", dtype="S18")
    first = np.zeros(n, dtype=np.int64)
    repeated = _repeated(codes, first)
    no_code = np.flatnonzero(codes == b"")
    if len(no_code):  # no valid credit code: the name says which firm (few rows: one by one)
        seen: dict[str, int] = {}
        for i in no_code:
            part, pos = where(int(i))
            name = part.sheet.names[pos] if part.sheet.names is not None else None
            if not name:
                continue
            key = squash(name)
            if key in seen:
                repeated[i], first[i] = True, seen[key]
            else:
                seen[key] = int(i)
    for i in np.flatnonzero(repeated):
        part, pos = where(int(i))
        first_part, first_pos = where(int(first[i]))
        evidence.duplicates.append((part, pos, str(_excel_row(first_part, first_pos))))
    if not evidence.duplicates:
        return
    part, pos, _ = evidence.duplicates[0]
    rows = [_excel_row(p, i) for p, i, _ in evidence.duplicates]
    app.findings.append(Finding("evidence-duplicate-firm", "warning", field=firm_field,
                                clause=spec.table.clause, params={
                                    "list": spec.title, "count": len(rows), "rows": _rows_text(rows),
                                    "file": part.sheet.file},
                                source=_list_source(part, pos, code_field or firm_field)))


def _shared(spec: EvidenceSpec, apps: list[Application], run: EvidenceRun) -> None:
    """The same firm (by credit code) in the lists of two applications where the round forbids it."""
    rule = spec.table.exclusive
    code_field = spec.role("uscc")
    if rule == "none" or not code_field:
        return
    firm_field = spec.role("firm")
    keys, owner_ids, city_ids, part_ids, positions = [], [], [], [], []
    owners: list[tuple[Application, AppEvidence]] = []
    parts: list[Part] = []
    cities: dict[str, int] = {}
    for app in apps:
        evidence = app.evidence
        if not isinstance(evidence, AppEvidence):
            continue
        city = cities.setdefault(app.city or "", len(cities))
        for part in evidence.parts:
            if part.sheet.codes is None:
                continue
            codes = part.sheet.codes[part.rows]
            valid = codes != b""
            keys.append(codes[valid])
            positions.append(part.rows[valid])
            owner_ids.append(np.full(int(valid.sum()), len(owners), dtype=np.int32))
            city_ids.append(np.full(int(valid.sum()), city, dtype=np.int32))
            part_ids.append(np.full(int(valid.sum()), len(parts), dtype=np.int32))
            parts.append(part)
        owners.append((app, evidence))
    if not keys:
        return
    key = np.concatenate(keys)
    owner, city_of, part_of, pos_of = (np.concatenate(a) for a in (owner_ids, city_ids, part_ids, positions))
    by = owner if rule == "applications" else city_of
    order = np.lexsort((by, key))  # by code, then by application (or city)
    k, b = key[order], by[order]
    new_key = np.ones(len(k), dtype=bool)
    new_key[1:] = k[1:] != k[:-1]
    new_pair = new_key.copy()
    new_pair[1:] |= b[1:] != b[:-1]
    group = np.cumsum(new_key) - 1
    spread = np.bincount(group, weights=new_pair)  # distinct applications (or cities) per code
    shared_rows = order[spread[group] > 1]
    if not len(shared_rows):
        return
    shared_rows = shared_rows[np.lexsort((owner[shared_rows], key[shared_rows]))]
    table = pd.DataFrame({"code": [c.decode("ascii") for c in key[shared_rows]], "owner": owner[shared_rows],
                          "city": city_of[shared_rows], "part": part_of[shared_rows], "pos": pos_of[shared_rows]})
    table = table.drop_duplicates(["code", "owner"])
    table = table.assign(firm=[_firm_name(parts[p], pos, firm_field) for p, pos in zip(table["part"], table["pos"],
                                                                                          strict=True)])
    clause = spec.table.exclusive_clause or spec.table.clause
    per_pair: dict[tuple[int, int], list[tuple[str, str, int, int]]] = defaultdict(list)
    for code, group in table.groupby("code", sort=False):
        entries = list(group.itertuples(index=False))
        shared = Shared(spec.rules.name, str(code), str(next((e.firm for e in entries if e.firm), "")), [])
        for e in entries:
            part = parts[e.part]
            shared.apps.append((owners[e.owner][0], part, int(part.sheet.frame.index[e.pos])))
        run.shared.append(shared)
        for a in entries:
            for b in entries:
                if a.owner == b.owner or (rule == "cities" and a.city == b.city):
                    continue
                per_pair[(a.owner, b.owner)].append((str(code), str(a.firm or ""), a.part, a.pos))
    for (mine, other), firms in per_pair.items():
        app, evidence = owners[mine]
        other_app = owners[other][0]
        evidence.shared[f"{other_app.city or ''}{other_app.name or ''}"] = [(c, f) for c, f, _, _ in firms]
        code, _, part_id, pos = firms[0]
        app.findings.append(Finding("evidence-shared-firm", "warning", field=firm_field, clause=clause, params={
            "list": spec.title, "count": len(firms), "firms": join(f for _, f, _, _ in firms[:5]),
            "other_city": other_app.city or "", "other_name": other_app.name or "", "entity": spec.rules.entity,
            "file": parts[part_id].sheet.file},
            source=_list_source(parts[part_id], pos, code_field), effect="needs_review"))


def _firm_name(part: Part, pos: int, firm_field: str | None) -> str:
    names = part.sheet.names
    return (names[pos] or "") if names is not None else ""


def _list_source(part: Part, pos: int, field_id: str | None) -> Source:
    sheet = part.sheet
    row = int(sheet.frame.index[pos])
    column = sheet.columns.get(field_id or "")
    return Source(sheet.file, sheet.sheet, row, cell_address(row - 1, column.index) if column else None)


def _excel_row(part: Part, pos: int) -> int:
    return int(part.sheet.frame.index[pos])


def _first_row(part: Part) -> int | None:
    return int(part.sheet.frame.index[part.rows[0]]) if len(part.rows) else None


def _rows_text(rows: list[int]) -> str:
    shown = join(rows[: settings.LIST_SHOWN_ROWS])
    return text("evidence.rows_more", rows=shown, count=len(rows)) if len(rows) > settings.LIST_SHOWN_ROWS \
        else text("evidence.rows", rows=shown)
