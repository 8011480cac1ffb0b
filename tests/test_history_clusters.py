"""Clusters across rounds (issue 19): three rounds run in sequence on one ledger, decisions recorded
between them with ``sdbatch decide``.

Round 1 (cluster_2024, received 2024-06-20): 甲 (credit code A), 乙 (code B, revenue 100 亿元),
丙 (code C).  Staff then record false material for 甲 (五(三), 2024-08-01: three years).
Round 2 (cluster_2025, received 2025-06-20): 甲 again — barred, ineligible, the origin cited; 乙's
revenue four times round 1's — a year-over-year finding; 丙 without its credit code — matched by name
only, said to the department.
Round 3 (cluster_2027, received 2027-09-01, after 2027-08-01): 甲 may apply again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sdbatch.catalogue import audience
from tests.decision_builders import city_file, make_uscc, row
from tests.history_builders import (
    at,
    by_name,
    codes,
    decide,
    finding,
    results_text,
    round_rules,
    run_round,
    sheet_names,
    sheet_rows,
    texts_of,
    uid_of,
)

A, B, C = make_uscc(901), make_uscc(902), make_uscc(903)
JIA = dict(name="甲数字产业集群", applicant="甲集群发展促进会", applicant_uscc=A)
YI = dict(name="乙数字产业集群", applicant="乙集群发展促进会", applicant_uscc=B, revenue_total=100.0)
BING = dict(name="丙数字产业集群", applicant="丙集群发展促进会", applicant_uscc=C)
NOTE = "经核查营业收入数据不实（内部记录：审计报告第7页）"


@pytest.fixture(scope="module")
def rounds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("clusters")
    ledger = tmp / "ledger.sqlite3"
    out: dict[str, Any] = {"ledger": ledger}

    inbox1 = tmp / "inbox-2024"
    city_file(inbox1, "济南市", [row(**JIA, city_order=1), row(**YI, city_order=2)], mtime=at("2024-06-20"))
    city_file(inbox1, "青岛市", [row(**BING, city_order=1)], mtime=at("2024-06-20"))
    out["r1"] = run_round(tmp, "r2024", inbox1, ledger, "2024-06-27T10:00:00", program="cluster_2024")

    out["recorded"] = decide(ledger, "false-material", A, "--who", "张三", "--note", NOTE, "--date", "2024-08-01")

    rules25 = round_rules(tmp / "rules", "cluster_2024", "cluster_2025", deadline=at("2025-06-28").date())
    inbox2 = tmp / "inbox-2025"
    city_file(inbox2, "济南市", [row(**JIA, city_order=1), row(**dict(YI, revenue_total=400.0), city_order=2)],
              mtime=at("2025-06-20"))
    city_file(inbox2, "青岛市", [row(**dict(BING, applicant_uscc=None), city_order=1)], mtime=at("2025-06-20"))
    out["r2"] = run_round(tmp, "r2025", inbox2, ledger, "2025-06-27T10:00:00", rules=rules25)

    rules27 = round_rules(tmp / "rules", "cluster_2024", "cluster_2027", deadline=at("2027-09-28").date())
    inbox3 = tmp / "inbox-2027"
    city_file(inbox3, "济南市", [row(**JIA, city_order=1)], mtime=at("2027-09-01"))
    out["r3"] = run_round(tmp, "r2027", inbox3, ledger, "2027-09-10T10:00:00", rules=rules27)
    return out


def test_round_one_has_no_history(rounds: dict[str, Any]) -> None:
    apps = by_name(rounds["r1"])
    assert all("history" not in a for a in apps.values())
    assert {a["status"] for a in apps.values()} == {"eligible"}


def test_the_decision_is_recorded_with_who_when_clause_and_note(rounds: dict[str, Any]) -> None:
    said = rounds["recorded"]
    assert "以虚假材料申报" in said and "五(三)" in said and "张三" in said and "2024-08-01" in said
    journal = Path(f"{rounds['ledger']}.decisions.jsonl")
    assert uid_of(said) in journal.read_text(encoding="utf-8")


def test_banned_applicant_is_ineligible_with_the_ban_cited(rounds: dict[str, Any]) -> None:
    jia = by_name(rounds["r2"])["甲数字产业集群"]
    assert jia["status"] == "ineligible"
    ban = finding(jia, "applicant-banned")
    assert ban["effect"] == "ineligible" and ban["severity"] == "error" and ban["clause"] == "五(三)"
    assert ban["field"] == "applicant_uscc" and ban["cell"] is not None
    assert ban["params"]["until"] == "2027-08-01" and "虚假材料" in ban["message"] and "2027-08-01" in ban["message"]
    block = jia["history"]
    assert block["matched_by"] == "applicant_id" and block["applicant_id"] == A
    assert [r["program"] for r in block["rounds"]] == ["cluster_2024"]
    assert block["bans"][0]["in_force"] is True and block["bans"][0]["from"] == "2024-08-01"
    assert block["decisions"][0]["who"] == "张三" and block["decisions"][0]["note"] == NOTE


def test_year_over_year_jump_is_a_finding_for_review(rounds: dict[str, Any]) -> None:
    yi = by_name(rounds["r2"])["乙数字产业集群"]
    change = finding(yi, "yoy-change")
    assert change["field"] == "revenue_total" and change["clause"] == "五(三)" and change["effect"] == "needs_review"
    assert change["params"]["old"] == 100.0 and change["params"]["new"] == 400.0 and change["params"]["factor"] == 3
    assert yi["status"] == "needs_review"
    assert yi["history"]["changes"] == [{"field": "revenue_total", "old": 100.0, "new": 400.0, "ratio": 4.0,
                                         "previous": "cluster_2024", "previous_date": "2024-06-20"}]
    assert "applicant-banned" not in codes(yi)


def test_only_the_name_matched_is_said_to_the_department(rounds: dict[str, Any]) -> None:
    bing = by_name(rounds["r2"])["丙数字产业集群"]
    note = finding(bing, "history-name-only")
    assert audience("history-name-only") == "department"
    assert bing["history"]["matched_by"] == "name" and bing["history"]["applicant_id"] is None
    assert "cluster_2024" in note["message"]


def test_eligible_again_after_the_period(rounds: dict[str, Any]) -> None:
    jia = by_name(rounds["r3"])["甲数字产业集群"]
    assert jia["status"] == "eligible", [(f["code"], f["message"]) for f in jia["findings"] if f["effect"]]
    assert "applicant-banned" not in codes(jia)
    ended = finding(jia, "ban-ended")
    assert ended["params"]["until"] == "2027-08-01" and audience("ban-ended") == "department"
    assert [r["program"] for r in jia["history"]["rounds"]] == ["cluster_2024", "cluster_2025"]
    assert jia["history"]["bans"][0]["in_force"] is False


def test_the_department_list_shows_the_bans_in_force(rounds: dict[str, Any]) -> None:
    listing = rounds["r2"]["_run_dir"] / "推荐名单.xlsx"
    assert "禁止申报名单" in sheet_names(listing)
    rows = sheet_rows(listing, "禁止申报名单")
    header = next(r for r in rows if r and r[0] == "申报主体")
    body = rows[rows.index(header) + 1:]
    hit = [r for r in body if r and r[1] == A]
    assert len(hit) == 1
    line = dict(zip(header, hit[0], strict=False))
    assert line["条款"] == "五(三)" and line["禁止申报至（不含）"] == "2027-08-01" and line["登记人"] == "张三"
    assert line["说明"] == NOTE and line["本轮申报"] == "甲数字产业集群"
    # round 3's list: the ban has run out
    later = sheet_rows(rounds["r3"]["_run_dir"] / "推荐名单.xlsx", "禁止申报名单")
    assert not any(r and r[1] == A for r in later)


def test_the_city_reads_the_ban_but_never_the_staff_note(rounds: dict[str, Any]) -> None:
    run_dir = rounds["r2"]["_run_dir"]
    review = texts_of(run_dir / "济南市_审核意见.xlsx")
    assert "不得再次申报" in review and "2027-08-01" in review
    assert "审计报告第7页" not in review and "张三" not in review
    mail = (run_dir / "mail" / "济南市.eml").read_bytes()
    assert "审计报告第7页".encode() not in mail
    assert "审计报告第7页" in results_text(rounds["r2"])  # the department's results.json keeps it


def test_a_voided_decision_no_longer_bars(rounds: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    ledger = tmp_path / "ledger.sqlite3"
    shutil.copy(rounds["ledger"], ledger)
    shutil.copy(f"{rounds['ledger']}.decisions.jsonl", f"{ledger}.decisions.jsonl")
    decide(ledger, "void", uid_of(rounds["recorded"]), "--who", "李四", "--note", "误登记")
    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(**JIA, city_order=1)], mtime=at("2025-06-21"))
    rules = round_rules(tmp_path / "rules", "cluster_2024", "cluster_2025")
    again = by_name(run_round(tmp_path, "again", inbox, ledger, "2025-06-28T10:00:00", rules=rules))
    assert again["甲数字产业集群"]["status"] == "eligible"
    assert "applicant-banned" not in codes(again["甲数字产业集群"])
