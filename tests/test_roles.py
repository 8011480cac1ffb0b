"""Field roles and the jurisdiction are data of the rules file: a round whose name and order fields
have other ids, and a round of another province, run end to end without code."""

from __future__ import annotations

import email
import json
from email import policy
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from sdbatch.cli import main
from sdbatch.jurisdiction import jurisdiction_of
from sdbatch.rules import bundled, load
from tests.decision_builders import NOW, city_file, row

CLUSTER_TEXT = bundled()["cluster_2024"].read_text(encoding="utf-8")


def changed(text: str, *pairs: tuple[str, str]) -> str:
    for old, new in pairs:
        assert text.count(old) == 1, f"not exactly once: {old!r}"
        text = text.replace(old, new)
    return text


def renamed_roles() -> str:
    """cluster_2024 with the name field called cluster_name and the order field recommend_order."""
    return changed(
        CLUSTER_TEXT,
        ('[fields.name]\nlabel = "集群名称"', '[fields.cluster_name]\nlabel = "集群名称"'),
        ('[fields.city_order]\nlabel = "推荐排序"', '[fields.recommend_order]\nlabel = "推荐排序"'),
        ('detect_fields = ["name", ', 'detect_fields = ["cluster_name", '),
        ('name = "name"               # the application', 'name = "cluster_name"       # the application'),
        ('order = "city_order"        # the city', 'order = "recommend_order"   # the city'),
    )


def run_cli(inbox: Path, out: Path, *args: str) -> tuple[int, str, Path]:
    result = CliRunner().invoke(main, ["run", str(inbox), "--out", str(out), "--now", NOW, "--run-id", "t1",
                                       "--mail", "all", *args])
    return result.exit_code, result.output, out / "t1"


def test_roles_rename_name_and_order_end_to_end(tmp_path: Path) -> None:
    rules_file = tmp_path / "cluster_roles.toml"
    rules_file.write_text(renamed_roles(), encoding="utf-8")
    rules = load(rules_file)
    assert rules.role("name") == "cluster_name" and rules.role("order") == "recommend_order"
    assert "name" not in rules.fields and rules.group_field == "industry"

    inbox = tmp_path / "inbox"
    rows = [row(city_order=i, name=f"济南角色测试第{i}集群") for i in (1, 2, 3, 4)]
    rows.append(row(city_order=5, name="济南角色测试第1集群"))  # the same cluster twice in the file
    city_file(inbox, "济南市", rows)
    code, output, run_dir = run_cli(inbox, tmp_path / "out", "--rules", str(rules_file))
    assert code == 0, output

    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    apps = results["applications"]
    assert sorted(a["name"] for a in apps) == sorted(r["name"] for r in rows)
    assert all("cluster_name" in a["values"] and "name" not in a["values"] for a in apps)
    assert sorted(a["city_order"] for a in apps) == [1, 2, 3, 4, 5]
    by_order = {a["city_order"]: a for a in apps}
    over = [f for f in by_order[4]["findings"] if f["code"] == "over-quota"]
    assert by_order[4]["status"] == "over_quota" and over and over[0]["field"] == "recommend_order"
    dup = [f for f in by_order[5]["findings"] if f["code"] == "duplicate-in-file"]
    assert dup and dup[0]["field"] == "cluster_name" and dup[0]["cell"] == "C7"  # the name cell of row 7

    # the review workbook: the order cell of the row over quota and the name cell of the repeated row
    review = openpyxl.load_workbook(run_dir / "济南市_审核意见.xlsx")
    copy = review["汇总表"]
    assert copy["A6"].value == 4 and "超出推荐名额" in copy["A6"].comment.text
    assert copy["C7"].value == "济南角色测试第1集群" and "重复申报" in copy["C7"].comment.text
    summary = review["审核结论"]
    shown = [c.value for r in summary.iter_rows() for c in r]
    assert "济南角色测试第4集群" in shown and "超出推荐名额" in shown
    # the province list and the e-mail carry the names
    ranked = openpyxl.load_workbook(run_dir / f"{rules.list_title}.xlsx")
    names = {c.value for ws in ranked.worksheets for r in ws.iter_rows() for c in r}
    assert "济南角色测试第2集群" in names
    mail = email.message_from_bytes((run_dir / "mail" / "济南市.eml").read_bytes(), policy=policy.default)
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "济南角色测试第4集群" in body and body.rstrip().endswith(rules.jurisdiction.department)


