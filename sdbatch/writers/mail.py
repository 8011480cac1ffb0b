"""E-mail drafts ``mail/<city>.eml`` (issue 4).

A run only *writes* drafts (never sends: ``sdbatch mail send``, :mod:`sdbatch.sending`). Headers
are built only through the ``email`` package, and city text that goes into a header is flattened
to one line first, so a cluster name holding ``\\r\\nBcc: …`` cannot add a header. The review
workbook is attached with its Chinese file name (RFC 2231). Recipients come from the address book
(:mod:`sdbatch.address_book`).
"""

from __future__ import annotations

import binascii
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
        # The review's bytes are not read here: they are encoded from its file as the draft is written.
        msg.add_attachment(b"", maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1],
                           filename=review.name)  # RFC 2231 filename*= in Content-Disposition
        # Clients that look for the name in Content-Type (older Outlook) find it there too.
        [attachment] = msg.iter_attachments()
        attachment.set_param("name", review.name)
        if not to:
            findings.append(Finding("mail-no-recipient", "warning", params={"city": city, "book": book.path},
                                    source=Source(file=f"mail/{city}.eml")))
        mail_dir.mkdir(parents=True, exist_ok=True)
        path = mail_dir / f"{city}.eml"
        tmp = path.with_name(path.name + ".tmp")
        _write_message(tmp, msg, {id(attachment): review})
        del msg, attachment
        os.replace(tmp, path)
    return findings


def _write_message(path: Path, msg: EmailMessage, files: dict[int, Path] | None = None) -> None:
    """``path.write_bytes(msg.as_bytes())``, streaming (issue 16): the standard generator holds
    the whole message in memory three times over (every part's text, the joined body, the
    bytes); here the headers are written first and each part as soon as it is made.

    ``files`` maps (the ``id`` of) a base64 part of ``msg`` added with no bytes to the file whose
    bytes it carries: they are encoded from the file a few lines at a time, so a large review is
    never held in memory.  The bytes are those of the message with the file's bytes attached."""
    for _attempt in range(_BOUNDARY_ATTEMPTS):
        if msg.is_multipart() and isinstance(msg.get_payload(), list):
            msg.set_boundary(_StreamingGenerator._make_boundary())  # type: ignore[attr-defined]  # random, as it picks
        try:
            with open(path, "wb") as fh:
                generator = _StreamingGenerator(fh, mangle_from_=False, policy=msg.policy)
                generator.files = files or {}
                generator.flatten(msg, unixfrom=False)
            return
        except _BoundaryInText:
            continue
    raise RuntimeError("no MIME boundary outside the message text")  # pragma: no cover - 10**-19 per try


_BOUNDARY_ATTEMPTS = 5


class _BoundaryInText(Exception):
    """A part holds the boundary chosen before it was written: choose another."""


class _StreamingGenerator(BytesGenerator):
    """A :class:`BytesGenerator` that writes a multipart message's headers, then each part as it is
    generated, instead of collecting the whole body first (the boundary is chosen beforehand)."""

    _top = True  # the message itself; the generators of its parts (clones) are not
    files: dict[int, Path] = {}  # id of an empty base64 part -> the file whose bytes it carries

    def clone(self, fp: Any) -> Any:
        twin = super().clone(fp)
        twin._top = False
        return twin

    def _write(self, msg: Any) -> None:
        if not (self._top and msg.is_multipart() and isinstance(msg.get_payload(), list) and msg.get_boundary()):
            super()._write(msg)  # type: ignore[misc]
            return
        self._top = False
        self._munge_cte = None  # as the generator sets it (never changed by a multipart body)
        meth = getattr(msg, "_write_headers", None)
        if meth is None:
            self._write_headers(msg)  # type: ignore[attr-defined]
        else:
            meth(self)
        self._streaming = True
        try:
            self._dispatch(msg)  # type: ignore[attr-defined]
        finally:
            self._streaming = False
            del self._munge_cte

    def _handle_multipart(self, msg: Any) -> None:
        if not getattr(self, "_streaming", False):
            super()._handle_multipart(msg)  # type: ignore[misc]
            return
        self._streaming = False  # a part that is itself multipart is generated the usual way
        boundary = msg.get_boundary()
        marker = ("--" + boundary).encode("ascii")
        if msg.preamble is not None:
            self._write_lines(msg.preamble)  # type: ignore[attr-defined]
            self.write(self._NL)  # type: ignore[attr-defined]
        self.write("--" + boundary + self._NL)  # type: ignore[attr-defined]
        for i, part in enumerate(msg.get_payload()):
            buffer = self._new_buffer()  # type: ignore[attr-defined]
            self.clone(buffer).flatten(part, unixfrom=False, linesep=self._NL)  # type: ignore[attr-defined]
            text = buffer.getvalue()
            del buffer
            if marker in text:
                raise _BoundaryInText
            if i:
                self.write(self._NL + "--" + boundary + self._NL)  # type: ignore[attr-defined]
            self._fp.write(text)  # type: ignore[attr-defined]
            if id(part) in self.files:
                self._write_base64(self.files[id(part)], part.policy.max_line_length)
        self.write(self._NL + "--" + boundary + "--" + self._NL)  # type: ignore[attr-defined]
        if msg.epilogue is not None:
            self._write_lines(msg.epilogue)  # type: ignore[attr-defined]

    def _write_base64(self, path: Path, max_line_length: int) -> None:
        """The body of a base64 part from ``path``: the lines ``set_content(bytes)`` makes (as
        many bytes a line as the policy's line length allows), ended as the generator ends them.
        Base64 has no ``-``, so no line can be a boundary."""
        per_line = max_line_length // 4 * 3
        nl = self._NL.encode("ascii")  # type: ignore[attr-defined]
        with open(path, "rb") as fh:
            while chunk := fh.read(per_line * 4096):
                lines = [binascii.b2a_base64(chunk[i:i + per_line], newline=False)
                         for i in range(0, len(chunk), per_line)]
                self._fp.write(nl.join(lines) + nl)  # type: ignore[attr-defined]
