"""``sdbatch mail send`` against a real SMTP server on 127.0.0.1 (aiosmtpd, tests/smtp_server.py):
headers exactly as drafted, each message exactly once across kills, concurrent sends, dropped
connections, refused recipients and 4xx replies (issue 15 item 3, issue 14 item 1)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from sdbatch.cli import main
from sdbatch.mail_journal import MailJournal
from sdbatch.sending import (
    MailError,
    SendLocked,
    SmtpOptions,
    journal_path,
    list_drafts,
    plan,
    send_drafts,
    wire_bytes,
)
from tests.smtp_server import free_port, smtp_server

ROOT = Path(__file__).resolve().parents[1]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WAIT = 60  # seconds a test waits for a subprocess to reach the server (never reached when all is well)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The drafts of a run over the sample inbox with the sample address book (13 cities)."""
    from sdbatch.batch import RunOptions, run_batch

    out = tmp_path_factory.mktemp("demo")
    logger = logging.getLogger("sdbatch")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    outcome = run_batch(ROOT / "samples" / "inbox", RunOptions(
        out_dir=out, now="2024-06-29T22:00:00", run_id="demo", mail_mode="all", quiet=True,
        address_book=ROOT / "config" / "address_book.toml"))
    logger.handlers[:], logger.level, logger.propagate = saved  # leave the process's logging as it was
    assert outcome.run_dir is not None
    return outcome.run_dir


@pytest.fixture()
def run_dir(demo_run: Path, tmp_path: Path) -> Path:
    """A fresh copy of the demo run (nothing sent yet)."""
    target = tmp_path / "run"
    shutil.copytree(demo_run, target)
    return target


def options(address: str, **kw: object) -> SmtpOptions:
    opts = SmtpOptions.from_cli(address, "plain", None, None, None)
    opts.backoff = 0.0
    opts.timeout = 10.0
    for key, value in kw.items():
        setattr(opts, key, value)
    return opts


def cities(run: Path) -> list[str]:
    return [d.city for d in list_drafts(run)]


def header_block(raw: bytes) -> list[bytes]:
    """Header fields as raw bytes (continuation lines kept), without those sending sets itself."""
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    fields: list[bytes] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            fields[-1] += b"\n" + line
        else:
            fields.append(line)
    return [f for f in fields if f.split(b":")[0].lower() not in (b"date", b"x-unsent", b"message-id")]


def spawn_send(run: Path, address: str, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "sdbatch.cli", "mail", "send", str(run), "--smtp", address,
                             "--yes", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)


def kill(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=WAIT)


def journal_rows(run: Path) -> list[sqlite3.Row]:
    with MailJournal.open(journal_path(run)) as journal:
        return list(journal.conn.execute("SELECT * FROM attempts ORDER BY id"))


# ----------------------------------------------------------------------------- what arrives
def test_demo_drafts_arrive_with_every_header_as_drafted_and_a_second_send_sends_nothing(run_dir: Path) -> None:
    drafts = list_drafts(run_dir)
    assert len(drafts) == 13
    with smtp_server() as server:
        report = send_drafts(run_dir, options(server.address))
        assert report.exit_code == 0, report.summary()
        assert report.sent == cities(run_dir)
        by_city = {m.city: m for m in server.messages}
        assert sorted(by_city) == sorted(report.sent) and len(server.messages) == 13
        for draft in drafts:
            got = by_city[draft.city]
            msg = got.message
            raw_draft = draft.path.read_bytes()
            # every header as drafted, byte for byte (folding included), except Date/X-Unsent/Message-ID
            assert header_block(got.content) == header_block(raw_draft)
            assert got.content.split(b"\r\n\r\n", 1)[1] == raw_draft.split(b"\r\n\r\n", 1)[1]  # the body too
            (part,) = list(msg.iter_attachments())
            assert part.get_content_type() == XLSX
            assert b"Content-Type: " + XLSX.encode() in got.content  # not re-folded into encoded words
            assert b"=?utf-8?q?vnd" not in got.content
            assert part.get_filename() == f"{draft.city}_审核意见.xlsx"
            assert b"filename*=utf-8''" in got.content  # RFC 2231
            assert str(msg["Subject"]) == draft.subject and draft.subject.startswith(f"【审核意见】{draft.city}")
            assert msg["X-Unsent"] is None and msg["Message-ID"]
            assert msg["Date"].datetime.utcoffset().total_seconds() == 8 * 3600  # China time
            assert got.mail_from == "szjjc@gxt.shandong.example"
            assert sorted(got.rcpt_tos) == sorted(draft.recipients)
        again = send_drafts(run_dir, options(server.address))
        assert again.sent == [] and again.already == cities(run_dir) and again.exit_code == 0
        assert "此前已发送、本次未重复发送 13 封" in again.summary()
        assert len(server.messages) == 13


