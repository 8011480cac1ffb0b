"""E-mail drafts mail/<city>.eml (sending them: tests/test_sending.py; the address book: tests/test_address_book.py)."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from sdbatch.catalogue import render
from sdbatch.writers import write_city_reviews, write_mail_drafts
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
