"""Provincial digital economy parks: the steps only this program has.

The shared stages read, normalise and check the city summary tables (第五条).  This program adds,
through the :class:`~sdbatch.programs.base.Program` hooks:

- score sheets (:mod:`sdbatch.programs.park_sheets`): the experts' re-scores (第八条) and the city's
  preliminary score (第六条), parks as rows or as columns, one sheet or one file per rater, with
  the points the sheets state (分值 / 满分 / 标准分);
- the round's points per park type (:mod:`sdbatch.programs.park_points`): the rules file's, else
  the sheets', else the documented default;
- the 整体打包 warning (第五条(五));
- scores by the 评分标准 (applicability √, maxima, expert aggregation), tiers with the aspect
  condition (第九条), subsidy ceilings and the 绿色门槛 (第十条) and, given a budget, the allocation
  proposal (第十一条).

Audiences: what a city receives carries its status, what it must fix and, when ``[park.release]``
says so, its tier and subsidy ceiling (the ``result`` and ``subsidy_released`` columns).  Expert
names, per-expert totals, disagreements, score-sheet cells and the points' sources are for the
department: findings whose catalogue audience is "department", department columns, the list's
sheets and results.json.

Every number, clause and word comes from the rules file (``[park]`` tables), the vocabulary or
ui.toml; the functions are pure apart from appending findings to the objects they are given.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sdbatch.catalogue import join, label, pair, render, text
from sdbatch.model import Application, FileRecord, Finding, RawSheet, RawWorkbook, RunResult, Source
from sdbatch.programs.base import Note, OutcomeColumn, Program, ProgramOption, ProgramReport, SheetSpec
from sdbatch.programs.park_history import settle_upgrades
from sdbatch.programs.park_points import PointsTable, blocks_of, resolve
from sdbatch.programs.park_settings import Indicator, Settings, Tier, settings_of
from sdbatch.programs.park_sheets import (
    ScoreFile,
    ScoreRow,
    ScoreSheet,
    StatedPoints,
    claim_file,
    claims_sheet,
    code_of,
    norm_name,
    number,
    parse_score_sheet,
    parse_score_sheets,
)
from sdbatch.rules import Rules
from sdbatch.text import cell_text, nfkc

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = [
    "Indicator", "ParkOutcome", "ParkProgram", "ScoreFile", "ScoreRow", "ScoreSheet", "Settings", "StatedPoints", "Tier",
    "aggregate", "allocate", "allocation_for", "assign_tier", "check_application", "claim_file", "claims_sheet",
    "code_of", "decide", "match_scores", "norm_name", "number", "outcome_of", "parse_score_sheet", "parse_score_sheets", "rank_applications",
    "score_application", "settings_of", "tier_for",
]

RANKED_STATUSES = ("eligible", "needs_review")
_EPS = 1e-9


@dataclass
class ParkOutcome:
    """A park's typed result (results.json ``outcome`` block, kind "park")."""

    kind: ClassVar[str] = "park"
    contract_keys: ClassVar[tuple[str, ...]] = ("park_type", "tier", "subsidy")  # SPEC §5: also top level

    park_type: str | None = None
    tier: str | None = None  # 第九条: 示范型 / 成长型 / 入库型, None when not recognised
    subsidy: int | float | None = None  # 第十条 ceiling, 万元 (None: no subsidy)
    subsidy_proposed: int | float | None = None  # 第十一条 proposal with --budget, 万元
    score_detail: dict[str, Any] | None = None  # raters, per-indicator means, aspects (department only)
    released: bool = True  # [park.release].results: the tier and ceiling go to the city
    result: str | None = None  # what the city is told of its recognition (released or not)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "park_type": self.park_type, "tier": self.tier, "subsidy": self.subsidy,
                "subsidy_proposed": self.subsidy_proposed, "score_detail": self.score_detail,
                "released": self.released, "result": self.result}


def outcome_of(app: Application) -> ParkOutcome:
    if not isinstance(app.outcome, ParkOutcome):
        app.outcome = ParkOutcome()
    return app.outcome


# ---------------------------------------------------------------------------------------- wording
def _ui(key: str, **params: Any) -> str:
    return text(f"programs.park.{key}", **params)


def aggregation_text(st: Settings) -> str:
    return _ui(f"notes.aggregation_text_{st.trim_by}", experts=st.trim_min_experts, each=st.trim_each)


def default_points_text(st: Settings) -> str:
    return _ui("notes.points_default", max=_num(st.default_max))


def points_text(table: PointsTable, st: Settings) -> str:
    """How each park type's points were set, citing the sheets whose stated points were used."""
    parts = []
    for ptype in st.park_types:
        source = table.source(ptype)
        counts = {s: sum(1 for v in table.sources.get(ptype, {}).values() if v == s) for s in ("rules", "sheets", "default")}
        sheets = table.sheets.get(ptype, [])
        named = join(sheets[:4]) if len(sheets) <= 4 else _ui("notes.points_sheets_more", sheets=join(sheets[:4]))
        how = _ui(f"notes.points_source_{source}", sheets=named, count=len(sheets), max=_num(st.default_max),
                  rules=counts["rules"], from_sheets=counts["sheets"], defaulted=counts["default"])
        parts.append(_ui("notes.points_type", park_type=ptype, how=how, total=_num(table.total(ptype))))
    out = _ui("notes.points_joined", parts=_ui("notes.points_separator").join(parts))
    if any(table.defaulted(t) for t in st.park_types):
        out = default_points_text(st) + out
    if any(table.sum_off(t) or (table.defaulted(t) and abs(table.total(t) - 100) > 1e-6) for t in st.park_types):
        out += _ui("notes.points_rescaled")
    return out


# ---------------------------------------------------------------------------------------- hooks
def check_application(app: Application, rules: Rules) -> list[Finding]:
    """第五条(五) 原则上不得将高新区、经济开发区等功能区整体打包进行申报."""
    st = settings_of(rules)
    zone = st.whole_zone
    if not zone or not app.name:
        return []
    name = re.sub(r"[(\uff08][^)\uff09]*[)\uff09]", "", nfkc(app.name)).strip()
    name = re.sub(r"\s+", "", name)
    endings = sorted(zone.get("generic_endings", ()), key=len, reverse=True)
    changed = True
    while changed:
        changed = False
        for ending in endings:
            if name.endswith(ending) and len(name) > len(ending):
                name, changed = name[: -len(ending)], True
                break
    for word in sorted(zone.get("zone_words", ()), key=len, reverse=True):
        if name.endswith(word):
            return [Finding(
                "whole-zone-package", str(zone.get("severity", "warning")), field=st.name_field,
                clause=str(zone.get("clause", "")), params={"name": app.name, "zone": word},
                source=_at(app, st.name_field), effect=zone.get("effect") or None, original=app.name,
            )]
    return []


