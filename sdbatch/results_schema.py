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
    score_detail: dict[str, Any] | None = Field(
        description="department only: basis (expert / city), raters, rater_totals (each rater's total of 100), "
                    "aggregation, indicators (per-indicator means), aspects (share, points, max, excellent), "
                    "excellent_aspects, tier_by_score, points_source (rules / sheets / default / mixed), "
                    "points_total (the maxima of the park's type added up), points_default")
    released: bool = Field(description="[park.release].results: the tier and the ceiling go to the city's review")
    result: str | None = Field(
        description="what the city is told of its recognition (the tier, provisional, not recognised, or that the "
                    "result follows); null when its status says it all")


class PointsOfTypeOut(_Strict):
    """The points of one park type: what each indicator is out of and where it came from."""

    source: Literal["rules", "sheets", "default", "mixed"]
    total: float = Field(description="the maxima added up")
    sheets: list[str] = Field(description="the score sheets (file/sheet) whose stated points were used")
    maxima: dict[str, float] = Field(description="indicator code -> its points")
    sources: dict[str, Literal["rules", "sheets", "default"]] = Field(description="indicator code -> where from")
    ties: list[str] = Field(description="codes whose points the sheets stated differently without a majority")


class PointsOut(_Strict):
    expected_total: float = Field(description="[park.scoring].points_total")
    by_type: dict[str, PointsOfTypeOut]


class ScoreSheetOut(_Strict):
    """One score sheet read (department only: it names the rater)."""

    file: str
    sheet: str
    kind: Literal["expert", "city"] = Field(description="an expert's re-score or the city's preliminary score")
    rater: str
    layout: Literal["rows", "columns"] = Field(description="parks as rows or as columns")
    parks: int
    stated: list[dict[str, Any]] = Field(description="its rows or columns of maxima: label, park_type, type_from, "
                                                     "count, sum")
    points_used: bool = Field(description="its stated points are (some of) the round's points")
    problems: list[dict[str, Any]] = Field(description="its points findings: code, message")


class ParkScoringOut(_Strict):
    """How a park round was scored (department only)."""

    points_default: bool = Field(description="a scored park's type had an indicator at the default points")
    note: str = Field(description="where each type's points came from, in Chinese, citing the sheets")
    points: PointsOut
    aggregation: str
    excellent_share: float
    aspects: dict[str, list[str]]
    score_sheets: list[ScoreSheetOut]
    unmatched: list[dict[str, Any]] = Field(description="score rows matching no park: file, sheet, row, park")
    released: bool = Field(description="[park.release].results")


class AllocationRowOut(_Strict):
    id: str
    city: str | None
    name: str | None
    park_type: str | None
    tier: str | None
    score: float | None
    rank: int | None
    status: Status
    provisional: bool
    ceiling: float | None
    proposed: float


class AllocationSummaryOut(_Strict):
    budget: float
    ceilings_total: float
    proposed_total: float
    unallocated: float
    scaled: bool


class ProgramReportOut(BaseModel):
    """A program's run-level block.  The park program's keys are typed; another program may add its own."""

    model_config = ConfigDict(extra="allow")
    park_scoring: ParkScoringOut | None = None
    allocation: list[AllocationRowOut] | None = Field(default=None, description="the allocation proposal (--budget)")
    allocation_method: str | None = None
    allocation_summary: AllocationSummaryOut | None = None


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
class HistoryRoundOut(_Strict):
    """One earlier round of the same applicant, as the ledger keeps it (the round's last complete run)."""

    program: str = Field(description="the round (rules name), e.g. cluster_2024")
    run_id: str
    received: str | None = Field(description="the day its file was received (China date)")
    run_date: str | None = Field(description="the day of the round's run")
    city: str | None
    name: str | None
    applicant_id: str | None = Field(description="the applicant's unified social credit code")
    applicant_name: str | None
    status: Status | None
    tier: str | None
    subsidy: float | None = Field(description="the round's subsidy in 10,000 yuan (proposal, else ceiling)")


class DecisionOut(_Strict):
    """A decision staff recorded (sdbatch decide); who and note are department-only."""

    uid: str
    family: str
    applicant_id: str | None
    applicant_name: str | None
    kind: Literal["false_material", "revoked", "evaluation", "title", "subsidy_paid", "recognised", "downgraded",
                  "void"]
    clause: str | None
    round: str | None
    tier: str | None
    result: Literal["pass", "fail"] | None
    amount: float | None = Field(description="subsidy paid, 10,000 yuan")
    effective: str = Field(description="the date of the act (China date)")
    voids: str | None
    who: str
    recorded: str = Field(description="when it was recorded (ISO time, China time)")
    note: str


