"""The shared stage of the history across rounds, called from the batch's decision step.

:func:`apply` runs once per program of a run, before the statuses are set, on the applications
the program decides.  For a program whose rules file has a ``[history]`` table it finds each
application's applicant in the ledger's other rounds of the same family (by 统一社会信用代码,
the name as a fallback) and adds:

- ``applicant-banned`` (error, ineligible) when a ban of ``[[history.bans]]`` is in force on the day
  the application was received — or the decision that brought it concerns this very round —, with
  the ban's origin in general terms; ``ban-ended`` (department) when it has run out;
- ``history-name-only`` (department) when only the name matched;
- ``yoy-change`` for each figure of ``[history.yoy]`` that changed beyond its factor against the
  applicant's latest earlier round;
- with ``[history.upgrade]``: ``upgrade-application`` when the applicant holds a tier that may apply
  for a higher one (第十六条), ``upgrade-not-open`` when it may not, ``upgrade-tier-mismatch`` /
  ``current-tier-unrecorded`` when the tier the city states differs from the ledger's.  Whether the
  tier reached is higher is the program's part (parks: :mod:`sdbatch.programs.park_history`).

The application keeps what was found in ``app.history`` (results.json ``history``, department only).
The department's list of the program gets sheets (:class:`~sdbatch.programs.base.SheetSpec`): bans
in force on the run's day, evaluations due and proposals of downgrade or revocation with the subsidy
to recover (``[history.evaluation]``), published through ``RunResult.list_sheets``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sdbatch import clock
from sdbatch.catalogue import join, text
from sdbatch.history.book import BY_NAME, Applicant, Book, bans_of, standing_of
from sdbatch.history.model import ApplicantHistory, RoundRecord, Standing, name_key, valid_id
from sdbatch.model import Application, FileRecord, Finding, RunResult, Source
from sdbatch.programs.base import SheetSpec
from sdbatch.rules import NUMERIC_TYPES, Rules

AMOUNT_FORMAT = "0.##"
log = logging.getLogger("sdbatch")


@dataclass
class HistoryContext:
    """What the stage needs from outside the run: the ledger's book and the run's day."""

    book: Book
    as_of: dt.date
    sheets: dict[str, list[SheetSpec]] = field(default_factory=dict)  # program -> department sheets

    def publish(self, result: RunResult) -> None:
        """The sheets for the department's list of each program of the run."""
        for program, specs in self.sheets.items():
            if program in result.programs:
                result.list_sheets.setdefault(program, []).extend(specs)


def context_for(ledger: Any, started: str | None) -> HistoryContext:
    """The context of a run: the ledger's history (the decisions journal synchronised first; a line
    of the journal that cannot be read is said in the run's log)."""
    _recorded, _appended, bad_lines = ledger.sync_decisions()
    if bad_lines:
        log.warning(text("history.log.bad_journal", lines=join(bad_lines)))
    day = _day_of(started)
    return HistoryContext(Book.for_run(ledger), day)


def fingerprint(base: str, ledger: Any) -> str:
    """A run's fingerprint with the decisions recorded (journal and ledger): a decision recorded
    since the last run makes the next nightly run decide again."""
    ledger.sync_decisions()
    uids = sorted(d.uid for d in ledger.decisions())
    return hashlib.sha256(json.dumps([base, uids]).encode()).hexdigest()


def _day_of(started: str | None) -> dt.date:
    if started:
        try:
            return clock.parse(started).astimezone(clock.zone()).date()
        except ValueError:
            pass
    return clock.now().date()