def decide(apps: list[Application], rules: Rules, claimed: list[tuple[FileRecord, Any]],
           options: Any = None) -> dict[str, Any]:
    """Scores, ranks, tiers and subsidies of the park applications (第八条–第十一条)."""
    st = settings_of(rules)
    sheets: list[tuple[FileRecord, ScoreSheet]] = []
    for record, data in claimed:
        if not isinstance(data, ScoreFile):
            continue
        for sheet in data.sheets:
            sheets.append((record, sheet))
            _sheet_read(record, sheet, st)

    by_file = {rec.file: rec for rec, _ in claimed}
    by_file.update({Path(rec.file).name: rec for rec, _ in claimed})
    for app in apps:
        ptype = park_type_of(app, st)
        app.outcome = ParkOutcome(park_type=ptype, released=st.release_results)
        app.score = None
        app.rank = None
    rows = latest_per_rater([r for _, s in sheets for r in s.rows], by_file, st)
    rows_by_app, unmatched = match_scores(apps, rows, st)
    for row, why in unmatched:
        target = by_file.get(row.source.file)
        if target is not None:
            target.findings.append(Finding(
                "score-park-unmatched", "warning", clause=st.clause_scoring,
                params={"park": row.park, "rater": row.rater_label, "detail": why}, source=row.source,
            ))

    # the points: the rules file's, the sheets' (those still counted), else the default
    kept = {id(r) for r in rows}
    live = [(rec, s) for rec, s in sheets if not s.rows or any(id(r) in kept for r in s.rows)]
    sheet_of_row = {id(r): s for _, s in sheets for r in s.rows}
    types_of_sheet: dict[str, set[str]] = {}
    for app in apps:
        ptype = outcome_of(app).park_type
        for row, _ in rows_by_app.get(app.id, {}).get("rows", []):
            if ptype:
                types_of_sheet.setdefault(sheet_of_row[id(row)].key, set()).add(ptype)
    table = resolve(blocks_of(live, types_of_sheet, st), st)

    # the experts of the round (those whose sheets count): a park scored by few of them is said
    round_raters = len({(r.rater_label if r.named else r.rater) for r in rows if r.kind == "expert"})
    for app in apps:
        for row, how in rows_by_app.get(app.id, {}).get("loose", []):
            app.findings.append(Finding(
                "score-name-matched", "info", field=st.name_field, clause=st.clause_scoring,
                params={"written": row.park, "name": app.name, "file": row.source.file, "how": how},
                source=_at(app, st.name_field),
            ))
        score_application(app, [r for r, _ in rows_by_app.get(app.id, {}).get("rows", [])], st, table,
                          round_raters=round_raters)
    if any(f.effect for app in apps for f in app.findings):
        for app in apps:
            app.status = _status_from_findings(app)
    for app in apps:
        assign_tier(app, st)
    settle_upgrades(apps, rules, outcome_of)  # 第十六条: an upgrade's tier against the tier held (history)
    rank_applications(apps, st)

    scored_types = {outcome_of(a).park_type for a in apps if outcome_of(a).score_detail}
    out: dict[str, Any] = {
        "park_scoring": {
            "points_default": any(table.defaulted(t) for t in scored_types if t),
            "note": points_text(table, st),
            "points": table.to_dict(),
            "aggregation": aggregation_text(st),
            "excellent_share": st.excellent_share,
            "aspects": {k: [st.groups.get(g, g) for g in v] for k, v in st.aspects.items()},
            "score_sheets": [_sheet_summary(rec, s, table, st) for rec, s in sheets],
            "unmatched": [{"file": r.source.file, "sheet": r.source.sheet, "row": r.source.row, "park": r.park}
                          for r, _ in unmatched],
            "released": st.release_results,
        },
    }
    budget = options.get("budget") if isinstance(options, dict) else getattr(options, "budget", None)
    if budget is not None:
        out.update(allocation_for(apps, float(budget), st))
    return out


def _sheet_read(record: FileRecord, sheet: ScoreSheet, st: Settings) -> None:
    record.findings.append(Finding(
        "score-sheet-read", "info", clause=st.clause_scoring if sheet.kind == "expert" else st.clause_city_score,
        params={"sheet": sheet.sheet, "rater": sheet.rater_label, "parks": len({row.park for row in sheet.rows}),
                "kind": _ui(f"sheets.{sheet.kind}"), "layout": _ui(f"sheets.{sheet.layout}"),
                "stated": join(s.label for s in sheet.stated) or _ui("sheets.no_points")},
        source=Source(file=record.file, sheet=sheet.sheet),
    ))
    for code in sheet.unknown_codes:
        record.findings.append(Finding(
            "unknown-indicator", "warning", clause=st.clause_scoring,
            params={"indicator": code, "sheet": sheet.sheet,
                    "detail": _ui("sheets.skipped_code" if code in st.missing_codes else "sheets.no_code")},
            source=Source(file=record.file, sheet=sheet.sheet),
        ))


def _sheet_summary(record: FileRecord, sheet: ScoreSheet, table: PointsTable, st: Settings) -> dict[str, Any]:
    codes = {"points-differ-from-rules", "points-sheets-disagree", "points-not-applicable", "points-sum",
             "points-incomplete", "points-unreadable"}
    problems = [f for f in record.findings if f.code in codes and f.source and f.source.sheet == sheet.sheet
                and f.params.get("rater") == sheet.rater_label]
    stated = []
    for s in sheet.stated:
        values = [v for c, raw in s.points.items() if c in st.indicators and (v := number(raw)[1]) is not None]
        stated.append({"label": s.label, "park_type": s.park_type, "type_from": s.type_from, "count": len(values),
                       "sum": round(sum(values), 4)})
    # a sheet of several experts (a 评审专家 column): its raters, not the sheet's name
    raters = join(dict.fromkeys(row.rater_label for row in sheet.rows if row.named)) or sheet.rater_label
    return {"file": sheet.file, "sheet": sheet.sheet, "kind": sheet.kind, "rater": raters,
            "layout": sheet.layout, "parks": len({row.park for row in sheet.rows}), "stated": stated, "points_used": sheet.points_used,
            "problems": [{"code": f.code, "message": render(f).message} for f in problems]}


