"""The park program through the real pipeline: run_batch on fixture workbooks -> results.json.

第五条 per park type at each boundary (at the threshold passes, just below fails with the
severity of the rules file), the 第五条(五) relaxation request, tier and subsidy in
results.json, and one inbox holding both programs.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl import Workbook

from sdbatch.batch import RunOptions, run_batch
from sdbatch.rules import load
from tests.contract import check_contract

ROOT = Path(__file__).resolve().parents[1]
DIGITAL, INDUSTRIAL = "数字产业化园区", "产业数字化园区"


HEADERS = {
    "name": "园区名称", "city": "所在市", "park_type": "园区类型", "operator": "运营管理机构",
    "operator_uscc": "统一社会信用代码", "full_coverage": "光纤宽带或5G全覆盖", "firms_total": "园区企业总数（家）",
    "cloud_firms": "上云企业数（家）", "local_cloud_firms": "使用省内云资源的企业数（家）",
    "digital_firms": "数字产业相关企业数（家）", "stat_firms": "纳入统计范围的数字经济企业数（家）",
    "new_stat_firms": "上年新增纳统企业数（家）", "leader_firms": "龙头骨干企业数（家）",
    "chain_firms": "产业链上下游相关企业数（家）", "prov_demo": "省部级及以上试点示范项目数（项）",
    "city_demo": "市级试点示范项目数（项）", "hitech_revenue": "高新技术企业主营业务收入（亿元）",
    "main_revenue": "主导产业主营业务收入（亿元）", "rd_institutions": "省级以上研发机构数（个）",
    "projects": "近三年主持或参与省部级以上项目数（个）", "ip_total": "近三年科技奖励及知识产权总数（项）",
    "rd_expense": "上年度研发投入总额（亿元）", "sales_revenue": "上年度销售收入总额（亿元）",
    "relax_request": "是否申请特色功能放宽", "green_threshold": "是否符合“绿色门槛”",
}
COMMON = dict(city="济南市", operator="某某园区运营管理有限公司", operator_uscc="91370100MA3C00000X",
              full_coverage="是", firms_total=50, cloud_firms=30, local_cloud_firms=18, hitech_revenue=10,
              main_revenue=100, rd_institutions=1, projects=5, ip_total=30, sales_revenue=100,
              relax_request="否", green_threshold="是")
# Every 第五条 value exactly at its threshold: 上云 30/50 = 60%, 省内云 18/30 = 60%, 高新 10%,
# 数字产业化: 25 firms = 50% of 50, 10 统计, 1 new, 5 省部级 demos, R&D 5%;
# 产业数字化: 2 龙头, 20 上下游, 3 省部级 demos, R&D 3%.
AT_DIGITAL = dict(COMMON, park_type=DIGITAL, digital_firms=25, stat_firms=10, new_stat_firms=1, prov_demo=5,
                  city_demo=0, rd_expense=5, leader_firms="/", chain_firms="/")
AT_INDUSTRIAL = dict(COMMON, park_type=INDUSTRIAL, leader_firms=2, chain_firms=20, prov_demo=3, city_demo=0,
                     rd_expense=3, digital_firms="/", stat_firms="/", new_stat_firms="/")

# (name, base, changes, expected status, condition id that fails or None)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], str, str | None]] = [
    ("数产边界园区", AT_DIGITAL, {}, "eligible", None),
    ("数产市级示范园区", AT_DIGITAL, dict(prov_demo=0, city_demo=10), "eligible", None),
    ("数产未全覆盖园区", AT_DIGITAL, dict(full_coverage="否"), "ineligible", "full-coverage"),
    ("数产上云不足园区", AT_DIGITAL, dict(cloud_firms=29, local_cloud_firms=18), "ineligible", "cloud-ratio"),
    ("数产省内云不足园区", AT_DIGITAL, dict(local_cloud_firms=17), "ineligible", "local-cloud-ratio"),
    ("数产企业数不足园区", AT_DIGITAL, dict(firms_total=48, digital_firms=24), "needs_review", "digital-firms"),
    ("数产占比不足园区", AT_DIGITAL, dict(firms_total=51, cloud_firms=31, local_cloud_firms=19), "ineligible",
     "digital-ratio"),
    ("数产纳统不足园区", AT_DIGITAL, dict(stat_firms=9), "needs_review", "stat-firms"),
    ("数产无新增纳统园区", AT_DIGITAL, dict(new_stat_firms=0), "ineligible", "new-stat-firms"),
    ("数产示范不足园区", AT_DIGITAL, dict(prov_demo=4, city_demo=9), "ineligible", "demo-projects-digital"),
    ("数产高新不足园区", AT_DIGITAL, dict(hitech_revenue=9.99), "ineligible", "hitech-ratio"),
    ("数产无研发机构园区", AT_DIGITAL, dict(rd_institutions=0), "ineligible", "rd-institutions"),
    ("数产项目不足园区", AT_DIGITAL, dict(projects=4), "ineligible", "projects"),
    ("数产知识产权不足园区", AT_DIGITAL, dict(ip_total=29), "ineligible", "ip-total"),
    ("数产研发不足园区", AT_DIGITAL, dict(rd_expense=4.99), "ineligible", "rd-ratio-digital"),
    ("数产研发不足放宽园区", AT_DIGITAL, dict(rd_expense=4.99, relax_request="是"), "needs_review", "rd-ratio-digital"),
    ("产数边界园区", AT_INDUSTRIAL, {}, "eligible", None),
    ("产数市级示范园区", AT_INDUSTRIAL, dict(prov_demo=0, city_demo=6), "eligible", None),
    ("产数龙头不足园区", AT_INDUSTRIAL, dict(leader_firms=1), "ineligible", "leader-firms"),
    ("产数上下游不足园区", AT_INDUSTRIAL, dict(chain_firms=19), "ineligible", "chain-firms"),
    ("产数示范不足园区", AT_INDUSTRIAL, dict(prov_demo=2, city_demo=5), "ineligible", "demo-projects-industrial"),
    ("产数研发不足园区", AT_INDUSTRIAL, dict(rd_expense=2.99), "ineligible", "rd-ratio-industrial"),
    ("产数上云不足园区", AT_INDUSTRIAL, dict(cloud_firms=29), "ineligible", "cloud-ratio"),
    ("产数高新不足园区", AT_INDUSTRIAL, dict(hitech_revenue=9.99), "ineligible", "hitech-ratio"),
    ("产数龙头不足放宽园区", AT_INDUSTRIAL, dict(leader_firms=1, relax_request="是"), "needs_review", "leader-firms"),
]


def write_summary(path: Path, rows: list[dict[str, Any]], title: str = "济南市省级数字经济园区申报汇总表") -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "汇总表"
    ws.append([title])
    ws.append(["序号", *HEADERS.values()])
    for i, row in enumerate(rows, 1):
        ws.append([i, *[row.get(k) for k in HEADERS]])
    wb.save(path)


def write_scores(path: Path, parks: dict[str, dict[str, float]], expert: str, title: str | None = None,
                 maxima: bool = False) -> None:
    codes = sorted({c for pts in parks.values() for c in pts}, key=lambda c: tuple(int(x) for x in c[1:].split("P")))
    wb = Workbook()
    ws = wb.active
    ws.title = expert
    ws.append([title or f"专家复核评分表  评审专家：{expert}"])
    ws.append(["序号", "园区名称", *codes])
    if maxima:  # a 满分 row under the header: the maxima, not a park
        ws.append(["", "满分", *[10] * len(codes)])
    for i, (name, pts) in enumerate(parks.items(), 1):
        ws.append([i, name, *[pts.get(c) for c in codes]])
    wb.save(path)


def park_run(tmp: Path, budget: float | None = None, address_book: Path | None = None, maxima: bool = False) -> Path:
    """A small park round through the whole pipeline (three experts whose titles say 市级推荐园区; with
    ``maxima`` their sheets carry a 满分 row of 10 points each, else nothing states points and the
    default applies); returns the run folder.  Used by the writers' tests."""
    inbox = tmp / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    write_summary(inbox / "园区_济南市_汇总表.xlsx", [dict(AT_DIGITAL, name="示范园区"), dict(AT_DIGITAL, name="成长园区"),
                                                  dict(AT_INDUSTRIAL, name="入库园区")])
    from sdbatch.programs.park import settings_of

    st = settings_of(load("park_2024"))
    entry = {i.code: 9 if i.group in ("L2", "L4") else 5.5 for i in st.applicable(INDUSTRIAL)}  # 68.75, 2 aspects
    parks = {"示范园区": {i.code: 9.5 for i in st.applicable(DIGITAL)},
             "成长园区": {i.code: 8 for i in st.applicable(DIGITAL)}, "入库园区": entry}
    for expert in ("孙教授", "周研究员", "吴高工"):
        write_scores(inbox / f"专家评分_{expert}.xlsx", parks, expert, maxima=maxima,
                     title=f"2024年省级数字经济园区认定专家复核评分表（各市市级推荐园区）  评审专家：{expert}")
    outcome = run_batch(inbox, RunOptions(out_dir=tmp / "out", run_id="park", now="2024-06-20T10:00:00",
                                          mail_mode="all", quiet=True, program_options={"budget": budget} if budget is not None else {}, address_book=address_book))
    assert outcome.run_dir is not None, outcome.message
    return outcome.run_dir


