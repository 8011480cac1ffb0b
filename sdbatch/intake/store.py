"""What ``sdbatch fetch`` took, in the ledger's SQLite file (issue 18 Build 1).

Three tables, created by the ledger's migration mechanism (:data:`MIGRATION` is one entry of
``sdbatch.ledger.MIGRATIONS``):

- ``intake_messages``: one row per message ever looked at, by ``key`` (its Message-ID, else the
  sha256 of the message): sender, date, subject, where the original is kept, the outcome
  (``taken``, ``nothing-to-take``, ``too-large``, ``unreadable``) -- a message is never taken twice;
- ``intake_attachments``: each attachment of a message: its name, where it was put in the inbox,
  its sha256 -- how a batch finds which message an inbox file came from (:func:`fetched_origins`);
- ``intake_uids``: the mailbox UIDs already looked at (account, folder, UIDVALIDITY, UID), so that
  a nightly fetch downloads only new messages.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdbatch.model import MessageInfo, OriginStep, Provenance

MIGRATION: list[str] = [
    """CREATE TABLE intake_messages (
        key TEXT PRIMARY KEY,
        message_id TEXT,
        sender TEXT,
        sender_name TEXT,
        subject TEXT,
        date TEXT,
        date_source TEXT,
        server_date TEXT,
        refs TEXT,
        account TEXT,
        folder TEXT,
        archive_file TEXT,
        outcome TEXT NOT NULL,
        detail TEXT,
        taken_at TEXT NOT NULL
    )""",
    """CREATE TABLE intake_attachments (
        message_key TEXT NOT NULL,
        number INTEGER NOT NULL,
        name TEXT NOT NULL,
        inbox_name TEXT,
        sha256 TEXT,
        size INTEGER,
        outcome TEXT NOT NULL,
        PRIMARY KEY (message_key, number)
    )""",
    """CREATE TABLE intake_uids (
        account TEXT NOT NULL,
        folder TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        uid INTEGER NOT NULL,
        message_key TEXT NOT NULL,
        PRIMARY KEY (account, folder, uidvalidity, uid)
    )""",
    "CREATE INDEX intake_attachments_sha256 ON intake_attachments (sha256)",
]


@dataclass
class TakenAttachment:
    number: int
    name: str  # as the message named it
    inbox_name: str | None  # where it was put, relative to the inbox (None: not taken)
    sha256: str | None
    size: int
    outcome: str  # taken, already-in-inbox, not-a-submission, empty


@dataclass
class MessageRecord:
    key: str
    info: MessageInfo
    account: str
    folder: str
    archive_file: str | None
    outcome: str
    taken_at: str
    detail: str = ""
    attachments: list[TakenAttachment] = field(default_factory=list)


def record_message(conn: sqlite3.Connection, record: MessageRecord, uids: Iterable[tuple[int, int]]) -> None:
    """Insert one message, its attachments and its UIDs (call inside a transaction)."""
    info = record.info
    conn.execute(
        """INSERT OR REPLACE INTO intake_messages (key, message_id, sender, sender_name, subject, date,
               date_source, server_date, refs, account, folder, archive_file, outcome, detail, taken_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (record.key, info.message_id, info.sender, info.sender_name, info.subject, info.date, info.date_source,
         info.server_date, json.dumps(list(info.references)), record.account, record.folder, record.archive_file,
         record.outcome, record.detail, record.taken_at))
    conn.execute("DELETE FROM intake_attachments WHERE message_key = ?", (record.key,))
    for att in record.attachments:
        conn.execute(
            """INSERT INTO intake_attachments (message_key, number, name, inbox_name, sha256, size, outcome)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (record.key, att.number, att.name, att.inbox_name, att.sha256, att.size, att.outcome))
    for uidvalidity, uid in uids:
        conn.execute("INSERT OR REPLACE INTO intake_uids VALUES (?, ?, ?, ?, ?)",
                     (record.account, record.folder, uidvalidity, uid, record.key))


def seen_uids(conn: sqlite3.Connection, account: str, folder: str, uidvalidity: int) -> set[int]:
    rows = conn.execute("SELECT uid FROM intake_uids WHERE account = ? AND folder = ? AND uidvalidity = ?",
                        (account, folder, uidvalidity))
    return {int(r[0]) for r in rows}


def known_keys(conn: sqlite3.Connection, keys: Iterable[str]) -> set[str]:
    out = set()
    for key in keys:
        if conn.execute("SELECT 1 FROM intake_messages WHERE key = ?", (key,)).fetchone():
            out.add(key)
    return out


def add_uid(conn: sqlite3.Connection, account: str, folder: str, uidvalidity: int, uid: int, key: str) -> None:
    conn.execute("INSERT OR REPLACE INTO intake_uids VALUES (?, ?, ?, ?, ?)", (account, folder, uidvalidity, uid, key))


def messages(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every recorded message with its attachments (for tests and ``sdbatch status``)."""
    conn.row_factory = sqlite3.Row
    out = []
    for row in conn.execute("SELECT * FROM intake_messages ORDER BY date, key"):
        item = dict(row)
        item["attachments"] = [dict(a) for a in conn.execute(
            "SELECT * FROM intake_attachments WHERE message_key = ? ORDER BY number", (row["key"],))]
        out.append(item)
    return out


# ----------------------------------------------------------------------------- for the batch
def fetched_origins(ledger: Path | None, files: dict[str, str]) -> dict[str, Provenance]:
    """Inbox files that ``sdbatch fetch`` took: sha256 -> the provenance of the message they came
    in.  ``files``: inbox-relative name -> sha256.  The message whose attachment was put under
    that name wins, else the earliest message that carried the same bytes.  Read-only: a ledger
    that does not exist yet, or has no intake table, gives nothing.
    """
    if ledger is None or not Path(ledger).is_file() or not files:
        return {}
    try:
        conn = sqlite3.connect(f"file:{Path(ledger).absolute()}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error:
        return {}
    try:
        conn.row_factory = sqlite3.Row
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'intake_attachments'").fetchone() is None:
            return {}
        out: dict[str, Provenance] = {}
        for name, sha in files.items():
            rows = conn.execute(
                """SELECT a.name AS att_name, a.inbox_name, m.* FROM intake_attachments a
                   JOIN intake_messages m ON m.key = a.message_key
                   WHERE a.sha256 = ? ORDER BY (a.inbox_name = ?) DESC, m.date, m.key""", (sha, name)).fetchall()
            if rows:
                out[name] = _provenance(rows[0])
        return out
    except sqlite3.Error:
        return {}
    finally:
        conn.close()


def _provenance(row: sqlite3.Row) -> Provenance:
    from sdbatch.intake.origin import parse_iso

    try:
        refs = tuple(json.loads(row["refs"] or "[]"))
    except ValueError:
        refs = ()
    info = MessageInfo(message_id=row["message_id"], sender=row["sender"], sender_name=row["sender_name"],
                       date=row["date"], subject=row["subject"], references=refs,
                       date_source=row["date_source"] or "header", server_date=row["server_date"])
    moment = parse_iso(row["date"])
    step = OriginStep("message", row["archive_file"] or "", row["att_name"], info)
    return Provenance((step,), moment.timestamp() if moment else None)
