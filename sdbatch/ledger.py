"""The ledger: every file seen, every run and each application's outcome per run (SPEC §7, issue 5).

One SQLite file (stdlib ``sqlite3``), by default ``<out_dir>/ledger.sqlite3``; ``--ledger PATH``
moves it.  WAL journal, ``synchronous=FULL``: a run killed at any moment (kill -9) leaves either the
previous state or the new, complete one, because everything a run records is written in one
transaction by :meth:`Ledger.record_run`.

The schema is versioned with ``PRAGMA user_version`` and a list of migrations (:data:`MIGRATIONS`);
migration *n* brings a database from version *n - 1* to *n*.  Never edit a shipped migration: append
a new one.

How a batch uses it (see also the module docstrings of ``lock`` and ``atomic``)::

    snap = snapshot_inbox(inbox)                       # stat only, no hashing
    with Ledger.open(ledger_path) as led:
        if not force and led.unchanged_since_last_run(snap, fingerprint):
            ...  # 无新增或变更文件, exit 0
        ...  # run the pipeline -> result
        rows = led.changes(result)                     # for the 变更情况 sheet
        cities = led.changed_cities(result)            # whose mail drafts to write
        ...  # write the run folder, publish it
        led.record_run(result, snap, fingerprint, run_dir, started, finished, exit_code)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdbatch import settings
from sdbatch.intake.store import MIGRATION as INTAKE_MIGRATION
from sdbatch.model import RunResult
from sdbatch.text import display_name

LEDGER_NAME = "ledger.sqlite3"
CHINA = dt.timezone(dt.timedelta(hours=8))  # deadlines are Beijing dates, whatever the server's zone
BUSY_TIMEOUT_MS = 10_000  # a reader (`sdbatch status`) waits this long for a writer's transaction

# Kinds of rows in the 变更情况 sheet, in the order they are listed within a city.
CHANGE_NEW = "新增"
CHANGE_WITHDRAWN = "撤回"
CHANGE_STATUS = "状态变化"
CHANGE_VALUES = "数据更正"
CHANGE_KINDS = (CHANGE_NEW, CHANGE_WITHDRAWN, CHANGE_STATUS, CHANGE_VALUES)

# States of a city in `sdbatch status`.
STATE_SUBMITTED = "已报送"
STATE_MISSING = "未报送"
STATE_LATE = "逾期"
STATE_CORRECTED = "已更正"

MAX_FIELDS_IN_NOTE = 5  # a 数据更正 note lists at most this many changed fields


class LedgerError(Exception):
    """The ledger cannot be used (corrupt, newer schema, unwritable). ``message`` is Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------------- schema