def test_park_run_reads_expert_titles_and_skips_maxima_rows(tmp_path: Path):
    run_dir = park_run(tmp_path, maxima=True)
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    experts = [f for f in results["files"] if f["file"].startswith("专家评分_")]
    assert len(experts) == 3
    codes = [x["code"] for f in experts for x in f["findings"]]
    assert "score-park-unmatched" not in codes
    assert {s["kind"] for s in results["programs"]["park_2024"]["park_scoring"]["score_sheets"]} == {"expert"}
    apps = by_name(results)
    assert apps["示范园区"]["outcome"]["score_detail"]["basis"] == "expert" and apps["示范园区"]["tier"] == "示范型"
    assert not any(f["code"] == "score-from-city" for a in apps.values() for f in a["findings"])


def run(inbox: Path, out: Path, **kw: Any) -> dict[str, Any]:
    outcome = run_batch(inbox, RunOptions(out_dir=out, run_id="test", now="2024-06-20T10:00:00", mail_mode="none",
                                          quiet=True, **kw))
    assert outcome.run_dir is not None, outcome.message
    return check_contract(outcome.run_dir / "results.json")


def by_name(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in results["applications"]}


@pytest.fixture(scope="module")
def boundary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    inbox = tmp_path_factory.mktemp("inbox")
    write_summary(inbox / "园区_济南市_汇总表.xlsx", [dict(base, **changes, name=name)
                                                  for name, base, changes, _, _ in CASES])
    return by_name(run(inbox, tmp_path_factory.mktemp("out")))


