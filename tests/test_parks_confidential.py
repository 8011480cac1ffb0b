"""The expert review stays the department's (issue 13, Build 2), through the whole pipeline.

A park inbox (two cities' summaries, four experts' score sheets, a city's preliminary score) runs
through ``batch.run_batch``; every city review workbook (every cell value and comment of every
sheet) and every e-mail draft (subject, bodies, attachment names) is opened and must hold no
expert's name, no per-expert score, no disagreement, no score sheet's file or cell, and nothing
asking the city to act on the department's configuration — while the department's list still
holds all of it.  Findings reach a city only by their catalogue audience, which the writers apply.
"""

from __future__ import annotations

import json
import re
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl import Workbook

from sdbatch.batch import RunOptions, run_batch
from sdbatch.catalogue import audience, entries
from tests import park_round as R
from tests.contract import check_contract

BOOK = """
from = "审核组 <shenhe@gxt.shandong.example>"
reply_days = 3

[cities."济南市"]
to = ["a@jinan.example"]

[cities."青岛市"]
to = ["a@qingdao.example"]
"""

# what only the department may read
DEPARTMENT_WORDS = ("建议组织专家复议", "请在规则文件中填写", "请删除该指标的评分", "专家评分分歧", "专家复核总分",
                    "评分表", "评审专家")
SHEET_CELL = re.compile(r"\.(xlsx|xls|ods|csv)[/!][^\s，。；]*![A-Z]{1,3}\d+")


def preliminary(path: Path, stated: bool = True) -> None:
    """济南's own preliminary score (第六条) with its own 标准分 rows; not an expert's."""
    wb = Workbook()
    ws = wb.active
    ws.title = "市级初审评分"
    ws.append(["济南市省级数字经济园区市级初审评分表"])
    ws.append(["初审单位：济南市工业和信息化局"])
    ws.append(["序号", "园区名称", "园区类型", *R.CODES])
    for ptype, short in ((R.DIGITAL, "数字产业化"), (R.INDUSTRIAL, "产业数字化")) if stated else ():
        ws.append([None, f"标准分（{short}）", None, *[R.POINTS[ptype].get(c, "/") for c in R.CODES]])
    for i, park in enumerate(("济南数字园甲", "济南产数园甲"), 1):
        ptype = R.PARKS[park][1]
        points = {**R.POINTS[ptype], "L1P1": 3} if i == 1 else R.POINTS[ptype]  # L1P1 is out of 2: the city's slip
        ws.append([i, park, ptype, *[points.get(c) for c in R.CODES]])  # full marks otherwise
    wb.save(path)


def park_inbox(tmp: Path, stated: bool = True, extra: dict[str, bytes] | None = None) -> Path:
    inbox = tmp / "inbox"
    inbox.mkdir()
    R.write_summaries(inbox)
    R.write_experts(inbox, stated=stated)
    preliminary(inbox / "济南市_市级初审评分.xlsx", stated)
    for name, data in (extra or {}).items():
        (inbox / name).write_bytes(data)
    return inbox


def run(tmp: Path, stated: bool = True, budget: float | None = 300, extra: dict[str, bytes] | None = None) -> Path:
    book = tmp / "book.toml"
    book.write_text(BOOK, encoding="utf-8")
    outcome = run_batch(park_inbox(tmp, stated, extra), RunOptions(
        out_dir=tmp / "out", run_id="park", now="2024-09-20T10:00:00", mail_mode="all", quiet=True,
        address_book=book, program_options={"budget": budget} if budget is not None else {}))
    assert outcome.run_dir is not None, outcome.message
    return outcome.run_dir


def workbook_texts(path: Path) -> list[str]:
    """Every cell value and every comment of every sheet, and the sheet names."""
    wb = openpyxl.load_workbook(path)
    out = list(wb.sheetnames)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    out.append(str(cell.value))
                if cell.comment is not None:
                    out.append(cell.comment.text)
    return out


def mail_texts(path: Path) -> list[str]:
    msg = message_from_bytes(path.read_bytes(), policy=policy.default)
    out = [str(msg["Subject"] or "")]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            out.append(part.get_content())
        if part.get_filename():
            out.append(part.get_filename())
    return out


def leaks(texts: list[str], results: dict[str, Any]) -> list[str]:
    """What a city must not read, found in ``texts``."""
    experts = [*R.EXPERTS, *R.FILES.values(), "济南市_市级初审评分"]
    rater_totals = [f"{name} {total}" for a in results["applications"]
                    for name, total in ((a["outcome"].get("score_detail") or {}).get("rater_totals") or {}).items()]
    found = []
    for t in texts:
        found += [f"{w!r} in {t[:80]!r}" for w in (*experts, *DEPARTMENT_WORDS) if w in t]
        found += [f"rater total {w!r} in {t[:80]!r}" for w in rater_totals if w in t]
        found += [f"score-sheet cell in {t[:80]!r}" for _ in SHEET_CELL.finditer(t)]
    return found


