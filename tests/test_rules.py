"""Rules files: loading, `sdbatch rules check` problems, `rules show`, and a new round without code."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from sdbatch.cli import main
from sdbatch.model import RulesInvalid
from sdbatch.rules import bundled, load
from sdbatch.rules_report import display_width, list_text, show_text
from sdbatch.template import DATA_SHEET, FIRST_DATA_ROW, write_templates

CLUSTER = bundled()["cluster_2024"]
TEXT = CLUSTER.read_text(encoding="utf-8")

REVENUE = '''id = "revenue-total"
field = "revenue_total"
op = ">="
threshold = 50
'''
RD_RATIO = '''id = "rd-ratio"
field = "rd_ratio"
op = ">="
threshold = 3
'''


def changed(old: str, new: str, text: str = TEXT) -> str:
    assert text.count(old) == 1, f"not exactly once in the rules file: {old!r}"
    return text.replace(old, new)


def problems_of(tmp_path: Path, text: str) -> tuple[list[str], str]:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesInvalid) as info:
        load(path)
    assert info.value.path == str(path)
    return info.value.problems, str(path)


def test_bundled_rules_load() -> None:
    rules = load("cluster_2024")
    assert rules.name == "cluster_2024" and rules.quota_for("济南市") == 3 and rules.quota_for("淄博市") == 2
    assert load(CLUSTER).name == "cluster_2024"


BAD = {
    "toml-syntax": (
        lambda: changed('version = "2024.1"', 'version = "2024.1'),
        ["TOML 语法错误（第11行", "引号没有配对"],
    ),
    "unknown-key-in-field": (
        lambda: changed('[fields.revenue_total]\nlabel', '[fields.revenue_total]\ntreshold = 5\nlabel'),
        ["[fields.revenue_total]: 未知的键“treshold”"],
    ),
    "unknown-key-in-condition": (
        lambda: changed(REVENUE, REVENUE + "threshhold = 60\n"),
        ["[[conditions]] 第6条（revenue-total）: 未知的键“threshhold”"],
    ),
    "unknown-key-in-quota": (
        lambda: changed("default = 2\n", "defualt = 2\ndefault = 2\n"),
        ["[quota]: 未知的键“defualt”"],
    ),
    "unknown-top-table": (
        lambda: TEXT + '\n[qouta]\ndefault = 1\n',
        ["顶层: 未知的表“[qouta]”"],
    ),
    "missing-clause": (
        lambda: changed('severity = "relaxable"\nclause = "三(二)"\ntext = "集群数字产业', 'severity = "relaxable"\ntext = "集群数字产业'),
        ["[[conditions]] 第6条（revenue-total）: 缺少条款引用“clause”"],
    ),
    "missing-quota-clause": (
        lambda: changed('clause = "四(二)"\ndefault = 2', 'default = 2'),
        ["[quota]: 缺少条款引用“clause”"],
    ),
    "missing-expert-item-clause": (
        lambda: changed('clause = "三(五)"\ntext = "服务体系健全', 'text = "服务体系健全'),
        ["[[expert_items]] 第2条: 缺少条款引用“clause”"],
    ),
    "negative-threshold": (
        lambda: changed(REVENUE, REVENUE.replace("50", "-50")),
        ["[[conditions]] 第6条（revenue-total）.threshold: 门槛 -50 不可能（不应为负）"],
    ),
    "ratio-over-100": (
        lambda: changed(RD_RATIO, RD_RATIO.replace("= 3", "= 120")),
        ["[[conditions]] 第12条（rd-ratio）.threshold: 比重门槛 120% 超过100%，不可能达到"],
    ),
    "negative-threshold-in-any-of": (
        lambda: changed('{ field = "provincial_platforms", op = ">=", threshold = 3 }',
                        '{ field = "provincial_platforms", op = ">=", threshold = -3 }'),
        ["[[conditions]] 第10条（platforms）.any_of 第2项.threshold: 门槛 -3 不可能（不应为负）"],
    ),
    "unknown-field-in-condition": (
        lambda: changed(REVENUE, REVENUE.replace('field = "revenue_total"', 'field = "revenue_totl"')),
        ["[[conditions]] 第6条（revenue-total）.field: 字段“revenue_totl”未在 [fields] 中定义"],
    ),
    "unknown-field-in-any-of": (
        lambda: changed('{ field = "national_platforms", op = ">=", threshold = 1 }',
                        '{ field = "national_platform", op = ">=", threshold = 1 }'),
        ["[[conditions]] 第10条（platforms）.any_of 第1项.field: 字段“national_platform”未在 [fields] 中定义"],
    ),
    "unknown-key-in-any-of": (
        lambda: changed('{ field = "national_platforms", op = ">=", threshold = 1 }',
                        '{ field = "national_platforms", op = ">=", threshold = 1, unit = "个" }'),
        ["[[conditions]] 第10条（platforms）.any_of 第1项: 未知的键“unit”"],
    ),
    "unknown-field-in-score": (
        lambda: changed('{ field = "ip_total", weight = 15', '{ field = "ip_totals", weight = 15'),
        ["[score].indicators 第7项.field: 字段“ip_totals”未在 [fields] 中定义"],
    ),
    "unknown-field-in-tie-break": (
        lambda: changed('tie_break = ["revenue_total", "ip_total"]', 'tie_break = ["revenue", "ip_total"]'),
        ["[score].tie_break 第1项: 字段“revenue”未在 [fields] 中定义"],
    ),
    "unknown-relaxable-industry": (
        lambda: changed('industries = ["集成电路", "人工智能"]', 'industries = ["集成电路", "人工智慧"]'),
        ["[relaxation].industries 第2项: “人工智慧”不在分组字段“industry”的选项中"],
    ),
    "unknown-city-in-quota": (
        lambda: changed('"济南市" = 3, "青岛市" = 3', '"济南市" = 3, "莱芜市" = 1'),
        ["[quota].cities.莱芜市: “莱芜市”不是山东省16市之一"],
    ),
    "bad-deadline": (
        lambda: changed('date = "2024-06-28"', 'date = "2024-06-31"'),
        ['[deadline].date: "2024-06-31" 不是日期'],
    ),
    "bad-severity": (
        lambda: changed('severity = "soft"   # 三(二)', 'severity = "mild"   # 三(二)'),
        ['[[conditions]] 第7条（leading-firms）.severity: "mild" 不是可用的值'],
    ),
    "conditions-as-table": (
        lambda: TEXT.replace("[[conditions]]", "[conditions]", 1).split("[[conditions]]")[0],
        ["[[conditions]]: 应为表的数组"],
    ),
    "threshold-as-text": (  # the example of docs/new-round.md
        lambda: changed(REVENUE, REVENUE.replace("threshold = 50", 'threshold = "50"')),
        ['[[conditions]] 第6条（revenue-total）.threshold: 应为数字（写的是 "50"）'],
    ),
    "bool-value-not-bool": (
        lambda: changed('field = "legal_person"\nop = "=="\nvalue = true', 'field = "legal_person"\nop = "=="\nvalue = "是"'),
        ["[[conditions]] 第3条（legal-person）.value: “legal_person”是 是/否 字段，value 应为 true 或 false"],
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_check_finds_problem_and_place(case: str, tmp_path: Path) -> None:
    make, expected = BAD[case]
    problems, _ = problems_of(tmp_path, make())
    joined = "\n".join(problems)
    for fragment in expected:
        assert fragment in joined, f"{fragment!r} not in:\n{joined}"


def test_several_problems_are_listed_together(tmp_path: Path) -> None:
    text = changed(REVENUE, REVENUE.replace("50", "-50"))
    text = changed(RD_RATIO, RD_RATIO.replace("= 3", "= 150"), text)
    problems, _ = problems_of(tmp_path, text)
    assert len(problems) == 2


def test_cli_check_bad_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "BAD.toml"
    bad.write_text(changed(REVENUE, REVENUE.replace('"revenue_total"', '"revenue_totl"').replace("50", "-1")),
                   encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "check", str(bad)])
    assert result.exit_code == 2
    assert "BAD.toml" in result.output
    assert "字段“revenue_totl”未在 [fields] 中定义" in result.output


def test_cli_check_good_file_exits_0() -> None:
    result = CliRunner().invoke(main, ["rules", "check", str(CLUSTER)])
    assert result.exit_code == 0, result.output
    assert "规则文件有效" in result.output


def test_cli_show_and_list() -> None:
    shown = CliRunner().invoke(main, ["rules", "show", "cluster_2024"])
    assert shown.exit_code == 0, shown.output
    assert "集群数字产业相关规上企业年营业收入总额应在50亿元以上" in shown.output
    listed = CliRunner().invoke(main, ["rules", "list"])
    assert listed.exit_code == 0 and "cluster_2024" in listed.output and "鲁工信电子〔2024〕122号" in listed.output
    unknown = CliRunner().invoke(main, ["rules", "show", "cluster_1999"])
    assert unknown.exit_code == 2 and "cluster_2024" in unknown.output


def test_list_text_names_every_bundled_file() -> None:
    text = list_text()
    for name in bundled():
        assert name in text


def test_show_text_prints_every_rule() -> None:
    rules = load("cluster_2024")
    text = show_text("cluster_2024")
    for f in rules.fields.values():
        assert f.id in text and f.label in text
    for c in rules.conditions:
        assert c.id in text and c.text in text
    for words in ("≥ 50", "≥ 1000", "≥ 3", "亿元", "硬性", "原则上", "可放宽", "提示", "三(二)", "三(七)",
                  "集成电路、人工智能", "济南市", "其他市", "2024年6月28日", "权重", "30", "发展定位清晰"):
        assert words in text, words


def test_show_text_columns_are_aligned() -> None:
    lines = show_text("cluster_2024").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("审核条件"))
    header, rule = lines[start + 1], lines[start + 2]
    # the 5th column (性质) starts at the same display position in the header and every row
    col = display_width(header[: header.index("性质")])
    for line in lines[start + 3: start + 8]:
        cut = next(i for i in range(len(line) + 1) if display_width(line[:i]) >= col)
        assert line[cut:].split()[0] in ("硬性", "原则上", "可放宽", "提示"), line
    assert set(rule.strip()) <= {"-", " "}


def test_new_round_without_code(tmp_path: Path) -> None:
    """docs/new-round.md: copy the rules file, change it, check it, make its template."""
    text = changed('name = "cluster_2024"', 'name = "cluster_2025"')
    text = changed('version = "2024.1"', 'version = "2025.1"', text)
    text = changed(REVENUE, REVENUE.replace("50", "60"), text)
    text = changed("应在50亿元以上", "应在60亿元以上", text)
    text = changed('"济南市" = 3', '"济南市" = 4', text)
    text = changed('date = "2024-06-28"', 'date = "2025-07-15"', text)
    new = tmp_path / "cluster_2025.toml"
    new.write_text(text, encoding="utf-8")

    runner = CliRunner()
    checked = runner.invoke(main, ["rules", "check", str(new)])
    assert checked.exit_code == 0, checked.output
    assert "cluster_2025" in checked.output

    rules = load(new)
    assert rules.quota_for("济南市") == 4 and rules.quota_for("青岛市") == 3
    shown = show_text(new)
    assert "≥ 60" in shown and "应在60亿元以上" in shown and "≥ 50" not in shown
    assert any(line.split() == ["济南市", "4"] for line in shown.splitlines())
    assert "2025年7月15日" in shown

    made = runner.invoke(main, ["template", "--program", str(new), "-o", str(tmp_path / "out")])
    assert made.exit_code == 0, made.output
    path = tmp_path / "out" / "cluster_2025_汇总表模板.xlsx"
    ws = openpyxl.load_workbook(path)[DATA_SHEET]
    prompts = {str(dv.sqref).split(":")[0]: dv for dv in ws.data_validations.dataValidation}
    order = prompts[f"A{FIRST_DATA_ROW + 1}"]
    assert order.formula1 == "1"
    assert '"济南市"),4,' in order.formula2  # Jinan may now recommend 4
    assert any(dv.prompt and "≥ 60亿元" in dv.prompt for dv in prompts.values())
    assert write_templates(str(new), tmp_path / "again.xlsx")[0].read_bytes() == path.read_bytes()
