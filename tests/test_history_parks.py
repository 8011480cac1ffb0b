"""Parks across rounds (issue 19): recognition, the two-year evaluation, the proposal after three
years with the subsidy to recover, upgrades (第十四条–第十七条), on one ledger over three rounds.

Round 1 (park_2024, run 2024-06-27): 示范 (示范型, 200万元), 成长 (成长型), 入库 (入库型).  Staff record
the subsidy paid to 示范 (200万元).
Round 2 (park_2026, run 2026-07-10): 成长 applies for a higher tier and reaches 示范型; 入库 applies and
stays 入库型 (kept at its tier, no new recognition); the list shows the evaluations due (all three
were recognised on 2024-06-27).  Staff record that 示范 failed its evaluation.
Round 3 (park_2027, run 2027-07-10): 示范 and 入库 are past three years without passing: proposed for
downgrade or revocation, 示范 with 200万元 to recover; 成长, recognised 示范型 in 2026, is building.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from sdbatch.history.book import Book, bans_of, standing_of
from sdbatch.history.model import Decision, RoundRecord
from sdbatch.programs.park import settings_of
from sdbatch.rules import load
from tests.decision_builders import make_uscc
from tests.history_builders import (
    at,
    by_name,
    codes,
    decide,
    finding,
    park_summary,
    round_rules,
    run_round,
    sheet_names,
    sheet_rows,
)
from tests.test_parks_pipeline import AT_DIGITAL, AT_INDUSTRIAL, DIGITAL, HEADERS, INDUSTRIAL, write_scores

COLUMNS = dict(HEADERS, current_tier="现认定级别")
SHIFAN, CHENGZHANG, RUKU, NEW, NEWER = "泉城示范园区", "泉城成长园区", "泉城入库园区", "泉城新建园区", "泉城另一园区"
UNRECORDED = "泉城未登记园区"
CODES = {SHIFAN: make_uscc(801), CHENGZHANG: make_uscc(802), RUKU: make_uscc(803), NEW: make_uscc(804),
         NEWER: make_uscc(805), UNRECORDED: make_uscc(806)}
BASE = {SHIFAN: AT_DIGITAL, CHENGZHANG: AT_DIGITAL, RUKU: AT_INDUSTRIAL, NEW: AT_DIGITAL, NEWER: AT_DIGITAL,
        UNRECORDED: AT_DIGITAL}


def points(kind: str, ptype: str) -> dict[str, float]:
    st = settings_of(load("park_2024"))
    if kind == "示范型":
        return {i.code: 9.5 for i in st.applicable(ptype)}  # 95, four aspects
    if kind == "成长型":
        return {i.code: 8 for i in st.applicable(ptype)}  # 80
    return {i.code: 9 if i.group in ("L2", "L4") else 5.5 for i in st.applicable(ptype)}  # 68.75, two aspects


def park_inbox(folder: Path, day: str, parks: dict[str, tuple[str, str | None]]) -> Path:
    """One 济南市 summary (park -> (tier its scores reach, tier it states it holds)) and three experts."""
    rows = [dict(BASE[name], name=name, operator=f"{name}运营管理有限公司", operator_uscc=CODES[name],
                 current_tier=held) for name, (_, held) in parks.items()]
    park_summary(folder / "园区_济南市_汇总表.xlsx", rows, COLUMNS, at(day))
    scored = {name: points(kind, DIGITAL if BASE[name] is AT_DIGITAL else INDUSTRIAL)
              for name, (kind, _) in parks.items()}
    for expert in ("孙教授", "周研究员", "吴高工"):
        write_scores(folder / f"专家评分_{expert}.xlsx", scored, expert)
    return folder


@pytest.fixture(scope="module")
def rounds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("parks")
    ledger = tmp / "ledger.sqlite3"
    out: dict[str, Any] = {"ledger": ledger}
    inbox1 = park_inbox(tmp / "inbox-2024", "2024-06-20", {SHIFAN: ("示范型", None), CHENGZHANG: ("成长型", None),
                                                           RUKU: ("入库型", None)})
    out["r1"] = run_round(tmp, "p2024", inbox1, ledger, "2024-06-27T10:00:00", program="park_2024")
    decide(ledger, "subsidy-paid", CODES[SHIFAN], "--amount", "200", "--date", "2024-12-01", "--who", "王五",
           "--note", "财政下达")

    rules26 = round_rules(tmp / "rules", "park_2024", "park_2026")
    inbox2 = park_inbox(tmp / "inbox-2026", "2026-07-01", {CHENGZHANG: ("示范型", "成长型"), RUKU: ("入库型", "入库型"),
                                                           NEW: ("成长型", None)})
    out["r2"] = run_round(tmp, "p2026", inbox2, ledger, "2026-07-10T10:00:00", rules=rules26)
    decide(ledger, "evaluation", SHIFAN, "--result", "fail", "--date", "2026-08-01", "--who", "李四",
           "--note", "建设成效未达标，限期整改")

    rules27 = round_rules(tmp / "rules", "park_2024", "park_2027")
    inbox3 = park_inbox(tmp / "inbox-2027", "2027-07-01", {NEWER: ("成长型", None)})
    out["r3"] = run_round(tmp, "p2027", inbox3, ledger, "2027-07-10T10:00:00", rules=rules27)
    return out


def table(path: Path, sheet: str) -> list[dict[str, Any]]:
    rows = sheet_rows(path, sheet)
    header = next(r for r in rows if r and r[0] == "名称")
    out = []
    for r in rows[rows.index(header) + 1:]:
        if not r or not any(v is not None for v in r):
            break  # the notes below the table follow a blank row
        out.append(dict(zip(header, r, strict=False)))
    return [r for r in out if r.get("所在市")]  # the row that says the list is empty has no city


def test_round_one_recognises_the_tiers(rounds: dict[str, Any]) -> None:
    apps = by_name(rounds["r1"])
    assert (apps[SHIFAN]["tier"], apps[CHENGZHANG]["tier"], apps[RUKU]["tier"]) == ("示范型", "成长型", "入库型")


def test_an_upgrade_application_is_recognised_and_reaches_a_higher_tier(rounds: dict[str, Any]) -> None:
    app = by_name(rounds["r2"])[CHENGZHANG]
    applied = finding(app, "upgrade-application")
    assert applied["clause"] == "第十六条" and applied["params"]["tier"] == "成长型"
    assert applied["params"]["since"] == "2024-06-27"
    finding(app, "upgrade-reached")
    assert app["tier"] == "示范型" and app["status"] == "eligible"
    assert app["history"]["upgrade"] == {"from": "成长型", "since": "2024-06-27", "declared": "成长型", "to": "示范型"}
    assert app["history"]["standing"]["tier"] == "成长型" and app["history"]["standing"]["state"] == "due"


def test_an_upgrade_that_does_not_reach_higher_keeps_the_tier_held(rounds: dict[str, Any]) -> None:
    app = by_name(rounds["r2"])[RUKU]
    finding(app, "upgrade-application")
    kept = finding(app, "upgrade-not-reached")
    assert kept["params"]["held"] == "入库型" and kept["params"]["reached"] == "入库型"
    assert app["tier"] is None and app["subsidy"] is None
    assert app["history"]["upgrade"]["to"] == "入库型"


def test_a_new_park_has_no_history(rounds: dict[str, Any]) -> None:
    app = by_name(rounds["r2"])[NEW]
    assert "history" not in app and app["tier"] == "成长型"
    assert not {"upgrade-application", "history-name-only"} & set(codes(app))


def test_evaluations_due_after_two_years(rounds: dict[str, Any]) -> None:
    listing = rounds["r2"]["_run_dir"] / "认定名单.xlsx"
    assert {"禁止申报名单", "绩效评估到期", "降级或撤销建议"} <= set(sheet_names(listing))
    due = {r["名称"]: r for r in table(listing, "绩效评估到期")}
    assert set(due) == {SHIFAN, CHENGZHANG, RUKU}
    assert due[SHIFAN]["认定级别"] == "示范型" and due[SHIFAN]["认定日期"] == "2024-06-27"
    assert due[SHIFAN]["评估到期日"] == "2026-06-27" and due[SHIFAN]["已拨付奖补资金（万元）"] == 200
    assert due[SHIFAN]["统一社会信用代码"] == CODES[SHIFAN] and "park_2024" in due[SHIFAN]["认定依据"]
    assert table(listing, "降级或撤销建议") == []  # nobody past three years yet


def test_due_on_the_day_two_years_after_recognition_overdue_after_three() -> None:
    import datetime as dt

    cfg = load("park_2024").history
    record = RoundRecord(program="park_2024", family="park", run_id="r", run_date=dt.date(2024, 6, 27),
                         app_id="a", applicant_id=CODES[SHIFAN], applicant_name="x", name="x", city="济南市",
                         status="eligible", tier="示范型", subsidy=200.0, received=dt.date(2024, 6, 20))
    standing = standing_of([record], [], cfg)
    assert standing is not None
    states = {day: standing.state(dt.date.fromisoformat(day))
              for day in ("2026-06-26", "2026-06-27", "2027-06-26", "2027-06-27")}
    assert states == {"2026-06-26": "building", "2026-06-27": "due", "2027-06-26": "due", "2027-06-27": "overdue"}
    provisional = dataclasses.replace(record, status="needs_review")
    assert standing_of([provisional], [], cfg) is None  # a provisional tier is not a recognition


def test_proposed_for_downgrade_after_three_years_with_the_subsidy_to_recover(rounds: dict[str, Any]) -> None:
    listing = rounds["r3"]["_run_dir"] / "认定名单.xlsx"
    proposals = {r["名称"]: r for r in table(listing, "降级或撤销建议")}
    assert set(proposals) == {SHIFAN, RUKU}
    shifan = proposals[SHIFAN]
    assert shifan["满期日期"] == "2027-06-27" and shifan["应收缴奖补资金（万元）"] == 200
    assert shifan["未通过评估的日期"] == "2026-08-01" and "第十五条" in shifan["建议"]
    assert proposals[RUKU]["应收缴奖补资金（万元）"] == 0
    # 成长 was recognised 示范型 by the 2026 round: building again, on no list
    assert CHENGZHANG not in {r["名称"] for r in table(listing, "绩效评估到期")}


def test_a_passed_evaluation_takes_the_park_off_the_lists(rounds: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    ledger = tmp_path / "ledger.sqlite3"
    shutil.copy(rounds["ledger"], ledger)
    shutil.copy(f"{rounds['ledger']}.decisions.jsonl", f"{ledger}.decisions.jsonl")
    decide(ledger, "evaluation", CODES[SHIFAN], "--result", "pass", "--date", "2027-03-01", "--who", "李四",
           "--note", "整改后评估通过")
    inbox = park_inbox(tmp_path / "inbox", "2027-07-01", {NEWER: ("成长型", None)})
    doc = run_round(tmp_path, "again", inbox, ledger, "2027-07-10T10:00:00",
                    rules=round_rules(tmp_path / "rules", "park_2024", "park_2027"))
    listing = doc["_run_dir"] / "认定名单.xlsx"
    assert {r["名称"] for r in table(listing, "降级或撤销建议")} == {RUKU}


# ----------------------------------------------------------------------------- bans of the parks (第十七条)
def _decision(kind: str, day: str, clause: str | None = None, **kw: Any) -> Decision:
    import datetime as dt

    return Decision(uid=f"{kind}-{day}", family="park", applicant_id=CODES[RUKU], applicant_name="x", kind=kind,
                    clause=clause, round=kw.get("round"), tier=kw.get("tier"), result=kw.get("result"),
                    amount=kw.get("amount"), effective=dt.date.fromisoformat(day), voids=None, who="张三",
                    recorded=f"{day}T09:00:00+08:00", note="说明")


def test_a_revocation_bars_for_two_years_under_either_article() -> None:
    import datetime as dt

    cfg = load("park_2024").history
    bans = bans_of([_decision("revoked", "2027-08-01", "第十七条(二)")], cfg)
    assert [(b.clause, b.start.isoformat(), b.until.isoformat()) for b in bans] == [
        ("第十七条", "2027-08-01", "2029-08-01")]
    assert bans[0].in_force(dt.date(2029, 7, 31)) and not bans[0].in_force(dt.date(2029, 8, 1))
    assert [(b.clause, b.until.isoformat()) for b in bans_of([_decision("revoked", "2027-08-01", "第十五条")], cfg)] \
        == [("第十五条", "2029-08-01")]
    assert bans_of([_decision("downgraded", "2027-08-01", "第十五条", tier="入库型")], cfg) == []
    assert [b.clause for b in bans_of([_decision("false_material", "2027-08-01", "第十七条(三)")], cfg)] == ["第十七条(三)"]


def test_a_revoked_park_holds_no_tier_and_its_subsidy_is_to_recover() -> None:
    import datetime as dt

    cfg = load("park_2024").history
    record = RoundRecord(program="park_2024", family="park", run_id="r", run_date=dt.date(2024, 6, 27),
                         app_id="park_2024/济南市/x", applicant_id=CODES[RUKU], applicant_name="x", name="x",
                         city="济南市", status="eligible", tier="成长型", subsidy=150.0, received=dt.date(2024, 6, 20))
    decisions = [_decision("subsidy_paid", "2024-12-01", amount=150.0), _decision("revoked", "2025-03-01", "第十七条(一)")]
    standing = standing_of([record], decisions, cfg, dt.date(2025, 6, 1))
    assert standing is not None and standing.state(dt.date(2025, 6, 1)) == "revoked"
    assert standing.tier is None and standing.subsidy_paid == 150.0
    book = Book([record], decisions)
    assert [a.applicant_id for a in book.applicants("park")] == [CODES[RUKU]]


def test_a_recognised_decision_overrides_the_rounds_result() -> None:
    import datetime as dt

    cfg = load("park_2024").history
    record = RoundRecord(program="park_2024", family="park", run_id="r", run_date=dt.date(2024, 6, 27),
                         app_id="a", applicant_id=CODES[RUKU], applicant_name="x", name="x", city="济南市",
                         status="eligible", tier="成长型", subsidy=None, received=None)
    fixed = _decision("recognised", "2024-09-10", "第九条", round="park_2024", tier="入库型")
    standing = standing_of([record], [fixed], cfg)
    assert standing is not None and (standing.tier, standing.since, standing.basis) == (
        "入库型", dt.date(2024, 9, 10), "decision")
    assert standing.due == dt.date(2026, 9, 10) and standing.deadline == dt.date(2027, 9, 10)
    none = _decision("recognised", "2024-09-10", "第九条", round="park_2024", tier="none")
    assert standing_of([record], [none], cfg) is None or standing_of([record], [none], cfg).tier is None


def test_what_a_city_states_of_the_tier_held_is_checked_against_the_ledger(rounds: dict[str, Any],
                                                                            tmp_path: Path) -> None:
    import shutil

    ledger = tmp_path / "ledger.sqlite3"
    shutil.copy(rounds["ledger"], ledger)
    unknown = UNRECORDED
    inbox = park_inbox(tmp_path / "inbox", "2028-07-01", {
        SHIFAN: ("示范型", "示范型"),      # holds the highest tier: may not apply for a higher one
        CHENGZHANG: ("示范型", "成长型"),  # holds 示范型 since the 2026 round, states 成长型
        unknown: ("示范型", "成长型"),     # states a tier the ledger does not know
    })
    doc = run_round(tmp_path, "p2028", inbox, ledger, "2028-07-10T10:00:00",
                    rules=round_rules(tmp_path / "rules", "park_2024", "park_2028"))
    apps = by_name(doc)
    shut = finding(apps[SHIFAN], "upgrade-not-open")
    assert shut["effect"] == "needs_review" and shut["params"]["tier"] == "示范型"
    assert apps[SHIFAN]["status"] == "needs_review"
    wrong = finding(apps[CHENGZHANG], "upgrade-tier-mismatch")
    assert (wrong["params"]["declared"], wrong["params"]["held"]) == ("成长型", "示范型")
    assert wrong["field"] == "current_tier" and wrong["cell"] is not None and wrong["original"] == "成长型"
    unrecorded = finding(apps[unknown], "current-tier-unrecorded")
    assert unrecorded["effect"] == "needs_review" and unrecorded["params"]["declared"] == "成长型"
    assert finding(apps[unknown], "upgrade-application")["params"]["tier"] == "成长型"
    assert apps[unknown]["history"]["upgrade"]["declared"] == "成长型"


def test_a_round_run_again_keeps_its_recognition_date() -> None:
    """A nightly or forced re-run of the same round records it again: the recognition (and the
    evaluation due two years on) keeps the date of the round's first run with a tier; the tier is
    the latest run's."""
    import datetime as dt

    cfg = load("park_2024").history

    def run(day: str, run_id: str, tier: str) -> RoundRecord:
        return RoundRecord(program="park_2024", family="park", run_id=run_id, run_date=dt.date.fromisoformat(day),
                           app_id="park_2024/济南市/x", applicant_id=CODES[RUKU], applicant_name="x", name="x",
                           city="济南市", status="eligible", tier=tier, subsidy=None, received=dt.date(2024, 6, 20))

    records = [run("2024-12-05", "20241205-100000", "成长型"), run("2024-06-27", "20240627-100000", "入库型"),
               run("2024-07-01", "20240701-100000", "入库型")]
    standing = standing_of(records, [], cfg, dt.date(2025, 1, 1))
    assert standing is not None
    assert (standing.tier, standing.since, standing.due) == ("成长型", dt.date(2024, 6, 27), dt.date(2026, 6, 27))
