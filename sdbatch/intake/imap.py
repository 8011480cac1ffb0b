"""``sdbatch fetch``: the spreadsheet attachments of new messages, from the mailbox into the inbox
(issue 18 Build 1), with ``imap-tools`` (no hand-written protocol code).

    report = fetch(FetchOptions(inbox=Path("inbox"), ledger=Path("output/ledger.sqlite3")))

For each message of the folder not looked at before (by UID, then by Message-ID: a message is
never taken twice, even when the server holds two copies):

1. its spreadsheets and archives (and attached messages) are written into the inbox under their own
   names (``名称 (2).xlsx`` when the name is taken by other bytes; nothing when the same bytes are
   already there), each written to a hidden temporary name, given the message's date as file time
   (``os.utime``) and renamed into place;
2. the original message is kept, byte for byte, in the archive folder beside the inbox
   (``<inbox>/../mailbox-archive/`` unless the settings say otherwise; never inside the inbox; the
   folder holds a marker that keeps a batch from reading it);
3. the message (Message-ID, sender, date, subject, attachments and where each went, outcome) is
   recorded in the ledger (:mod:`sdbatch.intake.store`) in one transaction;
4. only then, and only when asked (``--mark-seen``, ``--move-to``), is the mail touched: by
   default nothing on the server changes (messages are read with BODY.PEEK).

The time a file was received is the message's Date header in China time; a message without one
takes the server's arrival time (INTERNALDATE) and the run says so.  Messages larger than the
settings' ``max_message_mb`` are not downloaded: recorded as ``too-large`` and reported.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import imaplib
import os
import re
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdbatch import settings
from sdbatch.catalogue import text
from sdbatch.intake.config import Loaded, default_path, load_settings
from sdbatch.intake.containers import wanted
from sdbatch.intake.messages import ParsedMessage, parse_eml
from sdbatch.intake.origin import CHINA, clean_message_id, one_line, shown_time
from sdbatch.intake.store import (
    MessageRecord,
    TakenAttachment,
    add_uid,
    known_keys,
    record_message,
    seen_uids,
)
from sdbatch.model import MessageInfo

FETCH_LOCK = ".fetch.lock"  # beside the ledger: one fetch at a time


class FetchFailed(Exception):
    """The fetch could not be done (settings, connection, login, folder, ledger); Chinese ``message``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class FetchOptions:
    inbox: Path
    ledger: Path
    settings_path: Path | None = None
    move_to: str | None = None
    mark_seen: bool = False
    now: dt.datetime | None = None  # the time recorded as taken_at (tests)


@dataclass
class FetchedMessage:
    key: str
    info: MessageInfo
    outcome: str
    files: list[str] = field(default_factory=list)  # inbox names written or found
    skipped: list[str] = field(default_factory=list)  # attachments not taken (not a submission)


@dataclass
class FetchReport:
    folder: str
    archive: Path
    messages: list[FetchedMessage] = field(default_factory=list)
    already: int = 0  # new UIDs whose message was taken before (a second copy)
    problems: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if any(m.outcome in ("too-large", "unreadable") for m in self.messages) else 0

    def summary(self) -> str:
        taken = [m for m in self.messages if m.outcome == "taken"]
        files = sum(len(m.files) for m in taken)
        lines = [text("intake.fetch.summary", folder=self.folder, messages=len(self.messages), taken=len(taken),
                      files=files, already=self.already)]
        for m in self.messages:
            lines.append(text(f"intake.fetch.line.{m.outcome}", sender=m.info.sender or "", subject=m.info.subject or "",
                              date=shown_time(m.info.date), files=_join(m.files), skipped=_join(m.skipped)))
        lines.append(text("intake.fetch.archive", archive=str(self.archive)))
        lines.extend(self.problems)
        return "\n".join(lines)


def _join(names: list[str]) -> str:
    from sdbatch.catalogue import join

    return join(names)


