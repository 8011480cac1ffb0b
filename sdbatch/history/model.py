"""The objects of the history across rounds: a round's record of an applicant, a decision staff
recorded, a ban, a park's standing, and the block an application carries (results.json ``history``).

Dates are China dates (``datetime.date``); times people read are China time (:mod:`sdbatch.clock`).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sdbatch.text import held_once

#: What staff may record (``sdbatch decide``), plus ``void`` (an entry recorded by mistake is
#: voided by a new entry, never deleted).  A program accepts the kinds its ``[history.decisions]``
#: gives a clause.
DECISION_KINDS = ("false_material", "revoked", "evaluation", "title", "subsidy_paid", "recognised", "downgraded")
VOID = "void"
PASS, FAIL = "pass", "fail"
NONE_TIER = "none"  # a ``recognised`` decision saying the department recognised no tier

#: The fields of a decision, in the order they are stored and written to the journal.
DECISION_KEYS = ("uid", "family", "applicant_id", "applicant_name", "kind", "clause", "round", "tier", "result",
                 "amount", "effective", "voids", "who", "recorded", "note")


def add_years(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` later (29 February -> 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def valid_id(value: Any) -> str | None:
    """A 统一社会信用代码 with a valid check digit (normalised), else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    return _valid_code(value)


@functools.lru_cache(maxsize=1 << 16)
def _valid_code(value: str) -> str | None:
    """One code is validated once per process although the stage, the facts recorded and the
    history sheets each ask (python-stdnum: some 40 µs a code)."""
    from stdnum import exceptions
    from stdnum.cn import uscc

    text = re.sub(r"[\s\-—_]", "", value).upper()
    try:
        return str(uscc.validate(text))
    except exceptions.ValidationError:
        return None


def name_key(name: Any) -> str:
    """A name reduced the way duplicates and resubmissions are matched (:func:`sdbatch.decide.name_key`)."""
    from sdbatch.decide import name_key as reduce

    return reduce(name) if isinstance(name, str) else ""


def to_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


@functools.lru_cache(maxsize=4096)
def _day_of(value: str) -> dt.date | None:
    return to_date(value)


def _day(value: Any) -> dt.date | None:
    """:func:`to_date` of a stored text, each distinct text read once."""
    return _day_of(value) if type(value) is str else to_date(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


# ----------------------------------------------------------------------------- a round's record
class StoredValues(Mapping[str, Any]):
    """A record's values as the ledger keeps them (JSON text), read and decoded on first use: a
    ledger holds every application of a round, and only those an application of this run matches
    are read (issue 16: the values of 100,000 records cost hundreds of MB held as dicts, and some
    150 MB held as text).  ``fetch()`` gives the text when it was not read with the record (the
    ledger still open).  Text that is not a JSON object reads as no values."""

    __slots__ = ("_text", "_data", "_fetch")

    def __init__(self, text: str | None = None, fetch: Callable[[], str | None] | None = None) -> None:
        self._text: str | None = text
        self._data: dict[str, Any] | None = None
        self._fetch = fetch

    def _decoded(self) -> dict[str, Any]:
        if self._data is None:
            if self._fetch is not None:
                self._text, self._fetch = self._fetch(), None
            try:
                data = json.loads(self._text or "{}")
            except ValueError:
                data = {}
            self._data = data if isinstance(data, dict) else {}
            self._text = None
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._decoded()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())

    def __eq__(self, other: object) -> bool:
        return dict(self._decoded()) == other if isinstance(other, Mapping) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._decoded())


