"""Saved e-mails: ``.eml`` (the stdlib ``email`` package) and Outlook ``.msg`` (``extract-msg``).

    parsed = read_message(path)          # -> ParsedMessage, or FileRejected with a Chinese reason
    parsed.info                          # MessageInfo: Message-ID, sender, date (China time), subject
    parsed.attachments                   # [Attachment(name, data)]: every attached file

The same parser reads what ``sdbatch fetch`` takes from the mailbox (:func:`parse_eml`).  A
message is opened only within the limits (:data:`settings.MAX_MESSAGE_BYTES`,
:data:`settings.MAX_MESSAGE_PARTS`); attachment names are decoded (RFC 2231, encoded words, raw
GBK bytes) and made safe as file names (:func:`safe_name`).  Everything from a message is data: a
name never becomes a path outside the folder it is written to, a header never becomes a header
of ours unchecked (:mod:`sdbatch.intake.origin`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from sdbatch import settings
from sdbatch.catalogue import text
from sdbatch.intake.origin import CHINA, clean_message_id, message_ids, one_line, parse_date_header
from sdbatch.model import FileRejected, MessageInfo
from sdbatch.reading.sniff import OLE_MAGIC
from sdbatch.text import display_name

# Content types of attachments that carry no file name (some clients), and the suffix they get.
_TYPE_SUFFIXES = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.ms-excel.sheet.macroenabled.12": ".xlsm",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "text/csv": ".csv",
    "application/zip": ".zip",
    "application/x-zip-compressed": ".zip",
    "application/x-7z-compressed": ".7z",
    "application/x-rar-compressed": ".rar",
    "application/vnd.rar": ".rar",
    "message/rfc822": ".eml",
}
_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


@dataclass
class Attachment:
    name: str  # safe as a file name
    data: bytes
    original_name: str = ""  # as the message gave it (decoded), for the record
    error: FileRejected | None = None  # attached, but its content could not be taken out


@dataclass
class ParsedMessage:
    info: MessageInfo
    moment: dt.datetime | None  # the Date, China time; None when the message has none
    attachments: list[Attachment] = field(default_factory=list)


def read_message(path: Path) -> ParsedMessage:
    """An .eml or .msg file, by its first bytes (an Outlook .msg is an OLE file)."""
    path = Path(path)
    size = path.stat().st_size
    if size > settings.MAX_MESSAGE_BYTES:
        raise _rejected(path, "message-too-large", size=_mb(size), limit=_mb(settings.MAX_MESSAGE_BYTES))
    with path.open("rb") as fh:
        head = fh.read(len(OLE_MAGIC))
    if head == OLE_MAGIC:
        return read_msg(path)
    if path.suffix.lower() == ".msg":
        raise _rejected(path, "message-unreadable", detail=text("intake.message.not_outlook"))
    return parse_eml(path.read_bytes(), path)


# ----------------------------------------------------------------------------- .eml
def parse_eml(raw: bytes, path: Path | None = None) -> ParsedMessage:
    """A message in RFC 5322 form (a saved .eml, or what the mailbox returned)."""
    try:
        msg = message_from_bytes(raw, policy=policy.compat32)
    except Exception:  # noqa: BLE001 - the parser is lenient; anything else is a damaged file
        raise _rejected(path, "message-unreadable", detail=text("intake.message.damaged")) from None
    if not _looks_like_message(msg):
        raise _rejected(path, "message-unreadable", detail=text("intake.message.no_headers"))
    info, moment = message_info(msg)
    attachments: list[Attachment] = []
    parts = 0
    for part in _parts(msg):
        parts += 1
        if parts > settings.MAX_MESSAGE_PARTS:
            raise _rejected(path, "message-unreadable",
                            detail=text("intake.message.too_many_parts", limit=settings.MAX_MESSAGE_PARTS))
        if part is msg or part.is_multipart() and part.get_content_type() != "message/rfc822":
            continue
        attachment = _attachment(part, len(attachments) + 1)
        if attachment is not None:
            attachments.append(attachment)
    return ParsedMessage(info, moment, attachments)


def _parts(msg: Message) -> Iterator[Message]:
    """The parts of a message as ``walk`` gives them, without going into an attached message: that
    is an attachment, opened as a container of its own, one level deeper (within the nesting limit
    of archives).  Walking into it too re-serialised every level of 200 nested messages: a 21 MB
    file took four minutes and 4 GB."""
    stack = [msg]
    while stack:
        part = stack.pop()
        yield part
        if part.is_multipart() and (part is msg or part.get_content_type() != "message/rfc822"):
            stack.extend(reversed([p for p in part.get_payload() if isinstance(p, Message)]))


def _looks_like_message(msg: Message) -> bool:
    return any(msg.get(h) is not None for h in ("From", "Date", "Subject", "Message-ID", "Content-Type"))


def message_info(msg: Message) -> tuple[MessageInfo, dt.datetime | None]:
    """What a message's headers say about it (each header cleaned; a bad one is left out)."""
    moment = parse_date_header(_header(msg, "Date"))
    sender, sender_name = sender_of(_header(msg, "From") or _header(msg, "Sender"))
    refs = message_ids(_header(msg, "References")) + message_ids(_header(msg, "In-Reply-To"))
    info = MessageInfo(
        message_id=clean_message_id(_header(msg, "Message-ID")),
        sender=sender, sender_name=sender_name,
        date=moment.isoformat(timespec="seconds") if moment else None,
        subject=one_line(_header(msg, "Subject")) or None,
        references=tuple(dict.fromkeys(refs)),
        date_source="header" if moment else "none",
    )
    return info, moment