class BanOut(_Strict):
    """A ban a decision brings under [[history.bans]]."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    decision: str = Field(description="uid of the decision")
    kind: str
    clause: str
    text: str = Field(description="its origin in general terms (Chinese)")
    from_: str = Field(alias="from", description="first day of the ban")
    until: str = Field(description="first day the applicant may apply again")
    in_force: bool = Field(description="in force on the day the application was received")


class StandingOut(_Strict):
    """The tier the applicant holds and where its evaluation stands, as of the day it was received."""

    tier: str | None
    since: str | None
    basis: Literal["run", "decision"] | None
    round: str | None
    state: Literal["none", "revoked", "passed", "building", "due", "overdue"]
    evaluation_due: str | None
    deadline: str | None
    passed: str | None
    failed: list[str]
    title: str | None
    revoked: str | None = Field(description="uid of the revocation")
    subsidy_paid: float


class UpgradeOut(_Strict):
    """An application for a higher tier."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str = Field(alias="from", description="the tier held")
    since: str | None
    declared: str | None = Field(description="the tier the city stated it holds")
    to: str | None = Field(description="the tier reached by this round (null: not higher)")


class ChangeOut(_Strict):
    """A declared figure that changed beyond [history.yoy].factor against the previous round."""

    field: str
    old: float
    new: float
    ratio: float
    previous: str = Field(description="the previous round")
    previous_date: str | None


class HistoryOut(_Strict):
    """What the ledger's other rounds and the decisions staff recorded say about the application
    (issue 19; present only when there is something).  Department only."""

    family: str = Field(description="[history].family of the round")
    applicant_id: str | None
    applicant_name: str | None
    as_of: str = Field(description="the day bans and standing were judged on (the file's received day)")
    matched_by: Literal["applicant_id", "name"] | None
    rounds: list[HistoryRoundOut]
    decisions: list[DecisionOut]
    bans: list[BanOut]
    standing: StandingOut | None
    upgrade: UpgradeOut | None
    changes: list[ChangeOut]


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
    history: HistoryOut | None = Field(default=None, description="the history across rounds, when there is any")


class MessageOut(_Strict):
    """The e-mail a file came in, as its headers say (issue 18)."""

    message_id: str | None = Field(description="its Message-ID, <local@domain>")
    sender: str | None = Field(description="the From address, lower case")
    sender_name: str | None
    date: str | None = Field(description="its Date, ISO 8601 in China time (null: the message has none)")
    date_source: Literal["header", "server", "file", "none"] = Field(
        description="where the received time came from: the Date header, the mailbox's arrival time, the saved "
                    "message's file time")
    server_date: str | None = Field(description="when the mailbox received it (fetched mail), China time")
    subject: str | None


class OriginStepOut(_Strict):
    """One container on the way into the inbox, outermost first."""

    kind: Literal["message", "archive"]
    container: str = Field(description="the container: relative to the inbox, or the kept original of a fetched "
                                       "message (mailbox-archive/…), or for a nested one its path in its parent")
    member: str = Field(description="the file's name or path inside the container")
    message: MessageOut | None


class OriginOut(_Strict):
    """Where a file read from a message or an archive came from (issue 18)."""

    steps: list[OriginStepOut]
    received: str | None = Field(description="the date of the innermost message, China time (null: none)")
    display: str = Field(description="the chain in one Chinese line, as the review shows it")


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
    received: str = Field(description="when the file was received, ISO 8601 in China time: its message's date "
                                      "when it came by mail (also inside an archive), else its modification time; "
                                      "orders resubmissions and decides lateness")
    origin: OriginOut | None = Field(description="the message / archive the file was read from (issue 18); "
                                                 "null for a file saved in the inbox as it is")
    applications: list[str] = Field(description="ids of the applications read from the file")
    findings: list[FindingOut]


class ResultsOut(_Strict):
    """results.json of one run."""

    program: str = Field(description="the programs of the run, joined with +")
    rules_version: str
    run_id: str
    applications: list[ApplicationOut]
    files: list[FileOut]
    programs: dict[str, ProgramReportOut] = Field(
        description="program name -> the program's run-level block (e.g. a park round's scoring and allocation)")


def json_schema() -> dict[str, Any]:
    schema = ResultsOut.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://sdbatch.local/results.schema.json"
    return schema


def schema_text() -> str:
    return json.dumps(json_schema(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
