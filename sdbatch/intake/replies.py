"""Replies that thread (issue 18 Build 4): a city's e-mail draft answers its last message.

    add_reply_headers(msg, result, city)     # called by sdbatch.writers.mail for each draft

When some file of the city came by mail, the draft gets ``In-Reply-To`` (that message's
Message-ID), ``References`` (its References, then its Message-ID) and the subject ``Re: <its
subject>``, so that the city's mail client shows the review under the message it answers.  The
last message is the one with the latest date among the city's files.  Message-IDs are used only in
their checked form (:func:`sdbatch.intake.origin.clean_message_id`); a subject is one line.
"""

from __future__ import annotations

from email.message import EmailMessage

from sdbatch.catalogue import words
from sdbatch.intake.origin import clean_message_id, one_line, parse_iso
from sdbatch.model import MessageInfo, RunResult

REPLY_PREFIX = "Re: "
MAX_SUBJECT_CHARS = 200


def last_message(result: RunResult, city: str) -> MessageInfo | None:
    """The city's latest message that has a Message-ID, or None when nothing came by mail."""
    best: tuple[float, MessageInfo] | None = None
    for record in result.files:
        info = record.origin.message if record.origin is not None else None
        if info is None or record.city != city or clean_message_id(info.message_id) is None:
            continue
        moment = parse_iso(info.date)
        when = moment.timestamp() if moment else record.received_at
        if best is None or when > best[0]:
            best = (when, info)
    return best[1] if best else None


def reply_subject(subject: str | None, fallback: str) -> str:
    base = one_line(subject, MAX_SUBJECT_CHARS)
    if not base:
        return fallback
    if base.lower().startswith(tuple(words("intake.reply_prefixes"))):
        return base
    return REPLY_PREFIX + base


def add_reply_headers(msg: EmailMessage, result: RunResult, city: str) -> MessageInfo | None:
    """Make ``msg`` a reply to the city's last message, if there is one; returns that message."""
    info = last_message(result, city)
    if info is None:
        return None
    message_id = clean_message_id(info.message_id)
    assert message_id is not None
    refs = [r for r in (clean_message_id(x) for x in info.references) if r and r != message_id]
    msg["In-Reply-To"] = message_id
    msg["References"] = " ".join([*refs, message_id])
    subject = reply_subject(info.subject, str(msg.get("Subject", "")))
    del msg["Subject"]
    msg["Subject"] = subject
    return info
