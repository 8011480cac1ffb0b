"""Every key of both bundled rules files, misspelt or given a wrong type (nan and infinity for
numbers), makes ``sdbatch rules check`` exit 2 and name the key's place (issues 11, 13, 15)."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from click.testing import CliRunner

from sdbatch.cli import main
from sdbatch.programs import park
from sdbatch.programs.base import Program
from sdbatch.rules import bundled, load
from sdbatch.tomlschema import Strict

BUNDLED: dict[str, dict[str, Any]] = {name: tomllib.loads(path.read_text(encoding="utf-8"))
                                      for name, path in bundled().items()}
TOP_ARRAYS = {"conditions", "expert_items"}  # [[conditions]]: their items are counted 第N条
# Tables whose keys the author chooses (field ids, list names, cities, groups, aspects): a changed key
# there is another name, checked where it is used, not a misspelt key of the schema.
FREE_KEYS = {("fields",), ("choices",), ("choices", "*", "variants"), ("quota", "cities"), ("park", "groups"),
             ("park", "aspects")}

Path_ = tuple[str | int, ...]


def keys_of(node: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    """(path, value) of every key of every table, tables inside arrays included."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, key), value
            yield from keys_of(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, dict):
                yield from keys_of(value, (*path, i))


def _shape(path: Path_) -> tuple[str, ...]:
    out: list[str] = []
    for i, part in enumerate(path):
        if isinstance(part, int):
            out.append("#")
        elif i > 0 and path[i - 1] == "choices":
            out.append("*")
        else:
            out.append(part)
    return tuple(out)


def wrong_values(value: Any) -> list[tuple[str, Any]]:
    """Values of a wrong type for a key holding ``value``; nan and ±inf for a number."""
    if isinstance(value, bool):
        return [("text", "yes")]
    if isinstance(value, (int, float)):
        return [("text", "12"), ("nan", math.nan), ("inf", math.inf), ("-inf", -math.inf)]
    if isinstance(value, str):
        return [("number", 12)]
    return [("text", "x")]  # a list or a table


def _kind_of(path: Path_) -> tuple[str, ...]:
    """The path with array indices and author-chosen names generalised: one entry per key of the
    schema (every field is a table of the same kind, every condition too…)."""
    out: list[str] = []
    for i, part in enumerate(path):
        prefix = _shape(path[:i])
        out.append("#" if isinstance(part, int) else "*" if prefix in FREE_KEYS else str(part))
    return tuple(out)


def _last(raw: dict[str, Any], path: Path_) -> bool:
    """Whether ``path`` runs through the last item of an array (to check the counting)."""
    node: Any = raw
    for part in path:
        if isinstance(part, int) and part == len(node) - 1 and part > 0:
            return True
        node = node[part]
    return False


CASES: list[Any] = []
_seen: set[tuple[str, tuple[str, ...], str]] = set()
for _name, _raw in BUNDLED.items():
    for _path, _value in keys_of(_raw):
        _id = f"{_name}:" + ".".join(str(p) for p in _path)
        _kinds = [("misspelt", None)] if isinstance(_path[-1], str) and _shape(_path[:-1]) not in FREE_KEYS else []
        for _kind, _bad in _kinds + wrong_values(_value):
            _key = (_name, _kind_of(_path), _kind)
            if _key in _seen and not _last(_raw, _path):
                continue
            _seen.add(_key)
            CASES.append(pytest.param(_name, _path, _kind, _bad, id=f"{_id}~{_kind}"))


def place_tokens(path: Path_) -> list[str]:
    """What a line must name, in order: the tables and keys of ``path``, items as 第N条/第N项."""
    out: list[str] = []
    for i, part in enumerate(path):
        if isinstance(part, int):
            out.append(f"第{part + 1}条" if i == 1 and path[0] in TOP_ARRAYS else f"第{part + 1}项")
        else:
            out.append(part)
    return out


def names_place(output: str, tokens: list[str]) -> bool:
    for line in output.splitlines():
        at = 0
        for token in tokens:
            at = line.find(token, at)
            if at < 0:
                break
            at += len(token)
        else:
            return True
    return False