def test_a_role_must_name_a_field_of_its_type(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(changed(renamed_roles(), ('order = "recommend_order"', 'order = "city"')), encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "check", str(path)])
    assert result.exit_code == 2
    assert "[program.roles].order: 字段“city”的类型为 city，此处应为 int 之一" in result.output
    # without a field of the default id, a required role must be written
    path.write_text(changed(renamed_roles(), ('name = "cluster_name"       # the application\'s name\n', '')),
                    encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "check", str(path)])
    assert result.exit_code == 2 and "[program.roles]: 没有 id 为“name”的字段" in result.output


def test_run_with_a_bad_rules_file_stops_before_any_work(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row()])
    bad = tmp_path / "bad.toml"
    bad.write_text(changed(CLUSTER_TEXT, ("threshold = 50\n", "threshold = nan\n")), encoding="utf-8")
    code, output, _ = run_cli(inbox, tmp_path / "out", "--rules", str(bad))
    assert code == 2
    assert "[[conditions]] 第6条（revenue-total）.threshold: 应为有限的数字，不能是 nan" in output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# ----------------------------------------------------------------------------- jurisdiction
JURISDICTION = """
province = "测试省"
department = "测试省数字经济局"
cities = ["甲城市", "乙城市", "丙城市"]

[legacy]
"旧丁" = "丙城市"
"""


@pytest.fixture
def province_round(tmp_path: Path) -> Path:
    """cluster_2024 for another province: its own jurisdiction file beside the rules file."""
    (tmp_path / "ceshi.toml").write_text(JURISDICTION, encoding="utf-8")
    text = changed(CLUSTER_TEXT, ('jurisdiction = "shandong"', 'jurisdiction = "ceshi.toml"'),
                   ('cities = { "济南市" = 3, "青岛市" = 3 }', 'cities = { "甲城市" = 3 }'))
    path = tmp_path / "cluster_ceshi.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_round_of_another_jurisdiction_runs_on_its_cities(tmp_path: Path, province_round: Path) -> None:
    rules = load(province_round)
    assert rules.jurisdiction.cities == ["甲城市", "乙城市", "丙城市"]
    assert rules.jurisdiction.find_city("旧丁市报送") == ("丙城市", True)
    inbox = tmp_path / "inbox"
    city_file(inbox, "乙城市", [row(city_order=1), row(city_order=2), row(city_order=3)],
              name="乙城市汇总表.xlsx")
    code, output, run_dir = run_cli(inbox, tmp_path / "out", "--rules", str(province_round))
    assert code == 0, output
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert {a["city"] for a in results["applications"]} == {"乙城市"}
    assert sorted(a["status"] for a in results["applications"]) == ["eligible", "eligible", "over_quota"]
    mail = email.message_from_bytes((run_dir / "mail" / "乙城市.eml").read_bytes(), policy=policy.default)
    assert mail.get_body(preferencelist=("plain",)).get_content().rstrip().endswith("测试省数字经济局")
    ranked = openpyxl.load_workbook(run_dir / "推荐名单.xlsx")
    cities = [c.value for ws in ranked.worksheets if ws.title == "各市汇总" for c in ws["A"]]
    assert cities[1:4] == ["甲城市", "乙城市", "丙城市"] and "济南市" not in cities


def test_quota_cities_are_checked_against_the_jurisdiction(tmp_path: Path, province_round: Path) -> None:
    text = province_round.read_text(encoding="utf-8").replace('"甲城市" = 3', '"济南市" = 3')
    province_round.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "check", str(province_round)])
    assert result.exit_code == 2 and "[quota].cities.济南市: “济南市”不是测试省3市之一" in result.output


def test_a_broken_jurisdiction_is_reported_at_program_jurisdiction(tmp_path: Path, province_round: Path) -> None:
    (tmp_path / "ceshi.toml").write_text(JURISDICTION.replace('"旧丁" = "丙城市"', '"旧丁" = "丁城市"')
                                         .replace("department", "departement"), encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "check", str(province_round)])
    assert result.exit_code == 2
    assert "[program].jurisdiction: 区划“ceshi.toml”有误：顶层: 未知的键“departement”" in result.output
    assert "legacy: 原名“旧丁”对应的“丁城市”不在 cities 中" in result.output
    missing = province_round.read_text(encoding="utf-8").replace('"ceshi.toml"', '"nowhere"')
    province_round.write_text(missing, encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "check", str(province_round)])
    assert result.exit_code == 2 and "没有名为“nowhere”的区划文件；可用：shandong" in result.output


def test_several_programs_share_the_first_programs_jurisdiction() -> None:
    cluster, park = load("cluster_2024"), load("park_2024")
    assert jurisdiction_of([cluster, park]) is cluster.jurisdiction  # the same bundled jurisdiction
    assert jurisdiction_of(None).department == "山东省工业和信息化厅"
