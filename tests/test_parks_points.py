"""The points a park round states (issue 13, Build 1): per park type, in the rules file or in the
score sheets (a 分值 / 满分 / 标准分 row or column, either orientation), which win, what disagrees.

Real workbooks (tests/park_round.py: four experts, four layouts) read by the real readers, then
scored by the park program; every expected total, tier and subsidy is worked out by hand there.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from sdbatch import reading
from sdbatch.catalogue import render
from sdbatch.catalogue import text as catalogue_text
from sdbatch.cli import main
from sdbatch.model import Application, FileRecord, RawSheet, RawWorkbook, Source
from sdbatch.programs import park
from sdbatch.rules import bundled, load
from tests import park_round as R

DIGITAL, INDUSTRIAL = R.DIGITAL, R.INDUSTRIAL
PARK_TEXT = bundled()["park_2024"].read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rules():
    return load("park_2024")


def apps_of_round(status: str = "eligible") -> list[Application]:
    out = []
    for n, (name, (city, ptype, _)) in enumerate(R.PARKS.items(), 1):
        out.append(Application(
            id=f"park_2024/{city}/{name}", program="park_2024", city=city, name=name, industry=ptype,
            city_order=None, values={"park_type": ptype, "green_threshold": True},
            source=Source(f"园区_{city}_申报汇总表.xlsx", "汇总表", 2 + n), cells={"name": f"B{2 + n}"}, status=status))
    return out


def claim(paths: list[Path], rules: Any) -> list[tuple[FileRecord, Any]]:
    out = []
    for path in paths:
        data = park.claim_file(reading.read_workbook(path), rules)
        assert data is not None, path.name
        out.append((FileRecord(file=path.name, path=str(path), sha256="0" * 64, size=1, mtime=0.0), data))
    return out


def decide(apps: list[Application], rules: Any, claimed: list[tuple[FileRecord, Any]]) -> dict[str, Any]:
    return park.decide(apps, rules, claimed, SimpleNamespace(budget=None))


def codes_of(findings: list[Any], code: str) -> list[Any]:
    return [f for f in findings if f.code == code]


def by_name(apps: list[Application]) -> dict[str, Application]:
    return {a.name or "": a for a in apps}


def with_rules(tmp_path: Path, text: str, name: str = "round.toml") -> Any:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load(path)


def changed(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def rules_with_points(table: dict[str, dict[str, float]]) -> str:
    """park_2024 with ``max = { type = points }`` on every indicator."""
    def add(match: re.Match[str]) -> str:
        code = match.group(1)
        per_type = ", ".join(f'"{t}" = {table[t][code]}' for t in (DIGITAL, INDUSTRIAL) if code in table[t])
        return match.group(0)[:-2] + f", max = {{ {per_type} }} }}"
    text, n = re.subn(r'\{ code = "(L\dP\d+)", name = "[^"]*", types = \[[^\]]*\] \}', add, PARK_TEXT)
    assert n == 58
    return text


# ---------------------------------------------------------------------------------------- each layout
LAYOUTS = {  # expert -> (layout, where each stated block's type was read)
    "张明": ("rows", {"sheet"}),
    "王芳": ("columns", {"sheet"}),
    "李强": ("rows", {"label"}),
    "赵丽": ("columns", {"label"}),
}


@pytest.mark.parametrize("expert", R.EXPERTS)
def test_each_layout_alone_states_its_points_per_type(tmp_path, rules, expert):
    [path] = R.write_experts(tmp_path, experts=(expert,))
    claimed = claim([path], rules)
    sheets = claimed[0][1].sheets
    layout, type_from = LAYOUTS[expert]
    assert {s.layout for s in sheets} == {layout}
    assert {s.rater_label for s in sheets} == {expert}  # 专家签名：王芳 names her too
    stated = [b for s in sheets for b in s.stated]
    assert sorted(b.park_type for b in stated) == sorted([DIGITAL, INDUSTRIAL])
    assert {b.type_from for b in stated} == type_from
    assert sum(len(s.rows) for s in sheets) == 4  # the 分值 rows/columns, the type row are not parks
    apps = apps_of_round()
    out = decide(apps, rules, claimed)
    table = out["park_scoring"]["points"]["by_type"]
    mine = R.TYPO if expert == "赵丽" else R.POINTS
    for ptype in (DIGITAL, INDUSTRIAL):
        assert table[ptype]["source"] == "sheets"
        assert table[ptype]["maxima"] == mine[ptype]
        assert table[ptype]["sheets"] and all(s.startswith(R.FILES[expert]) for s in table[ptype]["sheets"])


# ---------------------------------------------------------------------------------------- the whole round
@pytest.fixture(scope="module")
def round_files(tmp_path_factory) -> list[Path]:
    return R.write_experts(tmp_path_factory.mktemp("experts"))


def test_four_experts_stated_points_totals_tiers_and_subsidies(rules, round_files):
    apps = apps_of_round()
    claimed = claim(round_files, rules)
    out = decide(apps, rules, claimed)
    for name, (score, tier, subsidy, aspects) in R.EXPECTED.items():
        app = by_name(apps)[name]
        assert app.score == score, name
        assert (app.outcome.tier, app.outcome.subsidy) == (tier, subsidy), name
        assert len(app.outcome.score_detail["excellent_aspects"]) == aspects, name
        assert app.outcome.score_detail["points_source"] == "sheets"
        assert app.outcome.score_detail["points_total"] == 100
        assert len(app.outcome.score_detail["raters"]) == 4
        assert not codes_of(app.findings, "score-default-points")
    table = out["park_scoring"]["points"]["by_type"]
    assert table[DIGITAL]["maxima"] == R.POINTS[DIGITAL] and table[INDUSTRIAL]["maxima"] == R.POINTS[INDUSTRIAL]
    assert out["park_scoring"]["points_default"] is False


def test_the_sheet_that_disagrees_is_named_with_the_points_used(rules, round_files):
    apps = apps_of_round()
    claimed = claim(round_files, rules)
    decide(apps, rules, claimed)
    records = {rec.file: rec for rec, _ in claimed}
    zhao = records[R.FILES["赵丽"]].findings
    disagree = {f.params["park_type"]: f for f in codes_of(zhao, "points-sheets-disagree")}
    assert set(disagree) == {DIGITAL, INDUSTRIAL}
    assert disagree[DIGITAL].params["count"] == 2
    assert "L4P1" in disagree[DIGITAL].params["items"] and "L4P4" in disagree[DIGITAL].params["items"]
    assert disagree[INDUSTRIAL].params["count"] == 1 and disagree[INDUSTRIAL].params["items"].startswith("L1P4")
    message = render(disagree[INDUSTRIAL]).message
    assert "本表3分" in message and "多数（3张）专家评分表为2分" in message and "采用2分" in message
    assert disagree[INDUSTRIAL].source.file == R.FILES["赵丽"] and disagree[INDUSTRIAL].source.sheet == "专家打分"
    [total] = codes_of(zhao, "points-sum")
    assert (total.params["park_type"], total.params["sum"], total.params["total"]) == (INDUSTRIAL, "101", "100")
    for expert in ("张明", "王芳", "李强"):
        assert not [f for f in records[R.FILES[expert]].findings if f.code.startswith("points-")], expert


def test_points_above_the_maximum_and_for_an_indicator_that_does_not_apply(rules, round_files):
    apps = by_name(apps_of_round())
    decide(list(apps.values()), rules, claim(round_files, rules))
    [above] = codes_of(apps["青岛数字园乙"].findings, "score-above-max")
    assert (above.params["indicator"], above.params["rater"], above.params["points"], above.params["max"]) == (
        "L6P1", "李强", "40", "4")
    assert apps["青岛数字园乙"].outcome.score_detail["indicators"]["L6P1"] == 2.5  # (2 + 2 + 4 + 2) / 4
    [foreign] = codes_of(apps["济南产数园甲"].findings, "indicator-not-applicable")
    assert (foreign.params["indicator"], foreign.params["rater"]) == ("L2P10", "王芳")
    assert "L2P10" not in apps["济南产数园甲"].outcome.score_detail["indicators"]
    [wide] = codes_of(apps["青岛产数园乙"].findings, "expert-disagreement")
    assert "L3P1" in wide.params["indicators"]


def test_the_order_of_the_files_changes_nothing(rules, round_files):
    results = []
    for seed in range(3):
        files = list(round_files)
        random.Random(seed).shuffle(files)
        apps = apps_of_round()
        out = decide(apps, rules, claim(files, rules))
        results.append(([(a.name, a.score, a.outcome.tier) for a in apps], out["park_scoring"]["points"]))
    assert results[0] == results[1] == results[2]


# ---------------------------------------------------------------------------------------- rules file
def test_points_in_the_rules_file_only(tmp_path, rules):
    per_type = with_rules(tmp_path, rules_with_points(R.POINTS))
    files = R.write_experts(tmp_path, stated=False)
    apps = apps_of_round()
    claimed = claim(files, per_type)
    out = decide(apps, per_type, claimed)
    assert all(not s.stated for _, data in claimed for s in data.sheets)
    for name, (score, tier, subsidy, _) in R.EXPECTED.items():
        app = by_name(apps)[name]
        assert (app.score, app.outcome.tier, app.outcome.subsidy) == (score, tier, subsidy), name
        assert app.outcome.score_detail["points_source"] == "rules"
    assert {t["source"] for t in out["park_scoring"]["points"]["by_type"].values()} == {"rules"}
    assert "按规则文件设定" in out["park_scoring"]["note"]
    assert not [f for rec, _ in claimed for f in rec.findings if f.code.startswith("points-")]


def test_a_sheet_disagreeing_with_the_rules_file_is_reported_and_the_rules_file_wins(tmp_path):
    per_type = with_rules(tmp_path, rules_with_points(R.POINTS))
    files = R.write_experts(tmp_path)
    apps = apps_of_round()
    claimed = claim(files, per_type)
    decide(apps, per_type, claimed)
    assert [a.score for a in apps] == [R.EXPECTED[a.name or ""][0] for a in apps]
    records = {rec.file: rec for rec, _ in claimed}
    differ = codes_of(records[R.FILES["赵丽"]].findings, "points-differ-from-rules")
    assert {f.params["park_type"] for f in differ} == {DIGITAL, INDUSTRIAL}
    assert "规则文件3分" in render(next(f for f in differ if f.params["park_type"] == DIGITAL)).message
    assert not codes_of(records[R.FILES["赵丽"]].findings, "points-sheets-disagree")
    assert not codes_of(records[R.FILES["张明"]].findings, "points-differ-from-rules")


def test_rules_check_refuses_a_type_whose_maxima_do_not_add_up(tmp_path):
    off = {DIGITAL: {**R.POINTS[DIGITAL], "L1P2": 2}, INDUSTRIAL: R.POINTS[INDUSTRIAL]}
    path = tmp_path / "off.toml"
    path.write_text(rules_with_points(off), encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "check", str(path)])
    assert result.exit_code == 2, result.output
    assert "[park.standard].indicators" in result.output and f"{DIGITAL}的46项指标分值之和为 101" in result.output
    assert INDUSTRIAL not in result.output.split("\n", 1)[1]  # 产业数字化园区 adds up


# ---------------------------------------------------------------------------------------- no points anywhere
def test_no_points_anywhere_uses_the_default_and_says_so(tmp_path, rules):
    files = R.write_experts(tmp_path, stated=False)
    apps = apps_of_round()
    out = decide(apps, rules, claim(files, rules))
    for app in apps:
        ptype = app.outcome.park_type
        n = len(R.POINTS[ptype])
        given = sum(sum(min(v, 10) for e in R.EXPERTS if (v := R.given(app.name or "", c, e)) is not None
                        and c in R.POINTS[ptype]) / 4 for c in R.POINTS[ptype])
        assert app.score == round(100 * given / (10 * n), 2), app.name
        assert app.outcome.score_detail["points_source"] == "default"
        [default] = codes_of(app.findings, "score-default-points")
        assert default.params["defaulted"] == n and default.params["max"] == "10"
        assert "请在规则文件中填写" in render(default).fix
    assert out["park_scoring"]["points_default"] is True
    assert out["park_scoring"]["note"].startswith("《评分标准》未规定各指标分值")


# ---------------------------------------------------------------------------------------- sheets among themselves
def stated_sheet(name: str, title: str, points: dict[str, float], label: str = "分值",
                 parks: dict[str, dict[str, float]] | None = None) -> RawSheet:
    codes = list(points)
    rows: list[list[Any]] = [[title], ["序号", "园区名称", *codes], [None, label, *points.values()]]
    for i, (park_name, pts) in enumerate((parks or {}).items(), 1):
        rows.append([i, park_name, *[pts.get(c) for c in codes]])
    return RawSheet(name, rows)


def raw_claim(rules: Any, files: dict[str, list[RawSheet]]) -> list[tuple[FileRecord, Any]]:
    out = []
    for name, sheets in files.items():
        data = park.claim_file(RawWorkbook(f"/inbox/{name}", "xlsx", sheets), rules)
        assert data is not None
        out.append((FileRecord(file=name, path=f"/inbox/{name}", sha256="0" * 64, size=1, mtime=0.0), data))
    return out


def one_digital_app() -> Application:
    return Application(id="p/济南市/甲园区", program="park_2024", city="济南市", name="甲园区", industry=DIGITAL,
                       city_order=None, values={"park_type": DIGITAL, "green_threshold": True},
                       source=Source("汇总.xlsx", "汇总表", 3), cells={"name": "B3"})


@pytest.mark.parametrize("tie, used", [("highest", 3), ("lowest", 2)])
def test_a_tie_between_sheets_is_decided_by_the_rules_file(tmp_path, tie, used):
    text = PARK_TEXT if tie == "highest" else changed(PARK_TEXT, 'points_tie = "highest"', 'points_tie = "lowest"')
    rules = with_rules(tmp_path, text)
    points = dict(R.POINTS[DIGITAL])
    files = {"专家评分_甲.xlsx": [stated_sheet("评分", f"{DIGITAL}评分表 评审专家：甲", {**points, "L1P1": 2})],
             "专家评分_乙.xlsx": [stated_sheet("评分", f"{DIGITAL}评分表 评审专家：乙", {**points, "L1P1": 3})]}
    claimed = raw_claim(rules, files)
    out = decide([one_digital_app()], rules, claimed)
    by_type = out["park_scoring"]["points"]["by_type"][DIGITAL]
    assert by_type["maxima"]["L1P1"] == used and by_type["ties"] == ["L1P1"]
    loser = "专家评分_甲.xlsx" if used == 3 else "专家评分_乙.xlsx"
    for rec, _ in claimed:
        assert bool(codes_of(rec.findings, "points-sheets-disagree")) is (rec.file == loser)
    # said as a tie, not as "the majority" (which one sheet against one is not)
    [said] = [f for rec, _ in claimed if rec.file == loser for f in rec.findings if f.code == "points-sheets-disagree"]
    rule = catalogue_text(f"programs.park.points.tie_{tie}")
    assert rule in said.params["items"] and "多数" not in said.params["items"]


def test_the_city_sheet_votes_only_when_no_expert_sheet_states_points(rules):
    points = dict(R.POINTS[DIGITAL])
    city = {"园区_济南市_市级初审评分.xlsx": [stated_sheet("市级初审评分", f"济南市市级初审评分表（{DIGITAL}）",
                                                      {**points, "L1P1": 5})]}
    experts = {f"专家评分_{e}.xlsx": [stated_sheet("评分", f"{DIGITAL}评分表 评审专家：{e}", points)] for e in "甲乙"}
    claimed = raw_claim(rules, {**city, **experts})
    out = decide([one_digital_app()], rules, claimed)
    assert out["park_scoring"]["points"]["by_type"][DIGITAL]["maxima"]["L1P1"] == 2  # 2 experts against the city
    [city_rec] = [rec for rec, _ in claimed if "初审" in rec.file]
    assert codes_of(city_rec.findings, "points-sheets-disagree")
    # the city's sheet did not vote: not listed as a sheet whose points were used
    used = {s["file"]: s["points_used"] for s in out["park_scoring"]["score_sheets"]}
    assert used[city_rec.file] is False and all(v for f, v in used.items() if f != city_rec.file)
    assert not [w for w in out["park_scoring"]["points"]["by_type"][DIGITAL]["sheets"] if "初审" in w]
    alone = raw_claim(rules, city)
    out = decide([one_digital_app()], rules, alone)
    assert out["park_scoring"]["points"]["by_type"][DIGITAL]["maxima"]["L1P1"] == 5


def test_check_mode_compares_the_sheets_but_keeps_the_default(tmp_path):
    rules = with_rules(tmp_path, changed(PARK_TEXT, 'sheet_points = "use"  ', 'sheet_points = "check"  '))
    points = dict(R.POINTS[DIGITAL])
    files = {f"专家评分_{e}.xlsx": [stated_sheet("评分", f"{DIGITAL}评分表 评审专家：{e}", {**points, "L1P1": v})]
             for e, v in (("甲", 2), ("乙", 2), ("丙", 4))}
    claimed = raw_claim(rules, files)
    out = decide([one_digital_app()], rules, claimed)
    assert out["park_scoring"]["points"]["by_type"][DIGITAL]["source"] == "default"
    assert [rec.file for rec, _ in claimed if codes_of(rec.findings, "points-sheets-disagree")] == ["专家评分_丙.xlsx"]


def test_stated_points_that_miss_indicators_or_name_one_the_type_lacks(rules):
    points = {c: v for c, v in R.POINTS[DIGITAL].items() if not c.startswith("L6")}
    sheet = stated_sheet("评分", "评审专家：甲", {**points, "L3P1": 2}, label=f"分值（{DIGITAL}）",
                         parks={"甲园区": {c: 1 for c in points}})
    claimed = raw_claim(rules, {"专家评分_甲.xlsx": [sheet]})
    app = one_digital_app()
    decide([app], rules, claimed)
    findings = claimed[0][0].findings
    [foreign] = codes_of(findings, "points-not-applicable")
    assert foreign.params["indicators"] == "L3P1" and foreign.params["park_type"] == DIGITAL
    [missing] = codes_of(findings, "points-incomplete")
    assert missing.params["count"] == 6 and missing.params["indicators"].startswith("L6P1")
    # the six L6 indicators no sheet states get the default, said on the park
    [default] = codes_of(app.findings, "score-default-points")
    assert default.params["defaulted"] == 6


def test_stated_points_adding_up_to_something_else_bring_the_total_to_100(rules):
    points = {**R.POINTS[DIGITAL], "L1P1": 12}  # 110 in all
    parks = {"甲园区": dict(points)}  # full marks everywhere
    claimed = raw_claim(rules, {"专家评分_甲.xlsx": [stated_sheet("评分", f"{DIGITAL} 评审专家：甲", points, parks=parks)]})
    app = one_digital_app()
    decide([app], rules, claimed)
    assert app.score == 100.0
    [off] = codes_of(app.findings, "score-points-sum")
    assert (off.params["sum"], off.params["total"]) == ("110", "100")
    assert codes_of(claimed[0][0].findings, "points-sum")


def test_a_file_holding_only_the_points_table_states_them(rules):
    rows: list[list[Any]] = [["本轮评分标准分值表"], ["指标编号", "指标名称", f"分值（{DIGITAL}）", f"分值（{INDUSTRIAL}）"]]
    rows += [[c, f"指标{c}", R.POINTS[DIGITAL].get(c, "/"), R.POINTS[INDUSTRIAL].get(c, "/")] for c in R.CODES]
    claimed = raw_claim(rules, {"评分标准分值表.xlsx": [RawSheet("分值", rows)]})
    out = decide([one_digital_app()], rules, claimed)
    by_type = out["park_scoring"]["points"]["by_type"]
    assert by_type[DIGITAL]["maxima"] == R.POINTS[DIGITAL] and by_type[INDUSTRIAL]["maxima"] == R.POINTS[INDUSTRIAL]


def test_type_words_find_one_type_or_none(rules):
    st = park.settings_of(rules)
    assert st.type_in("分值（数字产业化园区）") == DIGITAL
    assert st.type_in("标准分（产业数字化）") == INDUSTRIAL
    assert st.type_in("产数") == INDUSTRIAL and st.type_in("产数园区评分") is None  # short words only alone
    assert st.type_in(f"{DIGITAL}、{INDUSTRIAL}评分表") is None
    assert st.type_in("分值") is None


# ---------------------------------------------------------------------------------------- what the city is told
@pytest.mark.parametrize("release", [True, False])
def test_the_result_a_city_is_told(tmp_path, round_files, release):
    text = PARK_TEXT if release else changed(PARK_TEXT, "results = true", "results = false")
    rules = with_rules(tmp_path, text)
    apps = by_name(apps_of_round())
    apps["济南产数园甲"].status = "needs_review"
    decide(list(apps.values()), rules, claim(round_files, rules))
    result = {name: app.outcome.result for name, app in apps.items()}
    columns = {c.key: c for c in park.ParkProgram(rules).outcome_columns()}
    released = {name: columns["subsidy_released"].value(app) for name, app in apps.items()}
    # the department's tier and ceiling are the same either way
    assert apps["济南数字园甲"].outcome.tier == "示范型" and apps["济南数字园甲"].outcome.subsidy == 200
    if release:
        assert result == {"济南数字园甲": "示范型", "青岛数字园乙": "入库型",
                          "济南产数园甲": "成长型（暂定，待专家研判通过后认定）",
                          "青岛产数园乙": "未达到认定分数线，不予认定"}
        assert released == {"济南数字园甲": 200, "青岛数字园乙": None, "济南产数园甲": 150, "青岛产数园乙": None}
    else:
        assert set(result.values()) == {"认定结果经审定后另行通知"}
        assert set(released.values()) == {None}
    assert all(not a.outcome.released for a in apps.values()) is (not release)


def test_a_park_above_the_line_without_the_aspects_is_told_it_is_not_recognised(rules):
    points = dict(R.POINTS[DIGITAL])
    share = {"L1": 1, "L2": 0.7, "L4": 0.7, "L5": 0.5, "L6": 0.5}  # 10 + 21 + 17.5 + 7.5 + 10 = 66
    parks = {"甲园区": {c: v * share[c[:2]] for c, v in points.items()}}
    claimed = raw_claim(rules, {"专家评分_甲.xlsx": [stated_sheet("评分", f"{DIGITAL} 评审专家：甲", points, parks=parks)]})
    app = one_digital_app()
    decide([app], rules, claimed)
    assert app.score == 66.0 and app.outcome.tier is None
    assert app.outcome.result == "未达到认定条件（表现优异方面不足），不予认定"
    assert codes_of(app.findings, "tier-aspects-short")


def test_no_score_yet_is_not_read_as_recognised(rules):
    app = one_digital_app()
    decide([app], rules, [])
    assert app.status == "eligible" and app.score is None and app.outcome.result == "待专家评审"


@pytest.mark.parametrize("where", ["above the codes", "type in its own column"])
def test_more_places_for_a_row_of_points(rules, where):
    codes = list(R.POINTS[DIGITAL])
    maxima = [R.POINTS[DIGITAL][c] for c in codes]
    full = {"甲园区": dict(R.POINTS[DIGITAL])}
    if where == "above the codes":  # 满分 row between the title and the header of codes
        rows: list[list[Any]] = [[f"评分表（{DIGITAL}） 评审专家：甲"], [None, "满分", *maxima], ["序号", "园区名称", *codes]]
    else:  # one sheet, a 类型 column saying which type the 分值 row is for
        rows = [["评审专家：甲"], ["序号", "园区名称", "园区类型", *codes], [None, "分值", DIGITAL, *maxima]]
    for i, (name, pts) in enumerate(full.items(), 1):
        rows.append([i, name, *([DIGITAL] if where != "above the codes" else []), *[pts[c] for c in codes]])
    claimed = raw_claim(rules, {"专家评分_甲.xlsx": [RawSheet("评分", rows)]})
    [stated] = claimed[0][1].sheets[0].stated
    assert stated.park_type == DIGITAL
    app = one_digital_app()
    out = decide([app], rules, claimed)
    assert out["park_scoring"]["points"]["by_type"][DIGITAL]["maxima"] == R.POINTS[DIGITAL]
    assert app.score == 100.0 and [r.park for r in claimed[0][1].sheets[0].rows] == ["甲园区"]


def test_the_note_names_four_sheets_and_says_there_are_more() -> None:
    """认定名单 说明: five sheets stated the points; four are named, then 等, then the count."""
    from sdbatch.programs.park import points_text
    from sdbatch.programs.park_points import PointsTable
    from sdbatch.programs.park_settings import settings_of
    from sdbatch.rules import load

    st = settings_of(load("park_2024"))
    sheets = [f"评分表{n}.xlsx/评分" for n in range(1, 6)]
    table = PointsTable(maxima={t: {"a": 100.0} for t in st.park_types},
                        sources={t: {"a": "sheets"} for t in st.park_types},
                        sheets={t: list(sheets) for t in st.park_types}, expected_total=100.0)
    note = points_text(table, st)
    assert "评分表4.xlsx/评分等" in note and "评分表5.xlsx" not in note and "共5张" in note
    table.sheets = {t: sheets[:4] for t in st.park_types}
    assert "等" not in points_text(table, st).split("共4张")[0].split("评分表4.xlsx/评分")[1]