# ---------------------------------------------------------------------------------------- matching
def latest_per_rater(rows: list[ScoreRow], records: dict[str, FileRecord], st: Settings) -> list[ScoreRow]:
    """A rater named in several files (a corrected re-send): only the newest file counts."""
    def identity(row: ScoreRow) -> tuple[str, str]:
        return (row.kind, row.rater_label) if row.named else (row.kind, row.rater)

    files: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        files.setdefault(identity(row), set()).add(row.source.file)
    keep: dict[tuple[str, str], str] = {}
    for ident, names in files.items():
        newest = max(names, key=lambda n: (records[n].mtime if n in records else 0.0, n))
        keep[ident] = newest
        for older in sorted(names - {newest}):
            if older in records:
                records[older].findings.append(Finding(
                    "score-sheet-replaced", "info", clause=st.clause_scoring,
                    params={"rater": ident[1], "newer": newest}, source=Source(file=older)))
    return [row for row in rows if row.source.file == keep[identity(row)]]


def _strip_city(name: str, cities: Sequence[str]) -> str:
    for city in cities:
        for form in (city, city[:-1]):  # a city is written with or without its last character (市)
            if form and name.startswith(form):
                return name[len(form):]
    return name


def _city_in_name(name: str, cities: Sequence[str]) -> str | None:
    """The city a (normalised) park name starts with, e.g. 滨州数字经济产业园 -> 滨州市."""
    for city in cities:
        if name.startswith((city, city[:-1] or city)):
            return city
    return None


def match_scores(apps: list[Application], rows: list[ScoreRow], st: Settings
                 ) -> tuple[dict[str, dict[str, list[tuple[ScoreRow, str]]]], list[tuple[ScoreRow, str]]]:
    """Score rows -> applications by normalised name (city prefix optional); the rest unmatched."""
    cities = st.cities
    index: dict[str, list[Application]] = {}
    for app in apps:
        for key in {norm_name(app.name, st), _strip_city(norm_name(app.name, st), cities)}:
            if key:
                index.setdefault(key, []).append(app)
    matched: dict[str, dict[str, list[tuple[ScoreRow, str]]]] = {}
    unmatched: list[tuple[ScoreRow, str]] = []
    for row in rows:
        key = norm_name(row.park, st)
        candidates = _unique(index.get(key, []) or index.get(_strip_city(key, cities), []))
        how = ""
        if not candidates:  # one name inside the other, e.g. with or without 有限公司/园区 words
            short = _strip_city(key, cities)
            candidates = _unique([a for a in apps if len(short) >= 4 and a.name and (
                short in norm_name(a.name, st) or (len(_strip_city(norm_name(a.name, st), cities)) >= 4
                                                   and _strip_city(norm_name(a.name, st), cities) in key))])
            how = _ui("matching.contains")
        named_city = _city_in_name(key, cities)
        if named_city:  # 滨州数字经济产业园 is never 菏泽数字经济产业园
            candidates = [a for a in candidates if a.city in (None, named_city)]
        if len(candidates) > 1 and row.city:
            written = norm_name(row.city, st)
            candidates = [a for a in candidates if a.city and (written in norm_name(a.city, st)
                                                               or norm_name(a.city, st)[:-1] == written)]
        if len(candidates) != 1:
            unmatched.append((row, _ui("matching.none" if not candidates else "matching.several")))
            continue
        app = candidates[0]
        slot = matched.setdefault(app.id, {"rows": [], "loose": []})
        slot["rows"].append((row, how))
        if how:
            slot["loose"].append((row, how))
    return matched, unmatched


def _unique(apps: list[Application]) -> list[Application]:
    seen: dict[str, Application] = {}
    for app in apps:
        seen.setdefault(app.id, app)
    return list(seen.values())


def park_type_of(app: Application, st: Settings) -> str | None:
    known = app.outcome.park_type if isinstance(app.outcome, ParkOutcome) else None
    for value in (app.values.get(st.type_field), known, app.industry):
        if isinstance(value, str) and value in st.park_types:
            return value
    return None


# ---------------------------------------------------------------------------------------- scoring
def aggregate(values: list[float], st: Settings) -> float:
    """Mean; with at least ``trim_min_experts`` values the ``trim_each`` highest and lowest are dropped."""
    vals = sorted(values)
    if not vals:
        return 0.0
    k = st.trim_each
    if len(vals) >= st.trim_min_experts and len(vals) > 2 * k:
        vals = vals[k: len(vals) - k]
    return sum(vals) / len(vals)


def _out_of_100(points: float, total_max: float, st: Settings) -> float:
    """A total of ``total_max`` points brought to 100 (unchanged, without a float error, when the
    maxima already add up to 100)."""
    if not total_max:
        return 0.0
    if abs(total_max - 100) < _EPS:
        return round(points, st.decimals)
    return round(100 * points / total_max, st.decimals)


