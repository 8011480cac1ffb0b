"""Decisions of the 2024 cluster call (issue 3) on real workbooks written by the tests.

Every inbox is decided by ``sdbatch.batch.evaluate`` and the results.json it would write is
checked against the results.json contract (``tests/contract.py``, see ``decision_builders.decide``).  Findings are
asserted as ``(row, field, code)`` tuples, never on their Chinese wording.  Data rows start at
sheet row 3 (row 1 title, row 2 header).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest

from sdbatch import rules as rules_mod
from sdbatch.model import RunResult
from tests.decision_builders import (
    BUNDLED_RULES,
    CHINA,
    ON_TIME,
    app_named,
    city_file,
    codes,
    decide,
    file_named,
    row,
    set_mtime,
    triples,
    write_workbook,
)

FIRST = 3  # sheet row of the first application


def one(tmp_path: Path, **overrides: Any) -> tuple[Any, RunResult]:
    """A Jinan workbook with the single application ``row(**overrides)``, decided."""
    r = row(**overrides)
    city_file(tmp_path / "inbox", "济南市", [r])
    result = decide(tmp_path / "inbox")
    return app_named(result, r["name"]), result


def effects(app: Any) -> set[str]:
    return {f.effect for f in app.findings if f.effect}


# ----------------------------------------------------------------------------- the baseline
def test_baseline_row_is_eligible_with_expert_items_only(tmp_path: Path) -> None:
    app, result = one(tmp_path)
    assert app.status == "eligible"
    assert app.city == "济南市" and app.industry == "高端软件" and app.city_order == 1
    assert app.values["revenue_total"] == pytest.approx(120.0)
    assert app.values["rd_ratio"] == pytest.approx(4.0)
    assert codes(app) == {"expert-item"}
    # 三(一)(五)(六): listed for the experts, no verdict.
    assert {f.clause for f in app.findings if f.code == "expert-item"} == {"三(一)", "三(五)", "三(六)"}
    assert app.rank == 1 and app.score is not None
    assert file_named(result, "济南市数字产业集群申报信息汇总表.xlsx").status == "processed"


# ----------------------------------------------------------------------------- boundaries
BOUNDARIES = [
    # (overrides, status, (field, code) expected or None)
    ({"revenue_total": 49.99}, "ineligible", ("revenue_total", "below-threshold")),
    ({"revenue_total": 50}, "eligible", None),
    ({"revenue_total": 50.01}, "eligible", None),
    # 三(二) 原则上不低于20家: soft.
    ({"leading_firms": 19}, "needs_review", ("leading_firms", "below-threshold")),
    ({"leading_firms": 20}, "eligible", None),
    ({"leader_firms": 0}, "ineligible", ("leader_firms", "below-threshold")),
    ({"leader_firms": 1}, "eligible", None),
    ({"backbone_firms": 2}, "ineligible", ("backbone_firms", "below-threshold")),
    ({"backbone_firms": 3}, "eligible", None),
    # 三(四) national ≥ 1 OR provincial ≥ 3.
    ({"national_platforms": 1, "provincial_platforms": 0}, "eligible", None),
    ({"national_platforms": 0, "provincial_platforms": 3}, "eligible", None),
    ({"national_platforms": 0, "provincial_platforms": 2}, "ineligible", ("national_platforms", "none-of-met")),
    ({"ip_total": 999}, "ineligible", ("ip_total", "below-threshold")),
    ({"ip_total": 1000}, "eligible", None),
    ({"rd_ratio": 2.99, "rd_expense": 2.99, "sales_revenue": 100}, "ineligible", ("rd_ratio", "below-threshold")),
    ({"rd_ratio": 3.00, "rd_expense": 3.0, "sales_revenue": 100}, "eligible", None),
]


@pytest.mark.parametrize(("overrides", "status", "expected"), BOUNDARIES,
                         ids=[",".join(f"{k}={v}" for k, v in o.items()) for o, _, _ in BOUNDARIES])
def test_condition_at_its_boundary(tmp_path: Path, overrides: dict[str, Any], status: str,
                                   expected: tuple[str, str] | None) -> None:
    app, _ = one(tmp_path, **overrides)
    assert app.status == status
    condition_codes = {"below-threshold", "none-of-met", "wrong-value", "missing-value"}
    got = {(r, f, c) for r, f, c in triples(app) if c in condition_codes}
    if expected is None:
        assert got == set()
        assert app.rank == 1
    else:
        assert got == {(FIRST, *expected)}
        assert app.rank is None if status == "ineligible" else app.rank == 1


@pytest.mark.parametrize(("unit", "amount", "status"), [
    ("万元", 499_900, "ineligible"), ("万元", 500_000, "eligible"), ("万元", "500,100", "eligible"),
    ("元", 4_999_000_000, "ineligible"), ("元", 5_000_000_000, "eligible"),
])
def test_revenue_boundary_in_other_units(tmp_path: Path, unit: str, amount: Any, status: str) -> None:
    r = row(revenue_total=amount)
    write_workbook(tmp_path / "inbox" / "济南市汇总表.xlsx", [r], units={"revenue_total": unit})
    app = app_named(decide(tmp_path / "inbox"), r["name"])
    assert app.status == status
    assert (FIRST, "revenue_total", "value-converted") in triples(app)
    assert ((FIRST, "revenue_total", "below-threshold") in triples(app)) is (status == "ineligible")


def test_rd_ratio_derived_exactly_at_threshold_passes(tmp_path: Path) -> None:
    # 2.1 / 70 × 100 is 3.0000000000000004 in floating point: still 3 %, still met.
    app, _ = one(tmp_path, rd_ratio=None, rd_expense=2.1, sales_revenue=70)
    assert app.values["rd_ratio"] == pytest.approx(3.0)
    assert app.status == "eligible"


def test_platform_or_failing_names_both_platform_counts(tmp_path: Path) -> None:
    app, _ = one(tmp_path, national_platforms=0, provincial_platforms=2)
    [finding] = [f for f in app.findings if f.code == "none-of-met"]
    assert finding.clause == "三(四)"
    assert list(finding.params["fields"]) == ["national_platforms", "provincial_platforms"]


def test_rd_ratio_missing_is_derived_from_the_amounts(tmp_path: Path) -> None:
    app, _ = one(tmp_path, rd_ratio=None, rd_expense=3.5, sales_revenue=100)
    assert app.values["rd_ratio"] == pytest.approx(3.5)
    assert (FIRST, "rd_ratio", "ratio-derived") in triples(app)
    assert app.status == "eligible"


def test_rd_ratio_derived_below_threshold_fails(tmp_path: Path) -> None:
    app, _ = one(tmp_path, rd_ratio=None, rd_expense=2.9, sales_revenue=100)
    assert app.values["rd_ratio"] == pytest.approx(2.9)
    assert {(FIRST, "rd_ratio", "ratio-derived"), (FIRST, "rd_ratio", "below-threshold")} <= triples(app)
    assert app.status == "ineligible"


def test_declared_ratio_disagreeing_with_amounts_is_a_finding(tmp_path: Path) -> None:
    app, _ = one(tmp_path, rd_ratio=5.0, rd_expense=3.0, sales_revenue=100)
    assert (FIRST, "rd_ratio", "ratio-mismatch") in triples(app)
    assert app.status == "needs_review"


def test_declared_ratio_within_tolerance_is_no_finding(tmp_path: Path) -> None:
    app, _ = one(tmp_path, rd_ratio=3.55, rd_expense=3.5, sales_revenue=100)
    assert "ratio-mismatch" not in codes(app)
    assert app.status == "eligible"


def test_rd_ratio_and_amounts_all_missing_is_incomplete(tmp_path: Path) -> None:
    app, _ = one(tmp_path, rd_ratio=None, rd_expense=None, sales_revenue=None)
    assert (FIRST, "rd_ratio", "missing-value") in triples(app)
    assert app.status == "incomplete"


# ----------------------------------------------------------------------------- relaxation
@pytest.mark.parametrize(("industry", "status"), [("集成电路", "needs_review"), ("人工智能", "needs_review"),
                                                  ("高端软件", "ineligible"), ("数字终端", "ineligible")])
def test_relaxation_for_core_and_frontier_industries(tmp_path: Path, industry: str, status: str) -> None:
    app, _ = one(tmp_path, industry=industry, revenue_total=42.7)
    assert app.industry == industry
    assert app.status == status
    assert (FIRST, "revenue_total", "below-threshold") in triples(app)


@pytest.mark.parametrize("overrides", [{"national_platforms": 0, "provincial_platforms": 2}, {"ip_total": 999},
                                       {"backbone_firms": 2}, {"leader_firms": 0}, {"rd_ratio": 2.5,
                                                                                     "rd_expense": 2.5}])
def test_relaxation_covers_every_condition_of_san_er_san_si(tmp_path: Path, overrides: dict[str, Any]) -> None:
    app, _ = one(tmp_path, industry="人工智能", **overrides)
    assert app.status == "needs_review"


def test_relaxation_does_not_relax_hard_conditions(tmp_path: Path) -> None:
    app, _ = one(tmp_path, industry="集成电路", major_incident="是")
    assert app.status == "ineligible"
    assert (FIRST, "major_incident", "wrong-value") in triples(app)


# ----------------------------------------------------------------------------- hard conditions
HARD = [
    ({"major_incident": "是"}, ("major_incident", "wrong-value"), "三(七)"),
    ({"legal_person": "否"}, ("legal_person", "wrong-value"), "二"),
    ({"bad_credit": "有"}, ("bad_credit", "wrong-value"), "二"),
    ({"industry": "生物医药"}, ("industry", "unknown-industry"), "一"),
]


@pytest.mark.parametrize(("overrides", "expected", "clause"), HARD, ids=[str(h[0]) for h in HARD])
def test_hard_condition_makes_ineligible(tmp_path: Path, overrides: dict[str, Any], expected: tuple[str, str],
                                         clause: str) -> None:
    app, _ = one(tmp_path, **overrides)
    assert app.status == "ineligible"
    assert (FIRST, *expected) in triples(app)
    [finding] = [f for f in app.findings if (f.field, f.code) == expected]
    assert finding.clause == clause and finding.severity == "error"
    assert app.rank is None and app.score is None


def test_invalid_credit_code_is_found(tmp_path: Path) -> None:
    app, _ = one(tmp_path, applicant_uscc="52371002MJ8JB1P622")
    assert (FIRST, "applicant_uscc", "invalid-credit-code") in triples(app)
    assert app.status != "eligible"


def test_invalid_credit_code_makes_ineligible(tmp_path: Path) -> None:
    app, _ = one(tmp_path, applicant_uscc="52371002MJ8JB1P622")
    assert app.status == "ineligible"


def test_missing_credit_code_is_incomplete(tmp_path: Path) -> None:
    app, _ = one(tmp_path, applicant_uscc=None)
    assert (FIRST, "applicant_uscc", "missing-value") in triples(app)
    assert app.status == "incomplete"


def test_missing_applicant_is_incomplete(tmp_path: Path) -> None:
    app, _ = one(tmp_path, applicant=None)
    assert (FIRST, "applicant", "missing-value") in triples(app)
    assert app.status == "incomplete"


def test_bad_phone_and_email_are_warnings_only(tmp_path: Path) -> None:
    app, _ = one(tmp_path, phone="0532-8588", email="not-an-address")
    assert {(FIRST, "phone", "invalid-phone"), (FIRST, "email", "invalid-email")} <= triples(app)
    assert app.status == "eligible"


# ----------------------------------------------------------------------------- status precedence
# Each city: (overrides of its rows).  Jinan's 4th application is also ineligible; the others
# trigger two effects at once and the stronger one must win.
PRECEDENCE = {
    "over_quota>ineligible": ("济南市", 4, {"major_incident": "是", "ip_total": None}, "over_quota",
                              {"over-quota", "wrong-value", "missing-value"}),
    "ineligible>incomplete": ("青岛市", 1, {"major_incident": "是", "ip_total": None, "leading_firms": 19},
                              "ineligible", {"wrong-value", "missing-value", "below-threshold"}),
    "incomplete>needs_review": ("淄博市", 1, {"ip_total": None, "leading_firms": 19}, "incomplete",
                                {"missing-value", "below-threshold"}),
    "needs_review>eligible": ("烟台市", 1, {"leading_firms": 19, "phone": "12345"}, "needs_review",
                              {"below-threshold", "invalid-phone"}),
    "eligible": ("日照市", 1, {"phone": "12345"}, "eligible", {"invalid-phone"}),
}


@pytest.fixture(scope="module")
def precedence(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    inbox = tmp_path_factory.mktemp("precedence") / "inbox"
    for city, order, overrides, _, _ in PRECEDENCE.values():
        rows = [row(city_order=i) for i in range(1, order)] + [row(city_order=order, name=f"{city}受测集群",
                                                                    **overrides)]
        city_file(inbox, city, rows)
    return decide(inbox)


@pytest.mark.parametrize("case", list(PRECEDENCE))
def test_status_precedence(precedence: RunResult, case: str) -> None:
    city, _, _, status, expected_codes = PRECEDENCE[case]
    app = app_named(precedence, f"{city}受测集群")
    assert app.status == status
    assert expected_codes <= codes(app)


def test_precedence_other_jinan_apps_stay_eligible(precedence: RunResult) -> None:
    jinan = [a for a in precedence.applications if a.city == "济南市"]
    assert sorted(a.status for a in jinan) == ["eligible", "eligible", "eligible", "over_quota"]
    assert {a.rank is None for a in jinan if a.status == "over_quota"} == {True}


def test_ranks_cover_exactly_eligible_and_needs_review(precedence: RunResult) -> None:
    ranked = sorted((a for a in precedence.applications if a.rank is not None), key=lambda a: a.rank)
    assert [a.rank for a in ranked] == list(range(1, len(ranked) + 1))
    assert {a.status for a in ranked} == {"eligible", "needs_review"}
    assert all(a.rank is None for a in precedence.applications if a.status not in ("eligible", "needs_review"))


# ----------------------------------------------------------------------------- quota
@pytest.fixture(scope="module")
def quota(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    inbox = tmp_path_factory.mktemp("quota") / "inbox"
    # Jinan (quota 3): four applications, 推荐排序 shuffled 3,1,4,2 in row order.
    city_file(inbox, "济南市", [row(city_order=o, name=f"济南受测{o}号集群") for o in (3, 1, 4, 2)])
    # Zibo (quota 2): three applications, 2,3,1.
    city_file(inbox, "淄博市", [row(city_order=o, name=f"淄博受测{o}号集群") for o in (2, 3, 1)])
    # Yantai: no 推荐排序 column: row order, with a warning.
    city_file(inbox, "烟台市", [row(name=f"烟台受测行{i}集群") for i in (1, 2, 3)], drop=("city_order",))
    # Jining: 1, 1, 2 (repeated number).
    city_file(inbox, "济宁市", [row(city_order=o, name=f"济宁受测{n}集群") for n, o in
                               (("甲", 1), ("乙", 1), ("丙", 2))])
    # Weifang: 1, blank, 2 (missing number).
    city_file(inbox, "潍坊市", [row(city_order=o, name=f"潍坊受测{n}集群") for n, o in
                               (("甲", 1), ("乙", None), ("丙", 2))])
    return decide(inbox)


def _statuses(result: RunResult, city: str) -> dict[str, str]:
    return {a.name or "": a.status for a in result.applications if a.city == city}


def test_quota_follows_shuffled_city_order(quota: RunResult) -> None:
    assert _statuses(quota, "济南市") == {"济南受测3号集群": "eligible", "济南受测1号集群": "eligible",
                                          "济南受测4号集群": "over_quota", "济南受测2号集群": "eligible"}
    over = app_named(quota, "济南受测4号集群")
    assert (5, "city_order", "over-quota") in triples(over)  # the 3rd data row holds order 4
    assert over.city_order == 4


def test_quota_of_another_city_is_two(quota: RunResult) -> None:
    assert _statuses(quota, "淄博市") == {"淄博受测2号集群": "eligible", "淄博受测3号集群": "over_quota",
                                          "淄博受测1号集群": "eligible"}


def test_quota_without_city_order_column_uses_row_order(quota: RunResult) -> None:
    assert _statuses(quota, "烟台市") == {"烟台受测行1集群": "eligible", "烟台受测行2集群": "eligible",
                                          "烟台受测行3集群": "over_quota"}
    for i, name in enumerate(("烟台受测行1集群", "烟台受测行2集群", "烟台受测行3集群")):
        assert (FIRST + i, "city_order", "no-city-order") in triples(app_named(quota, name))


def test_quota_repeated_city_order(quota: RunResult) -> None:
    assert (FIRST, "city_order", "duplicate-city-order") in triples(app_named(quota, "济宁受测甲集群"))
    assert (FIRST + 1, "city_order", "duplicate-city-order") in triples(app_named(quota, "济宁受测乙集群"))
    assert "duplicate-city-order" not in codes(app_named(quota, "济宁受测丙集群"))
    assert _statuses(quota, "济宁市") == {"济宁受测甲集群": "eligible", "济宁受测乙集群": "eligible",
                                          "济宁受测丙集群": "over_quota"}


def test_quota_missing_city_order(quota: RunResult) -> None:
    assert (FIRST + 1, "city_order", "missing-city-order") in triples(app_named(quota, "潍坊受测乙集群"))
    assert not {"missing-city-order", "duplicate-city-order"} & codes(app_named(quota, "潍坊受测甲集群"))
    # A missing number comes after the numbered ones.
    assert _statuses(quota, "潍坊市") == {"潍坊受测甲集群": "eligible", "潍坊受测乙集群": "over_quota",
                                          "潍坊受测丙集群": "eligible"}


def test_quota_counts_applications_that_fail_anyway(tmp_path: Path) -> None:
    """四(二): the quota is over what the city submitted; an ineligible 1st does not free a place."""
    inbox = tmp_path / "inbox"
    city_file(inbox, "滨州市", [row(city_order=1, name="滨州受测甲集群", major_incident="是"),
                                row(city_order=2, name="滨州受测乙集群"),
                                row(city_order=3, name="滨州受测丙集群")])
    assert _statuses(decide(inbox), "滨州市") == {"滨州受测甲集群": "ineligible", "滨州受测乙集群": "eligible",
                                                  "滨州受测丙集群": "over_quota"}


def test_quota_findings_only_where_due(quota: RunResult) -> None:
    for app in quota.applications:
        if app.city in ("济南市", "淄博市"):
            assert not {"no-city-order", "missing-city-order", "duplicate-city-order"} & codes(app)


# ----------------------------------------------------------------------------- resubmission
def test_newer_workbook_supersedes_older(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    a = row(city_order=1, name="潍坊受测声学集群", ip_total=960)
    b = row(city_order=2, name="潍坊受测虚拟现实集群")
    # The older file's name sorts last, so only the modification time can make it the older one.
    city_file(inbox, "潍坊市", [a, b], name="潍坊市汇总表-b.xlsx", mtime=ON_TIME)
    city_file(inbox, "潍坊市", [{**a, "ip_total": 1096}, b], name="潍坊市汇总表-a.xlsx",
              mtime=ON_TIME + dt.timedelta(days=2))
    result = decide(inbox)
    older, newer = file_named(result, "潍坊市汇总表-b.xlsx"), file_named(result, "潍坊市汇总表-a.xlsx")
    assert (older.status, newer.status) == ("superseded", "processed")
    assert older.superseded_by == "潍坊市汇总表-a.xlsx"
    assert {app.source.file for app in result.applications} == {"潍坊市汇总表-a.xlsx"}
    assert sorted(app.name or "" for app in result.applications) == ["潍坊受测声学集群", "潍坊受测虚拟现实集群"]
    changed = app_named(result, "潍坊受测声学集群")
    assert (FIRST, None, "changed-since-previous") in triples(changed)
    [finding] = [f for f in changed.findings if f.code == "changed-since-previous"]
    assert list(finding.params["fields"]) == ["ip_total"]
    assert changed.status == "eligible"  # 1096 ≥ 1000 now
    assert "changed-since-previous" not in codes(app_named(result, "潍坊受测虚拟现实集群"))
    assert "resubmission-changes" in {f.code for f in newer.findings}
    # The superseded workbook's applications do not count against the quota.
    assert all(a.status == "eligible" for a in result.applications)


def test_older_mtime_loses_even_with_a_later_name(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    city_file(inbox, "东营市", [row(name="东营受测旧集群")], name="东营市汇总表（第二次）.xlsx", mtime=ON_TIME)
    city_file(inbox, "东营市", [row(name="东营受测新集群")], name="东营市汇总表.xlsx",
              mtime=ON_TIME + dt.timedelta(hours=3))
    result = decide(inbox)
    assert [a.name for a in result.applications] == ["东营受测新集群"]
    assert file_named(result, "东营市汇总表（第二次）.xlsx").status == "superseded"
    newer = file_named(result, "东营市汇总表.xlsx")
    assert newer.status == "processed"
    [note] = [f for f in newer.findings if f.code == "resubmission-changes"]
    assert list(note.params["added"]) == ["东营受测新集群"] and list(note.params["removed"]) == ["东营受测旧集群"]


@pytest.mark.parametrize(("plain", "corrected"), [
    ("潍坊市数字产业集群申报信息汇总表.xlsx", "潍坊市数字产业集群申报信息汇总表（更正）.xlsx"),
    # A name that sorts before the plain one: the marker, not the name order, decides.
    ("潍坊市数字产业集群申报信息汇总表.xlsx", "更正-潍坊市数字产业集群申报信息汇总表.xlsx"),
])
def test_correction_marker_wins_at_equal_mtime(tmp_path: Path, plain: str, corrected: str) -> None:
    inbox = tmp_path / "inbox"
    a = row(city_order=1, name="潍坊受测声学集群", ip_total=960)
    city_file(inbox, "潍坊市", [a], name=plain, mtime=ON_TIME)
    city_file(inbox, "潍坊市", [{**a, "ip_total": 1096}], name=corrected, mtime=ON_TIME)
    result = decide(inbox)
    assert file_named(result, plain).status == "superseded"
    assert file_named(result, corrected).status == "processed"
    app = app_named(result, "潍坊受测声学集群")
    assert app.values["ip_total"] == 1096 and app.status == "eligible"
    assert (FIRST, None, "changed-since-previous") in triples(app)


# ----------------------------------------------------------------------------- duplicate file
def test_identical_file_twice_is_one_duplicate(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    first = city_file(inbox, "日照市", [row(name="日照受测甲集群"), row(city_order=2, name="日照受测乙集群")])
    copy = inbox / "日照市数字产业集群申报信息汇总表(1).xlsx"
    shutil.copyfile(first, copy)
    set_mtime(copy, ON_TIME + dt.timedelta(minutes=2))
    result = decide(inbox)
    statuses = sorted(f.status for f in result.files)
    assert statuses == ["duplicate", "processed"]
    dup = next(f for f in result.files if f.status == "duplicate")
    assert dup.duplicate_of == next(f.file for f in result.files if f.status == "processed")
    assert sorted(a.name or "" for a in result.applications) == ["日照受测乙集群", "日照受测甲集群"]
    for app in result.applications:
        assert app.status == "eligible"
        assert not {"cross-city-duplicate", "duplicate-in-file", "changed-since-previous"} & codes(app)


def test_duplicate_is_the_later_copy(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    first = city_file(inbox, "日照市", [row(name="日照受测甲集群")], mtime=ON_TIME)
    copy = inbox / "日照市数字产业集群申报信息汇总表(1).xlsx"
    shutil.copyfile(first, copy)
    set_mtime(copy, ON_TIME + dt.timedelta(minutes=2))
    result = decide(inbox)
    assert file_named(result, copy.name).status == "duplicate"
    assert file_named(result, first.name).status == "processed"


# ----------------------------------------------------------------------------- cross-city duplicate
def test_same_cluster_name_in_two_cities(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(name="鲁中智算产业集群")])
    city_file(inbox, "淄博市", [row(name="鲁中智算产业集群")])
    result = decide(inbox)
    apps = [a for a in result.applications if a.name == "鲁中智算产业集群"]
    assert sorted(a.city or "" for a in apps) == ["济南市", "淄博市"]
    for app in apps:
        assert (FIRST, "name", "cross-city-duplicate") in triples(app)
        assert app.status == "needs_review"
    # the city is told which city to agree with, not the other city's file (the department's results keep it)
    from sdbatch.catalogue import render

    jinan = next(a for a in apps if a.city == "济南市")
    finding = next(f for f in jinan.findings if f.code == "cross-city-duplicate")
    other_file = next(f.file for f in result.files if "淄博" in f.file)
    assert finding.params["other_file"] == other_file
    assert "淄博市" in render(finding).message and other_file not in render(finding).message


def test_same_credit_code_in_two_cities(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    a = row(name="青岛受测海洋信息集群")
    city_file(inbox, "青岛市", [a])
    city_file(inbox, "烟台市", [row(name="烟台受测空天集群", applicant_uscc=a["applicant_uscc"])])
    result = decide(inbox)
    for name in ("青岛受测海洋信息集群", "烟台受测空天集群"):
        app = app_named(result, name)
        assert (FIRST, "name", "cross-city-duplicate") in triples(app)
        assert app.status == "needs_review"


def test_same_name_and_code_in_two_cities_is_one_finding_each(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    a = row(name="鲁中智算产业集群")
    city_file(inbox, "济南市", [a])
    city_file(inbox, "淄博市", [dict(a)])
    result = decide(inbox)
    for app in result.applications:
        assert [f.code for f in app.findings].count("cross-city-duplicate") == 1


def test_cross_city_duplicate_does_not_hide_a_stronger_status(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(name="鲁中智算产业集群", major_incident="是")])
    city_file(inbox, "淄博市", [row(name="鲁中智算产业集群")])
    result = decide(inbox)
    assert {a.city: a.status for a in result.applications} == {"济南市": "ineligible", "淄博市": "needs_review"}


def test_same_industry_cluster_of_two_cities_is_not_a_duplicate(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(name="济南人工智能产业集群", industry="人工智能")])
    city_file(inbox, "青岛市", [row(name="青岛人工智能产业集群", industry="人工智能")])
    result = decide(inbox)
    for app in result.applications:
        assert "cross-city-duplicate" not in codes(app)
        assert app.status == "eligible"


# ----------------------------------------------------------------------------- deadline
@pytest.mark.parametrize(("received", "late"), [
    (dt.datetime(2024, 6, 20, 10, 0, tzinfo=CHINA), False),
    (dt.datetime(2024, 6, 28, 23, 30, tzinfo=CHINA), False),  # still 6月28日 in Beijing (15:30 UTC)
    (dt.datetime(2024, 6, 29, 0, 30, tzinfo=CHINA), True),    # 6月29日 in Beijing, 6月28日 in UTC
    (dt.datetime(2024, 6, 29, 8, 50, tzinfo=CHINA), True),
])
def test_late_submission_is_flagged_not_dropped(tmp_path: Path, received: dt.datetime, late: bool) -> None:
    inbox = tmp_path / "inbox"
    path = city_file(inbox, "泰安市", [row(name="泰安受测集群")], mtime=received)
    result = decide(inbox)
    record = file_named(result, path.name)
    app = app_named(result, "泰安受测集群")
    assert record.status == "processed" and record.late is late
    assert ("late-submission" in {f.code for f in record.findings}) is late
    assert ("late-submission" in codes(app)) is late
    assert app.status == "eligible"  # flagged, not dropped


# ----------------------------------------------------------------------------- rules are data
def _modified_rules(tmp_path: Path) -> Path:
    text = BUNDLED_RULES.read_text(encoding="utf-8")
    revenue = 'id = "revenue-total"\nfield = "revenue_total"\nop = ">="\nthreshold = 50\n'
    quota = 'cities = { "济南市" = 3, "青岛市" = 3 }'
    assert text.count(revenue) == 1 and text.count(quota) == 1
    text = text.replace(revenue, revenue.replace("threshold = 50", "threshold = 60"))
    text = text.replace(quota, 'cities = { "济南市" = 4, "青岛市" = 3 }')
    path = tmp_path / "cluster_2024_modified.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_modified_rules_file_changes_the_outcome(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(city_order=1, name="济南受测55亿集群", revenue_total=55),
                                row(city_order=2), row(city_order=3),
                                row(city_order=4, name="济南受测第四集群")])
    bundled = decide(inbox)
    assert app_named(bundled, "济南受测55亿集群").status == "eligible"
    assert app_named(bundled, "济南受测第四集群").status == "over_quota"

    modified_path = _modified_rules(tmp_path)
    modified = rules_mod.load(modified_path)
    assert modified.quota_for("济南市") == 4 and modified.quota_for("青岛市") == 3
    changed = decide(inbox, rules_files=(modified_path,))
    app = app_named(changed, "济南受测55亿集群")
    assert app.status == "ineligible"
    [finding] = [f for f in app.findings if f.code == "below-threshold"]
    assert (finding.field, finding.params["threshold"]) == ("revenue_total", 60)
    assert app_named(changed, "济南受测第四集群").status == "eligible"
    assert "over-quota" not in {c for a in changed.applications for c in codes(a)}


# ----------------------------------------------------------------------------- odds and ends
def test_findings_carry_clause_and_cell(tmp_path: Path) -> None:
    app, _ = one(tmp_path, revenue_total=49.99)
    [finding] = [f for f in app.findings if f.code == "below-threshold"]
    assert finding.clause == "三(二)"
    assert finding.source is not None and finding.source.cell == f"G{FIRST}"  # revenue is column G


def test_write_workbook_round_trips_headers(tmp_path: Path) -> None:
    # The builders' own sanity: every column is recognised (no unknown-column finding).
    path = write_workbook(tmp_path / "inbox" / "济南市汇总表.xlsx", [row()])
    result = decide(path.parent)
    record = file_named(result, path.name)
    assert not [f for f in record.findings if f.code == "unknown-column"]
    assert set(result.applications[0].values) >= {"revenue_total", "rd_ratio", "phone", "email", "city_order"}
