"""What a city's e-mail says: the situation of the city, the parts of the body it calls for, and
the context the jinja2 templates (``sdbatch/mail_templates/``) render (issue 14 Build 1).

The body is chosen from the city's *situation* by a small decision table (:data:`BODY_PARTS`):
applications with something to fix, nothing to fix, only points to check or for the experts, a
file that could not be read, a resubmission that replaced an earlier file, a late file.  Each
part is a block of the template, so a body never lists fixes and then says there is nothing to
fix, and the mail for a file that could not be read never talks of red cells.

Only what the city may read goes in (issue 13): findings whose catalogue audience is ``city``,
the program's outcome columns with audience ``city`` (as their phrases), and the program's notes
for the city.  Changes of a resubmission are named with the rules' Chinese field labels.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdbatch import settings
from sdbatch.catalogue import join, pair, render, text
from sdbatch.model import STATUSES, Application, FileRecord, Finding, RunResult
from sdbatch.writers._common import (
    china_time,
    city_key,
    colour_of,
    department,
    finding_rank,
    for_city,
    is_converted,
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
# File findings told elsewhere in the body (the late part, the resubmission part) or not the city's
# business to act on.
_FILE_CODES_TOLD_ELSEWHERE = frozenset({"late-submission", "resubmission-changes", "superseded-file",
                                        "duplicate-file"})


def _t(key: str, /, **params: Any) -> str:
    return text(f"mail.{key}", **params)


# ----------------------------------------------------------------------------- the decision table
@dataclass(frozen=True)
class Situation:
    """What the city's results call for."""

    has_apps: bool = False  # some application of the city was read
    rejected: bool = False  # some file of the city could not be read
    must_fix: bool = False  # a finding the city must correct (red)
    to_review: bool = False  # a finding left to the experts (amber)
    to_check: bool = False  # a warning to check that does not decide the status
    converted: bool = False  # a value the system converted or derived (blue)
    resubmitted: bool = False  # a newer file of the city replaced an earlier one
    late: bool = False  # a file arrived after the deadline


#: (part, when): the body's blocks in order; a part is in the body when its test holds.
BODY_PARTS: tuple[tuple[str, Callable[[Situation], bool]], ...] = (
    ("received", lambda s: s.has_apps),
    ("unread", lambda s: s.rejected and not s.has_apps),
    ("resubmission", lambda s: s.resubmitted),
    ("results", lambda s: s.has_apps),
    ("rejected", lambda s: s.rejected),
    ("late", lambda s: s.late),
    ("fix", lambda s: s.must_fix),
    ("resend", lambda s: s.rejected),
    ("check", lambda s: s.to_check and not s.must_fix),
    ("review", lambda s: s.to_review),
    ("converted", lambda s: s.converted),
    ("nothing", lambda s: s.has_apps and not (s.must_fix or s.to_check or s.rejected)),
)


def body_parts(situation: Situation) -> tuple[str, ...]:
    """The parts of the body for a situation, in order."""
    return tuple(part for part, when in BODY_PARTS if when(situation))


# ----------------------------------------------------------------------------- findings as lines
def kind_of(finding: Finding) -> str | None:
    """How the city reads a finding: ``fix`` (red: must correct), ``review`` (amber: for the
    experts), ``check`` (a warning to check), ``converted`` (blue) or None (a note)."""
    if colour_of(finding) == "red":
        return "fix"
    if finding.effect == "needs_review":
        return "review"
    if finding.severity == "warning":
        return "check"
    if is_converted(finding.code) and finding.effect is None:
        return "converted"
    return None


_KIND_ORDER = {"fix": 0, "review": 1, "check": 2}


def problem_lines(findings: list[Finding], cells: Mapping[str, str] | None = None) -> list[dict[str, str]]:
    """The city-visible findings that ask something of the city, must-fix first, as lines:
    cell, message, what to do, and the kind (its tag says which of the legend's colours)."""
    wanted = [f for f in findings if for_city(f) and kind_of(f) in _KIND_ORDER]
    wanted.sort(key=lambda f: (_KIND_ORDER[kind_of(f) or "check"], finding_rank(f)))
    out: list[dict[str, str]] = []
    for finding in wanted:
        rendered = render(finding)
        where = finding.source.cell if finding.source and finding.source.cell else (cells or {}).get(finding.field or "")
        kind = kind_of(finding) or "check"
        line = {"kind": kind, "tag": _t(f"tags.{kind}"), "cell": where or "", "text": one_line(rendered.message),
                "fix": one_line(rendered.fix)}
        if line not in out:
            out.append(line)
    return out