# ----------------------------------------------------------------------------- the mailbox
def _raw_message_class() -> Any:
    from imap_tools import MailMessage

    class RawMailMessage(MailMessage):  # type: ignore[misc]
        """imap-tools' message keeping the bytes the server sent (kept as they are for the record)."""

        def __init__(self, fetch_data: list[Any]) -> None:
            super().__init__(fetch_data)
            self.raw = self._get_message_data_parts(fetch_data)[0]

    return RawMailMessage


def connect(loaded: Loaded) -> Any:
    """A logged-in imap-tools mailbox with the folder selected; FetchFailed with the reason."""
    from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted
    from imap_tools.errors import MailboxFolderSelectError, MailboxLoginError

    values = loaded.values
    password = loaded.password()
    context = ssl.create_default_context(cafile=str(loaded.ca_path()) if loaded.ca_path() else None)
    port = values.effective_port()
    box: Any
    try:
        if values.security == "ssl":
            box = MailBox(values.host, port, timeout=values.timeout, ssl_context=context)
        elif values.security == "starttls":
            box = MailBoxStartTls(values.host, port, timeout=values.timeout, ssl_context=context)
        else:
            box = MailBoxUnencrypted(values.host, port, timeout=values.timeout)
    except ssl.SSLError as exc:
        raise FetchFailed(text("intake.fetch.tls_failed", host=values.host, port=port,
                               reason=one_line(exc.reason or exc))) from None
    except (OSError, imaplib.IMAP4.error) as exc:
        raise FetchFailed(text("intake.fetch.connect_failed", host=values.host, port=port,
                               reason=one_line(getattr(exc, "strerror", None) or exc))) from None
    box.email_message_class = _raw_message_class()
    try:
        box.login(values.account, password, initial_folder=None)
    except MailboxLoginError:
        _close(box)
        raise FetchFailed(text("intake.fetch.login_failed", account=values.account,
                               env=values.password_env)) from None
    except (OSError, imaplib.IMAP4.error) as exc:
        _close(box)
        raise FetchFailed(text("intake.fetch.connect_failed", host=values.host, port=port,
                               reason=one_line(exc))) from None
    try:
        box.folder.set(values.folder)
    except MailboxFolderSelectError:
        _close(box)
        raise FetchFailed(text("intake.fetch.no_folder", folder=values.folder)) from None
    return box


def _close(box: Any) -> None:
    try:
        box.logout()
    except Exception:  # noqa: BLE001 - the connection may already be gone
        pass


# ----------------------------------------------------------------------------- fetch
def fetch(options: FetchOptions) -> FetchReport:
    """Take the new messages' attachments into the inbox (see the module docstring)."""
    from sdbatch.ledger import Ledger, LedgerError
    from sdbatch.lock import LockHeld, RunLock
    from sdbatch.tomlschema import FileInvalid

    inbox = Path(options.inbox)
    try:
        loaded = load_settings(options.settings_path or default_path(inbox))
        loaded.password()
    except FileInvalid as exc:
        raise FetchFailed(text("intake.settings.invalid", path=exc.path,
                               problems="\n".join(f"  - {p}" for p in exc.problems))) from None
    archive = loaded.archive_dir(inbox)
    inbox_real = inbox.resolve()
    if archive.resolve() == inbox_real or inbox_real in archive.resolve().parents:
        raise FetchFailed(text("intake.fetch.archive_in_inbox", archive=str(archive), inbox=str(inbox)))
    try:
        inbox.mkdir(parents=True, exist_ok=True)
        archive.mkdir(parents=True, exist_ok=True)
        (archive / settings.MAILBOX_ARCHIVE_MARKER).touch()
        Path(options.ledger).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchFailed(text("intake.fetch.folder_failed", reason=one_line(exc))) from None
    report = FetchReport(loaded.values.folder, archive)
    try:
        with RunLock(Path(options.ledger).parent / FETCH_LOCK), Ledger.open(options.ledger) as ledger:
            box = connect(loaded)
            try:
                _fetch_new(box, loaded, ledger, inbox, archive, options, report)
            finally:
                _close(box)
    except LockHeld as exc:
        raise FetchFailed(text("intake.fetch.locked", pid=exc.pid or "")) from None
    except LedgerError as exc:
        raise FetchFailed(exc.message) from None
    return report