def mutated(raw: dict[str, Any], path: Path_, kind: str, bad: Any) -> tuple[dict[str, Any], str]:
    """A deep copy of ``raw`` with the key at ``path`` renamed or its value replaced."""
    copy = deepcopy(raw)
    node: Any = copy
    for part in path[:-1]:
        node = node[part]
    key = path[-1]
    if kind == "misspelt":
        new_key = f"{key}x"
        node[new_key] = node.pop(key)
        return copy, new_key
    node[key] = bad
    return copy, str(key)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mutated")


RUNNER = CliRunner()


@pytest.mark.parametrize(("name", "path", "kind", "bad"), CASES)
def test_every_key_misspelt_or_mistyped_is_refused_with_its_place(folder: Path, name: str, path: Path_,
                                                                  kind: str, bad: Any) -> None:
    raw, key = mutated(BUNDLED[name], path, kind, bad)
    target = folder / f"{name}_{abs(hash((path, kind))):x}.toml"
    target.write_text(tomli_w.dumps(raw), encoding="utf-8")
    result = RUNNER.invoke(main, ["rules", "check", str(target)])
    out = result.output
    assert result.exit_code == 2, out
    assert "程序内部错误" not in out and "Traceback" not in out, out
    tokens = place_tokens(path[:-1]) + [key] if kind == "misspelt" else place_tokens(path)
    assert names_place(out, tokens), f"{tokens} not named in one line of:\n{out}"


def test_the_cases_cover_every_table_of_both_files() -> None:
    """The walk above reaches every table of both files (a guard against a walk that finds nothing)."""
    shapes = {_shape(p[:-1]) for _, p, *_ in (c.values for c in CASES)}
    for expected in [(), ("program",), ("program", "roles"), ("deadline",), ("quota",), ("relaxation",),
                     ("wording",), ("choices", "*"), ("fields", "revenue_total"), ("fields", "rd_ratio", "derive"),
                     ("conditions", "#"), ("conditions", "#", "any_of", "#"), ("expert_items", "#"), ("score",),
                     ("score", "indicators", "#"), ("report",), ("park",), ("park", "whole_zone"),
                     ("park", "scoring"), ("park", "excellent"), ("park", "tiers", "#"), ("park", "subsidy"),
                     ("park", "standard"), ("park", "standard", "indicators", "#")]:
        assert expected in shapes, expected
    assert len(CASES) > 300


# ----------------------------------------------------------------------------- helpers for the tests below
CLUSTER_TEXT = bundled()["cluster_2024"].read_text(encoding="utf-8")
PARK_TEXT = bundled()["park_2024"].read_text(encoding="utf-8")


def changed(text: str, *pairs: tuple[str, str]) -> str:
    for old, new in pairs:
        assert text.count(old) == 1, f"not exactly once: {old!r}"
        text = text.replace(old, new)
    return text