# ----------------------------------------------------------------------------- resubmissions
def _name_key(name: str | None) -> str:
    from sdbatch.decide import name_key

    return name_key(name)


def _change_text(rules: Any, field: str, before: Any, after: Any) -> str:
    label = rules.label(field) if rules is not None else field
    spec = rules.fields.get(field) if rules is not None else None
    unit = getattr(spec, "unit", None) or ""
    return _t("change", label=label, before=show(before), after=show(after), unit=unit)


def resubmissions(result: RunResult, files: list[FileRecord], city: str) -> list[dict[str, Any]]:
    """For each processed file of the city that replaced an earlier one: the two files, the
    applications added and withdrawn, and each changed application with its changed fields named
    by their Chinese labels and values (before -> after) - of the city's own applications only
    (a file of several cities' applications says each city's changes to it alone)."""
    out = []
    by_file = {r.file: r for r in result.files}
    for record in files:
        note = next((f for f in record.findings if f.code == "resubmission-changes"
                     and f.params.get("for_city") in (None, city)), None)
        if note is None or record.status != "processed":
            continue
        older = by_file.get(str(note.params.get("older", "")))
        rules = rules_for(result, record.program)
        before = {_name_key(a.name): a for a in (older.applications if older else [])}
        changed = []
        for app in record.applications:
            change = next((f for f in app.findings if f.code == "changed-since-previous"), None)
            if change is None or (note.params.get("for_city") and city_key(app.city) != city):
                continue
            old = before.get(_name_key(app.name))
            fields = [str(f) for f in change.params.get("fields") or []]
            if old is None:
                items = [rules.label(f) if rules is not None else f for f in fields]
            else:
                items = [_change_text(rules, f, old.city_order if f == "city_order" else old.values.get(f),
                                      app.city_order if f == "city_order" else app.values.get(f)) for f in fields]
            changed.append({"name": one_line(app.name or ""), "changes": items})
        out.append({
            "file": record.file,
            "older": str(note.params.get("older", "")),
            "added": [one_line(str(n)) for n in note.params.get("added") or []],
            "removed": [one_line(str(n)) for n in note.params.get("removed") or []],
            "changed": changed,
        })
    return out


