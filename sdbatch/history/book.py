"""What the ledger holds about earlier rounds and staff decisions, and what the rules make of it.

A :class:`Book` is loaded once per run (or per ``sdbatch history`` / ``sdbatch decide``) from the
ledger.  It finds the same applicant in other rounds of a program family (:meth:`Book.match`: by
统一社会信用代码, the normalised name as a fallback), groups a family's entries by applicant
(:meth:`Book.applicants`) and, with the round's ``[history]`` table, says what is in force:
bans (:func:`bans_of`) and a park's standing (:func:`standing_of`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sdbatch.history.model import (
    FAIL,
    NONE_TIER,
    PASS,
    Ban,
    Decision,
    RoundRecord,
    Standing,
    active,
    add_years,
    name_key,
)

T = TypeVar("T")

BY_ID, BY_NAME = "applicant_id", "name"


@dataclass
class Match:
    """The entries of one applicant in a family: earlier rounds' records and decisions in force."""

    records: list[RoundRecord] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    by: str | None = None  # BY_ID, BY_NAME or None (nothing found)


@dataclass
class Applicant:
    """Everything a family holds about one applicant (for the department's lists)."""

    applicant_id: str | None
    applicant_name: str | None
    records: list[RoundRecord] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    @property
    def latest(self) -> RoundRecord | None:
        dated = [r for r in self.records if r.when is not None]
        return max(dated, key=lambda r: (r.when, r.run_id)) if dated else (self.records[-1] if self.records else None)

    @property
    def keys(self) -> set[str]:
        out = {name_key(self.applicant_name)}
        for r in self.records:
            out |= {name_key(r.applicant_name), name_key(r.name)}
        return out - {""}


def _record_keys(record: RoundRecord) -> set[str]:
    return {name_key(record.applicant_name), name_key(record.name)} - {""}


def _entries(items: list[T], at: dict[str, list[int]], wanted: Iterable[str]) -> list[T]:
    """The entries found under any of ``wanted``, once each, in the book's order."""
    found: set[int] = set()
    for w in wanted:
        found.update(at.get(w, ()))
    return [items[i] for i in sorted(found)]


class _FamilyIndex:
    """A family's records and decisions in force, with where each credit code and name key is
    (positions, in the book's order): matching an application looks up its keys instead of
    reading every entry (issue 16: 100,000 applications against a ledger of 100,000 records)."""

    def __init__(self, records: list[RoundRecord], decisions: list[Decision]) -> None:
        self.records, self.decisions = records, decisions
        self.records_by_id: dict[str, list[int]] = defaultdict(list)
        self.records_by_key: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(records):
            if r.applicant_id:
                self.records_by_id[r.applicant_id].append(i)
            for key in _record_keys(r):
                self.records_by_key[key].append(i)
        self.decisions_by_id: dict[str, list[int]] = defaultdict(list)
        self.decisions_by_key: dict[str, list[int]] = defaultdict(list)
        for i, d in enumerate(decisions):
            if d.applicant_id:
                self.decisions_by_id[d.applicant_id].append(i)
            key = name_key(d.applicant_name)
            if key:
                self.decisions_by_key[key].append(i)


RecordLoader = Callable[[Callable[[Any], bool] | None], list[RoundRecord]]