@dataclass(frozen=True, slots=True)
class RoundRecord:
    """One application of an earlier round, as the ledger keeps it (the round's last complete run)."""

    program: str  # the round (rules name), e.g. cluster_2024
    family: str
    run_id: str
    run_date: dt.date | None  # when the round's run was made (a run-based recognition is dated so)
    app_id: str
    applicant_id: str | None
    applicant_name: str | None
    name: str | None
    city: str | None
    status: str | None
    tier: str | None
    subsidy: float | None
    received: dt.date | None
    values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def when(self) -> dt.date | None:
        return self.received or self.run_date

    def to_dict(self) -> dict[str, Any]:
        return {"program": self.program, "run_id": self.run_id, "received": _iso(self.received),
                "run_date": _iso(self.run_date), "city": self.city, "name": self.name,
                "applicant_id": self.applicant_id, "applicant_name": self.applicant_name, "status": self.status,
                "tier": self.tier, "subsidy": self.subsidy}

    @classmethod
    def from_row(cls, row: Mapping[str, Any],
                 fetch: Callable[[str, str], str | None] | None = None) -> RoundRecord:
        """A record from a ledger row; without ``values_json`` in it, its values are read by
        ``fetch(run_id, app_id)`` when first used."""
        # The words a round repeats on every row (its program, run, city, status, dates) are held
        # once: a ledger round of 100,000 applications holds them 100,000 times otherwise.
        run_id, app_id = held_once(str(row["run_id"])), str(row["app_id"])
        if "values_json" in row or fetch is None:
            values = StoredValues(row.get("values_json"))
        else:
            values = StoredValues(fetch=functools.partial(fetch, run_id, app_id))
        return cls(program=held_once(str(row["program"])), family=held_once(str(row["family"])),
                   run_id=run_id, run_date=_day(row.get("started")), app_id=app_id,
                   applicant_id=row.get("applicant_id"), applicant_name=row.get("applicant_name"),
                   name=row.get("name"), city=held_once(row.get("city")), status=held_once(row.get("status")),
                   tier=held_once(row.get("tier")), subsidy=_number(row.get("subsidy")), received=_day(row.get("received")),
                   values=values)


