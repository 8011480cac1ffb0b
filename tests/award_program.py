"""A third program that exists only in the tests (issue 11): a per-firm award scheme with its own
table, its own section in the rules file and its own output column — plugged in without touching
any shared module.  Its rules file is ``tests/data/award_2025.toml`` (``[program].module`` names
this class)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from sdbatch.model import Application, FileRecord, RunResult
from sdbatch.programs.base import Note, OutcomeColumn, Program, ProgramReport


class AwardSection(BaseModel):
    """``[award]``: the award per category, 万元."""

    model_config = ConfigDict(extra="forbid", strict=True)
    amounts: dict[str, int]
    budget_line: str = "奖励资金按类别定额安排。"


@dataclass
class AwardOutcome:
    kind: ClassVar[str] = "award"
    amount: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "amount": self.amount}


class AwardProgram(Program):
    kind = "award"
    section = "award"
    section_model = AwardSection

    def decide(self, apps: list[Application], claimed: Sequence[tuple[FileRecord, Any]],
               options: Mapping[str, Any]) -> ProgramReport:
        report = super().decide(apps, claimed, options)  # the generic composite score and ranks
        amounts = self.rules.section.amounts
        for app in apps:
            category = app.values.get("category")
            app.outcome = AwardOutcome(amounts.get(category) if app.status == "eligible" else None)
        total = sum(a.outcome.amount or 0 for a in apps)
        return ProgramReport(data={**report.data, "award_total": total})

    def outcome_columns(self) -> list[OutcomeColumn]:
        return [OutcomeColumn("amount", "奖励金额（万元）", lambda a: a.outcome.amount if a.outcome else None,
                              number_format="0", where=("list", "review", "mail"), summary="sum")]

    def notes(self, result: RunResult, apps: list[Application], audience: str) -> list[Note]:
        return [Note("奖励说明", self.rules.section.budget_line)]