class Book:
    """The ledger's history: every round's records (its last complete run) and every decision.

    A book made for a run (:meth:`for_run`) reads the records when a question needs them, and
    only those the question is about: matching an application reads its family's records of the
    other rounds, and the department's sheets read a family's records only when a decision or an
    evaluation asks for them.  A nightly run over the round the ledger already holds then reads
    none (issue 16: 100,000 records held 85 MB and took 8 s to load and group)."""

    def __init__(self, records: Iterable[RoundRecord] = (), decisions: Iterable[Decision] = (),
                 loader: RecordLoader | None = None) -> None:
        self._records: list[RoundRecord] | None = None if loader is not None else list(records)
        self._loader = loader
        self.all_decisions = list(decisions)
        self.decisions = active(self.all_decisions)
        # (family, round left out) -> where its entries are, built on first use: the round being run
        # is left out of the index itself, so that an applicant with many entries in it (a code
        # repeated down a long sheet) is not walked past on every lookup (issue 16)
        self._indexes: dict[tuple[str, str | None], _FamilyIndex] = {}

    @classmethod
    def from_ledger(cls, ledger: Any) -> Book:
        """The ledger's history; a record's values are read from the ledger when first used (a
        matched applicant's), so the ledger must be open then."""
        return cls(ledger.round_rows(functools.partial(RoundRecord.from_row, fetch=ledger.round_values), values=False),
                   ledger.decisions())

    @classmethod
    def for_run(cls, ledger: Any) -> Book:
        """The ledger's history, its records read when needed (the ledger open until the run ends)."""
        make = functools.partial(RoundRecord.from_row, fetch=ledger.round_values)
        return cls(decisions=ledger.decisions(),
                   loader=lambda keep: ledger.round_rows(make, values=False, keep=keep))

    @property
    def records(self) -> list[RoundRecord]:
        """Every round's records (all read on first use)."""
        if self._records is None:
            assert self._loader is not None
            self._records = self._loader(None)
        return self._records

    def _family_records(self, family: str, exclude_program: str | None = None) -> list[RoundRecord]:
        """The records of ``family`` outside the round ``exclude_program``, in the book's order."""
        if self._records is not None or self._loader is None:
            return [r for r in self.records if r.family == family and r.program != exclude_program]
        return self._loader(lambda row: row["family"] == family and row["program"] != exclude_program)

    def needs_applicants(self, family: str, cfg: Any) -> bool:
        """Whether the family's applicants matter to the department's sheets: an evaluation
        follows every applicant; otherwise only those a decision names (bans)."""
        return getattr(cfg, "evaluation", None) is not None or any(d.family == family for d in self.decisions)

    # ------------------------------------------------------------------ one applicant
    def match(self, family: str, applicant_id: str | None, names: Sequence[str | None],
              exclude_program: str | None = None) -> Match:
        """The applicant's entries in ``family`` outside the round ``exclude_program``.

        By credit code first; entries recorded without a valid code join by name.  Without a code
        match, the name (the applicant's or the application's) matches entries whose code is missing
        — or any entry when the application itself has no valid code — and ``by`` says so."""
        index = self._indexes.get((family, exclude_program))
        if index is None:
            index = self._indexes[family, exclude_program] = _FamilyIndex(
                self._family_records(family, exclude_program), [d for d in self.decisions if d.family == family])
        records, decisions = index.records, index.decisions
        if not index.records_by_key and not index.decisions_by_key and not (
                applicant_id and (index.records_by_id or index.decisions_by_id)):
            return Match()  # nothing to find (a first round, or this round's own entries only): no name read
        keys = {name_key(n) for n in names} - {""}
        if applicant_id:
            by_id = Match(_entries(records, index.records_by_id, [applicant_id]),
                          _entries(decisions, index.decisions_by_id, [applicant_id]), BY_ID)
            if by_id.records or by_id.decisions:
                by_id.records += [r for r in _entries(records, index.records_by_key, keys) if not r.applicant_id]
                by_id.decisions += [d for d in _entries(decisions, index.decisions_by_key, keys) if not d.applicant_id]
                by_id.decisions.sort(key=lambda d: (d.effective, d.recorded, d.uid))
                return by_id
        if not keys:
            return Match()
        loose = Match([r for r in _entries(records, index.records_by_key, keys)
                       if not applicant_id or not r.applicant_id],
                      [d for d in _entries(decisions, index.decisions_by_key, keys)
                       if not applicant_id or not d.applicant_id], BY_NAME)
        return loose if loose.records or loose.decisions else Match()

    # ------------------------------------------------------------------ a family's applicants
    def applicants(self, family: str) -> list[Applicant]:
        """Every applicant the family holds, its entries grouped by credit code; entries without a
        code join the applicant of the same name (or stand alone)."""
        groups: dict[str, Applicant] = {}
        by_name: dict[str, str] = {}
        records = self._family_records(family)
        for r in records:
            if r.applicant_id:
                g = groups.setdefault(r.applicant_id, Applicant(r.applicant_id, r.applicant_name))
                g.records.append(r)
                for key in _record_keys(r):
                    by_name.setdefault(key, r.applicant_id)
        for d in self.decisions:
            if d.family == family and d.applicant_id:
                g = groups.setdefault(d.applicant_id, Applicant(d.applicant_id, d.applicant_name))
                g.decisions.append(d)
                if name_key(d.applicant_name):
                    by_name.setdefault(name_key(d.applicant_name), d.applicant_id)
        for r in records:
            if not r.applicant_id:
                keys = sorted(_record_keys(r))
                target = next((by_name[k] for k in keys if k in by_name), None) or f"name:{keys[0] if keys else r.app_id}"
                g = groups.setdefault(target, Applicant(None, r.applicant_name))
                g.records.append(r)
                for key in keys:
                    by_name.setdefault(key, target)
        for d in self.decisions:
            if d.family == family and not d.applicant_id:
                key = name_key(d.applicant_name)
                target = by_name.get(key) or f"name:{key or d.uid}"
                g = groups.setdefault(target, Applicant(None, d.applicant_name))
                g.decisions.append(d)
        for g in groups.values():
            g.records.sort(key=lambda r: (r.when or dt.date.min, r.run_id))
            g.decisions.sort(key=lambda d: (d.effective, d.recorded, d.uid))
            if g.applicant_name is None and g.latest is not None:
                g.applicant_name = g.latest.applicant_name
        return list(groups.values())