def test_wire_bytes_change_only_what_sending_must() -> None:
    import datetime as dt

    draft = (b"Subject: =?utf-8?b?5rWL?=\r\n =?utf-8?b?6K+V?=\r\nFrom: a@b.cn\r\nTo: c@d.cn\r\nBcc: e@f.cn\r\n"
             b"Date: Sun, 29 Nov 2026 21:03:34 +0000\r\nX-Unsent: 1\r\nMIME-Version: 1.0\r\n\r\n.hello\r\n")
    wire = wire_bytes(draft, date=dt.datetime(2024, 6, 29, 22, 0), message_id="<x@b.cn>")
    head, body = wire.split(b"\r\n\r\n", 1)
    assert body == b".hello\r\n"
    assert head.split(b"\r\n") == [b"Date: Sat, 29 Jun 2024 22:00:00 +0800", b"Message-ID: <x@b.cn>",
                                   b"Subject: =?utf-8?b?5rWL?=", b" =?utf-8?b?6K+V?=", b"From: a@b.cn",
                                   b"To: c@d.cn", b"MIME-Version: 1.0"]
    # bare LF line ends become CRLF; --sender replaces From; a draft's own Message-ID is kept
    lf = draft.replace(b"\r\n", b"\n").replace(b"MIME", b"Message-ID: <own@b.cn>\nMIME")
    wire = wire_bytes(lf, date=dt.datetime(2024, 6, 29, 22, 0), message_id="<x@b.cn>", sender="审核组 <s@b.cn>")
    assert b"\n" not in wire.replace(b"\r\n", b"")
    assert b"Message-ID: <own@b.cn>" in wire and b"<x@b.cn>" not in wire
    assert re.search(rb"^From: =\?utf-8\?b\?[^?]+\?= <s@b\.cn>\r$", wire, re.M)
    assert b"From: a@b.cn" not in wire


def test_journal_records_each_transaction_in_china_time(run_dir: Path) -> None:
    with smtp_server() as server:
        send_drafts(run_dir, options(server.address))
    rows = journal_rows(run_dir)
    assert [r["status"] for r in rows] == ["sent"] * 13
    assert all(r["started"].endswith("+08:00") and r["finished"].endswith("+08:00") for r in rows)
    assert all(r["reply"].startswith("250") and r["message_id"].startswith("<") for r in rows)
    assert rows[0]["server"] == server.address