def _uidvalidity(box: Any, folder: str) -> int:
    try:
        return int(box.folder.status(folder, ["UIDVALIDITY"]).get("UIDVALIDITY", 0))
    except Exception:  # noqa: BLE001 - a server that does not say: UIDs are then keyed under 0
        return 0


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _internal_dates(box: Any, uids: list[str]) -> dict[str, dt.datetime]:
    """UID -> when the server received the message (INTERNALDATE), China time."""
    out: dict[str, dt.datetime] = {}
    typ, data = box.client.uid("FETCH", ",".join(uids), "(UID INTERNALDATE)")
    if typ != "OK":
        return out
    for item in data:
        raw = item if isinstance(item, bytes) else (item[0] if isinstance(item, tuple) else b"")
        uid = re.search(rb"UID (\d+)", raw or b"")
        when = imaplib.Internaldate2tuple(raw) if raw else None
        if uid and when is not None:
            out[uid.group(1).decode()] = dt.datetime.fromtimestamp(time.mktime(when), tz=CHINA)
    return out


def _fetch_new(box: Any, loaded: Loaded, ledger: Any, inbox: Path, archive: Path, options: FetchOptions,
               report: FetchReport) -> None:
    values = loaded.values
    account, folder = values.account, values.folder
    conn = ledger.conn
    validity = _uidvalidity(box, folder)
    seen = seen_uids(conn, account, folder, validity)
    new = [u for u in box.uids("ALL") if int(u) not in seen]
    limit = values.max_message_mb * 1024 * 1024
    now = (options.now or dt.datetime.now(CHINA)).isoformat(timespec="seconds")
    for chunk in _chunks(new, settings.IMAP_FETCH_BATCH):
        arrived = _internal_dates(box, chunk)
        heads = {m.uid: m for m in box.fetch(uid_list=chunk, headers_only=True, mark_seen=False, bulk=True)}
        for uid in chunk:
            head = heads.get(uid)
            if head is None:
                continue
            message_id = clean_message_id(head.obj.get("Message-ID"))
            if message_id and known_keys(conn, [message_id]):
                with ledger._transaction():
                    add_uid(conn, account, folder, validity, int(uid), message_id)
                report.already += 1
                continue
            if head.size_rfc822 and head.size_rfc822 > limit:
                info = MessageInfo(message_id, None, None, None, one_line(head.obj.get("Subject")) or None)
                key = message_id or f"uid:{validity}:{uid}"
                record = MessageRecord(key, info, account, folder, None, "too-large", now,
                                       detail=str(head.size_rfc822))
                with ledger._transaction():
                    record_message(conn, record, [(validity, int(uid))])
                report.messages.append(FetchedMessage(key, info, "too-large"))
                continue
            full = next(iter(box.fetch(uid_list=[uid], mark_seen=False)), None)
            if full is None:
                continue
            taken = _take(full.raw, arrived.get(uid), inbox, archive)
            key = taken.key
            if known_keys(conn, [key]):  # no Message-ID, same bytes as a message taken before
                with ledger._transaction():
                    add_uid(conn, account, folder, validity, int(uid), key)
                report.already += 1
                continue
            record = MessageRecord(key, taken.info, account, folder, taken.archive_file, taken.outcome, now,
                                   detail=taken.detail, attachments=taken.attachments)
            with ledger._transaction():
                record_message(conn, record, [(validity, int(uid))])
            report.messages.append(FetchedMessage(
                key, taken.info, taken.outcome,
                [a.inbox_name for a in taken.attachments if a.inbox_name],
                [a.name for a in taken.attachments if a.inbox_name is None]))
            if options.mark_seen:
                box.flag([uid], ["\\Seen"], True)
            if options.move_to:
                box.move([uid], options.move_to)


