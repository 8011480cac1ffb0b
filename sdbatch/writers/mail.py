"""E-mail drafts ``mail/<city>.eml`` and ``sdbatch mail send`` (issue 4).

A run only *writes* drafts (never sends). Headers are built only through the ``email``
package, and city text that goes into a header is flattened to one line first, so a cluster
name holding ``\\r\\nBcc: …`` cannot add a header. The review workbook is attached with its
Chinese file name (RFC 2231). ``send_drafts`` sends the drafts of a run with smtplib and
records every attempt in ``mail/sent.json``; a draft already sent unchanged is not sent again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import smtplib
import ssl
import tomllib
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from sdbatch import settings
from sdbatch.model import Finding, RunResult, Source
from sdbatch.rules import cities as all_cities
from sdbatch.writers import mail_body
from sdbatch.writers._common import CHINA, UNKNOWN_CITY, china_time, one_line

DEFAULT_ADDRESS_BOOK = Path(settings.ADDRESS_BOOK)
DEFAULT_REPLY_DAYS = 5
XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
SENT_LOG = "sent.json"
# CRLF line ends; long enough lines that a Chinese file name is one `filename*=` parameter
# rather than RFC 2231 continuations (filename*0*, filename*1*), which some clients mishandle.
DRAFT_POLICY = policy.SMTP.clone(max_line_length=250)


class MailError(ValueError):
    """A mail option or draft that cannot be used; the message is one Chinese sentence."""


# ----------------------------------------------------------------------------- address book
@dataclass
class AddressBook:
    sender: str | None
    reply_days: int
    cities: dict[str, dict[str, list[str]]]
    path: str
    problems: list[str] = field(default_factory=list)

    def recipients(self, city: str) -> tuple[list[str], list[str]]:
        entry = self.cities.get(city) or {}
        return list(entry.get("to", [])), list(entry.get("cc", []))


def _valid_address(text: str) -> bool:
    if any(ch in text for ch in "\r\n"):
        return False
    _, addr = parseaddr(text)
    local, _, domain = addr.rpartition("@")
    return bool(local) and "." in domain and " " not in addr


def load_address_book(path: Path | None) -> AddressBook:
    """Read the TOML address book; problems are collected, never raised (the run goes on)."""
    path = Path(path) if path is not None else DEFAULT_ADDRESS_BOOK
    book = AddressBook(None, DEFAULT_REPLY_DAYS, {}, str(path))
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        book.problems.append("不存在")
        return book
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        book.problems.append(f"无法读取（{exc}）")
        return book
    sender = raw.get("from")
    if isinstance(sender, str) and _valid_address(sender):
        book.sender = sender
    elif sender is not None:
        book.problems.append(f"发件人地址“{sender}”格式不正确")
    days = raw.get("reply_days", DEFAULT_REPLY_DAYS)
    book.reply_days = days if isinstance(days, int) and days >= 0 else DEFAULT_REPLY_DAYS
    for city, entry in (raw.get("cities") or {}).items():
        if not isinstance(entry, dict):
            book.problems.append(f"[cities.\"{city}\"] 应为一个表（to、cc）")
            continue
        clean: dict[str, list[str]] = {}
        for key in ("to", "cc"):
            values = entry.get(key, [])
            if isinstance(values, str):
                values = [values]
            good = []
            for value in values:
                if isinstance(value, str) and _valid_address(value):
                    good.append(value.strip())
                else:
                    book.problems.append(f"{city}的地址“{value}”格式不正确，已忽略")
            clean[key] = good
        book.cities[city] = clean
    return book


# ----------------------------------------------------------------------------- templates
def _environment(templates_dir: Path | None = None) -> Any:
    import jinja2

    loaders: list[Any] = []
    if templates_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(templates_dir)))
    loaders.append(jinja2.PackageLoader("sdbatch", "mail_templates"))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), autoescape=False, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["chinese_number"] = mail_body.chinese_number
    return env


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
    order = {c: i for i, c in enumerate(all_cities())}
    for city in sorted(reviews, key=lambda c: (order.get(c, 99), c)):
        if city == UNKNOWN_CITY or (cities is not None and city not in cities):
            continue
        review = Path(reviews[city])
        context = mail_body.context(result, city, review, book.reply_days)
        to, cc = book.recipients(city)
        msg = EmailMessage(policy=DRAFT_POLICY)
        msg["Subject"] = one_line(subject_t.render(context))  # city text in a header: one line only
        if book.sender:
            msg["From"] = book.sender
        if to:
            msg["To"] = ", ".join(to)
        if cc:
            msg["Cc"] = ", ".join(cc)
        msg["Date"] = format_datetime(china_time(result.started) or dt.datetime.now(CHINA))  # China time
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


@dataclass
class Draft:
    city: str
    path: Path
    recipients: list[str]
    subject: str = ""


def _read(path: Path) -> EmailMessage:
    with path.open("rb") as fh:
        msg = BytesParser(policy=policy.default).parse(fh)
    assert isinstance(msg, EmailMessage)
    return msg


def _recipients(msg: EmailMessage) -> list[str]:
    values = [str(v) for key in ("To", "Cc", "Bcc") for v in (msg.get_all(key) or [])]
    return [addr for _, addr in getaddresses(values) if addr]


def list_drafts(run_dir: Path) -> list[Draft]:
    """The drafts of a run, in the province's city order."""
    mail_dir = Path(run_dir) / "mail"
    if not mail_dir.is_dir():
        return []
    order = {c: i for i, c in enumerate(all_cities())}
    drafts = []
    for path in sorted(mail_dir.glob("*.eml"), key=lambda p: (order.get(p.stem, 99), p.stem)):
        msg = _read(path)
        drafts.append(Draft(path.stem, path, _recipients(msg), str(msg.get("Subject", ""))))
    return drafts