def score_application(app: Application, rows: list[ScoreRow], st: Settings, table: PointsTable | None = None,
                      round_raters: int = 0) -> None:
    """Aggregate the raters' points into ``app.score`` (0–100) and the outcome's ``score_detail``."""
    outcome = outcome_of(app)
    ptype = outcome.park_type
    experts = [r for r in rows if r.kind == "expert"]
    city_rows = [r for r in rows if r.kind == "city"]
    if ptype is None:
        if rows:
            app.findings.append(Finding("score-no-type", "warning", field=st.type_field, clause=st.clause_scoring,
                                        source=_at(app, st.type_field)))
        return
    if table is None:
        table = resolve([], st)
    used, basis = (experts, "expert") if experts else (city_rows, "city")
    if not used:
        app.findings.append(Finding("no-score-sheet", "warning", clause=st.clause_scoring,
                                    params={"name": app.name}, source=_at(app, st.name_field)))
        return
    if basis == "city":
        app.findings.append(Finding("score-from-city", "warning", clause=st.clause_scoring,
                                    params={"raters": len(used)}, source=_at(app, st.name_field)))
    per_rater, rater_rows = _clean_points(app, used, ptype, st, table)
    applicable = st.applicable(ptype)
    if basis == "expert":
        _note_blanks(app, per_rater, rater_rows, applicable, st)
        if round_raters and len(per_rater) < st.few_raters_share * round_raters:
            app.findings.append(Finding("score-few-raters", "warning", clause=st.clause_scoring, params={
                "count": len(per_rater), "total": round_raters}, source=_at(app, st.name_field)))
    trimmed = len(per_rater) >= st.trim_min_experts and len(per_rater) > 2 * st.trim_each and basis == "expert"
    counted = _kept_raters(per_rater, applicable, st) if trimmed and st.trim_by == "total" else per_rater
    agg: dict[str, float] = {}
    missing, disagree = [], []
    for ind in applicable:
        vals = [pts[ind.code] for pts in per_rater.values() if ind.code in pts]
        if not vals:
            missing.append(ind.code)
        if counted is per_rater:
            agg[ind.code] = aggregate(vals, st)
        else:  # the kept experts' mean, nothing trimmed again
            kept = [pts[ind.code] for pts in counted.values() if ind.code in pts]
            agg[ind.code] = sum(kept) / len(kept) if kept else 0.0
        if len(vals) > 1 and max(vals) - min(vals) > st.disagreement_share * table.max(ind.code, ptype) + _EPS:
            disagree.append(_ui("scoring.disagree_item", code=ind.code, low=_num(min(vals)), high=_num(max(vals))))
    if missing:
        app.findings.append(Finding("indicator-not-scored", "warning", clause=st.clause_scoring,
                                    params={"indicators": join(missing), "count": len(missing)},
                                    source=_at(app, st.name_field)))
    total_max = sum(table.max(ind.code, ptype) for ind in applicable)
    total = _out_of_100(sum(agg.values()), total_max, st)
    rater_totals = {key: _out_of_100(sum(pts.get(ind.code, 0.0) for ind in applicable), total_max, st)
                    for key, pts in per_rater.items()}
    spread = max(rater_totals.values()) - min(rater_totals.values()) if len(rater_totals) > 1 else 0.0
    if disagree or spread > st.disagreement_total_points:
        app.findings.append(Finding(
            "expert-disagreement", "warning", clause=st.clause_scoring,
            params={"indicators": join(disagree) or _ui("scoring.none"), "share": f"{st.disagreement_share:.0%}",
                    "spread": _num(spread), "limit": _num(st.disagreement_total_points),
                    "totals": join(_ui("scoring.rater_total", rater=rater_rows[k].rater_label, total=_num(v))
                                   for k, v in rater_totals.items())},
            source=_at(app, st.name_field),
        ))
    aspects = {}
    for aspect, groups in st.aspects.items():
        inds = [ind for ind in applicable if ind.group in groups]
        amax = sum(table.max(ind.code, ptype) for ind in inds)
        points = sum(agg[ind.code] for ind in inds)
        share = round(points / amax, st.decimals + 2) if amax else 0.0
        aspects[aspect] = {"share": share, "points": round(points, 4), "max": round(amax, 4),
                           "excellent": bool(amax) and share >= st.excellent_share - 1e-12}
    app.score = total
    method = _ui(f"scoring.trimmed_{st.trim_by}" if trimmed else "scoring.mean", each=st.trim_each)
    outcome.score_detail = {
        "basis": basis,
        "raters": [rater_rows[k].rater_label for k in per_rater],
        "rater_totals": {rater_rows[k].rater_label: v for k, v in rater_totals.items()},
        "aggregation": method,
        "indicators": {code: round(v, 4) for code, v in agg.items()},
        "aspects": aspects,
        "points_default": table.defaulted(ptype),
        "points_source": table.source(ptype),
        "points_total": round(total_max, 4),
    }
    app.findings.append(Finding(
        "score-aggregated", "info", clause=st.clause_scoring,
        params={"raters": len(per_rater), "kind": _ui(f"scoring.{basis}"), "method": method, "score": _num(total),
                "count": len(applicable), "park_type": ptype},
        source=_at(app, st.name_field),
    ))
    if table.defaulted(ptype):
        app.findings.append(Finding("score-default-points", "info", clause=st.clause_scoring,
                                    params={"note": default_points_text(st), "count": len(applicable),
                                            "defaulted": len(table.defaulted_codes(ptype)), "park_type": ptype,
                                            "max": _num(st.default_max)},
                                    source=_at(app, st.name_field)))
    if table.sum_off(ptype):
        app.findings.append(Finding("score-points-sum", "info", clause=st.clause_scoring,
                                    params={"park_type": ptype, "sum": _num(total_max), "count": len(applicable),
                                            "total": _num(st.points_total)}, source=_at(app, st.name_field)))
    if basis == "expert":
        _compare_city(app, city_rows, applicable, total, st, table)
    if city_rows:
        _check_city_sheet(app, city_rows[0], ptype, st, table)


def _kept_raters(per_rater: dict[str, dict[str, float]], applicable: Sequence[Any], st: Settings
                 ) -> dict[str, dict[str, float]]:
    """The experts left once the ``trim_each`` with the highest and the lowest totals are set aside
    (``trim_by = "total"``); equal totals in the order the sheets were read."""
    totals = sorted(per_rater, key=lambda k: sum(per_rater[k].get(ind.code, 0.0) for ind in applicable))
    kept = set(totals[st.trim_each: len(totals) - st.trim_each])
    return {k: v for k, v in per_rater.items() if k in kept}


def _note_blanks(app: Application, per_rater: dict[str, dict[str, float]], rater_rows: dict[str, ScoreRow],
                 applicable: Sequence[Any], st: Settings) -> None:
    """An expert who scored the park but left applicable indicators blank: said, since those
    indicators are then summed over fewer experts (and trimmed, or not, on fewer values)."""
    for key, pts in per_rater.items():
        blank = [ind.code for ind in applicable if ind.code not in pts]
        if blank and len(blank) < len(applicable):
            row = rater_rows[key]
            app.findings.append(Finding("score-blank", "warning", clause=st.clause_scoring, params={
                "rater": row.rater_label, "indicators": join(blank), "count": len(blank),
                "file": row.source.file}, source=_at(app, st.name_field)))


def _clean_points(app: Application, rows: list[ScoreRow], ptype: str, st: Settings, table: PointsTable
                  ) -> tuple[dict[str, dict[str, float]], dict[str, ScoreRow]]:
    """Per rater: code -> points, with findings for unreadable, negative, not applicable, above max."""
    per_rater: dict[str, dict[str, float]] = {}
    rater_rows: dict[str, ScoreRow] = {}
    for row in rows:
        if row.rater in per_rater:
            app.findings.append(Finding("score-duplicate", "warning", clause=st.clause_scoring,
                                        params={"rater": row.rater_label, "file": row.source.file,
                                                "row": row.source.row}, source=_at(app, st.name_field)))
            continue
        pts: dict[str, float] = {}
        for code, value in row.points.items():
            where = f"{row.source.file}/{row.source.sheet}!{row.cells.get(code, '')}"
            common = {"indicator": code, "rater": row.rater_label, "location": where, "original": cell_text(value)}
            ind = st.indicators.get(code)
            if ind is None:
                continue  # reported once per sheet (unknown-indicator)
            ok, points = number(value)
            if not ok or points is None:
                app.findings.append(Finding("score-unreadable", "warning", clause=st.clause_scoring,
                                            params=common, source=row.source))
                continue
            if ptype not in ind.types:
                if points != 0:
                    app.findings.append(Finding(
                        "indicator-not-applicable", "warning", clause=st.clause_scoring,
                        params={**common, "name": ind.name, "park_type": ptype, "points": _num(points)},
                        source=row.source))
                continue
            if points < 0:
                app.findings.append(Finding("score-negative", "warning", clause=st.clause_scoring,
                                            params={**common, "points": _num(points)}, source=row.source))
                points = 0.0
            top = table.max(code, ptype)
            if points > top + _EPS:
                app.findings.append(Finding(
                    "score-above-max", "warning", clause=st.clause_scoring,
                    params={**common, "name": ind.name, "points": _num(points), "max": _num(top)},
                    source=row.source))
                points = top
            pts[code] = points
        per_rater[row.rater] = pts
        rater_rows[row.rater] = row
    return per_rater, rater_rows


