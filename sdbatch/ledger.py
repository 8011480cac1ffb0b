"""The ledger: every file seen, every run and each application's outcome per run (SPEC §7, issues 5, 15).

One SQLite file (stdlib ``sqlite3``), by default ``<out_dir>/ledger.sqlite3``; ``--ledger PATH``
moves it, and several output folders may share one (each folder's runs are compared only with
its own: ``runs.out_dir``).  WAL journal, ``synchronous=FULL``.

**What the ledger records is what the run published.**  A run's record is built from the
``results.json`` and ``run.json`` it writes into its folder (:func:`run_record`), inserted in one
transaction that is committed only after the folder was renamed into place
(:meth:`Ledger.record_run`, ``publish=``): a failure before the commit undoes the rename, so exit
code, folder and ledger agree.  A run killed between rename and commit leaves a published folder
the ledger lacks: the next run (and ``sdbatch status``) imports it from its files
(:meth:`Ledger.reconcile`).  The same import rebuilds a damaged ledger (:func:`recover`).

**Its state is told truthfully.**  Opening checks the file's header and length, the schema
(every table and column), ``PRAGMA integrity_check`` and the checksum of the run the next one
compares with (``runs.digest``: SQLite keeps none, so a flipped bit in a value is found only
so).  Every SQLite or system error is turned into one of :class:`LedgerLocked`,
:class:`LedgerDiskFull`, :class:`LedgerReadOnly`, :class:`LedgerPermission`,
:class:`LedgerIOError`, :class:`LedgerDamaged`, :class:`LedgerTooNew` — each its own Chinese
sentence and advice (``[ledger.errors]`` in ui.toml); only damage suggests ``sdbatch ledger recover``.

The schema is versioned with ``PRAGMA user_version`` and a list of migrations (:data:`MIGRATIONS`);
migration *n* brings a database from version *n - 1* to *n*.  Never edit a shipped migration: append
a new one.

How a batch uses it::

    with Ledger.open(path, out_dir=out) as led:          # checked; raises a LedgerError subclass
        led.reconcile()                                   # folders published but not recorded
        if not force and led.unchanged_since_last_run(snapshot, fingerprint): ...
        run_id = led.reserve_run(base_id, started, taken=folder_exists)
        ...  # run the pipeline -> result; led.changes(result); led.changed_cities(result)
        led.record_docs(results_doc, run_doc, run_dir, publish=lambda: publish_dir(tmp, run_dir))
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import math
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from sdbatch import clock, errors, provenance, settings
from sdbatch.catalogue import join, text
from sdbatch.history.model import DECISION_KEYS, Decision
from sdbatch.inbox import Exclusions, FileSnap, snapshot, walk
from sdbatch.intake.store import MIGRATION as INTAKE_MIGRATION
from sdbatch.model import RunResult
from sdbatch.text import detached, held_once

__all__ = ["FileSnap", "Ledger", "LedgerError", "recover", "snapshot_inbox", "status_text"]

LEDGER_NAME = "ledger.sqlite3"
COMPANIONS = ("-wal", "-shm", "-journal")
SQLITE_HEADER = b"SQLite format 3\x00"

# Kinds of rows in the 变更情况 sheet, in the order they are listed within a city (people's words:
# the list writer shows them as they are).
CHANGE_NEW = text("ledger.change.new")
CHANGE_WITHDRAWN = text("ledger.change.withdrawn")
CHANGE_STATUS = text("ledger.change.status")
CHANGE_VALUES = text("ledger.change.values")
CHANGE_SCORE = text("ledger.change.score")  # same status and values, another score (an expert's sheet)
CHANGE_KINDS = (CHANGE_NEW, CHANGE_WITHDRAWN, CHANGE_STATUS, CHANGE_VALUES, CHANGE_SCORE)

# States of a city in `sdbatch status`.
STATE_SUBMITTED = text("ledger.state.submitted")
STATE_MISSING = text("ledger.state.missing")
STATE_LATE = text("ledger.state.late")
STATE_CORRECTED = text("ledger.state.corrected")
STATE_RETURNED = text("ledger.state.returned")
STATES = (STATE_SUBMITTED, STATE_CORRECTED, STATE_LATE, STATE_RETURNED, STATE_MISSING)

MAX_FIELDS_IN_NOTE = 5  # a 数据更正 note lists at most this many changed fields


# --------------------------------------------------------------------------------- errors
class LedgerError(Exception):
    """The ledger cannot be used. ``message`` is one Chinese sentence with its advice."""

    kind = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LedgerLocked(LedgerError):
    kind = "locked"


class LedgerDiskFull(LedgerError):
    kind = "disk_full"


class LedgerReadOnly(LedgerError):
    kind = "read_only"


class LedgerPermission(LedgerError):
    kind = "permission"


class LedgerIOError(LedgerError):
    kind = "io"


class LedgerDamaged(LedgerError):
    kind = "damaged"

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class LedgerTooNew(LedgerError):
    kind = "too_new"


class RunIdTaken(LedgerError):
    kind = "run_id_taken"


def _error(cls: type[LedgerError], key: str, path: Path, **params: Any) -> LedgerError:
    shown = errors.shown_path(path)
    message = text(f"ledger.errors.{key}", path=shown, **params) + text(f"ledger.advice.{key}", path=shown, **params)
    return cls(message)


def damaged(path: Path, detail: str) -> LedgerDamaged:
    shown = errors.shown_path(path)
    message = text("ledger.errors.damaged", path=shown, detail=detail) + text("ledger.advice.damaged", path=shown)
    return LedgerDamaged(message, detail)


def classify(exc: BaseException, path: Path) -> LedgerError:
    """The ledger's state behind an SQLite or system error, as the right :class:`LedgerError`."""
    if isinstance(exc, LedgerError):
        return exc
    seconds = f"{settings.LEDGER_BUSY_TIMEOUT_S:g}"
    if isinstance(exc, sqlite3.Error):
        name = str(getattr(exc, "sqlite_errorname", "") or "")
        said = str(exc).lower()
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in said:
            return _error(LedgerLocked, "locked", path, seconds=seconds)
        if name.startswith("SQLITE_FULL") or "disk is full" in said:
            return _error(LedgerDiskFull, "disk_full", path)
        if name.startswith("SQLITE_READONLY") or "readonly database" in said:
            return _error(LedgerReadOnly, "read_only", path)
        if name.startswith(("SQLITE_PERM", "SQLITE_AUTH")):
            return _error(LedgerPermission, "permission", path)
        if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in said or "not a database" in said:
            return damaged(path, _sqlite_detail(name, said))
        if "no such table" in said or "no such column" in said:
            return damaged(path, text("ledger.detail.missing_part", what=str(exc).split(":")[-1].strip()))
        if name.startswith("SQLITE_CANTOPEN") or "unable to open" in said:
            return _cannot_open(path)
        if name.startswith("SQLITE_IOERR") or "disk i/o error" in said:
            if name == "SQLITE_IOERR_SHORT_READ":
                return damaged(path, text("ledger.detail.short_read"))
            if _disk_full(path):
                return _error(LedgerDiskFull, "disk_full", path)
            return _error(LedgerIOError, "io", path)
        return damaged(path, _sqlite_detail(name, said))
    err = errors.os_error_in(exc)
    if err is not None:
        import errno as E

        if err.errno in errors.DISK_FULL:
            return _error(LedgerDiskFull, "disk_full", path)
        if err.errno == E.EROFS:
            return _error(LedgerReadOnly, "read_only", path)
        if err.errno in (E.EACCES, E.EPERM):
            return _error(LedgerPermission, "permission", path)
        return _error(LedgerIOError, "os", path, reason=errors.reason(err), advice=errors.advice(err))
    raise exc


