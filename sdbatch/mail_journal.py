"""The sending journal of a run folder: ``<run>/mail/journal.sqlite3`` (issue 15 item 3).

Every SMTP transaction of ``sdbatch mail send`` is one row of ``attempts``, inserted before the
transaction and updated at each step after it, every change committed and flushed to disk before
the next step (SQLite, rollback journal, ``synchronous = EXTRA``).  The journal lives beside the
drafts it speaks of: a run folder's drafts are its messages, and a later run's drafts are new
messages (with the results of that run).  One ``mail send`` per run folder at a time (a lock in
``sending.py``) writes it.

The status of a row says how far its transaction got, so that a send killed at any moment leaves
an exact record:

=========  ================================================================================
sending    written before ``MAIL FROM``; the message's content has not been transmitted.  Left
           behind by a killed send, the server cannot have accepted the message (a server
           accepts only after the content's final dot), so the next send sends it.
data       written just before the content is transmitted.  Left behind, the outcome is
           unknown: the next send lists it for a person and sends it again only when asked
           (``--resend-unknown``).
sent       the server answered 250 to the content.
failed     the server refused (its reply is kept, and each refused recipient with its reply),
           or the connection dropped before the content was complete.
unknown    the connection dropped after the content was complete, before the server's reply.
=========  ================================================================================

A message (a draft file) is *sent* when any of its rows is ``sent``; otherwise its latest row
decides: ``data``/``unknown`` -> unknown, ``sending`` -> interrupted (to send), ``failed`` -> to
send again.  Times are China time (ISO 8601 with ``+08:00``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdbatch.catalogue import text

SCHEMA_VERSION = 1
STATUSES = ("sending", "data", "sent", "failed", "unknown")
LEGACY_LOG = "sent.json"  # what `mail send` wrote before the journal (imported once)

_SCHEMA = """
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY,
    file TEXT NOT NULL,            -- the draft's file name in mail/ (one message per file)
    city TEXT NOT NULL,
    sha256 TEXT NOT NULL,          -- of the draft as it was sent
    message_id TEXT NOT NULL,
    sender TEXT NOT NULL,          -- envelope sender
    recipients TEXT NOT NULL,      -- JSON list: envelope recipients
    subject TEXT NOT NULL,
    server TEXT NOT NULL,          -- host:port
    status TEXT NOT NULL CHECK (status IN ('sending', 'data', 'sent', 'failed', 'unknown')),
    reply TEXT,                    -- the server's reply, or why the transaction stopped
    refused TEXT,                  -- JSON {recipient: reply} of refused recipients
    pid INTEGER NOT NULL,
    started TEXT NOT NULL,
    finished TEXT
);
CREATE INDEX attempts_file ON attempts (file);
"""


class JournalError(Exception):
    """The journal cannot be opened or written; ``message`` is the Chinese text for the user."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def _china() -> dt.tzinfo:
    from sdbatch.clock import zone

    return zone()


def china_now() -> dt.datetime:
    return dt.datetime.now(_china())


def china_time(moment: dt.datetime) -> dt.datetime:
    """``moment`` in China time (a naive moment is taken as China time)."""
    return moment.replace(tzinfo=_china()) if moment.tzinfo is None else moment.astimezone(_china())


def stamp(moment: dt.datetime | None = None) -> str:
    return china_time(moment or china_now()).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Attempt:
    id: int
    file: str
    city: str
    sha256: str
    message_id: str
    sender: str
    recipients: list[str]
    subject: str
    server: str
    status: str
    reply: str | None
    refused: dict[str, str]
    started: str
    finished: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Attempt:
        return cls(id=row["id"], file=row["file"], city=row["city"], sha256=row["sha256"],
                   message_id=row["message_id"], sender=row["sender"],
                   recipients=json.loads(row["recipients"] or "[]"), subject=row["subject"],
                   server=row["server"], status=row["status"], reply=row["reply"],
                   refused=json.loads(row["refused"] or "{}"), started=row["started"], finished=row["finished"])


@dataclass(frozen=True)
class MessageState:
    """Where one draft stands: ``new``, ``sent``, ``unknown``, ``interrupted`` or ``failed``."""

    state: str
    attempt: Attempt | None = None


def resolve(attempts: list[Attempt]) -> MessageState:
    """The state of one message from its attempts (oldest first)."""
    if not attempts:
        return MessageState("new")
    sent = [a for a in attempts if a.status == "sent"]
    if sent:
        return MessageState("sent", sent[-1])
    last = attempts[-1]
    state = {"data": "unknown", "unknown": "unknown", "sending": "interrupted"}.get(last.status, "failed")
    return MessageState(state, last)


