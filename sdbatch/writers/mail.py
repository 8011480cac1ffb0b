"""E-mail drafts ``mail/<city>.eml`` (issue 4).

A run only *writes* drafts (never sends: ``sdbatch mail send``, :mod:`sdbatch.sending`). Headers
are built only through the ``email`` package, and city text that goes into a header is flattened
to one line first, so a cluster name holding ``\\r\\nBcc: …`` cannot add a header. The review
workbook is attached with its Chinese file name (RFC 2231). Recipients come from the address book
(:mod:`sdbatch.address_book`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from sdbatch.address_book import AddressBook, load_address_book
from sdbatch.catalogue import pair, render, text
from sdbatch.jurisdiction import jurisdiction_of
from sdbatch.model import STATUSES, Application, Finding, RunResult, Source
from sdbatch.writers._common import (
    UNKNOWN_CITY,
    city_key,
    finding_rank,
    one_line,
    outcome_columns,
    program_of,
    programs_of,
    rules_for,
    show,
    status_label,
    time_text,
)

MAX_PROBLEMS_PER_APP = 6
XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
# CRLF line ends; long enough lines that a Chinese file name is one `filename*=` parameter
# rather than RFC 2231 continuations (filename*0*, filename*1*), which some clients mishandle.
DRAFT_POLICY = policy.SMTP.clone(max_line_length=250)


# ----------------------------------------------------------------------------- templates
def _environment(templates_dir: Path | None = None) -> Any:
    import jinja2

    loaders: list[Any] = []
    if templates_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(templates_dir)))
    loaders.append(jinja2.PackageLoader("sdbatch", "mail_templates"))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), autoescape=False, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["chinese_number"] = chinese_number
    return env


def chinese_number(n: int) -> str:
    """1 -> 一, 12 -> 十二 (section numbers of the e-mail body)."""
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n % 10] if n % 10 else "")
    if n < 100:
        return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")
    return str(n)


def _problem_lines(app: Application, rules: Any) -> list[dict[str, str]]:
    wanted = [f for f in app.findings if f.effect or f.severity in ("error", "warning")]
    out: list[dict[str, str]] = []
    for finding in sorted(wanted, key=finding_rank):
        text = render(finding)
        where = finding.source.cell if finding.source and finding.source.cell else app.cells.get(finding.field or "")
        prefix = f"[{where}] " if where else ""
        line = {"text": one_line(f"{prefix}{text.message}"), "fix": one_line(text.fix),
                "colour": finding.effect or finding.severity}
        if line not in out:
            out.append(line)
    return out


def _context(result: RunResult, city: str, review: Path, book: AddressBook) -> dict[str, Any]:
    apps = [a for a in result.applications if city_key(a.city) == city]
    started = _parse_time(result.started)
    programs: list[dict[str, Any]] = []
    for name, rules in programs_of(result).items():
        p_apps = [a for a in apps if a.program == name or (len(programs_of(result)) == 1 and not a.program)]
        if not p_apps:
            continue
        program = program_of(result, name)
        columns = outcome_columns(program, p_apps, "mail", "city")
        counts = [{"status": s, "label": status_label(s), "count": sum(1 for a in p_apps if a.status == s)}
                  for s in reversed(STATUSES)]
        programs.append({
            "name": name,
            "title": getattr(rules, "title", name),
            "notice": getattr(rules, "notice", ""),
            "entity": getattr(rules, "entity", "项目"),
            "deadline": rules.deadline.isoformat() if getattr(rules, "deadline", None) else "",
            "expert_items": [f"{i.get('clause', '')} {i.get('text', '')}" for i in rules.expert_items]
            if getattr(rules, "expert_items", None) else [],
            "counts": [c for c in counts if c["count"]],
            "notes": [pair(n.label, one_line(n.text)) for n in program.notes(result, p_apps, "city")],
            "apps": [{
                "name": one_line(a.name or "") or "（名称未填写）",
                "industry": one_line(a.industry or ""),
                "status": a.status,
                "status_label": status_label(a.status),
                "score": a.score,
                # the program's released outcome (a park's tier, subsidy ceiling…), as phrases
                "outcome": [text(c.phrase, value=show(v)) if c.phrase else f"{c.label}{show(v)}"
                            for c in columns if (v := c.value(a)) is not None],
                "problems": _problem_lines(a, rules_for(result, a.program))[:MAX_PROBLEMS_PER_APP],
                "more": max(0, len(_problem_lines(a, rules_for(result, a.program))) - MAX_PROBLEMS_PER_APP),
            } for a in p_apps],
        })
    files = [r for r in result.files if city_key(r.city) == city and r.status != "ignored"]
    rejected = [{"file": r.file, "error": r.error or ""} for r in files if r.status == "rejected"]
    late = [r.file for r in files if r.late and r.status == "processed"]
    needs_fix = any(a.status in ("ineligible", "incomplete", "over_quota") for a in apps) or bool(rejected)
    reply_by = (started.date() + dt.timedelta(days=book.reply_days)) if started else None
    return {
        "city": city,
        "department": jurisdiction_of(result).department,
        "run_id": result.run_id,
        "run_time": time_text(result.started),
        "run_date": started.date().isoformat() if started else "",
        "reply_by": f"{reply_by.year}年{reply_by.month}月{reply_by.day}日" if reply_by else "",
        "attachment": review.name,
        "programs": programs,
        "title": "、".join(p["title"] for p in programs) or getattr(result.rules, "title", result.program),
        "total": len(apps),
        # the city's applications of every program together, for the one-line subject
        "counts": [{"label": status_label(s), "count": n} for s in reversed(STATUSES)
                   if (n := sum(1 for a in apps if a.status == s))],
        "rejected": rejected,
        "late": late,
        "needs_fix": needs_fix,
        "any_review": any(a.status == "needs_review" for a in apps),
    }


def _parse_time(iso: str | None) -> dt.datetime | None:
    if not iso:
        return None
    try:
        return dt.datetime.fromisoformat(iso)
    except ValueError:
        return None


# ----------------------------------------------------------------------------- drafts
def write_mail_drafts(result: RunResult, run_dir: Path, reviews: dict[str, Path], address_book: Path | None,
                      cities: set[str] | None = None, templates_dir: Path | None = None) -> list[Finding]:
    """Write ``run_dir/mail/<city>.eml`` for each city with a review workbook.

    ``cities`` limits the drafts to those cities (e.g. the cities whose results changed).
    Returns warnings: a city without recipients (``mail-no-recipient``) and problems of the
    address book (``address-book-invalid``). Reviews of ``未识别城市`` get no draft.
    """
    run_dir = Path(run_dir)
    book = load_address_book(address_book)
    findings: list[Finding] = []
    for problem in book.problems:
        findings.append(Finding("address-book-invalid", "warning", params={"book": book.path, "detail": problem},
                                source=Source(file=book.path)))
    env = _environment(templates_dir)
    subject_t = env.get_template("subject.j2")
    body_t = env.get_template("body.txt.j2")
    mail_dir = run_dir / "mail"
    order = jurisdiction_of(result).order
    for city in sorted(reviews, key=lambda c: (order.get(c, 99), c)):
        if city == UNKNOWN_CITY or (cities is not None and city not in cities):
            continue
        review = Path(reviews[city])
        context = _context(result, city, review, book)
        to, cc = book.recipients(city)
        msg = EmailMessage(policy=DRAFT_POLICY)
        msg["Subject"] = one_line(subject_t.render(context))  # city text in a header: one line only
        if book.sender:
            msg["From"] = book.sender
        if to:
            msg["To"] = ", ".join(to)
        if cc:
            msg["Cc"] = ", ".join(cc)
        started = _parse_time(result.started)
        msg["Date"] = format_datetime((started or dt.datetime.now()).astimezone())
        msg["X-Unsent"] = "1"  # Outlook opens the .eml as a draft ready to send
        body = re.sub(r"\n{3,}", "\n\n", body_t.render(context))  # templates stay readable, mails tidy
        msg.set_content(body, subtype="plain", charset="utf-8")
        msg.add_attachment(review.read_bytes(), maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1],
                           filename=review.name)  # RFC 2231 filename*= in Content-Disposition
        # Clients that look for the name in Content-Type (older Outlook) find it there too.
        for part in msg.iter_attachments():
            part.set_param("name", review.name)
        if not to:
            findings.append(Finding("mail-no-recipient", "warning", params={"city": city, "book": book.path},
                                    source=Source(file=f"mail/{city}.eml")))
        mail_dir.mkdir(parents=True, exist_ok=True)
        path = mail_dir / f"{city}.eml"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(msg.as_bytes())
        os.replace(tmp, path)
    return findings
