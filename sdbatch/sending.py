"""``sdbatch mail send``: each draft of a run delivered exactly once (issue 15 item 3, issue 14 item 1).

**What is sent is the draft.**  The draft's bytes go out as they are on disk (``SMTP.data`` of
the raw bytes, never a re-serialised message, so no header is re-folded: the attachment's
``Content-Type`` and its RFC 2231 file name arrive exactly as drafted).  Sending changes only what
sending must change, in the header block and nowhere else:

- ``X-Unsent: 1`` is removed (it makes Outlook open the draft as a message to send; a received
  mail carrying it would open as an unsent draft);
- ``Date`` becomes the moment of sending, in China time (RFC 5322 §3.6.1: the date the message
  enters the mail system, not the date of the review the draft was written for);
- ``Message-ID`` is kept when the draft has one, otherwise added, derived from the run folder, the
  file and the draft's digest: the same message sent again (``--resend-unknown``) carries the same
  id, so a person (and a mail system) can tell it is the same message;
- ``From`` is replaced only by ``--sender``; ``Bcc`` (never written by sdbatch) is removed, its
  addresses stay in the envelope;
- line ends are CRLF (SMTP's; drafts are written with CRLF already) and lines starting with a dot
  are dot-stuffed on the wire.

The envelope is read from the draft's headers: sender = the ``From`` address (or ``--sender``),
recipients = every address of ``To``, ``Cc`` and ``Bcc``.

**Exactly once.**  Each SMTP transaction is recorded in ``<run>/mail/journal.sqlite3``
(:mod:`sdbatch.mail_journal`) before it starts and after each step, committed to disk before
the next step; one ``mail send`` per run folder at a time (``<run>/mail/.send.lock``; a second
one refuses, exit 2).  A rerun never sends a message recorded as sent, sends again those that
failed or were interrupted before their content was transmitted, and lists those whose outcome
is unknown (the content was transmitted and no reply came: killed, or the connection dropped)
for a person, sending them again only with ``resend_unknown``.  The recipients are given one by
one (``RCPT TO``) before the content: when the server refuses any of them the transaction is
reset before the content is sent — the message is *failed* for that recipient and the server's
reply, no other recipient got it, and the next send tries it again.  A 4xx reply, or a
connection that drops before the content was complete, is retried within the send
(:data:`settings.MAIL_SEND_ATTEMPTS`, waiting :data:`settings.MAIL_RETRY_BACKOFF_S`, doubled each
time, after a 4xx); a dropped connection is reopened and the remaining messages continue.

Exit codes (:attr:`SendReport.exit_code`): 0 every draft is sent (now or before); 1 some message
failed, has an unknown outcome or was not sent (no recipients); 2 the send could not run (no
connection, login refused, lock held, journal unusable).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from email.utils import format_datetime, formataddr, getaddresses, parseaddr
from pathlib import Path

from sdbatch import settings
from sdbatch.address_book import address_of, valid_address
from sdbatch.catalogue import join, text
from sdbatch.lock import LockHeld, RunLock
from sdbatch.mail_journal import JournalError, MailJournal, MessageState, china_now, china_time, stamp

MAIL_DIR = "mail"
SECURITY_PORTS = {"plain": 25, "starttls": 587, "ssl": 465}
CLOSING = 421  # "service not available, closing transmission channel": reconnect before trying again
# headers sending removes from the draft (X-Unsent, Bcc) or writes itself (Date)
_DROPPED = {b"x-unsent", b"bcc", b"date"}


class MailError(ValueError):
    """A mail option or draft that cannot be used, or a send that cannot run; ``str()`` is one
    Chinese sentence."""


class SendLocked(MailError):
    """Another ``mail send`` of the same run folder is running."""


# ----------------------------------------------------------------------------- drafts
@dataclass
class Draft:
    city: str
    path: Path
    recipients: list[str]  # the envelope: every address of To, Cc and Bcc
    subject: str = ""
    sender: str = ""  # the From header as written (decoded), "" when absent
    message_id: str = ""  # the draft's own Message-ID, "" when absent
    sha256: str = ""

    @property
    def file(self) -> str:
        return self.path.name


def _city_order() -> dict[str, int]:
    from sdbatch.jurisdiction import jurisdiction_of

    return dict(jurisdiction_of(None).order)  # a run folder holds no rules: the default jurisdiction


def read_draft(path: Path) -> Draft:
    raw = Path(path).read_bytes()
    msg = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
    values = [str(v) for key in ("To", "Cc", "Bcc") for v in (msg.get_all(key) or [])]
    recipients = list(dict.fromkeys(addr for _, addr in getaddresses(values) if addr))
    return Draft(city=Path(path).stem, path=Path(path), recipients=recipients, subject=str(msg.get("Subject", "")),
                 sender=str(msg.get("From", "") or ""), message_id=str(msg.get("Message-ID", "") or "").strip(),
                 sha256=hashlib.sha256(raw).hexdigest())


def list_drafts(run_dir: Path) -> list[Draft]:
    """The drafts of a run (``<run>/mail/*.eml``), in the province's city order."""
    mail_dir = Path(run_dir) / MAIL_DIR
    if not mail_dir.is_dir():
        return []
    order = _city_order()
    paths = sorted(mail_dir.glob("*.eml"), key=lambda p: (order.get(p.stem, len(order)), p.stem))
    return [read_draft(p) for p in paths if p.is_file()]


# ----------------------------------------------------------------------------- the wire
def wire_bytes(raw: bytes, *, date: dt.datetime, message_id: str | None = None, sender: str | None = None) -> bytes:
    """The draft ``raw`` as it goes on the wire (before dot-stuffing): its own bytes, with only the
    header changes of the module docstring.  ``message_id``: added when the draft has none;
    ``sender``: replaces ``From``."""
    raw = re.sub(rb"\r?\n", b"\r\n", raw)
    end = raw.find(b"\r\n\r\n")
    head, body = (raw[:end + 2], raw[end + 2:]) if end >= 0 else (raw if raw.endswith(b"\r\n") else raw + b"\r\n",
                                                                   b"\r\n")
    fields: list[bytes] = []
    for line in head.split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        else:
            fields.append(line)
    drop = set(_DROPPED) | ({b"from"} if sender else set())
    kept = [f for f in fields if f.split(b":", 1)[0].strip().lower() not in drop]
    names = {f.split(b":", 1)[0].strip().lower() for f in kept}
    added = [b"Date: " + format_datetime(china_time(date)).encode("ascii")]
    if sender:
        name, addr = parseaddr(sender)
        added.insert(0, b"From: " + formataddr((name, addr), charset="utf-8").encode("ascii"))
    if message_id and b"message-id" not in names:
        added.append(b"Message-ID: " + message_id.encode("ascii"))
    return b"\r\n".join(added + kept) + b"\r\n" + body


def _dot_stuffed(wire: bytes) -> bytes:
    """RFC 5321 §4.5.2: a line starting with "." gets another; then the terminating "."."""
    data = re.sub(rb"(?m)^\.", b"..", wire)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def message_id_for(run_dir: Path, draft: Draft, envelope_from: str) -> str:
    """The draft's Message-ID, or one derived from the run folder, the file and its content."""
    if draft.message_id:
        return draft.message_id
    seed = f"{Path(run_dir).resolve().name}\0{draft.file}\0{draft.sha256}".encode()
    domain = envelope_from.rpartition("@")[2] or "localhost"
    domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    return f"<{hashlib.sha256(seed).hexdigest()[:32]}.sdbatch@{domain}>"


# ----------------------------------------------------------------------------- options
@dataclass
class SmtpOptions:
    host: str
    port: int
    security: str = "plain"  # plain | starttls | ssl
    user: str | None = None
    password: str | None = None
    sender: str | None = None
    timeout: float = settings.MAIL_TIMEOUT_S
    attempts: int = settings.MAIL_SEND_ATTEMPTS
    backoff: float = settings.MAIL_RETRY_BACKOFF_S

    @property
    def server(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @classmethod
    def from_cli(cls, smtp: str, security: str | None, user: str | None, password_env: str | None,
                 sender: str | None) -> SmtpOptions:
        security = security or "plain"
        if security not in SECURITY_PORTS:
            raise MailError(text("sending.bad_security", security=security))
        host, port = _split_host_port(smtp, SECURITY_PORTS[security])
        password = None
        if user:
            password = os.environ.get(password_env or "")
            if not password:
                raise MailError(text("sending.no_password", user=user, env=password_env))
        if sender is not None and not valid_address(sender):
            raise MailError(text("sending.bad_sender", sender=sender))
        return cls(host, port, security, user, password, sender)


def _split_host_port(value: str, default_port: int) -> tuple[str, int]:
    value = value.strip()
    if value.startswith("["):  # [::1]:25
        host, _, rest = value[1:].partition("]")
        port_text = rest.lstrip(":")
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    else:
        host, port_text = value, ""
    if not host:
        raise MailError(text("sending.bad_server", smtp=value))
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise MailError(text("sending.bad_port", port=port_text))
    return host, int(port_text)


# ----------------------------------------------------------------------------- the report
@dataclass
class Delivery:
    """One message that did not simply go out: why, and what a person needs to find it."""

    city: str
    detail: str
    message_id: str = ""
    recipients: list[str] = field(default_factory=list)
    started: str = ""


@dataclass
class SendReport:
    sent: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # recorded as sent by an earlier send
    changed_since: list[str] = field(default_factory=list)  # ... whose draft was edited after that
    unknown: list[Delivery] = field(default_factory=list)
    failed: list[Delivery] = field(default_factory=list)
    skipped: list[Delivery] = field(default_factory=list)  # not sent: no recipients
    error: str | None = None

    @property
    def exit_code(self) -> int:
        if self.error:
            return 2
        return 1 if (self.failed or self.unknown or self.skipped) else 0

    def summary(self) -> str:
        lines = []
        if self.error:
            lines.append(text("sending.summary.error", error=self.error))
        lines.append(text("sending.summary.sent", n=len(self.sent),
                          cities=text("sending.summary.cities", cities=join(self.sent)) if self.sent else ""))
        if self.already:
            lines.append(text("sending.summary.already", n=len(self.already), cities=join(self.already)))
        if self.changed_since:
            lines.append(text("sending.summary.changed_since", cities=join(self.changed_since)))
        if self.unknown:
            lines.append(text("sending.summary.unknown", n=len(self.unknown)))
            for d in self.unknown:
                lines.append(text("sending.summary.unknown_line", city=d.city, started=d.started,
                                  message_id=d.message_id, recipients=join(d.recipients), detail=d.detail))
            lines.append(text("sending.summary.unknown_advice"))
        if self.failed:
            lines.append(text("sending.summary.failed", n=len(self.failed)))
            lines += [text("sending.summary.item", city=d.city, detail=d.detail) for d in self.failed]
        if self.skipped:
            lines.append(text("sending.summary.skipped", n=len(self.skipped)))
            lines += [text("sending.summary.item", city=d.city, detail=d.detail) for d in self.skipped]
        return "\n".join(lines)


# ----------------------------------------------------------------------------- plan
@dataclass
class Planned:
    draft: Draft
    action: str  # send | already | unknown | no_recipient
    state: MessageState


def journal_path(run_dir: Path) -> Path:
    return Path(run_dir) / MAIL_DIR / settings.MAIL_JOURNAL


def plan(run_dir: Path, resend_unknown: bool = False, states: dict[str, MessageState] | None = None) -> list[Planned]:
    """What a send would do with each draft (read only: for the confirmation list)."""
    if states is None:
        try:
            states = MailJournal.read_states(journal_path(run_dir))
        except JournalError as exc:
            raise MailError(exc.message) from None
    out = []
    for draft in list_drafts(run_dir):
        state = states.get(draft.file, MessageState("new"))
        if state.state == "sent":
            action = "already"
        elif state.state == "unknown" and not resend_unknown:
            action = "unknown"
        elif not draft.recipients:
            action = "no_recipient"
        else:
            action = "send"
        out.append(Planned(draft, action, state))
    return out


def preview_line(item: Planned) -> str:
    recipients = join(item.draft.recipients) or text("sending.preview.nobody")
    return text(f"sending.preview.{item.action}", city=item.draft.city, recipients=recipients)


# ----------------------------------------------------------------------------- sending
def send_drafts(run_dir: Path, options: SmtpOptions, *, resend_unknown: bool = False,
                now: Callable[[], dt.datetime] | None = None, sleep: Callable[[float], None] = time.sleep) -> SendReport:
    """Send the drafts of ``run_dir/mail`` that are not recorded as sent; see the module docstring.

    ``now`` (the clock) and ``sleep`` are injectable for tests.  Raises :class:`MailError` when the
    send cannot start (no drafts, lock held, journal unusable).
    """
    run_dir = Path(run_dir)
    mail_dir = run_dir / MAIL_DIR
    if not mail_dir.is_dir() or not list_drafts(run_dir):
        raise MailError(text("sending.no_drafts", run_dir=run_dir))
    clock = now or china_now
    try:
        lock = _SendLock(mail_dir / settings.MAIL_SEND_LOCK).acquire()
    except LockHeld as held:
        raise SendLocked(text("sending.locked", run_dir=run_dir, pid=held.pid or "?", started=held.started or "?",
                              path=held.path)) from None
    except OSError as exc:
        raise MailError(text("sending.lock_failed", path=mail_dir / settings.MAIL_SEND_LOCK,
                             detail=exc.strerror or exc)) from None
    try:
        with MailJournal.open(journal_path(run_dir)) as journal:
            return _Sender(run_dir, options, journal, clock, sleep).run(resend_unknown)
    except JournalError as exc:
        raise MailError(exc.message) from None
    finally:
        lock.release()


class _SendLock(RunLock):
    """The run lock's mechanism for ``mail send``; the time it records is China time."""

    def _info(self) -> bytes:
        info = json.loads(super()._info())
        info["started"] = stamp()
        return json.dumps(info, ensure_ascii=False).encode("utf-8")


class _CannotConnect(Exception):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass
class _Outcome:
    status: str  # sent | failed | unknown | retry
    reply: str = ""
    refused: dict[str, str] = field(default_factory=dict)
    dropped: bool = False  # the connection is gone


class _Sender:
    def __init__(self, run_dir: Path, options: SmtpOptions, journal: MailJournal,
                 clock: Callable[[], dt.datetime], sleep: Callable[[float], None]) -> None:
        self.run_dir, self.options, self.journal, self.clock, self.sleep = run_dir, options, journal, clock, sleep
        self.report = SendReport()
        self.smtp: smtplib.SMTP | None = None

    # ------------------------------------------------------------------ the whole send
    def run(self, resend_unknown: bool) -> SendReport:
        report = self.report
        todo: list[Draft] = []
        for item in plan(self.run_dir, resend_unknown, self.journal.states()):
            draft, attempt = item.draft, item.state.attempt
            if item.action == "already":
                report.already.append(draft.city)
                if attempt is not None and attempt.sha256 and attempt.sha256 != draft.sha256:
                    report.changed_since.append(draft.city)
            elif item.action == "unknown":
                assert attempt is not None
                report.unknown.append(Delivery(draft.city, _unknown_detail(attempt.status, attempt.reply),
                                               attempt.message_id, attempt.recipients, attempt.started))
            elif item.action == "no_recipient":
                report.skipped.append(Delivery(draft.city, text("sending.no_recipient")))
            elif not (self.options.sender or address_of(draft.sender)):
                report.failed.append(Delivery(draft.city, text("sending.no_sender")))
            else:
                todo.append(draft)
        if not todo:
            return report
        try:
            self._connect()
        except _CannotConnect as exc:
            report.error = text("sending.cannot_connect", server=self.options.server, why=exc.why)
            return report
        try:
            for i, draft in enumerate(todo):
                try:
                    self._deliver(draft)
                except _CannotConnect as exc:
                    for rest in todo[i:]:
                        report.failed.append(Delivery(rest.city, text("sending.reconnect_failed",
                                                                      server=self.options.server, why=exc.why)))
                    break
        except JournalError as exc:  # cannot record: stop here (what is unrecorded is never taken as sent)
            report.error = exc.message
        finally:
            self._quit()
        return report

    # ------------------------------------------------------------------ one message
    def _deliver(self, draft: Draft) -> None:
        options, report = self.options, self.report
        envelope_from = address_of(options.sender or draft.sender)
        message_id = message_id_for(self.run_dir, draft, envelope_from)
        raw = draft.path.read_bytes()
        sha256 = hashlib.sha256(raw).hexdigest()
        last = ""
        for attempt in range(1, max(1, options.attempts) + 1):
            if self.smtp is None:
                self._connect()
            started = self.clock()
            wire = wire_bytes(raw, date=started, message_id=message_id, sender=options.sender)
            row = self.journal.begin(file=draft.file, city=draft.city, sha256=sha256, message_id=message_id,
                                     sender=envelope_from, recipients=draft.recipients, subject=draft.subject,
                                     server=options.server, started=started)
            outcome = self._transaction(row, envelope_from, draft.recipients, wire)
            final = "failed" if outcome.status == "retry" else outcome.status
            self.journal.finish(row, final, outcome.reply, outcome.refused, self.clock())
            if outcome.dropped:
                self._drop()
            if outcome.status == "sent":
                report.sent.append(draft.city)
                return
            if outcome.status == "unknown":
                report.unknown.append(Delivery(draft.city, _unknown_detail("unknown", outcome.reply), message_id,
                                               draft.recipients, stamp(started)))
                return
            if outcome.status == "failed":
                report.failed.append(Delivery(draft.city, outcome.reply, message_id, draft.recipients))
                return
            last = outcome.reply
            if attempt < options.attempts and not outcome.dropped:
                self.sleep(options.backoff * 2 ** (attempt - 1))  # a 4xx: give the server time
        report.failed.append(Delivery(draft.city, text("sending.gave_up", n=max(1, options.attempts), why=last),
                                      message_id, draft.recipients))

    def _transaction(self, row: int, envelope_from: str, recipients: list[str], wire: bytes) -> _Outcome:
        """One SMTP transaction; the journal row is moved to ``data`` right before the content."""
        smtp = self.smtp
        assert smtp is not None
        phase = "envelope"
        try:
            mail_options = ["BODY=8BITMIME"] if not wire.isascii() and smtp.has_extn("8bitmime") else []
            code, reply = smtp.mail(envelope_from, mail_options)
            if code != 250:
                self._reset()
                return _refused(code, reply, text("sending.sender_refused", sender=envelope_from,
                                                  reply=_reply(code, reply)))
            refused: dict[str, str] = {}
            codes = []
            for rcpt in recipients:
                code, reply = smtp.rcpt(rcpt)
                if code not in (250, 251):
                    refused[rcpt] = _reply(code, reply)
                    codes.append(code)
            if refused:
                self._reset()  # nobody gets it: the accepted recipients would get it again on a retry
                detail = text("sending.recipients_refused", refused=join(
                    text("sending.refused_item", recipient=r, reply=why) for r, why in refused.items()))
                status = "retry" if all(400 <= c < 500 for c in codes) else "failed"
                return _Outcome(status, detail, refused, dropped=CLOSING in codes)
            code, reply = smtp.docmd("DATA")
            if code != 354:
                self._reset()
                return _refused(code, reply, text("sending.data_refused", reply=_reply(code, reply)))
            self.journal.content_next(row)
            phase = "content"
            smtp.send(_dot_stuffed(wire))
            phase = "reply"
            code, reply = smtp.getreply()
        except UnicodeError as exc:  # a hand-edited draft with a non-ASCII address: smtplib cannot say it
            self._reset()
            return _Outcome("failed", text("sending.bad_address", detail=exc))
        except (smtplib.SMTPException, OSError) as exc:
            why = _why(exc)
            if phase == "reply":  # the server has the whole message and said nothing
                return _Outcome("unknown", text("sending.dropped_after_content", why=why), dropped=True)
            return _Outcome("retry", text("sending.dropped_before_content", why=why), dropped=True)
        if code == 250:
            return _Outcome("sent", _reply(code, reply))
        return _refused(code, reply, text("sending.content_refused", reply=_reply(code, reply)))

    # ------------------------------------------------------------------ the connection
    def _connect(self) -> None:
        """Open (or reopen) the connection, with the bounded retries of a 4xx or a network error."""
        options = self.options
        why = ""
        for attempt in range(1, max(1, options.attempts) + 1):
            if attempt > 1:
                self.sleep(options.backoff * 2 ** (attempt - 2))
            try:
                self.smtp = _open(options)
                return
            except (smtplib.SMTPException, OSError) as exc:
                permanent = (isinstance(exc, (ssl.SSLError, smtplib.SMTPNotSupportedError))
                             or (isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500))
                if permanent:  # a wrong password or a server that cannot do TLS: trying again changes nothing
                    raise _CannotConnect(_why(exc)) from None
                why = _why(exc)
        raise _CannotConnect(why)

    def _reset(self) -> None:
        try:
            assert self.smtp is not None
            self.smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.close()
            except OSError:
                pass
        self.smtp = None

    def _quit(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()


def _open(options: SmtpOptions) -> smtplib.SMTP:
    if options.security == "ssl":
        server: smtplib.SMTP = smtplib.SMTP_SSL(options.host, options.port, timeout=options.timeout,
                                                context=ssl.create_default_context())
    else:
        server = smtplib.SMTP(options.host, options.port, timeout=options.timeout)
    try:
        server.ehlo_or_helo_if_needed()
        if options.security == "starttls":
            server.starttls(context=ssl.create_default_context())
            server.ehlo()
        if options.user:
            server.login(options.user, options.password or "")
    except BaseException:
        server.close()
        raise
    return server


def _refused(code: int, reply: bytes | str, detail: str) -> _Outcome:
    return _Outcome("retry" if 400 <= code < 500 else "failed", detail, dropped=code == CLOSING)


def _reply(code: int, reply: bytes | str) -> str:
    said = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {' '.join(said.split())}".strip()


def _unknown_detail(status: str, reply: str | None) -> str:
    if status == "data":
        return text("sending.killed_during_content")
    return reply or text("sending.killed_during_content")


def _why(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return text("sending.login_refused", reply=_reply(exc.smtp_code, exc.smtp_error))
    if isinstance(exc, smtplib.SMTPResponseException):
        return text("sending.server_said", reply=_reply(exc.smtp_code, exc.smtp_error))
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return text("sending.disconnected")
    if isinstance(exc, ssl.SSLError):
        return text("sending.tls_failed", detail=exc.reason or exc)
    if isinstance(exc, TimeoutError):
        return text("sending.timeout")
    if isinstance(exc, ConnectionRefusedError):
        return text("sending.refused_connection")
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) or type(exc).__name__
