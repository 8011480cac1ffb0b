"""E-mail drafts mail/<city>.eml and `sdbatch mail send` against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import socket
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from sdbatch.catalogue import render
from sdbatch.writers import (
    MailError,
    SmtpOptions,
    list_drafts,
    send_drafts,
    write_city_reviews,
    write_mail_drafts,
)
from tests.test_writers_review import EVIL_NAME, build_result

BOOK = """
from = "审核组 <shenhe@gxt.shandong.example>"
reply_days = 3

[cities."济南市"]
to = ["a@jinan.example", "b@jinan.example"]
cc = ["c@jinan.example"]

[cities."青岛市"]
to = ["a@qingdao.example"]
"""


@pytest.fixture()
def run(tmp_path):
    result = build_result(tmp_path)
    run_dir = tmp_path / "run"
    reviews = write_city_reviews(result, run_dir)
    book = tmp_path / "book.toml"
    book.write_text(BOOK, encoding="utf-8")
    findings = write_mail_drafts(result, run_dir, reviews, book)
    return result, run_dir, reviews, findings


def _parse(path: Path):
    return message_from_bytes(path.read_bytes(), policy=policy.default)


def test_one_draft_per_city_with_a_review(run):
    _, run_dir, _, _ = run
    names = sorted(p.name for p in (run_dir / "mail").glob("*.eml"))
    assert names == sorted(["济南市.eml", "青岛市.eml", "淄博市.eml"])  # no draft for 未识别城市


def test_recipients_subject_and_date(run):
    _, run_dir, _, _ = run
    msg = _parse(run_dir / "mail" / "济南市.eml")
    assert [a.addr_spec for a in msg["To"].addresses] == ["a@jinan.example", "b@jinan.example"]
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["c@jinan.example"]
    assert msg["From"].addresses[0].addr_spec == "shenhe@gxt.shandong.example"
    assert msg["From"].addresses[0].display_name == "审核组"
    subject = str(msg["Subject"])
    assert subject.startswith("【审核意见】济南市山东省数字产业集群申报（首批）")
    assert "共4个" in subject and "符合条件1个" in subject
    assert msg["Date"] is not None and msg["X-Unsent"] == "1"


def test_body_lists_each_application_status_problem_and_deadline(run):
    _, run_dir, _, _ = run
    body = _parse(run_dir / "mail" / "济南市.eml").get_body(("plain",)).get_content()
    for name, status in [("济南软件集群", "不符合条件"), ("济南AI集群", "需专家研判"),
                         ("济南算力集群", "符合条件"), ("济南第四集群", "超出推荐名额")]:
        line = [ln for ln in body.splitlines() if name in ln][0]
        assert line.rstrip().endswith(status), line
    assert "[E3]" in body and "请核实填报数据" in body  # the problem, its cell and what to do
    assert "2024年7月2日前" in body  # run date + reply_days of the address book
    assert "济南市_审核意见.xlsx" in body
    assert "三(一)" in body  # expert items


def test_attachment_is_the_review_workbook_with_its_chinese_name(run):
    _, run_dir, reviews, _ = run
    raw = (run_dir / "mail" / "济南市.eml").read_bytes()
    assert b"filename*=utf-8''" in raw  # RFC 2231
    attachments = list(_parse(run_dir / "mail" / "济南市.eml").iter_attachments())
    assert len(attachments) == 1
    part = attachments[0]
    assert part.get_filename() == "济南市_审核意见.xlsx"
    assert part.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert part.get_content() == reviews["济南市"].read_bytes()


def test_a_name_with_a_line_break_adds_no_header(run):
    _, run_dir, _, _ = run
    msg = _parse(run_dir / "mail" / "济南市.eml")
    assert EVIL_NAME.split("\r")[0] in msg.get_body(("plain",)).get_content()
    assert msg["Bcc"] is None
    assert {k.lower() for k in msg.keys()} == {"subject", "from", "to", "cc", "date", "x-unsent", "mime-version",
                                              "content-type"}
    assert not msg.defects


def test_evil_text_in_the_subject_is_flattened(tmp_path):
    result = build_result(tmp_path)
    reviews = write_city_reviews(result, tmp_path / "run")
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "subject.j2").write_text("审核意见 {{ programs[0].apps[2].name }}", encoding="utf-8")
    write_mail_drafts(result, tmp_path / "run", reviews, None, cities={"济南市"}, templates_dir=tpl)
    msg = _parse(tmp_path / "run" / "mail" / "济南市.eml")
    assert str(msg["Subject"]) == "审核意见 济南算力集群 Bcc: x@y"
    assert msg["Bcc"] is None
    assert sorted(p.name for p in (tmp_path / "run" / "mail").glob("*.eml")) == ["济南市.eml"]


def test_city_missing_from_the_address_book_gets_a_draft_and_a_warning(run):
    _, run_dir, _, findings = run
    msg = _parse(run_dir / "mail" / "淄博市.eml")
    assert msg["To"] is None
    assert "密码" in msg.get_body(("plain",)).get_content()  # the rejected file's reason
    assert [(f.code, f.severity, f.params["city"]) for f in findings] == [("mail-no-recipient", "warning", "淄博市")]
    assert "淄博市" in render(findings[0]).message


def test_missing_address_book_is_a_warning_not_a_crash(tmp_path):
    result = build_result(tmp_path)
    reviews = write_city_reviews(result, tmp_path / "run")
    findings = write_mail_drafts(result, tmp_path / "run", reviews, tmp_path / "nope.toml")
    codes = [f.code for f in findings]
    assert codes[0] == "address-book-invalid" and codes.count("mail-no-recipient") == 3


def test_sample_address_book_covers_fifteen_cities():
    from sdbatch.writers.mail import load_address_book

    book = load_address_book(Path(__file__).parent.parent / "config" / "address_book.toml")
    assert not book.problems and book.sender
    assert len(book.cities) == 15 and "菏泽市" not in book.cities


def test_list_drafts(run):
    _, run_dir, _, _ = run
    drafts = list_drafts(run_dir)
    assert [d.city for d in drafts] == ["济南市", "青岛市", "淄博市"]
    assert drafts[0].recipients == ["a@jinan.example", "b@jinan.example", "c@jinan.example"]
    assert drafts[2].recipients == []


# ----------------------------------------------------------------------------- sending
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture()
def smtp_server():
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"bgs" and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)

    handler = _Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), authenticator=authenticator,
                            auth_require_tls=False, auth_required=False)
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def _check_delivered(handler, reviews):
    by_city = {}
    for env in handler.envelopes:
        msg = message_from_bytes(env.content, policy=policy.default)
        city = str(msg["Subject"]).removeprefix("【审核意见】")[:3]
        by_city[city] = (env, msg)
    assert set(by_city) == {"济南市", "青岛市"}
    env, msg = by_city["济南市"]
    assert sorted(env.rcpt_tos) == ["a@jinan.example", "b@jinan.example", "c@jinan.example"]
    assert env.mail_from == "shenhe@gxt.shandong.example"
    assert msg["X-Unsent"] is None and msg["Message-ID"]
    (part,) = list(msg.iter_attachments())
    assert part.get_filename() == "济南市_审核意见.xlsx"
    assert part.get_content() == reviews["济南市"].read_bytes()


def test_send_drafts_to_a_real_smtp_server_and_record_it(run, smtp_server):
    _, run_dir, reviews, _ = run
    handler, port = smtp_server
    report = send_drafts(run_dir, SmtpOptions.from_cli(f"127.0.0.1:{port}", "plain", None, None, None))
    assert report.sent == ["济南市", "青岛市"]
    assert [c for c, _ in report.skipped] == ["淄博市"]
    assert report.exit_code == 1
    assert "已发送 2 封" in report.summary() and "淄博市" in report.summary()
    _check_delivered(handler, reviews)
    log = json.loads((run_dir / "mail" / "sent.json").read_text(encoding="utf-8"))["messages"]
    assert {(e["city"], e["status"]) for e in log} == {("济南市", "sent"), ("青岛市", "sent"), ("淄博市", "skipped")}
    # a second send does not send the same drafts again
    again = send_drafts(run_dir, SmtpOptions.from_cli(f"127.0.0.1:{port}", "plain", None, None, None))
    assert again.sent == [] and again.already == ["济南市", "青岛市"]
    assert len(handler.envelopes) == 2


def test_cli_mail_send_with_login(run, smtp_server, monkeypatch):
    from click.testing import CliRunner

    from sdbatch.cli import main

    _, run_dir, reviews, _ = run
    handler, port = smtp_server
    monkeypatch.setenv("SDBATCH_TEST_PW", "s3cret")
    out = CliRunner().invoke(main, ["mail", "send", str(run_dir), "--smtp", f"127.0.0.1:{port}", "--user", "bgs",
                                    "--password-env", "SDBATCH_TEST_PW", "--yes"])
    assert out.exit_code == 1, out.output  # 淄博市 has no recipient
    assert "已发送 2 封" in out.output
    _check_delivered(handler, reviews)


def test_wrong_password_is_one_sentence_and_exit_2(run, smtp_server, monkeypatch):
    _, run_dir, _, _ = run
    handler, port = smtp_server
    monkeypatch.setenv("SDBATCH_TEST_PW", "wrong")
    report = send_drafts(run_dir, SmtpOptions.from_cli(f"127.0.0.1:{port}", "plain", "bgs", "SDBATCH_TEST_PW",
                                                       None))
    assert report.exit_code == 2 and "用户名或密码不正确" in report.summary()
    assert handler.envelopes == []


def test_connection_refused(run):
    _, run_dir, _, _ = run
    report = send_drafts(run_dir, SmtpOptions.from_cli(f"127.0.0.1:{_free_port()}", "plain", None, None, None))
    assert report.exit_code == 2 and "无法连接" in report.summary()


@pytest.mark.parametrize("smtp, security, expected", [
    ("mail.example.cn:465", "ssl", ("mail.example.cn", 465, "ssl")),
    ("mail.example.cn", "starttls", ("mail.example.cn", 587, "starttls")),
    ("[::1]:2525", "plain", ("::1", 2525, "plain")),
])
def test_smtp_options_from_cli(smtp, security, expected):
    o = SmtpOptions.from_cli(smtp, security, None, None, None)
    assert (o.host, o.port, o.security) == expected


@pytest.mark.parametrize("smtp", ["host:abc", ":25", "host:70000"])
def test_bad_smtp_address(smtp):
    with pytest.raises(MailError):
        SmtpOptions.from_cli(smtp, "plain", None, None, None)


def test_login_without_password_in_env(monkeypatch):
    monkeypatch.delenv("SDBATCH_NOPE", raising=False)
    with pytest.raises(MailError, match="SDBATCH_NOPE"):
        SmtpOptions.from_cli("h:25", "plain", "bgs", "SDBATCH_NOPE", None)


# ---------------------------------------------------------------------------------------- parks
def _park_body(tmp_path, budget):
    from tests.test_parks_pipeline import park_run

    book = tmp_path / "book.toml"
    book.write_text(BOOK, encoding="utf-8")
    run_dir = park_run(tmp_path, budget=budget, address_book=book)
    return _parse(run_dir / "mail" / "济南市.eml").get_body(("plain",)).get_content()


def test_park_mail_says_ceiling_and_without_budget_no_proposal(tmp_path):
    body = _park_body(tmp_path, None)
    line = next(x for x in body.splitlines() if x.startswith("1. 示范园区"))
    assert line.endswith("：符合条件，示范型，奖补上限200万元")
    assert "成长型，奖补上限150万元" in body
    assert "建议奖补" not in body and "建议分配" not in body
    assert "指标分值：" in body and "默认" in body  # SPEC §3.2: the default points are said


def test_park_mail_with_budget_shows_ceiling_not_the_proposal(tmp_path):
    """The allocation proposal (第十一条 资金分配意见) is the department's, not a released result."""
    body = _park_body(tmp_path, 300)
    line = next(x for x in body.splitlines() if x.startswith("1. 示范园区"))
    assert line.endswith("奖补上限200万元")
    assert "建议分配" not in body and "建议奖补" not in body


def test_cluster_mail_has_no_park_wording(run):
    _, run_dir, _, _ = run
    body = _parse(run_dir / "mail" / "济南市.eml").get_body(("plain",)).get_content()
    assert "奖补" not in body and "指标分值" not in body