# ----------------------------------------------------------------------------- killed
def test_sigkill_after_k_deliveries_then_rerun_mails_every_city_exactly_once(run_dir: Path) -> None:
    """Killed while the server holds message 5's reply: 4 sent, 5 unknown; the rerun sends 6..13
    and not 5 (unknown, listed for a person); --resend-unknown would send it."""
    with smtp_server(hold_data=5) as server:
        proc = spawn_send(run_dir, server.address)
        assert server.handler.arrived.wait(WAIT)
        kill(proc)
        server.handler.release.set()
        assert len(server.messages) == 5
        states = MailJournal.read_states(journal_path(run_dir))
        fifth = cities(run_dir)[4]
        assert states[f"{fifth}.eml"].state == "unknown"
        assert sum(s.state == "sent" for s in states.values()) == 4

        result = CliRunner().invoke(main, ["mail", "send", str(run_dir), "--smtp", server.address, "--yes"])
        assert result.exit_code == 1, result.output  # one message has an unknown outcome
        assert "已发送 8 封" in result.output and "此前已发送、本次未重复发送 4 封" in result.output
        assert "发送结果不明 1 封" in result.output and fifth in result.output and "--resend-unknown" in result.output
        assert server.handler.by_city() == {c: 1 for c in cities(run_dir)}  # every city exactly once

        again = send_drafts(run_dir, options(server.address))
        assert again.sent == [] and [d.city for d in again.unknown] == [fifth]
        assert len(server.messages) == 13

        resent = send_drafts(run_dir, options(server.address), resend_unknown=True)
        assert resent.sent == [fifth] and resent.exit_code == 0
        twice = [m for m in server.messages if m.city == fifth]
        assert len(twice) == 2 and twice[0].message["Message-ID"] == twice[1].message["Message-ID"]


def test_sigkill_before_the_content_was_sent_resends_it_without_asking(run_dir: Path) -> None:
    """Killed while waiting for the reply to MAIL FROM of message 3: the server cannot have it."""
    with smtp_server(hold_mail=3) as server:
        proc = spawn_send(run_dir, server.address)
        assert server.handler.arrived.wait(WAIT)
        kill(proc)
        server.handler.release.set()
        assert len(server.messages) == 2
        assert [r["status"] for r in journal_rows(run_dir)] == ["sent", "sent", "sending"]
        report = send_drafts(run_dir, options(server.address))
        assert report.exit_code == 0 and not report.unknown and len(report.sent) == 11
        assert server.handler.by_city() == {c: 1 for c in cities(run_dir)}


def test_two_concurrent_sends_one_refuses(run_dir: Path) -> None:
    with smtp_server(hold_data=1) as server:
        first = spawn_send(run_dir, server.address)
        assert server.handler.arrived.wait(WAIT)
        second = CliRunner().invoke(main, ["mail", "send", str(run_dir), "--smtp", server.address, "--yes"])
        assert second.exit_code == 2
        assert "另一个 mail send 正在发送" in second.output and "Traceback" not in second.output
        with pytest.raises(SendLocked):
            send_drafts(run_dir, options(server.address))
        server.handler.release.set()
        out, err = first.communicate(timeout=WAIT)
        assert first.returncode == 0, err.decode()
        assert "已发送 13 封" in out.decode()
        assert server.handler.by_city() == {c: 1 for c in cities(run_dir)}


# ----------------------------------------------------------------------------- the connection
@pytest.mark.parametrize("with_421", [False, True], ids=["silent", "421"])
def test_a_dropped_connection_is_reopened_and_all_are_delivered_once(run_dir: Path, with_421: bool) -> None:
    with smtp_server(close_after={2, 7}, close_with_421=with_421) as server:
        report = send_drafts(run_dir, options(server.address))
        assert report.exit_code == 0, report.summary()
        assert report.sent == cities(run_dir)
        assert server.handler.by_city() == {c: 1 for c in cities(run_dir)}


def test_a_drop_after_the_whole_message_is_unknown_and_not_resent(run_dir: Path) -> None:
    with smtp_server(abort_before_reply={3}) as server:
        report = send_drafts(run_dir, options(server.address))
        third = cities(run_dir)[2]
        assert [d.city for d in report.unknown] == [third] and report.exit_code == 1
        assert "收到答复前连接中断" in report.summary()
        assert len(report.sent) == 12  # the connection was reopened for the others
        assert server.handler.by_city() == {c: 1 for c in cities(run_dir)}
        again = send_drafts(run_dir, options(server.address))
        assert again.sent == [] and [d.city for d in again.unknown] == [third]
        assert len(server.messages) == 13


def test_connection_refused_is_exit_2_and_records_nothing(run_dir: Path) -> None:
    sleeps: list[float] = []
    report = send_drafts(run_dir, options(f"127.0.0.1:{free_port()}", backoff=1.0), sleep=sleeps.append)
    assert report.exit_code == 2 and "无法连接" in report.summary() and "未发送任何邮件" in report.summary()
    assert sleeps == [1.0, 2.0]  # bounded retries, the wait doubled
    assert journal_rows(run_dir) == []