def check(tmp_path: Path, text: str, name: str = "round.toml") -> tuple[int, str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = RUNNER.invoke(main, ["rules", "check", str(path)])
    return result.exit_code, result.output


def problems(tmp_path: Path, text: str) -> list[str]:
    code, out = check(tmp_path, text)
    assert code == 2, out
    assert "程序内部错误" not in out and "Traceback" not in out
    return [line.strip()[2:] for line in out.splitlines() if line.strip().startswith("- ")]


# ----------------------------------------------------------------------------- [choices.<name>]
SCALES = '''
[choices.scales]
clause = "三(一)"
allowed = ["大型", "中型", "小型"]

[choices.scales.variants]
"大型" = ["大", "大规模"]

[fields.scale]
label = "集群规模"
type = "choice"
choices = "scales"
aliases = ["集群规模", "规模"]
'''


def test_a_new_choice_list_is_read_like_the_bundled_ones(tmp_path: Path) -> None:
    import openpyxl

    from sdbatch.batch import RunOptions, evaluate
    from tests.decision_builders import COLUMNS, header_label, row

    path = tmp_path / "cluster_scales.toml"
    path.write_text(CLUSTER_TEXT + SCALES, encoding="utf-8")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([header_label(c) for c in COLUMNS] + ["集群规模"])
    for i, scale in enumerate(["大规模", "中型", "微型"], 1):
        values = row(city_order=i, name=f"济南规模测试第{i}集群", city="济南市")
        ws.append([values[c] for c in COLUMNS] + [scale])
    wb.save(inbox / "济南市汇总表.xlsx")
    result = evaluate(inbox, RunOptions(out_dir=tmp_path / "out", now="2024-06-27T10:00:00", rules_files=(path,),
                                        mail_mode="none"), run_id="t")
    by_name = {a.name: a for a in result.applications}
    first, second, third = (by_name[f"济南规模测试第{i}集群"] for i in (1, 2, 3))
    assert first.values["scale"] == "大型" and "industry-normalised" in {f.code for f in first.findings}
    assert second.values["scale"] == "中型"
    [unknown] = [f for f in third.findings if f.field == "scale"]
    assert unknown.code == "unknown-choice" and unknown.params["allowed"] == "大型、中型、小型"
    assert unknown.clause == "三(一)"  # the list's own clause, the field having none


def test_choice_list_problems_are_placed(tmp_path: Path) -> None:
    text = CLUSTER_TEXT + SCALES.replace('"大型" = ["大", "大规模"]', '"特大型" = ["特大"]').replace(
        'choices = "scales"', 'choices = "scale"')
    text = changed(text, ('unknown_code = "unknown-industry"', 'unknown_code = "unknown-industy"'))
    found = problems(tmp_path, text)
    assert "[choices.scales].variants.特大型: “特大型”不在 [choices.scales].allowed 中" in found
    assert any(p.startswith("[fields.scale].choices: 应指向已定义的选项表") for p in found)
    assert "[choices.industries].unknown_code: 没有代码为“unknown-industy”的审核发现（见 docs/findings.md）" in found


def test_the_old_choice_tables_are_refused_with_a_hint(tmp_path: Path) -> None:
    text = changed(CLUSTER_TEXT, ("[choices.industries]\n", "[industries]\n"),
                   ("[choices.industries.variants]", "[industries.variants]"))
    found = problems(tmp_path, text)
    assert any(p.startswith("顶层: 未知的表“[industries]”") for p in found)
    assert any(p.startswith("[fields.industry].choices: 应指向已定义的选项表") for p in found)


# ----------------------------------------------------------------------------- a program's own table
def test_a_section_of_a_program_that_does_not_declare_it_is_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, CLUSTER_TEXT + '\n[park]\nclause_tier = "第九条"\n')
    assert found == ["[park]: 这是类别“park”的设置表，本规则文件的类别是“cluster”，不能使用"]
    found = problems(tmp_path, CLUSTER_TEXT + '\n[award]\namount = 5\n')
    assert [p for p in found if p.startswith("顶层: 未知的表“[award]”")]


class AwardSection(Strict):
    amount: float
    clause: str = "第三条"


class AwardProgram(Program):
    """A program defined outside sdbatch, with its own table ``[award]``."""

    kind = "award"
    section = "award"
    section_model = AwardSection


def test_a_program_outside_sdbatch_validates_its_own_table(tmp_path: Path) -> None:
    text = changed(CLUSTER_TEXT, ('kind = "cluster"', 'kind = "award"\nmodule = "tests.test_rules_schema:AwardProgram"'))
    path = tmp_path / "award.toml"
    path.write_text(text + "\n[award]\namount = 5\n", encoding="utf-8")
    rules = load(path)
    assert isinstance(rules.section, AwardSection) and rules.section.amount == 5 and rules.section.clause == "第三条"
    found = problems(tmp_path, text + '\n[award]\namount = "五"\nclaus = "x"\n')
    assert '[award].amount: 应为数字（写的是 "五"）' in found
    assert "[award]: 未知的键“claus”，是否应为“clause”？" in found
    missing = changed(text, ('module = "tests.test_rules_schema:AwardProgram"', 'module = "tests.nowhere:Award"'))
    assert '[program].module: 找不到程序“tests.nowhere:Award”（module 写作 "包.模块:类名"）' in problems(tmp_path, missing)