# ----------------------------------------------------------------------------- what the rules make of it
def bans_of(decisions: Iterable[Decision], cfg: Any) -> list[Ban]:
    """The bans the decisions bring under ``[[history.bans]]`` (in force or not)."""
    out = []
    for d in decisions:
        for rule in getattr(cfg, "bans", ()):
            if rule.decision != d.kind:
                continue
            if rule.clauses and not any((d.clause or "").startswith(c) for c in rule.clauses):
                continue
            out.append(Ban(d, rule.clause, rule.text, d.effective, add_years(d.effective, rule.years)))
    return sorted(out, key=lambda b: (b.start, b.decision.uid))


def standing_of(records: Iterable[RoundRecord], decisions: Iterable[Decision], cfg: Any,
                day: dt.date | None = None) -> Standing | None:
    """The tier an applicant holds and where its evaluation stands (``[history.evaluation]``,
    ``[history.upgrade]``); None when the program tracks neither.  Only what happened before
    ``day`` counts.

    Recognition: a round's result with a tier for a status of ``evaluation.statuses``, dated by the
    round's run, unless a ``recognised`` decision names that round (its tier, or none, and its date
    count); a ``recognised`` decision without a round adds a recognition.  ``downgraded`` sets a
    lower tier from its date; ``revoked`` ends the recognition.  Passing the evaluation (or a title
    granted) after the recognition ends the construction period; subsidies paid since count for
    recovery."""
    evaluation = getattr(cfg, "evaluation", None)
    if evaluation is None and getattr(cfg, "upgrade", None) is None:
        return None
    statuses = set(evaluation.statuses) if evaluation is not None else {"eligible"}
    decisions = [d for d in decisions if day is None or d.effective <= day]
    overridden = {d.round for d in decisions if d.kind == "recognised" and d.round}
    events: list[tuple[dt.date, int, str, str | None, str, str | None, Decision | None]] = []
    per_round: dict[str, list[RoundRecord]] = {}
    for r in records:
        if r.tier and r.status in statuses and r.run_date and r.program not in overridden:
            if day is not None and r.run_date > day:
                continue
            per_round.setdefault(r.program, []).append(r)
    for program, runs in per_round.items():
        # a round run again (nightly, --force) recognises once: from its first run with a tier, so
        # that re-runs never push the evaluation and its deadline later; the tier its latest run gave
        first = min(r.run_date for r in runs if r.run_date is not None)
        latest = max(runs, key=lambda r: (r.run_date or first, r.run_id))
        events.append((first, 0, "recognised", latest.tier, "run", program, None))
    for d in decisions:
        if d.kind in ("recognised", "downgraded"):
            tier = None if d.tier in (None, NONE_TIER) else d.tier
            events.append((d.effective, 1, d.kind, tier, "decision", d.round, d))
        elif d.kind == "revoked":
            events.append((d.effective, 2, "revoked", None, "decision", d.round, d))
    if not events:
        return None
    st = Standing()
    revoked_at: dt.date | None = None
    for when, _order, kind, tier, basis, source_round, decision in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == "revoked":
            st.tier, st.revoked, revoked_at = None, decision, when
        elif tier is not None:
            st.tier, st.since, st.basis, st.round, st.revoked, revoked_at = tier, when, basis, source_round, None, None
    if st.since is None:
        return st
    since = st.since
    until = revoked_at or dt.date.max
    passes = [d for d in decisions if since <= d.effective <= until and (
        (d.kind == "evaluation" and d.result == PASS) or d.kind == "title")]
    st.passed = passes[0].effective if passes else None
    st.failed = [d.effective for d in decisions if since <= d.effective <= until and d.kind == "evaluation"
                 and d.result == FAIL]
    titles = [d for d in decisions if d.kind == "title" and since <= d.effective <= until and d.tier]
    st.title = titles[-1].tier if titles else None
    st.subsidy_paid = round(sum(d.amount or 0.0 for d in decisions
                                if d.kind == "subsidy_paid" and since <= d.effective <= until), 4)
    if evaluation is not None:
        st.due = add_years(since, evaluation.due_years)
        st.deadline = add_years(since, evaluation.deadline_years)
    return st
