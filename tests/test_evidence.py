"""Evidence lists (issue 17): enterprise lists recompute what the summary declares (据实填报).

Real files through the real batch: the same lists written in three layouts (one workbook per
application, one sheet per application, one list naming each firm's cluster) and several
formats, with planted differences — an inflated revenue, a leader firm below 10亿, a firm in two
cities' clusters, a bad credit code — asserting the findings, their cells and the statuses; the
佐证核对 sheet re-opened from the written review; the department's sheet of firms counted twice;
the [evidence] table of the rules file strictly validated.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from stdnum.cn import uscc

from sdbatch.batch import RunOptions, evaluate, run_batch
from sdbatch.model import RunResult
from tests.builders import Sheet, make_uscc, summary_sheet, valid_row, write
from tests.contract import check_contract

NOW = "2024-06-27T10:00:00+08:00"


# ----------------------------------------------------------------------------- firms and lists
@dataclass
class Firm:
    name: str
    code: str
    revenue: float  # 万元
    above_scale: str = "是"
    main: str = "是"
    ip: int = 50
    rd_share: float = 0.05  # R&D ÷ sales


def code(n: int, division: str = "370100") -> str:
    return make_uscc(f"91{division}MA{n:07d}")


def firms_of(prefix: str, revenues: list[float], start: int, division: str = "370100", ip: int = 50,
             rd_share: float = 0.05) -> list[Firm]:
    return [Firm(f"{prefix}{i + 1}号科技有限公司", code(start + i, division), r, ip=ip, rd_share=rd_share)
            for i, r in enumerate(revenues)]


HEADER = ["序号", "企业名称", "统一社会信用代码", "是否规上企业", "是否属于主导产业", "上年度营业收入（万元）",
          "研发投入（万元）", "销售收入（万元）", "近三年知识产权数（项）"]


def firm_row(n: int, f: Firm) -> list[Any]:
    return [n, f.name, f.code, f.above_scale, f.main, f.revenue, round(f.revenue * f.rd_share, 4), f.revenue, f.ip]


def declared(firms: list[Firm]) -> dict[str, Any]:
    """The summary figures that agree with ``firms`` (amounts in 亿元)."""
    big = [f for f in firms if f.above_scale == "是"]
    return dict(revenue_total=round(sum(f.revenue for f in big) / 10_000, 4),
                leading_firms=sum(1 for f in big if f.main == "是"),
                leader_firms=sum(1 for f in big if f.revenue >= 100_000),
                backbone_firms=sum(1 for f in big if 10_000 <= f.revenue < 100_000),  # two tiers
                ip_total=sum(f.ip for f in big),
                rd_expense=round(sum(f.revenue * f.rd_share for f in big) / 10_000, 4),
                sales_revenue=round(sum(f.revenue for f in big) / 10_000, 4),
                rd_ratio=round(100 * sum(f.revenue * f.rd_share for f in big) / sum(f.revenue for f in big), 4))


# A: 集成电路 — its biggest firm has 9.5亿元, but the summary declares one 10亿元 leader.
# B: 先进计算 — its firms add up to 61.2亿元; the summary declares 80 (inflated).  One of its firms
#    is also in C's list (another city).  A's list has a firm with a bad credit code.
# C: 青岛 虚拟现实 — consistent, but shares B's firm.
# D: 人工智能 — no list.
A_FIRMS = firms_of("芯晟", [95_000, 90_000, 90_000, 90_000, 80_000, 75_000], 100)
A_FIRMS += firms_of("芯原", [3_000] * 16, 200)
A_FIRMS[3] = Firm(A_FIRMS[3].name, A_FIRMS[3].code[:-1] + ("0" if A_FIRMS[3].code[-1] != "0" else "1"),
                  A_FIRMS[3].revenue)
B_FIRMS = firms_of("算力", [300_000, 150_000, 20_000, 20_000, 20_000], 300, rd_share=0.04)
B_FIRMS += firms_of("算云", [6_000] * 17, 400, rd_share=0.04)
SHARED = B_FIRMS[2]
C_FIRMS = firms_of("青虚", [400_000, 200_000, 50_000, 40_000, 30_000], 500, division="370200")
C_FIRMS += firms_of("青境", [5_000] * 16, 600, division="370200")
C_FIRMS[5] = Firm("青岛同名科技有限公司", SHARED.code, C_FIRMS[5].revenue)

A_NAME, B_NAME, C_NAME, D_NAME = ("济南市集成电路产业集群", "济南市先进计算产业集群", "青岛市虚拟现实产业集群",
                                  "济南市人工智能产业集群")


def summary_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    a = valid_row(1, name=A_NAME, industry="集成电路", **dict(declared(A_FIRMS), leader_firms=1))
    b = valid_row(2, name=B_NAME, industry="先进计算", **dict(declared(B_FIRMS), revenue_total=80))
    d = valid_row(3, name=D_NAME, industry="人工智能")
    c = valid_row(1, name=C_NAME, city="青岛市", industry="虚拟现实", applicant_uscc=code(9, "370200"),
                  **declared(C_FIRMS))
    return [a, b, d], [c]


def list_grid(title: str | None, firms: list[Firm], cluster_column: list[str] | None = None) -> list[list[Any]]:
    grid: list[list[Any]] = [[title]] if title else []
    header = list(HEADER)
    if cluster_column is not None:
        header.insert(1, "所属集群")
    grid.append(header)
    for n, f in enumerate(firms, 1):
        row = firm_row(n, f)
        if cluster_column is not None:
            row.insert(1, cluster_column[n - 1])
        grid.append(row)
    grid.append(["合计", None, None, None, None, sum(f.revenue for f in firms)])
    return grid


def write_lists(inbox: Path, layout: str, suffix: str) -> None:
    """Jinan's lists (A and B) in ``layout``; Qingdao's (C) always one workbook."""
    if layout == "per_workbook":
        write(inbox / f"{A_NAME}规上企业名单{suffix}", Sheet("Sheet1", list_grid(f"{A_NAME}规上企业名单", A_FIRMS)))
        write(inbox / f"济南市集群名单2{suffix}", Sheet("名单", list_grid(f"{B_NAME}规上企业名单", B_FIRMS)))
    elif layout == "per_sheet":
        write(inbox / f"济南市集群规上企业名单{suffix}", [
            Sheet("集成电路产业集群", list_grid("规上企业名单", A_FIRMS)),
            Sheet("先进计算产业集群", list_grid("规上企业名单", B_FIRMS)),
        ])
    else:  # one list naming each firm's cluster
        names = [A_NAME] * len(A_FIRMS) + ["先进计算产业集群"] * len(B_FIRMS)
        write(inbox / f"济南市集群规上企业名单{suffix}",
              Sheet("企业名单", list_grid("济南市数字产业集群规上企业名单", A_FIRMS + B_FIRMS, names)))
    write(inbox / "青岛市虚拟现实产业集群企业名单.xlsx", Sheet("Sheet1", list_grid(None, C_FIRMS)))


def make_inbox(root: Path, layout: str, suffix: str) -> tuple[Path, Any, Any]:
    inbox = root / "inbox"
    inbox.mkdir(parents=True)
    jinan, qingdao = summary_rows()
    jinan_layout = summary_sheet(jinan)
    qingdao_layout = summary_sheet(qingdao, title="青岛市数字产业集群申报信息汇总表")
    write(inbox / "济南市数字产业集群申报信息汇总表.xlsx", jinan_layout.sheet)
    write(inbox / "青岛市数字产业集群申报信息汇总表.xlsx", qingdao_layout.sheet)
    write_lists(inbox, layout, suffix)
    return inbox, jinan_layout, qingdao_layout


def by_name(result: RunResult) -> dict[str, Any]:
    return {a.name: a for a in result.applications}


def codes(app: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for f in app.findings:
        if f.code.startswith("evidence-"):
            out.setdefault(f.code, []).append(f)
    return out


LAYOUTS = [("per_workbook", ".xlsx"), ("per_workbook", ".xls"), ("per_workbook", ".ods"), ("per_sheet", ".xlsx"),
           ("per_sheet", ".xls"), ("name_column", ".csv"), ("name_column", ".xlsx")]


@pytest.fixture(scope="module", params=LAYOUTS, ids=[f"{a}{b}" for a, b in LAYOUTS])
def evaluated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Any, Any]:
    layout, suffix = request.param
    inbox, jinan, qingdao = make_inbox(tmp_path_factory.mktemp(f"{layout}{suffix}"), layout, suffix)
    return evaluate(inbox, RunOptions(now=NOW)), jinan, qingdao


def test_list_files_are_lists_not_summaries(evaluated: tuple[RunResult, Any, Any]) -> None:
    result, _, _ = evaluated
    for record in result.files:
        assert record.status == "processed", (record.file, record.error)
        assert record.program == "cluster_2024"
    lists = [r for r in result.files if r.evidence is not None]
    assert lists and all(not r.applications for r in lists)
    assert {a.name for a in result.applications} == {A_NAME, B_NAME, C_NAME, D_NAME}


def test_inflated_revenue_is_a_finding_on_its_cell(evaluated: tuple[RunResult, Any, Any]) -> None:
    result, jinan, _ = evaluated
    b = by_name(result)[B_NAME]
    found = codes(b)["evidence-mismatch"]
    assert [f.field for f in found] == ["revenue_total"]
    f = found[0]
    assert f.source.cell == jinan.cell("revenue_total", 1)
    assert f.params["declared"] == 80 and f.params["recomputed"] == pytest.approx(61.2)
    assert f.clause == "五(三)" and f.effect == "needs_review"
    # the message names the firms listed and, when the rules count only some of them, how many counted
    firms, counted = f.params["firms"], f.params["counted"]
    from sdbatch.catalogue import render

    shown = render(f).message
    assert f"{firms}家企业" in shown and (counted in (None, firms) or f"其中{counted}家" in shown)
    assert "evidence-fails-threshold" not in codes(b)  # 61.2 亿元 still passes 三(二) 50 亿元
    assert b.status == "needs_review"


def test_leader_below_ten_billion_fails_the_threshold(evaluated: tuple[RunResult, Any, Any]) -> None:
    result, jinan, _ = evaluated
    a = by_name(result)[A_NAME]
    found = codes(a)
    assert [f.field for f in found["evidence-mismatch"]] == ["leader_firms"]
    assert found["evidence-mismatch"][0].params["recomputed"] == 0
    assert found["evidence-mismatch"][0].source.cell == jinan.cell("leader_firms", 0)
    failed = found["evidence-fails-threshold"]
    assert len(failed) == 1 and failed[0].params["rule"] == "leader-firms" and failed[0].clause == "三(三)"
    assert failed[0].effect == "needs_review"
    assert a.status == "needs_review"


def test_bad_credit_code_in_a_list(evaluated: tuple[RunResult, Any, Any]) -> None:
    result, _, _ = evaluated
    a = by_name(result)[A_NAME]
    bad = codes(a)["evidence-invalid-credit-code"]
    assert len(bad) == 1 and bad[0].params["count"] == 1
    assert bad[0].source.file != a.source.file  # the list's own file and row
    assert a.evidence.to_dict()["invalid_credit_codes"] == 1


def test_firm_in_two_cities_clusters_is_a_finding_on_both(evaluated: tuple[RunResult, Any, Any]) -> None:
    result, _, _ = evaluated
    apps = by_name(result)
    b_shared = codes(apps[B_NAME])["evidence-shared-firm"]
    c_shared = codes(apps[C_NAME])["evidence-shared-firm"]
    assert len(b_shared) == 1 and len(c_shared) == 1
    assert (b_shared[0].params["other_city"], b_shared[0].params["other_name"]) == ("青岛市", C_NAME)
    assert (c_shared[0].params["other_city"], c_shared[0].params["other_name"]) == ("济南市", B_NAME)
    assert b_shared[0].params["count"] == 1 and c_shared[0].effect == "needs_review"
    assert apps[C_NAME].status == "needs_review"
    assert not codes(apps[C_NAME]).get("evidence-mismatch")
    sheets = result.list_sheets["cluster_2024"]
    shared_rows = [row for s in sheets for row in s.rows]
    assert {row[0] for row in shared_rows} == {SHARED.code}
    assert {row[3] for row in shared_rows} == {B_NAME, C_NAME}
    assert all(s.audience == "department" for s in sheets)


def test_application_without_list_is_left_alone(evaluated: tuple[RunResult, Any, Any]) -> None:
    result, _, _ = evaluated
    d = by_name(result)[D_NAME]
    assert d.evidence is None and not codes(d) and d.status == "eligible"
    assert d.to_dict()["evidence"] is None


def test_evidence_block_and_recomputed_figures(evaluated: tuple[RunResult, Any, Any]) -> None:
    result, _, _ = evaluated
    block = by_name(result)[C_NAME].to_dict()["evidence"]
    assert block["firms"] == len(C_FIRMS)
    figures = {f["field"]: f for f in block["figures"]}
    assert set(figures) == {"revenue_total", "leading_firms", "leader_firms", "backbone_firms", "ip_total",
                            "rd_expense", "sales_revenue", "rd_ratio"}
    assert all(f["result"] == "match" for f in figures.values())
    assert figures["leader_firms"]["recomputed"] == 2 and figures["backbone_firms"]["recomputed"] == 3
    assert figures["revenue_total"]["recomputed"] == pytest.approx(declared(C_FIRMS)["revenue_total"])
    a_lists = by_name(result)[A_NAME].to_dict()["evidence"]["lists"]
    assert sum(part["firms"] for part in a_lists) == len(A_FIRMS)  # the 合计 row is not a firm


def test_review_sheet_after_a_real_run(tmp_path: Path) -> None:
    inbox, _, _ = make_inbox(tmp_path, "per_sheet", ".xlsx")
    out = tmp_path / "out"
    outcome = run_batch(inbox, RunOptions(out_dir=out, now=NOW, run_id="r1", mail_mode="none"))
    assert outcome.exit_code == 0
    doc = check_contract(outcome.run_dir / "results.json")
    apps = {a["name"]: a for a in doc["applications"]}
    assert apps[B_NAME]["evidence"]["figures"][0]["result"] == "mismatch"
    assert apps[D_NAME]["evidence"] is None
    wb = load_workbook(outcome.run_dir / "济南市_审核意见.xlsx")
    assert "佐证核对" in wb.sheetnames
    ws = wb["佐证核对"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    header_at = next(i for i, r in enumerate(rows) if r[0] == "申报项目")
    table = [r for r in rows[header_at + 1:] if r[0]]
    revenue = next(r for r in table if r[0] == B_NAME and r[1] == "集群数字产业相关规上企业年营业收入总额")
    assert revenue[2] == 80 and revenue[3] == pytest.approx(61.2) and revenue[7] == "不一致"
    assert revenue[8] == "济南市集群规上企业名单.xlsx" and revenue[9] == "先进计算产业集群"
    leader = next(r for r in table if r[0] == A_NAME and r[1] == "年营业收入10亿元以上领军企业数量")
    assert leader[3] == 0 and "未达条件" in leader[7]
    assert any(r[0] == D_NAME and "未报送" in str(r[7]) for r in table)
    assert not any(C_NAME == r[0] for r in table)  # Qingdao's cluster is not in Jinan's review
    qingdao = load_workbook(outcome.run_dir / "青岛市_审核意见.xlsx")
    assert "佐证核对" in qingdao.sheetnames
    problems = [[c.value for c in row] for row in qingdao["问题清单"].iter_rows()]
    assert any(B_NAME in str(cell) for row in problems for cell in row)  # named, without its figures
    assert not any("61.2" in str(cell) for row in problems for cell in row)
    listing = load_workbook(outcome.run_dir / "推荐名单.xlsx")
    assert "重复计入企业" in listing.sheetnames


def test_unmatched_list_is_a_finding_for_the_city(tmp_path: Path) -> None:
    inbox, _, _ = make_inbox(tmp_path, "per_workbook", ".xlsx")
    write(inbox / "济南市某某名单.xlsx", Sheet("Sheet1", list_grid("济南市另一集群企业名单", C_FIRMS[:3])))
    result = evaluate(inbox, RunOptions(now=NOW))
    record = next(r for r in result.files if r.file == "济南市某某名单.xlsx")
    assert record.status == "processed"
    assert [f.code for f in record.findings if f.code.startswith("evidence")] == ["evidence-list-unmatched"]
    rows = [row for s in result.review_sheets["济南市"] for row in s.rows]
    assert any(row[8] == "济南市某某名单.xlsx" and "未能对应" in row[7] for row in rows)


def test_layouts_of_the_header(tmp_path: Path) -> None:
    """Title rows, a two-row merged header, units in a row of their own (亿元), wording variants."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    jinan, _ = summary_rows()
    write(inbox / "济南.xlsx", summary_sheet(jinan[:1]).sheet)
    grid: list[list[Any]] = [["济南市集成电路产业集群"], ["规上企业名单（佐证材料）"], [],
                             ["序号", "企业基本信息", None, "经营情况", None, None, "是否规模以上企业", "主导产业企业",
                              "知识产权"],
                             [None, "企业全称", "社会信用代码", "营业收入", "研发经费", "销售额", None, None, None],
                             [None, None, None, "亿元", "亿元", "亿元", "是/否", "是/否", "项"]]
    for n, f in enumerate(A_FIRMS, 1):
        grid.append([n, f.name, f.code, f.revenue / 10_000, f.revenue * f.rd_share / 10_000, f.revenue / 10_000,
                     "√" if f.above_scale == "是" else "×", f.main, f.ip])
    merges = [(3, 1, 3, 2), (3, 3, 3, 5), (3, 0, 5, 0), (3, 6, 5, 6), (3, 7, 5, 7), (3, 8, 4, 8)]
    write(inbox / "名单.xlsx", Sheet("集成电路", grid, merges=merges))
    result = evaluate(inbox, RunOptions(now=NOW))
    a = by_name(result)[A_NAME]
    assert a.evidence is not None and a.evidence.firms == len(A_FIRMS)
    figures = {f.field: f for f in a.evidence.figures}
    assert figures["revenue_total"].result == "match"
    assert figures["leader_firms"].recomputed == 0 and figures["backbone_firms"].result == "match"
    assert figures["rd_ratio"].result == "match" and figures["ip_total"].result == "match"


