"""E-mail bodies agree with the findings and the status they summarise (issue 14 Build 1).

Each situation of a city — applications with something to fix, nothing to fix, only points to
check, a file that could not be read, a resubmission — is run through the real pipeline
(``evaluate``), written as a draft and parsed back with the ``email`` package.
"""

from __future__ import annotations

import datetime as dt
import re
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from sdbatch.batch import RunOptions, run_batch
from sdbatch.model import Finding, RunResult, Source
from sdbatch.writers import write_city_reviews, write_mail_drafts
from sdbatch.writers.mail_body import BODY_PARTS, Situation, body_parts
from tests.decision_builders import ON_TIME, city_file, decide, row

STARTED = "2024-06-27T10:00:00+08:00"
BOOK = """
from = "审核组 <shenhe@gxt.shandong.example>"
reply_days = 5
"""
FIX_SENTENCE = "无需重新报送"
RED_WORDS = ("标红", "【须更正】")


# ----------------------------------------------------------------------------- the decision table
@pytest.mark.parametrize(("situation", "parts"), [
    (Situation(has_apps=True), ("received", "results", "nothing")),
    (Situation(has_apps=True, must_fix=True, to_check=True), ("received", "results", "fix")),
    (Situation(has_apps=True, to_check=True), ("received", "results", "check")),
    (Situation(has_apps=True, to_review=True, converted=True), ("received", "results", "review", "converted", "nothing")),
    (Situation(rejected=True), ("unread", "rejected", "resend")),
    (Situation(has_apps=True, rejected=True), ("received", "results", "rejected", "resend")),
    (Situation(has_apps=True, resubmitted=True, late=True), ("received", "resubmission", "results", "late", "nothing")),
])
def test_body_parts_follow_the_situation(situation, parts):
    assert body_parts(situation) == parts


def test_no_situation_both_asks_for_fixes_and_says_nothing_to_fix():
    import itertools

    names = [f for f in Situation.__dataclass_fields__]
    for values in itertools.product([False, True], repeat=len(names)):
        s = Situation(**dict(zip(names, values, strict=True)))
        parts = set(body_parts(s))
        assert not ({"fix", "check", "resend"} & parts and "nothing" in parts), s
        assert ("fix" in parts) == s.must_fix
        assert not ("unread" in parts and "received" in parts), s
    assert {p for p, _ in BODY_PARTS} == {"received", "unread", "resubmission", "results", "rejected", "late", "fix",
                                          "resend", "check", "review", "converted", "nothing"}


# ----------------------------------------------------------------------------- drafts of real runs
class Mails(dict):
    """City -> parsed draft; ``run_dir`` holds the drafts as written."""

    run_dir: Path


def _drafts(tmp_path: Path, result: RunResult) -> Mails:
    result.started = STARTED
    run_dir = tmp_path / "run"
    reviews = write_city_reviews(result, run_dir)
    book = tmp_path / "book.toml"
    book.write_text(BOOK, encoding="utf-8")
    write_mail_drafts(result, run_dir, reviews, book)
    mails = Mails({p.stem: message_from_bytes(p.read_bytes(), policy=policy.default)
                   for p in (run_dir / "mail").glob("*.eml")})
    mails.run_dir = run_dir
    return mails


def _body(msg) -> str:
    return msg.get_body(("plain",)).get_content()