# ----------------------------------------------------------------------------- one message
@dataclass
class Taken:
    key: str
    info: MessageInfo
    outcome: str
    archive_file: str | None
    attachments: list[TakenAttachment]
    detail: str = ""


def _take(raw: bytes, arrived: dt.datetime | None, inbox: Path, archive: Path) -> Taken:
    """Keep the original, put its attachments in the inbox; nothing recorded yet."""
    digest = hashlib.sha256(raw).hexdigest()
    try:
        parsed: ParsedMessage | None = parse_eml(raw)
    except Exception:  # noqa: BLE001 - any message we cannot parse is kept and recorded, never fetched again
        parsed = None
    info = parsed.info if parsed else MessageInfo(None, None, None, None, None)
    moment = parsed.moment if parsed else None
    if moment is None and arrived is not None:
        info = MessageInfo(info.message_id, info.sender, info.sender_name, arrived.isoformat(timespec="seconds"),
                           info.subject, info.references, "server", None)
        moment = arrived
    info = MessageInfo(info.message_id, info.sender, info.sender_name, info.date, info.subject, info.references,
                       info.date_source, arrived.isoformat(timespec="seconds") if arrived else None)
    key = info.message_id or f"sha256:{digest}"
    stamp = moment or dt.datetime.now(CHINA)
    kept = _keep_original(raw, archive, stamp, info.sender, hashlib.sha256(key.encode()).hexdigest()[:16])
    shown_archive = f"{archive.name}/{kept.name}"
    if parsed is None:
        return Taken(key, info, "unreadable", shown_archive, [], detail=text("intake.message.damaged"))
    attachments = []
    for number, att in enumerate(parsed.attachments, start=1):
        if not wanted(att.name):
            attachments.append(TakenAttachment(number, att.name, None, None, len(att.data), "not-a-submission"))
            continue
        if not att.data:
            attachments.append(TakenAttachment(number, att.name, None, None, 0, "empty"))
            continue
        sha = hashlib.sha256(att.data).hexdigest()
        name, existed = _place(inbox, att.name, att.data, sha, stamp.timestamp())
        attachments.append(TakenAttachment(number, att.name, name, sha, len(att.data),
                                           "already-in-inbox" if existed else "taken"))
    outcome = "taken" if any(a.inbox_name for a in attachments) else "nothing-to-take"
    return Taken(key, info, outcome, shown_archive, attachments)


_SAFE_SENDER = re.compile(r"[^A-Za-z0-9@._+-]+")


def _keep_original(raw: bytes, archive: Path, moment: dt.datetime, sender: str | None, tag: str) -> Path:
    """The message as the server sent it, in the archive folder (once: an existing copy is kept)."""
    existing = sorted(archive.glob(f"*_{tag}.eml"))
    if existing:
        return existing[0]
    who = _SAFE_SENDER.sub("_", sender or "")[:60] or "unknown"
    target = archive / f"{moment.astimezone(CHINA):%Y%m%d-%H%M%S}_{who}_{tag}.eml"
    _write_atomic(target, raw, moment.timestamp())
    return target


def _place(inbox: Path, name: str, data: bytes, sha: str, stamp: float) -> tuple[str, bool]:
    """Put ``data`` in the inbox under ``name`` (or ``name (n)``); (name used, already there)."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    n = 1
    while True:
        candidate = name if n == 1 else (f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})")
        target = inbox / candidate
        if not target.exists():
            _write_atomic(target, data, stamp)
            return candidate, False
        if target.is_file() and target.stat().st_size == len(data) and _sha256(target) == sha:
            return candidate, True
        n += 1


def _write_atomic(target: Path, data: bytes, stamp: float) -> None:
    tmp = target.with_name(f".{target.name}.part")
    tmp.write_bytes(data)
    os.utime(tmp, (stamp, stamp))  # the file's time: when the message was sent
    os.replace(tmp, target)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