# Each migration is a list of single SQL statements (no executescript: it would commit early).
MIGRATIONS: list[list[str]] = [
    # 1: runs, files seen, files per run, outcomes per run.
    [
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            started TEXT NOT NULL,
            finished TEXT,
            program TEXT,
            rules_version TEXT,
            run_dir TEXT,
            exit_code INTEGER,
            n_files INTEGER NOT NULL DEFAULT 0,
            n_applications INTEGER NOT NULL DEFAULT 0,
            counts_json TEXT NOT NULL DEFAULT '{}',
            complete INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE files (
            sha256 TEXT NOT NULL,
            name TEXT NOT NULL,
            size INTEGER,
            mtime REAL,
            first_seen TEXT NOT NULL,
            first_run TEXT,
            last_seen TEXT,
            last_run TEXT,
            city TEXT,
            status TEXT,
            error TEXT,
            PRIMARY KEY (sha256, name)
        )""",
        """CREATE TABLE run_files (
            run_id TEXT NOT NULL,
            name TEXT NOT NULL,
            sha256 TEXT,
            size INTEGER,
            mtime REAL,
            city TEXT,
            status TEXT,
            error_code TEXT,
            error TEXT,
            late INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (run_id, name)
        )""",
        """CREATE TABLE outcomes (
            run_id TEXT NOT NULL,
            app_id TEXT NOT NULL,
            city TEXT,
            name TEXT,
            industry TEXT,
            status TEXT,
            score REAL,
            rank INTEGER,
            file TEXT,
            PRIMARY KEY (run_id, app_id)
        )""",
    ],
    # 2: what makes a no-change run detectable, values for 数据更正, the deadline for `status`.
    [
        "ALTER TABLE runs ADD COLUMN fingerprint TEXT",
        "ALTER TABLE runs ADD COLUMN snapshot_digest TEXT",
        "ALTER TABLE runs ADD COLUMN snapshot_count INTEGER",
        "ALTER TABLE runs ADD COLUMN deadline TEXT",
        "ALTER TABLE outcomes ADD COLUMN values_json TEXT",
        "CREATE INDEX run_files_city ON run_files (city, status)",
        "CREATE INDEX outcomes_run ON outcomes (run_id)",
    ],
    # 3: intake -- what `sdbatch fetch` took from the mailbox (issue 18; tables in sdbatch/intake/store.py).
    INTAKE_MIGRATION,
]
SCHEMA_VERSION = len(MIGRATIONS)


# ------------------------------------------------------------------------------- snapshot
@dataclass(frozen=True, order=True)
class FileSnap:
    """What a cheap look at the inbox sees of one file. ``relpath`` uses ``/`` on every system."""

    relpath: str
    size: int
    mtime_ns: int


def snapshot_inbox(inbox: Path, skip_prefixes: Sequence[str] = settings.IGNORED_PREFIXES) -> list[FileSnap]:
    """Every file under ``inbox`` (recursive), sorted, from ``os.scandir``/``stat`` only.

    Names starting with ``skip_prefixes`` (Excel/WPS lock files ``~$…``, hidden files and folders)
    are left out: the batch ignores them, so their coming and going is no reason to run again.
    Symbolic links to folders are not followed (no loops).
    """
    out: list[FileSnap] = []
    stack = [(Path(inbox), "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith(tuple(skip_prefixes)):
                    continue
                rel = display_name(f"{prefix}{entry.name}")  # GBK bytes from a zip: readable, storable
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append((Path(entry.path), rel + "/"))
                        continue
                    st = entry.stat()
                except FileNotFoundError:  # removed while we looked
                    continue
                out.append(FileSnap(rel, st.st_size, st.st_mtime_ns))
    out.sort()
    return out


def snapshot_digest(snapshot: Iterable[FileSnap]) -> str:
    h = hashlib.sha256()
    for s in sorted(snapshot):
        h.update(f"{s.relpath}\0{s.size}\0{s.mtime_ns}\n".encode())
    return h.hexdigest()


def default_path(out_dir: Path) -> Path:
    return Path(out_dir) / LEDGER_NAME


# --------------------------------------------------------------------------------- ledger
class Ledger:
    """An open ledger. Use :meth:`open`; close it, or use it as a context manager."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    # ---------------------------------------------------------------- open / close
    @classmethod
    def open(cls, path: Path, migrations: Sequence[Sequence[str]] | None = None) -> Ledger:
        """Open (creating the file and its folder if needed) and migrate to the current schema.

        ``migrations`` is for tests (e.g. build a version-1 database); leave it out otherwise.
        """
        path = Path(path)
        migrations = MIGRATIONS if migrations is None else migrations
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(f"无法打开台账 {path}：{exc}") from exc
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            _migrate(conn, migrations, path)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise LedgerError(
                f"台账 {path} 无法读取（{exc}）。文件可能已损坏：请把它改名备份后重新运行，"
                "将建立新的台账。") from exc
        except LedgerError:
            conn.close()
            raise
        return cls(conn, path)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def integrity_check(self) -> str:
        """``'ok'`` when SQLite finds nothing wrong."""
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    # ---------------------------------------------------------------- runs
    def _last_complete(self) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM runs WHERE complete = 1 ORDER BY rowid DESC LIMIT 1").fetchone()

    def has_previous_run(self) -> bool:
        return self._last_complete() is not None

    def unchanged_since_last_run(self, snapshot: Sequence[FileSnap], fingerprint: str) -> bool:
        """True when the last complete run saw exactly this snapshot with this fingerprint.

        Also False when that run's folder has gone (someone deleted it): there is nothing to point to.
        """
        last = self._last_complete()
        if last is None:
            return False
        if last["fingerprint"] != fingerprint or last["snapshot_digest"] != snapshot_digest(snapshot):
            return False
        run_dir = last["run_dir"]
        return not run_dir or Path(run_dir).is_dir()

    def begin_run(self, run_id: str, started: str) -> None:
        """Optional: mark a run as started (complete=0) so that `status` can show runs that died."""
        with self._transaction():
            self.conn.execute("INSERT OR IGNORE INTO runs (id, started, complete) VALUES (?, ?, 0)",
                              (run_id, started))

    def record_run(self, result: RunResult, snapshot: Sequence[FileSnap], fingerprint: str, run_dir: Path,
                   started: str, finished: str, exit_code: int) -> None:
        """Record a finished run, its files and its outcomes, in one transaction (complete=1)."""
        files_by_status: dict[str, int] = {}
        for f in result.files:
            files_by_status[f.status] = files_by_status.get(f.status, 0) + 1
        apps_by_status: dict[str, int] = {}
        for a in result.applications:
            apps_by_status[a.status] = apps_by_status.get(a.status, 0) + 1
        counts = {"files": files_by_status, "applications": apps_by_status}
        deadline = _deadline_of(result)
        run_id = result.run_id
        with self._transaction():
            c = self.conn
            for table, key in (("run_files", "run_id"), ("outcomes", "run_id"), ("runs", "id")):
                c.execute(f"DELETE FROM {table} WHERE {key} = ?", (run_id,))
            c.execute(
                """INSERT INTO runs (id, started, finished, program, rules_version, run_dir, exit_code,
                       n_files, n_applications, counts_json, complete, fingerprint, snapshot_digest,
                       snapshot_count, deadline)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)""",
                (run_id, started, finished, result.program, result.rules_version,
                 str(Path(run_dir).absolute()), exit_code, len(result.files), len(result.applications),
                 json.dumps(counts, ensure_ascii=False, sort_keys=True), fingerprint,
                 snapshot_digest(snapshot), len(snapshot), deadline))
            for f in result.files:
                error = f.error
                c.execute(
                    """INSERT OR REPLACE INTO run_files
                       (run_id, name, sha256, size, mtime, city, status, error_code, error, late)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (run_id, f.file, f.sha256, f.size, f.mtime, f.city, f.status, f.error_code, error,
                     int(bool(f.late))))
                c.execute(
                    """INSERT INTO files (sha256, name, size, mtime, first_seen, first_run, last_seen,
                           last_run, city, status, error)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT (sha256, name) DO UPDATE SET
                           size = excluded.size, mtime = excluded.mtime, last_seen = excluded.last_seen,
                           last_run = excluded.last_run, city = excluded.city, status = excluded.status,
                           error = excluded.error""",
                    (f.sha256, f.file, f.size, f.mtime, started, run_id, started, run_id, f.city, f.status,
                     error))
            for a in result.applications:
                c.execute(
                    """INSERT OR REPLACE INTO outcomes
                       (run_id, app_id, city, name, industry, status, score, rank, file, values_json)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (run_id, a.id, a.city, a.name, a.industry, a.status, a.score, a.rank, a.source.file,
                     json.dumps(_jsonable(a.values), ensure_ascii=False, sort_keys=True)))

    def last_runs(self, n: int = 5) -> list[dict[str, Any]]:
        """The ``n`` most recent runs, newest first (incomplete ones included, ``complete`` says)."""
        rows = self.conn.execute("SELECT * FROM runs ORDER BY rowid DESC LIMIT ?", (n,)).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["counts"] = json.loads(d.pop("counts_json") or "{}")
            d["complete"] = bool(d["complete"])
            out.append(d)
        return out

    # ---------------------------------------------------------------- comparisons
    def previous_outcomes(self) -> dict[str, dict[str, Any]]:
        """app id -> outcome in the last complete run (status, score, rank, city, name, file, values)."""
        last = self._last_complete()
        if last is None:
            return {}
        out = {}
        for r in self.conn.execute("SELECT * FROM outcomes WHERE run_id = ?", (last["id"],)):
            d = dict(r)
            d["values"] = json.loads(d["values_json"]) if d.get("values_json") else {}
            out[d.pop("app_id")] = d
        return out

    def _previous_files(self) -> list[dict[str, Any]]:
        last = self._last_complete()
        if last is None:
            return []
        return [dict(r) for r in self.conn.execute("SELECT * FROM run_files WHERE run_id = ?", (last["id"],))]

    def changes(self, result: RunResult) -> list[dict[str, Any]]:
        """Rows of the 变更情况 sheet: differences between ``result`` and the last complete run.

        Call it *before* :meth:`record_run` of the same result.  Empty on the first run (see
        :meth:`has_previous_run` to say so in the sheet).  Applications are matched by id, then by
        (city, name) so that a resubmitted workbook whose rows moved still matches.
        Each row: kind, city, name, old_status, new_status (Chinese labels), note, plus app_id,
        old_status_code, new_status_code for programs.
        """
        if not self.has_previous_run():
            return []
        from sdbatch.catalogue import label as vocab

        def status_label(code: str | None) -> str:
            return vocab("status", code) if code else ""

        field_label = _field_labeller(result)
        prev = self.previous_outcomes()
        matched_prev: set[str] = set()
        pairs: list[tuple[Any, dict[str, Any] | None]] = []
        by_key = {(p["city"], _norm_name(p["name"])): pid for pid, p in prev.items()}
        for a in result.applications:
            pid = a.id if a.id in prev else by_key.get((a.city, _norm_name(a.name)))
            if pid is not None and pid in matched_prev:
                pid = None
            if pid is not None:
                matched_prev.add(pid)
            pairs.append((a, prev.get(pid) if pid is not None else None))

        rows: list[dict[str, Any]] = []
        for a, p in pairs:
            base = {"city": a.city, "name": a.name, "app_id": a.id, "new_status": status_label(a.status),
                    "new_status_code": a.status}
            if p is None:
                rows.append({**base, "kind": CHANGE_NEW, "old_status": "", "old_status_code": None,
                             "note": f"来自文件 {a.source.file}"})
                continue
            diffs = _value_diffs(p["values"], _jsonable(a.values), field_label)
            old = {"old_status": status_label(p["status"]), "old_status_code": p["status"]}
            if p["status"] != a.status:
                note = [f"得分 {_fmt(p['score'])} → {_fmt(a.score)}"] if not _same(p["score"], a.score) else []
                if diffs:
                    note.append("数据更正：" + _join_diffs(diffs))
                rows.append({**base, **old, "kind": CHANGE_STATUS, "note": "；".join(note)})
            elif diffs:
                rows.append({**base, **old, "kind": CHANGE_VALUES, "note": _join_diffs(diffs)})
        for pid, p in prev.items():
            if pid in matched_prev:
                continue
            rows.append({"kind": CHANGE_WITHDRAWN, "city": p["city"], "name": p["name"], "app_id": pid,
                         "old_status": status_label(p["status"]), "old_status_code": p["status"],
                         "new_status": "", "new_status_code": None,
                         "note": f"上次来自文件 {p['file']}，本次已无此项"})
        from sdbatch.jurisdiction import jurisdiction_of

        order = jurisdiction_of(result).order
        rows.sort(key=lambda r: (order.get(r["city"], len(order)), r["city"] or "",
                                 CHANGE_KINDS.index(r["kind"]), r["name"] or ""))
        return rows

    def changed_cities(self, result: RunResult, changes: list[dict[str, Any]] | None = None) -> set[str]:
        """Cities whose files or outcomes changed since the last complete run.

        On the first run: every city with a file.  Call it before :meth:`record_run`; pass the
        rows of :meth:`changes` when you have them (they are not computed twice).
        """
        current_files = {(f.city, f.file, f.sha256, f.status) for f in result.files if f.city}
        if not self.has_previous_run():
            return {c for c, *_ in current_files}
        previous_files = {(r["city"], r["name"], r["sha256"], r["status"])
                          for r in self._previous_files() if r["city"]}
        out = {c for c, *_ in current_files ^ previous_files}
        out |= {r["city"] for r in (self.changes(result) if changes is None else changes) if r["city"]}
        return out

    # ---------------------------------------------------------------- cities
    def city_states(self, deadline: dt.date | None = None, today: dt.date | None = None) -> dict[str, str]:
        """Each of the 16 cities -> 已报送 / 未报送 / 逾期 / 已更正, from the last complete run.

        已更正: the city has a superseded file (a correction was sent), in any run.
        逾期: a file arrived after the deadline (flagged late by the run, or modified after it).
        未报送: no file yet (also after the deadline: the city still has to send one).
        ``deadline`` defaults to the one recorded by the last run.
        """
        from sdbatch.jurisdiction import default

        last = self._last_complete()
        if deadline is None and last is not None and last["deadline"]:
            deadline = dt.date.fromisoformat(last["deadline"])
        files = self._previous_files()
        corrected = {r[0] for r in self.conn.execute(
            "SELECT DISTINCT city FROM run_files WHERE status = 'superseded' AND city IS NOT NULL")}
        states = {}
        for city in default().cities:
            mine = [f for f in files if f["city"] == city and f["status"] in ("processed", "superseded")]
            if not mine:
                states[city] = STATE_MISSING
            elif city in corrected:
                states[city] = STATE_CORRECTED
            elif any(f["late"] or _after(f["mtime"], deadline) for f in mine):
                states[city] = STATE_LATE
            else:
                states[city] = STATE_SUBMITTED
        return states

    # ---------------------------------------------------------------- internals
    def _transaction(self) -> _Transaction:
        return _Transaction(self.conn)


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")


def _migrate(conn: sqlite3.Connection, migrations: Sequence[Sequence[str]], path: Path) -> None:
    conn.execute("BEGIN IMMEDIATE")  # one migrator at a time; readers wait on busy_timeout
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise LedgerError(f"台账 {path} 由更新版本的 sdbatch 建立（结构版本 {version}），"
                              f"当前程序只支持到 {len(MIGRATIONS)}。请升级 sdbatch。")
        for number in range(version + 1, len(migrations) + 1):
            for statement in migrations[number - 1]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


# ------------------------------------------------------------------------------- helpers
def _deadline_of(result: RunResult) -> str | None:
    candidates = [result.rules, *result.programs.values()]
    dates: list[dt.date] = [d for r in candidates if isinstance(d := getattr(r, "deadline", None), dt.date)]
    return min(dates).isoformat() if dates else None


def _after(mtime: float | None, deadline: dt.date | None) -> bool:
    if mtime is None or deadline is None:
        return False
    return dt.datetime.fromtimestamp(mtime, tz=CHINA).date() > deadline  # the run's clock (UTC+8)


def _norm_name(name: str | None) -> str:
    from sdbatch.decide import name_key

    return name_key(name)  # the same reduction as resubmissions and duplicates use


def _field_labeller(result: RunResult) -> Any:
    rules = [result.rules, *result.programs.values()]

    def label(field_id: str) -> str:
        for r in rules:
            if r is not None and field_id in getattr(r, "fields", {}):
                return str(r.label(field_id))
        return field_id

    return label


def _jsonable(value: Any) -> Any:
    from sdbatch.model import _jsonable as to_json

    return json.loads(json.dumps(to_json(value), ensure_ascii=False, default=str))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def _value_diffs(old: dict[str, Any], new: dict[str, Any], label: Any) -> list[tuple[str, Any, Any]]:
    diffs = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if not _same(a, b):
            diffs.append((label(key), a, b))
    return diffs


def _fmt(value: Any) -> str:
    if value is None or value == "":
        return "（空）"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _join_diffs(diffs: list[tuple[str, Any, Any]]) -> str:
    shown = [f"{name} {_fmt(a)} → {_fmt(b)}" for name, a, b in diffs[:MAX_FIELDS_IN_NOTE]]
    more = len(diffs) - MAX_FIELDS_IN_NOTE
    return "；".join(shown) + (f"；等共 {len(diffs)} 项" if more > 0 else "")


# --------------------------------------------------------------------------- status text
EXIT_MEANING = {0: "全部文件已读取", 1: "有文件被退回", 2: "未能运行"}


def status_text(out_dir: Path, ledger_path: Path | None = None, n_runs: int = 5,
                today: dt.date | None = None) -> str:
    """What `sdbatch status` prints: the last runs and each city's state, in Chinese."""
    path = Path(ledger_path) if ledger_path else default_path(Path(out_dir))
    if not path.exists():
        return (f"尚无台账：{path} 不存在。还没有运行过 sdbatch run，或台账在别处"
                "（请用 --out 指定输出目录，或用 --ledger 指定台账位置）。")
    with Ledger.open(path) as led:
        runs = led.last_runs(n_runs)
        lines = [f"台账：{path}", ""]
        if not runs:
            lines.append("尚无运行记录。")
        else:
            lines.append(f"最近 {len(runs)} 次运行（最新在前）：")
            for r in runs:
                if not r["complete"]:
                    lines.append(f"  {r['id']}  开始 {r['started']}  未完成（进程中断或仍在运行）")
                    continue
                apps = r["counts"].get("applications", {})
                files = r["counts"].get("files", {})
                code = r["exit_code"]
                meaning = EXIT_MEANING.get(code, "")
                lines.append(
                    f"  {r['id']}  {r['started']} → {r['finished']}  退出码 {code}（{meaning}）  "
                    f"文件 {r['n_files']} 个（退回 {files.get('rejected', 0)}）  申报 {r['n_applications']} 项"
                    + (f"（符合条件 {apps.get('eligible', 0)}）" if r["n_applications"] else ""))
            last_dir = next((r["run_dir"] for r in runs if r["complete"]), None)
            if last_dir:
                lines.append(f"最近一次完成的运行结果：{last_dir}")
        lines.append("")
        states = led.city_states(today=today)
        deadline = next((r["deadline"] for r in runs if r["complete"] and r.get("deadline")), None)
        lines.append("各市报送情况" + (f"（截止日期 {deadline}）：" if deadline else "："))
        for city, state in states.items():
            lines.append(f"  {city}  {state}")
        tally = {s: sum(1 for v in states.values() if v == s)
                 for s in (STATE_SUBMITTED, STATE_CORRECTED, STATE_LATE, STATE_MISSING)}
        lines.append("合计：" + "，".join(f"{k} {v}" for k, v in tally.items()))
    return "\n".join(lines)
