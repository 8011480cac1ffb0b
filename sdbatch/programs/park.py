"""Provincial digital economy parks: the steps only this program has.

The shared stages read, normalise and check the city summary tables (第五条).  This module adds,
through the hooks the pipeline calls by program kind:

- :func:`claim_file` — score sheets: the experts' re-scores (第八条) and the city's preliminary
  score (第六条), parks as rows or as columns, one sheet or one file per rater;
- :func:`check_application` — the 整体打包 warning (第五条(五));
- :func:`decide` — scores by the 评分标准 (applicability √, maxima, expert aggregation), tiers with
  the aspect condition (第九条), subsidy ceilings and the 绿色门槛 (第十条) and, given a budget,
  the allocation proposal (第十一条).

Every number, clause and word comes from the rules file (``[park]`` tables); the functions are
pure apart from appending findings to the objects they are given.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sdbatch.catalogue import join, pair, text
from sdbatch.model import (
    Application,
    FileRecord,
    Finding,
    RawSheet,
    RawWorkbook,
    RunResult,
    Source,
    cell_address,
)
from sdbatch.programs.base import Note, OutcomeColumn, Program, ProgramOption, ProgramReport, SheetSpec
from sdbatch.programs.park_history import settle_upgrades
from sdbatch.rules import Rules
from sdbatch.text import cell_text, nfkc, squash

if TYPE_CHECKING:
    from pydantic import BaseModel

RANKED_STATUSES = ("eligible", "needs_review")
_STATUS_ORDER = ("over_quota", "ineligible", "incomplete", "needs_review", "eligible")


# ---------------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    group: str
    types: tuple[str, ...]
    max: float  # the maximum (with one per type: the highest of them)
    explicit: bool  # max written in the rules file (False: the documented default)
    max_by_type: Mapping[str, float] = dc_field(default_factory=dict)  # park type -> maximum, when they differ

    def max_for(self, park_type: str | None) -> float:
        """The indicator's maximum for a park of ``park_type``."""
        return self.max_by_type.get(park_type or "", self.max)


@dataclass(frozen=True)
class Tier:
    name: str
    min_score: float
    min_aspects: int
    ceiling: float  # 万元; 0 = no subsidy


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

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "park_type": self.park_type, "tier": self.tier, "subsidy": self.subsidy,
                "subsidy_proposed": self.subsidy_proposed, "score_detail": self.score_detail}


def outcome_of(app: Application) -> ParkOutcome:
    if not isinstance(app.outcome, ParkOutcome):
        app.outcome = ParkOutcome()
    return app.outcome


@dataclass(frozen=True)
class Settings:
    """The ``[park]`` tables of a rules file (:class:`~sdbatch.programs.park_rules.ParkSection`, as
    validated by the loader) with the round's roles, in the shape the steps below use."""

    type_field: str
    name_field: str
    city_score_field: str | None
    cities: tuple[str, ...]
    park_types: tuple[str, ...]
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
    decimals: int
    code_re: re.Pattern[str]
    min_codes: int
    trim_min_experts: int
    trim_each: int
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
    missing_codes: tuple[str, ...]
    whole_zone: dict[str, Any]
    green_field: str
    statuses: tuple[str, ...]
    leftover: str
    method_text: str

    @property
    def points_defaulted(self) -> bool:
        return any(not ind.explicit for ind in self.indicators.values())

    def applicable(self, park_type: str) -> list[Indicator]:
        return [ind for ind in self.indicators.values() if park_type in ind.types]

    def aggregation_text(self) -> str:
        return (f"各指标取专家评分的平均值；专家不少于{self.trim_min_experts}位时，"
                f"先去掉{self.trim_each}个最高分和{self.trim_each}个最低分")

    def points_note(self) -> str:
        if not self.points_defaulted:
            return "各指标分值按规则文件设定。"
        return (f"《评分标准》未规定各指标分值：按默认每项{_num(self.default_max)}分计，"
                f"总分按该类型适用指标的满分之和折算为百分制。")


@functools.cache
def settings_of(rules: Rules) -> Settings:
    """The park settings of a loaded rules file (cached per Rules object)."""
    from sdbatch.programs.park_rules import ParkSection

    park = rules.section if isinstance(rules.section, ParkSection) else ParkSection()
    scoring = park.scoring
    park_types = tuple(rules.choices[f.choices].allowed) if (
        (f := rules.fields.get(rules.type_field or "")) is not None and f.choices in rules.choices) else ()
    code_re = re.compile(scoring.code_pattern)
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
        decimals=scoring.decimals,
        code_re=code_re,
        min_codes=scoring.min_codes,
        trim_min_experts=scoring.trim_min_experts,
        trim_each=scoring.trim_each,
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
        missing_codes=tuple(scoring.missing_codes),
        whole_zone=park.whole_zone.model_dump() if park.whole_zone is not None else {},
        green_field=subsidy.green_field,
        statuses=tuple(subsidy.statuses),
        leftover=subsidy.leftover,
        method_text=subsidy.method_text,
    )