@pytest.fixture(scope="module")
def park_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    run_dir = run(tmp_path_factory.mktemp("confidential"))
    return run_dir, check_contract(run_dir / "results.json")


def test_the_round_is_scored_by_the_stated_points(park_run):
    _, results = park_run
    apps = {a["name"]: a for a in results["applications"]}
    for name, (score, tier, subsidy, _) in R.EXPECTED.items():
        assert (apps[name]["score"], apps[name]["tier"], apps[name]["subsidy"]) == (score, tier, subsidy), name
    # the city's preliminary sheet is not an expert's: four raters, not five
    assert all(len(a["outcome"]["score_detail"]["raters"]) == 4 for a in apps.values())


def test_every_park_finding_code_names_its_audience():
    park_codes = [c for c in entries() if not c.startswith("_") and entries()[c].get("audience") is not None]
    assert len(park_codes) == len([c for c in entries() if not c.startswith("_")])  # every entry says it
    for code in ("expert-disagreement", "score-above-max", "indicator-not-applicable", "score-default-points",
                 "points-sheets-disagree", "score-sheet-read", "tier-assigned", "city-score-gap"):
        assert audience(code) == "department", code
    for code in ("whole-zone-package", "no-green-threshold", "green-threshold-missing", "score-no-type"):
        assert audience(code) == "city", code


def test_the_city_is_told_of_a_slip_in_its_own_preliminary_score(park_run):
    _, results = park_run
    app = next(a for a in results["applications"] if a["name"] == "济南数字园甲")
    [slip] = [f for f in app["findings"] if f["code"] == "city-score-above-max"]
    assert audience(slip["code"]) == "city" and slip["params"]["indicator"] == "L1P1"
    assert slip["params"]["max"] == "2" and slip["params"]["location"].startswith("市级初审评分!")
    assert not leaks([slip["message"], slip["fix"]], results)
    assert app["score"] == 95.0  # the city's preliminary score is not an expert's


def test_the_department_list_keeps_the_expert_detail(park_run):
    run_dir, results = park_run
    texts = "\n".join(workbook_texts(run_dir / "认定名单.xlsx"))
    for expert in R.EXPERTS:
        assert expert in texts, expert  # 专家评分: one column per rater
    assert R.FILES["赵丽"] in texts  # 评分表读取: the sheet whose points disagree
    assert "多数（" in texts and "评分表列明的分值" in texts  # 说明 / 指标分值
    assert SHEET_CELL.search(texts)  # the cells of the score sheets (上限 40 by 李强)
    wb = openpyxl.load_workbook(run_dir / "认定名单.xlsx")
    assert {"评分表读取", "专家评分", "评分问题", "指标分值", "资金分配意见"} <= set(wb.sheetnames)
    raters = wb["专家评分"]
    headers = next(r for r in raters.iter_rows(values_only=True) if "园区名称" in r)
    assert set(R.EXPERTS) <= set(headers)
    totals = {r[1]: dict(zip(headers, r, strict=False)) for r in raters.iter_rows(values_only=True) if r[1] in R.PARKS}
    assert totals["青岛数字园乙"]["李强"] == 70.75 and totals["青岛数字园乙"]["得分"] == 69.25  # 40 capped to 4
    points = wb["指标分值"]
    rows = {r[0]: r for r in points.iter_rows(values_only=True) if r[0]}
    assert rows["L1P1"][3] == 2 and rows["L1P1"][5] == 1  # per type, from the sheets
    # results.json has them too
    zhao = next(f for f in results["files"] if f["file"] == R.FILES["赵丽"])
    assert {f["code"] for f in zhao["findings"]} >= {"points-sheets-disagree", "points-sum"}


def test_department_findings_are_the_ones_that_name_the_experts(park_run):
    """The writers can keep a city's outputs clean by the audience alone: every finding naming an
    expert, a score sheet or a score-sheet cell has audience "department"."""
    _, results = park_run
    for app in results["applications"]:
        for f in app["findings"]:
            if leaks([f["message"], f["fix"]], results):
                assert audience(f["code"]) == "department", (f["code"], f["message"])


def test_no_city_output_names_an_expert_or_a_score_sheet(park_run):
    run_dir, results = park_run
    reviews = sorted(run_dir.glob("*_审核意见.xlsx"))
    mails = sorted((run_dir / "mail").glob("*.eml"))
    assert {p.name for p in reviews} == {"济南市_审核意见.xlsx", "青岛市_审核意见.xlsx"}
    assert len(mails) == 2
    found = []
    for path in reviews:
        found += [f"{path.name}: {x}" for x in leaks(workbook_texts(path), results)]
    for path in mails:
        found += [f"{path.name}: {x}" for x in leaks(mail_texts(path), results)]
    assert not found, "\n".join(found[:40])


