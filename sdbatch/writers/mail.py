"""E-mail drafts ``mail/<city>.eml`` (issue 4).

A run only *writes* drafts (never sends: ``sdbatch mail send``, :mod:`sdbatch.sending`). Headers
are built only through the ``email`` package, and city text that goes into a header is flattened
to one line first, so a cluster name holding ``\\r\\nBcc: …`` cannot add a header. The review
workbook is attached with its Chinese file name (RFC 2231). Recipients come from the address book
(:mod:`sdbatch.address_book`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from sdbatch.address_book import load_address_book
from sdbatch.intake.replies import add_reply_headers
from sdbatch.jurisdiction import jurisdiction_of
from sdbatch.model import Finding, RunResult, Source
from sdbatch.writers import mail_body
from sdbatch.writers._common import CHINA, UNKNOWN_CITY, china_time, one_line

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
# CRLF line ends; long enough lines that a Chinese file name is one `filename*=` parameter
# rather than RFC 2231 continuations (filename*0*, filename*1*), which some clients mishandle.
DRAFT_POLICY = policy.SMTP.clone(max_line_length=250)


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
    order = jurisdiction_of(result).order
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
        add_reply_headers(msg, result, city)  # issue 18: answers the city's last message, when it came by mail
        body = re.sub(r"\n{3,}", "\n\n", body_t.render(context))  # templates stay readable, mails tidy
        del context  # a city of 100,000 rows: the entries of every application (issue 16)
        msg.set_content(body, subtype="plain", charset="utf-8")
        del body
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
        _write_message(tmp, msg)
        del msg
        os.replace(tmp, path)
    return findings


def _write_message(path: Path, msg: EmailMessage) -> None:
    """``path.write_bytes(msg.as_bytes())`` without the whole message held twice more in memory
    (its bytes and the buffer they were written to): the same generator writes to the file."""
    with open(path, "wb") as fh:
        BytesGenerator(fh, mangle_from_=False, policy=msg.policy).flatten(msg, unixfrom=False)