def _compare_city(app: Application, city_rows: list[ScoreRow], applicable: list[Indicator], total: float,
                  st: Settings, table: PointsTable) -> None:
    city_total: float | None = None
    ptype = outcome_of(app).park_type or ""
    if city_rows:
        total_max = sum(table.max(ind.code, ptype) for ind in applicable)
        pts = city_rows[0].points
        if total_max:  # no indicator applies (an empty list in the rules file): no total to compare
            city_total = _out_of_100(sum(min(max(number(pts.get(ind.code))[1] or 0.0, 0.0), table.max(ind.code, ptype))
                                         for ind in applicable), total_max, st)
    else:
        declared = app.values.get(st.city_score_field) if st.city_score_field else None
        if isinstance(declared, (int, float)) and not isinstance(declared, bool):
            city_total = float(declared)
    if city_total is not None and abs(city_total - total) > st.city_gap_points:
        app.findings.append(Finding("city-score-gap", "info", clause=st.clause_scoring,
                                    params={"city_score": _num(city_total), "score": _num(total),
                                            "limit": _num(st.city_gap_points)}, source=_at(app, st.name_field)))


def _check_city_sheet(app: Application, row: ScoreRow, ptype: str, st: Settings, table: PointsTable) -> None:
    """第六条 the city's own preliminary score: points above an indicator's maximum or for one that
    does not apply to the park's type are the city's to fix (its own sheet, no expert in sight)."""
    for code, value in row.points.items():
        ind = st.indicators.get(code)
        points = number(value)[1]
        if ind is None or points is None or points <= 0:
            continue
        where = f"{row.source.sheet}!{row.cells.get(code, '')}"
        common = {"indicator": code, "name": ind.name, "points": _num(points), "location": where}
        if ptype not in ind.types:
            app.findings.append(Finding("city-score-not-applicable", "warning", clause=st.clause_city_score,
                                        params={**common, "park_type": ptype}, source=_at(app, st.name_field)))
        elif points > table.max(code, ptype) + _EPS:
            app.findings.append(Finding("city-score-above-max", "warning", clause=st.clause_city_score,
                                        params={**common, "max": _num(table.max(code, ptype))},
                                        source=_at(app, st.name_field)))


# ---------------------------------------------------------------------------------------- tiers, rank
def tier_for(score: float, excellent: int, st: Settings) -> tuple[Tier | None, Tier | None]:
    """(tier by both conditions, tier by score alone).  第九条: score line and aspect count."""
    by_score = next((t for t in st.tiers if score >= t.min_score), None)
    both = next((t for t in st.tiers if score >= t.min_score and excellent >= t.min_aspects), None)
    return both, by_score


def assign_tier(app: Application, st: Settings) -> None:
    """第九条 tier, 第十条 ceiling and the 绿色门槛; the city's result as the rules file releases it."""
    outcome = outcome_of(app)
    outcome.tier = None
    outcome.subsidy = None
    outcome.released = st.release_results
    outcome.result = None
    detail = outcome.score_detail
    if app.status in st.statuses:
        _green(app, st)
    if app.score is None or not detail:
        if app.status in st.statuses:
            outcome.result = _ui("result.pending" if not st.release_results else "result.not_scored")
        return
    excellent = [name for name, a in detail["aspects"].items() if a["excellent"]]
    tier, by_score = tier_for(app.score, len(excellent), st)
    detail["excellent_aspects"] = excellent
    detail["tier_by_score"] = by_score.name if by_score else None
    if app.status not in st.statuses:
        if by_score is not None:
            app.findings.append(Finding("tier-withheld", "info", clause=st.clause_tier,
                                        params={"score": _num(app.score), "tier": by_score.name},
                                        source=_at(app, st.name_field)))
        return
    lowest = min((t.min_score for t in st.tiers), default=0)
    aspects_text = join(excellent) or _ui("scoring.none")
    if by_score is None:
        app.findings.append(Finding("tier-not-recognised", "info", clause=st.clause_tier,
                                    params={"score": _num(app.score), "line": _num(lowest)},
                                    source=_at(app, st.name_field)))
    elif tier is not by_score:
        app.findings.append(Finding(
            "tier-aspects-short", "warning", clause=st.clause_tier,
            params={"score": _num(app.score), "by_score": by_score.name, "needed": by_score.min_aspects,
                    "count": len(excellent), "aspects": aspects_text, "share": f"{st.excellent_share:.0%}",
                    "tier": tier.name if tier else _ui("scoring.not_recognised"),
                    # "认定为成长型", or "不予认定" (not "认定为不予认定")
                    "outcome": _ui("scoring.recognised_as", tier=tier.name) if tier else _ui("scoring.not_recognised")},
            source=_at(app, st.name_field)))
    if tier is not None:
        outcome.tier = tier.name
        app.findings.append(Finding("tier-assigned", "info", clause=st.clause_tier,
                                    params={"tier": tier.name, "score": _num(app.score), "count": len(excellent),
                                            "aspects": aspects_text}, source=_at(app, st.name_field)))
        if app.status == "needs_review":
            app.findings.append(Finding("tier-provisional", "info", clause=st.clause_tier,
                                        params={"tier": tier.name}, source=_at(app, st.name_field)))
        if tier.ceiling > 0 and app.values.get(st.green_field) is True:
            outcome.subsidy = _whole(tier.ceiling)
    outcome.result = _result_text(app, tier, by_score, st)


