"""More of what clerks write (issue 12), found on a second corpus written by another hand: a total
and its parts as sub-columns of one group title, headers with an English gloss on a second line,
an answer after words of context (近三年未发生), a placeholder where a credit code should be, a
column whose header only says 信用状况.  Each family in several formats and wordings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sdbatch.normalise import parse_bool, parse_uscc
from tests.builders import Sheet
from tests.test_recognition_families import BASE, app_named, assert_values, cluster, read

KEYS = ["seq", "name", "applicant", "applicant_uscc", "industry", "revenue_total", "leading_firms", "leader_firms",
        "backbone_firms", "national_platforms", "provincial_platforms"]


def _ip_group_rows(group: str, parts: list[tuple[str, int]], total_label: str | None) -> tuple[list[list[Any]],
                                                                                            list[tuple[int, ...]]]:
    """A three-row header: 创新能力 over a group title over its parts (and a 合计)."""
    n = len(KEYS)
    sub = [label for label, _ in parts] + ([total_label] if total_label else [])
    top = ["序号", "集群名称", "申报主体", "统一社会信用代码", "主导产业", "营业收入总额（亿元）", "主导产业规上企业数（家）",
           "领军企业（家）", "骨干企业（家）", "国家级创新平台（个）", "省级创新平台（个）", "创新能力"] + [None] * (len(sub) - 1) \
        + ["研发投入占比（%）", "独立法人", "不良信用记录", "重大事故", "所在市"]
    mid = [None] * n + [group] + [None] * (len(sub) - 1) + [None] * 5
    low = [None] * n + sub + [None] * 5
    values = [BASE[k] if k != "seq" else 1 for k in KEYS] + [v for _, v in parts] \
        + ([sum(v for _, v in parts)] if total_label else []) + [4, "是", "无", "否", "济南市"]
    values[1] = "受测第1号数字产业集群"
    width = len(top)
    g0, g1 = n, n + len(sub) - 1
    merges = [(1, g0, 1, g1), (2, g0, 2, g1)] + [(1, c, 3, c) for c in range(width) if c < g0 or c > g1]
    return [["济南市数字产业集群申报信息汇总表"], top, mid, low, values], merges


@pytest.mark.parametrize("name, group, parts, total", [
    ("聊城.xlsx", "近三年科技奖励及知识产权（项）", [("科技奖励", 12), ("专利", 980), ("软件著作权", 420)], "合计"),
    ("德州.xls", "知识产权及科技奖励（近三年，项）", [("专利授权", 700), ("软著登记", 310), ("获奖", 20)], "小计"),
    ("滨州.xls", "近三年专利、软件著作权及科技奖励", [("发明专利", 640), ("软件著作权", 500)], "总数"),
    ("潍坊.xlsx", "近三年科技奖励及知识产权（项）", [("专利", 800), ("软件著作权", 260), ("科技奖励", 9)], None),
])
def test_a_total_and_its_parts_under_one_group_title(tmp_path: Path, name: str, group: str,
                                                    parts: list[tuple[str, int]], total: str | None) -> None:
    rows, merges = _ip_group_rows(group, parts, total)
    record = read(tmp_path, name, Sheet("汇总表", rows, merges=merges))
    app = app_named(record, "受测第1号数字产业集群")
    assert app.values["ip_total"] == sum(v for _, v in parts)
    assert "ip_total" in app.cells or total is None
    assert app.status == "eligible", [(f.code, f.field, f.source and f.source.cell) for f in app.findings]


@pytest.mark.parametrize("name, gloss", [
    ("东营.xlsx", {"industry": "主导产业\nLeading industry", "leader_firms": "领军企业数\nLeader firms",
                   "name": "集群名称\nCluster name"}),
    ("日照.csv", {"industry": "主导产业\nMain Industry", "revenue_total": "规上企业营业收入总额（亿元）\nRevenue"}),
    ("临沂.xls", {"industry": "主导产业（领域）\nLeading sector", "backbone_firms": "骨干企业数\nBackbone firms"}),
])
def test_an_english_gloss_on_a_second_line_names_nothing(tmp_path: Path, name: str, gloss: dict[str, str]) -> None:
    labels = {"city_order": "推荐排序", "city": "所在市", "name": "集群名称", "applicant": "申报主体",
              "applicant_uscc": "统一社会信用代码", "industry": "主导产业", "revenue_total": "营业收入总额（亿元）",
              "leading_firms": "主导产业规上企业数（家）", "leader_firms": "领军企业数（家）", "backbone_firms": "骨干企业数（家）",
              "national_platforms": "国家级创新平台（个）", "provincial_platforms": "省级创新平台（个）",
              "ip_total": "知识产权总数（项）", "rd_ratio": "研发投入占比（%）", "legal_person": "独立法人",
              "bad_credit": "不良信用记录", "major_incident": "重大事故"}
    labels.update(gloss)
    keys = list(labels)
    row = cluster(1)
    record = read(tmp_path, name, Sheet("Sheet1", [["数字产业集群情况统计表"], [labels[k] for k in keys],
                                                  [row[k] for k in keys]]))
    app = app_named(record, "受测第1号数字产业集群")
    assert app.industry == "高端软件"
    assert_values(app, {"revenue_total": 120.5, "leader_firms": 2, "backbone_firms": 8})
    assert app.status == "eligible", [(f.code, f.field) for f in app.findings]


@pytest.mark.parametrize("written, answer", [
    ("近三年未发生", False), ("近三年没发生", False), ("本集群无", False), ("经核实不存在", False),
    ("安全事故未发生", False), ("近三年发生过一起", True), ("具有独立法人资格", True),
])
def test_an_answer_after_words_of_context(written: str, answer: bool) -> None:
    parsed = parse_bool(written)
    assert parsed.value is answer and parsed.code is None


@pytest.mark.parametrize("written", ["近三年实现零事故", "良好", "待核实", "情况说明见附件，近三年未发生重大事故"])
def test_context_that_is_not_an_answer_stays_unreadable(written: str) -> None:
    assert parse_bool(written).code == "unparseable-value"


@pytest.mark.parametrize("written, code", [("待补充", None), ("申请中", "unparseable-value"),
                                           ("91370100MA3C4D5E1X", "invalid-credit-code")])
def test_a_placeholder_is_not_an_invalid_credit_code(written: str, code: str | None) -> None:
    parsed = parse_uscc(written)
    assert parsed.code == code and (code is not None or parsed.value is None)


def test_a_placeholder_code_makes_the_application_incomplete_not_ineligible(tmp_path: Path) -> None:
    labels = {"city_order": "推荐排序", "city": "所在市", "name": "集群名称", "applicant": "申报主体",
              "applicant_uscc": "统一社会信用代码", "industry": "主导产业", "revenue_total": "营业收入总额（亿元）",
              "leading_firms": "规上企业数（家）", "leader_firms": "领军企业数（家）", "backbone_firms": "骨干企业数（家）",
              "national_platforms": "国家级创新平台（个）", "provincial_platforms": "省级创新平台（个）",
              "ip_total": "知识产权总数（项）", "rd_ratio": "研发投入占比（%）", "legal_person": "独立法人",
              "bad_credit": "不良信用记录", "major_incident": "重大事故"}
    keys = list(labels)
    row = cluster(1, applicant_uscc="待补充", major_incident="近三年未发生")
    record = read(tmp_path, "烟台.csv", Sheet("烟台", [[labels[k] for k in keys], [row[k] for k in keys]]))
    app = app_named(record, "受测第1号数字产业集群")
    assert app.status == "incomplete", [(f.code, f.field) for f in app.findings]
    assert {f.code for f in app.findings if f.field == "applicant_uscc"} == {"missing-value"}
    assert app.values["major_incident"] is False


def test_a_credit_status_column_is_not_called_unfilled(tmp_path: Path) -> None:
    """信用状况 says nothing about 不良 for sure: the column is taken with a finding that says so, and
    never reported as 未填写."""
    labels = {"city_order": "推荐次序", "city": "所在市", "name": "集群名称", "applicant": "集群管理运营机构名称",
              "applicant_uscc": "机构统一社会信用代码", "industry": "主要申报方向（主导产业）",
              "revenue_total": "营业收入合计（亿元）", "leading_firms": "主导产业规上企业数（家）",
              "leader_firms": "领军企业数（家）", "backbone_firms": "骨干企业数（家）",
              "national_platforms": "国家级创新平台（个）", "provincial_platforms": "省级创新平台（个）",
              "ip_total": "知识产权总数（项）", "rd_ratio": "研发投入强度", "legal_person": "法人资格",
              "bad_credit": "信用状况", "major_incident": "安全环保事故情况"}
    keys = list(labels)
    row = cluster(1, bad_credit="无", major_incident="近三年未发生")
    record = read(tmp_path, "烟台.xlsx", Sheet("汇总", [["烟台市2024年数字产业集群申报信息汇总表"], [labels[k] for k in keys],
                                                   [row[k] for k in keys]]))
    app = app_named(record, "受测第1号数字产业集群")
    assert app.values["bad_credit"] is False and app.values["major_incident"] is False
    assert not [f for f in app.findings if f.code == "missing-value"]
    assert "column-assumed" in {f.code for f in record.findings}


@pytest.mark.parametrize("name, credit_header, incident_header, answers", [
    # (bad_credit written, major_incident written, status)
    ("烟台.xlsx", "信用状况", "安全环保事故情况",
     [("良好", "正常", "eligible"), ("不良", "无", "ineligible"), ("正常", "近三年未发生", "eligible")]),
    ("威海.xls", "有无不良信用记录", "是否发生重大事故",
     [("信用良好", "否", "eligible"), ("有失信记录", "否", "ineligible"), ("经查询无失信记录", "无", "eligible")]),
    ("日照.csv", "信用情况", "安全生产情况",
     [("优良", "平稳", "eligible"), ("信用状况不良", "无", "ineligible"), ("较好", "异常", "ineligible")]),
])
def test_how_things_stand_answers_a_field_naming_something_adverse(tmp_path: Path, name: str, credit_header: str,
                                                                   incident_header: str,
                                                                   answers: list[tuple[str, str, str]]) -> None:
    """信用状况: 良好 is no bad credit, 不良 is bad credit (not the 不 "no" inside it); the rules
    require 不良信用 and 重大事故 to be 否, which is what makes a state an answer to them."""
    labels = {"city_order": "推荐排序", "city": "所在市", "name": "集群名称", "applicant": "申报主体",
              "applicant_uscc": "统一社会信用代码", "industry": "主导产业", "revenue_total": "营业收入总额（亿元）",
              "leading_firms": "规上企业数（家）", "leader_firms": "领军企业数（家）", "backbone_firms": "骨干企业数（家）",
              "national_platforms": "国家级创新平台（个）", "provincial_platforms": "省级创新平台（个）",
              "ip_total": "知识产权总数（项）", "rd_ratio": "研发投入占比（%）", "legal_person": "独立法人",
              "bad_credit": credit_header, "major_incident": incident_header}
    keys = list(labels)
    rows = [[labels[k] for k in keys]]
    for n, (credit, incident, _) in enumerate(answers, start=1):
        row = cluster(n, city=("烟台市", "威海市", "日照市")[n - 1], bad_credit=credit, major_incident=incident)
        rows.append([row[k] for k in keys])
    record = read(tmp_path, name, Sheet("汇总表", rows))
    for n, (credit, incident, status) in enumerate(answers, start=1):
        app = app_named(record, f"受测第{n}号数字产业集群")
        assert app.status == status, (credit, incident, [(f.code, f.field) for f in app.findings])
        assert not [f for f in app.findings if f.code in ("unparseable-value", "missing-value")], (credit, incident)


def test_a_state_word_is_no_answer_to_a_field_that_names_nothing_adverse() -> None:
    """独立法人 (required 是) answered 良好 says nothing: unreadable, as before."""
    from sdbatch import rules as rules_mod
    from sdbatch.normalise import parser_for

    rules = rules_mod.load("cluster_2024")
    assert rules.adverse("bad_credit") and not rules.adverse("legal_person")
    assert parser_for(rules.fields["legal_person"], rules)("良好", False).code == "unparseable-value"
