"""Recording what staff decide (``sdbatch decide``): auditable, never edited, never deleted.

Every entry names the program family, the applicant (统一社会信用代码 and/or name), its kind, the
clause it rests on (the rules file's ``[history.decisions]`` default, or the one given), the date of
the act, who recorded it, when (China time, to the second) and a note.  An entry recorded by mistake
is voided by a new entry (``void``), which also carries who, when and why.

An entry is appended to the decisions journal beside the ledger (flushed to disk) and then written
to the ledger (:mod:`sdbatch.history.journal`): a damaged ledger loses no decision.

The applicant is found in the ledger: a credit code, or a name the ledger knows with its code (a name
only the ledger knows without a code is recorded by name); the program family from ``--program``
(a round's name such as ``park_2024`` or the family ``park``) or, when the applicant is known in one
family only, from the ledger.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdbatch import clock
from sdbatch.catalogue import join, text
from sdbatch.errors import Refused
from sdbatch.history import journal
from sdbatch.history.book import Book
from sdbatch.history.model import FAIL, NONE_TIER, PASS, VOID, Decision, active, name_key, valid_id


@dataclass(frozen=True)
class Applicant:
    family: str
    rules: Any  # the newest round of the family (its [history] table)
    applicant_id: str | None
    applicant_name: str | None


@dataclass
class Request:
    """What a ``sdbatch decide`` command asks to record."""

    kind: str
    who: str
    note: str
    applicant: str | None = None  # credit code or name (not for void)
    program: str | None = None
    name: str | None = None  # the applicant's name, when only a code is given and the ledger lacks it
    clause: str | None = None
    date: dt.date | None = None
    round: str | None = None
    tier: str | None = None
    result: str | None = None
    amount: float | None = None
    voids: str | None = None


def families(rules_files: Iterable[Path] = ()) -> dict[str, Any]:
    """family -> the newest round's rules (by name) among the bundled rules and ``rules_files``."""
    from sdbatch import rules as rules_mod

    loaded = [rules_mod.load(name) for name in rules_mod.bundled()] + [rules_mod.load(p) for p in rules_files]
    out: dict[str, Any] = {}
    for rules in sorted(loaded, key=lambda r: r.name):
        if rules.history is not None:
            out[rules.history.family] = rules
    return out


def _family_named(program: str, known: dict[str, Any]) -> str:
    if program in known:
        return program
    for family, rules in known.items():
        if program == rules.name:
            return family
    from sdbatch import rules as rules_mod

    if program in rules_mod.bundled():
        found = rules_mod.load(program)
        if found.history is not None:
            return str(found.history.family)
    raise Refused(text("history.decide.unknown_program", program=program, known=join(
        text("history.decide.program_item", title=r.history.title, family=f) for f, r in known.items())))


def find_applicant(book: Book, given: str, program: str | None, known: dict[str, Any], name: str | None = None) -> Applicant:
    """The applicant a command names, in its family (see the module's docstring)."""
    applicant_id = valid_id(given)
    if applicant_id is None and _looks_like_code(given):
        raise Refused(text("history.decide.bad_code", code=given))
    family = _family_named(program, known) if program else None
    key = name_key(given)
    hits: dict[tuple[str, str | None], str | None] = {}
    for r in book.records:
        if (applicant_id and r.applicant_id == applicant_id) or (
                not applicant_id and key and key in {name_key(r.applicant_name), name_key(r.name)}):
            hits.setdefault((r.family, r.applicant_id), r.applicant_name)
    for d in book.decisions:
        if (applicant_id and d.applicant_id == applicant_id) or (not applicant_id and key and key == name_key(d.applicant_name)):
            hits.setdefault((d.family, d.applicant_id), d.applicant_name)
    if family is not None:
        hits = {k: v for k, v in hits.items() if k[0] == family}
    elif len({f for f, _ in hits}) > 1:
        raise Refused(text("history.decide.several_families", applicant=given, families=join(
            sorted({f for f, _ in hits}))))
    elif not hits:
        raise Refused(text("history.decide.need_program", applicant=given, known=join(known)))
    if family is None:
        family = next(iter(hits))[0]
    if family not in known:
        raise Refused(text("history.decide.unknown_program", program=family, known=join(known)))
    codes = {code for (_f, code) in hits if code}
    if applicant_id is None and len(codes) > 1:
        raise Refused(text("history.decide.several_codes", name=given, codes=join(sorted(codes))))
    code = applicant_id or (next(iter(codes)) if codes else None)
    shown = name or next((v for (f, c), v in hits.items() if c == code and v), None) or (
        None if applicant_id else given)
    return Applicant(family, known[family], code, shown)