# ----------------------------------------------------------------------------- sending
@dataclass
class SmtpOptions:
    host: str
    port: int
    security: str = "plain"  # plain | starttls | ssl
    user: str | None = None
    password: str | None = None
    sender: str | None = None
    timeout: float = 30.0

    @classmethod
    def from_cli(cls, smtp: str, security: str | None, user: str | None, password_env: str | None,
                 sender: str | None) -> SmtpOptions:
        security = security or "plain"
        if security not in ("plain", "starttls", "ssl"):
            raise MailError(f"加密方式“{security}”不可用，应为 plain、starttls 或 ssl。")
        host, port = _split_host_port(smtp, {"plain": 25, "starttls": 587, "ssl": 465}[security])
        password = None
        if user:
            password = os.environ.get(password_env or "")
            if not password:
                raise MailError(f"已指定登录用户 {user}，但环境变量 {password_env} 中没有密码。"
                                f"请先设置：export {password_env}=…")
        if sender is not None and not _valid_address(sender):
            raise MailError(f"发件人地址“{sender}”格式不正确。")
        return cls(host, port, security, user, password, sender)


def _split_host_port(text: str, default_port: int) -> tuple[str, int]:
    text = text.strip()
    if text.startswith("["):  # [::1]:25
        host, _, rest = text[1:].partition("]")
        port_text = rest.lstrip(":")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not host:
        raise MailError(f"SMTP 服务器“{text}”格式不正确，应为 HOST:PORT（如 smtp.example.cn:465）。")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise MailError(f"SMTP 端口“{port_text}”不正确，应为 1–65535 的数字。")
    return host, int(port_text)


@dataclass
class SendReport:
    sent: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None

    @property
    def exit_code(self) -> int:
        if self.error:
            return 2
        return 1 if (self.failed or self.skipped) else 0

    def summary(self) -> str:
        lines = []
        if self.error:
            lines.append(f"发送失败：{self.error}")
        lines.append(f"已发送 {len(self.sent)} 封" + (f"：{'、'.join(self.sent)}" if self.sent else "") + "。")
        if self.already:
            lines.append(f"此前已发送、未重复发送 {len(self.already)} 封：{'、'.join(self.already)}。")
        for city, why in self.skipped:
            lines.append(f"未发送 {city}：{why}")
        for city, why in self.failed:
            lines.append(f"发送失败 {city}：{why}")
        return "\n".join(lines)


