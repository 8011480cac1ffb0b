"""The batch: inbox -> decided applications -> output/<run-id>/ (SPEC §5, §6, §7).

``run_batch`` is the one library call behind ``sdbatch run``; ``check_file`` behind
``sdbatch check``.  Per file: ingest -> header -> normalise; then over all files:
duplicates and resubmissions -> checks -> decisions -> rank -> writers.

Unattended operation (issue 15): every inbox entry is listed and read inside its own boundary
(:mod:`sdbatch.inbox`, :func:`read_isolated`), so one bad item is rejected or ignored with its
reason and the batch goes on; each output (the city reviews, the list, the mail drafts) is
written inside its own boundary too, and one that fails is reported (summary, run.log, run.json
``output_failures``) with exit code 1.  What concerns the run as a whole — a full disk, read-only
media, the ledger's state, the lock — stops it with exit 2 and publishes nothing.

Exit codes (SPEC §6, docs/deployment.md): 0 every file read and every output written (also: nothing
new since the last run, or an empty inbox); 1 the run was published but some file was rejected or
some output could not be written; 2 the run could not be done.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import platform
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdbatch import (
    __version__,
    checks,
    clock,
    decide,
    errors,
    evidence,
    header,
    heap,
    normalise,
    provenance,
    reading,
    settings,
)
from sdbatch import inbox as inbox_mod
from sdbatch import rules as rules_mod
from sdbatch.address_book import AddressBook, check_for_run, cities_to_redraft
from sdbatch.catalogue import join, label, render, text
from sdbatch.history import stage as history_stage
from sdbatch.intake import containers as intake_containers
from sdbatch.intake.senders import attribute_senders
from sdbatch.jurisdiction import Jurisdiction, city_of_file_name, jurisdiction_of
from sdbatch.model import Application, FileRecord, FileRejected, Finding, RawWorkbook, RunResult, Source
from sdbatch.programs import program_for
from sdbatch.reading import calamine
from sdbatch.rules import Rules
from sdbatch.text import cell_text, display_name, vocabulary

log = logging.getLogger("sdbatch")
CORRECTION_MARKERS = tuple(vocabulary()["files"]["correction_markers"])
MTIME_TIE_SECONDS = 2.0
EXIT_OK, EXIT_ATTENTION, EXIT_FAILED = 0, 1, 2


@dataclass
class RunOptions:
    out_dir: Path = Path("output")
    programs: tuple[str, ...] = ()
    rules_files: tuple[Path, ...] = ()
    program_options: dict[str, Any] = field(default_factory=dict)  # e.g. {"budget": 500.0} (parks)
    force: bool = False
    mail_mode: str = "changed"
    ledger_path: Path | None = None
    address_book: Path | None = None
    quiet: bool = False
    verbose: bool = False
    run_id: str | None = None
    now: str | None = None
    debug: bool = False
    progress: bool = False


@dataclass
class Outcome:
    result: RunResult | None
    run_dir: Path | None
    exit_code: int
    message: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)  # outputs that could not be written
    notices: list[str] = field(default_factory=list)  # e.g. an option no program of the run takes

    def summary(self) -> str:
        if self.result is None:
            return self.message
        return summary_text(self.result, self.run_dir, self.failures, self.notices)


# ----------------------------------------------------------------------------- rules
def load_programs(programs: tuple[str, ...] = (), rules_files: tuple[Path, ...] = ()) -> list[Rules]:
    """The rules to apply: the given files, the named programs, or every bundled program."""
    loaded = [rules_mod.load(p) for p in rules_files]
    names = programs or (() if rules_files else tuple(rules_mod.bundled()))
    loaded += [rules_mod.load(n) for n in names]
    return [r for r in loaded if r.fields]


# ----------------------------------------------------------------------------- reading files
def scan_inbox(inbox: Path, exclude: inbox_mod.Exclusions | None = None) -> list[FileRecord]:
    """Every entry of the inbox as a record (see :mod:`sdbatch.inbox`): regular files hashed, special
    files, broken links, links out of the inbox and hidden files ignored with the reason, what cannot
    be opened rejected with the reason."""
    records = inbox_mod.records(inbox_mod.walk(inbox, exclude))
    for record in records:
        if record.status == "rejected":
            _guess_city(record)
    return records


def _is_spreadsheet_name(name: str) -> bool:
    lower = name.lower()
    return lower.endswith(settings.SPREADSHEET_SUFFIXES) or lower.startswith("~$")


def read_record(record: FileRecord, candidates: list[Rules], *, debug: bool = False) -> None:
    """Fill ``record`` with its applications, or mark it rejected/ignored with a reason."""
    path = Path(record.path)
    name = _shown_name(record)
    if not _is_spreadsheet_name(path.name):
        record.status = "ignored"
        record.findings.append(Finding("ignored-file", "info", params={"file": name},
                                       source=Source(record.file)))
        return
    mark = provenance.workbook_mark(path)
    if mark is not None:  # a review or list sdbatch wrote, saved into the inbox
        _kind, _, run_id = mark.partition("|")[2].partition("|")
        record.status = "ignored"
        record.findings.append(Finding("sdbatch-output-ignored", "info", params={
            "file": name, "what": _own_kind(_kind), "run_id": run_id}, source=Source(record.file)))
        return
    with calamine.shared_books():  # the evidence stage's look and the summary's read: one parse
        if evidence.claim(record, candidates, debug=debug):  # an enterprise list (issue 17), not a summary
            return
        try:
            raw = reading.read_workbook(path, debug=debug)
        except FileRejected as exc:
            _reject(record, exc.code, exc.params, jurisdiction_of(candidates))
            return
    record.kind = raw.kind
    record.findings.extend(raw.notes)
    located, notes = header.locate(raw, candidates)
    record.findings.extend(notes)
    if located is None:
        for rules in candidates:
            data = program_for(rules).claim_file(raw)
            if data is not None:
                record.program, record.claimed, record.status = rules.name, data, "processed"
                return
        other = _other_program(raw, candidates)
        if other is not None:  # --program cluster_2024 over an inbox that also holds park files
            record.status = "ignored"
            record.findings.append(Finding("other-program-file", "info", params={
                "file": name, "program_title": other.title}, source=Source(record.file)))
            return
        expected = join(text("batch.quoted", value=f.label) for f in list(candidates[0].fields.values())[1:4]) \
            if candidates else ""
        _reject(record, "no-table-found", {"file": name, "expected": expected,
                                           "form": join(dict.fromkeys(r.form for r in candidates))},
                jurisdiction_of(candidates))
        return
    rules, table = located.rules, located.table
    record.program = rules.name
    # Score sheets beside the summary tables (a city's 初审 sheet) go to the program too.
    tables = [table, *located.more]
    others = [s for s in raw.sheets if all(s is not t.sheet for t in tables) and not s.hidden]
    if others:
        record.claimed = program_for(rules).claim_file(RawWorkbook(raw.path, raw.kind, others))
    for extra in located.more:  # another sheet of the same workbook with more applications
        sibling = dataclasses.replace(record, findings=[], applications=[], claimed=None, siblings=[])
        if _read_table(sibling, extra, rules, name):
            record.siblings.append(sibling)
    if not _read_table(record, table, rules, name) and record.siblings:
        first = record.siblings.pop(0)  # the chosen sheet held no rows: the next one stands for the file
        first.findings[:0] = record.findings
        first.siblings, record.siblings = record.siblings, []
        _copy_into(record, first)


def _read_table(record: FileRecord, table: Any, rules: Rules, name: str) -> bool:
    """The applications of one table of the file into ``record`` (or the file rejected when the
    table holds none); whether any was read."""
    record.sheet, record.table = table.sheet.name, table
    file_city = normalise.city_of_file(table, record.file, rules.jurisdiction)
    apps, notes = normalise.build_applications(table, rules, record.file, file_city)
    record.findings.extend(notes)
    if not apps:
        _reject(record, "no-applications", {"file": name, "sheet": table.sheet.name}, rules.jurisdiction)
        return False
    cities = Counter(a.city for a in apps if a.city)
    record.city = cities.most_common(1)[0][0] if cities else file_city.city
    if len(cities) > 1:
        record.findings.append(Finding("several-cities", "info", params={
            "count": len(cities), "cities": join(cities)}, source=Source(record.file, table.sheet.name)))
    record.applications = apps
    return True


def _copy_into(target: FileRecord, source: FileRecord) -> None:
    for f in dataclasses.fields(FileRecord):
        setattr(target, f.name, getattr(source, f.name))


def _other_program(raw: Any, candidates: list[Rules]) -> Rules | None:
    """A bundled program outside this run whose summary table the file holds."""
    names = {r.name for r in candidates}
    others = [rules_mod.load(name) for name in rules_mod.bundled() if name not in names]
    others = [r for r in others if r.fields]
    if not others:
        return None
    located, _ = header.locate(raw, others)
    if located is not None:
        return located.rules
    for rules in others:  # e.g. expert score sheets of the parks
        if program_for(rules).claim_file(raw) is not None:
            return rules
    return None


def read_isolated(record: FileRecord, candidates: list[Rules], *, debug: bool = False) -> None:
    """:func:`read_record` inside the file's own boundary: whatever goes wrong with this file
    rejects it with the reason, and the batch goes on (with ``debug`` the error is let through)."""
    try:
        read_record(record, candidates, debug=debug)
    except BaseException as exc:  # one file's failure is that file's, never the night's
        if debug or not errors.library_failure(exc):
            raise
        reason = errors.short_reason(exc)
        log.warning(text("batch.log.file_failed", file=record.file, reason=reason))
        log.debug(text("batch.log.details"), exc_info=True)
        record.applications, record.claimed, record.table, record.siblings = [], None, None, []
        _reject(record, "processing-failed", {"reason": reason})


def _shown_name(record: FileRecord) -> str:
    """The file's own name as people read it (GBK bytes from a zip decoded)."""
    return record.file.rsplit("/", 1)[-1]