# ----------------------------------------------------------------------------- the stage
def apply(ctx: HistoryContext | None, rules: Rules, apps: Sequence[Application],
          records: Iterable[FileRecord]) -> None:
    """Findings on ``apps`` (one program's active applications) from the ledger's history, and the
    program's department sheets.  Nothing happens without a context or a ``[history]`` table."""
    cfg = rules.history
    if ctx is None or cfg is None:
        return
    received = {r.file: clock.from_timestamp(r.mtime).date() for r in records if r.mtime}
    id_field, name_field = rules.role("applicant_id"), rules.role("applicant")

    def who(app: Application) -> tuple[str | None, str | None]:
        return (valid_id(app.values.get(id_field)) if id_field else None,
                _text(app.values.get(name_field)) if name_field else None)

    def applied(wanted: set[str]) -> dict[str, Application]:
        """The first application under each of ``wanted`` (an applicant's keys, ``_keys_of``):
        looked up for the applicants the bans sheet lists only, so that nothing is kept per
        application for it (issue 16)."""
        found: dict[str, Application] = {}
        for app in apps if wanted else ():
            applicant_id, applicant_name = who(app)
            for key in _keys_of(applicant_id, [applicant_name, app.name]):
                if key in wanted:
                    found.setdefault(key, app)
        return found

    for app in apps:
        applicant_id, applicant_name = who(app)
        day = received.get(app.source.file) or ctx.as_of
        match = ctx.book.match(cfg.family, applicant_id, [applicant_name, app.name], exclude_program=rules.name)
        history = ApplicantHistory(cfg.family, applicant_id, applicant_name, day, match.by,
                                   rounds=sorted(match.records, key=lambda r: (r.when or dt.date.min, r.run_id)),
                                   decisions=match.decisions)
        history.bans = bans_of(match.decisions, cfg)
        history.standing = standing_of(match.records, match.decisions, cfg, day)
        shown = applicant_name or app.name or ""
        if match.by == BY_NAME:
            app.findings.append(Finding("history-name-only", "warning", field=name_field, params={
                "name": shown, "count": len(match.records) + len(match.decisions),
                "rounds": join(dict.fromkeys(r.program for r in history.rounds)) or text("history.words.decisions_only")},
                source=_at(app, id_field or name_field)))
        _bans(app, history, rules, shown, id_field or name_field)
        _upgrade(app, history, cfg, rules)
        _year_over_year(app, history, cfg, rules)
        app.history = history if history.worth_showing else None
    ctx.sheets[rules.name] = department_sheets(ctx.book, cfg, ctx.as_of, applied)


def _bans(app: Application, history: ApplicantHistory, rules: Rules, shown: str, field_id: str | None) -> None:
    for ban in history.bans:
        params = {"applicant": shown, "origin": ban.text, "until": ban.until.isoformat(),
                  "start": ban.start.isoformat(), "department": rules.jurisdiction.department}
        if ban.in_force(history.as_of) or ban.decision.round == rules.name:
            app.findings.append(Finding("applicant-banned", "error", field=field_id, clause=ban.clause, params=params,
                                        source=_at(app, field_id), effect="ineligible"))
        elif history.as_of >= ban.until:
            app.findings.append(Finding("ban-ended", "info", field=field_id, clause=ban.clause, params=params,
                                        source=_at(app, field_id)))


def _upgrade(app: Application, history: ApplicantHistory, cfg: Any, rules: Rules) -> None:
    upgrade = cfg.upgrade
    if upgrade is None:
        return
    standing = history.standing or Standing()
    held, since = standing.tier, standing.since
    declared_field = upgrade.declared_field
    declared = _tier_named(app.values.get(declared_field), upgrade.order) if declared_field else None
    where = _at(app, declared_field or rules.role("name"))
    since_text = since.isoformat() if since else text("history.words.unknown_date")
    if declared and held and declared != held:
        app.findings.append(Finding("upgrade-tier-mismatch", "warning", field=declared_field, clause=upgrade.clause,
                                    params={"declared": declared, "held": held, "since": since_text},
                                    source=where, effect="needs_review", original=app.values.get(declared_field)))
    if declared and not held:
        app.findings.append(Finding("current-tier-unrecorded", "warning", field=declared_field, clause=upgrade.clause,
                                    params={"declared": declared}, source=where, effect="needs_review",
                                    original=app.values.get(declared_field)))
        held, since_text = declared, text("history.words.declared")
    if not held:
        return
    if held in upgrade.from_tiers:
        app.findings.append(Finding("upgrade-application", "info", clause=upgrade.clause,
                                    params={"tier": held, "since": since_text}, source=where))
        history.upgrade = {"from": held, "since": since.isoformat() if since and held == standing.tier else None,
                           "declared": declared, "to": None}
    else:
        app.findings.append(Finding("upgrade-not-open", "warning", clause=upgrade.clause,
                                    params={"tier": held, "since": since_text, "from_tiers": join(upgrade.from_tiers)},
                                    source=where, effect="needs_review"))


