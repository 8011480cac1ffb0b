"""The batch: inbox -> decided applications -> output/<run-id>/ (SPEC §5, §6, §7).

``run_batch`` is the one library call behind ``sdbatch run``; ``check_file`` behind
``sdbatch check``.  Per file: ingest -> header -> normalise; then over all files:
duplicates and resubmissions -> checks -> decisions -> rank -> writers.
"""

from __future__ import annotations

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

from sdbatch import __version__, checks, decide, evidence, header, normalise, reading, settings
from sdbatch import rules as rules_mod
from sdbatch.catalogue import join, label, render
from sdbatch.jurisdiction import Jurisdiction, jurisdiction_of
from sdbatch.model import Application, FileRecord, FileRejected, Finding, RawWorkbook, RunResult, Source
from sdbatch.programs import program_for
from sdbatch.rules import Rules
from sdbatch.text import cell_text, display_name, vocabulary

log = logging.getLogger("sdbatch")
CHINA = dt.timezone(dt.timedelta(hours=8))
CORRECTION_MARKERS = tuple(vocabulary()["files"]["correction_markers"])
MTIME_TIE_SECONDS = 2.0


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

    def summary(self) -> str:
        if self.result is None:
            return self.message
        return summary_text(self.result, self.run_dir)


# ----------------------------------------------------------------------------- rules
def load_programs(programs: tuple[str, ...] = (), rules_files: tuple[Path, ...] = ()) -> list[Rules]:
    """The rules to apply: the given files, the named programs, or every bundled program."""
    loaded = [rules_mod.load(p) for p in rules_files]
    names = programs or (() if rules_files else tuple(rules_mod.bundled()))
    loaded += [rules_mod.load(n) for n in names]
    return [r for r in loaded if r.fields]


# ----------------------------------------------------------------------------- reading files
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def scan_inbox(inbox: Path) -> list[FileRecord]:
    """Every file in the inbox, as a record.  Symbolic links are never followed (they could
    point outside the inbox) and hidden files are listed as ignored; hidden folders (.git)
    are not submissions."""
    records = []
    for folder, dirs, files in os.walk(inbox, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files + [d for d in os.listdir(folder) if os.path.islink(os.path.join(folder, d))
                             and os.path.isdir(os.path.join(folder, d))]:
            path = Path(folder) / name
            rel = display_name(path.relative_to(inbox).as_posix())
            if path.is_symlink():
                record = FileRecord(file=rel, path=str(path), sha256=_sha256_text(os.readlink(path)), size=0,
                                    mtime=path.lstat().st_mtime, status="ignored")
                record.findings.append(Finding("symlink-ignored", "info", params={"file": rel}, source=Source(rel)))
            else:
                stat = path.stat()
                record = FileRecord(file=rel, path=str(path), sha256=_sha256(path), size=stat.st_size,
                                    mtime=stat.st_mtime)
                if name.startswith(".") and not name.startswith(".~lock"):
                    record.status = "ignored"
                    record.findings.append(Finding("hidden-file-ignored", "info", params={"file": rel},
                                                   source=Source(rel)))
            records.append(record)
    return sorted(records, key=lambda r: r.file)


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _is_spreadsheet_name(name: str) -> bool:
    lower = name.lower()
    return lower.endswith(settings.SPREADSHEET_SUFFIXES) or lower.startswith("~$")


def read_record(record: FileRecord, candidates: list[Rules], *, debug: bool = False) -> None:
    """Fill ``record`` with its applications, or mark it rejected/ignored with a reason."""
    path = Path(record.path)
    if not _is_spreadsheet_name(path.name):
        record.status = "ignored"
        record.findings.append(Finding("ignored-file", "info", params={"file": path.name},
                                       source=Source(record.file)))
        return
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
                "file": path.name, "program_title": other.title}, source=Source(record.file)))
            return
        expected = "、".join(f"“{f.label}”" for f in list(candidates[0].fields.values())[1:4]) if candidates else ""
        _reject(record, "no-table-found", {"file": path.name, "expected": expected,
                                           "form": join(dict.fromkeys(r.form for r in candidates))}, jurisdiction_of(candidates))
        return
    rules, table = located.rules, located.table
    record.program, record.sheet, record.table = rules.name, table.sheet.name, table
    # Score sheets beside the summary table (a city's 初审 sheet) go to the program too.
    others = [s for s in raw.sheets if s is not table.sheet and not s.hidden]
    if others:
        record.claimed = program_for(rules).claim_file(RawWorkbook(raw.path, raw.kind, others))
    file_city = normalise.city_of_file(table, record.file, rules.jurisdiction)
    apps, notes = normalise.build_applications(table, rules, record.file, file_city)
    record.findings.extend(notes)
    if not apps:
        _reject(record, "no-applications", {"file": path.name, "sheet": table.sheet.name}, rules.jurisdiction)
        return
    cities = Counter(a.city for a in apps if a.city)
    record.city = cities.most_common(1)[0][0] if cities else file_city.city
    if len(cities) > 1:
        record.findings.append(Finding("several-cities", "info", params={
            "count": len(cities), "cities": "、".join(cities)}, source=Source(record.file, table.sheet.name)))
    record.applications = apps


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