@pytest.fixture(scope="module")
def mails(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mails")
    inbox = tmp / "inbox"
    # 济南: one ineligible (a hard condition), one with a bad phone only
    city_file(inbox, "济南市", [row(city_order=1, name="济南受测事故集群", major_incident="是"),
                                row(city_order=2, name="济南受测电话集群", phone="12345")])
    # 青岛: everything in order
    city_file(inbox, "青岛市", [row(city_order=1, name="青岛受测合格集群")])
    # 烟台: only a bad phone (a point to check, no status effect)
    city_file(inbox, "烟台市", [row(city_order=1, name="烟台受测电话集群", phone="12345")])
    # 聊城: a file that cannot be read
    broken = inbox / "聊城市数字产业集群申报信息汇总表.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    # 潍坊: a resubmission that corrects ip_total and withdraws one cluster
    a = row(city_order=1, name="潍坊受测声学集群", ip_total=960)
    b = row(city_order=2, name="潍坊受测撤回集群")
    city_file(inbox, "潍坊市", [a, b], name="潍坊市汇总表.xlsx", mtime=ON_TIME)
    city_file(inbox, "潍坊市", [{**a, "ip_total": 1096}], name="潍坊市汇总表（更正）.xlsx",
              mtime=ON_TIME + dt.timedelta(days=1))
    result = decide(inbox)
    return _drafts(tmp, result)


def test_actions_needed_lists_the_fixes_and_never_says_nothing_to_fix(mails):
    msg = mails["济南市"]
    body = _body(msg)
    assert "【须更正】" in body and "【请核对】" in body
    assert FIX_SENTENCE not in body and "未发现" not in body
    fix_line = next(x for x in body.splitlines() if "标为【须更正】的事项" in x)
    assert "共1项" in fix_line and "2024年7月2日前" in fix_line  # 6-27 + 5 days of the address book
    # must-fix points come before points to check
    assert body.index("【须更正】") < body.index("【请核对】")
    line = next(x for x in body.splitlines() if "济南受测事故集群" in x)
    assert line.rstrip().endswith("不符合条件")


def test_nothing_to_fix_has_no_list_of_fixes(mails):
    body = _body(mails["青岛市"])
    assert "未发现需要更正的问题，无需重新报送" in body
    assert not re.search(r"【(须更正|请核对|专家研判)】", body)
    assert "处理意见" not in body and "标红" not in body and "标黄" not in body
    assert "（共0" not in body


def test_points_to_check_only_say_no_fix_is_required_but_ask_to_check(mails):
    body = _body(mails["烟台市"])
    assert "【请核对】" in body and "未发现必须更正的问题" in body
    assert "未发现需要更正的问题，无需重新报送" not in body
    assert "标红" not in body


def test_a_file_that_could_not_be_read(mails):
    msg = mails["聊城市"]
    body, subject = _body(msg), str(msg["Subject"])
    assert "未能读取" in subject and "（共0个" not in subject and "共0个" not in subject
    assert "聊城市数字产业集群申报信息汇总表.xlsx" in body and "重新报送" in body
    for word in RED_WORDS:
        assert word not in body
    assert "（共0" not in body and "已收悉。经批量审核" not in body and FIX_SENTENCE not in body


def test_a_resubmission_names_the_correction_with_chinese_labels(mails):
    msg = mails["潍坊市"]
    body, subject = _body(msg), str(msg["Subject"])
    assert "更正报送" in subject
    assert "已收到你市更正后报送的《潍坊市汇总表（更正）.xlsx》" in body and "《潍坊市汇总表.xlsx》" in body
    assert "近三年科技奖励及知识产权总数：960项→1096项" in body
    assert "撤回：潍坊受测撤回集群" in body
    assert "ip_total" not in body and not re.search(r"\b[a-z]+_[a-z_]+\b", body)  # no internal field ids


def test_every_body_is_signed_by_the_department_and_dated_in_china_time(mails):
    for msg in mails.values():
        assert _body(msg).rstrip().endswith("山东省工业和信息化厅")
        assert str(msg["Date"]).endswith("+0800")
        assert "\n" not in str(msg["Subject"])


def test_attachment_type_and_chinese_file_name_in_the_draft(mails):
    msg = mails["潍坊市"]
    (part,) = list(msg.iter_attachments())
    assert part.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert part.get_filename() == "潍坊市_审核意见.xlsx"
    raw = (mails.run_dir / "mail" / "潍坊市.eml").read_bytes()
    # the type on one line as it is, the Chinese name as one RFC 2231 parameter (no encoded word)
    assert b"Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;" in raw
    assert b"filename*=utf-8''%E6%BD%8D%E5%9D%8A%E5%B8%82" in raw and b"filename*0" not in raw


# ----------------------------------------------------------------------------- audience
def test_findings_for_the_department_never_reach_the_mail(tmp_path, monkeypatch):
    """A finding whose catalogue audience is "department" is left out of the city's e-mail."""
    from sdbatch.writers import _common

    inbox = tmp_path / "inbox"
    city_file(inbox, "青岛市", [row(city_order=1, name="青岛受测保密集群")])
    result = decide(inbox)
    app = result.applications[0]
    app.findings.append(Finding("expert-disagreement", "warning", params={"detail": "专家丁 41.5", "spread": 9},
                                source=Source("专家评分_专家丁.xlsx", "评分", 5, "J5")))
    assert _common.audience("expert-disagreement") == "department"  # the catalogue keeps it in
    body = _body(_drafts(tmp_path, result)["青岛市"])
    assert "专家丁" not in body and "专家评分_" not in body and "J5" not in body
    assert "未发现需要更正的问题，无需重新报送" in body  # the hidden finding asks nothing of the city


def test_a_programs_outcome_is_phrased_and_its_absence_said(tmp_path):
    """Outcome columns declared for the mail reach it as their phrases; an eligible application
    without an outcome is not left as a bare 符合条件."""
    from sdbatch.programs.base import OutcomeColumn, Program

    inbox = tmp_path / "inbox"
    city_file(inbox, "青岛市", [row(city_order=1, name="青岛受测一等集群"), row(city_order=2, name="青岛受测落选集群")])
    result = decide(inbox)
    awards = {"青岛受测一等集群": "一等"}

    class Award(Program):
        def outcome_columns(self):
            return [OutcomeColumn("award", "奖励等次", lambda a: awards.get(a.name or ""), where=("mail",),
                                  phrase="programs.park.phrases.result")]

    rules = result.programs["cluster_2024"]
    object.__setattr__(rules, "_program", Award(rules))
    try:
        body = _body(_drafts(tmp_path, result)["青岛市"])
    finally:
        object.__delattr__(rules, "_program")
    first = next(x for x in body.splitlines() if "青岛受测一等集群" in x)
    assert first.rstrip().endswith("符合条件，一等")
    second = next(x for x in body.splitlines() if "青岛受测落选集群" in x)
    assert "奖励等次" in second and not second.rstrip().endswith("符合条件")


def test_a_park_below_the_line_does_not_read_as_plain_eligible(tmp_path):
    """A park that meets the conditions but scores below the lowest tier gets no tier: its line
    says so instead of ending at 符合条件 (issue 14)."""
    from sdbatch.programs.park import settings_of
    from sdbatch.rules import load
    from tests.test_parks_pipeline import AT_DIGITAL, DIGITAL, write_scores, write_summary

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_summary(inbox / "园区_济南市_汇总表.xlsx", [dict(AT_DIGITAL, name="高分园区"), dict(AT_DIGITAL, name="低分园区")])
    st = settings_of(load("park_2024"))
    parks = {"高分园区": {i.code: 9.5 for i in st.applicable(DIGITAL)},
             "低分园区": {i.code: 5 for i in st.applicable(DIGITAL)}}
    for expert in ("甲", "乙", "丙"):
        write_scores(inbox / f"专家评分_{expert}.xlsx", parks, expert, maxima=True)
    book = tmp_path / "book.toml"
    book.write_text(BOOK, encoding="utf-8")
    outcome = run_batch(inbox, RunOptions(out_dir=tmp_path / "out", run_id="park", now="2024-06-20T10:00:00",
                                          mail_mode="all", quiet=True, address_book=book))
    assert outcome.run_dir is not None, outcome.message
    msg = message_from_bytes((outcome.run_dir / "mail" / "济南市.eml").read_bytes(), policy=policy.default)
    body = _body(msg)
    high = next(x for x in body.splitlines() if "高分园区" in x)
    low = next(x for x in body.splitlines() if "低分园区" in x)
    assert high.rstrip().endswith("示范型，奖补上限200万元")
    assert not low.rstrip().endswith("符合条件") and "示范型" not in low and "成长型" not in low


def test_a_long_list_of_applications_is_listed_up_to_the_limit_and_the_rest_counted(tmp_path, monkeypatch):
    """An e-mail lists MAIL_MAX_APPS applications one by one and counts the others, which the
    attached review lists (issue 16: 100,000 rows made an e-mail of 180 MB); its totals count all."""
    from sdbatch import settings

    monkeypatch.setattr(settings, "MAIL_MAX_APPS", 3)
    inbox = tmp_path / "inbox"
    names = [f"青岛受测第{n}集群" for n in "一二三四五"]
    city_file(inbox, "青岛市", [row(city_order=i + 1, name=name) for i, name in enumerate(names)])
    msg = _drafts(tmp_path, decide(inbox))["青岛市"]
    body = _body(msg)
    assert [name in body for name in names] == [True, True, True, False, False]
    numbered = [line for line in body.splitlines() if re.match(r"\d+\. ", line)]
    assert len(numbered) == 3
    assert re.search(r"共审核\D*5个", body) and re.search(r"其余\s*2\s*个", body)
    assert next(msg.iter_attachments()).get_filename().endswith(".xlsx")  # where the other two are
