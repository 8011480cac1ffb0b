"""``sdbatch history``: one applicant's rounds, decisions, bans and standing, in Chinese.

The applicant is named by its 统一社会信用代码 or its name (the applicant's or an application's);
every family it appears in is shown, or only the one ``--program`` names.  Bans and standing are
judged on ``today`` (China date) with the rules of the family's newest round.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from sdbatch import clock, errors
from sdbatch.catalogue import label, text
from sdbatch.history.book import Applicant, Book, bans_of, standing_of
from sdbatch.history.decisions import _family_named, _looks_like_code, entry_text, families
from sdbatch.history.model import RoundRecord, Standing, name_key, valid_id


def history_text(ledger_path: Path, given: str, program: str | None = None, rules_files: Iterable[Path] = (),
                 today: dt.date | None = None, out_dir: Path | None = None) -> str:
    from sdbatch.errors import Refused
    from sdbatch.ledger import Ledger

    today = today or clock.now().date()
    if not Path(ledger_path).exists():
        return text("ledger.status.no_ledger", path=errors.shown_path(Path(ledger_path)))
    known = families(rules_files)
    with Ledger.open(ledger_path, out_dir=out_dir) as led:
        book = Book.from_ledger(led)
    applicant_id = valid_id(given)
    if applicant_id is None and _looks_like_code(given):
        raise Refused(text("history.decide.bad_code", code=given))
    only = _family_named(program, known) if program else None
    key = name_key(given)
    found: list[tuple[str, Applicant]] = []
    for family in sorted({r.family for r in book.records} | {d.family for d in book.decisions}):
        if only is not None and family != only:
            continue
        for applicant in book.applicants(family):
            if (applicant_id and applicant.applicant_id == applicant_id) or (
                    not applicant_id and key and key in applicant.keys | {name_key(d.applicant_name)
                                                                          for d in applicant.decisions}):
                found.append((family, applicant))
    if not found:
        return text("history.show.not_found", applicant=given, path=errors.shown_path(Path(ledger_path)))
    blocks = [_block(family, applicant, known.get(family), today) for family, applicant in found]
    return "\n\n".join(blocks)


def _block(family: str, applicant: Applicant, rules: object, today: dt.date) -> str:
    cfg = getattr(rules, "history", None)
    title = cfg.title if cfg is not None else family
    lines = [text("history.show.head", title=title, applicant=applicant.applicant_name or text("history.words.none"),
                  code=applicant.applicant_id or text("history.show.no_code"), today=today.isoformat())]
    lines.append(text("history.show.rounds", count=len(applicant.records)))
    for r in applicant.records:
        lines.append(_round_line(r))
    lines.append(text("history.show.decisions", count=len(applicant.decisions)))
    for d in applicant.decisions:
        lines.append("  " + entry_text(d))
    if cfg is None:
        lines.append(text("history.show.no_rules", family=family))
        return "\n".join(lines)
    bans = bans_of(applicant.decisions, cfg)
    if bans:
        lines.append(text("history.show.bans"))
        for ban in bans:
            state = text("history.show.ban_in_force") if ban.in_force(today) else (
                text("history.show.ban_ended") if today >= ban.until else text("history.show.ban_future"))
            lines.append(text("history.show.ban", clause=ban.clause, origin=ban.text, start=ban.start.isoformat(),
                              until=ban.until.isoformat(), state=state))
    standing = standing_of(applicant.records, applicant.decisions, cfg, today)
    if standing is not None:
        lines.append(_standing_line(standing, today))
    return "\n".join(lines)


def _round_line(r: RoundRecord) -> str:
    extra = []
    if r.tier:
        extra.append(text("history.show.tier", tier=r.tier))
    if r.subsidy is not None:
        extra.append(text("history.show.amount", amount=f"{r.subsidy:g}"))
    return text("history.show.round_line", date=(r.when.isoformat() if r.when else "-"), program=r.program,
                city=r.city or "-", name=r.name or "-", status=label("status", r.status) if r.status else "-",
                extra=text("history.show.separator").join(extra), run_id=r.run_id)


def _standing_line(st: Standing, today: dt.date) -> str:
    state = st.state(today)
    if state in ("none",):
        return text("history.show.standing_none")
    if state == "revoked":
        return text("history.show.standing_revoked", date=st.revoked.effective.isoformat() if st.revoked else "-",
                    paid=f"{st.subsidy_paid:g}")
    basis = text(f"history.basis.{st.basis}", round=st.round or "") if st.basis else "-"
    return text("history.show.standing", tier=st.tier or "-", since=st.since.isoformat() if st.since else "-",
                basis=basis, due=st.due.isoformat() if st.due else "-",
                deadline=st.deadline.isoformat() if st.deadline else "-",
                state=text(f"history.states.{state}"), paid=f"{st.subsidy_paid:g}")
