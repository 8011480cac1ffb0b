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