def _header(msg: Message, name: str) -> str | None:
    """A header decoded to text (encoded words in any charset; raw GBK bytes read as GB18030)."""
    from email.header import decode_header, make_header

    try:
        value = msg.get(name)
    except Exception:  # noqa: BLE001 - a malformed header is left out
        return None
    if value is None:
        return None
    raw = str(value)[: settings.MAX_HEADER_CHARS]  # a 5 MB subject of encoded words took a minute
    try:
        decoded = str(make_header(decode_header(raw)))
    except Exception:  # noqa: BLE001 - an unknown charset or a broken encoded word: the text as it is
        decoded = raw
    return display_name(decoded)


def sender_of(value: str | None) -> tuple[str | None, str | None]:
    """(address in lower case, display name) of a From header; (None, None) when it holds none."""
    if not value:
        return None, None
    pairs = [p for p in getaddresses([value]) if "@" in p[1]]
    if not pairs:
        return None, None
    name, address = pairs[0]
    address = one_line(address, 254).lower()
    if not address or any(ch.isspace() for ch in address):
        return None, None
    return address, one_line(name) or None


def _attachment(part: Message, number: int) -> Attachment | None:
    content_type = part.get_content_type()
    disposition = str(part.get("Content-Disposition") or "").split(";")[0].strip().lower()  # a Header when 8-bit
    try:
        name = _eight_bit_filename(part) or part.get_filename()
    except Exception:  # noqa: BLE001 - a broken RFC 2231 parameter: treat as unnamed
        name = None
    if name is not None:
        name = _decoded_name(name)
    if content_type == "message/rfc822":
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if inner is None:
            return None
        data = inner.as_bytes() if hasattr(inner, "as_bytes") else bytes(str(inner), "utf-8")
        subject = one_line(_header(inner, "Subject")) if isinstance(inner, Message) else ""
        original = name or subject
        # opened as a message whatever its name: a client may name it "转发的邮件" or "noname"
        return Attachment(safe_name(_ending(original, ".eml"), number, ".eml"), data, original)
    if not name and (disposition != "attachment" and content_type not in _TYPE_SUFFIXES):
        return None  # the body text, an inline picture
    if not name and content_type.startswith("text/") and content_type != "text/csv":
        return None
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - broken base64: an empty attachment (the reader says so)
        data = b""
    if not isinstance(data, bytes):
        data = b""
    suffix = _TYPE_SUFFIXES.get(content_type, "")
    shown = name or ""
    if shown and suffix and "." not in shown.replace("\\", "/").rsplit("/", 1)[-1]:
        shown += suffix  # named without an extension ("汇总表"): its content type says what it is
    return Attachment(safe_name(shown, number, suffix), data, name or "")