def _green(app: Application, st: Settings) -> None:
    """第十条 绿色门槛: a park that may be recognised and does not meet it (or does not say) gets no
    subsidy; said to every such park, whatever its tier, so that the finding tells nothing of it."""
    green = app.values.get(st.green_field)
    if green is True:
        return
    code = "no-green-threshold" if green is False else "green-threshold-missing"
    app.findings.append(Finding(code, "warning", field=st.green_field, clause=st.clause_subsidy,
                                source=_at(app, st.green_field)))


def _result_text(app: Application, tier: Tier | None, by_score: Tier | None, st: Settings) -> str:
    """What the city is told of its recognition: never a rater, an aspect share or a score line the
    park missed by; only the outcome, or that it follows."""
    if not st.release_results:
        return _ui("result.pending")
    if tier is None:
        return _ui("result.below_line" if by_score is None else "result.aspects_short")
    return _ui("result.provisional" if app.status == "needs_review" else "result.tier", tier=tier.name)


def rank_applications(apps: list[Application], st: Settings) -> None:
    """Province rank (and rank within the park type) of the eligible / needs_review parks by score.

    Ties: more excellent aspects, then the cities in the province's order, then name, then id.
    """
    order = {c: i for i, c in enumerate(st.cities)}

    def key(app: Application) -> tuple[Any, ...]:
        detail = outcome_of(app).score_detail or {}
        return (-(app.score or 0.0), -len(detail.get("excellent_aspects", [])), order.get(app.city or "", 99),
                app.name or "", app.id)

    ranked = sorted((a for a in apps if a.score is not None and a.status in RANKED_STATUSES), key=key)
    per_type: dict[str, int] = {}
    for i, app in enumerate(ranked, 1):
        app.rank = i
        ptype = outcome_of(app).park_type or ""
        per_type[ptype] = per_type.get(ptype, 0) + 1
        app.industry_rank = per_type[ptype]
    for app in apps:
        if app not in ranked:
            app.rank = None
            app.industry_rank = None


# ---------------------------------------------------------------------------------------- allocation
def allocate(ceilings: list[float], budget: float, leftover: str = "largest_remainder") -> list[int | float]:
    """The documented method (see ``[park.subsidy].method_text``), in list order = priority order.

    Sum of ceilings within the budget: every park gets its ceiling.  Otherwise each gets
    ceiling × budget ÷ Σ ceilings rounded DOWN to whole 万元; with ``largest_remainder`` the whole
    万元 lost to rounding go one each to the largest fractional parts (ties: list order), never
    above a ceiling.  The sum never exceeds the budget.
    """
    total = sum(Fraction(str(c)) for c in ceilings)
    if total <= Fraction(str(budget)):
        return [_whole(c) for c in ceilings]
    b = Fraction(str(max(budget, 0.0)))
    exact = [Fraction(str(c)) * b / total for c in ceilings]
    out = [math.floor(e) for e in exact]
    if leftover == "largest_remainder":
        spare = math.floor(b) - sum(out)
        order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - out[i]), i))
        for i in order:
            if spare <= 0:
                break
            if exact[i] > out[i] and out[i] + 1 <= ceilings[i]:
                out[i] += 1
                spare -= 1
    return list(out)


def allocation_for(apps: list[Application], budget: float, st: Settings) -> dict[str, Any]:
    """第十一条 资金分配意见: rows, totals and the method in Chinese; proposals also on each app."""
    candidates = sorted((a for a in apps if outcome_of(a).subsidy),
                        key=lambda a: (a.rank or 10**9, a.id))
    proposals = allocate([float(outcome_of(a).subsidy or 0) for a in candidates], budget, st.leftover)
    for app in apps:
        outcome_of(app).subsidy_proposed = None
    rows = []
    for app, proposed in zip(candidates, proposals, strict=True):
        outcome = outcome_of(app)
        outcome.subsidy_proposed = proposed
        app.findings.append(Finding("subsidy-proposed", "info", clause=st.clause_allocation,
                                    params={"proposed": _num(proposed), "ceiling": _num(outcome.subsidy or 0),
                                            "budget": _num(budget)}, source=_at(app, st.name_field)))
        rows.append({"id": app.id, "city": app.city, "name": app.name, "park_type": outcome.park_type,
                     "tier": outcome.tier, "score": app.score, "rank": app.rank, "status": app.status,
                     "provisional": app.status != "eligible", "ceiling": outcome.subsidy,
                     "proposed": proposed})
    ceilings = sum(float(outcome_of(a).subsidy or 0) for a in candidates)
    proposed_total = sum(proposals)
    return {
        "allocation": rows,
        "allocation_method": st.method_text,
        "allocation_summary": {"budget": budget, "ceilings_total": _whole(ceilings),
                               "proposed_total": _whole(proposed_total),
                               "unallocated": round(budget - proposed_total, 4),
                               "scaled": ceilings > budget},
    }


# ---------------------------------------------------------------------------------------- helpers
def _num(value: float) -> str:
    return cell_text(round(value, 4))


def _whole(value: float | int) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _at(app: Application, field: str | None) -> Source:
    return Source(file=app.source.file, sheet=app.source.sheet, row=app.source.row,
                  cell=app.cells.get(field) if field else None)


def _status_from_findings(app: Application) -> str:
    from sdbatch.decide import status_from_findings

    return str(status_from_findings(app))


# ---------------------------------------------------------------------------------------- the program
class _SectionModel:
    """:class:`~sdbatch.programs.park_rules.ParkSection`, imported when a rules file is loaded (the
    schema needs pydantic, which ``sdbatch --help`` does not)."""

    def __get__(self, obj: object, owner: type | None = None) -> type[BaseModel]:
        from sdbatch.programs.park_rules import ParkSection

        return ParkSection