# ---------------------------------------------------------------------------------------- score sheets
@dataclass
class ScoreRow:
    """One rater's points for one park, as written."""

    rater: str  # unique key of the rater (file#sheet[#name])
    rater_label: str  # how people call the rater (专家姓名, sheet name…)
    kind: str  # "expert" (第八条) or "city" (第六条 preliminary score)
    park: str  # park name as written
    city: str | None
    points: dict[str, Any]  # code -> value as written
    cells: dict[str, str]  # code -> cell address
    source: Source
    named: bool = False  # the rater is named in the sheet (评审专家：…, a 专家 column), not guessed


@dataclass
class ScoreSheet:
    file: str
    sheet: str
    layout: str  # "rows" (parks as rows) or "columns" (parks as columns)
    kind: str
    rater_label: str
    named: bool = False
    rows: list[ScoreRow] = dc_field(default_factory=list)
    unknown_codes: list[str] = dc_field(default_factory=list)


@dataclass
class ScoreFile:
    """What :func:`claim_file` returns for a workbook of score sheets."""

    path: str
    sheets: list[ScoreSheet]


def code_of(value: Any, st: Settings) -> str | None:
    """``L1P1``, ``l1p1``, ``Ｌ１Ｐ１``, ``L1P1 网络覆盖情况`` -> ``L1P1``; anything else -> None."""
    if not isinstance(value, str):
        return None
    text = squash(value).upper()
    m = st.code_re.match(text)
    if not m:
        return None
    code = m.group(0)
    rest = text[len(code):]
    if rest[:1].isdigit():
        return None
    return code


def parse_score_sheets(sheet: RawSheet, file: str, st: Settings) -> list[ScoreSheet]:
    """Every score table of a sheet: usually one; two raters' tables stacked one under the other
    (each with its own title 评审专家：… and header row of codes) are read as two raters."""
    headers = [r for r, line in enumerate(sheet.rows) if sum(1 for v in line if code_of(v, st)) >= st.min_codes]
    if len(headers) < 2:
        single = parse_score_sheet(sheet, file, st)
        return [single] if single else []
    bounds = [0]
    for h in headers[1:]:  # a block ends after its last row of numbers; title lines go with the next
        numbers = [r for r in range(bounds[-1], h)
                   if any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in sheet.rows[r])]
        bounds.append((max(numbers) + 1) if numbers else h)
    bounds.append(len(sheet.rows))
    out = []
    for i in range(len(headers)):
        rows = [line if bounds[i] <= r < bounds[i + 1] else [] for r, line in enumerate(sheet.rows)]
        part = parse_score_sheet(RawSheet(name=sheet.name, rows=rows, hidden=sheet.hidden), file, st)
        if part is None:
            continue
        if not part.named:
            part.rater_label = f"{part.rater_label}（第{i + 1}组）"
        for row in part.rows:
            row.rater = f"{row.rater}#{i + 1}"
            row.rater_label = part.rater_label
        out.append(part)
    return out


def parse_score_sheet(sheet: RawSheet, file: str, st: Settings) -> ScoreSheet | None:
    """A score sheet in either orientation, or None when the sheet names too few indicator codes."""
    rows = sheet.rows
    by_row: dict[int, dict[int, str]] = {}
    by_col: dict[int, dict[int, str]] = {}
    for r, line in enumerate(rows):
        for c, value in enumerate(line):
            code = code_of(value, st)
            if code:
                by_row.setdefault(r, {})[c] = code
                by_col.setdefault(c, {})[r] = code
    best_row = max(by_row, key=lambda r: len(by_row[r]), default=None)
    best_col = max(by_col, key=lambda c: len(by_col[c]), default=None)
    n_row = len(by_row[best_row]) if best_row is not None else 0
    n_col = len(by_col[best_col]) if best_col is not None else 0
    if max(n_row, n_col) < st.min_codes:
        return None
    stem = Path(file).stem
    if n_row >= n_col:
        assert best_row is not None
        header_text = _text_above(rows, best_row)
        kind, label, named = _rater_of(sheet.name, header_text, stem, st)
        out = ScoreSheet(file, sheet.name, "rows", kind, label, named)
        _parse_rows(sheet, file, best_row, by_row[best_row], out, st)
    else:
        assert best_col is not None
        first = min(by_col[best_col])
        header_text = _text_above(rows, max(0, first - 1))
        kind, label, named = _rater_of(sheet.name, header_text, stem, st)
        out = ScoreSheet(file, sheet.name, "columns", kind, label, named)
        _parse_columns(sheet, file, best_col, by_col[best_col], out, st)
    found = by_row[best_row] if out.layout == "rows" and best_row is not None else by_col.get(best_col or 0, {})
    codes = set(found.values())
    out.unknown_codes = sorted(c for c in codes if c not in st.indicators)
    return out if out.rows else None