def _load_log(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return list(data.get("messages", [])) if isinstance(data, dict) else []


def _save_log(path: Path, entries: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"messages": entries}, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def _connect(options: SmtpOptions) -> smtplib.SMTP:
    if options.security == "ssl":
        server: smtplib.SMTP = smtplib.SMTP_SSL(options.host, options.port, timeout=options.timeout,
                                                context=ssl.create_default_context())
    else:
        server = smtplib.SMTP(options.host, options.port, timeout=options.timeout)
        if options.security == "starttls":
            server.starttls(context=ssl.create_default_context())
    if options.user:
        server.login(options.user, options.password or "")
    return server


def send_drafts(run_dir: Path, options: SmtpOptions, now: dt.datetime | None = None) -> SendReport:
    """Send every draft of ``run_dir/mail``; record each attempt in ``mail/sent.json``."""
    run_dir = Path(run_dir)
    report = SendReport()
    log_path = run_dir / "mail" / SENT_LOG
    log = _load_log(log_path)
    done = {(e.get("file"), e.get("sha256")) for e in log if e.get("status") == "sent"}
    drafts = list_drafts(run_dir)
    todo = []
    for draft in drafts:
        digest = hashlib.sha256(draft.path.read_bytes()).hexdigest()
        if (draft.path.name, digest) in done:
            report.already.append(draft.city)
        elif not draft.recipients:
            report.skipped.append((draft.city, "草稿没有收件人（请在通讯录中补充后重新生成，或手工发送）"))
            log.append(_entry(draft, digest, "skipped", options, now, "没有收件人"))
        else:
            todo.append((draft, digest))
    if todo:
        try:
            server = _connect(options)
        except (OSError, smtplib.SMTPException) as exc:
            report.error = f"无法连接或登录 SMTP 服务器 {options.host}:{options.port}（{_why(exc)}）"
            for draft, digest in todo:
                report.failed.append((draft.city, "未能连接服务器"))
                log.append(_entry(draft, digest, "failed", options, now, report.error))
            _save_log(log_path, log)
            return report
        try:
            for draft, digest in todo:
                try:
                    msg = _prepare(draft, options, now)
                    envelope_from = parseaddr(str(msg["From"]))[1]
                    server.send_message(msg, from_addr=envelope_from, to_addrs=draft.recipients)
                except (MailError, smtplib.SMTPException, OSError) as exc:
                    report.failed.append((draft.city, _why(exc)))
                    log.append(_entry(draft, digest, "failed", options, now, _why(exc)))
                else:
                    report.sent.append(draft.city)
                    log.append(_entry(draft, digest, "sent", options, now, None))
        finally:
            try:
                server.quit()
            except (OSError, smtplib.SMTPException):
                pass
    _save_log(log_path, log)
    return report


def _prepare(draft: Draft, options: SmtpOptions, now: dt.datetime | None) -> EmailMessage:
    msg = _read(draft.path)
    del msg["X-Unsent"]
    if options.sender:
        del msg["From"]
        msg["From"] = options.sender
    if not msg.get("From"):
        raise MailError("缺少发件人：请在通讯录中填写 from，或使用 --sender 指定。")
    del msg["Date"]
    msg["Date"] = format_datetime((now or dt.datetime.now()).astimezone())
    if not msg.get("Message-ID"):
        domain = parseaddr(str(msg["From"]))[1].rpartition("@")[2] or "localhost"
        msg["Message-ID"] = make_msgid(domain=domain)
    return msg


def _entry(draft: Draft, digest: str, status: str, options: SmtpOptions, now: dt.datetime | None,
           error: str | None) -> dict[str, Any]:
    return {
        "city": draft.city,
        "file": draft.path.name,
        "sha256": digest,
        "recipients": draft.recipients,
        "subject": draft.subject,
        "server": f"{options.host}:{options.port}",
        "status": status,
        "error": error,
        "time": (now or dt.datetime.now()).astimezone().isoformat(timespec="seconds"),
    }


def _why(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "用户名或密码不正确"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "服务器拒绝了收件人：" + "、".join(exc.recipients)
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = exc.smtp_error
        text = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        return f"服务器返回 {exc.smtp_code} {text}"
    if isinstance(exc, MailError):
        return str(exc)
    if isinstance(exc, ssl.SSLError):
        return f"加密连接失败（{exc.reason or exc}）"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) or type(exc).__name__