class ParkProgram(Program):
    """Provincial digital economy parks: score sheets, tiers, subsidies (第六条–第十一条)."""

    kind = "park"
    section = "park"
    section_model = _SectionModel()  # type: ignore[assignment]
    options = (ProgramOption("budget", float, "options.budget", minimum=0),)

    def claims_sheet(self, sheet: RawSheet) -> bool:
        return claims_sheet(sheet, self.rules)

    def claim_file(self, raw: RawWorkbook) -> ScoreFile | None:
        return claim_file(raw, self.rules)

    def check_application(self, app: Application) -> list[Finding]:
        return check_application(app, self.rules)

    def decide(self, apps: list[Application], claimed: Sequence[tuple[FileRecord, Any]],
               options: Mapping[str, Any]) -> ProgramReport:
        data = decide(apps, self.rules, list(claimed), dict(options))
        return ProgramReport(data=data, department_only=frozenset({"park_scoring", "allocation",
                                                                   "allocation_summary", "allocation_method"}))

    def history_facts(self, app: Application) -> dict[str, Any]:
        """The tier and subsidy (the proposal with a budget, else the ceiling) the ledger keeps."""
        outcome = outcome_of(app)
        subsidy = outcome.subsidy_proposed if outcome.subsidy_proposed is not None else outcome.subsidy
        return {"tier": outcome.tier, "subsidy": subsidy}

    # ------------------------------------------------------------------ outputs
    def outcome_columns(self) -> list[OutcomeColumn]:
        """The department's list: the tier and ceiling as decided, the proposal, the aspects.  A
        city's review and e-mail: the result as the rules file releases it (``result``,
        ``subsidy_released``), never a rater's or an aspect's figure."""
        tiers = tuple(t.name for t in settings_of(self.rules).tiers)
        return [
            OutcomeColumn("tier", _ui("columns.tier"), lambda a: outcome_of(a).tier, audience="department",
                          where=("list",), summary="count", values=tiers, summary_label="programs.park.summary.tier"),
            OutcomeColumn("result", _ui("columns.result"), lambda a: outcome_of(a).result,
                          where=("list", "review", "mail"), phrase="programs.park.phrases.result", optional=True),
            OutcomeColumn("subsidy", _ui("columns.subsidy"), lambda a: outcome_of(a).subsidy, audience="department",
                          number_format="0", where=("list",), summary="sum",
                          summary_label="programs.park.summary.subsidy"),
            OutcomeColumn("subsidy_released", _ui("columns.subsidy"), _released_subsidy, number_format="0",
                          where=("review", "mail"), phrase="programs.park.phrases.subsidy", optional=True),
            OutcomeColumn("subsidy_proposed", _ui("columns.subsidy_proposed"),
                          lambda a: outcome_of(a).subsidy_proposed, audience="department", number_format="0",
                          where=("list",), summary="sum", optional=True,
                          summary_label="programs.park.summary.subsidy_proposed"),
            OutcomeColumn("excellent", _ui("columns.excellent"), _excellent_text,
                          audience="department", where=("list",), optional=True),
        ]

    def list_sheets(self, result: RunResult, apps: list[Application]) -> list[SheetSpec]:
        report = result.report(self.rules.name)
        st = settings_of(self.rules)
        out = []
        allocation = _allocation_sheet(report)
        if allocation is not None:
            out.append(allocation)
        scoring = report.get("park_scoring") or {}
        if scoring.get("score_sheets"):
            out.append(_sheets_sheet(scoring))
        if any(outcome_of(a).score_detail for a in apps):
            out.append(_raters_sheet(apps))
        problems = _problems_sheet(result, apps, self.rules.name)
        if problems is not None:
            out.append(problems)
        if scoring.get("points"):
            out.append(_points_sheet(scoring["points"], st))
        return out

    def score_for_city(self, app: Application) -> float | None:
        """The experts' combined score is the department's until ``[park.release]`` releases the results."""
        outcome = app.outcome
        return app.score if isinstance(outcome, ParkOutcome) and outcome.released else None

    def notes(self, result: RunResult, apps: list[Application], audience: str) -> list[Note]:
        st = settings_of(self.rules)
        scoring = result.report(self.rules.name).get("park_scoring") or {}
        defaulted = any((outcome_of(a).score_detail or {}).get("points_default") for a in apps)
        default = Note(_ui("notes.points_label"), _ui("notes.points_default_mark") + default_points_text(st),
                       emphasis=True)
        if audience == "city":
            out = [default] if defaulted else []
            if not st.release_results and any(outcome_of(a).result for a in apps):
                out.append(Note(_ui("notes.release_label"), _ui("notes.release_pending")))
            return out
        out = [Note(text("notes.ranking_label"), _ui("notes.ranking"))]
        points = str(scoring.get("note") or "")
        if defaulted:
            out.append(default)
            points = points.removeprefix(default_points_text(st))  # said just above
        if points:
            out.append(Note(_ui("notes.points_used_label"), points, emphasis=defaulted))
        out.append(Note(_ui("notes.aggregation_label"), aggregation_text(st)))
        if st.aspects:
            aspects = join(_ui("notes.aspect", aspect=k, groups=join(st.groups.get(g, g) for g in v))
                           for k, v in st.aspects.items())
            out.append(Note(_ui("notes.excellent_label"), _ui("notes.excellent_text", aspects=aspects,
                                                              share=f"{st.excellent_share:.0%}")))
        out.append(Note(_ui("notes.release_label"),
                        _ui("notes.release_yes" if st.release_results else "notes.release_no")))
        report = result.report(self.rules.name)
        summary = report.get("allocation_summary")
        if summary:
            out.append(Note(_ui("notes.budget_label"), _ui("notes.budget_text", budget=_num(summary["budget"]))))
        if report.get("allocation_method"):
            out.append(Note(_ui("notes.method_label"), str(report["allocation_method"])))
        return out


def _released_subsidy(app: Application) -> int | float | None:
    outcome = outcome_of(app)
    return outcome.subsidy if outcome.released else None


def _excellent_text(app: Application) -> str | None:
    """The aspects judged 表现优异 (第九条), e.g. ``聚集水平、创新能力、发展潜力（3项）``."""
    detail = outcome_of(app).score_detail
    if not isinstance(detail, dict) or "aspects" not in detail:
        return None
    names = detail.get("excellent_aspects")
    if names is None:
        names = [k for k, v in (detail.get("aspects") or {}).items() if isinstance(v, dict) and v.get("excellent")]
    if not names:
        return _ui("columns.excellent_none")
    return _ui("columns.excellent_value", names=join(names), count=len(names))


def _shown(key: str, value: Any) -> Any:
    if key == "status":
        return label("status", value)
    if isinstance(value, bool):
        return text("values.yes") if value else text("values.no")
    return value


def _allocation_sheet(report: dict[str, Any]) -> SheetSpec | None:
    summary = report.get("allocation_summary")
    if summary is None:
        return None
    keys = ["city", "name", "park_type", "tier", "score", "rank", "status", "provisional", "ceiling", "proposed"]
    rows: list[list[Any]] = [[_shown(k, row.get(k)) for k in keys] for row in report.get("allocation") or []]
    total: list[Any] = [_ui("allocation.total"), _ui("allocation.count", count=len(rows))]
    total += [None] * (len(keys) - 4) + [_whole(sum(float(r[-2] or 0) for r in rows)),
                                         _whole(sum(float(r[-1] or 0) for r in rows))]
    notes = [pair(_ui(f"allocation.{key}"), _num(summary[key]))
             for key in ("budget", "ceilings_total", "proposed_total", "unallocated")]
    notes.append(pair(_ui("allocation.scaled"), _ui(
        "allocation.scaled_yes" if summary.get("scaled") else "allocation.scaled_no")))
    if report.get("allocation_method"):
        notes.append(pair(_ui("allocation.method"), report["allocation_method"]))
    return SheetSpec(
        name=_ui("allocation.sheet"),
        headers=[_ui(f"allocation.columns.{k}") for k in keys],
        rows=[*rows, total] if rows else [[_ui("allocation.empty")]],
        notes=notes, number_formats={keys.index("ceiling"): "0", keys.index("proposed"): "0"},
    )