def _text_above(rows: list[list[Any]], upto: int) -> str:
    return " ".join(cell_text(v) for line in rows[:upto] for v in line if isinstance(v, str) and v.strip())


def _rater_of(sheet_name: str, title: str, stem: str, st: Settings) -> tuple[str, str, bool]:
    """(kind, label, named) of a sheet's rater from its name, title rows and file name."""
    where = f"{sheet_name} {title} {stem}"
    if any(marker in where for marker in st.expert_markers):
        kind = "expert"  # 专家/评审专家/复核 wins over 市级 (e.g. 各市市级推荐园区 in an expert's title)
    elif any(marker in where for marker in st.city_markers):
        kind = "city"  # 初审、市级评分… without 专家: the city's preliminary score (第六条)
    else:
        kind = "expert"
    words = "|".join(re.escape(w) for w in st.rater_headers)
    m = re.search(rf"(?:{words})\s*[:：]\s*([^\s,，;；()（）\[\]【】]+)", nfkc(f"{title} {sheet_name}")) if words else None
    if m:
        return kind, m.group(1), True
    person = re.search(r"[_\-—（(]([\u4e00-\u9fff]{2,4})[）)]?$", stem)  # 复核评分_李明.xlsx
    if person and not any(marker in person.group(1) for marker in (*st.expert_markers, *st.city_markers)):
        return kind, person.group(1), False
    if not re.fullmatch(r"(?i)(sheet|工作表|表)\s*\d*", sheet_name.strip()):
        return kind, sheet_name.strip(), False
    return kind, stem, False


def _header_of(rows: list[list[Any]], header_row: int, col: int) -> str:
    parts = []
    for r in range(max(0, header_row - 2), header_row + 1):
        if r < header_row and sum(1 for v in rows[r] if v is not None and str(v).strip()) < 2:
            continue  # a title row (one cell) is not part of the header
        if col < len(rows[r]) and isinstance(rows[r][col], str):
            parts.append(squash(rows[r][col]))
    return "".join(parts)


def _find_col(headers: dict[int, str], words: tuple[str, ...], avoid: tuple[str, ...] = ()) -> int | None:
    for word in words:  # words in priority order
        for c, header in sorted(headers.items()):
            if word in header and not any(a in header for a in avoid):
                return c
    return None


def _parse_rows(sheet: RawSheet, file: str, hr: int, code_cols: dict[int, str], out: ScoreSheet,
                st: Settings) -> None:
    rows = sheet.rows
    width = max((len(line) for line in rows), default=0)
    headers = {c: _header_of(rows, hr, c) for c in range(width) if c not in code_cols}
    rater_col = _find_col(headers, st.rater_headers)
    name_col = _find_col(headers, st.name_headers, avoid=st.rater_headers + ("指标",))
    city_col = _find_col(headers, st.city_headers)
    if name_col is None:  # the first text column left of the codes
        first_code = min(code_cols)
        for c in range(first_code):
            if c in (rater_col, city_col):
                continue
            values = [rows[r][c] for r in range(hr + 1, len(rows)) if c < len(rows[r])]
            if any(isinstance(v, str) and v.strip() and not _number(v)[0] for v in values):
                name_col = c
                break
    if name_col is None:
        return
    seen: set[tuple[str, str]] = set()
    for r in range(hr + 1, len(rows)):
        line = rows[r]
        name = cell_text(line[name_col]) if name_col < len(line) else ""
        if not name or any(w in name for w in st.total_words) or _is_note(name):
            continue
        if any(_is_max_label(line[c], st) for c in range(len(line)) if c not in code_cols):
            continue  # the 满分 row: the maxima of the indicators, not a park
        points = {code: line[c] for c, code in code_cols.items() if c < len(line) and not _blank(line[c], st)}
        if not points:
            continue
        rater, label, named = f"{file}#{out.sheet}", out.rater_label, out.named
        if rater_col is not None and rater_col < len(line) and cell_text(line[rater_col]):
            label, named = cell_text(line[rater_col]), True
            rater = f"{rater}#{label}"
        key = (rater, _norm_name(name))
        if key in seen:
            continue  # the same rater twice for one park: the first row counts (reported at decide)
        seen.add(key)
        city = cell_text(line[city_col]) if city_col is not None and city_col < len(line) else None
        out.rows.append(ScoreRow(
            rater=rater, rater_label=label, kind=out.kind, park=name, city=city or None, points=points,
            cells={code: cell_address(r, c) for c, code in code_cols.items()},
            source=Source(file=file, sheet=sheet.name, row=r + 1), named=named,
        ))


