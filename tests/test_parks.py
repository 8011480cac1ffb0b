"""Unit tests of the park program's own steps (sdbatch/programs/park.py + park_2024.toml).

Eligibility (第五条) runs in the shared stages: see tests/test_parks_pipeline.py.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest

from sdbatch.catalogue import entries, render, text
from sdbatch.model import Application, FileRecord, RawSheet, RawWorkbook, Source
from sdbatch.programs import park
from sdbatch.rules import load

DIGITAL, INDUSTRIAL = "数字产业化园区", "产业数字化园区"


@pytest.fixture(scope="module")
def rules():
    return load("park_2024")


@pytest.fixture(scope="module")
def st(rules):
    return park.settings_of(rules)


def make_app(name: str, ptype: str, *, city: str = "济南市", status: str = "eligible", green: Any = True,
             n: int = 1) -> Application:
    return Application(
        id=f"park-{n}", program="park_2024", city=city, name=name, industry=None, city_order=None,
        values={"park_type": ptype, "green_threshold": green}, source=Source("园区_济南市.xlsx", "汇总表", 4 + n),
        cells={"name": f"B{4 + n}", "green_threshold": f"Z{4 + n}"}, status=status,
    )


def record(name: str) -> FileRecord:
    return FileRecord(file=name, path=f"/inbox/{name}", sha256="0" * 64, size=1, mtime=0.0)


def sheet_rows(parks: dict[str, dict[str, Any]], title: str | None = None) -> list[list[Any]]:
    """Parks as rows, indicator codes as columns."""
    codes = sorted({c for pts in parks.values() for c in pts}, key=_code_order)
    rows: list[list[Any]] = []
    if title:
        rows.append([title])
    rows.append(["序号", "园区名称", *codes, "合计"])
    for i, (name, pts) in enumerate(parks.items(), 1):
        rows.append([i, name, *[pts.get(c) for c in codes], None])
    return rows


def transpose_rows(parks: dict[str, dict[str, Any]]) -> list[list[Any]]:
    codes = sorted({c for pts in parks.values() for c in pts}, key=_code_order)
    rows: list[list[Any]] = [["指标编号", "指标名称", *parks]]
    for c in codes:
        rows.append([c, "某指标", *[pts.get(c) for pts in parks.values()]])
    return rows


def _code_order(code: str) -> tuple[int, int]:
    g, p = code[1:].split("P")
    return int(g), int(p)


def run(apps, rules, files: list[tuple[str, list[RawSheet]]], budget=None):
    claimed = []
    for name, sheets in files:
        data = park.claim_file(RawWorkbook(path=f"/inbox/{name}", kind="xlsx", sheets=sheets), rules)
        assert data is not None, name
        claimed.append((record(name), data))
    out = park.decide(apps, rules, claimed, SimpleNamespace(budget=budget))
    return out, claimed


def uniform(st, ptype: str, value: float) -> dict[str, float]:
    return {ind.code: value for ind in st.applicable(ptype)}


def shaped(st, ptype: str, total: float, full_groups: set[str]) -> dict[str, float]:
    """Points giving exactly ``total``: the groups listed at full marks, the rest spread evenly below 优异."""
    inds = st.applicable(ptype)
    full = [i for i in inds if i.group in full_groups]
    rest = [i for i in inds if i.group not in full_groups]
    needed = total / 100 * sum(i.max for i in inds) - sum(i.max for i in full)
    each = needed / len(rest)
    assert 0 <= each < st.excellent_share * st.default_max, (total, full_groups, each)
    return {**{i.code: i.max for i in full}, **{i.code: each for i in rest}}


def codes(app: Application) -> list[str]:
    return [f.code for f in app.findings]


# ---------------------------------------------------------------------------------------- rules file
def test_rules_load_and_settings(rules, st):
    assert rules.kind == "park" and rules.list_title == "认定名单"
    assert set(st.park_types) == {DIGITAL, INDUSTRIAL}
    assert len(st.indicators) == 58 and "L2P13" not in st.indicators
    assert len(st.applicable(DIGITAL)) == 46 and len(st.applicable(INDUSTRIAL)) == 56
    assert st.indicators["L2P10"].types == (DIGITAL,) and st.indicators["L2P11"].types == (DIGITAL,)
    assert all(st.indicators[f"L3P{i}"].types == (INDUSTRIAL,) for i in range(1, 13))
    assert set(st.indicators["L4P1"].types) == {DIGITAL, INDUSTRIAL}  # one √ in the seed: decided both
    assert [(t.name, t.min_score, t.min_aspects, t.ceiling) for t in st.tiers] == [
        ("示范型", 90, 4, 200), ("成长型", 75, 3, 150), ("入库型", 60, 2, 0)]
    assert st.aspects == {"聚集水平": ("L2",), "辐射带动能力": ("L6",), "创新能力": ("L4",), "发展潜力": ("L5",)}
    assert st.points_defaulted and st.default_max == 10


def test_conditions_reference_real_fields_and_types(rules):
    by_id = {c.id: c for c in rules.conditions}
    assert by_id["digital-firms"].severity == "soft" and by_id["stat-firms"].severity == "soft"
    assert by_id["rd-ratio-digital"].threshold == 5 and by_id["rd-ratio-digital"].applies_to == (DIGITAL,)
    assert by_id["rd-ratio-industrial"].threshold == 3 and by_id["rd-ratio-industrial"].applies_to == (INDUSTRIAL,)
    assert rules.relaxation is not None and rules.relaxation.field == "relax_request" and rules.fields["relax_request"].type == "bool"
    assert rules.fields["cloud_ratio"].derive == {"numerator": "cloud_firms", "denominator": "firms_total"}


def test_every_park_code_is_in_the_catalogue():
    import re
    from pathlib import Path

    source = "".join(p.read_text(encoding="utf-8") for p in Path(park.__file__).parent.glob("park*.py"))
    used = set(re.findall(r'Finding\(\s*"([a-z-]+)"', source)) | set(re.findall(r'add\("([a-z-]+)"', source))
    assert used and used <= set(entries()), used - set(entries())
    assert {"points-sheets-disagree", "points-differ-from-rules", "score-points-sum"} <= used


def test_every_park_ui_key_exists():
    """park*.py name their words as _ui("section.key") under [programs.park] of ui.toml (keys built
    from a value are listed with every value they take)."""
    import re
    from pathlib import Path

    from sdbatch.catalogue import lookup

    source = "".join(p.read_text(encoding="utf-8") for p in Path(park.__file__).parent.glob("park*.py"))
    keys = set(re.findall(r'_ui\(\s*"([a-z_.]+)"', source))
    keys |= {f"programs.park.{k}" for k in re.findall(r'text\(\s*"programs\.park\.([a-z_.]+)"', source)}
    keys = {k.removeprefix("programs.park.") for k in keys}
    keys |= {f"sheets.{k}" for k in ("expert", "city", "rows", "columns")}
    keys |= {f"scoring.{k}" for k in ("expert", "city")}
    keys |= {f"notes.points_source_{k}" for k in ("rules", "sheets", "default", "mixed")}
    keys |= {f"points_sheet.source.{k}" for k in ("rules", "sheets", "default")}
    keys |= {f"allocation.{k}" for k in ("budget", "ceilings_total", "proposed_total", "unallocated")}
    keys |= {f"allocation.columns.{k}" for k in ("city", "name", "park_type", "tier", "score", "rank", "status",
                                                 "provisional", "ceiling", "proposed")}
    missing = []
    for key in sorted(keys):
        if key.endswith("."):
            continue
        try:
            lookup(f"programs.park.{key}")
        except KeyError:
            missing.append(key)
    assert len(keys) > 60 and not missing, missing


# ---------------------------------------------------------------------------------------- 整体打包
@pytest.mark.parametrize("name, warned", [
    ("潍坊高新区数字经济园区", True),
    ("烟台经济技术开发区", True),
    ("济南高新技术产业开发区（整体）", True),
    ("济南高新区齐鲁软件园", False),
    ("青岛国际创新园", False),
])
def test_whole_zone_warning(rules, name, warned):
    found = park.check_application(make_app(name, DIGITAL), rules)
    assert bool(found) is warned
    if warned:
        f = found[0]
        assert f.code == "whole-zone-package" and f.severity == "warning" and f.effect is None
        assert f.clause == "第五条(五)" and f.source.cell == "B5"
        assert "整体打包" in render(f).message


# ---------------------------------------------------------------------------------------- score sheets
def test_parse_rows_layout_with_expert_title_and_missing_code(rules, st):
    pts = {"L1P1": 8, "L1P2": 7, "L2P12": 6, "L2P13": 5, "L2P14": 9, "L4P1": "８"}
    rows = sheet_rows({"齐鲁软件园": pts}, title="省级数字经济园区专家复核评分表  评审专家：张三")
    sheet = park.parse_score_sheet(RawSheet("Sheet1", rows), "园区_专家评分.xlsx", st)
    assert sheet is not None and sheet.layout == "rows" and sheet.kind == "expert"
    assert sheet.rater_label == "张三"
    assert sheet.unknown_codes == ["L2P13"]
    assert [r.park for r in sheet.rows] == ["齐鲁软件园"]
    assert sheet.rows[0].points["L4P1"] == "８"


def test_parse_transposed_city_sheet(rules, st):
    rows = transpose_rows({"齐鲁软件园": {f"L1P{i}": i for i in range(1, 10)},
                           "浪潮云谷": {f"L1P{i}": 10 - i for i in range(1, 10)}})
    sheet = park.parse_score_sheet(RawSheet("市级初审评分", rows), "园区_济南市_初审.xlsx", st)
    assert sheet is not None and sheet.layout == "columns" and sheet.kind == "city"
    assert [r.park for r in sheet.rows] == ["齐鲁软件园", "浪潮云谷"]
    assert sheet.rows[1].points["L1P3"] == 7


def test_claim_file_ignores_ordinary_tables(rules):
    raw = RawWorkbook("/inbox/通讯录.xlsx", "xlsx", [RawSheet("Sheet1", [["姓名", "电话"], ["张三", "0531"]])])
    assert park.claim_file(raw, rules) is None


# ---------------------------------------------------------------------------------------- applicability, max
def test_type_specific_indicator_not_applicable(rules, st):
    digital = make_app("齐鲁软件园", DIGITAL, n=1)
    industrial = make_app("智造产业园", INDUSTRIAL, n=2)
    p_dig = {**uniform(st, DIGITAL, 8), "L3P1": 9}  # L3 is 产业数字化 only
    p_ind = {**uniform(st, INDUSTRIAL, 8), "L2P10": 9}  # L2P10 is 数字产业化 only
    run([digital, industrial], rules, [("园区_专家1.xlsx", [RawSheet("专家1", sheet_rows(
        {"齐鲁软件园": p_dig, "智造产业园": p_ind}))])])
    for app, code in ((digital, "L3P1"), (industrial, "L2P10")):
        f = next(f for f in app.findings if f.code == "indicator-not-applicable")
        assert f.params["indicator"] == code
        assert app.score == 80.0  # the inapplicable points are not counted
        assert code not in app.outcome.score_detail["indicators"]


def test_score_above_max_is_reported_and_capped(rules, st):
    app = make_app("齐鲁软件园", DIGITAL)
    pts = {**uniform(st, DIGITAL, 10), "L1P1": 12}
    run([app], rules, [("园区_专家1.xlsx", [RawSheet("专家1", sheet_rows({"齐鲁软件园": pts}))])])
    f = next(f for f in app.findings if f.code == "score-above-max")
    assert f.params["indicator"] == "L1P1" and f.params["max"] == "10"
    assert app.score == 100.0
    assert "score-default-points" in codes(app)  # the default points are said on every scored park


# ---------------------------------------------------------------------------------------- aggregation
def test_aggregate_rule(st):
    assert park.aggregate([6, 7, 8], st) == 7  # 3 experts: plain mean
    assert park.aggregate([1, 6, 7, 8, 10], st) == 7  # 5 experts: highest and lowest dropped
    assert park.aggregate([2, 6, 7, 8], st) == pytest.approx(5.75)  # 4: no trimming


def test_three_experts_mean(rules, st):
    app = make_app("齐鲁软件园", DIGITAL)
    sheets = [RawSheet(f"专家{i}", sheet_rows({"齐鲁软件园": uniform(st, DIGITAL, v)})) for i, v in
              enumerate((7, 8, 9), 1)]
    out, claimed = run([app], rules, [("园区_专家评分.xlsx", sheets)])
    assert app.score == 80.0
    assert app.outcome.score_detail["aggregation"] == "取平均"
    assert len(app.outcome.score_detail["raters"]) == 3
    assert "expert-disagreement" not in codes(app)
    assert sum(f.code == "score-sheet-read" for f in claimed[0][0].findings) == 3


def test_five_experts_drop_highest_and_lowest_and_disagreement(rules, st):
    app = make_app("齐鲁软件园", DIGITAL)
    files = [(f"园区_专家{i}.xlsx", [RawSheet("评分", sheet_rows({"齐鲁软件园": uniform(st, DIGITAL, v)},
                                                                title=f"评审专家：专家{i}"))])
             for i, v in enumerate((0, 7, 8, 9, 10), 1)]
    run([app], rules, files)
    assert app.score == 80.0  # 0 and 10 dropped, mean of 7, 8, 9
    assert app.outcome.score_detail["aggregation"] == text("programs.park.scoring.trimmed_indicator", each=1)
    f = next(f for f in app.findings if f.code == "expert-disagreement")
    assert "L1P1" in f.params["indicators"]


def _rules_with(**scoring: Any) -> Any:
    import tomllib

    from sdbatch.rules import bundled, from_dict

    raw = tomllib.loads(bundled()["park_2024"].read_text(encoding="utf-8"))
    raw["park"]["scoring"].update(scoring)
    return from_dict(raw, "park_2024_trim.toml")


def test_trimming_by_totals_sets_experts_aside_whole():
    """Six experts on one park: trimmed per indicator, the L6 indicators keep the values of experts
    whose totals were the highest or the lowest, and the mean differs from the one of the four
    experts that trimming by totals keeps (trim_by = "total": a rules file's choice)."""
    by_indicator, by_total = load("park_2024"), _rules_with(trim_by="total")
    st = park.settings_of(by_total)
    codes = [ind.code for ind in st.applicable(DIGITAL)]
    l6 = [c for c in codes if c.startswith("L6")]

    def points(base: float, l6_value: float) -> dict[str, float]:
        return {c: (l6_value if c in l6 else base) for c in codes}

    # totals: 专家1 highest (base 10), 专家6 lowest (base 5); their L6 points are the middle ones
    given = [points(10, 6), points(8, 9), points(8, 7), points(8, 7), points(8, 7), points(5, 8)]
    results = {}
    for label, rules_ in (("indicator", by_indicator), ("total", by_total)):
        app = make_app("齐鲁软件园", DIGITAL)
        files = [(f"园区_专家{i}.xlsx", [RawSheet("评分", sheet_rows({"齐鲁软件园": pts}, title=f"评审专家：专家{i}"))])
                 for i, pts in enumerate(given, 1)]
        run([app], rules_, files)
        results[label] = app
    kept = given[1:5]  # 专家2-5
    l6_mean = sum(p[l6[0]] for p in kept) / len(kept)  # 7.5
    assert results["total"].outcome.score_detail["indicators"][l6[0]] == pytest.approx(l6_mean)
    assert results["indicator"].outcome.score_detail["indicators"][l6[0]] == pytest.approx((7 + 7 + 7 + 8) / 4)
    assert results["total"].outcome.score_detail["aggregation"] == text("programs.park.scoring.trimmed_total", each=1)


def test_a_park_scored_twice_on_one_sheet_is_said_and_counted_once():
    """The second row of one expert for one park was dropped while the sheet was read, before any
    finding could name it: score-duplicate, in the catalogue, was never raised."""
    rules_, st_ = load("park_2024"), park.settings_of(load("park_2024"))
    app = make_app("齐鲁软件园", DIGITAL)
    rows = sheet_rows({"齐鲁软件园": uniform(st_, DIGITAL, 8)}, title="评审专家：专家1")
    rows.append([2, "齐鲁软件园", *[5] * (len(rows[-1]) - 3), None])
    run([app], rules_, [("园区_专家1.xlsx", [RawSheet("评分", rows)])])
    assert app.score == 80.0
    [dup] = [f for f in app.findings if f.code == "score-duplicate"]
    assert dup.params["row"] == len(rows)


def test_a_park_scored_by_few_of_the_experts_is_said():
    """Four experts in the round, one of whom alone scored 乙园: its score rests on one expert."""
    rules_, st_ = load("park_2024"), park.settings_of(load("park_2024"))
    a, b = make_app("甲园", DIGITAL, n=1), make_app("乙园", DIGITAL, n=2)
    full = uniform(st_, DIGITAL, 8)
    files = [(f"园区_专家{i}.xlsx", [RawSheet("评分", sheet_rows(
        {"甲园": full, **({"乙园": full} if i == 1 else {})}, title=f"评审专家：专家{i}"))]) for i in range(1, 5)]
    run([a, b], rules_, files)
    assert "score-few-raters" not in codes(a)
    [few] = [f for f in b.findings if f.code == "score-few-raters"]
    assert (few.params["count"], few.params["total"]) == (1, 4)


def test_a_sheet_of_several_experts_names_them_as_its_raters():
    """One 评分汇总 sheet with a 评审专家 column: the department's 评分表读取 named the sheet as the rater."""
    rules_, st_ = load("park_2024"), park.settings_of(load("park_2024"))
    app = make_app("齐鲁软件园", DIGITAL)
    points = uniform(st_, DIGITAL, 8)
    codes_ = list(points)
    rows = [["评审专家", "园区名称", *codes_]] + [[e, "齐鲁软件园", *points.values()] for e in ("专家甲", "专家乙")]
    out, _ = run([app], rules_, [("园区_评分汇总表.xlsx", [RawSheet("评分汇总", rows)])])
    [sheet] = out["park_scoring"]["score_sheets"]
    assert sheet["rater"] == "专家甲、专家乙"
    assert app.outcome.score_detail["raters"] == ["专家甲", "专家乙"]


def test_an_expert_leaving_an_indicator_blank_is_said():
    rules_, st_ = load("park_2024"), park.settings_of(load("park_2024"))
    app = make_app("齐鲁软件园", DIGITAL)
    full = uniform(st_, DIGITAL, 8)
    gap = {c: v for c, v in full.items() if c != "L1P1"}
    files = [("园区_专家1.xlsx", [RawSheet("评分", sheet_rows({"齐鲁软件园": full}, title="评审专家：专家1"))]),
             ("园区_专家2.xlsx", [RawSheet("评分", sheet_rows({"齐鲁软件园": gap}, title="评审专家：专家2"))])]
    run([app], rules_, files)
    [blank] = [f for f in app.findings if f.code == "score-blank"]
    assert blank.params["indicators"] == "L1P1" and blank.params["count"] == 1


def test_city_preliminary_score_used_only_without_experts(rules, st):
    app = make_app("齐鲁软件园", DIGITAL)
    run([app], rules, [("园区_济南市_初审评分.xlsx", [RawSheet("初审", sheet_rows({"齐鲁软件园": uniform(st, DIGITAL, 7)}))])])
    assert app.score == 70.0 and "score-from-city" in codes(app)
    app2 = make_app("齐鲁软件园", DIGITAL)
    run([app2], rules, [("园区_济南市_初审评分.xlsx", [RawSheet("初审", sheet_rows({"齐鲁软件园": uniform(st, DIGITAL, 5)}))]),
                        ("园区_专家1.xlsx", [RawSheet("专家1", sheet_rows({"齐鲁软件园": uniform(st, DIGITAL, 8)}))])])
    assert app2.score == 80.0 and "city-score-gap" in codes(app2)


def test_names_match_with_city_prefix_and_unmatched_reported(rules, st):
    app = make_app("齐鲁软件园", DIGITAL)
    out, claimed = run([app], rules, [("园区_专家1.xlsx", [RawSheet("专家1", sheet_rows(
        {"济南市 齐鲁软件园": uniform(st, DIGITAL, 8), "不存在的园区": uniform(st, DIGITAL, 8)}))])])
    assert app.score == 80.0
    assert [f.code for f in claimed[0][0].findings].count("score-park-unmatched") == 1
    assert out["park_scoring"]["unmatched"][0]["park"] == "不存在的园区"


# ---------------------------------------------------------------------------------------- tiers
@pytest.mark.parametrize("score, excellent, expected", [
    (59.99, 4, None), (60, 2, "入库型"), (60, 1, None),
    (74.99, 4, "入库型"), (75, 3, "成长型"), (75, 2, "入库型"),
    (89.99, 4, "成长型"), (90, 4, "示范型"), (90, 3, "成长型"), (90, 1, None), (100, 2, "入库型"),
])
def test_tier_for(st, score, excellent, expected):
    tier, _ = park.tier_for(score, excellent, st)
    assert (tier.name if tier else None) == expected


@pytest.mark.parametrize("ptype, total, full, tier", [
    (DIGITAL, 59.99, {"L2", "L4"}, None),
    (DIGITAL, 60, {"L2", "L4"}, "入库型"),
    (DIGITAL, 60, {"L2"}, None),  # score line met, aspects not
    (DIGITAL, 74.99, {"L2", "L4", "L5"}, "入库型"),
    (DIGITAL, 75, {"L2", "L4", "L5"}, "成长型"),
    (DIGITAL, 75, {"L2", "L4"}, "入库型"),  # 成长型 score, 2 aspects -> 入库型
    (DIGITAL, 89.99, {"L2", "L4", "L5", "L6"}, "成长型"),
    (DIGITAL, 90, {"L2", "L4", "L5", "L6"}, "示范型"),
    (DIGITAL, 90, {"L2", "L4", "L5"}, "成长型"),  # 示范型 score, 3 aspects -> 成长型
    (INDUSTRIAL, 90, {"L2", "L4", "L5", "L6"}, "示范型"),
    (INDUSTRIAL, 60, {"L2", "L4"}, "入库型"),
])
def test_tier_through_decide(rules, st, ptype, total, full, tier):
    app = make_app("齐鲁软件园", ptype)
    run([app], rules, [("园区_专家1.xlsx", [RawSheet("专家1", sheet_rows({"齐鲁软件园": shaped(st, ptype, total, full)}))])])
    assert app.score == pytest.approx(total, abs=1e-9)
    assert app.outcome.tier == tier
    by_score = park.tier_for(total, 4, st)[0]
    if by_score and (by_score.name != tier):
        assert "tier-aspects-short" in codes(app)
    assert app.outcome.subsidy == {"示范型": 200, "成长型": 150}.get(tier)


def test_a_park_left_without_a_tier_by_its_aspects_is_said_plainly(rules, st):
    """A 入库型 score with one aspect excellent: no tier.  The finding said "认定为不予认定"."""
    app = make_app("齐鲁软件园", DIGITAL)
    run([app], rules, [("园区_专家1.xlsx", [RawSheet("专家1", sheet_rows({"齐鲁软件园": shaped(st, DIGITAL, 60, {"L2"})}))])])
    assert app.outcome.tier is None
    [short] = [f for f in app.findings if f.code == "tier-aspects-short"]
    message = render(short).message
    assert text("programs.park.scoring.not_recognised") in message
    assert "认定为不予认定" not in message


def test_no_tier_for_ineligible_and_provisional_for_needs_review(rules, st):
    bad = make_app("甲园区", DIGITAL, status="ineligible", n=1)
    review = make_app("乙园区", DIGITAL, status="needs_review", n=2)
    run([bad, review], rules, [("园区_专家1.xlsx", [RawSheet("专家1", sheet_rows(
        {"甲园区": uniform(st, DIGITAL, 9.5), "乙园区": uniform(st, DIGITAL, 9.5)}))])])
    assert bad.outcome.tier is None and bad.rank is None and "tier-withheld" in codes(bad)
    assert review.outcome.tier == "示范型" and review.rank == 1 and "tier-provisional" in codes(review)


# ---------------------------------------------------------------------------------------- 绿色门槛
@pytest.mark.parametrize("green, subsidy, code", [(True, 200, None), (False, None, "no-green-threshold"),
                                                   (None, None, "green-threshold-missing")])
def test_green_threshold(rules, st, green, subsidy, code):
    app = make_app("齐鲁软件园", DIGITAL, green=green)
    run([app], rules, [("园区_专家1.xlsx", [RawSheet("专家1", sheet_rows({"齐鲁软件园": uniform(st, DIGITAL, 9.5)}))])])
    assert app.outcome.tier == "示范型" and app.outcome.subsidy == subsidy
    if code:
        f = next(f for f in app.findings if f.code == code)
        assert f.clause == "第十条" and f.source.cell == "Z5"


def test_entry_tier_has_no_subsidy(rules, st):
    app = make_app("齐鲁软件园", DIGITAL)
    run([app], rules, [("园区_专家1.xlsx", [RawSheet("专家1", sheet_rows({"齐鲁软件园": uniform(st, DIGITAL, 7.6)}))])])
    assert app.outcome.tier == "成长型" and app.outcome.subsidy == 150
    app2 = make_app("齐鲁软件园", DIGITAL)
    run([app2], rules, [("园区_专家1.xlsx", [RawSheet("专家1", sheet_rows(
        {"齐鲁软件园": shaped(st, DIGITAL, 65, {"L2", "L4"})}))])])
    assert app2.outcome.tier == "入库型" and app2.outcome.subsidy is None


# ---------------------------------------------------------------------------------------- ranking
def test_rank_is_deterministic_on_ties(rules, st):
    a = make_app("乙园区", DIGITAL, city="青岛市", n=1)
    b = make_app("甲园区", DIGITAL, city="济南市", n=2)
    c = make_app("丙园区", DIGITAL, city="济南市", n=3)
    run([a, b, c], rules, [("园区_专家1.xlsx", [RawSheet("专家1", sheet_rows(
        {"乙园区": uniform(st, DIGITAL, 8), "甲园区": uniform(st, DIGITAL, 8), "丙园区": uniform(st, DIGITAL, 9)}))])])
    assert (c.rank, b.rank, a.rank) == (1, 2, 3)  # 济南市 before 青岛市 on a tie


# ---------------------------------------------------------------------------------------- budget
def documented(ceilings: list[float], budget: float) -> list[int]:
    """The method as written in [park.subsidy].method_text, computed independently."""
    if sum(ceilings) <= budget:
        return [int(c) for c in ceilings]
    exact = [c * budget / sum(ceilings) for c in ceilings]
    out = [math.floor(e + 1e-9) for e in exact]
    spare = math.floor(budget) - sum(out)
    for i in sorted(range(len(exact)), key=lambda i: (-(exact[i] - out[i]), i)):
        if spare > 0 and exact[i] - out[i] > 1e-9:
            out[i] += 1
            spare -= 1
    return out


@pytest.mark.parametrize("ceilings, budget", [
    ([200, 150, 150], 333), ([200, 150, 150], 333.5), ([200, 200, 150, 150, 150], 100),
    ([200, 150], 1), ([200, 150, 150], 499.99), ([150, 150, 150], 200),
])
def test_allocate_small_budget(ceilings, budget):
    proposals = park.allocate(ceilings, budget)
    assert sum(proposals) <= budget
    assert all(0 <= p <= c for p, c in zip(proposals, ceilings, strict=True))
    assert all(float(p).is_integer() for p in proposals)
    assert proposals == documented(ceilings, budget)
    assert sum(proposals) == math.floor(budget)  # largest remainder uses every whole 万元


def test_allocate_budget_covers_ceilings():
    assert park.allocate([200, 150], 400) == [200, 150]


def test_budget_through_decide(rules, st):
    apps = [make_app("甲园区", DIGITAL, n=1), make_app("乙园区", DIGITAL, n=2), make_app("丙园区", INDUSTRIAL, n=3),
            make_app("丁园区", INDUSTRIAL, green=False, n=4)]
    pts = {"甲园区": uniform(st, DIGITAL, 9.5), "乙园区": uniform(st, DIGITAL, 8),
           "丙园区": uniform(st, INDUSTRIAL, 8), "丁园区": uniform(st, INDUSTRIAL, 9.5)}
    out, _ = run(apps, rules, [("园区_专家1.xlsx", [RawSheet("专家1", sheet_rows(pts))])], budget=300)
    assert [a.outcome.subsidy for a in apps] == [200, 150, 150, None]
    rows = out["allocation"]
    assert [r["name"] for r in rows] == ["甲园区", "丙园区", "乙园区"]  # by rank; tie 80 broken by name
    assert sum(r["proposed"] for r in rows) <= 300
    assert [r["proposed"] for r in rows] == documented([200, 150, 150], 300) == [120, 90, 90]
    assert [a.outcome.subsidy_proposed for a in apps] == [120, 90, 90, None]
    assert "等比例" in out["allocation_method"] and "向下取整" in out["allocation_method"]
    assert out["allocation_summary"]["scaled"] is True
    assert out["park_scoring"]["points_default"] is True and "未规定各指标分值" in out["park_scoring"]["note"]


def test_every_new_finding_renders(rules, st):
    app = make_app("潍坊高新区数字经济园区", DIGITAL, green=None)
    app.findings.extend(park.check_application(app, rules))
    pts = {**uniform(st, DIGITAL, 9.5), "L3P1": 3, "L1P1": 11, "L1P2": "好"}
    run([app], rules, [("园区_专家1.xlsx", [RawSheet("专家1", sheet_rows({"潍坊高新区数字经济园区": pts}))])], budget=100)
    for f in app.findings:
        text = render(f)
        assert text.message and "{" not in text.message, (f.code, text.message)


def test_named_expert_resent_newer_file_counts(rules, st):
    app = make_app("齐鲁软件园", DIGITAL)
    sheets = {name: [RawSheet("评分", sheet_rows({"齐鲁软件园": uniform(st, DIGITAL, v)}, title="评审专家：张三"))]
              for name, v in (("园区_张三评分.xlsx", 6), ("园区_张三评分（更正）.xlsx", 8))}
    claimed = []
    for i, (name, sh) in enumerate(sheets.items()):
        rec = record(name)
        rec.mtime = float(i)
        claimed.append((rec, park.claim_file(RawWorkbook(f"/inbox/{name}", "xlsx", sh), rules)))
    park.decide([app], rules, claimed, None)
    assert app.score == 80.0 and app.outcome.score_detail["raters"] == ["张三"]
    assert "score-sheet-replaced" in [f.code for f in claimed[0][0].findings]


def test_one_sheet_with_an_expert_column(rules, st):
    app = make_app("齐鲁软件园", INDUSTRIAL)
    codes_ = [i.code for i in st.applicable(INDUSTRIAL)]
    rows: list[list[Any]] = [["专家复核评分汇总"], ["评审专家", "园区名称", *codes_]]
    for who, v in (("赵", 2), ("钱", 7), ("孙", 8), ("李", 9), ("周", 10)):
        rows.append([who, "齐鲁软件园", *[v] * len(codes_)])
    run([app], rules, [("园区_专家评分汇总.xlsx", [RawSheet("Sheet1", rows)])])
    assert app.outcome.score_detail["raters"] == ["赵", "钱", "孙", "李", "周"]
    assert app.score == 80.0  # 5 experts: 2 and 10 dropped


def test_claims_sheet_tells_score_sheets_from_summary_tables(rules, st):
    score = RawSheet("专家1", sheet_rows({"齐鲁软件园": uniform(st, DIGITAL, 8)}))
    summary = RawSheet("汇总表", [["序号", "园区名称", "所在市", "园区类型"], [1, "齐鲁软件园", "济南市", DIGITAL]])
    assert park.claims_sheet(score, rules) and not park.claims_sheet(summary, rules)


def test_claims_sheet_looks_where_a_header_is_looked_for(rules, st):
    """The question is asked of every sheet before its header is looked for: it reads the rows a
    header may be in (HEADER_SEARCH_ROWS), in either orientation, and a score sheet pushed below
    them is left to the workbook's own claim (``claim_file``), which reads every row."""
    from sdbatch import settings

    grid = sheet_rows({"齐鲁软件园": uniform(st, DIGITAL, 8)})
    transposed = [list(col) for col in zip(*[row + [None] * (max(map(len, grid)) - len(row)) for row in grid],
                                           strict=True)]
    low = [[None]] * (settings.HEADER_SEARCH_ROWS - 1)
    assert park.claims_sheet(RawSheet("行", low + grid), rules)
    assert park.claims_sheet(RawSheet("列", low[:-3] + transposed), rules)
    pushed = RawSheet("下移", [[None]] * settings.HEADER_SEARCH_ROWS + grid)
    assert not park.claims_sheet(pushed, rules)
    assert park.claim_file(RawWorkbook("/inbox/评分.xlsx", "xlsx", [pushed]), rules) is not None


# ---------------------------------------------------------------------------------------- sheet kind, maxima
@pytest.mark.parametrize("sheet_name, title, stem, kind", [
    ("评分", "2024年省级数字经济园区认定专家复核评分表（各市市级推荐园区）  评审专家：孙教授", "专家评分_孙教授", "expert"),
    ("Sheet1", "各市市级推荐园区评分表", "园区复核评分", "expert"),
    ("市级初审评分", None, "园区_济南市", "city"),
    ("Sheet1", "济南市市级评分表", "园区评分", "city"),
    ("初审", None, "园区评分", "city"),
    ("评委1", None, "园区评分", "expert"),
])
def test_sheet_kind_expert_words_win_over_city_words(rules, st, sheet_name, title, stem, kind):
    rows = sheet_rows({"齐鲁软件园": {f"L1P{i}": 8 for i in range(1, 10)}}, title=title)
    sheet = park.parse_score_sheet(RawSheet(sheet_name, rows), f"{stem}.xlsx", st)
    assert sheet is not None and sheet.kind == kind


@pytest.mark.parametrize("label", ["满分", "分值", "最高分", "标准分", "满分（分）"])
def test_maxima_row_is_not_a_park(rules, st, label):
    rows = sheet_rows({"齐鲁软件园": {f"L1P{i}": 8 for i in range(1, 10)}}, title="专家复核评分表  评审专家：张三")
    rows.insert(2, ["", label, *[10] * 9, 90])
    sheet = park.parse_score_sheet(RawSheet("评分", rows), "专家评分_张三.xlsx", st)
    assert sheet is not None and [r.park for r in sheet.rows] == ["齐鲁软件园"]
    # the label in the 序号 column instead of the name column
    rows[2] = [label, "", *[10] * 9, 90]
    sheet = park.parse_score_sheet(RawSheet("评分", rows), "专家评分_张三.xlsx", st)
    assert [r.park for r in sheet.rows] == ["齐鲁软件园"]


@pytest.mark.parametrize("label", ["满分", "分值", "最高分", "标准分"])
def test_maxima_column_is_not_a_park_when_transposed(rules, st, label):
    rows = transpose_rows({"齐鲁软件园": {f"L1P{i}": i for i in range(1, 10)}})
    rows = [[r[0], r[1], label if i == 0 else 10, *r[2:]] for i, r in enumerate(rows)]
    sheet = park.parse_score_sheet(RawSheet("Sheet1", rows), "专家评分_王五.xlsx", st)
    assert sheet is not None and [r.park for r in sheet.rows] == ["齐鲁软件园"]


def test_maxima_row_gives_no_unmatched_finding(rules, st):
    app = make_app("齐鲁软件园", DIGITAL)
    rows = sheet_rows({"齐鲁软件园": uniform(st, DIGITAL, 8)}, title="专家复核评分表（各市市级推荐园区） 评审专家：孙教授")
    rows.insert(2, ["", "满分", *[10] * (len(rows[1]) - 3), None])
    _, claimed = run([app], rules, [("专家评分_孙教授.xlsx", [RawSheet("评分", rows)])])
    assert "score-park-unmatched" not in [f.code for rec, _ in claimed for f in rec.findings]
    assert app.score == 80.0 and app.outcome.score_detail["basis"] == "expert"
    assert "score-from-city" not in codes(app)


def test_the_spread_of_rater_totals_has_no_floating_point_residue():
    app = make_app("齐鲁软件园", DIGITAL)
    app.outcome = park.ParkOutcome(park_type=DIGITAL, released=True)
    app.outcome.score_detail = {"basis": "expert", "rater_totals": {"甲": 64.01, "乙": 54.01}}
    app.score = 59.01
    sheet = park._raters_sheet([app])
    assert sheet.rows[0][-1] == 10.0  # 64.01 - 54.01 is 10.000000000000007 unrounded
