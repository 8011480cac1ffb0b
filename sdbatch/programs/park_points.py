"""The points of a park round: what each indicator is out of, per park type, and where it came from.

The 评分标准 lists the indicators and which park type each applies to (√) but gives no points.  A
round states them in its rules file (``max`` per indicator, one number or one per type) and/or in
its score sheets (a 分值 / 满分 / 标准分 row or column, read by :mod:`sdbatch.programs.park_sheets`).
:func:`resolve` decides, for every park type and every indicator that applies to it:

1. the rules file's ``max`` when it gives one; a sheet stating another value is a finding on that
   sheet (``points-differ-from-rules``);
2. else (``[park.scoring].sheet_points = "use"``) the value the expert sheets state: the value most
   of them state (the city's preliminary sheets vote only when no expert sheet states points); on a
   tie the highest (``points_tie``); every sheet stating another value is a finding on that sheet
   naming the value used and how many sheets state it (``points-sheets-disagree``);
3. else ``[park.scoring].default_max`` — the documented default, which every output then mentions.

A sheet's stated points for a type whose indicators they leave out (``points-incomplete``), whose
sum is not ``points_total`` (``points-sum``), that name an indicator the type does not have
(``points-not-applicable``) or that cannot be read (``points-unreadable``) are findings on the sheet.
All of these are for the department (catalogue audience): they name expert files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sdbatch.catalogue import join, text
from sdbatch.model import FileRecord, Finding, Source
from sdbatch.programs.park_settings import Settings
from sdbatch.programs.park_sheets import ScoreSheet, StatedPoints, number
from sdbatch.text import cell_text

SOURCES = ("rules", "sheets", "default")
_EPS = 1e-6


@dataclass
class Block:
    """One sheet's stated points as they apply: the park type they are for (None: every type)."""

    record: FileRecord | None
    sheet: ScoreSheet
    stated: StatedPoints
    park_type: str | None
    type_from: str  # "label", "sheet", "parks" (the one type of the parks the sheet scores) or ""
    values: dict[str, float] = field(default_factory=dict)  # code -> points (readable, positive)
    unreadable: list[str] = field(default_factory=list)  # codes whose stated points cannot be read

    @property
    def where(self) -> str:
        return f"{self.sheet.file}/{self.sheet.sheet}"

    def covers(self, park_type: str) -> bool:
        return self.park_type is None or self.park_type == park_type


@dataclass
class PointsTable:
    """Park type -> indicator -> the points it is out of, with where each came from."""

    maxima: dict[str, dict[str, float]]
    sources: dict[str, dict[str, str]]  # type -> code -> "rules" | "sheets" | "default"
    sheets: dict[str, list[str]]  # type -> the sheets ("file/sheet") whose stated points were used
    expected_total: float
    ties: dict[str, list[str]] = field(default_factory=dict)  # type -> codes decided by points_tie

    def max(self, code: str, park_type: str) -> float:
        return self.maxima.get(park_type, {}).get(code, 0.0)

    def total(self, park_type: str) -> float:
        return sum(self.maxima.get(park_type, {}).values())

    def source(self, park_type: str) -> str:
        """"rules", "sheets" or "default" when one source gives every point of the type, else "mixed"."""
        used = set(self.sources.get(park_type, {}).values())
        return used.pop() if len(used) == 1 else ("mixed" if used else "default")

    def defaulted(self, park_type: str) -> bool:
        return "default" in self.sources.get(park_type, {}).values()

    def defaulted_codes(self, park_type: str) -> list[str]:
        return [c for c, s in self.sources.get(park_type, {}).items() if s == "default"]

    def sum_off(self, park_type: str) -> bool:
        """Points stated (not the default alone) that do not add up to ``points_total``."""
        return self.source(park_type) != "default" and abs(self.total(park_type) - self.expected_total) > _EPS

    def to_dict(self) -> dict[str, Any]:
        return {
            "expected_total": self.expected_total,
            "by_type": {t: {"source": self.source(t), "total": round(self.total(t), 4), "sheets": self.sheets.get(t, []),
                            "maxima": dict(self.maxima[t]), "sources": dict(self.sources[t]),
                            "ties": self.ties.get(t, [])}
                        for t in self.maxima},
        }


def blocks_of(sheets: Sequence[tuple[FileRecord | None, ScoreSheet]], parks_of_sheet: Mapping[str, set[str]],
              st: Settings) -> list[Block]:
    """Every stated-points row or column of ``sheets`` with the park type it is for: its label's,
    the sheet's (name, title), else the one type of the parks the sheet scores; else every type."""
    out: list[Block] = []
    for record, sheet in sheets:
        for stated in sheet.stated:
            ptype, how = stated.park_type, stated.type_from if stated.park_type else ""
            if ptype is None:
                types = parks_of_sheet.get(sheet.key, set())
                if len(types) == 1:
                    ptype, how = next(iter(types)), "parks"
            block = Block(record, sheet, stated, ptype, how)
            for code, raw in stated.points.items():
                if code not in st.indicators:
                    continue  # reported once per sheet (unknown-indicator)
                ok, value = number(raw)
                if ok and value is not None and value > 0:
                    block.values[code] = value
                else:
                    block.unreadable.append(code)
            out.append(block)
    return out