def _own_kind(kind: str) -> str:
    try:
        return text(f"inbox.own.{kind}")
    except KeyError:
        return text("inbox.own.workbook")


def _reject(record: FileRecord, code: str, params: dict[str, Any], jurisdiction: Jurisdiction | None = None) -> None:
    record.status = "rejected"
    record.error_code = code
    record.error_params = {"file": _shown_name(record), **params}
    _guess_city(record, jurisdiction)


def _guess_city(record: FileRecord, jurisdiction: Jurisdiction | None = None) -> None:
    if record.city is None:  # so that the city is told why (its review and e-mail carry the reason)
        record.city = city_of_file_name(record.file, jurisdiction)


# ----------------------------------------------------------------------------- across files
def mark_duplicate_files(records: list[FileRecord]) -> None:
    """An identical file (same bytes) twice: the one received first is read, the others are
    duplicates.  Copies saved together (same time) keep the plain name over ``名称(1).csv``."""
    first: dict[str, FileRecord] = {}
    for record in sorted(records, key=lambda r: (int(r.received_at // MTIME_TIE_SECONDS), len(r.file), r.file)):
        if record.status in ("ignored", "rejected"):
            continue
        if record.sha256 in first:
            record.status = "duplicate"
            record.duplicate_of = first[record.sha256].file
            record.findings.append(Finding("duplicate-file", "info", params={"other": record.duplicate_of},
                                           source=Source(record.file)))
        else:
            first.setdefault(record.sha256, record)


def _newer(a: FileRecord, b: FileRecord) -> int:
    """cmp: >0 when a is the newer submission. The time received decides (the message's date for a
    file that came by mail, else the modification time); within a tie of a couple of seconds (files
    copied together), a correction marker in the name, then the name."""
    if abs(a.received_at - b.received_at) > MTIME_TIE_SECONDS:
        return 1 if a.received_at > b.received_at else -1
    ma = any(m in a.file.lower() for m in CORRECTION_MARKERS)
    mb = any(m in b.file.lower() for m in CORRECTION_MARKERS)
    if ma != mb:
        return 1 if ma else -1
    return (a.file > b.file) - (a.file < b.file)


def apply_resubmissions(records: list[FileRecord], programs: dict[str, Rules] | None = None) -> None:
    """A newer workbook from the same city replaces the older one entirely (SPEC §2.2); what
    changed is said with the fields' labels from ``programs`` (name -> rules)."""
    groups: dict[tuple[str | None, str], dict[str, list[FileRecord]]] = defaultdict(dict)
    for record in records:
        if record.status == "processed" and record.city and record.applications:
            # a submission is a file: the sheets of one workbook never replace each other
            groups[(record.program, record.city)].setdefault(record.path, []).append(record)
    for group in groups.values():
        if len(group) < 2:
            continue
        def newer(a: list[FileRecord], b: list[FileRecord]) -> int:
            return _newer(a[0], b[0])

        ordered = sorted(group.values(), key=functools.cmp_to_key(newer))
        newest = ordered[-1]
        for older in ordered[:-1]:
            for sheet in older:
                sheet.status = "superseded"
                sheet.superseded_by = newest[0].file
                sheet.findings.append(Finding("superseded-file", "info", params={"newer": newest[0].file},
                                              source=Source(sheet.file)))
        _describe_changes(ordered[-2], newest, (programs or {}).get(newest[0].program or ""))


def _describe_changes(older_sheets: list[FileRecord], newer_sheets: list[FileRecord], rules: Rules | None = None) -> None:
    """Findings on the newer file and its applications saying what the resubmission changed;
    fields named by their label in the rules file (``params["fields"]`` keeps the ids)."""

    def field_label(field_id: str) -> str:
        if rules is not None and field_id in rules.fields:
            return str(rules.label(field_id))
        try:
            return text(f"batch.changes.field.{field_id}")
        except KeyError:
            return field_id

    def shown(value: Any) -> str:
        return cell_text(value) or text("values.empty")

    older, newer = older_sheets[0], newer_sheets[0]
    old = {decide.name_key(a.name): a for r in older_sheets for a in r.applications}
    new = {decide.name_key(a.name): a for r in newer_sheets for a in r.applications}
    changed: Counter[str | None] = Counter()
    for key, app in new.items():
        before = old.get(key)
        if before is None:
            continue
        roles = rules.roles if rules is not None else {}
        diffs = [f for f in sorted(set(app.values) | set(before.values))
                 if app.values.get(f) != before.values.get(f) and f not in (roles.get("order"), roles.get("seq"))]
        if app.city_order != before.city_order:
            diffs.append(roles.get("order", ""))
        if diffs:
            changed[app.city] += 1
            parts = [text("batch.changes.diff", field=field_label(f), old=shown(before.values.get(f)),
                          new=shown(app.values.get(f))) for f in diffs[:6]]
            app.findings.append(Finding("changed-since-previous", "info", params={
                "summary": text("batch.changes.separator").join(parts), "fields": diffs,
                "labels": [field_label(f) for f in diffs], "older": older.file}, source=app.source))
    # A file of several cities' applications: what changed is said to each city of its own only
    # (a city's review and e-mail show the file's findings; another city's park names are not its).
    cities = {a.city for a in (*new.values(), *old.values())}
    scopes = [(c, True) for c in sorted(cities, key=lambda c: c or "")] if len(cities) > 1 else [(None, False)]
    for city, scoped in scopes:
        added = [new[k].name for k in new if k not in old and (not scoped or new[k].city == city)]
        removed = [old[k].name for k in old if k not in new and (not scoped or old[k].city == city)]
        count = changed[city] if scoped else sum(changed.values())
        bits = []
        if added:
            bits.append(text("batch.changes.added", names=join(str(n) for n in added)))
        if removed:
            bits.append(text("batch.changes.removed", names=join(str(n) for n in removed)))
        bits.append(text("batch.changes.changed", count=count) if count else text("batch.changes.unchanged"))
        params = {"older": older.file, "summary": text("batch.changes.comma").join(bits), "added": added,
                  "removed": removed}
        if scoped:
            params["for_city"] = city or ""
        newer.findings.append(Finding("resubmission-changes", "info", params=params, source=Source(newer.file)))


def mark_late(records: list[FileRecord], programs: dict[str, Rules]) -> None:
    for record in records:
        rules = programs.get(record.program or "")
        if rules is None or rules.deadline is None or record.status != "processed":
            continue
        received = clock.from_timestamp(record.received_at)
        if received.date() > rules.deadline:
            record.late = True
            params = {"received": received.strftime("%Y-%m-%d %H:%M"), "deadline": rules.deadline.isoformat()}
            finding = Finding("late-submission", "warning", clause=rules.deadline_clause, params=params,
                              source=Source(record.file))
            record.findings.append(finding)
            for app in record.applications:
                app.findings.append(Finding("late-submission", "warning", clause=rules.deadline_clause,
                                            params=params, source=app.source))


def _assign_ids(apps: list[Application]) -> None:
    seen: Counter[str] = Counter()
    for app in apps:
        where = app.name or text("batch.id.row", row=app.source.row)
        base = f"{app.program}/{app.city or text('batch.id.unknown_city')}/{where}"
        seen[base] += 1
        app.id = base if seen[base] == 1 else f"{base}#{seen[base]}"


def decide_all(records: list[FileRecord], programs: dict[str, Rules], options: RunOptions,
               history: Any = None) -> dict[str, Any]:
    """Checks, statuses, quota, duplicates and ranks over every active application; returns each
    program's run-level report (program name -> ProgramReport).  The checks of one file's
    applications run inside that file's boundary (a failure rejects the file, not the run).
    ``history`` (:class:`sdbatch.history.stage.HistoryContext`): the ledger's other rounds and the
    decisions staff recorded, applied before the statuses (bans, upgrades, year-over-year changes)."""
    reports: dict[str, Any] = {}
    file_ranks = {id(app): rank_no for rank_no, record in enumerate(records) for app in record.applications}
    for name, rules in programs.items():
        mine = [r for r in records if r.status == "processed" and r.program == name]
        claimed = [(r, r.claimed) for r in mine if r.claimed is not None]
        if not any(r.applications for r in mine) and not claimed:
            continue
        program = program_for(rules)
        _assign_ids([a for r in mine for a in r.applications])
        for record in mine:
            try:
                for app in record.applications:
                    app.findings.extend(checks.check_application(app, rules))
                    app.findings.extend(program.check_application(app))
                    if app.extra.pop("_derived", None) is not None:  # the checks' working note
                        app.extra = dict(app.extra)  # a dict keeps its table when a key goes
            except Exception as exc:  # noqa: BLE001 - this file's failure only
                if options.debug:
                    raise
                reason = errors.short_reason(exc)
                log.warning(text("batch.log.file_failed", file=record.file, reason=reason))
                log.debug(text("batch.log.details"), exc_info=True)
                record.applications, record.claimed = [], None
                _reject(record, "processing-failed", {"reason": reason})
        active = [a for r in mine if r.status == "processed" for a in r.applications]
        claimed = [(r, r.claimed) for r in mine if r.status == "processed" and r.claimed is not None]
        decide.mark_duplicates(active, rules)
        decide.apply_quota(active, rules, file_ranks)
        history_stage.apply(history, rules, active, mine)
        for app in active:
            app.status = decide.status_from_findings(app)
        reports[name] = program.decide(active, claimed, program.accepted_options(options.program_options))
    return reports


# ----------------------------------------------------------------------------- options
def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check_program_options(options: RunOptions, candidates: list[Rules]) -> None:
    """Refuse (exit 2) a program option no program knows, or one no program of an explicitly
    chosen set takes (``--budget`` with ``--program cluster_2024``)."""
    from sdbatch.programs import builtin_options

    given = [n for n, v in options.program_options.items() if v is not None]
    declared = {o.name for r in candidates for o in program_for(r).options}
    known = declared | {o.name for o in builtin_options()}
    for name in given:
        if name not in known:
            raise errors.Refused(text("batch.option_unknown", option=_flag(name),
                                      known=join(_flag(n) for n in sorted(known)) or text("batch.none")))
        if name not in declared and (options.programs or options.rules_files):
            raise errors.Refused(text("batch.option_not_for", option=_flag(name),
                                      programs=join(r.title for r in candidates)))


def unused_options(result: RunResult, options: RunOptions) -> list[str]:
    """Notices for the options no program of this run took (the run had no park files, say)."""
    used = [program_for(r) for r in result.programs.values()]
    out = []
    for name, value in options.program_options.items():
        if value is None or any(name in {o.name for o in p.options} for p in used):
            continue
        out.append(text("batch.option_unused", option=_flag(name),
                        programs=join(r.title for r in result.programs.values()) or text("batch.none")))
    return out


# ----------------------------------------------------------------------------- the run
def _now(options: RunOptions) -> dt.datetime:
    if options.now:
        return clock.parse(options.now)
    return clock.now()


def make_run_id(now: dt.datetime, out_dir: Path) -> str:
    base = now.strftime("%Y%m%d-%H%M%S")
    run_id, n = base, 1
    while (out_dir / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def evaluate(inbox: Path, options: RunOptions, *, run_id: str = "", started: str = "",
             entries: list[inbox_mod.Entry] | None = None, history: Any = None) -> RunResult:
    """Read and decide everything in ``inbox``; write nothing.  ``entries``: the inbox as already
    listed (else listed here, without the output folder and the ledger); ``history``: the ledger's
    other rounds (:func:`sdbatch.history.stage.context_for`)."""
    with heap.run_scope():
        return _evaluate(inbox, options, run_id, started, entries, history)


def _evaluate(inbox: Path, options: RunOptions, run_id: str, started: str,
              entries: list[inbox_mod.Entry] | None, history: Any) -> RunResult:
    candidates = load_programs(options.programs, options.rules_files)
    programs = {r.name: r for r in candidates}
    from sdbatch.ledger import default_path
    from sdbatch.logsetup import progress

    if entries is None:
        exclude = inbox_mod.Exclusions.for_run(options.out_dir, options.ledger_path or default_path(options.out_dir))
        entries = inbox_mod.walk(inbox, exclude)
    records = inbox_mod.records(entries)
    # saved messages and archives: their spreadsheets as records of their own (issue 18)
    records = intake_containers.expand(records, ledger=options.ledger_path or default_path(options.out_dir))
    for record in records:
        if record.status == "rejected":
            _guess_city(record)
    mark_duplicate_files(records)
    for record in progress(records, len(records), text("batch.progress"), options.progress):
        if record.status != "processed":
            continue
        log.debug(text("batch.log.reading", file=record.file))
        read_isolated(record, candidates, debug=options.debug)
        heap.settle()
    records = [x for r in records for x in (r, *r.siblings)]  # a workbook's further sheets: records of their own
    attribute_senders(records, address_book(inbox, options), programs)  # the sender as evidence of the city (issue 18)
    apply_resubmissions(records, programs)
    mark_late(records, programs)
    lists = evidence.apply(records, programs)  # enterprise lists: findings before the decisions
    reports = decide_all(records, programs, options, history)
    heap.settle()
    apps = [a for r in records if r.status == "processed" for a in r.applications]
    used = [programs[n] for n in dict.fromkeys(r.program for r in records if r.program in programs)] or candidates[:1]
    primary = used[0] if used else None
    result = RunResult(
        program="+".join(r.name for r in used) if used else "",
        rules_version="+".join(r.version for r in used) if used else "",
        run_id=run_id, started=started, finished=None, applications=apps, files=records,
        rules=primary, programs={r.name: r for r in used}, reports=reports,
    )
    evidence.publish(lists, result)
    if history is not None:
        history.publish(result)
    return result


def fingerprint(candidates: list[Rules], options: RunOptions, book: AddressBook | None = None) -> str:
    """What, besides the inbox, decides a run's outputs: a change here is a change to re-run for
    (the address book by its content: fixing it makes the next run redraft)."""
    digest = hashlib.sha256(__version__.encode())
    for rules in candidates:
        digest.update(rules.name.encode() + rules.version.encode())
        with open(rules.path, "rb") as fh:
            digest.update(fh.read())
    digest.update(json.dumps([sorted(options.program_options.items()), options.mail_mode, book and book.digest],
                             default=str).encode())
    return digest.hexdigest()


def exit_code_of(result: RunResult, failures: list[dict[str, Any]]) -> int:
    """0 everything read and written; 1 a file rejected or an output not written."""
    return max(result.exit_code(), EXIT_ATTENTION if failures else EXIT_OK)


def _check_places(inbox: Path, options: RunOptions) -> None:
    """Refuse what cannot be told apart: the output folder (or the ledger) *being* the inbox.
    An output folder or ledger inside the inbox is fine: the scan leaves them out."""
    try:
        same = inbox.exists() and options.out_dir.exists() and os.path.samefile(inbox, options.out_dir)
    except OSError:
        same = False
    if same or os.path.realpath(inbox) == os.path.realpath(options.out_dir):
        raise errors.Refused(text("batch.out_is_inbox", inbox=errors.shown_path(inbox)))


def run_batch(inbox: Path, options: RunOptions) -> Outcome:
    """The nightly job: decide the inbox and publish ``out_dir/<run-id>/`` atomically.

    Under a lock (a second run exits 2); a run with nothing new since the last complete run
    says so and writes nothing (unless ``force``); so does an empty inbox.  The ledger records
    the run in the same transaction that publishes its folder (``Ledger.record_docs``).
    """
    from sdbatch.atomic import clean_stale_tmp
    from sdbatch.ledger import Ledger, default_path
    from sdbatch.lock import LOCK_NAME, RunLock
    from sdbatch.logsetup import setup_logging

    t0 = time.perf_counter()
    logger = setup_logging(None, options.quiet, options.verbose, options.debug)
    _check_places(inbox, options)
    # a broken address book stops the run before any work (AddressBookInvalid: exit 2)
    book = check_for_run(address_book(inbox, options), options.address_book is not None, options.mail_mode)
    candidates = load_programs(options.programs, options.rules_files)
    check_program_options(options, candidates)
    out = options.out_dir
    with errors.writing(out):
        out.mkdir(parents=True, exist_ok=True)
    ledger_path = options.ledger_path or default_path(out)
    exclude = inbox_mod.Exclusions.for_run(out, ledger_path)
    lock = RunLock(out / LOCK_NAME)
    with errors.writing(out / LOCK_NAME):
        lock.acquire()
    try:
        with errors.writing(out):
            clean_stale_tmp(out)
        try:
            entries = inbox_mod.walk(inbox, exclude)
        except OSError as exc:
            raise errors.IOFailure(text("batch.inbox_unreadable", message=errors.io_message(exc, inbox)), exc) from exc
        snap = inbox_mod.snapshot(entries)
        print_ = fingerprint(candidates, options, book)
        with Ledger.open(ledger_path, out_dir=out) as ledger:
            for run_id in ledger.reconcile():
                logger.info(text("batch.log.reconciled", run_id=run_id))
            # a decision staff recorded since the last run changes the outcome: a reason to run again
            print_ = history_stage.fingerprint(print_, ledger)
            if not entries:
                logger.info(text("batch.log.empty", inbox=errors.shown_path(inbox)))
                return Outcome(None, None, EXIT_OK, message=text("batch.inbox_empty", inbox=errors.shown_path(inbox)))
            if not options.force and ledger.unchanged_since_last_run(snap, print_):
                logger.info(text("batch.log.unchanged"))
                return Outcome(None, None, EXIT_OK, message=text("batch.unchanged"))
            now = _now(options)
            started = now.isoformat(timespec="seconds")
            run_id = ledger.reserve_run(
                options.run_id or now.strftime("%Y%m%d-%H%M%S"), started, explicit=options.run_id is not None,
                taken=lambda i: (out / i).exists() or (out / f".tmp-{i}").exists())
            try:
                with heap.run_scope():
                    return _run(inbox, options, ledger, run_id, started, entries, snap, print_, t0, book)
            except BaseException as exc:
                ledger.fail_run(run_id, errors.user_message(exc) if isinstance(exc, Exception) else text("batch.interrupted"))
                raise
    finally:
        lock.release()


def _run(inbox: Path, options: RunOptions, ledger: Any, run_id: str, started: str,
         entries: list[inbox_mod.Entry], snap: list[inbox_mod.FileSnap], print_: str, t0: float,
         book: AddressBook | None) -> Outcome:
    from sdbatch.atomic import Staging
    from sdbatch.ledger import ledger_block
    from sdbatch.logsetup import attach_run_log, detach_run_log
    from sdbatch.writers.json_out import ledger_view

    logger = log
    with errors.writing(options.out_dir):
        staging = Staging(options.out_dir, run_id)
    try:
        with errors.writing(staging.tmp):
            attach_run_log(logger, staging.tmp)
            logger.info(text("batch.log.start", inbox=errors.shown_path(inbox), run_id=run_id))
            result = evaluate(inbox, options, run_id=run_id, started=started, entries=entries,
                              history=history_stage.context_for(ledger, started))
            t_decide = time.perf_counter()
            changes = ledger.changes(result)
            changed = ledger.changed_cities(result, changes) | (
                cities_to_redraft(book, _last_run_info(ledger)) if book is not None else set())
            failures = _write_outputs(result, staging.tmp, options, changes, changed, address_book(inbox, options))
            notices = unused_options(result, options)
            result.finished = started if options.now else _now(options).isoformat(timespec="seconds")
            timings = {"decide_s": round(t_decide - t0, 3), "write_s": round(time.perf_counter() - t_decide, 3)}
            code = exit_code_of(result, failures)
            info = run_info(result, inbox, options, timings, exit_code=code, failures=failures, notices=notices,
                            ledger=ledger_block(result, snap, print_))
            info["address_book"] = book.record() if book else None
            write_json(staging.tmp / "results.json", result)
            write_json(staging.tmp / "run.json", info)
            for record in result.rejected:
                logger.warning(text("batch.log.rejected", file=record.file, error=record.error))
            for failure in failures:
                logger.warning(text("batch.log.output_failed", what=_failure_text(failure)))
            for notice in notices:
                logger.warning(notice)
            logger.info(text("batch.log.done", files=len(result.files), apps=len(result.applications)))
            detach_run_log(logger)
            _remove_leftovers(staging.tmp)
            staging.flush()
        ledger.record_docs(ledger_view(result), info, staging.final, publish=staging.publish, unpublish=staging.unpublish)
    except BaseException:
        with contextlib.suppress(Exception):
            detach_run_log(logger)
        staging.discard()
        raise
    return Outcome(result, staging.final, code, timings=timings, failures=failures, notices=notices)


def _remove_leftovers(run_dir: Path) -> None:
    """Temporary files a writer that failed left behind (``x.xlsx.tmp``) are not published."""
    from sdbatch.atomic import TMP_FILE_SUFFIX

    for folder, _dirs, names in os.walk(run_dir):
        for name in names:
            if name.endswith((".tmp", TMP_FILE_SUFFIX)):
                os.unlink(os.path.join(folder, name))


def _last_run_info(ledger: Any) -> dict[str, Any] | None:
    """What the last complete run's ``run.json`` says its drafts were written with (its options and
    address book), if still there.  Those two members are read alone when they can be: the file
    holds an entry per application besides (issue 16: 50 MB of objects at 100,000 rows)."""
    from sdbatch.writers.json_out import read_members

    last = next((r for r in ledger.last_runs(20) if r["complete"]), None)
    if last is None:
        return None
    path = Path(last["run_dir"]) / "run.json"
    try:
        found = read_members(path, ("options", "address_book"))
        return found if found is not None else dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, TypeError, ValueError):
        return None


def address_book(inbox: Path, options: RunOptions) -> Path:
    """--address-book, else config/address_book.toml in the working folder, else beside the inbox
    (a nightly job started from another folder still finds it)."""
    if options.address_book is not None:
        return options.address_book
    here = Path(settings.ADDRESS_BOOK)
    beside = inbox.resolve().parent / settings.ADDRESS_BOOK
    return here if here.exists() or not beside.exists() else beside


def _write_outputs(result: RunResult, run_dir: Path, options: RunOptions, changes: list[dict[str, Any]],
                   changed_cities: set[str], book: Path) -> list[dict[str, Any]]:
    """Every output, each inside its own boundary; returns the ones that could not be written
    (``{"output", "city", "reason"}``).  What stops the run (a full disk…) is let through."""
    from sdbatch.writers import write_city_reviews, write_mail_drafts, write_ranked_list

    failures: list[dict[str, Any]] = []
    reviews = _isolated(failures, "review", lambda: write_city_reviews(result, run_dir), options.debug) or {}
    heap.settle()
    failures += _review_failures(result)
    _isolated(failures, "list", lambda: write_ranked_list(result, run_dir, changes=changes), options.debug)
    heap.settle()
    if options.mail_mode == "none":
        return failures
    cities = None if options.mail_mode == "all" else changed_cities
    notes = _isolated(failures, "mail", lambda: write_mail_drafts(result, run_dir, reviews, book, cities),
                      options.debug)
    for note in notes or []:
        log.warning(render(note).message)
    return failures


def _isolated(failures: list[dict[str, Any]], output: str, write: Any, debug: bool) -> Any:
    try:
        return write()
    except Exception as exc:  # noqa: BLE001 - one output's failure is reported, the rest are written
        if debug or errors.stops_the_run(exc) or type(exc).__module__.startswith("sdbatch.ledger"):
            raise
        log.debug(text("batch.log.details"), exc_info=True)
        failures.append({"output": output, "city": None, "reason": errors.short_reason(exc)})
        return None


def _review_failures(result: RunResult) -> list[dict[str, Any]]:
    """The cities whose review the review writer could not write (``RunResult.review_failures``:
    city -> reason, an exception or a Finding), as output failures."""
    out = []
    for city, why in (getattr(result, "review_failures", None) or {}).items():
        if isinstance(why, BaseException):
            if errors.stops_the_run(why):
                raise why
            reason = errors.short_reason(why)
        elif isinstance(why, Finding):
            reason = render(why).message
        else:
            reason = str(why)
        out.append({"output": "review", "city": city, "reason": reason})
    return out


def _failure_text(failure: dict[str, Any]) -> str:
    what = text(f"batch.output.{failure['output']}")
    if failure.get("city"):
        what = text("batch.output.for_city", city=failure["city"], what=what)
    return text("batch.output.failed", what=what, reason=failure.get("reason") or "")


# ----------------------------------------------------------------------------- results.json / run.json
def write_json(path: Path, data: Any) -> None:
    """Strict JSON in UTF-8: no NaN or Infinity (null instead), names of any encoding readable,
    any other object as its text.  A :class:`RunResult` is written as results.json, streaming
    (:mod:`sdbatch.writers.json_out`: never the whole document in memory)."""
    from sdbatch.writers import json_out

    if isinstance(data, RunResult):
        json_out.write_results(path, data)
    else:
        json_out.write_json(path, data)


def run_info(result: RunResult, inbox: Path, options: RunOptions, timings: dict[str, float], *,
             exit_code: int | None = None, failures: list[dict[str, Any]] | None = None,
             notices: list[str] | None = None, ledger: dict[str, Any] | None = None) -> dict[str, Any]:
    import openpyxl

    return {
        "generator": provenance.GENERATOR,
        "run_id": result.run_id,
        "started": result.started,
        "finished": result.finished,
        "time_zone": settings.TIME_ZONE,
        "inbox": errors.shown_path(inbox),
        "out_dir": errors.shown_path(options.out_dir),
        "exit_code": result.exit_code() if exit_code is None else exit_code,
        "programs": [{"name": r.name, "version": r.version, "title": r.title, "rules_file": r.path}
                     for r in result.programs.values()],
        "inputs": [{"file": f.file, "sha256": f.sha256, "size": f.size, "mtime": f.mtime, "status": f.status}
                   for f in result.files],
        "counts": {
            "files": dict(Counter(f.status for f in result.files)),
            "applications": dict(Counter(a.status for a in result.applications)),
        },
        "output_failures": failures or [],
        "notices": notices or [],
        "timings": timings,
        "versions": {"sdbatch": __version__, "python": platform.python_version(), "openpyxl": openpyxl.__version__},
        "options": {"programs": list(options.programs), "rules_files": [str(p) for p in options.rules_files],
                    "program_options": options.program_options, "mail": options.mail_mode},
        "ledger": ledger or {},
    }


def summary_text(result: RunResult, run_dir: Path | None, failures: list[dict[str, Any]] | None = None,
                 notices: list[str] | None = None) -> str:
    files = Counter(f.status for f in result.files)
    apps = Counter(a.status for a in result.applications)
    comma = text("batch.summary.comma")
    lines = [text("batch.summary.done", program=result.program, version=result.rules_version)]
    lines.append(text("batch.summary.files", counts=comma.join(
        text("batch.summary.count", what=label("file_status", s), count=files[s])
        for s in ("processed", "rejected", "superseded", "duplicate", "ignored") if files[s])))
    if not result.applications:
        lines.append(text("batch.summary.no_applications"))
    else:
        lines.append(text("batch.summary.applications", total=len(result.applications), counts=comma.join(
            text("batch.summary.count", what=label("status", s), count=apps[s])
            for s in ("eligible", "needs_review", "incomplete", "ineligible", "over_quota") if apps[s])))
    for record in result.rejected:
        lines.append(text("batch.summary.rejected", file=record.file, error=record.error))
    for failure in failures or []:
        lines.append(text("batch.summary.output_failed", what=_failure_text(failure)))
    for notice in notices or []:
        lines.append(text("batch.summary.notice", notice=notice))
    if run_dir is not None:
        lines.append(text("batch.summary.out_dir", path=errors.shown_path(run_dir)))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- sdbatch check
@dataclass
class CheckReport:
    text: str
    exit_code: int
    record: FileRecord


def check_file(path: Path, programs: tuple[str, ...] = (), rules_files: tuple[Path, ...] = ()) -> CheckReport:
    """Read one workbook and describe, in Chinese, what was read and every finding."""
    candidates = load_programs(programs, rules_files)
    name = display_name(path.name)
    try:
        sha, size = inbox_mod.sha256_regular(path)
    except inbox_mod.NotRegular as exc:
        record = FileRecord(file=name, path=str(path), sha256="", size=0, mtime=0.0, status="ignored")
        record.findings.append(Finding("special-file-ignored", "info", params={
            "file": name, "kind": text(f"inbox.special.{exc.kind}")}, source=Source(name)))
        return CheckReport(check_text(record, {}), EXIT_OK, record)
    stat = path.stat()
    record = FileRecord(file=name, path=str(path), sha256=sha, size=size, mtime=stat.st_mtime)
    read_isolated(record, candidates)
    progs = {r.name: r for r in candidates}
    if record.status == "processed":
        decide_all([record, *record.siblings], progs, RunOptions())
    return CheckReport(check_text(record, progs), EXIT_ATTENTION if record.status == "rejected" else EXIT_OK, record)


def check_text(record: FileRecord, programs: dict[str, Rules]) -> str:
    from sdbatch.writers._common import answered

    lines = [text("batch.check.file", file=record.file)]
    if record.status == "rejected":
        lines.append(text("batch.check.rejected", error=record.error))
        return "\n".join(lines)
    if record.status == "ignored":
        reasons = [render(f).message for f in record.findings]
        lines.append(text("batch.check.ignored", reason=reasons[0] if reasons else ""))
        return "\n".join(lines)
    rules = programs.get(record.program or "")
    lines.append(text("batch.check.header", program=rules.title if rules else record.program,
                      sheet=record.sheet or text("batch.check.score_sheet"),
                      city=record.city or text("batch.check.unknown_city")))
    for f in record.findings:
        lines.append(_finding_line(f))
    for app in record.applications:
        lines.append("")
        score = text("batch.check.score", score=app.score) if app.score is not None else ""
        lines.append(text("batch.check.application", order=app.city_order or "-",
                          name=app.name or text("batch.check.no_name"), row=app.source.row,
                          status=label("status", app.status), score=score))
        if rules:
            shown = [text("batch.check.value", label=rules.label(k), value=_show(answered(rules.fields.get(k), v)))
                     for k, v in app.values.items() if v is not None and k != "name"]
            lines.append("    " + text("batch.check.separator").join(shown))
        for f in app.findings:
            if f.code != "expert-item":
                lines.append("    " + _finding_line(f))
    for sibling in record.siblings:  # the workbook's further sheets
        lines += ["", *check_text(dataclasses.replace(sibling, siblings=[]), programs).splitlines()[1:]]
    return "\n".join(lines)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return text("values.yes") if value else text("values.no")
    return cell_text(value)


def _finding_line(f: Finding) -> str:
    rendered = render(f)
    where = f.source.cell if f.source and f.source.cell else (
        text("batch.id.row", row=f.source.row) if f.source and f.source.row else "")
    level = label("severity", f.severity)
    clause = text("batch.check.clause", clause=f.clause) if f.clause and f.clause not in rendered.message else ""
    fix = text("batch.check.fix", fix=rendered.fix) if rendered.fix else ""
    return text("batch.check.finding", level=level, where=where, message=rendered.message, clause=clause, fix=fix)