# ---------------------------------------------------------------------------------------- 第五条
@pytest.mark.parametrize("name, base, changes, status, condition", CASES, ids=[c[0] for c in CASES])
def test_article5_boundaries(boundary, name, base, changes, status, condition):
    app = boundary[name]
    assert app["park_type"] == base["park_type"]
    assert app["status"] == status, [(f["code"], f["field"], f["message"]) for f in app["findings"] if f["effect"]]
    failing = [f for f in app["findings"] if f["effect"] in ("ineligible", "needs_review", "incomplete")]
    if condition is None:
        assert not failing, [(f["code"], f["message"]) for f in failing]
    else:
        assert failing and all(f["clause"].startswith("第五条") for f in failing)


def test_park_rows_are_read_with_their_type(boundary):
    assert len(boundary) == len(CASES)
    assert {a["park_type"] for a in boundary.values()} == {DIGITAL, INDUSTRIAL}
    at = boundary["数产边界园区"]["values"]
    assert at["cloud_ratio"] == pytest.approx(60) and at["local_cloud_ratio"] == pytest.approx(60)
    assert at["digital_ratio"] == pytest.approx(50) and at["rd_ratio"] == pytest.approx(5)


def test_type_specific_fields_not_required_of_the_other_type(boundary):
    for name in ("数产边界园区", "产数边界园区"):
        assert not [f for f in boundary[name]["findings"] if f["code"] == "missing-value"], name