# ----------------------------------------------------------------------------- decisions
@dataclass(frozen=True)
class Decision:
    """An entry staff recorded (``sdbatch decide``): who, when (China time), clause and note, always."""

    uid: str
    family: str
    applicant_id: str | None
    applicant_name: str | None
    kind: str
    clause: str | None
    round: str | None  # the round it concerns (a recognition, false material found in it)
    tier: str | None
    result: str | None  # evaluation: pass / fail
    amount: float | None  # subsidy paid, 万元
    effective: dt.date  # the date of the act (the decision, the payment)
    voids: str | None  # a void entry: the uid it voids
    who: str
    recorded: str  # ISO time, China time
    note: str

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in DECISION_KEYS}
        out["effective"] = self.effective.isoformat()
        return out

    @property
    def digest(self) -> str:
        return digest_of(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        effective = to_date(data.get("effective"))
        if effective is None:
            raise ValueError("effective")
        for key in ("uid", "family", "kind", "who", "recorded", "note"):
            if not isinstance(data.get(key), str) or not data.get(key):
                raise ValueError(key)
        return cls(uid=str(data["uid"]), family=str(data["family"]), applicant_id=data.get("applicant_id") or None,
                   applicant_name=data.get("applicant_name") or None, kind=str(data["kind"]),
                   clause=data.get("clause") or None, round=data.get("round") or None, tier=data.get("tier") or None,
                   result=data.get("result") or None, amount=_number(data.get("amount")), effective=effective,
                   voids=data.get("voids") or None, who=str(data["who"]), recorded=str(data["recorded"]),
                   note=str(data["note"]))


def digest_of(entry: Mapping[str, Any]) -> str:
    """The checksum of a decision: its fields as canonical JSON."""
    body = json.dumps({k: entry.get(k) for k in DECISION_KEYS}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


def active(decisions: Iterable[Decision]) -> list[Decision]:
    """The decisions in force: void entries and the entries they void left out, oldest first."""
    decisions = list(decisions)
    voided = {d.voids for d in decisions if d.kind == VOID and d.voids}
    return sorted((d for d in decisions if d.kind != VOID and d.uid not in voided),
                  key=lambda d: (d.effective, d.recorded, d.uid))


# ----------------------------------------------------------------------------- bans and standing
@dataclass(frozen=True)
class Ban:
    """A decision that bars the applicant from the program for some years."""

    decision: Decision
    clause: str
    text: str  # its origin in general terms (a city may read it)
    start: dt.date
    until: dt.date  # the first day it may apply again

    def in_force(self, day: dt.date) -> bool:
        return self.start <= day < self.until

    def to_dict(self, day: dt.date) -> dict[str, Any]:
        return {"decision": self.decision.uid, "kind": self.decision.kind, "clause": self.clause, "text": self.text,
                "from": self.start.isoformat(), "until": self.until.isoformat(), "in_force": self.in_force(day)}


@dataclass
class Standing:
    """An applicant's recognition in the program (parks: 第九条、第十四条–第十七条) as of a day."""

    tier: str | None = None  # the tier held (None: none, or revoked)
    since: dt.date | None = None  # recognised (or downgraded) on
    basis: str | None = None  # "run": a round's result; "decision": recorded by staff
    round: str | None = None  # the round of the recognition
    passed: dt.date | None = None  # evaluation passed (or title granted) since the recognition
    failed: list[dt.date] = field(default_factory=list)  # evaluations failed since the recognition
    title: str | None = None  # the title granted (第十四条)
    revoked: Decision | None = None
    subsidy_paid: float = 0.0  # 万元 paid since the recognition
    due: dt.date | None = None  # the evaluation is due (recognition + due_years)
    deadline: dt.date | None = None  # downgrade or revocation proposed from (recognition + deadline_years)

    def state(self, day: dt.date) -> str:
        """``none``, ``revoked``, ``passed``, ``building`` (in the construction period), ``due``
        (evaluation due) or ``overdue`` (past the deadline without passing)."""
        if self.revoked is not None and self.tier is None:
            return "revoked"
        if self.tier is None:
            return "none"
        if self.passed is not None:
            return "passed"
        if self.deadline is not None and day >= self.deadline:
            return "overdue"
        if self.due is not None and day >= self.due:
            return "due"
        return "building"

    def to_dict(self, day: dt.date) -> dict[str, Any]:
        return {"tier": self.tier, "since": _iso(self.since), "basis": self.basis, "round": self.round,
                "state": self.state(day), "evaluation_due": _iso(self.due), "deadline": _iso(self.deadline),
                "passed": _iso(self.passed), "failed": [d.isoformat() for d in self.failed], "title": self.title,
                "revoked": self.revoked.uid if self.revoked else None, "subsidy_paid": self.subsidy_paid}


# ----------------------------------------------------------------------------- an application's block
@dataclass
class ApplicantHistory:
    """What the history says about one application (results.json ``history``, department only)."""

    family: str
    applicant_id: str | None
    applicant_name: str | None
    as_of: dt.date  # the day the application was received (bans and standing are judged on it)
    matched_by: str | None = None  # "applicant_id", "name" (only the name matched) or None
    rounds: list[RoundRecord] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    bans: list[Ban] = field(default_factory=list)
    standing: Standing | None = None
    upgrade: dict[str, Any] | None = None  # {"from": tier, "since": date, "to": tier reached or None}
    changes: list[dict[str, Any]] = field(default_factory=list)  # year-over-year jumps beyond the factor

    @property
    def worth_showing(self) -> bool:
        return bool(self.rounds or self.decisions or self.bans or self.upgrade or self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "applicant_id": self.applicant_id,
            "applicant_name": self.applicant_name,
            "as_of": self.as_of.isoformat(),
            "matched_by": self.matched_by,
            "rounds": [r.to_dict() for r in self.rounds],
            "decisions": [d.to_dict() for d in self.decisions],
            "bans": [b.to_dict(self.as_of) for b in self.bans],
            "standing": self.standing.to_dict(self.as_of) if self.standing else None,
            "upgrade": self.upgrade,
            "changes": self.changes,
        }


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