class MailJournal:
    """``with MailJournal.open(path) as journal: ...``"""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, path: Path) -> MailJournal:
        path = Path(path)
        try:
            conn = sqlite3.connect(path, timeout=10, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode = DELETE")
            conn.execute("PRAGMA synchronous = EXTRA")  # fsync the file and the folder at each commit
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version == 0:
                with _transaction(conn):
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    _import_legacy(conn, path.parent / LEGACY_LOG)
            elif version != SCHEMA_VERSION:
                raise JournalError(text("sending.journal_version", path=path, version=version))
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("quick_check")
        except JournalError:
            raise
        except sqlite3.DatabaseError as exc:
            raise JournalError(_why(exc, path)) from None
        except OSError as exc:
            raise JournalError(text("sending.journal_unwritable", path=path, detail=exc.strerror or exc)) from None
        return cls(conn, path)

    @staticmethod
    def read_states(path: Path) -> dict[str, MessageState]:
        """The states without writing anything (for a preview); empty when there is no journal."""
        path = Path(path)
        if not path.exists():
            return {}
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
            conn.row_factory = sqlite3.Row
            try:
                return _states(conn)
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise JournalError(_why(exc, path)) from None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> MailJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading
    def states(self) -> dict[str, MessageState]:
        """file name -> its state."""
        return _states(self.conn)

    def attempts(self, file: str | None = None) -> list[Attempt]:
        sql = "SELECT * FROM attempts" + (" WHERE file = ?" if file else "") + " ORDER BY id"
        return [Attempt.from_row(r) for r in self.conn.execute(sql, (file,) if file else ())]

    # ------------------------------------------------------------------ writing
    def begin(self, *, file: str, city: str, sha256: str, message_id: str, sender: str, recipients: list[str],
              subject: str, server: str, started: dt.datetime | None = None) -> int:
        """Record a transaction about to start (``sending``); returns its id."""
        with self._write():
            cur = self.conn.execute(
                """INSERT INTO attempts (file, city, sha256, message_id, sender, recipients, subject, server,
                                         status, pid, started) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'sending', ?, ?)""",
                (file, city, sha256, message_id, sender, json.dumps(recipients, ensure_ascii=False), subject,
                 server, os.getpid(), stamp(started)))
        return int(cur.lastrowid or 0)

    def content_next(self, attempt_id: int) -> None:
        """The content is about to be transmitted (``data``): from here the outcome may be unknown."""
        with self._write():
            self.conn.execute("UPDATE attempts SET status = 'data' WHERE id = ?", (attempt_id,))

    def finish(self, attempt_id: int, status: str, reply: str | None = None,
               refused: Mapping[str, str] | None = None, finished: dt.datetime | None = None) -> None:
        if status not in ("sent", "failed", "unknown"):
            raise ValueError(status)
        with self._write():
            self.conn.execute("UPDATE attempts SET status = ?, reply = ?, refused = ?, finished = ? WHERE id = ?",
                              (status, reply, json.dumps(dict(refused), ensure_ascii=False) if refused else None,
                               stamp(finished), attempt_id))

    @contextmanager
    def _write(self) -> Iterator[None]:
        try:
            with _transaction(self.conn):
                yield
        except sqlite3.DatabaseError as exc:
            raise JournalError(_why(exc, self.path)) from None


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _states(conn: sqlite3.Connection) -> dict[str, MessageState]:
    by_file: dict[str, list[Attempt]] = {}
    for row in conn.execute("SELECT * FROM attempts ORDER BY id"):
        attempt = Attempt.from_row(row)
        by_file.setdefault(attempt.file, []).append(attempt)
    return {file: resolve(attempts) for file, attempts in by_file.items()}


def _import_legacy(conn: sqlite3.Connection, legacy: Path) -> None:
    """Messages an earlier version recorded as sent in ``mail/sent.json`` stay sent."""
    try:
        data = json.loads(legacy.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    entries = data.get("messages", []) if isinstance(data, dict) else []
    for e in entries:
        if not isinstance(e, dict) or e.get("status") != "sent" or not isinstance(e.get("file"), str):
            continue
        conn.execute(
            """INSERT INTO attempts (file, city, sha256, message_id, sender, recipients, subject, server, status,
                                     reply, pid, started, finished) VALUES (?, ?, ?, '', '', ?, ?, ?, 'sent', ?, ?, ?, ?)""",
            (e["file"], str(e.get("city", "")), str(e.get("sha256", "")),
             json.dumps(e.get("recipients") or [], ensure_ascii=False), str(e.get("subject", "")),
             str(e.get("server", "")), LEGACY_LOG, os.getpid(), str(e.get("time", "")), str(e.get("time", ""))))


def _why(exc: BaseException, path: Path) -> str:
    detail = str(exc)
    if "locked" in detail or "busy" in detail:
        return text("sending.journal_locked", path=path)
    if "readonly" in detail or "unable to open" in detail or "disk I/O" in detail:
        return text("sending.journal_unwritable", path=path, detail=detail)
    if "disk is full" in detail or "database or disk is full" in detail:
        return text("sending.journal_full", path=path)
    return text("sending.journal_damaged", path=path)