def _sqlite_detail(name: str, said: str) -> str:
    if "not a database" in said or name == "SQLITE_NOTADB":
        return text("ledger.detail.not_a_database")
    if "malformed" in said or name.startswith("SQLITE_CORRUPT"):
        return text("ledger.detail.malformed")
    return text("ledger.detail.sqlite", name=name or "SQLITE_ERROR")


def _cannot_open(path: Path) -> LedgerError:
    folder = Path(path).parent
    if not folder.exists():
        return _error(LedgerIOError, "os", path, reason=text("errors.errno.missing.reason"),
                      advice=text("errors.errno.missing.advice"))
    if not os.access(folder, os.W_OK) or (Path(path).exists() and not os.access(path, os.W_OK)):
        return _error(LedgerReadOnly, "read_only", path)
    return _error(LedgerIOError, "io", path)


def _disk_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(Path(path).parent).free < 1024 * 1024
    except OSError:
        return False


T = TypeVar("T")


def _guarded(method: Callable[..., T]) -> Callable[..., T]:
    """Every SQLite or system error of a ledger method said as the ledger's state."""

    @functools.wraps(method)
    def wrapper(self: Ledger, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except (LedgerError, sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise  # a programming error stays one (it is not the ledger's state)
        except (sqlite3.Error, OSError) as exc:
            raise classify(exc, self.path) from exc

    return wrapper


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
    # 3: runs of several output folders in one ledger, a checksum per run, why a run failed.
    [
        "ALTER TABLE runs ADD COLUMN out_dir TEXT",
        "ALTER TABLE runs ADD COLUMN digest TEXT",
        "ALTER TABLE runs ADD COLUMN error TEXT",
        "CREATE INDEX runs_out_dir ON runs (out_dir, complete)",
    ],
    # 4: intake -- what `sdbatch fetch` took from the mailbox (issue 18; tables in sdbatch/intake/store.py).
    INTAKE_MIGRATION,
    # 5: history across rounds (issue 19): each application's outcome per program round and the
    # decisions staff record.  Runs recorded before are read into round_outcomes once, from their
    # folders' results.json or their outcomes (:func:`_backfill_rounds`).
    [
        """CREATE TABLE round_outcomes (
            run_id TEXT NOT NULL,
            app_id TEXT NOT NULL,
            program TEXT NOT NULL,
            family TEXT NOT NULL,
            applicant_id TEXT,
            applicant_name TEXT,
            name TEXT,
            city TEXT,
            status TEXT,
            tier TEXT,
            subsidy REAL,
            received TEXT,
            PRIMARY KEY (run_id, app_id)
        )""",
        "CREATE INDEX round_outcomes_family ON round_outcomes (family, program)",
        """CREATE TABLE decisions (
            uid TEXT PRIMARY KEY,
            family TEXT NOT NULL,
            applicant_id TEXT,
            applicant_name TEXT,
            kind TEXT NOT NULL,
            clause TEXT,
            round TEXT,
            tier TEXT,
            result TEXT,
            amount REAL,
            effective TEXT NOT NULL,
            voids TEXT,
            who TEXT NOT NULL,
            recorded TEXT NOT NULL,
            note TEXT NOT NULL,
            digest TEXT NOT NULL
        )""",
        "CREATE INDEX decisions_family ON decisions (family, applicant_id)",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


@functools.cache
def _expected_schema(n_migrations: int) -> dict[str, frozenset[str]]:
    """table -> columns after the first ``n_migrations`` migrations (built in memory)."""
    conn = sqlite3.connect(":memory:")
    try:
        for migration in MIGRATIONS[:n_migrations]:
            for statement in migration:
                conn.execute(statement)
        return _schema_of(conn)
    finally:
        conn.close()


def _schema_of(conn: sqlite3.Connection) -> dict[str, frozenset[str]]:
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: frozenset(r[1] for r in conn.execute(f"PRAGMA table_info('{t}')")) for t in tables}


# ------------------------------------------------------------------------------- snapshot
def snapshot_inbox(inbox: Path, skip_prefixes: Sequence[str] = settings.IGNORED_PREFIXES,
                   exclude: Exclusions | None = None) -> list[FileSnap]:
    """Every entry under ``inbox`` (recursive), sorted, from ``stat`` only (see :mod:`sdbatch.inbox`).

    Names starting with ``skip_prefixes`` (Excel/WPS lock files ``~$…``, hidden files and folders)
    are left out: the batch ignores them, so their coming and going is no reason to run again.
    """
    return snapshot(walk(inbox, exclude), skip_prefixes)


def snapshot_digest(snapshot: Iterable[FileSnap]) -> str:
    h = hashlib.sha256()
    for s in sorted(snapshot):
        h.update(f"{s.relpath}\0{s.size}\0{s.mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def default_path(out_dir: Path) -> Path:
    return Path(out_dir) / LEDGER_NAME


def _scope_of(out_dir: Path | str | None) -> str | None:
    return os.path.realpath(out_dir) if out_dir is not None else None


# ------------------------------------------------------------------------------- a run's record
@dataclass
class RunRecord:
    """What the ledger keeps of one run: built from the documents the run publishes."""

    run: dict[str, Any]
    files: list[dict[str, Any]] = field(default_factory=list)
    # Made one at a time as they are inserted (read once): a run's 100,000 rows are never all held.
    outcomes: Iterable[dict[str, Any]] = field(default_factory=list)
    rounds: Iterable[dict[str, Any]] = field(default_factory=list)  # round_outcomes rows (history across rounds)


def run_record(results: dict[str, Any], info: dict[str, Any], run_dir: Path | str) -> RunRecord:
    """A run's record from its ``results.json`` and ``run.json`` (as written, or read back)."""
    inputs = {i.get("file"): i for i in info.get("inputs", []) if isinstance(i, dict)}
    block: dict[str, Any] = info["ledger"] if isinstance(info.get("ledger"), dict) else {}
    counts: dict[str, Any] = info["counts"] if isinstance(info.get("counts"), dict) else {}
    files = []
    for f in results.get("files", []):
        mtime = (inputs.get(f.get("file")) or {}).get("mtime")
        files.append({"name": f.get("file"), "sha256": f.get("sha256"), "size": f.get("size"), "mtime": mtime,
                      "city": f.get("city"), "status": f.get("status"), "error_code": f.get("error_code"),
                      "error": f.get("error"), "late": int(bool(f.get("late")))})
    applications = results.get("applications", [])
    run_id = str(results.get("run_id") or info.get("run_id") or Path(run_dir).name)
    run = {"id": run_id, "started": info.get("started") or "", "finished": info.get("finished"),
           "program": results.get("program"), "rules_version": results.get("rules_version"),
           "run_dir": os.path.abspath(run_dir), "exit_code": info.get("exit_code"),
           "n_files": len(files), "n_applications": len(applications),
           "counts_json": json.dumps(counts, ensure_ascii=False, sort_keys=True),
           "fingerprint": block.get("fingerprint"), "snapshot_digest": block.get("snapshot_digest"),
           "snapshot_count": block.get("snapshot_count"), "deadline": block.get("deadline")}
    from sdbatch.history.facts import rows_from_docs

    return RunRecord(run, files, _outcomes(applications), rows_from_docs(results, info))


def _outcomes(applications: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for a in applications:
        source = a.get("source") or {}
        yield {"app_id": a.get("id"), "city": a.get("city"), "name": a.get("name"), "industry": a.get("industry"),
               "status": a.get("status"), "score": a.get("score"), "rank": a.get("rank"), "file": source.get("file"),
               "values_json": _SORTED_JSON(a.get("values") or {})}


def ledger_block(result: RunResult, snapshot: Sequence[FileSnap], fingerprint: str) -> dict[str, Any]:
    """The part of run.json that only the ledger uses (no-change detection, the deadline, what the
    history across rounds keeps of each application: :func:`sdbatch.history.facts.ledger_facts`)."""
    from sdbatch.history.facts import ledger_facts

    return {"fingerprint": fingerprint, "snapshot_digest": snapshot_digest(snapshot),
            "snapshot_count": len(snapshot), "deadline": _deadline_of(result), "history": ledger_facts(result)}


def record_from_result(result: RunResult, snapshot: Sequence[FileSnap], fingerprint: str, run_dir: Path,
                       started: str, finished: str, exit_code: int) -> RunRecord:
    """A run's record straight from a RunResult (the same keys as its published documents)."""
    results = {
        "run_id": result.run_id, "program": result.program, "rules_version": result.rules_version,
        "files": [{"file": f.file, "sha256": f.sha256, "size": f.size, "city": f.city, "status": f.status,
                   "error_code": f.error_code, "error": f.error, "late": f.late} for f in result.files],
        "applications": [{"id": a.id, "program": a.program, "city": a.city, "name": a.name,
                          "industry": a.industry, "status": a.status,
                          "score": a.score, "rank": a.rank, "source": {"file": a.source.file},
                          "values": _jsonable(a.values)} for a in result.applications],
    }
    files_by_status: dict[str, int] = {}
    for f in result.files:
        files_by_status[f.status] = files_by_status.get(f.status, 0) + 1
    apps_by_status: dict[str, int] = {}
    for a in result.applications:
        apps_by_status[a.status] = apps_by_status.get(a.status, 0) + 1
    info = {"run_id": result.run_id, "started": started, "finished": finished, "exit_code": exit_code,
            "inputs": [{"file": f.file, "mtime": f.mtime} for f in result.files],
            "counts": {"files": files_by_status, "applications": apps_by_status},
            "ledger": ledger_block(result, snapshot, fingerprint)}
    return run_record(results, info, run_dir)


# --------------------------------------------------------------------------------- ledger
class Ledger:
    """An open ledger. Use :meth:`open`; close it, or use it as a context manager.

    ``out_dir`` scopes comparisons and `status` to the runs of one output folder (a ledger may be
    shared by several); without it every run counts.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, out_dir: Path | str | None = None) -> None:
        self.conn = conn
        self.path = path
        self.scope = _scope_of(out_dir)

    # ---------------------------------------------------------------- open / close
    @classmethod
    def open(cls, path: Path, migrations: Sequence[Sequence[str]] | None = None, *,
             out_dir: Path | str | None = None, check: bool = True) -> Ledger:
        """Open (creating the file and its folder if needed), migrate to the current schema and check it.

        ``migrations`` is for tests (e.g. build a version-1 database); leave it out otherwise.
        Raises a :class:`LedgerError` subclass that says the ledger's state.
        """
        path = Path(path)
        migrations = MIGRATIONS if migrations is None else migrations
        if check:
            _check_file(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=settings.LEDGER_BUSY_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise classify(exc, path) from exc
        ledger = cls(conn, path, out_dir)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(settings.LEDGER_BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            _migrate(conn, migrations, path)
            if check:
                ledger._check_contents(len(migrations))
        except BaseException as exc:
            conn.close()
            if isinstance(exc, (sqlite3.Error, OSError)):
                raise classify(exc, path) from exc
            raise
        return ledger

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

    # ---------------------------------------------------------------- checks
    def _check_contents(self, n_migrations: int) -> None:
        expected = _expected_schema(n_migrations)
        found = _schema_of(self.conn)
        for table, columns in expected.items():
            if table not in found:
                raise damaged(self.path, text("ledger.detail.missing_table", table=table))
            missing = sorted(columns - found[table])
            if missing:
                raise damaged(self.path, text("ledger.detail.missing_column", table=table, column=missing[0]))
        problem = self.integrity_check()
        if problem != "ok":
            raise damaged(self.path, text("ledger.detail.integrity", detail=problem[:200]))
        if n_migrations >= 3:
            last = self._last_complete()
            if last is not None:
                self._verify(last)

    def _verify(self, run: sqlite3.Row) -> None:
        if run["digest"] and run["digest"] != self._digest(run["id"]):
            raise damaged(self.path, text("ledger.detail.digest", run_id=run["id"]))

    @_guarded
    def check(self) -> list[str]:
        """Every run's checksum (``sdbatch ledger check``): ids of the runs whose rows changed."""
        return [r["id"] for r in self.conn.execute("SELECT id, digest FROM runs WHERE digest IS NOT NULL")
                if r["digest"] != self._digest(r["id"])]

    def _digest(self, run_id: str) -> str:
        return _run_digest(self.conn, run_id)

    @_guarded
    def check_decisions(self) -> list[str]:
        """Every decision's checksum (``sdbatch ledger check``): uids of the decisions whose row changed."""
        if not _has_table(self.conn, "decisions"):
            return []
        bad = []
        for row in self.conn.execute("SELECT * FROM decisions ORDER BY rowid"):
            try:
                ok = Decision.from_dict(dict(row)).digest == row["digest"]
            except ValueError:
                ok = False
            if not ok:
                bad.append(str(row["uid"]))
        return bad

    # ---------------------------------------------------------------- history across rounds
    @_guarded
    def round_rows(self, make: Callable[[dict[str, Any]], T] = dict,  # type: ignore[assignment]
                   values: bool = True, keep: Callable[[Any], bool] | None = None) -> list[T]:
        """Each program round's applications as its last complete run recorded them (in any output
        folder of this ledger): ``round_outcomes`` rows with the run's start and (``values``) the
        values, each made into ``make(row)`` as it is read (the history's records: never every row
        as a dict).  Without the values, :meth:`round_values` reads one record's when needed.
        ``keep(row)`` (the row as read: ``row["family"]``, ``row["program"]``…) leaves the others out,
        in the same order."""
        if not _has_table(self.conn, "round_outcomes"):
            return []
        # Which run is each program's last is asked first, so that only its rows are kept: a ledger
        # of many nightly runs is never held whole (issue 16).  The rows come in the same order.
        last = dict(self.conn.execute(
            """SELECT ro.program, MAX(runs.rowid) FROM round_outcomes ro JOIN runs ON runs.id = ro.run_id
               WHERE runs.complete = 1 GROUP BY ro.program""").fetchall())
        with_values = (", o.values_json AS values_json", "LEFT JOIN outcomes o ON o.run_id = ro.run_id "
                       "AND o.app_id = ro.app_id") if values else ("", "")
        return [make(dict(r)) for r in self.conn.execute(
            f"""SELECT ro.*, runs.started AS started, runs.rowid AS run_order{with_values[0]}
                FROM round_outcomes ro JOIN runs ON runs.id = ro.run_id {with_values[1]}
                WHERE runs.complete = 1""") if r["run_order"] == last.get(r["program"]) and (keep is None or keep(r))]

    @_guarded
    def round_values(self, run_id: str, app_id: str) -> str | None:
        """The values a run recorded for one application (JSON text), or None."""
        found = self.conn.execute("SELECT values_json FROM outcomes WHERE run_id = ? AND app_id = ?",
                                  (run_id, app_id)).fetchone()
        return found[0] if found is not None else None

    @_guarded
    def decisions(self) -> list[Decision]:
        """Every decision recorded (void entries included), in the order they were recorded."""
        if not _has_table(self.conn, "decisions"):
            return []
        out = []
        for row in self.conn.execute("SELECT * FROM decisions ORDER BY recorded, rowid"):
            try:
                out.append(Decision.from_dict(dict(row)))
            except ValueError:
                continue  # reported by check_decisions
        return out

    @_guarded
    def add_decisions(self, entries: Sequence[Decision]) -> int:
        """Record decisions (already in the journal) in one transaction; an entry whose uid the ledger
        has is left alone.  Returns how many were new."""
        added = 0
        with self._transaction():
            for entry in entries:
                data = entry.to_dict()
                cur = self.conn.execute(
                    f"INSERT OR IGNORE INTO decisions ({', '.join(DECISION_KEYS)}, digest) "
                    f"VALUES ({', '.join('?' * (len(DECISION_KEYS) + 1))})",
                    [data[k] for k in DECISION_KEYS] + [entry.digest])
                added += cur.rowcount
        return added

    def sync_decisions(self) -> tuple[int, int, list[int]]:
        """Bring the ledger and the decisions journal beside it into agreement: entries only in the
        journal are recorded (a ledger rebuilt), entries only in the ledger are appended to the
        journal (a journal lost).  Returns (recorded, appended, journal lines left out)."""
        from sdbatch.history import journal

        path = journal.journal_path(self.path)
        try:
            found = journal.read(path)
        except OSError as exc:
            raise classify(exc, path) from exc
        known = {d.uid for d in self.decisions()}
        recorded = self.add_decisions([d for d in found.entries if d.uid not in known])
        in_journal = {d.uid for d in found.entries}
        missing = [d for d in self.decisions() if d.uid not in in_journal]
        try:
            journal.append(path, missing)
        except OSError as exc:
            raise classify(exc, path) from exc
        return recorded, len(missing), found.bad_lines

    # ---------------------------------------------------------------- runs
    def _scoped(self, row: sqlite3.Row) -> bool:
        if self.scope is None:
            return True
        if row["out_dir"] is not None:
            return bool(row["out_dir"] == self.scope)
        if not row["run_dir"]:
            return True  # a run begun without saying where (schema 2): shown everywhere
        return _scope_of(Path(row["run_dir"]).parent) == self.scope

    def _runs(self, complete: bool | None = None) -> Iterator[sqlite3.Row]:
        """This scope's runs, newest first."""
        where = "" if complete is None else f"WHERE complete = {int(complete)}"
        has_scope = self.schema_version >= 3
        for row in self.conn.execute(f"SELECT * FROM runs {where} ORDER BY rowid DESC"):
            if not has_scope or self._scoped(row):
                yield row

    def _last_complete(self) -> sqlite3.Row | None:
        return next(self._runs(complete=True), None)

    @_guarded
    def has_previous_run(self) -> bool:
        return self._last_complete() is not None

    @_guarded
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

    @_guarded
    def begin_run(self, run_id: str, started: str) -> None:
        """Mark a run as started (complete=0) so that `status` can show runs that died."""
        with self._transaction():
            self.conn.execute("INSERT OR IGNORE INTO runs (id, started, complete) VALUES (?, ?, 0)",
                              (run_id, started))
            if self.scope is not None and self.schema_version >= 3:
                self.conn.execute("UPDATE runs SET out_dir = ? WHERE id = ? AND complete = 0", (self.scope, run_id))

    @_guarded
    def reserve_run(self, base: str, started: str, taken: Callable[[str], bool] = lambda _id: False,
                    explicit: bool = False) -> str:
        """A run id no run of this ledger (of any output folder) nor ``taken`` has, recorded as
        started in the same transaction: two runs sharing a ledger never get the same id.

        ``explicit``: the id was given (``--run-id``); it is used as given or refused."""
        with self._transaction():
            n = 1
            while True:
                run_id = base if n == 1 else f"{base}-{n}"
                used = self.conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is not None
                if not used and not taken(run_id):
                    break
                if explicit:
                    raise RunIdTaken(text("ledger.errors.run_id_taken", run_id=run_id))
                n += 1
            self.conn.execute("INSERT INTO runs (id, started, complete, out_dir) VALUES (?, ?, 0, ?)",
                              (run_id, started, self.scope))
        return run_id

    def fail_run(self, run_id: str, reason: str) -> None:
        """Say why a started run stopped (exit 2).  Best effort: the ledger may be the reason."""
        with contextlib.suppress(sqlite3.Error, OSError, LedgerError):
            with self._transaction():
                self.conn.execute("UPDATE runs SET exit_code = 2, error = ?, finished = ? WHERE id = ? AND complete = 0",
                                  (reason, clock.now().isoformat(timespec="seconds"), run_id))

    @_guarded
    def record_run(self, result: RunResult, snapshot: Sequence[FileSnap], fingerprint: str, run_dir: Path,
                   started: str, finished: str, exit_code: int, publish: Callable[[], Any] | None = None) -> None:
        """Record a finished run, its files and its outcomes, in one transaction (complete=1)."""
        self.record(record_from_result(result, snapshot, fingerprint, run_dir, started, finished, exit_code),
                    publish)

    @_guarded
    def record_docs(self, results: dict[str, Any], info: dict[str, Any], run_dir: Path,
                    publish: Callable[[], Any] | None = None, unpublish: Callable[[], Any] | None = None) -> None:
        """Record a run from the results.json and run.json it publishes; see :meth:`record`."""
        self.record(run_record(results, info, run_dir), publish, unpublish)

    def record(self, rec: RunRecord, publish: Callable[[], Any] | None = None,
               unpublish: Callable[[], Any] | None = None) -> None:
        """Insert ``rec`` in one transaction; ``publish`` (the folder's rename) runs inside it, just
        before the commit.  When the commit fails, ``unpublish`` undoes the rename: a folder is
        published if and only if its run is recorded as complete."""
        self.conn.execute("BEGIN IMMEDIATE")
        attempted = False
        try:
            self._insert(rec)
            if publish is not None:
                attempted = True
                with errors.writing(Path(rec.run["run_dir"])):  # the folder's failure, not the ledger's
                    publish()
            self.conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            if attempted and unpublish is not None:  # a no-op when the rename did not happen
                with contextlib.suppress(OSError):
                    unpublish()
            raise

    def _insert(self, rec: RunRecord) -> None:
        c = self.conn
        run = dict(rec.run)
        run_id = run["id"]
        scope = self.scope or _scope_of(Path(run["run_dir"]).parent)
        rounds = _has_table(c, "round_outcomes")
        for table, key in (("run_files", "run_id"), ("outcomes", "run_id"), ("runs", "id")):
            c.execute(f"DELETE FROM {table} WHERE {key} = ?", (run_id,))
        if rounds:
            c.execute("DELETE FROM round_outcomes WHERE run_id = ?", (run_id,))
        c.execute(
            """INSERT INTO runs (id, started, finished, program, rules_version, run_dir, exit_code,
                   n_files, n_applications, counts_json, complete, fingerprint, snapshot_digest,
                   snapshot_count, deadline, out_dir)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)""",
            (run_id, run["started"], run["finished"], run["program"], run["rules_version"], run["run_dir"],
             run["exit_code"], run["n_files"], run["n_applications"], run["counts_json"], run["fingerprint"],
             run["snapshot_digest"], run["snapshot_count"], run["deadline"], scope))
        started = run["started"]
        for f in rec.files:
            c.execute(
                """INSERT OR REPLACE INTO run_files
                   (run_id, name, sha256, size, mtime, city, status, error_code, error, late)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (run_id, f["name"], f["sha256"], f["size"], f["mtime"], f["city"], f["status"], f["error_code"],
                 f["error"], f["late"]))
            c.execute(
                """INSERT INTO files (sha256, name, size, mtime, first_seen, first_run, last_seen,
                       last_run, city, status, error)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (sha256, name) DO UPDATE SET
                       size = excluded.size, mtime = excluded.mtime, last_seen = excluded.last_seen,
                       last_run = excluded.last_run, city = excluded.city, status = excluded.status,
                       error = excluded.error""",
                (f["sha256"], f["name"], f["size"], f["mtime"], started, run_id, started, run_id, f["city"],
                 f["status"], f["error"]))
        # one statement over the rows as they are made, not a cursor per row
        c.executemany(
            """INSERT OR REPLACE INTO outcomes
               (run_id, app_id, city, name, industry, status, score, rank, file, values_json)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            ((run_id, detached(a["app_id"]), a["city"], detached(a["name"]), a["industry"], a["status"], a["score"],
              a["rank"], a["file"], a["values_json"]) for a in rec.outcomes))
        if rounds:
            _insert_rounds(c, run_id, rec.rounds)
        c.execute("UPDATE runs SET digest = ? WHERE id = ?", (self._digest(run_id), run_id))

    # ---------------------------------------------------------------- published folders
    @_guarded
    def reconcile(self, out_dir: Path | None = None) -> list[str]:
        """Record the run folders published in ``out_dir`` (default: the scope) that the ledger
        lacks — a run killed between publishing and recording, or a ledger rebuilt.  Returns their ids."""
        folder = Path(out_dir) if out_dir is not None else (Path(self.scope) if self.scope else None)
        if folder is None or not folder.is_dir():
            return []
        # run ids are unique in a ledger: a folder whose id any complete run has is recorded
        known = {r[0] for r in self.conn.execute("SELECT id FROM runs WHERE complete = 1")}
        candidates = [p for p in _run_folders(folder) if p.name not in known]
        found = []
        for path in candidates:
            docs = read_run_folder(path)
            if docs is not None:
                found.append((docs[1].get("started") or "", path.name, path, docs))
        imported = []
        for _started, _name, path, (results, info) in sorted(found, key=lambda t: (t[0], t[1])):
            rec = run_record(results, info, path)
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                row = self.conn.execute("SELECT complete FROM runs WHERE id = ?", (rec.run["id"],)).fetchone()
                if row is None or not row["complete"]:
                    self._insert(rec)
                    imported.append(rec.run["id"])
                self.conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
                raise
        return imported

    @_guarded
    def last_runs(self, n: int = 5) -> list[dict[str, Any]]:
        """The ``n`` most recent runs, newest first (incomplete ones included, ``complete`` says)."""
        out = []
        for r in self._runs():
            d = dict(r)
            d["counts"] = json.loads(d.pop("counts_json") or "{}")
            d["complete"] = bool(d["complete"])
            out.append(d)
            if len(out) >= n:
                break
        return out

    # ---------------------------------------------------------------- comparisons
    @_guarded
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

    def _previous_outlines(self, run_id: str, current: Mapping[str, Any]) -> dict[str, _Outline]:
        """The outcomes of run ``run_id`` without their values: what matching and the status
        columns of the 变更情况 sheet need (a tuple each: 100,000 of them are held at once).  One
        under an id of ``current`` (id -> application) is held under that application's own id,
        without its name (:meth:`_previous_names` reads those when they are needed)."""
        out: dict[str, _Outline] = {}
        for r in self.conn.execute("SELECT app_id, city, name, status, score, file FROM outcomes WHERE run_id = ?",
                                   (run_id,)):
            app = current.get(r["app_id"])
            out[r["app_id"] if app is None else app.id] = _Outline(
                held_once(r["city"]), held_once(r["name"]) if app is None else None, held_once(r["status"]),
                r["score"], held_once(r["file"]))
        return out

    def _previous_names(self, run_id: str, current: Mapping[str, Any]) -> dict[str, str | None]:
        """The names :meth:`_previous_outlines` left out (previous id -> name)."""
        return {pid: name for pid, name in self.conn.execute(
            "SELECT app_id, name FROM outcomes WHERE run_id = ?", (run_id,)) if pid in current}

    def _previous_files(self) -> list[dict[str, Any]]:
        last = self._last_complete()
        if last is None:
            return []
        return [dict(r) for r in self.conn.execute("SELECT * FROM run_files WHERE run_id = ?", (last["id"],))]

    @_guarded
    def changes(self, result: RunResult) -> list[dict[str, Any]]:
        """Rows of the 变更情况 sheet: differences between ``result`` and the last complete run.

        Call it *before* :meth:`record_run` of the same result.  Empty on the first run (see
        :meth:`has_previous_run` to say so in the sheet).  Applications are matched by id, then by
        (city, name) so that a resubmitted workbook whose rows moved still matches.
        Each row: kind, city, name, old_status, new_status (Chinese labels), note, plus app_id,
        old_status_code, new_status_code for programs.  Fields are named by their label in the
        rules file.
        """
        last = self._last_complete()
        if last is None:
            return []
        from sdbatch.catalogue import label as vocab

        def status_label(code: str | None) -> str:
            return vocab("status", code) if code else ""

        field_label = _field_labeller(result)
        current: dict[str, Any] = {}
        for a in result.applications:
            current.setdefault(a.id, a)
        # An application of the last run under an id of this run is held by that id (this run's
        # own text) without its name: only an unmatched one is listed as withdrawn, by its name
        # (issue 16: 100,000 applications run again held their ids and names twice).
        prev = self._previous_outlines(last["id"], current)
        matched_prev: dict[str, Any] = {}  # previous id -> the application matched to it
        assigned: dict[int, str | None] = {}  # id(app) -> its previous id, where it is not its own id
        # (city, name) -> previous id, made when an application's id is not found (a resubmitted
        # workbook whose rows moved): a run of the same files finds every id and never needs it
        by_key: dict[tuple[Any, str], str] | None = None
        for a in result.applications:
            if a.id in prev:
                pid: str | None = a.id
            else:
                if by_key is None:
                    names = self._previous_names(last["id"], current)
                    by_key = {(p.city, _norm_name(names.get(pid, p.name))): pid for pid, p in prev.items()}
                    del names
                pid = by_key.get((a.city, _norm_name(a.name)))
            if pid is not None and pid in matched_prev:
                pid = None
            if pid is not None:
                matched_prev[pid] = a
            if pid != a.id:
                assigned[id(a)] = pid
        # The values are compared in a second pass over the previous run, one row at a time: the
        # last run's values are never all held (issue 16: 100,000 applications run again).
        value_diffs: dict[str, list[tuple[str, Any, Any]]] = {}
        for pid, stored in self.conn.execute("SELECT app_id, values_json FROM outcomes WHERE run_id = ?",
                                             (last["id"],)):
            app = matched_prev.get(pid)
            if app is not None:
                diffs = _value_diffs(json.loads(stored) if stored else {}, _jsonable(app.values), field_label)
                if diffs:
                    value_diffs[pid] = diffs

        rows: list[dict[str, Any]] = []
        for a in result.applications:
            pid = assigned.get(id(a), a.id)
            base = {"city": a.city, "name": a.name, "app_id": a.id, "new_status": status_label(a.status),
                    "new_status_code": a.status}
            if pid is None:
                rows.append({**base, "kind": CHANGE_NEW, "old_status": "", "old_status_code": None,
                             "note": text("ledger.note.from_file", file=a.source.file)})
                continue
            p = prev[pid]
            diffs = value_diffs.get(pid, [])
            old = {"old_status": status_label(p.status), "old_status_code": p.status}
            if p.status != a.status:
                note = [text("ledger.note.score", old=_fmt(p.score), new=_fmt(a.score))] \
                    if not _same(p.score, a.score) else []
                if diffs:
                    note.append(text("ledger.note.corrected", diffs=_join_diffs(diffs)))
                rows.append({**base, **old, "kind": CHANGE_STATUS, "note": text("ledger.note.separator").join(note)})
            elif diffs:
                rows.append({**base, **old, "kind": CHANGE_VALUES, "note": _join_diffs(diffs)})
            elif not _same(p.score, a.score):  # a park re-scored by a corrected expert sheet: its tier may move
                rows.append({**base, **old, "kind": CHANGE_SCORE,
                             "note": text("ledger.note.score", old=_fmt(p.score), new=_fmt(a.score))})
        for pid, p in prev.items():
            if pid in matched_prev:
                continue
            rows.append({"kind": CHANGE_WITHDRAWN, "city": p.city, "name": p.name, "app_id": pid,
                         "old_status": status_label(p.status), "old_status_code": p.status,
                         "new_status": "", "new_status_code": None,
                         "note": text("ledger.note.withdrawn", file=p.file)})
        from sdbatch.jurisdiction import jurisdiction_of

        order = jurisdiction_of(result).order
        rows.sort(key=lambda r: (order.get(r["city"], len(order)), r["city"] or "",
                                 CHANGE_KINDS.index(r["kind"]), r["name"] or ""))
        return rows

    @_guarded
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
    @_guarded
    def city_states(self, deadline: dt.date | None = None, today: dt.date | None = None) -> dict[str, str]:
        """Each of the 16 cities -> 已报送 / 已更正 / 逾期 / 已退回 / 未报送, from the last complete run.

        已更正: the city has a superseded file (a correction was sent), in any run of this scope.
        逾期: a file arrived after the deadline (flagged late by the run, or modified after it).
        已退回: the city's files were received and all rejected (it has to send a readable one).
        未报送: no file yet (also after the deadline: the city still has to send one).
        ``deadline`` defaults to the one recorded by the last run.
        """
        from sdbatch.jurisdiction import default

        last = self._last_complete()
        if deadline is None and last is not None and last["deadline"]:
            deadline = dt.date.fromisoformat(last["deadline"])
        files = self._previous_files()
        runs = [r["id"] for r in self._runs(complete=True)]
        corrected: set[str] = set()
        for i in range(0, len(runs), 500):
            chunk = runs[i:i + 500]
            corrected |= {r[0] for r in self.conn.execute(
                "SELECT DISTINCT city FROM run_files WHERE status = 'superseded' AND city IS NOT NULL "
                f"AND run_id IN ({', '.join('?' * len(chunk))})", chunk)}
        states = {}
        for city in default().cities:
            mine = [f for f in files if f["city"] == city and f["status"] in ("processed", "superseded")]
            if not mine:
                returned = any(f["city"] == city and f["status"] == "rejected" for f in files)
                states[city] = STATE_RETURNED if returned else STATE_MISSING
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


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def _run_digest(conn: sqlite3.Connection, run_id: str) -> str:
    """A checksum over the run's rows (its runs row, files, outcomes and round outcomes), as stored.
    A run without round outcomes (recorded before schema 4) keeps the checksum it had."""
    run = conn.execute(f"SELECT {', '.join(_DIGEST_RUN_COLUMNS)} FROM runs WHERE id = ?", (run_id,)).fetchone()
    h = hashlib.sha256(json.dumps(list(run) if run else None, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    tables: list[tuple[str, tuple[str, ...], str]] = [("run_files", _RUN_FILE_COLUMNS, "name"),
                                                      ("outcomes", _OUTCOME_COLUMNS, "app_id")]
    if _has_table(conn, "round_outcomes"):
        tables.append(("round_outcomes", _ROUND_COLUMNS, "app_id"))
    for table, columns, key in tables:
        for row in conn.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE run_id = ? ORDER BY {key}", (run_id,)):
            h.update(_ROW_JSON(list(row)).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _insert_rounds(conn: sqlite3.Connection, run_id: str, rows: Iterable[dict[str, Any]]) -> None:
    conn.executemany(
        f"INSERT OR REPLACE INTO round_outcomes (run_id, {', '.join(_ROUND_COLUMNS)}) "
        f"VALUES (?, {', '.join('?' * len(_ROUND_COLUMNS))})",
        ([run_id] + [detached(r.get(k)) if k in _OWN_TEXTS else r.get(k) for k in _ROUND_COLUMNS] for r in rows
         if r.get("app_id") and r.get("program") and r.get("family")))


def _backfill_rounds(conn: sqlite3.Connection) -> None:
    """Migration 4's data step: the runs recorded before it get their round outcomes, from their
    folder's results.json when it is still there, else from their outcomes (no tier then).  A run
    whose checksum held keeps a checksum that holds; one whose checksum was already wrong stays wrong."""
    from sdbatch.history.facts import derive_rows, rows_from_docs

    runs = conn.execute("SELECT id, run_dir, digest FROM runs WHERE complete = 1 ORDER BY rowid").fetchall()
    for run_id, run_dir, digest in runs:
        sound = digest is not None and digest == _run_digest(conn, run_id)
        docs = read_run_folder(Path(run_dir)) if run_dir else None
        mtimes = {r[0]: r[1] for r in conn.execute("SELECT name, mtime FROM run_files WHERE run_id = ?", (run_id,))}
        if docs is not None and str(docs[0].get("run_id") or "") in ("", run_id):
            rows = rows_from_docs(*docs, mtimes=mtimes)
        else:
            apps = []
            for app_id, city, name, status, file, values_json in conn.execute(
                    "SELECT app_id, city, name, status, file, values_json FROM outcomes WHERE run_id = ?", (run_id,)):
                try:
                    values = json.loads(values_json) if values_json else {}
                except ValueError:
                    values = {}
                apps.append({"id": app_id, "city": city, "name": name, "status": status, "source": {"file": file},
                             "values": values})
            rows = derive_rows(apps, mtimes)
        _insert_rounds(conn, run_id, rows)
        if sound:
            conn.execute("UPDATE runs SET digest = ? WHERE id = ?", (_run_digest(conn, run_id), run_id))


# Data steps of migrations (number -> function), run inside the migration's transaction.
_MIGRATION_STEPS: dict[int, Callable[[sqlite3.Connection], None]] = {5: _backfill_rounds}

_DIGEST_RUN_COLUMNS = ("id", "started", "finished", "program", "rules_version", "run_dir", "exit_code", "n_files",
                       "n_applications", "counts_json", "complete", "fingerprint", "snapshot_digest",
                       "snapshot_count", "deadline", "out_dir")
_RUN_FILE_COLUMNS = ("name", "sha256", "size", "mtime", "city", "status", "error_code", "error", "late")
_OUTCOME_COLUMNS = ("app_id", "city", "name", "industry", "status", "score", "rank", "file", "values_json")
_ROUND_COLUMNS = ("app_id", "program", "family", "applicant_id", "applicant_name", "name", "city", "status", "tier",
                  "subsidy", "received")
# json.dumps(value, ensure_ascii=False[, sort_keys=True]) byte for byte, without making an encoder per
# call (an application's values and the checksum's rows: hundreds of thousands of calls, issue 16)
_SORTED_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
_ROW_JSON = json.JSONEncoder(ensure_ascii=False).encode
_OWN_TEXTS = frozenset({"app_id", "applicant_name", "name"})  # a text of each application's own


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
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")


def _migrate(conn: sqlite3.Connection, migrations: Sequence[Sequence[str]], path: Path) -> None:
    conn.execute("BEGIN IMMEDIATE")  # one migrator at a time; readers wait on busy_timeout
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise _error(LedgerTooNew, "too_new", path, version=version, supported=len(MIGRATIONS))
        for number in range(version + 1, len(migrations) + 1):
            for statement in migrations[number - 1]:
                conn.execute(statement)
            step = _MIGRATION_STEPS.get(number) if migrations[number - 1] is MIGRATIONS[number - 1] else None
            if step is not None:
                step(conn)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


def _check_file(path: Path) -> None:
    """Damage SQLite itself would notice late or never: a foreign header, a cut-off file."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    except OSError as exc:
        raise classify(exc, path) from exc
    if size == 0:
        return  # created and never written (a run killed at its very start): a new ledger
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
    except OSError as exc:
        raise classify(exc, path) from exc
    if len(head) < 100 or not head.startswith(SQLITE_HEADER):
        raise damaged(path, text("ledger.detail.not_a_database"))
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    change_counter, valid_for = head[24:28], head[92:96]
    wal = Path(f"{path}-wal")
    wal_pending = wal.exists() and wal.stat().st_size > 0
    if pages and change_counter == valid_for and not wal_pending and size < pages * page_size:
        raise damaged(path, text("ledger.detail.truncated", expected=pages * page_size, actual=size))


# ------------------------------------------------------------------------------- run folders
def _run_folders(out_dir: Path) -> list[Path]:
    try:
        entries = list(os.scandir(out_dir))
    except OSError:
        return []
    return sorted(Path(e.path) for e in entries
                  if not e.name.startswith(".") and e.is_dir(follow_symlinks=False))


def read_run_folder(path: Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(results.json, run.json) of a run folder sdbatch published, or None."""
    if provenance.run_folder_id(path, settings.RUN_JSON_MAX_BYTES) is None:
        return None
    try:
        results_path = path / provenance.RESULTS_JSON
        if results_path.stat().st_size > settings.RUN_JSON_MAX_BYTES * 16:
            return None
        results = json.loads(results_path.read_text(encoding="utf-8"))
        info = json.loads((path / provenance.RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(results, dict) or not isinstance(info, dict):
        return None
    return results, info


# ------------------------------------------------------------------------------- check and recover
@dataclass
class CheckReport:
    path: Path
    ok: bool
    message: str
    kind: str = "ok"
    runs: int = 0


def check_ledger(path: Path, out_dir: Path | None = None) -> CheckReport:
    """``sdbatch ledger check``: the ledger's state in one sentence (never repairs anything)."""
    path = Path(path)
    shown = errors.shown_path(path)
    if not path.exists():
        return CheckReport(path, False, text("ledger.check.missing", path=shown), "missing")
    try:
        with Ledger.open(path, out_dir=out_dir) as led:
            bad = led.check()
            if bad:
                raise damaged(path, text("ledger.detail.digest", run_id=bad[0]))
            bad = led.check_decisions()
            if bad:
                raise damaged(path, text("ledger.detail.decision_digest", uid=bad[0]))
            runs = len(led.last_runs(10**9))
    except LedgerError as exc:
        return CheckReport(path, False, exc.message, exc.kind)
    return CheckReport(path, True, text("ledger.check.ok", path=shown, runs=runs), "ok", runs)


@dataclass
class RecoverReport:
    path: Path
    backup: Path | None
    imported: list[str]
    skipped: list[str]
    decisions: int = 0  # decisions recorded again from the journal
    bad_journal_lines: list[int] = field(default_factory=list)

    def summary(self) -> str:
        lines = []
        if self.backup is not None:
            lines.append(text("ledger.recover.backup", backup=errors.shown_path(self.backup)))
        lines.append(text("ledger.recover.rebuilt", path=errors.shown_path(self.path), count=len(self.imported)))
        if self.imported:
            lines.append(text("ledger.recover.runs", runs=join(self.imported)))
        for name in self.skipped:
            lines.append(text("ledger.recover.skipped", folder=name))
        if self.decisions:
            lines.append(text("ledger.recover.decisions", count=self.decisions))
        if self.bad_journal_lines:
            lines.append(text("ledger.recover.bad_journal", lines=join(self.bad_journal_lines)))
        lines.append(text("ledger.recover.note"))
        return "\n".join(lines)


def recover(path: Path, out_dir: Path, *, force: bool = False) -> RecoverReport:
    """Back up a damaged ledger (and its companions) beside it and rebuild it from the run folders
    published in ``out_dir``.  Call it holding the run lock of ``out_dir``.

    A sound ledger is left alone unless ``force``.  Raises LedgerError when the new ledger cannot
    be written (disk full, read-only…).
    """
    path = Path(path)
    backup: Path | None = None
    if path.exists() or any(Path(f"{path}{s}").exists() for s in COMPANIONS):
        state = check_ledger(path, out_dir)
        if state.ok and not force:
            raise LedgerError(text("ledger.recover.sound", path=errors.shown_path(path)))
        if state.kind in ("locked", "disk_full", "read_only", "permission", "io", "too_new") and not force:
            raise LedgerError(text("ledger.recover.not_damaged", reason=state.message))
        stamp = clock.now().strftime("%Y%m%d-%H%M%S")
        backup = path.with_name(f"{path.name}.damaged-{stamp}")
        try:
            for suffix in ("", *COMPANIONS):
                src = Path(f"{path}{suffix}")
                if src.exists():
                    os.replace(src, Path(f"{backup}{suffix}"))
        except OSError as exc:
            raise classify(exc, path) from exc
    with Ledger.open(path, out_dir=out_dir) as led:
        folders = _run_folders(Path(out_dir))
        imported = led.reconcile(Path(out_dir))
        skipped = [p.name for p in folders if p.name not in imported and read_run_folder(p) is None]
        decisions, _appended, bad_lines = led.sync_decisions()
    return RecoverReport(path, backup, imported, skipped, decisions, bad_lines)


# ------------------------------------------------------------------------------- helpers
def _deadline_of(result: RunResult) -> str | None:
    candidates = [result.rules, *result.programs.values()]
    dates: list[dt.date] = [d for r in candidates if isinstance(d := getattr(r, "deadline", None), dt.date)]
    return min(dates).isoformat() if dates else None


def _after(mtime: float | None, deadline: dt.date | None) -> bool:
    if mtime is None or deadline is None:
        return False
    return clock.from_timestamp(mtime).date() > deadline  # deadlines are China dates


class _Outline(NamedTuple):
    """An application of the last run, as the 变更情况 sheet compares it."""

    city: str | None
    name: str | None
    status: str | None
    score: float | None
    file: str | None


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
        return text("values.empty")
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _join_diffs(diffs: list[tuple[str, Any, Any]]) -> str:
    shown = [text("ledger.note.diff", field=name, old=_fmt(a), new=_fmt(b)) for name, a, b in diffs[:MAX_FIELDS_IN_NOTE]]
    more = len(diffs) - MAX_FIELDS_IN_NOTE
    joined = text("ledger.note.separator").join(shown)
    return joined + (text("ledger.note.more", count=len(diffs)) if more > 0 else "")


# --------------------------------------------------------------------------- status text
def status_text(out_dir: Path, ledger_path: Path | None = None, n_runs: int = 5,
                today: dt.date | None = None) -> str:
    """What `sdbatch status` prints: the last runs of ``out_dir`` and each city's state, in Chinese.

    Runs published but not yet recorded (a run killed in between) are recorded first, when no run
    holds the folder's lock."""
    path = Path(ledger_path) if ledger_path else default_path(Path(out_dir))
    shown = errors.shown_path(path)
    if not path.exists():
        return text("ledger.status.no_ledger", path=shown)
    with Ledger.open(path, out_dir=out_dir) as led:
        _reconcile_if_free(led, Path(out_dir))
        runs = led.last_runs(n_runs)
        lines = [text("ledger.status.ledger", path=shown), ""]
        if not runs:
            lines.append(text("ledger.status.no_runs"))
        else:
            lines.append(text("ledger.status.recent", count=len(runs)))
            for r in runs:
                if not r["complete"]:
                    if r.get("exit_code") == 2:
                        lines.append(text("ledger.status.run_failed", id=r["id"], started=r["started"],
                                          reason=r.get("error") or ""))
                    else:
                        lines.append(text("ledger.status.run_incomplete", id=r["id"], started=r["started"]))
                    continue
                apps = r["counts"].get("applications", {})
                files = r["counts"].get("files", {})
                code = r["exit_code"]
                meaning = text(f"ledger.exit.{code}") if code in (0, 1, 2) else ""
                eligible = text("ledger.status.eligible", count=apps.get("eligible", 0)) if r["n_applications"] else ""
                lines.append(text("ledger.status.run", id=r["id"], started=r["started"], finished=r["finished"],
                                  code=code, meaning=meaning, files=r["n_files"],
                                  rejected=files.get("rejected", 0), apps=r["n_applications"], eligible=eligible))
            last_dir = next((r["run_dir"] for r in runs if r["complete"]), None)
            if last_dir:
                lines.append(text("ledger.status.last_dir", path=last_dir))
        lines.append("")
        states = led.city_states(today=today)
        deadline = next((r["deadline"] for r in runs if r["complete"] and r.get("deadline")), None)
        lines.append(text("ledger.status.cities_deadline", deadline=deadline) if deadline
                     else text("ledger.status.cities"))
        for city, state in states.items():
            lines.append(text("ledger.status.city", city=city, state=state))
        tally = {s: sum(1 for v in states.values() if v == s) for s in STATES}
        lines.append(text("ledger.status.total", counts=text("ledger.note.comma").join(
            text("ledger.status.count", state=k, count=v) for k, v in tally.items())))
    return "\n".join(lines)


def _reconcile_if_free(led: Ledger, out_dir: Path) -> None:
    from sdbatch.lock import LOCK_NAME, LockHeld, RunLock

    if not out_dir.is_dir():
        return
    try:
        with RunLock(out_dir / LOCK_NAME):
            led.reconcile(out_dir)
    except (LockHeld, LedgerReadOnly, LedgerPermission, OSError):
        return  # a run is going (it records its own), or nothing may be written here: show what is
