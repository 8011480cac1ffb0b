"""The results.json contract (SPEC §5) as a model: ``docs/results.schema.json`` is generated from it
(``make docs``; a test fails on drift) and every results.json the tests write is validated against
that file.  A key that ``RunResult.to_dict()`` writes and this model does not name fails the tests:
new output is documented here first.

Program outcomes are typed blocks: a program's :class:`~sdbatch.programs.base.Outcome` class names
its ``kind``; the blocks of the built-in programs are described here, another program's block is an
object with a ``kind``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sdbatch.model import FILE_STATUSES, SEVERITIES, STATUSES

Status = Literal["over_quota", "ineligible", "incomplete", "needs_review", "eligible"]
FileStatus = Literal["processed", "rejected", "superseded", "duplicate", "ignored"]
Severity = Literal["error", "warning", "info"]
assert set(Status.__args__) == set(STATUSES)  # type: ignore[attr-defined]
assert set(FileStatus.__args__) == set(FILE_STATUSES)  # type: ignore[attr-defined]
assert set(Severity.__args__) == set(SEVERITIES)  # type: ignore[attr-defined]

Scalar = str | int | float | bool | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceOut(_Strict):
    """Where an application was read: the file (relative to the inbox), sheet, 1-based row."""

    file: str
    sheet: str | None
    row: int | None
    cell: str | None = None


class FindingOut(_Strict):
    """One finding, rendered from the message catalogue (docs/findings.md)."""

    code: str = Field(description="stable kebab-case code")
    severity: Severity
    field: str | None = Field(description="canonical field id the finding is about, if any")
    clause: str | None = Field(description="clause of the notice, e.g. 三(二)")
    message: str = Field(description="Chinese message")
    fix: str = Field(description="what to do, in Chinese (may be empty)")
    effect: Status | None = Field(description="the status this finding pushes its application towards")
    cell: str | None = Field(description="cell address such as H5, when the finding concerns one cell")
    row: int | None
    original: Any = Field(description="the value as written in the city's file")
    params: dict[str, Any]


class ParkOutcomeOut(_Strict):
    """A park's result (第九条–第十一条)."""

    kind: Literal["park"]
    park_type: str | None = Field(description="数字产业化园区 / 产业数字化园区")
    tier: str | None = Field(description="示范型 / 成长型 / 入库型, or null when not recognised")
    subsidy: float | None = Field(description="ceiling of the tier in 万元 (第十条), null when none")
    subsidy_proposed: float | None = Field(description="proposed allocation in 万元 (第十一条, with --budget)")
    score_detail: dict[str, Any] | None = Field(description="raters, per-indicator means, aspects (department only)")


class OtherOutcomeOut(BaseModel):
    """The outcome block of a program defined outside sdbatch: an object naming its kind."""

    model_config = ConfigDict(extra="allow")
    kind: str


class EvidenceListOut(_Strict):
    """One list (or the part of a list) read for an application."""

    file: str = Field(description="the list's file, relative to the inbox")
    sheet: str
    matched_by: Literal["column", "sheet", "title", "file", "city"] = Field(
        description="what named the application: a column of the list, the sheet name, the title, the file "
                    "name, or the city (its only application of the round)")
    named: str = Field(description="the text that named the application")
    firms: int = Field(description="rows of firms read")
    rows: list[int] | None = Field(description="first and last 1-based row of those firms")


class EvidenceFigureOut(_Strict):
    """One declared figure recomputed from the list ([[evidence.figures]] of the rules file)."""

    field: str = Field(description="the summary field")
    declared: float | None = Field(description="the value in the summary (its canonical unit)")
    recomputed: float | None = Field(description="the value recomputed from the list, same unit")
    difference: float | None = Field(description="declared - recomputed")
    allowance: float = Field(description="the difference allowed (tolerance), same unit")
    result: Literal["match", "mismatch", "not_recomputed", "not_declared"]
    rows_counted: int | None = Field(description="list rows counted or summed (the numerator of a ratio)")
    missing_columns: list[str] = Field(description="list fields the list lacks for this figure")
    fails_threshold: bool = Field(description="the recomputed figure fails a condition the declared one passes")


class EvidenceOut(_Strict):
    """What the enterprise list behind an application says (据实填报; sdbatch/evidence/)."""

    title: str = Field(description="what the round calls its lists")
    lists: list[EvidenceListOut]
    firms: int
    figures: list[EvidenceFigureOut]
    invalid_credit_codes: int
    duplicate_firms: int = Field(description="rows repeating a firm listed before")
    shared_firms: int = Field(description="firms also counted by another application where the round forbids it")
    unreadable_cells: dict[str, int] = Field(description="list field label -> cells that could not be read")


class ApplicationOut(_Strict):
    id: str
    program: str
    city: str | None = Field(description="canonical city, e.g. 济南市")
    name: str | None
    industry: str | None = Field(description="canonical group value (主导产业; a park's type)")
    city_order: int | None
    status: Status
    score: float | None
    rank: int | None = Field(description="province rank; only for eligible / needs_review")
    industry_rank: int | None
    quota_position: int | None = Field(description="place in the city's own order, counted for the quota")
    values: dict[str, Any] = Field(description="canonical field id -> normalised value (amounts 亿元, ratios %)")
    findings: list[FindingOut]
    source: SourceOut
    unknown_columns: dict[str, Any] = Field(description="header of an unrecognised column -> value as written")
    outcome: ParkOutcomeOut | OtherOutcomeOut | None = Field(description="the program's typed result")
    evidence: EvidenceOut | None = Field(description="the enterprise list behind the declared figures, when sent")
    # SPEC §5 names these park keys at the application's top level too (copies of the outcome's).
    park_type: str | None = None
    tier: str | None = None
    subsidy: float | None = None


class FileOut(_Strict):
    file: str = Field(description="path relative to the inbox")
    sha256: str
    size: int
    city: str | None
    program: str | None
    status: FileStatus
    error: str | None = Field(description="Chinese reason, for a rejected file")
    error_code: str | None
    sheet: str | None
    late: bool
    superseded_by: str | None
    duplicate_of: str | None
    applications: list[str] = Field(description="ids of the applications read from the file")
    findings: list[FindingOut]


class ResultsOut(_Strict):
    """results.json of one run."""

    program: str = Field(description="the programs of the run, joined with +")
    rules_version: str
    run_id: str
    applications: list[ApplicationOut]
    files: list[FileOut]
    programs: dict[str, dict[str, Any]] = Field(
        description="program name -> the program's run-level block (e.g. a park round's scoring and allocation)")


def json_schema() -> dict[str, Any]:
    schema = ResultsOut.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://sdbatch.local/results.schema.json"
    return schema


def schema_text() -> str:
    return json.dumps(json_schema(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