# ----------------------------------------------------------------------------- [park]: tiers, groups, maxima
def test_a_tier_renamed_in_one_place_only(tmp_path: Path) -> None:
    twice = changed(PARK_TEXT, ('name = "成长型"', 'name = "示范型"'))
    assert "[park].tiers 第2项.name: “示范型”重复" in problems(tmp_path, twice)
    key = changed(PARK_TEXT, ('name = "成长型"', 'nme = "成长型"'))
    found = problems(tmp_path, key)
    assert "[park].tiers 第2项: 未知的键“nme”，是否应为“name”？" in found and "[park].tiers 第2项: 缺少“name”" in found
    # a tier renamed where it is defined but not where [history.upgrade] names it is reported there
    alone = problems(tmp_path, changed(PARK_TEXT, ('name = "成长型"', 'name = "发展型"')))
    assert "[history.upgrade].order 第2项: 没有名为“成长型”的档次（[[park.tiers]] 中有：示范型、发展型、入库型）" in alone
    # renamed in both places, the round uses the new name
    path = tmp_path / "renamed.toml"
    path.write_text(changed(PARK_TEXT, ('name = "成长型"', 'name = "发展型"'),
                            ('order = ["入库型", "成长型", "示范型"]', 'order = ["入库型", "发展型", "示范型"]'),
                            ('from_tiers = ["入库型", "成长型"]', 'from_tiers = ["入库型", "发展型"]')), encoding="utf-8")
    assert [t.name for t in park.settings_of(load(path)).tiers] == ["示范型", "发展型", "入库型"]


def test_groups_aspects_and_tier_aspects_are_cross_checked(tmp_path: Path) -> None:
    text = changed(PARK_TEXT, ('L6 = "建设成效"', 'L7 = "建设成效"'), ("min_aspects = 4", "min_aspects = 5"))
    found = problems(tmp_path, text)
    assert "[park].aspects.辐射带动能力 第1项: 指标组“L6”未在 [park.groups] 中定义" in found
    assert "[park.standard].indicators 第53项.code: 指标组“L6”未在 [park.groups] 中定义" in found
    assert "[park].tiers 第1项.min_aspects: 要求 5 个方面表现优异，但 [park.aspects] 只有 4 个方面" in found


def test_indicator_codes_and_types_are_checked(tmp_path: Path) -> None:
    text = changed(PARK_TEXT, ('{ code = "L1P2",', '{ code = "L1P1",'), ('{ code = "L1P3",', '{ code = "X1P3",'),
                   ('{ code = "L2P10", name = "数字经济核心产业规上企业数量", types = ["数字产业化园区"] }',
                    '{ code = "L2P10", name = "数字经济核心产业规上企业数量", types = ["数字园区"] }'))
    found = problems(tmp_path, text)
    assert "[park.standard].indicators 第2项.code: “L1P1”重复" in found
    assert "[park.standard].indicators 第3项.code: 指标编号“X1P3”不符合 code_pattern（^L([1-9])P([0-9]{1,2})）" in found
    assert "[park.standard].indicators 第19项.types 第1项: “数字园区”不在类型选项（数字产业化园区、产业数字化园区）中" in found
    bad_pattern = changed(PARK_TEXT, ('code_pattern = "^L([1-9])P([0-9]{1,2})"', 'code_pattern = "^L[1-9"'))
    assert any(p.startswith("[park.scoring].code_pattern: 不是有效的正则表达式") for p in problems(tmp_path, bad_pattern))


L1P1 = '{ code = "L1P1", name = "网络覆盖情况", types = ["数字产业化园区", "产业数字化园区"] }'


def per_type(max_text: str) -> str:
    return changed(PARK_TEXT, (L1P1, L1P1[:-2] + f", max = {max_text} }}"))