def _year_over_year(app: Application, history: ApplicantHistory, cfg: Any, rules: Rules) -> None:
    yoy = cfg.yoy
    dated = [r for r in history.rounds if r.values]
    if yoy is None or not dated:
        return
    previous = max(dated, key=lambda r: (r.when or dt.date.min, r.run_id))
    fields = list(yoy.fields) or [fid for fid, spec in rules.fields.items()
                                  if spec.type in NUMERIC_TYPES and fid not in rules.role_fields]
    for fid in fields:
        new, old = _number(app.values.get(fid)), _number(previous.values.get(fid))
        if new is None or old is None or new <= yoy.min_value or old <= yoy.min_value:
            continue
        ratio = max(new / old, old / new)
        if ratio <= yoy.factor + 1e-9:
            continue
        spec = rules.fields.get(fid)
        when = previous.when.isoformat() if previous.when else previous.program
        change = {"field": fid, "old": old, "new": new, "ratio": round(ratio, 2), "previous": previous.program,
                  "previous_date": previous.when.isoformat() if previous.when else None}
        history.changes.append(change)
        app.findings.append(Finding(
            "yoy-change", "warning", field=fid, clause=yoy.clause, effect=yoy.effect or None,
            params={"label": rules.label(fid), "new": new, "old": old, "unit": (spec.unit if spec else None) or "",
                    "ratio": round(ratio, 1), "factor": yoy.factor, "previous": when},
            source=_at(app, fid), original=app.originals.get(fid)))


# ----------------------------------------------------------------------------- the department's sheets
def department_sheets(book: Book, cfg: Any, day: dt.date,
                      applied: Callable[[set[str]], dict[str, Application]]) -> list[SheetSpec]:
    """Bans in force on ``day``; with ``[history.evaluation]``, evaluations due and proposals of
    downgrade or revocation.  ``applied(keys)``: the application of this round under each key."""
    applicants = book.applicants(cfg.family) if book.needs_applicants(cfg.family, cfg) else []
    out = []
    if cfg.bans:
        out.append(_bans_sheet(applicants, cfg, day, applied))
    if cfg.evaluation is not None:
        due, overdue = [], []
        for applicant in applicants:
            standing = standing_of(applicant.records, applicant.decisions, cfg, day)
            if standing is None:
                continue
            state = standing.state(day)
            if state == "due":
                due.append((applicant, standing))
            elif state == "overdue":
                overdue.append((applicant, standing))
        out.append(_evaluations_sheet(due, cfg))
        out.append(_proposals_sheet(overdue, cfg))
    return out


def _columns(section: str, keys: Sequence[str]) -> list[str]:
    return [text(f"history.sheets.{section}.columns.{k}") for k in keys]


def _who(applicant: Applicant) -> tuple[Any, Any, Any]:
    latest: RoundRecord | None = applicant.latest
    return (latest.name if latest else None, latest.city if latest else None,
            applicant.applicant_name or (latest.applicant_name if latest else None))


def _applicant_keys(applicant: Applicant) -> list[str]:
    return _keys_of(applicant.applicant_id, [applicant.applicant_name, *(r.name for r in applicant.records)])


def _applied_name(applicant: Applicant, applied: dict[str, Application]) -> str:
    for key in _applicant_keys(applicant):
        if key in applied:
            return applied[key].name or text("history.words.yes")
    return ""


def _bans_sheet(applicants: list[Applicant], cfg: Any, day: dt.date,
                applied_to: Callable[[set[str]], dict[str, Application]]) -> SheetSpec:
    keys = ("applicant", "applicant_id", "name", "origin", "clause", "start", "until", "applied", "recover",
            "who", "recorded", "note")
    listed = [(applicant, ban) for applicant in applicants for ban in bans_of(applicant.decisions, cfg)
              if ban.in_force(day)]
    applied = applied_to({key for applicant, _ban in listed for key in _applicant_keys(applicant)})
    rows = []
    for applicant, ban in listed:
        standing = standing_of(applicant.records, applicant.decisions, cfg, day)
        name, _city, who_applies = _who(applicant)
        recover = standing.subsidy_paid if standing is not None and ban.decision.kind == "revoked" else None
        d = ban.decision
        rows.append([who_applies or d.applicant_name, applicant.applicant_id, name, ban.text, ban.clause,
                     ban.start.isoformat(), ban.until.isoformat(), _applied_name(applicant, applied),
                     recover or None, d.who, _shown_time(d.recorded), d.note])
    return SheetSpec(name=text("history.sheets.bans.name"), headers=_columns("bans", keys),
                     rows=rows or [[text("history.sheets.bans.empty", day=day.isoformat())]],
                     title=text("history.sheets.bans.title", program=cfg.title, day=day.isoformat()),
                     notes=[text("history.sheets.bans.note")], number_formats={keys.index("recover"): AMOUNT_FORMAT})