# ----------------------------------------------------------------------------- the context
def chinese_number(n: int) -> str:
    """1 -> 一, 12 -> 十二 (section numbers of the e-mail body)."""
    digits, ten = _t("digits"), _t("ten")
    if n < 10:
        return digits[n]
    if n < 20:
        return ten + (digits[n % 10] if n % 10 else "")
    if n < 100:
        return digits[n // 10] + ten + (digits[n % 10] if n % 10 else "")
    return str(n)


_DECIDED = ("eligible", "needs_review")  # statuses for which a program's outcome is expected


def _outcome(app: Application, columns: list[Any]) -> list[str]:
    """The program's released outcome (a park's tier, subsidy ceiling…) as phrases; an
    application that passed without an outcome says so (认定档次：无), never a bare 符合条件."""
    out = []
    for column in columns:
        value = column.value(app)
        if value is not None:
            out.append(text(column.phrase, value=show(value)) if column.phrase else pair(column.label, show(value)))
        elif app.status in _DECIDED and not column.optional:
            out.append(_t("outcome_none", label=column.label))
    return out


def _app_entry(result: RunResult, app: Application, columns: list[Any], score: float | None) -> dict[str, Any]:
    """One application as the city's e-mail shows it; ``score``: what the program lets the city see."""
    lines = problem_lines(app.findings, app.cells)
    return {
        "name": one_line(app.name or "") or _t("unnamed"),
        "industry": one_line(app.industry or ""),
        "status": app.status,
        "status_label": status_label(app.status),
        "score": score,
        "outcome": _outcome(app, columns),
        "problems": lines[:MAX_PROBLEMS_PER_APP],
        "more": max(0, len(lines) - MAX_PROBLEMS_PER_APP),
    }


def context(result: RunResult, city: str, review: Path, reply_days: int) -> dict[str, Any]:
    """Everything the subject and body templates of one city's e-mail use."""
    programs_all = programs_of(result)
    apps = [a for a in result.applications if city_key(a.city) == city]
    files = [r for r in result.files if city_key(r.city) == city and r.status != "ignored"]
    started = china_time(result.started)
    programs: list[dict[str, Any]] = []
    for name, rules in programs_all.items():
        p_apps = [a for a in apps if a.program == name or (len(programs_all) == 1 and not a.program)]
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
            "entity": getattr(rules, "entity", "") or _t("entity"),
            "expert_items": [f"{i.get('clause', '')} {i.get('text', '')}" for i in rules.expert_items]
            if getattr(rules, "expert_items", None) else [],
            "counts": [c for c in counts if c["count"]],
            "notes": [pair(n.label, one_line(n.text)) for n in program.notes(result, p_apps, "city")],
            # an e-mail lists the first MAIL_MAX_APPS; the attachment holds them all (a city pasting
            # 100,000 rows made an e-mail of 180 MB that no mail server takes)
            "apps": [_app_entry(result, a, columns, program.score_for_city(a))
                     for a in p_apps[:settings.MAIL_MAX_APPS]],
            "total": len(p_apps),
            "apps_more": max(0, len(p_apps) - settings.MAIL_MAX_APPS),
        })
    rejected = [{"file": r.file, "error": one_line(r.error or "")} for r in files if r.status == "rejected"]
    late = [r.file for r in files if r.late and r.status == "processed"]
    file_problems: list[dict[str, Any]] = [{"file": r.file, "problems": lines} for r in files if r.status == "processed"
                     and (lines := problem_lines([f for f in r.findings if f.code not in _FILE_CODES_TOLD_ELSEWHERE]))]
    resubmitted = resubmissions(result, files, city)
    kinds = [kind_of(f) for a in apps for f in a.findings if for_city(f)]
    kinds += [p["kind"] for entry in file_problems for p in entry["problems"]]
    situation = Situation(
        has_apps=bool(apps), rejected=bool(rejected), must_fix="fix" in kinds, to_review="review" in kinds,
        to_check="check" in kinds, converted="converted" in kinds, resubmitted=bool(resubmitted), late=bool(late))
    reply_by = (started.date() + dt.timedelta(days=reply_days)) if started else None
    titles = [p["title"] for p in programs] or _file_titles(result, files)
    return {
        "city": city,
        "greeting": _t("greeting", city=city),
        "department": department(programs_all.values()),
        "run_id": result.run_id,
        "run_time": time_text(result.started),
        "run_date": started.date().isoformat() if started else "",
        "reply_by": _t("date", year=reply_by.year, month=reply_by.month, day=reply_by.day) if reply_by else "",
        "attachment": review.name,
        "programs": programs,
        "title": join(titles),
        "total": len(apps),
        # the city's applications of every program together, for the one-line subject
        "counts": [{"label": status_label(s), "count": n} for s in reversed(STATUSES)
                   if (n := sum(1 for a in apps if a.status == s))],
        "rejected": rejected,
        "late": late,
        "file_problems": file_problems,
        "resubmissions": resubmitted,
        "situation": situation,
        "parts": body_parts(situation),
        "fix_count": kinds.count("fix"),
        "review_count": kinds.count("review"),
        "converted_count": kinds.count("converted"),
        "legend": {key: text(f"legend.{key}") for key in ("red", "amber", "blue")},
    }


def _file_titles(result: RunResult, files: list[FileRecord]) -> list[str]:
    """The programs a city's files belong to when none of its applications could be read: those
    the files name, else the run's only program, else a neutral word."""
    programs = programs_of(result)
    named = [str(getattr(programs[r.program], "title", r.program)) for r in files
             if r.program is not None and r.program in programs]
    if named:
        return list(dict.fromkeys(named))
    if len(programs) == 1:
        return [getattr(next(iter(programs.values())), "title", result.program)]
    return [_t("generic_title")]