# ---------------------------------------------------------------------------------------- scores
@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    inbox = tmp_path_factory.mktemp("inbox")
    rows = [dict(AT_DIGITAL, name="示范园区"), dict(AT_DIGITAL, name="成长园区", green_threshold="否"),
            dict(AT_INDUSTRIAL, name="入库园区"), dict(AT_DIGITAL, name="放宽园区", rd_expense=4, relax_request="是"),
            dict(AT_DIGITAL, name="不合格园区", rd_expense=4), dict(AT_DIGITAL, name="潍坊高新区数字经济园区")]
    write_summary(inbox / "园区_济南市_汇总表.xlsx", rows)
    rules = load("park_2024")
    from sdbatch.programs.park import settings_of

    st = settings_of(rules)

    def uniform(ptype: str, v: float) -> dict[str, float]:
        return {i.code: v for i in st.applicable(ptype)}

    entry = {i.code: 9 if i.group in ("L2", "L4") else 5.5 for i in st.applicable(INDUSTRIAL)}  # 68.75, 2 aspects
    parks = {"示范园区": uniform(DIGITAL, 9.5), "成长园区": uniform(DIGITAL, 8), "入库园区": entry,
             "放宽园区": uniform(DIGITAL, 9.4), "不合格园区": uniform(DIGITAL, 9.4),
             "潍坊高新区数字经济园区": uniform(DIGITAL, 8)}
    for i, v in enumerate((-0.5, 0, 0.5)):
        write_scores(inbox / f"园区_专家评分_{i + 1}.xlsx",
                     {k: {c: x + v for c, x in pts.items()} for k, pts in parks.items()}, f"专家{i + 1}")
    return run(inbox, tmp_path_factory.mktemp("out"), program_options={"budget": 300})


def test_tier_and_subsidy_in_results(scored):
    apps = by_name(scored)
    top = apps["示范园区"]
    assert top["score"] == 95.0 and top["tier"] == "示范型" and top["subsidy"] == 200 and top["rank"] == 1
    assert apps["成长园区"]["tier"] == "成长型" and apps["成长园区"]["subsidy"] is None  # 绿色门槛 否
    assert any(f["code"] == "no-green-threshold" for f in apps["成长园区"]["findings"])
    assert apps["入库园区"]["tier"] == "入库型" and apps["入库园区"]["subsidy"] is None
    for app in apps.values():
        assert {"park_type", "tier", "subsidy"} <= set(app) and app["outcome"]["kind"] == "park"
        assert "subsidy_proposed" in app["outcome"]
    assert scored["programs"]["park_2024"]["park_scoring"]["points_default"] is True
    assert len(scored["programs"]["park_2024"]["park_scoring"]["score_sheets"]) == 3
    files = {f["file"]: f for f in scored["files"]}
    assert all(files[f"园区_专家评分_{i}.xlsx"]["status"] == "processed" for i in (1, 2, 3))


def test_relaxation_and_ineligible_in_results(scored):
    apps = by_name(scored)
    assert apps["放宽园区"]["status"] == "needs_review" and apps["放宽园区"]["tier"] == "示范型"
    assert apps["不合格园区"]["status"] == "ineligible" and apps["不合格园区"]["tier"] is None
    assert apps["不合格园区"]["rank"] is None