def _parse_columns(sheet: RawSheet, file: str, cc: int, code_rows: dict[int, str], out: ScoreSheet,
                   st: Settings) -> None:
    rows = sheet.rows
    first = min(code_rows)
    width = max((len(line) for line in rows), default=0)
    park_cols: dict[int, str] = {}
    for hr in range(first - 1, max(-1, first - 5), -1):
        line = rows[hr]
        for c in range(width):
            if c == cc or c >= len(line):
                continue
            text = cell_text(line[c])
            key = squash(text)
            if (not text or _number(text)[0] or any(w in key for w in st.label_headers)
                    or any(w in key for w in st.total_words) or any(w in key for w in st.rater_headers)
                    or _is_max_label(text, st)):
                continue
            # a park column holds numbers (or blanks) against the codes
            values = [rows[r][c] for r in code_rows if c < len(rows[r])]
            if any(isinstance(v, str) and not _blank(v, st) and not _number(v)[0] for v in values):
                continue
            park_cols[c] = text
        if park_cols:
            header_row = hr
            break
    else:
        return
    for c, name in park_cols.items():
        points = {code: rows[r][c] for r, code in code_rows.items()
                  if c < len(rows[r]) and not _blank(rows[r][c], st)}
        if not points:
            continue
        out.rows.append(ScoreRow(
            rater=f"{file}#{out.sheet}", rater_label=out.rater_label, kind=out.kind, park=name, city=None,
            points=points, cells={code: cell_address(r, c) for r, code in code_rows.items()},
            source=Source(file=file, sheet=sheet.name, row=header_row + 1, cell=cell_address(header_row, c)),
            named=out.named,
        ))


def _is_max_label(value: Any, st: Settings) -> bool:
    """``满分``, ``分值（分）``, ``最高分``, ``标准分``: the label of the maxima row or column."""
    if not isinstance(value, str):
        return False
    key = re.sub(r"[（(][^）)]*[）)]|[\W_]+", "", squash(value))
    return bool(key) and any(key == w or (key.startswith(w) and len(key) <= len(w) + 2) or
                             (key.endswith(w) and len(key) <= len(w) + 2) for w in st.max_words)


def _is_note(text: str) -> bool:
    return bool(re.match(r"^(注|说明|填表说明|备注|评分说明)[:：]?", text.strip()))


def _blank(value: Any, st: Settings) -> bool:
    return value is None or (isinstance(value, str) and squash(value) in st.blank_words)


def _number(value: Any) -> tuple[bool, float | None]:
    """(is a number, value).  Text numbers in full width are numbers; booleans are not."""
    if isinstance(value, bool):
        return False, None
    if isinstance(value, (int, float)):
        return (False, None) if isinstance(value, float) and math.isnan(value) else (True, float(value))
    if isinstance(value, str):
        text = squash(value).replace(",", "").removesuffix("分")
        try:
            return True, float(text)
        except ValueError:
            return False, None
    return False, None


def _num(value: float) -> str:
    return cell_text(round(value, 4))


# ---------------------------------------------------------------------------------------- hooks
def claims_sheet(sheet: RawSheet, rules: Rules) -> bool:
    """Whether ``sheet`` is a score sheet (for a header locator that should leave it alone)."""
    return bool(parse_score_sheets(sheet, "", settings_of(rules)))


def claim_file(raw: RawWorkbook, rules: Rules) -> ScoreFile | None:
    """Claim a workbook with no summary table when it holds score sheets; None otherwise."""
    st = settings_of(rules)
    name = Path(raw.path).name
    sheets = [s for sheet in raw.sheets if not sheet.hidden for s in parse_score_sheets(sheet, name, st)]
    return ScoreFile(raw.path, sheets) if sheets else None