def _eight_bit_filename(part: Message) -> str | None:
    """The file name some Chinese mail clients write as raw UTF-8 or GBK bytes in the header
    (``filename="淄博市….xlsx"`` unencoded): the email package keeps such a header as a ``Header``
    whose text has lost the bytes, so the name is read from the bytes themselves."""
    from email.header import Header, decode_header

    for header in ("Content-Disposition", "Content-Type"):
        value = part.get(header)
        if not isinstance(value, Header):
            continue
        raw = b"".join(c if isinstance(c, bytes) else c.encode("ascii", "replace") for c, _ in decode_header(value))
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:
            decoded = raw.decode("gb18030", "replace")
        plain = Message()
        plain[header] = decoded
        name = plain.get_filename() if header == "Content-Disposition" else plain.get_param("name")
        if isinstance(name, str) and name:
            return name
    return None


def _decoded_name(name: str) -> str:
    from email.header import decode_header, make_header

    name = name[: settings.MAX_HEADER_CHARS]
    if "=?" in name:
        try:
            name = str(make_header(decode_header(name)))
        except Exception:  # noqa: BLE001 - an encoded word that cannot be decoded: kept as written
            pass
    return display_name(name)


def _ending(name: str, suffix: str) -> str:
    """``name`` ending with ``suffix`` (an attached message opened as one whatever it is called)."""
    return name if not name or name.lower().endswith(suffix) else name + suffix