def _sheets_sheet(scoring: dict[str, Any]) -> SheetSpec:
    """评分表读取: every score sheet read, its rater, layout, the points it states, whether they were
    used and what disagrees (department only: it names the experts and their files)."""
    keys = ["file", "sheet", "kind", "rater", "layout", "parks", "stated", "points_used", "problems"]
    rows = []
    for s in scoring["score_sheets"]:
        stated = join(_ui("sheets_sheet.stated_labelled" if x["type_from"] == "label" else "sheets_sheet.stated_item",
                          label=x["label"], park_type=x["park_type"] or _ui("points.every_type"), count=x["count"],
                          sum=_num(x["sum"])) for x in s.get("stated", []))
        rows.append([s["file"], s["sheet"], _ui(f"sheets.{s['kind']}"), s["rater"], _ui(f"sheets.{s['layout']}"),
                     s["parks"], stated or _ui("sheets.no_points"),
                     _shown("", bool(s.get("points_used"))) if s.get("stated") else None,
                     _ui("sheets_sheet.separator").join(p["message"] for p in s.get("problems", [])) or None])
    return SheetSpec(name=_ui("sheets_sheet.name"), title=_ui("sheets_sheet.title"),
                     headers=[_ui(f"sheets_sheet.columns.{k}") for k in keys], rows=rows,
                     notes=[_ui("sheets_sheet.note")])


def _raters_sheet(apps: list[Application]) -> SheetSpec:
    """专家评分: each park's total by each rater beside the aggregated score (department only)."""
    raters: dict[str, None] = {}
    scored = [a for a in apps if outcome_of(a).score_detail]
    for app in scored:
        for name in (outcome_of(app).score_detail or {}).get("rater_totals", {}):
            raters.setdefault(name, None)
    rows = []
    for app in sorted(scored, key=lambda a: (a.rank or 10**6, a.city or "", a.name or "")):
        detail = outcome_of(app).score_detail or {}
        totals = detail.get("rater_totals", {})
        # without the binary floating-point residue (64.01 - 54.01 is 10.000000000000007)
        spread = round(max(totals.values()) - min(totals.values()), 6) if len(totals) > 1 else None
        rows.append([app.city, app.name, outcome_of(app).park_type, _ui(f"scoring.{detail.get('basis', 'expert')}"),
                     app.score, *[totals.get(r) for r in raters], spread])
    headers = [_ui(f"raters_sheet.columns.{k}") for k in ("city", "name", "park_type", "basis", "score")]
    headers += [*raters, _ui("raters_sheet.columns.spread")]
    formats = {i: "0.00" for i in range(4, len(headers))}
    return SheetSpec(name=_ui("raters_sheet.name"), title=_ui("raters_sheet.title"), headers=headers, rows=rows,
                     notes=[_ui("raters_sheet.note")], number_formats=formats)


#: info findings of the expert review worth a line in 评分问题 (the warnings all are)
_NOTED_INFO = ("score-name-matched", "city-score-gap", "score-points-sum", "points-incomplete", "score-sheet-replaced")


def _problems_sheet(result: RunResult, apps: list[Application], program: str) -> SheetSpec | None:
    """评分问题: what the expert review needs the department to look at — disagreements, points above
    the maximum or for an indicator that does not apply, with the score sheets' cells; the sheets'
    stated points that disagree (department only: these name the experts and their files)."""
    from sdbatch.catalogue import audience

    def wanted(f: Finding) -> bool:
        return audience(f.code) == "department" and (f.severity != "info" or f.code in _NOTED_INFO)

    rows: list[list[Any]] = []
    for app in sorted(apps, key=lambda a: (a.city or "", a.name or "")):
        for f in app.findings:
            if wanted(f):
                shown = render(f)
                rows.append([app.city, app.name, shown.title, shown.message, shown.fix or None, f.clause])
    for record in result.files:
        if record.program != program or record.claimed is None:
            continue
        for f in record.findings:
            if wanted(f):
                shown = render(f)
                rows.append([None, record.file, shown.title, shown.message, shown.fix or None, f.clause])
    if not rows:
        return None
    return SheetSpec(name=_ui("problems_sheet.name"), title=_ui("problems_sheet.title"),
                     headers=[_ui(f"problems_sheet.columns.{k}") for k in ("city", "subject", "title", "message",
                                                                          "fix", "clause")], rows=rows)


def _points_sheet(points: dict[str, Any], st: Settings) -> SheetSpec:
    """指标分值: every indicator's points per park type and where they came from (department only)."""
    by_type = points.get("by_type", {})
    types = [t for t in st.park_types if t in by_type]
    headers = [_ui("points_sheet.columns.code"), _ui("points_sheet.columns.name"), _ui("points_sheet.columns.group")]
    for t in types:
        headers += [_ui("points_sheet.columns.points", park_type=t), _ui("points_sheet.columns.source", park_type=t)]
    rows: list[list[Any]] = []
    for ind in st.indicators.values():
        row: list[Any] = [ind.code, ind.name, st.groups.get(ind.group, ind.group)]
        for t in types:
            value = by_type[t]["maxima"].get(ind.code)
            source = by_type[t]["sources"].get(ind.code)
            row += [value, _ui(f"points_sheet.source.{source}") if source else _ui("points_sheet.not_applicable")]
        rows.append(row)
    total: list[Any] = [_ui("allocation.total"), None, None]
    for t in types:
        total += [by_type[t]["total"], None]
    notes = [_ui("points_sheet.note", total=_num(points.get("expected_total", 100)))]
    notes += [_ui("points_sheet.sheets", park_type=t, sheets=join(by_type[t]["sheets"]))
              for t in types if by_type[t]["sheets"]]
    return SheetSpec(name=_ui("points_sheet.name"), title=_ui("points_sheet.title"), headers=headers,
                     rows=[*rows, total], notes=notes,
                     number_formats={3 + 2 * i: "0.##" for i in range(len(types))})