def _standing_row(applicant: Applicant, standing: Standing) -> list[Any]:
    name, city, who_applies = _who(applicant)
    basis = text(f"history.basis.{standing.basis}", round=standing.round or "") if standing.basis else ""
    return [name, city, who_applies, applicant.applicant_id, standing.tier,
            standing.since.isoformat() if standing.since else None, basis]


def _evaluations_sheet(rows_in: list[tuple[Applicant, Standing]], cfg: Any) -> SheetSpec:
    keys = ("name", "city", "applicant", "applicant_id", "tier", "since", "basis", "due", "failed", "paid")
    rows = []
    for applicant, standing in rows_in:
        failed = join(d.isoformat() for d in standing.failed) if standing.failed else text("history.words.none")
        rows.append([*_standing_row(applicant, standing), standing.due.isoformat() if standing.due else None,
                     failed, standing.subsidy_paid or None])
    ev = cfg.evaluation
    return SheetSpec(name=text("history.sheets.evaluations.name"), headers=_columns("evaluations", keys),
                     rows=rows or [[text("history.sheets.evaluations.empty")]],
                     title=text("history.sheets.evaluations.title", program=cfg.title, clause=ev.clause),
                     notes=[text("history.sheets.evaluations.note", years=ev.due_years, clause=ev.clause,
                                 deadline=ev.deadline_years, deadline_clause=ev.deadline_clause)],
                     number_formats={keys.index("paid"): AMOUNT_FORMAT})


def _proposals_sheet(rows_in: list[tuple[Applicant, Standing]], cfg: Any) -> SheetSpec:
    keys = ("name", "city", "applicant", "applicant_id", "tier", "since", "basis", "deadline", "failed",
            "proposal", "recover")
    ev = cfg.evaluation
    rows = []
    for applicant, standing in rows_in:
        failed = join(d.isoformat() for d in standing.failed) if standing.failed else text("history.words.none")
        rows.append([*_standing_row(applicant, standing), standing.deadline.isoformat() if standing.deadline else None,
                     failed, text("history.sheets.proposals.proposal", clause=ev.deadline_clause),
                     standing.subsidy_paid])
    return SheetSpec(name=text("history.sheets.proposals.name"), headers=_columns("proposals", keys),
                     rows=rows or [[text("history.sheets.proposals.empty")]],
                     title=text("history.sheets.proposals.title", program=cfg.title, clause=ev.deadline_clause),
                     notes=[text("history.sheets.proposals.note", years=ev.deadline_years, clause=ev.deadline_clause)],
                     number_formats={keys.index("recover"): AMOUNT_FORMAT})


# ----------------------------------------------------------------------------- helpers
def _keys_of(applicant_id: str | None, names: Iterable[str | None]) -> list[str]:
    out = [f"id:{applicant_id}"] if applicant_id else []
    out += [f"name:{k}" for k in dict.fromkeys(name_key(n) for n in names) if k]
    return out


def _tier_named(value: Any, order: Sequence[str]) -> str | None:
    """The tier a city wrote (``成长型``, ``成长型数字经济园区``); None for 无, 新申报, a blank."""
    if not isinstance(value, str):
        return None
    written = name_key(value)
    for tier in sorted(order, key=len, reverse=True):
        if name_key(tier) and name_key(tier) in written:
            return tier
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _shown_time(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        return clock.parse(iso).astimezone(clock.zone()).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def _at(app: Application, field_id: str | None) -> Source:
    return Source(file=app.source.file, sheet=app.source.sheet, row=app.source.row,
                  cell=app.cells.get(field_id) if field_id else None)