# ----------------------------------------------------------------------------- replies
def test_a_refused_main_recipient_fails_the_message_and_a_rerun_retries_it(run_dir: Path) -> None:
    main_rcpt = "szcy@jinan.gxj.example"  # 济南市's To; its Cc is bgs@jinan.gxj.example
    with smtp_server(refuse={main_rcpt: "550 5.1.1 mailbox unavailable"}) as server:
        report = send_drafts(run_dir, options(server.address))
        assert report.exit_code == 1
        assert "济南市" not in report.sent
        (failed,) = report.failed
        assert failed.city == "济南市" and main_rcpt in failed.detail and "550 5.1.1 mailbox unavailable" in failed.detail
        assert "济南市" not in server.handler.by_city()  # not even the Cc got it
        rows = [r for r in journal_rows(run_dir) if r["city"] == "济南市"]
        assert [r["status"] for r in rows] == ["failed"] and main_rcpt in rows[0]["refused"]
        assert "发送失败 1 封" in report.summary() and "mailbox unavailable" in report.summary()

        server.handler.refuse.clear()
        again = send_drafts(run_dir, options(server.address))
        assert again.sent == ["济南市"] and again.exit_code == 0
        assert server.handler.by_city() == {c: 1 for c in cities(run_dir)}


def test_4xx_is_retried_with_backoff_then_delivered_once(run_dir: Path) -> None:
    sleeps: list[float] = []
    with smtp_server(tempfail={"szcy@qingdao.gxj.example": 2}) as server:
        report = send_drafts(run_dir, options(server.address, backoff=0.5), sleep=sleeps.append)
        assert report.exit_code == 0 and "青岛市" in report.sent
        assert sleeps == [0.5, 1.0]
        assert server.handler.by_city()["青岛市"] == 1
    statuses = [r["status"] for r in journal_rows(run_dir) if r["city"] == "青岛市"]
    assert statuses == ["failed", "failed", "sent"]


def test_4xx_beyond_the_attempts_is_a_failure_retried_by_the_next_send(run_dir: Path) -> None:
    with smtp_server(tempfail={"szcy@qingdao.gxj.example": 3}) as server:
        report = send_drafts(run_dir, options(server.address, attempts=2))
        assert [d.city for d in report.failed] == ["青岛市"] and "已尝试 2 次" in report.failed[0].detail
        assert "451" in report.failed[0].detail
        again = send_drafts(run_dir, options(server.address, attempts=2))  # 1 tempfail left, then 250
        assert again.sent == ["青岛市"]
        assert server.handler.by_city()["青岛市"] == 1


# ----------------------------------------------------------------------------- drafts, options, CLI
def test_a_draft_without_recipients_is_not_sent_and_said(run_dir: Path) -> None:
    path = run_dir / "mail" / "济南市.eml"
    raw = path.read_bytes()
    path.write_bytes(re.sub(rb"(?m)^(To|Cc): .*\r\n", b"", raw))
    with smtp_server() as server:
        report = send_drafts(run_dir, options(server.address))
        assert [d.city for d in report.skipped] == ["济南市"] and report.exit_code == 1
        assert "没有收件人" in report.summary()
        assert "济南市" not in server.handler.by_city() and len(server.messages) == 12