@pytest.mark.parametrize(("max_text", "expected"), [
    ('{ "数字产业化园区" = 2.5 }', "[park.standard].indicators 第1项.max: 分值表缺少类型“产业数字化园区”（该指标适用于此类型）"),
    ('{ "数字产业化园区" = 2.5, "产业数字化园区" = 2, "其他园区" = 1 }',
     "[park.standard].indicators 第1项.max.其他园区: “其他园区”不在类型选项（数字产业化园区、产业数字化园区）中"),
    ("-1", "[park.standard].indicators 第1项.max: 应为正数，或每种类型一个正数的表"),
    ('"5"', "[park.standard].indicators 第1项.max: 应为正数，或每种类型一个正数的表"),
    ('{ "数字产业化园区" = nan, "产业数字化园区" = 2 }', "[park.standard].indicators 第1项.max: 应为正数"),
    ('{ "数字产业化园区" = true, "产业数字化园区" = 2 }', "[park.standard].indicators 第1项.max: 应为正数"),
])
def test_a_maximum_per_type_is_checked(tmp_path: Path, max_text: str, expected: str) -> None:
    found = problems(tmp_path, per_type(max_text))
    assert any(p.startswith(expected) for p in found), found


def test_a_maximum_per_type_scores_each_type_out_of_its_own_points(tmp_path: Path) -> None:
    from sdbatch.model import RawSheet
    from tests.test_parks import DIGITAL, INDUSTRIAL, make_app, run, sheet_rows

    path = tmp_path / "per_type.toml"
    path.write_text(per_type('{ "数字产业化园区" = 4, "产业数字化园区" = 2 }'), encoding="utf-8")
    rules = load(path)
    st = park.settings_of(rules)
    ind = st.indicators["L1P1"]
    assert (ind.max_for(DIGITAL), ind.max_for(INDUSTRIAL), ind.explicit) == (4, 2, True)
    assert st.indicators["L1P2"].max_for(INDUSTRIAL) == 10 and not st.indicators["L1P2"].explicit
    digital, industrial = make_app("甲园区", DIGITAL, n=1), make_app("乙园区", INDUSTRIAL, n=2)
    sheet = RawSheet("专家1", sheet_rows({"甲园区": {"L1P1": 3, "L1P2": 0, "L1P3": 0, "L1P4": 0, "L1P5": 0},
                                          "乙园区": {"L1P1": 3, "L1P2": 0, "L1P3": 0, "L1P4": 0, "L1P5": 0}}))
    run([digital, industrial], rules, [("园区_专家1.xlsx", [sheet])])
    assert not [f for f in digital.findings if f.code == "score-above-max"]
    [above] = [f for f in industrial.findings if f.code == "score-above-max"]
    assert above.params["indicator"] == "L1P1" and above.params["max"] == "2"
    # each type's total is out of its own maxima: 45 × 10 + 4 and 55 × 10 + 2
    assert digital.score == round(100 * 3 / (45 * 10 + 4), 2)
    assert industrial.score == round(100 * 2 / (55 * 10 + 2), 2)


def test_a_round_without_indicators_runs(tmp_path: Path) -> None:
    """Found by mutating the rules file: an empty indicator list passes the check; the run must not
    divide by the sum of no maxima when the city's preliminary sheet and the experts' are compared."""
    from sdbatch.model import RawSheet
    from tests.test_parks import DIGITAL, make_app, run, sheet_rows

    start, end = PARK_TEXT.index("[park.standard]\nindicators = ["), PARK_TEXT.index("\n]", PARK_TEXT.index(
        "[park.standard]\nindicators = ["))
    path = tmp_path / "no_indicators.toml"
    path.write_text(PARK_TEXT[:start] + "[park.standard]\nindicators = []" + PARK_TEXT[end + 2:], encoding="utf-8")
    rules = load(path)
    assert park.settings_of(rules).indicators == {}
    app = make_app("甲园区", DIGITAL)
    points = {"甲园区": {f"L1P{i}": 5 for i in range(1, 7)}}
    run([app], rules, [("园区_专家1.xlsx", [RawSheet("专家1", sheet_rows(points))]),
                       ("园区_济南市_市级初审评分.xlsx", [RawSheet("市级初审", sheet_rows(points, title="市级初审评分"))])])
    assert app.score == 0.0 and "city-score-gap" not in {f.code for f in app.findings}