def check_application(app: Application, rules: Rules) -> list[Finding]:
    """第五条(五) 原则上不得将高新区、经济开发区等功能区整体打包进行申报."""
    st = settings_of(rules)
    zone = st.whole_zone
    if not zone or not app.name:
        return []
    name = re.sub(r"[（(][^）)]*[）)]", "", nfkc(app.name)).strip()
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
    sheets: list[ScoreSheet] = []
    for record, data in claimed:
        if not isinstance(data, ScoreFile):
            continue
        for sheet in data.sheets:
            sheets.append(sheet)
            record.findings.append(Finding(
                "score-sheet-read", "info", clause=st.clause_scoring if sheet.kind == "expert" else st.clause_city_score,
                params={"sheet": sheet.sheet, "rater": sheet.rater_label, "parks": len(sheet.rows),
                        "kind": "专家复核评分" if sheet.kind == "expert" else "市级初审评分",
                        "layout": "园区为行" if sheet.layout == "rows" else "园区为列"},
                source=Source(file=record.file, sheet=sheet.sheet),
            ))
            for code in sheet.unknown_codes:
                record.findings.append(Finding(
                    "unknown-indicator", "warning", clause=st.clause_scoring,
                    params={"indicator": code, "sheet": sheet.sheet,
                            "detail": "评分标准中无此编号（编号从L2P12直接跳至L2P14）" if code in st.missing_codes
                            else "评分标准中无此编号"},
                    source=Source(file=record.file, sheet=sheet.sheet),
                ))

    by_file = {rec.file: rec for rec, _ in claimed}
    by_file.update({Path(rec.file).name: rec for rec, _ in claimed})
    rows = latest_per_rater([r for s in sheets for r in s.rows], by_file, st)
    rows_by_app, unmatched = match_scores(apps, rows, st.cities)
    for row, why in unmatched:
        target = by_file.get(row.source.file)
        if target is not None:
            target.findings.append(Finding(
                "score-park-unmatched", "warning", clause=st.clause_scoring,
                params={"park": row.park, "rater": row.rater_label, "detail": why},
                source=row.source,
            ))

    for app in apps:
        ptype = park_type_of(app, st)
        app.outcome = ParkOutcome(park_type=ptype)
        app.score = None
        app.rank = None
        for row, how in rows_by_app.get(app.id, {}).get("loose", []):
            app.findings.append(Finding(
                "score-name-matched", "info", field=st.name_field, clause=st.clause_scoring,
                params={"written": row.park, "name": app.name, "file": row.source.file, "how": how},
                source=_at(app, st.name_field),
            ))
        score_application(app, [r for r, _ in rows_by_app.get(app.id, {}).get("rows", [])], st)
    if any(f.effect for app in apps for f in app.findings):
        for app in apps:
            app.status = _status_from_findings(app)
    for app in apps:
        assign_tier(app, st)
    settle_upgrades(apps, rules, outcome_of)  # 第十六条: an upgrade's tier against the tier held (history)
    rank_applications(apps, st)

    out: dict[str, Any] = {
        "park_scoring": {
            "points_default": st.points_defaulted,
            "note": st.points_note(),
            "aggregation": st.aggregation_text(),
            "excellent_share": st.excellent_share,
            "aspects": {k: [st.groups.get(g, g) for g in v] for k, v in st.aspects.items()},
            "score_sheets": [{"file": s.file, "sheet": s.sheet, "kind": s.kind, "rater": s.rater_label,
                              "layout": s.layout, "parks": len(s.rows)} for s in sheets],
            "unmatched": [{"file": r.source.file, "sheet": r.source.sheet, "row": r.source.row, "park": r.park}
                          for r, _ in unmatched],
        },
    }
    budget = options.get("budget") if isinstance(options, dict) else getattr(options, "budget", None)
    if budget is not None:
        out.update(allocation_for(apps, float(budget), st))
    return out


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


def _norm_name(name: str | None) -> str:
    text = re.sub(r"[\W_]+", "", nfkc(name or "").lower())
    return text.removesuffix("试点")


def _strip_city(name: str, cities: Sequence[str]) -> str:
    for city in cities:
        for form in (city, city.removesuffix("市")):
            if name.startswith(form):
                return name[len(form):]
    return name


def _city_in_name(name: str, cities: Sequence[str]) -> str | None:
    """The city a (normalised) park name starts with, e.g. 滨州数字经济产业园 -> 滨州市."""
    for city in cities:
        if name.startswith((city, city.removesuffix("市"))):
            return city
    return None


def match_scores(apps: list[Application], rows: list[ScoreRow], cities: Sequence[str]
                 ) -> tuple[dict[str, dict[str, list[tuple[ScoreRow, str]]]], list[tuple[ScoreRow, str]]]:
    """Score rows -> applications by normalised name (city prefix optional); the rest unmatched."""
    index: dict[str, list[Application]] = {}
    for app in apps:
        for key in {_norm_name(app.name), _strip_city(_norm_name(app.name), cities)}:
            if key:
                index.setdefault(key, []).append(app)
    matched: dict[str, dict[str, list[tuple[ScoreRow, str]]]] = {}
    unmatched: list[tuple[ScoreRow, str]] = []
    for row in rows:
        key = _norm_name(row.park)
        candidates = _unique(index.get(key, []) or index.get(_strip_city(key, cities), []))
        how = ""
        if not candidates:  # one name inside the other, e.g. with or without 有限公司/园区 words
            short = _strip_city(key, cities)
            candidates = _unique([a for a in apps if len(short) >= 4 and a.name and (
                short in _norm_name(a.name) or (len(_strip_city(_norm_name(a.name), cities)) >= 4
                                                and _strip_city(_norm_name(a.name), cities) in key))])
            how = "名称包含"
        named_city = _city_in_name(key, cities)
        if named_city:  # 滨州数字经济产业园 is never 菏泽数字经济产业园
            candidates = [a for a in candidates if a.city in (None, named_city)]
        if len(candidates) > 1 and row.city:
            candidates = [a for a in candidates if a.city and _norm_name(row.city).removesuffix("市")
                          in _norm_name(a.city)]
        if len(candidates) != 1:
            unmatched.append((row, "未找到同名园区" if not candidates else "有多个同名园区，无法确定"))
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