def test_unit_line_above_the_header(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    jinan, _ = summary_rows()
    write(inbox / "济南.xlsx", summary_sheet(jinan[1:2]).sheet)
    grid: list[list[Any]] = [[f"{B_NAME}规上企业名单"], ["填报单位：济南市工业和信息化局", None, None, "单位：亿元"],
                             ["企业名称", "统一社会信用代码", "营业收入"]]
    grid += [[f.name, f.code, f.revenue / 10_000] for f in B_FIRMS]
    write(inbox / "名单.xlsx", Sheet("Sheet1", grid))
    b = by_name(evaluate(inbox, RunOptions(now=NOW)))[B_NAME]
    revenue = next(f for f in b.evidence.figures if f.field == "revenue_total")
    assert revenue.recomputed == pytest.approx(61.2)


def test_a_summary_is_never_taken_for_a_list(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    jinan, _ = summary_rows()
    write(inbox / "济南市集群企业名单汇总表.xlsx", summary_sheet(jinan).sheet)
    result = evaluate(inbox, RunOptions(now=NOW))
    assert [r.evidence for r in result.files] == [None]
    assert len(result.applications) == 3


def test_missing_column_is_said_not_guessed(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    jinan, _ = summary_rows()
    write(inbox / "济南.xlsx", summary_sheet(jinan[1:2]).sheet)
    grid = [["企业名称", "统一社会信用代码", "营业收入（万元）"]] + [[f.name, f.code, f.revenue] for f in B_FIRMS]
    write(inbox / f"{B_NAME}.csv", Sheet("x", grid))
    b = by_name(evaluate(inbox, RunOptions(now=NOW)))[B_NAME]
    figures = {f.field: f for f in b.evidence.figures}
    assert figures["revenue_total"].result == "mismatch"  # no 规上 column: every firm is a 规上 firm
    assert figures["ip_total"].result == "not_recomputed" and figures["ip_total"].missing == ["ip_total"]
    assert figures["rd_ratio"].result == "not_recomputed"
    assert figures["leading_firms"].missing == ["main_industry", "industry"]  # either column would do
    assert {f.field for f in codes(b)["evidence-not-recomputed"]} == {"ip_total", "rd_ratio", "leading_firms",
                                                                      "rd_expense", "sales_revenue"}


@pytest.mark.parametrize("counted_twice", [False, True])
def test_duplicate_firm_in_one_list(tmp_path: Path, counted_twice: bool) -> None:
    """A firm listed twice is one firm: reported, counted once; a summary that counted it twice differs.
    (firms[1] is a leader: counted twice it also makes two leaders.)"""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    firms = firms_of("重复", [300_000, 150_000, 40_000, 30_000, 20_000] + [5_000] * 16, 700)
    twice = firms + [firms[1]]
    figures = declared(twice if counted_twice else firms)
    write(inbox / "济南.xlsx", summary_sheet([valid_row(1, name=A_NAME, industry="集成电路", **figures)]).sheet)
    write(inbox / f"{A_NAME}名单.xlsx", Sheet("Sheet1", list_grid(None, twice)))
    a = by_name(evaluate(inbox, RunOptions(now=NOW)))[A_NAME]
    dup = codes(a)["evidence-duplicate-firm"]
    assert len(dup) == 1 and dup[0].params["count"] == 1 and dup[0].source.row == len(twice) + 1
    assert dup[0].effect is None
    mismatch = {f.field for f in codes(a).get("evidence-mismatch", [])}
    if counted_twice:
        assert mismatch == {"revenue_total", "leader_firms", "ip_total", "leading_firms", "sales_revenue",
                            "rd_expense"}
        assert a.status == "needs_review"
    else:
        assert not mismatch and a.status == "eligible"


# ----------------------------------------------------------------------------- parks: shares and ratios
def test_park_list_shares_and_ratios(tmp_path: Path) -> None:
    from tests.test_parks_pipeline import AT_DIGITAL, write_summary

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_summary(inbox / "济南市园区汇总表.xlsx", [dict(AT_DIGITAL, name="济南齐鲁软件园数字经济园区")])
    header = ["企业名称", "统一社会信用代码", "是否上云", "是否使用省内云资源", "是否数字产业相关企业",
              "是否纳入统计范围", "是否高新技术企业", "是否属于主导产业", "主营业务收入（万元）", "研发投入（万元）",
              "销售收入（万元）"]
    rows = []
    for i in range(50):  # declared: 50 firms, 30 上云 (18 省内云), 25 digital, 10 统计
        cloud = i < 27  # the list shows 27 上云 firms: 54% < 60%
        rows.append([f"园区企业{i}", code(800 + i), "是" if cloud else "否", "是" if i < 18 else "否",
                     "是" if i < 25 else "否", "是" if i < 10 else "否", "是" if i < 5 else "否", "是",
                     20_000, 1_000, 20_000])
    write(inbox / "济南齐鲁软件园数字经济园区企业名单.xlsx", Sheet("Sheet1", [["园区企业名单"], header, *rows]))
    result = evaluate(inbox, RunOptions(now=NOW))
    park = result.applications[0]
    figures = {f.field: f for f in park.evidence.figures}
    assert figures["firms_total"].result == "match"
    assert figures["cloud_firms"].recomputed == 27 and figures["cloud_firms"].result == "mismatch"
    assert figures["cloud_ratio"].recomputed == pytest.approx(54.0)
    assert figures["local_cloud_ratio"].recomputed == pytest.approx(100 * 18 / 27, abs=1e-4)
    assert figures["digital_ratio"].result == "match" and figures["stat_firms"].result == "match"
    assert figures["hitech_ratio"].recomputed == pytest.approx(10.0)
    assert figures["rd_ratio"].recomputed == pytest.approx(5.0)
    assert "leader_firms" not in figures  # 产业数字化园区 only
    failed = {f.params["rule"] for f in codes(park)["evidence-fails-threshold"]}
    assert failed == {"cloud-ratio"}
    mismatch = {f.field: f for f in codes(park)["evidence-mismatch"]}
    assert mismatch["cloud_ratio"].source.cell is None and mismatch["cloud_ratio"].source.row == 3
    assert park.status == "needs_review"


# ----------------------------------------------------------------------------- vectorised credit codes
def test_vectorised_credit_code_check_agrees_with_stdnum() -> None:
    from sdbatch.evidence.parse import valid_uscc

    rng = random.Random(17)
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    samples = []
    for _ in range(3000):
        body = "".join(rng.choice("0123456789") for _ in range(8)) + "".join(rng.choice(alphabet) for _ in range(9))
        good = body + uscc.calc_check_digit(body)
        samples += [good, body + rng.choice(alphabet), good[:-2], good.lower(), good.replace("0", "O"), good + "1"]
    ours = valid_uscc(np.array(samples, dtype=object))
    assert ours.tolist() == [uscc.is_valid(s) and s == s.upper() for s in samples]
    assert ours.sum() > 2500


def test_numbers_units_and_yes_no_vectorised() -> None:
    from sdbatch.evidence import parse

    values = pd.Series([1.5, "2,000", "3亿元", "", None, "/", "abc", "约30", "１２３", "1.2万元"], dtype=object)
    out, bad = parse.numbers(values, column_unit="亿元", unit="万元", count=False)
    assert out.tolist()[:4] == [15_000, 20_000_000, 30_000, pytest.approx(np.nan, nan_ok=True)]
    assert out[7] == 300_000 and out[8] == 1_230_000 and out[9] == pytest.approx(1.2)
    assert bad.tolist() == [False, False, False, False, False, False, True, False, False, False]
    yes, no, unreadable = parse.bools(pd.Series(["是", "否", "√", None, "maybe", 1.0, "无"], dtype=object))
    assert yes.tolist() == [True, False, True, False, False, True, False]
    assert no.tolist() == [False, True, False, False, False, False, True]
    assert unreadable.tolist() == [False, False, False, False, True, False, False]


# ----------------------------------------------------------------------------- the rules file
def _broken(change: Any) -> list[str]:
    import tomllib

    from sdbatch import rules
    from sdbatch.model import RulesInvalid

    raw = tomllib.loads((Path(rules.bundled()["cluster_2024"])).read_text(encoding="utf-8"))
    change(raw["evidence"])
    with pytest.raises(RulesInvalid) as caught:
        rules.from_dict(raw, "x.toml")
    return caught.value.problems


@pytest.mark.parametrize("change, place, words", [
    (lambda e: e["fields"]["firm"].update(typo=1), "[evidence.fields.firm]", "typo"),
    (lambda e: e.update(exclusive="never"), "[evidence].exclusive", "applications"),
    (lambda e: e["figures"][0].update(of="revnue"), "[evidence].figures 第1项.of", "revnue"),
    (lambda e: e["figures"][2].update(aggregate="share"), "[evidence].figures 第3项.field", "leader_firms"),
    (lambda e: e["figures"][4].update(field="industry"), "[evidence].figures 第5项.field", "industry"),
    (lambda e: e["figures"][1]["where"][0].update(op="=>"), "where 第1项.op", "=>"),
    (lambda e: e["figures"][2]["where"][0].update(threshold="10亿"), "where 第1项.threshold", "10亿"),
    (lambda e: e["figures"][7].pop("per"), "[evidence].figures 第8项", "per"),
    (lambda e: e["roles"].update(uscc="firm"), "[evidence.roles].uscc", "uscc"),
    (lambda e: e["figures"][1]["where"][1]["any_of"][1].update(value="city"), "any_of 第2项", "same_as"),
    (lambda e: e.update(relative=2), "[evidence].relative", "1"),
])
def test_evidence_table_is_strictly_validated(change: Any, place: str, words: str) -> None:
    problems = _broken(change)
    assert any(place in p and words in p for p in problems), problems


def test_blank_list_template(tmp_path: Path) -> None:
    from sdbatch.evidence import write_templates

    written = write_templates("cluster_2024", tmp_path)
    lists = [p for p in written if "名单" in p.name]
    assert write_templates("cluster_2024", tmp_path / "one.xlsx") == []  # one file: the summary's template
    assert len(lists) == 1
    wb = load_workbook(lists[0])
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[3] if c.value]
    assert "企业名称" in headers and "统一社会信用代码" in headers and "上年度营业收入（万元）" in headers
    # a filled template is read back as the list of its cluster
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    jinan, _ = summary_rows()
    write(inbox / "济南.xlsx", summary_sheet(jinan[2:3]).sheet)
    for n, f in enumerate(C_FIRMS, 4):
        values = {"企业名称": f.name, "统一社会信用代码": f.code, "是否规上企业": "是", "所属集群": D_NAME,
                  "上年度营业收入（万元）": f.revenue}
        for col, h in enumerate(headers, 1):
            if h in values:
                ws.cell(row=n, column=col, value=values[h])
    ws.cell(row=1, column=1, value=None)
    wb.save(inbox / "名单.xlsx")
    d = by_name(evaluate(inbox, RunOptions(now=NOW)))[D_NAME]
    assert d.evidence is not None and d.evidence.firms == len(C_FIRMS)


def test_results_json_evidence_is_valid(tmp_path: Path) -> None:
    inbox, _, _ = make_inbox(tmp_path, "name_column", ".csv")
    outcome = run_batch(inbox, RunOptions(out_dir=tmp_path / "out", now=NOW, run_id="r", mail_mode="none"))
    doc = check_contract(outcome.run_dir / "results.json")
    assert json.dumps(doc, ensure_ascii=False).count('"evidence": {') == 3


# ----------------------------------------------------------------------------- hostile lists
def test_greater_than_pattern_is_exact() -> None:
    import re

    from sdbatch.evidence.sheets import _greater_than

    rng = random.Random(3)
    for n in [0, 1, 9, 10, 99, 100, 62502, 99999, 1_048_576, *[rng.randint(1, 10**7) for _ in range(100)]]:
        pattern = re.compile(f"^(?:{_greater_than(n)})$")
        for m in [*range(max(0, n - 30), n + 30), n * 10, 10 ** len(str(n))]:
            assert bool(pattern.match(str(m))) == (m > n), (n, m)


def test_far_cell_in_a_small_list_is_refused_before_it_is_laid_out(tmp_path: Path) -> None:
    """A 3 KB list whose one cell claims row 5,000,000: refused with the reading stage's reason."""
    import shutil
    import zipfile

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    plain = tmp_path / "plain.xlsx"
    write(plain, Sheet("Sheet1", list_grid(None, C_FIRMS[:3])))
    hostile = inbox / "名单.xlsx"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(hostile, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("xl/worksheets/"):
                data = data.replace(b'<c r="B3"', b'<c r="B5000000"', 1)
                assert b"B5000000" in data
            out.writestr(info, data)
    from sdbatch.evidence.sheets import extents

    assert max(rows for rows, _ in extents(hostile)) == 5_000_000
    assert extents(plain) == [(len(C_FIRMS[:3]) + 2, 26)]
    result = evaluate(inbox, RunOptions(now=NOW))
    (record,) = result.files
    assert record.status == "rejected" and record.error_code == "file-too-large"
    shutil.rmtree(inbox)


@pytest.mark.parametrize("exclusive", ["applications", "cities"])
def test_a_firm_in_two_clusters_of_one_city_follows_the_round(tmp_path: Path, exclusive: str) -> None:
    """exclusive = "applications" (the bundled round): A and B of 济南 sharing a firm is a finding on
    both; "cities": two clusters of one city may share it, while B and C (two cities) still may not."""
    from sdbatch.rules import bundled

    text = bundled()["cluster_2024"].read_text(encoding="utf-8")
    rules_file = tmp_path / "round.toml"
    rules_file.write_text(text.replace('exclusive = "applications"', f'exclusive = "{exclusive}"'), encoding="utf-8")
    inbox, _, _ = make_inbox(tmp_path, "per_workbook", ".xlsx")
    a_firms = list(A_FIRMS)
    a_firms[-1] = Firm("济南同名科技有限公司", B_FIRMS[-1].code, a_firms[-1].revenue)  # B's firm in A's list too
    write(inbox / f"{A_NAME}规上企业名单.xlsx", Sheet("Sheet1", list_grid(f"{A_NAME}规上企业名单", a_firms)))
    apps = by_name(evaluate(inbox, RunOptions(now=NOW, rules_files=(rules_file,))))
    a_shared = [f.params["other_name"] for f in codes(apps[A_NAME]).get("evidence-shared-firm", [])]
    b_shared = sorted(f.params["other_name"] for f in codes(apps[B_NAME]).get("evidence-shared-firm", []))
    if exclusive == "applications":
        assert a_shared == [B_NAME] and b_shared == sorted([A_NAME, C_NAME])
    else:
        assert a_shared == [] and b_shared == [C_NAME]


def test_a_run_without_lists_never_loads_the_list_reader(tmp_path: Path) -> None:
    """Every spreadsheet is asked whether it is a list (issue 17) by its first rows alone: a run of
    summaries loads neither the column reader nor pandas (issue 16: a quarter of a small run's
    time), and a run with a list does."""
    import subprocess
    import sys

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write(inbox / "济南市汇总表.xlsx", summary_sheet([valid_row()]).sheet)
    probe = ("import sys; from sdbatch.cli import main\n"
             "try:\n    main(['run', sys.argv[1], '--out', sys.argv[2], '-q'])\n"
             "except SystemExit:\n    pass\n"
             "print(sorted(m for m in ('pandas', 'sdbatch.evidence.read', 'sdbatch.evidence.stage') if m in sys.modules))")

    def loaded(folder: Path) -> str:
        proc = subprocess.run([sys.executable, "-c", probe, str(folder), str(tmp_path / f"out-{folder.name}")],
                              capture_output=True, text=True, timeout=300, check=True)
        return proc.stdout.strip().splitlines()[-1]

    assert loaded(inbox) == "[]"
    with_list, _, _ = make_inbox(tmp_path / "with-list", "per_sheet", ".xlsx")
    assert loaded(with_list) == "['pandas', 'sdbatch.evidence.read', 'sdbatch.evidence.stage']"