def _looks_like_code(value: str) -> bool:
    compact = "".join(value.split()).upper()
    return len(compact) >= 15 and sum(ch.isdigit() for ch in compact) >= 8 and compact.isalnum() and compact.isascii()


def build(req: Request, book: Book, known: dict[str, Any], now: dt.datetime | None = None) -> Decision:
    """The entry a request makes, checked against the family's rules; raises Refused with the reason."""
    now = now or clock.now()
    if not req.who.strip():
        raise Refused(text("history.decide.no_who"))
    if not req.note.strip():
        raise Refused(text("history.decide.no_note"))
    recorded = now.isoformat(timespec="seconds")
    uid = f"{now:%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
    effective = req.date or now.date()
    if req.kind == VOID:
        target = next((d for d in book.all_decisions if d.uid == req.voids), None)
        if target is None or target.kind == VOID:
            raise Refused(text("history.decide.no_such_entry", uid=req.voids or ""))
        if target.uid not in {d.uid for d in active(book.all_decisions)}:
            raise Refused(text("history.decide.already_void", uid=target.uid))
        return Decision(uid, target.family, target.applicant_id, target.applicant_name, VOID, None, None, None, None,
                        None, effective, target.uid, req.who.strip(), recorded, req.note.strip())
    applicant = find_applicant(book, req.applicant or "", req.program, known, req.name)
    cfg = applicant.rules.history
    clause = req.clause or getattr(cfg.decisions, req.kind, None)
    if getattr(cfg.decisions, req.kind, None) is None:
        raise Refused(text("history.decide.kind_not_for", kind=text(f"history.kinds.{req.kind}"), program=cfg.title))
    tier, result, amount = req.tier, req.result, req.amount
    order = list(cfg.upgrade.order) if cfg.upgrade is not None else []
    if req.kind in ("title", "recognised", "downgraded"):
        if req.kind == "recognised" and tier in (NONE_TIER, text("history.words.none")):
            tier = NONE_TIER
        elif not tier or (order and tier not in order):
            raise Refused(text("history.decide.bad_tier", tier=tier or "", tiers=join(order) or "-"))
    else:
        tier = None
    if req.kind == "evaluation":
        if result not in (PASS, FAIL):
            raise Refused(text("history.decide.bad_result"))
    else:
        result = None
    if req.kind == "subsidy_paid":
        if amount is None or amount <= 0:
            raise Refused(text("history.decide.bad_amount"))
    else:
        amount = None
    return Decision(uid, applicant.family, applicant.applicant_id, applicant.applicant_name, req.kind, clause,
                    req.round, tier, result, amount, effective, None, req.who.strip(), recorded, req.note.strip())


def record(ledger_path: Path, req: Request, rules_files: Iterable[Path] = (), now: dt.datetime | None = None,
           out_dir: Path | None = None) -> Decision:
    """Record one decision: journal first, then the ledger.  Returns the entry."""
    from sdbatch.ledger import Ledger, classify

    known = families(rules_files)
    with Ledger.open(ledger_path, out_dir=out_dir) as led:
        led.sync_decisions()
        book = Book.from_ledger(led)
        entry = build(req, book, known, now)
        path = journal.journal_path(ledger_path)
        try:
            journal.append(path, [entry])
        except OSError as exc:
            raise classify(exc, path) from exc
        led.add_decisions([entry])
    return entry


def entry_text(entry: Decision) -> str:
    """One entry as ``sdbatch decide`` and ``sdbatch history`` show it."""
    parts = [text(f"history.kinds.{entry.kind}")]
    if entry.tier:
        parts.append(text("history.show.tier", tier=text("history.words.none") if entry.tier == NONE_TIER else entry.tier))
    if entry.result:
        parts.append(text(f"history.show.result_{entry.result}"))
    if entry.amount is not None:
        parts.append(text("history.show.amount", amount=f"{entry.amount:g}"))
    if entry.round:
        parts.append(text("history.show.round", round=entry.round))
    if entry.voids:
        parts.append(text("history.show.voids", uid=entry.voids))
    return text("history.show.entry", uid=entry.uid, date=entry.effective.isoformat(), what=text(
        "history.show.separator").join(parts), clause=entry.clause or "-", who=entry.who,
        recorded=entry.recorded.replace("T", " ")[:19], note=entry.note,
        applicant=entry.applicant_name or entry.applicant_id or "")
