"""E-mail drafts are generated straight into their file (issue 16): the same bytes as
``EmailMessage.as_bytes()``, without the whole message held in memory several times."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from sdbatch.writers import mail


def _message(body: str, attachment: bytes, *, preamble: str | None = None) -> EmailMessage:
    msg = EmailMessage(policy=mail.DRAFT_POLICY)
    msg["Subject"] = "济南市 审核意见"
    msg["To"] = "a@example.cn"
    msg.set_content(body, subtype="plain", charset="utf-8")
    msg.add_attachment(attachment, maintype=mail.XLSX_TYPE[0], subtype=mail.XLSX_TYPE[1], filename="济南市_审核意见.xlsx")
    for part in msg.iter_attachments():
        part.set_param("name", "济南市_审核意见.xlsx")
    if preamble is not None:
        msg.preamble = preamble
    return msg


@pytest.mark.parametrize("body, size, preamble", [
    ("一行。\n", 10, None),
    ("长文本" * 5000 + "\n" + "ascii line\n" * 300, 300_000, None),
    ("From the city\n--not a boundary\n", 0, "preamble"),
])
def test_streamed_draft_is_as_bytes(tmp_path: Path, body: str, size: int, preamble: str | None) -> None:
    msg = _message(body, bytes(range(256)) * (size // 256 + 1), preamble=preamble)
    path = tmp_path / "d.eml"
    mail._write_message(path, msg)
    written = path.read_bytes()
    assert written == msg.as_bytes()  # the boundary it chose is now the message's own
    parsed = message_from_bytes(written, policy=policy.default)
    assert [p.get_content_type() for p in parsed.walk()][1:] == ["text/plain", "/".join(mail.XLSX_TYPE)]
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == body


def test_a_boundary_found_in_a_part_is_chosen_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    picks = iter(["===============1==", "===============2=="])
    monkeypatch.setattr(mail._StreamingGenerator, "_make_boundary", classmethod(lambda cls, text=None: next(picks)))
    msg = _message("a line quoting --===============1== from a city\n", b"x")
    path = tmp_path / "d.eml"
    mail._write_message(path, msg)
    assert msg.get_boundary() == "===============2=="
    assert path.read_bytes() == msg.as_bytes()


PER_LINE = mail.DRAFT_POLICY.max_line_length // 4 * 3  # bytes a base64 line of the draft carries


@pytest.mark.parametrize("size", [0, 1, PER_LINE - 1, PER_LINE, PER_LINE + 1, PER_LINE * 4096,
                                  PER_LINE * 4096 + 7, 3_000_001])
def test_an_attachment_streamed_from_its_file_is_as_bytes(tmp_path: Path, size: int) -> None:
    """A review attached without its bytes and encoded from its file as the draft is written: the
    same bytes as the message with the bytes attached, whatever the file's length."""
    data = bytes((i * 7919 + i // 251) % 256 for i in range(size))
    review = tmp_path / "济南市_审核意见.xlsx"
    review.write_bytes(data)
    empty = _message("正文。\n", b"")
    [part] = empty.iter_attachments()
    path = tmp_path / "d.eml"
    mail._write_message(path, empty, {id(part): review})
    whole = _message("正文。\n", data)
    whole.set_boundary(empty.get_boundary())
    written = path.read_bytes()
    assert written == whole.as_bytes()
    parsed = message_from_bytes(written, policy=policy.default)
    [attached] = parsed.iter_attachments()
    assert attached.get_content() == data
    assert attached.get_filename() == "济南市_审核意见.xlsx"