def resolve(blocks: list[Block], st: Settings) -> PointsTable:
    """The round's points (see the module's docstring); findings are added to the blocks' records."""
    table = PointsTable({}, {}, {}, st.points_total)
    differ_rules: dict[int, list[str]] = {}
    differ_sheets: dict[int, list[str]] = {}
    counted: set[int] = set()  # blocks whose points were used: a city's sheet only where no expert's states them
    for ptype in st.park_types:
        maxima, sources = table.maxima.setdefault(ptype, {}), table.sources.setdefault(ptype, {})
        used_sheets: dict[str, None] = {}
        for ind in st.applicable(ptype):
            votes = [(b, b.values[ind.code]) for b in blocks if b.covers(ptype) and ind.code in b.values]
            if ind.explicit:
                maxima[ind.code], sources[ind.code] = ind.max_for(ptype), "rules"
                for b, value in votes:
                    if abs(value - maxima[ind.code]) > _EPS:
                        differ_rules.setdefault(id(b), []).append(text(
                            "programs.park.points.item_rules", code=ind.code, cell=b.stated.cells.get(ind.code, ""),
                            park_type=ptype, stated=_num(value), used=_num(maxima[ind.code])))
                continue
            reference, count, tie = _majority(votes, st)
            if reference is not None and st.sheet_points == "use":
                maxima[ind.code], sources[ind.code] = reference, "sheets"
                if tie:
                    table.ties.setdefault(ptype, []).append(ind.code)
            else:
                maxima[ind.code], sources[ind.code] = st.default_max, "default"
            if reference is None:
                continue
            for b, value in votes:
                if abs(value - reference) > _EPS:
                    # a tie is said as one: "the majority" would not be true of it
                    differ_sheets.setdefault(id(b), []).append(text(
                        "programs.park.points.item_tie" if tie else "programs.park.points.item_sheets",
                        code=ind.code, cell=b.stated.cells.get(ind.code, ""), park_type=ptype, stated=_num(value),
                        used=_num(reference), count=count, rule=text(f"programs.park.points.tie_{st.points_tie}")))
                elif sources[ind.code] == "sheets" and (b.sheet.kind == "expert" or not any(
                        v.sheet.kind == "expert" for v, _ in votes)):
                    used_sheets.setdefault(b.where, None)
                    counted.add(id(b))
        table.sheets[ptype] = sorted(used_sheets)
    for block in blocks:
        _report_block(block, st, differ_rules.get(id(block), []), differ_sheets.get(id(block), []),
                      used=id(block) in counted)
    return table


def _majority(votes: list[tuple[Block, float]], st: Settings) -> tuple[float | None, int, bool]:
    """(the value most expert sheets state, how many state it, whether a tie decided it).  The city's
    preliminary sheets vote only when no expert sheet states the indicator's points."""
    experts = [v for b, v in votes if b.sheet.kind == "expert"]
    voters = experts or [v for _, v in votes]
    if not voters:
        return None, 0, False
    counts = Counter(round(v, 6) for v in voters)
    best = max(counts.values())
    top = sorted(v for v, n in counts.items() if n == best)
    chosen = top[-1] if st.points_tie == "highest" else top[0]
    return chosen, best, len(top) > 1


def _report_block(block: Block, st: Settings, differ_rules: list[str], differ_sheets: list[str], used: bool) -> None:
    record = block.record
    if record is None:
        return
    source = Source(file=record.file, sheet=block.sheet.sheet, row=block.stated.source.row, cell=block.stated.source.cell)
    common = {"sheet": block.sheet.sheet, "rater": block.sheet.rater_label, "label": block.stated.label,
              "park_type": block.park_type or text("programs.park.points.every_type")}

    def add(code: str, severity: str, **params: Any) -> None:
        record.findings.append(Finding(code, severity, clause=st.clause_scoring, params={**common, **params},
                                       source=source))

    if differ_rules:
        add("points-differ-from-rules", "warning", items=join(differ_rules), count=len(differ_rules))
    if differ_sheets:
        add("points-sheets-disagree", "warning", items=join(differ_sheets), count=len(differ_sheets))
    if block.unreadable:
        add("points-unreadable", "warning", indicators=join(block.unreadable), count=len(block.unreadable),
            originals=join(cell_text(block.stated.points[c]) for c in block.unreadable))
    types = [block.park_type] if block.park_type else list(st.park_types)
    for ptype in types:
        applicable = {ind.code for ind in st.applicable(ptype)}
        if block.park_type is not None:
            foreign = [c for c in block.values if c not in applicable]
            if foreign:
                add("points-not-applicable", "warning", park_type=ptype, indicators=join(foreign), count=len(foreign))
        stated = {c: v for c, v in block.values.items() if c in applicable}
        if not stated:
            continue
        missing = [ind.code for ind in st.applicable(ptype) if ind.code not in block.values
                   and ind.code not in block.unreadable]
        if missing:
            add("points-incomplete", "info", park_type=ptype, indicators=join(missing), count=len(missing),
                stated=len(stated))
        elif abs(sum(stated.values()) - st.points_total) > _EPS:
            add("points-sum", "warning", park_type=ptype, sum=_num(sum(stated.values())), total=_num(st.points_total),
                count=len(stated))
    block.sheet.points_used = block.sheet.points_used or used


def _num(value: float) -> str:
    return cell_text(round(value, 4))