def score_application(app: Application, rows: list[ScoreRow], st: Settings) -> None:
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
    used, basis = (experts, "expert") if experts else (city_rows, "city")
    if not used:
        app.findings.append(Finding("no-score-sheet", "warning", clause=st.clause_scoring,
                                    params={"name": app.name}, source=_at(app, st.name_field)))
        return
    if basis == "city":
        app.findings.append(Finding("score-from-city", "warning", clause=st.clause_scoring,
                                    params={"raters": len(used)}, source=_at(app, st.name_field)))
    per_rater, rater_rows = _clean_points(app, used, ptype, st)
    applicable = st.applicable(ptype)
    agg: dict[str, float] = {}
    missing, disagree = [], []
    for ind in applicable:
        vals = [pts[ind.code] for pts in per_rater.values() if ind.code in pts]
        if not vals:
            missing.append(ind.code)
        agg[ind.code] = aggregate(vals, st)
        if len(vals) > 1 and max(vals) - min(vals) > st.disagreement_share * ind.max_for(ptype) + 1e-9:
            disagree.append(f"{ind.code}（{_num(min(vals))}～{_num(max(vals))}）")
    if missing:
        app.findings.append(Finding("indicator-not-scored", "warning", clause=st.clause_scoring,
                                    params={"indicators": "、".join(missing), "count": len(missing)},
                                    source=_at(app, st.name_field)))
    total_max = sum(ind.max_for(ptype) for ind in applicable)
    total = round(100 * sum(agg.values()) / total_max, st.decimals) if total_max else 0.0
    rater_totals = {key: round(100 * sum(pts.get(ind.code, 0.0) for ind in applicable) / total_max, st.decimals)
                    for key, pts in per_rater.items()} if total_max else {}
    spread = max(rater_totals.values()) - min(rater_totals.values()) if len(rater_totals) > 1 else 0.0
    if disagree or spread > st.disagreement_total_points:
        app.findings.append(Finding(
            "expert-disagreement", "warning", clause=st.clause_scoring,
            params={"indicators": "、".join(disagree) or "无", "share": f"{st.disagreement_share:.0%}",
                    "spread": _num(spread), "limit": _num(st.disagreement_total_points),
                    "totals": "、".join(f"{rater_rows[k].rater_label} {_num(v)}" for k, v in rater_totals.items())},
            source=_at(app, st.name_field),
        ))
    aspects = {}
    for aspect, groups in st.aspects.items():
        inds = [ind for ind in applicable if ind.group in groups]
        amax = sum(ind.max_for(ptype) for ind in inds)
        share = round(sum(agg[ind.code] for ind in inds) / amax, st.decimals + 2) if amax else 0.0
        aspects[aspect] = {"share": share, "excellent": bool(amax) and share >= st.excellent_share - 1e-12}
    app.score = total
    trimmed = len(used) >= st.trim_min_experts and basis == "expert"
    outcome.score_detail = {
        "basis": basis,
        "raters": [rater_rows[k].rater_label for k in per_rater],
        "rater_totals": {rater_rows[k].rater_label: v for k, v in rater_totals.items()},
        "aggregation": "去掉最高分和最低分后取平均" if trimmed else "取平均",
        "indicators": {code: round(v, 4) for code, v in agg.items()},
        "aspects": aspects,
        "points_default": st.points_defaulted,
    }
    app.findings.append(Finding(
        "score-aggregated", "info", clause=st.clause_scoring,
        params={"raters": len(per_rater), "kind": "专家" if basis == "expert" else "市级初审",
                "method": "去掉最高分和最低分后取平均" if trimmed else "取平均", "score": _num(total),
                "count": len(applicable), "park_type": ptype},
        source=_at(app, st.name_field),
    ))
    if st.points_defaulted:
        app.findings.append(Finding("score-default-points", "info", clause=st.clause_scoring,
                                    params={"note": st.points_note(), "count": len(applicable),
                                            "park_type": ptype, "max": _num(st.default_max)},
                                    source=_at(app, st.name_field)))
    if basis == "expert":
        _compare_city(app, city_rows, applicable, total, st)