def safe_name(name: str, number: int, suffix: str = "") -> str:
    """A name to write a file under: no folder part, no character Windows refuses, no leading dot,
    at most settings.MAX_NAME_CHARS characters (the suffix kept); an empty name gets ``附件<n>`` + suffix."""
    name = display_name(name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_CHARS.sub("_", name).strip().strip(".").strip()
    if not name or name.startswith("~$"):
        name = text("intake.unnamed_attachment", number=number) + suffix
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 8:
        stem, ext = name, ""
    suffix = "." + ext if ext else ""
    stem = stem[: settings.MAX_NAME_CHARS - len(suffix)]
    while len((stem + suffix).encode("utf-8", "surrogatepass")) > settings.MAX_NAME_BYTES:  # a file system counts bytes
        stem = stem[:-1]
    return stem + suffix


# ----------------------------------------------------------------------------- .msg
def read_msg(path: Path) -> ParsedMessage:
    """An Outlook .msg (an OLE compound file), read with ``extract-msg``."""
    import extract_msg
    from extract_msg.enums import ErrorBehavior

    try:
        # an attachment extract-msg cannot take out (a reference to a path, a damaged one) comes as
        # one without data, reported as such, instead of failing the whole message
        msg = extract_msg.openMsg(str(path), strict=False, errorBehavior=ErrorBehavior.ATTACH_NOT_IMPLEMENTED
                                  | ErrorBehavior.ATTACH_BROKEN)
    except Exception as exc:  # noqa: BLE001 - any failure of the library is a file we cannot read
        detail = text("intake.message.msg_encrypted") if "encrypt" in str(exc).lower() else \
            text("intake.message.msg_damaged")
        raise _rejected(path, "message-unreadable", detail=detail) from None
    try:
        return _msg_contents(msg)
    except FileRejected:
        raise
    except Exception:  # noqa: BLE001
        raise _rejected(path, "message-unreadable", detail=text("intake.message.msg_damaged")) from None
    finally:
        try:
            msg.close()
        except Exception:  # noqa: BLE001 - closing a half-read file
            pass


def _msg_contents(msg: Any) -> ParsedMessage:
    headers = getattr(msg, "header", None)
    moment = parse_date_header(headers.get("Date")) if headers is not None else None
    date_source = "header" if moment else "none"
    if moment is None:  # saved from Sent Items, no transport headers: the time it was submitted
        sent = getattr(msg, "date", None)
        if isinstance(sent, dt.datetime):
            aware = sent if sent.tzinfo else sent.replace(tzinfo=dt.UTC)  # MAPI times are UTC
            moment = aware.astimezone(CHINA)
            date_source = "header"
    sender_raw = _msg_sender(msg, headers)
    sender, sender_name = sender_of(sender_raw)
    refs: tuple[str, ...] = ()
    if headers is not None:
        refs = message_ids(headers.get("References")) + message_ids(headers.get("In-Reply-To"))
    message_id = clean_message_id(getattr(msg, "messageId", None)) or (
        clean_message_id(headers.get("Message-ID")) if headers is not None else None)
    info = MessageInfo(message_id=message_id, sender=sender, sender_name=sender_name,
                       date=moment.isoformat(timespec="seconds") if moment else None,
                       subject=one_line(getattr(msg, "subject", None)) or None,
                       references=tuple(dict.fromkeys(refs)), date_source=date_source)
    attachments = []
    for number, att in enumerate(getattr(msg, "attachments", []) or [], start=1):
        if number > settings.MAX_MESSAGE_PARTS:  # as for an .eml: said, not cut short in silence
            raise FileRejected("message-unreadable", file="",
                               detail=text("intake.message.too_many_parts", limit=settings.MAX_MESSAGE_PARTS))
        try:
            data = getattr(att, "data", None)
        except NotImplementedError:  # a web attachment: a link to a file kept online, not the file
            data = None
        if isinstance(data, bytes):
            original = _msg_attachment_name(att)
            attachments.append(Attachment(safe_name(original, number), data, original))
        else:
            attachments.append(_embedded_msg(data, number) or _not_included(att, number))
    return ParsedMessage(info, moment, attachments)


def _msg_attachment_name(att: Any) -> str:
    for attr in ("longFilename", "shortFilename", "displayName"):
        try:
            value = getattr(att, attr, None)
        except Exception:  # noqa: BLE001 - a web attachment has no file name of its own
            continue
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _not_included(att: Any, number: int) -> Attachment:
    """An attachment whose file is not in the message: a link to a file kept online (Outlook's
    cloud attachments), or a kind extract-msg cannot take out (a reference to a file path).  Kept
    with its reason, so that a workbook sent that way is reported, not missed."""
    from extract_msg.attachments import WebAttachment

    original = _msg_attachment_name(att)
    detail = "attachment_link" if isinstance(att, WebAttachment) else "attachment_unsupported"
    name = safe_name(original, number)
    return Attachment(name, b"", original, FileRejected(
        "attachment-not-included", file=name, detail=text(f"intake.message.{detail}")))


def _embedded_msg(item: Any, number: int) -> Attachment | None:
    """An Outlook item attached to a message (a mail forwarded "as an attachment", which carries
    the city's workbook in turn): written out as a .msg of its own, opened as a nested container
    under the same limits.  None for what is not an Outlook item."""
    if not callable(getattr(item, "exportBytes", None)):
        return None
    original = one_line(getattr(item, "subject", None)) or ""
    name = safe_name(_ending(original, ".msg"), number, ".msg")
    try:
        data = item.exportBytes()
    except Exception:  # noqa: BLE001 - an item extract-msg cannot write back: said, not skipped
        return Attachment(name, b"", original, FileRejected(
            "message-unreadable", file=name, detail=text("intake.message.embedded_damaged")))
    return Attachment(name, bytes(data), original)


def _msg_sender(msg: Any, headers: Any) -> str | None:
    if headers is not None and headers.get("From"):
        return str(headers.get("From"))
    for attr in ("sender",):
        value = getattr(msg, attr, None)
        if isinstance(value, str) and "@" in value:
            return value
    return None


# ----------------------------------------------------------------------------- helpers
def _mb(n: float) -> str:
    return f"{n / 1024 / 1024:.0f}"


def _rejected(path: Path | None, code: str, **params: Any) -> FileRejected:
    return FileRejected(code, file=display_name(path.name) if path is not None else "", **params)