def _reject(record: FileRecord, code: str, params: dict[str, Any], jurisdiction: Jurisdiction | None = None) -> None:
    record.status = "rejected"
    record.error_code = code
    record.error_params = {"file": Path(record.path).name, **params}
    if record.city is None:  # so that the city is told why (its review and e-mail carry the reason)
        hit = (jurisdiction or jurisdiction_of(None)).find_city(Path(record.file).stem)
        record.city = hit[0] if hit else None


# ----------------------------------------------------------------------------- across files
def mark_duplicate_files(records: list[FileRecord]) -> None:
    """An identical file (same bytes) twice: the one received first is read, the others are
    duplicates.  Copies saved together (same time) keep the plain name over ``名称(1).csv``."""
    first: dict[str, FileRecord] = {}
    for record in sorted(records, key=lambda r: (int(r.mtime // MTIME_TIE_SECONDS), len(r.file), r.file)):
        if record.status == "ignored":
            continue
        if record.sha256 in first:
            record.status = "duplicate"
            record.duplicate_of = first[record.sha256].file
            record.findings.append(Finding("duplicate-file", "info", params={"other": record.duplicate_of},
                                           source=Source(record.file)))
        else:
            first.setdefault(record.sha256, record)


def _newer(a: FileRecord, b: FileRecord) -> int:
    """cmp: >0 when a is the newer submission. Modification time decides; within a tie of a
    couple of seconds (files copied together), a correction marker in the name, then the name."""
    if abs(a.mtime - b.mtime) > MTIME_TIE_SECONDS:
        return 1 if a.mtime > b.mtime else -1
    ma = any(m in a.file.lower() for m in CORRECTION_MARKERS)
    mb = any(m in b.file.lower() for m in CORRECTION_MARKERS)
    if ma != mb:
        return 1 if ma else -1
    return (a.file > b.file) - (a.file < b.file)


def apply_resubmissions(records: list[FileRecord]) -> None:
    """A newer workbook from the same city replaces the older one entirely (SPEC §2.2)."""
    groups: dict[tuple[str | None, str], list[FileRecord]] = defaultdict(list)
    for record in records:
        if record.status == "processed" and record.city and record.applications:
            groups[(record.program, record.city)].append(record)
    for group in groups.values():
        if len(group) < 2:
            continue
        ordered = sorted(group, key=functools.cmp_to_key(_newer))
        newest = ordered[-1]
        for older in ordered[:-1]:
            older.status = "superseded"
            older.superseded_by = newest.file
            older.findings.append(Finding("superseded-file", "info", params={"newer": newest.file},
                                          source=Source(older.file)))
        _describe_changes(ordered[-2], newest)


def _describe_changes(older: FileRecord, newer: FileRecord) -> None:
    old = {decide.name_key(a.name): a for a in older.applications}
    new = {decide.name_key(a.name): a for a in newer.applications}
    added = [new[k].name for k in new if k not in old]
    removed = [old[k].name for k in old if k not in new]
    changed = 0
    for key, app in new.items():
        before = old.get(key)
        if before is None:
            continue
        roles = app.extra.get("_roles", {})
        diffs = [f for f in sorted(set(app.values) | set(before.values))
                 if app.values.get(f) != before.values.get(f) and f not in (roles.get("order"), roles.get("seq"))]
        if app.city_order != before.city_order:
            diffs.append(roles.get("order", ""))
        if diffs:
            changed += 1
            parts = [f"{f}：{cell_text(before.values.get(f)) or '（空）'}→{cell_text(app.values.get(f)) or '（空）'}"
                     for f in diffs[:6]]
            app.findings.append(Finding("changed-since-previous", "info", params={
                "summary": "；".join(parts), "fields": diffs, "older": older.file}, source=app.source))
    bits = []
    if added:
        bits.append("新增 " + "、".join(str(n) for n in added))
    if removed:
        bits.append("撤回 " + "、".join(str(n) for n in removed))
    bits.append(f"{changed} 个项目数据有修改" if changed else "其余项目数据未变")
    newer.findings.append(Finding("resubmission-changes", "info", params={
        "older": older.file, "summary": "，".join(bits), "added": added, "removed": removed}, source=Source(newer.file)))


def mark_late(records: list[FileRecord], programs: dict[str, Rules]) -> None:
    for record in records:
        rules = programs.get(record.program or "")
        if rules is None or rules.deadline is None or record.status != "processed":
            continue
        received = dt.datetime.fromtimestamp(record.mtime, tz=CHINA)
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
        base = f"{app.program}/{app.city or '未识别城市'}/{app.name or f'第{app.source.row}行'}"
        seen[base] += 1
        app.id = base if seen[base] == 1 else f"{base}#{seen[base]}"


def decide_all(records: list[FileRecord], programs: dict[str, Rules], options: RunOptions) -> dict[str, Any]:
    """Checks, statuses, quota, duplicates and ranks over every active application; returns each
    program's run-level report (program name -> ProgramReport)."""
    reports: dict[str, Any] = {}
    for rank_no, record in enumerate(records):
        for app in record.applications:
            app.extra["_file_rank"] = rank_no
    for name, rules in programs.items():
        active = [a for r in records if r.status == "processed" and r.program == name for a in r.applications]
        claimed = [(r, r.claimed) for r in records
                   if r.program == name and r.claimed is not None and r.status == "processed"]
        if not active and not claimed:
            continue
        program = program_for(rules)
        _assign_ids(active)
        for app in active:
            app.findings.extend(checks.check_application(app, rules))
            app.findings.extend(program.check_application(app))
        decide.mark_duplicates(active, rules)
        decide.apply_quota(active, rules)
        for app in active:
            app.status = decide.status_from_findings(app)
        reports[name] = program.decide(active, claimed, program.accepted_options(options.program_options))
    return reports


# ----------------------------------------------------------------------------- the run
def _now(options: RunOptions) -> dt.datetime:
    if options.now:
        moment = dt.datetime.fromisoformat(options.now)
        return moment if moment.tzinfo else moment.replace(tzinfo=CHINA)
    return dt.datetime.now(tz=CHINA)


def make_run_id(now: dt.datetime, out_dir: Path) -> str:
    base = now.strftime("%Y%m%d-%H%M%S")
    run_id, n = base, 1
    while (out_dir / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def evaluate(inbox: Path, options: RunOptions, *, run_id: str = "", started: str = "") -> RunResult:
    """Read and decide everything in ``inbox``; write nothing."""
    candidates = load_programs(options.programs, options.rules_files)
    programs = {r.name: r for r in candidates}
    from sdbatch.logsetup import progress

    records = scan_inbox(inbox)
    mark_duplicate_files(records)
    for record in progress(records, len(records), "读取文件", options.progress):
        if record.status in ("duplicate", "ignored"):
            continue
        log.debug("读取 %s", record.file)
        read_record(record, candidates, debug=options.debug)
    apply_resubmissions(records)
    mark_late(records, programs)
    lists = evidence.apply(records, programs)  # enterprise lists: findings before the decisions
    reports = decide_all(records, programs, options)
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
    return result


def fingerprint(candidates: list[Rules], options: RunOptions) -> str:
    """What, besides the inbox, decides a run's outputs: a change here is a change to re-run for."""
    digest = hashlib.sha256(__version__.encode())
    for rules in candidates:
        digest.update(rules.name.encode() + rules.version.encode())
        with open(rules.path, "rb") as fh:
            digest.update(fh.read())
    digest.update(json.dumps([sorted(options.program_options.items()), options.mail_mode, str(options.address_book)],
                             default=str).encode())
    return digest.hexdigest()


def run_batch(inbox: Path, options: RunOptions) -> Outcome:
    """The nightly job: decide the inbox and publish ``out_dir/<run-id>/`` atomically.

    Under a lock (a second run exits 2); a run with nothing new since the last complete run
    says so and writes nothing (unless ``force``); the ledger records files, runs and outcomes.
    """
    from sdbatch.atomic import clean_stale_tmp, staging_dir
    from sdbatch.ledger import Ledger, default_path, snapshot_inbox
    from sdbatch.lock import LOCK_NAME, RunLock
    from sdbatch.logsetup import attach_run_log, detach_run_log, setup_logging

    t0 = time.perf_counter()
    logger = setup_logging(None, options.quiet, options.verbose)
    options.out_dir.mkdir(parents=True, exist_ok=True)
    candidates = load_programs(options.programs, options.rules_files)
    with RunLock(options.out_dir / LOCK_NAME):
        clean_stale_tmp(options.out_dir)
        snapshot = snapshot_inbox(inbox)
        print_ = fingerprint(candidates, options)
        with Ledger.open(options.ledger_path or default_path(options.out_dir)) as ledger:
            if not options.force and ledger.unchanged_since_last_run(snapshot, print_):
                logger.info("无新增或变更文件")
                return Outcome(None, None, 0, message="无新增或变更文件，未生成新的审核结果（如需重新审核请加 --force）。")
            now = _now(options)
            run_id = options.run_id or make_run_id(now, options.out_dir)
            started = now.isoformat(timespec="seconds")
            ledger.begin_run(run_id, started)
            with staging_dir(options.out_dir, run_id) as tmp:
                attach_run_log(logger, tmp)
                logger.info("开始审核 %s（运行编号 %s）", inbox, run_id)
                result = evaluate(inbox, options, run_id=run_id, started=started)
                t_decide = time.perf_counter()
                changes = ledger.changes(result)
                changed = ledger.changed_cities(result, changes)
                _write_outputs(result, tmp, options, changes, changed, address_book(inbox, options))
                result.finished = started if options.now else _now(options).isoformat(timespec="seconds")
                timings = {"decide_s": round(t_decide - t0, 3), "write_s": round(time.perf_counter() - t_decide, 3)}
                write_json(tmp / "results.json", result.to_dict())
                write_json(tmp / "run.json", run_info(result, inbox, options, timings))
                for record in result.rejected:
                    logger.warning("退回 %s：%s", record.file, record.error)
                logger.info("完成：%d 个文件，%d 个申报项目", len(result.files), len(result.applications))
                detach_run_log(logger)
            final = options.out_dir / run_id
            ledger.record_run(result, snapshot, print_, final, started, result.finished, result.exit_code())
    return Outcome(result, final, result.exit_code(), timings=timings)


def address_book(inbox: Path, options: RunOptions) -> Path:
    """--address-book, else config/address_book.toml in the working folder, else beside the inbox
    (a nightly job started from another folder still finds it)."""
    if options.address_book is not None:
        return options.address_book
    here = Path(settings.ADDRESS_BOOK)
    beside = inbox.resolve().parent / settings.ADDRESS_BOOK
    return here if here.exists() or not beside.exists() else beside


def _write_outputs(result: RunResult, run_dir: Path, options: RunOptions, changes: list[dict[str, Any]],
                   changed_cities: set[str], book: Path) -> None:
    from sdbatch.writers import write_city_reviews, write_mail_drafts, write_ranked_list

    reviews = write_city_reviews(result, run_dir)
    write_ranked_list(result, run_dir, changes=changes)
    if options.mail_mode == "none":
        return
    cities = None if options.mail_mode == "all" else changed_cities
    notes = write_mail_drafts(result, run_dir, reviews, book, cities)
    for note in notes or []:
        log.warning(render(note).message)


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def run_info(result: RunResult, inbox: Path, options: RunOptions, timings: dict[str, float]) -> dict[str, Any]:
    import openpyxl

    return {
        "run_id": result.run_id,
        "started": result.started,
        "finished": result.finished,
        "inbox": str(inbox),
        "out_dir": str(options.out_dir),
        "exit_code": result.exit_code(),
        "programs": [{"name": r.name, "version": r.version, "title": r.title, "rules_file": r.path}
                     for r in result.programs.values()],
        "inputs": [{"file": f.file, "sha256": f.sha256, "size": f.size, "status": f.status} for f in result.files],
        "counts": {
            "files": dict(Counter(f.status for f in result.files)),
            "applications": dict(Counter(a.status for a in result.applications)),
        },
        "timings": timings,
        "versions": {"sdbatch": __version__, "python": platform.python_version(), "openpyxl": openpyxl.__version__},
        "options": {"programs": list(options.programs), "rules_files": [str(p) for p in options.rules_files],
                    "program_options": options.program_options, "mail": options.mail_mode},
    }


def summary_text(result: RunResult, run_dir: Path | None) -> str:
    files = Counter(f.status for f in result.files)
    apps = Counter(a.status for a in result.applications)
    lines = [
        f"审核完成（{result.program}，规则版本 {result.rules_version}）。",
        "文件：" + "，".join(f"{label('file_status', s)} {files[s]}" for s in
                          ("processed", "rejected", "superseded", "duplicate", "ignored") if files[s]),
        f"申报项目 {len(result.applications)} 个：" + "，".join(
            f"{label('status', s)} {apps[s]}" for s in ("eligible", "needs_review", "incomplete", "ineligible",
                                                        "over_quota") if apps[s]),
    ]
    for record in result.rejected:
        lines.append(f"  退回：{record.file} —— {record.error}")
    if run_dir is not None:
        lines.append(f"输出目录：{run_dir}")
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
    stat = path.stat()
    record = FileRecord(file=path.name, path=str(path), sha256=_sha256(path), size=stat.st_size, mtime=stat.st_mtime)
    read_record(record, candidates)
    progs = {r.name: r for r in candidates}
    if record.status == "processed":
        decide_all([record], progs, RunOptions())
    return CheckReport(check_text(record, progs), 1 if record.status == "rejected" else 0, record)


def check_text(record: FileRecord, programs: dict[str, Rules]) -> str:
    lines = [f"文件：{record.file}"]
    if record.status == "rejected":
        lines.append(f"结论：退回 —— {record.error}")
        return "\n".join(lines)
    if record.status == "ignored":
        lines.append("结论：不是汇总表，已忽略。")
        return "\n".join(lines)
    rules = programs.get(record.program or "")
    lines.append(f"申报类别：{rules.title if rules else record.program}；工作表：{record.sheet or '（评分表）'}；所在市：{record.city or '未识别'}")
    for f in record.findings:
        lines.append(_finding_line(f))
    for app in record.applications:
        lines.append("")
        lines.append(f"【{app.city_order or '-'}】{app.name or '（未填写名称）'}  第{app.source.row}行  "
                     f"→ {label('status', app.status)}" + (f"  得分 {app.score}" if app.score is not None else ""))
        if rules:
            shown = [f"{rules.label(k)}={_show(v)}" for k, v in app.values.items() if v is not None and k != "name"]
            lines.append("    " + "；".join(shown))
        for f in app.findings:
            if f.code != "expert-item":
                lines.append("    " + _finding_line(f))
    return "\n".join(lines)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    return cell_text(value)


def _finding_line(f: Finding) -> str:
    text = render(f)
    where = f.source.cell if f.source and f.source.cell else (f"第{f.source.row}行" if f.source and f.source.row else "")
    level = label("severity", f.severity)
    clause = f"〔{f.clause}〕" if f.clause and f.clause not in text.message else ""
    return f"- [{level}] {where} {text.message}{clause}{(' 处理：' + text.fix) if text.fix else ''}"