def test_an_expert_file_that_cannot_be_read_is_not_reported_to_the_city_it_names(tmp_path):
    """A damaged 济南市园区专家评分_慕容北辰（补充）.xlsx was given to 济南 by its name and listed in
    济南's review and e-mail as a file not read: the expert's name with it.  A file named as an
    expert's (vocabulary [scores] expert_markers) is the department's: no city's."""
    name = "济南市园区专家评分_慕容北辰（补充）.xlsx"
    run_dir = run(tmp_path, extra={name: b"PK\x03\x04 damaged in transit"})
    results = check_contract(run_dir / "results.json")
    [record] = [f for f in results["files"] if f["file"] == name]
    assert record["status"] == "rejected" and record["city"] is None
    texts = workbook_texts(run_dir / "济南市_审核意见.xlsx") + mail_texts(run_dir / "mail" / "济南市.eml")
    assert not [t for t in texts if "慕容北辰" in t]
    department = workbook_texts(next(run_dir.glob("认定名单.xlsx")))
    assert [t for t in department if "慕容北辰" in t]


def test_a_city_is_told_its_released_result(park_run):
    run_dir, _ = park_run
    wb = openpyxl.load_workbook(run_dir / "青岛市_审核意见.xlsx")
    ws = wb["审核结论"]
    headers = [c.value for c in ws[1]]
    rows = {r[headers.index("园区名称")]: dict(zip(headers, r, strict=False))
            for r in ws.iter_rows(min_row=2, values_only=True) if r[0]}
    assert rows["青岛产数园乙"]["审核结论"] == "符合条件"
    assert rows["青岛产数园乙"]["认定结果"] == "未达到认定分数线，不予认定"  # not read as recognised
    assert rows["青岛数字园乙"]["认定结果"] == "入库型" and rows["青岛数字园乙"].get("奖补上限（万元）") is None
    assert "建议分配（万元）" not in headers  # the allocation proposal is the department's
    assert rows["青岛数字园乙"]["综合得分"] is not None  # released: the combined score, never a rater's
    body = next(t for t in mail_texts(run_dir / "mail" / "青岛市.eml")[1:] if "青岛产数园乙" in t)
    assert "未达到认定分数线，不予认定" in body and "建议分配" not in body


def test_results_not_released_are_said_to_follow(tmp_path):
    from sdbatch.programs import park
    from sdbatch.rules import bundled, load

    text = bundled()["park_2024"].read_text(encoding="utf-8").replace("results = true", "results = false")
    rules_file = tmp_path / "park_hold.toml"
    rules_file.write_text(text, encoding="utf-8")
    assert park.settings_of(load(rules_file)).release_results is False
    book = tmp_path / "book.toml"
    book.write_text(BOOK, encoding="utf-8")
    outcome = run_batch(park_inbox(tmp_path), RunOptions(
        out_dir=tmp_path / "out", run_id="hold", now="2024-09-20T10:00:00", mail_mode="all", quiet=True,
        address_book=book, rules_files=(rules_file,)))
    assert outcome.run_dir is not None, outcome.message
    results = json.loads((outcome.run_dir / "results.json").read_text(encoding="utf-8"))
    assert {a["outcome"]["result"] for a in results["applications"]} == {"认定结果经审定后另行通知"}
    assert {a["tier"] for a in results["applications"]} == {"示范型", "入库型", "成长型", None}  # the department's
    ws = openpyxl.load_workbook(outcome.run_dir / "济南市_审核意见.xlsx")["审核结论"]
    texts = [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
    assert "认定结果经审定后另行通知" in texts and "示范型" not in texts and 200 not in [
        c.value for row in ws.iter_rows() for c in row]
    assert "综合得分" not in texts  # the experts' combined score is the department's until released
    scores = {a["score"] for a in results["applications"] if a["score"] is not None}
    assert scores and not scores & {c.value for row in ws.iter_rows() for c in row}
    body = "\n".join(mail_texts(outcome.run_dir / "mail" / "济南市.eml"))
    assert "另行通知" in body and "示范型" not in body


def test_the_default_points_are_said_in_every_output(tmp_path):
    run_dir = run(tmp_path, stated=False, budget=None)
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert results["programs"]["park_2024"]["park_scoring"]["points_default"] is True
    info = dict(r[:2] for r in openpyxl.load_workbook(run_dir / "认定名单.xlsx")["说明"].iter_rows(values_only=True))
    assert info["指标分值"].startswith("【使用默认分值】")
    for city in ("济南市", "青岛市"):
        notes = {r[0]: r[1] for r in openpyxl.load_workbook(run_dir / f"{city}_审核意见.xlsx")["说明"].iter_rows(
            values_only=True) if r[0]}
        assert notes["指标分值"].startswith("【使用默认分值】"), city
        body = "\n".join(mail_texts(run_dir / "mail" / f"{city}.eml"))
        assert "默认" in body and "指标分值" in body, city