def test_whole_zone_warning_in_results(scored):
    app = by_name(scored)["潍坊高新区数字经济园区"]
    f = next(f for f in app["findings"] if f["code"] == "whole-zone-package")
    assert f["severity"] == "warning" and f["clause"] == "第五条(五)" and "整体打包" in f["message"]


def test_budget_allocation_in_results(scored):
    rows = scored["programs"]["park_2024"]["allocation"]
    assert sum(r["proposed"] for r in rows) <= 300
    assert scored["programs"]["park_2024"]["allocation_summary"]["proposed_total"] <= 300
    assert "等比例" in scored["programs"]["park_2024"]["allocation_method"]
    apps = by_name(scored)
    for r in rows:
        assert apps[r["name"]]["outcome"]["subsidy_proposed"] == r["proposed"] <= r["ceiling"]


# ---------------------------------------------------------------------------------------- both programs
def test_mixed_inbox_with_both_programs(tmp_path: Path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_summary(inbox / "园区_济南市_汇总表.xlsx", [dict(AT_DIGITAL, name="齐鲁软件园")])
    cluster_samples = sorted((ROOT / "samples" / "inbox").glob("济南市*集群*.xlsx"))
    if not cluster_samples:
        pytest.skip("no cluster sample workbook to mix in")
    shutil.copy(cluster_samples[0], inbox / cluster_samples[0].name)
    results = run(inbox, tmp_path / "out")
    programs = {a["program"] for a in results["applications"]}
    assert programs == {"park_2024", "cluster_2024"}
    park_app = next(a for a in results["applications"] if a["program"] == "park_2024")
    assert park_app["name"] == "齐鲁软件园" and park_app["park_type"] == DIGITAL
    assert all("tier" not in a for a in results["applications"] if a["program"] == "cluster_2024")
    assert {f["program"] for f in results["files"]} == {"park_2024", "cluster_2024"}


def test_a_park_rescored_by_a_corrected_expert_sheet_is_a_change(tmp_path: Path):
    """An expert re-sends a sheet with lower points: 成长园区's score falls while its status and
    values stay.  变更情况 said "与上次运行相比没有变更" and no draft went to 济南 (mail_mode changed):
    a score moved by the experts is a change (得分变化) of the city's."""
    from sdbatch.catalogue import text
    from sdbatch.programs.park import settings_of

    park_run(tmp_path)
    st = settings_of(load("park_2024"))
    inbox = tmp_path / "inbox"
    lower = {"示范园区": {i.code: 9.5 for i in st.applicable(DIGITAL)},
             "成长园区": {i.code: 7 for i in st.applicable(DIGITAL)},
             "入库园区": {i.code: 9 if i.group in ("L2", "L4") else 5.5 for i in st.applicable(INDUSTRIAL)}}
    write_scores(inbox / "专家评分_吴高工（修改）.xlsx", lower, "吴高工",
                 title="2024年省级数字经济园区认定专家复核评分表（各市市级推荐园区）  评审专家：吴高工")
    later = (inbox / "专家评分_吴高工.xlsx").stat().st_mtime + 3600
    os.utime(inbox / "专家评分_吴高工（修改）.xlsx", (later, later))
    outcome = run_batch(inbox, RunOptions(out_dir=tmp_path / "out", run_id="park2", now="2024-06-21T10:00:00",
                                          mail_mode="changed", quiet=True))
    assert outcome.run_dir is not None, outcome.message
    sheet = openpyxl.load_workbook(outcome.run_dir / "认定名单.xlsx")["变更情况"]
    rows = [[c for c in r if c is not None] for r in sheet.iter_rows(values_only=True)]
    changed = [r for r in rows if text("ledger.change.score") in r]
    assert [r for r in changed if "成长园区" in r] and not [r for r in changed if "示范园区" in r]
    assert (outcome.run_dir / "mail" / "济南市.eml").exists()