def _clean_points(app: Application, rows: list[ScoreRow], ptype: str, st: Settings
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
            ok, number = _number(value)
            if not ok or number is None:
                app.findings.append(Finding("score-unreadable", "warning", clause=st.clause_scoring,
                                            params=common, source=row.source))
                continue
            if ptype not in ind.types:
                if number != 0:
                    app.findings.append(Finding(
                        "indicator-not-applicable", "warning", clause=st.clause_scoring,
                        params={**common, "name": ind.name, "park_type": ptype, "points": _num(number)},
                        source=row.source))
                continue
            if number < 0:
                app.findings.append(Finding("score-negative", "warning", clause=st.clause_scoring,
                                            params={**common, "points": _num(number)}, source=row.source))
                number = 0.0
            top = ind.max_for(ptype)
            if number > top + 1e-9:
                app.findings.append(Finding(
                    "score-above-max", "warning", clause=st.clause_scoring,
                    params={**common, "name": ind.name, "points": _num(number), "max": _num(top)},
                    source=row.source))
                number = top
            pts[code] = number
        per_rater[row.rater] = pts
        rater_rows[row.rater] = row
    return per_rater, rater_rows


def _compare_city(app: Application, city_rows: list[ScoreRow], applicable: list[Indicator], total: float,
                  st: Settings) -> None:
    city_total: float | None = None
    ptype = outcome_of(app).park_type
    if city_rows:
        total_max = sum(ind.max_for(ptype) for ind in applicable)
        pts = city_rows[0].points
        if total_max:  # no indicator applies (an empty list in the rules file): no total to compare
            city_total = 100 * sum(min(max(_number(pts.get(ind.code))[1] or 0.0, 0.0), ind.max_for(ptype))
                                   for ind in applicable) / total_max
    else:
        declared = app.values.get(st.city_score_field) if st.city_score_field else None
        if isinstance(declared, (int, float)) and not isinstance(declared, bool):
            city_total = float(declared)
    if city_total is not None and abs(city_total - total) > st.city_gap_points:
        app.findings.append(Finding("city-score-gap", "info", clause=st.clause_scoring,
                                    params={"city_score": _num(city_total), "score": _num(total),
                                            "limit": _num(st.city_gap_points)}, source=_at(app, st.name_field)))


# ---------------------------------------------------------------------------------------- tiers, rank
def tier_for(score: float, excellent: int, st: Settings) -> tuple[Tier | None, Tier | None]:
    """(tier by both conditions, tier by score alone).  第九条: score line and aspect count."""
    by_score = next((t for t in st.tiers if score >= t.min_score), None)
    both = next((t for t in st.tiers if score >= t.min_score and excellent >= t.min_aspects), None)
    return both, by_score


def assign_tier(app: Application, st: Settings) -> None:
    outcome = outcome_of(app)
    outcome.tier = None
    outcome.subsidy = None
    detail = outcome.score_detail
    if app.score is None or not detail:
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
    aspects_text = "、".join(excellent) or "无"
    if by_score is None:
        app.findings.append(Finding("tier-not-recognised", "info", clause=st.clause_tier,
                                    params={"score": _num(app.score), "line": _num(lowest)},
                                    source=_at(app, st.name_field)))
        return
    if tier is not by_score:
        app.findings.append(Finding(
            "tier-aspects-short", "warning", clause=st.clause_tier,
            params={"score": _num(app.score), "by_score": by_score.name, "needed": by_score.min_aspects,
                    "count": len(excellent), "aspects": aspects_text, "share": f"{st.excellent_share:.0%}",
                    "tier": tier.name if tier else "不予认定"},
            source=_at(app, st.name_field)))
    if tier is None:
        return
    outcome.tier = tier.name
    app.findings.append(Finding("tier-assigned", "info", clause=st.clause_tier,
                                params={"tier": tier.name, "score": _num(app.score), "count": len(excellent),
                                        "aspects": aspects_text}, source=_at(app, st.name_field)))
    if app.status == "needs_review":
        app.findings.append(Finding("tier-provisional", "info", clause=st.clause_tier,
                                    params={"tier": tier.name}, source=_at(app, st.name_field)))
    if tier.ceiling <= 0:
        return
    green = app.values.get(st.green_field)
    if green is True:
        outcome.subsidy = _whole(tier.ceiling)
    elif green is False:
        app.findings.append(Finding("no-green-threshold", "warning", field=st.green_field, clause=st.clause_subsidy,
                                    params={"tier": tier.name, "ceiling": _num(tier.ceiling)},
                                    source=_at(app, st.green_field)))
    else:
        app.findings.append(Finding("green-threshold-missing", "warning", field=st.green_field,
                                    clause=st.clause_subsidy,
                                    params={"tier": tier.name, "ceiling": _num(tier.ceiling)},
                                    source=_at(app, st.green_field)))


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
def _whole(value: float | int) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _at(app: Application, field: str | None) -> Source:
    return Source(file=app.source.file, sheet=app.source.sheet, row=app.source.row,
                  cell=app.cells.get(field) if field else None)


def _status_from_findings(app: Application) -> str:
    try:
        from sdbatch.decide import status_from_findings
    except ImportError:  # the shared stage not there yet: the same precedence (SPEC §2.2)
        effects = {f.effect for f in app.findings if f.effect}
        return next((s for s in _STATUS_ORDER if s in effects), "eligible")
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
                                                                   "allocation_summary"}))

    def history_facts(self, app: Application) -> dict[str, Any]:
        """The tier and subsidy (the proposal with a budget, else the ceiling) the ledger keeps."""
        outcome = outcome_of(app)
        subsidy = outcome.subsidy_proposed if outcome.subsidy_proposed is not None else outcome.subsidy
        return {"tier": outcome.tier, "subsidy": subsidy}

    # ------------------------------------------------------------------ outputs
    def outcome_columns(self) -> list[OutcomeColumn]:
        tiers = tuple(t.name for t in settings_of(self.rules).tiers)
        return [
            OutcomeColumn("tier", text("programs.park.columns.tier"), lambda a: outcome_of(a).tier,
                          where=("list", "review", "mail"), summary="count", values=tiers,
                          summary_label="programs.park.summary.tier", phrase="programs.park.phrases.tier"),
            OutcomeColumn("subsidy", text("programs.park.columns.subsidy"), lambda a: outcome_of(a).subsidy,
                          number_format="0", where=("list", "review", "mail"), summary="sum",
                          summary_label="programs.park.summary.subsidy", phrase="programs.park.phrases.subsidy"),
            OutcomeColumn("subsidy_proposed", text("programs.park.columns.subsidy_proposed"),
                          lambda a: outcome_of(a).subsidy_proposed, number_format="0",
                          where=("list", "review", "mail"), summary="sum", optional=True,
                          summary_label="programs.park.summary.subsidy_proposed",
                          phrase="programs.park.phrases.subsidy_proposed"),
            OutcomeColumn("excellent", text("programs.park.columns.excellent"), _excellent_text,
                          audience="department", where=("list",), optional=True),
        ]

    def list_sheets(self, result: RunResult, apps: list[Application]) -> list[SheetSpec]:
        report = result.report(self.rules.name)
        summary = report.get("allocation_summary")
        if summary is None:
            return []
        keys = ["city", "name", "park_type", "tier", "score", "rank", "status", "provisional", "ceiling", "proposed"]
        rows: list[list[Any]] = []
        for row in report.get("allocation") or []:
            rows.append([_shown(k, row.get(k)) for k in keys])
        total: list[Any] = [text("programs.park.allocation.total"),
                            text("programs.park.allocation.count", count=len(rows))]
        total += [None] * (len(keys) - 4) + [_whole(sum(float(r[-2] or 0) for r in rows)),
                                             _whole(sum(float(r[-1] or 0) for r in rows))]
        notes = [pair(text(f"programs.park.allocation.{key}"), _num(summary[key]))
                 for key in ("budget", "ceilings_total", "proposed_total", "unallocated")]
        notes.append(pair(text("programs.park.allocation.scaled"), text(
            "programs.park.allocation.scaled_yes" if summary.get("scaled") else "programs.park.allocation.scaled_no")))
        if report.get("allocation_method"):
            notes.append(pair(text("programs.park.allocation.method"), report["allocation_method"]))
        return [SheetSpec(
            name=text("programs.park.allocation.sheet"),
            headers=[text(f"programs.park.allocation.columns.{k}") for k in keys],
            rows=[*rows, total] if rows else [[text("programs.park.allocation.empty")]],
            notes=notes, number_formats={keys.index("ceiling"): "0", keys.index("proposed"): "0"},
        )]

    def notes(self, result: RunResult, apps: list[Application], audience: str) -> list[Note]:
        st = settings_of(self.rules)
        scored = any(outcome_of(a).score_detail for a in apps)
        out: list[Note] = []
        points = Note(text("programs.park.notes.points_label"),
                      (text("programs.park.notes.points_default_mark") if st.points_defaulted else "")
                      + st.points_note(), emphasis=st.points_defaulted)
        if audience == "city":
            return [points] if scored and st.points_defaulted else []
        out.append(Note(text("notes.ranking_label"), text("programs.park.notes.ranking")))
        out.append(points)
        out.append(Note(text("programs.park.notes.aggregation_label"), st.aggregation_text()))
        if st.aspects:
            aspects = join(text("programs.park.notes.aspect", aspect=k, groups=join(st.groups.get(g, g) for g in v))
                           for k, v in st.aspects.items())
            out.append(Note(text("programs.park.notes.excellent_label"), text(
                "programs.park.notes.excellent_text", aspects=aspects, share=f"{st.excellent_share:.0%}")))
        report = result.report(self.rules.name)
        summary = report.get("allocation_summary")
        if summary:
            out.append(Note(text("programs.park.notes.budget_label"),
                            text("programs.park.notes.budget_text", budget=_num(summary["budget"]))))
        if report.get("allocation_method"):
            out.append(Note(text("programs.park.notes.method_label"), str(report["allocation_method"])))
        return out


def _excellent_text(app: Application) -> str | None:
    """The aspects judged 表现优异 (第九条), e.g. ``聚集水平、创新能力、发展潜力（3项）``."""
    detail = outcome_of(app).score_detail
    if not isinstance(detail, dict) or "aspects" not in detail:
        return None
    names = detail.get("excellent_aspects")
    if names is None:
        names = [k for k, v in (detail.get("aspects") or {}).items() if isinstance(v, dict) and v.get("excellent")]
    if not names:
        return text("programs.park.columns.excellent_none")
    return text("programs.park.columns.excellent_value", names=join(names), count=len(names))


def _shown(key: str, value: Any) -> Any:
    if key == "status":
        from sdbatch.catalogue import label

        return label("status", value)
    if isinstance(value, bool):
        return text("values.yes") if value else text("values.no")
    return value