def test_cli_mail_send_with_login_and_preview(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDBATCH_TEST_PW", "s3cret")
    with smtp_server() as server:
        args = ["mail", "send", str(run_dir), "--smtp", server.address, "--user", "bgs",
                "--password-env", "SDBATCH_TEST_PW"]
        declined = CliRunner().invoke(main, args, input="n\n")
        assert "将发送以下邮件" in declined.output and "济南市  →  szcy@jinan.gxj.example" in declined.output
        assert declined.exit_code != 0 and server.messages == []
        out = CliRunner().invoke(main, [*args, "--yes"])
        assert out.exit_code == 0, out.output
        assert "已发送 13 封" in out.output
        preview = CliRunner().invoke(main, args, input="n\n")
        assert "此前已发送，跳过" in preview.output and "没有需要发送的邮件" in preview.output
        assert preview.exit_code == 0 and len(server.messages) == 13


def test_wrong_password_is_one_sentence_and_exit_2(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDBATCH_TEST_PW", "wrong")
    with smtp_server() as server:
        opts = SmtpOptions.from_cli(server.address, "plain", "bgs", "SDBATCH_TEST_PW", None)
        sleeps: list[float] = []
        report = send_drafts(run_dir, opts, sleep=sleeps.append)
        assert report.exit_code == 2 and "用户名或密码不正确" in report.summary()
        assert sleeps == []  # a 535 is not retried
        assert server.messages == []


def test_no_drafts_and_a_damaged_journal_stop_before_sending(run_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MailError, match="没有邮件草稿"):
        send_drafts(empty, options("127.0.0.1:25"))
    journal_path(run_dir).write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with smtp_server() as server:
        with pytest.raises(MailError, match="已损坏"):
            send_drafts(run_dir, options(server.address))
        result = CliRunner().invoke(main, ["mail", "send", str(run_dir), "--smtp", server.address, "--yes"])
        assert result.exit_code == 2 and "发送记录" in result.output
        assert server.messages == []


def test_a_run_sent_by_the_previous_version_is_not_sent_again(run_dir: Path) -> None:
    import hashlib
    import json

    draft = run_dir / "mail" / "济南市.eml"
    (run_dir / "mail" / "sent.json").write_text(json.dumps({"messages": [
        {"city": "济南市", "file": "济南市.eml", "sha256": hashlib.sha256(draft.read_bytes()).hexdigest(),
         "status": "sent", "recipients": ["szcy@jinan.gxj.example"], "time": "2024-06-29T22:00:00+08:00"}]}),
        encoding="utf-8")
    with smtp_server() as server:
        report = send_drafts(run_dir, options(server.address))
        assert report.already == ["济南市"] and len(report.sent) == 12
        assert "济南市" not in server.handler.by_city()


def test_plan_says_what_a_send_would_do(run_dir: Path) -> None:
    assert {p.action for p in plan(run_dir)} == {"send"}
    with smtp_server(abort_before_reply={1}) as server:
        send_drafts(run_dir, options(server.address))
    actions = [p.action for p in plan(run_dir)]
    assert actions == ["unknown"] + ["already"] * 12
    assert [p.action for p in plan(run_dir, resend_unknown=True)][0] == "send"


@pytest.mark.parametrize("smtp, security, expected", [
    ("mail.example.cn:465", "ssl", ("mail.example.cn", 465, "ssl")),
    ("mail.example.cn", "starttls", ("mail.example.cn", 587, "starttls")),
    ("[::1]:2525", "plain", ("::1", 2525, "plain")),
])
def test_smtp_options_from_cli(smtp: str, security: str, expected: tuple[str, int, str]) -> None:
    o = SmtpOptions.from_cli(smtp, security, None, None, None)
    assert (o.host, o.port, o.security) == expected


@pytest.mark.parametrize("smtp", ["host:abc", ":25", "host:70000"])
def test_bad_smtp_address(smtp: str) -> None:
    with pytest.raises(MailError):
        SmtpOptions.from_cli(smtp, "plain", None, None, None)


def test_login_without_password_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SDBATCH_NOPE", raising=False)
    with pytest.raises(MailError, match="SDBATCH_NOPE"):
        SmtpOptions.from_cli("h:25", "plain", "bgs", "SDBATCH_NOPE", None)


def test_received_message_parses_without_defects(run_dir: Path) -> None:
    with smtp_server() as server:
        send_drafts(run_dir, options(server.address))
    for got in server.messages:
        msg = message_from_bytes(got.content, policy=policy.default)
        assert not msg.defects and all(not p.defects for p in msg.walk())
